"""What Works Clearinghouse checks: baseline equivalence and attrition.

Source: What Works Clearinghouse (2022). *Procedures and Standards Handbook, Version
5.0*. U.S. Department of Education, Institute of Education Sciences.

For a difference-in-differences contrast (e.g. ``T3-T1``) the analytic sample is the
pupils scored at both waves of the contrast and at T1 (the baseline): for ``T2-T1`` and
``T3-T1`` that is simply "both waves"; for ``T3-T2`` it also requires a T1 score, so
that baseline equivalence is judged on the T1 scores of exactly that sample
(contract.md §4: "Hedges' g of the T1 difference among the pupils who have both waves
of the contrast").
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import WAVES, StudyError
from .effects import hedges_g
from .longdata import change_pairs, check_long, single_outcome

__all__ = [
    "ATTRITION_BOUNDARY",
    "attrition_boundary",
    "attrition_rating",
    "wwc_band",
    "baseline_equivalence",
    "attrition",
]

# WWC attrition boundary: Procedures and Standards Handbook, Version 5.0 (2022), the
# attrition boundary table ("Highest differential attrition rate for a sample to maintain
# low attrition, by overall attrition rate, under 'optimistic' and 'cautious'
# assumptions"). Overall attrition in
# percent (0-65, 1-point steps); the boundary is the largest differential attrition in
# percentage points that still counts as low attrition. Under the cautious boundary an
# overall rate of 58% or more is high attrition whatever the differential (NaN here).
# The boundary is unchanged from the previous handbook. Transcribed from the R package
# baselinr 0.6.0 (Liang; R/attrition_boundary.R, which cites the previous handbook's
# table) and checked against the points published in the handbook at
# 0/10/20/30/40/50% overall (cautious 5.7/6.3/5.4/4.1/2.6/1.0, optimistic
# 10.0/10.9/10.0/8.2/6.0/3.7) and the cautious cut-off at 58% — all agree.
_CAUTIOUS = [
    5.7, 5.8, 5.9, 5.9, 6.0, 6.1, 6.2, 6.3, 6.3, 6.3, 6.3, 6.2, 6.2, 6.1, 6.0,
    5.9, 5.9, 5.8, 5.7, 5.5, 5.4, 5.3, 5.2, 5.1, 4.9, 4.8, 4.7, 4.5, 4.4, 4.3,
    4.1, 4.0, 3.8, 3.6, 3.5, 3.3, 3.2, 3.1, 2.9, 2.8, 2.6, 2.5, 2.3, 2.1, 2.0,
    1.8, 1.6, 1.5, 1.3, 1.2, 1.0, 0.9, 0.7, 0.6, 0.4, 0.3, 0.2, 0.0,
] + [np.nan] * 8
_OPTIMISTIC = [
    10.0, 10.1, 10.2, 10.3, 10.4, 10.5, 10.7, 10.8, 10.9, 10.9, 10.9, 10.9,
    10.9, 10.8, 10.8, 10.7, 10.6, 10.5, 10.3, 10.2, 10.0, 9.9, 9.7, 9.5, 9.4,
    9.2, 9.0, 8.8, 8.6, 8.4, 8.2, 8.0, 7.8, 7.6, 7.4, 7.2, 7.0, 6.7, 6.5, 6.3,
    6.0, 5.8, 5.6, 5.3, 5.1, 4.9, 4.6, 4.4, 4.2, 3.9, 3.7, 3.5, 3.2, 3.0, 2.8,
    2.6, 2.3, 2.1, 1.9, 1.6, 1.4, 1.1, 0.9, 0.7, 0.5, 0.3,
]
ATTRITION_BOUNDARY = pd.DataFrame({
    "overall": np.arange(66, dtype=float),
    "cautious": np.array(_CAUTIOUS, dtype=float),
    "optimistic": np.array(_OPTIMISTIC, dtype=float),
})
_TOL = 1e-9   # so that e.g. 0.014 * 100 = 1.4000000000000001 is not "above" 1.4


def attrition_boundary(overall_pct, assumption: str = "cautious", method: str = "linear"):
    """Largest differential attrition (percentage points) that is still "low".

    ``overall_pct``: overall attrition in percent (0–100), scalar or array. The WWC
    table (:data:`ATTRITION_BOUNDARY`) is given at whole percents; ``method="linear"``
    (default) interpolates linearly between the two neighbouring whole percents,
    ``method="round"`` uses the nearest whole percent (halves up). Returns NaN where
    any differential is high: overall > 65%, and under ``"cautious"`` overall > 57%
    (the table's last finite cautious value, 0.0 at 57%, is used up to 58%; from 58%
    on it is high).
    """
    if assumption not in ("cautious", "optimistic"):
        raise ValueError("assumption must be 'cautious' or 'optimistic'")
    if method not in ("linear", "round"):
        raise ValueError("method must be 'linear' or 'round'")
    x = np.asarray(overall_pct, dtype=float)
    col = ATTRITION_BOUNDARY[assumption].to_numpy()
    last = 57.0 if assumption == "cautious" else 65.0
    valid = np.isfinite(x) & (x >= 0) & (x < last + 1 if assumption == "cautious" else x <= last)
    out = np.full(x.shape, np.nan)
    xv = np.clip(x[valid], 0, last)
    if method == "round":
        out[valid] = col[np.floor(xv + 0.5).clip(0, last).astype(int)]
    else:
        lo = np.floor(xv).astype(int)
        hi = np.minimum(lo + 1, int(last))
        frac = xv - lo
        out[valid] = col[lo] + frac * (col[hi] - col[lo])
    return float(out) if out.ndim == 0 else out


def attrition_rating(overall, differential, assumption: str = "cautious",
                     method: str = "linear"):
    """``"low"`` or ``"high"`` attrition under the WWC boundary.

    ``overall`` and ``differential`` as proportions (0–1); the comparison is made in
    percent / percentage points: low when 100·differential ≤ boundary(100·overall).
    Returns a string for scalars, an object array otherwise (``None`` where an input
    is missing).
    """
    o = np.asarray(overall, dtype=float)
    return _rating(o, differential, attrition_boundary(100 * o, assumption, method))


def _rating(overall, differential, boundary):
    """:func:`attrition_rating` given the boundary (percentage points) at ``overall``."""
    o = np.asarray(overall, dtype=float)
    d = np.asarray(differential, dtype=float)
    bound = np.asarray(boundary, dtype=float)
    low = np.isfinite(bound) & (100 * d <= bound + _TOL)
    out = np.where(low, "low", "high").astype(object)
    out = np.where(np.isfinite(o) & np.isfinite(d), out, None)
    return out.item() if out.ndim == 0 else out


def wwc_band(g):
    """WWC baseline-equivalence band for a baseline effect size g.

    |g| ≤ .05 ``"satisfies"``; .05 < |g| ≤ .25 ``"adjust"`` (statistical adjustment for
    the baseline, e.g. a difference-in-differences, is required); |g| > .25 ``"fails"``
    (WWC Procedures and Standards Handbook, Version 5.0, 2022). ``None`` for a missing g.
    """
    g = np.asarray(g, dtype=float)
    a = np.abs(g)
    out = np.where(a <= 0.05, "satisfies", np.where(a <= 0.25, "adjust", "fails")).astype(object)
    out = np.where(np.isfinite(g), out, None)
    return out.item() if out.ndim == 0 else out


def _wide(data, dv, within, between, subject, who):
    """(scores pupil × wave, condition per pupil, the data's single outcome or None)."""
    outcome = single_outcome(data, who)
    d = check_long(data, dv, within, between, subject, who)
    cond = d.groupby(subject, sort=True)[between].first()
    wide = d.pivot(index=subject, columns=within, values=dv)
    wide = wide.reindex(columns=[w for w in WAVES if w in wide.columns])
    return wide, cond.reindex(wide.index), outcome


def _analytic(wide, a, b):
    need = [w for w in dict.fromkeys(("T1", a, b)) if w in wide.columns]
    if len(need) < len(set(("T1", a, b))):
        return None
    return wide[need].notna().all(axis=1).to_numpy()


def baseline_equivalence(data: pd.DataFrame, dv: str = "score", *, within: str = "wave",
                         between: str = "condition",
                         subject: str = "student_id") -> pd.DataFrame:
    """WWC baseline equivalence of each DiD contrast's analytic sample (one outcome).

    For ``T2-T1``, ``T3-T1``, ``T3-T2``: the pupils scored at both waves of the
    contrast and at T1; g_baseline = Hedges' g of their T1 scores, mentee − control
    (g = ω(ȳ_m − ȳ_c)/S, see :func:`mut_eval.stats.effects.hedges_g`), banded by
    :func:`wwc_band`. Columns: ``contrast, n_mentee, n_control, g_baseline, wwc`` plus
    ``mean_mentee, mean_control`` (T1 means) — preceded by ``outcome`` when the data
    carry a single outcome. Contrasts whose waves are absent are left out.
    """
    wide, cond, outcome = _wide(data, dv, within, between, subject, "baseline equivalence")
    is_m = (cond == "mentee").to_numpy()
    rows = []
    for b, a in change_pairs():
        keep = _analytic(wide, a, b)
        if keep is None:
            continue
        t1 = wide["T1"].to_numpy(float)
        ym, yc = t1[keep & is_m], t1[keep & ~is_m]
        g = hedges_g(ym, yc)
        rows.append(dict(contrast=f"{b}-{a}", n_mentee=int(ym.size), n_control=int(yc.size),
                         g_baseline=g, wwc=wwc_band(g),
                         mean_mentee=ym.mean() if ym.size else np.nan,
                         mean_control=yc.mean() if yc.size else np.nan))
    out = pd.DataFrame(rows, columns=["contrast", "n_mentee", "n_control", "g_baseline",
                                      "wwc", "mean_mentee", "mean_control"])
    if outcome is not None:
        out.insert(0, "outcome", outcome)
    return out


def attrition(data: pd.DataFrame, enrolled, dv: str = "score", *, within: str = "wave",
              between: str = "condition", subject: str = "student_id",
              method: str = "linear") -> pd.DataFrame:
    """WWC overall and differential attrition of each DiD contrast (one outcome).

    ``enrolled``: mapping (dict/Series) ``{"mentee": n, "control": n}`` — the pupils
    randomised/enrolled per condition. Analytic sample per contrast as in
    :func:`baseline_equivalence`. With a_k = 1 − analytic_k / enrolled_k:

    - ``overall`` = 1 − (analytic_m + analytic_c) / (enrolled_m + enrolled_c)
    - ``differential`` = |a_mentee − a_control|

    both as proportions (0–1). ``wwc_cautious`` / ``wwc_optimistic``: ``"low"`` or
    ``"high"`` against the WWC boundary (:func:`attrition_rating`, compared in percent
    / percentage points; ``method`` as in :func:`attrition_boundary`).
    ``max_differential_cautious`` / ``_optimistic`` give the boundary itself (as a
    proportion; NaN where every differential is high).

    Columns: ``contrast, enrolled_mentee, enrolled_control, analytic_mentee,
    analytic_control, overall, differential, wwc_cautious, wwc_optimistic,
    attrition_mentee, attrition_control, max_differential_cautious,
    max_differential_optimistic`` — preceded by ``outcome`` for single-outcome data.
    """
    try:
        e_m, e_c = int(enrolled["mentee"]), int(enrolled["control"])
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise StudyError("attrition: `enrolled` must give the number of enrolled pupils "
                         "for 'mentee' and 'control'") from exc
    if e_m <= 0 or e_c <= 0:
        raise StudyError("attrition: enrolled numbers must be positive")
    wide, cond, outcome = _wide(data, dv, within, between, subject, "attrition")
    is_m = (cond == "mentee").to_numpy()
    rows = []
    for b, a in change_pairs():
        keep = _analytic(wide, a, b)
        if keep is None:
            continue
        n_m, n_c = int((keep & is_m).sum()), int((keep & ~is_m).sum())
        if n_m > e_m or n_c > e_c:
            raise StudyError(f"attrition: more pupils analysed than enrolled for {b}-{a} "
                             f"(mentee {n_m}/{e_m}, control {n_c}/{e_c})")
        a_m, a_c = 1 - n_m / e_m, 1 - n_c / e_c
        overall = 1 - (n_m + n_c) / (e_m + e_c)
        diff = abs(a_m - a_c)
        bc = attrition_boundary(100 * overall, "cautious", method)
        bo = attrition_boundary(100 * overall, "optimistic", method)
        rows.append(dict(contrast=f"{b}-{a}", enrolled_mentee=e_m, enrolled_control=e_c,
                         analytic_mentee=n_m, analytic_control=n_c, overall=overall,
                         differential=diff,
                         wwc_cautious=_rating(overall, diff, bc),
                         wwc_optimistic=_rating(overall, diff, bo),
                         attrition_mentee=a_m, attrition_control=a_c,
                         max_differential_cautious=bc / 100,
                         max_differential_optimistic=bo / 100))
    out = pd.DataFrame(rows, columns=[
        "contrast", "enrolled_mentee", "enrolled_control", "analytic_mentee",
        "analytic_control", "overall", "differential", "wwc_cautious", "wwc_optimistic",
        "attrition_mentee", "attrition_control", "max_differential_cautious",
        "max_differential_optimistic"])
    if outcome is not None:
        out.insert(0, "outcome", outcome)
    return out
