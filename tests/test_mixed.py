"""The variance-components mixed-model engine against lme4, lmerTest, pbkrtest, emmeans.

Reference values: tests/reference/mixed_reference.R (lme4 1.1-31 REML/ML, lmerTest
3.1-3 Satterthwaite, pbkrtest 0.5.2 / emmeans 1.8.4-1 Kenward-Roger) on five designs
stored as tests/reference/mixed_<design>.csv; the single random intercept against
lmm_engine_reference.R / lmm_reference.R (lme4).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.icc import icc_table
from mut_eval.stats.mixed import (
    RandomTerm, RankDeficientDesign, fit_mixed, lmer, parse_random,
)

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "mixed_reference.json").read_text())
DESIGNS = ["nested", "crossed", "few_clusters", "mentor_groups", "missing_waves"]
FIXED = "score ~ C(condition, Treatment('control')) * C(wave, Treatment('T1')) + "
# DiD contrasts on the coefficients (Intercept, mentee, T2, T3, mentee:T2, mentee:T3)
L_DID = np.array([[0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, -1, 1]], float)


def _data(design):
    return pd.read_csv(REF / f"mixed_{design.removesuffix('_ml')}.csv")


@pytest.fixture(scope="module")
def fits():
    out = {d: lmer(FIXED + R[d]["random"], _data(d)) for d in DESIGNS}
    out["nested_ml"] = lmer(FIXED + R["nested_ml"]["random"], _data("nested"), reml=False)
    return out


def _varcomp_close(fit, ref):
    vc = fit.varcomp
    assert sorted(vc.index) == sorted(ref)
    total = sum(ref.values())
    for name, v in ref.items():
        # relative 1e-4; a component at the boundary (lme4: 0 or 4e-17) absolutely
        assert vc[name] == pytest.approx(v, rel=1e-4, abs=1e-6 * total), name


@pytest.mark.parametrize("design", DESIGNS + ["nested_ml"])
def test_fit_equals_lme4(fits, design):
    f, r = fits[design], R[design]
    assert f.converged
    np.testing.assert_allclose(f.beta, r["fixef"], atol=1e-6, rtol=0)
    np.testing.assert_allclose(f.vcov, np.array(r["vcov"]), atol=1e-6, rtol=1e-4)
    _varcomp_close(f, r["varcomp"])
    assert f.loglik == pytest.approx(r["loglik"], rel=1e-4)
    assert f.criterion == pytest.approx(r["deviance_crit"], rel=1e-4)
    assert f.singular == r["singular"]
    assert f.n_obs == r["n_obs"]


@pytest.mark.parametrize("design", DESIGNS)
def test_did_df_and_se_equal_lmertest_and_pbkrtest(fits, design):
    f, r = fits[design], R[design]["did"]
    kr = f.test(L_DID, ddf="kenward-roger", labels=r["contrast"])
    sa = f.test(L_DID, ddf="satterthwaite", labels=r["contrast"])
    np.testing.assert_allclose(kr["estimate"], r["estimate"], atol=1e-6)
    np.testing.assert_allclose(kr["df"], r["df_kr"], rtol=1e-4)
    np.testing.assert_allclose(kr["se"], r["se_kr"], rtol=1e-4)
    np.testing.assert_allclose(sa["df"], r["df_satterthwaite"], rtol=1e-4)
    np.testing.assert_allclose(sa["se"], r["se_satterthwaite"], rtol=1e-4)
    # emmeans' numbers are lmerTest's and pbkrtest's own (checked in R, stored both)
    np.testing.assert_allclose(r["df_kr"], r["pbkrtest_df"], rtol=1e-8)
    np.testing.assert_allclose(r["df_satterthwaite"], r["lmertest_df"], rtol=1e-8)
    # t, p and CI follow from estimate, SE and df (t distribution)
    from scipy import stats
    t = np.asarray(r["estimate"]) / np.asarray(r["se_kr"])
    np.testing.assert_allclose(kr["p"], 2 * stats.t.sf(np.abs(t), r["df_kr"]), rtol=1e-3)
    asy = f.test(L_DID, ddf="asymptotic")
    assert np.all(np.isinf(asy["df"]))


def test_icc_table_null_model_equals_lme4():
    r = R["icc_nested_t1"]
    d = _data("nested")
    t1 = d[d["wave"] == "T1"].assign(outcome="self_efficacy")
    out = icc_table(t1)
    row = out.iloc[0]
    assert list(out.columns) == ["outcome", "var_school", "var_class", "var_resid", "icc_class",
                                 "icc_class_ci_low", "icc_class_ci_high", "icc_school",
                                 "design_effect", "n_effective"]
    for k in ("var_school", "var_class", "var_resid"):
        assert row[k] == pytest.approx(r[k], rel=1e-4)
    total = r["var_school"] + r["var_class"] + r["var_resid"]
    icc = (r["var_school"] + r["var_class"]) / total
    assert row["icc_class"] == pytest.approx(icc, rel=1e-4)
    assert row["icc_school"] == pytest.approx(r["var_school"] / total, rel=1e-4)
    # 134 pupils at T1 in 10 classes: m̄ = 13.4
    assert r["n"] == 134 and t1.groupby(["school", "class"]).ngroups == 10
    deff = 1 + (13.4 - 1) * icc
    assert row["design_effect"] == pytest.approx(deff, rel=1e-4)
    assert row["n_effective"] == pytest.approx(134 / deff, rel=1e-4)
    assert 0 < row["icc_class_ci_low"] < icc < row["icc_class_ci_high"] < 1


ENGINE = pd.read_csv(REF / "lmm_engine_data.csv")
ENGINE_REF = json.loads((REF / "lmm_engine_ref.json").read_text())


@pytest.mark.parametrize("yv", ["y1", "y2"])
def test_single_random_intercept_equals_lme4_and_lmm(yv):
    X = np.column_stack([np.ones(len(ENGINE)), ENGINE.x1, ENGINE.x2, ENGINE.x3,
                         ENGINE.x1 * ENGINE.x2])
    y = ENGINE[yv].to_numpy(float)
    f = fit_mixed(y, X, [RandomTerm.from_groups(ENGINE.g.to_numpy(object), "g")])
    r = ENGINE_REF[yv]
    np.testing.assert_allclose(f.beta, r["estimate"], atol=1e-6)
    np.testing.assert_allclose(f.vcov, np.array(r["vcov"]), atol=1e-7, rtol=1e-5)
    assert f.varcomp["g"] == pytest.approx(r["sigma2_student"], rel=1e-4)
    assert f.varcomp["Residual"] == pytest.approx(r["sigma2_resid"], rel=1e-4)
    assert f.loglik == pytest.approx(r["loglik"], rel=1e-6)


def test_pupil_model_on_lmm_study_equals_lme4():
    d = pd.read_csv(REF / "lmm_study.csv")
    f = lmer(FIXED + "(1 | student_id)", d)
    vc = json.loads((REF / "lmm_study_varcomp.json").read_text())
    fixed = pd.read_csv(REF / "lmm_study_fixed.csv")
    np.testing.assert_allclose(f.beta, fixed["estimate"], atol=1e-6)
    np.testing.assert_allclose(np.sqrt(np.diag(f.vcov)), fixed["se"], atol=1e-6)
    assert f.varcomp["student_id"] == pytest.approx(vc["sigma2_student"], rel=1e-4)
    assert f.varcomp["Residual"] == pytest.approx(vc["sigma2_resid"], rel=1e-4)
    assert f.criterion == pytest.approx(vc["reml_criterion"], rel=1e-6)


def test_parse_random_and_errors():
    d = _data("mentor_groups")
    terms = parse_random("(1 | school:class) + (0 + mentee_post | mentor_id)", d)
    assert [t.name for t in terms] == ["school:class", "mentee_post|mentor_id"]
    # class ids repeat across schools (c1 at s1 and s2): the interaction keeps them apart
    assert terms[0].levels == d.groupby(["school", "class"]).ngroups > d["class"].nunique()
    assert terms[1].slope is not None
    with pytest.raises(StudyError, match="only"):
        parse_random("(1 + mentee_post | mentor_id)", d)
    with pytest.raises(StudyError, match="not in the data"):
        parse_random("(1 | nowhere)", d)
    with pytest.raises(RankDeficientDesign):
        X = np.column_stack([np.ones(len(d)), np.ones(len(d))])
        fit_mixed(d["score"], X, terms)
    with pytest.raises(ValueError, match="REML"):
        lmer(FIXED + "(1 | student_id)", d, reml=False).test(L_DID)


def test_trace_sweep_equals_components(fits, monkeypatch):
    """The column sweep (used when a component of ZᵀZ is too large for dense algebra)
    gives the df of the component path, checked against pbkrtest above."""
    from mut_eval.stats import mixed_inference
    monkeypatch.setattr(mixed_inference, "_trace_by_component", lambda s, lam: None)
    r = R["nested"]["did"]
    f = lmer(FIXED + R["nested"]["random"], _data("nested"))
    np.testing.assert_allclose(f.test(L_DID)["df"], r["df_kr"], rtol=1e-4)
    np.testing.assert_allclose(f.test(L_DID, ddf="satterthwaite")["df"], r["df_satterthwaite"],
                               rtol=1e-4)


def test_ungrouped_elimination_equals_lme4(monkeypatch):
    """The per-level path of the block elimination (taken when the largest term has many
    distinct m_bb, e.g. a slope) reproduces lme4 as the pre-summed path does."""
    from mut_eval.stats import mixed
    monkeypatch.setattr(mixed, "_GROUPED_MAX", 0)
    r = R["mentor_groups"]
    f = lmer(FIXED + r["random"], _data("mentor_groups"))
    np.testing.assert_allclose(f.beta, r["fixef"], atol=1e-6)
    _varcomp_close(f, r["varcomp"])


def test_sparse_path_with_difference_gradient_equals_lme4(monkeypatch):
    """The SuperLU path with a central-difference gradient (taken when S has a large
    component, e.g. big crossed designs) reproduces lme4, lmerTest and pbkrtest as the
    dense-block path with the analytic gradient does."""
    from mut_eval.stats import mixed
    monkeypatch.setattr(mixed, "_DENSE_MAX", 0)
    monkeypatch.setattr(mixed, "_SPLIT_MAX", 0)
    for design in ("nested", "crossed"):
        r = R[design]
        f = lmer(FIXED + r["random"], _data(design))
        assert not f._system.dense_ok
        np.testing.assert_allclose(f.beta, r["fixef"], atol=1e-6)
        _varcomp_close(f, r["varcomp"])
        assert f.loglik == pytest.approx(r["loglik"], rel=1e-4)
        np.testing.assert_allclose(f.test(L_DID)["df"], r["did"]["df_kr"], rtol=1e-4)
        np.testing.assert_allclose(f.test(L_DID, ddf="satterthwaite")["df"],
                                   r["did"]["df_satterthwaite"], rtol=1e-4)


@pytest.mark.parametrize("design,split", [("nested", "school:class"), ("crossed", "class"),
                                          ("mentor_groups", "mentee_post|mentor_id")])
def test_diagonal_split_equals_lme4(design, split, monkeypatch):
    """With S beyond the dense limit, the reduced term whose block of S is diagonal (the
    one with most levels: mentors, no two sharing a pupil) is eliminated first and the
    rest factored as dense blocks (mixed._DiagonalSplit), with the analytic gradient: lme4's
    fit, pbkrtest's KR df and SE, lmerTest's Satterthwaite df; the gradient equals
    central differences of the deviance."""
    import patsy
    from mut_eval.stats import mixed
    monkeypatch.setattr(mixed, "_DENSE_MAX", 0)
    r = R[design]
    d = _data(design)
    f = lmer(FIXED + r["random"], d)
    s = f._system
    assert s.split is not None and s.dense_ok
    assert {s.terms[k].name for k in s.term_r[s.split.i_d]} == {split}
    np.testing.assert_allclose(f.beta, r["fixef"], atol=1e-6)
    _varcomp_close(f, r["varcomp"])
    assert f.loglik == pytest.approx(r["loglik"], rel=1e-6)
    np.testing.assert_allclose(f.test(L_DID)["df"], r["did"]["df_kr"], rtol=1e-4)
    np.testing.assert_allclose(f.test(L_DID)["se"], r["did"]["se_kr"], rtol=1e-4)
    np.testing.assert_allclose(f.test(L_DID, ddf="satterthwaite")["df"],
                               r["did"]["df_satterthwaite"], rtol=1e-4)
    y, X = patsy.dmatrices(FIXED.rstrip(" +"), d, return_type="dataframe")
    theta = np.linspace(0.3, 1.4, len(s.terms)) * np.resize([1.0, -1.0], len(s.terms))
    s2 = mixed._System(y.iloc[:, 0].to_numpy(), X.to_numpy(), s.terms)
    for reml in (True, False):
        g = s2.parts(theta, reml, grad=True)[4]
        fd = [(s2.deviance(theta + 1e-6 * e, reml) - s2.deviance(theta - 1e-6 * e, reml)) / 2e-6
              for e in np.eye(len(s.terms))]
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-4)


@pytest.mark.parametrize("design", ["nested", "crossed", "mentor_groups"])
def test_kr_traces_with_sparse_blocks_equal_pbkrtest(design, monkeypatch):
    """Large blocks of S enter the KR/Satterthwaite traces one by one with sparse K_j
    (mixed_inference._SPARSE_TRACE_MIN; forced here for every block): pbkrtest's KR df
    and SE, lmerTest's Satterthwaite df."""
    from mut_eval.stats import mixed_inference
    monkeypatch.setattr(mixed_inference, "_SPARSE_TRACE_MIN", 0)
    r = R[design]
    f = lmer(FIXED + r["random"], _data(design))
    assert f._system.trace_dense_ok
    np.testing.assert_allclose(f.test(L_DID)["df"], r["did"]["df_kr"], rtol=1e-4)
    np.testing.assert_allclose(f.test(L_DID)["se"], r["did"]["se_kr"], rtol=1e-4)
    np.testing.assert_allclose(f.test(L_DID, ddf="satterthwaite")["df"],
                               r["did"]["df_satterthwaite"], rtol=1e-4)


