"""Fuzzing the loaders and the validator: whatever bytes or table a user puts in a study
folder, reading and validating it either succeeds or raises StudyError (the CLI's exit 2
with a message) — never any other exception (a crash, exit 1).

Bounded to keep the file well under a minute: few examples per test, no deadline."""
import csv
import io
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mut_eval import StudyError
from mut_eval.intake.io import RawTable, read_table
from mut_eval.intake.validate import CleanStudy, validate_study

from conftest import EXAMPLE, read_csv_text

FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

STUDENTS = read_csv_text(EXAMPLE / "students.csv")
WAVE_T1 = read_csv_text(EXAMPLE / "wave_T1.csv")
IDS = STUDENTS["student_id"].tolist()

# cells a user's export may hold: valid values and the usual debris
JUNK = st.sampled_from(["", " ", "NA", "n/a", ".", "#N/A", "nan", "inf", "-inf", "1e308", "-0", "3,5", "3.5",
                        "1.234,5", "vier", "0", "6", "-1", "999999999999999999999", "2099-01-01", "2019-02-30",
                        "31-12-2019", "=1+1", '"', "'", ";", ",", "\t", "|", "a\nb", "\r", "\x00", "ü", "学生",
                        "🙂", "x" * 300, "None", "True", "mentee ", "MENTEE", "controle", "Meisje"])
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


def _column_values(column: str, source) -> st.SearchStrategy:
    valid = source[column].tolist() if column in source.columns else []
    choices = [JUNK, TEXT] + ([st.sampled_from(valid)] * 6 if valid else [])
    return st.one_of(*choices)


@st.composite
def tables(draw, source, pool_extra):
    """A small table: columns of the real file (some dropped, renamed, doubled) plus odd
    ones; rows mostly with plausible values, some with junk; ids from the example."""
    cols = [c for c in source.columns if draw(st.floats(0, 1)) < 0.85]
    if draw(st.booleans()):
        cols.append(draw(st.sampled_from([*pool_extra, "", "Student_ID", "gender ", "ü", "a,b", cols[0] if cols else "x"])))
    if draw(st.floats(0, 1)) < 0.2:
        cols = draw(st.permutations(cols))
    n = draw(st.integers(0, 6))
    rows = []
    for _ in range(n):
        row = []
        for c in cols:
            if c == "student_id" and draw(st.floats(0, 1)) < 0.8:
                row.append(draw(st.sampled_from(IDS)))
            else:
                row.append(draw(_column_values(c, source)))
        rows.append(row)
    return cols, rows


@st.composite
def csv_bytes(draw, source, pool_extra):
    cols, rows = draw(tables(source, pool_extra))
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    buf = io.StringIO()
    csv.writer(buf, delimiter=delim, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"]))).writerows(
        [cols, *rows])
    text = buf.getvalue()
    if draw(st.floats(0, 1)) < 0.15:  # Excel's separator hint, right or wrong
        text = f"sep={draw(st.sampled_from([delim, ',', ';', '', 'ab']))}\n" + text
    enc = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"]))
    return text.encode(enc, errors="replace")


@st.composite
def mutated(draw, name):
    """The example's file with a few cells changed (to junk or to another row's value), and
    maybe a column dropped or a row doubled: close enough to pass sometimes."""
    df = read_csv_text(EXAMPLE / name)
    header, body = list(df.columns), df.to_numpy().tolist()
    for _ in range(draw(st.integers(1, 4))):
        r, c = draw(st.integers(0, len(body) - 1)), draw(st.integers(0, len(header) - 1))
        body[r][c] = draw(st.one_of(JUNK, TEXT, st.sampled_from(df.iloc[:, c].tolist())))
    if draw(st.floats(0, 1)) < 0.2:
        c = draw(st.integers(0, len(header) - 1))
        header.pop(c)
        body = [row[:c] + row[c + 1:] for row in body]
    if draw(st.floats(0, 1)) < 0.2:
        body.append(list(draw(st.sampled_from(body))))
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([header, *body])
    return buf.getvalue().encode("utf-8")


def _ok_or_study_error(fn):
    try:
        return fn()
    except StudyError:
        return None


