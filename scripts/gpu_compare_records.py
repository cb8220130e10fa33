#!/usr/bin/env python3
"""Compares two net_quench records of the same run made on different devices (scripts/gpu_check.sh).

  gpu_compare_records.py A.h5 B.h5 REFERENCE.h5

REFERENCE is the same run in float64: |A - REFERENCE| is how far float32 rounding has carried the
trajectory, and another float32 rounding of it (B, other kernels) should land at a comparable
distance. Each of train_loss, test_loss, D(t_w) (/aging/noise) and Delta (/aging/delta) passes when
|B - A| <= 10 |A - REFERENCE| + 1e-5 |A| elementwise (tests/nets/cuda_test.cpp uses the same rule).
Prints one markdown table row per quantity and exits 1 if any fails.
"""
import sys

import h5py
import numpy as np


def series(path):
    with h5py.File(path, "r") as f:
        out = {name: f["observables"][name][()] for name in ("train_loss", "test_loss")}
        out["D"] = f["aging"]["noise"][()]
        out["Delta"] = f["aging"]["delta"][()].ravel()
    return out


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    a, b, ref = (series(p) for p in sys.argv[1:])
    ok = True
    print("| quantity | points | max abs difference | max relative difference | within float32 spread |")
    print("|---|---|---|---|---|")
    for name in ("train_loss", "test_loss", "D", "Delta"):
        x, y, r = a[name], b[name], ref[name]
        both = ~(np.isnan(x) & np.isnan(y))
        x, y, r = x[both], y[both], r[both]
        diff = np.abs(y - x)
        tolerance = 10 * np.abs(x - r) + 1e-5 * np.abs(x)
        passed = bool(np.all(diff <= tolerance))
        ok = ok and passed
        rel = np.max(diff / np.maximum(np.abs(x), 1e-300)) if x.size else 0.0
        print(f"| {name} | {x.size} | {diff.max() if x.size else 0:.3g} | {rel:.3g} | {'yes' if passed else 'NO'} |")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
