"""Design-based checks clustered by class: CR2 standard errors with Satterthwaite df and
the restricted wild cluster bootstrap.

When whole classes are assigned to a condition, pupils are not independent: the
regression on pupils must be analysed with the class as the unit of resampling or of
the variance estimate. Two such checks of the difference-in-differences:

* **CR2 + Satterthwaite** (Bell & McCaffrey 2002, *Survey Methodology* 28:169;
  Pustejovsky & Tipton 2018, *J. Bus. Econ. Stat.* 36:672). For the OLS/WLS fit
  β̂ = M X'Wy, M = (X'WX)⁻¹, with residuals e, the bias-reduced linearisation is

      V = M [Σ_j X_j'W_j A_j e_j e_j' A_j W_j X_j] M,
      A_j = (I − H_jj − H_jj' + X_j M X'W²X M X_j')^(−1/2),  H_jj = X_j M X_j'W_j,

  the symmetric inverse square root taken over eigenvalues > 1e−12 (the working model
  is Φ = I, as ``clubSandwich::vcovCR(type = "CR2")`` uses for ``lm``, with or
  without weights; without weights A_j = (I − H_jj)^(−1/2)). For a contrast c,
  c'Vc = Σ_j (g_j'y)² with g_j = (I − H)_j' A_j W_j X_j M c, and the Satterthwaite
  df under the working model is df = (Σ_j g_j'g_j)² / Σ_i Σ_j (g_i'g_j)²
  (Pustejovsky & Tipton 2018, section 3; ``clubSandwich::coef_test(test =
  "Satterthwaite")``). All of it is computed cluster by cluster, never with n × n
  matrices.
* **Restricted wild cluster bootstrap** (WCR; Cameron, Gelbach & Miller 2008, *Rev.
  Econ. Stat.* 90:414; MacKinnon & Webb 2017, *J. Appl. Econometrics* 32:233). The
  null H0: β_k = r is imposed: ũ are the residuals of y − r·x_k on the other columns,
  and each draw v (one weight per class) gives y* = ŷ₀ + ũ ∘ v. The t statistic of
  every draw is studentised with the **CR1** variance, as ``boottest`` (Roodman et al.
  2019) and ``fwildclusterboot`` do; its scalar factor G/(G−1)·(N−1)/(N−p) cancels in
  t*/t, so the p-value is that of CR0 too (``vcov="CR2"`` studentises with CR2). The
  p-value is symmetric, p = #{|t*| ≥ |t|} / B, where "≥" allows a relative 1e−9 so
  that the draw v = 1 (t* = t in exact arithmetic) counts. With G ≤ 12 classes all 2^G Rademacher sign vectors are
  enumerated (the bootstrap distribution itself, no Monte Carlo error; p ≥ 2/2^G);
  above that, B draws of Webb's (2023, *Can. J. Econ.* 56:1356) six-point weights
  ±√½, ±1, ±√(3/2), each with probability 1/6, from ``numpy.random.default_rng(seed)``.
  Because β̂* − r and the CR residuals are linear in v, all draws are one matrix
  product: t*_b = s'v_b / ‖K v_b‖ with s_h = c'M X_h'W_h ũ_h and
  K_hg = c'M X_h'W_h (ũ_h δ_hg − X_h M X_g'W_g ũ_g). The confidence interval inverts
  the test: the values r with p(r) ≥ α, each end found by bisection between β̂
  (p = 1) and the first point β̂ ± 4·se·2^i that is rejected (se: CR1, below), to a
  bracket narrower than 1e−10·se, with the same draws for every r.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .. import CHANGES, CONDITIONS, StudyError
from .moderation import cell_seed

__all__ = [
    "ClusterRobustFit",
    "cr2_regression",
    "WildBootstrapResult",
    "wild_cluster_bootstrap",
    "unique_clusters",
    "design_based_did",
    "design_based_checks",
    "DESIGN_BASED_COLUMNS",
    "WEBB_WEIGHTS",
    "MAX_ENUMERATION_CLUSTERS",
]

#: Webb's six-point distribution (mean 0, variance 1).
WEBB_WEIGHTS = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])
#: Up to this many clusters, ``draws="auto"`` enumerates all 2^G Rademacher vectors.
MAX_ENUMERATION_CLUSTERS = 12
DESIGN_BASED_COLUMNS = ["model", "outcome", "contrast", "estimate", "se", "df", "ci_low",
                        "ci_high", "p", "n_pupils", "n_clusters"]
_EIG_TOL = 1e-12      # eigenvalues treated as zero in A_j, as clubSandwich's matrix_power
_TIE_TOL = 1e-9       # |t*| within this relative distance of |t| counts as "as extreme"
_CI_TOL = 1e-10       # bisection stops when the bracket is narrower than this times the se


def _inv_sqrt(a: np.ndarray) -> np.ndarray:
    """Symmetric (pseudo-)inverse square root over eigenvalues > 1e−12; ``a`` may be a
    stack of matrices (…, n, n), decomposed in one batched call."""
    vals, vecs = np.linalg.eigh(a)
    root = np.zeros_like(vals)
    keep = vals > _EIG_TOL
    root[keep] = vals[keep] ** -0.5
    return (vecs * root[..., None, :]) @ np.swapaxes(vecs, -1, -2)


@dataclass(frozen=True)
class _Design:
    """Rows grouped by cluster, with the WLS bread M = (X'WX)⁻¹."""
    X: np.ndarray
    y: np.ndarray
    w: np.ndarray
    rows: list            # row indices of each cluster, clusters in sorted label order
    labels: np.ndarray
    M: np.ndarray

    @property
    def n_clusters(self) -> int:
        return len(self.rows)


def _design(y, X, cluster, weights) -> _Design:
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    y = np.asarray(y, dtype=float).ravel()
    cluster = np.asarray(cluster).ravel()
    n = y.size
    if X.shape[0] != n or cluster.size != n:
        raise StudyError(f"cluster-robust regression: y has {n} rows, X {X.shape[0]}, "
                         f"cluster {cluster.size}; they must be equal")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.size != n:
        raise StudyError(f"cluster-robust regression: {w.size} weights for {n} rows")
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise StudyError("cluster-robust regression: y and X must not contain missing values")
    if not (np.isfinite(w).all() and (w > 0).all()):
        raise StudyError("cluster-robust regression: weights must be positive numbers")
    if pd.isna(pd.Series(cluster)).any():
        raise StudyError("cluster-robust regression: every row needs a cluster")
    codes, labels = pd.factorize(pd.Series(cluster), sort=True)
    if len(labels) < 2:
        raise StudyError("cluster-robust regression: the data hold a single cluster; "
                         "cluster-robust variances need at least two")
    xtwx = X.T @ (X * w[:, None])
    if np.linalg.matrix_rank(xtwx) < X.shape[1]:
        raise StudyError(f"cluster-robust regression: the {X.shape[1]} predictors are "
                         "linearly dependent (e.g. a condition or covariate without variation)")
    order = np.argsort(codes, kind="stable")
    rows = np.split(order, np.cumsum(np.bincount(codes))[:-1])
    return _Design(X=X, y=y, w=w, rows=rows, labels=np.asarray(labels), M=np.linalg.inv(xtwx))


def _cr2_adjustments(d: _Design) -> list[np.ndarray]:
    """A_j of Bell & McCaffrey (2002) under the working model Φ = I."""
    xw2x = d.X.T @ (d.X * (d.w**2)[:, None])
    mid = d.M @ xw2x @ d.M
    out: list = [None] * len(d.rows)
    by_size: dict[int, list[int]] = {}
    for j, r in enumerate(d.rows):
        by_size.setdefault(len(r), []).append(j)
    # clusters of one size are stacked: one batched eigendecomposition per size
    for size, js in by_size.items():
        xj = np.stack([d.X[d.rows[j]] for j in js])                    # k × n × p
        wj = np.stack([d.w[d.rows[j]] for j in js])                    # k × n
        h = (xj @ d.M @ np.swapaxes(xj, 1, 2)) * wj[:, None, :]        # H_jj = X_j M X_j' W_j
        g = np.eye(size) - h - np.swapaxes(h, 1, 2) + xj @ mid @ np.swapaxes(xj, 1, 2)
        for j, a in zip(js, _inv_sqrt(g)):
            out[j] = a
    return out


@dataclass(frozen=True)
class ClusterRobustFit:
    """An OLS/WLS fit with the CR2 covariance matrix.

    ``coef``, ``se`` and ``df`` (Satterthwaite, per coefficient) are arrays in the order
    of ``names``; :meth:`contrast` tests any linear combination c'β; :meth:`table` is the
    coefficient table as ``clubSandwich::coef_test`` prints it.
    """
    names: list
    coef: np.ndarray
    vcov: np.ndarray
    se: np.ndarray
    df: np.ndarray
    n_obs: int
    n_clusters: int
    _design: _Design = field(repr=False)
    _estmats: list = field(repr=False)      # X_j'W_j A_j per cluster

    def satterthwaite_df(self, c) -> float:
        """Satterthwaite df of c'β̂ under the working model (Pustejovsky & Tipton 2018)."""
        d, c = self._design, np.asarray(c, dtype=float).ravel()
        m = d.M @ c
        q = [e.T @ m for e in self._estmats]                       # A_j W_j X_j M c
        B = np.column_stack([d.X[r].T @ (d.w[r] * qj) for r, qj in zip(d.rows, q)])
        R = d.M @ np.column_stack([d.X[r].T @ qj for r, qj in zip(d.rows, q)])
        xw2x = d.X.T @ (d.X * (d.w**2)[:, None])
        omega = np.diag([qj @ qj for qj in q]) - B.T @ R - R.T @ B + R.T @ xw2x @ R
        denom = float((omega**2).sum())
        return float(np.trace(omega) ** 2 / denom) if denom > 0 else float("nan")

    def contrast(self, c, null: float = 0.0, alpha: float = 0.05) -> dict:
        """Estimate, CR2 se, Satterthwaite df, t, two-sided p and CI of c'β (H0: c'β = null)."""
        c = np.asarray(c, dtype=float).ravel()
        est = float(c @ self.coef)
        se = float(np.sqrt(c @ self.vcov @ c))
        df = self.satterthwaite_df(c)
        return _t_summary(est, se, df, null, alpha)

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        rows = []
        for i, name in enumerate(self.names):
            res = _t_summary(float(self.coef[i]), float(self.se[i]), float(self.df[i]), 0.0, alpha)
            rows.append({"term": name, **res})
        return pd.DataFrame(rows)


def _t_summary(est: float, se: float, df: float, null: float, alpha: float) -> dict:
    ok = np.isfinite(se) and se > 0 and np.isfinite(df) and df > 0
    t = (est - null) / se if ok else float("nan")
    p = float(2 * stats.t.sf(abs(t), df)) if ok else float("nan")
    q = float(stats.t.ppf(1 - alpha / 2, df)) if ok else float("nan")
    return {"estimate": est, "se": se, "df": df, "t": t, "p": p,
            "ci_low": est - q * se, "ci_high": est + q * se}


def cr2_regression(y, X, cluster, weights=None, names=None, coef_df: bool = True) -> ClusterRobustFit:
    """OLS (or WLS with ``weights``) of ``y`` on ``X`` with the CR2 cluster-robust
    covariance matrix and Satterthwaite df per coefficient (``coef_df=False`` leaves
    ``df`` empty, for a caller that tests one :meth:`~ClusterRobustFit.contrast`: each df
    costs a G × G matrix).

    Equal to ``clubSandwich::coef_test(lm(y ~ X - 1, weights = weights), vcov = "CR2",
    cluster = cluster, test = "Satterthwaite")`` (see the module docstring for the
    formulas). ``X`` includes the intercept column; a DataFrame's column names become
    ``names``. Rows with a missing value are an error (drop them first).

    Example::

        fit = cr2_regression(df["change"], np.column_stack([np.ones(n), mentee]), df["klass"])
        fit.coef[1], fit.se[1], fit.df[1]      # the condition effect
        fit.contrast([1, 1])                   # the mentees' mean change
    """
    if names is None:
        names = (list(X.columns) if isinstance(X, pd.DataFrame)
                 else [f"x{i}" for i in range(np.shape(X)[1] if np.ndim(X) == 2 else 1)])
    d = _design(y, X, cluster, weights)
    beta = d.M @ (d.X.T @ (d.w * d.y))
    resid = d.y - d.X @ beta
    adjust = _cr2_adjustments(d)
    estmats = [d.X[r].T @ (d.w[r][:, None] * a) for r, a in zip(d.rows, adjust)]
    u = np.column_stack([e @ resid[r] for e, r in zip(estmats, d.rows)])    # p × G
    vcov = d.M @ (u @ u.T) @ d.M
    fit = ClusterRobustFit(names=list(names), coef=beta, vcov=vcov, se=np.sqrt(np.diag(vcov)),
                           df=np.full(beta.size, np.nan), n_obs=d.y.size, n_clusters=d.n_clusters,
                           _design=d, _estmats=estmats)
    if coef_df:
        df = np.array([fit.satterthwaite_df(np.eye(beta.size)[i]) for i in range(beta.size)])
        object.__setattr__(fit, "df", df)
    return fit


@dataclass(frozen=True)
class WildBootstrapResult:
    """The restricted wild cluster bootstrap test of one coefficient.

    ``se`` is the CR1 standard error of the original fit with Stata's factor
    G/(G−1)·(N−1)/(N−p) (``clubSandwich`` type ``CR1S``), ``t`` = (estimate − null)/se;
    ``p`` is the symmetric bootstrap p-value and ``ci_low``/``ci_high`` the interval
    from inverting the test (±inf where no value far from the estimate is rejected,
    as happens with very few clusters). ``draws`` is ``enumeration`` (all 2^G Rademacher
    vectors), ``webb`` or ``rademacher`` (random draws); ``n_draws`` their number.
    """
    estimate: float
    se: float
    t: float
    p: float
    ci_low: float
    ci_high: float
    draws: str
    n_draws: int
    n_clusters: int
    n_obs: int


def _bootstrap_weights(n_clusters: int, draws: str, n_boot: int, seed) -> tuple[np.ndarray, str]:
    """Weights per draw (rows) and cluster (columns), and the scheme's name."""
    if draws == "auto":
        draws = "enumeration" if n_clusters <= MAX_ENUMERATION_CLUSTERS else "webb"
    if draws == "enumeration":
        if n_clusters > 20:
            raise StudyError(f"wild cluster bootstrap: enumerating 2^{n_clusters} sign vectors is "
                             "too many; use draws='webb'")
        bits = (np.arange(2**n_clusters)[:, None] >> np.arange(n_clusters)[None, :]) & 1
        return 1.0 - 2.0 * bits, draws
    if int(n_boot) < 1:
        raise StudyError(f"wild cluster bootstrap: n_boot must be a positive number, not {n_boot!r}")
    rng = np.random.default_rng(seed)
    if draws == "webb":
        return WEBB_WEIGHTS[rng.integers(0, 6, size=(int(n_boot), n_clusters))], draws
    if draws == "rademacher":
        return 1.0 - 2.0 * rng.integers(0, 2, size=(int(n_boot), n_clusters)), draws
    raise StudyError(f"wild cluster bootstrap: draws must be 'auto', 'enumeration', 'webb' or "
                     f"'rademacher', not {draws!r}")


class _RestrictedBootstrap:
    """t statistics of the original fit and of every draw as functions of the null value r.

    The restricted residuals are linear in r, ũ(r) = ũ_y − r·ũ_x (ũ_y, ũ_x: residuals of
    y and x_k on the other columns), and so are s and K (module docstring); the draws
    are multiplied once (with K's rank-p structure, O(B·G·p)) and each r costs O(B).
    """

    def __init__(self, d: _Design, k: int, V: np.ndarray, vcov: str):
        p = d.X.shape[1]
        self.k = k
        self.beta = d.M @ (d.X.T @ (d.w * d.y))
        resid = d.y - d.X @ self.beta
        m = d.M[:, k]                                   # M e_k
        if vcov == "CR2":
            adjust = _cr2_adjustments(d)
            self.a = [(a * d.w[r][None, :]) @ (d.X[r] @ m) for r, a in zip(d.rows, adjust)]
        elif vcov == "CR1":
            self.a = [d.w[r] * (d.X[r] @ m) for r in d.rows]       # m'X_h'W_h
        else:
            raise StudyError(f"wild cluster bootstrap: vcov must be 'CR1' or 'CR2', not {vcov!r}")
        self.scale = np.sqrt(sum((a @ resid[r]) ** 2 for a, r in zip(self.a, d.rows)))
        G, N = d.n_clusters, d.y.size
        raw = np.sqrt(sum(((d.w[r] * (d.X[r] @ m)) @ resid[r]) ** 2 for r in d.rows))
        self.se_cr1 = float(raw * np.sqrt(G / (G - 1) * (N - 1) / (N - p)))
        others = [j for j in range(p) if j != k]
        X0, w = d.X[:, others], d.w
        M0 = np.linalg.inv(X0.T @ (X0 * w[:, None]))
        res0 = lambda v: v - X0 @ (M0 @ (X0.T @ (w * v)))       # noqa: E731
        self.num, Z = [], []
        F = np.vstack([a @ d.X[r] for a, r in zip(self.a, d.rows)])                 # G × p
        for u in (res0(d.y), res0(d.X[:, k])):
            S = d.M @ np.column_stack([d.X[r].T @ (w[r] * u[r]) for r in d.rows])    # p × G
            diag = np.array([a @ u[r] for a, r in zip(self.a, d.rows)])
            # K = diag − F S has rank-p structure: V K' = V∘diag − (V S') F', O(B·G·p)
            self.num.append(V @ S[k])
            Z.append(V * diag[None, :] - (V @ S.T) @ F.T)
        # ‖Z_y v − r Z_x v‖² = A − 2rC + r²D per draw: each r then costs O(B)
        self.quad = ((Z[0] ** 2).sum(axis=1), (Z[0] * Z[1]).sum(axis=1), (Z[1] ** 2).sum(axis=1))

    def p_value(self, r: float) -> float:
        t = (self.beta[self.k] - r) / self.scale
        num = self.num[0] - r * self.num[1]
        A, C, D = self.quad
        den = np.sqrt(np.maximum(A - 2.0 * r * C + r * r * D, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = np.abs(num / den)
        return float(np.mean(t_star >= abs(t) * (1 - _TIE_TOL)))


def _invert(p_value, estimate: float, se: float, alpha: float) -> tuple[float, float]:
    """The ends of {r : p(r) ≥ α} next to the estimate, by bisection."""
    ends = []
    for sign in (-1.0, 1.0):
        step = 4.0 * se
        for _ in range(60):
            if p_value(estimate + sign * step) < alpha:
                break
            step *= 2.0
        else:
            ends.append(sign * np.inf)
            continue
        inner, outer = 0.0, step
        while outer - inner > _CI_TOL * se:
            mid = 0.5 * (inner + outer)
            if p_value(estimate + sign * mid) >= alpha:
                inner = mid
            else:
                outer = mid
        ends.append(estimate + sign * 0.5 * (inner + outer))
    return ends[0], ends[1]


def wild_cluster_bootstrap(y, X, cluster, coef: int, *, weights=None, null: float = 0.0,
                           draws: str = "auto", n_boot: int = 9999, seed=0, vcov: str = "CR1",
                           alpha: float = 0.05, ci: bool = True) -> WildBootstrapResult:
    """Restricted wild cluster bootstrap (WCR) test of H0: β_coef = ``null``, and its
    inverted confidence interval.

    ``X`` includes the intercept column; ``coef`` is the column index tested. ``draws``:
    ``auto`` enumerates the 2^G Rademacher vectors when G ≤ 12 and else draws
    ``n_boot`` Webb weights seeded by ``seed``; ``enumeration``, ``webb`` or
    ``rademacher`` force one. ``vcov`` studentises with ``CR1`` (default, as boottest)
    or ``CR2``. Formulas and sources: module docstring.

    Example::

        res = wild_cluster_bootstrap(change, np.column_stack([np.ones(n), mentee]), klass, 1)
        res.p, res.ci_low, res.ci_high
    """
    d = _design(y, X, cluster, weights)
    if not 0 <= int(coef) < d.X.shape[1]:
        raise StudyError(f"wild cluster bootstrap: coef {coef} is not a column of X")
    V, kind = _bootstrap_weights(d.n_clusters, draws, n_boot, seed)
    boot = _RestrictedBootstrap(d, int(coef), V, vcov)
    est = float(boot.beta[int(coef)])
    if not ci:
        lo, hi = np.nan, np.nan
    elif kind == "enumeration" and 2.0 / V.shape[0] > alpha:
        # v and −v give the same |t*|, so p ≥ 2/2^G: with G ≤ 5 classes at α = .05 no
        # value is ever rejected and the interval is the whole line
        lo, hi = -np.inf, np.inf
    else:
        lo, hi = _invert(boot.p_value, est, boot.se_cr1, alpha)
    return WildBootstrapResult(estimate=est, se=boot.se_cr1, t=(est - null) / boot.se_cr1,
                               p=boot.p_value(null), ci_low=lo, ci_high=hi, draws=kind,
                               n_draws=V.shape[0], n_clusters=d.n_clusters, n_obs=d.y.size)


def unique_clusters(data: pd.DataFrame, cluster: str = "class", nest_in: str | None = "school") -> pd.Series:
    """Cluster ids with ``cluster`` made unique within ``nest_in``: class ``3V1`` at
    school A and at school B become ``A/3V1`` and ``B/3V1``. Missing where either is."""
    for col in (cluster, nest_in):
        if col is not None and col not in data.columns:
            raise StudyError(f"design-based checks: column {col!r} not found in the data")
    ids = data[cluster].astype("string")
    if nest_in is not None:
        ids = data[nest_in].astype("string") + "/" + ids
    return ids


def _change_data(wide: pd.DataFrame, outcome: str, contrast: str, condition: str,
                 clusters: pd.Series) -> pd.DataFrame:
    """Pupils with both waves of ``contrast``, a condition and a cluster."""
    if contrast not in CHANGES:
        raise StudyError(f"design-based checks: contrast {contrast!r} is not one of {list(CHANGES)}")
    later, earlier = contrast.split("-")
    cols = [f"{outcome}_{later}", f"{outcome}_{earlier}"]
    missing = [c for c in [*cols, condition] if c not in wide.columns]
    if missing:
        raise StudyError(f"design-based checks: column(s) {missing} not found in the wide data")
    bad = set(pd.unique(wide[condition].dropna())) - set(CONDITIONS)
    if bad:
        raise StudyError(f"design-based checks: unknown {condition} value(s) {sorted(map(str, bad))}; "
                         f"expected {list(CONDITIONS)}")
    d = pd.DataFrame({
        "later": pd.to_numeric(wide[cols[0]], errors="coerce").to_numpy(dtype=float),
        "earlier": pd.to_numeric(wide[cols[1]], errors="coerce").to_numpy(dtype=float),
        "mentee": (wide[condition] == CONDITIONS[0]).astype(float).to_numpy(),
        "has_condition": wide[condition].notna().to_numpy(),
        "cluster": clusters.to_numpy(dtype=object),
    })
    scored = d["later"].notna() & d["earlier"].notna()
    for lacking, what in ((~d["has_condition"], "condition"), (d["cluster"].isna(), "class (or school)")):
        if (scored & lacking).any():
            raise StudyError(f"design-based checks: {int((scored & lacking).sum())} pupil(s) scored on "
                             f"{outcome} {contrast} have no {what}; every pupil needs one here")
    return d[scored].reset_index(drop=True)


def design_based_did(wide: pd.DataFrame, outcome: str, contrast: str, *, cluster: str = "class",
                     nest_in: str | None = "school", condition: str = "condition",
                     alpha: float = 0.05, bootstrap: bool = True, bootstrap_model: str = "change",
                     draws: str = "auto", n_boot: int = 9999, seed=0) -> pd.DataFrame:
    """The difference-in-differences of one outcome and change, analysed with the class
    as the unit: three rows (columns :data:`DESIGN_BASED_COLUMNS`).

    - ``cr2_change``: the change score regressed on the condition,
      ``T_k − T_j ~ condition``, OLS on the pupils scored at both waves; CR2 se and
      Satterthwaite df (:func:`cr2_regression`), t-based CI and p.
    - ``cr2_ancova``: ``T_k ~ condition + T_j`` on the same pupils, CR2 as above.
    - ``wild_cluster_bootstrap``: the restricted wild cluster bootstrap of the condition
      coefficient of the ``bootstrap_model`` (``change`` or ``ancova``;
      :func:`wild_cluster_bootstrap`, CR1-studentised): ``estimate`` as that model's,
      ``se`` its CR1 se (Stata factor), ``df`` empty, CI by test inversion, p the
      bootstrap p-value. Left out with ``bootstrap=False``.

    ``estimate`` is mentee − control (the contract's ``did`` direction); ``contrast`` is
    one of ``T2-T1``, ``T3-T1``, ``T3-T2`` with the earlier wave as ``T_j``.
    ``wide`` is the Panel's wide view (``condition``, ``school``, ``class``,
    ``{outcome}_{wave}``); clusters are ``class`` made unique within ``nest_in``
    (:func:`unique_clusters`). With fewer than two classes in a condition the
    class-level variance of the condition effect cannot be estimated: ``se``, ``df``,
    CI and ``p`` are then empty and only the estimate is given.
    """
    if bootstrap_model not in ("change", "ancova"):
        raise StudyError(f"design-based checks: bootstrap_model must be 'change' or 'ancova', "
                         f"not {bootstrap_model!r}")
    d = _change_data(wide, outcome, contrast, condition, unique_clusters(wide, cluster, nest_in))
    n, ones = len(d), np.ones(len(d))
    n_clusters = int(d["cluster"].nunique())
    per_arm = d.groupby("mentee")["cluster"].nunique()
    estimable = len(per_arm) == 2 and int(per_arm.min()) >= 2
    designs = {
        "change": (d["later"].to_numpy() - d["earlier"].to_numpy(), np.column_stack([ones, d["mentee"]])),
        "ancova": (d["later"].to_numpy(), np.column_stack([ones, d["mentee"], d["earlier"]])),
    }
    rows = []
    empty = {"se": np.nan, "df": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}

    def estimate_only(y, X):
        if len(per_arm) < 2 or n <= X.shape[1]:
            return np.nan
        return float(np.linalg.lstsq(X, y, rcond=None)[0][1])

    for model in ("change", "ancova"):
        y, X = designs[model]
        if estimable:
            res = cr2_regression(y, X, d["cluster"]).contrast([0, 1] + [0] * (X.shape[1] - 2), alpha=alpha)
            res = {k: res[k] for k in ("estimate", "se", "df", "ci_low", "ci_high", "p")}
        else:
            res = {"estimate": estimate_only(y, X), **empty}
        rows.append({"model": f"cr2_{model}", **res})
    if bootstrap:
        y, X = designs[bootstrap_model]
        if estimable:
            wb = wild_cluster_bootstrap(y, X, d["cluster"], 1, draws=draws, n_boot=n_boot,
                                        seed=seed, alpha=alpha)
            res = {"estimate": wb.estimate, "se": wb.se, "df": np.nan, "ci_low": wb.ci_low,
                   "ci_high": wb.ci_high, "p": wb.p}
        else:
            res = {"estimate": estimate_only(y, X), **empty}
        rows.append({"model": "wild_cluster_bootstrap", **res})
    out = pd.DataFrame(rows)
    out["outcome"], out["contrast"] = outcome, contrast
    out["n_pupils"], out["n_clusters"] = n, n_clusters
    return out[DESIGN_BASED_COLUMNS]


def design_based_checks(wide: pd.DataFrame, outcomes, contrasts=("T2-T1", "T3-T1"), *,
                        seed=0, **options) -> pd.DataFrame:
    """:func:`design_based_did` for every outcome × contrast, one table. Each cell's
    bootstrap is seeded with ``cell_seed(seed, outcome, contrast)`` so that a cell's
    result does not depend on which other cells are run."""
    frames = [design_based_did(wide, o, c, seed=cell_seed(seed, o, c), **options)
              for o in outcomes for c in contrasts]
    if not frames:
        return pd.DataFrame(columns=DESIGN_BASED_COLUMNS)
    return pd.concat(frames, ignore_index=True)
