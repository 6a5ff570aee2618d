"""Level order shared by the analyses: mentee before control, T1 before T2 before T3."""
from __future__ import annotations

import pandas as pd


def ordered_levels(values: pd.Series, preferred: tuple[str, ...] | None) -> list:
    """Observed levels in the project order (mentee, control; T1, T2, T3) when they are
    among those, so contrasts read mentee − control whatever the input dtype; else a
    categorical's order; else sorted."""
    present = list(pd.unique(values.dropna()))
    if preferred and set(present) <= set(preferred):
        return [p for p in preferred if p in present]
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [c for c in values.cat.categories if c in set(present)]
    return sorted(present, key=str)
