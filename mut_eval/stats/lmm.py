"""Linear mixed model on all available scores and the difference-in-differences.

Model (one outcome, long data)::

    score ~ condition * wave [+ covariates] + (1 | student_id),   fitted by REML

with ``control`` and ``T1`` as reference levels — the model of R
``lme4::lmer(score ~ condition * wave + (1 | student_id), REML = TRUE)``. Pupils with
missing waves keep the scores they have (missing at random given the model).

The fit itself is :func:`reml_random_intercept`, a REML engine for any fixed-effects
design with one random intercept (also used by
:func:`mut_eval.stats.moderation.did_by_moderator`). Two engines:

- ``engine="profile"`` (default): exact REML for a random intercept. With
  V_i = σ²(I + γ11ᵀ), γ = θ² = σ_b²/σ², everything the REML criterion needs reduces
  to per-pupil sums: with x̄_i, ȳ_i the pupil means and v_i = n_i / (1 + n_iγ),
      XᵀV⁻¹X·σ² = Σ_i (X_i − 1x̄_iᵀ)ᵀ(X_i − 1x̄_iᵀ) + Σ_i v_i x̄_i x̄_iᵀ
      (the same for XᵀV⁻¹y·σ² and yᵀV⁻¹y·σ²),
      −2ℓ_R = (N − p)(1 + log(2π σ̂²)) + Σ_i log(1 + n_iγ) + log|XᵀV⁻¹X·σ²|,
      σ̂² = RSS / (N − p).
  This is lme4's profiled REML deviance (Bates et al. 2015, *J. Stat. Softw.* 67(1),
  eq. 42) specialised to one random intercept, optimised over the single parameter
  θ = σ_b/σ (grid, then bounded Brent). v_i depends only on n_i, so the between-pupil
  sums are kept per distinct n_i and one evaluation costs O(p³) whatever the number of
  pupils: 20,000 pupils × 3 waves fit in a fraction of a second.
  Var(β̂) = σ̂²(XᵀV⁻¹X·σ²)⁻¹, as lme4's ``vcov``.
- ``engine="statsmodels"``: ``statsmodels`` ``MixedLM`` (REML), trying L-BFGS, then
  BFGS, CG, Powell and Nelder–Mead until one converges; Var(β̂) by the same formula at
  its variance estimates. A slow cross-check: it can fail with a singular matrix on
  large data (seen from ~5,000 pupils).

Inference is Wald z throughout (estimate / SE against the normal distribution), the
same as ``emmeans`` with ``lmer.df = "asymptotic"``; both engines agree with lme4 +
emmeans to < 1e-6 on the reference data (tests/reference/lmm_reference.R).

Estimated marginal means (``lmm_emm``) are predictions at each condition × wave cell
with covariates held at the reference grid of ``emmeans``: numeric covariates at their
mean over the rows used in the fit; categorical covariates averaged over their levels
with equal weights (each non-reference dummy at 1/k).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import linalg, optimize, stats

from .. import CONDITIONS, WAVES, StudyError
from .effects import improvement_index, omega_correction, pooled_sd
from .longdata import change_pairs, check_long, single_outcome
from .multiplicity import benjamini_hochberg, holm

__all__ = [
    "RandomInterceptFit",
    "RankDeficientDesign",
    "reml_random_intercept",
    "LMMFit",
    "fit_lmm",
    "lmm_fixed",
    "lmm_emm",
    "did",
    "did_by_outcome",
    "mixed_model_by_outcome",
    "adjust_across",
]

FIXED_COLUMNS = ["term", "estimate", "se", "z", "p", "ci_low", "ci_high", "converged",
                 "sigma2_student", "sigma2_resid", "n_students", "n_obs"]
EMM_COLUMNS = ["condition", "wave", "emm", "se", "ci_low", "ci_high", "n"]
DID_COLUMNS = ["contrast", "estimate", "se", "z", "ci_low", "ci_high", "p", "g",
               "g_ci_low", "g_ci_high", "improvement_index", "mentee_change",
               "control_change", "sd_pooled_t1", "n_t1", "omega", "n_students", "n_obs",
               "converged"]


@dataclass(frozen=True)
class LMMFit:
    """A fitted random-intercept model (see :func:`fit_lmm`)."""

    params: pd.Series            # fixed effects, indexed by term
    cov: pd.DataFrame            # their covariance matrix
    sigma2_student: float        # random-intercept variance σ_b²
    sigma2_resid: float          # residual variance σ²
    converged: bool
    singular: bool               # σ_b² estimated at 0 (lme4's "boundary (singular) fit")
    n_students: int
    n_obs: int
    reml_loglik: float
    engine: str
    waves: tuple
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
def _prepare(data, dv, covariates, within, between, subject, who):
    covariates = tuple([covariates] if isinstance(covariates, str) else covariates)
    d = check_long(data, dv, within, between, subject, who, extra=covariates)
    if covariates:
        d = d[d[list(covariates)].notna().all(axis=1)]
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
    ids, gcode = np.unique(d[subject].to_numpy(dtype=object), return_inverse=True)
    is_m = (cond == "mentee").astype(float)
    if ids.size == len(d):
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
    return y, X, list(cols), gcode, ids.size, waves, grid, cell_n


# ---------------------------------------------------------------------------
# the REML engine (generic fixed-effects design, one random intercept)
# ---------------------------------------------------------------------------
class RankDeficientDesign(StudyError):
    """The fixed-effects design matrix does not have full column rank."""


@dataclass(frozen=True)
class RandomInterceptFit:
    """Result of :func:`reml_random_intercept` (arrays in the column order of ``X``)."""

    beta: np.ndarray             # fixed effects β̂
    cov: np.ndarray              # Var(β̂) = σ̂²(XᵀV⁻¹X·σ²)⁻¹, as lme4's vcov()
    sigma2_student: float        # random-intercept variance σ_b²
    sigma2_resid: float          # residual variance σ²
    reml_loglik: float           # REML log-likelihood at the optimum (lme4's logLik)
    converged: bool
    singular: bool               # θ = σ_b/σ < 1e-4 (lme4's isSingular() tolerance)
    n_groups: int
    n_obs: int
    engine: str


class _ProfiledREML:
    """Profiled REML criterion of ``y = Xβ + Z b + e`` with one random intercept.

    Per group the covariance is V_i = σ²(I + γ11ᵀ), γ = θ² = σ_b²/σ², whose eigen-
    structure is that of the projection P_i = 11ᵀ/n_i: eigenvalue σ²(1 + n_iγ) on 1
    and σ² on its complement, so V_i⁻¹ = σ⁻²[(I − P_i) + P_i/(1 + n_iγ)]. Hence, with
    x̄_i, ȳ_i the group means and v_i = n_i/(1 + n_iγ)::

        A(γ) = XᵀV⁻¹X·σ² = W_xx + Σ_i v_i x̄_i x̄_iᵀ,   W_xx = Σ_i (X_i − 1x̄_iᵀ)ᵀ(X_i − 1x̄_iᵀ)

    and the same for b = XᵀV⁻¹y·σ² and c = yᵀV⁻¹y·σ². v_i depends on i only through
    n_i, so the between-group sums are accumulated once per distinct group size k
    (B_k = Σ_{n_i = k} x̄_i x̄_iᵀ): after one O(N·p²) pass, each evaluation costs
    O(K·p² + p³) with K the number of distinct group sizes, whatever N is.

    β̂(γ) = A⁻¹b, r²(γ) = c − bᵀβ̂, σ̂² = r²/(N − p), and the REML deviance profiled
    over β and σ² is (Bates, Mächler, Bolker & Walker 2015, *J. Stat. Softw.* 67(1),
    eq. 42, with |L_θ|² = Π_i (1 + n_iθ²) and |R_X|² = |A| for one random intercept)::

        −2ℓ̃_R(θ) = Σ_i log(1 + n_iθ²) + log|A(θ²)| + (N − p)(1 + log(2π r²(θ)/(N − p)))

    Keeping the within- and between-group parts apart avoids the cancellation in
    XᵀX − Σ_i w_i s_i s_iᵀ when γ is large.
    """

    def __init__(self, y, X, codes, G):
        N, p = X.shape
        n_i = np.bincount(codes, minlength=G).astype(float)
        xbar = np.empty((G, p))
        for j in range(p):
            xbar[:, j] = np.bincount(codes, weights=X[:, j], minlength=G)
        xbar /= n_i[:, None]
        ybar = np.bincount(codes, weights=y, minlength=G) / n_i
        Xc, yc = X - xbar[codes], y - ybar[codes]
        self.Wxx, self.Wxy, self.Wyy = Xc.T @ Xc, Xc.T @ yc, float(yc @ yc)
        sizes, k_of = np.unique(n_i, return_inverse=True)
        K = sizes.size
        self.sizes = sizes
        self.count = np.bincount(k_of, minlength=K).astype(float)
        self.Bxx = np.empty((K, p, p))
        self.Bxy = np.empty((K, p))
        self.Byy = np.empty(K)
        for k in range(K):
            xb, yb = xbar[k_of == k], ybar[k_of == k]
            self.Bxx[k], self.Bxy[k], self.Byy[k] = xb.T @ xb, xb.T @ yb, float(yb @ yb)
        self.N, self.p, self.df = N, p, N - p

    def xtx(self):
        """XᵀX (γ = 0)."""
        return self.Wxx + np.tensordot(self.sizes, self.Bxx, axes=1)

    def parts(self, theta):
        """(criterion, β̂, r², Cholesky factor of A) at θ."""
        v = self.sizes / (1.0 + self.sizes * theta * theta)
        A = self.Wxx + np.tensordot(v, self.Bxx, axes=1)
        b = self.Wxy + v @ self.Bxy
        c = self.Wyy + float(v @ self.Byy)
        cf = linalg.cho_factor(A, lower=True, check_finite=False)
        beta = linalg.cho_solve(cf, b, check_finite=False)
        rss = max(c - float(b @ beta), 1e-300)
        crit = (self.df * (1.0 + np.log(2.0 * np.pi * rss / self.df))
                + float(self.count @ np.log1p(self.sizes * theta * theta))
                + 2.0 * float(np.log(np.diag(cf[0])).sum()))
        return crit, beta, rss, cf

    def criterion(self, theta):
        try:
            return self.parts(theta)[0]
        except (linalg.LinAlgError, ValueError):
            return np.inf


# θ grid for the global search: 0 plus log-spaced 1e-3 … 10^2.5 (σ_b/σ up to ~316)
_THETA_GRID = np.concatenate([[0.0], np.logspace(-3, 2.5, 56)])


def _optimise(prof: _ProfiledREML):
    """Minimise the profiled criterion over θ ≥ 0: grid, then bounded Brent around the
    best grid point; θ = 0 (boundary) wins ties, as lme4's bounded optimiser does."""
    vals = np.array([prof.criterion(t) for t in _THETA_GRID])
    k = int(np.argmin(vals))
    ok = bool(np.isfinite(vals[k])) and k < _THETA_GRID.size - 1
    lo, hi = _THETA_GRID[max(k - 1, 0)], _THETA_GRID[min(k + 1, _THETA_GRID.size - 1)]
    res = optimize.minimize_scalar(prof.criterion, bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-12 * max(1.0, _THETA_GRID[k]),
                                            "maxiter": 500})
    theta = float(res.x) if res.fun <= vals[k] else float(_THETA_GRID[k])
    if vals[0] <= prof.criterion(theta):
        theta = 0.0
    return theta, ok and bool(res.success)


