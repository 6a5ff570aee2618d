"""Intra-class correlations from the null multilevel model at T1 (issue 12 item 5).

The fit is :func:`mut_eval.stats.mixed.fit_mixed` (lme4 REML); see :func:`icc_table`
for the definitions of the class and school ICCs, the CI and the design effect.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .. import StudyError
from .mixed import RandomTerm, _kr_w, fit_mixed

__all__ = ["ICC_COLUMNS", "icc_table"]


ICC_COLUMNS = ["outcome", "var_school", "var_class", "var_resid", "icc_class", "icc_class_ci_low",
               "icc_class_ci_high", "icc_school", "design_effect", "n_effective"]


def icc_table(long_t1: pd.DataFrame, outcome_col: str = "outcome", dv: str = "score",
              levels=("school", "class"), alpha: float = 0.05) -> pd.DataFrame:
    """Intra-class correlations per outcome from the null model at T1::

        score ~ 1 + (1 | school) + (1 | school:class)     (REML; terms for ``levels``)

    Definitions (variances σ²_school, σ²_class, σ²_resid; total = their sum):

    - ``icc_class`` = (σ²_school + σ²_class) / total: the correlation between two pupils
      of the same class (who share their school too) — the ICC of a class-assigned
      design, used in the design effect;
    - ``icc_school`` = σ²_school / total: the correlation between two pupils of the same
      school in different classes;
    - ``design_effect`` = 1 + (m̄ − 1)·icc_class with m̄ the mean number of pupils per
      class (Kish 1965), ``n_effective`` = pupils / design_effect.

    The CI of ``icc_class`` is a Wald interval on the logit scale: the delta method
    with the asymptotic covariance of the REML variance components, 2·I⁻¹ from the
    expected information I_kl = tr(PG_kPG_l) (the W of Kenward–Roger), back-transformed
    so it stays in (0, 1); at icc_class = 0 (a boundary fit) the interval is [0, z·SE]
    on the original scale. It is an approximation, not checked against R.
    With ``levels=("class",)`` the school columns are NaN; class ids are taken as unique
    within school (``school:class``).
    """
    levels = list(levels)
    if not levels or not set(levels) <= {"school", "class"}:
        raise StudyError(f"icc_table: levels must be school and/or class, not {levels}")
    need = [outcome_col, dv, *levels]
    missing = [c for c in need if c not in long_t1.columns]
    if missing:
        raise StudyError(f"icc_table: column(s) {missing} not in the data")
    z = stats.norm.ppf(1 - alpha / 2)
    rows = []
    for outcome, d in long_t1.groupby(outcome_col, sort=False):
        d = d.dropna(subset=[dv, *levels])
        cls = ["school", "class"] if "school" in levels else ["class"]
        terms = []
        if "school" in levels:
            terms.append(RandomTerm.from_groups(d[["school"]].to_numpy(object), "school"))
        if "class" in levels:
            terms.append(RandomTerm.from_groups(d[cls].to_numpy(object), "school:class"
                                                if "school" in levels else "class"))
        f = fit_mixed(d[dv].to_numpy(float), np.ones((len(d), 1)), terms, names=["(Intercept)"])
        psi = f.varcomp.to_numpy()                        # terms ..., residual
        is_school = np.array([t.name == "school" for t in terms] + [False])
        total = psi.sum()
        between = psi[:-1].sum()
        icc = between / total
        # ∂icc/∂ψ: (total − between)/total² for the class-sharing terms, −between/total²
        grad = np.append(np.full(len(terms), (total - between) / total ** 2), -between / total ** 2)
        cov = _kr_w(f._derivatives["info"])
        se = float(np.sqrt(max(grad @ cov @ grad, 0.0)))
        if 0 < icc < 1:
            lg, sl = np.log(icc / (1 - icc)), se / (icc * (1 - icc))
            lo, hi = 1 / (1 + np.exp(-(lg - z * sl))), 1 / (1 + np.exp(-(lg + z * sl)))
        else:
            lo, hi = 0.0, min(1.0, z * se)
        m_bar = d.groupby(cls).size().mean() if "class" in levels else np.nan
        deff = 1 + (m_bar - 1) * icc if "class" in levels else np.nan
        rows.append(dict(outcome=outcome,
                         var_school=psi[is_school].sum() if "school" in levels else np.nan,
                         var_class=psi[:-1][~is_school[:-1]].sum() if "class" in levels else np.nan,
                         var_resid=psi[-1], icc_class=icc, icc_class_ci_low=lo, icc_class_ci_high=hi,
                         icc_school=psi[is_school].sum() / total if "school" in levels else np.nan,
                         design_effect=deff, n_effective=len(d) / deff))
    return pd.DataFrame(rows, columns=ICC_COLUMNS)
