"""Peer for bench/affine_compare.ts: PyTorch 1.13 (functorch) on the CPU, 2 threads, batch-norm in
inference mode, 32x32x3, 10 classes.
 - all 10 templates A[x] per input: vmap(jacrev(f))
 - <A[x]_c, x> for all c: one jvp of f at x with tangent x (f is piecewise linear, so J x = A[x] x),
   and the same by forward-mode AD
  python3 bench/_peer_affine.py [--net smallCNN|largeCNN] [--batch 64]
Prints 'templates img/s N', 'inner img/s N' and 'inner-forward-ad img/s N'."""
import argparse

import torch
from _peer_models import NETWORKS, images_per_second, inner_of, templates_of

p = argparse.ArgumentParser()
p.add_argument("--net", default="smallCNN", choices=sorted(NETWORKS))
p.add_argument("--batch", type=int, default=64)
p.add_argument("--reps", type=int, default=5)
args = p.parse_args()

torch.set_num_threads(2)
torch.manual_seed(0)

model = NETWORKS[args.net]().eval()
x = torch.randn(args.batch, 3, 32, 32)
templates = templates_of(model, x)
inner = inner_of(model, x)


def rate(fn, reps):
    return images_per_second(fn, reps, args.batch)


print(f"templates img/s {rate(templates, args.reps):.1f}", flush=True)
print(f"inner img/s {rate(inner, 3 * args.reps):.1f}", flush=True)


def inner_forward_ad():
    import torch.autograd.forward_ad as fwAD
    with torch.no_grad(), fwAD.dual_level():
        out = model(fwAD.make_dual(x, x))
        return fwAD.unpack_dual(out).tangent


print(f"inner-forward-ad img/s {rate(inner_forward_ad, 3 * args.reps):.1f}")
