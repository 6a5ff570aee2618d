"""Meta-analysis of effects across cohorts (issue 14 item 2): metafor's ``rma`` in numpy.

One cohort contributes an effect ``yi`` (its Hedges' g, or the raw DiD) with sampling
variance ``vi``. The random-effects model is yi = x_i'β + u_i + e_i, u_i ~ N(0, τ²),
e_i ~ N(0, vi); the equal-effect ("FE") model sets τ² = 0. With W = diag(1/(vi + τ²)) and
P = W − WX(X'WX)⁻¹X'W (Viechtbauer 2005, *J. Educ. Behav. Stat.* 30:261):

- REML τ² by Fisher scoring as metafor ``rma.uni``: start at the Hedges (HE) estimate
  max(0, (y'(I − H)y − tr((I − H)V)) / (k − p)), step Δ = (y'PPy − tr P) / tr(PP), the step
  halved while τ² + Δ < 0 (τ² truncated at 0), stop when |Δ| ≤ ``threshold``; then, as
  metafor, τ² = 0 if the restricted log likelihood at 0 beats the one at the estimate by
  more than ε^¼. SE(τ̂²) = √(2 / tr(PP)). metafor's default threshold is 1e-5; here 1e-10.
- β̂ = (X'WX)⁻¹X'Wy, Var(β̂) = (X'WX)⁻¹; ``test="z"``: normal quantiles.
- Knapp–Hartung (``test="knha"``; Knapp & Hartung 2003, *Stat. Med.* 22:2693; HKSJ, IntHout
  et al. 2014, *BMC Med. Res. Methodol.* 14:25): Var(β̂) is multiplied by
  s² = Σ w_i (y_i − x_i'β̂)² / (k − p) and tests and CIs use t(k − p) and, for several
  coefficients, QM/m ~ F(m, k − p). The "ad hoc" rule (metafor ``test="adhoc"``, the name
  in metafor 3.8; Röver et al. 2015, *BMC Med. Res. Methodol.* 15:99; Jackson et al. 2017)
  uses max(1, s²) so the CI is never narrower than the one with the known-variance SE.
- Heterogeneity: Q = y'P₀y with P₀ the P of the FE weights 1/vi, df k − p (Cochran 1954).
  With the typical within-cohort variance ṽ = (k − p)/tr P₀ (Higgins & Thompson 2002,
  *Stat. Med.* 21:1539): I² = 100·τ²/(ṽ + τ²) and H² = (τ² + ṽ)/ṽ for the random-effects
  model, I² = 100·max(0, (Q − df)/Q) and H² = Q/df for the FE model (metafor's choices).
- Q-profile CI of τ² (Viechtbauer 2007, *Stat. Med.* 26:37; metafor ``confint``): the τ²
  where Q(τ²) = y'P(τ²)y equals the χ²(k − p) quantiles 1 − α/2 (lower bound) and α/2
  (upper bound), searched in [0, max(100, 10τ̂²)]; a bound is 0 when Q(0) is already
  below its quantile (both are 0 when Q(0) < χ²_{α/2}).
- Prediction interval for the effect in a new cohort (Higgins, Thompson & Spiegelhalter
  2009, *J. R. Stat. Soc. A* 172:137; Riley et al. 2011, *BMJ* 342:d549; metafor
  ``predict``): μ̂ ± c·√(SE(μ̂)² + τ̂²), c the t(k − p) quantile under knha/adhoc, else z.
- Meta-regression: R² = max(0, 100·(τ²_RE − τ²_res)/τ²_RE), τ²_RE of the model without
  moderators (Raudenbush 2009; metafor's default), 0 when τ²_RE = 0.

With k = 1 metafor switches to the z test and τ² = 0; so does :func:`rma`. I², H² and R²
are percentages / ratios on metafor's scales. Checked against metafor 3.8.1 in
tests/test_meta.py (tests/reference/meta_reference.R).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .. import StudyError

__all__ = ["MetaFit", "rma", "cumulative", "pooled_table", "cumulative_table", "trend_table",
           "POOLED_COLUMNS", "CUMULATIVE_COLUMNS", "TREND_COLUMNS", "COEFFICIENT_COLUMNS"]

POOLED_COLUMNS = ["outcome", "contrast", "k", "estimate", "se", "ci_low", "ci_high", "pi_low",
                  "pi_high", "tau2", "tau2_ci_low", "tau2_ci_high", "i2", "q", "q_p", "method",
                  "h2", "q_df", "note"]
CUMULATIVE_COLUMNS = ["outcome", "contrast", "cohort", "k", "estimate", "ci_low", "ci_high", "tau2",
                      "i2"]
TREND_COLUMNS = ["outcome", "contrast", "term", "estimate", "se", "df", "t", "p", "ci_low", "ci_high",
                 "tau2", "r2", "k", "note"]
COEFFICIENT_COLUMNS = ["term", "estimate", "se", "stat", "df", "p", "ci_low", "ci_high"]
_EPS = np.finfo(float).eps


def _columns(by, columns: list) -> list:
    """A table's columns with the grouping columns ``by`` in place of outcome, contrast."""
    return [*by, *(c for c in columns if c not in ("outcome", "contrast"))]


