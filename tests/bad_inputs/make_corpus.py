"""The bad-input corpus: broken copies of the example study and what mut_eval must say.

Each case is a list of *edits* applied to a fresh copy of ``mut_eval/data/example_study``
at test time, plus the expected outcome of ``mut-eval validate`` and ``mut-eval analyze``:
``exit: 2`` with fragments the error message must contain (file, row as numbered in that
file with header = 1, column, value), or ``exit: 0`` with the warning fragments expected
on stderr. The cases are written to ``cases.yaml`` beside this script, which is what
``tests/test_bad_inputs.py`` runs and what a reader inspects.

    python tests/bad_inputs/make_corpus.py                 # rewrite cases.yaml
    python tests/bad_inputs/make_corpus.py --write DIR     # also write every case as a study folder

Row numbers and identifiers in the expectations are looked up in the example here, so
the manifest states them explicitly.
"""
from __future__ import annotations

import csv
import io
import random
import re
import shutil
import sys
import zipfile
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
EXAMPLE = ROOT / "mut_eval" / "data" / "example_study"
MANIFEST = HERE / "cases.yaml"


# ------------------------------------------------------------------ edit operations
def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    return rows[0], rows[1:]


def _write(path: Path, header: list[str], body: list[list[str]], delimiter: str = ",") -> None:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows([header, *body])
    path.write_text(buf.getvalue(), encoding="utf-8")


def _col(header: list[str], name: str) -> int:
    if name not in header:
        raise KeyError(f"corpus edit: no column {name!r} in {header[:6]}...")
    return header.index(name)


def _ids(folder: Path, file: str, column: str = "student_id") -> set[str]:
    header, body = _read(folder / file)
    i = _col(header, column)
    return {r[i] for r in body}


def op_write_text(d, file, text, encoding="utf-8"):
    """Write the file's exact text."""
    (d / file).write_bytes(text.encode(encoding))


def op_prepend_text(d, file, text):
    """Put a line (or any text) before the file's first line."""
    (d / file).write_bytes(text.encode("utf-8") + (d / file).read_bytes())


def op_junk(d, file, n, seed, nul=True):
    """``n`` random bytes (``random.Random(seed)``); with ``nul: false`` no zero byte."""
    rng = random.Random(seed)
    data = bytes(rng.randrange(0 if nul else 1, 256) for _ in range(n))
    (d / file).write_bytes(data)


def op_delete(d, file):
    (d / file).unlink()


def op_copy(d, file, to):
    shutil.copyfile(d / file, d / to)


def op_truncate(d, file, keep):
    """Keep only the first ``keep`` bytes (a half-copied file)."""
    data = (d / file).read_bytes()
    (d / file).write_bytes(data[:keep])


def _value(v):
    """A cell value; ``{repeat: TEXT, times: N}`` stands for TEXT repeated N times."""
    return v["repeat"] * v["times"] if isinstance(v, dict) else v


def op_set_cell(d, file, row, column, value):
    """Set one cell; ``row`` as numbered in the file (header = 1, first data row = 2)."""
    header, body = _read(d / file)
    body[row - 2][_col(header, column)] = _value(value)
    _write(d / file, header, body)


def op_set_column(d, file, column, value):
    header, body = _read(d / file)
    i = _col(header, column)
    for r in body:
        r[i] = value
    _write(d / file, header, body)


def op_blank_columns(d, file, prefixes, rows=None):
    """Empty every cell of the columns starting with one of ``prefixes`` (in ``rows``, or all)."""
    header, body = _read(d / file)
    cols = [i for i, c in enumerate(header) if c.startswith(tuple(prefixes))]
    for n, r in enumerate(body, start=2):
        if rows is None or n in rows:
            for i in cols:
                r[i] = ""
    _write(d / file, header, body)


def op_append_copy(d, file, row, set=None):
    """Append a copy of ``row`` with the cells in ``set`` changed."""
    header, body = _read(d / file)
    new = list(body[row - 2])
    for c, v in (set or {}).items():
        new[_col(header, c)] = v
    _write(d / file, header, [*body, new])


def op_keep_rows(d, file, rows):
    header, body = _read(d / file)
    _write(d / file, header, [r for n, r in enumerate(body, start=2) if n in rows])


def op_keep_where(d, file, column, values):
    header, body = _read(d / file)
    i = _col(header, column)
    _write(d / file, header, [r for r in body if r[i] in values])


def op_keep_pupils_of(d, file, students="students.csv"):
    """Keep only the rows whose student_id is (still) in ``students``."""
    ids = _ids(d, students)
    header, body = _read(d / file)
    i = _col(header, "student_id")
    _write(d / file, header, [r for r in body if r[i] in ids])


def op_drop_columns(d, file, columns):
    header, body = _read(d / file)
    keep = [i for i, c in enumerate(header) if c not in columns and not any(
        c.startswith(p[:-1]) for p in columns if p.endswith("*"))]
    _write(d / file, [header[i] for i in keep], [[r[i] for i in keep] for r in body])


def op_add_column(d, file, name, copy_of=None, value=""):
    header, body = _read(d / file)
    src = None if copy_of is None else _col(header, copy_of)
    _write(d / file, [*header, name], [[*r, value if src is None else r[src]] for r in body])


def op_rename_column(d, file, old, new):
    header, body = _read(d / file)
    header[_col(header, old)] = new
    _write(d / file, header, body)


def op_replace_value(d, files, column, old, new):
    for f in files:
        header, body = _read(d / f)
        i = _col(header, column)
        for r in body:
            if r[i] == old:
                r[i] = new
        _write(d / f, header, body)