def _check_rank(xtx, names):
    # scaled to unit column norms (units do not matter); exact collinearity leaves an
    # eigenvalue at rounding level, far below this threshold
    d = np.sqrt(np.diag(xtx))
    if np.any(d == 0) or not np.all(np.isfinite(xtx)):
        bad = np.flatnonzero(d == 0)
    else:
        ev, vec = np.linalg.eigh(xtx / np.outer(d, d))
        if ev[0] > 1e-10 * xtx.shape[0]:
            return
        bad = np.flatnonzero(np.abs(vec[:, 0]) > 1e-6)
    cols = [names[j] for j in bad] if names is not None else [int(j) for j in bad]
    raise RankDeficientDesign("the fixed-effects design is rank deficient: column(s) "
                              f"{cols} are zero or collinear")


def _fit_statsmodels(y, X, codes, prof, names):
    from statsmodels.regression.mixed_linear_model import MixedLM

    exog = pd.DataFrame(X, columns=names) if names is not None else X
    model = MixedLM(y, exog, groups=codes, exog_re=np.ones((len(y), 1)))
    best = None
    for method in ("lbfgs", "bfgs", "cg", "powell", "nm"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = model.fit(reml=True, method=method, maxiter=2000)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError, OverflowError):
            continue
        ok = np.all(np.isfinite(r.fe_params)) and np.isfinite(r.llf)
        if not ok:
            continue
        if best is None or r.llf > best[0].llf + 1e-9:
            best = (r, method)
        if r.converged:
            break
    if best is None:
        raise StudyError("mixed model: statsmodels MixedLM did not fit with any method; "
                         "use engine='profile'")
    best, method = best
    s2 = float(best.scale)
    s2b = max(float(np.asarray(best.cov_re)[0, 0]), 0.0)
    # MixedLM's cov_params() inverts the Hessian of all parameters jointly, so its
    # fixed-effect SEs carry the (non-zero at the optimum) cross terms with the variance
    # parameters and differ from lme4/emmeans by up to ~1e-3 on small data. Use
    # Var(β̂) = σ̂²(XᵀV⁻¹X·σ²)⁻¹ at MixedLM's variance estimates, as lme4's vcov does.
    cf = prof.parts(np.sqrt(s2b / s2))[3]
    return dict(beta=np.asarray(best.fe_params, float),
                cov=s2 * linalg.cho_solve(cf, np.eye(X.shape[1])), sigma2_resid=s2,
                sigma2_student=s2b, converged=bool(best.converged),
                singular=s2b < 1e-8 * s2, reml_loglik=float(best.llf),
                engine=f"statsmodels:{method}")


