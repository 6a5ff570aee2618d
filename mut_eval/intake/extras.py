"""Two study-level additions to the tables: ``exclusions.csv`` and the declared ``variables``.

``exclusions.csv`` (or ``.xlsx``), next to ``study.yaml``, lists pupils to leave out
before any analysis, each with a reason (moved school, consent withdrawn, ...):

=============  ===========================================================================
column         meaning
=============  ===========================================================================
``student_id`` the pupil, as in the students file (``ids`` settings apply to it too)
``wave``       optional: ``T1``, ``T2`` or ``T3`` leaves out that questionnaire only;
               blank leaves out the pupil (every file)
``reason``     required; shown in the ``accounting`` table (keep it short, and free of
               names: it is written to the results). Any word with 3 or more digits
               (an identifier, a date, a phone number) is shown as ``#``
=============  ===========================================================================

Every row left out is listed in the accounting with the reason; pupils left out whole are
counted per condition in the flow (stage ``excluded``).

The declared ``variables`` (see :class:`~mut_eval.intake.settings.VariableSpec`) are
checked here (type, range, levels) and turned into one value per pupil.
"""
from __future__ import annotations

import re

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import WAVES
from .io import TableError, read_table, to_number
from .repairs import near_match, normalise_code, normalise_id
from .settings import StudySettings, VariableSpec

REASON_MAX = 80


@dataclass(frozen=True)
class Exclusion:
    row: int
    student_id: str
    wave: str | None
    reason: str


# A reason is free text written to the results: a token with 3+ digits may be a pupil
# number, a date of birth or a phone number, so it is never carried over.
_ID_LIKE = re.compile(r"[^\s()\[\],;:]*\d[^\s()\[\],;:]*\d[^\s()\[\],;:]*\d[^\s()\[\],;:]*")


def read_exclusions(path: Path, settings: StudySettings, add) -> list[Exclusion]:
    """The rows of ``exclusions.csv``; problems go to ``add(file, row, column, value, rule[, severity])``."""
    try:
        raw = read_table(path, "exclusions")
    except TableError as e:
        add(e.file, e.row, e.column, e.value, e.rule)
        return []
    df = raw.data.copy()
    df.columns = [str(c).strip().casefold() for c in df.columns]
    for col in ("student_id", "reason"):
        if col not in df.columns:
            add(raw.file, 1, col, None, "required column is missing from the header (student_id, reason; "
                "optional wave)")
            return []
    other = [c for c in df.columns if c not in ("student_id", "wave", "reason")]
    if other:
        add(raw.file, 1, ", ".join(other), None, "column(s) not used", "warning")
    out = []
    for r, rec in zip(raw.rows, df.to_dict("records")):
        sid = normalise_id(rec["student_id"], settings.ids.pad, settings.ids.strip)
        wave = rec.get("wave")
        reason = rec["reason"]
        if sid is None:
            add(raw.file, r, "student_id", None, "a value is required here")
            continue
        if reason is None:
            add(raw.file, r, "reason", None, "give the reason for leaving this pupil out")
            continue
        if wave is not None:
            wave = str(wave).strip().upper().removeprefix("WAVE_")
            if wave not in WAVES:
                add(raw.file, r, "wave", rec.get("wave"), f"must be one of {', '.join(WAVES)} or blank (the whole pupil)")
                continue
        reason = " ".join(_ID_LIKE.sub("#", str(reason)).split())
        out.append(Exclusion(int(r), sid, wave, reason[:REASON_MAX]))
    return out


def apply_exclusions(exclusions: list[Exclusion], file: str, tables: dict[str, pd.DataFrame],
                     files: dict[str, str], add) -> list[dict]:
    """Remove the excluded rows from ``tables`` (frames indexed by file row, in place) and
    return one record per removed row: ``file, row, reason, kind, condition, wave``."""
    students = tables.get("students")
    if students is None:
        return []
    known = list(students["student_id"].dropna())
    cond = dict(zip(students["student_id"], students.get("condition", pd.Series(index=students.index))))
    dropped = []
    for ex in exclusions:
        if ex.student_id not in cond:
            guess = near_match(ex.student_id, known)
            hint = f" — did you mean {guess[0]!r} in {files['students']}? {guess[1]}" if guess else ""
            add(file, ex.row, "student_id", ex.student_id, f"pupil is not in {files['students']}{hint}")
            continue
        names = [f"wave_{ex.wave}"] if ex.wave else list(tables)
        hit = False
        for name in names:
            df = tables.get(name)
            if df is None or "student_id" not in df.columns:
                continue
            rows = df.index[df["student_id"] == ex.student_id]
            for r in rows:
                dropped.append({"file": files[name], "row": int(r), "kind": "excluded",
                                "reason": f"{file} row {ex.row}: {ex.reason}", "condition": cond[ex.student_id],
                                "wave": ex.wave, "whole_pupil": ex.wave is None and name == "students"})
            if len(rows):
                hit = True
                tables[name] = df.drop(index=rows)
        if not hit:
            add(file, ex.row, "wave", ex.wave, f"the pupil has no row in {files.get(names[0], names[0])}; "
                "nothing to leave out", "warning")
    return dropped


def variable_values(spec: VariableSpec, df: pd.DataFrame, file: str, add) -> pd.Series:
    """The checked values of one declared variable, indexed by file row: numbers for a
    numeric variable, codes (lower case, spaces as ``_``) for a categorical one."""
    values = df[spec.name]
    where = f"(study.yaml variables.{spec.name})"
    if spec.type == "numeric":
        x = to_number(values)
        bad = values.notna() & x.isna()
        for r, v in values[bad].items():
            add(file, r, spec.column, v, f"must be a number {where}")
        for bound, side in ((spec.min, "below"), (spec.max, "above")):
            if bound is None:
                continue
            out_of = (x < bound) if side == "below" else (x > bound)
            for r, v in values[out_of.fillna(False)].items():
                add(file, r, spec.column, v, f"is {side} the {'min' if side == 'below' else 'max'} of {bound:g} {where}")
        return x
    codes = values.map(lambda v: None if v is None else normalise_code(v))
    if spec.levels:
        allowed = [normalise_code(v) for v in spec.levels]
        for r, v, c in zip(values.index, values, codes):
            if c is not None and c not in allowed:
                add(file, r, spec.column, v, f"is not one of the levels {', '.join(spec.levels)} {where}")
    return codes.astype(object)


def declared_columns(variables: dict[str, VariableSpec], table: str) -> dict[str, str]:
    """Source column -> variable name, for the variables read from one table."""
    return {v.column: n for n, v in variables.items()
            if v.file == table or (v.file.startswith("wave_") and table == v.file)}
