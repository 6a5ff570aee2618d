"""Adjusted p values for families of tests. NaN p values stay NaN and are left out of
the family."""
from __future__ import annotations

import numpy as np


def _adjust(p, step) -> np.ndarray:
    p = np.asarray(p, float)
    out = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        out[ok] = step(p[ok])
    return out


def holm(p) -> np.ndarray:
    """Holm (1979) step-down adjusted p values (R ``p.adjust(p, "holm")``):
    p_(i) ↦ max_{j ≤ i} min(1, (m − j + 1) p_(j)) for the sorted p values."""
    def step(pv):
        m = pv.size
        order = np.argsort(pv, kind="stable")
        adj = np.maximum.accumulate((m - np.arange(m)) * pv[order])
        res = np.empty(m)
        res[order] = np.minimum(adj, 1.0)
        return res
    return _adjust(p, step)


def benjamini_hochberg(p) -> np.ndarray:
    """Benjamini–Hochberg (1995) false-discovery-rate adjusted p values (R
    ``p.adjust(p, "BH")``): p_(i) ↦ min_{j ≥ i} min(1, m p_(j) / j)."""
    def step(pv):
        m = pv.size
        order = np.argsort(pv, kind="stable")[::-1]
        adj = np.minimum.accumulate(pv[order] * m / np.arange(m, 0, -1))
        res = np.empty(m)
        res[order] = np.minimum(adj, 1.0)
        return res
    return _adjust(p, step)
