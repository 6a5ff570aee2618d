"""Issue 13: the adjusted and weighted (doubly robust) DiD and the sensitivity benchmark,
against R (tests/reference/adjusted_reference.R: lm + clubSandwich CR2 / sandwich HC2,
and Cinelli & Hazlett's bounds written out in R), and the comparability tables of the
example cohort."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.adjustment import (adjusted_did, adjusted_rows, baseline_covariates,
                                       pool_sparse_levels, propensity_overlap,
                                       sensitivity_with_benchmark)

REF = Path(__file__).parent / "reference"
EXAMPLE = Path(__file__).parents[1] / "mut_eval" / "data" / "example_study"


@pytest.fixture(scope="module")
def example_results():
    from mut_eval.analysis import analyze
    from mut_eval.panel import load_panel
    return analyze(load_panel(EXAMPLE), {"bootstrap": 0, "moderators": ["age"], "prespecified_moderators": []})


@pytest.fixture(scope="module")
def ref():
    return json.loads((REF / "adjusted_reference.json").read_text())


@pytest.fixture(scope="module")
def data():
    d = pd.read_csv(REF / "adjusted_data.csv")
    wide = pd.DataFrame({"condition": np.where(d["mentee"] == 1, "mentee", "control"),
                         "y_T1": d["T1"], "y_T2": d["T2"]})
    X = pd.DataFrame({"age": d["age"], "mig": d["mig"].astype(float), "ses": d["ses"]})
    return wide, X, d["w"], d["klass"]


@pytest.mark.parametrize("model,weighted,form", [("covariate_adjusted", False, "ancova"),
                                                 ("weighted_dr", True, "ancova"),
                                                 ("weighted_dr_change", True, "change")])
def test_adjusted_did_equals_clubsandwich_and_sandwich(data, ref, model, weighted, form):
    wide, X, w, klass = data
    r = ref[model]
    kw = dict(weights=w if weighted else None, form=form)
    cr2 = adjusted_did(wide, "y", "T2-T1", X, clusters=klass, **kw)
    assert cr2["estimate"] == pytest.approx(r["estimate"], abs=1e-10)
    assert cr2["se"] == pytest.approx(r["cr2_se"], rel=1e-8)
    assert cr2["df"] == pytest.approx(r["cr2_df"], rel=1e-8)
    assert cr2["p"] == pytest.approx(r["cr2_p"], rel=1e-7)
    assert cr2["n_pupils"] == 159 and cr2["n_clusters"] == 14
    hc2 = adjusted_did(wide, "y", "T2-T1", X, **kw)
    assert hc2["estimate"] == pytest.approx(r["estimate"], abs=1e-10)
    assert hc2["se"] == pytest.approx(r["hc2_se"], rel=1e-8)
    assert hc2["df"] == r["hc2_df"]
    assert hc2["p"] == pytest.approx(r["hc2_p"], rel=1e-7)


def test_adjusted_rows_only_for_changes_from_t1(data):
    wide, X, w, klass = data
    rows = adjusted_rows(wide, "y", ["T2-T1", "T3-T2"], X, weights=w, clusters=klass)
    assert rows["model"].tolist() == ["covariate_adjusted", "weighted_dr", "weighted_dr_change"]
    assert set(rows["contrast"]) == {"T2-T1"}
    assert adjusted_rows(wide, "y", ["T2-T1"], X)["model"].tolist() == ["covariate_adjusted"]


def test_sensitivity_benchmark_equals_the_bounds_written_out_in_r(data, ref):
    wide, X, _, _ = data
    b = ref["benchmark"]
    est, se, dof = b["primary"]
    did = pd.DataFrame([{"outcome": "y", "contrast": "T2-T1", "model": "lmm_multilevel",
                         "estimate": est, "se": se, "df": dof, "g": est / 0.5}])
    X = X.assign(y_T1=wide["y_T1"])          # the outcome's own T1 is the ANCOVA's, not a covariate
    out = sensitivity_with_benchmark(did, wide, X, benchmark="mig").iloc[0]
    assert out["benchmark"] == "mig"
    for col in ("r2dz_x", "r2yz_dx", "adjusted_estimate", "adjusted_ci_low", "adjusted_ci_high"):
        assert out[col] == pytest.approx(b[col], rel=1e-8), col
    assert out["k_explain_away"] == pytest.approx(b["k_explain_away"], rel=1e-7)
    # a covariate that is not there gives no benchmark, not an error
    assert pd.isna(sensitivity_with_benchmark(did, wide, X, benchmark="absent").iloc[0]["r2dz_x"])


def test_baseline_covariates_unknown_is_missing_or_a_level():
    students = pd.DataFrame({"ses": ["low", "unknown", "high"], "age": [13.0, 14.0, 15.0]},
                            index=pd.Index(["a", "b", "c"], name="student_id"))
    wide = pd.DataFrame({"y_T1": [3.0, np.nan, 4.0]}, index=students.index)
    X = baseline_covariates(students, wide, ["y"], ["age", "ses", "y_T1"])
    assert X["ses"].isna().tolist() == [False, True, False]
    assert np.isnan(X.loc["b", "y_T1"])
    assert baseline_covariates(students, wide, ["y"], ["ses"], unknown_as_level=True)["ses"].tolist() == \
        ["low", "unknown", "high"]
    with pytest.raises(StudyError, match="'height' is neither a pupil column"):
        baseline_covariates(students, wide, ["y"], ["height"])


def test_sparse_levels_are_pooled_with_the_most_common_level():
    X = pd.DataFrame({"g": ["boy"] * 12 + ["girl"] * 10 + ["unknown"] * 2, "age": np.arange(24.0)})
    t = np.array([True, False] * 12)
    pooled, notes = pool_sparse_levels(X, t)
    # girl: 5 mentees, 5 controls (kept); unknown: 1 and 1 (pooled with boy, the most common)
    assert pooled["g"].value_counts().to_dict() == {"boy": 14, "girl": 10}
    assert notes == ["g: unknown (2 pupils) pooled with boy"]


def test_propensity_overlap_is_shares_per_condition():
    ps = pd.Series([0.1, 0.12, 0.5, 0.9, 0.95])
    t = np.array([False, False, True, True, True])
    o = propensity_overlap(ps, t, bins=10)
    assert o.groupby("condition")["share"].sum().to_dict() == pytest.approx({"mentee": 1.0, "control": 1.0})
    # 0.1 and 0.12 both fall in [0.1, 0.2)
    c = o[(o["condition"] == "control") & (o["bin_low"].round(2) == 0.1)]
    assert c["share"].iloc[0] == 1.0


def test_example_cohort_comparability(example_results):
    t = example_results.tables
    bal = t["balance"]
    assert list(bal.columns[:12]) == ["covariate", "level", "type", "mean_mentee", "mean_control",
                                      "mean_control_weighted", "smd", "smd_weighted", "var_ratio",
                                      "var_ratio_weighted", "ks", "ks_weighted"]
    # entropy balancing: every weighting covariate's weighted control mean is the mentees'
    for cov in ["age", "migration_background", "self_efficacy_T1", "help_seeking_network_T1"]:
        r = bal[bal["covariate"] == cov].iloc[0]
        assert r["mean_control_weighted"] == pytest.approx(r["mean_mentee"], abs=1e-8)
        assert abs(r["smd_weighted"]) < 1e-8
    ws = t["weights_summary"]
    assert ws["method"].tolist() == ["entropy", "entropy"]
    assert ws["n"].sum() == 189                      # one pupil has no T1 scores
    models = set(t["did_robustness"]["model"])
    assert {"covariate_adjusted", "weighted_dr", "weighted_dr_change", "multiple_imputation"} <= models
    mi = t["did_robustness"][t["did_robustness"]["model"] == "multiple_imputation"]
    assert len(mi) == 12 and mi["fmi"].between(0, 1).all() and (mi["n_pupils"] == 190).all()
    assert t["did_robustness"].loc[t["did_robustness"]["model"] != "multiple_imputation", "fmi"].isna().all()
    s = t["sensitivity"]
    assert len(s) == len(t["did"]) and (s["model"] == t["did"]["model"].iloc[0]).all()
    assert s.loc[s["contrast"] == "T3-T2", "benchmark"].isna().all()
    assert example_results.meta["weighting"]["pooled_levels"] == ["gender: unknown (2 pupils) pooled with boy"]
