"""Missing data as a sensitivity analysis: multiple imputation by chained equations with
predictive mean matching, Rubin's rules, and the pooled difference-in-differences.

* **PMM by chained equations** (van Buuren 2018, *Flexible Imputation of Missing Data*,
  2nd ed., sections 3.4 and 4.5; R ``mice`` 3.15 ``mice.impute.pmm``). Every column
  with missing values starts from random draws of its observed values
  (``mice.impute.sample``); each of ``maxit`` iterations visits the incomplete columns
  left to right. For the visited column y with observed rows o and predictors X (all
  other columns, their current imputations included; intercept added):

  1. constant and collinear predictors are dropped as ``mice:::remove.lindep`` does:
     all of them when var(y_o) < 1e−4; each with var < 1e−4 or cor(x, y_o) ≥ .99
     (signed, as mice); then, while the smallest/largest eigenvalue of the predictors'
     correlation matrix is < 1e−4, the one loading most on the smallest eigenvector;
  2. ``norm.draw``: β̂ = (X_o'X_o)⁻¹X_o'y_o (least squares; a ridge κ·diag(X'X),
     κ = 1e−5, only when X'X cannot be factored, as ``mice:::estimice``),
     σ* = √(Σ res² / g), g ~ χ²(max(n_o − p, 1)), β* = β̂ + σ*·L z with LL' = (X_o'X_o)⁻¹
     and z ~ N(0, I);
  3. type-1 matching: observed rows are predicted with β̂, missing rows with β*; each
     missing row gets the observed value of one of its ``donors`` nearest observed
     predictions, drawn with equal probability (``mice:::matchindex``: donors shuffled
     to break ties at random, sorted; the h-th nearest found by walking outwards from
     the crossover, the right-hand one first on a tie; here vectorised as a window
     of 2k sorted neighbours around ``searchsorted``).

  Numeric and 0/1 columns are imputed so, and a text column with two levels as the 0/1
  indicator of its second level: PMM only ever imputes observed values. A text column
  with **more than two levels** is imputed by PMM on its indicator vector: each level's
  indicator is regressed on X and drawn as in step 2 (independently per level), and
  donors are the nearest observed rows in the Euclidean space of the predicted
  indicator vectors (all levels, so the distance does not depend on a reference level;
  k-d tree search); the donor's level is imputed. This keeps PMM's defining property
  (only observed levels, no model for the category probabilities that can extrapolate)
  where ``mice``'s default ``polyreg`` fits a multinomial model. As predictors a
  two-level text column is its indicator, a multi-level one its level indicators with
  the first (sorted) level dropped.
* **Rubin's rules** with the Barnard–Rubin (1999, *Biometrika* 86:948) degrees of
  freedom, as ``mice::pool`` (``pool.fitlist``) and ``pool.scalar``: for m estimates
  Q_l with variances U_l, q̄ = mean Q, ū = mean U, b = var Q (m − 1 in the
  denominator), t = ū + (1 + 1/m) b, r = (1 + 1/m) b/ū, λ = (1 + 1/m) b/t;
  ν_old = (m − 1)/λ*², ν_obs = (ν_com + 1)/(ν_com + 3) · ν_com (1 − λ*), with
  λ* = max(λ, 1e−4) (so b = 0 gives a large finite df), ν = ν_old ν_obs/(ν_old + ν_obs)
  (ν = ν_old when ν_com = ∞); fmi = (r + 2/(ν + 3))/(r + 1). The test is t =
  q̄/√t on max(ν, 0.001) df, the CI q̄ ± t_{1−α/2,ν}·√t (``summary.mipo``).
* **Pooled difference-in-differences** (:func:`mi_did`): in every completed data set
  the change score ``T_k − T_j`` of every pupil is regressed on the condition with the
  CR2 variance and Satterthwaite df of :mod:`.cluster_robust`; the complete-data df
  ν_com of Barnard–Rubin is that Satterthwaite df. It depends only on the design
  (intercept and condition) and the clusters, which are the same in every completed
  data set — so one ν_com serves all imputations.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree

from .. import CHANGES, CONDITIONS, WAVES, StudyError
from .cluster_robust import _cr2_adjustments, _design
from .mixed import single_threaded_blas

__all__ = ["pmm_impute", "pool_rubin", "mi_did", "mi_completed", "did_imputed", "MI_COLUMNS", "UNKNOWN"]

MI_COLUMNS = ["model", "outcome", "contrast", "estimate", "se", "df", "ci_low", "ci_high", "p",
              "fmi", "riv", "n_pupils", "n_clusters", "m"]
#: The code for a missing covariate value in the Panel (contract, section 1).
UNKNOWN = "unknown"
_LINDEP_EPS = 1e-4        # mice:::remove.lindep eps
_LINDEP_MAXCOR = 0.99     # mice:::remove.lindep maxcor
_RIDGE = 1e-5             # mice:::estimice ridge


# ------------------------------------------------------------------ column coding

def _code_columns(data: pd.DataFrame):
    """Each column as float codes (NaN = missing) and its kind and levels."""
    cols = []
    for name in data.columns:
        s = data[name]
        miss = s.isna().to_numpy()
        if miss.all():
            raise StudyError(f"multiple imputation: column {name!r} has no observed values")
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            cols.append((name, "numeric", None, s.astype(float).to_numpy()))
            continue
        levels = sorted(pd.unique(s.dropna()).tolist(), key=str)
        codes = pd.Categorical(s, categories=levels).codes.astype(float)
        codes[miss] = np.nan
        cols.append((name, "categorical" if len(levels) > 2 else "binary", levels, codes))
    return cols


def _encode(kind: str, levels, codes: np.ndarray) -> np.ndarray:
    """Predictor columns of one variable: itself, or indicators of levels 2..L."""
    if kind == "categorical":
        return (codes[:, None] == np.arange(1, len(levels))[None, :]).astype(float)
    return codes[:, None]


# ------------------------------------------------------------------ one PMM step

def _remove_lindep(S: np.ndarray, sxy: np.ndarray, syy: np.ndarray, n: int, cor_check: bool) -> np.ndarray:
    """Predictors kept by ``mice:::remove.lindep``, from the centred cross-products of the
    observed rows: S (predictors), sxy (predictors × outcome columns), syy (outcome SS)."""
    q = S.shape[0]
    if q == 0 or n < 2 or syy.max() / (n - 1) < _LINDEP_EPS:
        return np.zeros(q, dtype=bool)
    ss = np.diag(S)
    keep = ss / (n - 1) > _LINDEP_EPS
    if cor_check:
        with np.errstate(divide="ignore", invalid="ignore"):
            keep &= ~(sxy[:, 0] / np.sqrt(ss * syy[0]) >= _LINDEP_MAXCOR)
    idx = np.flatnonzero(keep)
    while idx.size > 1:
        d = np.sqrt(ss[idx])
        vals, vecs = np.linalg.eigh(S[np.ix_(idx, idx)] / np.outer(d, d))     # ascending
        if vals[0] / vals[-1] >= _LINDEP_EPS:
            break
        idx = np.delete(idx, int(np.argmax(np.abs(vecs[:, 0]))))
    out = np.zeros(q, dtype=bool)
    out[idx] = True
    return out


def _norm_draw(xtx: np.ndarray, xty: np.ndarray, yty: np.ndarray, n: int, rng):
    """β̂ and β* of ``mice:::.norm.draw`` for every outcome column (one draw each), from the
    cross-products of [1, X] and Y over the observed rows."""
    p = xtx.shape[0]
    try:
        chol = np.linalg.cholesky(xtx)
    except np.linalg.LinAlgError:
        xtx = xtx + np.diag(_RIDGE * np.diag(xtx))
        chol = np.linalg.cholesky(xtx)
    beta = np.linalg.solve(xtx, xty)
    rss = np.maximum(yty - (xty * beta).sum(axis=0), 0.0)
    sigma = np.sqrt(rss / rng.chisquare(max(n - p, 1), size=xty.shape[1]))
    root = np.linalg.inv(chol).T          # LL' = (X'X)⁻¹ with L = C'⁻¹, X'X = CC'
    return beta, beta + (root @ rng.standard_normal(xty.shape)) * sigma


def _match_1d(d: np.ndarray, t: np.ndarray, k: int, rng) -> np.ndarray:
    """``mice:::matchindex``: for each target value, the index of one of its k nearest
    donor values, drawn uniformly (see module docstring)."""
    n1 = d.size
    k = min(max(int(k), 1), n1)
    perm = rng.permutation(n1)
    # the sort's order among ties follows the shuffled order: ties broken at random
    ids = perm[np.argsort(d[perm])]
    ys = d[ids]
    h = rng.integers(0, k, size=t.size)
    r = np.searchsorted(ys, t, side="left")
    offs = np.arange(-k, k)
    # tie order of the outward walk: nearer first, then the right side, then outwards
    offs = offs[np.lexsort((np.abs(offs + 0.5), offs < 0))]
    pos = r[:, None] + offs[None, :]
    valid = (pos >= 0) & (pos < n1)
    pos = np.clip(pos, 0, n1 - 1)
    dist = np.where(valid, np.abs(ys[pos] - t[:, None]), np.inf)
    rank = np.argsort(dist, axis=1, kind="stable")
    rows = np.arange(t.size)
    return ids[pos[rows, rank[rows, h]]]


def _match_nd(D: np.ndarray, T: np.ndarray, k: int, rng) -> np.ndarray:
    """Nearest-k donors in the space of predicted indicator vectors, one drawn uniformly.

    The donors' vectors (least-squares fits of indicators that sum to 1, with an
    intercept) sum to 1, so a target's squared distance splits into its part orthogonal
    to (1, …, 1) and a part equal for all donors: the k-d tree searches the L − 1
    orthonormal (Helmert) coordinates, with the same nearest donors."""
    n1, L = D.shape
    k = min(max(int(k), 1), n1)
    basis = np.linalg.qr(np.column_stack([np.ones(L), np.eye(L)[:, :-1]]))[0][:, 1:]
    perm = rng.permutation(n1)          # ties go to a random donor, as in matchindex
    _, near = cKDTree((D @ basis)[perm]).query(T @ basis, k=k)
    near = near.reshape(T.shape[0], k)
    return perm[near[np.arange(T.shape[0]), rng.integers(0, k, size=T.shape[0])]]


class _Chain:
    """The state of one chain: Z = [1, predictor columns] (numeric columns shifted by
    their observed mean, which changes no fit and keeps the cross-products well
    conditioned) and G = Z'Z over all rows. The observed rows' cross-products of a
    visited column are G − Z_mis'Z_mis, so a visit costs O(n_mis·q² + n·q), not O(n·q²)."""

    def __init__(self, cols, codes, shift):
        self.cols, self.codes, self.shift = cols, codes, shift
        self.Z = np.column_stack([np.ones(len(codes[0]))]
                                 + [self.block(i) for i in range(len(cols))])
        self.G = self.Z.T @ self.Z

    def block(self, i: int) -> np.ndarray:
        _, kind, levels, _ = self.cols[i]
        return _encode(kind, levels, self.codes[i]) - self.shift[i]

    def visit(self, i: int, J: np.ndarray, P: np.ndarray, miss: np.ndarray, donors: int, rng):
        """Impute column i (Z columns J) from predictors P (Z columns, 0 = intercept)."""
        kind, levels = self.cols[i][1], self.cols[i][2]
        # the outcome columns as Y = Z T: the value, or all L level indicators
        T = np.zeros((self.Z.shape[1], 1 if kind != "categorical" else len(levels)))
        if kind == "categorical":
            T[0, 0], T[J, 0] = 1.0, -1.0           # level 1 = 1 − Σ indicators of 2..L
            T[J, np.arange(1, len(levels))] = 1.0
        else:
            T[J, 0] = 1.0
        Zm = self.Z[miss]
        Go = self.G - Zm.T @ Zm
        n = int((~miss).sum())
        xtx, xty, yty = Go[np.ix_(P, P)], Go[P] @ T, np.einsum("ij,ik,kj->j", T, Go, T)
        mu_x, mu_y = xtx[0, 1:] / n, xty[0] / n
        keep = _remove_lindep(xtx[1:, 1:] - n * np.outer(mu_x, mu_x),
                              xty[1:] - n * np.outer(mu_x, mu_y), yty - n * mu_y**2, n,
                              cor_check=kind != "categorical")
        k = np.concatenate([[0], 1 + np.flatnonzero(keep)])
        beta, beta_star = _norm_draw(xtx[np.ix_(k, k)], xty[k], yty, n, rng)
        # coefficients on all Z columns (zero off the kept predictors): no column copies
        b, b_star = np.zeros((self.Z.shape[1], T.shape[1])), np.zeros((self.Z.shape[1], T.shape[1]))
        b[P[k]], b_star[P[k]] = beta, beta_star
        fit_obs, fit_mis = (self.Z @ b)[~miss], Zm @ b_star
        y_obs = self.codes[i][~miss]
        match = _match_nd if kind == "categorical" else (lambda d, t, *a: _match_1d(d[:, 0], t[:, 0], *a))
        self.codes[i][miss] = y_obs[match(fit_obs, fit_mis, donors, rng)]
        self.Z[:, J] = self.block(i)
        col = self.Z.T @ self.Z[:, J]
        self.G[:, J], self.G[J, :] = col, col.T


