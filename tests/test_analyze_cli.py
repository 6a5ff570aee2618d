"""`mut-eval analyze` writes every table of the contract (section 4), deterministically,
completely or not at all, and never touches its input."""
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from mut_eval.cli import main

from conftest import EXAMPLE

# contract.md section 4: required tables and columns
CONTRACT = {
    "flow": "condition stage n",
    "reliability": "scale wave n n_items alpha alpha_ci_low alpha_ci_high omega",
    "descriptives": "outcome sample condition wave n mean sd",
    "mixed_anova": "outcome source ss df1 df2 F p_unc eps_gg eps_hf p_gg p_hf np2 ng2 mauchly_w mauchly_p",
    "did": "outcome contrast estimate se ci_low ci_high p p_holm p_bh g g_ci_low g_ci_high improvement_index",
    "baseline_equivalence": "outcome contrast g_baseline wwc",
    "attrition": "outcome contrast overall differential wwc_cautious wwc_optimistic",
    "moderation": "outcome change moderator n b se t p ci_low ci_high boot_ci_low boot_ci_high r2",
    "conditional_effects": "outcome change moderator probe w effect se t p ci_low ci_high boot_ci_low boot_ci_high",
    "johnson_neyman": "outcome change moderator w pct_below pct_above",
}
# the issues add these
EXTRA = ["sample", "interaction_contrasts", "lmm_fixed", "lmm_emm", "did_by_moderator", "qsort_summary"]
OUTCOMES = {"self_efficacy", "intrinsic_motivation", "extrinsic_motivation", "school_belonging",
            "help_seeking_academic", "help_seeking_network"}


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    out = tmp_path_factory.mktemp("analyze") / "out"
    assert main(["analyze", str(EXAMPLE), "--out", str(out), "--bootstrap", "200", "--seed", "7"]) == 0
    return out


def test_every_contract_table_and_column(out):
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    sheets = pd.ExcelFile(out / "results.xlsx").sheet_names
    for name, cols in CONTRACT.items():
        df = pd.read_csv(out / "tables" / f"{name}.csv")
        assert set(cols.split()) <= set(df.columns), name
        assert len(df) > 0 and len(res["tables"][name]) == len(df), name
        assert name in sheets
    for name in EXTRA:
        assert (out / "tables" / f"{name}.csv").exists(), name


def test_tables_cover_the_grid(out):
    t = lambda n: pd.read_csv(out / "tables" / f"{n}.csv")
    assert set(t("mixed_anova")["outcome"]) == OUTCOMES
    assert set(t("mixed_anova")["source"]) == {"condition", "wave", "condition:wave"}
    assert set(t("did")["contrast"]) == {"T2-T1", "T3-T1", "T3-T2"}
    mod = t("moderation")
    # analysis.changes defaults to the changes from T1: no T3-T2 rows in the moderation
    # grid, its conditional effects or the DiD by pupil characteristic
    assert set(mod["outcome"]) == OUTCOMES and set(mod["change"]) == {"T2-T1", "T3-T1"}
    assert set(t("conditional_effects")["change"]) == {"T2-T1", "T3-T1"}
    assert set(t("did_by_moderator")["contrast"]) == {"T2-T1", "T3-T1"}
    assert {"age", "same_gender", "relationship_quality", "sessions_attended", "format"} <= set(mod["moderator"])
    ce = t("conditional_effects")
    assert {"M-1SD", "M", "M+1SD"} <= set(ce["probe"])


def test_values_are_numbers_and_missing_is_null(out):
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    row = res["tables"]["mixed_anova"][0]
    assert isinstance(row["F"], float) and row["eps_gg"] is None  # between-subjects row
    assert res["meta"]["n_mentee"] == 124 and res["meta"]["n_control"] == 66
    assert set(res["meta"]["input_hashes"]) >= {"students.csv", "wave_T1.csv", "study.yaml"}
    assert res["meta"]["synthetic"] is True and res["meta"]["n_boot"] == 200 and res["meta"]["seed"] == 7


