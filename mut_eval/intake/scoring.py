"""Scale scores from item answers: reverse coding and prorated means.

Rule (contract section 2): a reverse-coded item is scored ``(min + max) - x`` (6 - x on
a 1-5 scale); a scale score is the mean of the answered items, given only when at least
``min_answered`` (75%) of its items are answered, otherwise missing.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .codebook import Codebook, Scale


def reverse_code(items: pd.DataFrame, scale: Scale, codebook: Codebook) -> pd.DataFrame:
    """Return the item answers with the reverse-coded items flipped (``min + max - x``)."""
    out = items.astype(float).copy()
    for item in scale.reverse:
        if item in out:
            out[item] = codebook.response_min + codebook.response_max - out[item]
    return out


def score_scale(items: pd.DataFrame, scale: Scale, codebook: Codebook) -> pd.Series:
    """Prorated mean of one scale: the mean of the answered (reverse-coded) items when
    at least ``codebook.min_answered`` of the scale's items are answered, else NaN."""
    present = [i for i in scale.items if i in items.columns]
    if not present:
        return pd.Series(np.nan, index=items.index, name=scale.key)
    return prorated_mean(reverse_code(items[present], scale, codebook), scale, codebook)


def prorated_mean(coded: pd.DataFrame, scale: Scale, codebook: Codebook) -> pd.Series:
    """The scale score from its already reverse-coded item columns (see :func:`score_scale`)."""
    answered = coded.notna().sum(axis=1)
    # Tolerance so that e.g. 0.75 * 4 = 3 answered items counts as enough.
    enough = answered >= codebook.min_answered * len(scale.items) - 1e-9
    return coded.mean(axis=1).where(enough).rename(scale.key)


def coded_wave(wave: pd.DataFrame, codebook: Codebook, wave_name: str | None = None) -> pd.DataFrame:
    """The item answers of one wave file, reverse-coded, for every scale asked at that
    wave (the input of scoring and of reliability)."""
    parts = [reverse_code(wave[[i for i in s.items if i in wave.columns]], s, codebook)
             for s in codebook.scales.values()
             if (wave_name is None or wave_name in s.waves) and any(i in wave.columns for i in s.items)]
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=wave.index)


def score_wave(wave: pd.DataFrame, codebook: Codebook, wave_name: str | None = None,
               coded: pd.DataFrame | None = None) -> pd.DataFrame:
    """Scale scores for every scale of the codebook found in one wave file.

    ``wave`` holds one row per pupil with item columns and/or already-scored scale
    columns named by the scale key. Items win when both are present. Returns a frame
    with the same index and one column per scale that has items or a scored column.
    ``coded``: the wave's :func:`coded_wave`, when the caller already has it.
    """
    coded = coded_wave(wave, codebook, wave_name) if coded is None else coded
    scores = {}
    for key, scale in codebook.scales.items():
        if wave_name is not None and wave_name not in scale.waves:
            continue
        present = [i for i in scale.items if i in coded.columns]
        if present:
            scores[key] = prorated_mean(coded[present], scale, codebook)
        elif key in wave.columns:
            scores[key] = pd.to_numeric(wave[key], errors="coerce").astype(float)
    return pd.DataFrame(scores, index=wave.index)


def scored_disagreements(wave: pd.DataFrame, codebook: Codebook, tol: float = 0.01) -> pd.DataFrame:
    """Rows where a pre-scored scale column differs from the score computed from its
    items by more than ``tol`` (contract section 2). Columns: ``row``, ``scale``,
    ``given``, ``computed``."""
    rows = []
    for key, scale in codebook.scales.items():
        if key in wave.columns and any(i in wave.columns for i in scale.items):
            computed = score_scale(wave, scale, codebook)
            given = pd.to_numeric(wave[key], errors="coerce")
            diff = (given - computed).abs() > tol
            for idx in wave.index[diff.fillna(False).to_numpy()]:
                rows.append({"row": idx, "scale": key, "given": given[idx], "computed": computed[idx]})
    return pd.DataFrame(rows, columns=["row", "scale", "given", "computed"])
