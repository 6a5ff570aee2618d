"""The Results bundle (named tidy tables + meta) and its writers.

Layout of an output folder (contract section 4)::

    OUT/results.json   {"meta": {...}, "tables": {NAME: [row objects]}}
    OUT/tables/NAME.csv
    OUT/results.xlsx   one sheet per table
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .disclosure import round_for_staff, staff_view
from .outfolder import atomic_dir  # noqa: F401  (re-exported: the writers' home)


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


# A text cell that starts with one of these is run as a formula by Excel, LibreOffice and
# Google Sheets when a CSV is opened (OWASP, "CSV Injection"): =HYPERLINK(...) in a scale
# key or a file name would become a live link or command.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")


def defuse_text(value):
    """A text value that a spreadsheet would run as a formula, prefixed with ``'`` (OWASP's
    advice; spreadsheets hide the quote); numbers, and text that is a plain number such
    as ``-0.5``, are left as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell and column name passed through :func:`defuse_text`;
    numeric columns are not touched."""
    text_cols = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
    out = df.copy() if text_cols else df
    for c in text_cols:
        out[c] = df[c].map(defuse_text, na_action="ignore")
    return out.rename(columns=lambda c: defuse_text(c) if isinstance(c, str) else c)


def write_csv(df: pd.DataFrame, path: Path) -> None:
    """A table as CSV for spreadsheets and statistics programs: no text cell can start a formula."""
    spreadsheet_safe(df).to_csv(path, index=False, lineterminator="\n")


def write_sheet(xl: pd.ExcelWriter, sheet: str, df: pd.DataFrame) -> None:
    """A table as a sheet of an openpyxl workbook, every text cell stored as text: openpyxl
    stores a string that starts with ``=`` as a formula, which Excel would run."""
    df.to_excel(xl, sheet_name=sheet, index=False)
    for row in xl.sheets[sheet].iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


#: a table with more rows goes to CSV only (an xlsx sheet ends at 1,048,576 rows, and a
#: sheet of this size is unreadable anyway); ``results.xlsx`` lists it in :data:`LARGE_SHEET`
SHEET_ROWS_MAX = 100_000
LARGE_SHEET = "large_tables"


def write_results(results: Results, out_dir: str | Path, staff_min_cell: int | None = None) -> Path:
    """Write ``results.json``, ``tables/*.csv`` and ``results.xlsx`` into ``out_dir``.

    Floats are written with full precision (``repr``), so the same inputs and seed give
    byte-identical files. With ``staff_min_cell`` the workbook is the staff edition
    (:func:`mut_eval.disclosure.staff_view`: small groups, the statistics computed from
    them and the counts they could be recomputed from are suppressed; comparisons with a
    small group and pupil-level sheets are left out; statistics rounded to 3 decimals); the
    CSV and JSON files stay complete for researchers. A table of more than
    :data:`SHEET_ROWS_MAX` rows is not a sheet: the sheet ``large_tables`` says which CSV
    holds it (a cohort of ~20,000 pupils has ~100,000 rows of ``accounting``).
    """
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    payload = {"meta": _jsonable(results.meta),
               "tables": {name: table_records(df) for name, df in results.tables.items()}}
    (out / "results.json").write_text(json.dumps(payload, indent=1, ensure_ascii=False, allow_nan=False) + "\n",
                                      encoding="utf-8")
    for name, df in results.tables.items():
        write_csv(df, out / "tables" / f"{name}.csv")
    book = results.tables
    if staff_min_cell is not None:
        book = {name: round_for_staff(df) for name, df in staff_view(results, staff_min_cell).tables.items()}
    large = [(name, len(df)) for name, df in book.items() if len(df) > SHEET_ROWS_MAX]
    with pd.ExcelWriter(out / "results.xlsx", engine="openpyxl") as xl:
        for name, df in book.items():
            if len(df) <= SHEET_ROWS_MAX:
                # Excel sheet names are limited to 31 characters.
                write_sheet(xl, name[:31], df)
        if large:
            write_sheet(xl, LARGE_SHEET, pd.DataFrame(
                [{"table": name, "rows": n, "file": f"tables/{name}.csv",
                  "note": f"more than {SHEET_ROWS_MAX:,} rows: in the CSV file (and results.json) only"}
                 for name, n in large]))
    return out
