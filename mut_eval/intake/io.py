"""Reading study tables: CSV (``,``/``;``/tab/``|``; UTF-8 with or without BOM, UTF-16 with
BOM as Excel's "Unicode text", Windows-1252 with a warning; an Excel ``sep=`` first line),
XLSX, SAV.

Every table is read as text (``str`` cells, missing = NA) so that validation can report
the value exactly as the user typed it. Each row keeps its number as the user sees it:
the row in a CSV file as a spreadsheet shows it (header = 1, first data row = 2; a blank
line counts, a quoted cell with a line break in it stays one row), the row in an Excel
sheet, the case number in an SPSS file (first case = 1).

A file that cannot be read as a table raises :class:`TableError`, a :class:`StudyError`
that carries the file, row, column and value it is about. The content of a file that
does not read as the expected type is never echoed (it may be any file a link points to).

Every input is bounded, so that a small hostile or broken file ends in a message within
seconds instead of hanging or exhausting memory: only regular files are opened (not a
device such as ``/dev/zero``, a pipe or a folder, also behind a link), tables are at most
:data:`MAX_TABLE_BYTES` (an ``.xlsx`` also when unpacked) and :data:`MAX_COLUMNS`
columns, an Excel sheet is read by the cells that hold values (not by the range its
formatting claims), and YAML files (:func:`load_yaml`) are at most
:data:`MAX_CONFIG_BYTES` and may not use aliases (``*name``, the "billion laughs").
"""
from __future__ import annotations

import csv
import io
import os
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .. import StudyError, is_missing

#: Largest table file read (bytes; for an .xlsx also its unpacked worksheets).
MAX_TABLE_BYTES = 2 * 1024 ** 3
#: Most columns a table may have (the widest questionnaire export has a few hundred).
MAX_COLUMNS = 5000
#: Largest YAML file read (study.yaml, a codebook).
MAX_CONFIG_BYTES = 1024 ** 2


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
    if counts[best] == 0:  # the header is not echoed: the file may be anything (a link's target)
        raise TableError(path.name, "cannot find a column separator in the first line "
                         "(expected ',', ';', tab or '|'); is this a CSV table?", row=1)
    return best


def read_csv(path: Path, name: str) -> RawTable:
    raw = _read_bytes(path, limit=MAX_TABLE_BYTES)
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
    _check_width(path, len(columns))
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


def _sheets(path: Path, data_only: bool) -> tuple[list[str], dict[str, list[tuple[int, tuple]]]]:
    """Per sheet (in workbook order), the rows that hold a value: (row number, values up to
    the last value of that row). Read in openpyxl's streaming mode, which goes through
    the cells the file holds; the used range a sheet claims (one formatted empty cell at
    XFD1048576 claims 17 billion cells) is ignored."""
    import openpyxl

    try:
        with zipfile.ZipFile(path) as z:
            unpacked = sum(i.file_size for i in z.infolist())
        if unpacked > MAX_TABLE_BYTES:
            raise TableError(path.name, f"the workbook unpacks to {unpacked:,} bytes, more than the "
                             f"{MAX_TABLE_BYTES:,} mut_eval reads")
        wb = openpyxl.load_workbook(path, data_only=data_only, read_only=True)
    except TableError:
        raise
    except Exception as e:  # zipfile.BadZipFile, KeyError, lxml errors, ...: a damaged workbook
        raise TableError(path.name, f"cannot read this Excel file ({type(e).__name__}); "
                         "is it a complete .xlsx saved by Excel?") from None
    try:
        titles, grids = [], {}
        for ws in wb.worksheets:
            titles.append(ws.title)
            if not hasattr(ws, "reset_dimensions"):  # a chartsheet holds no cells
                grids[ws.title] = []
                continue
            rows = []
            for n, values in _value_cells(ws):
                last = max(values)
                _check_width(path, last)
                rows.append((n, tuple(values.get(k) for k in range(1, last + 1))))
            grids[ws.title] = rows
    except TableError:
        raise
    except Exception as e:
        raise TableError(path.name, f"cannot read this Excel file ({type(e).__name__}); "
                         "is it a complete .xlsx saved by Excel?") from None
    finally:
        wb.close()
    return titles, grids


