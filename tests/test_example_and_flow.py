"""The committed example study is what `mut-eval synth` makes, and every input row is
accounted for in the panel's flow."""
import filecmp

import pandas as pd

from mut_eval.cli import main
from mut_eval.panel import load_panel

from conftest import EXAMPLE


def test_synth_regenerates_the_committed_example_byte_identically(tmp_path):
    out = tmp_path / "regen"
    assert main(["synth", str(out), "--seed", "2020"]) == 0
    committed = sorted(p.name for p in EXAMPLE.iterdir())
    assert sorted(p.name for p in out.iterdir()) == committed
    match, mismatch, errors = filecmp.cmpfiles(EXAMPLE, out, committed, shallow=False)
    assert mismatch == [] and errors == []


def test_example_is_labelled_synthetic():
    text = (EXAMPLE / "study.yaml").read_text(encoding="utf-8")
    assert "synthetic: true" in text and "SYNTHETIC" in (EXAMPLE / "README.md").read_text(encoding="utf-8")


def _data_rows(path):
    # lines in the file minus the header
    return len(path.read_text(encoding="utf-8").splitlines()) - 1


def test_every_input_row_is_accounted_for():
    panel = load_panel(EXAMPLE)
    acc = panel.accounting
    for f in sorted(EXAMPLE.glob("*.csv")):
        rows = acc[acc["file"] == f.name]
        assert len(rows) == _data_rows(f), f.name
        assert rows["row"].tolist() == list(range(2, _data_rows(f) + 2))
        assert rows["status"].isin(["included", "excluded"]).all()
        assert rows["reason"].str.len().gt(0).all()


def test_flow_counts_add_up():
    panel = load_panel(EXAMPLE)
    flow = panel.flow.set_index(["condition", "stage"])["n"]
    students = pd.read_csv(EXAMPLE / "students.csv")
    for cond in ("mentee", "control"):
        ids = set(students.loc[students["condition"] == cond, "student_id"])
        assert flow[(cond, "enrolled")] == len(ids)
        waves = {}
        for w in ("T1", "T2", "T3"):
            waves[w] = set(pd.read_csv(EXAMPLE / f"wave_{w}.csv")["student_id"]) & ids
            assert flow[(cond, f"responded_{w}")] == len(waves[w])
        all3 = waves["T1"] & waves["T2"] & waves["T3"]
        assert flow[(cond, "responded_all_waves")] == len(all3)
        for o in panel.outcomes:
            # a completer responded at every wave, so never more than responded_all_waves
            assert flow[(cond, f"completers_{o}")] <= len(all3)
    # the published report's completer numbers: 122 mentees, 62 controls
    assert flow[("mentee", "completers_self_efficacy")] == 122
    assert flow[("control", "completers_self_efficacy")] == 62


def test_panel_views():
    panel = load_panel(EXAMPLE)
    assert list(panel.long.columns) == ["student_id", "condition", "school", "class", "wave", "outcome", "score"]
    wide = panel.wide
    assert len(wide) == 190 and "self_efficacy_T1" in wide and "ses" in wide
    assert panel.long["score"].between(1, 5).all()
    # no identifier from the input survives into the panel
    ids = set(pd.read_csv(EXAMPLE / "students.csv")["student_id"])
    assert not ids & set(panel.long["student_id"]) and not ids & set(wide.index)


def test_a_wave_row_without_any_scale_score_is_excluded_with_a_reason(study):
    from conftest import read_csv_text, write_csv_text
    wave = read_csv_text(study / "wave_T2.csv")
    items = [c for c in wave.columns if c not in ("student_id", "date")]
    wave.loc[0, items] = ""          # the pupil opened the questionnaire but answered nothing
    write_csv_text(wave, study / "wave_T2.csv")
    panel = load_panel(study)
    assert panel.long["score"].notna().all()
    acc = panel.accounting.set_index(["file", "row"])
    assert acc.loc[("wave_T2.csv", 2), "status"] == "excluded"
    assert "items" in acc.loc[("wave_T2.csv", 2), "reason"]
    flow = panel.flow.set_index(["condition", "stage"])["n"]
    base = load_panel(EXAMPLE).flow.set_index(["condition", "stage"])["n"]
    changed = (flow - base)[lambda d: d != 0]
    # exactly one pupil fewer among the completers of every outcome, in one condition
    assert set(changed.index.get_level_values("stage")) == {f"completers_{o}" for o in panel.outcomes}
    assert (changed == -1).all()


def test_mentee_only_scale_answered_by_a_control_is_not_used(study):
    from conftest import read_csv_text, write_csv_text
    from mut_eval.intake.validate import validate_study
    students = read_csv_text(study / "students.csv")
    wave = read_csv_text(study / "wave_T2.csv")
    control = wave["student_id"].isin(students.loc[students["condition"] == "control", "student_id"])
    row = int(control.to_numpy().nonzero()[0][0])
    for i in range(1, 9):
        wave.loc[row, f"RQ{i:02d}"] = "5"
    write_csv_text(wave, study / "wave_T2.csv")
    assert any("mentees only" in p.rule for p in validate_study(study).warnings)
    panel, base = load_panel(study), load_panel(EXAMPLE)
    # the control's answers enter neither the relationship-quality scores nor reliability
    assert len(panel.relationship_quality) == len(base.relationship_quality) == 122
    rq_items = [f"RQ{i:02d}" for i in range(1, 9)]
    assert panel.items["T2"][rq_items].dropna().shape[0] == base.items["T2"][rq_items].dropna().shape[0]
