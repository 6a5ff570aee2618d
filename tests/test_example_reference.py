"""End-to-end check of the example cohort against an independent R analysis.

``tests/reference/example_reference.R`` reads the raw files of
``mut_eval/data/example_study``, scores the scales itself (reverse coding 6 − x, the 75 %
rule) and fits every model with the R reference implementations (afex/car, lme4 +
emmeans, psych, lm). Here the whole Python pipeline (``load_panel`` → ``analyze``) runs
once on the same files and every table is compared with the stored R numbers. Pupil
identifiers play no part: rows are matched on outcome / condition / wave / source /
contrast / scale / moderator.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval.analysis import analyze
from mut_eval.panel import load_panel
from mut_eval.intake.study import DEFAULT_ANALYSIS
from mut_eval.stats.lmm import mixed_model_by_outcome

REF = Path(__file__).parent / "reference"
STUDY = Path(__file__).parent.parent / "mut_eval" / "data" / "example_study"

OUTCOMES = ["self_efficacy", "intrinsic_motivation", "extrinsic_motivation", "school_belonging",
            "help_seeking_academic", "help_seeking_network"]
# The planted moderation cells that the R script reproduces.
CELLS = [("school_belonging", "T3-T1", "age"),
         ("extrinsic_motivation", "T2-T1", "relationship_quality"),
         ("intrinsic_motivation", "T2-T1", "same_gender")]


def ref(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"example_{name}.csv", keep_default_na=True)


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    panel = load_panel(STUDY)
    options = dict(DEFAULT_ANALYSIS)
    # No bootstrap (only the analytic numbers are compared) and only the moderators of
    # the planted cells, to keep the module fast. The R script fits lm() with its OLS
    # covariance, so the moderation SEs are asked for as OLS (the default is HC3).
    options.update(bootstrap=0, seed=2020, alpha=0.05, min_cell=10, probe="moments", covariates=[],
                   moderators=sorted({c[2] for c in CELLS}), prespecified_moderators=[],
                   outcomes=None, icc=0.10, hc="OLS")   # R's lm() summary: classical OLS SEs
    t = analyze(panel, options).tables
    # The example's classes each hold one condition, so the primary model is the multilevel
    # one; the R script fits the pupil-level model, which analyze keeps as lmm_pupil.
    pupil = mixed_model_by_outcome(panel.long, outcomes=panel.outcomes)
    rob = t["did_robustness"]
    return {**t, "pupil_fixed": pupil["lmm_fixed"], "pupil_emm": pupil["lmm_emm"],
            "pupil_did": rob[rob["model"] == "lmm_pupil"].assign(z=lambda d: d["estimate"] / d["se"])}


def merged(py: pd.DataFrame, r: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Inner join on ``keys``; both sides must have exactly the same key rows."""
    py = py.copy()
    r = r.copy()
    for k in keys:
        py[k] = py[k].astype(str)
        r[k] = r[k].astype(str)
    assert not py.duplicated(keys).any() and not r.duplicated(keys).any()
    m = py.merge(r, on=keys, how="outer", suffixes=("_py", "_r"), indicator=True)
    assert (m["_merge"] == "both").all(), m.loc[m["_merge"] != "both", keys + ["_merge"]]
    return m


def check(m: pd.DataFrame, cols: list[str], rtol: float, atol: float) -> None:
    for c in cols:
        a = m[f"{c}_py"].to_numpy(dtype=float)
        b = m[f"{c}_r"].to_numpy(dtype=float)
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=c)


def test_descriptives(tables):
    r = ref("descriptives")
    m = merged(tables["descriptives"], r, ["outcome", "sample", "condition", "wave"])
    assert len(m) == len(r) == 6 * 2 * 2 * 3
    np.testing.assert_array_equal(m["n_py"].to_numpy(int), m["n_r"].to_numpy(int))
    check(m, ["mean", "sd"], rtol=1e-10, atol=1e-12)


def test_mixed_anova(tables):
    r = ref("anova")
    m = merged(tables["mixed_anova"], r, ["outcome", "source"])
    assert len(m) == 18
    check(m, ["ss", "df1", "df2", "F", "p_unc", "eps_gg", "eps_hf", "p_gg", "p_hf", "np2", "ng2",
              "mauchly_w", "mauchly_p"], rtol=1e-6, atol=1e-6)
    # p values far below 1e-6 checked relatively
    check(m, ["p_unc", "p_gg", "p_hf"], rtol=1e-6, atol=0)


def test_lmm_fixed(tables):
    r = ref("lmm_fixed")
    m = merged(tables["pupil_fixed"], r, ["outcome", "term"])
    assert len(m) == 6 * 6
    assert m["converged"].all()
    check(m, ["estimate", "se", "z", "p", "sigma2_student", "sigma2_resid"], rtol=1e-4, atol=1e-4)
    check(m, ["p"], rtol=1e-4, atol=0)
    check(m, ["n_students", "n_obs"], rtol=0, atol=0)


def test_lmm_emm(tables):
    r = ref("lmm_emm")
    m = merged(tables["pupil_emm"], r, ["outcome", "condition", "wave"])
    assert len(m) == 6 * 6
    check(m, ["emm", "se", "ci_low", "ci_high"], rtol=1e-4, atol=1e-4)


