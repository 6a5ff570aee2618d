"""One engine for linear mixed models with variance components, as R ``lme4::lmer``.

Model (lme4 notation)::

    y = Xβ + Σ_k Z_k b_k + e,   b_k ~ N(0, σ_k² I),   e ~ N(0, σ² I)

with random terms ``(1 | g)`` (an intercept per level of a grouping factor, which may
be an interaction such as ``school:class:wave``) or ``(0 + x | g)`` (a slope on the
covariate x without intercept, e.g. the partially nested mentor groups
``(0 + mentee_post | mentor_id)`` of Bauer, Sterba & Hallfors 2008). One variance
parameter per term, so the relative covariance factor Λ_θ = diag(θ_k repeated over the
levels of term k), θ_k = σ_k/σ, is diagonal.

Fit (Bates, Mächler, Bolker & Walker 2015, *J. Stat. Softw.* 67(1), section 3): for a
given θ, with W = ZΛ_θ and A = WᵀW + I = ΛZᵀZΛ + I, the penalised least-squares system
is solved through A (sparse), R_XᵀR_X = XᵀX − XᵀW A⁻¹ WᵀX, β̂ = (R_XᵀR_X)⁻¹(Xᵀy −
XᵀW A⁻¹ Wᵀy), r² = yᵀy − yᵀW A⁻¹ Wᵀy − β̂ᵀ(Xᵀy − XᵀW A⁻¹ Wᵀy) (the penalised residual
sum of squares), and the deviance profiled over β and σ² is (their eqs. 34 and 42)::

    ML:    −2ℓ̃(θ)  = log|A| + n (1 + log(2π r²/n))
    REML:  −2ℓ̃_R(θ) = log|A| + log|R_XᵀR_X| + (n − p)(1 + log(2π r²/(n − p)))

minimised over θ ≥ 0 by bounded L-BFGS-B from lme4's start θ = 1; a θ_k at the bound
0 is a singular fit (variance 0, lme4's ``isSingular``). σ̂² = r²/(n − p) (REML) or r²/n
(ML); Var(β̂) = σ̂²(R_XᵀR_X)⁻¹, lme4's ``vcov``.

The structure does the work, as lme4's sparse Cholesky does (scipy has none): the block
of A for the term with most levels (pupils, say) is diagonal, because each row has one
level of each term, so it is eliminated exactly, and levels with the same number of
rows share their sums, so an evaluation costs nothing per pupil. The Schur complement S
of the other terms (classes, class × wave, schools) is block diagonal over the connected
components of its pattern — one block per school when every term nests in school — and
these blocks are stacked and factored as dense matrices (batched LAPACK), one
factorisation per evaluation: log|A| = Σ log d_b + log|S|, and the same factor gives the
analytic gradient of the profiled deviance (:meth:`_System.parts`), so L-BFGS-B needs one
evaluation per step. When S has a component of more than ``_DENSE_MAX`` levels, a term
whose block of S is diagonal (mentors: no two share a pupil) is eliminated exactly next
and the rest factored as dense blocks (:class:`_DiagonalSplit`, up to ``_SPLIT_MAX``);
failing that (large crossed designs) S is factored by SuperLU
(``scipy.sparse.linalg.splu``) and the gradient taken by central differences.

Inference for contrasts (Kenward–Roger, Satterthwaite) is in
:mod:`mut_eval.stats.mixed_inference`; :class:`MixedFit` exposes it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import linalg, optimize, sparse
from scipy.sparse.linalg import splu
from threadpoolctl import ThreadpoolController

from .. import StudyError
from .mixed_inference import (  # noqa: F401  (_kr_w: used by icc.py)
    DDF_METHODS, _kr_w, contrast_tests, derivatives, kenward_roger_df, kr_vcov, satterthwaite_df,
)

_POOLS = ThreadpoolController()     # the library scan once (5 ms), not per fit


def single_threaded_blas():
    """Context in which BLAS runs on ``_BLAS_THREADS`` threads: thousands of small
    factorisations, where extra threads only contend (also used by :mod:`.mmrm`)."""
    return _POOLS.limit(limits=_BLAS_THREADS, user_api="blas")

__all__ = ["RandomTerm", "parse_random", "MixedFit", "fit_mixed", "lmer", "DDF_METHODS"]

# θ below this counts as on the boundary (lme4's isSingular tolerance is 1e-4)
SINGULAR_TOL = 1e-4
# at most this many distinct m_bb values are pre-summed (see _System)
_GROUPED_MAX = 64
# S is factored as dense blocks, with the analytic REML gradient, when its components
# have at most _DENSE_MAX levels and the padded blocks at most _DENSE_ENTRIES entries;
# otherwise by SuperLU with a central-difference gradient
_DENSE_MAX = 400
_DENSE_ENTRIES = 4e6
# beyond that, when one reduced term's block of S is diagonal (mentors), it is eliminated
# first (_DiagonalSplit) and the rest factored as dense blocks up to this size, still
# with the analytic gradient (20,000 pupils in 5 schools with mentor groups: blocks of
# 944-1415 levels become 285-761 after the split; a fit takes 42 evaluations of 0.1 s,
# where SuperLU took 544 of 0.07 s with the difference gradient)
_SPLIT_MAX = 1200
# blocks larger than this are inverted one by one through their Cholesky factor
_POTRI_MIN = 256
# the KR/Satterthwaite traces, computed once per fit, take dense blocks up to this size
# (a few large schools: 190 classes × 4 levels; cubic in the block, once, not per
# deviance evaluation as the fit's _DENSE_MAX)
_TRACE_DENSE_MAX = 2000
# BLAS threads for the fit and its derivatives: the dense blocks are small, and extra
# threads only contend (on this 2-core machine under load, 6× slower with 2 threads)
_BLAS_THREADS = 1
# components whose sizes differ by less than this factor share a stack (padded)
_BIN_RATIO = 1.25


class RankDeficientDesign(StudyError):
    """The fixed-effects design matrix does not have full column rank."""


@dataclass(frozen=True)
class RandomTerm:
    """One random term: ``(1 | group)`` (``slope`` None) or ``(0 + x | group)``.

    ``codes``: (n,) level index 0..levels−1 of each row; ``name``: lme4's label
    (``school:class``, ``mentee_post|mentor_id``).
    """

    name: str
    codes: np.ndarray
    levels: int
    slope: np.ndarray | None = None

    @classmethod
    def from_groups(cls, groups, name: str = "group", slope=None) -> "RandomTerm":
        """Term from group labels (n,) — or (n, k) columns combined into their
        interaction — and an optional slope covariate (n,)."""
        g = pd.DataFrame(np.asarray(groups, dtype=object).reshape(len(groups), -1))
        if g.isna().to_numpy().any():
            raise StudyError(f"random term {name}: missing group labels")
        codes = g.groupby(list(g.columns), sort=True).ngroup().to_numpy()
        s = None if slope is None else np.asarray(slope, float)
        if s is not None and not np.all(np.isfinite(s)):
            raise StudyError(f"random term {name}: the slope covariate has missing values")
        return cls(name=name, codes=codes, levels=int(codes.max()) + 1, slope=s)

    def values(self) -> np.ndarray:
        """The nonzero entries of Z_k, row by row (1 for an intercept)."""
        return np.ones(self.codes.size) if self.slope is None else self.slope


_TERM = re.compile(r"\(\s*([^|()]+?)\s*\|\s*([^()|]+?)\s*\)")


def parse_random(spec: str, data: pd.DataFrame) -> list[RandomTerm]:
    """Random terms written as in lme4 — ``"(1 | school) + (1 | school:class) +
    (0 + mentee_post | mentor_id)"`` — evaluated on ``data``. Intercept terms and single
    slopes without intercept only (variance components; no correlated slopes)."""
    terms = []
    for lhs, grp in _TERM.findall(spec):
        cols = [c.strip() for c in grp.split(":")]
        missing = [c for c in cols if c not in data.columns]
        parts = [t.strip() for t in re.split(r"\+", lhs.replace("-1", "+ 0").replace("- 1", "+ 0"))]
        parts = [t for t in parts if t]
        if missing:
            raise StudyError(f"random term ({lhs} | {grp}): column(s) {missing} not in the data")
        if parts == ["1"]:
            terms.append(RandomTerm.from_groups(data[cols].to_numpy(object), ":".join(cols)))
        elif len(parts) == 2 and "0" in parts:
            x = [t for t in parts if t != "0"][0]
            if x not in data.columns:
                raise StudyError(f"random term ({lhs} | {grp}): column {x!r} not in the data")
            terms.append(RandomTerm.from_groups(data[cols].to_numpy(object), f"{x}|{':'.join(cols)}",
                                                slope=pd.to_numeric(data[x]).to_numpy(float)))
        else:
            raise StudyError(f"random term ({lhs} | {grp}): only (1 | g) and (0 + x | g) are "
                             "supported (variance components)")
    if not terms:
        raise StudyError(f"no random terms found in {spec!r}")
    return terms


# ---------------------------------------------------------------------------
# the random-effects system A(θ) = ΛZᵀZΛ + I, factored through its diagonal block
# ---------------------------------------------------------------------------
class _Blocks:
    """Dense layout of an r × r symmetric sparsity pattern (rows, cols): its connected
    components, padded with identity to a common size within bins of similar size and
    stacked, so a matrix on the pattern is assembled, factored and inverted by batched
    dense LAPACK. With a school term every component is one school."""

    def __init__(self, rows: np.ndarray, cols: np.ndarray, r: int):
        from scipy.sparse.csgraph import connected_components

        self.rows, self.cols, self.r = rows, cols, r
        ncomp, lab = connected_components(
            sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(r, r)), directed=False)
        sizes = np.bincount(lab, minlength=ncomp)
        self.largest = int(sizes.max()) if r else 0
        self.entries = 0
        order = np.argsort(lab, kind="stable")
        local = np.empty(r, int)
        local[order] = np.arange(r) - np.concatenate([[0], np.cumsum(sizes)[:-1]])[lab[order]]
        key = np.ceil(np.log(np.maximum(sizes, 1)) / np.log(_BIN_RATIO)).astype(int)
        self.bins = []
        for kb in np.unique(key):
            comps = np.flatnonzero(key == kb)
            slot = np.full(ncomp, -1)
            slot[comps] = np.arange(comps.size)
            members = np.flatnonzero(slot[lab] >= 0)
            idx = np.zeros((comps.size, int(sizes[comps].max())), int)
            self.entries += idx.size * idx.shape[1]
            mask = np.zeros(idx.shape, bool)
            idx[slot[lab[members]], local[members]] = members
            mask[slot[lab[members]], local[members]] = True
            ent = np.flatnonzero(slot[lab[rows]] >= 0)
            self.bins.append((idx, mask, ent, slot[lab[rows[ent]]], local[rows[ent]],
                              local[cols[ent]]))

    def dense(self, data: np.ndarray, eye: bool = False, bins=None) -> list:
        """The matrix with entries ``data`` on the pattern, as stacked blocks per bin
        (of the bins listed in ``bins``, default all)."""
        out = []
        for i, (idx, mask, ent, sl, li, lj) in enumerate(self.bins):
            if bins is not None and i not in bins:
                continue
            B = np.zeros((*idx.shape, idx.shape[1]))
            B[sl, li, lj] = data[ent]
            if eye:
                B += np.eye(idx.shape[1])
            out.append(B)
        return out

    def sparse(self, data: np.ndarray, i: int) -> list:
        """The blocks of bin i of the matrix with entries ``data``, one CSR matrix each."""
        idx, mask, ent, sl, li, lj = self.bins[i]
        nb, n = idx.shape
        M = sparse.csr_matrix((data[ent], (sl * n + li, lj)), shape=(nb * n, n))
        return [M[j * n:(j + 1) * n] for j in range(nb)]

    def vec(self, v: np.ndarray) -> list:
        """Rows of v (r, …) laid out per block (padding 0)."""
        return [np.where(mask.reshape(mask.shape + (1,) * (v.ndim - 1)), v[idx], 0.0)
                for idx, mask, *_ in self.bins]

    def unvec(self, blocks: list, like: np.ndarray) -> np.ndarray:
        out = np.empty_like(like)
        for (idx, mask, *_), b in zip(self.bins, blocks):
            out[idx[mask]] = b[mask]
        return out

    def gather(self, blocks: list, lower=None) -> np.ndarray:
        """The entries of stacked symmetric blocks on the pattern (of the lower
        triangle for the bins where ``lower[i]``)."""
        out = np.empty(self.rows.size)
        for i, ((idx, mask, ent, sl, li, lj), B) in enumerate(zip(self.bins, blocks)):
            if lower is not None and lower[i]:
                li, lj = np.maximum(li, lj), np.minimum(li, lj)
            out[ent] = B[sl, li, lj]
        return out


class _DiagonalSplit:
    """S = [[D, C], [Cᵀ, R]] with D diagonal: the levels of one reduced term no two of
    which share a level of the big term (mentors, say: a pupil has one mentor), ordered
    first and eliminated exactly, so only the Schur complement S' = R − CᵀD⁻¹C (over the
    other terms; one block per school) is factored, as dense blocks:
    log|S| = Σ log d + log|S'|, S⁻¹h = [D⁻¹(h_D − Cu_R); u_R], u_R = S'⁻¹(h_R − CᵀD⁻¹h_D),
    and S⁻¹ on the pattern of S from S'⁻¹ on the pattern of S': (S⁻¹)_RR = S'⁻¹,
    (S⁻¹)_DR = −D⁻¹CS'⁻¹, diag (S⁻¹)_DD = 1/d + diag(D⁻¹CS'⁻¹CᵀD⁻¹). Every product
    runs over the pairs of entries in one row of C, which lie on the pattern of S'."""

    def __init__(self, pr, pc, keys, r, sel):
        self.i_d, self.i_r = np.flatnonzero(sel), np.flatnonzero(~sel)
        m, r2 = self.i_d.size, self.i_r.size
        loc = np.empty(r, np.int64)
        loc[self.i_d], loc[self.i_r] = np.arange(m), np.arange(r2)
        rd, cd = sel[pr], sel[pc]
        self.e_d = np.flatnonzero(rd & cd)              # the diagonal of D on the pattern
        self.d_of = loc[pr[self.e_d]]
        e_c = np.flatnonzero(rd & ~cd)                  # C, row-major
        ci, ca = loc[pr[e_c]], loc[pc[e_c]]
        o = np.lexsort((ca, ci))
        self.e_c, self.ci, self.ca = e_c[o], ci[o], ca[o]
        self.e_ct = np.flatnonzero(~rd & cd)            # Cᵀ, and where its mirror is
        self.ct_src = np.searchsorted(keys, pc[self.e_ct] * r + pr[self.e_ct])
        self.indptr = np.concatenate([[0], np.cumsum(np.bincount(self.ci, minlength=m))])
        k_row = np.diff(self.indptr)
        k_e = k_row[self.ci]
        self.e1 = np.repeat(np.arange(self.ci.size), k_e)
        self.e2 = (self.indptr[self.ci[self.e1]] + np.arange(self.e1.size)
                   - np.repeat(np.cumsum(k_e) - k_e, k_e))
        self.e_r = np.flatnonzero(~rd & ~cd)
        rows = np.concatenate([loc[pr[self.e_r]], self.ca[self.e1]])
        cols = np.concatenate([loc[pc[self.e_r]], self.ca[self.e2]])
        skeys, inv = np.unique(rows * r2 + cols, return_inverse=True)
        self.npat = skeys.size
        self.pos_r, self.pos_pair = inv[:self.e_r.size], inv[self.e_r.size:]
        self.pos_all, self.ci1 = inv, self.ci[self.e1]
        self.blocks = _Blocks(skeys // r2, skeys % r2, r2)
        self.m, self.r2 = m, r2

    @classmethod
    def find(cls, pr, pc, keys, r, term_r, ok):
        """The split on the reduced term with most levels whose block of S is diagonal,
        if its S' passes ``ok(blocks)``; else None."""
        best = None
        for k in np.unique(term_r):
            inside = (term_r[pr] == k) & (term_r[pc] == k)
            if np.any(pr[inside] != pc[inside]):
                continue
            n_k = int(np.sum(term_r == k))
            if best is None or n_k > best[1]:
                best = (k, n_k)
        if best is None:
            return None
        split = cls(pr, pc, keys, r, term_r == best[0])
        return split if ok(split.blocks) else None

    def factor(self, Sd, h, inverse: bool):
        """(log|I + S|, (I + S)⁻¹h, (I + S)⁻¹ on the pattern or None) for S with entries
        Sd on the pattern (the identity is added here)."""
        d = np.ones(self.m)
        d[self.d_of] += Sd[self.e_d]
        cv = Sd[self.e_c]
        pair = cv[self.e1] * cv[self.e2]
        sv = np.bincount(self.pos_all, weights=np.concatenate([Sd[self.e_r], -pair / d[self.ci1]]),
                         minlength=self.npat)
        fac = _DenseFactor(self.blocks.dense(sv, eye=True))
        logdet = fac.logdet + float(np.log(d).sum())
        C = sparse.csr_matrix((cv, self.ca, self.indptr), shape=(self.m, self.r2))
        hd, hr = h[self.i_d], h[self.i_r]
        ur = self.blocks.unvec(fac.solve(self.blocks.vec(hr - C.T @ (hd / d[:, None]))), hr)
        u = np.empty_like(h)
        u[self.i_r], u[self.i_d] = ur, (hd - C @ ur) / d[:, None]
        if not inverse:
            return logdet, u, None
        zs = fac.inverse_on(self.blocks)
        out = np.empty(Sd.size)
        out[self.e_r] = zs[self.pos_r]
        wz = cv[self.e1] * zs[self.pos_pair]
        out[self.e_c] = -np.bincount(self.e2, weights=wz, minlength=cv.size) / d[self.ci]
        out[self.e_ct] = out[self.ct_src]
        quad = np.bincount(self.ci1, weights=wz * cv[self.e2], minlength=self.m)
        out[self.e_d] = (1.0 / d + quad / (d * d))[self.d_of]
        return logdet, u, out


class _DenseFactor:
    """Cholesky factors of stacked symmetric positive definite blocks (one list entry
    per bin of :class:`_Blocks`): small blocks by batched LAPACK (Cholesky, and the
    inverse at once); blocks over ``_POTRI_MIN`` one by one, solved through the factor
    (potrs) and inverted only when asked (potri, a third of a general inverse; the
    lower triangle is read). Raises LinAlgError if a block is not positive definite."""

    def __init__(self, Sb: list):
        self.logdet, self.parts = 0.0, []
        for B in Sb:
            if B.shape[1] <= _POTRI_MIN:
                self.logdet += 2.0 * float(np.log(np.diagonal(np.linalg.cholesky(B), 0, 1, 2)).sum())
                self.parts.append(("inv", np.linalg.inv(B)))
                continue
            cs = np.empty_like(B)
            for j, b in enumerate(B):
                cs[j], info = linalg.lapack.dpotrf(b, lower=1, clean=0)
                if info:
                    raise np.linalg.LinAlgError("S is not positive definite")
                self.logdet += 2.0 * float(np.log(np.diagonal(cs[j])).sum())
            self.parts.append(("chol", cs))

    def solve(self, vb: list) -> list:
        out = []
        for (kind, F), v in zip(self.parts, vb):
            if kind == "inv":
                out.append(F @ v)
            else:
                out.append(np.stack([linalg.lapack.dpotrs(c, x, lower=1)[0] for c, x in zip(F, v)]))
        return out

    def inverse_on(self, blocks: "_Blocks") -> np.ndarray:
        """The inverse's entries on the pattern of ``blocks``."""
        inv, lower = [], []
        for kind, F in self.parts:
            if kind == "inv":
                inv.append(F)
            else:
                z = np.empty_like(F)
                for j, c in enumerate(F):
                    z[j], info = linalg.lapack.dpotri(c, lower=1)
                    if info:
                        raise np.linalg.LinAlgError("S is singular")
                inv.append(z)
            lower.append(kind == "chol")
        return blocks.gather(inv, lower)


class _System:
    """Everything about y, X and Z that does not depend on θ, and the profiled deviance
    (with its analytic gradient) at a given θ."""

    def __init__(self, y, X, terms: list[RandomTerm]):
        n = y.size
        self.y, self.X, self.terms = y, X, terms
        self.levels = np.array([t.levels for t in terms])
        self.offsets = np.concatenate([[0], np.cumsum(self.levels)])
        self.q = int(self.offsets[-1])
        self.term_of = np.repeat(np.arange(len(terms)), self.levels)
        rows = np.tile(np.arange(n), len(terms))
        cols = np.concatenate([t.codes + o for t, o in zip(terms, self.offsets)])
        vals = np.concatenate([t.values() for t in terms])
        self.Z = sparse.csc_matrix((vals, (rows, cols)), shape=(n, self.q))
        self.Zt = self.Z.T.tocsr()
        self.M = (self.Zt @ self.Z).tocsr()
        self.XtX, self.Xty, self.yty = X.T @ X, X.T @ y, float(y @ y)
        self.big = int(np.argmax(self.levels))
        self.ib = np.arange(self.offsets[self.big], self.offsets[self.big + 1])
        self.ir = np.setdiff1d(np.arange(self.q), self.ib)
        self.r, self.term_r = self.ir.size, self.term_of[self.ir]
        self.m_bb = self.M.diagonal()[self.ib]
        self.M_br = self.M[self.ib][:, self.ir].tocsr()
        self.M_rr = self.M[self.ir][:, self.ir].tocsr()
        # The eliminated block enters A only through d_b = θ_b² m_bb + 1; levels of the
        # big term with the same m_bb (pupils with the same number of scores) share
        # it, so their sums are taken once here and a deviance evaluation costs
        # O(nnz(S)) whatever the number of pupils (lmm.py's trick, generalised); the
        # gradient adds one pass over the levels.
        Y = np.column_stack([y, X])
        ZtY = self.Zt @ Y
        self.Yb, self.Yr = ZtY[self.ib], ZtY[self.ir]
        self.mv, self.grp = np.unique(self.m_bb, return_inverse=True)
        self.grouped = self.mv.size <= _GROUPED_MAX
        if not self.grouped:                        # e.g. a slope term: one group per level
            self.mv, self.grp = self.m_bb, np.arange(self.m_bb.size)
        G = self.mv.size
        self.count = np.bincount(self.grp, minlength=G).astype(float)
        self.Y2 = np.zeros((G, Y.shape[1], Y.shape[1]))
        np.add.at(self.Y2, self.grp, self.Yb[:, :, None] * self.Yb[:, None, :])
        self.blocks, self.split, self.dense_ok, self.trace_dense_ok = None, None, True, True
        if self.r:
            self._pattern(G)

    def _pattern(self, G):
        """The fixed sparsity pattern of S = ΛZ_rᵀR_b⁻¹Z_rΛ + I (R_b the covariance of
        the big term and the residual): M_rr plus a pair for each two reduced levels
        that share a level of the big term; M_rr and the per-group sums T_v = Σ_{b∈v}
        M_b·ᵀM_b· as data on it."""
        r = self.r
        ones = abs(self.M_br)
        P = (abs(self.M_rr) + ones.T @ ones).tocsr()
        P.sum_duplicates()
        P.sort_indices()
        P = P.tocoo()
        self.pr, self.pc = P.row.astype(np.int64), P.col.astype(np.int64)
        keys = self.pr * r + self.pc

        def pos(i, j):
            return np.searchsorted(keys, np.asarray(i, np.int64) * r + j)
        Mrr = self.M_rr.tocoo()
        self.Mrr_d = np.bincount(pos(Mrr.row, Mrr.col), weights=Mrr.data, minlength=keys.size)
        B = self.M_br.tocsr()
        B.sort_indices()
        k_row = np.diff(B.indptr)
        row_e = np.repeat(np.arange(B.shape[0]), k_row)
        k_e = k_row[row_e]
        e1 = np.repeat(np.arange(B.nnz), k_e)
        e2 = B.indptr[row_e[e1]] + np.arange(e1.size) - np.repeat(np.cumsum(k_e) - k_e, k_e)
        self.pair_b, self.pair_pos = row_e[e1], pos(B.indices[e1], B.indices[e2])
        self.pair_val = B.data[e1] * B.data[e2]
        if self.grouped:
            self.Td = np.bincount(self.grp[self.pair_b] * keys.size + self.pair_pos,
                                  weights=self.pair_val, minlength=G * keys.size
                                  ).reshape(G, keys.size)
            self.U = np.stack([self.M_br[self.grp == v].T @ self.Yb[self.grp == v]
                               for v in range(G)])
        self.blocks = _Blocks(self.pr, self.pc, r)
        self.dense_ok = (self.blocks.largest <= _DENSE_MAX
                         and self.blocks.entries <= _DENSE_ENTRIES)
        if not self.dense_ok:
            self.split = _DiagonalSplit.find(
                self.pr, self.pc, keys, r, self.term_r,
                lambda b: b.largest <= _SPLIT_MAX and b.entries <= _DENSE_ENTRIES)
            self.dense_ok = self.split is not None
        self.trace_dense_ok = (self.blocks.largest <= _TRACE_DENSE_MAX
                               and self.blocks.entries <= 8 * _DENSE_ENTRIES)

    def wsum(self, c):
        """Σ_b c_b M_b·ᵀM_b· on the pattern of S, c per group of the big term."""
        if self.grouped:
            return c @ self.Td
        return np.bincount(self.pair_pos, weights=c[self.pair_b] * self.pair_val,
                           minlength=self.pr.size)

    def usum(self, c):
        """Σ_b c_b M_b·ᵀ(ZᵀY)_b, c per group of the big term."""
        if self.grouped:
            return np.tensordot(c, self.U, axes=1)
        return self.M_br.T @ (c[:, None] * self.Yb)

    def lam(self, theta):
        return np.repeat(np.asarray(theta, float), self.levels)

    def parts(self, theta, reml: bool, grad: bool = False):
        """(deviance, β̂, r², R_XᵀR_X Cholesky[, gradient]) at θ, from the block
        elimination of A: YᵀWA⁻¹WᵀY = θ_b²Σ_b c_bc_bᵀ/d_b + hᵀS⁻¹h with Y = [y X],
        c_b = (ZᵀY)_b, h = Λ_r(Z_rᵀY − θ_b²M_rbD⁻¹c_b), S = Λ_rK_1Λ_r + I,
        K_1 = M_rr − θ_b²M_rbD⁻¹M_br. The gradient (dense path only) is
        ∂d/∂θ_k = (2/θ_k)[Δ_k − ⟨(R_XᵀR_X)⁻¹, u_kˣᵀu_kˣ⟩ − ‖u_kʳ‖²/σ̂²] for θ_k ≠ 0 and 0
        at θ_k = 0 (the deviance is even in θ_k): the REML score tr(PG_k) − yᵀPG_kPy
        (Harville 1977) times ∂ψ_k/∂θ_k = 2σ̂²θ_k, σ̂² profiled out (envelope theorem),
        written with u = A⁻¹ΛZᵀ[y X] (Z_kᵀṼ⁻¹Y = u_k/θ_k), uʳ = u(1, −β̂) and
        Δ_k = tr(E_k(I − A⁻¹)) (= θ_k/2 ∂log|A|/∂θ_k). ML drops the ⟨·⟩ term."""
        theta = np.asarray(theta, float)
        tb = theta[self.big]
        dv = tb * tb * self.mv + 1.0
        quad = tb * tb * np.tensordot(1.0 / dv, self.Y2, axes=1)
        logdet = float(self.count @ np.log(dv))
        if self.r:
            lr = self.lam(theta)[self.ir]
            Sm = self.Mrr_d - tb * tb * self.wsum(1.0 / dv)
            Sd = lr[self.pr] * lr[self.pc] * Sm
            h = lr[:, None] * (self.Yr - tb * tb * self.usum(1.0 / dv))
            if self.split is not None:
                ld, u, Sinv = self.split.factor(Sd, h, inverse=grad)
                logdet += ld
            elif self.dense_ok:     # raises LinAlgError if S is not positive definite
                fac = _DenseFactor(self.blocks.dense(Sd, eye=True))
                logdet += fac.logdet
                u = self.blocks.unvec(fac.solve(self.blocks.vec(h)), h)
                Sinv = fac.inverse_on(self.blocks) if grad else None
            else:
                S = sparse.csc_matrix((Sd, (self.pr, self.pc)), shape=(self.r, self.r))
                lu = splu((S + sparse.identity(self.r)).tocsc(), permc_spec="MMD_AT_PLUS_A",
                          diag_pivot_thresh=0.0, options=dict(SymmetricMode=True))
                u = lu.solve(np.ascontiguousarray(h))
                logdet += float(np.log(np.abs(lu.U.diagonal())).sum())
            quad = quad + h.T @ u
        RtR = self.XtX - quad[1:, 1:]
        bvec = self.Xty - quad[1:, 0]
        cf = linalg.cho_factor(RtR, lower=True, check_finite=False)
        beta = linalg.cho_solve(cf, bvec, check_finite=False)
        r2 = max(self.yty - quad[0, 0] - float(bvec @ beta), 1e-300)
        n, p = self.X.shape
        if reml:
            dev = (logdet + 2.0 * float(np.log(np.diag(cf[0])).sum())
                   + (n - p) * (1.0 + np.log(2.0 * np.pi * r2 / (n - p))))
        else:
            dev = logdet + n * (1.0 + np.log(2.0 * np.pi * r2 / n))
        if not grad:
            return dev, beta, r2, cf
        s2 = r2 / (n - p if reml else n)
        Rinv = linalg.cho_solve(cf, np.eye(p), check_finite=False)
        w = np.append(1.0, -beta)

        def fit_part(uk):                       # ⟨(R_XᵀR_X)⁻¹, u_kˣᵀu_kˣ⟩ + ‖u_kʳ‖²/σ̂²
            sq = uk.T @ uk
            return float(w @ sq @ w) / s2 + (float(np.sum(Rinv * sq[1:, 1:])) if reml else 0.0)
        g = np.zeros(theta.size)
        d_b = dv[self.grp]
        ub = self.Yb - (self.M_br @ (lr[:, None] * u) if self.r else 0.0)
        ub = tb * ub / d_b[:, None]
        delta_b = float(self.count @ (self.mv / dv))
        if self.r:
            delta_b -= float(np.sum(Sinv * lr[self.pr] * lr[self.pc] * self.wsum(dv ** -2.0)))
            delta_r = np.bincount(self.term_r[self.pr], weights=Sinv * lr[self.pc] * Sm,
                                  minlength=theta.size)
            for k in np.flatnonzero(theta != 0):
                if k != self.big:
                    g[k] = 2.0 * (delta_r[k] - fit_part(u[self.term_r == k]) / theta[k])
        if tb != 0:
            g[self.big] = 2.0 * (tb * delta_b - fit_part(ub) / tb)
        return dev, beta, r2, cf, g

    def deviance(self, theta, reml):
        try:
            return self.parts(theta, reml)[0]
        except (linalg.LinAlgError, np.linalg.LinAlgError, ValueError, RuntimeError):
            return np.inf


def _minimise(sysm: _System, reml: bool):
    """θ̂ = argmin of the profiled deviance over θ ≥ 0 (L-BFGS-B with the analytic
    gradient; central differences when S is factored by SuperLU)."""
    K = len(sysm.terms)

    def fg_analytic(th):
        try:
            out = sysm.parts(th, reml, grad=True)
            return out[0], out[4]
        except (linalg.LinAlgError, np.linalg.LinAlgError, ValueError, RuntimeError):
            return np.inf, np.zeros(K)

    def fg_numeric(th):
        f0 = sysm.deviance(th, reml)
        g = np.empty(K)
        for k in range(K):
            h = 1e-5 * max(1.0, th[k])
            up, dn = th.copy(), th.copy()
            up[k] += h
            if th[k] - h >= 0:
                dn[k] -= h
                g[k] = (sysm.deviance(up, reml) - sysm.deviance(dn, reml)) / (2 * h)
            else:   # the deviance is even in θ_k: reflect at the bound
                dn[k] = h - th[k]
                g[k] = (sysm.deviance(up, reml) - sysm.deviance(dn, reml)) / (2 * h) \
                    if th[k] > 0 else 0.0
        return f0, g

    fg = fg_analytic if sysm.dense_ok else fg_numeric

    # The deviance is even in each θ_k (a sign flip of θ_k is a similarity of A), so with
    # the analytic gradient θ runs over ℝ^K and |θ| is the estimate: a variance on its
    # way to 0 passes through it instead of stalling on the bound, where the gradient
    # vanishes. The difference gradient keeps the bound θ ≥ 0 (and reflects at it).
    bounds = None if fg is fg_analytic else [(0.0, None)] * K
    opts = dict(ftol=1e-13, gtol=1e-7, maxiter=1000)
    best = optimize.minimize(fg, np.ones(K), jac=True, method="L-BFGS-B", bounds=bounds,
                             options=opts)
    theta = np.abs(best.x)
    theta[theta < 1e-9] = 0.0
    # a stall at 0 all the same: probe the interior and restart from a better point
    for k in np.flatnonzero(theta == 0):
        for t in (1e-2, 1e-1):
            trial = theta.copy()
            trial[k] = t
            if sysm.deviance(trial, reml) < sysm.deviance(theta, reml) - 1e-8:
                r = optimize.minimize(fg, trial, jac=True, method="L-BFGS-B", bounds=bounds,
                                      options=opts)
                if r.fun < best.fun:
                    best = r
                    theta = np.abs(r.x)
                    theta[theta < 1e-9] = 0.0
                break
    # lme4 reports a boundary fit at 0; test that 0 is not worse than the tiny θ found
    small = (theta > 0) & (theta < SINGULAR_TOL)
    if small.any():
        t0 = theta.copy()
        t0[small] = 0.0
        if sysm.deviance(t0, reml) <= sysm.deviance(theta, reml) + 1e-10:
            theta = t0
    gnorm = np.abs(fg(theta)[1])[theta > 0]
    converged = bool(best.success or (gnorm.size == 0 or gnorm.max() < 1e-3))
    return theta, converged, str(best.message)


# ---------------------------------------------------------------------------
# the fit
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class MixedFit:
    """A fitted variance-components model (see :func:`fit_mixed`).

    ``varcomp``: variance per random term (lme4's names) and ``Residual``, as
    ``as.data.frame(VarCorr(m))$vcov``; ``loglik``: lme4's ``logLik`` (REML or ML);
    ``criterion``: −2·loglik (``REMLcrit`` / deviance); ``singular``: some θ_k < 1e-4.
    """

    names: list
    beta: np.ndarray
    vcov: np.ndarray
    theta: np.ndarray
    sigma2: float
    varcomp: pd.Series
    loglik: float
    criterion: float
    reml: bool
    converged: bool
    singular: bool
    n_obs: int
    n_levels: dict
    message: str = ""
    _system: _System | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> pd.Series:
        return pd.Series(self.beta, index=self.names, name="estimate")

    @cached_property
    def _derivatives(self) -> dict:
        """P_k, Q_kl, I_kl = tr(PG_kPG_l) and the observed REML Hessian H_kl over
        ψ = (σ_1², …, σ_K², σ²) (:func:`mixed_inference.derivatives`)."""
        with single_threaded_blas():
            return derivatives(self._system, self.theta, self.beta, self.sigma2, self.vcov)

    @cached_property
    def vcov_kr(self) -> np.ndarray:
        """Kenward–Roger adjusted Var(β̂), Φ_A (pbkrtest ``vcovAdj``)."""
        return kr_vcov(self._derivatives, self.vcov)

    def df_satterthwaite(self, L) -> np.ndarray:
        """Satterthwaite df for each row l of L (lmerTest ``contest1D``)."""
        return satterthwaite_df(self._derivatives, self.vcov, self.theta, L)

    def df_kenward_roger(self, L) -> float:
        """Kenward–Roger denominator df of the hypothesis Lβ = 0 (pbkrtest ``Lb_ddf``)."""
        return kenward_roger_df(self._derivatives, self.vcov, L)

    def test(self, L, ddf: str = "kenward-roger", alpha: float = 0.05,
             labels=None) -> pd.DataFrame:
        """t tests of single contrasts l'β (rows of L): ``contrast, estimate, se, df, t,
        p, ci_low, ci_high``. ``ddf``: ``kenward-roger`` (SE from Φ_A, as emmeans
        ``lmer.df = "kenward-roger"``), ``satterthwaite`` (SE from vcov, as lmerTest) or
        ``asymptotic`` (z, df = ∞)."""
        if ddf != "asymptotic" and not self.reml:
            raise ValueError("Satterthwaite / Kenward-Roger df need a REML fit")
        return contrast_tests(self, L, ddf, alpha, labels)


def fit_mixed(y, X, terms: list[RandomTerm], *, names=None, reml: bool = True) -> MixedFit:
    """Fit ``y = Xβ + Σ_k Z_k b_k + e`` by REML (default) or ML — lme4's
    ``lmer(y ~ 0 + X + <terms>, REML = reml)``.

    ``y``: (n,) finite; ``X``: (n, p) array or DataFrame (its columns name β), full
    column rank (else :class:`RankDeficientDesign`); ``terms``: :class:`RandomTerm` list
    (:func:`parse_random` builds it from lme4 syntax). See the module docstring for the
    criterion and the optimiser.
    """
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if names is None else list(names)
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.size:
        raise ValueError("fit_mixed: y (n,) and X (n, p) needed")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(X))):
        raise ValueError("fit_mixed: y and X must be finite")
    if not terms or any(t.codes.size != y.size for t in terms):
        raise ValueError("fit_mixed: every random term needs one level per row")
    n, p = X.shape
    names = [f"x{j}" for j in range(p)] if names is None else list(names)
    if n <= p or np.linalg.matrix_rank(X) < p:
        raise RankDeficientDesign(f"the fixed-effects design ({', '.join(map(str, names))}) "
                                  f"does not have full column rank ({n} rows)")
    with single_threaded_blas():
        sysm = _System(y, X, terms)
        theta, converged, message = _minimise(sysm, reml)
        dev, beta, r2, cf = sysm.parts(theta, reml)
    s2 = r2 / (n - p if reml else n)
    vc = pd.Series(np.append(theta ** 2 * s2, s2), index=[t.name for t in terms] + ["Residual"])
    return MixedFit(names=names, beta=beta, vcov=s2 * linalg.cho_solve(cf, np.eye(p)),
                    theta=theta, sigma2=float(s2), varcomp=vc, loglik=-0.5 * dev, criterion=dev,
                    reml=reml, converged=converged, singular=bool(np.any(theta < SINGULAR_TOL)),
                    n_obs=n, n_levels={t.name: t.levels for t in terms}, message=message,
                    _system=sysm)


def lmer(formula: str, data: pd.DataFrame, *, reml: bool = True) -> MixedFit:
    """``lmer("score ~ condition * wave + (1 | school) + (1 | school:class)", data)``:
    the fixed part through patsy (treatment coding; write ``C(wave, Treatment('T1'))``
    for a reference level), the random part by :func:`parse_random`. Rows with a
    missing value in any variable used are left out, as R's ``na.omit``."""
    import patsy

    lhs, rhs = formula.split("~", 1)
    random = " + ".join(m.group(0) for m in _TERM.finditer(rhs))
    fixed = _TERM.sub("", rhs).strip().strip("+").replace("+  +", "+").strip() or "1"
    fixed = re.sub(r"\+\s*\+", "+", fixed).strip().strip("+")
    used = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", lhs + random)) & set(data.columns)
    d = data.dropna(subset=sorted(used))
    yv, Xd = patsy.dmatrices(f"{lhs} ~ {fixed}", d, return_type="dataframe")
    d = d.loc[Xd.index]
    return fit_mixed(yv.iloc[:, 0].to_numpy(float), Xd, parse_random(random, d), reml=reml)

