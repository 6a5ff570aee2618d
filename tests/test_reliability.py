"""Reliability against R (tests/reference/reliability_*): psych::alpha (raw alpha and its
Feldt CI, psych::alpha.ci) and omega total from stats::factanal one-factor ML loadings.

Reference values: ``Rscript tests/reference/reliability_reference.R``.
"""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval.stats.reliability import (cronbach_alpha, omega_total, reliability,
                                        reliability_table)

REF = Path(__file__).parent / "reference"
RESULTS = pd.read_csv(REF / "reliability_results.csv").set_index("dataset")
DATASETS = list(RESULTS.index)  # se9, im4, ha3 (3 items), hw5 (Heywood case)
COLUMNS = ["n", "n_items", "alpha", "alpha_ci_low", "alpha_ci_high", "omega"]


def items(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"reliability_items_{name}.csv")


@pytest.mark.parametrize("name", DATASETS)
def test_matches_r(name):
    res = reliability(items(name))
    ref = RESULTS.loc[name]
    assert list(res.index) == COLUMNS
    assert res["n"] == ref["n"] and res["n_items"] == ref["n_items"]
    for col in ["alpha", "alpha_ci_low", "alpha_ci_high", "omega"]:
        assert res[col] == pytest.approx(ref[col], abs=1e-6), col


@pytest.mark.parametrize("name", DATASETS)
def test_omega_close_to_psych_fa_ml(name):
    """psych::fa(fm='ml') optimises the same likelihood with a looser tolerance."""
    assert omega_total(items(name).dropna()) == pytest.approx(
        RESULTS.loc[name, "omega_psych_fa_ml"], abs=2e-5)


def test_alpha_hand_calculation():
    # Item variances 5/3, 4/3, 2/3 (sum 11/3); totals 5, 7, 10, 12 have variance 29/3.
    # alpha = 3/2 * (1 - 11/29) = 27/29.
    x = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 2, 4, 4], "c": [2, 3, 3, 4]})
    alpha, low, high = cronbach_alpha(x)
    assert alpha == pytest.approx(27 / 29, rel=1e-12)
    assert low < alpha < high


def test_listwise_deletion():
    x = items("se9")
    complete = x.dropna()
    assert len(complete) < len(x)
    a = reliability(x)
    b = reliability(complete)
    pd.testing.assert_series_equal(a, b)
    assert a["n"] == len(complete)


def test_degenerate_inputs():
    two = items("se9")[["SE01", "SE02"]]
    res = reliability(two)
    assert np.isfinite(res["alpha"]) and np.isnan(res["omega"])  # 1 factor, 2 items: not identified
    const = items("im4").dropna().assign(IM04=3)
    assert np.isnan(omega_total(const))
    one_row = items("im4").dropna().iloc[:1]
    res = reliability(one_row)
    assert res["n"] == 1 and res[["alpha", "omega"]].isna().all()


def test_table_builder():
    sets = {("self_efficacy", "T1"): items("se9"), ("intrinsic_motivation", "T2"): items("im4")}
    tab = reliability_table(sets)
    assert list(tab.columns) == ["scale", "wave", *COLUMNS]
    assert tab[["scale", "wave"]].values.tolist() == [["self_efficacy", "T1"],
                                                      ["intrinsic_motivation", "T2"]]
    assert tab.loc[0, "alpha"] == pytest.approx(RESULTS.loc["se9", "alpha"], abs=1e-6)
    assert tab.loc[1, "omega"] == pytest.approx(RESULTS.loc["im4", "omega"], abs=1e-6)
    assert tab["n"].dtype == "int64"
    tab2 = reliability_table([(s, w, df) for (s, w), df in sets.items()])
    pd.testing.assert_frame_equal(tab, tab2)
