"""Sensitivity of an effect estimate to unmeasured confounding: E-values and robustness values.

Two complementary summaries, each reproducing its reference R package exactly:

* **E-value** (VanderWeele & Ding 2017, *Ann Intern Med* 167:268; R package ``EValue``
  4.1.3, ``threshold``/``evalues.RR``/``evalues.MD``): the minimum strength of
  association, on the risk-ratio scale, that an unmeasured confounder would need with
  both the treatment and the outcome to explain away the estimate. For a standardised
  mean difference d the risk ratio is approximated by RR ≈ exp(0.91·d) (VanderWeele 2017,
  *Epidemiology* 28:e58; Chinn 2000) and its CI by exp(0.91·d ± 1.78·se_d).
* **Robustness value** (Cinelli & Hazlett 2020, *JRSS-B* 82:39; R package ``sensemakr``
  0.1.6, ``robustness_value.numeric``/``ovb_partial_r2_bound.numeric``/
  ``adjusted_estimate``/``adjusted_se``): the partial R² an omitted variable would need
  with both treatment and outcome to bring the estimate (or its significance) to zero,
  and bounds on such a variable when it is "k times as strong" as an observed covariate.

All functions are pure; the sensemakr functions take the OLS t statistic (or estimate
and SE) with its residual degrees of freedom.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from .. import StudyError
from .moderation import _ols  # the project's OLS with the classical covariance

__all__ = [
    "evalue_rr",
    "evalue_ci_rr",
    "evalues_rr",
    "evalues_smd",
    "partial_r2",
    "partial_f2",
    "robustness_value",
    "extreme_robustness_value",
    "group_partial_r2",
    "benchmark_partial_r2",
    "ovb_partial_r2_bound",
    "bias",
    "adjusted_estimate",
    "adjusted_se",
    "benchmark_bounds",
    "sensitivity_table",
    "SENSITIVITY_COLUMNS",
]

# RR ≈ exp(0.91·d) and the CI half-width 1.78·se_d (= 0.91 · 1.96, rounded as in EValue)
SMD_TO_LOG_RR = 0.91
SMD_CI_FACTOR = 1.78

SENSITIVITY_COLUMNS = ["outcome", "contrast", "model", "estimate", "g", "evalue",
                       "evalue_ci", "rv", "rv_alpha"]


# ---------------------------------------------------------------- E-values

def evalue_rr(rr: float, true: float = 1.0) -> float:
    """E-value of a single risk ratio (EValue ``threshold``).

    For RR ≥ 1 (null ``true`` = 1): E = RR + √(RR·(RR − 1)); an RR < 1 is inverted
    first (RR → 1/RR, true → 1/true). For a non-null true value: E = (RR + √(RR·(RR −
    true)))/true when true ≤ RR, and with ρ = true/RR > 1, E = ρ + √(ρ·(ρ − 1)) when the
    true value lies beyond the estimate (VanderWeele & Ding 2017, eq. for E-values;
    EValue 4.1.3 R/EValue.R ``threshold``). NaN in → NaN out.
    """
    x, t = float(rr), float(true)
    if not math.isfinite(x) or x <= 0 or not math.isfinite(t) or t <= 0:
        return float("nan")
    if x <= 1:
        x, t = 1.0 / x, 1.0 / t
    if t <= x:
        return (x + math.sqrt(x * (x - t))) / t
    rat = t / x
    return rat + math.sqrt(rat * (rat - 1.0))


def evalue_ci_rr(est: float, lo: float, hi: float, true: float = 1.0) -> float:
    """E-value of the CI limit closer to the true value (EValue ``evalues.RR``).

    The limit on the estimate's side of ``true`` (``lo`` when est > true, ``hi`` when
    est < true) gets its own E-value; it is 1 when the CI includes ``true`` and when the
    estimate equals it.
    """
    est, lo, hi = float(est), float(lo), float(hi)
    if not math.isfinite(est):
        return float("nan")
    if est == true:
        return 1.0
    limit = lo if est > true else hi
    if not math.isfinite(limit):
        return float("nan")
    if (est > true and limit < true) or (est < true and limit > true):
        return 1.0
    return evalue_rr(limit, true)


def evalues_rr(est: float, lo: float = float("nan"), hi: float = float("nan"),
               true: float = 1.0) -> dict:
    """E-values of a risk ratio and of its CI limit closer to the null.

    Returns ``{"rr", "rr_lo", "rr_hi", "evalue", "evalue_ci"}``; ``evalue_ci`` is NaN
    without the relevant CI limit.
    """
    return {"rr": float(est), "rr_lo": float(lo), "rr_hi": float(hi),
            "evalue": evalue_rr(est, true), "evalue_ci": evalue_ci_rr(est, lo, hi, true)}


def evalues_smd(d: float, se: float = float("nan"), true: float = 0.0) -> dict:
    """E-values of a standardised mean difference d with standard error se (EValue ``evalues.MD``).

    RR = exp(0.91·d), CI exp(0.91·d ± 1.78·se), true → exp(0.91·true), then
    :func:`evalues_rr` (VanderWeele 2017, *Epidemiology* 28:e58; Chinn 2000,
    *Stat Med* 19:3127).
    """
    d, se = float(d), float(se)
    if math.isfinite(se) and se < 0:
        raise StudyError(f"E-value: the standard error cannot be negative (se = {se})")
    rr = math.exp(SMD_TO_LOG_RR * d) if math.isfinite(d) else float("nan")
    lo = hi = float("nan")
    if math.isfinite(se) and math.isfinite(d):
        lo = math.exp(SMD_TO_LOG_RR * d - SMD_CI_FACTOR * se)
        hi = math.exp(SMD_TO_LOG_RR * d + SMD_CI_FACTOR * se)
    return evalues_rr(rr, lo, hi, math.exp(SMD_TO_LOG_RR * true))


# ------------------------------------------------ partial R² and robustness values

def partial_r2(t, dof):
    """Partial R² of a coefficient from its t statistic: R²_{Y~D|X} = t²/(t² + df)."""
    t = np.asarray(t, dtype=float)
    return t ** 2 / (t ** 2 + np.asarray(dof, dtype=float))


def partial_f2(t, dof):
    """Partial Cohen's f² of a coefficient: f² = t²/df."""
    return np.asarray(t, dtype=float) ** 2 / np.asarray(dof, dtype=float)


