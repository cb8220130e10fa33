#!/usr/bin/env python3
"""The p-spin Langevin step a user would write in numpy: the dense, symmetrised N^3 coupling
tensor and einsum. Same normalisation as glassy (J_ijk ~ N(0, 3/N^2) per unique triple).
Prints ms per step (median of repeats) for the given N, two lines:
`numpy_langevin_ms N value` with np.einsum as written (optimize=False, numpy's default), and
`numpy_langevin_opt_ms N value` with optimize=True (einsum contracts through BLAS: the best case)."""
import sys
import time

import numpy as np

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = np.random.default_rng(1)
    j = np.zeros((n, n, n))
    # Draw the unique couplings and symmetrise: J_sym[i,j,k] = J_{sorted(i,j,k)} / (for the
    # gradient dH/ds_i = -sum_{j<k} J_ijk s_j s_k = -(1/2) sum_{j,k} J_sym s_j s_k).
    upper = rng.normal(0.0, np.sqrt(3.0 / n**2), size=(n, n, n))
    mask = np.triu(np.ones((n, n), bool), 1)
    tri = mask[:, :, None] & mask[None, :, :]          # i<j and j<k
    j = np.where(tri, upper, 0.0)
    j = j + j.transpose(0, 2, 1) + j.transpose(1, 0, 2) + j.transpose(1, 2, 0) + j.transpose(2, 0, 1) + j.transpose(2, 1, 0)
    del upper, tri
    s = rng.normal(size=n)
    s *= np.sqrt(n) / np.linalg.norm(s)
    dt, temp = 0.05, 0.5
    for label, optimize in (("numpy_langevin_ms", False), ("numpy_langevin_opt_ms", True)):
        times = []
        for _ in range(steps):
            t0 = time.perf_counter()
            g = -0.5 * np.einsum("ijk,j,k->i", j, s, s, optimize=optimize)
            f = -(g - (s @ g / n) * s)
            s = s + dt * f + np.sqrt(2 * temp * dt) * rng.normal(size=n)
            s *= np.sqrt(n) / np.linalg.norm(s)
            times.append(time.perf_counter() - t0)
        print(f"{label} {n} {1e3 * float(np.median(times)):.4f}")

if __name__ == "__main__":
    main()
