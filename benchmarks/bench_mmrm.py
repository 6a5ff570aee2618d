"""Speed of the MMRM with an unstructured within-pupil covariance (issue 12 item 2).

    .venv/bin/python benchmarks/bench_mmrm.py [--sizes 200 2000]

Synthetic data per size N: N pupils in classes of about 25 (N/25 classes, and N pupils in
8 classes as the worst case for the dense blocks), half of the classes mentee, three
waves with unequal variances and correlations (T1–T2 .70, T1–T3 .55, T2–T3 .75), class
intercepts (SD .35), 5% of T1 and 15% of later scores missing. Fits
``score ~ condition * wave`` with the unstructured Σ, without and with ``(1 | class)``
(mut_eval.stats.mmrm.fit_mmrm), and tests the three DiD contrasts with Kenward–Roger and
Satterthwaite df. Prints the seconds per fit.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from mut_eval.stats.mixed import RandomTerm
from mut_eval.stats.mmrm import fit_mmrm

L_DID = np.array([[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, -1, 1]], float)
SD = np.array([1.0, 1.1, 1.25])
COR = np.array([[1, .70, .55], [.70, 1, .75], [.55, .75, 1]])


def synthetic(pupils: int, classes: int, seed: int = 1):
    """(y, X, wave, pupil, class) of the design above, long format."""
    rng = np.random.default_rng(seed)
    cls = rng.integers(0, classes, pupils)
    mentee = (cls % 2 == 0).astype(float)
    e = rng.multivariate_normal(np.zeros(3), SD[:, None] * COR * SD[None, :], pupils)
    y = 3 + np.array([0, .1, .2]) + .15 * mentee[:, None] * (np.arange(3) > 0) \
        + rng.normal(0, .35, classes)[cls][:, None] + e
    keep = rng.random((pupils, 3)) > np.array([.05, .15, .15])
    pid, wave = np.nonzero(keep)
    m = mentee[pid]
    X = np.column_stack([np.ones(pid.size), m, wave == 1, wave == 2,
                         m * (wave == 1), m * (wave == 2)]).astype(float)
    return y[pid, wave], X, wave, pid, cls[pid]


def bench(pupils: int, classes: int) -> None:
    y, X, wave, pid, cls = synthetic(pupils, classes)
    for terms in ([], [RandomTerm.from_groups(cls, "class")]):
        t0 = time.perf_counter()
        fit = fit_mmrm(y, X, wave, pid, terms)
        t1 = time.perf_counter()
        fit.test(L_DID, ddf="kenward-roger")
        fit.test(L_DID, ddf="satterthwaite")
        t2 = time.perf_counter()
        what = "+ (1 | class)" if terms else "no random terms"
        print(f"{pupils:6d} pupils {classes:4d} classes, {what:16s}: fit {t1 - t0:6.2f} s, "
              f"KR + Satterthwaite tests {t2 - t1:5.2f} s, converged {fit.converged}",
              flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    args = ap.parse_args(argv)
    for n in args.sizes:
        for classes in sorted({max(2, n // 25), 8}):
            bench(n, classes)


if __name__ == "__main__":
    main()
