"""Peer for bench/onnx_compare.ts: a PyTorch model exported to ONNX as a user would, and
PyTorch 1.13 (functorch) on the CPU, 2 threads, timing the same quantities on it.

The model: ResNet-18 for 32x32x3 inputs (the CIFAR variant: a 3x3 stem, no max-pool; basic
blocks [2, 2, 2, 2] of 64-512 channels; 11.2 M parameters; 10 classes), random weights and
batch-norm statistics, in inference mode, exported with torch.onnx.export's defaults (batch-norm
folded into the convolutions).
 - all 10 templates A[x] per input: vmap(jacrev(f))
 - <A[x]_c, x> for all c: one jvp of f at x with tangent x
Writes OUT/model.onnx, OUT/x.f32 (the inputs, NCHW), OUT/templates.f32 ([N, 10, 3, 32, 32]) and
prints one JSON line of rates (images/s, median of --reps runs after a warm-up).

  python3 bench/_peer_onnx.py OUT [--batch 8] [--reps 3]
"""
import argparse
import json

import torch
import torch.nn as nn

from _peer_models import BasicBlock, images_per_second, inner_of, templates_of

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--batch", type=int, default=8)
p.add_argument("--reps", type=int, default=3)
args = p.parse_args()
torch.set_num_threads(2)
torch.manual_seed(0)


class ResNet18(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        layers, cin = [], 64
        for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


model = ResNet18()
for m in model.modules():
    if isinstance(m, nn.BatchNorm2d):
        m.running_mean.uniform_(-0.2, 0.2)
        m.running_var.uniform_(0.5, 1.5)
        m.weight.data.uniform_(0.5, 1.5)
        m.bias.data.uniform_(-0.2, 0.2)
model.eval()
x = torch.rand(args.batch, 3, 32, 32)
torch.onnx.export(model, x, f"{args.out}/model.onnx", input_names=["x"], output_names=["z"],
                  dynamic_axes={"x": {0: "batch"}})


templates = templates_of(model, x)
inner = inner_of(model, x)
x.numpy().astype("float32").tofile(f"{args.out}/x.f32")
templates().numpy().astype("float32").tofile(f"{args.out}/templates.f32")
print(json.dumps({
    "torch": torch.__version__,
    "threads": torch.get_num_threads(),
    "parameters": sum(p.numel() for p in model.parameters()),
    "templates": images_per_second(templates, args.reps, args.batch),
    "inner": images_per_second(inner, args.reps, args.batch),
}))