def op_reencode(d, file, encoding="utf-8", bom=False, eol="\n"):
    """Re-save the text with another encoding, a byte-order mark and/or line ending."""
    text = (d / file).read_text(encoding="utf-8").replace("\n", eol)
    (d / file).write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))


def op_delimiter(d, file, delimiter, rows=None):
    """Re-save with another separator (only on the given ``rows`` when listed)."""
    header, body = _read(d / file)
    out = io.StringIO()
    for n, r in enumerate([header, *body], start=1):
        sep = delimiter if rows is None or n in rows else ","
        csv.writer(out, delimiter=sep, lineterminator="\n").writerow(r)
    (d / file).write_text(out.getvalue(), encoding="utf-8")


def _typed_cells(header, body):
    """Numbers as numbers, as a user's Excel or SPSS export would have them."""
    cols = list(zip(*body)) if body else [[] for _ in header]
    out = []
    for c in cols:
        try:
            out.append([None if v == "" else float(v) for v in c])
        except ValueError:
            out.append([None if v == "" else v for v in c])
    return [list(r) for r in zip(*out)] if body else []


def op_to_xlsx(d, file, sheet_before=False, sheet_after=False, formulas=None, keep_bytes=None):
    """Save the CSV as ``.xlsx`` (and remove the CSV). ``sheet_before``/``sheet_after`` add an
    empty sheet; ``formulas`` put ``{cell: {formula, cached}}`` into cells, with the computed
    value Excel stores beside a formula when ``cached`` is given; ``keep_bytes`` truncates."""
    import openpyxl

    header, body = _read(d / file)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "data"
    if sheet_before:
        wb.create_sheet("leeg", 0)
    if sheet_after:
        wb.create_sheet("notities")
    ws.append(header)
    for r in _typed_cells(header, body):
        ws.append([int(v) if isinstance(v, float) and v.is_integer() else v for v in r])
    for cell, f in (formulas or {}).items():
        ws[cell] = f["formula"]
    target = d / (Path(file).stem + ".xlsx")
    wb.save(target)
    (d / file).unlink()
    cached = {c: f["cached"] for c, f in (formulas or {}).items() if f.get("cached") is not None}
    if cached:  # openpyxl cannot store a computed value; Excel does, so add it as Excel would
        _inject_cached_values(target, ws.title, wb.sheetnames.index(ws.title) + 1, cached)
    if keep_bytes is not None:
        target.write_bytes(target.read_bytes()[:keep_bytes])


def _inject_cached_values(path: Path, title: str, index: int, cached: dict) -> None:
    name = f"xl/worksheets/sheet{index}.xml"
    with zipfile.ZipFile(path) as z:
        parts = {i: z.read(i) for i in z.namelist()}
    xml = parts[name].decode("utf-8")
    for cell, value in cached.items():
        xml, n = re.subn(rf'(<c r="{cell}"[^>]*>\s*<f>[^<]*</f>)\s*(<v\s*/>|<v>\s*</v>)?',
                         rf"\1<v>{value}</v>", xml)
        assert n == 1, (cell, title)
    parts[name] = xml.encode("utf-8")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i, b in parts.items():
            z.writestr(i, b)


def op_to_sav(d, file, codes, labels):
    """Save the CSV as SPSS ``.sav`` (and remove the CSV). ``codes`` = {column: {text: number}}
    stores those columns as numbers (a text that is a number already stays that number);
    ``labels`` = {column: {number: label}} are the SPSS value labels."""
    import pandas as pd
    import pyreadstat

    header, body = _read(d / file)
    df = pd.DataFrame(_typed_cells(header, body), columns=header)
    for c in df.columns:
        if c not in codes:
            num = pd.to_numeric(df[c], errors="coerce")
            if num.notna().sum() == df[c].notna().sum():
                df[c] = num.astype(float)
            else:
                df[c] = df[c].astype(object)
    for c, to_code in codes.items():
        df[c] = [float(to_code[v]) if v in to_code else float(v) for v in df[c]]
    vl = {c: {float(k): v for k, v in lab.items()} for c, lab in labels.items()}
    pyreadstat.write_sav(df, str(d / (Path(file).stem + ".sav")), variable_value_labels=vl)
    (d / file).unlink()


def op_yaml_set(d, key, value):
    """Set a study.yaml setting; ``key`` is dotted (``analysis.bootstrap``)."""
    p = d / "study.yaml"
    cfg = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    *parents, last = key.split(".")
    node = cfg
    for k in parents:
        node = node.setdefault(k, {})
    node[last] = value
    p.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")


OPS = {name[3:]: fn for name, fn in globals().items() if name.startswith("op_")}


def apply_edits(folder: str | Path, edits: list[dict]) -> None:
    """Apply a case's edits, in order, to a study folder (a fresh copy of the example)."""
    folder = Path(folder)
    for e in edits:
        e = dict(e)
        OPS[e.pop("op")](folder, **e)


def materialise(case: dict, dst: str | Path, base: list[dict] = ()) -> Path:
    """A fresh copy of the example at ``dst`` with the ``base`` edits and then the case's
    edits applied."""
    dst = Path(dst)
    shutil.copytree(EXAMPLE, dst)
    apply_edits(dst, [*base, *case["edits"]])
    return dst


# ------------------------------------------------------------------ the cases
def _row(file: str, value: str, column: str = "student_id") -> int:
    header, body = _read(EXAMPLE / file)
    i = _col(header, column)
    return next(n for n, r in enumerate(body, start=2) if r[i] == value)


def _n_rows(file: str) -> int:
    return len(_read(EXAMPLE / file)[1]) + 1   # the last row's number


