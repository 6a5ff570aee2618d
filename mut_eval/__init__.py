"""mut_eval — quasi-experimental evaluation of school mentoring programmes.

The flow runs one way (see ``design/architecture.md``)::

    study folder --load--> raw tables --validate--> clean tables --score/derive--> Panel
    Panel --analyses--> Results --write--> tables, results.json, results.xlsx --report--> PDF
"""

__version__ = "0.1.0"

WAVES = ("T1", "T2", "T3")
CONDITIONS = ("mentee", "control")
#: Changes and difference-in-differences contrasts, later minus earlier wave.
CHANGES = ("T2-T1", "T3-T1", "T3-T2")


def is_missing(value) -> bool:
    """True for None, NaN, pandas' NA/NaT: a cell without a value."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # e.g. pd.NA in a boolean context
        return True


#: Longest label (study name, scale label) printed in a figure or the report: a label of
#: thousands of characters would make the layout run for minutes.
MAX_LABEL = 120


def short_label(text, limit: int = MAX_LABEL) -> str:
    """``text`` as one printable label of at most ``limit`` characters (cut with "…")."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1].rstrip() + "…"


class StudyError(Exception):
    """A problem a user can fix in their input; the CLI prints it and exits with code 2."""
