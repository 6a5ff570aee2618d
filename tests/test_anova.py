"""mixed_anova and interaction_contrasts against R afex/car (tests/reference/anova_*)
and pingouin's documented example.

Reference values: ``Rscript tests/reference/anova_reference.R`` (afex::aov_ez, type 3;
car::summary.Anova.mlm for SS, epsilons and Mauchly). R is not needed to run these.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
from scipy import stats

from mut_eval import StudyError
from mut_eval.stats.anova import interaction_contrasts, mixed_anova

# pingouin 0.7 itself triggers a pandas deprecation warning; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning",
                                        "ignore:The inplace keyword")

REF = Path(__file__).parent / "reference"
AFEX = pd.read_csv(REF / "anova_afex_results.csv")
CONTRASTS = pd.read_csv(REF / "anova_contrasts_results.csv")
COLUMNS = ["source", "ss", "df1", "df2", "F", "p_unc", "eps_gg", "eps_hf", "p_gg", "p_hf",
           "np2", "ng2", "mauchly_w", "mauchly_p"]
NUMERIC = COLUMNS[1:]
SOURCES = ["condition", "wave", "condition:wave"]


def load(name: str) -> pd.DataFrame:
    if name == "pingouin":
        return pd.read_csv(REF / "anova_pingouin_mixed.csv").rename(
            columns={"Scores": "score", "Time": "wave", "Group": "condition",
                     "Subject": "student_id"})
    return pd.read_csv(REF / f"anova_data_{name}.csv", dtype={"student_id": str})


def afex(name: str) -> pd.DataFrame:
    return AFEX[AFEX["dataset"] == name].set_index("source").loc[SOURCES]


@pytest.mark.parametrize("name", ["balanced", "unbalanced", "missing", "g3k4", "spherical",
                                  "pingouin"])
def test_matches_afex_type3(name):
    res = mixed_anova(load(name))
    assert list(res.columns) == COLUMNS
    assert list(res["source"]) == SOURCES
    ref = afex(name)
    for col in NUMERIC:
        np.testing.assert_allclose(res[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float),
                                   rtol=1e-6, atol=1e-10, err_msg=f"{name}: {col}")
    # Corrections and Mauchly only for effects involving the within factor.
    assert res.loc[0, ["eps_gg", "eps_hf", "p_gg", "p_hf", "mauchly_w", "mauchly_p"]].isna().all()
    assert res.attrs["n_subjects"] == ref["n_subjects"].iloc[0]
    assert res.attrs["n_excluded"] == ref["n_input_subjects"].iloc[0] - ref["n_subjects"].iloc[0]


def test_listwise_deletion_counts():
    res = mixed_anova(load("missing"))
    # afex: 73 pupils in the data, 55 with all three waves.
    assert res.attrs["n_subjects"] == 55
    assert res.attrs["n_excluded"] == 18
    assert sum(res.attrs["n_per_group"].values()) == 55
    assert res.loc[0, "df2"] == 55 - 2


def test_hf_above_one_is_reported_uncapped_and_capped_for_p():
    # pingouin's dataset: car reports HF eps = 1.0337 and uses 1 for the p-value.
    res = mixed_anova(load("pingouin")).set_index("source")
    assert res.loc["wave", "eps_hf"] > 1
    assert res.loc["wave", "p_hf"] == pytest.approx(res.loc["wave", "p_unc"], rel=1e-12)


def test_two_within_levels():
    """k = 2: ε = 1 by definition and no Mauchly test (car prints no correction)."""
    res = mixed_anova(load("k2")).set_index("source")
    ref = afex("k2")
    for col in ["ss", "df1", "df2", "F", "p_unc", "np2", "ng2"]:
        np.testing.assert_allclose(res[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float),
                                   rtol=1e-6, atol=1e-10, err_msg=col)
    within = res.loc[["wave", "condition:wave"]]
    assert (within["eps_gg"] == 1).all() and (within["eps_hf"] == 1).all()
    np.testing.assert_allclose(within["p_gg"], within["p_unc"], rtol=1e-12)
    np.testing.assert_allclose(within["p_hf"], within["p_unc"], rtol=1e-12)
    assert within[["mauchly_w", "mauchly_p"]].isna().all().all()


def test_original_huynh_feldt_option():
    """hf='huynh-feldt': the 1976 formula with N (not N − g + 1), from afex's GG ε."""
    ref = afex("unbalanced").loc["wave"]
    N, g, p = 50, 2, 2
    gg = ref["eps_gg"]
    expected = (N * p * gg - 2) / (p * (N - g - p * gg))
    res = mixed_anova(load("unbalanced"), hf="huynh-feldt").set_index("source")
    assert res.loc["wave", "eps_hf"] == pytest.approx(expected, rel=1e-9)
    assert res.loc["wave", "eps_gg"] == pytest.approx(gg, rel=1e-9)
    # Lecoutre's correction (the default) gives a smaller ε here.
    assert ref["eps_hf"] < expected


