"""Linear mixed model on all available scores and the difference-in-differences.

Model (one outcome, long data)::

    score ~ condition * wave [+ covariates] + <random terms>,   fitted by REML

with ``control`` and ``T1`` as reference levels. The random part is written as in lme4;
by default ``(1 | student_id)``, the pupil-level model of R ``lme4::lmer(score ~
condition * wave + (1 | student_id), REML = TRUE)``; a class-assigned design adds
``(1 | school) + (1 | school:class) + (1 | school:class:wave)`` (see
:mod:`mut_eval.stats.multilevel`). Pupils with missing waves keep the scores they have
(missing at random given the model).

The fit is :func:`mut_eval.stats.mixed.fit_mixed`, the one mixed-model engine of the
toolkit (profiled REML deviance of Bates, Mächler, Bolker & Walker 2015, *J. Stat.
Softw.* 67(1), eq. 42; Var(β̂) as lme4's ``vcov``).

Inference for contrasts Lβ (:func:`did`): ``ddf="asymptotic"`` is the Wald z of
``emmeans`` with ``lmer.df = "asymptotic"``; ``"kenward-roger"`` uses the KR-adjusted
covariance and df (pbkrtest; emmeans' default for lmer), ``"satterthwaite"`` the
Satterthwaite df (lmerTest). Fixed effects (:func:`lmm_fixed`) and marginal means
(:func:`lmm_emm`) are always Wald z.

Estimated marginal means (``lmm_emm``) are predictions at each condition × wave cell
with covariates held at the reference grid of ``emmeans``: numeric covariates at their
mean over the rows used in the fit; categorical covariates averaged over their levels
with equal weights (each non-reference dummy at 1/k).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .. import CONDITIONS, WAVES, StudyError
from .effects import improvement_index, omega_correction, pooled_sd
from .longdata import change_pairs, check_long, single_outcome
from .mixed import MixedFit, RankDeficientDesign, fit_mixed, parse_random
from .mmrm import MMRMFit, fit_mmrm
from .multiplicity import benjamini_hochberg, holm

__all__ = [
    "RankDeficientDesign",
    "LMMFit",
    "fit_lmm",
    "lmm_fixed",
    "lmm_emm",
    "did",
    "did_by_outcome",
    "mixed_model_by_outcome",
    "adjust_across",
    "stack_by_outcome",
]

FIXED_COLUMNS = ["term", "estimate", "se", "z", "p", "ci_low", "ci_high", "converged",
                 "sigma2_student", "sigma2_resid", "n_students", "n_obs"]
EMM_COLUMNS = ["condition", "wave", "emm", "se", "ci_low", "ci_high", "n"]
DID_COLUMNS = ["contrast", "estimate", "se", "df", "z", "ci_low", "ci_high", "p", "g",
               "g_ci_low", "g_ci_high", "improvement_index", "mentee_change",
               "control_change", "sd_pooled_t1", "n_t1", "omega", "n_students", "n_obs",
               "converged"]


@dataclass(frozen=True)
class LMMFit:
    """A fitted mixed model of one outcome (see :func:`fit_lmm`)."""

    params: pd.Series            # fixed effects, indexed by term
    cov: pd.DataFrame            # their covariance matrix (lme4's vcov)
    sigma2_student: float        # variance of the pupil intercept (0 if not in the model)
    sigma2_resid: float          # residual variance σ²
    converged: bool
    singular: bool               # a variance estimated at 0 (lme4's isSingular)
    n_students: int
    n_obs: int
    reml_loglik: float
    waves: tuple
    random: str                  # the random part, lme4 notation
    mixed: MixedFit | MMRMFit = field(repr=False, compare=False)  # the engine's fit (KR, df)
    residual: str = "compound"   # compound (pupil intercept) or unstructured (MMRM)
    grid: dict = field(default_factory=dict)   # covariate column -> reference value
    cell_n: dict = field(default_factory=dict)  # (condition, wave) -> number of scores

    def design_row(self, condition: str, wave: str) -> np.ndarray:
        """Fixed-effects row for a condition × wave cell at the reference grid."""
        m = 1.0 if condition == "mentee" else 0.0
        x = {"Intercept": 1.0, "condition[T.mentee]": m}
        for w in self.waves[1:]:
            x[f"wave[T.{w}]"] = 1.0 if wave == w else 0.0
            x[f"condition[T.mentee]:wave[T.{w}]"] = m * x[f"wave[T.{w}]"]
        x.update(self.grid)
        return np.array([x[t] for t in self.params.index], dtype=float)


# ---------------------------------------------------------------------------
# data preparation
# ---------------------------------------------------------------------------
def _prepare(data, dv, covariates, within, between, subject, who, grouping=()):
    covariates = tuple([covariates] if isinstance(covariates, str) else covariates)
    grouping = tuple(g for g in grouping if g not in (within, between, subject))
    d = check_long(data, dv, within, between, subject, who, extra=covariates + grouping)
    if covariates:
        d = d[d[list(covariates)].notna().all(axis=1)]
    missing = [g for g in grouping if d[g].isna().any()]
    if missing:
        raise StudyError(f"{who}: column(s) {missing} of the random part have missing values")
    if d.empty:
        raise StudyError(f"{who}: no scores to analyse")
    cond = d[between].to_numpy(dtype=object)
    wave = d[within].to_numpy(dtype=object)
    waves = tuple(w for w in WAVES if w in set(wave))
    if len(waves) < 2 or waves[0] != "T1":
        raise StudyError(f"{who}: need T1 and at least one later wave (found {list(waves)})")
    for c in CONDITIONS:
        if not (cond == c).any():
            raise StudyError(f"{who}: no {c} scores; both conditions are needed")
    cell_n = {(c, w): int(((cond == c) & (wave == w)).sum()) for c in CONDITIONS for w in waves}
    empty = [f"{c} {w}" for (c, w), n in cell_n.items() if n == 0]
    if empty:
        raise StudyError(f"{who}: no scores for {', '.join(empty)}")
    n_ids = d[subject].nunique()
    is_m = (cond == "mentee").astype(float)
    if n_ids == len(d):
        raise StudyError(f"{who}: every pupil has a single score; a random-intercept "
                         "model needs repeated measurements")

    cols = {"Intercept": np.ones(len(d)), "condition[T.mentee]": is_m}
    for w in waves[1:]:
        cols[f"wave[T.{w}]"] = (wave == w).astype(float)
    grid: dict[str, float] = {}
    for cv in covariates:
        s = d[cv]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            cols[cv] = s.to_numpy(float)
            grid[cv] = float(cols[cv].mean())
        else:
            sv = s.astype(str).to_numpy(dtype=object)
            levels = sorted(set(sv))
            for lv in levels[1:]:
                name = f"{cv}[T.{lv}]"
                cols[name] = (sv == lv).astype(float)
                # emmeans averages over factor levels with equal weights
                grid[name] = 1.0 / len(levels)
    for w in waves[1:]:
        cols[f"condition[T.mentee]:wave[T.{w}]"] = is_m * cols[f"wave[T.{w}]"]
    X = np.column_stack(list(cols.values()))
    y = d[dv].to_numpy(float)
    return d, y, X, list(cols), n_ids, waves, grid, cell_n


def fit_lmm(data: pd.DataFrame, dv: str = "score", covariates=(), *, within: str = "wave",
            between: str = "condition", subject: str = "student_id",
            random: str | None = None, residual: str = "compound") -> LMMFit:
    """Fit ``dv ~ C(condition, ref control) * C(wave, ref T1) [+ covariates] + random``.

    REML on all available scores of one outcome (long format: one row per pupil ×
    wave) by :func:`mut_eval.stats.mixed.fit_mixed`. ``covariates``: column names;
    numeric columns enter linearly, others as treatment-coded factors (first level in
    sorted order is the reference). Rows with a missing covariate are dropped.
    ``random``: the random part in lme4 notation over columns of ``data`` (default
    ``(1 | <subject>)``; e.g. ``(1 | school) + (1 | school:class) + (1 |
    school:class:wave) + (1 | student_id)``). ``residual="unstructured"``: the pupil
    intercept is replaced by an unstructured covariance of each pupil's residuals over
    the waves — the MMRM of :func:`mut_eval.stats.mmrm.fit_mmrm` (``(1 | <subject>)`` is
    dropped from ``random``; the other terms stay). Raises :class:`~mut_eval.StudyError`
    when the model is not estimable.
    """
    single_outcome(data, "mixed model")
    random = random or f"(1 | {subject})"
    grouping = [t for t in dict.fromkeys(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", random))]
    d, y, X, names, G, waves, grid, cell_n = _prepare(
        data, dv, covariates, within, between, subject, "mixed model", grouping)
    if residual not in ("compound", "unstructured"):
        raise ValueError(f"residual must be 'compound' or 'unstructured', not {residual!r}")
    try:
        if residual == "compound":
            r = fit_mixed(y, X, parse_random(random, d), names=names)
        else:
            terms = [t for t in _TERMS.findall(random) if t.replace(" ", "") != f"(1|{subject})"]
            wave_code = d[within].map({w: i for i, w in enumerate(waves)}).to_numpy(int)
            r = fit_mmrm(y, X, wave_code, d[subject].to_numpy(object),
                         parse_random(" + ".join(terms), d) if terms else [], names=names)
    except RankDeficientDesign as e:
        raise StudyError(f"mixed model: the model cannot be estimated — a covariate is "
                         f"constant or collinear with condition/wave ({e})") from None
    vc = r.varcomp
    compound = residual == "compound"
    return LMMFit(params=r.params, cov=pd.DataFrame(r.vcov, index=names, columns=names),
                  sigma2_student=float(vc.get(subject, 0.0)) if compound else float("nan"),
                  sigma2_resid=float(r.sigma2) if compound else float("nan"),
                  converged=bool(r.converged),
                  singular=bool(r.singular) if compound else bool(not np.all(r.active)),
                  n_students=int(G), n_obs=int(len(y)), reml_loglik=float(r.loglik), waves=waves,
                  random=random, mixed=r, residual=residual, grid=grid, cell_n=cell_n)


_TERMS = re.compile(r"\([^()]*\|[^()]*\)")


def _wald(est, se, alpha):
    est, se = np.asarray(est, float), np.asarray(se, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    q = stats.norm.ppf(1 - alpha / 2)
    return z, 2 * stats.norm.sf(np.abs(z)), est - q * se, est + q * se


def _get_fit(data, dv, covariates, within, between, subject, random, fit):
    if fit is not None:
        return fit
    return fit_lmm(data, dv, covariates, within=within, between=between, subject=subject,
                   random=random)


def lmm_fixed(data: pd.DataFrame, dv: str = "score", covariates=(), *, alpha: float = 0.05,
              within: str = "wave", between: str = "condition", subject: str = "student_id",
              random: str | None = None, fit: LMMFit | None = None) -> pd.DataFrame:
    """Fixed effects of the mixed model (see :func:`fit_lmm`), Wald z inference.

    Columns: ``term, estimate, se, z, p, ci_low, ci_high`` and, repeated on every row,
    ``converged, sigma2_student, sigma2_resid, n_students, n_obs``. Terms are named
    ``Intercept``, ``condition[T.mentee]``, ``wave[T.T2]``, ``wave[T.T3]``, covariates
    (``age``, ``gender[T.girl]``...), ``condition[T.mentee]:wave[T.T2]``, ... Pass a
    previous ``fit`` to avoid refitting.
    """
    f = _get_fit(data, dv, covariates, within, between, subject, random, fit)
    se = np.sqrt(np.diag(f.cov.to_numpy()))
    z, p, lo, hi = _wald(f.params.to_numpy(), se, alpha)
    return pd.DataFrame({
        "term": f.params.index, "estimate": f.params.to_numpy(), "se": se, "z": z, "p": p,
        "ci_low": lo, "ci_high": hi, "converged": f.converged,
        "sigma2_student": f.sigma2_student, "sigma2_resid": f.sigma2_resid,
        "n_students": f.n_students, "n_obs": f.n_obs,
    }, columns=FIXED_COLUMNS)


def lmm_emm(data: pd.DataFrame, dv: str = "score", covariates=(), *, alpha: float = 0.05,
            within: str = "wave", between: str = "condition", subject: str = "student_id",
            random: str | None = None, fit: LMMFit | None = None) -> pd.DataFrame:
    """Estimated marginal means per condition × wave (as ``emmeans(m, ~ condition*wave)``).

    Covariates at the ``emmeans`` reference grid: numeric ones at their mean over the
    rows in the fit, factors averaged over their levels with equal weights. SE =
    √(xᵀ Var(β̂) x); CI = emm ± z_{1−α/2}·SE (asymptotic, as ``lmer.df =
    "asymptotic"``). Columns: ``condition, wave, emm, se, ci_low, ci_high, n`` (``n`` =
    observed scores in the cell). Rows: mentee then control, waves in order.
    """
    f = _get_fit(data, dv, covariates, within, between, subject, random, fit)
    V = f.cov.to_numpy()
    rows = []
    for c in CONDITIONS:
        for w in f.waves:
            x = f.design_row(c, w)
            rows.append((c, w, float(x @ f.params.to_numpy()), float(np.sqrt(x @ V @ x)),
                         f.cell_n[(c, w)]))
    out = pd.DataFrame(rows, columns=["condition", "wave", "emm", "se", "n"])
    _, _, out["ci_low"], out["ci_high"] = _wald(out["emm"], out["se"], alpha)
    return out[EMM_COLUMNS]


def did(data: pd.DataFrame, dv: str = "score", covariates=(), *, alpha: float = 0.05,
        within: str = "wave", between: str = "condition", subject: str = "student_id",
        random: str | None = None, fit: LMMFit | None = None,
        ddf: str = "asymptotic") -> pd.DataFrame:
    """Difference-in-differences from the mixed model, with WWC effect sizes.

    For each contrast ``T2-T1``, ``T3-T1``, ``T3-T2`` (later minus earlier; only those
    whose waves are in the data): estimate = (mentee change − control change) of the
    estimated marginal means, i.e. Lβ̂ with L the interaction contrast. ``ddf``:
    ``"asymptotic"`` — SE = √(LVLᵀ), Wald z, p and CI as ``emmeans`` with
    ``lmer.df = "asymptotic"`` (``df`` = inf); ``"kenward-roger"`` — SE from the KR
    adjusted covariance and t on KR df (pbkrtest / emmeans' default);
    ``"satterthwaite"`` — SE √(LVLᵀ), t on Satterthwaite df (lmerTest). ``z`` is
    estimate / SE in every case.

    Effect size (contract.md §4, WWC Procedures and Standards Handbook, Version 5.0): g = ω·estimate / S with
    S the pooled within-condition SD at T1 of all pupils scored at T1 (n − 1 variances,
    from the data, not the model) and ω = 1 − 3/(4N − 9), N = pupils scored at T1; the
    CI of g is the CI of the estimate scaled the same way; ``improvement_index`` =
    100·Φ(g) − 50.

    Columns: ``contrast, estimate, se, df, z, ci_low, ci_high, p, g, g_ci_low, g_ci_high,
    improvement_index, mentee_change, control_change, sd_pooled_t1, n_t1, omega,
    n_students, n_obs, converged`` — preceded by ``outcome`` when the data carry a single
    ``outcome`` value. Adjust p across outcomes with :func:`adjust_across`.
    """
    outcome = single_outcome(data, "difference-in-differences")
    f = _get_fit(data, dv, covariates, within, between, subject, random, fit)
    beta = f.params.to_numpy()

    t1 = data[data[within].astype(str) == "T1"]
    scores = pd.to_numeric(t1[dv], errors="coerce")
    cond = t1[between].astype(str)
    ym = scores[(cond == "mentee").to_numpy()].dropna().to_numpy(float)
    yc = scores[(cond == "control").to_numpy()].dropna().to_numpy(float)
    S = pooled_sd(ym, yc)
    n_t1 = ym.size + yc.size
    omega = omega_correction(n_t1) if n_t1 > 2 else float("nan")

    pairs = change_pairs(f.waves)
    dm = np.array([f.design_row("mentee", b) - f.design_row("mentee", a) for b, a in pairs])
    dc = np.array([f.design_row("control", b) - f.design_row("control", a) for b, a in pairs])
    out = f.mixed.test(dm - dc, ddf=ddf, alpha=alpha, labels=[f"{b}-{a}" for b, a in pairs])
    out = out.rename(columns={"t": "z"})
    out["mentee_change"], out["control_change"] = dm @ beta, dc @ beta
    scale = omega / S if (np.isfinite(S) and S > 0) else float("nan")
    out["g"] = scale * out["estimate"]
    out["g_ci_low"] = scale * out["ci_low"]
    out["g_ci_high"] = scale * out["ci_high"]
    out["improvement_index"] = improvement_index(out["g"].to_numpy())
    out["sd_pooled_t1"], out["n_t1"], out["omega"] = S, n_t1, omega
    out["n_students"], out["n_obs"], out["converged"] = f.n_students, f.n_obs, f.converged
    out = out[DID_COLUMNS]
    if outcome is not None:
        out.insert(0, "outcome", outcome)
    return out


def adjust_across(table: pd.DataFrame, p: str = "p", by="contrast") -> pd.DataFrame:
    """Add ``p_holm`` and ``p_bh``: p values adjusted across the rows of each ``by`` group.

    For the ``did`` table (one row per outcome × contrast) this adjusts across outcomes
    within each contrast: Holm (1979) step-down and Benjamini–Hochberg (1995) FDR
    (:mod:`mut_eval.stats.multiplicity`). Missing p values are left out of the family
    and stay missing. ``by=None`` treats the whole table as one family.
    """
    out = table.copy()
    pv = pd.to_numeric(out[p], errors="coerce").to_numpy(float)
    p_holm = np.full(pv.size, np.nan)
    p_bh = np.full(pv.size, np.nan)
    if by is None:
        groups = [np.arange(pv.size)]
    else:
        keys = out[by].astype(str).to_numpy(dtype=object) if isinstance(by, str) else \
            out[list(by)].astype(str).agg("\x1f".join, axis=1).to_numpy(dtype=object)
        groups = [np.flatnonzero(keys == k) for k in pd.unique(keys)]
    for idx in groups:
        p_holm[idx] = holm(pv[idx])
        p_bh[idx] = benjamini_hochberg(pv[idx])
    out["p_holm"], out["p_bh"] = p_holm, p_bh
    return out


def mixed_model_by_outcome(data: pd.DataFrame, dv: str = "score", covariates=(), *,
                           outcomes=None, alpha: float = 0.05, within: str = "wave",
                           between: str = "condition", subject: str = "student_id",
                           random: str | None = None, ddf: str = "asymptotic",
                           residual: str = "compound") -> dict[str, pd.DataFrame]:
    """The mixed model fitted once per outcome of a long table, and its three tables:
    ``lmm_fixed``, ``lmm_emm`` and ``did`` (each led by ``outcome``); the ``did`` p values
    are adjusted across outcomes per contrast (:func:`adjust_across`).

    ``outcomes``: which outcomes, in order (default: order of appearance); ``random``,
    ``residual`` and ``ddf`` as in :func:`fit_lmm` and :func:`did`.
    """
    if "outcome" not in data.columns:
        raise StudyError("mixed model by outcome: column 'outcome' not found")
    outcomes = list(pd.unique(data["outcome"].dropna())) if outcomes is None else list(outcomes)
    kw = dict(within=within, between=between, subject=subject)
    parts: dict[str, list] = {"lmm_fixed": [], "lmm_emm": [], "did": []}
    for o in outcomes:
        d = data[data["outcome"] == o]
        fit = fit_lmm(d, dv, covariates, random=random, residual=residual, **kw)
        parts["lmm_fixed"].append(lmm_fixed(d, dv, covariates, fit=fit, alpha=alpha, **kw)
                                  .assign(outcome=o))
        parts["lmm_emm"].append(lmm_emm(d, dv, covariates, fit=fit, alpha=alpha, **kw)
                                .assign(outcome=o))
        parts["did"].append(did(d, dv, covariates, fit=fit, ddf=ddf, alpha=alpha, **kw))
    return stack_by_outcome(parts)


def stack_by_outcome(parts: dict[str, list]) -> dict[str, pd.DataFrame]:
    """Stack per-outcome tables (``outcome`` first); the ``did`` table gets ``p_holm`` and
    ``p_bh`` across outcomes per contrast (:func:`adjust_across`) and the contract's
    column order."""
    out = {}
    for name, frames in parts.items():
        t = pd.concat(frames, ignore_index=True)
        out[name] = t[["outcome", *[c for c in t.columns if c != "outcome"]]]
    if "did" in out:
        did_table = adjust_across(out["did"], p="p", by="contrast")
        first = ["outcome", "contrast", "estimate", "se", "ci_low", "ci_high", "p", "p_holm",
                 "p_bh", "g", "g_ci_low", "g_ci_high", "improvement_index"]
        out["did"] = did_table[first + [c for c in did_table.columns if c not in first]]
    return out


def did_by_outcome(data: pd.DataFrame, dv: str = "score", covariates=(), *,
                   outcomes=None, alpha: float = 0.05, within: str = "wave",
                   between: str = "condition", subject: str = "student_id",
                   random: str | None = None, ddf: str = "asymptotic",
                   residual: str = "compound") -> pd.DataFrame:
    """:func:`did` for every outcome of a long table, with ``p_holm``/``p_bh`` across
    outcomes per contrast — the contract's ``did`` table (see
    :func:`mixed_model_by_outcome`, which also gives the fixed effects and EMMs)."""
    return mixed_model_by_outcome(data, dv, covariates, outcomes=outcomes, alpha=alpha, within=within,
                                  between=between, subject=subject, random=random,
                                  ddf=ddf, residual=residual)["did"]