def pmm_impute(data: pd.DataFrame, m: int = 20, seed: int = 0, donors: int = 5,
               maxit: int = 5, exclude_as_predictor=()) -> list[pd.DataFrame]:
    """``m`` completed copies of ``data``, imputed by chained equations with predictive
    mean matching (module docstring; R ``mice(data, method = "pmm", m, maxit)``).

    Every column with missing values is imputed; fully observed columns are predictors
    only. Predictors of a column are all other columns except ``exclude_as_predictor``
    (text columns as level indicators). Observed values are never changed and every
    imputed value is an observed value (level) of its column. The m chains run one
    after the other from ``numpy.random.default_rng(seed)``: the same seed gives the
    same imputations. A column without any observed value is an error.

    Example::

        completed = pmm_impute(df[["age", "ses", "score_T1", "score_T2"]], m=20, seed=1)
    """
    if not isinstance(data, pd.DataFrame):
        raise StudyError("multiple imputation: the data must be a table (DataFrame)")
    if int(m) < 1 or int(maxit) < 1 or int(donors) < 1:
        raise StudyError(f"multiple imputation: m, maxit and donors must be positive "
                         f"(got m={m}, maxit={maxit}, donors={donors})")
    unknown = [c for c in exclude_as_predictor if c not in data.columns]
    if unknown:
        raise StudyError(f"multiple imputation: exclude_as_predictor names column(s) {unknown} "
                         "that are not in the data")
    if data.columns.duplicated().any():
        raise StudyError("multiple imputation: column names must be unique")
    cols = _code_columns(data)
    widths = [1 if kind != "categorical" else len(levels) - 1 for _, kind, levels, _ in cols]
    starts = 1 + np.cumsum([0] + widths)                     # Z column 0 is the intercept
    shift = [np.nanmean(c) if kind == "numeric" else 0.0 for _, kind, _, c in cols]
    missing = [np.isnan(codes) for *_, codes in cols]
    targets = [i for i in range(len(cols)) if missing[i].any()]
    excluded = {i for i, (name, *_) in enumerate(cols) if name in set(exclude_as_predictor)}
    P = {i: np.concatenate([[0]] + [np.arange(starts[j], starts[j + 1]) for j in range(len(cols))
                                    if j != i and j not in excluded]).astype(int) for i in targets}
    J = {i: np.arange(starts[i], starts[i + 1]) for i in targets}
    rng = np.random.default_rng(seed)
    out = []
    with single_threaded_blas():      # thousands of small products: threads only contend
        for _ in range(int(m)):
            codes = [c.copy() for *_, c in cols]
            for i in targets:         # mice.impute.sample: draws of the observed values
                observed = codes[i][~missing[i]]
                codes[i][missing[i]] = observed[rng.integers(0, observed.size, missing[i].sum())]
            chain = _Chain(cols, codes, shift)
            for _ in range(int(maxit)):
                for i in targets:
                    chain.visit(i, J[i], P[i], missing[i], donors, rng)
            done = data.copy()
            for i in targets:
                name, kind, levels, _ = cols[i]
                filled = codes[i][missing[i]]
                done.loc[missing[i], name] = (filled if kind == "numeric" else
                                              np.asarray(levels, dtype=object)[filled.astype(int)])
            out.append(done)
    return out


