"""PyTorch models exported to ONNX, with PyTorch's own outputs and input Jacobians.

The independent reference of tests/network/from_onnx_test.ts: for each model below, writes
OUT/<name>.onnx (torch.onnx.export of the float32 model) and OUT/<name>.json with the input x
(NCHW, float64), the outputs z = model(x) before any final softmax and the Jacobians dz/dx,
both computed by PyTorch in float64 on the same (float32-rounded) weights and batch-norm
epsilons and leaky slopes (the file stores them as float32). Batch-norm is kept as its own ONNX nodes; the
ResNet is also written as OUT/resnet_folded.onnx exported with the default settings, which
fold batch-norm into the convolutions in float32 (so it agrees to float32 rounding only).

Also OUT/fuzz_<i>.onnx and .json for FUZZ_COUNT random networks of the layers fromOnnx
converts (seeded by FUZZ_SEED; OUT/fuzz.json lists them), exported with operator sets 13, 11 and 9
in turn.

Usage: python3 _torch_onnx.py OUT [FUZZ_SEED]
"""
import json
import os
import random
import sys

import torch
import torch.nn as nn

# the ResNet basic block the benchmarks' peers use too
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
from _peer_models import BasicBlock  # noqa: E402


FUZZ_COUNT = 40


class Normalize(nn.Module):
    def forward(self, x):
        return (x - 0.5) / 0.25


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.blocks = nn.Sequential(BasicBlock(8, 8, 1), BasicBlock(8, 16, 2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        y = self.pool(self.blocks(self.stem(x)))
        return self.fc(y.view(y.size(0), -1))  # shape arithmetic: Shape, Gather, Concat, Reshape


def models():
    yield "mlp", (6, 20), nn.Sequential(
        nn.Linear(20, 32), nn.ReLU(), nn.Linear(32, 16, bias=False), nn.LeakyReLU(0.1),
        nn.BatchNorm1d(16), nn.Dropout(0.5), nn.Linear(16, 5)), True
    yield "cnn", (5, 3, 12, 12), nn.Sequential(
        Normalize(), nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 6, 3, stride=2, padding=1), nn.PReLU(init=0.2),
        nn.AvgPool2d(2, padding=1), nn.Flatten(), nn.Linear(6 * 2 * 2, 7), nn.LogSoftmax(dim=1)), False
    yield "pools", (4, 2, 11, 11), nn.Sequential(
        nn.ZeroPad2d((1, 0, 2, 1)), nn.Conv2d(2, 5, 3, padding=(2, 1)), nn.ReLU(),
        nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True),
        nn.MaxPool2d(2, stride=2, padding=1, ceil_mode=True),  # a last window that would start in the padding
        nn.Conv2d(5, 5, 2), nn.ReLU(),
        nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False), nn.AdaptiveMaxPool2d(1),
        nn.Flatten(), nn.Linear(5, 4), nn.Softmax(dim=1)), True
    yield "resnet", (4, 3, 16, 16), ResNet(), False
    # operator set 9 has no ceil_mode: the exporter writes it as pads, here a negative one (the
    # last input row, which no window reaches, dropped)
    yield "ceil_opset9", (3, 2, 12, 9), nn.Sequential(
        nn.MaxPool2d((1, 3), (3, 2), ceil_mode=True), nn.Conv2d(2, 3, 2), nn.ReLU(), nn.Flatten(),
        nn.Linear(27, 4)), (False, 9)


def unsupported():
    """Models fromOnnx must refuse, each naming the node at fault."""
    yield "grouped", (1, 4, 8, 8), nn.Sequential(nn.Conv2d(4, 4, 3, groups=4), nn.ReLU())
    yield "dilated", (1, 1, 8, 8), nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.ReLU())
    yield "relu6", (1, 6), nn.Sequential(nn.Linear(6, 4), nn.ReLU6(), nn.Linear(4, 2))
    yield "flat_end", (1, 2, 4, 4), nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten())
    nan = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():
        nan[2].weight[1, 2] = float("nan")
    yield "nan_weight", (1, 3), nan
    # PyTorch drops the last ceil-mode window (it would start past the input); the exporter sizes
    # the adaptive pool after it by ONNX's formula, which keeps it: the file disagrees with PyTorch
    yield "ceil_then_adaptive", (1, 1, 7, 8), nn.Sequential(
        nn.MaxPool2d(1, stride=2, ceil_mode=True), nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(1, 2))


