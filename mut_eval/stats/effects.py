"""Standardised effect sizes (WWC conventions) and the sample-description table.

Formulas follow the What Works Clearinghouse *Procedures and Standards Handbook,
Version 5.0* (U.S. Department of Education, IES, 2022) — Hedges' g with the small-sample
correction ω, the improvement index, and the clustering correction for mismatched
analyses (after Hedges 2007, *J. Educ. Behav. Stat.* 32(4), 341–370).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .. import CONDITIONS, StudyError

__all__ = [
    "omega_correction",
    "pooled_sd",
    "hedges_g",
    "improvement_index",
    "cluster_corrected_t",
    "cluster_correction",
    "sample_table",
    "SAMPLE_TABLE_COLUMNS",
]


def omega_correction(N):
    """Small-sample correction of Hedges' g: ω = 1 − 3 / (4N − 9).

    ``N`` is the total sample size of both groups (WWC Procedures and Standards
    Handbook, Version 5.0, effect sizes for continuous outcomes; Hedges 1981). Works elementwise
    on arrays. Example: N = 100 → ω = 1 − 3/391 = 0.992327...
    """
    N = np.asarray(N, dtype=float)
    out = 1.0 - 3.0 / (4.0 * N - 9.0)
    return float(out) if out.ndim == 0 else out


def _clean(x) -> np.ndarray:
    a = np.asarray(pd.to_numeric(pd.Series(np.asarray(x).ravel()), errors="coerce"),
                   dtype=float)
    return a[np.isfinite(a)]


def pooled_sd(x_treat, x_control) -> float:
    """Pooled within-group SD: S = √{[(n_t − 1)s_t² + (n_c − 1)s_c²] / (n_t + n_c − 2)}.

    Variances with n − 1; missing values are dropped. NaN when fewer than two values
    in total beyond the two group means (n_t + n_c − 2 < 1) or a group is empty.
    """
    a, b = _clean(x_treat), _clean(x_control)
    na, nb = a.size, b.size
    if na < 1 or nb < 1 or na + nb - 2 < 1:
        return float("nan")
    ssa = ((a - a.mean()) ** 2).sum()
    ssb = ((b - b.mean()) ** 2).sum()
    return float(np.sqrt((ssa + ssb) / (na + nb - 2)))


def hedges_g(x_treat, x_control) -> float:
    """Hedges' g as defined by the WWC: g = ω (ȳ_t − ȳ_c) / S.

    S is the pooled within-group SD (variances with n − 1, see :func:`pooled_sd`) and
    ω = 1 − 3/(4N − 9) with N = n_t + n_c (WWC Procedures and Standards Handbook,
    Version 5.0, 2022, effect sizes for continuous outcomes; Hedges 1981). Missing values are dropped. NaN when
    S is 0 or undefined.

    Example: treatment (4, 5, 6), control (3, 4, 5): ȳ_t − ȳ_c = 1, S = 1,
    ω = 1 − 3/15 = 0.8, so g = 0.8.
    """
    a, b = _clean(x_treat), _clean(x_control)
    s = pooled_sd(a, b)
    if not np.isfinite(s) or s == 0:
        return float("nan")
    return float(omega_correction(a.size + b.size) * (a.mean() - b.mean()) / s)


def improvement_index(g):
    """WWC improvement index: 100·Φ(g) − 50.

    The expected change in percentile rank of an average comparison-group member had
    they received the intervention (WWC Procedures and Standards Handbook, Version 5.0, 2022).
    Elementwise;
    e.g. g = 0.21 → 100·Φ(0.21) − 50 = 8.3.
    """
    g = np.asarray(g, dtype=float)
    out = 100.0 * stats.norm.cdf(g) - 50.0
    return float(out) if out.ndim == 0 else out


def cluster_corrected_t(t, N, n_bar, icc=0.10):
    """t statistic corrected for clustering (WWC mismatched-analysis correction).

    t_a = t · √{ [(N − 2) − 2(n̄ − 1)ρ] / [(N − 2)(1 + (n̄ − 1)ρ)] }

    with N the number of pupils, n̄ the average cluster (class/school) size and ρ the
    intraclass correlation — WWC default ρ = .20 for achievement outcomes and .10 for
    other outcomes such as the attitudes measured here (WWC Procedures and
    Standards Handbook, Version 5.0, 2022, clustering correction; Hedges 2007). NaN when the bracketed numerator is not
    positive. Elementwise.
    """
    t, N, n_bar, icc = (np.asarray(v, dtype=float) for v in (t, N, n_bar, icc))
    num = (N - 2.0) - 2.0 * (n_bar - 1.0) * icc
    den = (N - 2.0) * (1.0 + (n_bar - 1.0) * icc)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where((num > 0) & (den > 0), t * np.sqrt(num / den), np.nan)
    return float(out) if out.ndim == 0 else out


def cluster_correction(t, N, n_bar, icc=0.10) -> dict:
    """Clustering-corrected t, its degrees of freedom h and the two-sided p value.

    t_a as in :func:`cluster_corrected_t`;
    h = [(N − 2) − 2(n̄ − 1)ρ]² / [(N − 2)(1 − ρ)² + n̄(N − 2n̄)ρ² + 2(N − 2n̄)ρ(1 − ρ)];
    p = 2·P(T_h > |t_a|)  (WWC Procedures and Standards Handbook, Version 5.0,
    2022; Hedges 2007).
    Returns ``{"t_corrected", "df", "p"}`` (scalars).
    """
    t_a = cluster_corrected_t(t, N, n_bar, icc)
    N, n_bar, icc = float(N), float(n_bar), float(icc)
    num = (N - 2.0) - 2.0 * (n_bar - 1.0) * icc
    den = ((N - 2.0) * (1.0 - icc) ** 2 + n_bar * (N - 2.0 * n_bar) * icc ** 2
           + 2.0 * (N - 2.0 * n_bar) * icc * (1.0 - icc))
    h = num ** 2 / den if (num > 0 and den > 0) else float("nan")
    p = float("nan")
    if np.isfinite(t_a) and np.isfinite(h):
        p = float(2.0 * stats.t.sf(abs(t_a), h))
    return {"t_corrected": float(t_a), "df": float(h), "p": p}


# ---------------------------------------------------------------------------
# Table 1: description of the two groups
# ---------------------------------------------------------------------------
SAMPLE_TABLE_COLUMNS = [
    "characteristic", "level", "mentee_n", "mentee_value", "control_n", "control_value",
    "statistic", "test", "p", "std_diff",
    "mentee_sd", "control_sd", "mentee_total", "control_total", "df", "min_expected",
]

# (characteristic, levels shown, is "unknown" a shown level, omnibus test)
_TABLE1_SPEC = [
    ("gender", ("girl",), False, False),
    ("ses", ("low", "middle", "high", "unknown"), True, True),
    ("migration_background", ("yes",), False, False),
    ("origin", ("dutch", "moroccan", "turkish", "surinamese", "antillean",
                "other_western", "other_non_western", "unknown"), True, True),
    ("first_generation", ("yes",), False, False),
]


def _two_by_two(k_m: int, n_m: int, k_c: int, n_c: int):
    """Test of a proportion difference: Pearson χ² without continuity correction, or
    Fisher's exact test (two-sided) when an expected count is below 5."""
    tab = np.array([[k_m, n_m - k_m], [k_c, n_c - k_c]], dtype=float)
    if n_m == 0 or n_c == 0 or tab.sum(axis=0).min() == 0:
        return np.nan, np.nan, "none", np.nan, np.nan
    expected = np.outer(tab.sum(axis=1), tab.sum(axis=0)) / tab.sum()
    min_exp = float(expected.min())
    if min_exp < 5:
        res = stats.fisher_exact(tab.astype(int), alternative="two-sided")
        # the odds ratio is not reported: scipy gives the sample OR, R the conditional
        # MLE; the test, not the statistic, is what Table 1 needs here
        return np.nan, np.nan, "fisher_exact", float(res.pvalue), min_exp
    chi2, p, dof, _ = stats.chi2_contingency(tab, correction=False)
    return float(chi2), float(dof), "chi2", float(p), min_exp


