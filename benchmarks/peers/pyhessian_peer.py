#!/usr/bin/env python3
"""Peer of net_quench --hessian in plain PyTorch, doing what PyHessian (Yao et al. 2020,
pyhessian/hessian.py) does: the gradient with create_graph=True once, Hessian-vector products
by torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True), the top-k eigenvalues
by power iteration with deflation (Gram-Schmidt against the eigenvectors found, stop when the
Rayleigh quotient changes by less than tol relative, at most max_iter products each), the trace
by Hutchinson (Rademacher vectors) and the density by SLQ (Lanczos with full reorthogonalisation).

Same model, weights and samples as glassy: read from a net_quench record written with
--hessian --save-snapshots (the weights of /snapshots/weights row ROW, the samples of
/hessian/samples, the inputs normalised with the record's input_mean/input_std). Prints the
seconds of each part and the largest relative difference of its top-k from the record's
/hessian/top row (glassy's Spectra result):
  pyhessian_peer MODEL k=K samples=S threads=T top_s ... trace_s ... slq_s ... total_s ... max_rel_diff ...
Usage: /usr/bin/python3 benchmarks/peers/pyhessian_peer.py RECORD.h5 [--row 0] [--tol 1e-6] [--threads 1]
"""
import argparse
import json
import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from torch_train import Fc, SmallNet, find_mnist, read_idx  # noqa: E402


def load(a):
    with h5py.File(a.record, "r") as f:
        p = json.loads(f.attrs["parameters"])
        weights = f["snapshots/weights"][a.row]
        samples = f["hessian/samples"][:]
        top = f["hessian/top"][a.row]
        assert f["snapshots/tw"][a.row] == f["hessian/t"][a.row], "snapshot and Hessian rows differ in t_w"
    if p["model"] not in ("fc", "smallnet") or p["dataset"] != "mnist":
        raise SystemExit("error: the peer covers fc and smallnet on MNIST")
    model = {"fc": Fc, "smallnet": SmallNet}[p["model"]]()
    offset = 0
    with torch.no_grad():
        for q in model.parameters():
            q.copy_(torch.from_numpy(weights[offset:offset + q.numel()].copy()).reshape(q.shape))
            offset += q.numel()
    assert offset == len(weights)
    d = find_mnist(a.data_dir)
    images = torch.from_numpy(read_idx(os.path.join(d, "train-images-idx3-ubyte"))[samples].copy()).unsqueeze(1)
    labels = torch.from_numpy(read_idx(os.path.join(d, "train-labels-idx1-ubyte"))[samples].astype(np.int64))
    x = (images.float() / 255.0 - p["input_mean"][0]) / p["input_std"][0]
    return p, model, x, labels, top


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("record")
    ap.add_argument("--row", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-6, help="relative change of the Rayleigh quotient")
    ap.add_argument("--max-iter", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=os.environ.get("GLASSY_DATA_DIR",
                                                         os.path.join(os.path.dirname(__file__), "..", "..", "data")))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    p, model, x, labels, glassy_top = load(a)
    k = len(glassy_top)
    model.eval()
    params = [q for q in model.parameters()]
    t0 = time.perf_counter()
    loss = F.nll_loss(F.log_softmax(model(x), 1), labels)
    grads = torch.autograd.grad(loss, params, create_graph=True)

    def hvp(v):
        return torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)

    def dot(u, v):
        return sum(float((a * b).sum()) for a, b in zip(u, v))

    def normalised(v):
        n = dot(v, v) ** 0.5
        return [t / (n + 1e-6) for t in v]  # as PyHessian's normalization()

    def orthonormal(v, basis):
        for b in basis:
            c = dot(v, b)
            v = [t - c * s for t, s in zip(v, b)]
        return normalised(v)

    gen = torch.Generator().manual_seed(1)
    eigenvalues, eigenvectors = [], []
    for _ in range(k):  # PyHessian's hessian.eigenvalues(maxIter, tol, top_n)
        v = normalised([torch.randn(q.shape, generator=gen) for q in params])
        value = None
        for _ in range(a.max_iter):
            v = orthonormal(v, eigenvectors)
            hv = hvp(v)
            new = dot(hv, v)
            v = normalised(hv)
            if value is not None and abs(value - new) / (abs(value) + 1e-6) < a.tol:
                value = new
                break
            value = new
        eigenvalues.append(value)
        eigenvectors.append(v)
    t_top = time.perf_counter() - t0

    t1 = time.perf_counter()
    samples = []
    for _ in range(100):  # Hutchinson, plain: 100 Rademacher vectors (PyHessian's trace(maxIter=100))
        v = [torch.randint(0, 2, q.shape, generator=gen).float() * 2 - 1 for q in params]
        samples.append(dot(hvp(v), v))
    t_trace = time.perf_counter() - t1

    t2 = time.perf_counter()
    for _ in range(4):  # SLQ: 4 starts x 80 Lanczos steps, full reorthogonalisation (glassy's former default)
        basis = [normalised([torch.randint(0, 2, q.shape, generator=gen).float() * 2 - 1 for q in params])]
        alpha, beta = [], []
        for j in range(80):
            w = hvp(basis[-1])
            alpha.append(dot(w, basis[-1]))
            for _ in range(2):
                for b in basis:
                    c = dot(w, b)
                    w = [t - c * s for t, s in zip(w, b)]
            beta.append(dot(w, w) ** 0.5)
            basis.append([t / beta[-1] for t in w])
        t = np.diag(alpha) + np.diag(beta[:-1], 1) + np.diag(beta[:-1], -1)
        np.linalg.eigh(t)
    t_slq = time.perf_counter() - t2
    total = time.perf_counter() - t0
    ours = np.array(sorted(eigenvalues, reverse=True))
    rel = np.max(np.abs(ours - glassy_top) / np.abs(glassy_top))
    print(f"pyhessian_peer {p['model']} k={k} samples={len(labels)} threads={a.threads} tol={a.tol} "
          f"top_s {t_top:.2f} trace_s {t_trace:.2f} slq_s {t_slq:.2f} total_s {total:.2f} "
          f"max_rel_diff_vs_glassy {rel:.2e} top1 {ours[0]:.6g} (glassy {glassy_top[0]:.6g}) "
          f"trace {np.mean(samples):.6g}")


if __name__ == "__main__":
    main()
