"""Each validation rule on a broken copy of the example study: the problem names the
file, the row as numbered in that file (header = row 1), the column and the value."""
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mut_eval.cli import main
from mut_eval.intake.validate import ValidationFailed, validate_study

from conftest import EXAMPLE, read_csv_text, write_csv_text


def problems(study):
    with pytest.raises(ValidationFailed) as e:
        validate_study(study)
    return e.value.problems


def edit(study, name, fn):
    df = read_csv_text(study / name)
    df = fn(df)
    write_csv_text(df, study / name)


def find(ps, **kw):
    hits = [p for p in ps if all(getattr(p, k) == v for k, v in kw.items())]
    assert hits, f"no problem with {kw}; got:\n" + "\n".join(map(str, ps))
    return hits[0]


def test_example_is_valid():
    clean = validate_study(EXAMPLE)
    assert (clean.students["condition"] == "mentee").sum() == 124
    assert (clean.students["condition"] == "control").sum() == 66
    assert main(["validate", str(EXAMPLE)]) == 0


def test_missing_file(study):
    (study / "wave_T2.csv").unlink()
    p = find(problems(study), file="wave_T2.csv")
    assert "missing" in p.rule


def test_missing_column(study):
    edit(study, "students.csv", lambda d: d.drop(columns=["gender"]))
    find(problems(study), file="students.csv", row=1, column="gender")


def test_unknown_code(study):
    def f(d):
        d.loc[4, "gender"] = "vrouwtje"
        return d
    edit(study, "students.csv", f)
    p = find(problems(study), file="students.csv", row=6, column="gender", value="vrouwtje")
    assert "unknown code" in p.rule


@pytest.mark.parametrize("bad", ["0", "6", "vier", "3.5"])
def test_answers_out_of_range_or_not_a_number(study, bad):
    def f(d):
        d.loc[9, "SE03"] = bad
        return d
    edit(study, "wave_T1.csv", f)
    p = find(problems(study), file="wave_T1.csv", row=11, column="SE03", value=bad)
    assert "1 to 5" in p.rule


def test_duplicate_pupil(study):
    edit(study, "wave_T3.csv", lambda d: pd.concat([d, d.iloc[[3]]], ignore_index=True))
    df = read_csv_text(study / "wave_T3.csv")
    sid = df.iloc[3]["student_id"]
    p = find(problems(study), file="wave_T3.csv", row=len(df) + 1, column="student_id", value=sid)
    assert "row 5" in p.rule


def test_pupil_not_enrolled(study):
    def f(d):
        d.loc[0, "student_id"] = "NOBODY1"
        return d
    edit(study, "wave_T2.csv", f)
    find(problems(study), file="wave_T2.csv", row=2, column="student_id", value="NOBODY1")


def test_mentee_without_match(study):
    m = read_csv_text(study / "matches.csv")
    sid = m.iloc[0]["student_id"]
    write_csv_text(m.iloc[1:], study / "matches.csv")
    s = read_csv_text(study / "students.csv")
    row = int(s.index[s["student_id"] == sid][0]) + 2
    p = find(problems(study), file="students.csv", row=row, column="student_id", value=sid)
    assert "no row in matches.csv" in p.rule


def test_match_to_unknown_mentor(study):
    def f(d):
        d.loc[2, "mentor_id"] = "M_GHOST"
        return d
    edit(study, "matches.csv", f)
    find(problems(study), file="matches.csv", row=4, column="mentor_id", value="M_GHOST")


def test_match_for_a_control_pupil(study):
    s = read_csv_text(study / "students.csv")
    control = s[s["condition"] == "control"].iloc[0]["student_id"]
    def f(d):
        d.loc[0, "student_id"] = control
        return d
    edit(study, "matches.csv", f)
    find(problems(study), file="matches.csv", row=2, column="student_id", value=control)


def test_more_sessions_attended_than_planned(study):
    def f(d):
        d.loc[5, "sessions_attended"] = "25"
        return d
    edit(study, "matches.csv", f)
    p = find(problems(study), file="matches.csv", row=7, column="sessions_attended", value="25")
    assert "planned" in p.rule


def test_qsort_not_a_permutation(study):
    def f(d):
        d.loc[1, "motivation"] = d.loc[1, "self_efficacy"]
        return d
    edit(study, "qsort.csv", f)
    p = find(problems(study), file="qsort.csv", row=3)
    assert "permutation" in p.rule


def test_all_problems_collected_not_just_the_first(study):
    def f(d):
        d.loc[0, "SE01"] = "9"
        d.loc[1, "IM02"] = "x"
        return d
    edit(study, "wave_T1.csv", f)
    (study / "mentors.csv").unlink()
    ps = problems(study)
    find(ps, file="wave_T1.csv", row=2, column="SE01")
    find(ps, file="wave_T1.csv", row=3, column="IM02")
    find(ps, file="mentors.csv")


def test_pupil_without_any_wave_is_a_warning(study):
    s = read_csv_text(study / "students.csv")
    extra = s.iloc[[0]].copy()
    extra["student_id"] = "LATE0001"
    extra["condition"] = "control"
    write_csv_text(pd.concat([s, extra], ignore_index=True), study / "students.csv")
    clean = validate_study(study)
    w = find(clean.warnings, file="students.csv", row=len(s) + 2, column="student_id")
    assert "no questionnaire" in w.rule


def test_cli_exit_codes(study, capsys):
    def f(d):
        d.loc[0, "condition"] = "mentoring"
        return d
    edit(study, "students.csv", f)
    assert main(["validate", str(study)]) == 2
    err = capsys.readouterr().err
    assert "students.csv, row 2, column condition, value 'mentoring'" in err
    assert "Traceback" not in err
    assert main(["validate", str(study / "nope")]) == 2


def test_console_script_exit_code(study):
    (study / "students.csv").write_bytes(b"\x00\x01\x02junk")
    exe = shutil.which("mut-eval", path=str(Path(sys.executable).parent))
    r = subprocess.run([exe, "validate", str(study)], capture_output=True, text=True)
    assert r.returncode == 2
    assert "students.csv" in r.stderr and "Traceback" not in r.stderr


def test_input_files_are_not_modified(study):
    import hashlib
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in study.iterdir()}
    validate_study(study)
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in study.iterdir()}
    assert before == after