@pytest.mark.parametrize("design", ["nested", "crossed", "mentor_groups"])
def test_analytic_reml_gradient_equals_central_differences(design, monkeypatch):
    """The analytic gradient of the profiled deviance (the optimiser's only gradient on
    the dense path) against central differences of the deviance, REML and ML, with the
    pre-summed and the per-level elimination."""
    import patsy
    from mut_eval.stats import mixed
    d = _data(design)
    y, X = patsy.dmatrices(FIXED.rstrip(" +"), d, return_type="dataframe")
    terms = parse_random(R[design]["random"], d)
    # the optimiser runs θ over ℝ^K (the deviance is even in each θ_k): negative θ too
    theta = np.linspace(0.3, 1.4, len(terms)) * np.resize([1.0, -1.0], len(terms))
    for grouped in (64, 0):
        monkeypatch.setattr(mixed, "_GROUPED_MAX", grouped)
        s = mixed._System(y.iloc[:, 0].to_numpy(), X.to_numpy(), terms)
        for reml in (True, False):
            g = s.parts(theta, reml, grad=True)[4]
            h = 1e-6
            fd = [(s.deviance(theta + h * e, reml) - s.deviance(theta - h * e, reml)) / (2 * h)
                  for e in np.eye(len(terms))]
            np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-4)


