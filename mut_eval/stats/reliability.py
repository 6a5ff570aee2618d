"""Scale reliability: Cronbach's alpha with the Feldt CI, and McDonald's omega total.

Both are computed on the pupils who answered every item of the scale (listwise), the
items already reverse-coded by the caller.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from scipy import optimize, stats

__all__ = ["cronbach_alpha", "omega_total", "reliability", "reliability_table"]

RELIABILITY_COLUMNS = ["n", "n_items", "alpha", "alpha_ci_low", "alpha_ci_high", "omega"]

# factanal's lower bound on the uniquenesses (R stats::factanal, control$lower).
_PSI_LOWER = 0.005


def _complete(items: pd.DataFrame) -> np.ndarray:
    x = items.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return x[~np.isnan(x).any(axis=1)]


def cronbach_alpha(items: pd.DataFrame | np.ndarray, ci: float = 0.95) -> tuple[float, float, float]:
    """Cronbach's alpha of complete rows with the Feldt (1965) confidence interval.

    α = k/(k − 1) · (1 − Σ s²_i / s²_total) (Cronbach 1951). CI (Feldt 1965,
    *Psychometrika* 30:357; Feldt, Woodruff & Salih 1987):
    [1 − (1 − α) F_{1−a/2}, 1 − (1 − α) F_{a/2}] with F quantiles on
    (n − 1, (n − 1)(k − 1)) df and a = 1 − ci — the ``feldt`` interval of
    R ``psych::alpha`` (``psych::alpha.ci``). Rows with any missing item are dropped.
    Returns ``(alpha, ci_low, ci_high)``; NaN when n < 2, k < 2 or zero total variance.
    """
    x = _complete(pd.DataFrame(items))
    n, k = x.shape
    if n < 2 or k < 2:
        return (np.nan, np.nan, np.nan)
    C = np.cov(x, rowvar=False)
    total = C.sum()
    if not total > 0:
        return (np.nan, np.nan, np.nan)
    alpha = k / (k - 1) * (1 - np.trace(C) / total)
    a = 1 - ci
    df1, df2 = n - 1, (n - 1) * (k - 1)
    low = 1 - (1 - alpha) * stats.f.ppf(1 - a / 2, df1, df2)
    high = 1 - (1 - alpha) * stats.f.ppf(a / 2, df1, df2)
    return (float(alpha), float(low), float(high))


def _fa1_ml(R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One-factor maximum-likelihood factor analysis of a correlation matrix.

    Same criterion, parametrisation and bounds as R ``stats::factanal`` (Jöreskog 1967;
    Lawley & Maxwell 1971): minimise over the uniquenesses ψ ∈ [0.005, 1]
    f(ψ) = Σ_{j>1} (e_j − log e_j) with e_j the eigenvalues of Ψ^{-1/2} R Ψ^{-1/2};
    loadings λ = Ψ^{1/2} v₁ √max(e₁ − 1, 0). Started as factanal does. Returns
    (loadings, uniquenesses), loadings oriented so that Σλ ≥ 0.
    """
    p = R.shape[0]

    def parts(psi):
        sc = 1 / np.sqrt(psi)
        e, v = np.linalg.eigh(R * np.outer(sc, sc))
        return e[::-1], v[:, ::-1]

    def fun(psi):
        e, _ = parts(psi)
        rest = e[1:]
        return float(-np.sum(np.log(rest) - rest) - 1 + p)

    def grad(psi):
        e, v = parts(psi)
        lam = np.sqrt(psi) * v[:, 0] * np.sqrt(max(e[0] - 1, 0.0))
        return (lam**2 + psi - np.diag(R)) / psi**2

    start = (1 - 0.5 / p) / np.diag(np.linalg.inv(R))
    bounds = [(_PSI_LOWER, 1.0)] * p
    res = optimize.minimize(fun, start, jac=grad, method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
    psi = res.x
    # A second run from the solution removes the remaining ~1e-9 slack of L-BFGS-B's
    # stopping rule, so the result is the optimum and not the path to it.
    res = optimize.minimize(fun, psi, jac=grad, method="L-BFGS-B", bounds=bounds,
                            options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000})
    psi = res.x
    e, v = parts(psi)
    lam = np.sqrt(psi) * v[:, 0] * np.sqrt(max(e[0] - 1, 0.0))
    if lam.sum() < 0:
        lam = -lam
    return lam, psi


def omega_total(items: pd.DataFrame | np.ndarray) -> float:
    """McDonald's omega total from a one-factor ML model on the item correlations.

    ω = (Σλ)² / ((Σλ)² + Σψ) with λ the standardised loadings and ψ the uniquenesses
    of a one-factor maximum-likelihood factor analysis (McDonald 1999, *Test Theory*,
    ch. 6; Revelle & Zinbarg 2009). Matches ω computed from R
    ``stats::factanal(factors = 1)`` loadings and uniquenesses; ``psych::fa(fm = "ml")``
    agrees to its optimiser's tolerance (~1e-5), whereas ``psych::omega`` uses
    minres extraction by default and differs in the third decimal.
    Complete rows only. NaN with fewer than 3 items (one factor not identified), fewer
    than k + 1 rows, or a constant item.
    """
    x = _complete(pd.DataFrame(items))
    n, k = x.shape
    if k < 3 or n <= k:
        return np.nan
    sd = x.std(axis=0, ddof=1)
    if np.any(~(sd > 0)):
        return np.nan
    R = np.corrcoef(x, rowvar=False)
    try:
        lam, psi = _fa1_ml(R)
    except np.linalg.LinAlgError:
        return np.nan
    s = lam.sum() ** 2
    return float(s / (s + psi.sum()))


def reliability(items: pd.DataFrame, ci: float = 0.95) -> pd.Series:
    """Reliability of one scale at one wave.

    ``items``: one column per item (already reverse-coded), one row per pupil; pupils
    with any missing item are left out. Returns a Series with ``n`` (complete pupils),
    ``n_items``, ``alpha``, ``alpha_ci_low``, ``alpha_ci_high`` (Feldt, level ``ci``),
    ``omega`` (see :func:`cronbach_alpha`, :func:`omega_total`).
    """
    x = _complete(items)
    alpha, low, high = cronbach_alpha(x, ci=ci)
    return pd.Series({"n": int(x.shape[0]), "n_items": int(items.shape[1]), "alpha": alpha,
                      "alpha_ci_low": low, "alpha_ci_high": high, "omega": omega_total(x)})


def reliability_table(item_sets: Mapping[tuple[str, str], pd.DataFrame]
                      | Iterable[tuple[str, str, pd.DataFrame]],
                      ci: float = 0.95) -> pd.DataFrame:
    """The contract table ``reliability``: one row per scale × wave.

    ``item_sets`` maps ``(scale, wave)`` to that wave's reverse-coded item columns of
    the scale (or is an iterable of ``(scale, wave, items)``). Columns: ``scale, wave,
    n, n_items, alpha, alpha_ci_low, alpha_ci_high, omega``; rows in the given order.
    """
    triples = ([(s, w, df) for (s, w), df in item_sets.items()]
               if isinstance(item_sets, Mapping) else list(item_sets))
    rows = [{"scale": s, "wave": w, **reliability(df, ci=ci).to_dict()} for s, w, df in triples]
    out = pd.DataFrame(rows, columns=["scale", "wave", *RELIABILITY_COLUMNS])
    return out.astype({"n": "int64", "n_items": "int64"})
