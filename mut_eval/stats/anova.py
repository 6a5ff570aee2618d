"""Split-plot (mixed) repeated-measures ANOVA with Type III sums of squares.

One between-subjects factor (``condition``) and one within-subjects factor (``wave``),
analysed as SPSS GLM Repeated Measures and R ``afex::aov_ez(type = 3)`` /
``car::Anova`` do it: the multivariate-model approach (O'Brien & Kaiser 1985; Fox,
Friendly & Weisberg 2013, *R Journal* 5(1)), which gives the univariate split-plot
F tests with sphericity diagnostics.

Why not ``pingouin.mixed_anova``: with unequal group sizes pingouin computes the
``wave`` main effect with Type II sums of squares (weighted grand mean), so its F and p
for ``wave`` differ from SPSS/JASP/afex, and it gives no sphericity correction for
the interaction. On balanced data both approaches coincide (tested).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from .. import CONDITIONS, WAVES, StudyError
from .levels import ordered_levels
from .longdata import check_long
from .multiplicity import holm

__all__ = ["mixed_anova", "interaction_contrasts", "wide_complete"]

ANOVA_COLUMNS = ["source", "ss", "df1", "df2", "F", "p_unc", "eps_gg", "eps_hf",
                 "p_gg", "p_hf", "np2", "ng2", "mauchly_w", "mauchly_p"]
CONTRAST_COLUMNS = ["contrast", "estimate", "F", "df1", "df2", "p_unc", "p_holm", "n"]


def wide_complete(data: pd.DataFrame, dv: str = "score", within: str = "wave",
                  between: str = "condition", subject: str = "student_id",
                  within_levels: list | None = None):
    """Reshape long data to one row per subject and keep the complete cases.

    Returns ``(Y, group, within_levels, between_levels, info)`` where ``Y`` is an
    (n_subjects × n_within) float array of complete subjects, ``group`` the integer
    between-level code per row of ``Y``, and ``info`` a dict with ``n_input``,
    ``n_excluded``, ``n_per_group`` and ``subjects`` (ids of the rows of ``Y``).
    Vectorised (factorize + scatter) so it is fast for tens of thousands of pupils.
    """
    d = check_long(data, dv, within, between, subject, "mixed ANOVA",
                   conditions=None, waves=None, as_str=False)
    if within_levels is None:
        within_levels = ordered_levels(d[within], WAVES)
    else:
        d = d[d[within].isin(within_levels)]
    between_levels = ordered_levels(d[between], CONDITIONS)
    k = len(within_levels)

    subj_code, subj_ids = pd.factorize(d[subject], sort=False)
    w_code = pd.Categorical(d[within], categories=within_levels).codes.astype(np.int64)
    b_code = pd.Categorical(d[between], categories=between_levels).codes.astype(np.int64)
    n_subj = len(subj_ids)

    # check_long guarantees one score per cell and one between level per subject
    cell = subj_code.astype(np.int64) * k + w_code
    counts = np.bincount(cell, minlength=n_subj * k)
    g_of = np.empty(n_subj, dtype=np.int64)
    g_of[subj_code] = b_code

    Y = np.full(n_subj * k, np.nan)
    Y[cell] = d[dv].to_numpy(dtype=float)
    Y = Y.reshape(n_subj, k)
    complete = counts.reshape(n_subj, k).all(axis=1)
    group = g_of[complete]
    info = {
        "n_input": int(n_subj),
        "n_excluded": int(n_subj - complete.sum()),
        "n_per_group": {str(lv): int((group == i).sum()) for i, lv in enumerate(between_levels)},
        "subjects": np.asarray(subj_ids)[complete],
    }
    return Y[complete], group, list(within_levels), list(between_levels), info


def _helmert(k: int) -> np.ndarray:
    """k × (k−1) orthonormal contrasts (normalised Helmert); results do not depend on
    which orthonormal basis is used."""
    C = np.zeros((k, k - 1))
    for j in range(1, k):
        C[:j, j - 1] = 1.0
        C[j, j - 1] = -j
        C[:, j - 1] /= np.sqrt(j * (j + 1))
    return C


def _group_sums(X: np.ndarray, group: np.ndarray, g: int) -> np.ndarray:
    out = np.zeros((g, X.shape[1]))
    np.add.at(out, group, X)
    return out


def mixed_anova(data: pd.DataFrame, dv: str = "score", within: str = "wave",
                between: str = "condition", subject: str = "student_id",
                hf: str = "lecoutre") -> pd.DataFrame:
    """Type III split-plot ANOVA (one between, one within factor) on complete cases.

    Subjects without a ``dv`` value at every level of ``within`` are dropped
    (listwise deletion, as SPSS and afex do); the counts are in ``result.attrs``:
    ``n_subjects``, ``n_excluded``, ``n_per_group``.

    Method (multivariate approach; Fox, Friendly & Weisberg 2013). Let ``Y`` be the
    N × k matrix of complete subjects, ``C`` k × p orthonormal contrasts (p = k − 1),
    ``Z = Y C``, and g groups with sizes n_j and mean vectors m_j of ``Z``.

    * between effect: s_i = Σ_t y_it / √k; SS = Σ n_j (s̄_j − s̄)², error SS =
      Σ (s_i − s̄_j)², df (g − 1, N − g). With a single between factor the Type III
      test equals the one-way test.
    * error SSCP ``E = Σ_i (z_i − m_{j(i)})(z_i − m_{j(i)})'``; error SS = tr(E),
      df2 = (N − g) p.
    * within main effect (Type III = the intercept of the sum-to-zero coded model, i.e.
      the *unweighted* mean of the group means u = Σ m_j / g):
      SS = ‖u‖² / c with c = Σ (1/n_j) / g²; df1 = p. (Type II would use the
      weighted mean and N, which is what pingouin does.)
    * interaction: SS = tr Σ n_j (m_j − m̄)(m_j − m̄)' with m̄ the weighted mean;
      df1 = (g − 1) p.
    * Greenhouse–Geisser ε = tr(E)² / (p tr(E²)) (Greenhouse & Geisser 1959).
    * Huynh–Feldt ε, ``hf="lecoutre"`` (default, as car/afex/jamovi):
      ε̃ = ((N − g + 1) p ε − 2) / (p (N − g − p ε)) (Huynh & Feldt 1976 with the
      correction of Lecoutre 1991, *J Educ Stat* 16:371). ``hf="huynh-feldt"`` uses the
      original 1976 expression with N in place of N − g + 1, which SPSS is reported
      to use (identical when g = 1). ε̃ is reported uncapped, as car does; its p-value
      uses min(1, ε̃).
    * Mauchly's W = det(E) / (tr(E)/p)^p and its p-value with the second-order
      chi-square approximation of Anderson (1958), exactly as ``car`` computes it.
    * np2 = SS / (SS + SS_error); ng2 (generalised η², Olejnik & Algina 2003; Bakeman
      2005, all factors manipulated) = SS / (SS + SS_error,between + SS_error,within),
      as ``afex`` computes ``ges``.

    With k = 2 the within effects have ε = 1 (p_gg = p_hf = p_unc) and Mauchly is NaN.

    Returns a DataFrame with rows ``between``, ``within``, ``between:within`` and
    columns ``source, ss, df1, df2, F, p_unc, eps_gg, eps_hf, p_gg, p_hf, np2, ng2,
    mauchly_w, mauchly_p`` (ε, corrected p and Mauchly are NaN for the between row).

    Examples
    --------
    >>> import pingouin as pg
    >>> df = pg.read_dataset("mixed_anova")
    >>> mixed_anova(df, dv="Scores", within="Time", between="Group",
    ...             subject="Subject")[["source", "F"]].round(3)
           source      F
    0       Group  5.052
    1        Time  4.027
    2  Group:Time  2.728
    """
    if hf not in ("lecoutre", "huynh-feldt"):
        raise ValueError("hf must be 'lecoutre' or 'huynh-feldt'")
    Y, group, wlev, blev, info = wide_complete(data, dv, within, between, subject)
    k, g = len(wlev), len(blev)
    n_j = np.bincount(group, minlength=g).astype(float)
    N = int(n_j.sum())
    if k < 2:
        raise StudyError(f"mixed ANOVA needs at least 2 levels of {within!r}; found {wlev}")
    if g < 2 or np.any(n_j == 0):
        raise StudyError(f"mixed ANOVA needs at least 2 groups of {between!r} among the "
                         f"complete cases; found {info['n_per_group']}")
    df_err = N - g
    if df_err < 1:
        raise StudyError(f"mixed ANOVA: too few complete subjects ({N}) for {g} groups")
    p = k - 1

    # Between-subjects part on the scaled subject sums.
    s = Y.sum(axis=1) / np.sqrt(k)
    s_mean_j = np.bincount(group, weights=s, minlength=g) / n_j
    s_bar = s.mean()
    ss_b = float(np.sum(n_j * (s_mean_j - s_bar) ** 2))
    sse_b = float(np.sum((s - s_mean_j[group]) ** 2))

    # Within-subjects part on the orthonormal transforms.
    Z = Y @ _helmert(k)
    M = _group_sums(Z, group, g) / n_j[:, None]
    R = Z - M[group]
    E = R.T @ R
    sse_w = float(np.trace(E))
    u = M.mean(axis=0)
    ss_w = float(u @ u) / (np.sum(1.0 / n_j) / g**2)
    m_bar = n_j @ M / N
    ss_int = float(np.sum(n_j[:, None] * (M - m_bar) ** 2))

    if not sse_w > 0:
        # every pupil's scores change by the group's mean change: no error variance, so no F
        raise StudyError("the scores have no variance within pupils (every pupil changes the same, "
                         "e.g. all answers equal at every wave); the repeated-measures ANOVA cannot be estimated")

    # Sphericity.
    if p >= 2:
        tr = sse_w
        eps_gg = tr**2 / (p * float(np.sum(E * E)))
        n_hf = df_err + 1 if hf == "lecoutre" else N
        eps_hf = (n_hf * p * eps_gg - 2) / (p * (df_err - p * eps_gg))
        sign, logdet = np.linalg.slogdet(E)
        if sign > 0 and tr > 0:
            log_w = logdet - p * np.log(tr / p)
            # car's summary.Anova.mlm (after stats::mauchly.test); the "3 k" term with
            # k = number of within levels is as car has it (it vanishes when p = 2).
            rho = 1 - (2 * p**2 + p + 2) / (6 * p * df_err)
            w2 = ((p + 2) * (p - 1) * (p - 2) * (2 * p**3 + 6 * p**2 + 3 * k + 2)
                  / (288 * (df_err * p * rho) ** 2))
            z = -df_err * rho * log_w
            f = p * (p + 1) / 2 - 1
            pr1 = stats.chi2.sf(z, f)
            pr2 = stats.chi2.sf(z, f + 4)
            mauchly_w, mauchly_p = float(np.exp(log_w)), float(pr1 + w2 * (pr2 - pr1))
        else:
            mauchly_w, mauchly_p = np.nan, np.nan
    else:
        eps_gg = eps_hf = 1.0
        mauchly_w = mauchly_p = np.nan

    rows = []
    err_total = sse_b + sse_w
    for name, ss, df1, df2, sse, is_within in (
        (between, ss_b, g - 1, df_err, sse_b, False),
        (within, ss_w, p, df_err * p, sse_w, True),
        (f"{between}:{within}", ss_int, (g - 1) * p, df_err * p, sse_w, True),
    ):
        with np.errstate(divide="ignore", invalid="ignore"):
            F = (ss / df1) / (sse / df2)
            np2 = ss / (ss + sse)
            ng2 = ss / (ss + err_total)
        p_unc = float(stats.f.sf(F, df1, df2))
        if is_within:
            p_gg = float(stats.f.sf(F, eps_gg * df1, eps_gg * df2))
            e_hf = min(1.0, eps_hf)
            p_hf = float(stats.f.sf(F, e_hf * df1, e_hf * df2))
            row_eps = (eps_gg, eps_hf, p_gg, p_hf, mauchly_w, mauchly_p)
        else:
            row_eps = (np.nan,) * 6
        rows.append((name, ss, float(df1), float(df2), float(F), p_unc, row_eps[0],
                     row_eps[1], row_eps[2], row_eps[3], float(np2), float(ng2),
                     row_eps[4], row_eps[5]))
    out = pd.DataFrame(rows, columns=ANOVA_COLUMNS)
    out.attrs.update(n_subjects=N, n_excluded=info["n_excluded"],
                     n_per_group=info["n_per_group"], within_levels=wlev,
                     between_levels=blev)
    return out


def interaction_contrasts(data: pd.DataFrame, dv: str = "score", within: str = "wave",
                          between: str = "condition", subject: str = "student_id",
                          completers: bool = True) -> pd.DataFrame:
    """Condition × wave interaction for each pair of waves (follow-up of the omnibus test).

    For waves a < b the interaction of a 2-group × 2-wave ANOVA equals a pooled-variance
    between-groups test of the change score d = y_b − y_a:
    F = (Σ n_j (d̄_j − d̄)² / (g − 1)) / (Σ (d_i − d̄_j)² / (N − g)), df (g − 1, N − g),
    i.e. F(1, N − 2) = t² for two groups (Maxwell & Delaney 2004, ch. 12).
    ``estimate`` is the difference in mean change, first minus second group
    (mentee − control); NaN when there are more than two groups. ``p_holm`` adjusts
    across the contrasts of this call (Holm 1979).

    ``completers=True`` (default) uses the subjects with every wave, the same sample as
    :func:`mixed_anova`; ``False`` uses, per contrast, all subjects with both waves.

    Contrasts are labelled later-minus-earlier (``'T2-T1'``), ordered by lag then by
    the earlier wave: T2-T1, T3-T2, T3-T1. Columns: ``contrast, estimate, F, df1, df2,
    p_unc, p_holm, n``.
    """
    full = wide_complete(data, dv, within, between, subject)
    wlev, blev = full[2], full[3]
    k, g = len(wlev), len(blev)
    pairs = [(a, a + lag) for lag in range(1, k) for a in range(k - lag)]
    rows = []
    for a, b in pairs:
        if completers:
            diff, group = full[0][:, b] - full[0][:, a], full[1]
        else:
            Y2, g2, _, blev2, _ = wide_complete(data, dv, within, between, subject,
                                               within_levels=[wlev[a], wlev[b]])
            # Map this pair's group codes onto the codes of the full between levels.
            remap = np.array([blev.index(lv) for lv in blev2], dtype=np.int64)
            diff, group = Y2[:, 1] - Y2[:, 0], remap[g2] if len(g2) else g2
        n_j = np.bincount(group, minlength=g).astype(float)
        N = int(n_j.sum())
        label = f"{wlev[b]}-{wlev[a]}"
        if g < 2 or np.any(n_j == 0) or N - g < 1:
            rows.append((label, np.nan, np.nan, np.nan, np.nan, np.nan, N))
            continue
        m_j = np.bincount(group, weights=diff, minlength=g) / n_j
        ss_h = float(np.sum(n_j * (m_j - diff.mean()) ** 2))
        ss_e = float(np.sum((diff - m_j[group]) ** 2))
        df1, df2 = g - 1, N - g
        with np.errstate(divide="ignore", invalid="ignore"):
            F = (ss_h / df1) / (ss_e / df2)
        est = float(m_j[0] - m_j[1]) if g == 2 else np.nan
        rows.append((label, est, float(F), float(df1), float(df2),
                     float(stats.f.sf(F, df1, df2)), N))
    out = pd.DataFrame(rows, columns=["contrast", "estimate", "F", "df1", "df2", "p_unc", "n"])
    out["p_holm"] = holm(out["p_unc"].to_numpy())
    return out[CONTRAST_COLUMNS]
