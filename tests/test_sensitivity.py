"""E-values and robustness values against the published examples of EValue and sensemakr.

Sources of the numbers (none computed by the code under test):
* EValue 4.1.3 (github mayamathur/evalue_package @333d022): README.md and the vignette
  "E-values for unmeasured confounding" (docs/articles/unmeasured-confounding.html), and
  the package's own tests (tests/testthat/testthat.R), which write the formulas out.
* sensemakr 0.1.6 (github carloscinelli/sensemakr @0744523): README.md ("Basic usage",
  the Darfur example of Cinelli & Hazlett 2020, JRSS-B 82:39, Table 1/§6) and
  tests/testthat/test-02-darfur.R (the bounds table to 15 digits).
* The benchmark partial R²s of `female` in the Darfur regression: R `lm` on
  sensemakr's data/darfur.rda, stored with its script in tests/reference/
  (sensitivity_darfur.R → sensitivity_darfur.json).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.sensitivity import (
    SENSITIVITY_COLUMNS,
    adjusted_estimate,
    adjusted_se,
    benchmark_bounds,
    benchmark_partial_r2,
    group_partial_r2,
    evalue_ci_rr,
    evalue_rr,
    evalues_rr,
    evalues_smd,
    extreme_robustness_value,
    ovb_partial_r2_bound,
    partial_f2,
    partial_r2,
    robustness_value,
    sensitivity_table,
)

REF = Path(__file__).parent / "reference"

# ------------------------------------------------------------------ EValue


def test_evalue_hammond_horn_readme():
    # EValue README and vignette: evalues.RR(est = 10.73, lo = 8.02, hi = 14.36)
    #   E-values 20.94777 15.52336 NA   (printed to 7 significant digits)
    e = evalues_rr(10.73, 8.02, 14.36)
    assert e["evalue"] == pytest.approx(20.94777, abs=5e-6)
    assert e["evalue_ci"] == pytest.approx(15.52336, abs=5e-6)


def test_evalue_protective_leukemia_vignette():
    # vignette: evalues.RR(est = 0.80, lo = 0.71, hi = 0.91) -> 1.809017, NA, 1.428571
    e = evalues_rr(0.80, 0.71, 0.91)
    assert e["evalue"] == pytest.approx(1.809017, abs=5e-7)
    assert e["evalue_ci"] == pytest.approx(1.428571, abs=5e-7)
    # by hand (EValue tests, "Annals, Further Examples #1"): 1/0.91 + sqrt(1/0.91*(1/0.91-1))
    assert e["evalue_ci"] == pytest.approx(1 / 0.91 + math.sqrt(1 / 0.91 * (1 / 0.91 - 1)),
                                           rel=1e-14)


def test_evalue_rare_or_vignette_and_annals_case():
    # vignette: evalues.OR(3.9, 1.8, 8.7, rare = TRUE) (rare OR = RR) -> 7.263034, 3.0
    e = evalues_rr(3.9, 1.8, 8.7)
    assert e["evalue"] == pytest.approx(7.263034, abs=5e-7)
    assert e["evalue_ci"] == pytest.approx(3.0, abs=1e-12)
    # EValue tests "Annals case #1": 3.9 + sqrt(3.9*(3.9-1)), 1.8 + sqrt(1.8*(1.8-1))
    assert e["evalue"] == pytest.approx(3.9 + math.sqrt(3.9 * 2.9), rel=1e-14)
    # "preventive version": evalues.RR(1/3.9, 1/8.7, 1/1.8) gives the same E-values
    p = evalues_rr(1 / 3.9, 1 / 8.7, 1 / 1.8)
    assert p["evalue"] == pytest.approx(3.9 + math.sqrt(3.9 * 2.9), rel=1e-12)
    assert p["evalue_ci"] == pytest.approx(1.8 + math.sqrt(1.8 * 0.8), rel=1e-12)


def test_evalue_by_hand_rr_4_9():
    # E = RR + sqrt(RR (RR - 1)) written out: 4.9 + sqrt(4.9 * 3.9) = 9.2715...,
    # lower limit 2.9 + sqrt(2.9 * 1.9) = 5.2473...
    e = evalues_rr(4.9, 2.9, 8.3)
    assert e["evalue"] == pytest.approx(4.9 + math.sqrt(19.11), rel=1e-14)
    assert round(e["evalue"], 2) == 9.27
    assert e["evalue_ci"] == pytest.approx(2.9 + math.sqrt(5.51), rel=1e-14)
    assert round(e["evalue_ci"], 2) == 5.25


def test_evalue_non_null_true_vignette():
    # vignette: summary(evalues.RR(est = 2.5, true = 1.5)) -> 2.720759
    assert evalue_rr(2.5, true=1.5) == pytest.approx(2.720759, abs=5e-7)


def test_evalue_ci_crossing_null_is_one():
    assert evalue_ci_rr(1.5, 0.9, 2.5) == 1.0
    assert evalue_ci_rr(0.7, 0.4, 1.2) == 1.0
    assert evalue_rr(1.0) == 1.0
    assert evalue_ci_rr(1.0, 0.8, 1.25) == 1.0
    assert math.isnan(evalue_ci_rr(1.5, float("nan"), 2.0))


def test_evalue_smd_by_hand():
    # evalues.MD(est = 0.5, se = 0.2): RR = exp(0.91 d), lower limit exp(0.91 d - 1.78 se)
    d, se = 0.5, 0.2
    rr = math.exp(0.91 * d)                       # 1.576173...
    rr_lo = math.exp(0.91 * d - 1.78 * se)        # exp(0.099) = 1.104066...
    e = evalues_smd(d, se)
    assert e["evalue"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)), rel=1e-14)
    assert e["evalue_ci"] == pytest.approx(rr_lo + math.sqrt(rr_lo * (rr_lo - 1)), rel=1e-14)
    assert round(e["evalue"], 4) == 2.5291
    assert round(e["evalue_ci"], 4) == 1.4430


def test_evalue_smd_package_tests():
    # EValue tests "SMD, causative": d = .5, se = .2, true = .1
    d, se, true = 0.5, 0.2, 0.1
    rr, rr_t = math.exp(0.91 * d), math.exp(0.91 * true)
    rr_lo = math.exp(0.91 * d - 1.78 * se)
    e = evalues_smd(d, se, true)
    assert e["evalue"] == pytest.approx((rr + math.sqrt(rr * (rr - rr_t))) / rr_t, rel=1e-14)
    assert e["evalue_ci"] == pytest.approx((rr_lo + math.sqrt(rr_lo * (rr_lo - rr_t))) / rr_t,
                                           rel=1e-14)
    # "SMD, preventive": d = -.5, se = .4, true = -.1; the CI crosses the true value
    d, se, true = -0.5, 0.4, -0.1
    rr, rr_t = math.exp(0.91 * d), math.exp(0.91 * true)
    e = evalues_smd(d, se, true)
    assert e["evalue"] == pytest.approx(
        (1 / rr + math.sqrt(1 / rr * (1 / rr - 1 / rr_t))) / (1 / rr_t), rel=1e-14)
    assert e["evalue_ci"] == 1.0
    # "SMD #3": the true value lies beyond the estimate: ratio rr/rr_true
    d, se, true = -0.5, 0.4, -0.6
    rat = math.exp(0.91 * d) / math.exp(0.91 * true)
    assert evalues_smd(d, se, true)["evalue"] == pytest.approx(
        rat + math.sqrt(rat * (rat - 1)), rel=1e-14)


def test_evalue_smd_negative_se_is_a_clear_error():
    with pytest.raises(StudyError, match="standard error"):
        evalues_smd(0.3, -0.1)


# -------------------------------------------------------------- sensemakr
# Darfur: peacefactor ~ directlyharmed + age + farmer_dar + herder_dar + pastvoted +
# hhsize_darfur + female + village (sensemakr README; Cinelli & Hazlett 2020 §6)
EST, SE, DOF, T = 0.09731582, 0.02325654, 783, 4.18445


def test_darfur_t_and_partial_r2():
    assert EST / SE == pytest.approx(T, abs=5e-5)
    # README: "Partial R2 of treatment with outcome: 0.02187"; test-02: tolerance 1e-5
    assert partial_r2(T, DOF) == pytest.approx(0.02187309, abs=1e-7)
    # by hand: t^2/(t^2 + df)
    assert partial_r2(T, DOF) == pytest.approx(T ** 2 / (T ** 2 + 783), rel=1e-15)
    assert partial_f2(T, DOF) == pytest.approx(T ** 2 / 783, rel=1e-15)


def test_darfur_robustness_values():
    # README: "Robustness Value, q = 1 : 0.13878" and "q = 1 alpha = 0.05 : 0.07626";
    # LaTeX table 13.9% and 7.6%; test-02-darfur.R: 0.13878 and 0.07626 (tol 1e-5)
    rv = robustness_value(T, DOF, q=1, alpha=1)
    rva = robustness_value(T, DOF, q=1, alpha=0.05)
    assert rv == pytest.approx(0.1387764, abs=1e-6)
    assert rva == pytest.approx(0.07625797, abs=1e-6)
    # the RV_q by hand: f = t/sqrt(df), RV = (sqrt(f^4 + 4 f^2) - f^2)/2
    f = T / math.sqrt(DOF)
    assert rv == pytest.approx(0.5 * (math.sqrt(f ** 4 + 4 * f ** 2) - f ** 2), rel=1e-12)
    # the sign of the estimate does not matter (test-02 model2 flips the treatment)
    assert robustness_value(-T, DOF, alpha=0.05) == rva


def test_robustness_value_cases_by_hand():
    from scipy import stats
    # estimate not significant: RV_alpha = 0
    assert robustness_value(1.5, 100, alpha=0.05) == 0.0
    assert extreme_robustness_value(1.5, 100, alpha=0.05) == 0.0
    # q = 1/2 (halve the estimate), alpha = 1: f_q = |t|/(2 sqrt(df))
    fq = 0.5 * 4.18445 / math.sqrt(783)
    assert robustness_value(T, DOF, q=0.5, alpha=1) == pytest.approx(
        0.5 * (math.sqrt(fq ** 4 + 4 * fq ** 2) - fq ** 2), rel=1e-12)
    # a huge t on few df: f_q > 1/f*, the R2_yz <= 1 bound binds -> extreme RV
    # XRV = (f_q^2 - f*^2)/(1 + f_q^2) with f* = |t_{.025, df-1}|/sqrt(df-1)
    t, dof = 30.0, 10
    fq2 = t ** 2 / dof
    fc2 = stats.t.ppf(0.025, dof - 1) ** 2 / (dof - 1)
    assert fq2 > 1 / fc2
    assert robustness_value(t, dof, alpha=0.05) == pytest.approx((fq2 - fc2) / (1 + fq2),
                                                                 rel=1e-12)
    # non-binding case: RV from f_{q,alpha} = f_q - f*
    fqa = 4.18445 / math.sqrt(783) - abs(stats.t.ppf(0.025, 782)) / math.sqrt(782)
    assert robustness_value(T, DOF, alpha=0.05) == pytest.approx(
        0.5 * (math.sqrt(fqa ** 4 + 4 * fqa ** 2) - fqa ** 2), rel=1e-12)


def test_robustness_value_undefined_df():
    assert math.isnan(robustness_value(3.0, float("inf")))
    assert math.isnan(robustness_value(3.0, float("nan")))
    assert math.isnan(robustness_value(3.0, 1))
    with pytest.raises(StudyError, match="alpha"):
        robustness_value(3.0, 50, alpha=1.5)


# Bounds (test-02-darfur.R, check_bounds; README summary table to 4 decimals)
DARFUR_BOUNDS = {
    "r2dz_x": [0.00916428667504862, 0.0183285733500972, 0.0274928600251459],
    "r2yz_dx": [0.12464092303637, 0.249324064199975, 0.374050471038094],
    "adjusted_estimate": [0.0752202712144491, 0.0529151723844518, 0.0303960234641548],
    "adjusted_se": [0.0218733277437572, 0.0203500620779637, 0.0186700648170924],
    "adjusted_t": [3.43890386024675, 2.60024623913809, 1.62806202131271],
    "adjusted_ci_low": [0.032282966, 0.012968035, -0.006253282],
    "adjusted_ci_high": [0.11815758, 0.09286231, 0.06704533],
}


def _darfur_reference() -> dict:
    return json.loads((REF / "sensitivity_darfur.json").read_text())


def test_darfur_female_benchmark_bounds():
    ref = _darfur_reference()
    # the stored R lm fit reproduces the published estimate, SE and t
    assert ref["estimate"] == pytest.approx(EST, abs=5e-9)
    assert ref["se"] == pytest.approx(SE, abs=5e-9)
    assert ref["df"] == DOF
    # with the unrounded t of the fit, RV_q and RV_{q,.05} to the brief's 7 digits
    assert robustness_value(ref["t"], DOF, alpha=1) == pytest.approx(0.1387764, abs=5e-8)
    assert robustness_value(ref["t"], DOF, alpha=0.05) == pytest.approx(0.07625797, abs=5e-9)
    tab = benchmark_bounds(ref["estimate"], ref["se"], ref["df"], ref["r2dxj_x_female"],
                           ref["r2yxj_dx_female"], kd=[1, 2, 3], benchmark="female")
    assert list(tab["bound_label"]) == ["1x female", "2x female", "3x female"]
    for col, expected in DARFUR_BOUNDS.items():
        # the CI limits are published to 8-9 significant digits, the rest to 15
        tol = 5e-9 if col.startswith("adjusted_ci") else 1e-12
        np.testing.assert_allclose(tab[col].to_numpy(), expected, rtol=0, atol=tol,
                                   err_msg=col)


def test_partial_r2_bound_by_hand_and_errors():
    # sensemakr test-01 manual input r2dxj.x = r2yxj.dx = .2, kd = ky = 2, written out:
    r2d, r2y, k = 0.2, 0.2, 2.0
    eta2 = k * r2d ** 2 / ((1 - k * r2d) * (1 - r2d))
    b = ovb_partial_r2_bound(r2d, r2y, kd=k)
    assert b["r2dz_x"] == pytest.approx(k * r2d / (1 - r2d), rel=1e-15)
    assert b["r2yz_dx"] == pytest.approx(
        ((math.sqrt(k) + math.sqrt(eta2)) / math.sqrt(1 - eta2)) ** 2 * r2y / (1 - r2y),
        rel=1e-14)
    # adjusted estimate and SE, Cinelli & Hazlett eqs. 12-13, by hand
    r2dz, r2yz = 0.2, 0.2
    assert adjusted_estimate(2.0, 2.0, 100, r2dz, r2yz) == pytest.approx(
        2.0 - math.sqrt(r2yz * r2dz / (1 - r2dz)) * 2.0 * math.sqrt(100), rel=1e-14)
    assert adjusted_estimate(-2.0, 2.0, 100, r2dz, r2yz) == pytest.approx(
        -(2.0 - math.sqrt(r2yz * r2dz / (1 - r2dz)) * 2.0 * 10), rel=1e-14)
    assert adjusted_se(2.0, 100, r2dz, r2yz) == pytest.approx(
        math.sqrt(1 - r2yz) / math.sqrt(1 - r2dz) * 2.0 * math.sqrt(100 / 99), rel=1e-14)
    # sensemakr test-07 "Bounds error": r2dxj.x = 1 or r2yxj.dx = 2 are errors;
    # r2yxj.dx = 1 only warns there and caps R2_yz.dx at 1
    with pytest.raises(StudyError):
        ovb_partial_r2_bound(1.0, 0.1)
    assert ovb_partial_r2_bound(0.1, 1.0) == {"r2dz_x": pytest.approx(0.1 / 0.9),
                                              "r2yz_dx": 1.0, "capped": True}
    with pytest.raises(StudyError):
        ovb_partial_r2_bound(0.1, 2.0)
    with pytest.raises(StudyError, match="kd"):
        ovb_partial_r2_bound(0.4, 0.1, kd=3)   # 3 * .4/.6 = 2 >= 1
    capped = ovb_partial_r2_bound(0.1, 0.6, kd=2)
    assert capped["capped"] and capped["r2yz_dx"] == 1.0


def _ssr(y, X):
    resid = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    return float(resid @ resid)


def test_benchmark_partial_r2_by_frisch_waugh():
    # partial R2 of a group G = (SSR without G - SSR with G) / SSR without G, computed
    # from two least-squares fits (a different route from the F statistic of the code)
    rng = np.random.default_rng(13)
    n = 60
    x1 = rng.normal(size=n)
    grp = rng.integers(0, 3, size=n)
    g1, g2 = (grp == 1).astype(float), (grp == 2).astype(float)
    d = (0.5 * x1 + 0.4 * g1 + rng.normal(size=n) > 0).astype(float)
    y = 0.3 * d + 0.6 * x1 - 0.5 * g2 + rng.normal(size=n)
    X = np.column_stack([np.ones(n), d, x1, g1, g2])
    names = ["(Intercept)", "d", "x1", "g1", "g2"]
    out = benchmark_partial_r2(y, X, names, "d", ["g1", "g2"])
    full, no_g = _ssr(y, X), _ssr(y, X[:, [0, 1, 2]])
    assert out["r2yxj_dx"] == pytest.approx((no_g - full) / no_g, rel=1e-10)
    Xd = X[:, [0, 2, 3, 4]]
    full_d, no_g_d = _ssr(d, Xd), _ssr(d, Xd[:, [0, 1]])
    assert out["r2dxj_x"] == pytest.approx((no_g_d - full_d) / no_g_d, rel=1e-10)
    # one column: t^2/(t^2 + df)
    one = benchmark_partial_r2(y, X, names, "d", "x1")
    no_x1 = _ssr(y, X[:, [0, 1, 3, 4]])
    assert one["r2yxj_dx"] == pytest.approx((no_x1 - full) / no_x1, rel=1e-10)
    assert group_partial_r2(2.0, 0.25, 50) == pytest.approx(16 / 66, rel=1e-15)
    with pytest.raises(StudyError, match="not in the model"):
        benchmark_partial_r2(y, X, names, "d", "x9")


# ------------------------------------------------------------- the tidy table


def test_sensitivity_table_rows_by_hand():
    from scipy import stats
    did = pd.DataFrame({
        "outcome": ["self_efficacy", "self_efficacy", "school_belonging"],
        "contrast": ["T2-T1", "T3-T1", "T2-T1"],
        "model": ["primary", "primary", "primary"],
        "estimate": [0.25, -0.10, 0.0],
        "se": [0.08, 0.07, 0.05],
        "df": [120.0, float("inf"), 118.0],
        "g": [0.40, -0.16, 0.0],
        "ci_low": [0.09, -0.24, -0.1], "ci_high": [0.41, 0.04, 0.1],
    })
    tab = sensitivity_table(did)
    assert list(tab.columns) == SENSITIVITY_COLUMNS
    # row 1: d = .40, se_d = .08 * .40/.25 = .128
    rr = math.exp(0.91 * 0.40)
    rr_lo = math.exp(0.91 * 0.40 - 1.78 * 0.128)
    assert tab.loc[0, "evalue"] == pytest.approx(rr + math.sqrt(rr * (rr - 1)), rel=1e-13)
    assert tab.loc[0, "evalue_ci"] == pytest.approx(rr_lo + math.sqrt(rr_lo * (rr_lo - 1)),
                                                    rel=1e-13)
    t, dof = 0.25 / 0.08, 120.0
    f = t / math.sqrt(dof)
    assert tab.loc[0, "rv"] == pytest.approx(0.5 * (math.sqrt(f ** 4 + 4 * f ** 2) - f ** 2),
                                             rel=1e-12)
    fqa = f - abs(stats.t.ppf(0.025, dof - 1)) / math.sqrt(dof - 1)
    assert tab.loc[0, "rv_alpha"] == pytest.approx(
        0.5 * (math.sqrt(fqa ** 4 + 4 * fqa ** 2) - fqa ** 2), rel=1e-12)
    # row 2: negative d, the upper limit exp(0.91 d + 1.78 se_d) = exp(-.1456 + .1994) > 1
    rr = math.exp(0.91 * -0.16)
    assert tab.loc[1, "evalue"] == pytest.approx(1 / rr + math.sqrt(1 / rr * (1 / rr - 1)),
                                                 rel=1e-13)
    assert tab.loc[1, "evalue_ci"] == 1.0
    # infinite df: no robustness value
    assert math.isnan(tab.loc[1, "rv"]) and math.isnan(tab.loc[1, "rv_alpha"])
    # an estimate of exactly 0 sits at the null
    assert tab.loc[2, "evalue"] == 1.0 and tab.loc[2, "evalue_ci"] == 1.0
    assert tab.loc[2, "rv"] == 0.0 and tab.loc[2, "rv_alpha"] == 0.0


def test_sensitivity_table_missing_column_is_a_clear_error():
    with pytest.raises(StudyError, match="df"):
        sensitivity_table(pd.DataFrame({"outcome": ["x"], "contrast": ["T2-T1"],
                                        "model": ["primary"], "estimate": [0.1],
                                        "se": [0.1], "g": [0.2]}))
