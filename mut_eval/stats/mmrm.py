"""Mixed model for repeated measures (MMRM): an unstructured covariance between a
pupil's waves, optionally with variance-component random terms for classes and schools.

Model (Mallinckrodt, Lane, Schnell, Peng & Mancuso 2008, *Drug Inf. J.* 42:303;
Pinheiro & Bates 2000, *Mixed-Effects Models in S and S-PLUS*, ch. 5)::

    y = Xβ + Σ_k Z_k b_k + e,   b_k ~ N(0, σ_k² I),   e_i ~ N(0, Σ[O_i, O_i])

with e_i the residuals of pupil i, Σ an unstructured T × T covariance over the waves
and O_i the waves pupil i has (a pupil with missing waves uses the sub-matrix). Without
random terms this is R ``nlme::gls(y ~ ..., correlation = corSymm(form = ~ wave_index |
student), weights = varIdent(form = ~ 1 | wave), method = "REML")`` and
``mmrm::mmrm(y ~ ... + us(wave | student))``; with ``(1 | class)`` it is ``nlme::lme(...,
random = ~ 1 | class, correlation = corSymm(form = ~ wave_index | class/student),
weights = varIdent(form = ~ 1 | wave))`` (nested terms: ``random = ~ 1 | school/class``).

The marginal covariance is linear in ψ = (the T(T+1)/2 distinct entries of Σ, σ_1², …,
σ_K²)::

    V = Σ_j ψ_j G_j,   G_st = E_s E_tᵀ + E_t E_sᵀ (s < t),  G_ss = E_s E_sᵀ,  G_k = Z_k Z_kᵀ

(E_s picks each pupil's row at wave s). V is block diagonal over the connected
components of pupils and random-term levels (schools, classes or single pupils), so
the REML criterion (Harville 1977, *JASA* 72:320; Pinheiro & Bates 2000, ch. 2)::

    −2ℓ_R(ψ) = log|V| + log|XᵀV⁻¹X| + rᵀV⁻¹r + (n − p) log 2π,   r = y − Xβ̂(ψ)

with the GLS β̂(ψ) = (XᵀV⁻¹X)⁻¹XᵀV⁻¹y, is summed block by block: V_b⁻¹ and log|V_b| by
Woodbury over the block's random effects from one Σ[O, O]⁻¹ per wave pattern O, and
blocks with the same pattern (pupils without random terms) share one. Minimised by BFGS
over an unconstrained parametrisation — the log-Cholesky factor of Σ (Pinheiro & Bates
1996, *Stat. Comput.* 6:289) and σ_k — with the analytic gradient
∂(−2ℓ_R)/∂ψ_j = tr(PG_j) − rᵀV⁻¹G_jV⁻¹r, P = V⁻¹ − V⁻¹XCXᵀV⁻¹, C = (XᵀV⁻¹X)⁻¹,
from the pooled per-wave covariance of the OLS residuals; then Newton steps in ψ with
the observed Hessian H_ij = −tr(PG_iPG_j) + 2 rᵀV⁻¹G_iPG_jV⁻¹r polish the optimum.
Var(β̂) = C. A σ_k² that ends below 1e-8·max(diag Σ) is on the boundary (reported 0).

Inference for a contrast lᵀβ (Kenward & Roger 1997, *Biometrics* 53:983; the formulas
as R ``mmrm`` 0.3 implements them, vignette "Kenward-Roger"): with P_j = XᵀV⁻¹G_jV⁻¹X,
Q_ij = XᵀV⁻¹G_iV⁻¹G_jV⁻¹X and W = 2H⁻¹ (the inverse observed Hessian of −ℓ_R, mmrm's
``theta_vcov``):

- Kenward–Roger: Φ_A = C + 2C[Σ_ij W_ij (Q_ij − P_iCP_j)]C — V is linear in ψ, so the
  second-derivative term R_ij of KR (1997, eq. 2) is 0 — and the df of KR (1997,
  eqs. 3.3–3.5). This is ``mmrm(..., method = "Kenward-Roger", vcov =
  "Kenward-Roger-Linear")`` (= SAS ``DDFM=KR`` for ``TYPE=UN``): dropping R_ij in
  mmrm's own parametrisation gives the same Φ_A, because at an interior optimum W
  transforms with the Jacobian. mmrm's default ``vcov = "Kenward-Roger"`` keeps the
  R_ij of its nonlinear (Cholesky) parametrisation, so its SE differs slightly; its df
  equals ours. Note that pbkrtest uses the expected information tr(PG_iPG_j) in W
  instead; mmrm and SAS use the observed one, as here.
- Satterthwaite: df = 2v²/(gᵀWg), v = lᵀCl, g_j = lᵀCP_jCl (mmrm ``method =
  "Satterthwaite"``); the SE is from C.

Random-term variances on the boundary (0) are left out of W, as lmerTest does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg, optimize
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .. import StudyError
from .mixed import RandomTerm, RankDeficientDesign, single_threaded_blas
from .mixed_inference import contrast_tests

__all__ = ["MMRMFit", "fit_mmrm"]


_LOG2PI = float(np.log(2.0 * np.pi))
# σ_k² below this share of the largest residual variance counts as 0 (boundary)
_BOUNDARY = 1e-8


# ---------------------------------------------------------------------------
# the blocks of V and the factors of the G_j within a block
# ---------------------------------------------------------------------------
class _Group:
    """Blocks of V that share one pattern (waves per pupil, levels of each term, slopes),
    hence one V_b: ``rows`` (nb, size) row indices, X (nb, size, p), y (nb, size).

    Each G_j restricted to a block is written as Σ A Bᵀ over factor pairs; a factor
    is an index array (a selection matrix: one unit column per pupil) or a dense Z."""

    def __init__(self, rows, wave, pupil, codes, slopes, X, y, T, pairs):
        self.rows = np.asarray(rows)
        self.nb, self.size = self.rows.shape
        self.X, self.y = X[self.rows], y[self.rows]
        self.Z = []
        for c, sl in zip(codes, slopes):
            Z = np.zeros((self.size, int(c.max()) + 1))
            Z[np.arange(self.size), c] = sl
            self.Z.append(Z)
        self.Zall = np.hstack(self.Z) if self.Z else np.zeros((self.size, 0))
        self.col_term = np.repeat(np.arange(len(self.Z)), [Z.shape[1] for Z in self.Z])
        # R_b⁻¹ (pupil blocks of Σ[O_i, O_i]⁻¹) is filled from one inverse per wave
        # pattern: entry (r_a, r_b) of pupil i ← entry (a, b) of its pattern's inverse
        rows_of = [np.flatnonzero(pupil == i) for i in np.unique(pupil)]
        keys = [tuple(wave[r]) for r in rows_of]
        self.patterns = list(dict.fromkeys(keys))
        index = {k: j for j, k in enumerate(self.patterns)}
        self.pattern_count = np.bincount([index[k] for k in keys]).astype(float)
        start = np.cumsum([0] + [len(k) ** 2 for k in self.patterns])
        self.fill_pos = np.concatenate([(r[:, None] * self.size + r).ravel() for r in rows_of])
        self.fill_src = np.concatenate([start[index[k]] + np.arange(len(k) ** 2) for k in keys])
        self.factors = []                                   # per ψ_j: [(A, B), ...]
        at = {(int(i), int(w)): r for r, (i, w) in enumerate(zip(pupil, wave))}
        for s, t in pairs:
            both = [i for i in np.unique(pupil) if (i, s) in at and (i, t) in at]
            a = np.array([at[(i, s)] for i in both], int)
            b = np.array([at[(i, t)] for i in both], int)
            self.factors.append([(a, a)] if s == t else [(a, b), (b, a)])
        self.factors += [[(Z, Z)] for Z in self.Z]

    def inverse(self, sigma, s2k, known: dict):
        """(V_b⁻¹, log|V_b|) by Woodbury over the random effects of the block:
        V = R + ZΛ²Zᵀ, V⁻¹ = R⁻¹ − R⁻¹ZΛ M⁻¹ ΛZᵀR⁻¹ with M = I + ΛZᵀR⁻¹ZΛ and
        |V| = |R||M| (Λ = diag σ_k: a σ_k = 0 needs no inverse of it); None if V is
        not positive definite. Costs O(size²·q) rather than O(size³). ``known``: the
        (Σ[O, O]⁻¹, log|Σ[O, O]|) per wave pattern O found so far at this Σ."""
        invs, logdet = [], 0.0
        for w, count in zip(self.patterns, self.pattern_count):
            if w not in known:
                try:
                    cf = linalg.cholesky(sigma[np.ix_(w, w)], lower=True, check_finite=False)
                except linalg.LinAlgError:
                    return None
                known[w] = (linalg.cho_solve((cf, True), np.eye(len(w)), check_finite=False).ravel(),
                            2.0 * float(np.log(np.diag(cf)).sum()))
            logdet += count * known[w][1]
            invs.append(known[w][0])
        U = np.zeros(self.size * self.size)
        U[self.fill_pos] = np.concatenate(invs)[self.fill_src]
        U = U.reshape(self.size, self.size)
        if self.Zall.shape[1]:
            ZL = self.Zall * np.sqrt(np.maximum(s2k, 0.0))[self.col_term]
            B = U @ ZL
            M = ZL.T @ B
            M[np.diag_indices_from(M)] += 1.0
            cM = linalg.cholesky(M, lower=True, check_finite=False)
            logdet += 2.0 * float(np.log(np.diag(cM)).sum())
            E = linalg.solve_triangular(cM, B.T, lower=True, check_finite=False)
            U = U - E.T @ E
        return U, logdet


def _ft(F, M):
    """FᵀM along axis −2 of M (…, size, k)."""
    if F.ndim == 1:
        return M[..., F, :]
    return F.T @ M


def _tsum(A, B):
    """Σ_b A_bᵀB_b over the blocks of a stack (nb, c, p), (nb, c, q)."""
    return A.reshape(-1, A.shape[-1]).T @ B.reshape(-1, B.shape[-1])


def _ftv(F, v):
    """Fᵀv for v (…, size)."""
    return v[..., F] if F.ndim == 1 else v @ F


def _fv(F, u, size):
    """F u for u (…, c): back to the rows of the block."""
    if F.ndim == 1:
        out = np.zeros(u.shape[:-1] + (size,))
        out[..., F] = u
        return out
    return u @ F.T


def _cross(A, U, B):
    """AᵀUB."""
    if A.ndim == 1 and B.ndim == 1:
        return U[np.ix_(A, B)]
    return _ft(A, _ft(B, U).T)


def _trcross(B, U, A):
    """tr(BᵀUA) = tr(UABᵀ)."""
    if A.ndim == 1 and B.ndim == 1:
        return float(U[B, A].sum())
    return float(np.trace(_cross(B, U, A)))


class _Model:
    """y, X and the block structure; everything that does not depend on ψ."""

    def __init__(self, y, X, wave, subj, terms, T):
        self.y, self.X, self.T, self.K = y, X, T, len(terms)
        self.n, self.p = X.shape
        self.pairs = [(s, t) for s in range(T) for t in range(s, T)]
        self.m = len(self.pairs) + self.K
        n_sub = int(subj.max()) + 1
        # blocks: connected components of pupils linked through shared term levels
        off, ri, ci = n_sub, [], []
        for t in terms:
            ri.append(subj)
            ci.append(off + t.codes)
            off += t.levels
        if terms:
            ri, ci = np.concatenate(ri), np.concatenate(ci)
            adj = coo_matrix((np.ones(ri.size), (ri, ci)), shape=(off, off))
            lab = connected_components(adj, directed=False)[1][:n_sub]
        else:
            lab = np.arange(n_sub)
        order = np.lexsort((wave, subj, lab[subj]))
        block = lab[subj][order]
        cuts = np.flatnonzero(np.diff(block)) + 1
        groups: dict = {}
        for rows in np.split(order, cuts):
            pupil = pd.factorize(subj[rows])[0]
            codes = [pd.factorize(t.codes[rows])[0] for t in terms]
            slopes = [t.values()[rows] for t in terms]
            key = (wave[rows].tobytes(), pupil.tobytes(),
                   *(c.tobytes() for c in codes), *(s.tobytes() for s in slopes))
            groups.setdefault(key, [rows, wave[rows], pupil, codes, slopes, []])[5].append(rows)
        self.groups = [_Group(np.stack(g[5]), g[1], g[2], g[3], g[4], X, y, T, self.pairs)
                       for g in groups.values()]

    # -- ψ <-> (Σ, σ_k²) -----------------------------------------------------
    def unpack(self, psi):
        S = np.zeros((self.T, self.T))
        for v, (s, t) in zip(psi, self.pairs):
            S[s, t] = S[t, s] = v
        return S, np.asarray(psi[len(self.pairs):], float)

    def pack(self, S, s2k):
        return np.concatenate([[S[s, t] for s, t in self.pairs], s2k])

    # -- the REML criterion and its derivatives in ψ -------------------------
    def solve(self, psi):
        """Per-group V⁻¹, the GLS fit and −2ℓ_R at ψ; None if V is not positive definite."""
        S, s2k = self.unpack(psi)
        logdet, XtUX, XtUy, ytUy, cache, known = 0.0, 0.0, 0.0, 0.0, [], {}
        for g in self.groups:
            inv = g.inverse(S, s2k, known)
            if inv is None:
                return None
            U, ld = inv
            logdet += g.nb * ld
            UX = U @ g.X
            Uy = g.y @ U
            XtUX = XtUX + _tsum(g.X, UX)
            XtUy = XtUy + UX.reshape(-1, self.p).T @ g.y.ravel()
            ytUy += float(np.sum(g.y * Uy))
            cache.append((U, UX, Uy))
        try:
            cX = linalg.cho_factor(XtUX, lower=True, check_finite=False)
        except linalg.LinAlgError:
            return None
        beta = linalg.cho_solve(cX, XtUy, check_finite=False)
        dev = (logdet + 2.0 * float(np.log(np.diag(cX[0])).sum()) + ytUy - float(XtUy @ beta)
               + (self.n - self.p) * _LOG2PI)
        C = linalg.cho_solve(cX, np.eye(self.p), check_finite=False)
        return dict(dev=dev, beta=beta, C=C, cache=cache, psi=np.asarray(psi, float))

    def gradient(self, st):
        """∂(−2ℓ_R)/∂ψ_j = tr(V⁻¹G_j) − tr(CP_j) − aᵀG_ja, a = V⁻¹r."""
        return self.derivatives(st, hessian=False)["grad"]

    def derivatives(self, st, hessian: bool = True):
        """P_j, the gradient and (``hessian``) Q_ij and the observed Hessian H of −2ℓ_R
        in ψ: H_ij = −tr(PG_iPG_j) + 2(G_ia)ᵀP(G_ja), tr(PG_iPG_j) = tr(V⁻¹G_iV⁻¹G_j)
        − 2tr(CQ_ij) + tr(CP_iCP_j), with tr(ABᵀV⁻¹CDᵀV⁻¹) = Σ (BᵀV⁻¹C)∘(AᵀV⁻¹D)."""
        m, p, C, beta = self.m, self.p, st["C"], st["beta"]
        P, Q = np.zeros((m, p, p)), np.zeros((m, m, p, p))
        Tr, tr, aga, e_u = np.zeros((m, m)), np.zeros(m), np.zeros(m), np.zeros((m, m))
        WGa = np.zeros((m, p))
        for g, (U, W, Uy) in zip(self.groups, st["cache"]):
            a = Uy - W @ beta
            Ga = np.zeros((m, g.nb, g.size))                  # G_j a per block
            for j, fac in enumerate(g.factors):
                for A, B in fac:
                    tr[j] += g.nb * _trcross(B, U, A)
                    P[j] += _tsum(_ft(A, W), _ft(B, W))
                    aga[j] += float(np.sum(_ftv(A, a) * _ftv(B, a)))
                    if hessian:
                        Ga[j] += _fv(A, _ftv(B, a), g.size)
            if not hessian:
                continue
            for i, fi in enumerate(g.factors):
                for j, fj in enumerate(g.factors[: i + 1]):
                    for A, B in fi:
                        for Cf, D in fj:
                            BC, AD = _cross(B, U, Cf), _cross(A, U, D)
                            Tr[i, j] += g.nb * float(np.sum(BC * AD))
                            Q[i, j] += _tsum(_ft(A, W), BC @ _ft(D, W))
            UGa = Ga @ U
            Ga2 = Ga.reshape(m, -1)
            e_u += Ga2 @ UGa.reshape(m, -1).T
            WGa += Ga2 @ W.reshape(-1, p)
        grad = tr - np.einsum("pq,jqp->j", C, P) - aga
        if not hessian:
            return dict(P=P, grad=grad)
        for i in range(m):
            for j in range(i):
                Tr[j, i] = Tr[i, j]
                Q[j, i] = Q[i, j].T
        CP = np.einsum("pq,jqr->jpr", C, P)
        trPGPG = (Tr - 2.0 * np.einsum("pq,ijqp->ij", C, Q)
                  + np.einsum("ipq,jqp->ij", CP, CP))
        e = e_u - WGa @ C @ WGa.T
        H = -trPGPG + 2.0 * e
        return dict(P=P, Q=Q, H=(H + H.T) / 2.0, grad=grad)


# ---------------------------------------------------------------------------
# the optimiser: BFGS over (log-Cholesky of Σ, σ_k), then Newton in ψ
# ---------------------------------------------------------------------------
def _theta_to_psi(model, theta):
    """ψ(θ) and the Jacobian ∂ψ/∂θ; θ = (L's lower triangle by rows, log on the
    diagonal; σ_k)."""
    T, n_s = model.T, len(model.pairs)
    tri = [(a, b) for a in range(T) for b in range(a + 1)]
    L = np.zeros((T, T))
    for v, (a, b) in zip(theta, tri):
        L[a, b] = np.exp(v) if a == b else v
    S = L @ L.T
    tau = np.asarray(theta[n_s:], float)
    J = np.zeros((model.m, model.m))
    for c, (a, b) in enumerate(tri):
        dL = np.zeros((T, T))
        dL[a, b] = L[a, b] if a == b else 1.0
        dS = dL @ L.T + L @ dL.T
        J[:n_s, c] = [dS[s, t] for s, t in model.pairs]
    J[n_s:, n_s:] = np.diag(2.0 * tau)
    return model.pack(S, tau ** 2), J


def _psi_to_theta(model, psi):
    S, s2k = model.unpack(psi)
    L = np.linalg.cholesky(S)
    tri = [(a, b) for a in range(model.T) for b in range(a + 1)]
    return np.array([np.log(L[a, b]) if a == b else L[a, b] for a, b in tri]
                    + list(np.sqrt(np.maximum(s2k, 0.0))))


def _start(model, wave, subj):
    """ψ₀: the pooled within-pupil covariance of the OLS residuals per pair of waves,
    a tenth of the mean variance moved to each random term."""
    X, y, T = model.X, model.y, model.T
    r = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    grid = np.full((int(subj.max()) + 1, T), np.nan)
    grid[subj, wave] = r
    S = pd.DataFrame(grid).cov(min_periods=2).to_numpy()
    S = np.where(np.isfinite(S), S, 0.0)
    d = np.maximum(np.diag(S), 1e-8 * max(1.0, float(np.nanmax(np.diag(S)))))
    s2 = np.full(model.K, 0.1 * float(d.mean()) / max(1, model.K)) if model.K else np.zeros(0)
    S = S - s2.sum()
    np.fill_diagonal(S, np.maximum(np.diag(S), 0.5 * d))
    w, Q = np.linalg.eigh(S)
    S = (Q * np.maximum(w, 0.05 * d.min())) @ Q.T
    return model.pack(S, s2)


def _optimise(model, psi0):
    n_s = len(model.pairs)

    def fg(theta):
        psi, J = _theta_to_psi(model, theta)
        st = model.solve(psi)
        if st is None:
            return np.inf, np.zeros_like(theta)
        return st["dev"], J.T @ model.gradient(st)

    res = optimize.minimize(fg, _psi_to_theta(model, psi0), jac=True, method="BFGS",
                            options=dict(gtol=1e-3, maxiter=2000))
    psi = _theta_to_psi(model, res.x)[0]
    scale = float(np.max(np.diag(model.unpack(psi)[0])))
    active = np.ones(model.m, bool)
    active[n_s:] = psi[n_s:] > _BOUNDARY * scale
    psi[~active] = 0.0
    st = model.solve(psi)
    # Newton in ψ on the active set: the criterion is smooth there and H is exact; a
    # σ_k² that a step would make negative is set to 0 and leaves the active set
    for _ in range(20):
        d = model.derivatives(st)
        g, H = d["grad"][active], d["H"][np.ix_(active, active)]
        try:
            step = -np.linalg.solve(H, g)
        except np.linalg.LinAlgError:
            break
        decrement = float(-g @ step)
        if not np.isfinite(decrement) or decrement < 0:
            break
        improved = False
        for h in (1.0, 0.5, 0.25, 0.125):
            trial = psi.copy()
            trial[active] += h * step
            neg = np.flatnonzero(trial < 0)
            neg = neg[neg >= n_s]
            trial[neg] = 0.0
            st_t = model.solve(trial)
            if st_t is not None and st_t["dev"] <= st["dev"] + 1e-12 * abs(st["dev"]):
                psi, st, improved = trial, st_t, True
                active[neg] = False
                break
        if not improved or decrement < 1e-14:
            break
    d = model.derivatives(st)
    g, H = d["grad"][active], d["H"][np.ix_(active, active)]
    try:
        decrement = float(g @ np.linalg.solve(H, g))
        pd_ok = bool(np.all(np.linalg.eigvalsh(H) > 0))
    except np.linalg.LinAlgError:
        decrement, pd_ok = np.inf, False
    # at a boundary optimum the criterion must rise into the interior (KKT)
    kkt = bool(np.all(d["grad"][~active] > -1e-6 * max(1.0, abs(st["dev"]))))
    converged = bool(pd_ok and decrement < 1e-6 and kkt)
    return st, d, active, converged, str(res.message)


# ---------------------------------------------------------------------------
# the fit
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class MMRMFit:
    """A fitted MMRM (see :func:`fit_mmrm`). ``sigma``: the T × T within-pupil
    covariance Σ (R ``getVarCov`` of the gls / mmrm ``VarCorr``); ``varcomp``: σ_k² per
    random term; ``loglik``: the REML log-likelihood (nlme ``logLik``, mmrm
    ``logLik``); ``criterion`` = −2·loglik; ``psi``: (Σ_st for s ≤ t, σ_k²)."""

    names: list
    beta: np.ndarray
    vcov: np.ndarray
    sigma: np.ndarray
    varcomp: pd.Series
    loglik: float
    criterion: float
    converged: bool
    n_obs: int
    n_subjects: int
    n_levels: dict
    psi: np.ndarray
    active: np.ndarray
    message: str = ""
    _derivs: dict | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> pd.Series:
        return pd.Series(self.beta, index=self.names, name="estimate")

    @property
    def correlation(self) -> np.ndarray:
        sd = np.sqrt(np.diag(self.sigma))
        return self.sigma / np.outer(sd, sd)

    @cached_property
    def _w(self) -> np.ndarray:
        """W = 2H⁻¹ over the active ψ (mmrm's ``theta_vcov``)."""
        H = self._derivs["H"][np.ix_(self.active, self.active)]
        return 2.0 * np.linalg.pinv(H)

    def _P(self):
        return self._derivs["P"][self.active]

    @cached_property
    def vcov_kr(self) -> np.ndarray:
        """Φ_A = C + 2C[Σ_ij W_ij (Q_ij − P_iCP_j)]C (KR 1997 with R_ij = 0)."""
        C, W, P = self.vcov, self._w, self._P()
        Q = self._derivs["Q"][np.ix_(self.active, self.active)]
        PC = P @ C
        U = np.einsum("ij,ijpq->pq", W, Q) - np.einsum("ij,ipq,jqr->pr", W, PC, P)
        return C + 2.0 * C @ U @ C

    def df_satterthwaite(self, L) -> np.ndarray:
        """Satterthwaite df 2v²/(gᵀWg) for each row l of L (mmrm ``df_1d``)."""
        L = np.atleast_2d(np.asarray(L, float))
        C, W, P = self.vcov, self._w, self._P()
        out = []
        for l in L:
            cl = C @ l
            g = np.einsum("p,jpq,q->j", cl, P, cl)
            out.append(2.0 * float(l @ cl) ** 2 / float(g @ W @ g))
        return np.array(out)

    def df_kenward_roger(self, L) -> float:
        """KR denominator df of Lβ = 0 (Kenward & Roger 1997, eqs. 3.3–3.5; mmrm
        ``h_kr_df``)."""
        L = np.atleast_2d(np.asarray(L, float))
        C, W, P = self.vcov, self._w, self._P()
        Theta = L.T @ np.linalg.solve(L @ C @ L.T, L)
        u = np.einsum("pq,qr,jrs,st->jpt", Theta, C, P, C)
        tr_u = np.einsum("jpp->j", u)
        A1 = float(tr_u @ W @ tr_u)
        A2 = float(np.einsum("ij,ipq,jqp->", W, u, u))
        q = np.linalg.matrix_rank(L)
        B = (A1 + 6 * A2) / (2 * q)
        g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
        c1, c2, c3 = np.array([g, q - g, q + 2 - g]) / (3 * q + 2 * (1 - g))
        e_star = 1.0 / (1.0 - A2 / q)
        v_star = 2.0 / q * (1 + c1 * B) / ((1 - c2 * B) ** 2 * (1 - c3 * B))
        rho = v_star / (2 * e_star ** 2)
        return float(4 + (q + 2) / (q * rho - 1))

    def test(self, L, ddf: str = "kenward-roger", alpha: float = 0.05,
             labels=None) -> pd.DataFrame:
        """t tests of single contrasts lᵀβ (rows of L): ``contrast, estimate, se, df, t,
        p, ci_low, ci_high``. ``kenward-roger``: SE from Φ_A and KR df (mmrm
        ``Kenward-Roger-Linear``); ``satterthwaite``: SE from C; ``asymptotic``: z."""
        return contrast_tests(self, L, ddf, alpha, labels)


def _check(y, X, wave, subj, terms, names):
    n, p = X.shape
    if y.ndim != 1 or wave.shape != (n,) or subj.shape != (n,) or y.size != n:
        raise ValueError("fit_mmrm: y, wave_codes and subject (n,) and X (n, p) needed")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise ValueError("fit_mmrm: y and X must be finite")
    if wave.min() < 0:
        raise ValueError("fit_mmrm: wave codes must be 0..T-1")
    if any(t.codes.size != n for t in terms):
        raise ValueError("fit_mmrm: every random term needs one level per row")
    if n <= p or np.linalg.matrix_rank(X) < p:
        raise RankDeficientDesign(f"the fixed-effects design ({', '.join(map(str, names))}) "
                                  f"does not have full column rank ({n} rows)")
    key = pd.Series(subj.astype(np.int64) * (int(wave.max()) + 1) + wave)
    if key.duplicated().any():
        raise StudyError("MMRM: a pupil has two scores at the same wave")
    T = int(wave.max()) + 1
    seen = np.zeros((int(subj.max()) + 1, T), bool)
    seen[subj, wave] = True
    both = seen.T.astype(int) @ seen.astype(int)
    for s in range(T):
        for t in range(s, T):
            if both[s, t] < 2:
                what = f"wave {s}" if s == t else f"waves {s} and {t}"
                raise StudyError(f"MMRM: too few pupils with {what} to estimate the "
                                 "unstructured covariance")
    for t in terms:
        per_level = pd.Series(subj).groupby(t.codes).nunique()
        if per_level.max() <= 1:
            raise StudyError(f"MMRM: random term {t.name} is nested within pupils; the "
                             "unstructured within-pupil covariance already contains it")
    return T


def fit_mmrm(y, X, wave_codes, subject, terms: list[RandomTerm] = (), *,
             names=None) -> MMRMFit:
    """REML fit of ``y = Xβ + Σ_k Z_k b_k + e`` with an unstructured covariance Σ of each
    pupil's residuals over the waves (module docstring).

    ``y``: (n,); ``X``: (n, p) array or DataFrame (its columns name β), full column
    rank; ``wave_codes``: (n,) int 0..T−1; ``subject``: (n,) pupil labels (one row per
    pupil and wave); ``terms``: :class:`~mut_eval.stats.mixed.RandomTerm` list for
    classes or schools (``RandomTerm.from_groups(df[["school", "class"]], "school:class")``).
    """
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if names is None else list(names)
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    if X.ndim != 2:
        raise ValueError("fit_mmrm: X (n, p) needed")
    names = [f"x{j}" for j in range(X.shape[1])] if names is None else list(names)
    wave = np.asarray(wave_codes)
    if not np.issubdtype(wave.dtype, np.integer):
        raise ValueError("fit_mmrm: wave_codes must be integers 0..T-1")
    subj = pd.factorize(pd.Series(np.asarray(subject, dtype=object)))[0]
    if np.any(subj < 0):
        raise StudyError("MMRM: missing pupil identifiers")
    terms = list(terms)
    T = _check(y, X, wave, subj, terms, names)
    model = _Model(y, X, wave.astype(int), subj, terms, T)
    # thousands of small factorisations: BLAS threads only add overhead (10-50x here)
    with single_threaded_blas():
        st, derivs, active, converged, message = _optimise(model, _start(model, wave, subj))
    S, s2k = model.unpack(st["psi"])
    return MMRMFit(
        names=names, beta=st["beta"], vcov=st["C"], sigma=S,
        varcomp=pd.Series(s2k, index=[t.name for t in terms], dtype=float),
        loglik=-0.5 * st["dev"], criterion=st["dev"], converged=converged, n_obs=y.size,
        n_subjects=int(subj.max()) + 1, n_levels={t.name: t.levels for t in terms},
        psi=st["psi"], active=active, message=message, _derivs=derivs)
