"""Repairs expressed in study.yaml / exclusions.csv (issue 10 items 1, 3, 5, 6, 9): every
repair reproducible, every dropped row in the accounting, validate and analyze agreeing."""
import pandas as pd
import pytest
import yaml

from mut_eval.analysis import analyze
from mut_eval.intake.repairs import choose_duplicates, is_personal, tag_lists
from mut_eval.intake.validate import ValidationFailed, validate_study
from mut_eval.panel import load_panel

from conftest import read_csv_text, write_csv_text

FAST = {"bootstrap": 0, "moderators": ["age", "gender"], "prespecified_moderators": []}


def set_yaml(study, **kw):
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg.update(kw)
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def edit(study, name, fn):
    df = read_csv_text(study / name)
    write_csv_text(fn(df), study / name)


# ----------------------------------------------------------------- item 1: blank -> unknown
def test_blank_gender_is_unknown_and_analyze_agrees(study):
    def blank(df):
        df.loc[[3, 7], "gender"] = ""
        df.loc[5, "education_parent2"] = ""
        return df
    edit(study, "students.csv", blank)
    panel = load_panel(study)
    w = [str(p) for p in panel.clean.warnings if "read as 'unknown'" in p.rule]
    # rows 5 and 9 of the file (header = 1, data index 3 -> row 5)
    assert any("row 5, column gender" in m and "2 blank cell(s)" in m and "rows 5, 9" in m for m in w), w
    assert any("column education_parent2" in m and "1 blank cell(s)" in m for m in w), w
    assert panel.students["gender"].iloc[3] == "unknown"
    res = analyze(panel, FAST)        # crashed in sample_table before ("boolean value of NA")
    assert len(res.tables["sample"])


# ----------------------------------------------------------------- item 3: exclusions, duplicates
def test_exclusions_leave_out_pupils_and_waves_with_reasons(study):
    s = read_csv_text(study / "students.csv")
    mentee = s.loc[s["condition"] == "mentee", "student_id"].iloc[0]
    control = s.loc[s["condition"] == "control", "student_id"].iloc[0]
    (study / "exclusions.csv").write_text(
        f"student_id,wave,reason\n{mentee},,moved school\n{control},T2,filled in by a parent\n", encoding="utf-8")
    panel = load_panel(study)
    assert len(panel.students) == 189 and (panel.students["condition"] == "mentee").sum() == 123
    acc = panel.accounting
    moved = acc[acc["reason"].str.contains("moved school")]
    # the mentee's rows: students, matches, and every wave and Q-sort file that holds the pupil
    files_with = {f for f in ["students.csv", "wave_T1.csv", "wave_T2.csv", "wave_T3.csv", "matches.csv",
                              "qsort.csv"] if mentee in set(read_csv_text(study / f)["student_id"])}
    assert set(moved["file"]) == files_with and (moved["status"] == "excluded").all()
    parent = acc[acc["reason"].str.contains("filled in by a parent")]
    assert list(parent["file"]) == ["wave_T2.csv"]
    flow = panel.flow.set_index(["condition", "stage"])["n"]
    assert flow[("mentee", "excluded")] == 1 and flow[("control", "excluded")] == 0
    assert mentee not in set(panel.clean.students["student_id"])


def test_exclusions_need_a_reason(study):
    (study / "exclusions.csv").write_text("student_id,reason\nSYN0001,\n", encoding="utf-8")
    with pytest.raises(ValidationFailed) as e:
        validate_study(study)
    assert any(p.file == "exclusions.csv" and p.row == 2 and p.column == "reason" for p in e.value.problems)


def test_choose_duplicates_by_hand():
    df = pd.DataFrame({"student_id": ["a", "b", "a", "a"], "x": ["1", "2", None, "3"], "y": [None, "1", None, "4"]},
                      index=[2, 3, 4, 5])
    kept, dropped = choose_duplicates(df, "student_id", "first")
    assert list(kept.index) == [2, 3] and dropped == [(4, 2), (5, 2)]
    kept, dropped = choose_duplicates(df, "student_id", "last")
    assert list(kept.index) == [3, 5] and dropped == [(2, 5), (4, 5)]
    # filled cells: row 2 has 2, row 4 has 1, row 5 has 3 -> row 5
    kept, dropped = choose_duplicates(df, "student_id", "most_complete")
    assert list(kept.index) == [3, 5]


def test_duplicate_t2_row_most_complete_in_the_accounting(study):
    t2 = read_csv_text(study / "wave_T2.csv")
    copy = t2.iloc[[0]].copy()
    copy[[c for c in t2.columns if c.startswith("SE")]] = ""
    write_csv_text(pd.concat([copy, t2]), study / "wave_T2.csv")   # the worse copy first, on row 2
    with pytest.raises(ValidationFailed, match="duplicates in the README"):
        validate_study(study)
    set_yaml(study, duplicates={"wave_T2": "most_complete"})
    panel = load_panel(study)
    acc = panel.accounting
    dropped = acc[(acc["file"] == "wave_T2.csv") & acc["reason"].str.startswith("duplicate")]
    assert list(dropped["row"]) == [2] and "of row 3" in dropped["reason"].iloc[0]


