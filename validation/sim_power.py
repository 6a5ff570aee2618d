"""Simulation check of ``mut-eval plan`` (issue 14 item 5): does a design planned with
:mod:`mut_eval.stats.power` reach the power it promises?

For each condition the planned MDES is computed with :func:`mut_eval.stats.power.plan`
(power .80, α = .05), data are simulated with that true effect (and with no effect, for
the type I error), each data set is analysed with the analysis the formula describes,
and the empirical rejection rate is compared with the predicted power (the exact
noncentral-t power at the MDES, :func:`mut_eval.stats.power.power`; the MDES itself uses
the multiplier approximation, so the prediction is slightly above .80). Outcomes have
total variance 1 before the programme, so effects are in SD units as mut_eval's g.

Conditions (P = .5 throughout):

- ``class``: J = 20 classes of n = 20, class ICC .10; class-means t test, df J − 2
  (Bloom 2006: with equal class sizes the two-level model's test of the treatment);
- ``class_pretest``: J = 16 classes of 25 planned pupils, 20% attrition drawn per pupil
  (Binomial class sizes, mean 20), ICC .15, pretest correlated .7 with the outcome at the
  pupil and at the class level (R²₁ = R²₂ = .49); ANCOVA on class means (post ~ treated +
  pre), df J − 3. With equal correlations at both levels the class-mean ANCOVA removes
  exactly (1 − R²) of both variance parts, the formula's assumption;
  ``class_pretest_40`` the same with J = 40;
- ``school``: K = 4 schools × J = 6 classes (3 treated per school) of 20 pupils, class
  ICC .12 of which school .04 (BCRA3_2f); within-school differences of class means,
  pooled residual variance of the school × arm cells, df K(J − 2);
- ``partial``: 24 mentor groups of m = 5 mentees, ICC .10 between groups within the
  treated arm (group variance ρ/(1 − ρ) on top of the unit pupil variance: Lohr,
  Schochet & Sanders 2014), 120 control pupils; the mean of the group means against the
  control mean, SE² = s²_groups/J_T + s²_C/n_C, Welch–Satterthwaite df.

Run: ``PYTHONPATH=. python validation/sim_power.py --reps 4000`` (a few seconds per
condition); writes ``validation/RESULTS_power.md``.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mut_eval.stats.power import Design, plan, power as predicted_power

ALPHA = 0.05


@dataclass(frozen=True)
class Condition:
    name: str
    design: str
    classes: int
    class_size: int
    icc: float
    icc_school: float = 0.0
    r2: float = 0.0
    attrition: float = 0.0
    schools: int | None = None
    note: str = field(default="", compare=False)

    def plan_row(self) -> pd.Series:
        return plan(self.design, power=0.80, classes=self.classes, class_size=self.class_size,
                    schools=self.schools, icc=self.icc, icc_school=self.icc_school, r2=self.r2,
                    r2_cluster=self.r2, attrition=self.attrition, alpha=ALPHA).iloc[0]

    def design_obj(self) -> Design:
        return Design(self.design, self.class_size, self.schools, self.icc, self.icc_school, self.r2,
                      self.r2, 0.5, self.attrition)


CONDITIONS = [
    Condition("class", "class", 20, 20, 0.10, note="class-means t test"),
    Condition("class_pretest", "class", 16, 25, 0.15, r2=0.49, attrition=0.20,
              note="class-means ANCOVA, Binomial 20% attrition"),
    Condition("class_pretest_40", "class", 40, 25, 0.15, r2=0.49, attrition=0.20,
              note="as class_pretest with 40 classes"),
    Condition("school", "school", 6, 20, 0.12, icc_school=0.04, schools=4,
              note="school-blocked class means, fixed blocks"),
    Condition("partial", "partial", 24, 5, 0.10, note="group means vs controls, Welch df"),
]


def _p_two_sided(t, df):
    return 2 * stats.t.sf(np.abs(t), df)


def _class_p(rng, c: Condition, effect: float, reps: int) -> np.ndarray:
    """p-values of the class-means test (ANCOVA on the class-mean pretest when r2 > 0)."""
    J, n = c.classes, c.class_size
    treated = np.arange(J) < J // 2
    r = np.sqrt(c.r2)
    # class part (variance icc) and pupil part (1 − icc) of pre and post, correlated r at both levels
    u = rng.standard_normal((2, reps, J, 1))
    e = rng.standard_normal((2, reps, J, n))
    u_post = r * u[0] + np.sqrt(1 - r * r) * u[1]
    e_post = r * e[0] + np.sqrt(1 - r * r) * e[1]
    pre = np.sqrt(c.icc) * u[0] + np.sqrt(1 - c.icc) * e[0]
    post = np.sqrt(c.icc) * u_post + np.sqrt(1 - c.icc) * e_post + effect * treated[None, :, None]
    keep = rng.random((reps, J, n)) >= c.attrition if c.attrition > 0 else np.ones((reps, J, n), bool)
    m = np.maximum(keep.sum(axis=2), 1)
    ybar = (post * keep).sum(axis=2) / m
    xbar = (pre * keep).sum(axis=2) / m
    cols = [np.ones((reps, J)), np.broadcast_to(treated, (reps, J)).astype(float)]
    if c.r2 > 0:
        cols.append(xbar)
    X = np.stack(cols, axis=2)                                   # reps × J × p
    XtX = np.einsum("rjk,rjl->rkl", X, X)
    beta = np.linalg.solve(XtX, np.einsum("rjk,rj->rk", X, ybar)[..., None])[..., 0]
    resid = ybar - np.einsum("rjk,rk->rj", X, beta)
    df = J - X.shape[2]
    s2 = (resid ** 2).sum(axis=1) / df
    se = np.sqrt(s2 * np.linalg.inv(XtX)[:, 1, 1])
    return _p_two_sided(beta[:, 1] / se, df)


def _school_p(rng, c: Condition, effect: float, reps: int) -> np.ndarray:
    K, J, n = c.schools, c.classes, c.class_size
    treated = np.arange(J) < J // 2
    rho2 = c.icc - c.icc_school
    y = (np.sqrt(c.icc_school) * rng.standard_normal((reps, K, 1, 1))
         + np.sqrt(rho2) * rng.standard_normal((reps, K, J, 1))
         + np.sqrt(1 - c.icc) * rng.standard_normal((reps, K, J, n)))
    ybar = y.mean(axis=3) + effect * treated
    t_mean, c_mean = ybar[:, :, treated].mean(axis=2), ybar[:, :, ~treated].mean(axis=2)
    d = (t_mean - c_mean).mean(axis=1)                           # average within-school difference
    ss = (((ybar[:, :, treated] - t_mean[..., None]) ** 2).sum(axis=(1, 2))
          + ((ybar[:, :, ~treated] - c_mean[..., None]) ** 2).sum(axis=(1, 2)))
    df = K * (J - 2)
    se = np.sqrt(ss / df * (1 / treated.sum() + 1 / (~treated).sum()) / K)
    return _p_two_sided(d / se, df)


def _partial_p(rng, c: Condition, effect: float, reps: int) -> np.ndarray:
    J, m = c.classes, c.class_size
    n_c = J * m                                                 # P = .5
    tau = np.sqrt(c.icc / (1 - c.icc))                          # group SD in units of the pupil SD
    groups = (tau * rng.standard_normal((reps, J, 1)) + rng.standard_normal((reps, J, m))).mean(axis=2) + effect
    control = rng.standard_normal((reps, n_c))
    v_t = groups.var(axis=1, ddof=1) / J
    v_c = control.var(axis=1, ddof=1) / n_c
    df = (v_t + v_c) ** 2 / (v_t ** 2 / (J - 1) + v_c ** 2 / (n_c - 1))
    return _p_two_sided((groups.mean(axis=1) - control.mean(axis=1)) / np.sqrt(v_t + v_c), df)


ANALYSES = {"class": _class_p, "school": _school_p, "partial": _partial_p}


def run_condition(c: Condition, reps: int, seed: int = 2024) -> dict:
    """Empirical rejection rates at the planned MDES and at 0 for one condition."""
    row = c.plan_row()
    mdes = float(row["mdes"])
    pred = predicted_power(c.design_obj(), c.classes, mdes, ALPHA)
    rng = np.random.default_rng([seed, CONDITIONS.index(c) if c in CONDITIONS else 99])
    analyse = ANALYSES[c.design]
    reject = float((analyse(rng, c, mdes, reps) < ALPHA).mean())
    type1 = float((analyse(rng, c, 0.0, reps) < ALPHA).mean())
    mc = np.sqrt(pred * (1 - pred) / reps)
    return dict(condition=c.name, design=c.design, J=c.classes, n=c.class_size,
                K=c.schools or "", icc=c.icc, icc_school=c.icc_school, r2=c.r2, attrition=c.attrition,
                df=float(row["df"]), mdes=mdes, predicted=pred, empirical=reject,
                mc_se=mc, z=(reject - pred) / mc, type1=type1,
                type1_mc_se=np.sqrt(ALPHA * (1 - ALPHA) / reps), reps=reps, analysis=c.note)


def write_results(df: pd.DataFrame, out: Path, command: str, seconds: float) -> None:
    show = df.assign(
        empirical=[f"{e:.3f} ± {s:.3f}" for e, s in zip(df["empirical"], df["mc_se"])],
        type1=[f"{e:.3f} ± {s:.3f}" for e, s in zip(df["type1"], df["type1_mc_se"])],
        predicted=df["predicted"].round(3), mdes=df["mdes"].round(3), df=df["df"].round(1),
        z=df["z"].round(2)).drop(columns=["mc_se", "type1_mc_se"])
    ok = df[df["z"].abs() < 3]
    off = df[df["z"].abs() >= 3]
    lines = [f"- Predicted power reached within 3 MC SE: {', '.join(ok['condition'])} "
             f"(|z| ≤ {ok['z'].abs().max():.2f})." if len(ok) else "- No condition within 3 MC SE."]
    for _, r in off.iterrows():
        lines.append(f"- `{r['condition']}`: empirical {r['empirical']:.3f} against {r['predicted']:.3f} "
                     f"predicted (z = {r['z']:.1f}).")
    if off["condition"].str.startswith("class_pretest").any():
        lines.append(
            "- Why the pretest designs fall short: PowerUp's SE with a class-level covariate, "
            "(1 − R²₂)ρ/(PQJ) + …, treats the covariate's slope as known. Estimated from J class "
            "means, the treatment coefficient's variance is larger by 1/(1 − r²(T, x̄)), whose mean "
            "is (J − 3)/(J − 4) for a randomised T: 8% at J = 16, 3% at J = 40 — about 3 and 1 "
            "points of power (Binomial class sizes cost about half a point more). Plan one or two "
            "classes more than `mut-eval plan` gives when the pretest is a class-level covariate "
            "and J < 30.")
    lines.append(f"- Type I error {df['type1'].min():.3f}–{df['type1'].max():.3f} (nominal .05; MC SE "
                 f"{df['type1_mc_se'].iloc[0]:.3f}).")
    reading = "\n".join(lines)
    text = f"""# Simulation check of `mut-eval plan` (issue 14 item 5)

Command: `{command}`
Run {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; wall time {seconds:.1f} s; Python {platform.python_version()} on {platform.machine()}.

Design, data and analyses: the docstring of `validation/sim_power.py`. Per condition the
MDES of `mut_eval.stats.power.plan` at power .80 (α = .05) is the true effect;
`predicted` is the exact noncentral-t power at that MDES, `empirical` the share of
replications rejecting H0 at α = .05 (± MC SE), `z` = (empirical − predicted) / MC SE;
`type1` the rejection rate with no effect (± MC SE; .05 holds).

## Reading

{reading}

## Results

{show.to_markdown(index=False)}
"""
    out.write_text(text, encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--conditions", nargs="*", default=[c.name for c in CONDITIONS])
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS_power.md"))
    a = ap.parse_args(argv)
    start = time.perf_counter()
    rows = [run_condition(c, a.reps, a.seed) for c in CONDITIONS if c.name in a.conditions]
    df = pd.DataFrame(rows)
    seconds = time.perf_counter() - start
    command = "python validation/sim_power.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_results(df, a.out, command.strip(), seconds)
    print(df[["condition", "mdes", "predicted", "empirical", "mc_se", "z", "type1"]].to_string(index=False))
    print(f"wrote {a.out} ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