@dataclass(frozen=True)
class MetaFit:
    """One fitted model, as metafor's ``rma.uni`` object plus ``predict`` and ``confint``.

    ``estimate`` … ``ci_high`` are those of the first coefficient (the pooled effect without
    moderators, the intercept with them); ``coefficients`` has every term
    (:data:`COEFFICIENT_COLUMNS`; ``stat`` is t under knha/adhoc, z otherwise). ``df`` = k − p
    for t tests, NaN for z. ``pi_low``/``pi_high`` only without moderators (NaN otherwise);
    ``tau2_ci_*`` NaN for FE and k ≤ p; ``r2`` NaN without moderators or for FE.
    """
    method: str
    test: str
    level: float
    k: int
    estimate: float
    se: float
    stat: float
    p: float
    df: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    se_tau2: float
    tau2_ci_low: float
    tau2_ci_high: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_p: float
    qm: float
    qm_df: tuple
    qm_p: float
    s2w: float
    r2: float
    coefficients: pd.DataFrame = field(compare=False, repr=False)


def _p_matrix(w: np.ndarray, X: np.ndarray) -> np.ndarray:
    """P = W − WX(X'WX)⁻¹X'W for the weights w."""
    WX = X * w[:, None]
    return np.diag(w) - WX @ np.linalg.solve(X.T @ WX, WX.T)


def _restricted_loglik(y, v, X, tau2) -> float:
    """REML log likelihood up to a constant: −½[Σ log(vi + τ²) + log|X'WX| + RSS]."""
    w = 1.0 / (v + tau2)
    A = X.T @ (X * w[:, None])
    b = np.linalg.solve(A, X.T @ (w * y))
    return -0.5 * (np.log(v + tau2).sum() + np.linalg.slogdet(A)[1] + np.sum(w * (y - X @ b) ** 2))


def _reml_tau2(y, v, X, threshold: float, maxiter: int) -> float:
    """REML τ² by Fisher scoring, metafor's algorithm (see the module docstring)."""
    k, p = X.shape
    P_ols = np.eye(k) - X @ np.linalg.solve(X.T @ X, X.T)
    tau2 = max(0.0, (y @ P_ols @ y - np.sum(np.diag(P_ols) * v)) / (k - p))
    for _ in range(maxiter):
        P = _p_matrix(1.0 / (v + tau2), X)
        PP = P @ P
        step = (y @ PP @ y - np.trace(P)) / np.trace(PP)
        if tau2 == 0.0 and step < 0:
            step = 0.0  # metafor halves the step until it underflows to 0
        while tau2 + step < 0:
            step /= 2
        tau2, change = tau2 + step, abs(step)
        if change <= threshold:
            break
    else:
        raise RuntimeError(f"REML Fisher scoring did not converge in {maxiter} iterations")
    if (tau2 > threshold and _restricted_loglik(y, v, X, 0.0) - _restricted_loglik(y, v, X, tau2)
            > _EPS ** 0.25):
        tau2 = 0.0  # metafor's check against a local maximum away from the boundary
    return tau2


