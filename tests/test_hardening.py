"""Issue 11 (security review): outputs that cannot hurt the user, inputs that cannot hang
or exhaust the machine, and cells that cannot become formulas. Each case is run through
the command line as a user would; the cases that could hang run under a time guard."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

from mut_eval.cli import main
from mut_eval.outfolder import INCOMPLETE, MANIFEST

from conftest import EXAMPLE


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextmanager
def time_limit(seconds: int):
    """Fail (instead of hanging the suite) when the block takes longer than ``seconds``."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _analyze(study, out, capsys=None) -> tuple[int, str]:
    code = main(["analyze", str(study), "--out", str(out), "--bootstrap", "0"])
    err = capsys.readouterr().err if capsys is not None else ""
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """One complete run on the example (bootstrap 0)."""
    out = tmp_path_factory.mktemp("hardening") / "out"
    assert main(["analyze", str(EXAMPLE), "--out", str(out), "--bootstrap", "0"]) == 0
    return out


# ------------------------------------------------------------------ the output folder (item 3 and low items)
def test_a_folder_with_results_json_and_user_files_is_not_replaced(tmp_path, capsys):
    """The review's case: results.json beside a thesis and a notes folder."""
    o = tmp_path / "o"
    (o / "notes").mkdir(parents=True)
    (o / "results.json").write_text("{}")
    (o / "thesis.docx").write_text("x")
    (o / "notes" / "n.txt").write_text("months of work")
    before = _hashes(tmp_path)
    code, err = _analyze(EXAMPLE, o, capsys)
    assert code == 2
    assert "--out" in err and "thesis.docx" in err and "notes/" in err
    assert _hashes(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_an_earlier_output_is_recognised_by_its_manifest_and_replaced(done, tmp_path, capsys):
    manifest = json.loads((done / MANIFEST).read_text(encoding="utf-8"))["files"]
    on_disk = {p.relative_to(done).as_posix() for p in done.rglob("*") if p.is_file()} - {MANIFEST}
    assert set(manifest) == on_disk and "results.json" in manifest and "results.xlsx" in manifest
    assert manifest["results.json"]["size"] == (done / "results.json").stat().st_size
    assert manifest["results.json"]["sha256"] == hashlib.sha256((done / "results.json").read_bytes()).hexdigest()

    import shutil
    out = tmp_path / "out"
    shutil.copytree(done, out)
    (out / "results.json").write_text((out / "results.json").read_text(encoding="utf-8"), encoding="utf-8")
    code, _ = _analyze(EXAMPLE, out, capsys)  # unchanged earlier output: replaced
    assert code == 0 and (out / MANIFEST).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]   # no .out.old, no temporary folder

    (out / "tables" / "flow.csv").write_text("edited by hand\n")   # a changed file is the user's work
    before = _hashes(tmp_path)
    code, err = _analyze(EXAMPLE, out, capsys)
    assert code == 2 and "tables/flow.csv" in err
    assert _hashes(tmp_path) == before


@pytest.mark.parametrize("where", ["through a file", "current folder", "unwritable"])
def test_an_impossible_output_folder_fails_before_the_analysis(where, tmp_path, capsys, monkeypatch):
    (tmp_path / "a_file").write_text("x")
    monkeypatch.chdir(tmp_path)
    out = {"through a file": tmp_path / "a_file" / "sub", "current folder": Path("."),
           # not writable even for root
           "unwritable": Path("/proc/mut_eval_out")}[where]
    import mut_eval.analysis as analysis

    def no_analysis(*a, **k):
        raise AssertionError("the analysis started")
    monkeypatch.setattr(analysis, "load_study", no_analysis)
    code, err = _analyze(EXAMPLE, out, capsys)
    assert code == 2 and "--out" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_a_symlinked_output_folder_is_refused_and_its_target_kept(done, tmp_path, capsys):
    import shutil
    target = tmp_path / "target"
    shutil.copytree(done, target)
    (tmp_path / "link").symlink_to(target, target_is_directory=True)
    before = _hashes(target)
    code, err = _analyze(EXAMPLE, tmp_path / "link", capsys)
    assert code == 2 and "symbolic link" in err
    assert _hashes(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "target"]


