"""Speed of the multilevel mixed model against lme4 (issue 12 item 11).

    .venv/bin/python benchmarks/bench_mixed.py [--outcomes 6] [--schools 40]
        [--csv PATH] [--no-lme4] [--kr-schools 2]

Synthetic data: 20,000 pupils in 800 classes of 40 schools (20 classes of 25 pupils per
school), half of the classes mentee, 3 waves, about 5% of later scores missing; one
data set per outcome (same pupils, new effects). The whole workload of the analysis:

- per outcome the model of issue 12, fitted by REML (``mut_eval.stats.mixed.fit_mixed``),
  ``score ~ condition * wave + (1 | school) + (1 | school:class)
  + (1 | school:class:wave) + (1 | student_id)``,
  and the three DiD contrasts tested with Kenward–Roger df and SEs and with
  Satterthwaite df (both from one set of REML derivatives, which the KR step computes);
- the ICC table (``mut_eval.stats.icc.icc_table``: the null model ``score ~ 1 +
  (1 | school) + (1 | school:class)`` on the T1 rows of every outcome, with its CI).

Then the same data go to ``bench_mixed_lme4.R`` (written to a CSV in a temporary folder,
or to ``--csv``): lme4 fits, lmerTest Satterthwaite, the ICC null models, and pbkrtest
Kenward–Roger on a subset of ``--kr-schools`` schools (pbkrtest needs dense n × n
matrices: 58,000 rows do not fit in memory), which this engine then also runs, for a like
ratio. Times are wall clock (CPU seconds beside them); the engine runs its BLAS on one
thread (``mixed._BLAS_THREADS``). The largest relative differences between the df, SEs
and ICC variance components of both are printed.

Measured 2026-12-03 on this machine (2 cores shared with other jobs), 6 outcomes of
58,000 rows and 23,240 random effects each; seconds wall (CPU), summed. "this engine"
and lme4 from one run at 14:32 UTC (load ~5); "before" (a508f38) at 13:55 (load ~6):

    step                     before (a508f38)   this engine   lme4 1.1-31 / lmerTest / pbkrtest
    design (terms)             0.8  (0.5)        0.6 (0.5)     -
    REML fit                  21.7 (14.4)        4.1 (4.0)     49.0  lme4::lmer
    KR df + SEs (derivatives) 25.9 (17.5)        1.0 (1.0)     -     pbkrtest: n x n, out of memory
    Satterthwaite df           0.0               0.0           55.7  lmerTest (its own derivatives)
    ICC null models (T1)       2.7  (1.3)        0.3 (0.3)      2.7  lme4::lmer
    total                     51.1 (33.7)        6.0 (5.8)    107.4  (without KR)
    KR, 1 outcome, 2 schools   2.4  (1.6)        0.15          61.2  lme4 + pbkrtest (2,900 rows)

"before" ran with BLAS on 1 thread; with the default 2 threads it took 170 s (79 s CPU),
as the threads contend on a loaded machine. Ratio lme4 / this engine: 18× for the whole
workload (lme4 + lmerTest + ICC, without KR, against ours with KR), ~400× for pbkrtest's
KR on the subset. The df, SEs and ICC variance components of both agree to 3e-5
relative (lme4's own convergence on 58,000 rows; the tests hold the engine to R at 1e-4
on the stored designs).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mut_eval.stats.icc import icc_table
from mut_eval.stats.mixed import RandomTerm, fit_mixed

HERE = Path(__file__).resolve().parent
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


def long_data(outcomes: int, schools: int) -> pd.DataFrame:
    """One synthetic data set per outcome, stacked with an ``outcome`` column, in the
    long layout of the analyses (wave T1/T2/T3, condition mentee/control)."""
    parts = [synthetic(schools=schools, seed=o + 1).assign(outcome=f"outcome_{o + 1}")
             for o in range(outcomes)]
    d = pd.concat(parts, ignore_index=True)
    d["condition"] = np.where(d["mentee"] == 1, "mentee", "control")
    d["wave"] = "T" + (d["wave"] + 1).astype(str)
    return d


def design(d: pd.DataFrame):
    m, w = (d["condition"] == "mentee").to_numpy(float), d["wave"].to_numpy()
    X = np.column_stack([np.ones(len(d)), m, w == "T2", w == "T3", m * (w == "T2"),
                         m * (w == "T3")]).astype(float)
    terms = [RandomTerm.from_groups(d[["school"]].to_numpy(), "school"),
             RandomTerm.from_groups(d[["school", "class"]].to_numpy(), "school:class"),
             RandomTerm.from_groups(d[["school", "class", "wave"]].to_numpy(), "school:class:wave"),
             RandomTerm.from_groups(d[["student_id"]].to_numpy(), "student_id")]
    return X, terms


class Clock:
    """Wall and CPU seconds per named step, summed."""

    def __init__(self):
        self.wall, self.cpu = {}, {}

    def __call__(self, step, fn, *args, **kw):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn(*args, **kw)
        self.wall[step] = self.wall.get(step, 0.0) + time.perf_counter() - w0
        self.cpu[step] = self.cpu.get(step, 0.0) + time.process_time() - c0
        return out


def run_engine(d: pd.DataFrame, kr_schools: int, clock: Clock) -> dict:
    """The whole workload; returns the df and SEs per outcome for the comparison."""
    out = {}
    for o, dd in d.groupby("outcome", sort=False):
        X, terms = clock("design", design, dd)
        f = clock("fit", fit_mixed, dd["score"].to_numpy(), X, terms)
        kr = clock("kr", f.test, L_DID, ddf="kenward-roger")
        sa = clock("satt", f.test, L_DID, ddf="satterthwaite")
        out[o] = dict(df_satterthwaite=sa["df"].to_numpy(), se=sa["se"].to_numpy())
        if len(out) == 1:                       # the pbkrtest comparison: first outcome
            sub = dd[dd["school"] < kr_schools]
            Xs, ts = design(sub)
            fs = clock("kr_fit", fit_mixed, sub["score"].to_numpy(), Xs, ts)
            ks = clock("kr_subset", fs.test, L_DID, ddf="kenward-roger")
            out[o].update(kr_subset_df=ks["df"].to_numpy(), kr_subset_se=ks["se"].to_numpy())
        print(f"  {o}: n = {f.n_obs}, q = {sum(f.n_levels.values())}, converged {f.converged}; "
              f"KR df {np.round(kr['df'].to_numpy(), 1)}, Satterthwaite df "
              f"{np.round(sa['df'].to_numpy(), 1)}", flush=True)
    t1 = d[d["wave"] == "T1"]
    icc = clock("icc", icc_table, t1)
    for o, row in icc.set_index("outcome").iterrows():
        out[o]["icc_varcomp"] = row[["var_school", "var_class", "var_resid"]].to_numpy(float)
    return out


def run_lme4(csv: Path, kr_schools: int):
    """Time bench_mixed_lme4.R on the CSV; (times per step summed, values per outcome)."""
    res = subprocess.run(["Rscript", str(HERE / "bench_mixed_lme4.R"), str(csv), str(kr_schools)],
                         capture_output=True, text=True, check=True)
    times, values = {}, {}
    for line in res.stdout.splitlines():
        kind, name, o, *v = line.split()
        if kind == "time":
            times[name] = times.get(name, 0.0) + float(v[0])
        elif kind == "value":
            values.setdefault(o, {})[name] = np.array(v, float)
    return times, values


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--outcomes", type=int, default=6)
    ap.add_argument("--schools", type=int, default=40)
    ap.add_argument("--csv", type=Path, help="write the data here (default: a temporary file)")
    ap.add_argument("--no-lme4", action="store_true", help="do not run the R side")
    ap.add_argument("--kr-schools", type=int, default=2,
                    help="schools in the subset on which pbkrtest is timed (default 2)")
    a = ap.parse_args(argv)
    d = long_data(a.outcomes, a.schools)
    print(f"{a.outcomes} outcome(s), {d['student_id'].nunique()} pupils, "
          f"{d.groupby(['school', 'class']).ngroups} classes, {d['school'].nunique()} schools, "
          f"{len(d)} rows", flush=True)
    clock = Clock()
    ours = run_engine(d, a.kr_schools, clock)
    main_steps = ["design", "fit", "kr", "satt", "icc"]
    total_w = sum(clock.wall[s] for s in main_steps)
    total_c = sum(clock.cpu[s] for s in main_steps)
    print("this engine (seconds, wall / CPU, summed over outcomes):")
    for s in main_steps + ["kr_fit", "kr_subset"]:
        print(f"  {s:10s} {clock.wall[s]:7.2f} / {clock.cpu[s]:7.2f}")
    print(f"  total      {total_w:7.2f} / {total_c:7.2f}  (design, fit, KR, Satterthwaite, "
          "ICC; target 60 s)", flush=True)
    if a.no_lme4 or shutil.which("Rscript") is None:
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv = a.csv or Path(tmp) / "bench_mixed.csv"
        d[["outcome", "student_id", "school", "class", "wave", "condition", "score"]].to_csv(
            csv, index=False)
        times, values = run_lme4(csv, a.kr_schools)
    r_total = times["fit"] + times["satt"] + times["icc"]
    print("lme4 (seconds, elapsed, summed over outcomes):")
    for s in ("fit", "satt", "icc", "kr_fit", "kr"):
        print(f"  {s:10s} {times[s]:7.2f}")
    print(f"  lme4 fit + lmerTest Satterthwaite + ICC (no KR) {r_total:.2f} s; this engine's "
          f"whole workload (KR included) {total_w:.2f} s; ratio {r_total / total_w:.1f}")
    kr_ours = clock.wall["kr_fit"] + clock.wall["kr_subset"]
    print(f"  KR, first outcome, {a.kr_schools} schools (fit + KR): pbkrtest {times['kr_fit'] + times['kr']:.2f} s,"
          f" this engine {kr_ours:.2f} s; ratio {(times['kr_fit'] + times['kr']) / kr_ours:.1f}")
    diffs = {k: max(float(np.max(np.abs(ours[o][k] - values[o][k]) / np.abs(values[o][k])))
                    for o in ours if k in ours[o])
             for k in ("df_satterthwaite", "se", "kr_subset_df", "kr_subset_se", "icc_varcomp")}
    print("  largest relative difference engine vs R: "
          + ", ".join(f"{k} {v:.1e}" for k, v in diffs.items()), flush=True)


if __name__ == "__main__":
    main()
