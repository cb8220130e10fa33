#!/usr/bin/env python3
"""Peer of net_quench's training loop in plain PyTorch (what a user would write instead).

Trains fc / smallnet / toy / resnet18 on MNIST, or on CIFAR-shaped synthetic data (--dataset
synthetic: random bytes, 3x32x32 by default), with constant-rate SGD (batch 100 by default) on
the CPU or a GPU (--device cuda), and prints the mean milliseconds per SGD step, to compare with
nets_benchmark's BM_SgdStep and, on a GPU, with net_quench (scripts/gpu_check.sh).
On a GPU it uses glassy's settings (nets::use_reproducible_cuda): cuDNN deterministic, no
autotuning, no TF32. --sync reads the loss back every step (loss.item()), as net_quench does for
its divergence check; without it the steps are queued and the clock stops after a synchronize.
Usage: /usr/bin/python3 benchmarks/peers/torch_train.py --model smallnet --threads 2 --steps 300
       python3 benchmarks/peers/torch_train.py --model resnet18 --dataset synthetic --device cuda
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
    def __init__(self, inputs=784):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(inputs, 100), nn.Linear(100, 100), nn.Linear(100, 10)

    def forward(self, x):
        x = x.flatten(1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


class SmallNet(nn.Module):
    def __init__(self, channels=1, side=28):
        super().__init__()
        reduced = ((side - 4) // 2 - 4) // 2
        self.conv1, self.conv2 = nn.Conv2d(channels, 10, 5), nn.Conv2d(10, 20, 5)
        self.fc1, self.fc2 = nn.Linear(20 * reduced * reduced, 100), nn.Linear(100, 10)

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


class BasicBlock(nn.Module):
    """glassy's BasicBlock (nets/models.cpp): conv3x3-BN-ReLU-conv3x3-BN + shortcut, ReLU."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    """The CIFAR ResNet-18 of glassy (3x3 stem, no max-pool, [2, 2, 2, 2], global average pool)."""

    def __init__(self, channels=3):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64)
        blocks, cin = [], 64
        for i, planes in enumerate([64, 128, 256, 512]):
            for b in range(2):
                blocks.append(BasicBlock(cin, planes, 2 if i > 0 and b == 0 else 1))
                cin = planes
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def add_common_args(ap, threads):
    """The options every peer shares: model, toy width, threads, data directory."""
    ap.add_argument("--model", default="smallnet", choices=["fc", "smallnet", "toy", "resnet18"])
    ap.add_argument("--hidden", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=threads)
    ap.add_argument("--data-dir", default=os.environ.get("GLASSY_DATA_DIR",
                                                         os.path.join(os.path.dirname(__file__), "..", "..", "data")))


def load_images(a):
    """uint8 images [N, C, H, W] and int64 labels: MNIST, or random bytes of the synthetic shape."""
    if getattr(a, "dataset", "mnist") == "synthetic":
        g = torch.Generator().manual_seed(1)
        images = torch.randint(0, 256, (a.synthetic_train, a.channels, a.size, a.size), generator=g, dtype=torch.uint8)
        return images, torch.randint(0, 10, (a.synthetic_train,), generator=g)
    d = find_mnist(a.data_dir)
    images = torch.from_numpy(read_idx(os.path.join(d, "train-images-idx3-ubyte")).copy()).unsqueeze(1)
    return images, torch.from_numpy(read_idx(os.path.join(d, "train-labels-idx1-ubyte")).astype(np.int64))


def setup(a):
    """Threads, seed, the training set normalised with its own mean/std (as glassy does), and the
    model. Returns (inputs [N, C, H, W], labels, model)."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    images, labels = load_images(a)
    x_all = images.float() / 255.0
    x_all = (x_all - x_all.mean()) / x_all.std()
    c, side = x_all.shape[1], x_all.shape[2]
    models = {"fc": lambda: Fc(c * side * side), "smallnet": lambda: SmallNet(c, side),
              "resnet18": lambda: ResNet18(c)}
    model = models.get(a.model, lambda: Toy(a.hidden))()
    return x_all, labels, model


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    add_common_args(ap, threads=2)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--dataset", default="mnist", choices=["mnist", "synthetic"])
    ap.add_argument("--channels", type=int, default=3, help="synthetic images: channels")
    ap.add_argument("--size", type=int, default=32, help="synthetic images: side in pixels")
    ap.add_argument("--synthetic-train", type=int, default=10000, help="synthetic images: how many")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--sync", action="store_true", help="read the loss back every step (loss.item())")
    ap.add_argument("--also-sync", action="store_true", help="then time again with --sync (a second line)")
    a = ap.parse_args()
    if a.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda: this PyTorch sees no CUDA device")
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    x_all, labels, model = setup(a)
    x_all, labels, model = x_all.to(a.device), labels.to(a.device), model.to(a.device)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    g = torch.Generator().manual_seed(1)
    perm = torch.randperm(len(labels), generator=g).to(a.device)

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

    def synchronize():
        if a.device == "cuda":
            torch.cuda.synchronize()

    def timed(sync):
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(a.steps):
            loss = step(i)
            if sync:
                loss.item()
        synchronize()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        print(f"{a.model}: {1e3 * dt / a.steps:.3f} ms/step wall, {1e3 * dc / a.steps:.3f} ms/step CPU "
              f"(batch {a.batch}, threads {a.threads}, device {a.device}{', sync' if sync else ''}, "
              f"torch {torch.__version__}), last loss {loss.item():.4f}")

    for i in range(10):
        step(i)
    synchronize()
    timed(a.sync)
    if a.also_sync:
        timed(True)


if __name__ == "__main__":
    main()
