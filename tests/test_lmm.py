"""Mixed model, EMMs and difference-in-differences against lme4 + emmeans.

Reference values: tests/reference/lmm_reference.R (lme4 1.1-31 REML, emmeans 1.8.4-1
with lmer.df = "asymptotic"), stored as tests/reference/lmm_*.csv / *.json; for the
generic engine also lmm_engine_reference.R (lmm_engine_data.csv, lmm_engine_ref.json)
and the lme4 variance components of moderation_reference.R.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.lmm import (
    RankDeficientDesign, adjust_across, did, did_by_outcome, fit_lmm, lmm_emm, lmm_fixed,
)
from mut_eval.stats.mixed import RandomTerm, fit_mixed

REF = Path(__file__).parent / "reference"
CASES = {  # tag -> (data file, covariates)
    "study": ("lmm_study.csv", ()),
    "small": ("lmm_small.csv", ()),
    "study_cov": ("lmm_study.csv", ("age", "gender")),
}
# the profiled REML engine (mut_eval.stats.mixed) reproduces lme4 to ~1e-7
TOL = 1e-6


def _data(tag):
    return pd.read_csv(REF / CASES[tag][0])


@pytest.fixture(scope="module")
def fits():
    out = {}
    for tag, (_, cov) in CASES.items():
        out[tag] = fit_lmm(_data(tag), covariates=cov)
    return out


@pytest.mark.parametrize("tag", list(CASES))
def test_fixed_effects_match_lme4(fits, tag):
    fit = fits[tag]
    got = lmm_fixed(_data(tag), fit=fit).set_index("term")
    ref = pd.read_csv(REF / f"lmm_{tag}_fixed.csv").set_index("term")
    assert sorted(got.index) == sorted(ref.index)
    got = got.loc[ref.index]
    for col in ("estimate", "se", "z", "p"):
        np.testing.assert_allclose(got[col], ref[col], rtol=0, atol=TOL, err_msg=col)
    # Wald CI: estimate ± 1.959964 SE (R's values)
    np.testing.assert_allclose(got["ci_low"], ref["estimate"] - 1.959963984540054 * ref["se"],
                               atol=TOL)
    assert got["converged"].all()


@pytest.mark.parametrize("tag", list(CASES))
def test_variance_components_and_loglik_match_lme4(fits, tag):
    fit = fits[tag]
    ref = json.loads((REF / f"lmm_{tag}_varcomp.json").read_text())
    assert fit.sigma2_student == pytest.approx(ref["sigma2_student"], abs=TOL)
    assert fit.sigma2_resid == pytest.approx(ref["sigma2_resid"], abs=TOL)
    assert fit.reml_loglik == pytest.approx(ref["loglik"], abs=TOL)
    assert (fit.n_obs, fit.n_students) == (ref["n_obs"], ref["n_students"])
    assert fit.converged and not fit.singular


@pytest.mark.parametrize("tag", list(CASES))
def test_emm_match_emmeans(fits, tag):
    got = lmm_emm(_data(tag), fit=fits[tag])
    ref = pd.read_csv(REF / f"lmm_{tag}_emm.csv")
    m = got.merge(ref, on=["condition", "wave"], suffixes=("", "_r"), validate="1:1")
    assert len(m) == 6
    for col in ("emm", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(m[col], m[f"{col}_r"], atol=TOL, err_msg=col)


@pytest.mark.parametrize("tag", list(CASES))
def test_did_matches_emmeans_contrasts(fits, tag):
    got = did(_data(tag), fit=fits[tag]).set_index("contrast")
    ref = pd.read_csv(REF / f"lmm_{tag}_did.csv").set_index("contrast")
    assert list(got.index) == ["T2-T1", "T3-T1", "T3-T2"]
    for col in ("estimate", "se", "z", "p", "ci_low", "ci_high", "g", "g_ci_low",
                "g_ci_high"):
        np.testing.assert_allclose(got[col], ref[col], atol=TOL, err_msg=col)
    # improvement index is on a 0-100 scale
    np.testing.assert_allclose(got["improvement_index"], ref["improvement_index"],
                               atol=100 * TOL)
    np.testing.assert_allclose(got["sd_pooled_t1"], ref["sd_pooled_t1"], atol=1e-12)
    np.testing.assert_allclose(got["omega"], ref["omega"], atol=1e-12)
    assert (got["n_t1"] == ref["n_t1"]).all()
    assert (got["outcome"] == _data(tag)["outcome"].iloc[0]).all()


def test_did_g_arithmetic_small_data():
    # small data: 11 pupils scored at T1 -> ω = 1 - 3/(4·11 - 9) = 1 - 3/35
    out = did(_data("small")).set_index("contrast")
    omega = 1 - 3 / 35
    assert out["omega"].iloc[0] == pytest.approx(omega, abs=1e-15)
    S = out["sd_pooled_t1"].iloc[0]
    ref = pd.read_csv(REF / "lmm_small_did.csv").set_index("contrast")
    # g = ω · estimate / S with R's estimate and S
    assert out.loc["T2-T1", "g"] == pytest.approx(omega * ref.loc["T2-T1", "estimate"] / S,
                                                  abs=1e-7)
    # improvement index = 100·Φ(g) − 50, Φ via erf
    g = out.loc["T3-T1", "g"]
    assert out.loc["T3-T1", "improvement_index"] == pytest.approx(
        100 * 0.5 * (1 + math.erf(g / math.sqrt(2))) - 50, abs=1e-9)


def test_did_complete_balanced_data_by_hand():
    """Complete data: DiD = difference of raw mean changes, and (σ_b² > 0) the REML
    residual variance is the ANOVA error mean square of wave × pupil within
    condition, so SE(DiD) = √(MS_err · 2 · (1/n_m + 1/n_c))."""
    d = _data("study")
    counts = d.groupby("student_id")["wave"].transform("size")
    d = d[counts == 3]
    wide = d.pivot(index="student_id", columns="wave", values="score")
    cond = d.groupby("student_id")["condition"].first().loc[wide.index]
    out = did(d).set_index("contrast")
    fit = fit_lmm(d)
    assert fit.sigma2_student > 0
    ss_err, df_err = 0.0, 0
    for c in ("mentee", "control"):
        Y = wide[cond == c].to_numpy()
        resid = Y - Y.mean(axis=1, keepdims=True) - Y.mean(axis=0) + Y.mean()
        ss_err += (resid ** 2).sum()
        df_err += (Y.shape[0] - 1) * (Y.shape[1] - 1)
    ms_err = ss_err / df_err
    n_m, n_c = int((cond == "mentee").sum()), int((cond == "control").sum())
    for a, b in (("T1", "T2"), ("T1", "T3"), ("T2", "T3")):
        ch_m = (wide[b] - wide[a])[cond == "mentee"].mean()
        ch_c = (wide[b] - wide[a])[cond == "control"].mean()
        row = out.loc[f"{b}-{a}"]
        assert row["estimate"] == pytest.approx(ch_m - ch_c, abs=1e-9)
        assert row["mentee_change"] == pytest.approx(ch_m, abs=1e-9)
        assert row["se"] == pytest.approx(math.sqrt(ms_err * 2 * (1 / n_m + 1 / n_c)), abs=1e-7)
    assert fit.sigma2_resid == pytest.approx(ms_err, abs=1e-8)


def test_did_two_waves_only():
    d = _data("study")
    out = did(d[d["wave"] != "T3"])
    assert list(out["contrast"]) == ["T2-T1"]
    assert np.isfinite(out["estimate"]).all()


def test_adjust_across_by_hand():
    # contrast T2-T1: p = .01, .04, .03 (three outcomes)
    #   Holm: sorted .01·3 = .03, .03·2 = .06, .04·1 = .04 -> monotone .03, .06, .06
    #   BH:   sorted .01·3/1 = .03, .03·3/2 = .045, .04·3/3 = .04 -> step-up .03, .04, .04
    # contrast T3-T1: p = .2, NaN, .5 -> NaN is left out: Holm .4, NaN, .5; BH .4, NaN, .5
    t = pd.DataFrame({
        "outcome": ["a", "b", "c", "a", "b", "c"],
        "contrast": ["T2-T1"] * 3 + ["T3-T1"] * 3,
        "p": [0.01, 0.04, 0.03, 0.2, np.nan, 0.5],
    })
    out = adjust_across(t)
    np.testing.assert_allclose(out["p_holm"], [0.03, 0.06, 0.06, 0.4, np.nan, 0.5])
    np.testing.assert_allclose(out["p_bh"], [0.03, 0.04, 0.04, 0.4, np.nan, 0.5])
    assert "p_holm" not in t.columns  # input untouched


def test_did_by_outcome_adjusts_per_contrast():
    a = _data("study")
    b = _data("small")
    both = pd.concat([a, b], ignore_index=True)
    out = did_by_outcome(both, outcomes=["self_efficacy", "school_belonging"])
    assert list(out["outcome"]) == ["self_efficacy"] * 3 + ["school_belonging"] * 3
    ref_a = pd.read_csv(REF / "lmm_study_did.csv")
    ref_b = pd.read_csv(REF / "lmm_small_did.csv")
    p = np.r_[ref_a["p"], ref_b["p"]]
    np.testing.assert_allclose(out["p"], p, atol=1e-6)
    # two outcomes per contrast: Holm = min(1, 2·min p) for the smaller, max of
    # (that, larger p) for the larger; BH: larger p stays, smaller = min(2·p, larger)
    for k in range(3):
        p1, p2 = p[k], p[k + 3]
        lo, hi = min(p1, p2), max(p1, p2)
        holm = {lo: min(1, 2 * lo), hi: max(min(1, 2 * lo), hi)}
        bh = {lo: min(2 * lo, hi), hi: hi}
        assert out["p_holm"].iloc[k] == pytest.approx(holm[p1], abs=1e-6)
        assert out["p_holm"].iloc[k + 3] == pytest.approx(holm[p2], abs=1e-6)
        assert out["p_bh"].iloc[k] == pytest.approx(bh[p1], abs=1e-6)
        assert out["p_bh"].iloc[k + 3] == pytest.approx(bh[p2], abs=1e-6)


def test_input_errors():
    d = _data("small")
    two = pd.concat([d, d.assign(outcome="other")])
    with pytest.raises(StudyError, match="outcomes"):
        did(two)
    with pytest.raises(StudyError, match="control"):
        fit_lmm(d[d["condition"] == "mentee"])
    with pytest.raises(StudyError, match="more than one score"):
        fit_lmm(pd.concat([d, d.iloc[[0]]]))
    with pytest.raises(StudyError, match="single score"):
        fit_lmm(d.drop_duplicates("student_id"))
    with pytest.raises(StudyError, match="not found"):
        fit_lmm(d.drop(columns="score"))
    with pytest.raises(StudyError, match="unknown"):
        fit_lmm(d.assign(wave=d["wave"].replace({"T3": "T4"})))
    with pytest.raises(StudyError, match="constant"):
        fit_lmm(d.assign(x=1.0), covariates=["x"])


def test_singular_fit_equals_ols():
    """Pupil means all equal (scores c + (a, −a, 0)): the REML estimate of σ_b² is 0
    (lme4's singular fit), and the model reduces to OLS: β̂ = (XᵀX)⁻¹Xᵀy,
    Var(β̂) = RSS/(N − p) · (XᵀX)⁻¹ — computed here with numpy least squares."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(40):
        cond = "mentee" if i < 25 else "control"
        a = rng.normal(0, 0.5)
        for w, s in zip(("T1", "T2", "T3"), (a, -a, 0.0)):
            rows.append((f"p{i}", cond, w, 3.0 + s))
    d = pd.DataFrame(rows, columns=["student_id", "condition", "wave", "score"])
    fit = fit_lmm(d)
    assert fit.singular and fit.sigma2_student == pytest.approx(0, abs=1e-8)
    m = (d["condition"] == "mentee").to_numpy(float)
    t2 = (d["wave"] == "T2").to_numpy(float)
    t3 = (d["wave"] == "T3").to_numpy(float)
    X = np.column_stack([np.ones(len(d)), m, t2, t3, m * t2, m * t3])
    y = d["score"].to_numpy()
    beta, rss, *_ = np.linalg.lstsq(X, y, rcond=None)
    cov = rss[0] / (len(y) - 6) * np.linalg.inv(X.T @ X)
    fx = lmm_fixed(d, fit=fit)
    np.testing.assert_allclose(fx["estimate"], beta, atol=1e-10)
    np.testing.assert_allclose(fx["se"], np.sqrt(np.diag(cov)), atol=1e-7)


# ----------------------------------------------------------------- the generic engine

ENGINE_DATA = pd.read_csv(REF / "lmm_engine_data.csv")
ENGINE_REF = json.loads((REF / "lmm_engine_ref.json").read_text())


def _engine_fit(y, X, groups, **kw):
    return fit_mixed(y, X, [RandomTerm.from_groups(groups, "g")], **kw)


@pytest.mark.parametrize("yname", ["y1", "y2"])
def test_engine_generic_design_matches_lme4(yname):
    """y ~ x1 + x2 + x3 + x1:x2 + (1 | g) on 70 groups of 1-9 rows in shuffled order;
    y2 has σ_b/σ ≈ 12 (the large-variance-ratio end of the θ search)."""
    d, ref = ENGINE_DATA, ENGINE_REF[yname]
    assert ref["term"] == ["(Intercept)", "x1", "x2", "x3", "x1:x2"]
    X = np.column_stack([np.ones(len(d)), d.x1, d.x2, d.x3, d.x1 * d.x2])
    fit = _engine_fit(d[yname].to_numpy(), X, d.g.to_numpy())
    np.testing.assert_allclose(fit.beta, ref["estimate"], atol=1e-7)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), ref["se"], atol=1e-7)
    np.testing.assert_allclose(fit.vcov, np.array(ref["vcov"]), atol=1e-7)
    assert fit.varcomp["g"] == pytest.approx(ref["sigma2_student"], rel=1e-6)
    assert fit.sigma2 == pytest.approx(ref["sigma2_resid"], rel=1e-6)
    assert fit.loglik == pytest.approx(ref["loglik"], abs=1e-7)
    assert (fit.n_obs, fit.n_levels["g"]) == (ref["n_obs"], ref["n_groups"])
    assert fit.converged and fit.singular == ref["singular"]


