"""Peer for bench/train_step_bench.ts: PyTorch training step of the paper's smallCNN (batch 64)
or largeCNN (batch 16), 32x32x3, BN in training mode, Adam, 2 threads. Prints 'img/s N'.
  python3 bench/_peer_train_step.py [--net smallCNN|largeCNN] [--batch N]"""
import argparse
import time

import torch
import torch.nn as nn

from _peer_models import NETWORKS

p = argparse.ArgumentParser()
p.add_argument("--net", default="smallCNN", choices=sorted(NETWORKS))
p.add_argument("--batch", type=int, default=None)
args = p.parse_args()
batch = args.batch or (16 if args.net == "largeCNN" else 64)

torch.set_num_threads(2)
torch.manual_seed(0)

model = NETWORKS[args.net]()
model.train()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(batch, 3, 32, 32)
y = torch.randint(0, 10, (batch,))
loss_fn = nn.CrossEntropyLoss()


def step():
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


steps = 30 if args.net == "smallCNN" else 8
for _ in range(3):
    step()
times = []
for _ in range(steps):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
times.sort()
median = times[len(times) // 2]
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: img/s {batch / median:.1f}")