def test_temporary_folder_is_private_and_a_stale_one_is_removed(tmp_path, monkeypatch):
    """A run killed with -9 leaves its hidden temporary folder (complete, unsuppressed
    results); the next run into the same --out removes it. The folder is created 0700."""
    from mut_eval import outfolder
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / ".out.abcd1234"
    stale.mkdir()
    (stale / INCOMPLETE).write_text(str(dead.pid))
    (stale / "results.json").write_text("{}")
    alive = tmp_path / ".out.efgh5678"   # a run still writing (this process) is left alone
    alive.mkdir()
    (alive / INCOMPLETE).write_text(str(os.getpid()))
    (tmp_path / ".out.notmine1").mkdir()  # no marker: not ours
    modes = []
    with outfolder.atomic_dir(tmp_path / "out") as tmp:
        modes.append(stat.S_IMODE(tmp.stat().st_mode))
        (tmp / "results.json").write_text("{}")
    assert modes == [0o700]
    assert not stale.exists() and alive.exists() and (tmp_path / ".out.notmine1").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.efgh5678", ".out.notmine1", "out"]
    assert json.loads((tmp_path / "out" / MANIFEST).read_text())["files"].keys() == {"results.json"}


# ------------------------------------------------------------------ small inputs that hang or exhaust (item 6)
def _validate(study, capsys, seconds: int = 30) -> tuple[int, str]:
    with time_limit(seconds):
        code = main(["validate", str(study)])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    return code, err


def _append_yaml(study: Path, text: str) -> None:
    path = study / "study.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def test_xlsx_with_one_formatted_cell_at_the_end_of_the_sheet_is_read_by_its_values(study, capsys):
    """A 5 KB workbook whose used range claims A1:XFD1048576 (one bold empty cell)."""
    import openpyxl
    import pandas as pd
    from openpyxl.styles import Font
    df = pd.read_csv(study / "mentors.csv", dtype=str, keep_default_na=False)
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(df.columns))
    for row in df.itertuples(index=False):
        ws.append(list(row))
    ws["XFD1048576"].font = Font(bold=True)
    wb.save(study / "mentors.xlsx")
    (study / "mentors.csv").unlink()
    assert (study / "mentors.xlsx").stat().st_size < 20_000
    code, err = _validate(study, capsys, seconds=20)
    assert code == 0, err


def test_a_header_of_300000_columns_is_refused_quickly(study, capsys):
    (study / "mentors.csv").write_text(",".join(f"c{i}" for i in range(300_000)) + "\n" + "1," * 299_999 + "1\n")
    code, err = _validate(study, capsys)
    assert code == 2 and "mentors.csv" in err and "300,000 columns" in err


def test_duplicate_columns_are_found_in_linear_time():
    """The duplicate-column check of validation counted each name in the whole header (quadratic)."""
    import inspect
    from mut_eval.intake import validate
    assert ".count(c)" not in inspect.getsource(validate._prepare)


@pytest.mark.parametrize("field", ["name", "description"])
def test_yaml_anchor_bomb_is_refused(study, capsys, field):
    """450 bytes that expand to 9^9 strings ("billion laughs")."""
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "x_bomb:\n" + "\n".join("  " + line for line in lines) + f"\n{field}: *i\n"
    (study / "study.yaml").write_text(bomb, encoding="utf-8")
    assert len(bomb) < 600
    code, err = _validate(study, capsys, seconds=20)
    assert code == 2 and "study.yaml" in err and "aliases" in err


