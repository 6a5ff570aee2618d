"""Were the groups comparable? Covariate balance and weights for the ATT.

The mentees are the target population (the ATT): every statistic here compares the
control group, unweighted and weighted, with the mentees as they are.

Balance statistics follow the R package cobalt (Greifer; ``bal.tab`` with
``s.d.denom = "treated"``, ``binary = "raw"``; functions ``col_w_smd``, ``col_w_vr``,
``col_w_ks`` and the internal ``col.w.v`` in R/balance-summary.R and R/utils.R,
github ngreifer/cobalt, read at commit 3917ee7):

* SMD = (x̄_t − x̄_c) / s_t, with s_t the SD of the mentees on the *unweighted* sample,
  divisor n_t − 1 (``col.w.v`` with unit weights: Σw̃(x − x̄)²/(1 − Σw̃²), w̃ = 1/n, which
  is Σ(x − x̄)²/(n − 1)). Weighted, only the means change; the denominator stays
  (Stuart 2010). A zero difference is 0; when s_t = 0 cobalt falls back to the SD of
  the whole sample.
* Binary covariates (two distinct values; a two-level factor) get one row, the
  indicator of the second level (cobalt: ``factor`` levels sorted, ``splitfactor(...,
  drop.first = "if2")``); their "SMD" is the raw difference in proportions (cobalt's
  default ``binary = "raw"``), flagged by ``type = "binary"``. Covariates with more
  than two categories get one row per level, each a binary indicator.
* Variance ratio = var_t / var_c (treated over control, ``col_w_vr``), with the
  weighted variance Σw̃(x − x̄_w)²/(1 − Σw̃²), w̃ = w/Σw ("reliability weights"; equal
  to the n − 1 variance for equal weights). Not computed for binary rows.
* KS = max_x |F_t(x) − F_c(x)| with the weighted eCDFs F_g(x) = Σ_{i∈g, x_i ≤ x} w_i /
  Σ_{i∈g} w_i (``col_w_ks``, the twang method); for binary rows |p_t − p_c|.

Missing values: each statistic of a covariate uses the pupils with a value on that
covariate (cobalt's ``na.rm = TRUE``; weights renormalised within the group). As cobalt
does, a covariate with missing values gets an extra binary row ``level = "missing"``:
the proportion missing per group, so that a difference in missingness is visible.

Weights: entropy balancing (Hainmueller 2012, *Political Analysis* 20:25–46) solved
by Newton's method on its convex dual, and logistic-regression propensity scores with
ATT weights e/(1 − e) (Hirano, Imbens & Ridder 2003; WeightIt's ``get_w_from_ps``).
The effective sample size is Kish's (Σw)²/Σw² (cobalt ``ESS``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import StudyError

__all__ = [
    "SMD_THRESHOLD",
    "BALANCE_COLUMNS",
    "balance_table",
    "ess",
    "weights_summary",
    "entropy_weights",
    "logistic_att_weights",
    "covariate_design",
]

SMD_THRESHOLD = 0.10   # |SMD| ≤ .10: balanced (Stuart 2010; cobalt's m.threshold usage)
BALANCE_COLUMNS = [
    "covariate", "level", "type", "mean_mentee", "mean_control", "mean_control_weighted",
    "smd", "smd_weighted", "var_ratio", "var_ratio_weighted", "ks", "ks_weighted",
]


@dataclass(frozen=True)
class _Term:
    """One row of the balance table: a covariate (or one level of it) as numbers."""
    covariate: str
    level: str
    type: str            # "continuous" | "binary"
    values: np.ndarray   # float, NaN where the covariate is missing
    reference: bool      # the dropped (first) level of a multi-category covariate


def _is_categorical(s: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))


def _levels(s: pd.Series) -> list:
    """Levels in cobalt's order: declared categories, else the sorted observed values."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.categories)
    return sorted(pd.unique(s.dropna()).tolist(), key=lambda v: (str(type(v)), v))


def _level_label(v) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))            # a 0/1 column read as float: level "1", not "1.0"
    return str(v)


