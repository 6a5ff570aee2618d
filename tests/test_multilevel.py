"""The design, the multilevel DiD and did_robustness (issue 12; mut_eval.stats.multilevel).

Reference values: tests/reference/mixed_reference.R (lme4 + emmeans with lmer.df =
"kenward-roger" / "satterthwaite", pbkrtest, lmerTest) on the stored designs
mixed_{nested,few_clusters,mentor_groups,missing_waves}.csv; the WWC correction and
Hedges' (2007) variance of g_total by hand below.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mut_eval import StudyError
from mut_eval.intake.settings import DesignSettings, read_settings
from mut_eval.stats.lmm import did, fit_lmm
from mut_eval.stats.multilevel import (
    MODELS, NO_MENTOR, ROBUSTNESS_COLUMNS, Design, did_robustness, g_total, random_part,
    resolve_design, with_mentor_groups, wwc_rows,
)

REF = Path(__file__).parent / "reference"
MIXED = json.loads((REF / "mixed_reference.json").read_text())


@pytest.mark.parametrize("name", ["nested", "few_clusters", "mentor_groups", "missing_waves"])
def test_multilevel_did_matches_emmeans_kr_and_satterthwaite(name):
    ref = MIXED[name]
    d = pd.read_csv(REF / f"mixed_{name}.csv")
    fit = fit_lmm(d, random=ref["random"])
    r = ref["did"]
    kr = did(d, fit=fit, ddf="kenward-roger").set_index("contrast").loc[r["contrast"]]
    np.testing.assert_allclose(kr["estimate"], r["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(kr["se"], r["se_kr"], rtol=1e-4)
    np.testing.assert_allclose(kr["df"], r["df_kr"], rtol=1e-4)
    # p and CI on t(df_KR) with R's numbers
    t = np.asarray(r["estimate"]) / np.asarray(r["se_kr"])
    np.testing.assert_allclose(kr["p"], 2 * stats.t.sf(np.abs(t), r["df_kr"]), rtol=1e-3, atol=1e-8)
    sat = did(d, fit=fit, ddf="satterthwaite").set_index("contrast").loc[r["contrast"]]
    np.testing.assert_allclose(sat["se"], r["se_satterthwaite"], rtol=1e-4)
    np.testing.assert_allclose(sat["df"], r["df_satterthwaite"], rtol=1e-4)
    hi = np.asarray(r["estimate"]) + stats.t.ppf(.975, r["df_satterthwaite"]) * np.asarray(r["se_satterthwaite"])
    np.testing.assert_allclose(sat["ci_high"], hi, rtol=1e-4)


def test_mentor_groups_columns_from_matches_give_the_reference_fit():
    """mentor_id/mentee_post built from a matches table equal the stored design's columns
    (there controls carry mentor 'none'); the fit equals lme4's."""
    ref = MIXED["mentor_groups"]
    d = pd.read_csv(REF / "mixed_mentor_groups.csv")
    matches = (d[d.condition == "mentee"].drop_duplicates("student_id")
               .set_index("student_id")[["mentor_id"]])
    built = with_mentor_groups(d.drop(columns=["mentor_id", "mentee_post"]), matches)
    np.testing.assert_array_equal(built["mentee_post"], d["mentee_post"])
    assert (built.loc[d.condition == "control", "mentor_id"] == NO_MENTOR).all()
    fit = fit_lmm(built, random=ref["random"])
    np.testing.assert_allclose(fit.params, ref["fixef"], rtol=1e-6, atol=1e-8)
    for term, v in ref["varcomp"].items():
        assert fit.mixed.varcomp[term] == pytest.approx(v, rel=1e-4, abs=1e-8), term
    assert fit.reml_loglik == pytest.approx(ref["loglik"], rel=1e-6)


# ----------------------------------------------------------------- the design
def _students(classes):
    """classes: list of (school, class, condition, n)."""
    rows = [(f"p{i}_{s}{c}", cond, s, c) for s, c, cond, n in classes for i in range(n)]
    return pd.DataFrame(rows, columns=["student_id", "condition", "school", "class"]).set_index("student_id")


def test_design_defaults_from_the_data():
    st = _students([("A", "3V1", "mentee", 5), ("A", "3V2", "control", 5),
                    ("B", "3V1", "mentee", 5), ("C", "3V1", "control", 4)])
    matches = pd.DataFrame({"mentor_id": ["m1", "m1", "m2"]}, index=["p0_A3V1", "p1_A3V1", "p0_B3V1"])
    d = resolve_design(st, matches)
    # class 3V1 exists at three schools: three classes, each with one condition
    assert (d.assignment, d.levels, d.mentor_groups, d.n_classes, d.n_mentor_groups) == \
        ("class", ("school", "class"), True, 4, 1)
    assert "each of the 4 classes holds one condition" in d.reasons["assignment"]
    assert d.clustered and d.as_dict()["primary_model"] == "lmm_multilevel"
    assert random_part(d) == ("(1 | school) + (1 | school:class) + (1 | school:class:wave) + "
                              "(1 | student_id) + (0 + mentee_post | mentor_id)")
    # a class with both conditions: pupil assignment; one class per school: no school level
    mixed = _students([("A", "1", "mentee", 3), ("A", "1", "control", 3), ("B", "1", "control", 3)])
    d2 = resolve_design(mixed, None)
    assert (d2.assignment, d2.levels, d2.mentor_groups) == ("pupil", ("class",), False)
    assert "1 of 2 classes hold mentees and controls" in d2.reasons["assignment"]
    assert random_part(d2) == "(1 | school:class) + (1 | school:class:wave) + (1 | student_id)"


