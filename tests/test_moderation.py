"""Tests of mut_eval.stats.moderation.

Reference values: tests/reference/moderation_reference.json, written by
moderation_reference.R (R lm, sandwich::vcovHC, lme4 + emmeans, p.adjust) from the
stored data moderation_*.csv (made by moderation_make_data.py); a hand-calculated
6-point example; and, for the bootstrap, properties that do not depend on our code
(brackets the estimate, agrees with the t interval on large normal data).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mut_eval import StudyError
from mut_eval.stats.moderation import (
    JN_TABLE_ROWS, ModerationSkipped, benjamini_hochberg, cell_seed, did_by_moderator, moderation,
    moderation_grid, process_percentiles, resample_counts, wide_scores,
)

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "moderation_reference.json").read_text())
DATA = pd.read_csv(REF_DIR / "moderation_data.csv")
TOL = 1e-8


def arr(x):
    return np.atleast_1d(np.asarray(x, float))


# ----------------------------------------------------------------- hand calculation

def test_hand_computed_six_points():
    # W = 1..6, D = 1,3,2,5,4,6. By hand: mean W = mean D = 3.5, Sxx = 17.5, Sxy = 15.5,
    # b1 = 15.5/17.5 = 31/35, b0 = 3.5 - 31/35*3.5 = 2/5. Residuals (x35): -10, 29, -37,
    # 37, -29, 10 -> SSR = 4620/1225 = 132/35, MSE = SSR/4 = 33/35, SST = 17.5,
    # R2 = 1 - (132/35)/17.5. se(b1) = sqrt(MSE/Sxx). SD(W) = sqrt(17.5/5).
    # Effect at M: 3.5, se sqrt(MSE/6); at M+SD: 3.5 + b1*SD, se sqrt(MSE(1/6 + SD^2/Sxx)).
    d = pd.DataFrame({"w": [1, 2, 3, 4, 5, 6], "d": [1, 3, 2, 5, 4, 6]})
    res = moderation(d, "d", "w", n_boot=0, min_n=3, hc="OLS")   # the classical OLS covariance
    m = res["moderation"].iloc[0]
    b1, mse, sxx, sd = 31 / 35, 33 / 35, 17.5, np.sqrt(3.5)
    se_b1 = np.sqrt(mse / sxx)
    assert m.b == pytest.approx(b1, abs=1e-12)
    assert m.se == pytest.approx(se_b1, abs=1e-12)
    assert m.t == pytest.approx(b1 / se_b1, abs=1e-10)
    assert m.df2 == 4 and m.n == 6
    assert m.p == pytest.approx(2 * stats.t.sf(b1 / se_b1, 4), abs=1e-12)
    assert m.r2 == pytest.approx(1 - (132 / 35) / 17.5, abs=1e-12)
    assert m.F == pytest.approx((b1 / se_b1) ** 2, abs=1e-9)
    tc = stats.t.ppf(0.975, 4)
    assert m.ci_low == pytest.approx(b1 - tc * se_b1, abs=1e-12)
    c = res["conditional_effects"].set_index("probe")
    assert list(c.index) == ["M-1SD", "M", "M+1SD"]
    assert c.loc["M", "w"] == pytest.approx(3.5)
    assert c.loc["M", "effect"] == pytest.approx(3.5, abs=1e-12)
    assert c.loc["M", "se"] == pytest.approx(np.sqrt(mse / 6), abs=1e-12)
    assert c.loc["M+1SD", "w"] == pytest.approx(3.5 + sd, abs=1e-12)
    assert c.loc["M+1SD", "effect"] == pytest.approx(3.5 + b1 * sd, abs=1e-12)
    assert c.loc["M+1SD", "se"] == pytest.approx(np.sqrt(mse * (1 / 6 + sd**2 / sxx)), abs=1e-12)
    assert c.loc["M-1SD", "effect"] == pytest.approx(3.5 - b1 * sd, abs=1e-12)


def test_process_percentiles_by_hand():
    # n = 10, x = 1..10: p(n+1) = 1.76, 5.5, 9.24 -> 1 + .76, 5 + .5, 9 + .24
    assert process_percentiles(np.arange(10, 0, -1)) == pytest.approx([1.76, 5.5, 9.24], abs=1e-12)
    # ties and unsorted input: x = (3,1,2,2): p(n+1) = .8 (< 1 -> min), 2.5, 4.2 (> n -> max)
    assert process_percentiles([3, 1, 2, 2]) == pytest.approx([1, 2, 3], abs=1e-12)


# ----------------------------------------------------------------- R: continuous W

CONT_CASES = [(y, t) for y in ("y_two", "y_one", "y_none") for t in ("OLS", "HC3")] + \
             [("y_two", t) for t in ("HC0", "HC1", "HC2", "HC4")]


@pytest.mark.parametrize("y,se_type", CONT_CASES)
def test_continuous_against_r(y, se_type):
    ref = REF[f"cont_{y}_{se_type}"]
    hc = None if se_type == "OLS" else se_type
    res = moderation(DATA, y, "w_cont", hc=hc, n_boot=0)
    m = res["moderation"].iloc[0]
    assert m.moderator_type == "continuous" and m.se_type == se_type
    assert m.n == ref["n"] and m.df2 == ref["df2"] and m.df1 == 1
    for col in ("b", "se", "t", "p", "ci_low", "ci_high"):
        assert m[col] == pytest.approx(ref[col][1], abs=TOL), col
    assert m.r2 == pytest.approx(ref["r2"], abs=TOL)
    assert m.F == pytest.approx(ref["F"], abs=1e-7)
    assert m.p_F == pytest.approx(ref["p_F"], abs=TOL)
    if se_type == "OLS":
        assert m.F == pytest.approx(ref["F_lm"], abs=1e-7)

    c = res["conditional_effects"]
    assert list(c.probe) == ["M-1SD", "M", "M+1SD"]
    np.testing.assert_allclose(c.w, ref["moments_w"], atol=TOL)
    for col in ("effect", "se", "t", "p", "ci_low", "ci_high"):
        np.testing.assert_allclose(c[col], ref["moments"][col], atol=TOL, err_msg=col)

    cp = moderation(DATA, y, "w_cont", hc=hc, n_boot=0, probe="percentiles")["conditional_effects"]
    assert list(cp.probe) == ["P16", "P50", "P84"]
    np.testing.assert_allclose(cp.w, ref["percentiles_w"], atol=1e-12)
    for col in ("effect", "se", "p", "ci_low", "ci_high"):
        np.testing.assert_allclose(cp[col], ref["percentiles"][col], atol=TOL, err_msg=col)

    jn = res["johnson_neyman"]
    rw = arr(ref["jn"]["w"])
    assert len(jn) == len(rw)
    np.testing.assert_allclose(jn.w, rw, atol=TOL)
    np.testing.assert_allclose(jn.pct_below, arr(ref["jn"]["pct_below"]), atol=1e-12)
    np.testing.assert_allclose(jn.pct_above, arr(ref["jn"]["pct_above"]), atol=1e-12)

    tab = res["jn_table"]
    assert len(tab) == JN_TABLE_ROWS
    np.testing.assert_allclose(tab.w, ref["jn_table"]["w"], atol=TOL)
    for col in ("effect", "se", "t", "p", "ci_low", "ci_high"):
        np.testing.assert_allclose(tab[col], ref["jn_table"][col], atol=TOL, err_msg=col)
    assert tab.jn_point.sum() == len(rw)
    assert tab.w.iloc[0] == DATA.w_cont.min() and tab.w.iloc[-1] == DATA.w_cont.max()


def test_default_is_hc3_and_ols_is_an_option():
    # issue 13 item 7: HC3 by default (R sandwich::vcovHC(type = "HC3")); OLS on request
    ref = REF["cont_y_two_HC3"]
    m = moderation(DATA, "y_two", "w_cont", n_boot=0)["moderation"].iloc[0]
    assert m.se_type == "HC3"
    assert m.se == pytest.approx(ref["se"][1], abs=TOL) and m.p_F == pytest.approx(ref["p_F"], abs=TOL)
    ols = REF["cont_y_two_OLS"]
    for spelling in ("OLS", "ols", "none", None):
        m = moderation(DATA, "y_two", "w_cont", n_boot=0, hc=spelling)["moderation"].iloc[0]
        assert m.se_type == "OLS" and m.se == pytest.approx(ols["se"][1], abs=TOL), spelling


def test_jn_points_cover_zero_one_two():
    # the stored data were chosen so that the R reference has 2, 2, 0 (OLS) and 1 (HC3) points
    assert [len(arr(REF[f"cont_{y}_OLS"]["jn"]["w"])) for y in ("y_two", "y_one", "y_none")] == [2, 2, 0]
    assert len(arr(REF["cont_y_none_HC3"]["jn"]["w"])) == 1


def test_jn_significance_sides():
    res = moderation(DATA, "y_two", "w_cont", n_boot=0, hc="OLS")   # R's table is the OLS one
    jn = res["johnson_neyman"]
    tab = pd.DataFrame(REF["cont_y_two_OLS"]["jn_table"])
    # R's table: p < .05 left of the first point and right of the second, not between
    lo, hi = jn.w
    assert (tab.p[tab.w < lo] < 0.05).all() and (tab.p[tab.w > hi] < 0.05).all()
    assert (tab.p[(tab.w > lo) & (tab.w < hi)] > 0.05).all()
    assert list(jn.significant_below) == [True, False]
    assert list(jn.significant_above) == [False, True]


def test_centering_changes_nothing_reported():
    a = moderation(DATA, "y_one", "w_cont", n_boot=0)
    b = moderation(DATA, "y_one", "w_cont", n_boot=0, center=True)
    for key in ("moderation", "conditional_effects", "johnson_neyman", "jn_table"):
        num = a[key].select_dtypes("number").columns
        np.testing.assert_allclose(b[key][num], a[key][num], atol=1e-9, err_msg=key)


# ----------------------------------------------------------------- R: dichotomous / categorical W

@pytest.mark.parametrize("se_type", ["OLS", "HC3"])
def test_dichotomous_numeric_against_r(se_type):
    ref = REF[f"dich_{se_type}"]
    res = moderation(DATA, "y_dich", "w_dich", hc=None if se_type == "OLS" else se_type, n_boot=0)
    m = res["moderation"].iloc[0]
    assert m.moderator_type == "dichotomous"
    for col in ("b", "se", "t", "p", "ci_low", "ci_high"):
        assert m[col] == pytest.approx(ref[col][1], abs=TOL), col
    assert m.r2 == pytest.approx(ref["r2"], abs=TOL)
    c = res["conditional_effects"]
    assert list(c.probe) == ["0", "1"]
    np.testing.assert_allclose(c.w, [0, 1])
    for col in ("effect", "se", "t", "p", "ci_low", "ci_high"):
        np.testing.assert_allclose(c[col], ref["probes"][col], atol=TOL, err_msg=col)
    assert res["johnson_neyman"].empty and res["jn_table"].empty


@pytest.mark.parametrize("se_type", ["OLS", "HC3"])
def test_categorical_three_levels_against_r(se_type):
    ref = REF[f"cat_{se_type}"]
    res = moderation(DATA, "y_cat", "w_cat", levels=["low", "middle", "high"],
                     hc=None if se_type == "OLS" else se_type, n_boot=0)
    m = res["moderation"]
    assert list(m.level) == ["middle", "high"] and set(m.reference) == {"low"}
    assert list(m.term) == ["w_cat[middle]", "w_cat[high]"]
    for col in ("b", "se", "t", "p", "ci_low", "ci_high"):
        np.testing.assert_allclose(m[col], ref[col][1:], atol=TOL, err_msg=col)
    assert (m.df1 == 2).all() and (m.df2 == ref["df2"]).all()
    np.testing.assert_allclose(m.F, ref["F"], atol=1e-7)
    np.testing.assert_allclose(m.p_F, ref["p_F"], atol=TOL)
    np.testing.assert_allclose(m.r2, ref["r2"], atol=TOL)
    c = res["conditional_effects"]
    assert list(c.probe) == ref["levels"]
    np.testing.assert_allclose(c.n_level, ref["n_level"])
    assert c.w.isna().all()
    for col in ("effect", "se", "t", "p", "ci_low", "ci_high"):
        np.testing.assert_allclose(c[col], ref["probes"][col], atol=TOL, err_msg=col)


def test_categorical_default_level_order_and_unknown():
    d = DATA.assign(g=np.where(DATA.w_dich == 1, "yes", "no"))
    d.loc[:4, "g"] = "unknown"
    res = moderation(d, "y_dich", "g", n_boot=0)
    m = res["moderation"].iloc[0]
    assert (m.level, m.reference, m.n) == ("yes", "no", len(d) - 5)
    # same model as the numeric 0/1 coding on the same rows
    ref = moderation(DATA.iloc[5:], "y_dich", "w_dich", n_boot=0)["moderation"].iloc[0]
    assert m.b == pytest.approx(ref.b, abs=1e-12) and m.se == pytest.approx(ref.se, abs=1e-12)


def test_sparse_level_dropped_and_skips():
    d = DATA.copy()
    d.loc[0, "w_cat"] = "rare"
    res = moderation(d, "y_cat", "w_cat", n_boot=0)
    assert res["moderation"].dropped_levels.iloc[0] == "rare"
    assert res["moderation"].n.iloc[0] == len(d) - 1
    with pytest.raises(ModerationSkipped, match="complete cases"):
        moderation(DATA.head(9), "y_two", "w_cont", n_boot=0)
    with pytest.raises(ModerationSkipped, match="no variance"):
        moderation(DATA.assign(k=1.0), "y_two", "k", n_boot=0)
    with pytest.raises(ModerationSkipped, match="fewer than 2 levels"):
        moderation(DATA.assign(k=["a"] * 79 + ["b"]), "y_two", "k", n_boot=0)
    with pytest.raises(StudyError):
        moderation(DATA, "y_two", "w_cont", hc="HC9")


# ----------------------------------------------------------------- bootstrap

def test_bootstrap_brackets_estimates_and_is_seeded():
    a = moderation(DATA, "y_one", "w_cont", n_boot=2000, seed=11)
    b = moderation(DATA, "y_one", "w_cont", n_boot=2000, seed=11)
    c = moderation(DATA, "y_one", "w_cont", n_boot=2000, seed=12)
    for key in ("moderation", "conditional_effects"):
        pd.testing.assert_frame_equal(a[key], b[key])
        t = a[key]
        est = t["b"] if key == "moderation" else t["effect"]
        assert (t.boot_ci_low < est).all() and (est < t.boot_ci_high).all()
    assert a["moderation"].boot_ci_low.iloc[0] != c["moderation"].boot_ci_low.iloc[0]
    assert a["moderation"].n_boot.iloc[0] == 2000 and a["moderation"].n_boot_failed.iloc[0] == 0


def test_bootstrap_close_to_t_interval_on_large_normal_data():
    rng = np.random.default_rng(5)
    n = 2000
    w = rng.normal(0, 1, n)
    d = pd.DataFrame({"w": w, "y": 0.2 + 0.3 * w + rng.normal(0, 1, n)})
    res = moderation(d, "y", "w", n_boot=2000, seed=3)
    for key, est in (("moderation", "b"), ("conditional_effects", "effect")):
        t = res[key]
        width_t = t.ci_high - t.ci_low
        width_b = t.boot_ci_high - t.boot_ci_low
        assert (abs(width_b - width_t) / width_t < 0.10).all(), key
        mid_b = (t.boot_ci_high + t.boot_ci_low) / 2
        assert (abs(mid_b - t[est]) / width_t < 0.10).all(), key


def test_bootstrap_matches_refitting_resampled_rows():
    # The count-weighted batched solve must equal OLS on the resampled rows.
    from mut_eval.stats.moderation import _bootstrap_betas
    X = np.column_stack([np.ones(len(DATA)), DATA.w_cont])
    y = DATA.y_two.to_numpy()
    betas = _bootstrap_betas(X, y, resample_counts(len(y), 5, 4), np.arange(len(y)), None, 1)
    idx = np.random.default_rng(4).integers(0, len(y), size=(5, len(y)))
    for i in range(5):
        ref = np.linalg.lstsq(X[idx[i]], y[idx[i]], rcond=None)[0]
        np.testing.assert_allclose(betas[i], ref, atol=1e-10)


def test_bootstrap_with_missing_pupils_uses_the_drawn_pupils_that_have_data():
    # Resamples drawn over N pupils; the model has data for only some of them (rows).
    from mut_eval.stats.moderation import _bootstrap_betas
    X = np.column_stack([np.ones(len(DATA)), DATA.w_cont])
    y = DATA.y_two.to_numpy()
    N = len(y) + 7                          # 7 pupils without data, at the end
    rows = np.arange(len(y))
    betas = _bootstrap_betas(X, y, resample_counts(N, 5, 9), rows, None, 1)
    idx = np.random.default_rng(9).integers(0, N, size=(5, N))
    for i in range(5):
        drawn = idx[i][idx[i] < len(y)]     # the drawn pupils that have data
        ref = np.linalg.lstsq(X[drawn], y[drawn], rcond=None)[0]
        np.testing.assert_allclose(betas[i], ref, atol=1e-10)


def test_bootstrap_degenerate_resamples_do_not_crash():
    rng = np.random.default_rng(2)
    d = pd.DataFrame({"y": rng.normal(size=12), "g": ["a"] * 5 + ["b"] * 5 + ["c"] * 2})
    res = moderation(d, "y", "g", n_boot=500, seed=1, min_n=10)
    m = res["moderation"]
    # P(level c absent) = (10/12)^12 ~ .11: some resamples fail, CIs still finite
    assert 0 < m.n_boot_failed.iloc[0] < 500
    assert np.isfinite(m[["boot_ci_low", "boot_ci_high"]].to_numpy()).all()
    assert np.isfinite(res["conditional_effects"][["boot_ci_low", "boot_ci_high"]].to_numpy()).all()


# ----------------------------------------------------------------- grid

def test_benjamini_hochberg_against_r():
    ref = REF["bh"]
    np.testing.assert_allclose(benjamini_hochberg(ref["p"]), ref["p_bh"], atol=1e-12)
    out = benjamini_hochberg([0.01, np.nan, 0.04])
    assert np.isnan(out[1]) and out[0] == pytest.approx(0.02) and out[2] == pytest.approx(0.04)


def _grid_data():
    rng = np.random.default_rng(9)
    n = 40
    ids = [f"M{i:02d}" for i in range(n)]
    changes = pd.DataFrame({
        f"{o}_{w}": rng.normal(3.8, 0.5, n) for o in ("se", "im") for w in ("T1", "T2", "T3")
    }, index=pd.Index(ids, name="student_id"))
    changes = changes.drop(columns="im_T3")  # im has no T3: its T3 changes are skipped
    mods = pd.DataFrame({
        "age": rng.normal(14.3, 0.5, n),
        "gender": rng.choice(["girl", "boy", "unknown"], n),
        "same_gender": rng.choice(["yes", "no"], n),
        "sparse": [1.0] * 6 + [np.nan] * (n - 6),
        "constant": 2.0,
        "format": ["group"] * (n - 1) + ["individual"],
    }, index=changes.index)
    return changes, mods


def test_grid_tables_skips_and_flags():
    changes, mods = _grid_data()
    pre = [{"outcome": "se", "change": "T3-T1", "moderator": "age"}, {"moderator": "same_gender"}]
    res = moderation_grid(changes, mods, n_boot=200, seed=3, prespecified=pre)
    m, sk = res["moderation"], res["skipped"]
    assert list(m.columns[:3]) == ["outcome", "change", "moderator"]
    est = set(zip(m.outcome, m.change, m.moderator))
    assert est == {(o, c, w) for o, c in [("se", "T2-T1"), ("se", "T3-T1"), ("se", "T3-T2"), ("im", "T2-T1")]
                   for w in ("age", "gender", "same_gender")}
    reasons = dict(zip(zip(sk.outcome, sk.change, sk.moderator), sk.reason))
    assert "complete cases" in reasons[("se", "T2-T1", "sparse")]
    assert "no variance" in reasons[("se", "T2-T1", "constant")]
    assert "fewer than 2 levels" in reasons[("se", "T2-T1", "format")]
    assert "im_T3" in reasons[("im", "T3-T1", "age")]
    # p_bh: BH over one p (the W test) per estimated cell
    cells = m.groupby(["outcome", "change", "moderator"], sort=False).first()
    np.testing.assert_allclose(cells.p_bh, benjamini_hochberg(cells.p_F), atol=1e-15)
    assert m.loc[(m.outcome == "se") & (m.change == "T3-T1") & (m.moderator == "age"), "prespecified"].all()
    assert m.loc[m.moderator == "same_gender", "prespecified"].all()
    assert not m.loc[(m.moderator == "age") & (m.change != "T3-T1"), "prespecified"].any()
    assert not m.loc[m.moderator == "gender", "prespecified"].any()
    assert set(m.loc[m.moderator == "gender", "reference"]) == {"boy"}
    assert res["conditional_effects"].prespecified.dtype == bool


def test_grid_cells_independent_of_order_and_equal_to_single_model():
    changes, mods = _grid_data()
    a = moderation_grid(changes, mods, outcomes=["se"], moderator_list=["age", "same_gender"],
                        n_boot=300, seed=5)
    b = moderation_grid(changes, mods, outcomes=["se"], moderator_list=["same_gender", "age"],
                        changes_list=["T3-T2", "T3-T1"], n_boot=300, seed=5)
    key = ["outcome", "change", "moderator"]
    cols = ["b", "se", "boot_ci_low", "boot_ci_high"]
    ma = a["moderation"].set_index(key)[cols]
    mb = b["moderation"].set_index(key)[cols]
    pd.testing.assert_frame_equal(mb.sort_index(), ma.loc[mb.index].sort_index())
    # the grid resamples all mentees once; the cell equals the single model given those resamples
    counts = resample_counts(len(changes), 300, cell_seed(5, "pupils"))
    single = moderation(pd.DataFrame({"y": changes.se_T3 - changes.se_T1, "age": mods.age}), "y", "age",
                        boot_counts=counts)["moderation"].iloc[0]
    row = ma.loc[("se", "T3-T1", "age")]
    assert row.boot_ci_low == single.boot_ci_low and row.b == single.b


def test_grid_accepts_long_data():
    changes, mods = _grid_data()
    long = changes.reset_index().melt(id_vars="student_id", var_name="col", value_name="score").dropna()
    long[["outcome", "wave"]] = long.col.str.rsplit("_", n=1, expand=True)
    long["condition"] = "mentee"
    control = long.head(30).assign(student_id="C1", condition="control", score=99.0)
    res_long = moderation_grid(pd.concat([long, control]), mods, moderator_list=["age"], n_boot=0)
    res_wide = moderation_grid(changes, mods, moderator_list=["age"], n_boot=0)
    pd.testing.assert_frame_equal(res_long["moderation"], res_wide["moderation"])
    wide = wide_scores(long)
    assert set(wide.columns) == set(changes.columns)


# ----------------------------------------------------------------- programme effect by W (R lme4 + emmeans)

LONG = pd.read_csv(REF_DIR / "moderation_did_long.csv")
PUPILS = LONG.drop_duplicates("student_id").set_index("student_id")


# the REML engine (mut_eval.stats.mixed) reproduces lme4 to ~1e-8
DID_TOL = 1e-6


@pytest.mark.parametrize("name,kw", [("age", {}), ("ses", {"levels": ["low", "middle", "high"]})])
def test_did_by_moderator_against_lme4_emmeans(name, kw):
    ref = REF[f"did_{name}"]
    out = did_by_moderator(LONG, PUPILS[name], name, **kw)
    assert out.converged.all()
    assert list(out.contrast) == ref["contrast"]
    if name == "age":
        assert list(out.probe) == [p for p in ("M-1SD", "M", "M+1SD") for _ in range(3)]
        np.testing.assert_allclose(out.w, np.repeat(ref["at"], 3), atol=1e-10)
    else:
        assert list(out.probe) == ref["W"]
        assert out.w.isna().all()
    tol = DID_TOL
    for col, rcol in (("estimate", "estimate"), ("se", "se"), ("ci_low", "ci_low"),
                      ("ci_high", "ci_high"), ("p", "p")):
        np.testing.assert_allclose(out[col], ref[rcol], atol=tol, err_msg=col)
    # z = estimate / SE with R's numbers
    np.testing.assert_allclose(out.z, np.asarray(ref["estimate"]) / np.asarray(ref["se"]),
                               atol=100 * tol)
    assert (out.df_interaction == ref["df"]).all()
    np.testing.assert_allclose(out.chi2_interaction, ref["chi2"], rtol=tol)
    np.testing.assert_allclose(out.p_interaction, ref["p_interaction"], atol=tol)
    assert (out.n_students == LONG.student_id.nunique()).all() and (out.n_obs == len(LONG)).all()
    assert list(out.columns) == ["moderator", "probe", "w", "contrast", "estimate", "se", "z",
                                 "ci_low", "ci_high", "p", "p_interaction", "chi2_interaction",
                                 "df_interaction", "n_students", "n_obs", "converged", "n_level",
                                 "n_level_mentee", "n_level_control"]


def _small_did_data():
    """Pupils p00..p15 with scores at T1-T3 (seeded noise): ses low for p00-p05 (3 mentees,
    3 controls), high for p06-p13 (4 + 4), 'unknown' for p14 and p15 (missing W). A
    sixteenth pupil p16 has an ses value but no scores."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(16):
        cond = "mentee" if i % 2 == 0 else "control"
        for t, wave in enumerate(("T1", "T2", "T3")):
            rows.append((f"p{i:02d}", cond, wave, 3.0 + 0.1 * t + rng.normal(0, 0.5)))
    long = pd.DataFrame(rows, columns=["student_id", "condition", "wave", "score"])
    ses = pd.Series(["low"] * 6 + ["high"] * 8 + ["unknown"] * 2 + ["low"],
                    index=[f"p{i:02d}" for i in range(17)], name="ses")
    return long, ses