def _terms(X: pd.DataFrame) -> list[_Term]:
    """Expand the covariates into numeric terms as cobalt does (see module docstring)."""
    terms: list[_Term] = []
    for name in X.columns:
        s = X[name]
        miss = s.isna().to_numpy()
        observed = pd.unique(s.dropna())
        if len(observed) == 0:
            raise StudyError(f"balance: covariate {name!r} has no values")
        if not _is_categorical(s) and len(observed) > 2:
            terms.append(_Term(str(name), "", "continuous",
                               s.astype(float).to_numpy(), False))
        else:
            levels = _levels(s)
            if len(observed) <= 2:     # cobalt: two observed values make a binary
                levels = [v for v in levels if v in set(observed.tolist())]
            if len(levels) == 1:       # a constant: cobalt adds a dummy lower level
                levels = [None] + levels
            keep = levels[1:] if len(levels) == 2 else levels
            for i, lev in enumerate(keep):
                v = np.array(s == lev, dtype=float)
                v[miss] = np.nan
                terms.append(_Term(str(name), _level_label(lev), "binary", v,
                                   len(levels) > 2 and i == 0))
        if miss.any():
            terms.append(_Term(str(name), "missing", "binary", miss.astype(float), False))
    return terms


def _check_inputs(X: pd.DataFrame, treated, weights):
    t = np.asarray(treated)
    if t.dtype != bool:
        raise ValueError("treated must be a boolean array (True = mentee)")
    if t.shape != (len(X),):
        raise ValueError(f"treated has {t.size} values for {len(X)} rows")
    if t.all() or not t.any():
        raise StudyError("balance: both mentees and controls are needed")
    if weights is None:
        return t, None
    w = np.asarray(weights, dtype=float)
    if w.shape != (len(X),) or not np.all(np.isfinite(w)) or (w < 0).any():
        raise ValueError("weights must be one non-negative finite number per row")
    if not np.allclose(w[t], w[t][0]):
        raise ValueError("ATT balance: the mentees' weights must all be equal")
    return t, w


def _wmean(x, w):
    return float(np.sum(w * x) / np.sum(w))


def _wvar(x, w):
    """cobalt ``col.w.v``: Σw̃(x − x̄_w)²/(1 − Σw̃²), w̃ = w/Σw."""
    wn = w / np.sum(w)
    m = np.sum(wn * x)
    denom = 1.0 - np.sum(wn ** 2)
    return float(np.sum(wn * (x - m) ** 2) / denom) if denom > 0 else np.nan


def _ks(x, t, w):
    """cobalt ``col_w_ks``: the largest gap between the weighted eCDFs, at tied values once."""
    s = np.where(t, w / np.sum(w[t]), -w / np.sum(w[~t]))
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    cum = np.abs(np.cumsum(s[order]))
    last_of_tie = np.append(np.diff(xs) != 0, True)
    return float(cum[last_of_tie].max())


def _row_stats(term: _Term, t: np.ndarray, w: np.ndarray | None):
    ok = ~np.isnan(term.values)
    x, tt = term.values[ok], t[ok]
    if not tt.any() or tt.all():
        nan = np.nan
        return dict(mean_mentee=x[tt].mean() if tt.any() else nan,
                    mean_control=x[~tt].mean() if (~tt).any() else nan,
                    mean_control_weighted=nan, smd=nan, smd_weighted=nan, var_ratio=nan,
                    var_ratio_weighted=nan, ks=nan, ks_weighted=nan)
    ones = np.ones(x.size)
    m1, m0 = x[tt].mean(), x[~tt].mean()
    if term.type == "continuous":
        sd = np.sqrt(_wvar(x[tt], ones[tt])) if tt.sum() > 1 else np.nan
        if not np.isfinite(sd) or sd == 0:
            sd = np.sqrt(_wvar(x, ones))    # cobalt's fallback: the whole sample
    else:
        sd = 1.0

    def smd(diff):
        # cobalt's check_if_zero: differences below sqrt(machine eps) count as 0
        return 0.0 if abs(diff) < 1.49e-8 else diff / sd

    def vr(wt):
        if term.type != "continuous" or tt.sum() < 2 or (~tt).sum() < 2:
            return np.nan
        return _wvar(x[tt], wt[tt]) / _wvar(x[~tt], wt[~tt])

    def ks(wt):
        if term.type != "continuous":
            return abs(_wmean(x[tt], wt[tt]) - _wmean(x[~tt], wt[~tt]))
        return _ks(x, tt, wt)

    out = dict(mean_mentee=m1, mean_control=m0, smd=smd(m1 - m0),
               var_ratio=vr(ones), ks=ks(ones))
    if w is None:
        out.update(mean_control_weighted=np.nan, smd_weighted=np.nan,
                   var_ratio_weighted=np.nan, ks_weighted=np.nan)
    else:
        wk = w[ok]
        if wk[~tt].sum() == 0:
            raise StudyError(f"balance: every control with a value on {term.covariate!r} "
                             "has weight 0")
        mw = _wmean(x[~tt], wk[~tt])
        out.update(mean_control_weighted=mw, smd_weighted=smd(_wmean(x[tt], wk[tt]) - mw),
                   var_ratio_weighted=vr(wk), ks_weighted=ks(wk))
    return out


