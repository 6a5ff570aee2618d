"""Box's M test of equal covariance matrices across groups (Box 1949).

The split-plot ANOVA (:func:`mut_eval.stats.anova.mixed_anova`) assumes that the
covariance matrix of the repeated measures (T1, T2, T3) is the same in every group.
With unequal groups its condition × wave F is not robust to a violation: in a
simulation of MUT-like data (124 mentees, 66 controls) with the smaller group twice as
variable, the test rejected a true null 8–9 % of the time at α = .05, also with the
Greenhouse–Geisser and Huynh–Feldt corrections. The mixed model with an unstructured
covariance per wave does not make this assumption. Box's M is the test SPSS GLM
Repeated Measures prints for it ("Box's Test of Equality of Covariance Matrices").

Formula (Box 1949, *Biometrika* 36:317–346, §§ 9–10; as in Rencher & Christensen 2012,
*Methods of Multivariate Analysis*, 3rd ed., § 7.3.2, and the IBM SPSS Statistics
Algorithms, "Box's M test"). g groups of n_i cases on p variables, v_i = n_i − 1,
S_i the unbiased covariance matrix of group i, v = Σ v_i and the pooled
S_p = Σ v_i S_i / v::

    M   = v·ln|S_p| − Σ v_i·ln|S_i|
    c1  = (Σ 1/v_i − 1/v) · (2p² + 3p − 1) / (6 (p + 1) (g − 1))
    c2  = (Σ 1/v_i² − 1/v²) · (p − 1)(p + 2) / (6 (g − 1))
    df1 = (g − 1) p (p + 1) / 2

* chi-square approximation: χ² = (1 − c1)·M on df1 degrees of freedom (what R
  ``heplots::boxM`` / ``biotools::boxM`` print);
* F approximation (what SPSS prints as F, df1, df2, Sig.): with
  df2 = (df1 + 2) / |c2 − c1²|,

  - c2 > c1²: F = M / b with b = df1 / (1 − c1 − df1/df2);
  - c2 < c1²: F = df2·M / (df1 (b − M)) with b = df2 / (1 − c1 + 2/df2);

  df2 is not rounded (SPSS prints it with decimals).

Decision at α = .001, the convention for Box's M with SPSS output (Tabachnick & Fidell
2013, *Using Multivariate Statistics*, 6th ed., § 7.3.2.4; Field 2018, *Discovering
Statistics Using IBM SPSS*, § 17.9): the test is very sensitive to non-normality and
to large samples, so only a small p is taken as evidence of unequal covariance
matrices. ``equal_covariances`` is False when the F test's p < ``alpha``.

The statistic needs every S_i non-singular (n_i > p and no variable constant within a
group); otherwise the row has NaN statistics and ``equal_covariances`` is missing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .anova import wide_complete

__all__ = ["box_m", "box_m_test", "BOX_M_ALPHA", "BOX_M_COLUMNS"]

#: The significance level at which Box's M is judged (SPSS convention, see the module docstring).
BOX_M_ALPHA = 0.001
BOX_M_COLUMNS = ["box_m", "chi2", "chi2_df", "chi2_p", "F", "df1", "df2", "p", "alpha", "equal_covariances"]


def box_m_test(Y, group, alpha: float = BOX_M_ALPHA) -> dict:
    """Box's M on an (n × p) data matrix ``Y`` and the group label of each row.

    Returns a dict with ``box_m, chi2, chi2_df, chi2_p, F, df1, df2, p, alpha,
    equal_covariances`` and ``n`` (``{group: n_i}``, in order of first appearance).

    Example: the iris data (R ``datasets::iris``, 4 measures, 3 species of 50) give
    χ² = 140.943 on 20 df (``heplots::boxM`` documentation).
    """
    Y = np.asarray(Y, float)
    if Y.ndim != 2:
        raise ValueError("Y must be a 2-D array (cases × variables)")
    labels = pd.Series(group).astype(str)
    codes, levels = pd.factorize(labels, sort=False)
    n_per = {str(lv): int((codes == j).sum()) for j, lv in enumerate(levels)}
    g, p = len(levels), Y.shape[1]
    out = dict.fromkeys(BOX_M_COLUMNS, np.nan)
    out.update(alpha=float(alpha), equal_covariances=None, n=n_per,
               df1=float((g - 1) * p * (p + 1) / 2), chi2_df=float((g - 1) * p * (p + 1) / 2))
    v_i = np.bincount(codes, minlength=g).astype(float) - 1
    if g < 2 or np.any(v_i < p):
        return out
    logdet_i = np.empty(g)
    pooled = np.zeros((p, p))
    for j in range(g):
        S = np.cov(Y[codes == j], rowvar=False, ddof=1).reshape(p, p)
        sign, logdet_i[j] = np.linalg.slogdet(S)
        if sign <= 0:
            return out
        pooled += v_i[j] * S
    v = v_i.sum()
    sign, logdet_p = np.linalg.slogdet(pooled / v)
    if sign <= 0:
        return out
    M = float(v * logdet_p - v_i @ logdet_i)
    df1 = (g - 1) * p * (p + 1) / 2
    c1 = (np.sum(1 / v_i) - 1 / v) * (2 * p**2 + 3 * p - 1) / (6 * (p + 1) * (g - 1))
    c2 = (np.sum(1 / v_i**2) - 1 / v**2) * (p - 1) * (p + 2) / (6 * (g - 1))
    chi2 = (1 - c1) * M
    gap = c2 - c1**2
    if gap > 0:
        df2 = (df1 + 2) / gap
        F = M / (df1 / (1 - c1 - df1 / df2))
    elif gap < 0:
        df2 = (df1 + 2) / -gap
        b = df2 / (1 - c1 + 2 / df2)
        F = df2 * M / (df1 * (b - M))
    else:  # the F limit of an infinite df2 is the chi-square over its df
        df2, F = np.inf, chi2 / df1
    p_F = float(stats.f.sf(F, df1, df2)) if np.isfinite(df2) else float(stats.chi2.sf(chi2, df1))
    out.update(box_m=M, chi2=float(chi2), chi2_p=float(stats.chi2.sf(chi2, df1)), F=float(F),
               df2=float(df2), p=p_F, equal_covariances=bool(p_F >= alpha))
    return out


def box_m(data: pd.DataFrame, dv: str = "score", within: str = "wave", between: str = "condition",
          subject: str = "student_id", alpha: float = BOX_M_ALPHA) -> pd.DataFrame:
    """Box's M of the repeated measures across the groups, on the complete cases: the
    same pupils as :func:`~mut_eval.stats.anova.mixed_anova` (scored at every wave).

    One row: ``box_m, chi2, chi2_df, chi2_p, F, df1, df2, p``, ``n_{group}`` per
    level of ``between`` (``n_mentee``, ``n_control``), ``alpha, equal_covariances``. ``p`` is the F approximation's (SPSS's "Sig.").
    """
    Y, group, _, blev, _ = wide_complete(data, dv, within, between, subject)
    res = box_m_test(Y, np.asarray(blev, object)[group] if len(group) else [], alpha)
    n_cols = [f"n_{lv}" for lv in blev]
    row = {c: res[c] for c in BOX_M_COLUMNS}
    row.update({f"n_{lv}": int((group == i).sum()) for i, lv in enumerate(blev)})
    return pd.DataFrame([row], columns=[*BOX_M_COLUMNS[:8], *n_cols, *BOX_M_COLUMNS[8:]])
