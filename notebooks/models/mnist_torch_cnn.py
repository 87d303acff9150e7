"""Trains the PyTorch CNN of notebook 07 on MNIST and exports it to ONNX, as a user would.

Reads MNIST from masokit's data cache (data/cache/mnist, written by any masokit run that loads
MNIST, e.g. `deno task reproduce`), trains 2 epochs with Adam (seed 0, 2 threads; about a minute
on 2 cores), and writes next to this script:
  mnist_torch_cnn.onnx   torch.onnx.export with its defaults (batch-norm folded into the convs)
  mnist_torch_cnn.json   PyTorch's own results on the first 1,000 test images (dataset order):
                         test accuracy there and on all 10,000, predicted classes, and the
                         float32 logits of the first 100, for the notebook to check against.

  /usr/bin/python3 notebooks/models/mnist_torch_cnn.py [data/cache/mnist]
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

here = os.path.dirname(os.path.abspath(__file__))
cache = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "data", "cache", "mnist")
torch.manual_seed(0)
torch.set_num_threads(2)


def images(name):
    return torch.from_numpy(np.fromfile(os.path.join(cache, f"{name}_images.u8"), dtype=np.uint8)
                            .reshape(-1, 1, 28, 28).astype(np.float32) / 255)


def labels(name):
    return torch.from_numpy(np.fromfile(os.path.join(cache, f"{name}_labels.u8"), dtype=np.uint8).astype(np.int64))


class Normalize(nn.Module):
    """MNIST's usual standardisation, inside the model: inputs are pixels in [0, 1]."""

    def forward(self, x):
        return (x - 0.1307) / 0.3081


model = nn.Sequential(
    Normalize(),
    nn.Conv2d(1, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
    nn.Conv2d(16, 32, 5, padding=2), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
    nn.Flatten(), nn.Dropout(0.25), nn.Linear(32 * 7 * 7, 10),
)
xtr, ytr, xte, yte = images("train"), labels("train"), images("test"), labels("test")
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
g = torch.Generator().manual_seed(0)
for epoch in range(2):
    model.train()
    order = torch.randperm(len(xtr), generator=g)
    for i in range(0, len(xtr), 64):
        idx = order[i:i + 64]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
        loss.backward()
        opt.step()
    print(f"epoch {epoch + 1}: last loss {loss.item():.4f}", file=sys.stderr)
model.eval()
with torch.no_grad():
    logits = torch.cat([model(xte[i:i + 1000]) for i in range(0, len(xte), 1000)])
pred = logits.argmax(1)
# each file written whole under a temporary name, then renamed: never left half-written
onnx_path, json_path = os.path.join(here, "mnist_torch_cnn.onnx"), os.path.join(here, "mnist_torch_cnn.json")
torch.onnx.export(model, xte[:1], onnx_path + ".tmp", input_names=["pixels"],
                  output_names=["logits"], dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}})
with open(json_path + ".tmp", "w") as f:
    json.dump({
        "torch": torch.__version__,
        "architecture": "Normalize → conv 5×5 16 → BN → ReLU → max-pool 2 → conv 5×5 32 → BN → ReLU → "
                        "max-pool 2 → flatten → dropout 0.25 → linear 10",
        "training": "2 epochs of MNIST's 60,000 training images, Adam lr 1e-3, batch 64, seed 0",
        "testAccuracy": (pred == yte).float().mean().item(),
        "first1000Accuracy": (pred[:1000] == yte[:1000]).float().mean().item(),
        "first1000Predictions": pred[:1000].tolist(),
        "first100Logits": logits[:100].flatten().tolist(),
    }, f)
os.replace(onnx_path + ".tmp", onnx_path)
os.replace(json_path + ".tmp", json_path)
print(f"test accuracy {(pred == yte).float().mean().item():.4f}", file=sys.stderr)
