"""Meta-analysis across cohorts (mut_eval.stats.meta) against R metafor 3.8.1.

Reference values: tests/reference/meta_reference.R on the stored data sets
tests/reference/meta_{k2,k4,k10,boundary,trend}.csv, written to meta_reference.json.
The R fits use tight convergence (Fisher scoring threshold 1e-12, Q-profile uniroot tol
1e-12), so the comparison is of converged values.

Tolerance: every number to rel 1e-6 with an absolute floor of 1e-8 (``approx`` below);
the observed differences are below 1e-8 (I² of k4: 9e-9 relative, from τ² agreeing to 3e-12).
metafor's *default* control (threshold 1e-5, uniroot tol ε^¼ ≈ 1.2e-4) stops early: its
τ² is up to 3e-7 and its τ² CI bounds up to 3e-5 from the converged values, which moves
the PI by up to 4e-6. rma(threshold=1e-5) repeats metafor's default iterations and is
checked against those fits to the same 1e-6 (the τ² CI to 1e-4).
"""
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mut_eval import StudyError
from mut_eval.stats.meta import (CUMULATIVE_COLUMNS, POOLED_COLUMNS, TREND_COLUMNS, cohort_year,
                                 cumulative, cumulative_table, pooled_table, rma, trend_table)

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "meta_reference.json").read_text())
SETS = ["k2", "k4", "k10", "boundary", "trend"]
DATA = {n: pd.read_csv(REF / f"meta_{n}.csv", dtype={"cohort": str}) for n in SETS}


def approx(x, rel=1e-6, abs=1e-8):
    return pytest.approx(np.nan if x is None else x, rel=rel, abs=abs, nan_ok=True)


def first(x):
    return x[0] if isinstance(x, list) else x


FIT_FIELDS = {  # MetaFit attribute: key in the R json (first coefficient)
    "estimate": "beta", "se": "se", "stat": "stat", "p": "pval", "ci_low": "ci_low",
    "ci_high": "ci_high", "tau2": "tau2", "i2": "i2", "h2": "h2", "q": "q", "q_df": "q_df",
    "q_p": "q_p", "qm": "qm", "qm_p": "qm_p", "s2w": "s2w", "pi_low": "pi_low",
    "pi_high": "pi_high", "tau2_ci_low": "tau2_ci_low", "tau2_ci_high": "tau2_ci_high",
}


@pytest.mark.parametrize("name", SETS)
@pytest.mark.parametrize("variant,method,test", [("reml_knha", "REML", "knha"),
                                                 ("reml_adhoc", "REML", "adhoc"),
                                                 ("reml_z", "REML", "z"), ("fe", "FE", "z")])
def test_rma_equals_metafor(name, variant, method, test):
    d, r = DATA[name], R[name][variant]
    f = rma(d["yi"], d["vi"], method=method, test=test)
    assert f.k == r["k"] == len(d)
    for attr, key in FIT_FIELDS.items():
        if key in r:
            assert getattr(f, attr) == approx(first(r[key])), attr
    assert f.df == approx(r["df"])
    assert (f.estimate, f.se, f.ci_low, f.ci_high) == (approx(r["pred"]), approx(r["pred_se"]),
                                                       approx(r["pred_ci_low"]), approx(r["pred_ci_high"]))
    if method == "REML":
        assert f.se_tau2 == approx(r["se_tau2"])


def test_ad_hoc_flag_is_metafor_test_adhoc():
    d = DATA["k4"]
    kh, ah = rma(d["yi"], d["vi"]), rma(d["yi"], d["vi"], test="adhoc")
    flag = rma(d["yi"], d["vi"], ad_hoc=True)
    assert flag.test == "adhoc" and (flag.se, flag.ci_low, flag.pi_high) == (ah.se, ah.ci_low, ah.pi_high)
    # k4 has s² < 1: the ad hoc rule keeps the unscaled SE, so its CI is the wider one
    assert R["k4"]["reml_knha"]["s2w"] < 1 and ah.se > kh.se and ah.s2w == 1


@pytest.mark.parametrize("name", SETS)
def test_metafor_default_control(name):
    """rma(threshold=1e-5) runs metafor's default Fisher scoring (same start, steps and stop), so
    it lands on metafor's default τ² to 1e-10; the rest follows to 1e-6 except the Q-profile
    bounds, which metafor's uniroot (tol ε^¼) leaves about 3e-5 off."""
    d, r = DATA[name], R[name]["reml_knha_default"]
    loose = rma(d["yi"], d["vi"], threshold=1e-5)
    assert loose.tau2 == approx(r["tau2"], rel=1e-10, abs=1e-12)
    for attr, key in FIT_FIELDS.items():
        if not attr.startswith("tau2_ci"):
            assert getattr(loose, attr) == approx(first(r[key])), attr
    for attr in ("tau2_ci_low", "tau2_ci_high"):
        assert getattr(loose, attr) == approx(r[attr], rel=0, abs=1e-4), attr


