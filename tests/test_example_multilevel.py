"""The multilevel model of the class-assigned example against lme4 / pbkrtest / lmerTest.

``tests/reference/example_reference.R`` (section 7) fits, per outcome, on all available
scores of ``mut_eval/data/example_study``::

    lmer(score ~ condition * wave + (1 | school) + (1 | school:class)
         + (1 | school:class:wave) + (1 | student_id), REML = TRUE)

and stores the difference-in-differences contrasts (mentee change minus control
change) with Kenward–Roger (emmeans ``lmer.df = "kenward-roger"``, i.e. pbkrtest) and
Satterthwaite (lmerTest) inference, the variance components, and the T1 null model
``score ~ 1 + (1 | school) + (1 | school:class)``. Here the same models are fitted with
:func:`mut_eval.stats.mixed.fit_mixed` and tested with :meth:`MixedFit.test` — the stats
API itself, not ``analyze()``. Scores come from the intake (``load_panel``), whose
scoring is checked against the R script's own scoring in test_example_reference.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval.panel import load_panel
from mut_eval.stats.mixed import RandomTerm, fit_mixed

REF = Path(__file__).parent / "reference"
STUDY = Path(__file__).parent.parent / "mut_eval" / "data" / "example_study"
OUTCOMES = ["self_efficacy", "intrinsic_motivation", "extrinsic_motivation", "school_belonging",
            "help_seeking_academic", "help_seeking_network"]
NAMES = ["(Intercept)", "conditionmentee", "waveT2", "waveT3", "conditionmentee:waveT2",
         "conditionmentee:waveT3"]
# DiD = (mentee change) − (control change); with control and T1 as the reference
# levels these are the interaction coefficients and their difference.
L = {"T2-T1": [0, 0, 0, 0, 1, 0], "T3-T1": [0, 0, 0, 0, 0, 1], "T3-T2": [0, 0, 0, 0, -1, 1]}
# variance components: R column -> lme4 term name
VC = {"var_school": "school", "var_class": "school:class", "var_class_wave": "school:class:wave",
      "var_student": "student_id", "var_resid": "Residual"}


@pytest.fixture(scope="module")
def long() -> pd.DataFrame:
    return load_panel(STUDY).long


def _design(d: pd.DataFrame) -> np.ndarray:
    m = (d["condition"] == "mentee").to_numpy(float)
    t2 = (d["wave"] == "T2").to_numpy(float)
    t3 = (d["wave"] == "T3").to_numpy(float)
    return np.column_stack([np.ones(len(d)), m, t2, t3, m * t2, m * t3])


def _multilevel(d: pd.DataFrame):
    # class ids are unique only within a school: every class term combines the two
    terms = [RandomTerm.from_groups(d[["school"]].to_numpy(object), "school"),
             RandomTerm.from_groups(d[["school", "class"]].to_numpy(object), "school:class"),
             RandomTerm.from_groups(d[["school", "class", "wave"]].to_numpy(object), "school:class:wave"),
             RandomTerm.from_groups(d[["student_id"]].to_numpy(object), "student_id")]
    return fit_mixed(d["score"].to_numpy(float), _design(d), terms, names=NAMES)


@pytest.fixture(scope="module")
def fits(long):
    out = {}
    for o in OUTCOMES:
        d = long[long["outcome"] == o].dropna(subset=["score"]).reset_index(drop=True)
        out[o] = _multilevel(d)
    return out


def _ref(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"example_{name}.csv")


def test_variance_components_and_likelihood(fits):
    r = _ref("did_multilevel").drop_duplicates("outcome").set_index("outcome")
    assert list(r.index) == OUTCOMES
    for o, f in fits.items():
        assert f.converged, o
        assert f.n_obs == r.at[o, "n_obs"]
        assert (f.n_levels["student_id"], f.n_levels["school:class"], f.n_levels["school"]) == (
            r.at[o, "n_students"], r.at[o, "n_classes"], r.at[o, "n_schools"])
        # REML criterion relatively; components relatively, or absolutely near the boundary
        assert f.criterion == pytest.approx(r.at[o, "reml_criterion"], rel=1e-6), o
        assert f.loglik == pytest.approx(r.at[o, "loglik"], rel=1e-6), o
        for col, term in VC.items():
            assert f.varcomp[term] == pytest.approx(r.at[o, col], rel=1e-4, abs=1e-6), (o, term)
        assert f.singular == bool(r.at[o, "singular"]), o


@pytest.mark.parametrize("ddf,suffix", [("kenward-roger", "kr"), ("satterthwaite", "satterthwaite")])
def test_did_contrasts(fits, ddf, suffix):
    r = _ref("did_multilevel").set_index(["outcome", "contrast"])
    for o, f in fits.items():
        res = f.test(np.array(list(L.values()), float), ddf=ddf, labels=list(L)).set_index("contrast")
        for c in L:
            row = r.loc[(o, c)]
            got = res.loc[c]
            se_col = "se_kr" if suffix == "kr" else "se"
            assert got["estimate"] == pytest.approx(row["estimate"], rel=1e-6, abs=1e-8), (o, c)
            assert got["se"] == pytest.approx(row[se_col], rel=1e-4), (o, c, ddf)
            assert got["df"] == pytest.approx(row[f"df_{suffix}"], rel=1e-4), (o, c, ddf)
            assert got["t"] == pytest.approx(row[f"t_{suffix}"], rel=1e-4), (o, c, ddf)
            assert got["p"] == pytest.approx(row[f"p_{suffix}"], rel=1e-4, abs=1e-6), (o, c, ddf)
            assert got["ci_low"] == pytest.approx(row[f"ci_low_{suffix}"], rel=1e-4, abs=1e-6), (o, c, ddf)
            assert got["ci_high"] == pytest.approx(row[f"ci_high_{suffix}"], rel=1e-4, abs=1e-6), (o, c, ddf)


def test_t1_icc_null_model(long):
    r = _ref("icc").set_index("outcome")
    t1 = long[long["wave"] == "T1"].dropna(subset=["score"])
    for o in OUTCOMES:
        d = t1[t1["outcome"] == o].reset_index(drop=True)
        terms = [RandomTerm.from_groups(d[["school"]].to_numpy(object), "school"),
                 RandomTerm.from_groups(d[["school", "class"]].to_numpy(object), "school:class")]
        f = fit_mixed(d["score"].to_numpy(float), np.ones((len(d), 1)), terms, names=["(Intercept)"])
        assert f.n_obs == r.at[o, "n"] and f.n_levels["school:class"] == r.at[o, "n_classes"]
        assert f.criterion == pytest.approx(r.at[o, "reml_criterion"], rel=1e-6), o
        assert f.beta[0] == pytest.approx(r.at[o, "intercept"], rel=1e-6), o
        for col, term in (("var_school", "school"), ("var_class", "school:class"), ("var_resid", "Residual")):
            assert f.varcomp[term] == pytest.approx(r.at[o, col], rel=1e-4, abs=1e-6), (o, term)


def test_example_is_clustered_as_designed():
    """The generator plants a class ICC of about .08 at T1 (mut_eval.synth): in lme4's
    fit of the regenerated example every outcome shows class-level variance, and the
    class ICC (school + class over the total) lies in .04-.10."""
    r = _ref("icc")
    total = r["var_school"] + r["var_class"] + r["var_resid"]
    icc = (r["var_school"] + r["var_class"]) / total
    assert ((icc > 0.04) & (icc < 0.10)).all(), icc.round(3).tolist()
    # the clustering makes the multilevel SEs of the DiD larger than the pupil-level ones
    ml = _ref("did_multilevel").set_index(["outcome", "contrast"])
    pupil = _ref("did").set_index(["outcome", "contrast"])
    assert (ml["se_kr"] > pupil.loc[ml.index, "se"]).all()