# ------------------------------------------------------------------ Rubin's rules

def pool_rubin(estimates, variances, dfcom: float = np.inf, alpha: float = 0.05) -> dict:
    """Rubin's rules with the Barnard–Rubin df, as ``mice::pool`` / ``mice::pool.scalar(Q,
    U, n = dfcom + k, k)`` (formulas: module docstring).

    Returns ``m``, ``qbar``, ``ubar``, ``b``, ``t``, ``se`` = √t, ``df``, ``riv``,
    ``lambda``, ``fmi``, ``ci_low``, ``ci_high``, ``p``. ``dfcom`` is the complete-data
    df (``inf`` for the large-sample df). With b = 0 (identical estimates) λ is 0 but
    the df uses λ = 1e−4, as mice. Fewer than two estimates cannot be pooled (mice
    warns and returns the single fit; here it is an error).

    Example::

        pool_rubin([0.21, 0.25, 0.19], [0.010, 0.011, 0.009], dfcom=98)["df"]
    """
    Q = np.asarray(estimates, dtype=float).ravel()
    U = np.asarray(variances, dtype=float).ravel()
    m = Q.size
    if m < 2:
        raise StudyError(f"pooling needs at least two imputations (m = {m}): the between-"
                         "imputation variance is not defined for one")
    if U.size != m or not (np.isfinite(Q).all() and np.isfinite(U).all()) or (U < 0).any():
        raise StudyError("pooling: estimates and variances must be finite, equally many, and "
                         "the variances non-negative")
    dfcom = float(dfcom)
    if not dfcom > 0:
        raise StudyError(f"pooling: the complete-data df must be positive, not {dfcom}")
    qbar, ubar, b = float(Q.mean()), float(U.mean()), float(Q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1 + 1 / m) * b / ubar
        lam = (1 + 1 / m) * b / t
    lam_df = max(lam, 1e-4) if np.isfinite(lam) else lam
    df_old = (m - 1) / lam_df**2
    if np.isinf(dfcom):
        df = df_old
    else:
        df_obs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam_df)
        df = df_old * df_obs / (df_old + df_obs)
    fmi = (riv + 2 / (df + 3)) / (riv + 1)
    se = float(np.sqrt(t))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = float(2 * stats.t.sf(abs(qbar / se), max(df, 0.001))) if se > 0 else float("nan")
    q = float(stats.t.ppf(1 - alpha / 2, df))
    return {"m": m, "qbar": qbar, "ubar": ubar, "b": b, "t": t, "se": se, "df": float(df),
            "riv": float(riv), "lambda": float(lam), "fmi": float(fmi),
            "ci_low": qbar - q * se, "ci_high": qbar + q * se, "p": p}


