"""Simulation study of issue 13: do covariate adjustment, ATT weighting (doubly robust)
and multiple imputation remove the bias of the unadjusted DiD when the control classes
were chosen, not drawn — a selection-on-observables scenario like MUT's.

Data (one cohort per replication, :func:`simulate_cohort`): whole classes are assigned,
``n_mentee`` mentee and ``n_control`` control classes of 14–24 pupils, spread over the
schools; latent scores as in ``validation/sim_multilevel.py`` (school, class and
class × wave effects with class ICC .10, half of it wave-specific; pupil parts with
within-class correlations T1–T2 .70, T1–T3 .55, T2–T3 .65, :func:`sim_multilevel._latent_design`),
observed as the mean of k = 4–9 Likert items 1–5 (:func:`sim_multilevel.item_mean`).

Pupil covariates: gender (half girls), age (13.5 + N(0, .5²) years), migration
background, and the education of the parents (low / middle / hbo / wo; migrants
.45/.30/.15/.10, others .15/.30/.30/.25), from which ``ses`` (low, middle, high = hbo or
wo) and ``first_generation`` (``yes`` unless a parent has wo) derive as in
:mod:`mut_eval.intake.derive`; the parents' education is ``unknown`` for 15% of the
pupils without and 25% of those with a migration background (≈ 20%, as MUT's parental
education), and then ses and first_generation are ``unknown`` too.

**Selection on observables.** The share of pupils with a migration background is drawn
per class, N(.55, .10²) in mentee classes and N(.25, .10²) in control classes (clipped
to .05–.95; with ``selection = False`` N(.40, .10²) in both). On the latent scale
(SD 1 of the class and pupil parts) migration background lowers the level at every wave
by .35, low ses by .25, high ses raises it by .15, girls +.10 — so mentee classes start
lower — and the same covariates change the growth: from T1 to T2 migration background
adds .30 and low ses .20, to T3 .40 and .25. The unadjusted DiD of the complete cohort
is therefore biased upwards by about .09–.10 (T2−T1) and .12–.14 (T3−T1) SD of the T1
score (``true_att``), the complete cases a little more (attrition, below); the condition is
independent of everything else given the covariates, so the adjusted estimators are
unbiased (up to the non-linearity of the Likert scoring). The true effect ``effect``
(latent units) is added to the mentees at T2 and T3; the estimand is the ATT on the
score scale, E[score(L + effect) − score(L) | mentee] (:func:`true_att`, by Monte Carlo
with the same item errors).

**Missing data (MAR).** T1 scores are missing completely at random (5%). T2 and T3
scores are missing with logit P = a_t + .3·boy + control·(.3 + .5·migration − .3·z1),
z1 the standardised observed T1 score (0 where T1 is missing), a_t set for about 16%
missing at T2 and 22% at T3: control pupils with a migration background and a low start
drop out more, so the complete cases of the control group grew less than the whole
control group — a second, smaller upward bias of the complete-case unadjusted DiD,
which multiple imputation (condition, covariates and all waves in the imputation model)
removes while covariate adjustment handles it only because the attrition depends on
variables in the model.

Estimators per replication and contrast (T2−T1, T3−T1), the library's public functions
with the settings of the pipeline (:func:`mut_eval.analysis.comparability`):

- ``cr2_change``: the unadjusted change score, CR2 by class
  (:func:`mut_eval.stats.cluster_robust.design_based_did`);
- ``covariate_adjusted``, ``weighted_dr``, ``weighted_dr_change``
  (:func:`mut_eval.stats.adjustment.adjusted_rows`) with the covariates age, gender,
  ses, migration_background, first_generation and score_T1 ("unknown" a level of its
  own, sparse levels pooled), entropy-balancing ATT weights (moments 1) of the pupils
  with every covariate, CR2 by class with Satterthwaite df;
- ``multiple_imputation``: :func:`mut_eval.stats.imputation.mi_did`, PMM (5 donors,
  maxit 5) of the missing waves and the "unknown" covariates with m imputations, the
  unadjusted change-score DiD with CR2 per data set, Rubin's rules with Barnard–Rubin df;
- ``lmm_multilevel``: the primary model of issue 12 (``score ~ condition * wave`` with
  school, class, class × wave and pupil intercepts, Kenward–Roger), for comparison.

Summary per scenario × estimator × contrast (:func:`summarise`): bias (also in SD of
the T1 score), empirical SD of the estimate, mean SE / SD, coverage of the 95% CI and
the rate of rejecting DiD = 0 (type I error under the null, power otherwise), each with
its Monte Carlo SE, and the effective sample size (Σw)²/Σw² of the weighted controls.

    python validation/sim_selection.py --reps 1000 --procs 2     # part of `make validate`

Every replication has its own seed, SeedSequence((seed, scenario index, replication)).
"""
from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from sim_multilevel import (CONTRASTS, ITEM_SD, WAVES, _band, _latent_design, fit_models, run_tasks,  # noqa: E402
                            item_mean, see_also)