def _q_profile(y, v, X, tau2: float, level: float, xtol: float) -> tuple[float, float]:
    """Q-profile CI of τ² (Viechtbauer 2007), with metafor ``confint``'s boundary rules."""
    df = X.shape[0] - X.shape[1]
    alpha = 1 - level
    crit_u, crit_l = stats.chi2.isf(alpha / 2, df), stats.chi2.ppf(alpha / 2, df)
    lo, hi = 0.0, max(100.0, 10 * tau2)

    def q_gen(t2):
        return y @ _p_matrix(1.0 / (v + t2), X) @ y

    q_lo, q_hi = q_gen(lo), q_gen(hi)
    if q_lo < crit_l:
        return 0.0, 0.0
    ub = hi if q_hi > crit_l else optimize.brentq(lambda t: q_gen(t) - crit_l, lo, hi, xtol=xtol)
    if q_hi > crit_u:
        return hi, hi
    lb = lo if q_lo < crit_u else optimize.brentq(lambda t: q_gen(t) - crit_u, lo, hi, xtol=xtol)
    return lb, ub


def _design(yi, vi, mods, terms) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple]:
    y = np.asarray(yi, float).ravel()
    v = np.asarray(vi, float).ravel()
    if y.shape != v.shape or y.size == 0:
        raise StudyError(f"rma: yi and vi need the same, non-zero length (got {y.size} and {v.size})")
    bad = np.flatnonzero(~np.isfinite(y) | ~np.isfinite(v) | (v <= 0))
    if bad.size:
        i = bad[0]
        raise StudyError(f"rma: effect {i + 1} has yi = {y[i]}, vi = {v[i]}; yi must be finite and vi > 0")
    if mods is None:
        return y, v, np.ones((y.size, 1)), ("intercept",)
    M = np.asarray(mods, float).reshape(y.size, -1)
    names = list(terms) if terms is not None else [f"mod{j + 1}" for j in range(M.shape[1])]
    if len(names) != M.shape[1]:
        raise StudyError(f"rma: {len(names)} term name(s) for {M.shape[1]} moderator column(s)")
    X = np.column_stack([np.ones(y.size), M])
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise StudyError(f"rma: the moderator(s) {names} do not vary (or are collinear) over the effects")
    return y, v, X, ("intercept", *map(str, names))


