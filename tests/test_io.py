"""Loaders: the three file formats give the same panel; the Dutch CSV dialect; encodings."""
import numpy as np
import pandas as pd
import pyreadstat
import pytest

from mut_eval import StudyError
from mut_eval.intake.io import read_table, to_number
from mut_eval.panel import load_panel
from mut_eval.intake.validate import validate_study

from conftest import EXAMPLE, read_csv_text

TABLES = ["students", "wave_T1", "wave_T2", "wave_T3", "mentors", "matches", "qsort"]


def _same_panel(a, b):
    la = a.long.sort_values(["outcome", "student_id", "wave"]).reset_index(drop=True)
    lb = b.long.sort_values(["outcome", "student_id", "wave"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(la, lb, check_dtype=False)
    cols = ["condition", "school", "class", "age", "gender", "origin", "ses", "first_generation",
            "migration_background"]
    pd.testing.assert_frame_equal(a.students[cols].sort_index(), b.students[cols].sort_index(), check_dtype=False)


def test_xlsx_gives_the_same_panel(study):
    for t in TABLES:
        df = pd.read_csv(study / f"{t}.csv", dtype=str, keep_default_na=False).replace("", None)
        for c in df.columns:  # numbers as numbers in Excel, as a user's export would have them
            num = pd.to_numeric(df[c], errors="coerce")
            if num.notna().sum() == df[c].notna().sum():
                df[c] = num
        df.to_excel(study / f"{t}.xlsx", index=False)
        (study / f"{t}.csv").unlink()
    _same_panel(load_panel(EXAMPLE), load_panel(study))


def test_sav_with_value_labels_gives_the_same_panel(study):
    for t in TABLES:
        df = pd.read_csv(study / f"{t}.csv", dtype=str, keep_default_na=False).replace("", None)
        labels = {}
        for c in df.columns:
            num = pd.to_numeric(df[c], errors="coerce")
            if num.notna().sum() == df[c].notna().sum():
                df[c] = num.astype(float)
            elif c in ("condition", "gender", "origin", "education_parent1", "education_parent2", "format"):
                # SPSS stores codes as numbers with value labels
                codes = sorted(df[c].dropna().unique())
                labels[c] = {float(i + 1): code for i, code in enumerate(codes)}
                df[c] = df[c].map({code: float(i + 1) for i, code in enumerate(codes)})
        pyreadstat.write_sav(df, str(study / f"{t}.sav"), variable_value_labels=labels)
        (study / f"{t}.csv").unlink()
    _same_panel(load_panel(EXAMPLE), load_panel(study))


def test_dutch_excel_csv_dialect_with_renames_and_recodes(study):
    s = read_csv_text(study / "students.csv")
    s["age"] = s["age"].str.replace(".", ",", regex=False)   # decimal comma
    s["gender"] = s["gender"].map({"girl": "meisje", "boy": "jongen"}).fillna(s["gender"])
    s = s.rename(columns={"student_id": "Leerlingnummer", "class": "Klas"})
    text = s.to_csv(sep=";", index=False, lineterminator="\r\n")
    (study / "students.csv").write_bytes("\ufeff".encode() + text.encode("utf-8"))  # BOM, as Excel writes
    (study / "study.yaml").write_text(
        (study / "study.yaml").read_text(encoding="utf-8")
        + "rename:\n  students: {Leerlingnummer: student_id, Klas: class}\n", encoding="utf-8")
    _same_panel(load_panel(EXAMPLE), load_panel(study))


def test_latin1_file_is_read_with_a_reported_fallback(study, tmp_path):
    s = read_csv_text(study / "mentors.csv")
    s.loc[0, "study_programme"] = "Geneeskunde én Rechten"
    (study / "mentors.csv").write_bytes(s.to_csv(index=False).encode("cp1252"))
    clean = validate_study(study)
    assert clean.mentors["study_programme"].iloc[0] == "Geneeskunde én Rechten"  # no mojibake
    assert any("not UTF-8" in p.rule and p.file == "mentors.csv" for p in clean.warnings)


def test_ragged_row_is_named(tmp_path):
    p = tmp_path / "students.csv"
    p.write_text("student_id,condition\nA1,mentee\nA2,control,extra\n", encoding="utf-8")
    with pytest.raises(StudyError, match=r"students.csv, row 3: 3 cells"):
        read_table(p)


def test_row_numbers_skip_blank_lines(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a;b\n1;2\n\n3;4\n", encoding="utf-8")
    t = read_table(p)
    assert t.rows.tolist() == [2, 4] and t.delimiter == ";"


def test_to_number_accepts_decimal_comma():
    got = to_number(pd.Series(["3,5", "4", "x", None, "1.25"]))
    assert got.iloc[0] == 3.5 and got.iloc[1] == 4 and np.isnan(got.iloc[2]) and np.isnan(got.iloc[3])
    assert got.iloc[4] == 1.25
