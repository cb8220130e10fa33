#!/usr/bin/env python3
"""Peer of net_quench's training loop in plain PyTorch (what a user would write instead).

Trains fc / smallnet / toy on MNIST with constant-rate SGD (batch 100 by default) and prints
the mean milliseconds per SGD step, to compare with nets_benchmark's BM_SgdStep.
Usage: /usr/bin/python3 benchmarks/peers/torch_train.py --model smallnet --threads 2 --steps 300
"""
import argparse
import os
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find_mnist(data_dir):
    for d in (os.path.join(data_dir, "mnist"), os.path.join(data_dir, "mnist", "data")):
        if os.path.exists(os.path.join(d, "train-images-idx3-ubyte")):
            return d
    raise SystemExit(f"error: no MNIST under {data_dir}/mnist")


class Fc(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 100), nn.Linear(100, 100), nn.Linear(100, 10)

    def forward(self, x):
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 10, 5), nn.Conv2d(10, 20, 5)
        self.fc1, self.fc2 = nn.Linear(320, 100), nn.Linear(100, 10)

    def forward(self, x):
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


class Toy(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(784, hidden), nn.Linear(hidden, 10)

    def forward(self, x):
        return torch.sigmoid(self.fc2(F.relu(self.fc1(x.flatten(1)))))


def add_common_args(ap, threads):
    """The options every peer shares: model, toy width, threads, data directory."""
    ap.add_argument("--model", default="smallnet", choices=["fc", "smallnet", "toy"])
    ap.add_argument("--hidden", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=threads)
    ap.add_argument("--data-dir", default=os.environ.get("GLASSY_DATA_DIR",
                                                         os.path.join(os.path.dirname(__file__), "..", "..", "data")))


def setup(a):
    """Threads, seed, the MNIST training set normalised with its own mean/std (as glassy does),
    and the model. Returns (inputs [60000, 1, 28, 28], labels, model)."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    d = find_mnist(a.data_dir)
    images = torch.from_numpy(read_idx(os.path.join(d, "train-images-idx3-ubyte")).copy()).unsqueeze(1)
    labels = torch.from_numpy(read_idx(os.path.join(d, "train-labels-idx1-ubyte")).astype(np.int64))
    x_all = images.float() / 255.0
    x_all = (x_all - x_all.mean()) / x_all.std()
    model = {"fc": Fc, "smallnet": SmallNet}.get(a.model, lambda: Toy(a.hidden))()
    return x_all, labels, model


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    add_common_args(ap, threads=2)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=300)
    a = ap.parse_args()
    x_all, labels, model = setup(a)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    g = torch.Generator().manual_seed(1)
    perm = torch.randperm(len(labels), generator=g)

    def step(i):
        idx = perm[(i * a.batch) % (len(labels) - a.batch):][:a.batch]
        x, y = x_all[idx], labels[idx]
        out = model(x)
        if a.model == "toy":
            loss = F.mse_loss(out, F.one_hot(y, 10).float())
        else:
            loss = F.nll_loss(F.log_softmax(out, 1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    for i in range(10):
        step(i)
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(a.steps):
        loss = step(i)
    dt, dc = time.perf_counter() - t0, time.process_time() - c0
    print(f"{a.model}: {1e3 * dt / a.steps:.3f} ms/step wall, {1e3 * dc / a.steps:.3f} ms/step CPU "
          f"(batch {a.batch}, threads {a.threads}, "
          f"torch {torch.__version__}), last loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
