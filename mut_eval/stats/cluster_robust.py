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
  t*/t, so the p-value is that of CR0 too. The p-value is symmetric,
  p = #{|t*| ≥ |t|} / B. With G ≤ 12 classes all 2^G Rademacher sign vectors are
  enumerated (the bootstrap distribution itself, no Monte Carlo error; p ≥ 2/2^G);
  above that, B draws of Webb's (2023, *Can. J. Econ.* 56:1356) six-point weights
  ±√½, ±1, ±√(3/2), each with probability 1/6, from ``numpy.random.default_rng(seed)``.
  Because β̂* − r and the CR residuals are linear in v, all draws are one matrix
  product: t*_b = s'v_b / ‖K v_b‖ with s_h = c'M X_h'W_h ũ_h and
  K_hg = c'M X_h'W_h (ũ_h δ_hg − X_h M X_g'W_g ũ_g). The confidence interval inverts
  the test: the values r with p(r) ≥ α, each end found by bisection between β̂
  (p = 1) and the first point β̂ ± 4·se·2^i that is rejected, with the same draws for
  every r.
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
_BISECTIONS = 80


def _inv_sqrt(a: np.ndarray) -> np.ndarray:
    """Symmetric (pseudo-)inverse square root over eigenvalues > 1e−12."""
    vals, vecs = np.linalg.eigh(a)
    root = np.zeros_like(vals)
    keep = vals > _EIG_TOL
    root[keep] = vals[keep] ** -0.5
    return (vecs * root) @ vecs.T


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
    out = []
    for r in d.rows:
        xj, wj = d.X[r], d.w[r]
        h = (xj @ d.M @ xj.T) * wj[None, :]             # H_jj = X_j M X_j' W_j
        g = np.eye(len(r)) - h - h.T + xj @ mid @ xj.T
        out.append(_inv_sqrt(g))
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


def cr2_regression(y, X, cluster, weights=None, names=None) -> ClusterRobustFit:
    """OLS (or WLS with ``weights``) of ``y`` on ``X`` with the CR2 cluster-robust
    covariance matrix and Satterthwaite df per coefficient.

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
        names = list(X.columns) if isinstance(X, pd.DataFrame) else [f"x{i}" for i in range(np.shape(X)[1] if np.ndim(X) == 2 else 1)]
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
    df = np.array([fit.satterthwaite_df(np.eye(beta.size)[i]) for i in range(beta.size)])
    object.__setattr__(fit, "df", df)
    return fit