# ----------------------------------------------------------------- item 5: missing codes
def test_missing_codes_per_file_and_one_grouped_message(study):
    def nines(df):
        for c in [f"SE0{i}" for i in range(1, 10)]:
            df.loc[:9, c] = "9"
        return df
    edit(study, "wave_T1.csv", nines)
    with pytest.raises(ValidationFailed) as e:
        validate_study(study)
    msgs = [str(p) for p in e.value.problems if p.file == "wave_T1.csv"]
    assert len(msgs) == 1, msgs    # 90 cells, said once
    assert "value '9' in 90 cells of SE01..SE09" in msgs[0] and "is 9 a missing code" in msgs[0]
    set_yaml(study, missing_codes={"wave_T1": [9]})
    clean = validate_study(study)
    assert clean.waves["T1"]["SE01"].iloc[:10].isna().all()


def test_missing_code_text_and_spss_user_missing(study):
    pyreadstat = pytest.importorskip("pyreadstat")
    t1 = read_csv_text(study / "wave_T1.csv")
    items = [c for c in t1.columns if c[:2] in ("SE", "IM", "EM", "SB", "HA", "NO")]
    num = t1.copy()
    for c in items:
        num[c] = pd.to_numeric(num[c], errors="coerce")
    num.loc[:4, "SE01"] = 99.0   # declared missing in the .sav: must not be an error
    (study / "wave_T1.csv").unlink()
    pyreadstat.write_sav(num, str(study / "wave_T1.sav"), missing_ranges={"SE01": [99]})
    clean = validate_study(study)
    assert clean.waves["T1"]["SE01"].iloc[:5].isna().all()
    edit(study, "matches.csv", lambda df: df.assign(format=["n.v.t." if i < 3 else v
                                                            for i, v in enumerate(df["format"])]))
    set_yaml(study, missing_codes=["N.V.T."])
    clean = validate_study(study)
    assert clean.matches["format"].isna().sum() == 3


# ----------------------------------------------------------------- item 6: dates and lists
def test_day_first_dates(study):
    edit(study, "wave_T1.csv", lambda df: df.assign(date=pd.to_datetime(df["date"]).dt.strftime("%d-%m-%Y")))
    with pytest.raises(ValidationFailed) as e:
        validate_study(study)
    msgs = [str(p) for p in e.value.problems if p.column == "date"]
    assert len(msgs) == 1 and 'dates: {format: "%d-%m-%Y"}' in msgs[0]
    set_yaml(study, dates={"format": "%d-%m-%Y"})
    clean = validate_study(study)
    orig = pd.to_datetime(read_csv_text(study / "wave_T1.csv")["date"], format="%d-%m-%Y")
    assert (clean.waves["T1"]["date"].to_numpy() == orig.to_numpy()).all()


def test_tag_lists():
    s = pd.Series(["sport, muziek", "lezen;gamen", None, "a"], dtype=object)
    assert tag_lists(s).tolist() == ["sport;muziek", "lezen;gamen", None, "a"]
    assert tag_lists(pd.Series(["a;b, c"]), ",").tolist() == ["a;b;c"]


def test_comma_separated_interests_give_the_same_overlap(study):
    from mut_eval.analysis import mentee_moderators
    before = mentee_moderators(load_panel(study))["interest_overlap"]
    edit(study, "students.csv", lambda df: df.assign(interests=df["interests"].str.replace(";", ", ")))
    after = mentee_moderators(load_panel(study))["interest_overlap"]
    pd.testing.assert_series_equal(before, after)


# ----------------------------------------------------------------- item 9: default recode
def test_default_recode_1_op_1(study):
    edit(study, "matches.csv", lambda df: df.assign(format=df["format"].replace({"individual": "1-op-1"})))
    clean = validate_study(study)
    assert set(clean.matches["format"]) <= {"individual", "group"}


def test_study_recode_with_spaces_and_hyphens(study):
    edit(study, "matches.csv", lambda df: df.assign(format=df["format"].replace({"group": "In Groep"})))
    set_yaml(study, recode={"format": {"in-groep": "group"}})
    assert set(validate_study(study).matches["format"]) <= {"individual", "group"}


# ----------------------------------------------------------------- item 7: personal columns
def test_personal_columns_dropped_values_never_shown(study, capsys):
    from mut_eval.cli import main
    edit(study, "students.csv", lambda df: df.assign(Achternaam="Jansen", **{"e-mail": "j@example.org"},
                                                     Postcode="3011AB", Opmerking="x"))
    code = main(["validate", str(study)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "Achternaam, e-mail, Postcode" in err and "Opmerking" in err
    assert "Jansen" not in out + err and "3011AB" not in out + err
    panel = load_panel(study)
    assert not {"Achternaam", "e-mail", "Postcode", "Opmerking"} & set(panel.students.columns)
    assert [is_personal(c) for c in ("Roepnaam", "E-mailadres", "Telefoonnummer", "geboortedatum", "gender")] == \
        [True, True, True, True, False]


def test_birth_date_not_carried_after_age(study):
    from datetime import date
    def births(df):
        df["birth_date"] = [f"{2005 + i % 3}-0{1 + i % 9}-15" for i in range(len(df))]
        return df.drop(columns=["age"])
    edit(study, "students.csv", births)
    t1 = read_csv_text(study / "wave_T1.csv")
    assert "date" in t1.columns and date.today().year > 2020
    panel = load_panel(study)
    assert "birth_date" not in panel.students.columns and panel.students["age"].notna().any()