from mut_eval import StudyError  # noqa: E402
from mut_eval.stats.adjustment import adjusted_rows, att_weights, baseline_covariates, pool_sparse_levels  # noqa: E402
from mut_eval.stats.balance import ess  # noqa: E402
from mut_eval.stats.cluster_robust import design_based_did, unique_clusters  # noqa: E402

COVARIATES = ("age", "gender", "ses", "migration_background", "first_generation")
ESTIMATORS = ("cr2_change", "covariate_adjusted", "weighted_dr", "weighted_dr_change",
              "multiple_imputation", "lmm_multilevel")
WEIGHTING = ("covariate_adjusted", "weighted_dr", "weighted_dr_change")
#: imputations per replication: 10, not the pipeline's default 20, to keep `make validate`
#: within its time (fmi ≈ .3: relative efficiency (1 + fmi/m)⁻¹ = .97; the Barnard–Rubin
#: df carry the smaller m into the CI)
MI_M = 10
EDUCATION = ("low", "middle", "hbo", "wo")
EDU_P = {True: (0.45, 0.30, 0.15, 0.10), False: (0.15, 0.30, 0.30, 0.25)}   # by migration background
UNKNOWN_P = {True: 0.25, False: 0.15}
LEVEL = {"migrant": -0.35, "ses_low": -0.25, "ses_high": 0.15, "girl": 0.10}
GROWTH = {"T2": {"migrant": 0.30, "ses_low": 0.20}, "T3": {"migrant": 0.40, "ses_low": 0.25}}
MIGRANT_SHARE = {"mentee": 0.55, "control": 0.25, "none": 0.40}
MISSING_T1 = 0.05
ATTRITION = {"boy": 0.3, "control": 0.3, "control_migrant": 0.5, "control_z1": -0.3}
ATTRITION_A = {"T2": -1.95, "T3": -1.6}          # ≈ 16% and 22% missing (measured over 20 cohorts)


@dataclass(frozen=True)
class Scenario:
    """One cell: ``n_mentee`` + ``n_control`` classes in ``n_schools`` schools;
    ``effect``: true effect on the latent scale at T2 and T3 for the mentees;
    ``selection``: mentee classes hold more pupils with a migration background."""
    name: str
    n_mentee: int
    n_control: int
    n_schools: int
    effect: float = 0.0
    selection: bool = True
    icc: float = 0.10
    wave_share: float = 0.5
    size_min: int = 14
    size_max: int = 24


#: latent effect giving a true ATT of about .25 SD of the T1 score (see true_att)
EFFECT = 0.28
SCENARIOS = (
    Scenario("sel_10cls_null", 6, 4, 5),
    Scenario("sel_10cls_effect", 6, 4, 5, effect=EFFECT),
    Scenario("sel_24cls_null", 15, 9, 8),
    Scenario("sel_24cls_effect", 15, 9, 8, effect=EFFECT),
    Scenario("nosel_10cls_null", 6, 4, 5, selection=False),
)
#: what `make validate` runs (the others are there for a longer run)
DEFAULT_SCENARIOS = ("sel_10cls_null", "sel_10cls_effect", "sel_24cls_null")


