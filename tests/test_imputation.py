"""Multiple imputation (mut_eval/stats/imputation.py).

References: tests/reference/mi_reference.json, written by mi_reference.R (R mice 3.15
``as.mids``/``pool``/``pool.scalar`` and clubSandwich 0.5.8 ``coef_test``) from
mi_imputations.csv, the m = 5 completed data sets that mi_make_data.py made with this
module. PMM is checked by its defining properties and a hand-checkable case.
"""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.imputation import (MI_COLUMNS, did_imputed, mi_completed, mi_did,
                                       pmm_impute, pool_rubin)

REF = Path(__file__).parent / "reference"
R = json.loads((REF / "mi_reference.json").read_text())
CELLS = [("y", "T2-T1"), ("y", "T3-T1"), ("z", "T2-T1"), ("z", "T3-T1")]


@pytest.fixture(scope="module")
def stacked():
    return pd.read_csv(REF / "mi_imputations.csv", keep_default_na=True)


@pytest.fixture(scope="module")
def completed(stacked):
    return [g.drop(columns=[".imp", ".id"]).reset_index(drop=True)
            for i, g in stacked.groupby(".imp") if i > 0]


def _rows(table, **keys):
    out = [r for r in R[table] if all(r[k] == v for k, v in keys.items())]
    assert out
    return out


# ------------------------------------------------------------------ pooling = mice

@pytest.mark.parametrize("outcome,contrast", CELLS)
def test_pool_rubin_equals_mice_pool(outcome, contrast):
    per = sorted(_rows("per_imputation", outcome=outcome, contrast=contrast, cluster="ols"),
                 key=lambda r: r["imputation"])
    ref = _rows("mice_pool", outcome=outcome, contrast=contrast)[0]
    res = pool_rubin([r["estimate"] for r in per], [r["se"] ** 2 for r in per], dfcom=ref["dfcom"])
    for ours, theirs in [("qbar", "estimate"), ("ubar", "ubar"), ("b", "b"), ("t", "t"),
                         ("df", "df"), ("riv", "riv"), ("lambda", "lambda"), ("fmi", "fmi"),
                         ("se", "se"), ("p", "p"), ("ci_low", "ci_low"), ("ci_high", "ci_high")]:
        assert res[ours] == pytest.approx(ref[theirs], rel=1e-10, abs=1e-12), ours


@pytest.mark.parametrize("case", ["b_zero", "dfcom_inf", "m_two"])
def test_pool_rubin_edge_cases_equal_pool_scalar(case):
    ref = R["pool_scalar_cases"][case]
    dfcom = np.inf if ref["dfcom"] in ("Inf", None) else ref["dfcom"]
    res = pool_rubin(ref["Q"], ref["U"], dfcom=dfcom)
    for ours, theirs in [("qbar", "qbar"), ("ubar", "ubar"), ("b", "b"), ("t", "t"),
                         ("df", "df"), ("riv", "riv"), ("fmi", "fmi")]:
        assert res[ours] == pytest.approx(ref[theirs], rel=1e-10, abs=1e-14), ours


def test_pool_rubin_hand_calculation_and_errors():
    # Q = (1, 2, 3), U = 0.5 each, dfcom = inf: b = 1, t = 0.5 + 4/3 = 11/6,
    # λ = (4/3)/(11/6) = 8/11, df = (m − 1)/λ² = 2·121/64 = 3.78125
    res = pool_rubin([1, 2, 3], [0.5, 0.5, 0.5])
    assert res["t"] == pytest.approx(11 / 6) and res["df"] == pytest.approx(3.78125)
    assert res["riv"] == pytest.approx((4 / 3) / 0.5) and res["lambda"] == pytest.approx(8 / 11)
    with pytest.raises(StudyError, match="at least two"):
        pool_rubin([1.0], [0.1])
    with pytest.raises(StudyError):
        pool_rubin([1.0, np.nan], [0.1, 0.1])


# ------------------------------------------------------------------ CR2 path = clubSandwich