# ---------------------------------------------------------------- the reader alone
PREFIX = st.sampled_from([b"", b"", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf", b"sep=;\n", b"PK\x03\x04"])


@FAST
@given(prefix=PREFIX, data=st.binary(max_size=3000), ext=st.sampled_from([".csv", ".xlsx", ".sav"]))
def test_read_table_on_random_bytes(tmp_path_factory, prefix, data, ext):
    path = tmp_path_factory.mktemp("bytes") / f"students{ext}"
    path.write_bytes(prefix + data)
    raw = _ok_or_study_error(lambda: read_table(path, "students"))
    assert raw is None or isinstance(raw, RawTable)


@FAST
@given(data=csv_bytes(STUDENTS, ["birth_date", "country_of_birth"]))
def test_read_table_on_random_csv(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("csv") / "students.csv"
    path.write_bytes(data)
    raw = _ok_or_study_error(lambda: read_table(path, "students"))
    if raw is not None:
        assert len(raw.rows) == len(raw.data)
        assert all(v is None or isinstance(v, str) for v in raw.data.to_numpy().ravel())


# ---------------------------------------------------------------- the whole validator
@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    dst = tmp_path_factory.mktemp("fuzz") / "study"
    shutil.copytree(EXAMPLE, dst)
    return dst


def _validate_with(folder, name: str, data: bytes):
    path = folder / name
    original = (EXAMPLE / name).read_bytes()
    path.write_bytes(data)
    try:
        result = _ok_or_study_error(lambda: validate_study(folder))
    finally:
        path.write_bytes(original)
    assert result is None or isinstance(result, CleanStudy)
    return result


@SLOW
@given(data=st.binary(max_size=2000), name=st.sampled_from(["students.csv", "wave_T2.csv", "matches.csv"]))
def test_validate_with_random_bytes(folder, data, name):
    _validate_with(folder, name, data)


@SLOW
@given(data=csv_bytes(STUDENTS, ["birth_date", "country_of_birth", "country_of_birth_parent1"]))
def test_validate_with_random_students_table(folder, data):
    _validate_with(folder, "students.csv", data)


@SLOW
@given(data=csv_bytes(WAVE_T1, ["SE01", "RQ01", "self_efficacy", "date"]),
       name=st.sampled_from(["wave_T1.csv", "wave_T3.csv"]))
def test_validate_with_random_wave_table(folder, data, name):
    _validate_with(folder, name, data)


@SLOW
@given(data=st.data(), name=st.sampled_from(["students.csv", "wave_T1.csv", "wave_T2.csv", "matches.csv",
                                              "mentors.csv", "qsort.csv"]))
def test_validate_with_a_few_cells_changed(folder, data, name):
    _validate_with(folder, name, data.draw(mutated(name)))


CELL = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                 st.booleans(), st.dates(), st.datetimes(), JUNK, TEXT, st.sampled_from(IDS),
                 st.sampled_from(["=1+1", "=A1", "=SUM(", "=#REF!"]))


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(sheets=st.lists(st.lists(st.lists(CELL, max_size=5), max_size=5), min_size=1, max_size=3),
       header=st.lists(st.sampled_from(["student_id", "condition", "", "SE01", "date", "x"]), max_size=5))
def test_read_table_on_random_workbooks(tmp_path_factory, sheets, header):
    import openpyxl
    from openpyxl.utils.exceptions import IllegalCharacterError

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    try:
        for i, grid in enumerate(sheets):
            ws = wb.create_sheet(f"s{i}")
            if i == len(sheets) - 1 and header:
                ws.append(header)
            for row in grid:
                ws.append(row)
    except (IllegalCharacterError, ValueError, TypeError):
        return  # openpyxl itself refuses to store such a cell: no such workbook can exist
    path = tmp_path_factory.mktemp("xlsx") / "wave_T1.xlsx"
    wb.save(path)
    raw = _ok_or_study_error(lambda: read_table(path, "wave_T1"))
    if raw is not None:
        assert len(raw.rows) == len(raw.data) and list(raw.rows) == sorted(raw.rows)
        assert all(v is None or isinstance(v, str) for v in raw.data.to_numpy().ravel())
