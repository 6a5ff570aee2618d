"""mut_eval.stats.mmrm against R: nlme gls / lme REML fits with corSymm + varIdent (the
unstructured within-pupil covariance), Kenward-Roger (linear) and Satterthwaite
inference — R mmrm for the designs without random terms, R matrix algebra on nlme's
estimates for those with class / school terms (tests/reference/mmrm_reference.R)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.mixed import RandomTerm, RankDeficientDesign
from mut_eval.stats.mmrm import fit_mmrm

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "mmrm_reference.json").read_text())
DATA = {"gls_missing": "classes", "gls_covariate": "classes", "lme_class": "classes",
        "lme_nested": "schools"}
WAVES = ["T1", "T2", "T3"]
CONTRASTS = ["T2-T1", "T3-T1", "T3-T2"]


def design_matrix(d: pd.DataFrame, names: list) -> np.ndarray:
    """R's model.matrix(score ~ condition * wave [+ age]) column by column."""
    mentee = (d["condition"] == "mentee").to_numpy(float)
    cols = {"(Intercept)": np.ones(len(d)), "conditionmentee": mentee, "age": d["age"].to_numpy(float)}
    for w in ("T2", "T3"):
        cols[f"wave{w}"] = (d["wave"] == w).to_numpy(float)
        cols[f"conditionmentee:wave{w}"] = mentee * cols[f"wave{w}"]
    return np.column_stack([cols[n] for n in names])


def did_matrix(names: list) -> np.ndarray:
    L = np.zeros((3, len(names)))
    i2, i3 = names.index("conditionmentee:waveT2"), names.index("conditionmentee:waveT3")
    L[0, i2] = L[1, i3] = L[2, i3] = 1.0
    L[2, i2] = -1.0
    return L


def terms_for(d: pd.DataFrame, random: list) -> list:
    if not random:
        return []
    if random == ["klass"]:
        return [RandomTerm.from_groups(d["klass"].to_numpy(object), "klass")]
    return [RandomTerm.from_groups(d["school"].to_numpy(object), "school"),
            RandomTerm.from_groups(d[["school", "klass"]].to_numpy(object), "school:klass")]


@pytest.fixture(scope="module", params=list(DATA))
def case(request):
    name = request.param
    ref = R[name]
    d = pd.read_csv(REF / f"mmrm_{DATA[name]}.csv")
    X = design_matrix(d, ref["beta_names"])
    fit = fit_mmrm(d["score"].to_numpy(float), X, d["wave"].map(WAVES.index).to_numpy(),
                   d["student_id"], terms_for(d, ref["random"]), names=ref["beta_names"])
    return name, ref, fit


def test_fit_equals_nlme(case):
    name, ref, fit = case
    assert fit.converged
    assert fit.n_obs == ref["n_obs"] and fit.n_subjects == ref["n_pupils"]
    np.testing.assert_allclose(fit.beta, [ref["beta"][n] for n in fit.names], rtol=0, atol=1e-6)
    np.testing.assert_allclose(fit.sigma, np.array(ref["sigma"]), rtol=1e-4)
    np.testing.assert_allclose(fit.vcov, np.array(ref["vcov"]), rtol=1e-4, atol=1e-10)
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-6)
    if ref["varcomp"]:
        np.testing.assert_allclose(fit.varcomp.to_numpy(), list(ref["varcomp"].values()), rtol=1e-4)
    else:
        assert fit.varcomp.empty


@pytest.mark.parametrize("ddf,key", [("kenward-roger", "kr"), ("satterthwaite", "satterthwaite")])
def test_did_contrasts_equal_r(case, ddf, key):
    name, ref, fit = case
    res = fit.test(did_matrix(fit.names), ddf=ddf, labels=CONTRASTS)
    want = ref["contrasts"]
    np.testing.assert_allclose(res["estimate"], [want[c]["estimate"] for c in CONTRASTS], atol=1e-6)
    np.testing.assert_allclose(res["se"], [want[c][key]["se"] for c in CONTRASTS], rtol=1e-4)
    np.testing.assert_allclose(res["df"], [want[c][key]["df"] for c in CONTRASTS], rtol=1e-4)
    assert list(res.columns) == ["contrast", "estimate", "se", "df", "t", "p", "ci_low", "ci_high"]