def test_padded_blocks_equal_lme4(monkeypatch):
    """Components of S of unequal size stacked in one padded block (schools of 9 and of
    13 levels) give lme4's fit and pbkrtest's df and SE."""
    from mut_eval.stats import mixed
    monkeypatch.setattr(mixed, "_BIN_RATIO", 1e6)
    for design in ("nested", "missing_waves"):
        r = R[design]
        f = lmer(FIXED + r["random"], _data(design))
        (idx, mask, *_), = f._system.blocks.bins
        assert not mask.all()
        np.testing.assert_allclose(f.beta, r["fixef"], atol=1e-6)
        _varcomp_close(f, r["varcomp"])
        np.testing.assert_allclose(f.test(L_DID)["df"], r["did"]["df_kr"], rtol=1e-4)
        np.testing.assert_allclose(f.test(L_DID)["se"], r["did"]["se_kr"], rtol=1e-4)


def test_kr_traces_by_dense_blocks_beyond_the_fit_limit_equal_the_sweep(monkeypatch):
    """Two schools of 105 classes: a school's block of S (1 + 105 + 315 levels) is beyond the
    fit's dense limit (_DENSE_MAX) but within the traces' (_TRACE_DENSE_MAX), and large
    enough to enter them with sparse K_j; the KR SEs and df from the blocks equal those of the column sweep (the traces' other route)
    to 1e-4, the tolerance the KR tests hold against pbkrtest (here the two differ by
    ~1e-5 in the SE: the school variance is near its boundary with two schools)."""
    import mut_eval.stats.mixed as mixed_mod
    from mut_eval.stats.lmm import did, fit_lmm
    rng = np.random.default_rng(5)
    rows = []
    for k in range(210):
        u, uw = rng.normal(0, .3), rng.normal(0, .2, 3)
        for i in range(3):
            b = rng.normal(0, .6)
            for w, wave in enumerate(("T1", "T2", "T3")):
                rows.append({"student_id": f"p{k}_{i}", "condition": "mentee" if k % 2 else "control",
                             "school": f"s{k % 2}", "class": f"c{k}", "wave": wave,
                             "score": 3 + u + uw[w] + b + 0.2 * (k % 2) * (w > 0) + rng.normal(0, .5)})
    d = pd.DataFrame(rows)
    rand = "(1 | school) + (1 | school:class) + (1 | school:class:wave) + (1 | student_id)"
    blocks = fit_lmm(d, random=rand)
    assert blocks.mixed._system.trace_dense_ok
    assert blocks.mixed._system.blocks.largest > max(mixed_mod._DENSE_MAX, 256)  # sparse traces
    monkeypatch.setattr(mixed_mod, "_TRACE_DENSE_MAX", 0)
    sweep = fit_lmm(d, random=rand)
    assert not sweep.mixed._system.trace_dense_ok
    a = did(d, fit=blocks, ddf="kenward-roger")[["se", "df"]].to_numpy()
    b = did(d, fit=sweep, ddf="kenward-roger")[["se", "df"]].to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-4)