def test_did_by_moderator_n_level_hand_count():
    long, ses = _small_did_data()
    out = did_by_moderator(long, ses, levels=["low", "high"])
    # by hand: low = p00..p05 = 6 pupils (p16 has no scores), high = p06..p13 = 8 pupils;
    # the two 'unknown' pupils are not in the model. Three contrasts per level.
    assert list(out.probe) == ["low"] * 3 + ["high"] * 3
    assert list(out.n_level) == [6.0] * 3 + [8.0] * 3
    # by condition (even = mentee): low 3 + 3, high 4 + 4
    assert list(out.n_level_mentee) == [3.0] * 3 + [4.0] * 3
    assert list(out.n_level_control) == [3.0] * 3 + [4.0] * 3
    assert (out.n_students == 14).all()
    # a dichotomous numeric W: value 0 for p00..p09 (10 pupils), 1 for p10..p15 (6)
    dich = pd.Series([0.0] * 10 + [1.0] * 6, index=[f"p{i:02d}" for i in range(16)], name="x")
    out = did_by_moderator(long, dich)
    assert list(out.probe) == ["0"] * 3 + ["1"] * 3
    assert list(out.n_level) == [10.0] * 3 + [6.0] * 3
    assert list(out.n_level_mentee) == [5.0] * 3 + [3.0] * 3   # p00..p09: 5 even; p10..p15: 3 even
    # a continuous W: M-1SD / M / M+1SD are not groups of pupils
    cont = pd.Series(np.arange(16.0), index=dich.index, name="age")
    assert did_by_moderator(long, cont).n_level.isna().all()


