"""Moderation of change within mentees: MEMORE / PROCESS model 1 on a difference score.

The model (Judd, McClelland & Smith 1996; Montoya 2019, *Behavior Research Methods*
51:61–82, "MEMORE")::

    D_i = Y_i,later − Y_i,earlier = b0 + b1·W_i + e_i        (OLS, df = n − k)

``b1`` is the moderator's slope (the instance × W interaction); the *conditional effect
of instance* at W = w is the predicted change ``θ(w) = b0 + b1·w`` with
``se² = v00 + 2w·v01 + w²·v11``. For a categorical W with k levels the model has k − 1
indicator columns (reference = first level) and ``θ(level)`` is the mean change in that
level; the W test is then the omnibus Wald F on the k − 1 coefficients (equal to the
R²-change F with OLS standard errors; with HC standard errors it is PROCESS's
``F(HC3)``).

Pieces and their sources:

* **Probe values** (``probe="moments"``): M − 1SD, M, M + 1SD of W with SD on n − 1
  (MEMORE default). Unlike PROCESS v4 they are *not* moved to the minimum / maximum
  when they fall outside the observed range; the ``outside_range`` column flags that.
  ``probe="percentiles"``: the 16th/50th/84th percentiles as PROCESS 4.3 computes them
  (``process.describ3``): sort W, ``j = trunc(p·(n + 1))``,
  ``value = w(j) + (w(j+1) − w(j))·(p·(n + 1) − j)`` — R ``quantile(type = 6)`` /
  SPSS HAVERAGE. A W with exactly two distinct numeric values is probed at those two
  values (PROCESS and MEMORE do the same); a categorical W at each level.
* **Johnson–Neyman** (Johnson & Neyman 1936; Hayes & Matthes 2009; Montoya 2019 eq. 9):
  the roots of ``(b0 + b1·w)² = t²_crit·(v00 + 2w·v01 + w²·v11)``, kept when strictly
  inside the observed range of W; ``pct_below`` / ``pct_above`` are the percentages of
  cases with W below / above the point (PROCESS 2.10+). ``t_crit`` is the exact
  ``t(1 − α/2, n − k)``; PROCESS uses an approximation of it, so its JN points and CIs
  can differ from ours (and from R) in the 4th–5th decimal.
* **JN table**: as PROCESS 4.3: ``22 − (number of JN points)`` equally spaced W values
  from the minimum to the maximum (both included) plus the JN points, 22 rows, with
  effect, se, t, p and CI.
* **Heteroscedasticity-consistent SEs** (``hc="HC0"…"HC4"``, default ``"HC3"``;
  ``hc=None`` or ``"OLS"`` gives the classical ``MSE·(X'X)⁻¹``): the sandwich
  ``(X'X)⁻¹ X' diag(ω) X (X'X)⁻¹`` with ω = e² (HC0), n/(n − k)·e² (HC1),
  e²/(1 − h) (HC2), e²/(1 − h)² (HC3), e²/(1 − h)^min(4, nh/k) (HC4) (Long & Ervin
  2000; Cribari-Neto 2004; Hayes & Cai 2007; R ``sandwich::vcovHC``). They are used
  everywhere: coefficients, the F test, conditional effects, JN points, JN table.
* **Percentile bootstrap** (``n_boot`` resamples of pupils with replacement, seeded by
  ``numpy.random.default_rng(seed)``): every resample is an OLS fit weighted by how
  often each pupil was drawn, which is the same estimator as refitting on the resampled
  rows; all resamples are solved at once from the batched normal equations. The probe
  values are those of the original sample (as PROCESS does). A resample in which the
  model is not estimable (a level of a categorical W not drawn, or W constant) gives
  NaN for that resample; the CI is the ``α/2, 1 − α/2`` ``numpy.nanpercentile``
  (linear interpolation, R type 7) of the remaining ones, and ``n_boot_failed`` counts
  the dropped resamples.

:func:`moderation_grid` runs the model for every outcome × change × moderator, skips
cells that cannot be estimated (with a reason), adds Benjamini–Hochberg adjusted p
values across the grid and flags prespecified tests. :func:`did_by_moderator` asks
the other question — does the *programme effect* (the mentee − control difference in
change) depend on W — in the random-intercept mixed model on all available data.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .. import CHANGES, CONDITIONS, WAVES, StudyError, is_missing, progress
from .longdata import change_pairs, check_long
from .multiplicity import benjamini_hochberg

HC_TYPES = ("HC0", "HC1", "HC2", "HC3", "HC4")
PROBE_LABELS = {"moments": ("M-1SD", "M", "M+1SD"), "percentiles": ("P16", "P50", "P84")}
PROCESS_PERCENTILES = (0.16, 0.50, 0.84)
#: Rows in PROCESS's Johnson–Neyman table (grid points + JN points).
JN_TABLE_ROWS = 22

#: Codes of the contract put in a natural order; the first one present is the reference
#: level (so ``b`` for ``same_gender`` is yes − no, for ``format`` group − individual).
LEVEL_ORDER = ("no", "yes", "boy", "girl", "other", "low", "middle", "high", "individual", "group")

#: Moderators of the contract that are categorical.
CATEGORICAL_MODERATORS = frozenset({
    "gender", "ses", "migration_background", "first_generation", "same_gender",
    "same_migration_background", "same_ses", "same_first_generation", "same_study", "format",
})

MODERATION_COLUMNS = [
    "moderator", "moderator_type", "term", "level", "reference", "n", "b", "se", "t", "p",
    "ci_low", "ci_high", "boot_ci_low", "boot_ci_high", "r2", "F", "df1", "df2", "p_F",
    "se_type", "n_boot", "n_boot_failed", "dropped_levels",
]
CONDITIONAL_COLUMNS = [
    "moderator", "probe", "w", "effect", "se", "t", "p", "ci_low", "ci_high",
    "boot_ci_low", "boot_ci_high", "n_level", "outside_range",
]
JN_COLUMNS = ["moderator", "w", "pct_below", "pct_above", "significant_below", "significant_above"]
JN_TABLE_COLUMNS = ["moderator", "w", "effect", "se", "t", "p", "ci_low", "ci_high", "jn_point"]
SKIPPED_COLUMNS = ["outcome", "change", "moderator", "n", "reason"]
DID_COLUMNS = [
    "moderator", "probe", "w", "contrast", "estimate", "se", "z", "ci_low", "ci_high", "p",
    "p_interaction", "chi2_interaction", "df_interaction", "n_students", "n_obs", "converged",
    "n_level", "n_level_mentee", "n_level_control",
]


class ModerationSkipped(StudyError):
    """The model cannot be estimated on these data (too few cases, no variance, ...)."""


# --------------------------------------------------------------------------- helpers

def process_percentiles(x, q: Sequence[float] = PROCESS_PERCENTILES) -> np.ndarray:
    """Percentiles as PROCESS 4.3 computes its default probe values.

    ``j = trunc(p·(n + 1))``, ``value = x(j) + (x(j+1) − x(j))·(p·(n + 1) − j)`` on the
    sorted data (1-based), i.e. R ``quantile(x, p, type = 6)``. Outside the range where
    that formula is defined (``p·(n + 1) < 1`` or ``> n``) the minimum / maximum is used,
    as R type 6 does.
    """
    xs = np.sort(np.asarray(x, float))
    n = xs.size
    out = []
    for p in q:
        h = p * (n + 1)
        j = int(np.trunc(h))
        if j < 1:
            out.append(xs[0])
        elif j >= n:
            out.append(xs[-1])
        else:
            out.append(xs[j - 1] + (xs[j] - xs[j - 1]) * (h - j))
    return np.asarray(out)


def cell_seed(seed: int, *key: str) -> int:
    """A 64-bit seed derived from ``seed`` and the labels ``key`` (the first 8 bytes of
    the SHA-256 of ``seed`` and ``key`` joined). :func:`moderation_grid` seeds its one
    draw of mentee resamples, shared by every cell of the grid, with
    ``cell_seed(seed, "pupils")``."""
    text = "\x1f".join([str(int(seed)), *map(str, key)])
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def _level_sort_key(level: str):
    return (LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER), str(level))


def _normalise_hc(hc) -> str | None:
    """``"HC0"`` … ``"HC4"``, or None for the classical OLS covariance (``None``, ``False``,
    ``"OLS"`` or ``"none"``)."""
    if hc is None or hc is False or (isinstance(hc, str) and hc.strip().upper() in ("OLS", "NONE")):
        return None
    if isinstance(hc, (int, np.integer)) and not isinstance(hc, bool):
        hc = f"HC{int(hc)}"
    hc = str(hc).upper()
    if hc not in HC_TYPES:
        raise StudyError(f"hc must be one of {HC_TYPES} or 'OLS' (None), not {hc!r}")
    return hc


def _ols(X: np.ndarray, y: np.ndarray, hc: str | None):
    """OLS estimates with the classical or an HC covariance matrix."""
    n, k = X.shape
    xtx_inv = np.linalg.inv(X.T @ X)
    beta = xtx_inv @ (X.T @ y)
    resid = y - X @ beta
    df = n - k
    ssr = float(resid @ resid)
    sst = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - ssr / sst if sst > 0 else np.nan
    if hc is None:
        cov = ssr / df * xtx_inv
    else:
        h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
        e2 = resid**2
        if hc == "HC0":
            omega = e2
        elif hc == "HC1":
            omega = e2 * n / df
        elif hc == "HC2":
            omega = e2 / (1.0 - h)
        elif hc == "HC3":
            omega = e2 / (1.0 - h) ** 2
        else:  # HC4, Cribari-Neto (2004)
            omega = e2 / (1.0 - h) ** np.minimum(4.0, n * h / k)
        meat = (X * omega[:, None]).T @ X
        cov = xtx_inv @ meat @ xtx_inv
    return beta, cov, df, r2


#: Float64 counts per chunk of resamples (128 MiB): the bootstrap's memory does not grow
#: with resamples × pupils.
CHUNK_BYTES = 1 << 27
#: What the grid keeps of its models' data (change, W, rows) between two passes over the
#: resamples (1 GiB): with many pupils the grid bootstraps its models in batches.
BATCH_BYTES = 1 << 30


class Resamples:
    """Case-resampling bootstrap of ``n`` pupils, ``n_boot`` resamples from ``seed``: row b
    of the (n_boot, n) count matrix says how often each pupil was drawn in resample b
    (n draws with replacement; Efron & Tibshirani 1993, ch. 6).

    Iterating yields ``(b0, counts)`` chunks of consecutive rows, at most ``chunk_bytes``
    of float64 each, so memory stays O(chunk × n) however large n × n_boot. The numbers do
    not depend on the chunking: the rows are the draws ``default_rng(seed).integers(0, n,
    size=(n_boot, n))`` taken in order, and numpy's generator gives the same stream for
    consecutive draws as for one."""

    def __init__(self, n: int, n_boot: int, seed, chunk_bytes: int | None = None):
        self.n, self.n_boot, self.seed = int(n), int(n_boot), seed
        chunk_bytes = CHUNK_BYTES if chunk_bytes is None else int(chunk_bytes)
        self.rows = max(1, min(self.n_boot, chunk_bytes // (8 * max(self.n, 1))))

    def __len__(self) -> int:
        return -(-self.n_boot // self.rows)

    def __iter__(self):
        rng = np.random.default_rng(self.seed)
        for b0 in range(0, self.n_boot, self.rows):
            b = min(self.rows, self.n_boot - b0)
            idx = rng.integers(0, self.n, size=(b, self.n))
            idx += (np.arange(b) * self.n)[:, None]
            yield b0, np.bincount(idx.ravel(), minlength=b * self.n).reshape(b, self.n).astype(float)


def resample_counts(n: int, n_boot: int, seed) -> np.ndarray:
    """All of :class:`Resamples` ``(n, n_boot, seed)`` as one (n_boot, n) float matrix."""
    return np.vstack([c for _, c in Resamples(n, n_boot, seed, chunk_bytes=1 << 62)]) if n_boot else \
        np.zeros((0, int(n)))


def _bootstrap_betas(X: np.ndarray, y: np.ndarray, counts: np.ndarray, rows: np.ndarray,
                     indicators: np.ndarray | None, wcol: int | None) -> np.ndarray:
    """Coefficients of case-resampled OLS fits, shape (n_boot, k).

    ``counts`` (n_boot, N) holds how often each of N pupils was drawn per resample;
    ``rows`` gives the column of ``counts`` for each row of ``X``. A resample's normal
    equations are X'diag(c)X β = X'diag(c)y, so all resamples come from one matrix
    product and one batched solve. Pupils drawn but not in ``X`` (missing data) simply
    do not enter. ``indicators`` (n, levels) marks the levels of a categorical W and
    ``wcol`` the column of a numeric W, to detect resamples that cannot be estimated
    (NaN rows).
    """
    n, k = X.shape
    # One matrix product gives every weighted sum needed: X'CX, X'Cy and the checks.
    parts = [(X[:, :, None] * X[:, None, :]).reshape(n, k * k), X * y[:, None]]
    if indicators is not None:
        parts.append(indicators)
    if wcol is not None:
        w = X[:, wcol]
        parts += [w[:, None], (w * w)[:, None]]
    full = np.zeros((counts.shape[1], sum(p.shape[1] for p in parts)))
    full[rows] = np.hstack(parts)
    sums = counts @ full
    n_boot = counts.shape[0]
    xtx = sums[:, : k * k].reshape(n_boot, k, k)
    xty = sums[:, k * k: k * k + k]
    n_eff = sums[:, 0]  # X[:, 0] is the intercept: the number of pupils drawn
    bad = n_eff <= k
    pos = k * k + k
    if indicators is not None:
        bad |= (sums[:, pos: pos + indicators.shape[1]] == 0).any(axis=1)
        pos += indicators.shape[1]
    if wcol is not None:
        with np.errstate(divide="ignore", invalid="ignore"):
            var = sums[:, pos + 1] / n_eff - (sums[:, pos] / n_eff) ** 2
        bad |= var <= 1e-12 * max(np.var(w), np.finfo(float).tiny)
    xtx[bad] = np.eye(k)
    beta = np.linalg.solve(xtx, xty[:, :, None])[:, :, 0]
    beta[bad] = np.nan
    return beta


def _percentile_ci(draws: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile CI per column, ignoring NaN draws (all-NaN column -> NaN)."""
    if draws.size == 0:
        return np.array([]), np.array([])
    ok = np.isfinite(draws).any(axis=0)
    lo = np.full(draws.shape[1], np.nan)
    hi = np.full(draws.shape[1], np.nan)
    if ok.any():
        q = np.nanpercentile(draws[:, ok], [100 * alpha / 2, 100 * (1 - alpha / 2)], axis=0)
        lo[ok], hi[ok] = q[0], q[1]
    return lo, hi


