"""Fixed-effect inference for :mod:`mut_eval.stats.mixed`: Kenward–Roger and Satterthwaite.

Inference for a contrast Lβ (:meth:`MixedFit.test`), with V = Σ_k ψ_k G_k the marginal
covariance (ψ = (σ_1², …, σ_K², σ²), G_k = Z_kZ_kᵀ, G_res = I), C = (XᵀV⁻¹X)⁻¹ = Var(β̂)
and P = V⁻¹ − V⁻¹XCXᵀV⁻¹:

- Satterthwaite (lmerTest; Kuznetsova, Brockhoff & Christensen 2017): df = 2v²/(gᵀ Ag),
  v = LCLᵀ, g_k = ∂v/∂ψ_k = L C XᵀV⁻¹G_kV⁻¹X C Lᵀ, A = 2H⁻¹ with H the observed Hessian
  of the REML deviance, H_kl = −tr(PG_kPG_l) + 2 yᵀPG_kPG_lPy. lmerTest differentiates
  numerically in (θ, σ); at the optimum gᵀH⁻¹g does not depend on the parametrisation,
  and a component at the bound has zero gradient and drops out, as in lmerTest.
- Kenward–Roger (Kenward & Roger 1997; pbkrtest ``vcovAdj`` and ``Lb_ddf``, Halekoh &
  Højsgaard 2014): expected information I_kl = tr(PG_kPG_l), W = 2I⁻¹, adjusted
  covariance Φ_A = C + 2C[Σ_kl W_kl (Q_kl − P_kCP_l)]C with P_k = XᵀV⁻¹G_kV⁻¹X and
  Q_kl = XᵀV⁻¹G_kV⁻¹G_lV⁻¹X, and the df of Kenward & Roger (1997, eqs. 3.3–3.5);
  SE = √(LΦ_ALᵀ). All components, also those at 0, enter, as in pbkrtest.

Nothing of size n × n is formed: V⁻¹ acts through Woodbury, σ²V⁻¹ = I − W A⁻¹ Wᵀ, and
the traces tr(V⁻¹G_kV⁻¹G_l) come from the random-effects space (σ²Z_kᵀV⁻¹Z_l = M_kl −
(MΛA⁻¹ΛM)_kl with M = ZᵀZ; σ⁴tr(V⁻²) = n − q + ‖A⁻¹‖²_F), swept in column blocks, so
memory stays O(n + q·block).

With small components of S (see mixed.py) the traces are computed block by block in the
space of the reduced terms, the big term and the residual folded in analytically
(:func:`_trace_by_component`); otherwise by the column sweep (:func:`_trace_vgvg`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse.linalg import splu


class _Factor:
    """A(θ) with the block of term ``b`` (the one with most levels) eliminated:
    A = [[D, F], [Fᵀ, E]], D diagonal, S = E − FᵀD⁻¹F factored by SuperLU."""

    def __init__(self, sysm: "mixed._System", theta: np.ndarray):
        b, lam = sysm.big, sysm.lam(theta)
        tb = theta[b]
        self.d = tb * tb * sysm.m_bb + 1.0
        self.ib, self.ir = sysm.ib, sysm.ir
        logdet = float(np.log(self.d).sum())
        if self.ir.size:
            lam_r = sparse.diags(lam[self.ir])
            self.F = (tb * sysm.M_br) @ lam_r                      # (q_b, q_r)
            S = lam_r @ (sysm.M_rr - sysm.M_br.T @ sparse.diags(tb * tb / self.d) @ sysm.M_br) @ lam_r
            S = (S + sparse.identity(self.ir.size)).tocsc()
            self.lu = splu(S, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                           options=dict(SymmetricMode=True))
            logdet += float(np.log(np.abs(self.lu.U.diagonal())).sum())
        self.logdet = logdet

    def solve(self, R: np.ndarray) -> np.ndarray:
        """A⁻¹R for R (q, m) in the term order of the system."""
        out = np.empty_like(R)
        Rb = R[self.ib]
        if self.ir.size:
            xr = self.lu.solve(np.ascontiguousarray(R[self.ir] - self.F.T @ (Rb / self.d[:, None])))
            out[self.ir] = xr
            out[self.ib] = (Rb - self.F @ xr) / self.d[:, None]
        else:
            out[self.ib] = Rb / self.d[:, None]
        return out


def derivatives(s, theta, beta, s2, C) -> dict:
    """P_k, Q_kl, I_kl = tr(PG_kPG_l) and the observed REML Hessian H_kl over
    ψ = (σ_1², …, σ_K², σ²) at the fit (system ``s``, θ̂, β̂, σ̂², C = Var(β̂))."""
    K = len(s.terms)
    lam = s.lam(theta)
    fac = _Factor(s, theta)

    def vinv(R):
        return (R - s.Z @ (lam[:, None] * fac.solve(lam[:, None] * (s.Zt @ R)))) / s2

    blocks = [s.Z[:, s.offsets[k]:s.offsets[k + 1]] for k in range(K)]

    def G(k, R):
        return blocks[k] @ (blocks[k].T @ R) if k < K else R

    VX = vinv(s.X)
    GVX = [G(k, VX) for k in range(K + 1)]
    FV = [vinv(g) for g in GVX]
    P = [VX.T @ g for g in GVX]
    Q = [[GVX[k].T @ FV[l] for l in range(K + 1)] for k in range(K + 1)]
    Kt = _trace_vgvg(s, fac, lam, s2)
    info = np.empty((K + 1, K + 1))
    for k in range(K + 1):
        for l in range(K + 1):
            info[k, l] = Kt[k, l] - 2 * np.sum(C * Q[k][l].T) + np.sum((C @ P[k]) * (C @ P[l]).T)
    r = vinv((s.y - s.X @ beta)[:, None])
    Gr = np.column_stack([G(k, r)[:, 0] for k in range(K + 1)])
    PGr = vinv(Gr) - VX @ (C @ (VX.T @ Gr))
    hess = -info + 2.0 * (Gr.T @ PGr)
    return dict(P=P, Q=Q, info=(info + info.T) / 2, hess=(hess + hess.T) / 2)


def kr_vcov(d: dict, C: np.ndarray) -> np.ndarray:
    """Kenward–Roger adjusted Var(β̂), Φ_A (pbkrtest ``vcovAdj``)."""
    W = _kr_w(d["info"])
    P, Q = d["P"], d["Q"]
    m = len(P)
    U = sum(W[k, l] * (Q[k][l] - P[k] @ C @ P[l]) for k in range(m) for l in range(m))
    return C + 2.0 * C @ U @ C


def satterthwaite_df(d: dict, C: np.ndarray, theta: np.ndarray, L) -> np.ndarray:
    """Satterthwaite df for each row l of L (lmerTest ``contest1D``). When the Hessian of
    the active variance parameters is singular (e.g. a level with a single pupil), its
    generalised inverse is used, as for the KR W (pbkrtest)."""
    L = np.atleast_2d(np.asarray(L, float))
    active = np.append(theta > 1e-6, True)
    H = d["hess"][np.ix_(active, active)]
    try:
        Hinv = np.linalg.inv(H) if np.min(np.abs(np.linalg.eigvalsh(H))) > 1e-10 else np.linalg.pinv(H)
    except np.linalg.LinAlgError:
        Hinv = np.linalg.pinv(H)
    out = []
    for l in L:
        v = float(l @ C @ l)
        g = np.array([float(l @ C @ Pk @ C @ l) for Pk in d["P"]])[active]
        den = float(g @ Hinv @ g)
        out.append(v * v / den if den > 0 else np.inf)
    return np.array(out)


def kenward_roger_df(d: dict, C: np.ndarray, L) -> float:
    """Kenward–Roger denominator df of the hypothesis Lβ = 0 (pbkrtest ``Lb_ddf``)."""
    L = np.atleast_2d(np.asarray(L, float))
    W = _kr_w(d["info"])
    Theta = L.T @ np.linalg.solve(L @ C @ L.T, L)
    u = [Theta @ C @ Pk @ C for Pk in d["P"]]
    m = len(u)
    A1 = sum(W[i, j] * np.trace(u[i]) * np.trace(u[j]) for i in range(m) for j in range(m))
    A2 = sum(W[i, j] * np.sum(u[i] * u[j].T) for i in range(m) for j in range(m))
    q = np.linalg.matrix_rank(L)
    B = (A1 + 6 * A2) / (2 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    c1, c2, c3 = (np.array([g, q - g, q + 2 - g]) / (3 * q + 2 * (1 - g)))
    V0, V1, V2 = 1 + c1 * B, 1 - c2 * B, 1 - c3 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    rho = (1 / q) * (((1 - A2 / q) / V1) if V1 != 0 else 0.0) ** 2 * V0 / V2
    return float(4 + (q + 2) / (q * rho - 1))


def _kr_w(info: np.ndarray) -> np.ndarray:
    """W = 2·I⁻¹, the generalised inverse when I is (nearly) singular, as pbkrtest."""
    ev = np.linalg.eigvalsh(info)
    return 2.0 * (np.linalg.inv(info) if np.min(np.abs(ev)) > 1e-10 else np.linalg.pinv(info))


def _trace_vgvg(s, fac: "_Factor", lam: np.ndarray, s2: float,
                block_bytes: float = 64e6) -> np.ndarray:
    """T_kl = tr(V⁻¹G_kV⁻¹G_l) over the random terms and the residual (last): by
    :func:`_trace_by_component` when S has small components, else from E = A⁻¹ΛM swept
    in column blocks: with B = MΛ, σ⁴T_kl = ‖(M − BE)_kl‖²_F,
    σ⁴T_k,res = tr M_kk − tr (BE)_kk − ‖E_·k‖²_F, σ⁴T_res,res = n − q + ‖A⁻¹‖²_F with
    A⁻¹ = I − EΛ."""
    T = _trace_by_component(s, lam)
    if T is not None:
        return T / (s2 * s2)
    K, q, n = len(s.terms), s.q, s.y.size
    Lm = sparse.diags(lam)
    B = (s.M @ Lm).tocsr()
    Bt = (Lm @ s.M).tocsc()
    Mc = s.M.tocsc()
    rand, tr_be, norm_e, norm_ainv = np.zeros((K, K)), np.zeros(K), np.zeros(K), 0.0
    step = max(1, int(block_bytes // (8 * q * 3)))
    for j0 in range(0, q, step):
        J = np.arange(j0, min(q, j0 + step))
        E = fac.solve(Bt[:, J].toarray())
        BE = B @ E
        N = Mc[:, J].toarray() - BE
        col_term = s.term_of[J]
        onehot = np.zeros((J.size, K))
        onehot[np.arange(J.size), col_term] = 1.0
        rand += np.add.reduceat(N * N, s.offsets[:-1], axis=0) @ onehot
        tr_be += np.bincount(col_term, weights=BE[J, np.arange(J.size)], minlength=K)
        norm_e += np.bincount(col_term, weights=(E * E).sum(axis=0), minlength=K)
        Ainv = -E * lam[J]
        Ainv[J, np.arange(J.size)] += 1.0
        norm_ainv += float((Ainv * Ainv).sum())
    tr_m = np.bincount(s.term_of, weights=s.M.diagonal(), minlength=K)
    T = np.empty((K + 1, K + 1))
    T[:K, :K] = (rand + rand.T) / 2
    T[:K, K] = T[K, :K] = tr_m - tr_be - norm_e
    T[K, K] = n - q + norm_ainv
    return T / (s2 * s2)


def _trace_by_component(s, lam: np.ndarray):
    """σ⁴T of :func:`_trace_vgvg` in the space of the reduced terms, block by block of
    S (schools when every term nests in school); None when its blocks are too large
    (``_TRACE_DENSE_MAX``).

    With the big term b (pupils) and the residual folded into R = I + θ_b²Z_bZ_bᵀ
    (block diagonal by pupil: R⁻ʲ = I + (d_b⁻ʲ − 1)zzᵀ/m_b), Ṽ = V/σ² = R + Z_rΛ²Z_rᵀ and
    Ṽ⁻¹ = R⁻¹ − R⁻¹Z_rΛS⁻¹ΛZ_rᵀR⁻¹. With K_j = Z_rᵀR⁻ʲZ_r, T_j = M_rbD⁻ʲM_br,
    W = M_rb diag(m/d³) M_br, Ψ = ΛS⁻¹Λ and Φ = I − ΨK_1 (all block diagonal):
    Z_rᵀṼ⁻¹Z_r = K_1Φ, Z_bᵀṼ⁻¹Z_r = D⁻¹M_brΦ, Z_bᵀṼ⁻¹Z_b = diag(m/d) − D⁻¹M_brΨM_rbD⁻¹, so
    σ⁴T_kl = ‖(K_1Φ)_kl‖²_F, σ⁴T_bl = Σ_{c∈l}(ΦᵀT_2Φ)_cc,
    σ⁴T_bb = Σm²/d² − 2tr(ΨW) + tr((ΨT_2)²), σ⁴T_k,res = Σ_{c∈k}(ΦᵀK_2Φ)_cc,
    σ⁴T_b,res = Σm/d² − 2tr(ΨT_3) + tr(ΨK_2ΨT_2),
    σ⁴T_res,res = tr R⁻² − 2tr(ΨK_3) + tr((ΨK_2)²)."""
    if not s.trace_dense_ok:
        return None
    K, b, n = len(s.terms), s.big, s.y.size
    tb = float(lam[s.ib[0]])
    dv = tb * tb * s.mv + 1.0
    d, m = dv[s.grp], s.m_bb
    T = np.zeros((K + 1, K + 1))
    T[b, b] = np.sum((m / d) ** 2)
    T[b, K] = np.sum(m / d ** 2)
    T[K, K] = n + np.sum(d ** -2.0 - 1.0)
    if s.r:
        lr = lam[s.ir]
        mz = np.where(s.mv > 0, s.mv, 1.0)
        Kj = [s.Mrr_d + s.wsum(np.where(s.mv > 0, (dv ** -j - 1.0) / mz, 0.0)) for j in (1, 2, 3)]
        mats = (*Kj, s.wsum(dv ** -2.0), s.wsum(dv ** -3.0), s.wsum(s.mv * dv ** -3.0))
        Sb = s.blocks.dense(lr[s.pr] * lr[s.pc] * Kj[0], eye=True)
        eye = np.eye(K + 1)

        def add(lb, lab, Sinv, K1, K2, K3, T2, T3, W):
            # one stack of dense blocks, or one large block with sparse K_j, T_j, W
            # (products written as K @ dense, all matrices symmetric; the sparse pattern
            # makes them O(nnz·n) instead of O(n³))
            Psi = lb[..., :, None] * Sinv * lb[..., None, :]
            Phi = np.eye(lb.shape[-1]) - _t(K1 @ Psi)
            N = K1 @ Phi
            oh = eye[lab]
            lead = list(range(oh.ndim - 1))
            T[:] += np.tensordot(oh, (N * N) @ oh, axes=(lead, lead))
            T[b] += np.bincount(lab.ravel(), weights=(T2 @ Phi * Phi).sum(-2).ravel(),
                                minlength=K + 1)
            T[K] += np.bincount(lab.ravel(), weights=(K2 @ Phi * Phi).sum(-2).ravel(),
                                minlength=K + 1)
            PT2, PK2 = _t(T2 @ Psi), _t(K2 @ Psi)
            T[b, b] += np.sum(PT2 * _t(PT2)) - 2.0 * _psum(Psi, W)
            T[b, K] += np.sum(PK2 * _t(PT2)) - 2.0 * _psum(Psi, T3)
            T[K, K] += np.sum(PK2 * _t(PK2)) - 2.0 * _psum(Psi, K3)

        for i, (idx, mask, *_) in enumerate(s.blocks.bins):
            lb = np.where(mask, lr[idx], 0.0)
            lab = np.where(mask, s.term_r[idx], K)
            if idx.shape[1] <= _SPARSE_TRACE_MIN:
                add(lb, lab, np.linalg.inv(Sb[i]), *(s.blocks.dense(x, bins=[i])[0] for x in mats))
                continue
            per_block = [s.blocks.sparse(x, i) for x in mats]
            for j in range(idx.shape[0]):
                add(lb[j], lab[j], _spd_inverse(Sb[i][j]), *(m[j] for m in per_block))
    # rows b and res hold their entries; mirror them (the reduced block is symmetric)
    rb, rres = T[b].copy(), T[K].copy()
    rres[b] = rb[K]
    T[b], T[:, b], T[K], T[:, K] = rb, rb, rres, rres
    return T


# blocks of S larger than this enter the traces one by one, with sparse K_j
_SPARSE_TRACE_MIN = 256


def _t(a):
    return a.swapaxes(-1, -2)


def _psum(dense, other) -> float:
    """Σ_ij dense_ij·other_ij for a dense and a dense or sparse (CSR) other."""
    if sparse.issparse(other):
        c = other.tocoo()
        return float(np.sum(dense[c.row, c.col] * c.data))
    return float(np.sum(dense * other))


def _spd_inverse(B: np.ndarray) -> np.ndarray:
    """The inverse of a symmetric positive definite matrix through its Cholesky factor
    (potrf/potri: a third of the work of a general inverse)."""
    from scipy.linalg import lapack
    c, info = lapack.dpotrf(B, lower=1, clean=0)
    if info:
        raise np.linalg.LinAlgError("S is not positive definite")
    z, info = lapack.dpotri(c, lower=1)
    if info:
        raise np.linalg.LinAlgError("S is singular")
    return np.tril(z) + np.tril(z, -1).T


DDF_METHODS = ("kenward-roger", "satterthwaite", "asymptotic")


def contrast_tests(fit, L, ddf: str = "kenward-roger", alpha: float = 0.05, labels=None) -> pd.DataFrame:
    """t tests of single contrasts lᵀβ (rows of L) of a fit with ``beta``, ``vcov``,
    ``vcov_kr``, ``df_kenward_roger`` and ``df_satterthwaite`` (MixedFit, MMRMFit):
    ``contrast, estimate, se, df, t, p, ci_low, ci_high``. ``kenward-roger``: SE from the
    KR-adjusted covariance Φ_A and KR df; ``satterthwaite``: SE from Var(β̂) and
    Satterthwaite df; ``asymptotic``: z (df = ∞)."""
    if ddf not in DDF_METHODS:
        raise ValueError(f"ddf must be one of {DDF_METHODS}, not {ddf!r}")
    L = np.atleast_2d(np.asarray(L, float))
    est = L @ fit.beta
    V = fit.vcov_kr if ddf == "kenward-roger" else fit.vcov
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
    if ddf == "kenward-roger":
        df = np.array([fit.df_kenward_roger(l) for l in L])
    elif ddf == "satterthwaite":
        df = fit.df_satterthwaite(L)
    else:
        df = np.full(len(L), np.inf)
    t = est / se
    q = stats.t.ppf(1 - alpha / 2, df)
    return pd.DataFrame({
        "contrast": labels if labels is not None else [f"L{i + 1}" for i in range(len(L))],
        "estimate": est, "se": se, "df": df, "t": t, "p": 2 * stats.t.sf(np.abs(t), df),
        "ci_low": est - q * se, "ci_high": est + q * se})