def reml_random_intercept(y, X, groups, *, names=None,
                          engine: str = "profile") -> RandomInterceptFit:
    """REML fit of ``y = Xβ + b_group + e``, b ~ N(0, σ_b²), e ~ N(0, σ²) — lme4's
    ``lmer(y ~ 0 + X + (1 | group), REML = TRUE)`` for any full-rank design ``X``.

    ``engine="profile"`` (default) minimises the profiled REML deviance over the single
    parameter θ = σ_b/σ (see :class:`_ProfiledREML` for the formulas: Bates et al. 2015,
    *J. Stat. Softw.* 67(1), eq. 42, specialised to one random intercept through the
    per-group eigen-structure of V_i); a 57-point grid on θ ∈ [0, 10^2.5] then bounded
    Brent. One O(N·p²) pass over the data, then O(p³) per evaluation, so 20,000 groups
    take a fraction of a second. Returns β̂, Var(β̂) = σ̂²(XᵀV⁻¹X·σ²)⁻¹ (lme4's
    ``vcov``), σ̂_b², σ̂², the REML log-likelihood, ``converged`` (False if the optimum
    is at the top of the θ range or Brent did not converge) and ``singular`` (θ̂ <
    1e-4, lme4's ``isSingular`` tolerance; θ̂ = 0 is the OLS fit).
    ``engine="statsmodels"``: statsmodels ``MixedLM`` (REML; L-BFGS, then BFGS, CG,
    Powell, Nelder–Mead until one converges) with the same Var(β̂) formula at its
    variance estimates — slow, a cross-check only.

    ``y``: (N,) finite; ``X``: (N, p) finite, full column rank (else
    :class:`RankDeficientDesign`, a :class:`~mut_eval.StudyError`); ``groups``: (N,)
    group labels; ``names``: optional column names for messages.
    """
    y = np.asarray(y, float)
    X = np.asarray(X, float)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.size or np.shape(groups) != y.shape:
        raise ValueError("reml_random_intercept: y (N,), X (N, p) and groups (N,) needed")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise ValueError("reml_random_intercept: y and X must be finite")
    codes, uniques = pd.factorize(np.asarray(groups), sort=False)
    if np.any(codes < 0):
        raise ValueError("reml_random_intercept: missing group labels")
    G = len(uniques)
    N, p = X.shape
    if N <= p:
        raise RankDeficientDesign(f"{N} observations for {p} fixed effects")
    prof = _ProfiledREML(y, X, codes, G)
    _check_rank(prof.xtx(), names)
    if engine == "profile":
        theta, converged = _optimise(prof)
        value, beta, rss, cf = prof.parts(theta)
        s2 = rss / prof.df
        r = dict(beta=beta, cov=s2 * linalg.cho_solve(cf, np.eye(p)), sigma2_resid=s2,
                 sigma2_student=theta ** 2 * s2, converged=converged, singular=theta < 1e-4,
                 reml_loglik=-0.5 * value, engine="profile")
    elif engine == "statsmodels":
        r = _fit_statsmodels(y, X, codes, prof, names)
    else:
        raise ValueError(f"engine must be 'profile' or 'statsmodels', not {engine!r}")
    return RandomInterceptFit(n_groups=G, n_obs=N, **r)