def sample_table(students: pd.DataFrame, between: str = "condition") -> pd.DataFrame:
    """Table 1 of an evaluation: the mentee and control groups compared.

    ``students``: one row per pupil with ``condition`` and any of ``age``, ``gender``,
    ``ses``, ``migration_background``, ``origin``, ``first_generation`` (codes as in
    contract.md section 1; absent columns are skipped).

    Rows (tidy, one per characteristic × level):

    - ``age`` / ``mean``: ``*_n`` = pupils with a known age, ``*_value`` = mean,
      ``*_sd`` = SD (n − 1). Test: Welch's t (mentee − control, Welch–Satterthwaite
      ``df``). ``std_diff``: Cohen's d = (M_m − M_c) / pooled SD (n − 1).
    - categorical levels (girl; SES low/middle/high/unknown; migration background yes;
      each origin group; first generation yes): ``*_n`` = pupils with that level,
      ``*_value`` = **percentage** of ``*_total``. For ``ses`` and ``origin``, where
      ``unknown`` is itself a shown level, the denominator is all pupils of the group;
      for ``gender``, ``migration_background`` and ``first_generation`` it is the pupils
      with a known value (not ``unknown``/missing), so "% girls" is among pupils of
      known gender. Test per level: the 2 × 2 table (level vs. the rest × group) by
      Pearson χ² without continuity correction (R ``chisq.test(correct = FALSE)``), or
      Fisher's exact test when any expected count is < 5 (``test`` says which;
      ``statistic`` is NaN for Fisher). ``std_diff``: Cohen's h =
      2·asin√p_m − 2·asin√p_c (Cohen 1988, ch. 6), proportions as 0–1.
    - ``ses`` / ``origin`` level ``all``: Pearson χ² over the whole group × level table
      (omnibus test; ``min_expected`` shows whether the χ² approximation is shaky).

    Columns: ``characteristic, level, mentee_n, mentee_value, control_n,
    control_value, statistic, test, p, std_diff`` plus ``mentee_sd, control_sd,
    mentee_total, control_total, df, min_expected``.
    """
    if between not in students.columns:
        raise StudyError(f"sample_table: column {between!r} not found")
    cond = students[between].astype("string")
    bad = set(cond.dropna().unique()) - set(CONDITIONS)
    if bad:
        raise StudyError(f"sample_table: unknown {between} value(s) {sorted(bad)}; "
                         f"expected {list(CONDITIONS)}")
    is_m = (cond == "mentee").fillna(False).to_numpy(bool)
    is_c = (cond == "control").fillna(False).to_numpy(bool)
    rows: list[dict] = []

    if "age" in students.columns:
        age = pd.to_numeric(students["age"], errors="coerce").to_numpy(float)
        am, ac = age[is_m & np.isfinite(age)], age[is_c & np.isfinite(age)]
        row = dict(characteristic="age", level="mean", mentee_n=am.size,
                   mentee_value=am.mean() if am.size else np.nan,
                   mentee_sd=am.std(ddof=1) if am.size > 1 else np.nan,
                   control_n=ac.size, control_value=ac.mean() if ac.size else np.nan,
                   control_sd=ac.std(ddof=1) if ac.size > 1 else np.nan,
                   mentee_total=am.size, control_total=ac.size,
                   statistic=np.nan, df=np.nan, test="none", p=np.nan, std_diff=np.nan,
                   min_expected=np.nan)
        if am.size > 1 and ac.size > 1:
            res = stats.ttest_ind(am, ac, equal_var=False)  # .df: Welch–Satterthwaite, as R t.test
            row.update(statistic=float(res.statistic), p=float(res.pvalue), df=float(res.df),
                       test="welch_t")
            s = pooled_sd(am, ac)
            row["std_diff"] = (am.mean() - ac.mean()) / s if s > 0 else np.nan
        rows.append(row)

    for char, levels, unknown_shown, omnibus in _TABLE1_SPEC:
        if char not in students.columns:
            continue
        x = students[char].astype("string").str.strip().str.lower()
        known = x.notna().to_numpy(bool).copy()
        if not unknown_shown:
            known &= (x != "unknown").fillna(False).to_numpy(bool)
        else:
            x = x.fillna("unknown")
            known = np.ones(len(x), bool)
        xv = x.to_numpy(dtype=object, na_value="")  # pd.NA == level is NA, and NA & bool raises
        n_m, n_c = int((is_m & known).sum()), int((is_c & known).sum())
        for lv in levels:
            hit = (xv == lv) & known
            k_m, k_c = int((hit & is_m).sum()), int((hit & is_c).sum())
            p_m = k_m / n_m if n_m else np.nan
            p_c = k_c / n_c if n_c else np.nan
            stat, dof, test, p, min_exp = _two_by_two(k_m, n_m, k_c, n_c)
            h = 2 * np.arcsin(np.sqrt(p_m)) - 2 * np.arcsin(np.sqrt(p_c))
            rows.append(dict(characteristic=char, level=lv, mentee_n=k_m,
                             mentee_value=100 * p_m, control_n=k_c,
                             control_value=100 * p_c, mentee_sd=np.nan, control_sd=np.nan,
                             mentee_total=n_m, control_total=n_c, statistic=stat, df=dof,
                             test=test, p=p, std_diff=h, min_expected=min_exp))
        if omnibus:
            lv_obs = [lv for lv in pd.unique(xv[known & (is_m | is_c)])]
            tab = np.array([[((xv == lv) & known & g).sum() for lv in lv_obs]
                            for g in (is_m, is_c)], dtype=float)
            tab = tab[:, tab.sum(axis=0) > 0]
            row = dict(characteristic=char, level="all", mentee_n=np.nan,
                       mentee_value=np.nan, control_n=np.nan, control_value=np.nan,
                       mentee_sd=np.nan, control_sd=np.nan, mentee_total=n_m,
                       control_total=n_c, statistic=np.nan, df=np.nan, test="none",
                       p=np.nan, std_diff=np.nan, min_expected=np.nan)
            if tab.shape[1] >= 2 and (tab.sum(axis=1) > 0).all():
                chi2, p, dof, expct = stats.chi2_contingency(tab, correction=False)
                row.update(statistic=float(chi2), df=float(dof), test="chi2", p=float(p),
                           min_expected=float(expct.min()))
            rows.append(row)

    out = pd.DataFrame(rows, columns=SAMPLE_TABLE_COLUMNS)
    for c in ("mentee_n", "control_n", "mentee_total", "control_total"):
        out[c] = out[c].astype("Int64")
    return out