@pytest.mark.parametrize("cluster", ["cr2", "hc2"])
def test_did_imputed_equals_clubsandwich_and_pool_scalar(completed, cluster):
    clusters = completed[0]["class"].to_numpy() if cluster == "cr2" else None
    per, pooled = did_imputed(completed, ["y", "z"], ("T2-T1", "T3-T1"), clusters=clusters)
    for o, c in CELLS:
        ref = sorted(_rows("per_imputation", outcome=o, contrast=c, cluster=cluster),
                     key=lambda r: r["imputation"])
        ours = per[(per.outcome == o) & (per.contrast == c)].sort_values("imputation")
        np.testing.assert_allclose(ours["estimate"], [r["estimate"] for r in ref], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(ours["se"], [r["se"] for r in ref], rtol=1e-8)
        np.testing.assert_allclose(ours["df"], [r["df"] for r in ref], rtol=1e-8)
        # ν_com: the same in every imputation (it depends on the design and clusters only)
        assert np.ptp([r["df"] for r in ref]) < 1e-8 * ref[0]["df"]
        pr = _rows("pooled_cr2", outcome=o, contrast=c, cluster=cluster)[0]
        row = pooled[(pooled.outcome == o) & (pooled.contrast == c)].iloc[0]
        for ours_k, theirs in [("estimate", "qbar"), ("df", "df"), ("riv", "riv"), ("fmi", "fmi"),
                               ("ci_low", "ci_low"), ("ci_high", "ci_high"), ("p", "p")]:
            assert row[ours_k] == pytest.approx(pr[theirs], rel=1e-8), ours_k
        assert row["se"] == pytest.approx(np.sqrt(pr["t"]), rel=1e-8)
        assert row["m"] == 5 and row["n_pupils"] == 80
        assert row["n_clusters"] == (8 if cluster == "cr2" else 80)
    assert list(pooled.columns) == MI_COLUMNS


def test_stored_imputations_are_mi_completed_output(stacked):
    """Guard: the stored completed sets are this module's (seed 11), so the reference
    above checks the same data sets mi_did analyses."""
    wide = pd.read_csv(REF / "mi_wide.csv")
    done = mi_completed(wide, ["y", "z"], covariates=wide[["age", "ses"]], m=5, seed=11)
    for i, frame in enumerate(done, start=1):
        stored = stacked[stacked[".imp"] == i].reset_index(drop=True)
        for col in ["y_T1", "y_T2", "y_T3", "z_T1", "z_T2", "z_T3", "age", "mentee"]:
            np.testing.assert_array_equal(frame[col].to_numpy(float), stored[col].to_numpy(float))
        assert list(frame["ses"]) == list(stored["ses"])


# ------------------------------------------------------------------ PMM properties

def _toy(n=300, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "y": np.round(2 + x + rng.normal(0, .5, n), 1),
                       "b": (x + rng.normal(size=n) > 0).astype(float),
                       "g": rng.choice(["north", "south", "east", "west"], n).astype(object),
                       "const": 1.0, "x2": 2 * x})
    df.loc[rng.random(n) < .25, "y"] = np.nan
    df.loc[rng.random(n) < .2, "b"] = np.nan
    df.loc[rng.random(n) < .2, "g"] = np.nan
    return df


def test_pmm_imputes_observed_values_keeps_observed_and_is_seeded():
    df = _toy()
    out = pmm_impute(df, m=3, seed=5)
    for done in out:
        assert not done.isna().any().any()
        for col in ["y", "b", "g"]:
            obs = df[col].notna()
            assert (done.loc[obs, col] == df.loc[obs, col]).all()
            assert set(done.loc[~obs, col]) <= set(df.loc[obs, col])
        pd.testing.assert_frame_equal(done[["x", "const", "x2"]], df[["x", "const", "x2"]])
    again = pmm_impute(df, m=3, seed=5)
    for a, b in zip(out, again):
        pd.testing.assert_frame_equal(a, b)
    other = pmm_impute(df, m=1, seed=6)[0]
    assert not other.equals(out[0])