def fit_lmm(data: pd.DataFrame, dv: str = "score", covariates=(), *, within: str = "wave",
            between: str = "condition", subject: str = "student_id",
            engine: str = "profile") -> LMMFit:
    """Fit ``dv ~ C(condition, ref control) * C(wave, ref T1) [+ covariates] + (1 | pupil)``.

    REML on all available scores of one outcome (long format: one row per pupil ×
    wave). ``covariates``: column names; numeric columns enter linearly, others as
    treatment-coded factors (first level in sorted order is the reference). Rows with a
    missing covariate are dropped. ``engine``: ``"profile"`` (exact profiled REML for
    the random intercept, default) or ``"statsmodels"`` (MixedLM) — see the module
    docstring. Raises :class:`~mut_eval.StudyError` when the model is not estimable.
    """
    single_outcome(data, "mixed model")
    y, X, names, g, G, waves, grid, cell_n = _prepare(
        data, dv, covariates, within, between, subject, "mixed model")
    try:
        r = reml_random_intercept(y, X, g, names=names, engine=engine)
    except RankDeficientDesign as e:
        raise StudyError(f"mixed model: the model cannot be estimated — a covariate is "
                         f"constant or collinear with condition/wave ({e})") from None
    return LMMFit(params=pd.Series(r.beta, index=names, name="estimate"),
                  cov=pd.DataFrame(r.cov, index=names, columns=names),
                  sigma2_student=float(r.sigma2_student),
                  sigma2_resid=float(r.sigma2_resid), converged=bool(r.converged),
                  singular=bool(r.singular), n_students=int(G), n_obs=int(len(y)),
                  reml_loglik=float(r.reml_loglik), engine=r.engine, waves=waves,
                  grid=grid, cell_n=cell_n)