def balance_table(X: pd.DataFrame, treated, weights=None) -> pd.DataFrame:
    """Balance of baseline covariates between mentees and controls, before and after weighting.

    Parameters
    ----------
    X : DataFrame, one row per pupil, one column per baseline covariate. Numeric columns
        with more than two distinct values are continuous; columns with two distinct
        values (numeric, boolean or text) are binary; text/categorical columns with more
        levels give one binary row per level (pandas categories keep their declared
        order and unobserved levels, as R factors do in cobalt).
    treated : boolean array, True for a mentee.
    weights : optional ATT weights, one per row (mentees' weights all equal, as with
        :func:`entropy_weights` and :func:`logistic_att_weights`). Without weights the
        ``*_weighted`` columns are NaN.

    Returns
    -------
    DataFrame with :data:`BALANCE_COLUMNS`; formulas and conventions (cobalt's, for the
    ATT) in the module docstring. ``smd`` is treated − control; for ``type == "binary"``
    it is the raw difference in proportions, not standardised.

    Example
    -------
    >>> X = pd.DataFrame({"age": [12., 13, 14, 12, 13, 15], "girl": [1, 0, 1, 0, 0, 1]})
    >>> t = np.array([True, True, True, False, False, False])
    >>> balance_table(X, t)[["covariate", "type", "smd"]].round(3).values.tolist()
    [['age', 'continuous', -0.333], ['girl', 'binary', 0.333]]
    """
    t, w = _check_inputs(X, treated, weights)
    rows = []
    for term in _terms(X):
        stats = _row_stats(term, t, w)
        rows.append(dict(covariate=term.covariate, level=term.level, type=term.type, **stats))
    return pd.DataFrame(rows, columns=BALANCE_COLUMNS)


def ess(w) -> float:
    """Kish's effective sample size (Σw)²/Σw² (Kish 1965; cobalt/WeightIt ``ESS``)."""
    w = np.asarray(w, dtype=float)
    s2 = np.sum(w ** 2)
    return float(np.sum(w) ** 2 / s2) if s2 > 0 else 0.0


def weights_summary(weights, treated, method: str) -> pd.DataFrame:
    """Per condition: ``condition``, ``n``, ``ess``, ``min_weight``, ``max_weight``, ``method``."""
    w = np.asarray(weights, dtype=float)
    t = np.asarray(treated, dtype=bool)
    rows = [dict(condition=cond, n=int(m.sum()), ess=ess(w[m]), min_weight=float(w[m].min()),
                 max_weight=float(w[m].max()), method=method)
            for cond, m in (("mentee", t), ("control", ~t)) if m.any()]
    return pd.DataFrame(rows, columns=["condition", "n", "ess", "min_weight", "max_weight",
                                       "method"])


# ---------------------------------------------------------------- weights for the ATT

def covariate_design(X: pd.DataFrame) -> pd.DataFrame:
    """The covariates as numeric columns for a weighting model (no intercept).

    Continuous covariates as they are; a binary covariate as the indicator of its second
    level; a multi-category covariate as indicators of all levels but the first (the
    reference, as R's treatment contrasts). Missing values are not allowed here: a
    weighting model needs every pupil's covariates (StudyError naming the covariates).
    """
    missing = [c for c in X.columns if X[c].isna().any()]
    if missing:
        counts = ", ".join(f"{c!r} ({int(X[c].isna().sum())} missing)" for c in missing)
        raise StudyError(f"weighting needs every pupil's covariates; missing values in {counts}")
    cols = {}
    for term in _terms(X):
        if term.reference:
            continue
        name = term.covariate if not term.level else f"{term.covariate}[{term.level}]"
        cols[name] = term.values
    return pd.DataFrame(cols, index=X.index)


def _independent_columns(D: np.ndarray, names: list[str]):
    """Drop columns that are constant or linear combinations of earlier ones (and 1)."""
    keep: list[int] = []
    basis = np.ones((D.shape[0], 1)) / np.sqrt(D.shape[0])
    for j in range(D.shape[1]):
        r = D[:, j] - basis @ (basis.T @ D[:, j])
        nr = np.linalg.norm(r)
        if nr > 1e-8 * max(1.0, np.linalg.norm(D[:, j])):
            keep.append(j)
            basis = np.column_stack([basis, r / nr])
    return D[:, keep], [names[j] for j in keep]