def _critical_f(alpha: float, dof: float) -> float:
    # sensemakr takes the critical t at df − 1: the confounder costs one degree of freedom
    return abs(stats.t.ppf(alpha / 2.0, dof - 1.0)) / math.sqrt(dof - 1.0)


def _check_rv_args(q: float, alpha: float) -> None:
    if not (q >= 0):
        raise StudyError(f"robustness value: q must be a number ≥ 0 (q = {q})")
    if not (0 <= alpha <= 1):
        raise StudyError(f"robustness value: alpha must lie in [0, 1] (alpha = {alpha})")


def extreme_robustness_value(t: float, dof: float, q: float = 1.0, alpha: float = 0.05) -> float:
    """Extreme robustness value XRV_{q,α} (sensemakr ``extreme_robustness_value.numeric``).

    The partial R² of a confounder with the treatment that, explaining all residual
    outcome variance, brings the estimate to (1 − q)·estimate, or its CI to include it:
    with f_q² = (q·|t|/√df)² and f*² = (|t*_{α/2, df−1}|/√(df − 1))²,
    XRV = (f_q² − f*²)/(1 + f_q²), and 0 when f_q² ≤ f*². NaN when df is not finite
    or < 2 (sensemakr requires df ≥ 2).
    """
    _check_rv_args(q, alpha)
    t, dof = float(t), float(dof)
    if not (math.isfinite(t) and math.isfinite(dof)) or dof < 2:
        return float("nan")
    fq2 = (q * abs(t / math.sqrt(dof))) ** 2
    fcrit2 = _critical_f(alpha, dof) ** 2
    if fq2 <= fcrit2:
        return 0.0
    return (fq2 - fcrit2) / (1.0 + fq2)