@pytest.mark.parametrize("name", ["age", "ses"])
def test_engine_three_way_design_variance_components(name):
    """score ~ condition * wave * W + (1 | student_id) (lme4 in moderation_reference.R):
    σ² and σ_b² — the model behind did_by_moderator, here with an uncentred W."""
    ref = json.loads((REF / "moderation_reference.json").read_text())[f"did_{name}"]
    d = pd.read_csv(REF / "moderation_did_long.csv")
    m = (d.condition == "mentee").to_numpy(float)
    waves = np.column_stack([(d.wave == w).to_numpy(float) for w in ("T2", "T3")])
    W = (d[["age"]].to_numpy(float) if name == "age" else
         np.column_stack([(d.ses == lv).to_numpy(float) for lv in ("middle", "high")]))
    inter = lambda a, b: (a[:, :, None] * b[:, None, :]).reshape(len(d), -1)  # noqa: E731
    X = np.column_stack([np.ones(len(d)), m, waves, W, m[:, None] * waves, m[:, None] * W,
                         inter(waves, W), inter(m[:, None] * waves, W)])
    fit = _engine_fit(d.score.to_numpy(), X, d.student_id.to_numpy())
    assert fit.sigma2 == pytest.approx(ref["sigma2"], rel=1e-6)
    assert fit.varcomp["g"] == pytest.approx(ref["tau"], rel=1e-6)
    assert fit.converged and not fit.singular


def test_engine_rejects_rank_deficient_design():
    d = ENGINE_DATA
    X = np.column_stack([np.ones(len(d)), d.x1, d.x2, 2.0 * d.x1 - d.x2])
    with pytest.raises(RankDeficientDesign, match="x1b"):
        _engine_fit(d.y1.to_numpy(), X, d.g.to_numpy(), names=["Intercept", "x1", "x2", "x1b"])
    with pytest.raises(StudyError, match="full column rank"):  # RankDeficientDesign is one
        _engine_fit(d.y1.to_numpy(), np.column_stack([X[:, :3], np.zeros(len(d))]), d.g.to_numpy())
