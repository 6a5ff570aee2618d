"""Planning the next cohort (issue 14 item 5): mut_eval.stats.power, mut_eval.planning and
``mut-eval plan``.

Reference values:
- tests/reference/power_reference.json: PowerUpR 1.1.0 (the R companion of PowerUp!,
  Dong & Maynard 2013), written by tests/reference/power_reference.R; the cases named
  ``*_doc`` are the cross-checks printed in PowerUpR's own documentation (man/ira.Rd,
  man/cra2.Rd: e.g. ``mdes.cra2(rho2=.17, n=15, J=20)`` with ``power.cra2(es=.629)`` and
  ``mrss.cra2(es=.629) -> J = 20``), ``ira_pn_lohr33`` the constructed example 3.3 of
  Lohr, Schochet & Sanders (2014, NCER 2014-2000);
- hand calculations written out below (t quantiles from scipy, which is not the code
  under test).
"""
from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mut_eval import StudyError
from mut_eval.cli import main
from mut_eval.planning import parameters_from_results, plan_sentence
from mut_eval.stats.power import Design, multiplier, plan, power, required_classes, standard_error

REF = json.loads((Path(__file__).parent / "reference" / "power_reference.json").read_text())["cases"]


def _case(name):
    return REF[name]


# (reference case, design kwargs for Design, J, MDES kwargs); J is classes / classes per
# school / treated mentor groups, the translation of PowerUpR's n, J, K written out.
CASES = {
    # mdes.ira(n=250): 250 pupils = 250 "classes" of 1
    "ira_doc": (dict(design="pupil", class_size=1), 250, dict()),
    "ira_cov": (dict(design="pupil", class_size=1, r2=0.5, share_treated=0.6), 400, dict()),
    "cra2_doc": (dict(design="class", class_size=15, icc=0.17), 20, dict()),
    "cra2_src_example": (dict(design="class", class_size=4, icc=0.20), 20, dict(alpha=0.01)),
    "cra2_cov": (dict(design="class", class_size=22, icc=0.10, r2=0.4, r2_cluster=0.6), 34,
                 dict(power=0.90, alpha=0.10)),
    "cra2_onesided": (dict(design="class", class_size=25, icc=0.08, share_treated=0.4), 12,
                      dict(two_tailed=False)),
    "bcra3f2_doc": (dict(design="school", class_size=20, schools=5, icc=0.10), 44, dict()),
    "bcra3f2_cov": (dict(design="school", class_size=18, schools=8, icc=0.06, r2=0.5, r2_cluster=0.5), 6, dict()),
    # mdes.ira_pn(n=250): rho_ic .20, groups of 1, p .5 -> 125 treated "groups"
    "ira_pn_doc": (dict(design="partial", class_size=1, icc=0.20), 125, dict()),
    # n = 240, groups of 6, p .5 -> 20 groups; PowerUpR's Satterthwaite df counts no covariate
    "ira_pn_groups": (dict(design="partial", class_size=6, icc=0.10, r2=0.3, covariates=0), 20, dict()),
    # n = 300, p = 2/3 -> 200 mentees in 50 groups of 4, 100 controls
    "ira_pn_unequal": (dict(design="partial", class_size=4, icc=0.15, share_treated=2 / 3), 50, dict()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_mdes_and_df_equal_powerupr(name):
    kw, J, mk = CASES[name]
    ref = _case(name)
    d = Design(**kw)
    se, df = standard_error(d, J)
    assert se == pytest.approx(ref["se"], rel=1e-9)
    assert df == pytest.approx(ref["df"], rel=1e-9)
    from mut_eval.stats.power import mdes
    assert mdes(d, J, **mk) == pytest.approx(ref["mdes"], rel=1e-8)


POWER = {"ira_doc": 0.356, "ira_cov": 0.20, "cra2_doc": 0.629, "cra2_cov": 0.25, "bcra3f2_doc": 0.145,
         "bcra3f2_cov": 0.20, "ira_pn_doc": 0.377, "ira_pn_groups": 0.35}


@pytest.mark.parametrize("name", sorted(POWER))
def test_power_equals_powerupr_noncentral_t(name):
    kw, J, _ = CASES[name]
    assert power(Design(**kw), J, POWER[name]) == pytest.approx(_case(name)["power"], rel=1e-7)


# PowerUpR's mrss.* iterate J0 <- (J0 + J1)/2 until |J1 − J0| < .1 and report round(J0) with
# the df of the last J0; that J0 (from its df, written out per design) lies within the
# tolerance of the exact root, and round(J0) is the documented answer (20 for cra2_doc).
MRSS = {"ira_doc": (0.356, lambda df: df + 0 + 2),              # df = n − g1 − 2
        "cra2_doc": (0.629, lambda df: df + 0 + 2),             # df = J − g2 − 2
        "cra2_cov": (0.25, lambda df: df + 1 + 2),
        "bcra3f2_doc": (0.145, lambda df: (df + 0) / 5 + 2)}    # df = K(J − 2) − g2, K = 5


@pytest.mark.parametrize("name", sorted(MRSS))
def test_required_classes_equal_powerupr_mrss_within_its_tolerance(name):
    effect, last_j0 = MRSS[name]
    kw, _, _ = CASES[name]
    J = required_classes(Design(**kw), effect)
    ref = _case(name)
    assert abs(J - last_j0(ref["mrss_df"])) < 0.2
    row = plan(power=0.8, mdes=effect, **{k: v for k, v in kw.items()}).iloc[0]
    assert row["classes"] >= ref["mrss"] and row["classes"] - ref["mrss"] <= 1


def test_school_design_in_total_sd_units_equals_bcra3r2_without_effect_variation():
    # mdes.bcra3r2(rho3=.05, rho2=.08, omega3=0, r21=r22=.5, n=18, J=6, K=8): the SE in units
    # of the total SD; mut_eval's icc_class = rho2 + rho3 = .13, icc_school = .05
    d = Design("school", 18, 8, icc=0.13, icc_school=0.05, r2=0.5, r2_cluster=0.5)
    se, df = standard_error(d, 6)
    assert se == pytest.approx(_case("bcra3r2_omega0")["se"], rel=1e-9)
    assert df == 8 * (6 - 2) - 1           # fixed blocks: K(J − 2) − g, not bcra3r2's K − 1


def test_partial_design_lohr_example_33_standard_error():
    # Lohr, Schochet & Sanders (2014) example 3.3: n = 250, rho_ic = .10, groups of 5 (z test)
    se, _ = standard_error(Design("partial", 5, icc=0.10), 25)
    assert se == pytest.approx(_case("ira_pn_lohr33")["se"], rel=1e-9)
    # the same by hand: (1 + (m − 1)ρ)/((1 − ρ) n_T) + 1/n_C = 1.4/(0.9·125) + 1/125
    assert se ** 2 == pytest.approx(1.4 / (0.9 * 125) + 1 / 125, rel=1e-12)


def test_multiplier_hand_values():
    # Bloom (2006): M ≈ 2.8 for large df (1.96 + 0.84); df = 18: 2.101 + 0.862
    # (t table: t.975,18 = 2.101, t.80,18 = 0.862, t.95,18 = 1.734; z: 1.960, 0.842)
    assert multiplier(1e7) == pytest.approx(1.960 + 0.842, abs=2e-3)
    assert multiplier(18) == pytest.approx(2.101 + 0.862, abs=1e-3)
    assert multiplier(18, alpha=0.05, power=0.80, two_tailed=False) == pytest.approx(1.734 + 0.862, abs=1e-3)


def test_class_design_hand_calculation_with_attrition():
    # J = 30, n = 25 planned, 20% attrition -> 20 pupils; ρ = .12, R²₁ = .4, R²₂ = .6, g₂ = 1:
    # SE² = .12·.4/(.25·30) + .88·.6/(.25·30·20) = .0064 + .00352 = .00992; df = 27
    d = Design("class", 25, icc=0.12, r2=0.4, r2_cluster=0.6, attrition=0.2)
    se, df = standard_error(d, 30)
    assert se ** 2 == pytest.approx(0.0064 + 0.00352, rel=1e-12)
    assert df == 27
    m = stats.t.ppf(0.975, 27) + stats.t.ppf(0.8, 27)
    row = plan("class", classes=30, power=0.8, class_size=25, icc=0.12, r2=0.4, r2_cluster=0.6,
               attrition=0.2).iloc[0]
    assert row["mdes"] == pytest.approx(m * math.sqrt(0.00992), rel=1e-12)
    assert row["multiplier"] == pytest.approx(m, rel=1e-12)
    assert row["pupils"] == 750 and row["solved"] == "mdes"


def test_partial_design_reduces_to_pupil_design_without_groups():
    # ρ = 0 and groups of 1: (1/n_T + 1/n_C) = 1/(PQN), the pupil design's SE
    se_p, _ = standard_error(Design("partial", 1, icc=0.0), 100)
    se_i, _ = standard_error(Design("pupil", 1), 200)
    assert se_p == pytest.approx(se_i, rel=1e-12)


def test_plan_solves_each_missing_quantity_consistently():
    kw = dict(class_size=25, icc=0.10, r2=0.3, r2_cluster=0.3)
    need = plan("class", mdes=0.25, power=0.8, **kw).iloc[0]
    J = int(need["classes"])
    assert need["solved"] == "classes" and J - 1 < need["classes_exact"] <= J
    at_J = plan("class", classes=J, power=0.8, **kw).iloc[0]
    below = plan("class", classes=J - 1, power=0.8, **kw).iloc[0]
    assert at_J["mdes"] <= 0.25 < below["mdes"]
    pw = plan("class", classes=J, mdes=0.25, **kw).iloc[0]
    assert pw["solved"] == "power" and pw["power"] >= 0.79
    assert list(need.index[:11]) == ["design", "mdes", "power", "classes", "class_size", "schools", "df",
                                     "multiplier", "icc", "r2", "r2_cluster"]


def test_mdes_rounding_does_not_add_a_class():
    # PowerUpR's documented MDES .629 (rounded from .62900642) needs J = 20.0004: 20 classes
    row = plan("class", mdes=0.629, power=0.8, class_size=15, icc=0.17).iloc[0]
    assert row["classes"] == 20


@pytest.mark.parametrize("kwargs,message", [
    (dict(design="class", mdes=0.2, icc=1.2), "--icc = 1.2"),
    (dict(design="class", mdes=0.2, power=0.8, classes=10, icc=0.1), "exactly two"),
    (dict(design="school", mdes=0.2, icc=0.1), "--schools"),
    (dict(design="school", mdes=0.2, icc=0.1, icc_school=0.2, schools=3), "--icc-school"),
    (dict(design="class", classes=2, icc=0.1), "degrees of freedom"),
    (dict(design="team", mdes=0.2), "--design"),
    (dict(design="class", mdes=-0.2, icc=0.1), "--mdes"),
    (dict(design="class", mdes=0.2, icc=0.1, share_treated=1.0), "--share-treated"),
])
def test_bad_parameters_raise_study_error(kwargs, message):
    kwargs.setdefault("power", 0.8 if "classes" not in kwargs or "mdes" not in kwargs else None)
    with pytest.raises(StudyError, match=message.replace("-", r"\-").replace(".", r"\.")):
        plan(**kwargs)


def test_plan_sentence_dutch_and_english():
    row = {"design": "class", "mdes": 0.2, "power": 0.8, "alpha": 0.05, "classes": 34, "class_size": 25,
           "schools": np.nan, "pupils": 850, "attrition": 0.0, "solved": "classes"}
    assert plan_sentence(row, "nl") == ("Om een effect van g = 0,20 te kunnen aantonen (power 80%, α = 5%) "
                                        "zijn 34 klassen van 25 leerlingen nodig.")
    assert plan_sentence(row, "en") == ("To detect an effect of g = 0.20 (power 80%, α = 5%), "
                                        "34 classes of 25 pupils are needed.")
    school = dict(row, design="school", schools=5, classes=7, attrition=0.1, solved="mdes", mdes=0.31)
    assert plan_sentence(school, "nl") == ("Met 5 scholen met elk 7 klassen van 25 leerlingen is het kleinste "
                                           "effect dat met power 80% (α = 5%, bij 10% uitval) kan worden "
                                           "aangetoond g = 0,31.")
    partial = dict(row, design="partial", classes=30, class_size=4, pupils=240, solved="power", power=0.654)
    assert plan_sentence(partial, "en") == ("With 30 mentor groups of 4 pupils and 120 control pupils, the power "
                                            "to detect an effect of g = 0.20 (α = 5%) is 65%.")


# --- parameters from earlier results ---------------------------------------------------------

def _results(folder: Path, icc=(0.10, 0.06, 0.20), icc_school=(0.02, 0.0, 0.05), overall=(0.1, 0.2, 0.3)):
    (folder / "tables").mkdir(parents=True)
    (folder / "data").mkdir()
    pd.DataFrame({"outcome": ["a", "b", "c"], "icc_class": icc, "icc_school": icc_school}).to_csv(
        folder / "tables" / "icc.csv", index=False)
    pd.DataFrame({"outcome": ["a", "b", "c"], "contrast": "T3-T1", "overall": overall}).to_csv(
        folder / "tables" / "attrition.csv", index=False)
    # per condition T1 = 1..5, T3 = 2,1,4,3,5 (+ a shift for the controls): centred
    # x = (−2,−1,0,1,2), y = (−1,−2,1,0,2); Σxy = 8, Σx² = Σy² = 10, r = .8, r² = .64
    rows = []
    for cond, shift in (("mentee", 0.0), ("control", 1.5)):
        for i, (t1, t3) in enumerate(zip([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])):
            sid = f"{cond}{i}"
            cls = "k1" if i < 3 else "k2"
            rows += [dict(student_id=sid, condition=cond, school="s", **{"class": f"{cond}{cls}"}, wave="T1",
                          outcome="a", score=t1 + shift),
                     dict(student_id=sid, condition=cond, school="s", **{"class": f"{cond}{cls}"}, wave="T3",
                          outcome="a", score=t3 + 2 * shift)]
    pd.DataFrame(rows).to_csv(folder / "data" / "panel_long.csv", index=False)


def test_parameters_from_one_results_folder(tmp_path):
    _results(tmp_path / "res")
    p = parameters_from_results(tmp_path / "res")
    assert p.icc == pytest.approx(0.10) and p.icc_school == pytest.approx(0.02)
    assert p.r2 == pytest.approx(0.64) and p.r2_cluster == pytest.approx(0.64)
    assert p.attrition == pytest.approx(0.2)
    assert p.class_size == 3        # classes of 3, 2, 3, 2 pupils: median 2.5, rounded half up


def test_parameters_pooled_over_cohorts_of_a_programme(tmp_path):
    _results(tmp_path / "prog" / "cohorts" / "2019-2020", icc=(0.10, 0.06, 0.20))
    _results(tmp_path / "prog" / "cohorts" / "2020-2021", icc=(0.08, 0.12, 0.30))
    p = parameters_from_results(tmp_path / "prog")
    # median of .06 .08 .10 .12 .20 .30 = (.10 + .12)/2
    assert p.icc == pytest.approx(0.11)
    assert p.cohorts == ["2019-2020", "2020-2021"]


def test_parameters_attrition_from_flow_when_no_attrition_table(tmp_path):
    _results(tmp_path / "res")
    (tmp_path / "res" / "tables" / "attrition.csv").unlink()
    pd.DataFrame({"condition": ["mentee", "mentee", "control", "control"],
                  "stage": ["enrolled", "responded_all_waves"] * 2, "n": [120, 108, 80, 72]}).to_csv(
        tmp_path / "res" / "tables" / "flow.csv", index=False)
    assert parameters_from_results(tmp_path / "res").attrition == pytest.approx(1 - 180 / 200)


def test_parameters_r2_from_the_mixed_model_without_pupil_data(tmp_path):
    # staff edition: no data/; ρ = σ²_student/(σ²_student + σ²_resid) = .3/(.3 + .2) = .6, R² = .36
    _results(tmp_path / "res")
    (tmp_path / "res" / "data" / "panel_long.csv").unlink()
    pd.DataFrame({"outcome": ["a", "a", "b"], "term": ["Intercept", "x", "Intercept"],
                  "sigma2_student": [0.3, 0.3, 0.3], "sigma2_resid": [0.2, 0.2, 0.2],
                  "model": "lmm_pupil"}).to_csv(tmp_path / "res" / "tables" / "lmm_fixed.csv", index=False)
    p = parameters_from_results(tmp_path / "res")
    assert p.r2 == pytest.approx(0.36) and p.class_size is None


def test_bad_results_folders_name_the_problem(tmp_path):
    _results(tmp_path / "res", icc=(0.10, "abc", 0.2))
    with pytest.raises(StudyError, match=r"icc\.csv: row 3, column icc_class: value 'abc'"):
        parameters_from_results(tmp_path / "res")
    (tmp_path / "prog").mkdir()
    (tmp_path / "prog" / "programme.yaml").write_text("name: x\n")
    with pytest.raises(StudyError, match="mut-eval programme"):
        parameters_from_results(tmp_path / "prog")
    with pytest.raises(StudyError, match="no such"):
        parameters_from_results(tmp_path / "nothing")


# --- the command ---------------------------------------------------------------------------

def test_cli_plan_writes_csv_and_sentence(tmp_path, capsys):
    _results(tmp_path / "res")
    out = tmp_path / "plan.csv"
    rc = main(["plan", "--design", "class", "--from", str(tmp_path / "res"), "--class-size", "25",
               "--mdes", "0.25", "--out", str(out), "--language", "en"])
    assert rc == 0
    row = pd.read_csv(out).iloc[0]
    # the parameters read (icc .10, r2 = r2_cluster = .64, attrition .2) give the same plan directly
    direct = plan("class", mdes=0.25, power=0.8, class_size=25, icc=0.10, r2=0.64, r2_cluster=0.64,
                  attrition=0.2).iloc[0]
    assert row["classes"] == direct["classes"] and row["icc"] == pytest.approx(0.10)
    text = capsys.readouterr().out
    assert "To detect an effect of g = 0.25" in text and "icc = 0.100" in text
    assert "mentee0" not in text                     # no pupil identifier is echoed


@pytest.mark.parametrize("args,message", [
    (["--design", "class"], "give --icc"),
    (["--design", "partial", "--icc", "0.1"], "--class-size"),
    (["--design", "class", "--icc", "2"], "--icc = 2.0"),
    (["--from", "/no/such/folder", "--icc", "0.1"], "no such file"),
    (["--icc", "0.1", "--language", "de"], "--language"),
])
def test_cli_plan_bad_input_exits_2(args, message, capsys):
    assert main(["plan", *args]) == 2
    assert message in capsys.readouterr().err


def test_cli_plan_does_not_overwrite_a_foreign_file(tmp_path, capsys):
    f = tmp_path / "notes.csv"
    f.write_text("my,own\n1,2\n")
    assert main(["plan", "--icc", "0.1", "--out", str(f)]) == 2
    assert f.read_text() == "my,own\n1,2\n"


# --- fast guard of the simulation study validation/sim_power.py ----------------------------

def test_simulated_power_of_a_planned_class_design_is_close_to_the_prediction():
    script = Path(__file__).parents[1] / "validation" / "sim_power.py"
    spec = importlib.util.spec_from_file_location("sim_power", script)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["sim_power"] = mod
    spec.loader.exec_module(mod)
    for name in ("class", "partial"):
        c = next(c for c in mod.CONDITIONS if c.name == name)
        r = mod.run_condition(c, 400, seed=11)
        # predicted ≈ .80; MC SE .02 at 400 replications: a wide band of 4 MC SE
        assert abs(r["empirical"] - r["predicted"]) < 0.08, r
        assert r["type1"] < 0.05 + 4 * math.sqrt(0.05 * 0.95 / 400)