def robustness_value(t: float, dof: float, q: float = 1.0, alpha: float = 0.05) -> float:
    """Robustness value RV_{q,α} (Cinelli & Hazlett 2020, §4.2 and eq. 19; sensemakr ``robustness_value.numeric``).

    f_q = q·|t|/√df (the partial Cohen's f of the treatment, scaled by q);
    f* = |t*_{α/2, df−1}|/√(df − 1) (f* = 0 for α = 1); f_{q,α} = f_q − f*.
    * f_{q,α} < 0 (already not significant): RV = 0;
    * otherwise RV = ½(√(f_{q,α}⁴ + 4f_{q,α}²) − f_{q,α}²), computed in the stable form
      2/(1 + √(1 + 4/f_{q,α}²));
    * when f_{q,α} > 0 and f_q > 1/f* the bound R²_{Y~Z|D,X} ≤ 1 binds and the RV is the
      extreme robustness value (:func:`extreme_robustness_value`).
    RV_q (point estimate) is ``alpha=1``. NaN when df is not finite or < 2.
    """
    _check_rv_args(q, alpha)
    t, dof = float(t), float(dof)
    if not (math.isfinite(t) and math.isfinite(dof)) or dof < 2:
        return float("nan")
    fq = q * abs(t / math.sqrt(dof))
    fcrit = _critical_f(alpha, dof)
    fqa = fq - fcrit
    if fqa <= 0:
        # fqa = 0 gives 2/(1 + ∞) = 0 in sensemakr as well
        return 0.0
    if fcrit > 0 and fq > 1.0 / fcrit:
        return extreme_robustness_value(t, dof, q, alpha)
    return 2.0 / (1.0 + math.sqrt(1.0 + 4.0 / fqa ** 2))


# ------------------------------------------------------------- benchmark bounds

def _check_r2(name: str, value: float) -> None:
    if not (0 <= value <= 1):
        raise StudyError(f"sensitivity bounds: {name} must be a partial R² in [0, 1] "
                         f"(got {value})")


def group_partial_r2(beta, cov, dof: float) -> float:
    """Partial R² of a group of p coefficients (sensemakr ``group_partial_r2``).

    F = β'V⁻¹β/p with V the classical OLS covariance of the group, R² = F·p/(F·p + df);
    for one coefficient this is t²/(t² + df).
    """
    b = np.atleast_1d(np.asarray(beta, dtype=float))
    v = np.atleast_2d(np.asarray(cov, dtype=float))
    fp = float(b @ np.linalg.solve(v, b))
    return fp / (fp + float(dof))


