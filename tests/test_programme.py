"""The programme view (issue 14 items 1, 3, 4, 6): programme.yaml, cohorts reused when
unchanged, the cohorts' effects for pooling, reach per school, targets, the report.

The pooled numbers themselves are checked against metafor in test_meta.py.
"""
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mut_eval.cli import main
from mut_eval.programme import cohort_effects, load_programme, targets_table
from mut_eval.results import Results
from mut_eval.stats.implementation import implementation_table
from mut_eval.synth import write_programme


# ---------------------------------------------------------------- programme.yaml

def _programme(tmp_path, cfg) -> Path:
    (tmp_path / "c1").mkdir(exist_ok=True)
    (tmp_path / "programme.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return tmp_path


GOOD = {"name": "P", "language": "nl", "cohorts": [{"cohort": "2019-2020", "study": "c1"}]}


@pytest.mark.parametrize("change,expect", [
    ({"colour": "red"}, "unknown setting(s) colour"),
    ({"language": "fr"}, "language: must be nl or en, not 'fr'"),
    ({"cohorts": []}, "cohorts: give the cohorts"),
    ({"cohorts": [{"cohort": "2019-2020", "study": "nope"}]}, "study folder 'nope' not found"),
    ({"cohorts": [{"cohort": "2019-2020", "study": "c1"}, {"cohort": "2019-2020", "study": "c1"}]},
     "cohort '2019-2020' is listed twice"),
    ({"targets": {"2030-2031": {"matched": 3}}}, "targets: '2030-2031' is not one of the cohorts"),
    ({"targets": {"2019-2020": {"smiles": 3}}}, "unknown measure 'smiles'"),
    ({"targets": {"2019-2020": {"response_T3": 1.4}}}, "response_T3: 1.4 is out of range"),
    ({"targets": {"2019-2020": {"matched": "many"}}}, "matched: 'many' is not a number"),
])
def test_bad_programme_yaml_exits_2_naming_file_key_and_value(tmp_path, capsys, change, expect):
    folder = _programme(tmp_path, {**GOOD, **change})
    assert main(["programme", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "programme.yaml" in err and expect in err
    assert not (tmp_path / "out").exists()


def test_missing_programme_yaml_exits_2(tmp_path, capsys):
    assert main(["programme", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "programme.yaml: programme file not found" in capsys.readouterr().err


def test_cohort_labels_give_folders_and_years(tmp_path):
    p = load_programme(_programme(tmp_path, GOOD))
    assert p.cohorts[0].slug == "2019-2020" and p.cohorts[0].year == 2019.0


# ---------------------------------------------------------------- the pure parts, by hand

def test_implementation_table_counts_by_hand():
    students = pd.DataFrame({"condition": ["mentee"] * 5 + ["control"] * 3,
                             "school": ["A", "A", "A", "B", "B", "A", "B", "B"]},
                            index=pd.Index([f"p{i}" for i in range(8)], name="student_id"))
    matches = pd.DataFrame({"mentor_id": ["m1", "m1", "m2", "m3", None],
                            "format": ["group", "group", "individual", "individual", None],
                            "sessions_planned": [10, 10, 10, 8, np.nan],
                            "sessions_attended": [9, 0, 7, 6, np.nan]},
                           index=pd.Index(["p0", "p1", "p2", "p3", "p4"], name="student_id"))
    resp = {"T1": pd.Index([f"p{i}" for i in range(8)]), "T2": pd.Index(["p0", "p2", "p5"]),
            "T3": pd.Index(["p0"])}
    t = implementation_table(students, matches, resp).set_index("school")
    a, b, al = t.loc["A"], t.loc["B"], t.loc["all"]
    # school A: p0, p1, p2 mentees (all matched), p5 control
    assert (a["pupils"], a["mentees"], a["controls"], a["matched"]) == (4, 3, 1, 3)
    assert a["never_started"] == 1                       # p1 attended 0
    assert a["sessions_attended"] == 7                   # median of 9, 0, 7
    assert a["attended_75"] == 1                          # 9/10 only (7/10 < .75)
    assert a["attended_75_share"] == pytest.approx(1 / 3)
    assert a["sessions_attended_share"] == pytest.approx(16 / 30)
    assert (a["individual"], a["group"]) == (1, 2)
    assert a["response_T2"] == pytest.approx(3 / 4)       # p0, p2, p5 of 4
    # school B: p3 matched (6/8 = .75: counts), p4 a mentee without a mentor
    assert (b["mentees"], b["matched"], b["attended_75"]) == (2, 1, 1)
    assert al["pupils"] == 8 and al["matched"] == 4 and al["responded_T3"] == 1
    assert al["attended_75_share"] == pytest.approx(2 / 4)


def test_cohort_effect_variance_by_hand():
    """vi = (ω·se/s)² + g²/(2·n_T1): with ω = .99, se = .10, s = .50, g = .30, n_T1 = 150:
    (.99·.10/.50)² = .039204; .09/300 = .0003; vi = .039504."""
    did = pd.DataFrame([{"outcome": "self_efficacy", "contrast": "T3-T1", "estimate": 0.1515, "se": 0.10,
                         "g": 0.30, "omega": 0.99, "sd_pooled_t1": 0.50, "n_t1": 150}])
    e = cohort_effects("2020-2021", Results(tables={"did": did}, meta={"n_mentee": 100, "n_control": 50}))
    assert e.loc[0, "yi"] == 0.30
    assert e.loc[0, "vi"] == pytest.approx(0.039504, abs=1e-12)
    assert e.loc[0, "did_vi"] == pytest.approx(0.01)
    assert (e.loc[0, "n_mentee"], e.loc[0, "n_control"]) == (100, 50)


def test_targets_met_or_not_and_hidden_actuals_stay_empty(tmp_path):
    prog = load_programme(_programme(tmp_path, {**GOOD, "targets": {"2019-2020": {
        "matched": 5, "response_T3": 0.9, "sessions_attended_share": 0.5}}}))
    impl = pd.DataFrame([{"school": "all", "matched": 4, "sessions_attended_share": 0.6}])
    flow = pd.DataFrame({"condition": ["mentee", "mentee", "control", "control"],
                         "stage": ["enrolled", "responded_T3", "enrolled", "responded_T3"],
                         "n": [10, 9, 10, "<10"]})
    t = targets_table(prog, {"2019-2020": Results(tables={"implementation": impl, "flow": flow}, meta={})})
    t = t.set_index("measure")
    assert t.loc["matched", "met"] is False or t.loc["matched", "met"] == False  # noqa: E712
    assert bool(t.loc["sessions_attended_share", "met"])
    assert t.loc["response_T3", "actual"] is None or pd.isna(t.loc["response_T3", "actual"])


# ---------------------------------------------------------------- end to end (quick)

def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def programme_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("programme")
    prog = write_programme(root / "prog", cohorts=2, scale=0.45, bootstrap=0)
    for cfg_path in prog.glob("cohort_*/study.yaml"):     # quick: no imputation, two moderators
        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        cfg["analysis"].update(imputation={"m": 0}, moderators=["age", "gender"], prespecified_moderators=[])
        cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    before = _digest(prog)
    out = root / "out"
    assert main(["programme", str(prog), "--out", str(out)]) == 0
    return prog, out, before


def test_programme_writes_tables_and_report(programme_run):
    prog, out, before = programme_run
    assert _digest(prog) == before                       # input files are only read
    for name in ("cohort_effects", "pooled", "cumulative", "implementation", "targets", "plan"):
        assert (out / "tables" / f"{name}.csv").is_file(), name
    pooled = pd.read_csv(out / "tables" / "pooled.csv")
    assert set(pooled["k"]) == {2} and {"REML-KH", "FE"} <= set(pooled["method"])
    assert (out / "report.pdf").stat().st_size > 20_000
    doc = json.loads((out / "report_data.json").read_text(encoding="utf-8"))
    titles = [s["title"] for s in doc["sections"]]
    assert titles[0] == "Het programma door de jaren heen"
    assert titles[1] == "Wat de cohorten samen laten zien"
    assert titles[2] == "Het volgende cohort plannen"
    plan = pd.read_csv(out / "tables" / "plan.csv")
    assert list(plan["design"]) == ["class", "pupil", "class"] and plan.loc[0, "solved"] == "classes"
    assert any(t.startswith("Het laatste cohort (2020-2021)") for t in titles)
    text = json.dumps(doc, ensure_ascii=False)
    assert "Met twee cohorten is nauwelijks te schatten" in text
    assert "klassen van" in text and "nodig" in text                        # the plan sentence
    assert str(out) not in text and ".out." not in text                     # no (temporary) paths
    figs = [b["path"] for s in doc["sections"] for b in s["blocks"] if b.get("type") == "figure"]
    assert "/figures/programme_reach.svg" in figs
    assert any("programme_forest_self_efficacy" in f for f in figs)


def test_no_pupil_identifier_in_programme_output(programme_run):
    prog, out, _ = programme_run
    ids = set()
    for s in prog.glob("cohort_*/students.csv"):
        ids |= set(pd.read_csv(s, dtype=str)["student_id"])
    for p in [out / "results.json", out / "report_data.json", *(out / "tables").glob("*.csv")]:
        text = p.read_text(encoding="utf-8")
        assert not [i for i in ids if i in text], p.name


def test_rerun_reuses_unchanged_cohorts_and_redoes_a_changed_one(programme_run, tmp_path, capsys):
    prog, out, _ = programme_run
    import shutil
    prog2, out2 = tmp_path / "prog", tmp_path / "out"
    shutil.copytree(prog, prog2)
    shutil.copytree(out, out2)
    assert main(["programme", str(prog2), "--out", str(out2), "--no-report"]) == 0
    assert "(2 reused unchanged)" in capsys.readouterr().out
    cfg_path = prog2 / "cohort_2020" / "study.yaml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    cfg["analysis"]["alpha"] = 0.10
    cfg_path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    assert main(["programme", str(prog2), "--out", str(out2), "--no-report"]) == 0
    cap = capsys.readouterr()
    assert "(1 reused unchanged)" in cap.out and "cohort 2020-2021: analysing" in cap.err
    meta = json.loads((out2 / "results.json").read_text(encoding="utf-8"))["meta"]
    assert [c["reused"] for c in meta["cohorts"]] == [True, False]
    assert math.isclose(json.loads((out2 / "cohorts" / "2020-2021" / "results.json").read_text(
        encoding="utf-8"))["meta"]["alpha"], 0.10)


def test_embedded_example_programme_is_the_synthetic_one(tmp_path):
    """mut_eval/data/example_programme (make report-programme) is exactly what
    `mut-eval synth-programme` writes, and a valid programme folder."""
    from conftest import EXAMPLE
    example = EXAMPLE.parent / "example_programme"
    fresh = write_programme(tmp_path / "p")
    assert _digest(fresh) == _digest(example)
    prog = load_programme(example)
    assert [c.cohort for c in prog.cohorts] == ["2019-2020", "2020-2021", "2021-2022", "2022-2023"]


def test_a_broken_cohort_exits_2_naming_the_cohort(tmp_path, capsys):
    """A cohort whose study folder cannot be read stops the run with exit 2, names the
    cohort and the file, and writes nothing."""
    folder = _programme(tmp_path, {**GOOD, "cohorts": [{"cohort": "2019-2020", "study": "c1"},
                                                       {"cohort": "2020-2021", "study": "c2"}]})
    (tmp_path / "c2").mkdir()
    for c in ("c1", "c2"):
        (tmp_path / c / "students.csv").write_text("student_id,condition\nS1,mentee\n", encoding="utf-8")
    assert main(["programme", str(folder), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "cohort 2019-2020 (c1)" in err or "cohort 2020-2021 (c2)" in err
    assert "students.csv" in err and not (tmp_path / "out").exists()