def test_planted_moderation_recovered_with_the_right_sign(out):
    mod = pd.read_csv(out / "tables" / "moderation.csv")
    cell = mod[(mod.outcome == "school_belonging") & (mod.change == "T3-T1") & (mod.moderator == "age")].iloc[0]
    assert cell["b"] < 0 and cell["p"] < 0.05 and bool(cell["prespecified"])
    cell = mod[(mod.outcome == "extrinsic_motivation") & (mod.change == "T2-T1")
               & (mod.moderator == "relationship_quality")].iloc[0]
    assert cell["b"] > 0


def test_self_efficacy_shows_the_reports_pattern(out):
    a = pd.read_csv(out / "tables" / "mixed_anova.csv")
    inter = a[(a.outcome == "self_efficacy") & (a.source == "condition:wave")].iloc[0]
    assert inter["p_unc"] < 0.05
    did = pd.read_csv(out / "tables" / "did.csv").set_index(["outcome", "contrast"])
    assert did.loc[("self_efficacy", "T3-T2"), "estimate"] > 0  # controls dropped T2->T3, mentees less


def test_same_input_and_seed_give_identical_tables(out, tmp_path):
    again = tmp_path / "again"
    assert main(["analyze", str(EXAMPLE), "--out", str(again), "--bootstrap", "200", "--seed", "7"]) == 0
    for f in sorted((out / "tables").glob("*.csv")):
        assert f.read_bytes() == (again / "tables" / f.name).read_bytes(), f.name
    a = json.loads((out / "results.json").read_text(encoding="utf-8"))
    b = json.loads((again / "results.json").read_text(encoding="utf-8"))
    a["meta"].pop("created"), b["meta"].pop("created")
    assert a == b


def test_failed_run_writes_nothing_and_input_is_untouched(study, tmp_path):
    wave = study / "wave_T1.csv"
    wave.write_text(wave.read_text(encoding="utf-8").replace("\n", "\nBROKEN,vier\n", 1), encoding="utf-8")
    before = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in study.iterdir()}
    out = tmp_path / "out"
    assert main(["analyze", str(study), "--out", str(out)]) == 2
    assert not out.exists()
    assert list(tmp_path.glob(".out*")) == []  # no temporary folder left behind
    after = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in study.iterdir()}
    assert before == after


def test_covariate_model_and_cluster_sensitivity():
    from mut_eval.analysis import analyze
    from mut_eval.panel import load_panel
    from mut_eval.intake.study import DEFAULT_ANALYSIS
    panel = load_panel(EXAMPLE)
    res = analyze(panel, dict(DEFAULT_ANALYSIS, bootstrap=0, covariates=["migration_background"],
                              moderators=["age"]))
    did, adj = res["did"], res["did_adjusted"]
    assert len(adj) == len(did) and not adj["estimate"].equals(did["estimate"])  # a second model, not a copy
    # classes each hold one condition: the multilevel model (KR) is primary, also adjusted
    assert (did["model"] == "lmm_multilevel").all() and (adj["df"] < 1e3).all()
    rob = res["did_robustness"].set_index(["outcome", "contrast", "model"])
    # the WWC correction (estimated class ICC, table icc) shrinks the pupil-level test statistic
    pupil = rob.xs("lmm_pupil", level="model")
    wwc = rob.xs("wwc_corrected", level="model")
    assert ((wwc["estimate"] / wwc["se"]).abs() <= (pupil["estimate"] / pupil["se"]).abs() + 1e-12).all()
    assert (wwc["p"] >= pupil["p"] - 1e-12).all()
    # 190 pupils in 8 school classes: mean class size 23.75 (hand count from students.csv)
    classes = pd.read_csv(EXAMPLE / "students.csv").groupby(["school", "class"]).size()
    assert (rob["n_clusters"] == len(classes)).all() and len(classes) == 8
    icc = res["icc"].set_index("outcome")
    t1 = panel.long[panel.long["wave"] == "T1"].groupby("outcome").size()   # pupils scored at T1
    np.testing.assert_allclose(icc["n_effective"] * icc["design_effect"], t1[icc.index])
    np.testing.assert_allclose(icc["design_effect"], 1 + (t1[icc.index] / 8 - 1) * icc["icc_class"])