def test_boundary_tau2_is_zero():
    d, r = DATA["boundary"], R["boundary"]["reml_knha"]
    f = rma(d["yi"], d["vi"])
    assert f.tau2 == 0.0 == r["tau2"]
    assert (f.tau2_ci_low, f.tau2_ci_high) == (0.0, 0.0) == (r["tau2_ci_low"], r["tau2_ci_high"])
    # Q(0) < χ²_{.025}(4): the Q-profile set is {0}; hand check of the rule
    assert f.q < stats.chi2.ppf(0.025, 4)
    assert f.i2 == 0.0 and f.h2 == 1.0


@pytest.mark.parametrize("name", SETS)
def test_cumulative_equals_cumul(name):
    d, r = DATA[name], R[name]["cumul"]
    # shuffled input: cumulative() must sort by the order key (cohort) as cumul(order=)
    s = d.sample(frac=1, random_state=3)
    c = cumulative(s["yi"], s["vi"], s["cohort"].to_numpy())
    assert list(c["order"]) == r["cohort"] and list(c["k"]) == list(range(1, len(d) + 1))
    for col, key in [("estimate", "estimate"), ("se", "se"), ("stat", "stat"), ("p", "pval"),
                     ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("q", "q"), ("q_p", "q_p"),
                     ("tau2", "tau2"), ("i2", "i2"), ("h2", "h2")]:
        assert list(c[col]) == [approx(x) for x in r[key]], col


@pytest.mark.parametrize("name", ["k4", "k10", "boundary", "trend"])
@pytest.mark.parametrize("variant,test", [("trend_knha", "knha"), ("trend_adhoc", "adhoc")])
def test_meta_regression_equals_rma_mods_year(name, variant, test):
    d, r = DATA[name], R[name][variant]
    year = d["cohort"].str[:4].astype(float)
    f = rma(d["yi"], d["vi"], mods=year, terms=["year"], test=test)
    co = f.coefficients
    assert list(co["term"]) == ["intercept", "year"]
    for col, key in [("estimate", "beta"), ("se", "se"), ("stat", "stat"), ("p", "pval"),
                     ("ci_low", "ci_low"), ("ci_high", "ci_high")]:
        assert list(co[col]) == [approx(x) for x in r[key]], col
    assert (co["df"] == r["df"]).all()
    for attr in ("tau2", "se_tau2", "i2", "h2", "q", "q_p", "qm", "qm_p", "s2w", "r2"):
        assert getattr(f, attr) == approx(r[attr]), attr
    assert f.qm_df == (r["qm_df1"], r["qm_df2"]) and f.q_df == r["q_df"]
    assert math.isnan(f.pi_low)


def effects_frame():
    """cohort_effects with one outcome per data set, plus a one-cohort and a NaN case."""
    parts = [DATA[n].assign(outcome=n) for n in SETS]
    one = DATA["k4"].iloc[[2]].assign(outcome="one")
    gap = DATA["k4"].assign(outcome="gap")
    gap.loc[1, "vi"] = np.nan
    return pd.concat([*parts, one, gap], ignore_index=True).sample(frac=1, random_state=1)


def test_pooled_table_equals_metafor():
    t = pooled_table(effects_frame())
    assert list(t.columns) == POOLED_COLUMNS
    assert len(t) == 2 * (len(SETS) + 2) and set(t["method"]) == {"REML-KH", "FE"}
    for n in SETS:
        for method, variant in (("REML-KH", "reml_knha"), ("FE", "fe")):
            row = t[(t["outcome"] == n) & (t["method"] == method)].iloc[0]
            r = R[n][variant]
            assert row["contrast"] == "T3-T1" and row["k"] == r["k"]
            for col in ("estimate", "se", "ci_low", "ci_high", "tau2", "i2", "h2", "q", "q_df", "q_p"):
                assert row[col] == approx(first(r[FIT_FIELDS.get(col, col)])), (n, method, col)
            if method == "REML-KH":
                for col in ("pi_low", "pi_high", "tau2_ci_low", "tau2_ci_high"):
                    assert row[col] == approx(r[col]), (n, col)
            else:  # no prediction interval and no τ² CI under a common effect
                assert row[["pi_low", "pi_high", "tau2_ci_low", "tau2_ci_high"]].isna().all()
    notes = t.groupby("outcome")["note"].first()
    assert notes["k2"].startswith("only 2 cohorts") and notes["k10"] == ""