def _entropy_dual_newton(Z: np.ndarray, tol: float, max_iter: int):
    """Minimise f(λ) = log Σ_i exp(λ'z_i) by Newton with backtracking (Armijo) line search.

    z_i are the controls' moment functions minus the target; at the minimum the
    softmax weights p_i ∝ exp(λ'z_i) satisfy Σ p_i z_i = 0 (the balance constraints).
    Gradient g = Σ p_i z_i, Hessian H = Σ p_i z_i z_i' − g g' (the weighted covariance).
    Returns (λ, p, max|g|, converged).
    """
    lam = np.zeros(Z.shape[1])

    def f_and_p(lam):
        a = Z @ lam
        amax = a.max()
        e = np.exp(a - amax)
        return amax + np.log(e.sum()), e / e.sum()

    f, p = f_and_p(lam)
    for _ in range(max_iter):
        g = p @ Z
        if np.max(np.abs(g)) < tol:
            return lam, p, float(np.max(np.abs(g))), True
        H = (Z * p[:, None]).T @ Z - np.outer(g, g)
        try:
            step = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            step = -np.linalg.lstsq(H, g, rcond=None)[0]
        slope = g @ step
        if not np.isfinite(slope) or slope >= 0:
            step, slope = -g, -(g @ g)
        s = 1.0
        while True:
            f_new, p_new = f_and_p(lam + s * step)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * s * slope:
                break
            s *= 0.5
            if s < 1e-12:
                return lam, p, float(np.max(np.abs(g))), False
        lam, f, p = lam + s * step, f_new, p_new
    g = p @ Z
    return lam, p, float(np.max(np.abs(g))), bool(np.max(np.abs(g)) < tol)


#: the largest remaining difference (in SD units) that counts as balanced when Newton stops
ACCEPT_TOL = 1e-8


def entropy_weights(X: pd.DataFrame, treated, moments: int = 1, tol: float = 1e-10,
                    max_iter: int = 200) -> pd.Series:
    """Entropy balancing weights for the ATT (Hainmueller 2012, *Political Analysis* 20:25).

    The controls get weights w_i = exp(λ'c_i) / Σ_j exp(λ'c_j) · n_t (base weights 1,
    scaled to sum to the number of mentees, as WeightIt's ``method = "ebal"``), the
    mentees weight 1. λ minimises the convex dual of "maximum entropy subject to
    Σ w_i c_i / Σ w_i = m", f(λ) = log Σ_i exp(λ'(c_i − m)), where c_i are the moment
    functions of control i and m their mean among the mentees:

    * ``moments = 1``: the covariates (:func:`covariate_design`);
    * ``moments = 2``: also the squares of the continuous covariates, so that the
      weighted control variance equals the mentees' variance in the population
      convention: Σ w̃_i (x_i − x̄_w)² = (1/n_t) Σ_t (x − x̄_t)² (divisor n_t, not n_t − 1;
      WeightIt's ebal does the same via orthogonal polynomials of degree 2, which span
      the same space). Binary covariates get no square (x² = x).

    The moments are standardised (centred at the target, divided by the whole-sample SD)
    and solved by Newton's method with backtracking line search until every weighted
    control mean is within ``tol`` (in SD units) of the target. Columns that are constant
    or linearly dependent on others are balanced automatically and left out.

    Raises StudyError naming the covariates when balance is impossible: a target outside
    the range of the controls (no overlap), or, for jointly impossible targets, when
    Newton cannot reach the tolerance (the dual is unbounded).
    """
    t = np.asarray(treated)
    if t.dtype != bool or t.shape != (len(X),):
        raise ValueError("treated must be a boolean array with one value per row")
    if moments not in (1, 2):
        raise StudyError(f"weighting.moments must be 1 or 2, not {moments!r}")
    if t.sum() == 0 or (~t).sum() == 0:
        raise StudyError("entropy balancing needs both mentees and controls")
    D = covariate_design(X)
    names = list(D.columns)
    M = D.to_numpy(dtype=float)
    if moments == 2:
        cont = [j for j, c in enumerate(names) if len(np.unique(M[:, j])) > 2]
        # squares about the mentees' mean span the same space as x² with x and 1, and
        # keep the Newton system well conditioned (age and age² correlate ~.999)
        centre = M[t].mean(axis=0)
        M = np.column_stack([M] + [(M[:, j] - centre[j]) ** 2 for j in cont])
        names = names + [f"{names[j]}^2" for j in cont]
    target = M[t].mean(axis=0)
    sd = M.std(axis=0)
    sd[sd == 0] = 1.0
    Zall = (M - target) / sd
    Zall, names = _independent_columns(Zall, names)
    Z = Zall[~t]
    lo, hi = Z.min(axis=0), Z.max(axis=0)
    outside = [n for n, a, b in zip(names, lo, hi) if not (a < 0 < b)]
    if outside:
        raise StudyError(
            "entropy balancing cannot balance the groups: the mentees' mean of "
            + ", ".join(repr(n) for n in outside)
            + " lies outside the range of the controls (no overlap); drop or recode "
            "these covariates, or use weighting.method: logistic or none")
    if Z.shape[1] == 0:      # nothing varies: every weighting balances, keep them equal
        lam, p, gmax, ok = np.zeros(0), np.full(Z.shape[0], 1 / Z.shape[0]), 0.0, True
    else:
        lam, p, gmax, ok = _entropy_dual_newton(Z, tol, max_iter)
        # Newton aims at `tol`; when rounding stops the line search short of it, balance to
        # ACCEPT_TOL SD (the 1e-8 standard) is still balance (found by the
        # selection simulation: 8 of 2000 cohorts stopped at 2e-10..4e-9 SD)
        ok = ok or gmax < max(tol, ACCEPT_TOL)
    if not ok:
        g = np.abs(p @ Z)
        worst = [names[j] for j in np.argsort(-g) if g[j] >= tol][:5]
        raise StudyError(
            "entropy balancing did not converge: the controls cannot reach the mentees' "
            f"means of {', '.join(repr(n) for n in worst)} jointly (too little overlap of the "
            f"groups on these; largest remaining difference {gmax:.2g} SD); drop or combine covariates"
            + (", or use moments: 1" if moments == 2 else ""))
    w = np.ones(len(X))
    w[~t] = p * t.sum()
    return pd.Series(w, index=X.index, name="weight")


