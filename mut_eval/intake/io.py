"""Reading study tables: CSV (``,``/``;``/tab/``|``; UTF-8 with or without BOM, UTF-16 with
BOM as Excel's "Unicode text", Windows-1252 with a warning; an Excel ``sep=`` first line),
XLSX, SAV.

Every table is read as text (``str`` cells, missing = NA) so that validation can report
the value exactly as the user typed it. Each row keeps its number as the user sees it:
the row in a CSV file as a spreadsheet shows it (header = 1, first data row = 2; a blank
line counts, a quoted cell with a line break in it stays one row), the row in an Excel
sheet, the case number in an SPSS file (first case = 1).

A file that cannot be read as a table raises :class:`TableError`, a :class:`StudyError`
that carries the file, row, column and value it is about.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import StudyError, is_missing


class TableError(StudyError):
    """A file that cannot be read as a table, located as precisely as possible."""

    def __init__(self, file: str, rule: str, row: int | None = None, column: str | None = None,
                 value: object = None):
        self.file, self.rule, self.row, self.column, self.value = file, rule, row, column, value
        where = [file] + ([f"row {row}"] if row is not None else []) + (
            [f"column {column}"] if column is not None else []) + (
            [f"value {value!r}"] if value is not None else [])
        super().__init__(", ".join(where) + ": " + rule)


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
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):  # Excel's "Unicode text" export is UTF-16 with a BOM
        try:
            return raw.decode("utf-16"), "utf-16", []
        except UnicodeDecodeError as e:
            raise TableError(path.name, f"starts as UTF-16 text but is not ({e.reason} at byte {e.start}); "
                             "save it again as CSV UTF-8") from None
    if b"\x00" in raw[:4096] or raw[:4] == b"PK\x03\x04":
        raise TableError(path.name, "this is not a text (CSV) file — it contains binary data. "
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
        raise TableError(path.name, "cannot find a column separator in the header "
                         f"(expected ',', ';', tab or '|'): {header[:80]!r}", row=1)
    return best


def read_csv(path: Path, name: str) -> RawTable:
    raw = _read_bytes(path)
    if not raw.strip():
        raise TableError(path.name, "the file is empty (no header, no rows)")
    text, enc, notes = _decode(raw, path)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    header = text.split("\n", 1)[0]
    hint = re.fullmatch(r"\s*sep=(.)\s*", header)
    if hint:  # Excel's separator line; Excel hides it, so the header stays row 1
        text = text.split("\n", 1)[1] if "\n" in text else ""
        if not text.strip():
            raise TableError(path.name, "the file has only a 'sep=' line (no header, no rows)")
        delim = hint.group(1)
    else:
        delim = _sniff_delimiter(header, path)
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    try:
        lines = list(reader)
    except csv.Error as e:
        raise TableError(path.name, f"broken CSV ({e})", row=reader.line_num) from None
    columns = [c.strip() for c in lines[0]]
    body, rownums = [], []
    for i, cells in enumerate(lines[1:], start=2):
        if not any(c.strip() for c in cells):
            continue  # blank line
        if len(cells) != len(columns):
            raise TableError(path.name, f"{len(cells)} cell{'s' * (len(cells) != 1)} where the header has {len(columns)} "
                             f"columns (separator {delim!r}); check for a stray separator or quote", row=i)
        body.append(cells)
        rownums.append(i)
    df = pd.DataFrame(body, columns=range(len(columns)), dtype=object)
    df.columns = columns
    return RawTable(name, path, _drop_unnamed_empty(_clean_cells(df)), np.array(rownums, dtype=int), enc,
                    delim, notes=notes)


def _drop_unnamed_empty(df: pd.DataFrame) -> pd.DataFrame:
    """Drop columns with neither a name nor a value: a separator at the end of every line,
    or cells Excel counts as used. (An unnamed column *with* values is kept and reported.)"""
    keep = [i for i, c in enumerate(df.columns) if c != "" or df.iloc[:, i].notna().any()]
    return df.iloc[:, keep] if len(keep) < df.shape[1] else df


def read_xlsx(path: Path, name: str) -> RawTable:
    """Read the first sheet that holds data (with a note when that is not the first sheet
    or more sheets hold data). A formula is read as the value Excel stored beside it; a
    formula without a stored value (a workbook written by a script and never opened in
    Excel) cannot be read and is reported."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, data_only=True)
    except Exception as e:  # zipfile.BadZipFile, KeyError, lxml errors, ...: a damaged workbook
        raise TableError(path.name, f"cannot read this Excel file ({type(e).__name__}: {e}); "
                         "is it a complete .xlsx saved by Excel?") from None
    grids = {ws.title: [list(r) for r in ws.iter_rows(min_row=1, min_col=1, values_only=True)]
             for ws in wb.worksheets}
    filled = [t for t, g in grids.items() if any(v is not None for r in g for v in r)]
    if not filled:
        raise TableError(path.name, "the workbook has no data on any sheet")
    title, notes = filled[0], []
    if title != wb.worksheets[0].title or len(filled) > 1:
        others = [t for t in filled[1:]]
        notes.append(f"{path.name}: read sheet {title!r}, the first sheet with data"
                     + (f"; sheet(s) {', '.join(map(repr, others))} not used" if others else ""))
    grid = grids[title]
    top = next(i for i, r in enumerate(grid) if any(v is not None for v in r))
    header = ["" if v is None else str(v).strip() for v in grid[top]]
    body = [(i + 1, r) for i, r in enumerate(grid[top + 1:], start=top + 1) if any(v is not None for v in r)]
    unreadable = [(n, c, v) for n, r in body for c, v in enumerate(r) if v is None]
    if unreadable:
        _no_cached_values(path, title, header, unreadable)
    df = pd.DataFrame([r for _, r in body], columns=range(len(header)), dtype=object)
    df.columns = header
    rows = np.array([n for n, _ in body], dtype=int)
    return RawTable(name, path, _drop_unnamed_empty(_clean_cells(df.map(_excel_cell))), rows, notes=notes)


