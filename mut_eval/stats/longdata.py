"""Checks shared by the analyses that take long data (one row per pupil × wave)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from .. import CHANGES, CONDITIONS, WAVES, StudyError

__all__ = ["check_long", "single_outcome", "change_pairs"]


def single_outcome(data: pd.DataFrame, who: str):
    """The one ``outcome`` value of ``data`` (None without an ``outcome`` column or
    value); :class:`~mut_eval.StudyError` when the data hold several outcomes."""
    if "outcome" in data.columns:
        outs = pd.unique(data["outcome"].dropna())
        if len(outs) > 1:
            raise StudyError(f"{who}: data hold {len(outs)} outcomes "
                             f"({', '.join(map(str, outs[:5]))}...); filter to one outcome")
        return outs[0] if len(outs) == 1 else None
    return None


def change_pairs(waves: Iterable = WAVES) -> list[tuple[str, str]]:
    """``(later, earlier)`` of each change of :data:`mut_eval.CHANGES` whose two waves
    are both in ``waves``, in the order of ``CHANGES``."""
    present = set(waves)
    pairs = (tuple(c.split("-")) for c in CHANGES)
    return [(later, earlier) for later, earlier in pairs if later in present and earlier in present]


def check_long(data: pd.DataFrame, dv: str = "score", within: str = "wave",
               between: str = "condition", subject: str = "student_id", who: str = "analysis",
               *, extra: Sequence[str] = (), conditions: Sequence | None = CONDITIONS,
               waves: Sequence | None = WAVES, as_str: bool = True) -> pd.DataFrame:
    """A checked copy of long data with the rows that carry a score.

    Keeps the columns ``subject, between, within, dv`` and ``extra`` (in that order);
    ``dv`` is made numeric (text that is no number becomes missing) and rows missing
    any of the first four are dropped. With ``as_str`` the ``subject``, ``between``
    and ``within`` values are made strings (the standard long format); without, they
    keep their dtype (e.g. a categorical's level order). Raises
    :class:`~mut_eval.StudyError`, with ``who`` leading the message, when

    - a column is missing;
    - a ``between`` value is not in ``conditions`` or a ``within`` value not in
      ``waves`` (``None`` skips that check, for data with other levels);
    - a subject has more than one score at a level of ``within``;
    - a subject has more than one value of ``between``.
    """
    cols = [subject, between, within, dv]
    keep = list(dict.fromkeys([*cols, *extra]))
    missing = [c for c in keep if c not in data.columns]
    if missing:
        raise StudyError(f"{who}: column(s) {missing} not found in the data")
    d = data[keep].copy()
    d[dv] = pd.to_numeric(d[dv], errors="coerce")
    d = d[d[cols].notna().all(axis=1)]
    if as_str:
        for c in (subject, between, within):
            d[c] = d[c].astype(str)
    for col, allowed in ((between, conditions), (within, waves)):
        if allowed is not None:
            bad = set(pd.unique(d[col])) - set(allowed)
            if bad:
                raise StudyError(f"{who}: unknown {col} value(s) {sorted(bad, key=str)}; "
                                 f"expected {list(allowed)}")
    dup = d.duplicated([subject, within])
    if dup.any():
        sid, level = d.loc[dup, [subject, within]].iloc[0].tolist()
        raise StudyError(f"{who}: {subject} {sid!r} has more than one score at "
                         f"{within} {level!r}")
    pairs = d.drop_duplicates([subject, between])
    two = pairs[subject].duplicated()
    if two.any():
        sid = pairs.loc[two, subject].tolist()[0]
        values = ", ".join(map(str, pairs.loc[pairs[subject] == sid, between]))
        raise StudyError(f"{who}: {subject} {sid!r} has more than one value of {between!r} "
                         f"({values})")
    return d