def _first(file: str, column: str, value: str) -> tuple[int, str]:
    header, body = _read(EXAMPLE / file)
    i, s = _col(header, column), _col(header, "student_id")
    n, r = next((n, r) for n, r in enumerate(body, start=2) if r[i] == value)
    return n, r[s]


def _complete(condition: str) -> list[int]:
    """Rows of students.csv of the pupils of ``condition`` with a questionnaire at every wave."""
    header, body = _read(EXAMPLE / "students.csv")
    c, i = _col(header, "condition"), _col(header, "student_id")
    waves = [_ids(EXAMPLE, f"wave_{w}.csv") for w in ("T1", "T2", "T3")]
    return [n for n, r in enumerate(body, start=2) if r[c] == condition and all(r[i] in w for w in waves)]


def loc(file, row=None, column=None, value=None) -> str:
    """The locator a problem message starts with (see ``validate.Problem``)."""
    parts = [file] + ([f"row {row}"] if row is not None else []) + (
        [f"column {column}"] if column is not None else []) + ([f"value {value!r}"] if value is not None else [])
    return ", ".join(parts)


def fail(*fragments, **kw) -> dict:
    return {"exit": 2, "stderr": list(fragments), **kw}


def ok(*warnings, **kw) -> dict:
    return {"exit": 0, "stderr": list(warnings), **kw}


