"""Speed of the multilevel mixed model (issue 12 item 11).

    .venv/bin/python benchmarks/bench_mixed.py [--outcomes 6] [--schools 40]

Synthetic data: 20,000 pupils in 800 classes of 40 schools (20 classes of 25 pupils per
school), half of the classes mentee, 3 waves, about 5% of later scores missing. For each
outcome the model of issue 12,

    score ~ condition * wave + (1 | school) + (1 | school:class)
                             + (1 | school:class:wave) + (1 | student_id)

is fitted by REML (mut_eval.stats.mixed.fit_mixed) and the three DiD contrasts are tested
with Kenward–Roger df and SEs (and Satterthwaite). Prints the time per step and in total.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from mut_eval.stats.mixed import RandomTerm, fit_mixed

L_DID = np.array([[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, -1, 1]], float)


def synthetic(schools: int = 40, classes: int = 20, pupils: int = 25, seed: int = 1):
    rng = np.random.default_rng(seed)
    n_cls = schools * classes
    n = n_cls * pupils
    cls = np.repeat(np.arange(n_cls), pupils)
    sch = cls // classes
    mentee = (cls % 2 == 0).astype(float)
    u_s, u_c = rng.normal(0, .2, schools), rng.normal(0, .25, n_cls)
    u_cw, u_p = rng.normal(0, .15, (n_cls, 3)), rng.normal(0, .6, n)
    rows = []
    for w in range(3):
        y = (3 + .1 * w + .1 * mentee * (w > 0) + u_s[sch] + u_c[cls] + u_cw[cls, w] + u_p
             + rng.normal(0, .5, n))
        keep = np.ones(n, bool) if w == 0 else rng.random(n) > .05
        rows.append(pd.DataFrame({"student_id": np.arange(n)[keep], "school": sch[keep],
                                  "class": cls[keep], "wave": w, "mentee": mentee[keep],
                                  "score": y[keep]}))
    return pd.concat(rows, ignore_index=True)


def design(d: pd.DataFrame):
    m, w = d["mentee"].to_numpy(), d["wave"].to_numpy()
    X = np.column_stack([np.ones(len(d)), m, w == 1, w == 2, m * (w == 1), m * (w == 2)]).astype(float)
    terms = [RandomTerm.from_groups(d[["school"]].to_numpy(), "school"),
             RandomTerm.from_groups(d[["school", "class"]].to_numpy(), "school:class"),
             RandomTerm.from_groups(d[["school", "class", "wave"]].to_numpy(), "school:class:wave"),
             RandomTerm.from_groups(d[["student_id"]].to_numpy(), "student_id")]
    return X, terms


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--outcomes", type=int, default=6)
    ap.add_argument("--schools", type=int, default=40)
    a = ap.parse_args(argv)
    t_all = time.perf_counter()
    for o in range(a.outcomes):
        d = synthetic(schools=a.schools, seed=o + 1)
        t0 = time.perf_counter()
        X, terms = design(d)
        t1 = time.perf_counter()
        f = fit_mixed(d["score"].to_numpy(), X, terms)
        t2 = time.perf_counter()
        kr = f.test(L_DID, ddf="kenward-roger")
        sa = f.test(L_DID, ddf="satterthwaite")
        t3 = time.perf_counter()
        print(f"outcome {o + 1}: n = {f.n_obs}, q = {sum(f.n_levels.values())}; design "
              f"{t1 - t0:.1f} s, REML fit {t2 - t1:.1f} s, KR + Satterthwaite {t3 - t2:.1f} s; "
              f"converged {f.converged}; KR df {np.round(kr['df'].to_numpy(), 1)}, "
              f"Satterthwaite df {np.round(sa['df'].to_numpy(), 1)}", flush=True)
    print(f"total {time.perf_counter() - t_all:.1f} s for {a.outcomes} outcome(s) "
          "(data generation included)")


if __name__ == "__main__":
    main()