def randomize_batch_norm(model, g):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)


def export_with_reference(out, name, shape, model, fold, g, opset=13):
    """Exports `model` to OUT/<name>.onnx and writes PyTorch's float64 reference OUT/<name>.json."""
    randomize_batch_norm(model, g)
    model.eval()
    x32 = torch.rand(*shape, generator=g)
    # export as a user would; `fold` False keeps BatchNormalization nodes in the file
    torch.onnx.export(model, x32, f"{out}/{name}.onnx", opset_version=opset,
                      input_names=["x"], output_names=["z"],
                      dynamic_axes={"x": {0: "batch"}, "z": {0: "batch"}},
                      do_constant_folding=fold,
                      training=torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE)
    if name == "resnet":
        torch.onnx.export(model, x32, f"{out}/resnet_folded.onnx", input_names=["x"],
                          output_names=["z"], dynamic_axes={"x": {0: "batch"}})
    # the reference: float64 on the same weights, without the final (log-)softmax
    ref = model.double()
    for m in ref.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.eps = torch.tensor(m.eps, dtype=torch.float32).item()
        if isinstance(m, nn.LeakyReLU):
            m.negative_slope = torch.tensor(m.negative_slope, dtype=torch.float32).item()
    if isinstance(ref, nn.Sequential) and isinstance(ref[-1], (nn.Softmax, nn.LogSoftmax)):
        ref = ref[:-1]
    x = x32.double()
    with torch.no_grad():
        z = ref(x)
    jac = torch.autograd.functional.jacobian(lambda v: ref(v).sum(0), x)  # [C, N, ...]
    jac = jac.reshape(z.shape[1], shape[0], -1).transpose(0, 1)  # [N, C, D]
    with open(f"{out}/{name}.json", "w") as f:
        json.dump({"shape": list(shape), "x": x.flatten().tolist(), "z": z.flatten().tolist(),
                   "jacobian": jac.flatten().tolist(), "torch": torch.__version__,
                   "model": str(model)}, f)


class Abs(nn.Module):
    def forward(self, x):
        return torch.abs(x)


class ClampZero(nn.Module):
    def forward(self, x):
        return torch.clamp(x, min=0)


class SpatialMean(nn.Module):
    def forward(self, x):
        return x.mean((2, 3))


class SpatialMax(nn.Module):
    def forward(self, x):
        return x.amax((-1, -2), keepdim=True)


class Residual(nn.Module):
    def __init__(self, main, short):
        super().__init__()
        self.main, self.short = main, short

    def forward(self, x):
        return self.main(x) + self.short(x)