def cases() -> list[dict]:
    C: list[dict] = []

    def case(id, what, edits, expect, analyze=None):
        c = {"id": id, "what": what, "edits": edits, "expect": expect}
        if analyze is not None:
            c["analyze"] = analyze
        C.append(c)

    S, T1, T2, T3, M, MT, Q = ("students.csv", "wave_T1.csv", "wave_T2.csv", "wave_T3.csv",
                               "mentors.csv", "matches.csv", "qsort.csv")
    ctrl_row, ctrl_id = _first(S, "condition", "control")
    ment_row, ment_id = _first(S, "condition", "mentee")
    complete_m, complete_c = _complete("mentee"), _complete("control")
    ment2_row = next(n for n in complete_m if n != ment_row)
    t1_row = _row(T1, ment_id)
    n_students = _n_rows(S)
    m_row = _row(MT, ment_id)
    q_row, q_id = 2, _read(EXAMPLE / Q)[1][0][0]

    # --- files that are not tables
    case("students_empty", "students.csv is an empty file (0 bytes)",
         [{"op": "write_text", "file": S, "text": ""}], fail(S, "the file is empty"))
    case("students_blank_lines", "students.csv holds only blank lines and spaces",
         [{"op": "write_text", "file": S, "text": "\n  \n\r\n"}], fail(S, "the file is empty"))
    case("students_header_only", "students.csv has its header and no pupil",
         [{"op": "keep_rows", "file": S, "rows": []}], fail(S, "header but no rows"))
    case("students_binary_junk", "students.csv is 2000 random bytes (with zero bytes)",
         [{"op": "junk", "file": S, "n": 2000, "seed": 1}], fail(S, "binary data"))
    case("wave_T2_binary_junk_no_nul", "wave_T2.csv is 3000 random bytes without a zero byte "
         "(decodes as Windows-1252 text, but is no table)",
         [{"op": "junk", "file": T2, "n": 3000, "seed": 2, "nul": False}], fail(T2))
    case("students_xlsx_truncated", "students.xlsx cut off after 3000 bytes (a half-copied file)",
         [{"op": "to_xlsx", "file": S, "keep_bytes": 3000}],
         fail("students.xlsx", "cannot read this Excel file"))
    case("mentors_csv_is_really_xlsx", "an Excel workbook renamed to mentors.csv",
         [{"op": "to_xlsx", "file": M}, {"op": "copy", "file": "mentors.xlsx", "to": M},
          {"op": "delete", "file": "mentors.xlsx"}], fail(M, "binary data"))
    case("wave_T1_not_a_table", "wave_T1.csv is a sentence without any separator",
         [{"op": "write_text", "file": T1, "text": "Export mislukt - probeer het later opnieuw\n"}],
         fail(T1, "row 1", "column separator"))

    # --- separators, encodings, line endings
    case("students_tab_separated", "students.csv saved with tabs as separator (supported)",
         [{"op": "delimiter", "file": S, "delimiter": "\t"}], ok(stdout=["124 mentees, 66 controls"]))
    case("wave_T1_pipe_separated", "wave_T1.csv saved with '|' as separator (supported)",
         [{"op": "delimiter", "file": T1, "delimiter": "|"}], ok(stdout=["124 mentees"]))
    case("matches_semicolon_rows_under_comma_header",
         "matches.csv: header with ',' but the rows from row 5 on with ';' (two exports pasted)",
         [{"op": "delimiter", "file": MT, "delimiter": ";", "rows": list(range(5, _n_rows(MT) + 1))}],
         fail(loc(MT, 5), "1 cell where the header has 6 columns"))
    case("students_crlf_bom", "students.csv with Windows line endings and a UTF-8 byte-order mark (fine)",
         [{"op": "reencode", "file": S, "bom": True, "eol": "\r\n"}],
         ok(stdout=["124 mentees, 66 controls, 0 warning(s)"]))
    case("students_utf16_tabs", "students.csv saved by Excel as 'Unicode text': UTF-16 with a BOM, tab-separated "
         "(fine)",
         [{"op": "delimiter", "file": S, "delimiter": "\t"}, {"op": "reencode", "file": S, "encoding": "utf-16",
                                                              "eol": "\r\n"}],
         ok(stdout=["124 mentees, 66 controls, 0 warning(s)"]))
    case("matches_excel_sep_line", "matches.csv starts with Excel's 'sep=;' line and uses ';' (fine)",
         [{"op": "delimiter", "file": MT, "delimiter": ";"}, {"op": "prepend_text", "file": MT, "text": "sep=;\n"}],
         ok(stdout=["124 mentees, 66 controls, 0 warning(s)"]))
    case("matches_excel_sep_line_bad_row", "as matches_excel_sep_line, with 25 sessions attended of 20 on the "
         "first match: the row is numbered as Excel shows it (the sep line hidden, header = 1)",
         [{"op": "set_cell", "file": MT, "row": m_row, "column": "sessions_attended", "value": "25"},
          {"op": "delimiter", "file": MT, "delimiter": ";"}, {"op": "prepend_text", "file": MT, "text": "sep=;\n"}],
         fail(loc(MT, m_row, "sessions_attended", "25")))
    case("students_latin1", "students.csv saved as Latin-1 with the city 'Zürich' on row 40 (read, with a warning)",
         [{"op": "set_cell", "file": S, "row": 40, "column": "city", "value": "Zürich"},
          {"op": "reencode", "file": S, "encoding": "latin-1"}],
         ok("WARNING: students.csv: not UTF-8 (first non-UTF-8 byte on line 40)"))
    case("students_mixed_decimal_marks", "age with a decimal comma in some rows and a point in others",
         [{"op": "set_cell", "file": S, "row": r, "column": "age", "value": v}
          for r, v in ((2, "15,5"), (3, "13,3"), (4, "12.9"))], ok(stdout=["124 mentees"]))
    case("students_embedded_newline", "a quoted city with a line break in it (row 7); a bad gender on row 9 "
         "is still reported as row 9 (the row as Excel shows it)",
         [{"op": "set_cell", "file": S, "row": 7, "column": "city", "value": "Den\nHaag"},
          {"op": "set_cell", "file": S, "row": 9, "column": "gender", "value": "vrouwtje"}],
         fail(loc(S, 9, "gender", "vrouwtje"), "unknown code"))
    case("students_very_long_cell", "a 100,000-character interests cell (accepted) and a 5,000-character "
         "gender (reported, the value shortened in the message)",
         [{"op": "set_cell", "file": S, "row": 2, "column": "interests", "value": {"repeat": "lezen;", "times": 16_667}},
          {"op": "set_cell", "file": S, "row": 3, "column": "gender", "value": {"repeat": "x", "times": 5000}}],
         fail(loc(S, 3, "gender"), "xxxxxxxxxx", "characters", "unknown code", max_line=400))
    case("unicode_names", "a pupil id, city and mentor id in non-ASCII script (fine)",
         [{"op": "replace_value", "files": [S, T1, T2, T3, MT], "column": "student_id",
           "old": ment_id, "new": "ŞÜKRÜ-Ø1-学生"},
          {"op": "set_cell", "file": S, "row": ment_row, "column": "city", "value": "Ĳsselstein 🏫"},
          {"op": "replace_value", "files": [M, MT], "column": "mentor_id", "old": "SYNM010", "new": "Mentör-Ω"}],
         ok(stdout=["124 mentees"]))

    # --- Excel and SPSS
    case("wave_T3_xlsx_empty_sheet_first", "wave_T3.xlsx whose first sheet is empty and the data on the second",
         [{"op": "to_xlsx", "file": T3, "sheet_before": True}],
         ok("wave_T3.xlsx", "sheet 'data'"))
    case("wave_T1_xlsx_formulas_with_values", "wave_T1.xlsx with an extra empty sheet and formulas "
         "(=2+2, =1+2) that Excel saved with their values (fine)",
         [{"op": "to_xlsx", "file": T1, "sheet_after": True,
           "formulas": {"C2": {"formula": "=2+2", "cached": 4}, "D3": {"formula": "=1+2", "cached": 3}}}],
         ok(stdout=["124 mentees"]))
    case("wave_T1_xlsx_formula_without_value", "wave_T1.xlsx with a formula that was never calculated "
         "(written by a script, not saved by Excel): no value to read",
         [{"op": "to_xlsx", "file": T1, "formulas": {"C2": {"formula": "=2+2"}}}],
         fail(loc("wave_T1.xlsx", 2, "SE01", "=2+2"), "formula"))
    case("students_sav_labels_ok", "students.sav with condition as numeric codes and Dutch value labels "
         "(1 = interventie, 2 = controle): recoded (fine)",
         [{"op": "to_sav", "file": S, "codes": {"condition": {"mentee": 1, "control": 2},
                                                "gender": {"girl": 1, "boy": 2, "other": 3, "unknown": 9}},
           "labels": {"condition": {1: "interventie", 2: "controle"},
                      "gender": {1: "meisje", 2: "jongen", 3: "anders", 9: "onbekend"}}}],
         ok(stdout=["124 mentees, 66 controls"]))
    case("students_sav_unexpected_label", "students.sav whose condition labels include 3 = 'wachtlijst', "
         "and one pupil has code 3; another has code 9 without any label",
         [{"op": "set_cell", "file": S, "row": 5, "column": "condition", "value": "wachtlijst"},
          {"op": "set_cell", "file": S, "row": 8, "column": "condition", "value": "9"},
          {"op": "to_sav", "file": S, "codes": {"condition": {"mentee": 1, "control": 2, "wachtlijst": 3}},
           "labels": {"condition": {1: "mentee", 2: "control", 3: "wachtlijst"}}}],
         fail(loc("students.sav", 4, "condition", "wachtlijst"), loc("students.sav", 7, "condition", "9"),
              "unknown code"))

    # --- columns
    case("students_duplicate_column", "students.csv has the column gender twice",
         [{"op": "add_column", "file": S, "name": "gender", "copy_of": "gender"}],
         fail(loc(S, 1, "gender"), "more than once"))
    case("students_missing_required_column", "students.csv without the condition column",
         [{"op": "drop_columns", "file": S, "columns": ["condition"]}],
         fail(loc(S, 1, "condition"), "required column is missing"))
    case("wave_T3_no_item_columns", "wave_T3.csv has only student_id and date",
         [{"op": "drop_columns", "file": T3, "columns": ["SE*", "IM*", "EM*", "SB*", "HA*", "NO*"]}],
         fail(loc(T3, 1), "no item or scale column"))
    case("wave_T1_unnamed_column_with_values", "wave_T1.csv has a last column without a name that holds values",
         [{"op": "add_column", "file": T1, "name": "", "value": "x"}],
         ok(loc(T1, 1), "without a name"))
    case("students_trailing_separator", "every line of students.csv ends with a stray ',' "
         "(an empty, unnamed last column; fine)",
         [{"op": "add_column", "file": S, "name": ""}], ok(stdout=["124 mentees"]))

    # --- keys and duplicates
    case("students_duplicate_pupil", f"pupil {ctrl_id} appears twice in students.csv (identical rows)",
         [{"op": "append_copy", "file": S, "row": ctrl_row}],
         fail(loc(S, n_students + 1, "student_id", ctrl_id), f"already on row {ctrl_row}"))
    case("students_pupil_in_two_conditions", f"pupil {ctrl_id} twice: once control, once mentee",
         [{"op": "append_copy", "file": S, "row": ctrl_row, "set": {"condition": "mentee"}}],
         fail(loc(S, n_students + 1, "student_id", ctrl_id), f"already on row {ctrl_row} (there as control, here as mentee)"))
    case("wave_T2_duplicate_pupil", f"pupil {ment_id} answered T2 twice",
         [{"op": "append_copy", "file": T2, "row": _row(T2, ment_id)}],
         fail(loc(T2, _n_rows(T2) + 1, "student_id", ment_id), "duplicate"))
    case("wave_T1_unknown_pupil", "a T1 questionnaire of a pupil who is not enrolled",
         [{"op": "append_copy", "file": T1, "row": t1_row, "set": {"student_id": "SYN9999"}}],
         fail(loc(T1, _n_rows(T1) + 1, "student_id", "SYN9999"), "not in students.csv"))
    case("mentors_duplicate_id", "mentor SYNM010 appears twice in mentors.csv",
         [{"op": "append_copy", "file": M, "row": _row(M, "SYNM010", "mentor_id")}],
         fail(loc(M, _n_rows(M) + 1, "mentor_id", "SYNM010"), "duplicate"))

    # --- answers and values
    for tag, v, rule in (("0", "0", "from 1 to 5"), ("6", "6", "from 1 to 5"), ("vier", "vier", "whole number"),
                         ("3.5", "3.5", "whole number"), ("minus1", "-1", "from 1 to 5")):
        case(f"wave_T1_answer_{tag}", f"an answer of {v!r} on a 1-5 item (wave_T1 row {t1_row}, SE03)",
             [{"op": "set_cell", "file": T1, "row": t1_row, "column": "SE03", "value": v}],
             fail(loc(T1, t1_row, "SE03", v), rule))
    case("wave_T1_answer_decimal_comma_whole", "an answer written '4,0' (Dutch Excel; a whole number, fine)",
         [{"op": "set_cell", "file": T1, "row": t1_row, "column": "SE03", "value": "4,0"}],
         ok(stdout=["124 mentees"]))
    case("wave_T2_date_in_future", "a T2 questionnaire dated 2099-06-22",
         [{"op": "set_cell", "file": T2, "row": 2, "column": "date", "value": "2099-06-22"}],
         fail(loc(T2, 2, "date", "2099-06-22"), "not in the future"))
    case("wave_T2_date_impossible_and_dutch", "dates 2020-02-30 (no such day) and 22-06-2020 (day first)",
         [{"op": "set_cell", "file": T2, "row": 2, "column": "date", "value": "2020-02-30"},
          {"op": "set_cell", "file": T2, "row": 3, "column": "date", "value": "22-06-2020"}],
         fail(loc(T2, 2, "date", "2020-02-30"), loc(T2, 3, "date", "22-06-2020"), "yyyy-mm-dd"))
    case("students_negative_age", "an age of -14",
         [{"op": "set_cell", "file": S, "row": 4, "column": "age", "value": "-14"}],
         fail(loc(S, 4, "age", "-14"), "from 9 to 25"))
    case("students_birth_date_in_future", "birth dates instead of ages; one in the future",
         [{"op": "drop_columns", "file": S, "columns": ["age"]},
          {"op": "add_column", "file": S, "name": "birth_date", "value": "2005-03-01"},
          {"op": "set_cell", "file": S, "row": 6, "column": "birth_date", "value": "2031-01-01"}],
         fail(loc(S, 6, "birth_date", "2031-01-01"), "not in the future"))
    case("students_unknown_code_case_and_dutch", "codes in other case and Dutch ('Mentee', 'Controle', "
         "'MEISJE'): recognised (fine)",
         [{"op": "set_cell", "file": S, "row": ment_row, "column": "condition", "value": "Mentee"},
          {"op": "set_cell", "file": S, "row": ctrl_row, "column": "condition", "value": "Controle"},
          {"op": "set_cell", "file": S, "row": 5, "column": "gender", "value": "MEISJE"}],
         ok(stdout=["124 mentees, 66 controls"]))
    case("wave_T1_all_answers_missing_for_a_pupil", f"pupil {ment_id} left every T1 item empty",
         [{"op": "blank_columns", "file": T1, "prefixes": ["SE", "IM", "EM", "SB", "HA", "NO"], "rows": [t1_row]}],
         ok(loc(T1, t1_row, "student_id", ment_id), "no item answered"))

    # --- files of the study
    case("wave_T2_missing", "wave_T2.csv is not in the folder",
         [{"op": "delete", "file": T2}], fail(T2, "required file is missing"))
    case("extra_wave_T4", "an extra wave_T4.csv (a copy of T3) in the folder",
         [{"op": "copy", "file": T3, "to": "wave_T4.csv"}], ok("wave_T4.csv", "not a wave of this study"))
    case("wave_T1_csv_and_xlsx", "both wave_T1.csv and wave_T1.xlsx in the folder",
         [{"op": "copy", "file": T1, "to": "wave_T1.keep"}, {"op": "to_xlsx", "file": T1},
          {"op": "copy", "file": "wave_T1.keep", "to": T1}, {"op": "delete", "file": "wave_T1.keep"}],
         ok("WARNING: wave_T1.csv: wave_T1.csv and wave_T1.xlsx are both in the folder; using wave_T1.csv"))

    # --- mentors, matches, Q-sort
    case("qsort_ties", "a Q-sort with two cards on rank 2",
         [{"op": "set_cell", "file": Q, "row": q_row, "column": "self_efficacy", "value": "2"},
          {"op": "set_cell", "file": Q, "row": q_row, "column": "motivation", "value": "2"}],
         fail(loc(Q, q_row, "self_efficacy, motivation, school_belonging, help_seeking"), "no ties"))
    case("matches_control_pupil", f"a mentor match for control pupil {ctrl_id}",
         [{"op": "append_copy", "file": MT, "row": m_row, "set": {"student_id": ctrl_id}}],
         fail(loc(MT, _n_rows(MT) + 1, "student_id", ctrl_id), "control pupil has a mentor match"))
    case("matches_unknown_mentor", "a match to mentor SYNM999, who is not in mentors.csv",
         [{"op": "set_cell", "file": MT, "row": m_row, "column": "mentor_id", "value": "SYNM999"}],
         fail(loc(MT, m_row, "mentor_id", "SYNM999"), "not in mentors.csv"))
    case("matches_attended_more_than_planned", "25 sessions attended of 20 planned",
         [{"op": "set_cell", "file": MT, "row": m_row, "column": "sessions_attended", "value": "25"}],
         fail(loc(MT, m_row, "sessions_attended", "25"), "more sessions attended than planned"))
    case("matches_group_size_decimal", "a group size of 2,5 (decimal comma)",
         [{"op": "set_cell", "file": MT, "row": m_row, "column": "group_size", "value": "2,5"}],
         fail(loc(MT, m_row, "group_size", "2,5"), "whole number"))

    # --- study.yaml
    case("yaml_not_yaml", "study.yaml is not YAML (an unclosed bracket)",
         [{"op": "write_text", "file": "study.yaml", "text": "name: [Mentoring\nanalysis: {bootstrap: 10\n"}],
         fail("study.yaml", "not valid YAML"))
    case("yaml_not_a_mapping", "study.yaml is a list",
         [{"op": "write_text", "file": "study.yaml", "text": "- name\n- cohort\n"}],
         fail("study.yaml", "mapping"))
    case("yaml_unknown_key", "study.yaml has an unknown setting 'colour'",
         [{"op": "yaml_set", "key": "colour", "value": "blue"}], fail("study.yaml", "colour"))
    case("yaml_bootstrap_negative", "analysis.bootstrap: -5",
         [{"op": "yaml_set", "key": "analysis.bootstrap", "value": -5}], fail("study.yaml", "'bootstrap'", "-5"))
    case("yaml_bootstrap_yes", "analysis.bootstrap: yes (YAML's true, not a number)",
         [{"op": "yaml_set", "key": "analysis.bootstrap", "value": True}], fail("study.yaml", "'bootstrap'", "True"))
    case("yaml_alpha_2", "analysis.alpha: 2",
         [{"op": "yaml_set", "key": "analysis.alpha", "value": 2}], fail("study.yaml", "'alpha'", "between 0 and 1"))
    case("yaml_unknown_analysis_option", "analysis.bootstraps (a typo)",
         [{"op": "yaml_set", "key": "analysis.bootstraps", "value": 100}], fail("study.yaml", "bootstraps"))
    case("yaml_language_fr", "language: fr",
         [{"op": "yaml_set", "key": "language", "value": "fr"}], fail("study.yaml", "'fr'"))
    case("yaml_codebook_missing", "codebook: my_codebook.yaml, which does not exist",
         [{"op": "yaml_set", "key": "codebook", "value": "my_codebook.yaml"}],
         fail("my_codebook.yaml", "not found"))
    case("yaml_files_missing", "files: students: leerlingen.xlsx, which does not exist",
         [{"op": "yaml_set", "key": "files", "value": {"students": "leerlingen.xlsx"}}],
         fail("leerlingen.xlsx", "required file is missing"))
    case("yaml_rename_to_unknown_column", "rename: students: gender -> sex (not a column mut_eval knows)",
         [{"op": "yaml_set", "key": "rename", "value": {"students": {"gender": "sex"}}}],
         fail(loc(S, 1, "gender"), "required column is missing"))
    case("yaml_rename_from_absent_column", "rename: students: geslacht -> gender, but students.csv has no "
         "column 'geslacht' (it has gender already)",
         [{"op": "yaml_set", "key": "rename", "value": {"students": {"geslacht": "gender"}}}],
         ok("study.yaml", "geslacht", "not a column of students.csv"))
    case("yaml_rename_not_a_mapping", "rename: students: [a, b] (a list, not source: target pairs)",
         [{"op": "yaml_set", "key": "rename", "value": {"students": ["a", "b"]}}],
         fail("study.yaml", "rename", "mapping"))
    case("yaml_rename_unknown_table", "rename: student: {...} (a typo for students)",
         [{"op": "yaml_set", "key": "rename", "value": {"student": {"geslacht": "gender"}}}],
         fail("study.yaml", "unknown table(s) student"))
    case("yaml_moderators_not_a_list", "analysis.moderators: age (a name, not a list)",
         [{"op": "yaml_set", "key": "analysis.moderators", "value": "age"}],
         fail("study.yaml", "'moderators' must be a list"))
    case("yaml_prespecified_unknown_moderator", "a prespecified test of moderator 'shoe_size' "
         "(validates; analysis refuses rather than never flag it)",
         [{"op": "yaml_set", "key": "analysis.prespecified_moderators",
           "value": [{"outcome": "self_efficacy", "change": "T2-T1", "moderator": "shoe_size"}]}],
         ok(), analyze=fail("prespecified_moderators", "shoe_size"))
    case("yaml_unknown_moderator", "analysis.moderators: [shoe_size] (validates; analysis refuses)",
         [{"op": "yaml_set", "key": "analysis.moderators", "value": ["shoe_size"]}],
         ok(), analyze=fail("moderators", "shoe_size"))
    case("yaml_unknown_covariate", "analysis.covariates: [shoe_size] (validates; analysis refuses)",
         [{"op": "yaml_set", "key": "analysis.covariates", "value": ["shoe_size"]}],
         ok(), analyze=fail("covariates", "shoe_size"))

    # --- studies that validate but cannot be analysed as designed
    case("all_controls", "every pupil is a control (no mentees, no matches, no Q-sort)",
         [{"op": "set_column", "file": S, "column": "condition", "value": "control"},
          {"op": "keep_rows", "file": MT, "rows": []}, {"op": "delete", "file": Q},
          {"op": "drop_columns", "file": T2, "columns": ["RQ*"]}],
         fail(loc(S, column="condition"), "no pupil is a mentee (0 mentee(s), 190 control(s))"))
    case("only_mentees", "the controls removed: only mentees are left (a single condition)",
         [{"op": "keep_where", "file": S, "column": "condition", "values": ["mentee"]},
          *[{"op": "keep_pupils_of", "file": f} for f in (T1, T2, T3)]],
         fail(loc(S, column="condition"), "no pupil is a control (124 mentee(s), 0 control(s))"))
    case("three_pupils", "only three pupils (two mentees, one control)",
         [{"op": "keep_rows", "file": S, "rows": [ment_row, ctrl_row, ment2_row]},
          *[{"op": "keep_pupils_of", "file": f} for f in (T1, T2, T3, MT, Q)]],
         ok(), analyze=fail("cannot estimate change by condition", "on no outcome"))
    case("four_pupils", "only four pupils (two mentees, two controls), all with every wave",
         [{"op": "keep_rows", "file": S, "rows": complete_m[:2] + complete_c[:2]},
          *[{"op": "keep_pupils_of", "file": f} for f in (T1, T2, T3, MT, Q)]],
         ok())
    case("outcome_unanswered_at_T3", "nobody answered the self-efficacy items at T3: validates with a "
         "warning; analysis refuses, saying how to leave the outcome out",
         [{"op": "blank_columns", "file": T3, "prefixes": ["SE"]}],
         ok(loc(T3, 1, "SE01..SE09"), "nobody answered any item of self_efficacy at T3"),
         analyze=fail("cannot estimate the analyses of outcome(s) self_efficacy", "0 mentee(s), 0 control(s)",
                      "'outcomes'"))
    others = ["intrinsic_motivation", "extrinsic_motivation", "school_belonging", "help_seeking_academic",
              "help_seeking_network"]
    case("outcome_unanswered_at_T3_left_out", "as outcome_unanswered_at_T3, with the other outcomes listed "
         "under analysis.outcomes (fine)",
         [{"op": "blank_columns", "file": T3, "prefixes": ["SE"]},
          {"op": "yaml_set", "key": "analysis.outcomes", "value": others}],
         ok("nobody answered any item of self_efficacy at T3"))
    case("yaml_unknown_outcome", "analysis.outcomes: [happiness] (validates; analysis refuses)",
         [{"op": "yaml_set", "key": "analysis.outcomes", "value": ["happiness"]}],
         ok(), analyze=fail("analysis.outcomes", "happiness"))
    case("no_T3_answers", "wave_T3.csv has its header but no rows (nobody answered T3)",
         [{"op": "keep_rows", "file": T3, "rows": []}], ok(T3, "no rows"), analyze=fail("no pupil has a questionnaire score at T3"))

    # --- repairs expressed in study.yaml / exclusions.csv (issue 10)
    se_items = [f"SE0{i}" for i in range(1, 10)]
    no_match = [n for n in range(2, _n_rows(MT) + 1) if n != m_row]
    case("students_blank_gender", f"an empty gender cell (row {ment_row}): read as 'unknown' with a warning, "
         "and analyze agrees (it crashed before)",
         [{"op": "set_cell", "file": S, "row": ment_row, "column": "gender", "value": ""}],
         ok(loc(S, ment_row, "gender"), "1 blank cell(s) read as 'unknown'"))
    case("wave_T1_id_other_case", f"wave_T1.csv row {t1_row} has {ment_id.lower()!r} for {ment_id!r}: not "
         "enrolled, with the near match suggested",
         [{"op": "set_cell", "file": T1, "row": t1_row, "column": "student_id", "value": ment_id.lower()}],
         fail(loc(T1, t1_row, "student_id", ment_id.lower()), f"did you mean {ment_id!r} in {S}",
              "upper/lower case"))
    case("matches_mentee_without_match", f"the match row of mentee {ment_id} removed: refused, pointing to "
         "mentees_without_match",
         [{"op": "keep_rows", "file": MT, "rows": no_match}],
         fail(loc(S, ment_row, "student_id", ment_id), "mentees_without_match: keep"))
    case("matches_mentee_without_match_kept", "as matches_mentee_without_match with mentees_without_match: keep "
         "(fine: intention to treat)",
         [{"op": "keep_rows", "file": MT, "rows": no_match},
          {"op": "yaml_set", "key": "mentees_without_match", "value": "keep"}],
         ok("1 mentee(s) without a row in matches.csv stay mentees"))
    case("wave_T2_duplicate_most_complete", "a second T2 row of a pupil with half its items blank, and "
         "duplicates: {wave_T2: most_complete} (fine: the complete row is kept)",
         [{"op": "append_copy", "file": T2, "row": 2, "set": {c: "" for c in se_items}},
          {"op": "yaml_set", "key": "duplicates", "value": {"wave_T2": "most_complete"}}],
         ok("1 duplicate row(s) left out (duplicates: most_complete)"))
    case("exclusions_pupil", f"exclusions.csv leaves out {ment_id} (moved school) (fine)",
         [{"op": "write_text", "file": "exclusions.csv", "text": f"student_id,reason\n{ment_id},moved school\n"}],
         ok(stdout=["123 mentees, 66 controls"]))
    case("exclusions_unknown_pupil", "exclusions.csv names a pupil who is not enrolled",
         [{"op": "write_text", "file": "exclusions.csv", "text": "student_id,wave,reason\nSYN9999,T2,ill\n"}],
         fail(loc("exclusions.csv", 2, "student_id", "SYN9999"), f"pupil is not in {S}"))
    case("wave_T1_nine_as_missing", "every SE item of 12 pupils at T1 is 9 (the school's missing code): said once, "
         "with the hint",
         [{"op": "set_cell", "file": T1, "row": r, "column": c, "value": "9"} for r in range(2, 14) for c in se_items],
         fail(loc(T1, 2, "SE01..SE09", "9"), "value '9' in 108 cells", "is 9 a missing code? see missing_codes"))
    case("wave_T1_nine_as_missing_declared", "as wave_T1_nine_as_missing with missing_codes: [9] (fine)",
         [*[{"op": "set_cell", "file": T1, "row": r, "column": c, "value": "9"} for r in range(2, 14)
            for c in se_items], {"op": "yaml_set", "key": "missing_codes", "value": [9]}],
         ok("108 cell(s) hold a missing_codes value"))
    case("students_name_columns", "students.csv has the columns Achternaam and e-mail: dropped with one warning, "
         "their values never shown (fine)",
         [{"op": "add_column", "file": S, "name": "Achternaam", "value": "Jansen"},
          {"op": "add_column", "file": S, "name": "e-mail", "value": "x@example.org"}],
         ok("Achternaam, e-mail", "look like names, contact details or birth dates"))
    return C