def test_did(tables):
    r = ref("did")
    m = merged(tables["pupil_did"], r, ["outcome", "contrast"])
    assert len(m) == 6 * 3
    check(m, ["estimate", "se", "z", "p", "ci_low", "ci_high"], rtol=1e-4, atol=1e-4)
    check(m, ["p"], rtol=1e-4, atol=0)   # small p values relatively as well


def test_reliability(tables):
    r = ref("reliability")
    m = merged(tables["reliability"], r, ["scale", "wave"])
    assert len(m) == 6 * 3 + 1          # six outcomes x three waves + relationship quality at T2
    check(m, ["n", "n_items"], rtol=0, atol=0)
    check(m, ["alpha"], rtol=1e-6, atol=1e-6)


def _cells(df: pd.DataFrame) -> pd.DataFrame:
    key = df[["outcome", "change", "moderator"]].apply(tuple, axis=1)
    return df[key.isin(CELLS)]


def test_moderation(tables):
    r = ref("moderation")
    py = _cells(tables["moderation"])
    m = merged(py, r, ["outcome", "change", "moderator"])
    assert len(m) == len(CELLS)
    check(m, ["n", "b", "se", "t", "p", "ci_low", "ci_high", "r2"], rtol=1e-8, atol=1e-8)
    cat = m[m["moderator"] == "same_gender"].iloc[0]
    assert (cat["level_py"], cat["reference_py"]) == ("yes", "no")


def test_conditional_effects(tables):
    r = ref("conditional")
    py = _cells(tables["conditional_effects"])
    m = merged(py, r, ["outcome", "change", "moderator", "probe"])
    assert len(m) == 3 + 3 + 2
    check(m, ["w", "effect", "se", "t", "p", "ci_low", "ci_high"], rtol=1e-8, atol=1e-8)
    lv = m[m["moderator"] == "same_gender"]
    check(lv, ["n_level"], rtol=0, atol=0)


def test_key_pattern(tables):
    """The report's key finding holds on the example: self-efficacy changes differently in
    the two conditions (condition x wave, p < .05), and between T2 and T3 the mentees
    declined less than the controls (T3−T2 DiD > 0) — in R and in Python."""
    r_aov = ref("anova").set_index(["outcome", "source"])
    py_aov = tables["mixed_anova"].set_index(["outcome", "source"])
    for t in (r_aov, py_aov):
        row = t.loc[("self_efficacy", "condition:wave")]
        assert row["p_unc"] < 0.05 and row["p_gg"] < 0.05
    r_did = ref("did").set_index(["outcome", "contrast"]).loc[("self_efficacy", "T3-T2")]
    py_did = tables["did"].set_index(["outcome", "contrast"]).loc[("self_efficacy", "T3-T2")]
    assert r_did["estimate"] > 0 and py_did["estimate"] > 0
    # ... because both conditions declined, the controls more.
    assert py_did["control_change"] < py_did["mentee_change"] < 0
    r_emm = ref("lmm_emm").set_index(["outcome", "condition", "wave"])
    ch = {c: r_emm.loc[("self_efficacy", c, "T3"), "emm"] - r_emm.loc[("self_efficacy", c, "T2"), "emm"]
          for c in ("mentee", "control")}
    assert ch["control"] < ch["mentee"] < 0


def test_reference_holds_no_pupil_ids():
    """The stored R outputs are aggregates: no identifier of the example files in them."""
    ids = pd.read_csv(STUDY / "students.csv", dtype=str)["student_id"]
    assert ids.str.startswith("SYN").all()
    for f in REF.glob("example_*"):
        if f.suffix in (".csv", ".json"):
            assert "SYN" not in f.read_text(encoding="utf-8"), f.name


def test_did_primary_multilevel(tables):
    """The example's classes each hold one condition and mentors have duos and trios, so
    analyze's primary DiD is the multilevel model with the mentor-group term, Kenward-Roger
    (example_reference.R section 7b: lme4 + emmeans lmer.df = "kenward-roger")."""
    r = ref("did_multilevel_mentor").rename(columns={"se": "se_sat", "se_kr": "se", "df_kr": "df", "p_kr": "p",
                                                     "ci_low_kr": "ci_low", "ci_high_kr": "ci_high"})
    m = merged(tables["did"], r, ["outcome", "contrast"])
    assert len(m) == 6 * 3 and (m["model"] == "lmm_multilevel").all()
    check(m, ["estimate", "se", "df", "p", "ci_low", "ci_high"], rtol=1e-4, atol=1e-6)
    rob = tables["did_robustness"]
    sat = rob[rob["model"] == "lmm_multilevel_satterthwaite"].rename(columns={"df": "df_satterthwaite",
                                                                            "p": "p_satterthwaite"})
    m = merged(sat, r.drop(columns=["estimate"]), ["outcome", "contrast"])
    check(m, ["df_satterthwaite", "p_satterthwaite"], rtol=1e-4, atol=1e-6)


def test_icc(tables):
    r = ref("icc")
    m = merged(tables["icc"], r, ["outcome"])
    assert len(m) == 6
    check(m, ["var_school", "var_class", "var_resid", "icc_class", "icc_school"], rtol=1e-4, atol=1e-6)
