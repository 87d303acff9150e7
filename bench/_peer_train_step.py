"""Peer for bench/train_step_bench.ts: PyTorch smallCNN training step, batch 64, 32x32x3,
BN in training mode, Adam, 2 threads. Prints 'img/s N'."""
import time
import torch
import torch.nn as nn

torch.set_num_threads(2)
torch.manual_seed(0)


def block(cin, cout, k):
    return [nn.Conv2d(cin, cout, k, bias=False), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2)]


model = nn.Sequential(*block(3, 32, 3), *block(32, 64, 3), *block(64, 128, 1), nn.Flatten(),
                      nn.Linear(128 * 3 * 3, 10, bias=False))
model.train()
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.randn(64, 3, 32, 32)
y = torch.randint(0, 10, (64,))
loss_fn = nn.CrossEntropyLoss()


def step():
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


for _ in range(5):
    step()
times = []
for _ in range(30):
    t0 = time.perf_counter()
    step()
    times.append(time.perf_counter() - t0)
times.sort()
median = times[len(times) // 2]
print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: img/s {64 / median:.0f}")
