"""Identifiers (issue 10 item 2, issue 11 low): compared as text everywhere, ids.pad,
NFC, invisible characters, near-match suggestions, case-only differences."""
import unicodedata

import openpyxl
import pytest
import yaml

from mut_eval.intake.repairs import case_only_groups, code_points, near_match, normalise_id
from mut_eval.intake.validate import ValidationFailed, validate_study
from mut_eval.panel import load_panel

from conftest import read_csv_text, write_csv_text

FILES = ["students.csv", "wave_T1.csv", "wave_T2.csv", "wave_T3.csv", "matches.csv", "qsort.csv"]


def test_normalise_id():
    assert normalise_id("47311", pad=6) == "047311"
    assert normalise_id("47311.0", pad=6) == "047311"      # a number cell of Excel/SPSS
    assert normalise_id("1234567", pad=6) == "1234567"     # longer ids are left alone
    assert normalise_id("SYN01", pad=6) == "SYN01"         # only numeric ids are padded
    assert normalise_id("\u200bSYN01\ufeff") == "SYN01"
    nfd = unicodedata.normalize("NFD", "Zoë01")
    assert nfd != "Zoë01" and normalise_id(nfd) == "Zoë01"


def test_near_match_hints():
    assert near_match("47311", ["047311", "047312"])[0] == "047311"
    assert "ids: {pad: 6}" in near_match("47311", ["047311"])[1]
    assert "upper/lower case" in near_match("syn0001", ["SYN0001"])[1]
    cyr = "SYN0\u041e01"  # Cyrillic capital O where Latin O stands: not found, no suggestion
    assert near_match(cyr, ["SYN0O01"]) is None
    fullwidth = "ＳYN0001"   # a full-width S (NFKC folds it): looks alike, shown with code points
    guess = near_match(fullwidth, ["SYN0001"])
    assert guess[0] == "SYN0001" and "U+FF33" in guess[1] and "U+0053" in guess[1]
    assert code_points("Ab") == "U+0041 U+0062"
    assert case_only_groups(["SYN0001", "syn0001", "SYN0002"]) == [["SYN0001", "syn0001"]]


def _numeric_ids(study):
    """Give every pupil a 6-digit id with a leading zero (0 + 5 digits), in every CSV."""
    s = read_csv_text(study / "students.csv")
    new = {old: f"0{47000 + i:05d}" for i, old in enumerate(s["student_id"])}
    for f in FILES:
        df = read_csv_text(study / f)
        df["student_id"] = df["student_id"].map(new)
        write_csv_text(df, study / f)
    return new


def _csv_to_xlsx_with_numbers(study, name):
    """students.csv as Excel would keep it after a paste: ids become numbers (zeros dropped)."""
    df = read_csv_text(study / f"{name}.csv")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(list(df.columns))
    for rec in df.itertuples(index=False):
        ws.append([int(v) if c == "student_id" else v for c, v in zip(df.columns, rec)])
    wb.save(study / f"{name}.xlsx")
    (study / f"{name}.csv").unlink()


def test_pad_makes_excel_ids_match_csv_ids(study):
    _numeric_ids(study)
    _csv_to_xlsx_with_numbers(study, "students")
    with pytest.raises(ValidationFailed) as e:
        validate_study(study)
    msgs = [str(p) for p in e.value.problems if p.file == "wave_T1.csv"]
    assert msgs and "did you mean '47000' in students.xlsx" in msgs[0] and "ids.pad" in msgs[0]
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg["ids"] = {"pad": 6}
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    panel = load_panel(study)
    assert len(panel.students) == 190 and (panel.long["wave"] == "T3").any()


def test_nfd_id_is_the_same_pupil(study):
    """SYN0001 becomes 'Zoë01': composed (NFC) in students.csv, decomposed (NFD, as macOS
    may write it) in every other file; they are one pupil."""
    for f in FILES:
        df = read_csv_text(study / f)
        form = "NFC" if f == "students.csv" else "NFD"
        df.loc[df["student_id"] == "SYN0001", "student_id"] = unicodedata.normalize(form, "Zoë01")
        write_csv_text(df, study / f)
    clean = validate_study(study)
    assert "Zoë01" in set(clean.waves["T1"]["student_id"]) and "Zoë01" in set(clean.students["student_id"])


def test_case_only_difference_warns(study):
    s = read_csv_text(study / "students.csv")
    ctrl = s.index[s["condition"] == "control"][0]
    s.loc[ctrl, "student_id"] = s.loc[ctrl, "student_id"].lower()
    for f in ["wave_T1.csv", "wave_T2.csv", "wave_T3.csv"]:
        df = read_csv_text(study / f)
        df = df[df["student_id"] != s.loc[ctrl, "student_id"].upper()]
        write_csv_text(df, study / f)
    write_csv_text(s, study / "students.csv")
    # an upper-case twin of that control, enrolled too
    twin = s.loc[[ctrl]].copy()
    twin["student_id"] = twin["student_id"].str.upper()
    write_csv_text(__import__("pandas").concat([s, twin]), study / "students.csv")
    clean = validate_study(study)
    w = [str(p) for p in clean.warnings if "differ only in upper/lower case" in p.rule]
    assert len(w) == 1 and "count as different pupils" in w[0]
