"""Problems found in a study: each names the file, the row as numbered in that file, the
column and the value; many failures of one rule are said once, with the count, the first
rows and a hint at the study.yaml setting that may repair them."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from .. import StudyError, is_missing
from .io import to_number
from .repairs import looks_day_first


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    value: object
    rule: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.value is not None:
            parts.append(f"value {_shorten(self.value)}")
        return f"{self.severity.upper()}: " + ", ".join(parts) + f": {self.rule}"


def _shorten(value, limit: int = 60) -> str:
    """The value as typed (``repr``), cut short when it would flood the message."""
    text = str(value)
    if len(text) <= limit:
        return repr(value)
    return repr(text[:limit]) + f"... ({len(text):,} characters)"


class ValidationFailed(StudyError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        files = list(dict.fromkeys(p.file for p in problems))
        # reported file by file (in the order met) and row by row, as a user works through them
        errors = sorted((p for p in problems if p.severity == "error"),
                        key=lambda p: (files.index(p.file), -1 if p.row is None else p.row))
        super().__init__(f"{len(errors)} problem(s) in the study:\n" + "\n".join(str(p) for p in errors))


class _Collector:
    def __init__(self):
        self.problems: list[Problem] = []

    def add(self, file, row, column, value, rule, severity="error"):
        if is_missing(value):
            value = None
        self.problems.append(Problem(file, None if row is None else int(row), column, value, rule, severity))

    @property
    def n_errors(self):
        return sum(p.severity == "error" for p in self.problems)


def _rows_note(rows, first: int = 5) -> str:
    rows = list(rows)
    if len(rows) <= 1:
        return ""
    shown = ", ".join(str(r) for r in rows[:first])
    return f" (rows {shown}{', ...' if len(rows) > first else ''})"


GROUP_AT = 5  # this many failures of one rule (one value) are said once, with the count


def _report_failures(file: str, failures: list[tuple], out: _Collector) -> None:
    """Report schema failures, one line per cell — or, when many cells break one rule,
    once with the count, the first rows and a hint (``value 9 in 103 cells of ZE_1..ZE_9
    ... is 9 a missing code?``)."""
    by_value: dict = {}
    for f in failures:
        if f[2] is not None:
            by_value.setdefault((f[3], str(f[2])), []).append(f)
    grouped = set()
    for (rule, value), fs in by_value.items():  # one value breaking one rule across columns
        if len(fs) >= GROUP_AT and len({f[1] for f in fs}) > 1:
            _say_group(file, fs, rule, f"value {value!r} in {len(fs)} cells", value, out, True)
            grouped.update(map(id, fs))
    by_column: dict = {}
    for f in failures:
        if id(f) not in grouped:
            by_column.setdefault((f[1], f[3]), []).append(f)
    for (col, rule), fs in by_column.items():
        values = {str(f[2]) for f in fs}
        if len(fs) >= GROUP_AT and len(values) == 1 and fs[0][2] is not None:
            _say_group(file, fs, rule, f"value {fs[0][2]!r} in {len(fs)} cells", fs[0][2], out, True)
        elif len(fs) >= GROUP_AT:
            _say_group(file, fs, rule, f"{len(fs)} cells", fs[0][2], out)
        else:
            for row, c, value, r in fs:
                out.add(file, row, c, value, r + _hint(r, value))


def _say_group(file, fs, rule, what, value, out, same_value=False):
    rows = sorted({f[0] for f in fs if f[0] is not None})
    cols = list(dict.fromkeys(str(f[1]) for f in fs))
    span = cols[0] if len(cols) == 1 else (f"{cols[0]}..{cols[-1]}" if len(cols) > 2 else ", ".join(cols))
    shown = ", ".join(map(str, rows[:5])) + (", ..." if len(rows) > 5 else "")
    out.add(file, rows[0] if rows else None, span, value,
            f"{rule} — {what} of {span} (rows {shown}){_hint(rule, value, same_value)}")


def _hint(rule: str, value, many: bool = False) -> str:
    if value is None:
        return ""
    if rule.startswith("must be a date") and looks_day_first(value):
        return ' — a day-first date? set dates: {format: "%d-%m-%Y"} in study.yaml (see dates in the README)'
    if many and rule.startswith("must be a") and "number" in rule and to_number(pd.Series([str(value)])).notna().iloc[0]:
        return f" — is {value} a missing code? see missing_codes in the README"
    return ""
