"""Reading study tables: CSV (``,``/``;``/tab, UTF-8 with or without BOM), XLSX, SAV.

Every table is read as text (``str`` cells, missing = NA) so that validation can report
the value exactly as the user typed it. Each row keeps its number as the user sees it:
the line in a CSV file and the row in an Excel sheet (header = 1, first data row = 2),
the case number in an SPSS file (first case = 1).
"""
from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import StudyError


@dataclass
class RawTable:
    name: str                       # logical name: students, wave_T1, ...
    path: Path
    data: pd.DataFrame              # all cells str or NA; original column names
    rows: np.ndarray                # row number in the file, per data row
    encoding: str = "utf-8"
    delimiter: str | None = None
    value_labels: dict[str, dict] = field(default_factory=dict)   # SPSS column -> {code: label}
    notes: list[str] = field(default_factory=list)                # e.g. an encoding fallback

    @property
    def file(self) -> str:
        return self.path.name


def _decode(raw: bytes, path: Path) -> tuple[str, str, list[str]]:
    if b"\x00" in raw[:4096]:
        raise StudyError(f"{path.name}: this is not a text (CSV) file — it contains binary data. "
                         "Export the table as CSV (UTF-8), XLSX or SAV.")
    try:
        return raw.decode("utf-8-sig"), "utf-8", []
    except UnicodeDecodeError as e:
        # Excel on Windows saves "CSV" as Windows-1252; read it as such and say so, rather
        # than produce mojibake (é read as Ã©) or refuse a file that is otherwise fine.
        line = raw[: e.start].count(b"\n") + 1
        try:
            text = raw.decode("cp1252")
            enc = "cp1252"
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
            enc = "latin-1"
        return text, enc, [f"{path.name}: not UTF-8 (first non-UTF-8 byte on line {line}); "
                           f"read as {enc} (Windows/Latin-1). Save as 'CSV UTF-8' to silence this."]


def _sniff_delimiter(header: str, path: Path) -> str:
    counts = {d: header.count(d) for d in (";", ",", "\t", "|")}
    best = max(counts, key=counts.get)
    if counts[best] == 0:
        raise StudyError(f"{path.name}, row 1: cannot find a column separator in the header "
                         f"(expected ',' or ';'): {header[:80]!r}")
    return best


def read_csv(path: Path, name: str) -> RawTable:
    raw = path.read_bytes()
    if not raw.strip():
        raise StudyError(f"{path.name}: the file is empty (no header, no rows)")
    text, enc, notes = _decode(raw, path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header = text.split("\n", 1)[0]
    delim = _sniff_delimiter(header, path)
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        lines = list(reader)
    except csv.Error as e:
        raise StudyError(f"{path.name}, row {reader.line_num}: broken CSV ({e})") from None
    columns = [c.strip() for c in lines[0]]
    body, rownums = [], []
    for i, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(columns):
            raise StudyError(f"{path.name}, row {i}: {len(cells)} cells where the header has "
                             f"{len(columns)} columns (separator '{delim}'); check for a stray "
                             f"separator or quote")
        body.append(cells)
        rownums.append(i)
    df = pd.DataFrame(body, columns=range(len(columns)), dtype=object)
    df.columns = columns
    return RawTable(name, path, _clean_cells(df), np.array(rownums, dtype=int), enc, delim, notes=notes)


def read_xlsx(path: Path, name: str) -> RawTable:
    try:
        df = pd.read_excel(path, sheet_name=0, dtype=object, header=0, engine="openpyxl")
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, EOFError) as e:
        raise StudyError(f"{path.name}: cannot read this Excel file ({type(e).__name__}: {e}); "
                         "is it a complete .xlsx saved by Excel?") from None
    except Exception as e:  # openpyxl raises assorted errors on damaged workbooks
        raise StudyError(f"{path.name}: cannot read this Excel file ({type(e).__name__}: {e})") from None
    df.columns = [str(c).strip() for c in df.columns]
    rows = np.arange(len(df)) + 2
    keep = ~df.isna().all(axis=1).to_numpy()
    df = df.loc[keep].reset_index(drop=True)
    return RawTable(name, path, _clean_cells(df.map(_excel_cell)), rows[keep])


def _excel_cell(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, pd.Timestamp) or hasattr(v, "isoformat"):
        s = v.isoformat()
        return s[:10] if s.endswith("T00:00:00") or len(s) == 10 else s
    return str(v)


def read_sav(path: Path, name: str) -> RawTable:
    import pyreadstat

    try:
        df, meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    except Exception as e:  # pyreadstat.ReadstatError and friends
        raise StudyError(f"{path.name}: cannot read this SPSS file ({type(e).__name__}: {e})") from None
    df.columns = [str(c).strip() for c in df.columns]
    labels = {str(k): dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    return RawTable(name, path, _clean_cells(df.map(_excel_cell)), np.arange(len(df)) + 1,
                    value_labels=labels)


def _clean_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Strip white space; empty cells and common missing markers become NA."""
    def clean(v):
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return None
        s = str(v).strip()
        return None if s == "" or s.upper() in {"NA", "N/A", "NAN", "NULL", "#N/A", "."} else s
    out = df.map(clean).astype(object)
    return out.where(out.notna(), None)


READERS = {".csv": read_csv, ".txt": read_csv, ".xlsx": read_xlsx, ".sav": read_sav}


def read_table(path: str | Path, name: str | None = None) -> RawTable:
    """Read one study table by its file extension (``.csv``, ``.xlsx`` or ``.sav``)."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise StudyError(f"{path.name}: unsupported file type '{path.suffix}' (use .csv, .xlsx or .sav)")
    if not path.exists():
        raise StudyError(f"{path}: file not found")
    return reader(path, name or path.stem)


def to_number(values: pd.Series) -> pd.Series:
    """Parse text to float, accepting a decimal comma ("3,5") as Dutch Excel writes it.
    Non-numbers become NaN (validation reports them before this is used)."""
    s = values.astype(object).where(values.notna(), None)
    s = s.map(lambda v: v.replace(",", ".") if isinstance(v, str) and v.count(",") == 1 and "." not in v else v)
    return pd.to_numeric(s, errors="coerce").astype(float)