# Applied before every case's own edits: moderation by two moderators instead of all 17
# keeps `analyze` of the cases that pass at ~2 s instead of ~6 s; nothing else changes.
BASE_EDITS = [{"op": "yaml_set", "key": "analysis.moderators", "value": ["age", "same_gender"]},
              {"op": "yaml_set", "key": "analysis.prespecified_moderators", "value": []}]


class Flow(dict):
    """An edit, dumped on one line."""


def build_manifest() -> dict:
    cs = cases()
    for c in cs:
        c["edits"] = [Flow(e) for e in c["edits"]]
    return {"about": "Bad-input corpus for mut_eval; generated by make_corpus.py, do not edit by hand. "
                     "Each case: base_edits and then its own edits applied to a fresh copy of "
                     "mut_eval/data/example_study (the operations are the op_* functions of make_corpus.py), "
                     "then `mut-eval validate` and `mut-eval analyze --bootstrap 0` must end as in `expect` "
                     "(`analyze` when it differs): the exit code and fragments of stdout/stderr. Rows are "
                     "numbered as in the file (header = 1).",
            "base_edits": [Flow(e) for e in BASE_EDITS],
            "cases": cs}


def dump(manifest: dict) -> str:
    class Dumper(yaml.SafeDumper):
        pass

    def str_repr(dumper, s):
        style = '"' if ("\n" in s or any(ord(ch) < 32 for ch in s)) else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)
    Dumper.add_representer(str, str_repr)
    Dumper.add_representer(Flow, lambda dumper, d: dumper.represent_mapping(
        "tag:yaml.org,2002:map", d.items(), flow_style=True))
    return yaml.dump(manifest, Dumper=Dumper, allow_unicode=True, sort_keys=False, width=140)


def main(argv: list[str]) -> int:
    text = dump(build_manifest())
    MANIFEST.write_text(text, encoding="utf-8")
    print(f"wrote {len(cases())} cases to {MANIFEST}")
    if "--write" in argv:
        out = Path(argv[argv.index("--write") + 1])
        for c in cases():
            materialise(c, out / c["id"], base=BASE_EDITS)
        print(f"wrote the case folders to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
