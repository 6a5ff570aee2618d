"""Small-cell suppression for staff: the rule, and the staff edition of results.xlsx."""
import pandas as pd
import pytest

from mut_eval.cli import main
from mut_eval.privacy import is_small, suppress_small_cells


def test_is_small():
    assert is_small(9) and is_small(1) and not is_small(10) and not is_small(0) and not is_small(None)
    assert is_small(4, min_cell=5) and not is_small(5, min_cell=5)


def test_row_count_blanks_the_rows_statistics():
    t = pd.DataFrame({"outcome": ["a", "b"], "n": [9, 40], "mean": [3.1, 3.4], "sd": [0.5, 0.6]})
    got = suppress_small_cells(t, 10)
    assert got.loc[0, "n"] == "<10" and pd.isna(got.loc[0, "mean"]) and pd.isna(got.loc[0, "sd"])
    assert got.loc[1, "n"] == 40 and got.loc[1, "mean"] == 3.4
    assert got.loc[0, "outcome"] == "a"


def test_per_condition_count_blanks_only_that_condition():
    t = pd.DataFrame({"level": ["surinamese"], "mentee_n": [8], "mentee_value": [6.5],
                      "control_n": [12], "control_value": [3.2], "p": [0.4]})
    got = suppress_small_cells(t, 10).iloc[0]
    assert got["mentee_n"] == "<10" and pd.isna(got["mentee_value"])
    assert got["control_n"] == 12 and got["control_value"] == 3.2 and got["p"] == 0.4


def test_staff_edition_workbook(study, tmp_path):
    (study / "study.yaml").write_text((study / "study.yaml").read_text(encoding="utf-8").replace(
        "  min_cell: 10\n", "  min_cell: 10\n  staff_edition: true\n  hc: HC3\n  moderators: [age]\n"),
        encoding="utf-8")
    out = tmp_path / "out"
    assert main(["analyze", str(study), "--out", str(out), "--bootstrap", "0"]) == 0
    sample_csv = pd.read_csv(out / "tables" / "sample.csv")
    sample_xlsx = pd.read_excel(out / "results.xlsx", sheet_name="sample")
    small = sample_csv["mentee_n"].between(1, 9)
    assert small.any()                                        # the CSV keeps every number
    assert (sample_xlsx.loc[small, "mentee_n"] == "<10").all()  # the workbook does not
    assert sample_xlsx.loc[small, "mentee_value"].isna().all()
    assert set(pd.read_csv(out / "tables" / "moderation.csv")["se_type"]) == {"HC3"}


@pytest.mark.parametrize("bad", ["staff_edition: maybe", "hc: HC9", "center: 3"])
def test_bad_options_are_named(study, capsys, bad):
    (study / "study.yaml").write_text((study / "study.yaml").read_text(encoding="utf-8").replace(
        "  min_cell: 10\n", f"  min_cell: 10\n  {bad}\n"), encoding="utf-8")
    assert main(["validate", str(study)]) == 2
    assert bad.split(":")[0] in capsys.readouterr().err


def test_randomised_flag_must_be_a_boolean(study, capsys):
    (study / "study.yaml").write_text((study / "study.yaml").read_text(encoding="utf-8")
                                      + "randomised: sometimes\n", encoding="utf-8")
    assert main(["validate", str(study)]) == 2
    assert "randomised" in capsys.readouterr().err


def test_report_language_is_checked_before_any_work(study, tmp_path):
    from mut_eval import StudyError
    from mut_eval.analysis import run_analysis
    with pytest.raises(StudyError, match="'nl' or 'en'"):
        run_analysis(study, tmp_path / "out", report=True, lang="de")
    assert not (tmp_path / "out").exists()
