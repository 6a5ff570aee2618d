"""Declared variables (issue 10 item 7): checked on reading, carried into the panel, usable
as moderators (grid and DiD by moderator) and covariates, labelled in the results meta."""
import numpy as np
import pytest
import yaml

from mut_eval.analysis import analyze, mentee_moderators
from mut_eval.intake.validate import ValidationFailed, validate_study
from mut_eval.panel import load_panel
from mut_eval.privacy import pseudonym_key, pseudonymise

from conftest import read_csv_text, write_csv_text

VARIABLES = {"grade_avg": {"file": "students", "column": "Rapportcijfer gem.", "type": "numeric",
                           "label": "Rapportcijfer (gemiddeld)", "min": 1, "max": 10},
             "lwoo": {"file": "students", "column": "LWOO", "type": "categorical", "levels": ["nee", "ja"]}}


def setup(study, variables=VARIABLES, grades=None, lwoo=None):
    s = read_csv_text(study / "students.csv")
    rng = np.random.default_rng(7)
    s["Rapportcijfer gem."] = grades if grades is not None else [f"{x:.1f}".replace(".", ",")
                                                                 for x in rng.uniform(4, 9, len(s))]
    s["LWOO"] = lwoo if lwoo is not None else ["Ja" if i % 3 == 0 else "Nee" for i in range(len(s))]
    write_csv_text(s, study / "students.csv")
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg["variables"] = variables
    cfg["analysis"].update({"bootstrap": 0, "prespecified_moderators": [],
                            "moderators": ["age", "grade_avg", "lwoo"], "covariates": ["grade_avg"]})
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return s


def test_undeclared_columns_are_not_used(study):
    setup(study, variables={})
    clean = validate_study(study)
    assert not {"Rapportcijfer gem.", "LWOO"} & set(clean.students.columns)
    assert any("Rapportcijfer gem., LWOO" in str(p.column) and "declare it under 'variables'" in p.rule
               for p in clean.warnings)


def test_declared_variables_in_moderation_and_covariates(study):
    raw = setup(study)
    panel = load_panel(study)
    assert panel.students["grade_avg"].dtype == float
    assert set(panel.students["lwoo"]) == {"ja", "nee"}
    res = analyze(panel, panel.clean.study.settings.analysis)
    mod = res.tables["moderation"]
    assert {"grade_avg", "lwoo"} <= set(mod["moderator"])
    dbm = res.tables["did_by_moderator"]
    assert {"grade_avg", "lwoo"} <= set(dbm["moderator"])
    assert "did_adjusted" in res.tables and len(res.tables["did_adjusted"])
    assert res.meta["variables"]["grade_avg"] == {"label": "Rapportcijfer (gemiddeld)", "type": "numeric",
                                                  "levels": None, "file": "students"}
    assert res.meta["variables"]["lwoo"]["levels"] == ["nee", "ja"]
    # slope b of grade_avg for self_efficacy T2-T1 among mentees = OLS slope by hand
    # (grades from the raw file, decimal comma read by hand; the change from the panel's scores)
    key, _ = pseudonym_key(panel.clean.study.config)
    grades = dict(zip(pseudonymise(raw["student_id"], key),
                      [float(g.replace(",", ".")) for g in raw["Rapportcijfer gem."]]))
    wide = panel.wide[panel.wide["condition"] == "mentee"]
    change = (wide["self_efficacy_T2"] - wide["self_efficacy_T1"]).dropna()
    x = np.array([grades[i] for i in change.index])
    b_hand = np.polyfit(x, change.to_numpy(), 1)[0]
    row = mod[(mod["outcome"] == "self_efficacy") & (mod["change"] == "T2-T1") & (mod["moderator"] == "grade_avg")]
    assert row["b"].iloc[0] == pytest.approx(b_hand, rel=1e-9)
    # lwoo's levels in the declared order: 'nee' the reference, so the conditional effects list both
    ce = res.tables["conditional_effects"]
    assert set(ce.loc[ce["moderator"] == "lwoo", "probe"]) == {"nee", "ja"}
    mm = mentee_moderators(panel)
    assert {"grade_avg", "lwoo"} <= set(mm.columns)


@pytest.mark.parametrize("grades, lwoo, fragment", [
    (["x"] + ["6"] * 189, None, "must be a number (study.yaml variables.grade_avg)"),
    (["11"] + ["6"] * 189, None, "above the max of 10"),
    (None, ["misschien"] + ["ja"] * 189, "is not one of the levels nee, ja"),
])
def test_bad_values(study, grades, lwoo, fragment):
    setup(study, grades=grades, lwoo=lwoo)
    with pytest.raises(ValidationFailed) as e:
        validate_study(study)
    hits = [p for p in e.value.problems if fragment in p.rule]
    assert hits and hits[0].row == 2 and hits[0].file == "students.csv"


def test_missing_column_and_taken_name(study):
    setup(study, variables={"grade_avg": {"column": "Cijfer", "type": "numeric"},
                            "ses": {"column": "LWOO", "type": "categorical"}})
    with pytest.raises(ValidationFailed) as e:
        validate_study(study)
    msgs = [str(p) for p in e.value.problems]
    assert any("Cijfer" in m and "variables.grade_avg" in m for m in msgs)
    assert any("variables.ses" in m and "already a mut_eval column" in m for m in msgs)