def test_yaml_alias_in_a_codebook_is_refused(study, capsys):
    from mut_eval.intake.codebook import default_codebook_path
    text = default_codebook_path().read_text(encoding="utf-8")
    (study / "own.yaml").write_text(text + "\nx: &x 1\ny: *x\n", encoding="utf-8")
    _append_yaml(study, "codebook: own.yaml\n")
    code, err = _validate(study, capsys)
    assert code == 2 and "own.yaml" in err and "aliases" in err


def test_a_large_study_yaml_is_refused(study, capsys):
    _append_yaml(study, "description: " + "x" * 2_000_000 + "\n")
    code, err = _validate(study, capsys)
    assert code == 2 and "study.yaml" in err and "bytes" in err


@pytest.mark.parametrize("case", ["codebook /dev/zero", "study.yaml -> /dev/zero", "fifo mentors.csv",
                                  "fifo under files:", "folder as codebook"])
def test_devices_pipes_and_folders_are_not_opened(study, capsys, case):
    if case == "codebook /dev/zero":
        _append_yaml(study, "codebook: /dev/zero\n")
    elif case == "study.yaml -> /dev/zero":
        (study / "study.yaml").unlink()
        (study / "study.yaml").symlink_to("/dev/zero")
    elif case == "fifo mentors.csv":
        (study / "mentors.csv").unlink()
        os.mkfifo(study / "mentors.csv")
    elif case == "fifo under files:":
        os.mkfifo(study / "m.csv")
        _append_yaml(study, "files:\n  mentors: m.csv\n")
    else:
        (study / "cb.yaml").mkdir()
        _append_yaml(study, "codebook: cb.yaml\n")
    code, err = _validate(study, capsys, seconds=20)
    assert code == 2
    assert {"codebook /dev/zero": "is a device", "study.yaml -> /dev/zero": "is a device (a link to it)",
            "fifo mentors.csv": "mentors.csv: is a pipe", "fifo under files:": "m.csv: is a pipe",
            "folder as codebook": "is a folder"}[case] in err


def test_table_size_is_bounded(study, capsys, monkeypatch):
    from mut_eval.intake import io
    monkeypatch.setattr(io, "MAX_TABLE_BYTES", 10_000)
    code, err = _validate(study, capsys)
    assert code == 2 and "more than the 10,000" in err


# ------------------------------------------------------------------ low items of the review
@pytest.mark.parametrize("name", ["../elsewhere/mentors.csv", "ABSOLUTE"])
def test_files_outside_the_study_folder_need_allow_outside(study, tmp_path, capsys, name):
    import shutil
    (tmp_path / "elsewhere").mkdir()
    shutil.move(study / "mentors.csv", tmp_path / "elsewhere" / "mentors.csv")
    name = str(tmp_path / "elsewhere" / "mentors.csv") if name == "ABSOLUTE" else name
    config = (study / "study.yaml").read_text(encoding="utf-8")
    _append_yaml(study, f"files:\n  mentors: {name}\n")
    code, err = _validate(study, capsys)
    assert code == 2 and "outside the study folder" in err and "allow_outside" in err
    (study / "study.yaml").write_text(config + f"\nallow_outside: true\nfiles:\n  mentors: {name}\n", encoding="utf-8")
    code, err = _validate(study, capsys)
    assert code == 0, err


def test_a_linked_input_that_is_no_table_is_not_echoed(study, tmp_path, capsys):
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:SECRET-LINE-OF-ANOTHER-FILE\n")
    (study / "mentors.csv").unlink()
    (study / "mentors.csv").symlink_to(secret)
    code, err = _validate(study, capsys)
    assert code == 2 and "mentors.csv" in err
    assert "SECRET" not in err and "root:x" not in err


def test_invalid_yaml_is_located_without_echoing_it(study, capsys):
    (study / "study.yaml").write_text("name: ok\nsecret line: [unclosed SECRET\n", encoding="utf-8")
    code, err = _validate(study, capsys)
    assert code == 2 and "study.yaml" in err and "line" in err and "SECRET" not in err


