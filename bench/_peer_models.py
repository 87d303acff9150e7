"""The paper's networks in PyTorch, for the same-run peers (bench/_peer_affine.py on the CPU,
bench/_peer_gpu.py on the lent GPU): batch-norm after every conv but largeCNN's 1x1, 32x32x3
inputs, 10 classes, logits without bias (lib/models/small_cnn.ts, lib/models/large_cnn.ts).
Also a ResNet basic block (bench/_peer_onnx.py's ResNet-18, tests/network/_torch_onnx.py's ResNet)
and the peers' timed quantities: all templates by vmap(jacrev), <A[x]_c, x> by one JVP."""
import time

import torch
import torch.nn as nn


def small_cnn():
    def block(cin, cout, k):
        return [nn.Conv2d(cin, cout, k, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(*block(3, 32, 3), *block(32, 64, 3), *block(64, 128, 1), nn.Flatten(),
                         nn.Linear(128 * 3 * 3, 10, bias=False))


def large_cnn():
    # shared/PAPER_NOTES.md: conv3(96, same) -> conv3(96, full) -> conv3(96, full) -> maxpool ->
    # conv3(192, valid) -> conv3(192, full) -> conv3(192, valid) -> maxpool -> conv3(192, valid)
    # -> conv1x1(192, bias, no BN) -> maxpool -> dense(10); "full" pads 2 on every side
    def conv(cin, cout, k, pad):
        return [nn.Conv2d(cin, cout, k, padding=pad, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(*conv(3, 96, 3, 1), *conv(96, 96, 3, 2), *conv(96, 96, 3, 2), nn.MaxPool2d(2),
                         *conv(96, 192, 3, 0), *conv(192, 192, 3, 2), *conv(192, 192, 3, 0),
                         nn.MaxPool2d(2), *conv(192, 192, 3, 0), nn.Conv2d(192, 192, 1), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(192 * 3 * 3, 10, bias=False))


NETWORKS = {"smallCNN": small_cnn, "largeCNN": large_cnn}


class BasicBlock(nn.Module):
    """A ResNet basic block: two 3x3 convs with batch-norm, the shortcut identity or a 1x1 conv."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(self.b2(self.c2(y)) + self.short(x))


def templates_of(model, x):
    """A function computing all templates A[x] of the batch x: vmap(jacrev(f))."""
    from functorch import jacrev, vmap

    def f1(xi):
        return model(xi.unsqueeze(0)).squeeze(0)

    def templates():
        with torch.no_grad():
            return vmap(jacrev(f1))(x)
    return templates


def inner_of(model, x):
    """A function computing <A[x]_c, x> for all c: one JVP of the model at x with tangent x
    (the model is piecewise linear, so J x = A[x] x)."""
    from functorch import jvp
    return lambda: jvp(model, (x,), (x,))[1]


def images_per_second(fn, reps, batch):
    """Median images/s of `reps` runs of fn (a batch each) after one warm-up."""
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return batch / times[len(times) // 2]