def _prepare_w(values: pd.Series, categorical, levels, missing_codes) -> tuple[pd.Series, str, list | None]:
    """Return (W as float or str Series with NaN for missing, kind, levels)."""
    if levels is not None:
        categorical = True
    if categorical is None:
        categorical = not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))
    if categorical:
        if isinstance(values.dtype, pd.CategoricalDtype) and levels is None:
            levels = [str(c) for c in values.cat.categories]
        missing = {str(m) for m in missing_codes}
        # each distinct value converted once (a moderator of 500,000 pupils has a handful)
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        labels = np.array([np.nan if is_missing(v) or str(v) in missing else str(v) for v in uniques] + [np.nan],
                          dtype=object)
        s = pd.Series(labels[codes], index=values.index, dtype=object)
        observed = sorted({v for v in labels if isinstance(v, str)}, key=_level_sort_key)
        if levels is None:
            levels = observed
        else:
            levels = [str(lv) for lv in levels]
            unknown = sorted(set(observed) - set(levels))
            if unknown:
                raise StudyError(f"values {unknown} are not among the given levels {levels}")
        return s, "categorical", levels
    s = pd.to_numeric(values, errors="coerce").astype(float)
    s = s.where(np.isfinite(s))
    kind = "dichotomous" if s.dropna().nunique() == 2 else "continuous"
    return s, kind, None