# ------------------------------------------------------------------ CR2 for many outcomes

def _cr2_condition(X: np.ndarray, cluster) -> tuple[np.ndarray, float, object]:
    """For the design X = [1, mentee] and the clusters: the weights a (one per row) with
    CR2 variance of the condition coefficient Σ_j (Σ_{i∈j} a_i e_i)² for residuals e,
    its Satterthwaite df, and the design (rows per cluster).

    The quantities of :meth:`ClusterRobustFit.satterthwaite_df` (W = I, c = e₂):
    q_j = A_j X_j M c, Ω = D − B'R − R'B + R'SR with D = diag(q_j'q_j), B = [X_j'q_j],
    R = M B, S = X'X. Ω is G × G; with one pupil per cluster G is the sample size, so
    tr Ω and ‖Ω‖²_F are computed from the low-rank form Ω = D + Z'CZ, Z = [B; R],
    C = [[0, −I], [−I, S]]: tr Ω = Σ d_j + Σ z_j'Cz_j, ‖Ω‖² = Σ d_j² +
    2 Σ d_j z_j'Cz_j + tr((C ZZ')²), df = (tr Ω)²/‖Ω‖²."""
    d = _design(np.zeros(X.shape[0]), X, cluster, None)
    mc = d.M[:, 1]
    if all(len(r) == 1 for r in d.rows):        # singletons: A_i = (1 − h_ii)^(−1/2), HC2
        order = np.concatenate(d.rows)
        Xs = d.X[order]
        g = 1.0 - np.einsum("ij,jk,ik->i", Xs, d.M, Xs)
        q = np.where(g > 1e-12, g ** -0.5, 0.0) * (Xs @ mc)
        qs = np.split(q, len(d.rows))
    else:
        qs = [a @ (d.X[r] @ mc) for a, r in zip(_cr2_adjustments(d), d.rows)]
    B = np.column_stack([d.X[r].T @ qj for r, qj in zip(d.rows, qs)])
    R = d.M @ B
    S = d.X.T @ d.X
    p = X.shape[1]
    Zm = np.vstack([B, R])
    C = np.block([[np.zeros((p, p)), -np.eye(p)], [-np.eye(p), S]])
    dd = np.array([qj @ qj for qj in qs])
    zcz = np.einsum("ij,ik,kj->j", Zm, C, Zm)
    CP = C @ (Zm @ Zm.T)
    trace = dd.sum() + zcz.sum()
    frob = (dd**2).sum() + 2 * (dd * zcz).sum() + np.trace(CP @ CP)
    a = np.empty(X.shape[0])
    for r, qj in zip(d.rows, qs):
        a[r] = qj
    return a, float(trace**2 / frob) if frob > 0 else float("nan"), d


