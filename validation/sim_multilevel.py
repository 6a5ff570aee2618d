"""Simulation study of issue 12 item 9: type I error and CI coverage of every model of the
``did_robustness`` table under class-assigned, MUT-like data.

Data (one cohort per replication, :func:`simulate_cohort`): whole classes are assigned —
by default 5 mentee classes (one in each of 5 schools) and 3 control classes (in schools
1–3 only, as in MUT), 15–30 pupils per class (uniform). Each pupil has a latent score
at T1, T2, T3,

    L = school + class + class×wave + pupil_wave (+ effect for mentees at T2 and T3),

with school and class effects stable over the waves and the class × wave effects drawn
anew at each wave (clustered change). Of the between-class variance v_b at a wave, the
share ``wave_share`` is class × wave (0 stable, .5 half, 1 wholly wave-specific); the
stable rest is split 1 : 2 between school and class. The pupil parts are multivariate
normal with unequal correlations between the waves. The observed score is the mean of
k Likert items (k drawn from 4–9 per replication), item = clip(round(3.3 + 0.75·L + e),
1, 5), e ~ N(0, 0.55²). v_b and the latent pupil correlations are set so that the
observed scores (before clipping, which changes little) have the target class ICC at
each wave and, within classes, correlations T1–T2 .70, T1–T3 .55, T2–T3 .65 between the
waves (:func:`_latent_design`; the achieved values are measured by
:func:`achieved_design`). Scores are missing
completely at random: 5% at T1, 18% at T2, 12% at T3.

Models per replication, for the DiD contrasts T2−T1 and T3−T1 (mentee − control),
all through the library's public functions (:func:`fit_models`):

- ``lmm_pupil``: ``score ~ condition * wave + (1 | student_id)``, REML
  (:func:`mut_eval.stats.mixed.fit_mixed`), asymptotic z test of the interaction —
  today's ``did``;
- ``lmm_multilevel``: ``+ (1 | school) + (1 | school:class) + (1 | school:class:wave)
  + (1 | student_id)``, Kenward–Roger SE and df; ``lmm_multilevel_satterthwaite``: the
  same fit with Satterthwaite df;
- ``mmrm_multilevel``: the same class terms with an unstructured covariance of each
  pupil's waves instead of the pupil intercept (``design.residual: unstructured``,
  :func:`mut_eval.stats.mmrm.fit_mmrm`), Kenward–Roger;
- ``cr2_change``, ``cr2_ancova``, ``wild_cluster_bootstrap``:
  :func:`mut_eval.stats.cluster_robust.design_based_did` (the bootstrap enumerates the
  2^G Rademacher vectors, G ≤ 12 classes);
- ``wwc_corrected``: the ``lmm_pupil`` z corrected by
  :func:`mut_eval.stats.effects.cluster_correction` (WWC 2022, Handbook Version 5.0; Hedges 2007) with the ICC
  estimated at T1 from ``score ~ 1 + (1 | school) + (1 | school:class)`` and n̄ the
  mean number of pupils per class; its CI is estimate ± t_h·se/√c with √c the factor by
  which the correction shrinks t.

Summary per condition × model × contrast (:func:`summarise`): rejection rate of the
true value at α = .05 (type I error when the effect is 0) and CI coverage, each with its
Monte Carlo SE √(p(1−p)/R); the mean SE beside the empirical SD of the estimate; the
share of singular (some variance at 0) and of non-converged fits.

    make validate        # = python validation/sim_multilevel.py --reps 1000 --procs 2

Every replication has its own seed, SeedSequence((seed, condition index, replication)),
so results do not depend on the number of processes or the order of the work.

This study supersedes ``validation/sim_cluster_robust.py`` (the design-based checks
only, 8 classes, ICC .10 half wave-specific; at 1000 replications it found cr2_change
.043/.041, cr2_ancova .025/.049, the wild cluster bootstrap .062/.063 and the
pupil-level OLS change test .212/.261 for T2−T1/T3−T1); its fast test is part of
``tests/test_sim_multilevel.py``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import multiprocessing as mp
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mut_eval.stats.cluster_robust import design_based_did
from mut_eval.stats.effects import cluster_correction
from mut_eval.stats.mixed import RandomTerm, fit_mixed
from mut_eval.stats.mmrm import fit_mmrm

WAVES = ("T1", "T2", "T3")
CONTRASTS = ("T2-T1", "T3-T1")
MODELS = ("lmm_pupil", "lmm_multilevel", "lmm_multilevel_satterthwaite", "mmrm_multilevel",
          "cr2_change", "cr2_ancova", "wild_cluster_bootstrap", "wwc_corrected")
ITEM_A, ITEM_B, ITEM_SD = 3.3, 0.75, 0.55       # item = clip(round(A + B·L + e), 1, 5)
TARGET_CORR = {(0, 1): 0.70, (0, 2): 0.55, (1, 2): 0.65}
MISSING = (0.05, 0.18, 0.12)                     # share of scores missing at T1, T2, T3
SCHOOL_SHARE = 1 / 3                             # of the stable between-class variance


@dataclass(frozen=True)
class Condition:
    """One cell of the study. ``icc``: class ICC of the observed scores at each wave;
    ``wave_share``: share of it that is class × wave; ``effect``: true DiD on the latent
    scale (mentees at T2 and T3); control classes sit in the first ``n_control`` schools."""
    name: str
    icc: float
    wave_share: float
    effect: float = 0.0
    n_mentee: int = 5
    n_control: int = 3
    n_schools: int = 5
    size_min: int = 15
    size_max: int = 30


def _cell(icc: float, label: str, **kw) -> Condition:
    return Condition(f"icc{icc:.2f}_{label}", icc, {"stable": 0.0, "half": 0.5, "wholly": 1.0}[label], **kw)


# In the order they are run, the hardest MUT-like cells first (a run stopped early has them).
CONDITIONS = (
    _cell(0.10, "wholly"), _cell(0.10, "half"), _cell(0.10, "stable"),
    Condition("few_2v2_icc0.10_half", 0.10, 0.5, n_mentee=2, n_control=2, n_schools=2),
    _cell(0.20, "wholly"), _cell(0.05, "wholly"), _cell(0.20, "half"), _cell(0.05, "half"),
    _cell(0.20, "stable"), _cell(0.05, "stable"),
    Condition("icc0.10_half_effect0.3", 0.10, 0.5, effect=0.3),
)


def condition(name: str) -> Condition:
    for c in CONDITIONS:
        if c.name == name:
            return c
    raise KeyError(f"no condition {name!r}; choose from {[c.name for c in CONDITIONS]}")


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def _latent_design(cond: Condition, k: int):
    """(between-class latent variance v_b, latent pupil correlation matrix) for k items.

    Without clipping, the item mean s = A + B·L + ē + rounding has Var = B²·Var(L) + ν
    with ν = (σ_e² + 1/12)/k (rounding error about uniform), so with Var(L) = 1 the class
    ICC is B²v_b/(B² + ν), and the correlation between two waves of pupils within a class
    is B²(1 − v_b)ρ/(B²(1 − v_b) + ν) for a latent pupil correlation ρ. Both are solved
    for the targets (the within-class correlations, so that a large wave-specific class
    variance does not make them unreachable)."""
    noise = (ITEM_SD ** 2 + 1 / 12) / k
    v_b = cond.icc * (ITEM_B ** 2 + noise) / ITEM_B ** 2
    within = ITEM_B ** 2 * (1 - v_b)
    R = np.eye(3)
    for (i, j), r in TARGET_CORR.items():
        R[i, j] = R[j, i] = r * (within + noise) / within
    return v_b, R


def item_mean(latent: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """The observed score: the mean of k Likert items clip(round(A + B·L + e), 1, 5),
    ``noise`` the (n, k) item errors e ~ N(0, ITEM_SD²)."""
    return np.clip(np.rint(ITEM_A + ITEM_B * latent[:, None] + noise), 1, 5).mean(axis=1)


def simulate_cohort(rng: np.random.Generator, cond: Condition) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One cohort: (long data, one row per scored pupil × wave; wide data, one row per
    pupil) in the Panel's column names (student_id, condition, school, class, wave, score;
    score_T1..score_T3)."""
    n_cls = cond.n_mentee + cond.n_control
    sizes = rng.integers(cond.size_min, cond.size_max + 1, size=n_cls)
    klass = np.repeat(np.arange(n_cls), sizes)
    n = klass.size
    mentee_cls = np.arange(n_cls) < cond.n_mentee
    school_of = np.where(mentee_cls, np.arange(n_cls) % cond.n_schools,
                         (np.arange(n_cls) - cond.n_mentee) % cond.n_schools)
    k = int(rng.integers(4, 10))
    v_b, R = _latent_design(cond, k)
    v_stable = v_b * (1 - cond.wave_share)
    school = rng.normal(0, np.sqrt(v_stable * SCHOOL_SHARE), cond.n_schools)[school_of][klass]
    cls = rng.normal(0, np.sqrt(v_stable * (1 - SCHOOL_SHARE)), n_cls)[klass]
    pupil = rng.standard_normal((n, 3)) @ np.linalg.cholesky(R).T * np.sqrt(1 - v_b)
    mentee = mentee_cls[klass]
    wide = pd.DataFrame({"student_id": np.arange(n), "condition": np.where(mentee, "mentee", "control"),
                         "school": [f"S{s + 1}" for s in school_of[klass]],
                         # class names repeat across schools, as in MUT: only school + class is unique
                         "class": [f"2V{c // cond.n_schools + 1}" if m else f"2C{c // cond.n_schools + 1}"
                                   for c, m in zip(klass, mentee)]})
    for t, w in enumerate(WAVES):
        cw = rng.normal(0, np.sqrt(v_b * cond.wave_share), n_cls)[klass]
        latent = school + cls + cw + pupil[:, t] + (cond.effect * mentee if t > 0 else 0.0)
        score = item_mean(latent, rng.normal(0, ITEM_SD, (n, k)))
        score[rng.random(n) < MISSING[t]] = np.nan
        wide[f"score_{w}"] = score
    long = wide.melt(id_vars=["student_id", "condition", "school", "class"],
                     value_vars=[f"score_{w}" for w in WAVES], var_name="wave", value_name="score")
    long["wave"] = long["wave"].str[-2:]
    return long.dropna(subset=["score"]).reset_index(drop=True), wide