def fuzz_model(r):
    """A random network of the layers fromOnnx converts, with random sizes, strides, paddings
    and pool modes (`r`: a random.Random); its input shape."""
    def act():
        k = r.randrange(5)
        return [nn.ReLU(), nn.LeakyReLU(r.choice([0.01, 0.2, -0.5, 1.5])), Abs(),
                nn.PReLU(init=r.uniform(-1, 1)), ClampZero()][k]

    if r.random() < 0.25:  # an MLP
        f = r.randint(2, 12)
        layers, width = [], f
        for _ in range(r.randint(1, 4)):
            out = r.randint(1, 12)
            layers += [nn.Linear(width, out, bias=r.random() < 0.8)]
            if r.random() < 0.4:
                layers += [nn.BatchNorm1d(out)]
            layers += [act()]
            width = out
        return nn.Sequential(*layers, nn.Linear(width, r.randint(1, 5))), (3, f)
    c, h, w = r.randint(1, 3), r.randint(5, 14), r.randint(5, 14)
    shape = (3, c, h, w)
    layers = []
    # a ceil-mode pool whose last window PyTorch drops: torch.onnx.export then writes later
    # adaptive pools with ONNX's larger size, so the file disagrees with PyTorch (fromOnnx
    # refuses it, see the test); such networks end with Flatten + Linear here
    dropped = False
    for _ in range(r.randint(1, 5)):
        kind = r.choice(["conv", "conv", "pool", "avg", "pad", "residual"])
        kh, kw = r.randint(1, min(4, h)), r.randint(1, min(4, w))
        sh, sw = r.randint(1, 3), r.randint(1, 3)
        if kind == "conv":
            ph, pw = r.randint(0, kh), r.randint(0, kw)
            out = r.randint(1, 6)
            layers += [nn.Conv2d(c, out, (kh, kw), (sh, sw), (ph, pw), bias=r.random() < 0.7)]
            h, w, c = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1, out
            if r.random() < 0.5:
                layers += [nn.BatchNorm2d(c)]
            layers += [act()]
        elif kind in ("pool", "avg"):
            ph, pw = r.randint(0, kh // 2), r.randint(0, kw // 2)
            ceil = kind == "pool" and r.random() < 0.5
            if kind == "pool":
                layers += [nn.MaxPool2d((kh, kw), (sh, sw), (ph, pw), ceil_mode=ceil)]
            else:
                layers += [nn.AvgPool2d((kh, kw), (sh, sw), (ph, pw), count_include_pad=r.random() < 0.5)]

            def size(d, k, s, p):
                nonlocal dropped
                if not ceil:
                    return (d + 2 * p - k) // s + 1
                o = -(-(d + 2 * p - k) // s) + 1
                if (o - 1) * s >= d + p:
                    dropped = True
                    return o - 1
                return o
            h, w = size(h, kh, sh, ph), size(w, kw, sw, pw)
        elif kind == "pad":
            p = [r.randint(0, 2) for _ in range(4)]
            layers += [nn.ZeroPad2d(tuple(p))]
            h, w = h + p[2] + p[3], w + p[0] + p[1]
        else:
            k = r.choice([1, 3])
            main = nn.Sequential(nn.Conv2d(c, c, k, 1, k // 2), act(), nn.Conv2d(c, c, k, 1, k // 2))
            short = nn.Sequential() if r.random() < 0.5 else nn.Conv2d(c, c, 1)
            layers += [Residual(main, short), act()]
        if h < 1 or w < 1:
            return fuzz_model(r)  # too small: draw again
    head = "flatten" if dropped else r.choice(["flatten", "avg", "max", "mean", "amax"])
    if head in ("avg", "max", "mean", "amax"):
        layers += [{"avg": nn.AdaptiveAvgPool2d(1), "max": nn.AdaptiveMaxPool2d(1), "mean": SpatialMean(),
                    "amax": SpatialMax()}[head]]
        h = w = 1
    layers += [nn.Flatten(), nn.Linear(c * h * w, r.randint(1, 5))]
    return nn.Sequential(*layers), shape


def main(out, fuzz):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    for name, shape, model, how in models():
        fold, opset = how if isinstance(how, tuple) else (how, 13)
        export_with_reference(out, name, shape, model, fold, g, opset)
    r = random.Random(fuzz)
    names = []
    for i in range(FUZZ_COUNT):
        model, shape = fuzz_model(r)
        names.append(f"fuzz_{i}")
        # operator sets 13, 11 and 9 in turn (9 writes ceil_mode as pads, some negative)
        export_with_reference(out, names[-1], shape, model, False, g, [13, 11, 9][i % 3])
    with open(f"{out}/fuzz.json", "w") as f:
        json.dump(names, f)

    for name, shape, model in unsupported():
        torch.onnx.export(model.eval(), torch.rand(*shape), f"{out}/bad_{name}.onnx",
                          input_names=["x"], output_names=["z"], dynamic_axes={"x": {0: "batch"}})
    # height and width left symbolic: the caller must say them
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    torch.onnx.export(cnn.eval(), torch.rand(1, 1, 9, 9), f"{out}/dynamic.onnx", input_names=["x"],
                      output_names=["z"], dynamic_axes={"x": {0: "batch", 2: "h", 3: "w"}})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