def benchmark_partial_r2(y, X, names, treatment: str, benchmark) -> dict:
    """The benchmark's partial R²s from the OLS design, as sensemakr ``ovb_partial_r2_bound.lm``.

    ``X`` is the full design matrix (intercept included) with column ``names``;
    ``benchmark`` is one column name or a list (a categorical covariate's dummies, taken
    as a group). Returns ``r2yxj_dx`` = R²_{Y~X_j|X_{−j},D} from y ~ X and ``r2dxj_x`` =
    R²_{D~X_j|X_{−j}} from the treatment column regressed on the other columns, both
    via :func:`group_partial_r2` with classical OLS covariances.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    names = list(names)
    bench = [benchmark] if isinstance(benchmark, str) else list(benchmark)
    unknown = [b for b in bench + [treatment] if b not in names]
    if unknown:
        raise StudyError(f"sensitivity benchmark: column(s) {unknown} not in the model")
    beta, cov, dof, _ = _ols(X, y, None)
    ib = [names.index(b) for b in bench]
    r2y = group_partial_r2(beta[ib], cov[np.ix_(ib, ib)], dof)
    keep = [i for i, n in enumerate(names) if n != treatment]
    names_d = [names[i] for i in keep]
    beta_d, cov_d, dof_d, _ = _ols(X[:, keep], X[:, names.index(treatment)], None)
    ibd = [names_d.index(b) for b in bench]
    r2d = group_partial_r2(beta_d[ibd], cov_d[np.ix_(ibd, ibd)], dof_d)
    return {"r2yxj_dx": r2y, "r2dxj_x": r2d}


def ovb_partial_r2_bound(r2dxj_x: float, r2yxj_dx: float, kd: float = 1.0,
                         ky: float | None = None) -> dict:
    """Bounds on a confounder Z "kd/ky times as strong" as covariate X_j (sensemakr ``ovb_partial_r2_bound.numeric``).

    Inputs: R²_{D~X_j|X_{−j}} (``r2dxj_x``, benchmark with the treatment) and
    R²_{Y~X_j|X_{−j},D} (``r2yxj_dx``, with the outcome). Cinelli & Hazlett 2020, §6.1,
    eq. 28 and footnote 10:
        R²_{D~Z|X} = kd · r2dxj_x / (1 − r2dxj_x),
        η² = kd · r2dxj_x² / ((1 − kd·r2dxj_x)(1 − r2dxj_x)),
        R²_{Y~Z|X,D} = ((√ky + √η²)/√(1 − η²))² · r2yxj_dx / (1 − r2yxj_dx),
    capped at 1 (sensemakr warns and caps). ``ky`` defaults to ``kd``. An impossible
    kd (R²_{D~Z|X} ≥ 1 or η² ≥ 1) is a :class:`StudyError`.
    Returns ``{"r2dz_x", "r2yz_dx", "capped"}``.
    """
    ky = kd if ky is None else ky
    _check_r2("r2dxj_x", r2dxj_x)
    _check_r2("r2yxj_dx", r2yxj_dx)
    if r2dxj_x >= 1:
        raise StudyError("sensitivity bounds: a benchmark covariate with partial R² = 1 "
                         "with the treatment cannot be scaled")
    r2dz_x = kd * r2dxj_x / (1.0 - r2dxj_x)
    if r2dz_x >= 1:
        raise StudyError(f"sensitivity bounds: kd = {kd} implies R²(D~Z|X) ≥ 1; "
                         "choose a smaller kd")
    eta2 = kd * r2dxj_x ** 2 / ((1.0 - kd * r2dxj_x) * (1.0 - r2dxj_x))
    if eta2 >= 1:
        raise StudyError(f"sensitivity bounds: kd = {kd} is impossible for this benchmark; "
                         "choose a smaller kd")
    odds_y = r2yxj_dx / (1.0 - r2yxj_dx) if r2yxj_dx < 1 else math.inf
    r2yz_dx = ((math.sqrt(ky) + math.sqrt(eta2)) / math.sqrt(1.0 - eta2)) ** 2 * odds_y
    capped = r2yz_dx > 1
    return {"r2dz_x": r2dz_x, "r2yz_dx": min(r2yz_dx, 1.0), "capped": bool(capped)}


def bias(se: float, dof: float, r2dz_x: float, r2yz_dx: float) -> float:
    """Omitted-variable bias |β̂ − β| = √(R²_{Y~Z|D,X}·R²_{D~Z|X}/(1 − R²_{D~Z|X})) · se · √df.

    Cinelli & Hazlett 2020, eq. 12 (sensemakr ``bias.numeric``, ``bf``).
    """
    return math.sqrt(r2yz_dx * r2dz_x / (1.0 - r2dz_x)) * se * math.sqrt(dof)


def adjusted_estimate(estimate: float, se: float, dof: float, r2dz_x: float,
                      r2yz_dx: float) -> float:
    """Estimate after removing the bias towards zero: sign(β̂)·(|β̂| − bias) (sensemakr, reduce = TRUE)."""
    sign = -1.0 if estimate < 0 else 1.0
    return sign * (abs(estimate) - bias(se, dof, r2dz_x, r2yz_dx))


def adjusted_se(se: float, dof: float, r2dz_x: float, r2yz_dx: float) -> float:
    """SE of the adjusted estimate: √(1 − R²_{Y~Z|D,X})/√(1 − R²_{D~Z|X}) · se · √(df/(df − 1)).

    Cinelli & Hazlett 2020, eq. 13 (sensemakr ``adjusted_se.numeric``).
    """
    return math.sqrt(1.0 - r2yz_dx) / math.sqrt(1.0 - r2dz_x) * se * math.sqrt(dof / (dof - 1.0))


def benchmark_bounds(estimate: float, se: float, dof: float, r2dxj_x: float,
                     r2yxj_dx: float, kd=(1.0,), ky=None, alpha: float = 0.05,
                     benchmark: str = "benchmark") -> pd.DataFrame:
    """sensemakr ``ovb_bounds`` for one benchmark covariate and several multipliers kd.

    One row per kd with ``bound_label`` ("2x migration_background"), ``kd``, ``ky``,
    ``r2dz_x``, ``r2yz_dx``, ``adjusted_estimate``, ``adjusted_se``, ``adjusted_t``
    (= adjusted estimate / adjusted SE) and ``adjusted_ci_low``/``adjusted_ci_high`` =
    adjusted estimate ∓ t_{1−α/2, df} · adjusted SE (df, not df − 1, as in ``ovb_bounds``).
    ``ky`` defaults to each kd.
    """
    rows = []
    tcrit = stats.t.ppf(1.0 - alpha / 2.0, dof)
    for k in np.atleast_1d(kd):
        k = float(k)
        k_y = k if ky is None else float(ky)
        b = ovb_partial_r2_bound(r2dxj_x, r2yxj_dx, k, k_y)
        est = adjusted_estimate(estimate, se, dof, b["r2dz_x"], b["r2yz_dx"])
        sea = adjusted_se(se, dof, b["r2dz_x"], b["r2yz_dx"])
        label = f"{k:g}x {benchmark}" if k_y == k else f"{k:g}/{k_y:g}x {benchmark}"
        rows.append({"bound_label": label, "kd": k, "ky": k_y, "r2dz_x": b["r2dz_x"],
                     "r2yz_dx": b["r2yz_dx"], "adjusted_estimate": est, "adjusted_se": sea,
                     "adjusted_t": est / sea if sea > 0 else float("nan"),
                     "adjusted_ci_low": est - tcrit * sea,
                     "adjusted_ci_high": est + tcrit * sea})
    return pd.DataFrame(rows)


# -------------------------------------------------------------- the tidy table

def sensitivity_table(did_rows: pd.DataFrame, alpha: float = 0.05, q: float = 1.0) -> pd.DataFrame:
    """The ``sensitivity`` table: E-values and robustness values per DiD estimate.

    ``did_rows`` needs ``outcome``, ``contrast``, ``model``, ``estimate``, ``se``, ``df``
    and ``g`` (further columns such as ``ci_low``/``ci_high`` are ignored).
    * ``evalue``/``evalue_ci``: :func:`evalues_smd` with d = g and se_d = se·|g/estimate|
      (the SE on the g scale: g is the estimate times ω/S). For an estimate of exactly
      0 both are 1 (the estimate is at the null).
    * ``rv`` = RV_{q,α=1} and ``rv_alpha`` = RV_{q,α} from t = estimate/se on the row's
      residual df. sensemakr's RV is defined for OLS with its residual df; for a row
      whose df is infinite or missing (a z-based estimate) or < 2, ``rv`` and
      ``rv_alpha`` stay NaN rather than borrowing an n-based df.
    """
    need = ["outcome", "contrast", "model", "estimate", "se", "df", "g"]
    missing = [c for c in need if c not in did_rows.columns]
    if missing:
        raise StudyError(f"sensitivity table: the DiD rows lack column(s) {missing}")
    out = []
    for r in did_rows.itertuples(index=False):
        est, se, dof, g = (float(getattr(r, c)) for c in ("estimate", "se", "df", "g"))
        if est == 0:
            ev, ev_ci = 1.0, 1.0
        elif math.isfinite(est) and math.isfinite(g) and math.isfinite(se) and se >= 0:
            e = evalues_smd(g, se * abs(g / est))
            ev, ev_ci = e["evalue"], e["evalue_ci"]
        else:
            ev = ev_ci = float("nan")
        t = est / se if se > 0 else float("nan")
        out.append({"outcome": r.outcome, "contrast": r.contrast, "model": r.model,
                    "estimate": est, "g": g, "evalue": ev, "evalue_ci": ev_ci,
                    "rv": robustness_value(t, dof, q, alpha=1.0),
                    "rv_alpha": robustness_value(t, dof, q, alpha=alpha)})
    return pd.DataFrame(out, columns=SENSITIVITY_COLUMNS)
