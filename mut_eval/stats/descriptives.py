"""Cell sizes, means and standard deviations (n − 1) by condition and wave."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import CONDITIONS, WAVES, StudyError
from .levels import ordered_levels

__all__ = ["descriptives", "descriptives_table", "completers"]

_PREFERRED = {"condition": CONDITIONS, "wave": WAVES}


def descriptives(data: pd.DataFrame, dv: str = "score",
                 by: tuple[str, ...] | list[str] = ("condition", "wave")) -> pd.DataFrame:
    """n, mean and SD (denominator n − 1) of ``dv`` per combination of ``by``.

    Missing ``dv`` values are not counted. Groups are ordered by the project order
    (``mentee``, ``control``; ``T1``, ``T2``, ``T3``) where the levels are those, else
    sorted; only observed combinations appear. The SD of a cell with one value is NaN.
    Columns: ``*by, n, mean, sd``.
    """
    by = list(by)
    missing = [c for c in [dv, *by] if c not in data.columns]
    if missing:
        raise StudyError(f"descriptives: column(s) {missing} not found in the data")
    d = data[[*by, dv]]
    d = d[d[dv].notna()]
    if not by:
        x = d[dv].to_numpy(dtype=float)
        return pd.DataFrame({"n": [len(x)], "mean": [x.mean() if len(x) else np.nan],
                             "sd": [x.std(ddof=1) if len(x) > 1 else np.nan]})
    g = d.groupby(by, sort=False, observed=True)[dv]
    out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "sd": g.std(ddof=1)}).reset_index()
    orders = {col: {v: i for i, v in enumerate(ordered_levels(d[col], _PREFERRED.get(col)))}
              for col in by}
    out = out.sort_values(by, key=lambda s: s.astype(object).map(orders[s.name]).astype(float), kind="stable")
    out = out.reset_index(drop=True)
    out["n"] = out["n"].astype("int64")
    out["mean"] = out["mean"].astype(float)
    out["sd"] = out["sd"].astype(float)
    return out[[*by, "n", "mean", "sd"]]


def completers(data: pd.DataFrame, dv: str = "score", within: str = "wave",
               subject: str = "student_id", levels: list | None = None) -> pd.DataFrame:
    """Rows of subjects who have a ``dv`` value at every level of ``within``.

    ``levels`` defaults to the levels observed in ``data`` (so for an outcome measured
    only at T2, everyone scored at T2 is a completer).
    """
    d = data[data[dv].notna()]
    if levels is None:
        levels = list(pd.unique(d[within]))
    d = d[d[within].isin(levels)]
    n_levels = d.groupby(subject, sort=False, observed=True)[within].nunique()
    keep = n_levels.index[n_levels.to_numpy() == len(levels)]
    return d[d[subject].isin(keep)]


def descriptives_table(long: pd.DataFrame, dv: str = "score", outcome: str = "outcome",
                       between: str = "condition", within: str = "wave",
                       subject: str = "student_id") -> pd.DataFrame:
    """The contract table ``descriptives`` from the standard long frame.

    For each outcome (in order of first appearance) two samples: ``completers`` —
    pupils scored on that outcome at every wave at which it was measured (the
    mixed-ANOVA sample) — and ``available`` — every score present. Columns:
    ``outcome, sample, condition, wave, n, mean, sd`` (SD with n − 1).
    """
    missing = [c for c in (dv, outcome, between, within, subject) if c not in long.columns]
    if missing:
        raise StudyError(f"descriptives: column(s) {missing} not found in the data")
    parts = []
    for out_name in pd.unique(long[outcome]):
        d = long[long[outcome] == out_name]
        for sample, sub in (("completers", completers(d, dv, within, subject)),
                            ("available", d)):
            t = descriptives(sub, dv=dv, by=(between, within))
            t.insert(0, "sample", sample)
            t.insert(0, "outcome", out_name)
            parts.append(t)
    cols = ["outcome", "sample", between, within, "n", "mean", "sd"]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    return out.rename(columns={between: "condition", within: "wave"})[
        ["outcome", "sample", "condition", "wave", "n", "mean", "sd"]]
