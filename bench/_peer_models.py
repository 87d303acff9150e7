"""The paper's networks in PyTorch, for the same-run peers (bench/_peer_affine.py on the CPU,
bench/_peer_gpu.py on the lent GPU): batch-norm after every conv but largeCNN's 1x1, 32x32x3
inputs, 10 classes, logits without bias (lib/models/small_cnn.ts, lib/models/large_cnn.ts)."""
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