def rma(yi, vi, *, method: str = "REML", test: str = "knha", ad_hoc: bool = False,
        level: float = 0.95, mods=None, terms=None, threshold: float = 1e-10,
        maxiter: int = 1000, qp_xtol: float = 1e-12) -> MetaFit:
    """metafor ``rma(yi, vi, mods, method, test, level)`` with ``predict`` and ``confint``.

    ``method`` "REML" (random effects) or "FE" (equal effect, τ² = 0); ``test`` "knha"
    (Knapp–Hartung), "adhoc" (metafor 3.8's name for Knapp–Hartung with s² ≥ 1; the same as
    ``ad_hoc=True``) or "z". ``mods``: a vector or k × m matrix of moderators (an intercept
    is added, as ``mods = ~ year``); ``terms`` names their columns (default mod1, mod2, …).
    Formulas and sources in the module docstring. Raises :class:`StudyError` for a non-finite
    yi, a vi ≤ 0, too few effects or moderators that do not vary.
    """
    if method not in ("REML", "FE") or test not in ("knha", "adhoc", "z"):
        raise StudyError(f"rma: method must be REML or FE and test knha, adhoc or z (got {method}, {test})")
    test = "adhoc" if ad_hoc and test == "knha" else test
    y, v, X, names = _design(yi, vi, mods, terms)
    k, p = X.shape
    if k < p + (method == "REML") and not (p == 1 and k == 1):  # metafor's rule
        raise StudyError(f"rma: {k} effects are too few for {p} coefficient(s) and method {method}")
    if k == 1:
        test = "z"  # as metafor: no residual df for a t test
    tau2 = 0.0 if method == "FE" or k == 1 else _reml_tau2(y, v, X, threshold, maxiter)
    w = 1.0 / (v + tau2)
    A = X.T @ (X * w[:, None])
    vb = np.linalg.inv(A)
    beta = vb @ (X.T @ (w * y))
    s2w = 1.0
    if test in ("knha", "adhoc"):
        rss = np.sum(w * (y - X @ beta) ** 2)
        s2w = 0.0 if rss <= _EPS else rss / (k - p)
        if test == "adhoc":
            s2w = max(s2w, 1.0)
    vb = s2w * vb
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):  # s² = 0 (identical effects): se 0 as metafor
        stat = beta / se
    alpha = 1 - level
    btt = np.arange(1, p) if p > 1 else np.array([0])
    qm = float(beta[btt] @ np.linalg.solve(vb[np.ix_(btt, btt)], beta[btt]))
    if test == "z":
        df, crit = np.nan, stats.norm.isf(alpha / 2)
        pval = 2 * stats.norm.sf(np.abs(stat))
        qm_df, qm_p = (btt.size,), float(stats.chi2.sf(qm, btt.size))
    else:
        df = float(k - p)
        crit = stats.t.isf(alpha / 2, df) if df > 0 else np.nan
        pval = 2 * stats.t.sf(np.abs(stat), df) if df > 0 else np.full(p, np.nan)
        qm /= btt.size
        qm_df = (btt.size, k - p)
        qm_p = float(stats.f.sf(qm, btt.size, k - p)) if k > p else np.nan
    ci_low, ci_high = beta - crit * se, beta + crit * se

    # heterogeneity with the FE weights (Cochran's Q); I², H² (Higgins & Thompson 2002)
    if k > p:
        P0 = _p_matrix(1.0 / v, X)
        q = max(0.0, float(y @ P0 @ y))
        q_p = float(stats.chi2.sf(q, k - p))
        vt = (k - p) / np.trace(P0)
        if method == "FE":
            i2 = max(0.0, 100 * (q - (k - p)) / q) if q > 0 else 0.0
            h2 = q / (k - p)
        else:
            i2, h2 = 100 * tau2 / (vt + tau2), tau2 / vt + 1
    else:
        q, q_p, i2, h2 = 0.0, 1.0, 0.0, 1.0

    se_tau2 = tau2_lo = tau2_hi = r2 = np.nan
    if method == "REML" and k > p:
        P = _p_matrix(w, X)
        se_tau2 = float(np.sqrt(2 / np.sum(P * P)))
        tau2_lo, tau2_hi = _q_profile(y, v, X, tau2, level, qp_xtol)
        if p > 1:
            tau2_re = rma(y, v, method="REML", test=test, level=level, threshold=threshold,
                          maxiter=maxiter, qp_xtol=qp_xtol).tau2
            r2 = 0.0 if tau2_re == 0 else max(0.0, 100 * (tau2_re - tau2) / tau2_re)
    pi_low = pi_high = np.nan
    if p == 1:
        half = crit * np.sqrt(se[0] ** 2 + tau2)
        pi_low, pi_high = beta[0] - half, beta[0] + half
    coefficients = pd.DataFrame({"term": names, "estimate": beta, "se": se, "stat": stat, "df": df,
                                 "p": pval, "ci_low": ci_low, "ci_high": ci_high})
    return MetaFit(method=method, test=test, level=level, k=k, estimate=float(beta[0]), se=float(se[0]),
                   stat=float(stat[0]), p=float(pval[0]), df=df, ci_low=float(ci_low[0]),
                   ci_high=float(ci_high[0]), pi_low=float(pi_low), pi_high=float(pi_high),
                   tau2=float(tau2), se_tau2=se_tau2, tau2_ci_low=float(tau2_lo),
                   tau2_ci_high=float(tau2_hi), i2=float(i2), h2=float(h2), q=q, q_df=k - p, q_p=q_p,
                   qm=qm, qm_df=qm_df, qm_p=qm_p, s2w=float(s2w), r2=float(r2),
                   coefficients=coefficients)


def cumulative(yi, vi, order=None, *, method: str = "REML", test: str = "knha",
               ad_hoc: bool = False, level: float = 0.95) -> pd.DataFrame:
    """Cumulative meta-analysis, metafor ``cumul(rma(...), order)``: the effects sorted by
    ``order`` (stable; input order if None), then the model refitted on the first 1, 2, …, k.

    Columns ``order`` (the sort key of the effect added last), ``k``, ``estimate``, ``se``,
    ``stat``, ``p``, ``ci_low``, ``ci_high``, ``q``, ``q_p``, ``tau2``, ``i2``, ``h2``; the
    first row (k = 1) is the first effect with its z interval, as metafor.
    """
    y = np.asarray(yi, float).ravel()
    v = np.asarray(vi, float).ravel()
    key = np.arange(y.size) if order is None else np.asarray(order)
    idx = np.argsort(key, kind="stable")
    rows = []
    for i in range(1, y.size + 1):
        f = rma(y[idx[:i]], v[idx[:i]], method=method, test=test, ad_hoc=ad_hoc, level=level)
        rows.append({"order": key[idx[i - 1]], "k": i, "estimate": f.estimate, "se": f.se,
                     "stat": f.stat, "p": f.p, "ci_low": f.ci_low, "ci_high": f.ci_high, "q": f.q,
                     "q_p": f.q_p, "tau2": f.tau2, "i2": f.i2, "h2": f.h2})
    return pd.DataFrame(rows, columns=["order", "k", "estimate", "se", "stat", "p", "ci_low",
                                       "ci_high", "q", "q_p", "tau2", "i2", "h2"])