def scenario(name: str) -> Scenario:
    for s in SCENARIOS:
        if s.name == name:
            return s
    raise KeyError(f"no scenario {name!r}; choose from {[s.name for s in SCENARIOS]}")


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def _latent_cohort(rng: np.random.Generator, scn: Scenario, k: int):
    """Classes, covariates and the untreated latent scores (n × 3) of one cohort."""
    n_cls = scn.n_mentee + scn.n_control
    sizes = rng.integers(scn.size_min, scn.size_max + 1, size=n_cls)
    klass = np.repeat(np.arange(n_cls), sizes)
    n = klass.size
    mentee_cls = np.arange(n_cls) < scn.n_mentee
    school_of = np.arange(n_cls) % scn.n_schools
    mentee = mentee_cls[klass]
    share_mean = np.where(mentee_cls, MIGRANT_SHARE["mentee"], MIGRANT_SHARE["control"]) \
        if scn.selection else np.full(n_cls, MIGRANT_SHARE["none"])
    share = np.clip(rng.normal(share_mean, 0.10), 0.05, 0.95)
    migrant = rng.random(n) < share[klass]
    girl = rng.random(n) < 0.5
    age = 13.5 + rng.normal(0, 0.5, n)
    cum = np.cumsum(np.where(migrant[:, None], EDU_P[True], EDU_P[False]), axis=1)
    edu = np.asarray(EDUCATION)[(rng.random(n)[:, None] > cum).sum(axis=1)]
    unknown = rng.random(n) < np.where(migrant, UNKNOWN_P[True], UNKNOWN_P[False])
    ses_low, ses_high = edu == "low", np.isin(edu, ("hbo", "wo"))
    ses = np.where(ses_low, "low", np.where(ses_high, "high", "middle"))
    wide = pd.DataFrame({
        "student_id": np.arange(n), "condition": np.where(mentee, "mentee", "control"),
        "school": [f"S{s + 1}" for s in school_of[klass]],
        "class": [f"{'V' if m else 'C'}{c + 1}" for c, m in zip(klass, mentee)],
        "age": age.round(1), "gender": np.where(girl, "girl", "boy"),
        "ses": np.where(unknown, "unknown", ses),
        "migration_background": np.where(migrant, "yes", "no"),
        "first_generation": np.where(unknown, "unknown", np.where(edu == "wo", "no", "yes"))})
    v_b, R = _latent_design(scn, k)
    v_stable = v_b * (1 - scn.wave_share)
    school = rng.normal(0, np.sqrt(v_stable / 3), scn.n_schools)[school_of][klass]
    cls = rng.normal(0, np.sqrt(v_stable * 2 / 3), n_cls)[klass]
    pupil = rng.standard_normal((n, 3)) @ np.linalg.cholesky(R).T * np.sqrt(1 - v_b)
    level = (LEVEL["migrant"] * migrant + LEVEL["ses_low"] * ses_low + LEVEL["ses_high"] * ses_high
             + LEVEL["girl"] * girl)
    latent = np.empty((n, 3))
    for t, w in enumerate(WAVES):
        cw = rng.normal(0, np.sqrt(v_b * scn.wave_share), n_cls)[klass]
        growth = 0.0 if t == 0 else GROWTH[w]["migrant"] * migrant + GROWTH[w]["ses_low"] * ses_low
        latent[:, t] = school + cls + cw + pupil[:, t] + level + growth
    return wide, latent, mentee, migrant, girl


def simulate_cohort(rng: np.random.Generator, scn: Scenario) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One cohort: (long data, one row per scored pupil × wave; wide data, one row per
    pupil with the covariates and score_T1..score_T3), in the Panel's column names."""
    k = int(rng.integers(4, 10))
    wide, latent, mentee, migrant, girl = _latent_cohort(rng, scn, k)
    n = len(wide)
    for t, w in enumerate(WAVES):
        shift = scn.effect * mentee if t > 0 else 0.0
        wide[f"score_{w}"] = item_mean(latent[:, t] + shift, rng.normal(0, ITEM_SD, (n, k)))
    t1 = wide["score_T1"].mask(rng.random(n) < MISSING_T1)
    wide["score_T1"] = t1
    z1 = ((t1 - t1.mean()) / t1.std()).fillna(0.0).to_numpy()
    control = ~mentee
    for w in ("T2", "T3"):
        logit = (ATTRITION_A[w] + ATTRITION["boy"] * ~girl + control * (
            ATTRITION["control"] + ATTRITION["control_migrant"] * migrant + ATTRITION["control_z1"] * z1))
        wide[f"score_{w}"] = wide[f"score_{w}"].mask(rng.random(n) < 1 / (1 + np.exp(-logit)))
    long = wide.melt(id_vars=["student_id", "condition", "school", "class"],
                     value_vars=[f"score_{w}" for w in WAVES], var_name="wave", value_name="score")
    long["wave"] = long["wave"].str[-2:]
    return long.dropna(subset=["score"]).reset_index(drop=True), wide