def test_pmm_hand_checkable_donors():
    # x is 0 (five rows) or 10 (five rows), y = x + d with d = −2, −1, 0, 1, 2 (cor(x, y) =
    # √(25/27) ≈ .96 < .99, so x stays a predictor). The fit is ŷ = x: predictions 0 and 10;
    # the missing row has x = 10, so its 5 nearest observed predictions are the five rows
    # with x = 10 and the imputation is one of 8, 9, 10, 11, 12 — each for some seed.
    x = np.array([0.0] * 5 + [10.0] * 5 + [10.0])
    y = np.array([-2, -1, 0, 1, 2, 8, 9, 10, 11, 12, np.nan])
    seen = set()
    for seed in range(60):
        done = pmm_impute(pd.DataFrame({"x": x, "y": y}), m=1, seed=seed, donors=5)[0]
        seen.add(done["y"].iloc[-1])
    assert seen == {8.0, 9.0, 10.0, 11.0, 12.0}
    # one donor: the nearest prediction, with ties (five rows predicted 10) at random
    one = {pmm_impute(pd.DataFrame({"x": x, "y": y}), m=1, seed=s, donors=1)[0]["y"].iloc[-1]
           for s in range(40)}
    assert one == {8.0, 9.0, 10.0, 11.0, 12.0}


def test_pmm_categorical_binary_text_and_predictor_exclusion():
    df = _toy()
    df["sex"] = np.where(df["x"] > 0, "girl", "boy").astype(object)
    df.loc[df.index[:30], "sex"] = np.nan
    out = pmm_impute(df, m=2, seed=1, exclude_as_predictor=["x2", "const"])
    for done in out:
        assert set(done["sex"]) == {"girl", "boy"} and set(done["g"]) <= {"north", "south", "east", "west"}
    # the strong predictor x makes the imputed sex follow it (girl where x > 0)
    agree = np.mean([(d.loc[df.index[:30], "sex"] == np.where(df["x"][:30] > 0, "girl", "boy")).mean()
                     for d in out])
    assert agree > 0.8
    with pytest.raises(StudyError, match="not in the data"):
        pmm_impute(df, exclude_as_predictor=["nope"])


def test_pmm_errors():
    df = _toy()
    df["empty"] = np.nan
    with pytest.raises(StudyError, match="'empty'"):
        pmm_impute(df, m=2)
    with pytest.raises(StudyError):
        pmm_impute(_toy(), m=0)


def test_pmm_under_mar_recovers_the_mean():
    # y depends on x; y is missing more often for large x (MAR given x): the complete-case
    # mean is too low, the mean of the imputed data sets is close to the full sample's.
    rng = np.random.default_rng(42)
    n = 2000
    x = rng.normal(size=n)
    y = 1 + x + rng.normal(0, .6, n)
    miss = rng.random(n) < 1 / (1 + np.exp(-(2 * x - 0.5)))
    df = pd.DataFrame({"x": x, "y": np.where(miss, np.nan, y)})
    full = y.mean()
    cc_bias = df["y"].mean() - full
    done = pmm_impute(df, m=5, seed=1)
    pooled = np.mean([d["y"].mean() for d in done])
    assert cc_bias < -0.4
    assert abs(pooled - full) < 0.1


# ------------------------------------------------------------------ mi_did

def test_mi_did_example_and_errors():
    from mut_eval.panel import load_panel
    from mut_eval.stats.cluster_robust import unique_clusters
    wide = load_panel("mut_eval/data/example_study").wide
    cov = wide[["age", "gender", "ses", "first_generation", "migration_background"]]
    res = mi_did(wide, ["self_efficacy"], covariates=cov, clusters=unique_clusters(wide), m=3, seed=2)
    assert list(res.columns) == MI_COLUMNS and len(res) == 2
    assert (res["model"] == "multiple_imputation").all() and (res["n_pupils"] == len(wide)).all()
    assert res["se"].gt(0).all() and res["fmi"].between(0, 1).all() and (res["n_clusters"] == 8).all()
    with pytest.raises(StudyError, match="contrast"):
        mi_did(wide, ["self_efficacy"], contrasts=("T4-T1",), m=2)
    with pytest.raises(StudyError, match="m ≥ 2"):
        mi_did(wide, ["self_efficacy"], m=1)
    bad = wide.copy()
    bad["condition"] = bad["condition"].astype(object)
    bad.iloc[0, bad.columns.get_loc("condition")] = None
    with pytest.raises(StudyError, match="no condition"):
        mi_did(bad, ["self_efficacy"], m=2)
    with pytest.raises(StudyError, match="not found"):
        mi_did(wide, ["nope"], m=2)