def _wald(est, se, alpha):
    est, se = np.asarray(est, float), np.asarray(se, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    q = stats.norm.ppf(1 - alpha / 2)
    return z, 2 * stats.norm.sf(np.abs(z)), est - q * se, est + q * se


def _get_fit(data, dv, covariates, within, between, subject, engine, fit):
    if fit is not None:
        return fit
    return fit_lmm(data, dv, covariates, within=within, between=between, subject=subject,
                   engine=engine)


def lmm_fixed(data: pd.DataFrame, dv: str = "score", covariates=(), *, alpha: float = 0.05,
              within: str = "wave", between: str = "condition", subject: str = "student_id",
              engine: str = "profile", fit: LMMFit | None = None) -> pd.DataFrame:
    """Fixed effects of the mixed model (see :func:`fit_lmm`), Wald z inference.

    Columns: ``term, estimate, se, z, p, ci_low, ci_high`` and, repeated on every row,
    ``converged, sigma2_student, sigma2_resid, n_students, n_obs``. Terms are named
    ``Intercept``, ``condition[T.mentee]``, ``wave[T.T2]``, ``wave[T.T3]``, covariates
    (``age``, ``gender[T.girl]``...), ``condition[T.mentee]:wave[T.T2]``, ... Pass a
    previous ``fit`` to avoid refitting.
    """
    f = _get_fit(data, dv, covariates, within, between, subject, engine, fit)
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
            engine: str = "profile", fit: LMMFit | None = None) -> pd.DataFrame:
    """Estimated marginal means per condition × wave (as ``emmeans(m, ~ condition*wave)``).

    Covariates at the ``emmeans`` reference grid: numeric ones at their mean over the
    rows in the fit, factors averaged over their levels with equal weights. SE =
    √(xᵀ Var(β̂) x); CI = emm ± z_{1−α/2}·SE (asymptotic, as ``lmer.df =
    "asymptotic"``). Columns: ``condition, wave, emm, se, ci_low, ci_high, n`` (``n`` =
    observed scores in the cell). Rows: mentee then control, waves in order.
    """
    f = _get_fit(data, dv, covariates, within, between, subject, engine, fit)
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
        engine: str = "profile", fit: LMMFit | None = None) -> pd.DataFrame:
    """Difference-in-differences from the mixed model, with WWC effect sizes.

    For each contrast ``T2-T1``, ``T3-T1``, ``T3-T2`` (later minus earlier; only those
    whose waves are in the data): estimate = (mentee change − control change) of the
    estimated marginal means, i.e. Lβ̂ with L the interaction contrast; SE = √(LVLᵀ),
    Wald z, p and CI as ``emmeans`` with asymptotic df.

    Effect size (contract.md §4, WWC Procedures Handbook 4.1): g = ω·estimate / S with
    S the pooled within-condition SD at T1 of all pupils scored at T1 (n − 1 variances,
    from the data, not the model) and ω = 1 − 3/(4N − 9), N = pupils scored at T1; the
    CI of g is the CI of the estimate scaled the same way; ``improvement_index`` =
    100·Φ(g) − 50.

    Columns: ``contrast, estimate, se, z, ci_low, ci_high, p, g, g_ci_low, g_ci_high,
    improvement_index, mentee_change, control_change, sd_pooled_t1, n_t1, omega,
    n_students, n_obs, converged`` — preceded by ``outcome`` when the data carry a single
    ``outcome`` value. Adjust p across outcomes with :func:`adjust_across`.
    """
    outcome = single_outcome(data, "difference-in-differences")
    f = _get_fit(data, dv, covariates, within, between, subject, engine, fit)
    beta, V = f.params.to_numpy(), f.cov.to_numpy()

    t1 = data[data[within].astype(str) == "T1"]
    scores = pd.to_numeric(t1[dv], errors="coerce")
    cond = t1[between].astype(str)
    ym = scores[(cond == "mentee").to_numpy()].dropna().to_numpy(float)
    yc = scores[(cond == "control").to_numpy()].dropna().to_numpy(float)
    S = pooled_sd(ym, yc)
    n_t1 = ym.size + yc.size
    omega = omega_correction(n_t1) if n_t1 > 2 else float("nan")

    rows = []
    for b, a in change_pairs(f.waves):
        dm = f.design_row("mentee", b) - f.design_row("mentee", a)
        dc = f.design_row("control", b) - f.design_row("control", a)
        L = dm - dc
        rows.append(dict(contrast=f"{b}-{a}", estimate=float(L @ beta),
                         se=float(np.sqrt(L @ V @ L)), mentee_change=float(dm @ beta),
                         control_change=float(dc @ beta)))
    out = pd.DataFrame(rows)
    out["z"], out["p"], out["ci_low"], out["ci_high"] = _wald(out["estimate"], out["se"], alpha)
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
                           engine: str = "profile") -> dict[str, pd.DataFrame]:
    """The mixed model fitted once per outcome of a long table, and its three tables:
    ``lmm_fixed``, ``lmm_emm`` and ``did`` (each led by ``outcome``); the ``did`` p values
    are adjusted across outcomes per contrast (:func:`adjust_across`).

    ``outcomes``: which outcomes, in order (default: order of appearance).
    """
    if "outcome" not in data.columns:
        raise StudyError("mixed model by outcome: column 'outcome' not found")
    outcomes = list(pd.unique(data["outcome"].dropna())) if outcomes is None else list(outcomes)
    kw = dict(alpha=alpha, within=within, between=between, subject=subject, engine=engine)
    parts: dict[str, list] = {"lmm_fixed": [], "lmm_emm": [], "did": []}
    for o in outcomes:
        d = data[data["outcome"] == o]
        fit = fit_lmm(d, dv, covariates, within=within, between=between, subject=subject, engine=engine)
        parts["lmm_fixed"].append(lmm_fixed(d, dv, covariates, fit=fit, **kw).assign(outcome=o))
        parts["lmm_emm"].append(lmm_emm(d, dv, covariates, fit=fit, **kw).assign(outcome=o))
        parts["did"].append(did(d, dv, covariates, fit=fit, **kw))
    out = {}
    for name, frames in parts.items():
        t = pd.concat(frames, ignore_index=True)
        out[name] = t[["outcome", *[c for c in t.columns if c != "outcome"]]]
    did_table = adjust_across(out["did"], p="p", by="contrast")
    first = ["outcome", "contrast", "estimate", "se", "ci_low", "ci_high", "p", "p_holm",
             "p_bh", "g", "g_ci_low", "g_ci_high", "improvement_index"]
    out["did"] = did_table[first + [c for c in did_table.columns if c not in first]]
    return out


def did_by_outcome(data: pd.DataFrame, dv: str = "score", covariates=(), *,
                   outcomes=None, alpha: float = 0.05, within: str = "wave",
                   between: str = "condition", subject: str = "student_id",
                   engine: str = "profile") -> pd.DataFrame:
    """:func:`did` for every outcome of a long table, with ``p_holm``/``p_bh`` across
    outcomes per contrast — the contract's ``did`` table (see
    :func:`mixed_model_by_outcome`, which also gives the fixed effects and EMMs)."""
    return mixed_model_by_outcome(data, dv, covariates, outcomes=outcomes, alpha=alpha, within=within,
                                  between=between, subject=subject, engine=engine)["did"]