def test_an_empty_name_or_cohort_is_not_none(study):
    from mut_eval.intake.study import load_study
    _append_yaml(study, "name:\ncohort:\n")
    s = load_study(study)
    assert s.name == study.name and s.cohort == ""


# ------------------------------------------------------------------ formula injection (item 5)
HYPERLINK = '=HYPERLINK("http://x","y")'


def test_text_that_starts_a_formula_is_defused_and_numbers_are_not():
    import pandas as pd
    from mut_eval.results import spreadsheet_safe
    df = pd.DataFrame({"t": [HYPERLINK, "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "T3-T1", "-0.5", "1e-3", None],
                       "x": [-1.5, -2.0, 0, 1, 2, 3, 4, 5, 6, -7]})
    safe = spreadsheet_safe(df)
    assert safe["t"].tolist()[:9] == ["'" + HYPERLINK, "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\rx", "T3-T1",
                                      "-0.5", "1e-3"]
    assert pd.isna(safe["t"].iloc[9])
    assert safe["x"].tolist() == df["x"].tolist() and safe["x"].dtype == float
    assert spreadsheet_safe(df.rename(columns={"t": "=x"})).columns.tolist() == ["'=x", "x"]


def test_a_formula_in_a_scale_key_or_file_name_stays_text_in_csv_and_xlsx(study, tmp_path):
    """The review's case: a codebook scale key and a `files:` name that are formulas."""
    import openpyxl
    import pandas as pd
    from mut_eval.intake.codebook import default_codebook_path
    book = default_codebook_path().read_text(encoding="utf-8")
    assert "  intrinsic_motivation:" in book
    (study / "cb.yaml").write_text(book.replace("  intrinsic_motivation:", f"  '{HYPERLINK}':", 1), encoding="utf-8")
    (study / "mentors.csv").rename(study / "=cmd.csv")
    config = (study / "study.yaml").read_text(encoding="utf-8").replace(
        "outcome: intrinsic_motivation", "outcome: '" + HYPERLINK + "'")
    (study / "study.yaml").write_text(config + '\ncodebook: cb.yaml\nfiles:\n  mentors: "=cmd.csv"\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["analyze", str(study), "--out", str(out), "--bootstrap", "0"]) == 0

    seen = 0
    for f in (out / "tables").glob("*.csv"):
        for cell in pd.read_csv(f, dtype=str, keep_default_na=False).to_numpy().ravel():
            assert not cell.startswith(("=", "+", "@", "\t", "\r")), (f.name, cell)
            assert not cell.startswith("-") or float(cell) < 0, (f.name, cell)  # only negative numbers
            seen += cell in ("'" + HYPERLINK, "'=cmd.csv")
    assert seen > 0
    wb = openpyxl.load_workbook(out / "results.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    assert any(c.value == HYPERLINK and c.data_type == "s" for c in cells)
    raw = json.loads((out / "results.json").read_text(encoding="utf-8"))   # the JSON keeps the raw value
    assert HYPERLINK in {r["outcome"] for r in raw["tables"]["did"]}


# ------------------------------------------------------------------ scored data for SPSS and R (issue 10 item 11)
def test_scored_panel_for_spss_and_r(done):
    import numpy as np
    import pandas as pd
    import pyreadstat
    from mut_eval.panel import load_panel
    panel = load_panel(EXAMPLE)   # same default key, so the same pseudonyms
    wide = panel.wide
    sav, meta = pyreadstat.read_sav(str(done / "data" / "panel_wide.sav"), user_missing=True)
    assert len(sav) == len(wide) == 190
    sav = sav.set_index("student_id").loc[wide.index]
    for col in [c for c in wide.columns if c.endswith(("_T1", "_T2", "_T3"))] + ["age"]:
        np.testing.assert_allclose(sav[col].to_numpy(float), wide[col].to_numpy(float), rtol=1e-12, equal_nan=True)
    labels = dict(zip(meta.column_names, meta.column_labels))
    assert labels["self_efficacy_T1"].startswith(panel.codebook.label("self_efficacy", "nl"))
    assert labels["condition"] == "Condition"
    vl = meta.variable_value_labels
    assert vl["condition"] == {1.0: "mentee", 2.0: "control"} and vl["gender"][9.0] == "unknown"
    for col in ("condition", "gender", "ses", "origin"):   # the codes give back the text
        assert sav[col].map(vl[col]).tolist() == wide[col].tolist(), col
    assert meta.missing_ranges["gender"] == [{"lo": 9.0, "hi": 9.0}]
    assert sav["relationship_quality_T2"].notna().sum() > 0

    long = pd.read_csv(done / "data" / "panel_long.csv")
    assert len(long) == len(panel.long)
    np.testing.assert_allclose(long["score"], panel.long["score"])

    # pseudonyms only: no pupil number of the school anywhere in data/
    ids = pd.read_csv(EXAMPLE / "students.csv", dtype=str)["student_id"].tolist()
    blob = b"".join(p.read_bytes() for p in (done / "data").iterdir())
    assert not [i for i in ids if i.encode() in blob]
    assert set(sav.index.str[:1]) == {"P"}


def test_every_column_of_every_output_is_described(done):
    import pandas as pd
    book = pd.read_csv(done / "data" / "codebook.csv", dtype=str, keep_default_na=False)
    written = {(f"tables/{p.name}", c) for p in (done / "tables").glob("*.csv")
               for c in pd.read_csv(p, nrows=0).columns}
    import pyreadstat
    _, meta = pyreadstat.read_sav(str(done / "data" / "panel_wide.sav"), metadataonly=True)
    written |= {("data/panel_wide.sav", c) for c in meta.column_names}
    written |= {("data/panel_long.csv", c) for c in pd.read_csv(done / "data" / "panel_long.csv", nrows=0).columns}
    assert written == set(zip(book["file"], book["column"]))
    undescribed = book[(book["label"] == "") | (book["computed"] == "")]
    assert undescribed.empty, undescribed[["file", "column"]].to_string()
    assert set(book["type"]) <= {"number", "integer", "text", "true/false", "integer (coded)"}


def test_staff_edition_writes_no_pupil_level_data(study, tmp_path):
    config = (study / "study.yaml").read_text(encoding="utf-8")
    (study / "study.yaml").write_text(config.replace("analysis:\n", "analysis:\n  staff_edition: true\n", 1),
                                      encoding="utf-8")
    out = tmp_path / "out"
    assert main(["analyze", str(study), "--out", str(out), "--bootstrap", "0"]) == 0
    assert not (out / "data").exists()


def test_labels_are_plain_text_and_capped_in_figures_and_report(tmp_path):
    """A TeX-math scale label crashed matplotlib; names of thousands of characters made the
    report run for minutes; an empty cohort must not print as 'None'."""
    import re
    from mut_eval import MAX_LABEL
    from mut_eval.intake.codebook import codebook_summary, load_codebook
    from mut_eval.report import build_report
    from mut_eval.report.demo import demo_results
    from test_report_build import pdf_text
    r = demo_results()
    cb = codebook_summary(load_codebook())
    cb["scales"]["self_efficacy"]["label"] = {"nl": r"$\frac{5$", "en": r"$\frac{5$"}
    cb["scales"]["school_belonging"]["label"] = {"nl": "Verbondenheid " * 400, "en": "Belonging " * 400}
    r.meta.update(codebook=cb, name="Mentoring " * 600, cohort=None)
    with time_limit(120):
        pdf = build_report(r, tmp_path, lang="nl")
    _, text = pdf_text(pdf)
    assert r"$\frac{5$" in text
    assert "None" not in text
    assert "Mentoring" * 13 not in text.replace(" ", "")   # the name is cut at MAX_LABEL characters
    assert "Verbondenheid" * 12 not in re.sub(r"\s+", "", text)
    assert MAX_LABEL == 120