def did_imputed(completed, outcomes, contrasts=("T2-T1", "T3-T1"), *, clusters=None,
                alpha: float = 0.05) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The change-score DiD in every completed data set and pooled by Rubin's rules.

    ``completed``: the m completed wide tables (columns ``condition`` and
    ``{outcome}_{wave}``, no missing values in those used). Per data set l, outcome and
    contrast ``T_k-T_j``: OLS of ``T_k − T_j`` on [1, mentee] over all pupils, CR2 se and
    Satterthwaite df by ``clusters`` (each pupil its own cluster when None: HC2 with the
    Bell–McCaffrey df), exactly :func:`.cluster_robust.cr2_regression` (vectorised over
    data sets and outcomes, the design being shared). Pooled with :func:`pool_rubin`,
    ν_com = that df. Returns (per-imputation table: ``imputation``, ``outcome``,
    ``contrast``, ``estimate``, ``se``, ``df``; pooled table: :data:`MI_COLUMNS`). With
    fewer than two clusters in a condition only the pooled estimate is given, as in
    :func:`.cluster_robust.design_based_did`.
    """
    completed = list(completed)
    if len(completed) < 2:
        raise StudyError(f"multiple imputation needs m ≥ 2 completed data sets, not {len(completed)}")
    first = completed[0]
    n = len(first)
    mentee = (first["condition"] == CONDITIONS[0]).to_numpy(dtype=float)
    for frame in completed:
        if not frame["condition"].equals(first["condition"]):
            raise StudyError("multiple imputation: the condition differs between completed data sets")
    cluster = (np.arange(n) if clusters is None else np.asarray(clusters, dtype=object))
    X = np.column_stack([np.ones(n), mentee])
    per_arm = pd.Series(cluster).groupby(mentee).nunique()
    estimable = len(per_arm) == 2 and int(per_arm.min()) >= 2
    keys = [(o, c) for o in outcomes for c in contrasts]
    Y = np.column_stack([
        pd.to_numeric(frame[f"{o}_{c.split('-')[0]}"]).to_numpy(dtype=float)
        - pd.to_numeric(frame[f"{o}_{c.split('-')[1]}"]).to_numpy(dtype=float)
        for frame in completed for o, c in keys])
    if not np.isfinite(Y).all():
        raise StudyError("multiple imputation: a completed data set still has missing outcome values")
    beta = np.linalg.lstsq(X, Y, rcond=None)[0]
    se, df = np.full(Y.shape[1], np.nan), np.nan
    if estimable:
        with single_threaded_blas():
            a, df, d = _cr2_condition(X, cluster)
        E = a[:, None] * (Y - X @ beta)
        order = np.concatenate(d.rows)
        firsts = np.cumsum([0] + [len(r) for r in d.rows[:-1]])
        se = np.sqrt((np.add.reduceat(E[order], firsts, axis=0) ** 2).sum(axis=0))
    per = pd.DataFrame({"imputation": np.repeat(np.arange(1, len(completed) + 1), len(keys)),
                        "outcome": [o for _ in completed for o, _ in keys],
                        "contrast": [c for _ in completed for _, c in keys],
                        "estimate": beta[1], "se": se, "df": df})
    rows = []
    for j, (o, c) in enumerate(keys):
        est = beta[1, j::len(keys)]
        row = {"model": "multiple_imputation", "outcome": o, "contrast": c}
        if estimable:
            res = pool_rubin(est, se[j::len(keys)] ** 2, dfcom=df, alpha=alpha)
            row.update(estimate=res["qbar"], **{k: res[k] for k in
                                                ("se", "df", "ci_low", "ci_high", "p", "fmi", "riv")})
        else:
            row.update(estimate=float(est.mean()), se=np.nan, df=np.nan, ci_low=np.nan,
                       ci_high=np.nan, p=np.nan, fmi=np.nan, riv=np.nan)
        row.update(n_pupils=n, n_clusters=int(pd.Series(cluster).nunique()), m=len(completed))
        rows.append(row)
    return per, pd.DataFrame(rows, columns=MI_COLUMNS)


def mi_completed(wide: pd.DataFrame, outcomes, *, covariates: pd.DataFrame | None = None,
                 m: int = 20, seed: int = 0, donors: int = 5, maxit: int = 5) -> list[pd.DataFrame]:
    """The m completed data sets of :func:`mi_did`: every wave (T1–T3) of every outcome,
    the baseline ``covariates`` (aligned with ``wide``'s index; ``"unknown"`` counts as
    missing) and ``mentee`` (1/0, fully observed), imputed by :func:`pmm_impute`; the
    ``condition`` column is added back to each. One set serves all outcomes and contrasts."""
    if "condition" not in wide.columns:
        raise StudyError("multiple imputation: the wide data have no column 'condition'")
    cond = wide["condition"]
    if cond.isna().any():
        raise StudyError(f"multiple imputation: {int(cond.isna().sum())} pupil(s) have no condition; "
                         "every pupil needs one")
    wrong = sorted(map(str, set(pd.unique(cond)) - set(CONDITIONS)))
    if wrong:
        raise StudyError(f"multiple imputation: unknown condition value(s) {wrong}; "
                         f"expected {list(CONDITIONS)}")
    if int(m) < 2:
        raise StudyError(f"multiple imputation needs m ≥ 2 imputations, not {m}")
    waves = [f"{o}_{w}" for o in outcomes for w in WAVES]
    absent = [c for c in waves if c not in wide.columns]
    if absent:
        raise StudyError(f"multiple imputation: column(s) {absent} not found in the wide data")
    frame = wide[waves].apply(pd.to_numeric, errors="coerce")
    if covariates is not None:
        if not covariates.index.equals(wide.index):
            raise StudyError("multiple imputation: the covariates must have the rows of the wide "
                             "data, in the same order")
        clash = [c for c in covariates.columns if c in frame.columns or c in ("mentee", "condition")]
        if clash:
            raise StudyError(f"multiple imputation: covariate name(s) {clash} clash with outcome columns")
        frame = frame.join(covariates.mask(covariates.astype(object) == UNKNOWN))
    frame["mentee"] = (cond == CONDITIONS[0]).astype(float)
    completed = pmm_impute(frame, m=m, seed=seed, donors=donors, maxit=maxit)
    for done in completed:
        done["condition"] = cond.to_numpy()
    return completed


def mi_did(wide: pd.DataFrame, outcomes, contrasts=("T2-T1", "T3-T1"), *,
           covariates: pd.DataFrame | None = None, clusters: pd.Series | None = None,
           m: int = 20, seed: int = 0, alpha: float = 0.05, donors: int = 5,
           maxit: int = 5) -> pd.DataFrame:
    """The change-score difference-in-differences under multiple imputation: one row per
    outcome × contrast (columns :data:`MI_COLUMNS`, ``model`` = ``multiple_imputation``,
    ``estimate`` = mentee − control): :func:`mi_completed` (the imputation model, single
    level: the class is not in it), then :func:`did_imputed` over all pupils of ``wide``,
    clustered by ``clusters`` (class within school, :func:`.cluster_robust.unique_clusters`)
    or with each pupil its own cluster when None.

    Example::

        p = load_panel("mut_eval/data/example_study")
        mi_did(p.wide, ["self_efficacy"], covariates=p.wide[["age", "gender", "ses"]],
               clusters=unique_clusters(p.wide), m=20, seed=1)
    """
    bad = [c for c in contrasts if c not in CHANGES]
    if bad:
        raise StudyError(f"multiple imputation: contrast(s) {bad} not among {list(CHANGES)}")
    if clusters is not None:
        clusters = pd.Series(clusters)
        if len(clusters) != len(wide) or clusters.isna().any():
            raise StudyError("multiple imputation: every pupil of the wide data needs a class "
                             "(cluster)")
        clusters = clusters.to_numpy()
    completed = mi_completed(wide, outcomes, covariates=covariates, m=m, seed=seed,
                             donors=donors, maxit=maxit)
    return did_imputed(completed, outcomes, contrasts, alpha=alpha, clusters=clusters)[1]
