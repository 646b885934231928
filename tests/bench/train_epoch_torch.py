#!/usr/bin/python3
"""Peer for tests/bench/train-epoch.sh: the fmnist-cnn network trained for one epoch in PyTorch
on the CPU, with the same recipe as fv-train: conv32-conv32-pool-conv64-conv64-pool-fc256-fc10
(3x3 SAME convs, ReLU, 2x2 max-pool), He-normal initialization, zero biases, inputs pixel/255,
Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8), mean softmax cross-entropy over a minibatch, training
set shuffled once per epoch. Reads the Fashion-MNIST IDX files (gzip) itself with numpy.

Prints one line: "seconds <training seconds> acc <test accuracy>" (the time covers the epoch's
training steps only, not loading nor the test evaluation).

With PRECISION bf16 the forward runs under torch.autocast("cpu", torch.bfloat16): PyTorch's own
mixed precision, which oneDNN runs on the CPU's AMX tiles where it has them (plain bf16 products,
less precise than fv-train's bf16x3 split); the default, float, is PyTorch's default.

usage: train_epoch_torch.py DATA_DIR THREADS BATCH [LIMIT [float|bf16]]
"""
import gzip
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    raw = gzip.open(path, "rb").read()
    nd = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * nd).reshape(dims)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 32, 3, padding=1)
        self.c3 = nn.Conv2d(32, 64, 3, padding=1)
        self.c4 = nn.Conv2d(64, 64, 3, padding=1)
        self.f1 = nn.Linear(7 * 7 * 64, 256)
        self.f2 = nn.Linear(256, 10)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x))
        x = F.max_pool2d(F.relu(self.c4(x)), 2)
        x = F.relu(self.f1(torch.flatten(x, 1)))
        return self.f2(x)


def main():
    data, threads, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    limit = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    bf16 = len(sys.argv) > 5 and sys.argv[5] == "bf16"
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    xs = torch.from_numpy(read_idx(f"{data}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    ys = torch.from_numpy(read_idx(f"{data}/train-labels-idx1-ubyte.gz").astype(np.int64))
    xt = torch.from_numpy(read_idx(f"{data}/t10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0).unsqueeze(1)
    yt = torch.from_numpy(read_idx(f"{data}/t10k-labels-idx1-ubyte.gz").astype(np.int64))
    if limit:
        xs, ys = xs[:limit], ys[:limit]
    net = Net()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    perm = torch.randperm(xs.shape[0])
    t0 = time.perf_counter()
    net.train()
    for i in range(0, xs.shape[0], batch):
        idx = perm[i:i + batch]
        opt.zero_grad(set_to_none=True)
        if bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = net(xs[idx])
            loss = F.cross_entropy(out.float(), ys[idx])
        else:
            loss = F.cross_entropy(net(xs[idx]), ys[idx])
        loss.backward()
        opt.step()
    secs = time.perf_counter() - t0
    net.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, xt.shape[0], 500):
            correct += int((net(xt[i:i + 500]).argmax(1) == yt[i:i + 500]).sum())
    print(f"seconds {secs:.3f} acc {correct / xt.shape[0]:.4f}")


if __name__ == "__main__":
    main()
