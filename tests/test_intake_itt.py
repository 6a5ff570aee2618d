"""Intention to treat (issue 10 item 4): mentees_without_match: keep, and the uptake in the flow."""
import yaml

from mut_eval.analysis import mentee_moderators
from mut_eval.intake.validate import ValidationFailed, validate_study
from mut_eval.panel import load_panel
from mut_eval.privacy import pseudonym_key, pseudonymise

from conftest import read_csv_text, write_csv_text


def test_mentee_without_match(study):
    m = read_csv_text(study / "matches.csv")
    gone = m["student_id"].iloc[:2].tolist()
    m = m.iloc[2:].copy()
    m.loc[m.index[0], "sessions_attended"] = "0"       # never started
    write_csv_text(m, study / "matches.csv")
    try:
        validate_study(study)
        raise AssertionError("a mentee without a match must be refused by default")
    except ValidationFailed as e:
        assert sum("mentees_without_match: keep" in p.rule for p in e.problems) == 2
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg["mentees_without_match"] = "keep"
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    panel = load_panel(study)
    assert (panel.students["condition"] == "mentee").sum() == 124   # still mentees
    flow = panel.flow.set_index(["condition", "stage"])["n"]
    assert (flow[("mentee", "matched")], flow[("mentee", "not_matched")], flow[("mentee", "never_started")]) \
        == (121, 2, 1)
    key, _ = pseudonym_key(panel.clean.study.config)
    alias = dict(zip(gone, pseudonymise(gone, key)))
    mm = mentee_moderators(panel)
    for sid in gone:
        assert mm.loc[alias[sid], ["same_gender", "sessions_attended", "format"]].isna().all()
    assert mm.loc[alias[gone[0]], "age"] == mm.loc[alias[gone[0]], "age"]  # pupil moderators stay


def test_flow_unchanged_when_every_mentee_started(study):
    flow = load_panel(study).flow
    assert not flow["stage"].isin(["matched", "not_matched", "never_started", "excluded"]).any()