def _cohort_groups(effects: pd.DataFrame, yi: str, vi: str | None, se: str | None, by, cohort):
    """({by: value}, usable rows sorted by cohort, left-out cohorts) per ``by`` group."""
    if (vi is None) == (se is None):
        raise StudyError("pass exactly one of vi= (sampling variance) or se= (standard error)")
    need = [*by, cohort, yi, vi or se]
    missing = [c for c in need if c not in effects.columns]
    if missing:
        raise StudyError(f"cohort effects: column(s) {missing} missing (have {list(effects.columns)})")
    d = effects[need].copy()
    d["_yi"] = pd.to_numeric(d[yi], errors="coerce")
    d["_vi"] = pd.to_numeric(d[vi], errors="coerce") if vi else pd.to_numeric(d[se], errors="coerce") ** 2
    d[cohort] = d[cohort].astype(str)
    for key, g in d.groupby(list(by), sort=False):
        key = key if isinstance(key, tuple) else (key,)
        twice = g[cohort][g[cohort].duplicated()]
        if len(twice):
            raise StudyError(f"cohort effects: cohort {twice.iloc[0]} appears twice for "
                             f"{', '.join(f'{b} {v}' for b, v in zip(by, key))}")
        g = g.sort_values(cohort, kind="stable")  # labels start with the year: time order
        ok = np.isfinite(g["_yi"]) & np.isfinite(g["_vi"]) & (g["_vi"] > 0)
        yield dict(zip(by, key)), g[ok], list(g.loc[~ok, cohort])


def _left_out_note(left_out: list) -> str:
    return (f"{len(left_out)} cohort(s) left out, effect or variance missing (or variance not positive): {', '.join(left_out)}"
            if left_out else "")


def pooled_table(effects: pd.DataFrame, *, yi: str = "yi", vi: str | None = "vi",
                 se: str | None = None, by=("outcome", "contrast"), cohort: str = "cohort",
                 level: float = 0.95, ad_hoc: bool = False) -> pd.DataFrame:
    """Table ``pooled``: per ``by`` group over the cohorts, one row per method —
    ``REML-KH`` (REML τ², Knapp–Hartung CI, prediction interval, Q-profile CI of τ²;
    ``REML-KH-adhoc`` with ``ad_hoc=True``) and ``FE`` (equal effect, z CI; τ² = 0, no PI).

    Columns :data:`POOLED_COLUMNS` (the contract's plus ``h2``, ``q_df``, ``note``); ``i2`` in
    percent. ``yi`` names the effect column and ``vi`` its variance, or ``se=`` its standard
    error (the raw DiD: ``yi="estimate", vi=None, se="se"``). Cohorts with a missing or
    non-positive variance are left out and counted in ``note``; with one cohort the row is
    that cohort's own estimate (z CI, not pooled); with two, τ² is estimated as metafor does
    and ``note`` says it can hardly be estimated.
    """
    rows = []
    for base, g, left_out in _cohort_groups(effects, yi, vi, se, by, cohort):
        k = len(g)
        notes = [_left_out_note(left_out)]
        if k == 1:
            notes.insert(0, f"one cohort ({g[cohort].iloc[0]}): its own estimate, not pooled")
        elif k == 2:
            notes.insert(0, "only 2 cohorts: the between-cohort variance tau2 cannot be estimated "
                            "with any precision (see tau2_ci_low to tau2_ci_high)")
        elif k == 0:
            notes.insert(0, "no cohort with an effect")
        note = "; ".join(n for n in notes if n)
        for label, method in ((("REML-KH-adhoc" if ad_hoc else "REML-KH"), "REML"), ("FE", "FE")):
            row = {**base, "k": k, "method": label, "note": note}
            if k:
                f = rma(g["_yi"], g["_vi"], method=method, test="knha" if method == "REML" else "z",
                        ad_hoc=ad_hoc, level=level)
                pooled = k > 1
                row.update(estimate=f.estimate, se=f.se, ci_low=f.ci_low, ci_high=f.ci_high,
                           pi_low=f.pi_low if pooled and method == "REML" else np.nan,
                           pi_high=f.pi_high if pooled and method == "REML" else np.nan,
                           tau2=f.tau2 if pooled else np.nan, tau2_ci_low=f.tau2_ci_low,
                           tau2_ci_high=f.tau2_ci_high, i2=f.i2 if pooled else np.nan,
                           h2=f.h2 if pooled else np.nan, q=f.q if pooled else np.nan,
                           q_df=f.q_df, q_p=f.q_p if pooled else np.nan)
            rows.append(row)
    return pd.DataFrame(rows, columns=_columns(by, POOLED_COLUMNS))


