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

from .outfolder import atomic_dir  # noqa: F401  (re-exported: the writers' home)
from .privacy import suppress_small_cells


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
    byte-identical files. With ``staff_min_cell`` the workbook is the staff edition:
    groups of fewer than that many pupils are suppressed in every sheet
    (:func:`mut_eval.privacy.suppress_small_cells`); the CSV and JSON files stay complete
    for researchers.
    """
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    payload = {"meta": _jsonable(results.meta),
               "tables": {name: table_records(df) for name, df in results.tables.items()}}
    (out / "results.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                                      encoding="utf-8")
    for name, df in results.tables.items():
        df.to_csv(out / "tables" / f"{name}.csv", index=False, lineterminator="\n")
    with pd.ExcelWriter(out / "results.xlsx", engine="openpyxl") as xl:
        for name, df in results.tables.items():
            # Excel sheet names are limited to 31 characters.
            if staff_min_cell is not None:
                df = suppress_small_cells(df, staff_min_cell)
            df.to_excel(xl, sheet_name=name[:31], index=False)
    return out