def test_did_by_moderator_checks_the_long_data():
    long, ses = _small_did_data()
    with pytest.raises(StudyError, match="more than one score"):
        did_by_moderator(pd.concat([long, long.iloc[[0]]]), ses)
    bad = long.copy()
    bad.loc[0, "condition"] = "control"
    with pytest.raises(StudyError, match="more than one value of 'condition'"):
        did_by_moderator(bad, ses)
    with pytest.raises(StudyError, match="unknown condition"):
        did_by_moderator(long.replace({"condition": {"control": "waitlist"}}), ses)


def test_did_by_moderator_not_estimable_is_skipped():
    # a level of W that only mentees have: its W and condition × W columns coincide
    w = PUPILS["ses"].copy()
    mentees = PUPILS.index[PUPILS.condition == "mentee"]
    w[mentees[:5]] = "very_high"
    with pytest.raises(ModerationSkipped, match="not estimable"):
        did_by_moderator(LONG, w, "ses", levels=["low", "middle", "high", "very_high"])
    with pytest.raises(ModerationSkipped, match="fewer than 2 levels"):
        did_by_moderator(LONG, pd.Series("low", index=PUPILS.index), "ses")


def test_did_by_moderator_needs_both_conditions():
    with pytest.raises(StudyError, match="both conditions"):
        did_by_moderator(LONG[LONG.condition == "mentee"], PUPILS["age"], "age")