def test_declared_design_is_checked_against_the_data():
    mixed = _students([("A", "1", "mentee", 3), ("A", "1", "control", 3), ("B", "1", "control", 3)])
    with pytest.raises(StudyError, match=r"design.assignment: class, but class A/1 hold"):
        resolve_design(mixed, None, DesignSettings(assignment="class"))
    with pytest.raises(StudyError, match="mentor_groups: true, but no mentee has a mentor_id"):
        resolve_design(mixed, None, DesignSettings(mentor_groups=True))
    d = resolve_design(mixed, None, DesignSettings(assignment="pupil", levels=("class",), mentor_groups=False))
    assert d.reasons == {"assignment": "set in study.yaml", "levels": "set in study.yaml",
                         "mentor_groups": "set in study.yaml", "residual": d.reasons["residual"]}


@pytest.mark.parametrize("raw,msg", [
    ({"assignment": "classroom"}, "design.assignment: must be one of pupil, class, school"),
    ({"levels": ["school", "grade"]}, "design.levels: must be a list of school and/or class"),
    ({"mentor_groups": "yes please"}, "design.mentor_groups: must be true or false"),
    ({"residual": "ar1"}, "design.residual: must be one of compound, unstructured"),
    ({"cluster": "class"}, "design: unknown key"),
])
def test_design_settings_errors_name_the_key(raw, msg):
    with pytest.raises(StudyError, match=msg):
        read_settings({"design": raw})


def test_design_settings_read():
    s = read_settings({"design": {"assignment": "school", "levels": ["class", "school"],
                                  "mentor_groups": False}}).design
    assert s == DesignSettings(assignment="school", levels=("school", "class"), mentor_groups=False)


# ----------------------------------------------------------------- effect sizes, WWC by hand
def test_g_total_hand_calculation():
    # estimate .20, se .08, total T1 variance .36 (σ_T = .6), ρ = .10, N = 200, n = 25
    out = g_total([0.20], [0.08], 0.36, 0.10, 200, 25.0).iloc[0]
    g = 0.20 / 0.6
    N, n, rho = 200, 25, 0.10
    h = ((N - 2) - 2 * (n - 1) * rho) ** 2 / (
        (N - 2) * (1 - rho) ** 2 + n * (N - 2 * n) * rho ** 2 + 2 * (N - 2 * n) * rho * (1 - rho))
    # h = 193.2² / (160.38 + 37.5 + 27.0) = 37326.24 / 224.88 = 165.98
    assert h == pytest.approx(165.983, abs=1e-3)
    v = (0.08 / 0.6) ** 2 + g ** 2 / (2 * h)
    assert out["g_total"] == pytest.approx(1 / 3)
    assert out["g_total_ci_low"] == pytest.approx(g - 1.959963984540054 * math.sqrt(v), abs=1e-12)
    assert out["g_total_ci_high"] == pytest.approx(g + 1.959963984540054 * math.sqrt(v), abs=1e-12)


def test_wwc_row_hand_calculation():
    pupil = pd.DataFrame({"contrast": ["T2-T1"], "estimate": [0.3], "se": [0.1], "n_students": [190]})
    r = wwc_rows(pupil, icc=0.05, n_bar=23.75).iloc[0]
    N, n, rho, t = 190, 23.75, 0.05, 3.0
    t_a = t * math.sqrt(((N - 2) - 2 * (n - 1) * rho) / ((N - 2) * (1 + (n - 1) * rho)))
    h = ((N - 2) - 2 * (n - 1) * rho) ** 2 / (
        (N - 2) * (1 - rho) ** 2 + n * (N - 2 * n) * rho ** 2 + 2 * (N - 2 * n) * rho * (1 - rho))
    assert r["se"] == pytest.approx(0.3 / t_a)
    assert r["df"] == pytest.approx(h)
    assert r["p"] == pytest.approx(2 * stats.t.sf(t_a, h))
    assert r["ci_low"] == pytest.approx(0.3 - stats.t.ppf(.975, h) * 0.3 / t_a)