def test_pooled_table_one_cohort_and_missing():
    t = pooled_table(effects_frame()).set_index(["outcome", "method"])
    one = t.loc[("one", "REML-KH")]
    yi, vi = DATA["k4"].loc[2, ["yi", "vi"]]
    # hand calculation: the cohort's own g with its z interval, nothing pooled
    assert one["k"] == 1 and one["estimate"] == approx(yi) and one["se"] == approx(math.sqrt(vi))
    assert one["ci_low"] == approx(yi - 1.959963984540054 * math.sqrt(vi))
    assert one[["pi_low", "tau2", "tau2_ci_low", "i2", "q", "q_p"]].isna().all()
    assert one["note"] == "one cohort (2021-2022): its own estimate, not pooled"
    gap = t.loc[("gap", "REML-KH")]
    assert gap["k"] == 3 and "1 cohort(s) left out" in gap["note"] and "2020-2021" in gap["note"]
    ref = rma(DATA["k4"]["yi"].drop(1), DATA["k4"]["vi"].drop(1))
    assert gap["estimate"] == approx(ref.estimate) and gap["tau2"] == approx(ref.tau2)


def test_pooled_table_raw_did_by_se_and_ad_hoc():
    d = DATA["k10"].assign(estimate=DATA["k10"]["yi"] * 2.5, se=np.sqrt(DATA["k10"]["vi"]) * 2.5)
    t = pooled_table(d, yi="estimate", vi=None, se="se")
    row = t[t["method"] == "REML-KH"].iloc[0]
    # scaling every effect and SE by c scales estimate, CI and PI by c and τ² by c²
    r = R["k10"]["reml_knha"]
    assert row["estimate"] == approx(2.5 * r["beta"][0]) and row["pi_high"] == approx(2.5 * r["pi_high"])
    assert row["tau2"] == approx(6.25 * r["tau2"]) and row["i2"] == approx(r["i2"])
    a = pooled_table(DATA["k4"], ad_hoc=True)
    row = a[a["method"] == "REML-KH-adhoc"].iloc[0]
    assert row["ci_low"] == approx(R["k4"]["reml_adhoc"]["ci_low"][0])
    with pytest.raises(StudyError, match="exactly one"):
        pooled_table(d, yi="estimate", vi="vi", se="se")


def test_cumulative_table_equals_cumul():
    t = cumulative_table(effects_frame())
    assert list(t.columns) == CUMULATIVE_COLUMNS
    for n in SETS:
        s, r = t[t["outcome"] == n], R[n]["cumul"]
        assert list(s["cohort"]) == r["cohort"] and list(s["k"]) == list(range(1, len(r["cohort"]) + 1))
        for col in ("estimate", "ci_low", "ci_high", "tau2", "i2"):
            assert list(s[col]) == [approx(x) for x in r[col]], (n, col)
    gap = t[t["outcome"] == "gap"]
    assert list(gap["cohort"]) == ["2019-2020", "2021-2022", "2022-2023"]


def test_trend_table_equals_rma_mods_year():
    t = trend_table(effects_frame())
    assert list(t.columns) == TREND_COLUMNS
    for n in ["k4", "k10", "boundary", "trend"]:
        s, r = t[t["outcome"] == n], R[n]["trend_knha"]
        assert list(s["term"]) == ["intercept", "year"]
        for col, key in [("estimate", "beta"), ("se", "se"), ("t", "stat"), ("p", "pval"),
                         ("ci_low", "ci_low"), ("ci_high", "ci_high")]:
            assert list(s[col]) == [approx(x) for x in r[key]], (n, col)
        assert (s["df"] == r["df"]).all() and (s["k"] == r["k"]).all()
        assert s["tau2"].iloc[0] == approx(r["tau2"]) and s["r2"].iloc[0] == approx(r["r2"])
    few = t[t["outcome"] == "k2"]
    assert few["estimate"].isna().all() and few["note"].iloc[0].startswith("2 cohort(s) in 2 year(s): too few")


def test_bad_inputs_are_named():
    with pytest.raises(StudyError, match=r"effect 2 has yi = 0.2, vi = 0.0"):
        rma([0.1, 0.2], [0.01, 0.0])
    with pytest.raises(StudyError, match="too few"):
        rma([0.1, 0.2], [0.01, 0.02], mods=[2019, 2020])
    with pytest.raises(StudyError, match="do not vary"):
        rma([0.1, 0.2, 0.3], [0.01, 0.02, 0.02], mods=[2019, 2019, 2019], terms=["year"])
    with pytest.raises(StudyError, match="'cohort 3'"):
        cohort_year("cohort 3")
    assert cohort_year("2019-2020") == 2019
    with pytest.raises(StudyError, match=r"\['vi'\] missing"):
        pooled_table(DATA["k4"].drop(columns="vi"))
    twice = pd.concat([DATA["k4"], DATA["k4"].iloc[[1]]])
    with pytest.raises(StudyError, match="cohort 2020-2021 appears twice for outcome self_efficacy, contrast T3-T1"):
        pooled_table(twice)