def _value_cells(ws):
    """(row number, {column number: value}) for each row of a streamed worksheet that holds
    a value. This is openpyxl's own row parser (what ``ReadOnlyWorksheet.iter_rows`` runs),
    used directly because ``iter_rows`` pads every row to its last *formatted* cell and
    fills the gaps between rows: work proportional to the claimed range, not to the file."""
    from openpyxl.worksheet._reader import WorkSheetParser

    wb = ws.parent
    with ws._get_source() as src:
        parser = WorkSheetParser(src, ws._shared_strings, data_only=wb.data_only, epoch=wb.epoch,
                                 date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
        for n, cells in parser.parse():
            values = {c["column"]: c["value"] for c in cells if c["value"] is not None}
            if values:
                yield n, values


def read_xlsx(path: Path, name: str) -> RawTable:
    """Read the first sheet that holds data (with a note when that is not the first sheet
    or more sheets hold data). A formula is read as the value Excel stored beside it; a
    formula without a stored value (a workbook written by a script and never opened in
    Excel) cannot be read and is reported."""
    titles, grids = _sheets(path, data_only=True)
    filled = [t for t in titles if grids[t]]
    if not filled:
        raise TableError(path.name, "the workbook has no data on any sheet")
    title, notes = filled[0], []
    if title != titles[0] or len(filled) > 1:
        others = [t for t in filled[1:]]
        notes.append(f"{path.name}: read sheet {title!r}, the first sheet with data"
                     + (f"; sheet(s) {', '.join(map(repr, others))} not used" if others else ""))
    (top, header_row), rest = grids[title][0], grids[title][1:]
    header = ["" if v is None else str(v).strip() for v in header_row]
    width = max([len(header)] + [len(r) for _, r in rest])
    header += [""] * (width - len(header))
    body = [(n, r + (None,) * (width - len(r))) for n, r in rest]
    unreadable = [(n, c) for n, r in body for c, v in enumerate(r) if v is None]
    if unreadable:
        _no_cached_values(path, title, header, unreadable)
    df = pd.DataFrame([r for _, r in body], columns=range(width), dtype=object)
    df.columns = header
    rows = np.array([n for n, _ in body], dtype=int)
    return RawTable(name, path, _drop_unnamed_empty(_clean_cells(df.map(_excel_cell))), rows, notes=notes)


def _no_cached_values(path: Path, title: str, header: list[str], empty: list[tuple]) -> None:
    """Raise for formula cells that have no stored value (they would silently read as empty)."""
    _, grids = _sheets(path, data_only=False)
    cells = {n: r for n, r in grids[title]}
    found = [(n, c, cells[n][c]) for n, c in empty if n in cells and c < len(cells[n])]
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


MISSING_MARKERS = ("NA", "N/A", "NAN", "NULL", "#N/A", ".")


def map_distinct(values: pd.Series, fn) -> pd.Series:
    """``values.map(fn)`` with ``fn`` called once per distinct value (missing cells: ``fn(None)``):
    a code column of 20,000 pupils holds a handful of values."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [fn(u) for u in uniques]
    mapped[-1] = fn(None)
    return pd.Series(mapped[codes], index=values.index, name=values.name, dtype=object)


def _clean_cell(v):
    if is_missing(v):
        return None
    s = str(v).strip()
    return None if s == "" or s.upper() in MISSING_MARKERS else s


def _clean_cells(df: pd.DataFrame) -> pd.DataFrame:
    """Strip white space; empty cells and common missing markers (:data:`MISSING_MARKERS`,
    any case) become None. Each distinct value of a column is cleaned once (``factorize``):
    questionnaire items hold a handful of answers however many pupils answered."""
    cols = []
    for j in range(df.shape[1]):
        codes, uniques = pd.factorize(df.iloc[:, j], use_na_sentinel=True)
        cleaned = np.array([_clean_cell(u) for u in uniques] + [None], dtype=object)
        cols.append(cleaned[codes])     # code -1 (missing) takes the last entry, None
    out = pd.DataFrame(dict(enumerate(cols)), index=df.index, dtype=object)
    out.columns = df.columns
    return out


READERS = {".csv": read_csv, ".txt": read_csv, ".xlsx": read_xlsx, ".sav": read_sav}


def read_table(path: str | Path, name: str | None = None) -> RawTable:
    """Read one study table by its file extension (``.csv``, ``.xlsx`` or ``.sav``)."""
    path = Path(path)
    reader = READERS.get(path.suffix.lower())
    if reader is None:
        raise TableError(path.name, f"unsupported file type '{path.suffix}' (use .csv, .xlsx or .sav)")
    if not os.path.lexists(path):
        raise TableError(path.name, "file not found")
    regular_file(path, MAX_TABLE_BYTES)
    _read_bytes(path, 1)  # a locked or unreadable file: say so before any reader trips on it
    return reader(path, name or path.stem)


def regular_file(path: Path, limit: int, what: str | None = None) -> int:
    """The size of ``path`` after checking that it is a regular file (also behind a link)
    of at most ``limit`` bytes: a device (``/dev/zero``), a pipe or a folder would hang
    or exhaust the reader. Raises :class:`TableError` naming ``what`` (default: the file name)."""
    what = what or path.name
    try:
        st = os.stat(path)
    except OSError as e:
        raise TableError(what, f"cannot open the file ({type(e).__name__}: {e.strerror or e})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a pipe" if stat.S_ISFIFO(st.st_mode) else \
            "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else "not a regular file"
        link = " (a link to it)" if path.is_symlink() else ""
        raise TableError(what, f"is {kind}{link}, not a file; give a regular file")
    if st.st_size > limit:
        raise TableError(what, f"the file is {st.st_size:,} bytes, more than the {limit:,} mut_eval reads "
                         "(see MAX_TABLE_BYTES / MAX_CONFIG_BYTES in mut_eval/intake/io.py)")
    return st.st_size


def _read_bytes(path: Path, n: int | None = None, limit: int | None = None) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(n if n is not None else -1 if limit is None else limit + 1)
    except OSError as e:  # PermissionError when Excel has the file open (Windows), I/O errors
        raise TableError(path.name, f"cannot open the file ({type(e).__name__}: {e.strerror or e}); "
                         "is it open in another program, e.g. Excel?") from None
    if limit is not None and len(data) > limit:  # grew since it was checked
        raise TableError(path.name, f"the file is more than the {limit:,} bytes mut_eval reads")
    return data


def _check_width(path: Path, n: int) -> None:
    if n > MAX_COLUMNS:
        raise TableError(path.name, f"the header has {n:,} columns, more than the {MAX_COLUMNS:,} mut_eval reads; "
                         "is this the right file (or sheet)?", row=1)


class _NoAliasLoader(yaml.SafeLoader):
    """YAML without anchors and aliases: an alias repeats a node, and nested aliases
    expand a few hundred bytes into billions of nodes ("billion laughs")."""

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&name, *name) are not allowed; write the value out",
                event.start_mark)
        return super().compose_node(parent, index)


def load_yaml(path: str | Path, what: str = "file") -> object:
    """Parse a YAML configuration file (study.yaml, a codebook) safely: a regular file of
    at most :data:`MAX_CONFIG_BYTES`, UTF-8 (with or without BOM), plain YAML without
    aliases. Problems raise :class:`StudyError` naming the file and, for YAML errors, the
    line and column — never the file's content."""
    path = Path(path)
    if not os.path.lexists(path):
        raise StudyError(f"{path}: {what} not found")
    try:
        regular_file(path, MAX_CONFIG_BYTES, str(path))
        raw = _read_bytes(path, limit=MAX_CONFIG_BYTES)
    except TableError as e:
        raise StudyError(f"{path} ({what}): {e.rule}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise StudyError(f"{path}: {what} is not UTF-8 text (first bad byte on line {line}); save it as UTF-8") from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as e:
        problem = getattr(e, "problem", None) or getattr(e, "context", None) or type(e).__name__
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise StudyError(f"{path}: {what} is not valid YAML ({problem}{where})") from None


def to_number(values: pd.Series) -> pd.Series:
    """Parse text to float, accepting a decimal comma ("3,5") as Dutch Excel writes it.
    Non-numbers become NaN (validation reports them before this is used)."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)     # each distinct text parsed once
    fixed = pd.Series([v.replace(",", ".") if isinstance(v, str) and v.count(",") == 1 and "." not in v else v
                       for v in uniques], dtype=object)
    parsed = np.append(pd.to_numeric(fixed, errors="coerce").to_numpy(dtype=float), np.nan)
    return pd.Series(parsed[codes], index=values.index, name=values.name, dtype=float)