@functools.lru_cache(maxsize=None)
def true_att(scn: Scenario, cohorts: int = 400, seed: int = 1) -> dict:
    """The estimands, by Monte Carlo over ``cohorts`` complete cohorts (no missing data):

    - ``T2-T1``, ``T3-T1``: the ATT on the score scale, E[score(L + effect) − score(L) |
      mentee] at T2 and T3 (the same item errors with and without the effect) — what
      every estimator should estimate;
    - ``unadjusted T2-T1``, ``unadjusted T3-T1``: the unadjusted DiD of the complete
      cohort, E[T_k − T1 | mentee] − E[T_k − T1 | control] (ATT + selection bias) — what
      the change-score DiD estimates without missing data, so what multiple imputation
      of the missing waves, whose analysis model has no covariates, can at best recover;
    - ``sd_t1``: the SD of the T1 score (both conditions), to express effects in SD units.
    """
    rng = np.random.default_rng(seed)
    att = {w: [] for w in ("T2", "T3")}
    change = {(w, g): [] for w in ("T2", "T3") for g in (True, False)}
    t1_all = []
    for _ in range(cohorts):
        k = int(rng.integers(4, 10))
        wide, latent, mentee, _, _ = _latent_cohort(rng, scn, k)
        n = len(wide)
        t1 = item_mean(latent[:, 0], rng.normal(0, ITEM_SD, (n, k)))
        t1_all.append(t1)
        for t, w in ((1, "T2"), (2, "T3")):
            e = rng.normal(0, ITEM_SD, (n, k))
            treated = item_mean(latent[:, t] + scn.effect * mentee, e)
            att[w].append((treated - item_mean(latent[:, t], e))[mentee])
            for g in (True, False):
                change[(w, g)].append((treated - t1)[mentee == g])
    out = {}
    for w in ("T2", "T3"):
        out[f"{w}-T1"] = float(np.concatenate(att[w]).mean())
        out[f"unadjusted {w}-T1"] = float(np.concatenate(change[(w, True)]).mean()
                                         - np.concatenate(change[(w, False)]).mean())
    out["sd_t1"] = float(np.concatenate(t1_all).std())
    return out


# ---------------------------------------------------------------------------
# estimators
# ---------------------------------------------------------------------------
def _row(model, contrast, r, **extra):
    return dict(model=model, contrast=contrast, **{k: float(r[k]) for k in
                                                   ("estimate", "se", "df", "ci_low", "ci_high", "p")}, **extra)


def weighting_rows(wide: pd.DataFrame, alpha: float = 0.05) -> list[dict]:
    """covariate_adjusted, weighted_dr and weighted_dr_change as the pipeline makes them
    (:func:`mut_eval.analysis.comparability`): covariates with "unknown" as a level, the
    pupils with every covariate (a T1 score) weighted, sparse levels pooled, entropy
    balancing (moments 1), CR2 by class. Each row carries the controls' ESS and n."""
    X = baseline_covariates(wide, wide, ["score"], [*COVARIATES, "score_T1"], unknown_as_level=True)
    treated = (wide["condition"] == "mentee").to_numpy()
    complete = X.notna().all(axis=1).to_numpy()
    Xw, _ = pool_sparse_levels(X[complete], treated[complete])
    try:
        w, _ = att_weights(Xw, treated[complete], "entropy", 1)
    except StudyError as exc:   # as the pipeline: covariate_adjusted without weights, the others failed
        res = adjusted_rows(wide, "score", CONTRASTS, Xw.reindex(wide.index),
                            clusters=unique_clusters(wide), alpha=alpha)
        return [_row(r["model"], r["contrast"], r) for r in res.to_dict("records")] + [
            {"model": m, "contrast": c, "error": f"StudyError: {exc}"[:400]}
            for m in ("weighted_dr", "weighted_dr_change") for c in CONTRASTS]
    wc = w.to_numpy()[~treated[complete]]
    extra = {"ess_control": ess(wc), "n_control": int(wc.size)}
    res = adjusted_rows(wide, "score", CONTRASTS, Xw.reindex(wide.index), weights=w.reindex(wide.index),
                        clusters=unique_clusters(wide), alpha=alpha)
    return [_row(r["model"], r["contrast"], r, **(extra if r["model"] != "covariate_adjusted" else {}))
            for r in res.to_dict("records")]


