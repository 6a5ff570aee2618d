"""CR2 + Satterthwaite and the restricted wild cluster bootstrap against R.

Reference values: tests/reference/cluster_robust_reference.R (clubSandwich 0.5.8
coef_test / vcovCR, and an independent R enumeration of the wild cluster bootstrap) on
tests/reference/cluster_robust_data.csv; stored in cluster_robust_reference.json.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.cluster_robust import (DESIGN_BASED_COLUMNS, cr2_regression, design_based_checks,
                                           design_based_did, unique_clusters, wild_cluster_bootstrap)

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "cluster_robust_reference.json").read_text())
DATA = pd.read_csv(REF / "cluster_robust_data.csv")
OUT = "self_efficacy"


def model_data(model: str, contrast: str, weighted: bool):
    """y, X, cluster and weights of one model as the R script builds them."""
    later, earlier = contrast.split("-")
    s = DATA.dropna(subset=[f"{OUT}_{later}", f"{OUT}_{earlier}"])
    mentee = (s["condition"] == "mentee").to_numpy(float)
    ones = np.ones(len(s))
    if model == "change":
        y = (s[f"{OUT}_{later}"] - s[f"{OUT}_{earlier}"]).to_numpy()
        X = np.column_stack([ones, mentee])
    else:
        y = s[f"{OUT}_{later}"].to_numpy()
        X = np.column_stack([ones, mentee, s[f"{OUT}_{earlier}"]])
    cluster = (s["school"] + "/" + s["class"]).to_numpy()
    return y, X, cluster, (s["weight"].to_numpy() if weighted else None)


def ref_rows(table: str, **match):
    return [r for r in R[table] if all(r[k] == v for k, v in match.items())]


@pytest.mark.parametrize("model", ["change", "ancova"])
@pytest.mark.parametrize("contrast", ["T2-T1", "T3-T1", "T3-T2"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cr2_equals_clubsandwich(model, contrast, weighted):
    y, X, cluster, w = model_data(model, contrast, weighted)
    fit = cr2_regression(y, X, cluster, weights=w)
    ref = ref_rows("cr2", model=model, contrast=contrast, weighted=weighted)
    assert len(ref) == X.shape[1]
    table = fit.table()
    for i, r in enumerate(ref):
        assert fit.coef[i] == pytest.approx(r["estimate"], abs=1e-10)
        assert fit.se[i] == pytest.approx(r["se"], abs=1e-8)
        assert fit.df[i] == pytest.approx(r["df"], abs=1e-8)
        assert table.loc[i, "p"] == pytest.approx(r["p"], rel=1e-6)
        assert table.loc[i, "ci_low"] == pytest.approx(r["ci_low"], abs=1e-8)
        assert table.loc[i, "ci_high"] == pytest.approx(r["ci_high"], abs=1e-8)
    assert fit.n_clusters == ref[0]["n_clusters"] and fit.n_obs == ref[0]["n"]


@pytest.mark.parametrize("contrast", ["T2-T1", "T3-T1", "T3-T2"])
@pytest.mark.parametrize("weighted", [False, True])
def test_linear_combination_equals_clubsandwich(contrast, weighted):
    y, X, cluster, w = model_data("ancova", contrast, weighted)
    (ref,) = ref_rows("contrast", contrast=contrast, weighted=weighted)
    c = [float(v) for v in ref["c"].split(",")]
    res = cr2_regression(y, X, cluster, weights=w).contrast(c)
    assert res["estimate"] == pytest.approx(ref["estimate"], abs=1e-10)
    assert res["se"] == pytest.approx(ref["se"], abs=1e-8)
    assert res["df"] == pytest.approx(ref["df"], abs=1e-8)
    assert res["p"] == pytest.approx(ref["p"], rel=1e-6)


@pytest.mark.parametrize("row", R["wild"], ids=lambda r: f"{r['model']}-{r['contrast']}-w{int(r['weighted'])}")
def test_enumeration_equals_r(row):
    y, X, cluster, w = model_data(row["model"], row["contrast"], row["weighted"])
    res = wild_cluster_bootstrap(y, X, cluster, 1, weights=w, draws="enumeration")
    assert res.draws == "enumeration" and res.n_draws == row["n_draws"]
    assert res.p == row["p_cr1"]                      # the same 2^G vectors: exactly equal
    assert res.estimate == pytest.approx(row["estimate"], abs=1e-12)
    assert res.se == pytest.approx(row["se_cr1s"], abs=1e-10)
    assert res.ci_low == pytest.approx(row["ci_low"], abs=1e-8)
    assert res.ci_high == pytest.approx(row["ci_high"], abs=1e-8)
    cr2 = wild_cluster_bootstrap(y, X, cluster, 1, weights=w, draws="enumeration", vcov="CR2", ci=False)
    assert cr2.p == row["p_cr2"]


def test_random_draws_close_to_enumeration():
    """Random Rademacher draws estimate the enumeration p (Monte Carlo SE
    √(p(1−p)/B)); Webb's weights are another distribution with the same first two
    moments, whose p differs by a little more than MC error (here at most .007)."""
    B = 9999
    for row in R["wild"]:
        y, X, cluster, w = model_data(row["model"], row["contrast"], row["weighted"])
        p = row["p_cr1"]
        rad = wild_cluster_bootstrap(y, X, cluster, 1, weights=w, draws="rademacher", n_boot=B,
                                     seed=11, ci=False)
        assert abs(rad.p - p) <= 4.5 * np.sqrt(p * (1 - p) / B)
        webb = wild_cluster_bootstrap(y, X, cluster, 1, weights=w, draws="webb", n_boot=B,
                                      seed=11, ci=False)
        assert webb.draws == "webb" and webb.n_draws == B
        assert abs(webb.p - p) <= 0.015


def test_bootstrap_deterministic_by_seed():
    y, X, cluster, _ = model_data("change", "T2-T1", True)
    a = wild_cluster_bootstrap(y, X, cluster, 1, draws="webb", n_boot=999, seed=5)
    b = wild_cluster_bootstrap(y, X, cluster, 1, draws="webb", n_boot=999, seed=5)
    c = wild_cluster_bootstrap(y, X, cluster, 1, draws="webb", n_boot=999, seed=6)
    assert a == b
    assert (a.p, a.ci_low, a.ci_high) != (c.p, c.ci_low, c.ci_high)


def test_auto_draws_enumerate_up_to_twelve_clusters():
    rng = np.random.default_rng(3)
    for G, expected, n_draws in ((12, "enumeration", 4096), (13, "webb", 199)):
        g = np.repeat(np.arange(G), 6)
        X = np.column_stack([np.ones(g.size), (g % 2).astype(float)])
        y = rng.normal(size=g.size) + rng.normal(size=G)[g]
        res = wild_cluster_bootstrap(y, X, g, 1, n_boot=199, seed=1, ci=False)
        assert (res.draws, res.n_draws, res.n_clusters) == (expected, n_draws, G)


def test_inverted_ci_ends_have_p_alpha():
    """At the ends of the interval the bootstrap p-value crosses α = .05."""
    y, X, cluster, w = model_data("change", "T3-T1", False)
    res = wild_cluster_bootstrap(y, X, cluster, 1, draws="enumeration")
    for end, inward in ((res.ci_low, 1e-7), (res.ci_high, -1e-7)):
        inside = wild_cluster_bootstrap(y, X, cluster, 1, null=end + inward, draws="enumeration", ci=False)
        outside = wild_cluster_bootstrap(y, X, cluster, 1, null=end - inward, draws="enumeration", ci=False)
        assert inside.p >= 0.05 > outside.p


def test_design_based_did_rows_equal_r():
    out = design_based_did(DATA, OUT, "T3-T1")
    assert list(out.columns) == DESIGN_BASED_COLUMNS
    assert list(out["model"]) == ["cr2_change", "cr2_ancova", "wild_cluster_bootstrap"]
    for model in ("change", "ancova"):
        (ref,) = ref_rows("cr2", model=model, contrast="T3-T1", weighted=False, term="mentee")
        row = out.set_index("model").loc[f"cr2_{model}"]
        for col in ("estimate", "se", "df", "ci_low", "ci_high"):
            assert row[col] == pytest.approx(ref[col], abs=1e-8)
        assert row["p"] == pytest.approx(ref["p"], rel=1e-6)
        assert (row["n_pupils"], row["n_clusters"]) == (ref["n"], ref["n_clusters"])
    (ref,) = ref_rows("wild", model="change", contrast="T3-T1", weighted=False)
    row = out.set_index("model").loc["wild_cluster_bootstrap"]
    assert row["p"] == ref["p_cr1"]
    assert row["se"] == pytest.approx(ref["se_cr1s"], abs=1e-10)
    assert row["ci_low"] == pytest.approx(ref["ci_low"], abs=1e-8)
    assert np.isnan(row["df"])
    anc = design_based_did(DATA, OUT, "T3-T1", bootstrap_model="ancova").iloc[2]
    (ref,) = ref_rows("wild", model="ancova", contrast="T3-T1", weighted=False)
    assert anc["p"] == ref["p_cr1"] and anc["ci_high"] == pytest.approx(ref["ci_high"], abs=1e-8)


def test_classes_unique_within_school():
    # 3V1 and 3V2 exist at schools B and C: 9 classes, not 7.
    assert unique_clusters(DATA).nunique() == 9
    assert DATA["class"].nunique() == 7
    merged = design_based_did(DATA, OUT, "T3-T1", nest_in=None, bootstrap=False)
    assert set(merged["n_clusters"]) == {7}


def test_fewer_than_two_classes_in_a_condition_gives_estimate_only():
    d = DATA[(DATA["condition"] == "mentee") | (DATA["class"] == "1V2")]
    out = design_based_did(d, OUT, "T2-T1")
    assert out["estimate"].notna().all()
    assert out[["se", "df", "ci_low", "ci_high", "p"]].isna().all().all()
    assert set(out["n_clusters"]) == {7}


def test_checks_table_and_seeds_per_cell():
    t = design_based_checks(DATA, [OUT], n_boot=99, draws="webb", seed=4)
    assert len(t) == 6 and list(t.columns) == DESIGN_BASED_COLUMNS
    one = design_based_checks(DATA, [OUT], contrasts=("T3-T1",), n_boot=99, draws="webb", seed=4)
    pd.testing.assert_frame_equal(t[t["contrast"] == "T3-T1"].reset_index(drop=True), one)


@pytest.mark.parametrize("kwargs, message", [
    ({"contrast": "T4-T1"}, "not one of"),
    ({"cluster": "klas"}, "'klas' not found"),
    ({"outcome": "motivation"}, "not found in the wide data"),
    ({"bootstrap_model": "lmm"}, "bootstrap_model"),
    ({"draws": "mammen"}, "draws must be"),
])
def test_user_errors(kwargs, message):
    args = {"outcome": OUT, "contrast": "T2-T1", **kwargs}
    with pytest.raises(StudyError, match=message):
        design_based_did(DATA, args.pop("outcome"), args.pop("contrast"), **args)


def test_pupil_without_class_is_an_error():
    d = DATA.copy()
    d.loc[3, "class"] = np.nan
    with pytest.raises(StudyError, match="1 pupil"):
        design_based_did(d, OUT, "T2-T1")
    d = DATA.copy()
    d.loc[:, "condition"] = d["condition"].replace({"control": "controle"})
    with pytest.raises(StudyError, match="controle"):
        design_based_did(d, OUT, "T2-T1")


def test_pupil_without_condition_is_an_error():
    d = DATA.copy()
    d.loc[[0, 1], "condition"] = np.nan
    with pytest.raises(StudyError, match="2 pupil.*no condition"):
        design_based_did(d, OUT, "T2-T1")


def test_bootstrap_ci_is_the_whole_line_when_no_value_can_be_rejected():
    """4 classes: 2^4 = 16 sign vectors, p ≥ 2/16 = .125 > .05 for every null value, so
    the inverted interval is (−inf, inf) — found by the simulation study (it used to bisect
    through rounding noise)."""
    rng = np.random.default_rng(4)
    cl = np.repeat(np.arange(4), 10)
    m = (cl % 2 == 0).astype(float)
    y = 0.3 * m + rng.normal(size=cl.size) + rng.normal(size=4)[cl]
    res = wild_cluster_bootstrap(y, np.column_stack([np.ones(cl.size), m]), cl, 1)
    assert res.draws == "enumeration" and res.n_draws == 16
    assert res.p >= 2 / 16 and (res.ci_low, res.ci_high) == (-np.inf, np.inf)