# ----------------------------------------------------------------- the table
def test_did_robustness_rows_and_agreement():
    d = pd.read_csv(REF / "mixed_nested.csv").assign(outcome="y")
    wide = d.pivot_table(index="student_id", columns="wave", values="score")
    wide.columns = [f"y_{w}" for w in wide.columns]
    wide = d.drop_duplicates("student_id").set_index("student_id")[["condition", "school", "class"]].join(wide)
    design = Design(assignment="class", levels=("school", "class"), mentor_groups=False)
    extra = pd.DataFrame([{"outcome": "y", "model": "multiple_imputation", "contrast": "T2-T1",
                           "estimate": 0.1, "se": 0.05, "df": 30.0, "ci_low": 0.0, "ci_high": 0.2,
                           "p": 0.05, "n_pupils": 77, "n_clusters": 7, "fmi": 0.2},
                          {"outcome": "other", "model": "weighted_dr", "contrast": "T2-T1"}])
    out = did_robustness(d, wide, design, icc_class=0.1, n_boot=99, additional=extra)
    assert list(out.columns) == ROBUSTNESS_COLUMNS
    t21 = out[out.contrast == "T2-T1"].set_index("model")
    # residual: compound (no MMRM rows); of the additional rows only this outcome's
    assert list(t21.index) == [m for m in MODELS if not m.startswith("mmrm") and m not in (
        "covariate_adjusted", "weighted_dr", "weighted_dr_change")]
    mi = t21.loc["multiple_imputation"]
    assert (mi["n_pupils"], mi["n_clusters"], mi["fmi"]) == (77, 7, 0.2)
    assert t21.drop(index="multiple_imputation")["fmi"].isna().all()
    assert list(out[out.contrast == "T3-T2"].model) == ["lmm_pupil", "lmm_multilevel",
                                                       "lmm_multilevel_satterthwaite", "wwc_corrected"]
    ref = MIXED["nested"]["did"]
    assert t21.loc["lmm_multilevel", "se"] == pytest.approx(ref["se_kr"][0], rel=1e-4)
    assert t21.loc["lmm_multilevel_satterthwaite", "df"] == pytest.approx(ref["df_satterthwaite"][0], rel=1e-4)
    pupil = did(d, fit=fit_lmm(d)).set_index("contrast")
    assert t21.loc["lmm_pupil", "estimate"] == pytest.approx(pupil.loc["T2-T1", "estimate"])
    assert t21.loc["lmm_pupil", "g"] == pytest.approx(pupil.loc["T2-T1", "g"])
    assert np.isinf(t21.loc["lmm_pupil", "df"])
    assert (out.loc[out.model != "multiple_imputation", "n_clusters"] == d.groupby(["school", "class"]).ngroups).all()


def test_unstructured_residual_is_the_mmrm_of_the_reference():
    """design.residual: unstructured — fit_lmm drops the pupil intercept for the MMRM's
    unstructured covariance; on the stored design with (1|class) it equals nlme::lme with
    corSymm + varIdent (tests/reference/mmrm_reference.R, design lme_class)."""
    ref = json.loads((REF / "mmrm_reference.json").read_text())["lme_class"]
    d = pd.read_csv(REF / "mmrm_classes.csv")
    fit = fit_lmm(d, random="(1 | klass) + (1 | student_id)", residual="unstructured")
    assert fit.residual == "unstructured" and np.isnan(fit.sigma2_student)
    np.testing.assert_allclose(fit.params, list(ref["beta"].values()), rtol=1e-6, atol=1e-6)
    assert fit.reml_loglik == pytest.approx(ref["loglik"], rel=1e-6)
    kr = did(d, fit=fit, ddf="kenward-roger").set_index("contrast")
    r = ref["contrasts"]["T2-T1"]
    assert kr.loc["T2-T1", "estimate"] == pytest.approx(r["estimate"], abs=1e-6)
    assert kr.loc["T2-T1", "se"] == pytest.approx(r["kr"]["se"], rel=1e-4)
    assert kr.loc["T2-T1", "df"] == pytest.approx(r["kr"]["df"], rel=1e-4)
    design = Design(assignment="class", levels=("class",), mentor_groups=False, residual="unstructured")
    assert design.as_dict()["primary_model"] == "mmrm_multilevel"


def test_did_robustness_with_the_unstructured_residual_adds_the_mmrm_row():
    d = (pd.read_csv(REF / "mmrm_classes.csv").drop(columns=["age"])
         .assign(**{"class": lambda x: x["klass"], "outcome": "y"}).drop(columns=["klass"]))
    wide = d.pivot_table(index="student_id", columns="wave", values="score")
    wide.columns = [f"y_{w}" for w in wide.columns]
    wide = d.drop_duplicates("student_id").set_index("student_id")[["condition", "school", "class"]].join(wide)
    design = Design(assignment="class", levels=("class",), mentor_groups=False, residual="unstructured")
    out = did_robustness(d, wide, design, icc_class=0.05, contrasts=["T2-T1"], n_boot=99).set_index("model")
    ref = json.loads((REF / "mmrm_reference.json").read_text())["lme_class"]["contrasts"]["T2-T1"]
    assert out.loc["mmrm_multilevel", "se"] == pytest.approx(ref["kr"]["se"], rel=1e-4)
    assert out.loc["mmrm_multilevel", "df"] == pytest.approx(ref["kr"]["df"], rel=1e-4)
    assert list(out.index) == ["lmm_pupil", "lmm_multilevel", "lmm_multilevel_satterthwaite", "mmrm_multilevel",
                               "cr2_change", "cr2_ancova", "wild_cluster_bootstrap", "wwc_corrected"]
