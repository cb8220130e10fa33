#!/usr/bin/env python3
"""Compares two net_quench records of the same run made on different devices (scripts/gpu_check.sh).

  gpu_compare_records.py A.h5 B.h5 REFERENCE.h5

REFERENCE is the same run in float64. Each of train_loss, test_loss, D(t_w) (/aging/noise) and Delta
(/aging/delta) passes when |B - A| <= max(10 |A - REFERENCE|, r |A|) elementwise, r = 1e-2 for the
losses and D, 5e-2 for Delta (tests/nets/cuda_test.cpp uses the same rule). Why r: two float32
roundings of the same 1000-step smallnet run (the CPU with 1 and with 2 threads, 2026-12-01 dry run)
already differed by up to 7.5e-4 (losses), 1.7e-3 (D) and 1.1e-2 (Delta at the shortest lags)
relative, while the float32-float64 gap of the 1-thread run was smaller still, so |A - REFERENCE|
alone does not bound another float32 rounding.
Prints one markdown table row per quantity and exits 1 if any fails.
"""
import sys

import h5py
import numpy as np


RELATIVE = {"train_loss": 1e-2, "test_loss": 1e-2, "D": 1e-2, "Delta": 5e-2}


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
        tolerance = np.maximum(10 * np.abs(x - r), RELATIVE[name] * np.abs(x))
        passed = bool(np.all(diff <= tolerance))
        ok = ok and passed
        rel = np.max(diff / np.maximum(np.abs(x), 1e-300)) if x.size else 0.0
        print(f"| {name} | {x.size} | {diff.max() if x.size else 0:.3g} | {rel:.3g} | {'yes' if passed else 'NO'} |")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
