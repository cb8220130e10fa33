#!/usr/bin/env python3
"""Peer of one net_quench --barrier line in plain PyTorch (what a user would write instead): the
mean training loss at 21 evenly spaced points of the straight line between two weight vectors,
theta(alpha) = (1 - alpha) a + alpha b, on the first --samples MNIST training samples, in eval mode
without gradients (torch.nn.utils.vector_to_parameters at each point, one forward pass of all the
samples). As nets_benchmark's BM_BarrierLine: a = the initial weights (seed 1), b = a + N(0, 0.01^2)
per weight. Prints the best wall milliseconds per line over --repeats, the loss at the midpoint
and the process CPU milliseconds of that line (all threads):
  `torch_barrier_line_ms MODEL SAMPLES THREADS ms mid LOSS cpu_ms CPU`
Usage: /usr/bin/python3 benchmarks/peers/torch_barrier_line.py --model smallnet --threads 2
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.utils import parameters_to_vector, vector_to_parameters

sys.path.insert(0, os.path.dirname(__file__))
from torch_train import add_common_args, setup  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    add_common_args(ap, threads=2)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--points", type=int, default=21)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    x_all, labels_all, model = setup(a)
    x, labels = x_all[:a.samples], labels_all[:a.samples]
    model.eval()
    start = parameters_to_vector(model.parameters()).detach().clone()
    end = start + 0.01 * torch.randn(start.shape, generator=torch.Generator().manual_seed(1))

    def line():
        losses = []
        with torch.no_grad():
            for alpha in torch.linspace(0.0, 1.0, a.points):
                vector_to_parameters((1 - alpha) * start + alpha * end, model.parameters())
                losses.append(float(F.nll_loss(F.log_softmax(model(x), 1), labels)))
        return losses

    line()  # warm-up
    times, losses = [], []
    for _ in range(a.repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        losses = line()
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(times)
    print(f"torch_barrier_line_ms {a.model} {a.samples} {a.threads} {1e3 * wall:.1f} mid {losses[len(losses) // 2]:.6f}"
          f" cpu_ms {1e3 * cpu:.1f}")


if __name__ == "__main__":
    main()