def _probes(values: np.ndarray, kind: str, probe: str, levels: list | None = None):
    """Probe points of W: (w, labels, n_level).

    Categorical W: each level (``w`` NaN); dichotomous W: its two values; continuous W:
    M − 1SD, M, M + 1SD (SD on n − 1) or the PROCESS percentiles P16/P50/P84.
    ``n_level`` counts the cases of ``values`` at each level or value (NaN for the
    probes of a continuous W)."""
    if kind == "categorical":
        n = np.array([(values == lv).sum() for lv in levels], float)
        return np.full(len(levels), np.nan), list(levels), n
    if kind == "dichotomous":
        w, n = np.unique(values, return_counts=True)
        return w, [f"{v:g}" for v in w], n.astype(float)
    if probe == "moments":
        m, sd = values.mean(), values.std(ddof=1)
        w = np.array([m - sd, m, m + sd])
    else:
        w = process_percentiles(values)
    return w, list(PROBE_LABELS[probe]), np.full(w.size, np.nan)


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float) for c in columns})


# --------------------------------------------------------------------------- one model

def moderation(data: pd.DataFrame, y: str, w: str, *, categorical: bool | None = None,
               hc: str | int | None = "HC3", center: bool = False, probe: str = "moments",
               n_boot: int = 5000, seed=0, alpha: float = 0.05,
               levels: Sequence[str] | None = None, missing_codes: Iterable[str] = ("unknown",),
               min_n: int = 10, min_level_n: int = 2,
               boot_counts: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """Moderation of a change score by W: MEMORE / PROCESS model 1 (see module docstring).

    Parameters
    ----------
    data : one row per pupil with the change score ``y`` (later − earlier wave) and the
        moderator ``w``. Rows with a missing ``y`` or ``w`` are dropped.
    categorical : treat W as categorical (indicator coding). None: categorical when
        the column is not numeric.
    hc : ``"HC0"`` … ``"HC4"`` (or 0–4), default ``"HC3"``; ``None`` or ``"OLS"`` for the
        classical OLS standard errors (PROCESS's default output).
    center : mean-centre a numeric W before fitting (changes ``b0`` only; every
        conditional effect is reported at the uncentred W value).
    probe : ``"moments"`` (M − 1SD, M, M + 1SD) or ``"percentiles"`` (P16, P50, P84).
    n_boot, seed : percentile-bootstrap resamples (0 = no bootstrap) and the seed of
        ``numpy.random.default_rng``.
    levels : level order of a categorical W; the first is the reference.
    missing_codes : codes of a categorical W treated as missing (``unknown``).
    boot_counts : optional resamples of the pupils in ``data`` (all rows, before
        missing cases are dropped) from :func:`resample_counts`, shape
        (n_boot, len(data)); overrides ``n_boot``/``seed``. The grid uses this to
        resample the mentees once for all its models.
    min_n, min_level_n : the model is skipped (:class:`ModerationSkipped`) with fewer
        than ``min_n`` complete cases; levels with fewer than ``min_level_n`` cases are
        dropped (listed in ``dropped_levels``), and fewer than two remaining levels
        skip the model.

    Returns
    -------
    dict with DataFrames

    ``moderation``: one row per W term (one for a numeric W, k − 1 for a categorical):
        ``moderator, moderator_type`` (continuous/dichotomous/categorical), ``term``,
        ``level`` and ``reference`` (categorical W), ``n, b, se, t, p, ci_low, ci_high,
        boot_ci_low, boot_ci_high, r2`` and the W test ``F, df1, df2, p_F``, plus
        ``se_type, n_boot, n_boot_failed, dropped_levels``.
    ``conditional_effects``: ``moderator, probe, w, effect, se, t, p, ci_low, ci_high,
        boot_ci_low, boot_ci_high, n_level, outside_range`` (``w`` is NaN for a
        categorical W; the level code is in ``probe``).
    ``johnson_neyman``: ``moderator, w, pct_below, pct_above, significant_below,
        significant_above`` (continuous W only; no rows when there is no JN point).
    ``jn_table``: ``moderator, w, effect, se, t, p, ci_low, ci_high, jn_point``
        (continuous W only).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> d = pd.DataFrame({"age": rng.normal(14.3, .5, 60)})
    >>> d["change"] = -0.3 * (d.age - 14.3) + rng.normal(0, .4, 60)
    >>> res = moderation(d, "change", "age", n_boot=500)
    >>> list(res["conditional_effects"].probe)
    ['M-1SD', 'M', 'M+1SD']
    """
    model = _fit(data, y, w, categorical=categorical, hc=hc, center=center, probe=probe, alpha=alpha,
                 levels=levels, missing_codes=missing_codes, min_n=min_n, min_level_n=min_level_n)
    if boot_counts is not None:
        if boot_counts.ndim != 2 or boot_counts.shape[1] != len(data):
            raise StudyError(f"boot_counts must have shape (n_boot, {len(data)}), not {boot_counts.shape}")
        boot = model.bootstrap(boot_counts)
    elif n_boot and n_boot > 0:
        model.rows = np.arange(model.n)  # resample the complete cases themselves
        boot = np.empty((int(n_boot), model.k))
        for b0, counts in Resamples(model.n, int(n_boot), seed):
            boot[b0: b0 + len(counts)] = model.bootstrap(counts)
    else:
        boot = None
    return model.tables(boot)


class _Model:
    """One fitted moderation model: the point estimates and what its bootstrap needs (the
    complete cases' change ``yv``, W ``wv`` — level codes 0… for a categorical W — and their
    ``rows`` in the data), so that a grid can bootstrap many models in one pass over the
    resamples (:func:`moderation_grid`)."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    @property
    def nbytes(self) -> int:
        return self.yv.nbytes + self.wv.nbytes + self.rows.nbytes

    def design(self) -> tuple[np.ndarray, np.ndarray | None]:
        """X (intercept, W terms) and the level indicators of a categorical W."""
        if self.kind == "categorical":
            ind = (self.wv[:, None] == np.arange(len(self.lv))[None, :]).astype(float)
            return np.column_stack([np.ones(self.n), ind[:, 1:]]), ind
        return np.column_stack([np.ones(self.n), self.wv - self.c]), None

    def bootstrap(self, counts: np.ndarray) -> np.ndarray:
        """Coefficients in the resamples ``counts`` (b, N) over the data's N rows."""
        X, ind = self.design()
        return _bootstrap_betas(X, self.yv, counts, self.rows, ind, None if ind is not None else 1)

    def tables(self, boot: np.ndarray | None) -> dict[str, pd.DataFrame]:
        """The model's tables; ``boot`` (n_boot, k) the coefficients in the resamples, or None."""
        beta, cov, df, tcrit, L_terms, L_probe = self.beta, self.cov, self.df, self.tcrit, self.L_terms, self.L_probe

        def lincomb(L):
            est = L @ beta
            se = np.sqrt(np.einsum("ij,jk,ik->i", L, cov, L))
            t = est / se
            p = 2 * stats.t.sf(np.abs(t), df)
            return est, se, t, p, est - tcrit * se, est + tcrit * se

        q = L_terms.shape[0]
        if boot is not None and len(boot):
            n_boot, n_failed = len(boot), int(np.isnan(boot[:, 0]).sum())
            b_lo, b_hi = _percentile_ci(boot @ L_terms.T, self.alpha)
            e_lo, e_hi = _percentile_ci(boot @ L_probe.T, self.alpha)
        else:
            n_boot, n_failed = 0, 0
            b_lo = b_hi = np.full(q, np.nan)
            e_lo = e_hi = np.full(L_probe.shape[0], np.nan)
        w, kind, lv = self.w, self.kind, self.lv
        est, se, t, p, lo, hi = lincomb(L_terms)
        mod = pd.DataFrame({
            "moderator": w, "moderator_type": kind, "term": self.terms,
            "level": lv[1:] if kind == "categorical" else [np.nan],
            "reference": lv[0] if kind == "categorical" else np.nan,
            "n": self.n, "b": est, "se": se, "t": t, "p": p, "ci_low": lo, "ci_high": hi,
            "boot_ci_low": b_lo, "boot_ci_high": b_hi, "r2": self.r2, "F": self.F, "df1": q, "df2": df,
            "p_F": self.p_F, "se_type": self.hc or "OLS", "n_boot": int(n_boot), "n_boot_failed": n_failed,
            "dropped_levels": ";".join(self.dropped) if self.dropped else np.nan,
        }, columns=MODERATION_COLUMNS)

        est, se, t, p, lo, hi = lincomb(L_probe)
        cond = pd.DataFrame({
            "moderator": w, "probe": self.probe_labels, "w": self.probe_w, "effect": est, "se": se, "t": t,
            "p": p, "ci_low": lo, "ci_high": hi, "boot_ci_low": e_lo, "boot_ci_high": e_hi,
            "n_level": self.n_level, "outside_range": self.outside,
        }, columns=CONDITIONAL_COLUMNS)

        if kind == "continuous":
            jn, jn_table = _johnson_neyman(beta, cov, df, tcrit, self.wv, self.c, w)
        else:
            jn, jn_table = _empty(JN_COLUMNS), _empty(JN_TABLE_COLUMNS)
        return {"moderation": mod, "conditional_effects": cond, "johnson_neyman": jn, "jn_table": jn_table}


def _fit(data: pd.DataFrame, y: str, w: str, *, categorical, hc, center, probe, alpha, levels,
         missing_codes, min_n, min_level_n) -> _Model:
    """The OLS fit of :func:`moderation` without its bootstrap."""
    if probe not in PROBE_LABELS:
        raise StudyError(f"probe must be 'moments' or 'percentiles', not {probe!r}")
    if not 0 < alpha < 1:
        raise StudyError(f"alpha must be between 0 and 1, not {alpha}")
    for col in (y, w):
        if col not in data.columns:
            raise StudyError(f"moderation: column {col!r} not in the data")
    hc = _normalise_hc(hc)
    ws, kind, lv = _prepare_w(data[w], categorical, levels, missing_codes)
    ys = pd.to_numeric(data[y], errors="coerce").astype(float)
    keep = ys.notna().to_numpy() & np.isfinite(ys.to_numpy()) & ws.notna().to_numpy()
    yv = ys.to_numpy()[keep]
    wv = ws.to_numpy()[keep]
    rows = np.flatnonzero(keep)
    dropped: list[str] = []
    if kind == "categorical":
        counts = pd.Series(wv).value_counts()
        dropped = [l for l in lv if 0 < counts.get(l, 0) < min_level_n]
        lv = [l for l in lv if counts.get(l, 0) >= min_level_n]
        sel = np.isin(wv, lv)
        yv, wv, rows = yv[sel], wv[sel], rows[sel]
        if len(lv) < 2:
            raise ModerationSkipped(f"fewer than 2 levels with at least {min_level_n} cases")
    n = yv.size
    if n < min_n:
        raise ModerationSkipped(f"only {n} complete cases (minimum {min_n})")
    if kind != "categorical" and np.ptp(wv) == 0:
        raise ModerationSkipped("moderator has no variance")
    if np.ptp(yv) == 0:
        raise ModerationSkipped("change score has no variance")

    alpha = float(alpha)
    if kind == "categorical":
        wv = pd.Categorical(wv, categories=lv).codes.astype(np.int8 if len(lv) < 127 else np.int32)
        probe_w, probe_labels, n_level = _probes(wv, kind, probe, list(range(len(lv))))
        probe_labels = list(lv)
        L_probe = np.column_stack([np.ones(len(lv)), np.eye(len(lv))[:, 1:]])
        terms = [f"{w}[{l}]" for l in lv[1:]]
        L_terms = np.eye(len(lv))[1:]
        outside = np.zeros(len(lv), bool)
        c = 0.0
    else:
        wv = wv.astype(float)
        c = float(wv.mean()) if center else 0.0
        terms = [w]
        L_terms = np.array([[0.0, 1.0]])
        probe_w, probe_labels, n_level = _probes(wv, kind, probe)
        outside = (probe_w < wv.min()) | (probe_w > wv.max())
        L_probe = np.column_stack([np.ones(probe_w.size), probe_w - c])
    model = _Model(w=w, kind=kind, lv=lv, c=c, n=n, k=L_terms.shape[1], yv=yv, wv=wv, rows=rows, hc=hc,
                   alpha=alpha, terms=terms, L_terms=L_terms, L_probe=L_probe, probe_w=probe_w,
                   probe_labels=probe_labels, n_level=n_level, outside=outside, dropped=dropped)
    X, _ = model.design()
    beta, cov, df, r2 = _ols(X, yv, hc)
    # W test: Wald F on the W coefficients.
    q = L_terms.shape[0]
    bw = L_terms @ beta
    F = float(bw @ np.linalg.solve(L_terms @ cov @ L_terms.T, bw) / q)
    model.__dict__.update(beta=beta, cov=cov, df=df, r2=r2, tcrit=stats.t.ppf(1 - alpha / 2, df), F=F,
                          p_F=float(stats.f.sf(F, q, df)))
    return model


def johnson_neyman_points(b0: float, b1: float, v00: float, v01: float, v11: float,
                          tcrit: float, lo: float, hi: float) -> np.ndarray:
    """W values in the open interval (lo, hi) where ``|b0 + b1·w| / se(w) = tcrit``.

    Roots of ``(b1² − t²v11)w² + 2(b0b1 − t²v01)w + (b0² − t²v00) = 0``
    (Johnson & Neyman 1936; Bauer & Curran 2005; Montoya 2019).
    """
    t2 = tcrit * tcrit
    a = b1 * b1 - t2 * v11
    bq = 2 * (b0 * b1 - t2 * v01)
    cq = b0 * b0 - t2 * v00
    if a == 0:
        roots = np.array([-cq / bq]) if bq != 0 else np.array([])
    else:
        disc = bq * bq - 4 * a * cq
        if disc < 0:
            roots = np.array([])
        else:
            sq = np.sqrt(disc)
            # Numerically stable pair (avoids cancellation in -b ± sqrt(disc)).
            qq = -0.5 * (bq + np.copysign(sq, bq))
            roots = np.array([qq / a, cq / qq]) if qq != 0 else np.array([0.0])
    roots = np.unique(roots[np.isfinite(roots)])
    return roots[(roots > lo) & (roots < hi)]


def _johnson_neyman(beta, cov, df, tcrit, wf, c, name):
    lo, hi = float(wf.min()), float(wf.max())
    b0, b1 = beta
    v00, v01, v11 = cov[0, 0], cov[0, 1], cov[1, 1]
    roots_c = johnson_neyman_points(b0, b1, v00, v01, v11, tcrit, lo - c, hi - c)
    roots = roots_c + c
    n = wf.size

    def effect(wvals):
        u = np.asarray(wvals, float) - c
        est = b0 + b1 * u
        se = np.sqrt(v00 + 2 * u * v01 + u * u * v11)
        t = est / se
        return est, se, t, 2 * stats.t.sf(np.abs(t), df)

    span = hi - lo
    eps = 1e-6 * span
    jn = pd.DataFrame({
        "moderator": name, "w": roots,
        "pct_below": [100.0 * (wf < r).sum() / n for r in roots],
        "pct_above": [100.0 * (wf > r).sum() / n for r in roots],
        "significant_below": [bool(abs(effect([r - eps])[2][0]) > tcrit) for r in roots],
        "significant_above": [bool(abs(effect([r + eps])[2][0]) > tcrit) for r in roots],
    }, columns=JN_COLUMNS)
    m = JN_TABLE_ROWS - roots.size
    grid = lo + np.arange(m) * (span / (m - 1))
    grid[-1] = hi
    wt = np.sort(np.concatenate([grid, roots]))
    est, se, t, p = effect(wt)
    table = pd.DataFrame({
        "moderator": name, "w": wt, "effect": est, "se": se, "t": t, "p": p,
        "ci_low": est - tcrit * se, "ci_high": est + tcrit * se,
        "jn_point": np.isin(wt, roots),
    }, columns=JN_TABLE_COLUMNS)
    return jn, table


# --------------------------------------------------------------------------- the grid

def wide_scores(data: pd.DataFrame, dv: str = "score", subject: str = "student_id") -> pd.DataFrame:
    """Standard long data (pupil × wave × outcome) to the wide ``{outcome}_{wave}`` frame
    indexed by ``student_id`` that :func:`moderation_grid` takes."""
    need = {subject, "wave", "outcome", dv}
    if not need <= set(data.columns):
        raise StudyError(f"long data needs the columns {sorted(need)}")
    wide = data.pivot_table(index=subject, columns=["outcome", "wave"], values=dv, aggfunc="first")
    # Outcomes in order of appearance (pivot_table sorts them), waves in study order.
    rank = {o: i for i, o in enumerate(pd.unique(data["outcome"]))}
    wrank = {wv: i for i, wv in enumerate(WAVES)}
    wide = wide[sorted(wide.columns, key=lambda ow: (rank[ow[0]], wrank.get(ow[1], 99), str(ow[1])))]
    wide.columns = [f"{o}_{wv}" for o, wv in wide.columns]
    wide.index = wide.index.astype(str)
    return wide


def change_score(changes: pd.DataFrame, outcome: str, change: str) -> pd.Series:
    """``{outcome}_{later} − {outcome}_{earlier}`` for a change label like ``"T3-T1"``."""
    try:
        later, earlier = change.split("-")
    except ValueError:
        raise StudyError(f"a change is written 'later-earlier' (e.g. 'T3-T1'), not {change!r}") from None
    cols = [f"{outcome}_{later}", f"{outcome}_{earlier}"]
    missing = [c for c in cols if c not in changes.columns]
    if missing:
        raise StudyError(f"no column(s) {missing} for outcome {outcome!r}")
    return (pd.to_numeric(changes[cols[0]], errors="coerce")
            - pd.to_numeric(changes[cols[1]], errors="coerce")).rename(f"{outcome}_{change}")


def _is_prespecified(spec: Iterable[Mapping], outcome: str, change: str, moderator: str) -> bool:
    for s in spec:
        if all(s.get(k) in (None, "*", v) for k, v in
               (("outcome", outcome), ("change", change), ("moderator", moderator))):
            return True
    return False


def moderation_grid(changes: pd.DataFrame, moderators: pd.DataFrame,
                    outcomes: Sequence[str] | None = None,
                    changes_list: Sequence[str] = CHANGES,
                    moderator_list: Sequence[str] | None = None, *,
                    categorical: Iterable[str] | Mapping[str, Sequence[str]] | None = None,
                    prespecified: Iterable[Mapping] = (), n_boot: int = 5000, seed: int = 0,
                    alpha: float = 0.05, hc="HC3", center: bool = False, probe: str = "moments",
                    min_n: int = 10, min_level_n: int = 2,
                    missing_codes: Iterable[str] = ("unknown",)) -> dict[str, pd.DataFrame]:
    """:func:`moderation` for every outcome × change × moderator, stacked.

    Parameters
    ----------
    changes : the mentees' scores, wide: indexed by ``student_id`` with one column per
        outcome and wave named ``{outcome}_{wave}`` (``self_efficacy_T1``, ...); a change
        ``"T3-T1"`` is computed as ``{outcome}_T3 − {outcome}_T1``. Standard long data
        (columns ``student_id, wave, outcome, score``) is accepted too and pivoted with
        :func:`wide_scores`; if it has a ``condition`` column, only ``mentee`` rows are used.
    moderators : indexed by ``student_id``, one column per moderator (e.g. pupil
        characteristics joined with :func:`mut_eval.match.match_moderators`).
    outcomes : default: every ``{outcome}`` with columns in ``changes``.
    changes_list : change labels ``later-earlier``.
    moderator_list : default: every column of ``moderators``.
    categorical : names of categorical moderators, or a mapping name → level order
        (first = reference). Moderators in :data:`CATEGORICAL_MODERATORS` and
        non-numeric columns are categorical anyway.
    prespecified : the study's confirmatory tests, a list of ``{outcome, change,
        moderator}`` mappings (a missing key or ``"*"`` matches anything); all other
        tests are flagged exploratory (``prespecified = False``).
    seed : the mentees are resampled once for the whole grid, with
        :func:`resample_counts` seeded by :func:`cell_seed` ``(seed, "pupils")``; each
        cell uses the drawn pupils with its data, so a cell's result does not depend on
        which other cells are run or in which order.

    Returns
    -------
    dict with the stacked ``moderation``, ``conditional_effects``, ``johnson_neyman``,
    ``jn_table`` tables (each led by ``outcome, change, moderator``; see
    :func:`moderation`) and ``skipped`` (``outcome, change, moderator, n, reason``).
    ``moderation`` also has ``p_bh`` — Benjamini–Hochberg over all estimated cells of
    the grid, applied to the W test's ``p_F`` (one test per cell) — and
    ``prespecified``; the other tables carry ``prespecified`` too.
    """
    if {"wave", "outcome"} <= set(changes.columns):
        long = changes
        if "condition" in long.columns:
            long = long[long["condition"] == "mentee"]
        changes = wide_scores(long)
    changes = changes.copy()
    changes.index = changes.index.astype(str)
    mods = moderators.copy()
    mods.index = mods.index.astype(str)
    if outcomes is None:
        seen = []
        for col in changes.columns:
            for wv in WAVES:
                if str(col).endswith(f"_{wv}") and col[: -len(wv) - 1] not in seen:
                    seen.append(col[: -len(wv) - 1])
        outcomes = seen
    if moderator_list is None:
        moderator_list = list(mods.columns)
    missing = [m for m in moderator_list if m not in mods.columns]
    if missing:
        raise StudyError(f"moderators not found: {missing}")
    cat_levels: dict[str, Sequence[str] | None] = {}
    if isinstance(categorical, Mapping):
        cat_levels = {k: v for k, v in categorical.items()}
    elif categorical is not None:
        cat_levels = {k: None for k in categorical}
    prespecified = list(prespecified)

    tables = {k: [] for k in ("moderation", "conditional_effects", "johnson_neyman", "jn_table")}
    skipped = []
    # The mentees are resampled once for the whole grid: each model uses, per resample,
    # the drawn pupils who have its change score and moderator. Cells therefore share
    # resamples (as when the whole data set is bootstrapped) and the grid costs one
    # draw instead of one per model. The models are bootstrapped together in one pass over
    # the resamples, which are drawn in chunks; with many pupils, in batches of models that
    # keep at most BATCH_BYTES of data (each batch draws the same resamples again).
    resamples = Resamples(len(changes), int(n_boot), cell_seed(seed, "pupils")) if n_boot else None
    batch: list[tuple[tuple, _Model]] = []

    def finish():
        boots = {id(m): np.empty((resamples.n_boot, m.k)) for _, m in batch} if resamples else {}
        for b0, counts in (resamples or ()):
            for _, m in batch:
                boots[id(m)][b0: b0 + len(counts)] = m.bootstrap(counts)
        for (outcome, change, mod, pre), m in batch:
            for key, tab in m.tables(boots.get(id(m))).items():
                if tab.empty:
                    continue
                tab = tab.drop(columns="moderator")
                tab.insert(0, "moderator", mod)
                tab.insert(0, "change", change)
                tab.insert(0, "outcome", outcome)
                tab["prespecified"] = pre
                tables[key].append(tab)
        batch.clear()

    mods = mods.reindex(changes.index)
    progress.stage("moderation grid", total=len(outcomes) * len(changes_list) * len(moderator_list))
    for outcome in outcomes:
        for change in changes_list:
            try:
                yser = change_score(changes, outcome, change)
            except StudyError as err:
                for mod in moderator_list:
                    skipped.append({"outcome": outcome, "change": change, "moderator": mod, "n": 0,
                                    "reason": str(err)})
                continue
            for mod in moderator_list:
                progress.advance()
                frame = pd.DataFrame({"__change__": yser, mod: mods[mod]})
                is_cat = mod in cat_levels or mod in CATEGORICAL_MODERATORS or not (
                    pd.api.types.is_numeric_dtype(mods[mod]) or pd.api.types.is_bool_dtype(mods[mod]))
                try:
                    model = _fit(frame, "__change__", mod, categorical=is_cat, levels=cat_levels.get(mod),
                                 hc=_normalise_hc(hc), center=center, probe=probe, alpha=alpha,
                                 missing_codes=missing_codes, min_n=min_n, min_level_n=min_level_n)
                except ModerationSkipped as err:
                    n_ok = int((frame["__change__"].notna() & frame[mod].notna()).sum())
                    skipped.append({"outcome": outcome, "change": change, "moderator": mod,
                                    "n": n_ok, "reason": str(err)})
                    continue
                batch.append(((outcome, change, mod, _is_prespecified(prespecified, outcome, change, mod)), model))
                if sum(m.nbytes for _, m in batch) > BATCH_BYTES:
                    finish()
    finish()

    cols = {"moderation": MODERATION_COLUMNS, "conditional_effects": CONDITIONAL_COLUMNS,
            "johnson_neyman": JN_COLUMNS, "jn_table": JN_TABLE_COLUMNS}
    out = {}
    for key, parts in tables.items():
        base = ["outcome", "change"] + cols[key] + ["prespecified"]
        out[key] = (pd.concat(parts, ignore_index=True) if parts else _empty(base))[base]
    mod_tab = out["moderation"]
    if len(mod_tab):
        cell = mod_tab.groupby(["outcome", "change", "moderator"], sort=False)["p_F"].first()
        adj = pd.Series(benjamini_hochberg(cell.to_numpy()), index=cell.index, name="p_bh")
        mod_tab = mod_tab.join(adj, on=["outcome", "change", "moderator"])
    else:
        mod_tab["p_bh"] = pd.Series(dtype=float)
    order = ["outcome", "change"] + MODERATION_COLUMNS + ["p_bh", "prespecified"]
    out["moderation"] = mod_tab[order]
    out["skipped"] = pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)
    return out


