"""Summary of a Q-sort: interviewed mentees rank outcome cards by how much mentoring helped.

Input (contract section 1, ``qsort.csv``): one row per interviewed mentee, a
``student_id`` column and one rank column per card (``self_efficacy``, ``motivation``,
``school_belonging``, ``help_seeking``), 1 = helped most. Q methodology in this
forced-ranking form: Watts & Stenner (2005), Qualitative Research in Psychology 2, 67-91.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import StudyError

DEFAULT_CARDS = ("self_efficacy", "motivation", "school_belonging", "help_seeking")
ID_COLUMNS = ("student_id", "interview_id", "id")


def qsort_summary(qsort: pd.DataFrame, cards: list[str] | None = None) -> pd.DataFrame:
    """Mean rank and rank distribution per card.

    Parameters
    ----------
    qsort : DataFrame
        One row per mentee; ``student_id`` plus one integer rank column per card.
    cards : list of str, optional
        The card columns; by default every column except identifier columns, with
        the contract's cards first in their contract order.

    Returns
    -------
    DataFrame with one row per card: ``card``, ``n`` (mentees who ranked it),
    ``mean_rank``, ``sd_rank`` (SD with n - 1), and ``rank_1`` ... ``rank_k`` (how many
    mentees gave the card rank 1 ... k, k = number of cards). No identifiers are kept.

    A missing rank counts only against that card's ``n``. A rank that is not a whole
    number from 1 to k raises :class:`mut_eval.StudyError`.
    """
    if cards is None:
        rest = [c for c in qsort.columns if str(c) not in ID_COLUMNS]
        cards = [c for c in DEFAULT_CARDS if c in rest] + [c for c in rest if c not in DEFAULT_CARDS]
    missing = [c for c in cards if c not in qsort.columns]
    if missing:
        raise StudyError(f"qsort: card column(s) {missing} not found")
    k = len(cards)
    cols = ["card", "n", "mean_rank", "sd_rank"] + [f"rank_{r}" for r in range(1, k + 1)]
    if k == 0:
        return pd.DataFrame(columns=cols)
    ranks = qsort[cards].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    raw_present = qsort[cards].notna().to_numpy()
    bad = raw_present & (np.isnan(ranks) | (ranks < 1) | (ranks > k) | (ranks != np.round(ranks)))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise StudyError(f"qsort: row {r + 1}, column {cards[c]}: rank {qsort[cards].iat[r, c]!r} "
                         f"is not a whole number from 1 to {k}")
    present = ~np.isnan(ranks)
    n = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.nansum(ranks, axis=0) / np.maximum(n, 1), np.nan)
        dev2 = np.nansum((ranks - mean) ** 2, axis=0)
        sd = np.where(n > 1, np.sqrt(dev2 / np.maximum(n - 1, 1)), np.nan)
    out = pd.DataFrame({"card": [str(c) for c in cards], "n": n.astype(int),
                        "mean_rank": mean, "sd_rank": sd})
    for r in range(1, k + 1):
        out[f"rank_{r}"] = (ranks == r).sum(axis=0).astype(int)
    return out[cols]
