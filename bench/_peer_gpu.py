"""Same-run PyTorch peers for bench/webgpu_bench.ts on the lent GPU machine (shared/PEERS.md).

  python3 bench/_peer_gpu.py                 # CUDA, the PEERS.md sizes
  python3 bench/_peer_gpu.py --device cpu --tiny   # smoke test on a CPU machine

Workloads (batch-norm in inference mode, 32x32x3 inputs, 10 classes):
 - all 10 templates A[x] per input: vmap(jacrev(f)), smallCNN and largeCNN;
 - <A[x]_c, x> for all c: one jvp of the network at x with tangent x;
 - kNN on ReLU codes as a +-1 matmul: N=10,000 queries x M=50,000 base, D=32,768, top-16
   (fp32, and bf16 on tensor cores), streamed over the base in blocks.
Convolutions are timed twice: PyTorch's default (cuDNN may use TF32 tensor cores) and strict fp32
(`torch.backends.cudnn.allow_tf32 = False`, what WGSL can do). Prints one line per figure:
'peer <workload> <setting> <value> <unit>'."""
import argparse
import time

import torch

from _peer_models import large_cnn, small_cnn

try:
    from torch.func import jacrev, jvp, vmap
except ImportError:  # PyTorch 1.13 (Debian)
    from functorch import jacrev, jvp, vmap

p = argparse.ArgumentParser()
p.add_argument("--device", default="cuda")
p.add_argument("--tiny", action="store_true")
p.add_argument("--parts", default="knn,smallCNN,largeCNN",
               help="comma-separated workloads to time (default: all three)")
args = p.parse_args()
dev = torch.device(args.device)
torch.manual_seed(0)


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


def rate(fn, n, reps=5):
    """Items per second: the median of `reps` timed calls after one warm-up."""
    fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return n / times[len(times) // 2]


def affine_peers(name, model, n_templates, n_inner):
    model = model.to(dev).eval()
    x = torch.randn(max(n_templates, n_inner), 3, 32, 32, device=dev)
    assert model(x[:2]).shape == (2, 10), name

    def f1(xi):
        return model(xi.unsqueeze(0)).squeeze(0)

    def templates():
        with torch.no_grad():
            return vmap(jacrev(f1))(x[:n_templates])

    def inner():
        return jvp(model, (x[:n_inner],), (x[:n_inner],))[1]

    for setting, tf32 in (("default", True), ("strict-fp32", False)):
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = False
        print(f"peer {name}-templates {setting} {rate(templates, n_templates):.1f} img/s", flush=True)
        print(f"peer {name}-inner {setting} {rate(inner, n_inner):.1f} img/s", flush=True)
    torch.backends.cudnn.allow_tf32 = True


def knn_peer(N, M, D, k, dtype, block):
    q = (torch.rand(N, D, device=dev) < 0.5).to(dtype) * 2 - 1
    base = (torch.rand(M, D, device=dev) < 0.5).to(dtype) * 2 - 1

    def run():
        best_d = torch.full((N, k), float("inf"), device=dev)
        best_i = torch.zeros((N, k), dtype=torch.long, device=dev)
        for b0 in range(0, M, block):
            dist = (D - q @ base[b0:b0 + block].T).float() / 2  # Hamming distance
            d, i = torch.topk(torch.cat([best_d, dist], 1), k, dim=1, largest=False)
            best_i = torch.gather(torch.cat([best_i, torch.arange(b0, b0 + dist.shape[1], device=dev)
                                             .expand(N, -1)], 1), 1, i)
            best_d = d
        return best_i

    return rate(run, N * M, reps=3) / 1e9


if args.tiny:
    affine_peers("smallCNN", small_cnn(), 8, 32)
    affine_peers("largeCNN", large_cnn(), 2, 4)
    print(f"peer knn fp32 {knn_peer(64, 512, 1024, 16, torch.float32, 256):.4f} Gpairs/s", flush=True)
else:
    parts = args.parts.split(",")
    unknown = [x for x in parts if x not in ("knn", "smallCNN", "largeCNN")]
    if unknown:
        p.error(f"--parts: {unknown}, expected some of knn,smallCNN,largeCNN")
    if "smallCNN" in parts:
        affine_peers("smallCNN", small_cnn(), 2048, 16384)
    if "largeCNN" in parts:
        affine_peers("largeCNN", large_cnn(), 256, 2048)
    if "knn" in parts:
        print(f"peer knn fp32 {knn_peer(10_000, 50_000, 32_768, 16, torch.float32, 5_000):.3f} Gpairs/s",
              flush=True)
        print(f"peer knn bf16 {knn_peer(10_000, 50_000, 32_768, 16, torch.bfloat16, 5_000):.3f} Gpairs/s",
              flush=True)