@functools.lru_cache(maxsize=None)
def true_effect(cond: Condition, n: int = 400_000, seed: int = 1) -> float:
    """The DiD of the expected observed score (the estimand on the score scale): the
    effect enters the latent before rounding and clipping, so on the score scale it is
    E f(L + δ) − E f(L), computed by Monte Carlo over pupils and item counts."""
    if cond.effect == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    k = rng.integers(4, 10, size=n)
    latent = rng.standard_normal(n)
    e = rng.normal(0, ITEM_SD, (n, 9))
    use = np.arange(9)[None, :] < k[:, None]

    def mean_score(shift):
        items = np.clip(np.rint(ITEM_A + ITEM_B * (latent + shift)[:, None] + e), 1, 5)
        return float(((items * use).sum(axis=1) / k).mean())
    return mean_score(cond.effect) - mean_score(0.0)


@functools.lru_cache(maxsize=None)
def achieved_design(cond: Condition, classes: int = 3000, size: int = 25, seed: int = 3) -> dict:
    """The observed class ICC at T1 (one-way ANOVA estimator over many equal classes of
    mentees, no effect, no missing) and the pupil correlations between the waves."""
    big = Condition(cond.name, cond.icc, cond.wave_share, 0.0, n_mentee=classes, n_control=0,
                    n_schools=classes, size_min=size, size_max=size)
    rng = np.random.default_rng(seed)
    frames = [simulate_cohort(rng, big)[1] for _ in range(2)]
    wide = pd.concat(frames, ignore_index=True).dropna()
    wide["cluster"] = wide["school"] + "/" + wide["class"] + "/" + np.repeat(["a", "b"], len(wide) // 2 + 1)[:len(wide)]
    g = wide.groupby("cluster")["score_T1"]
    m = g.size().mean()
    msb = (g.size() * (g.mean() - wide["score_T1"].mean()) ** 2).sum() / (g.ngroups - 1)
    msw = ((wide["score_T1"] - g.transform("mean")) ** 2).sum() / (len(wide) - g.ngroups)
    c = wide[[f"score_{w}" for w in WAVES]].corr().to_numpy()
    return {"icc_t1": (msb - msw) / (msb + (m - 1) * msw), "r12": c[0, 1], "r13": c[0, 2], "r23": c[1, 2]}


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------
def _terms(long: pd.DataFrame, multilevel: bool) -> list[RandomTerm]:
    """The random terms present: a nested term with as many levels as the one above it
    is the same grouping (e.g. one class per school everywhere) and is dropped."""
    specs = [("school", ["school"]), ("school:class", ["school", "class"]),
             ("school:class:wave", ["school", "class", "wave"])] if multilevel else []
    terms, last = [], 1
    for name, cols in specs:
        t = RandomTerm.from_groups(long[cols].to_numpy(object), name)
        if t.levels > last:
            terms.append(t)
            last = t.levels
    terms.append(RandomTerm.from_groups(long["student_id"].to_numpy(), "student_id"))
    return terms


def _design(long: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """score ~ condition * wave (treatment coding, control and T1 the references), and
    the rows L of the two interaction contrasts T2−T1 and T3−T1."""
    m = (long["condition"] == "mentee").to_numpy(float)
    t2 = (long["wave"] == "T2").to_numpy(float)
    t3 = (long["wave"] == "T3").to_numpy(float)
    X = np.column_stack([np.ones_like(m), m, t2, t3, m * t2, m * t3])
    return X, np.eye(6)[[4, 5]]


def _row(model, contrast, estimate, se, df, lo, hi, p, singular=np.nan, converged=np.nan):
    return dict(model=model, contrast=contrast, estimate=estimate, se=se, df=df,
                ci_low=lo, ci_high=hi, p=p, singular=singular, converged=converged)


def fit_models(long: pd.DataFrame, wide: pd.DataFrame, models=MODELS, alpha: float = 0.05) -> list[dict]:
    """Every model in ``models`` on one cohort: one row per model × contrast."""
    rows = []
    y = long["score"].to_numpy(float)
    X, L = _design(long)
    if {"lmm_pupil", "wwc_corrected"} & set(models):
        f = fit_mixed(y, X, _terms(long, multilevel=False))
        pupil = f.test(L, ddf="asymptotic", alpha=alpha, labels=list(CONTRASTS))
        if "lmm_pupil" in models:
            rows += [_row("lmm_pupil", r.contrast, r.estimate, r.se, r.df, r.ci_low, r.ci_high, r.p,
                          f.singular, f.converged) for r in pupil.itertuples()]
    if {"lmm_multilevel", "lmm_multilevel_satterthwaite"} & set(models):
        f = fit_mixed(y, X, _terms(long, multilevel=True))
        for model, ddf in (("lmm_multilevel", "kenward-roger"), ("lmm_multilevel_satterthwaite", "satterthwaite")):
            if model in models:
                res = f.test(L, ddf=ddf, alpha=alpha, labels=list(CONTRASTS))
                rows += [_row(model, r.contrast, r.estimate, r.se, r.df, r.ci_low, r.ci_high, r.p,
                              f.singular, f.converged) for r in res.itertuples()]
    if "mmrm_multilevel" in models:
        # design.residual: unstructured — the class terms with an unstructured covariance of
        # each pupil's waves in place of the pupil intercept
        f = fit_mmrm(y, X, long["wave"].map({w: i for i, w in enumerate(WAVES)}).to_numpy(int),
                     long["student_id"].to_numpy(object), _terms(long, multilevel=True)[:-1])
        res = f.test(L, ddf="kenward-roger", alpha=alpha, labels=list(CONTRASTS))
        rows += [_row("mmrm_multilevel", r.contrast, r.estimate, r.se, r.df, r.ci_low, r.ci_high, r.p,
                      bool(not np.all(f.active)), f.converged) for r in res.itertuples()]
    design = [m for m in ("cr2_change", "cr2_ancova", "wild_cluster_bootstrap") if m in models]
    if design:
        # with G <= 5 classes the enumerated p is at least 2/2^G > α: CI (−∞, ∞)
        boot = "wild_cluster_bootstrap" in models
        for contrast in CONTRASTS:
            out = design_based_did(wide, "score", contrast, alpha=alpha, bootstrap=boot, draws="enumeration")
            rows += [_row(r.model, contrast, r.estimate, r.se, r.df, r.ci_low, r.ci_high, r.p)
                     for r in out.itertuples() if r.model in design]
    if "wwc_corrected" in models:
        t1 = long[long["wave"] == "T1"]
        null = fit_mixed(t1["score"].to_numpy(float), np.ones((len(t1), 1)),
                         [RandomTerm.from_groups(t1[["school"]].to_numpy(object), "school"),
                          RandomTerm.from_groups(t1[["school", "class"]].to_numpy(object), "school:class")])
        icc = float(null.varcomp.iloc[:-1].sum() / null.varcomp.sum())
        n_bar = float(wide.groupby(["school", "class"]).size().mean())
        n_pupils = int(long["student_id"].nunique())
        for r in pupil.itertuples():
            cc = cluster_correction(r.estimate / r.se, n_pupils, n_bar, icc)
            se = r.estimate / cc["t_corrected"] if cc["t_corrected"] != 0 else np.nan
            q = stats.t.ppf(1 - alpha / 2, cc["df"])
            rows.append(_row("wwc_corrected", r.contrast, r.estimate, se, cc["df"], r.estimate - q * se,
                             r.estimate + q * se, cc["p"], null.singular, null.converged))
    return rows


# ---------------------------------------------------------------------------
# the study
# ---------------------------------------------------------------------------
def _one(task) -> list[dict]:
    ci, rep, seed, models = task
    start = time.process_time()         # CPU time: the machine is shared
    cond = CONDITIONS[ci]
    rng = np.random.default_rng(np.random.SeedSequence((seed, ci, rep)))
    long, wide = simulate_cohort(rng, cond)
    try:
        rows = fit_models(long, wide, models)
    except Exception:       # noqa: BLE001 — one model's failure must not stop the study
        rows = []
        for m in models:
            try:
                rows += fit_models(long, wide, (m,))
            except Exception as exc:    # noqa: BLE001 — recorded, counted as `failed`
                rows += [{**_row(m, c, *[np.nan] * 6), "error": f"{type(exc).__name__}: {exc}"[:200]}
                         for c in CONTRASTS]
    seconds = time.process_time() - start
    for r in rows:
        r["condition"], r["rep"], r["seconds"] = cond.name, rep, seconds
    return rows


def simulate(conditions, reps: int, seed: int = 2026, procs: int = 1, models=MODELS,
             on_progress=None, every: float = 600.0) -> pd.DataFrame:
    """One row per condition × replication × model × contrast. The work is interleaved
    (replication 1 of every condition, then replication 2, …), so a run stopped early has
    all conditions at about the same number of replications; ``on_progress(rows)`` gets
    everything done so far every ``every`` seconds and at the end."""
    idx = {c.name: i for i, c in enumerate(CONDITIONS)}
    tasks = [(idx[c.name], r, seed, tuple(models)) for r in range(reps) for c in conditions]
    return run_tasks(_one, tasks, procs, on_progress, every)


def run_tasks(one, tasks, procs: int = 1, on_progress=None, every: float = 600.0,
              chunksize: int = 1) -> pd.DataFrame:
    """``one(task)`` (a list of row dicts) for every task, on ``procs`` forked processes,
    as one DataFrame; ``on_progress(rows)`` gets everything so far every ``every`` s and
    at the end (shared by the simulation studies of this folder)."""
    rows, last = [], time.perf_counter()

    def collect(out):
        nonlocal last
        rows.extend(out)
        if on_progress is not None and time.perf_counter() - last > every:
            on_progress(pd.DataFrame(rows))
            last = time.perf_counter()

    if procs > 1:
        with mp.get_context("fork").Pool(procs) as pool:
            for out in pool.imap_unordered(one, tasks, chunksize=chunksize):
                collect(out)
    else:
        for task in tasks:
            collect(one(task))
    raw = pd.DataFrame(rows)
    if on_progress is not None:
        on_progress(raw)
    return raw


def summarise(raw: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per condition × model × contrast: rejection rate of the true value and CI coverage
    (each with its MC SE), mean SE, SD of the estimate, singular / non-converged shares."""
    truth = raw["condition"].map({c.name: true_effect(c) for c in CONDITIONS})
    d = raw.assign(truth=truth, reject0=raw["p"] < alpha,
                   covered=(raw["ci_low"] <= truth) & (truth <= raw["ci_high"]),
                   valid=raw["p"].notna())
    rows = []
    for (cond, model, contrast), g in d.groupby(["condition", "model", "contrast"], sort=False):
        v = g[g["valid"]]
        R = len(v)
        rej = float(v["reject0"].mean()) if R else np.nan
        cov = float(v["covered"].mean()) if R else np.nan
        rows.append(dict(condition=cond, model=model, contrast=contrast, reps=R, reject=rej,
                         reject_mcse=np.sqrt(rej * (1 - rej) / R) if R else np.nan,
                         coverage=cov, coverage_mcse=np.sqrt(cov * (1 - cov) / R) if R else np.nan,
                         mean_se=float(v["se"].mean()), sd_estimate=float(v["estimate"].std()),
                         bias=float((v["estimate"] - v["truth"]).mean()),
                         singular=float(g["singular"].mean()) if g["singular"].notna().any() else np.nan,
                         not_converged=(float(1 - g["converged"].astype(float).mean())
                                        if g["converged"].notna().any() else np.nan),
                         failed=len(g) - R))
    out = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(MODELS)}
    return out.sort_values(["condition", "contrast", "model"], key=lambda s: s.map(order) if s.name == "model"
                           else s.map({c.name: i for i, c in enumerate(CONDITIONS)}) if s.name == "condition"
                           else s, kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------
def _band(R: int, alpha: float = 0.05) -> float:
    """Two Monte Carlo SEs of a rejection rate equal to α: a rate within α ± this holds α."""
    return 2 * np.sqrt(alpha * (1 - alpha) / R)


def verdicts(table: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per null condition × model: ``holds`` when both contrasts reject within α ± 2 MC SE,
    ``liberal`` when one rejects more, else ``conservative``; and the larger rate."""
    rows = []
    null = table[table["condition"].map(lambda n: condition(n).effect == 0)]
    for (cond, model), g in null.groupby(["condition", "model"], sort=False):
        band = _band(int(g["reps"].min()), alpha)
        worst = float(g["reject"].max())
        verdict = ("liberal" if worst > alpha + band else
                   "holds" if g["reject"].min() >= alpha - band else "conservative")
        rows.append(dict(condition=cond, model=model, verdict=verdict, worst=worst))
    return pd.DataFrame(rows)


def overview(table: pd.DataFrame, column: str = "reject") -> pd.DataFrame:
    """Model × condition, each cell ``T2−T1 / T3−T1`` of ``column`` (conditions in run order)."""
    t = table.copy()
    t["cell"] = t[column].map(lambda x: f"{x:.3f}")
    wide = t.pivot_table(index="model", columns=["condition", "contrast"], values="cell", aggfunc="first")
    conds = [c.name for c in CONDITIONS if c.name in set(t["condition"])]
    out = pd.DataFrame({c: wide[(c, "T2-T1")] + " / " + wide[(c, "T3-T1")] for c in conds})
    return out.reindex([m for m in MODELS if m in out.index])


def _reading(table: pd.DataFrame) -> list[str]:
    """Verdicts per model over the null conditions with 8 classes and with very few classes."""
    v = verdicts(table)
    if v.empty:
        return []
    few = v["condition"].str.startswith("few")
    main, t_main = v[~few], table[~table["condition"].str.startswith("few")]
    n_main = main["condition"].nunique()
    lines = []
    for model in MODELS:
        m, tm = main[main["model"] == model], t_main[t_main["model"] == model]
        if m.empty:
            continue
        worst = m.loc[m["worst"].idxmax()]
        counts = m["verdict"].value_counts()
        liberal = m.loc[m["verdict"] == "liberal", "condition"].tolist()
        ratio = tm["mean_se"] / tm["sd_estimate"]
        lines.append(f"- `{model}`: holds 5% (within ±2 MC SE on both contrasts) in {counts.get('holds', 0)} "
                     f"of {n_main} conditions with 8 classes, liberal in {counts.get('liberal', 0)}"
                     + (f" ({', '.join(liberal)})" if liberal else "")
                     + f", conservative in {counts.get('conservative', 0)}; highest rate {worst['worst']:.3f} "
                     f"({worst['condition']}); CI coverage {tm['coverage'].min():.3f}–{tm['coverage'].max():.3f}; "
                     f"mean SE / SD of the estimate {ratio.min():.2f}–{ratio.max():.2f}.")
    if few.any():
        f = v[few]
        holds = f.loc[f["verdict"] == "holds", "model"].tolist()
        lines.append("- Very few clusters (2 mentee + 2 control classes): liberal — "
                     + (", ".join(f"`{r.model}` {r.worst:.3f}" for r in f[f["verdict"] == "liberal"].itertuples())
                        or "none")
                     + "; holds — " + (", ".join(f"`{m}`" for m in holds) or "none")
                     + "; conservative — " + (", ".join(f"`{r.model}` {r.worst:.3f}" for r in
                                                        f[f["verdict"] == "conservative"].itertuples()) or "none")
                     + ". With 4 classes the enumerated wild bootstrap has 2^4 = 16 sign vectors, p ≥ 2/16, "
                     "so it can never reject at .05 (its CI is the whole line).")
    return lines


#: the simulation studies' result files, each pointing to the others
RESULT_FILES = {"RESULTS.md": "inference for class-assigned DiD, issue 12",
                "RESULTS_mmrm.md": "the MMRM against the multilevel model, issue 12",
                "RESULTS_selection.md": "selection on observables: adjustment, weighting and "
                                        "multiple imputation, issue 13, `validation/sim_selection.py`"}


def see_also(path: Path) -> str:
    """The line naming the other result files of validation/ (kept when a file is rewritten)."""
    return "See also: " + "; ".join(f"[{name}]({name}) ({what})" for name, what in RESULT_FILES.items()
                                    if name != Path(path).name) + "."


def write_results(raw: pd.DataFrame, path: Path, *, command: str, started: str, wall: float,
                  reps: int, planned: list[str], alpha: float = 0.05) -> None:
    """validation/RESULTS.md: how it was run, a table per condition, and the reading."""
    table = summarise(raw, alpha)
    done = [c for c in planned if c in set(raw["condition"])]
    n_reps = raw.drop_duplicates(["condition", "rep"]).groupby("condition").size()
    core = raw.drop_duplicates(["condition", "rep"])["seconds"].sum()
    out = [f"# Simulation study: inference for class-assigned DiD (issue 12 item 9)", "",
           f"Command: `{command}`  ", f"Started {started} UTC; wall time {wall / 60:.1f} min; "
           f"{core / 60:.1f} CPU-min in the replications ({core / max(len(raw.drop_duplicates(['condition', 'rep'])), 1):.2f} s "
           f"per replication); {platform.python_version()} on {platform.machine()}.  ",
           f"Replications per condition: {n_reps.min()}–{n_reps.max()} of {reps} planned"
           + ("" if n_reps.min() >= reps else " (an interim result of a run still going or stopped early: "
              "the conditions are interleaved, so all have about the same number)") + ".", "",
           see_also(path), "",
           "Design and models: see the docstring of `validation/sim_multilevel.py`. `reject` is the "
           "share of replications whose test rejects DiD = 0 at α = .05 (the type I error; in the "
           "`effect` condition the power), `coverage` the share of 95% CIs that hold the true DiD, "
           "each ± its Monte Carlo SE √(p(1−p)/R); a rate within .05 ± 2·√(.05·.95/R) (.036–.064 at "
           "R = 1000) holds 5% (a model that holds exactly still falls outside that band in about 1 "
           "of 20 rates: read the verdicts across conditions, not one cell). `mean_se` / "
           "`sd_est`: mean estimated SE and the empirical SD of the estimate (a calibrated SE has a "
           "ratio near 1). `singular`: share of fits with a variance at 0 (lmm: the model's own; "
           "wwc: the T1 null model of the ICC); `not_conv`: share not converged.", "",
           "## Reading", "", *_reading(table), "",
           "## Overview: rejection rate of DiD = 0 (T2−T1 / T3−T1)", "",
           overview(table).to_markdown(), "",
           "## Overview: CI coverage of the true DiD (T2−T1 / T3−T1)", "",
           overview(table, "coverage").to_markdown(), ""]
    for name in done:
        cond = condition(name)
        t = table[table["condition"] == name]
        ach = achieved_design(cond)
        per_rep = raw.loc[raw["condition"] == name].drop_duplicates("rep")["seconds"].mean()
        out += [f"## {name}", "",
                f"{cond.n_mentee} mentee + {cond.n_control} control classes in {cond.n_schools} schools, "
                f"{cond.size_min}–{cond.size_max} pupils per class; class ICC {cond.icc:.2f}, "
                f"of which class × wave {cond.wave_share:.0%}; true DiD {true_effect(cond):.3f} "
                f"(latent effect {cond.effect}). Achieved (large-sample check): T1 ICC "
                f"{ach['icc_t1']:.3f}, r(T1,T2) {ach['r12']:.2f}, r(T1,T3) {ach['r13']:.2f}, "
                f"r(T2,T3) {ach['r23']:.2f}. {int(t['reps'].min())} replications, {per_rep:.2f} s each.", ""]
        show = pd.DataFrame({
            "model": t["model"], "contrast": t["contrast"],
            "reject": [f"{a:.3f} ± {b:.3f}" for a, b in zip(t["reject"], t["reject_mcse"])],
            "coverage": [f"{a:.3f} ± {b:.3f}" for a, b in zip(t["coverage"], t["coverage_mcse"])],
            "mean_se": t["mean_se"].round(3), "sd_est": t["sd_estimate"].round(3),
            "bias": t["bias"].round(3),
            "singular": t["singular"].map(lambda x: "" if pd.isna(x) else f"{x:.2f}"),
            "not_conv": t["not_converged"].map(lambda x: "" if pd.isna(x) else f"{x:.3f}")})
        out += [show.to_markdown(index=False), ""]
    path.write_text("\n".join(out))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--conditions", nargs="*", default=[c.name for c in CONDITIONS],
                    help="condition names (default: all, in the order of CONDITIONS)")
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=MODELS,
                    help="models to fit (default: all)")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    ap.add_argument("--raw", type=Path, default=Path(__file__).with_name("raw"),
                    help="folder for the per-replication results (one csv.gz per condition)")
    ap.add_argument("--from-raw", action="store_true",
                    help="only rewrite --out from the results already in --raw")
    a = ap.parse_args(argv)
    conds = [condition(n) for n in a.conditions]
    planned = [c.name for c in conds]
    if a.from_raw:
        run = json.loads((a.raw / "run.json").read_text())
        raw = pd.read_csv(a.raw / "raw.csv.gz")
        write_results(raw, a.out, **run)
        return
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])])
    started, t0 = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    a.raw.mkdir(parents=True, exist_ok=True)

    def on_progress(raw):
        raw.to_csv(a.raw / "raw.csv.gz", index=False)
        run = dict(command=command, started=started, wall=time.perf_counter() - t0, reps=a.reps, planned=planned)
        (a.raw / "run.json").write_text(json.dumps(run))
        write_results(raw, a.out, **run)
        n = raw.drop_duplicates(["condition", "rep"]).groupby("condition").size()
        print(f"{(time.perf_counter() - t0) / 60:.1f} min: {n.min()}-{n.max()} replications per condition",
              file=sys.stderr, flush=True)

    simulate(conds, a.reps, a.seed, a.procs, models=tuple(a.models), on_progress=on_progress)
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
