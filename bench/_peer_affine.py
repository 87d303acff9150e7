"""Peer for bench/affine_compare.ts: PyTorch 1.13 (functorch), smallCNN with batch-norm in
inference mode, 32x32x3, 10 classes, batch 64, 2 threads.
 - all 10 templates A[x] per input: vmap(jacrev(f))
 - <A[x]_c, x> for all c: one jvp of f at x with tangent x (f is piecewise linear, so J x = A[x] x)
Prints 'templates img/s N' and 'inner img/s N'."""
import time
import torch
import torch.nn as nn
from functorch import jacrev, jvp, vmap

torch.set_num_threads(2)
torch.manual_seed(0)


def block(cin, cout, k):
    return [nn.Conv2d(cin, cout, k, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]


model = nn.Sequential(*block(3, 32, 3), *block(32, 64, 3), *block(64, 128, 1), nn.Flatten(),
                      nn.Linear(128 * 3 * 3, 10, bias=False)).eval()
x = torch.randn(64, 3, 32, 32)


def f1(xi):
    return model(xi.unsqueeze(0)).squeeze(0)


def templates():
    with torch.no_grad():
        return vmap(jacrev(f1))(x)


def inner():
    return jvp(model, (x,), (x,))[1]


def rate(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return 64 / times[len(times) // 2]


print(f"templates img/s {rate(templates, 5):.1f}")
print(f"inner img/s {rate(inner, 15):.1f}")


def inner_forward_ad():
    import torch.autograd.forward_ad as fwAD
    with torch.no_grad(), fwAD.dual_level():
        out = model(fwAD.make_dual(x, x))
        return fwAD.unpack_dual(out).tangent


print(f"inner-forward-ad img/s {rate(inner_forward_ad, 15):.1f}")