def estimate_all(long: pd.DataFrame, wide: pd.DataFrame, estimators=ESTIMATORS, *, m: int = MI_M,
                 mi_seed: int = 0, alpha: float = 0.05) -> list[dict]:
    """Every estimator in ``estimators`` on one cohort: one row per estimator × contrast."""
    rows = []
    if "cr2_change" in estimators:
        for c in CONTRASTS:
            out = design_based_did(wide, "score", c, alpha=alpha, bootstrap=False)
            rows += [_row("cr2_change", c, r) for r in out.to_dict("records") if r["model"] == "cr2_change"]
    if set(WEIGHTING) & set(estimators):
        rows += [r for r in weighting_rows(wide, alpha) if r["model"] in estimators]
    if "multiple_imputation" in estimators:
        from mut_eval.stats.imputation import mi_did
        out = mi_did(wide, ["score"], CONTRASTS, covariates=wide[list(COVARIATES)],
                     clusters=unique_clusters(wide), m=m, seed=mi_seed, alpha=alpha)
        rows += [_row("multiple_imputation", r["contrast"], r, fmi=float(r["fmi"])) for r in out.to_dict("records")]
    if "lmm_multilevel" in estimators:
        rows += [{k: r[k] for k in ("model", "contrast", "estimate", "se", "df", "ci_low", "ci_high", "p")}
                 for r in fit_models(long, wide, ("lmm_multilevel",), alpha=alpha)]
    return rows


# ---------------------------------------------------------------------------
# the study
# ---------------------------------------------------------------------------
def _one(task) -> list[dict]:
    si, rep, seed, estimators, m = task
    start = time.process_time()         # CPU time: the machine is shared
    scn = SCENARIOS[si]
    ss = np.random.SeedSequence((seed, si, rep))
    rng = np.random.default_rng(ss)
    long, wide = simulate_cohort(rng, scn)
    mi_seed = int(ss.generate_state(1)[0])
    rows = []
    # the three weighting rows share one fit of the weights; one group's failure must not
    # stop the study (recorded, counted as `failed`)
    groups = [[e for e in estimators if e in WEIGHTING]] + [[e] for e in estimators if e not in WEIGHTING]
    for group in filter(None, groups):
        try:
            rows += estimate_all(long, wide, tuple(group), m=m, mi_seed=mi_seed)
        except Exception as exc:    # noqa: BLE001
            rows += [{"model": est, "contrast": c, "error": f"{type(exc).__name__}: {exc}"[:400]}
                     for est in group for c in CONTRASTS]
    seconds = time.process_time() - start
    for r in rows:
        r["scenario"], r["rep"], r["seconds"] = scn.name, rep, seconds
    return rows


def simulate(scenarios, reps: int, seed: int = 2026, procs: int = 1, estimators=ESTIMATORS,
             m: int = MI_M, on_progress=None, every: float = 300.0) -> pd.DataFrame:
    """One row per scenario × replication × estimator × contrast (replications
    interleaved across scenarios, so a run stopped early has all at about the same
    count); ``on_progress(rows)`` gets everything so far every ``every`` s and at the end."""
    idx = {s.name: i for i, s in enumerate(SCENARIOS)}
    tasks = [(idx[s.name], r, seed, tuple(estimators), m) for r in range(reps) for s in scenarios]
    return run_tasks(_one, tasks, procs, on_progress, every, chunksize=4)


# ---------------------------------------------------------------------------
# summary and report
# ---------------------------------------------------------------------------
def _rate(x: pd.Series) -> tuple[float, float]:
    p, R = float(x.mean()), len(x)
    return p, float(np.sqrt(p * (1 - p) / R)) if R else np.nan