def cumulative_table(effects: pd.DataFrame, *, yi: str = "yi", vi: str | None = "vi",
                     se: str | None = None, by=("outcome", "contrast"), cohort: str = "cohort",
                     level: float = 0.95, ad_hoc: bool = False) -> pd.DataFrame:
    """Table ``cumulative``: :func:`cumulative` (REML, Knapp–Hartung) per ``by`` group in
    cohort order; ``cohort`` is the cohort added last. Columns :data:`CUMULATIVE_COLUMNS`
    (``i2`` in percent). Cohorts without an effect are skipped (:func:`pooled_table` counts them)."""
    out = []
    for base, g, _ in _cohort_groups(effects, yi, vi, se, by, cohort):
        if len(g):
            c = cumulative(g["_yi"], g["_vi"], g[cohort].to_numpy(), level=level, ad_hoc=ad_hoc)
            out.append(c.rename(columns={"order": "cohort"}).assign(**base))
    columns = _columns(by, CUMULATIVE_COLUMNS)
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)


def cohort_year(label: str) -> int:
    """The year of a cohort label: its first four digits ("2019-2020" → 2019)."""
    m = re.match(r"\s*(\d{4})", str(label))
    if not m:
        raise StudyError(f"cohort {label!r}: a cohort label must start with its year, e.g. 2019-2020")
    return int(m.group(1))


def trend_table(effects: pd.DataFrame, *, yi: str = "yi", vi: str | None = "vi",
                se: str | None = None, by=("outcome", "contrast"), cohort: str = "cohort",
                level: float = 0.95, ad_hoc: bool = False) -> pd.DataFrame:
    """Table ``trend``: meta-regression on the cohort year, metafor
    ``rma(yi, vi, mods = ~ year, method = "REML", test = "knha")``; terms ``intercept`` (the
    effect in year 0, as R) and ``year`` (change per year). ``t``, ``df`` = k − 2 and ``p`` under
    Knapp–Hartung; ``tau2`` is the residual τ², ``r2`` the percentage of τ² explained. Columns
    :data:`TREND_COLUMNS`; with fewer than 3 cohorts the row is NaN with a ``note``."""
    rows = []
    for base, g, left_out in _cohort_groups(effects, yi, vi, se, by, cohort):
        k, note = len(g), _left_out_note(left_out)
        year = np.array([cohort_year(c) for c in g[cohort]], float)
        if k < 3 or np.unique(year).size < 2:
            note = "; ".join(filter(None, [f"{k} cohort(s) in {np.unique(year).size} year(s): too few "
                                           "for a trend (3 cohorts in 2 or more years needed)", note]))
            rows += [{**base, "term": t, "k": k, "note": note} for t in ("intercept", "year")]
            continue
        f = rma(g["_yi"], g["_vi"], method="REML", test="knha", ad_hoc=ad_hoc, level=level,
                mods=year, terms=["year"])
        for r in f.coefficients.itertuples():
            rows.append({**base, "term": r.term, "estimate": r.estimate, "se": r.se, "df": r.df,
                         "t": r.stat, "p": r.p, "ci_low": r.ci_low, "ci_high": r.ci_high,
                         "tau2": f.tau2, "r2": f.r2, "k": k, "note": note})
    return pd.DataFrame(rows, columns=_columns(by, TREND_COLUMNS))