def test_unbalanced_type3_differs_from_type2():
    """The unbalanced dataset really discriminates: pingouin (Type II for the within
    main effect with unequal n) and afex Type III disagree on SS(wave), and we follow afex."""
    d = load("unbalanced")
    ref = afex("unbalanced")
    pgr = pg.mixed_anova(data=d, dv="score", within="wave", between="condition",
                         subject="student_id").set_index("Source")
    assert abs(pgr.loc["wave", "SS"] - ref.loc["wave", "ss"]) > 0.1
    res = mixed_anova(d).set_index("source")
    assert res.loc["wave", "ss"] == pytest.approx(ref.loc["wave", "ss"], rel=1e-9)
    # Between effect and interaction do not depend on the SS type here.
    assert pgr.loc["condition", "SS"] == pytest.approx(res.loc["condition", "ss"], rel=1e-9)
    assert pgr.loc["Interaction", "SS"] == pytest.approx(res.loc["condition:wave", "ss"], rel=1e-9)


def test_pingouin_documented_example():
    """pingouin's mixed_anova example (balanced): SS, F, p, np2 and GG ε agree."""
    df = pg.read_dataset("mixed_anova")
    ref = pg.mixed_anova(data=df, dv="Scores", within="Time", between="Group",
                         subject="Subject", correction=True, effsize="np2")
    res = mixed_anova(df, dv="Scores", within="Time", between="Group", subject="Subject")
    assert list(res["source"]) == ["Group", "Time", "Group:Time"]
    np.testing.assert_allclose(res["ss"], ref["SS"], rtol=1e-9)
    np.testing.assert_allclose(res["df1"], ref["DF1"], rtol=0)
    np.testing.assert_allclose(res["df2"], ref["DF2"], rtol=0)
    np.testing.assert_allclose(res["F"], ref["F"], rtol=1e-9)
    np.testing.assert_allclose(res["p_unc"], ref["p_unc"], rtol=1e-9)
    np.testing.assert_allclose(res["np2"], ref["np2"], rtol=1e-9)
    assert res.loc[1, "eps_gg"] == pytest.approx(ref.loc[1, "eps"], rel=1e-9)
    assert res.loc[1, "p_gg"] == pytest.approx(ref.loc[1, "p_GG_corr"], rel=1e-9)
    assert res.loc[1, "mauchly_w"] == pytest.approx(ref.loc[1, "W_spher"], rel=1e-9)
    assert res.loc[1, "mauchly_p"] == pytest.approx(ref.loc[1, "p_spher"], rel=1e-9)
    # Published values in pingouin's docstring (rounded to 3 decimals).
    assert res["F"].round(3).tolist() == [5.052, 4.027, 2.728]
    ng2 = pg.mixed_anova(data=df, dv="Scores", within="Time", between="Group",
                         subject="Subject", effsize="ng2")["ng2"]
    np.testing.assert_allclose(res["ng2"], ng2, rtol=1e-9)


def test_invariant_to_row_order_level_order_and_dtypes():
    d = load("g3k4")
    base = mixed_anova(d)
    shuffled = d.sample(frac=1, random_state=3).reset_index(drop=True)
    shuffled["wave"] = pd.Categorical(shuffled["wave"], categories=["T3", "T1", "T4", "T2"])
    shuffled["student_id"] = "x" + shuffled["student_id"]
    other = mixed_anova(shuffled)
    np.testing.assert_allclose(other[NUMERIC].to_numpy(float), base[NUMERIC].to_numpy(float),
                               rtol=1e-10, atol=1e-13)