def test_gls_equals_r_mmrm(case):
    """R mmrm (TMB, its own optimiser, run to a tight optimum): KR-Linear SE and df and
    Satterthwaite df agree to 1e-6 (measured: 1e-8)."""
    name, ref, fit = case
    if "mmrm" not in ref:
        pytest.skip("R mmrm covers the designs without random terms only")
    mm = ref["mmrm"]
    np.testing.assert_allclose(fit.beta, [mm["beta"][n] for n in fit.names], atol=1e-6)
    np.testing.assert_allclose(fit.sigma, np.array(mm["sigma"]), rtol=1e-6)
    assert fit.loglik == pytest.approx(mm["loglik"], rel=1e-9)
    L = did_matrix(fit.names)
    kr = fit.test(L, ddf="kenward-roger")
    sat = fit.test(L, ddf="satterthwaite")
    for i, c in enumerate(CONTRASTS):
        assert kr["se"][i] == pytest.approx(mm["contrasts"][c]["kr_linear"]["se"], rel=1e-6)
        assert kr["df"][i] == pytest.approx(mm["contrasts"][c]["kr_linear"]["df"], rel=1e-6)
        assert sat["se"][i] == pytest.approx(mm["contrasts"][c]["satterthwaite"]["se"], rel=1e-6)
        assert sat["df"][i] == pytest.approx(mm["contrasts"][c]["satterthwaite"]["df"], rel=1e-6)
        # mmrm's default "Kenward-Roger" keeps the second derivatives of its Cholesky
        # parametrisation: the same df, an SE that differs in the third digit
        assert kr["df"][i] == pytest.approx(mm["contrasts"][c]["kr"]["df"], rel=1e-4)
        assert abs(kr["se"][i] / mm["contrasts"][c]["kr"]["se"] - 1) > 1e-3


def _small():
    d = pd.read_csv(REF / "mmrm_classes.csv")
    names = ["(Intercept)", "conditionmentee", "waveT2", "waveT3"]
    return d, design_matrix(d, names), d["wave"].map(WAVES.index).to_numpy()


def test_two_scores_at_one_wave_is_a_study_error():
    d, X, w = _small()
    w = w.copy()
    w[1] = w[0]
    with pytest.raises(StudyError, match="two scores at the same wave"):
        fit_mmrm(d["score"].to_numpy(), X, w, d["student_id"])


def test_pupil_term_is_refused():
    d, X, w = _small()
    with pytest.raises(StudyError, match="nested within pupils"):
        fit_mmrm(d["score"].to_numpy(), X, w, d["student_id"],
                 [RandomTerm.from_groups(d["student_id"].to_numpy(object), "student_id")])


def test_rank_deficient_design():
    d, X, w = _small()
    with pytest.raises(RankDeficientDesign):
        fit_mmrm(d["score"].to_numpy(), np.column_stack([X, X[:, 1]]), w, d["student_id"])


def test_waves_never_seen_together_are_a_study_error():
    d, X, w = _small()
    keep = ~((w == 2) & d["student_id"].isin(d.loc[w == 0, "student_id"]).to_numpy())
    with pytest.raises(StudyError, match="waves 0 and 2"):
        fit_mmrm(d["score"].to_numpy()[keep], X[keep], w[keep], d["student_id"][keep])


def test_random_term_on_the_boundary_gives_the_gls_fit():
    """A grouping unrelated to the scores (pupil number mod 3) has REML variance 0: the
    fit and its tests are then R's gls fit (the component leaves W, as in lmerTest)."""
    ref = R["gls_missing"]
    d = pd.read_csv(REF / "mmrm_classes.csv")
    pupil = pd.factorize(d["student_id"])[0]
    fit = fit_mmrm(d["score"].to_numpy(float), design_matrix(d, ref["beta_names"]),
                   d["wave"].map(WAVES.index).to_numpy(), d["student_id"],
                   [RandomTerm.from_groups(pupil % 3, "mod3")], names=ref["beta_names"])
    assert fit.converged and fit.varcomp["mod3"] == 0.0
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-9)
    np.testing.assert_allclose(fit.sigma, np.array(ref["sigma"]), rtol=1e-4)
    res = fit.test(did_matrix(fit.names), ddf="kenward-roger")
    np.testing.assert_allclose(res["se"], [ref["contrasts"][c]["kr"]["se"] for c in CONTRASTS], rtol=1e-4)
    np.testing.assert_allclose(res["df"], [ref["contrasts"][c]["kr"]["df"] for c in CONTRASTS], rtol=1e-4)
