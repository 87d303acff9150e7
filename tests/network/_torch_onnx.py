"""PyTorch models exported to ONNX, with PyTorch's own outputs and input Jacobians.

The independent reference of tests/network/from_onnx_test.ts: for each model below, writes
OUT/<name>.onnx (torch.onnx.export of the float32 model) and OUT/<name>.json with the input x
(NCHW, float64), the outputs z = model(x) before any final softmax and the Jacobians dz/dx,
both computed by PyTorch in float64 on the same (float32-rounded) weights and batch-norm
epsilons and leaky slopes (the file stores them as float32). Batch-norm is kept as its own ONNX nodes; the
ResNet is also written as OUT/resnet_folded.onnx exported with the default settings, which
fold batch-norm into the convolutions in float32 (so it agrees to float32 rounding only).

Usage: python3 _torch_onnx.py OUT
"""
import json
import sys

import torch
import torch.nn as nn


class Normalize(nn.Module):
    def forward(self, x):
        return (x - 0.5) / 0.25


class Block(nn.Module):
    """A ResNet basic block: two 3x3 convs with batch-norm, shortcut identity or 1x1 conv."""

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


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.BatchNorm2d(8), nn.ReLU())
        self.blocks = nn.Sequential(Block(8, 8, 1), Block(8, 16, 2))
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


def randomize_batch_norm(model, g):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.3)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)


def main(out):
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    for name, shape, model, fold in models():
        randomize_batch_norm(model, g)
        model.eval()
        x32 = torch.rand(*shape, generator=g)
        # export as a user would; `fold` False keeps BatchNormalization nodes in the file
        torch.onnx.export(model, x32, f"{out}/{name}.onnx", opset_version=13,
                          input_names=["x"], output_names=["z"],
                          dynamic_axes={"x": {0: "batch"}, "z": {0: "batch"}},
                          do_constant_folding=fold,
                          training=torch.onnx.TrainingMode.EVAL if fold else torch.onnx.TrainingMode.PRESERVE)
        # the reference: float64 on the same weights, without the final (log-)softmax
        if name == "resnet":
            torch.onnx.export(model, x32, f"{out}/resnet_folded.onnx", input_names=["x"],
                              output_names=["z"], dynamic_axes={"x": {0: "batch"}})
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
                       "jacobian": jac.flatten().tolist(), "torch": torch.__version__}, f)


    for name, shape, model in unsupported():
        torch.onnx.export(model.eval(), torch.rand(*shape), f"{out}/bad_{name}.onnx",
                          input_names=["x"], output_names=["z"], dynamic_axes={"x": {0: "batch"}})
    # height and width left symbolic: the caller must say them
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2, 3))
    torch.onnx.export(cnn.eval(), torch.rand(1, 1, 9, 9), f"{out}/dynamic.onnx", input_names=["x"],
                      output_names=["z"], dynamic_axes={"x": {0: "batch", 2: "h", 3: "w"}})


if __name__ == "__main__":
    main(sys.argv[1])