def test_extra_rows_of_other_levels_do_not_leak():
    """A NaN score row is ignored, not treated as an observation."""
    d = load("balanced")
    extra = d.iloc[[0]].copy()
    extra["wave"] = "T2"
    extra["score"] = np.nan
    d2 = pd.concat([d[~((d["student_id"] == extra["student_id"].iloc[0]) & (d["wave"] == "T2"))],
                    extra])
    res = mixed_anova(d2)
    assert res.attrs["n_subjects"] == 49 and res.attrs["n_excluded"] == 1


def test_input_errors():
    d = load("balanced")
    with pytest.raises(StudyError, match="more than one"):
        mixed_anova(pd.concat([d, d.iloc[[0]]]))
    bad = d.copy()
    bad.loc[0, "condition"] = "control" if bad.loc[0, "condition"] == "mentee" else "mentee"
    with pytest.raises(StudyError, match="more than one value of 'condition'"):
        mixed_anova(bad)
    with pytest.raises(StudyError, match="at least 2 groups"):
        mixed_anova(d[d["condition"] == "mentee"])
    with pytest.raises(StudyError, match="not found"):
        mixed_anova(d, dv="nope")


@pytest.mark.parametrize("name", ["balanced", "unbalanced", "missing"])
def test_interaction_contrasts_match_r(name):
    res = interaction_contrasts(load(name))
    ref = CONTRASTS[CONTRASTS["dataset"] == name].set_index("contrast")
    assert list(res["contrast"]) == ["T2-T1", "T3-T2", "T3-T1"]
    assert list(res.columns) == ["contrast", "estimate", "F", "df1", "df2", "p_unc", "p_holm", "n"]
    ref = ref.loc[res["contrast"]]
    for col in ["estimate", "F", "df1", "df2", "p_unc", "p_holm", "n"]:
        np.testing.assert_allclose(res[col].to_numpy(float), ref[col].to_numpy(float),
                                   rtol=1e-6, atol=1e-10, err_msg=col)
    # The change-score F equals afex's condition:wave F on those two waves.
    np.testing.assert_allclose(res["F"].to_numpy(float), ref["F_afex"].to_numpy(float), rtol=1e-9)


def test_interaction_contrasts_available_pairs():
    """completers=False: per pair, every pupil with both waves; checked with scipy's
    pooled-variance t test on the change scores (F = t²)."""
    d = load("missing")
    res = interaction_contrasts(d, completers=False).set_index("contrast")
    wide = d.pivot(index=["student_id", "condition"], columns="wave", values="score").reset_index()
    for a, b in [("T1", "T2"), ("T2", "T3"), ("T1", "T3")]:
        w = wide.dropna(subset=[a, b])
        diff = w[b] - w[a]
        m, c = diff[w["condition"] == "mentee"], diff[w["condition"] == "control"]
        t = stats.ttest_ind(m, c, equal_var=True)
        row = res.loc[f"{b}-{a}"]
        assert row["n"] == len(w)
        assert row["df2"] == len(w) - 2
        assert row["estimate"] == pytest.approx(m.mean() - c.mean(), rel=1e-12)
        assert row["F"] == pytest.approx(t.statistic**2, rel=1e-10)
        assert row["p_unc"] == pytest.approx(t.pvalue, rel=1e-10)


def test_contrast_sign_is_mentee_minus_control_for_any_level_order():
    d = load("unbalanced")
    base = interaction_contrasts(d)
    d["condition"] = pd.Categorical(d["condition"], categories=["control", "mentee"])
    res = interaction_contrasts(d)
    np.testing.assert_allclose(res["estimate"], base["estimate"], rtol=1e-12)
    ref = CONTRASTS[CONTRASTS["dataset"] == "unbalanced"].set_index("contrast")
    assert res.set_index("contrast").loc["T3-T1", "estimate"] == pytest.approx(
        ref.loc["T3-T1", "estimate"], rel=1e-9)