def summarise(raw: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Per scenario × estimator × contrast: bias against the ATT (± MC SE, also in SD of the
    T1 score), empirical SD, mean SE / SD, coverage of the ATT and the rate of rejecting
    DiD = 0 (± MC SE √(p(1−p)/R)), coverage of the complete-cohort unadjusted DiD
    (``coverage_unadj``, see :func:`true_att`), the controls' mean ESS and n under
    weighting, the mean fmi of MI, and the replications without a result (``failed``)."""
    rows = []
    if "error" not in raw.columns:
        raw = raw.assign(error=np.nan)
    for (name, model, contrast), g in raw.groupby(["scenario", "model", "contrast"], sort=False):
        truth = true_att(scenario(name))
        v = g[g["p"].notna() & g["error"].isna()]
        R = len(v)
        att, unadj = truth[contrast], truth[f"unadjusted {contrast}"]
        cov, cov_se = _rate((v["ci_low"] <= att) & (att <= v["ci_high"]))
        rej, rej_se = _rate(v["p"] < alpha)
        cu, cu_se = _rate((v["ci_low"] <= unadj) & (unadj <= v["ci_high"]))
        sd = float(v["estimate"].std())
        bias = float(v["estimate"].mean() - att)
        rows.append(dict(
            scenario=name, model=model, contrast=contrast, reps=R, failed=len(g) - R, truth=att,
            bias=bias, bias_mcse=sd / np.sqrt(R), bias_sd=bias / truth["sd_t1"], sd_estimate=sd,
            se_ratio=float(v["se"].mean()) / sd, coverage=cov, coverage_mcse=cov_se,
            reject=rej, reject_mcse=rej_se, unadjusted=unadj, coverage_unadj=cu, coverage_unadj_mcse=cu_se,
            ess_control=float(v["ess_control"].mean()) if "ess_control" in v and v["ess_control"].notna().any() else np.nan,
            n_control=float(v["n_control"].mean()) if "n_control" in v and v["n_control"].notna().any() else np.nan,
            fmi=float(v["fmi"].mean()) if "fmi" in v and v["fmi"].notna().any() else np.nan))
    out = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(ESTIMATORS)}
    sc = {s.name: i for i, s in enumerate(SCENARIOS)}
    return out.sort_values(["scenario", "contrast", "model"], key=lambda s: s.map(sc) if s.name == "scenario"
                           else s.map(order) if s.name == "model" else s, kind="stable").reset_index(drop=True)


def _pm(a, b, digits=3) -> str:
    return "" if pd.isna(a) else f"{a:.{digits}f} ± {b:.{digits}f}"


def _reading(t: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """Sentences computed from the table: bias of the unadjusted and the adjusted
    estimators, their coverage and type I error, what MI recovers."""
    lines = []

    def cells(model, column, null_only=False, digits=3):
        x = t[(t["model"] == model) & (~null_only | (t["truth"] == 0))]
        return ", ".join(f"{r.scenario} {r.contrast} {getattr(r, column):.{digits}f}" for r in x.itertuples())

    def span(model, column, null_only=False):
        x = t[(t["model"] == model) & ((t["truth"] == 0) if null_only else True)][column]
        return f"{x.min():.3f}–{x.max():.3f}" if len(x) else "—"

    present = [m for m in ESTIMATORS if m in set(t["model"])]
    if "cr2_change" in present:
        x = t[t["model"] == "cr2_change"]
        lines.append(f"- Unadjusted (`cr2_change`): bias {x['bias_sd'].min():.2f}–{x['bias_sd'].max():.2f} SD of "
                     f"the T1 score ({span('cr2_change', 'bias')} score points, each ≥ "
                     f"{(x['bias'] / x['bias_mcse']).min():.0f} MC SE from 0); type I error "
                     f"{span('cr2_change', 'reject', True)}, coverage {span('cr2_change', 'coverage')}.")
    for model in ("covariate_adjusted", "weighted_dr", "weighted_dr_change"):
        if model not in present:
            continue
        x = t[t["model"] == model]
        z = (x["bias"] / x["bias_mcse"]).abs()
        first = x[x["contrast"] == CONTRASTS[0]]
        ess_part = (f"; controls' ESS under weighting {x['ess_control'].min():.0f}–{x['ess_control'].max():.0f} "
                    f"of {x['n_control'].min():.0f}–{x['n_control'].max():.0f}" if x["ess_control"].notna().any() else "")
        lines.append(f"- `{model}`: bias {x['bias_sd'].min():+.3f} to {x['bias_sd'].max():+.3f} SD (largest "
                     f"{z.max():.1f} MC SE from 0); coverage {span(model, 'coverage')}; type I error "
                     f"{span(model, 'reject', True)}; mean SE / SD {x['se_ratio'].min():.2f}–{x['se_ratio'].max():.2f}"
                     f"{ess_part}; without a result in {first['failed'].sum()} of "
                     f"{(first['reps'] + first['failed']).sum()} replications"
                     + (" (the change-score form does not condition on the T1 score, on which the "
                        "controls' attrition depends)" if model == "weighted_dr_change" else "") + ".")
    if "multiple_imputation" in present:
        x = t[t["model"] == "multiple_imputation"]
        lines.append(f"- `multiple_imputation` (unadjusted change-score DiD after imputation): bias against the "
                     f"ATT {x['bias_sd'].min():.2f}–{x['bias_sd'].max():.2f} SD, coverage of the ATT "
                     f"{span('multiple_imputation', 'coverage')}, type I error "
                     f"{span('multiple_imputation', 'reject', True)} — imputation does not adjust for selection. "
                     f"Its own estimand, the unadjusted DiD of the complete cohort: mean estimate − that "
                     f"{(x['truth'] + x['bias'] - x['unadjusted']).min():+.3f} to "
                     f"{(x['truth'] + x['bias'] - x['unadjusted']).max():+.3f} score points, CI coverage "
                     f"{span('multiple_imputation', 'coverage_unadj')} (complete-case `cr2_change`: "
                     f"{span('cr2_change', 'coverage_unadj')}); mean SE / SD {x['se_ratio'].min():.2f}–"
                     f"{x['se_ratio'].max():.2f} (probably because the imputation model has no classes); mean fmi "
                     f"{x['fmi'].min():.2f}–{x['fmi'].max():.2f}.")
    if "lmm_multilevel" in present:
        x = t[t["model"] == "lmm_multilevel"]
        lines.append(f"- `lmm_multilevel` (the primary model, no covariates): bias {x['bias_sd'].min():.2f}–"
                     f"{x['bias_sd'].max():.2f} SD, type I error {span('lmm_multilevel', 'reject', True)}.")
    return lines


def write_results(raw: pd.DataFrame, path: Path, *, command: str, started: str, wall: float,
                  reps: int, planned: list[str], m: int = MI_M, rerun_failed: int = 0,
                  alpha: float = 0.05) -> None:
    """validation/RESULTS_selection.md: how it was run, the reading, a table per scenario."""
    t = summarise(raw, alpha)
    per_rep = raw.drop_duplicates(["scenario", "rep"])
    n_reps = per_rep.groupby("scenario").size()
    out = ["# Simulation study: selection on observables — adjustment, weighting and multiple "
           "imputation (issue 13)", "",
           f"Command: `{command}`  ",
           f"Started {started} UTC; wall time {wall / 60:.1f} min on a shared machine; "
           f"{per_rep['seconds'].sum() / 60:.1f} CPU-min in the replications "
           f"({per_rep['seconds'].mean():.2f} s per replication); m = {m} imputations; "
           f"{platform.python_version()} on {platform.machine()}.  ",
           f"Replications per scenario: {n_reps.min()}–{n_reps.max()} of {reps} planned"
           + (f"; {rerun_failed} replications with an error were run again (`--rerun-failed`, same "
              "seeds and cohorts) after a fix of the script" if rerun_failed else "") + ".", "",
           see_also(path), "",
           "Design, estimators and estimands: see the docstring of `validation/sim_selection.py`. "
           "In short: whole classes assigned; mentee classes hold more pupils with a migration "
           "background (55% vs 25%) and so start lower; migration background and low ses also "
           "raise the growth from T1; T2/T3 scores missing at random given condition, migration "
           "background, gender and the T1 score (about 16% and 22%); parental education (ses, "
           "first_generation) \"unknown\" for about 20%. `truth` is the ATT on the score scale; "
           "`bias` = mean estimate − truth ± its MC SE (SD/√R), `bias_sd` the bias in SD of the T1 "
           "score; `se/sd` mean estimated SE over the empirical SD; `coverage` of the 95% CI of the "
           "ATT and `reject` the share rejecting DiD = 0 at α = .05 (type I error where truth = 0, "
           f"power otherwise), ± MC SE; a rate within .05 ± {_band(int(n_reps.min() or 1)):.3f} holds 5%. "
           "`cov_unadj`: coverage of the unadjusted DiD of the complete cohort (ATT + selection "
           "bias), the estimand of an unadjusted analysis without missing data. `ess_c / n_c`: "
           "the controls' effective sample size under the entropy weights and their number.", "",
           "## Reading", "", *_reading(t, alpha), ""]
    for name in [p for p in planned if p in set(t["scenario"])]:
        scn, truth = scenario(name), true_att(scenario(name))
        x = t[t["scenario"] == name]
        out += [f"## {name}", "",
                f"{scn.n_mentee} mentee + {scn.n_control} control classes in {scn.n_schools} schools, "
                f"{scn.size_min}–{scn.size_max} pupils per class; "
                + ("selection on migration background" if scn.selection else "no selection")
                + f"; true ATT {truth['T2-T1']:.3f} (T2−T1) / {truth['T3-T1']:.3f} (T3−T1) score points "
                f"= {truth['T2-T1'] / truth['sd_t1']:.2f} / {truth['T3-T1'] / truth['sd_t1']:.2f} SD of the "
                f"T1 score (SD {truth['sd_t1']:.3f}); unadjusted complete-cohort DiD "
                f"{truth['unadjusted T2-T1']:.3f} / {truth['unadjusted T3-T1']:.3f}. "
                f"{int(x['reps'].max())} replications.", ""]
        show = pd.DataFrame({
            "estimator": x["model"], "contrast": x["contrast"],
            "bias": [_pm(a, b) for a, b in zip(x["bias"], x["bias_mcse"])],
            "bias_sd": x["bias_sd"].map(lambda v: f"{v:+.3f}"),
            "sd_est": x["sd_estimate"].map(lambda v: f"{v:.3f}"),
            "se/sd": x["se_ratio"].map(lambda v: f"{v:.2f}"),
            "coverage": [_pm(a, b) for a, b in zip(x["coverage"], x["coverage_mcse"])],
            "reject": [_pm(a, b) for a, b in zip(x["reject"], x["reject_mcse"])],
            "cov_unadj": [_pm(a, b) for a, b in zip(x["coverage_unadj"], x["coverage_unadj_mcse"])],
            "ess_c / n_c": [f"{a:.1f} / {b:.1f}" if pd.notna(a) else "" for a, b in zip(x["ess_control"], x["n_control"])],
            "fmi": x["fmi"].map(lambda v: "" if pd.isna(v) else f"{v:.2f}"),
            "failed": x["failed"]})
        out += [show.to_markdown(index=False), ""]
    if "error" in raw.columns and raw["error"].notna().any():
        bad = raw[raw["error"].notna()]
        # the message up to its details (the covariates named differ from cohort to cohort)
        kind = bad["error"].str.split(r": the |; ", regex=True).str[0]
        counts = bad.assign(kind=kind).groupby(["scenario", "model", "kind"])["rep"].nunique()
        out += ["## Replications without a result", "",
                *[f"- {sc}, `{m}`: {n} replications — {k}" for (sc, m, k), n in counts.items()], ""]
    path.write_text("\n".join(out))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--m", type=int, default=MI_M, help="imputations per replication")
    ap.add_argument("--scenarios", nargs="*", default=list(DEFAULT_SCENARIOS),
                    help=f"scenario names (default: {' '.join(DEFAULT_SCENARIOS)})")
    ap.add_argument("--estimators", nargs="*", default=list(ESTIMATORS), choices=ESTIMATORS)
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS_selection.md"))
    ap.add_argument("--raw", type=Path, default=Path(__file__).with_name("raw") / "selection",
                    help="folder for the per-replication results (raw.csv.gz, run.json)")
    ap.add_argument("--from-raw", action="store_true", help="only rewrite --out from --raw")
    ap.add_argument("--rerun-failed", action="store_true",
                    help="run --estimators again in the replications of --raw with an error (same seeds, "
                         "so the same cohorts), replace their rows, rewrite --out")
    a = ap.parse_args(argv)
    if a.from_raw or a.rerun_failed:
        run = json.loads((a.raw / "run.json").read_text())
        raw = pd.read_csv(a.raw / "raw.csv.gz")
        if a.rerun_failed and "error" in raw.columns:
            redo = raw.loc[raw["error"].notna(), ["scenario", "rep"]].drop_duplicates()
            idx = {s.name: i for i, s in enumerate(SCENARIOS)}
            seed = int(run["command"].split("--seed ")[1].split()[0]) if "--seed " in run["command"] else 2026
            new = [r for sc, rep in redo.itertuples(index=False)
                   for r in _one((idx[sc], int(rep), seed, tuple(a.estimators), run.get("m", MI_M)))]
            # only the rows of the estimators run again are replaced
            keep = raw.merge(redo.assign(_redo=True), on=["scenario", "rep"], how="left")["_redo"].isna()
            keep = keep.to_numpy() | ~raw["model"].isin(a.estimators).to_numpy()
            raw = pd.concat([raw[keep], pd.DataFrame(new)], ignore_index=True)
            raw.to_csv(a.raw / "raw.csv.gz", index=False)
            run["rerun_failed"] = len(redo)
            (a.raw / "run.json").write_text(json.dumps(run))
        write_results(raw, a.out, **run)
        return
    planned = [scenario(n).name for n in a.scenarios]
    command = "python " + " ".join([Path(sys.argv[0]).as_posix(), *(argv if argv is not None else sys.argv[1:])])
    started, t0 = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    a.raw.mkdir(parents=True, exist_ok=True)

    def on_progress(raw):
        raw.to_csv(a.raw / "raw.csv.gz", index=False)
        run = dict(command=command, started=started, wall=time.perf_counter() - t0, reps=a.reps,
                   planned=planned, m=a.m)
        (a.raw / "run.json").write_text(json.dumps(run))
        write_results(raw, a.out, **run)
        n = raw.drop_duplicates(["scenario", "rep"]).groupby("scenario").size()
        print(f"{(time.perf_counter() - t0) / 60:.1f} min: {n.min()}-{n.max()} replications per scenario",
              file=sys.stderr, flush=True)

    simulate([scenario(n) for n in planned], a.reps, a.seed, a.procs, tuple(a.estimators), a.m,
             on_progress=on_progress)
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
