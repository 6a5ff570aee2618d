"""The Results bundle (named tidy tables + meta) and its writers.

Layout of an output folder (contract section 4)::

    OUT/results.json   {"meta": {...}, "tables": {NAME: [row objects]}}
    OUT/tables/NAME.csv
    OUT/results.xlsx   one sheet per table
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .disclosure import round_for_staff, staff_view


@dataclass
class Results:
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def __contains__(self, name: str) -> bool:
        return name in self.tables

    @classmethod
    def read(cls, out_dir: str | Path) -> "Results":
        """Read a results folder written by :func:`write_results`."""
        raw = json.loads((Path(out_dir) / "results.json").read_text(encoding="utf-8"))
        tables = {k: pd.DataFrame(v) for k, v in raw["tables"].items()}
        return cls(tables=tables, meta=raw["meta"])


def _jsonable(value):
    if value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return None if math.isnan(v) or math.isinf(v) else v
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def table_records(df: pd.DataFrame) -> list[dict]:
    """Rows of a table as JSON-ready dicts: numbers stay numbers, missing becomes None."""
    cols = [str(c) for c in df.columns]
    return [{c: _jsonable(v) for c, v in zip(cols, row)} for row in df.itertuples(index=False, name=None)]


def write_results(results: Results, out_dir: str | Path, staff_min_cell: int | None = None) -> Path:
    """Write ``results.json``, ``tables/*.csv`` and ``results.xlsx`` into ``out_dir``.

    Floats are written with full precision (``repr``), so the same inputs and seed give
    byte-identical files. With ``staff_min_cell`` the workbook is the staff edition
    (:func:`mut_eval.disclosure.staff_view`: small groups, the statistics computed from
    them and the counts they could be recomputed from are suppressed; comparisons with a
    small group and pupil-level sheets are left out; statistics rounded to 3 decimals); the
    CSV and JSON files stay complete for researchers.
    """
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    payload = {"meta": _jsonable(results.meta),
               "tables": {name: table_records(df) for name, df in results.tables.items()}}
    (out / "results.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                                      encoding="utf-8")
    for name, df in results.tables.items():
        df.to_csv(out / "tables" / f"{name}.csv", index=False, lineterminator="\n")
    book = results.tables
    if staff_min_cell is not None:
        book = {name: round_for_staff(df) for name, df in staff_view(results, staff_min_cell).tables.items()}
    with pd.ExcelWriter(out / "results.xlsx", engine="openpyxl") as xl:
        for name, df in book.items():
            # Excel sheet names are limited to 31 characters.
            df.to_excel(xl, sheet_name=name[:31], index=False)
    return out


class atomic_dir:
    """Write a folder completely or not at all: work in a temporary sibling folder and
    move it into place on success, so a failed run never leaves half-written output.

    >>> with atomic_dir("reports/x") as tmp:   # doctest: +SKIP
    ...     write_results(results, tmp)
    """

    def __init__(self, target: str | Path):
        self.target = Path(target)

    def __enter__(self) -> Path:
        import tempfile
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        return self.tmp

    def __exit__(self, exc_type, exc, tb):
        import shutil
        if exc_type is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if self.target.exists():
            old = self.target.with_name(f".{self.target.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            self.target.rename(old)
            self.tmp.rename(self.target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            self.tmp.rename(self.target)
        return False
