"""Were the groups comparable, and does the effect survive adjustment for selection?

School leaders, not a lottery, chose the control classes, so mentees and controls can
differ at the start. This module turns the building blocks of
:mod:`mut_eval.stats.balance` (balance statistics, ATT weights) and
:mod:`mut_eval.stats.sensitivity` (E-values, robustness values) into the evaluation's
tables, one outcome × change at a time:

* :func:`baseline_covariates` — the pupils' baseline covariates and T1 scores, the
  "unknown" code as missing (balance) or as a level of its own (weighting: the groups
  are then also balanced on how often a characteristic is unknown).
* :func:`att_weights` — weights that make the controls resemble the mentees (the ATT):
  entropy balancing (Hainmueller 2012) or logistic propensity scores (Hirano, Imbens &
  Ridder 2003), with the propensity score kept for the overlap figure.
* :func:`adjusted_did` — the regression estimate of the DiD with covariates,
  ``T_k ~ condition + T_1 + covariates`` (the ANCOVA form) or
  ``T_k − T_1 ~ condition + covariates`` (the change-score form), unweighted
  (``covariate_adjusted``) or with the ATT weights (``weighted_dr``,
  ``weighted_dr_change``): weighting plus outcome regression is doubly robust — the
  estimate of the ATT is consistent when either the weights or the outcome model is
  right (Robins, Rotnitzky & Zhao 1994; Kang & Schafer 2007; the regression with
  weights as in WeightIt's vignette "Estimating effects after weighting"). Standard
  errors are sandwich estimates that treat the weights as fixed: CR2 by class with
  Satterthwaite df when whole classes were assigned (Bell & McCaffrey 2002;
  :func:`mut_eval.stats.cluster_robust.cr2_regression`, equal to clubSandwich), else
  HC2 (MacKinnon & White 1985; ``sandwich::vcovHC(type = "HC2")``) with the residual
  df n − p.
* :func:`sensitivity_with_benchmark` — the ``sensitivity`` table: E-values and
  robustness values of the primary estimates, and what a confounder k times as strong
  as an observed covariate (migration background) would do to them.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .. import CONDITIONS, StudyError
from .balance import _independent_columns, covariate_design, entropy_weights, logistic_att_weights
from .cluster_robust import _t_summary, cr2_regression
from .sensitivity import (SENSITIVITY_COLUMNS, adjusted_estimate, adjusted_se, benchmark_partial_r2, bias,
                          ovb_partial_r2_bound, sensitivity_table)

__all__ = [
    "BASELINE_COVARIATES",
    "WEIGHTING_COVARIATES",
    "propensity_overlap",
    "OVERLAP_COLUMNS",
    "WEIGHTING_METHODS",
    "ADJUSTED_MODELS",
    "SPARSE_LEVEL",
    "baseline_covariates",
    "pool_sparse_levels",
    "att_weights",
    "hc2_regression",
    "adjusted_did",
    "adjusted_rows",
    "sensitivity_with_benchmark",
    "SENSITIVITY_BENCHMARK_COLUMNS",
]

#: the pupil characteristics a balance table shows when the study has them
BASELINE_COVARIATES = ("age", "gender", "ses", "migration_background", "origin", "first_generation")
#: the default weighting covariates (with every outcome's T1 score): origin is left out,
#: its sparse categories cannot be balanced and migration background carries its contrast
WEIGHTING_COVARIATES = ("age", "gender", "ses", "migration_background", "first_generation")
OVERLAP_COLUMNS = ["condition", "bin_low", "bin_high", "share"]
WEIGHTING_METHODS = ("entropy", "logistic", "none")
ADJUSTED_MODELS = ("covariate_adjusted", "weighted_dr", "weighted_dr_change")
#: a level of a categorical covariate held by fewer pupils than this in either condition
#: is pooled with the covariate's most common level for weighting (it can be neither
#: balanced nor estimated on a handful of pupils)
SPARSE_LEVEL = 5
SENSITIVITY_BENCHMARK_COLUMNS = ["benchmark", "r2dz_x", "r2yz_dx", "adjusted_estimate",
                                 "adjusted_ci_low", "adjusted_ci_high", "k_explain_away"]


# ------------------------------------------------------------------ covariates

def baseline_covariates(students: pd.DataFrame, wide: pd.DataFrame, outcomes, covariates=None,
                        missing_codes=("unknown",), unknown_as_level: bool = False) -> pd.DataFrame:
    """The baseline covariates of every pupil (index of ``wide``): ``covariates`` — pupil
    columns of ``students`` and ``{outcome}_T1`` scores from ``wide`` — by default the
    :data:`BASELINE_COVARIATES` the study has and every outcome's T1 score.

    Text codes in ``missing_codes`` are missing (NaN, what cobalt shows as a "missing"
    row), or with ``unknown_as_level`` a level of their own (for weighting: every pupil
    keeps a value, and the groups are balanced on the share unknown too). A name that is
    neither a pupil column nor an outcome's T1 score is a StudyError.
    """
    scores = {f"{o}_T1" for o in outcomes}
    if covariates is None:
        covariates = [c for c in BASELINE_COVARIATES if c in students.columns] + [f"{o}_T1" for o in outcomes]
    absent = [c for c in covariates if c not in scores and c not in students.columns]
    if absent:
        raise StudyError(f"study.yaml: analysis.weighting.covariates: {', '.join(map(repr, absent))} is "
                         f"neither a pupil column nor an outcome's T1 score (e.g. {next(iter(sorted(scores)), '')})")
    out = pd.DataFrame(index=wide.index)
    codes = {str(m) for m in missing_codes}
    for c in covariates:
        s = wide[c] if c in scores else students[c].reindex(wide.index)
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            out[c] = pd.to_numeric(s, errors="coerce").astype(float)
        else:
            s = s.astype("string")
            out[c] = s if unknown_as_level else s.mask(s.isin(codes))
    return out


def pool_sparse_levels(X: pd.DataFrame, treated, min_n: int = SPARSE_LEVEL) -> tuple[pd.DataFrame, list[str]]:
    """Pool the levels of each categorical column held by fewer than ``min_n`` mentees or
    fewer than ``min_n`` controls with that column's most common level. Returns the new
    frame and one note per pooled level (``"gender: unknown (2 pupils) pooled with boy"``)."""
    t = np.asarray(treated, dtype=bool)
    X = X.copy()
    notes = []
    for c in X.columns:
        s = X[c]
        if pd.api.types.is_numeric_dtype(s):
            continue
        counts = pd.crosstab(s, t)
        counts = counts.reindex(columns=[True, False], fill_value=0)
        common = s.value_counts().idxmax()
        sparse = [lv for lv in counts.index if lv != common and counts.loc[lv].min() < min_n]
        for lv in sparse:
            notes.append(f"{c}: {lv} ({int(counts.loc[lv].sum())} pupils) pooled with {common}")
        if sparse:
            X[c] = s.where(~s.isin(sparse), common)
    return X, notes


def att_weights(X: pd.DataFrame, treated, method: str = "entropy", moments: int = 1,
                trim: float | None = None) -> tuple[pd.Series, pd.Series | None]:
    """ATT weights (mentees 1) and the propensity score of every pupil in ``X``.

    ``method``: ``entropy`` (:func:`~mut_eval.stats.balance.entropy_weights`, means —
    and variances with ``moments = 2`` — of the controls equal to the mentees'),
    ``logistic`` (:func:`~mut_eval.stats.balance.logistic_att_weights`, e/(1 − e),
    control weights trimmed at their ``trim`` quantile) or ``none`` (all 1). The
    propensity score from the logistic model is returned with every method, for the
    overlap figure (None when the covariates separate the groups). ``X`` must be
    complete (rows with a missing covariate removed first).
    """
    if method not in WEIGHTING_METHODS:
        raise StudyError(f"weighting.method must be one of {', '.join(WEIGHTING_METHODS)}, not {method!r}")
    t = np.asarray(treated, dtype=bool)
    ps = None
    try:
        w_logit, ps, _ = logistic_att_weights(X, t, trim=trim if method == "logistic" else None)
    except StudyError:
        if method == "logistic":
            raise
    if method == "entropy":
        w = entropy_weights(X, t, moments=moments)
    elif method == "logistic":
        w = w_logit
    else:
        w = pd.Series(np.ones(len(X)), index=X.index, name="weight")
    return w, ps


def propensity_overlap(ps: pd.Series | None, treated, bins: int = 20) -> pd.DataFrame:
    """The distribution of the propensity score per condition for the overlap figure:
    the share of each condition's pupils in ``bins`` equal bins of [0, 1] (columns
    :data:`OVERLAP_COLUMNS`; shares, not counts, and no pupil-level values)."""
    if ps is None:
        return pd.DataFrame(columns=OVERLAP_COLUMNS)
    t = np.asarray(treated, dtype=bool)
    edges = np.linspace(0.0, 1.0, bins + 1)
    rows = []
    for cond, m in ((CONDITIONS[0], t), (CONDITIONS[1], ~t)):
        counts, _ = np.histogram(np.asarray(ps, dtype=float)[m], bins=edges)
        share = counts / max(int(m.sum()), 1)
        rows += [{"condition": cond, "bin_low": a, "bin_high": b, "share": float(v)}
                 for a, b, v in zip(edges[:-1], edges[1:], share)]
    return pd.DataFrame(rows, columns=OVERLAP_COLUMNS)


# ------------------------------------------------------------------ the DR estimate

def hc2_regression(y, X, weights=None) -> dict:
    """WLS (OLS without ``weights``) with the HC2 covariance, as ``sandwich::vcovHC(lm(y ~ X
    - 1, weights = w), type = "HC2")``: V = M X' diag((w_i e_i)² / (1 − h_i)) X M with
    M = (X'WX)⁻¹, h_i = w_i x_i'M x_i (MacKinnon & White 1985; Long & Ervin 2000).
    Returns ``coef``, ``vcov`` and the residual ``df`` n − p used for t tests."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    M = np.linalg.inv(X.T @ (X * w[:, None]))
    beta = M @ (X.T @ (w * y))
    e = y - X @ beta
    h = w * np.einsum("ij,jk,ik->i", X, M, X)
    omega = (w * e) ** 2 / (1.0 - h)
    V = M @ (X.T @ (X * omega[:, None])) @ M
    return {"coef": beta, "vcov": V, "df": float(len(y) - X.shape[1])}


def _analysis_rows(wide: pd.DataFrame, outcome: str, contrast: str, X: pd.DataFrame,
                   weights: pd.Series | None):
    later, earlier = contrast.split("-")
    yk = pd.to_numeric(wide[f"{outcome}_{later}"], errors="coerce")
    yj = pd.to_numeric(wide[f"{outcome}_{earlier}"], errors="coerce")
    ok = yk.notna() & yj.notna() & wide["condition"].isin(CONDITIONS) & X.notna().all(axis=1)
    if weights is not None:
        ok &= weights.reindex(wide.index).notna()
    return ok.to_numpy(), yk, yj


def adjusted_did(wide: pd.DataFrame, outcome: str, contrast: str, X: pd.DataFrame, *,
                 weights: pd.Series | None = None, clusters: pd.Series | None = None,
                 form: str = "ancova", alpha: float = 0.05) -> dict:
    """The condition coefficient of ``T_k ~ condition + T_j + covariates`` (``form =
    "ancova"``) or ``T_k − T_j ~ condition + covariates`` (``form = "change"``; the
    outcome's own T_j is then not a covariate, which would turn it into the ANCOVA),
    on the pupils scored at both waves with every covariate (and a weight).

    ``X``: covariates aligned with ``wide`` (:func:`baseline_covariates`; categorical
    columns become indicators, :func:`~mut_eval.stats.balance.covariate_design`;
    columns that are constant or collinear in the analysed sample are left out).
    ``weights``: ATT weights (None: unweighted). Inference: CR2 + Satterthwaite by
    ``clusters`` (class within school) when given, else HC2 with df n − p.
    Returns ``estimate, se, df, ci_low, ci_high, p, n_pupils, n_clusters``.
    """
    if form not in ("ancova", "change"):
        raise StudyError(f"adjusted DiD: form must be 'ancova' or 'change', not {form!r}")
    later, earlier = contrast.split("-")
    own = f"{outcome}_{earlier}"
    covs = X.drop(columns=[c for c in X.columns if c == own])
    ok, yk, yj = _analysis_rows(wide, outcome, contrast, covs, weights)
    mentee = (wide["condition"] == CONDITIONS[0]).to_numpy(float)[ok]
    empty = {"estimate": np.nan, "se": np.nan, "df": np.nan, "ci_low": np.nan, "ci_high": np.nan,
             "p": np.nan, "n_pupils": int(ok.sum()), "n_clusters": np.nan}
    if mentee.size < 4 or mentee.min() == mentee.max():
        return empty
    D = covariate_design(covs[ok]) if covs.shape[1] else pd.DataFrame(index=covs.index[ok])
    lead = {"mentee": mentee} if form == "change" else {"mentee": mentee, own: yj.to_numpy()[ok]}
    Z = np.column_stack([*lead.values(), D.to_numpy(float)]) if D.shape[1] else np.column_stack(
        list(lead.values()))
    Zk, names = _independent_columns(Z, list(lead) + list(D.columns))
    if names[:len(lead)] != list(lead) or Zk.shape[1] + 1 >= mentee.size:
        return empty
    design = np.column_stack([np.ones(mentee.size), Zk])
    y = (yk - yj).to_numpy()[ok] if form == "change" else yk.to_numpy()[ok]
    w = None if weights is None else weights.reindex(wide.index).to_numpy(float)[ok]
    c = np.zeros(design.shape[1])
    c[1] = 1.0
    if clusters is not None:
        cl = clusters.reindex(wide.index).to_numpy(object)[ok]
        res = cr2_regression(y, design, cl, weights=w, coef_df=False).contrast(c, alpha=alpha)
        n_clusters = int(pd.Series(cl).nunique())
    else:
        fit = hc2_regression(y, design, w)
        res = _t_summary(float(fit["coef"][1]), float(np.sqrt(fit["vcov"][1, 1])), fit["df"], 0.0, alpha)
        n_clusters = np.nan
    return {k: res[k] for k in ("estimate", "se", "df", "ci_low", "ci_high", "p")} | {
        "n_pupils": int(mentee.size), "n_clusters": n_clusters}


def adjusted_rows(wide: pd.DataFrame, outcome: str, contrasts, X: pd.DataFrame, *,
                  weights: pd.Series | None = None, clusters: pd.Series | None = None,
                  alpha: float = 0.05) -> pd.DataFrame:
    """The ``did_robustness`` rows of :data:`ADJUSTED_MODELS` for one outcome:
    ``covariate_adjusted`` (ANCOVA form, no weights) and, with ``weights``,
    ``weighted_dr`` (ANCOVA form) and ``weighted_dr_change`` (change-score form), for each
    contrast that compares a later wave with T1."""
    rows = []
    specs = [("covariate_adjusted", None, "ancova")]
    if weights is not None:
        specs += [("weighted_dr", weights, "ancova"), ("weighted_dr_change", weights, "change")]
    for contrast in contrasts:
        if not contrast.endswith("-T1"):
            continue
        for model, w, form in specs:
            r = adjusted_did(wide, outcome, contrast, X, weights=w, clusters=clusters, form=form,
                             alpha=alpha)
            rows.append({"model": model, "contrast": contrast, **r})
    return pd.DataFrame(rows, columns=["model", "contrast", "estimate", "se", "df", "ci_low",
                                       "ci_high", "p", "n_pupils", "n_clusters"])


# ------------------------------------------------------------------ sensitivity

def _explain_away_k(estimate: float, se: float, dof: float, r2dxj_x: float, r2yxj_dx: float) -> float:
    """The multiple k (kd = ky = k) of the benchmark's strength at which the bound
    confounder's bias equals |estimate| (sensemakr's adjusted estimate reaches 0).

    The bias grows with k, and beyond some k no confounder can exist (a partial R² would
    reach 1): the predicate "bias ≥ |estimate| or impossible" is monotone in k, so
    bisection finds where it turns; inf when that point is the end of the admissible
    range rather than the estimate reaching 0."""
    if not all(map(math.isfinite, (estimate, se, dof, r2dxj_x, r2yxj_dx))) or se <= 0:
        return float("nan")
    if r2dxj_x <= 0 or r2yxj_dx <= 0:
        return float("inf")
    target = abs(estimate)

    def bias_at(k):
        try:
            b = ovb_partial_r2_bound(r2dxj_x, r2yxj_dx, k, k)
        except StudyError:
            return None
        return bias(se, dof, b["r2dz_x"], b["r2yz_dx"])

    def turned(k):
        b = bias_at(k)
        return b is None or b >= target

    lo, hi = 0.0, 1.0
    while not turned(hi):
        lo, hi = hi, 2.0 * hi
    while hi - lo > 1e-10 * hi:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if turned(mid) else (mid, hi)
    return hi if bias_at(hi) is not None else float("inf")


def sensitivity_with_benchmark(did_rows: pd.DataFrame, wide: pd.DataFrame, X: pd.DataFrame,
                               benchmark: str | None = "migration_background",
                               alpha: float = 0.05) -> pd.DataFrame:
    """The ``sensitivity`` table of the primary DiD estimates (``did_rows``: the ``did``
    table, with ``df`` and ``g``): :func:`~mut_eval.stats.sensitivity.sensitivity_table`
    (E-values of the estimate and its CI limit nearer 0 on the g scale; RV and RV_α from
    the estimate's t and df) and the benchmark columns (Cinelli & Hazlett 2020, §6):

    - ``r2dz_x``, ``r2yz_dx``: the partial R² with the condition and with the outcome of
      a confounder as strong as ``benchmark``, from the OLS regression
      ``T_k ~ condition + T_1 + covariates`` of the pupils scored at both waves
      (sensemakr ``ovb_partial_r2_bound`` with kd = ky = 1); the benchmark's categorical
      indicators are taken together;
    - ``adjusted_estimate``, ``adjusted_ci_low``, ``adjusted_ci_high``: the primary
      estimate if such a confounder had been included (``adjusted_estimate`` and
      ``adjusted_se`` of sensemakr applied to the primary estimate, SE and df — exact for
      OLS, an approximation through t and df for the mixed model);
    - ``k_explain_away``: how many times as strong as the benchmark a confounder would
      have to be (kd = ky = k) to bring the estimate to 0 (inf: no admissible strength).

    Contrasts that do not compare with T1 (T3-T2) get no benchmark (empty columns).
    """
    base = sensitivity_table(did_rows, alpha=alpha)
    bench = pd.DataFrame(np.nan, index=base.index, columns=SENSITIVITY_BENCHMARK_COLUMNS)
    bench["benchmark"] = None
    usable = benchmark is not None and benchmark in X.columns and X[benchmark].nunique() > 1
    tcrit = {}
    for i, r in enumerate(did_rows.itertuples(index=False)):
        if not usable or not str(r.contrast).endswith("-T1"):
            continue
        b = _benchmark_r2(wide, r.outcome, r.contrast, X, benchmark)
        if b is None:
            continue
        est, se, dof = float(r.estimate), float(r.se), float(r.df)
        bound = ovb_partial_r2_bound(b["r2dxj_x"], b["r2yxj_dx"], 1.0, 1.0)
        adj = adjusted_estimate(est, se, dof, bound["r2dz_x"], bound["r2yz_dx"])
        adj_se = adjusted_se(se, dof, bound["r2dz_x"], bound["r2yz_dx"]) if math.isfinite(dof) else np.nan
        q = tcrit.setdefault(dof, stats.t.ppf(1 - alpha / 2, dof) if math.isfinite(dof) else np.nan)
        bench.loc[i, SENSITIVITY_BENCHMARK_COLUMNS] = [
            benchmark, bound["r2dz_x"], bound["r2yz_dx"], adj, adj - q * adj_se, adj + q * adj_se,
            _explain_away_k(est, se, dof, b["r2dxj_x"], b["r2yxj_dx"])]
    out = pd.concat([base, bench], axis=1)
    return out[SENSITIVITY_COLUMNS + SENSITIVITY_BENCHMARK_COLUMNS]


def _benchmark_r2(wide, outcome, contrast, X, benchmark) -> dict | None:
    """r2dxj_x and r2yxj_dx of the benchmark in the OLS ANCOVA with the covariates."""
    later, earlier = contrast.split("-")
    own = f"{outcome}_{earlier}"
    covs = X.drop(columns=[c for c in X.columns if c == own])
    ok, yk, yj = _analysis_rows(wide, outcome, contrast, covs, None)
    if ok.sum() < 10:
        return None
    D = covariate_design(covs[ok])
    mentee = (wide["condition"] == CONDITIONS[0]).to_numpy(float)[ok]
    Z, names = _independent_columns(np.column_stack([mentee, yj.to_numpy()[ok], D.to_numpy(float)]),
                                    ["mentee", own] + list(D.columns))
    cols = [n for n in names if n == benchmark or n.startswith(f"{benchmark}[")]
    if names[:2] != ["mentee", own] or not cols or Z.shape[1] + 2 >= ok.sum():
        return None
    design = np.column_stack([np.ones(Z.shape[0]), Z])
    return benchmark_partial_r2(yk.to_numpy()[ok], design, ["(Intercept)"] + names, "mentee", cols)