# --------------------------------------------------------------------------- programme × W

def did_by_moderator(data: pd.DataFrame, moderator_values: pd.Series | pd.DataFrame, w: str | None = None,
                     categorical: bool | None = None, *, dv: str = "score", subject: str = "student_id",
                     probe: str = "moments", alpha: float = 0.05, levels: Sequence[str] | None = None,
                     missing_codes: Iterable[str] = ("unknown",),
                     changes: Sequence[str] | None = None) -> pd.DataFrame:
    """Does the programme effect (difference-in-differences) depend on W?

    Random-intercept linear mixed model on all available scores of both conditions,
    fitted by REML (lme4 ``lmer(..., REML = TRUE)``)::

        score ~ condition * wave * W + (1 | student_id)

    with ``control`` and ``T1`` as reference levels, a numeric W centred at its mean
    over the pupils (the reported contrasts do not depend on that) and a categorical W
    as treatment dummies (first level the reference). The fit is
    :func:`mut_eval.stats.mixed.fit_mixed` — the profiled REML deviance of Bates et al.
    (2015, *J. Stat. Softw.* 67(1), eq. 42). For each probe value of W (M − 1SD, M,
    M + 1SD of the pupils' W values with SD on n − 1, or P16/P50/P84, the two values of
    a dichotomous W, or each level of a categorical W) and each contrast
    ``later-earlier`` the DiD estimate is ``(mentee later − mentee earlier) − (control
    later − control earlier)`` at that W, Lβ̂, with SE √(LVLᵀ) from V = σ̂²(X'V⁻¹X)⁻¹
    (lme4's ``vcov``), Wald z test and CI (emmeans with ``lmer.df = "asymptotic"``).
    ``p_interaction`` is the joint Wald χ² test of the condition × wave × W terms
    (df = number of later waves for a numeric W, times k − 1 for k levels).

    Only meaningful for pupil characteristics that both conditions have (age, gender,
    ses, ...), not for match variables.

    Parameters
    ----------
    data : standard long data of ONE outcome (``student_id, condition, wave, score``).
    moderator_values : Series indexed by ``student_id`` (or a DataFrame with column ``w``).
    w : the moderator's name (the Series name by default).
    changes : the contrasts ``later-earlier`` to report (default: every pair of observed
        waves). The model and ``p_interaction`` use all waves whatever is reported.

    Returns
    -------
    DataFrame with ``moderator, probe, w, contrast, estimate, se, z, ci_low, ci_high, p,
    p_interaction, chi2_interaction, df_interaction, n_students, n_obs, converged,
    n_level, n_level_mentee, n_level_control``. ``n_level``: the number of pupils in the
    model (both conditions) with that level of a categorical W or that value of a
    dichotomous W; ``n_level_mentee`` / ``n_level_control`` split it by condition (the
    smaller one is what small-cell suppression must look at); all NaN for the M ± 1SD /
    percentile probes of a continuous W. Raises :class:`ModerationSkipped` when the model is not estimable (fewer than two
    levels observed, or a rank-deficient design, e.g. a level only in one condition).
    """
    from .lmm import _wald
    from .mixed import RandomTerm, RankDeficientDesign, fit_mixed

    if probe not in PROBE_LABELS:
        raise StudyError(f"probe must be 'moments' or 'percentiles', not {probe!r}")
    if isinstance(moderator_values, pd.DataFrame):
        if w is None or w not in moderator_values.columns:
            raise StudyError("did_by_moderator: give w, a column of moderator_values")
        wser = moderator_values[w]
    else:
        wser = moderator_values
        w = w or str(wser.name)
    wser = wser.copy()
    wser.index = wser.index.astype(str)
    ws, kind, lv = _prepare_w(wser, categorical, levels, missing_codes)
    d = check_long(data, dv, "wave", "condition", subject, "did_by_moderator")
    d["W"] = d[subject].map(ws)
    d = d[d["W"].notna()]
    # unique() first: iterating a long string column element by element is slow
    conds = set(d["condition"].unique())
    if not {"mentee", "control"} <= conds:
        raise StudyError("did_by_moderator needs data of both conditions (mentee and control)")
    present = set(d["wave"].unique())
    waves = [wv for wv in WAVES if wv in present]
    if len(waves) < 2:
        raise StudyError("did_by_moderator needs at least two waves")
    pupils = d.drop_duplicates(subject)

    if kind == "categorical":
        counts = pupils["W"].value_counts()
        lv = [l for l in lv if counts.get(l, 0) > 0]
        if len(lv) < 2:
            raise ModerationSkipped("fewer than 2 levels of the moderator observed")
        d = d[d["W"].isin(lv)]
        dummies = np.asarray(lv[1:], object)

        def wcols(vals):
            return (np.asarray(vals, object)[:, None] == dummies[None, :]).astype(float)

        probe_w, probe_labels, n_level = _probes(pupils["W"].to_numpy(object), kind, probe, lv)
        probe_vals = list(lv)
    else:
        wv = pupils["W"].astype(float).to_numpy()
        c = wv.mean()

        def wcols(vals):
            return (np.asarray(vals, float) - c)[:, None]

        probe_w, probe_labels, n_level = _probes(wv, kind, probe)
        probe_vals = list(probe_w)

    # A DiD at a level compares mentees and controls of that level: both groups must be
    # large enough to show to staff, so count them separately.
    if kind == "continuous":
        per_condition = {c: np.full(len(probe_vals), np.nan) for c in CONDITIONS}
    else:
        per_condition = {c: np.array([((pupils["W"] == v) & (pupils["condition"] == c)).sum()
                                      for v in probe_vals], float) for c in CONDITIONS}
    later_waves = waves[1:]

    def design(cond, wave, wvals):
        # columns: 1, mentee, waves, W, mentee×waves, mentee×W, waves×W, mentee×waves×W
        cond = np.asarray(cond)
        wave = np.asarray(wave)
        mentee = (cond == "mentee").astype(float)[:, None]
        wd = np.column_stack([(wave == wv).astype(float) for wv in later_waves])
        W = wcols(wvals)
        n = len(cond)
        return np.hstack([np.ones((n, 1)), mentee, wd, W, mentee * wd, mentee * W,
                          (wd[:, :, None] * W[:, None, :]).reshape(n, -1),
                          ((mentee * wd)[:, :, None] * W[:, None, :]).reshape(n, -1)])

    X = design(d["condition"].to_numpy(), d["wave"].to_numpy(), d["W"].to_numpy())
    nW = wcols(probe_vals[:1]).shape[1]
    three_way = np.arange(X.shape[1] - len(later_waves) * nW, X.shape[1])
    try:
        fit = fit_mixed(d[dv].astype(float).to_numpy(), X,
                        [RandomTerm.from_groups(d[subject].to_numpy(), subject)])
    except RankDeficientDesign as e:
        raise ModerationSkipped(f"the mixed model is not estimable: {e} (a level of W "
                                "missing in a condition or wave?)") from None
    beta, cov = fit.beta, fit.vcov

    b3 = beta[three_way]
    chi2 = float(b3 @ np.linalg.solve(cov[np.ix_(three_way, three_way)], b3))
    df_int = int(three_way.size)
    p_int = float(stats.chi2.sf(chi2, df_int))

    pairs = change_pairs(waves)
    if changes is not None:
        bad = [c for c in changes if c not in CHANGES]
        if bad:
            raise StudyError(f"did_by_moderator: change(s) {bad} not among {list(CHANGES)}")
        pairs = [(later, earlier) for later, earlier in pairs if f"{later}-{earlier}" in changes]
    # one contrast row L per probe × pair: (m, later) − (m, earlier) − (c, later) + (c, earlier)
    n_rows = len(probe_vals) * len(pairs)
    cells = [(cd, wave, pv) for pv in probe_vals for later, earlier in pairs
             for cd, wave in (("mentee", later), ("mentee", earlier),
                              ("control", later), ("control", earlier))]
    R = design(*map(list, zip(*cells))).reshape(n_rows, 4, -1)
    L = R[:, 0] - R[:, 1] - R[:, 2] + R[:, 3]
    est = L @ beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, cov, L))
    z, p, lo, hi = _wald(est, se, alpha)
    return pd.DataFrame({
        "moderator": w,
        "probe": [lab for lab in probe_labels for _ in pairs],
        "w": np.repeat(np.asarray(probe_w, float), len(pairs)),
        "contrast": [f"{later}-{earlier}" for _ in probe_labels for later, earlier in pairs],
        "estimate": est, "se": se, "z": z, "ci_low": lo, "ci_high": hi,
        "p": p, "p_interaction": p_int, "chi2_interaction": chi2,
        "df_interaction": df_int, "n_students": int(fit.n_levels[subject]), "n_obs": int(fit.n_obs),
        "converged": bool(fit.converged), "n_level": np.repeat(n_level, len(pairs)),
        **{f"n_level_{c}": np.repeat(per_condition[c], len(pairs)) for c in CONDITIONS},
    }, columns=DID_COLUMNS)