def logistic_att_weights(X: pd.DataFrame, treated, trim: float | None = None):
    """Propensity scores by logistic regression and ATT weights (mentees 1, controls e/(1−e)).

    e_i = P(mentee | x_i) from an unpenalised logistic regression of ``treated`` on an
    intercept and :func:`covariate_design` (maximum likelihood by IRLS, statsmodels GLM
    Binomial = R ``glm(family = binomial)``). ATT weights: 1 for mentees, e/(1 − e) for
    controls (the odds; Hirano, Imbens & Ridder 2003; WeightIt ``get_w_from_ps``).

    ``trim`` (e.g. 0.99): control weights above their ``trim`` quantile are set to that
    quantile, as WeightIt's ``trim(w, at = trim)`` for the ATT (the mentees are not
    trimmed; quantile type 3 = numpy ``closest_observation``; ``at < 0.5`` means
    1 − at).

    Returns (weights: Series named ``weight``, ps: Series named ``ps``, fit: the
    statsmodels GLM result). StudyError when the groups are perfectly separated.
    """
    import warnings

    import statsmodels.api as sm

    t = np.asarray(treated)
    if t.dtype != bool or t.shape != (len(X),):
        raise ValueError("treated must be a boolean array with one value per row")
    if t.sum() == 0 or (~t).sum() == 0:
        raise StudyError("propensity scores need both mentees and controls")
    D = covariate_design(X)
    Dk, kept = _independent_columns(D.to_numpy(dtype=float), list(D.columns))
    design = pd.DataFrame(np.column_stack([np.ones(len(X)), Dk]),
                          columns=["(Intercept)"] + kept, index=X.index)
    import warnings
    separated = StudyError(
        "propensity scores: the covariates separate mentees from controls (almost) "
        "perfectly, so the groups do not overlap; drop or combine covariates "
        f"({', '.join(repr(c) for c in X.columns)})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.GLM(t.astype(float), design, family=sm.families.Binomial()).fit(
                tol=1e-12, maxiter=100)
        except Exception as exc:   # statsmodels' PerfectSeparationError and kin
            raise separated from exc
    ps = np.asarray(fit.fittedvalues, dtype=float)
    # For the ATT every mentee needs comparable controls: a mentee with e ≈ 1 has none
    # (what (quasi-)separation produces; R glm warns "fitted probabilities numerically
    # 0 or 1 occurred")
    if not fit.converged or np.any(ps[t] > 1 - 1e-8):
        raise separated
    w = np.ones(len(X))
    w[~t] = ps[~t] / (1.0 - ps[~t])
    if trim is not None:
        if not 0 < trim < 1:
            raise StudyError(f"weighting.trim must lie between 0 and 1, not {trim!r}")
        at = max(trim, 1 - trim)
        cap = np.quantile(w[~t], at, method="closest_observation")
        w[~t] = np.minimum(w[~t], cap)
    return (pd.Series(w, index=X.index, name="weight"),
            pd.Series(ps, index=X.index, name="ps"), fit)
