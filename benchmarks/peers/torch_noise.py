#!/usr/bin/env python3
"""Peer of net_quench's SGD-noise measurement D (eq. 4 of the paper) in plain PyTorch: the
per-sample-gradient loop a user would write, over the first --samples MNIST training samples.

D = (mean_s |grad L_s|^2 - |mean_s grad L_s|^2) / M, M = number of parameters, as glassy's
nets::sgd_noise. Prints the mean milliseconds per D and the value:
  `torch_noise_loop_ms MODEL SAMPLES THREADS value D`
Compare with nets_benchmark's BM_Noise/<model>_batched/1024 (same samples, threads, model).
Usage: /usr/bin/python3 benchmarks/peers/torch_noise.py --model smallnet --threads 1
"""
import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from torch_train import add_common_args, setup  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    add_common_args(ap, threads=1)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    x_all, labels_all, model = setup(a)
    x, labels = x_all[:a.samples], labels_all[:a.samples]
    model.eval()
    params = list(model.parameters())
    m = sum(p.numel() for p in params)

    def noise():
        sum_sq = 0.0
        grad_sum = [torch.zeros_like(p, dtype=torch.float64) for p in params]
        for s in range(a.samples):
            out = model(x[s:s + 1])
            if a.model == "toy":
                loss = F.mse_loss(out, F.one_hot(labels[s:s + 1], 10).float(), reduction="sum")
            else:
                loss = F.nll_loss(F.log_softmax(out, 1), labels[s:s + 1], reduction="sum")
            grads = torch.autograd.grad(loss, params)
            for acc, g in zip(grad_sum, grads):
                g = g.double()
                sum_sq += float(g.pow(2).sum())
                acc += g
        n = a.samples
        mean_sq = sum(float(g.pow(2).sum()) for g in grad_sum) / n**2
        return (sum_sq / n - mean_sq) / m

    if a.repeats > 1:
        noise()  # warm-up (skipped for single long runs such as toy)
    times, value = [], 0.0
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        value = noise()
        times.append(time.perf_counter() - t0)
    print(f"torch_noise_loop_ms {a.model} {a.samples} {a.threads} {1e3 * min(times):.1f} D {value:.6e}")


if __name__ == "__main__":
    main()