def _no_cached_values(path: Path, title: str, header: list[str], empty: list[tuple]) -> None:
    """Raise for formula cells that have no stored value (they would silently read as empty)."""
    import openpyxl

    ws = openpyxl.load_workbook(path, data_only=False)[title]
    found = [(n, c, ws.cell(row=n, column=c + 1).value) for n, c, _ in empty]
    found = [(n, c, f) for n, c, f in found if isinstance(f, str) and f.startswith("=")]
    if found:
        n, c, f = found[0]
        more = f" ({len(found)} such cells)" if len(found) > 1 else ""
        raise TableError(path.name, "the cell holds a formula without a computed value (the workbook was "
                         "not saved by Excel); open and save it in Excel, or paste the values" + more,
                         row=n, column=header[c] if c < len(header) else None, value=f)


def _excel_cell(v):
    if is_missing(v):
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
        raise TableError(path.name, f"cannot read this SPSS file ({type(e).__name__}: {e})") from None
    df.columns = [str(c).strip() for c in df.columns]
    labels = {str(k): dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    return RawTable(name, path, _clean_cells(df.map(_excel_cell)), np.arange(len(df)) + 1,
                    value_labels=labels)


def _clean_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Strip white space; empty cells and common missing markers become NA."""
    def clean(v):
        if is_missing(v):
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
        raise TableError(path.name, f"unsupported file type '{path.suffix}' (use .csv, .xlsx or .sav)")
    if not path.is_file():
        raise TableError(path.name, "file not found")
    _read_bytes(path, 1)  # a locked or unreadable file: say so before any reader trips on it
    return reader(path, name or path.stem)


def _read_bytes(path: Path, n: int | None = None) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read() if n is None else f.read(n)
    except OSError as e:  # PermissionError when Excel has the file open (Windows), I/O errors
        raise TableError(path.name, f"cannot open the file ({type(e).__name__}: {e.strerror or e}); "
                         "is it open in another program, e.g. Excel?") from None


def to_number(values: pd.Series) -> pd.Series:
    """Parse text to float, accepting a decimal comma ("3,5") as Dutch Excel writes it.
    Non-numbers become NaN (validation reports them before this is used)."""
    s = values.astype(object).where(values.notna(), None)
    s = s.map(lambda v: v.replace(",", ".") if isinstance(v, str) and v.count(",") == 1 and "." not in v else v)
    return pd.to_numeric(s, errors="coerce").astype(float)