def test_resamples_in_chunks_are_the_one_draw():
    # Resamples draws the (n_boot, n) indices chunk by chunk; the rows equal one draw of all.
    from mut_eval.stats.moderation import Resamples
    n, B = 37, 53
    idx = np.random.default_rng(11).integers(0, n, size=(B, n))
    full = np.stack([np.bincount(r, minlength=n) for r in idx]).astype(float)
    chunks = list(Resamples(n, B, 11, chunk_bytes=8 * n * 5))     # 5 resamples per chunk
    assert [b0 for b0, _ in chunks] == list(range(0, B, 5)) and len(chunks) == 11
    np.testing.assert_array_equal(np.vstack([c for _, c in chunks]), full)
    np.testing.assert_array_equal(resample_counts(n, B, 11), full)


def test_grid_in_chunks_and_batches_equals_the_grid_in_one_pass(monkeypatch):
    # Memory bounded by chunks of resamples and batches of models (issue 16): same numbers.
    import mut_eval.stats.moderation as mm
    changes, mods = _grid_data()
    kw = dict(outcomes=["se"], moderator_list=["age", "gender", "same_gender"], n_boot=120, seed=2)
    one = moderation_grid(changes, mods, **kw)
    monkeypatch.setattr(mm, "CHUNK_BYTES", 8 * len(changes) * 7)   # 7 resamples per chunk
    monkeypatch.setattr(mm, "BATCH_BYTES", 1)                      # every model its own pass
    assert len(mm.Resamples(len(changes), 120, 0)) == 18
    many = moderation_grid(changes, mods, **kw)
    for key in ("moderation", "conditional_effects"):
        pd.testing.assert_frame_equal(one[key], many[key])
    assert one["moderation"].boot_ci_low.notna().all()
