"""Tests of mut_eval.stats.box_m (Box's M test of equal covariance matrices).

References: (a) published examples — the heplots documentation of ``boxM`` on iris
(chi-square (approx.) = 140.943, df = 20, log determinants setosa −13.0674, versicolor
−10.8743, virginica −8.9271, pooled −9.9585; friendly/heplots, docs/reference/boxM.md) and
the 2-group example of Trujillo-Ortiz et al. (2002, MBoxtest for MATLAB, after Stevens
1992, pp. 260–269: MBox = 27.1622, F = 2.6293, df1 = 6, df2 = 463, P = 0.0162);
(b) tests/reference/box_m_reference.R, an independent base-R implementation of Box (1949)
on iris, on two iris species (the other branch of the F approximation) and on the
example cohort's completers of two outcomes (tests/reference/box_m_example_data.csv).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval.stats.box_m import box_m, box_m_test

REF = Path(__file__).parent / "reference"
R = pd.read_csv(REF / "box_m_reference.csv").set_index("case")
IRIS = pd.read_csv(REF / "box_m_iris.csv")
EXAMPLE = pd.read_csv(REF / "box_m_example_data.csv")
MEASURES = ["Sepal.Length", "Sepal.Width", "Petal.Length", "Petal.Width"]
STEVENS = np.array([[23, 45, 15], [40, 85, 18], [215, 307, 60], [110, 110, 50], [65, 105, 24],
                    [277, 230, 63], [153, 80, 29], [306, 440, 105], [252, 350, 175], [143, 205, 42]], float)
COLS = ["box_m", "chi2", "chi2_df", "chi2_p", "F", "df1", "df2", "p"]


def _check(res: dict, case: str, rtol: float = 1e-8) -> None:
    ref = R.loc[case]
    for c in COLS:
        assert res[c] == pytest.approx(float(ref[c]), rel=rtol, abs=1e-300), (case, c)


def test_iris_published_heplots():
    res = box_m_test(IRIS[MEASURES], IRIS["Species"])
    assert round(res["chi2"], 3) == 140.943
    assert res["chi2_df"] == 20 and res["chi2_p"] < 2.2e-16
    # heplots' log determinants give M back: M = v ln|S_p| - sum v_i ln|S_i| (v_i = 49)
    m_published = 147 * -9.9585 - 49 * (-13.0674 - 10.8743 - 8.9271)
    assert res["box_m"] == pytest.approx(m_published, abs=0.02)   # 4-decimal rounding of the logdets
    assert res["equal_covariances"] is False
    assert res["n"] == {"setosa": 50, "versicolor": 50, "virginica": 50}


def test_published_two_group_example_f_approximation():
    res = box_m_test(STEVENS, [1] * 5 + [2] * 5)
    assert round(res["box_m"], 4) == 27.1622
    assert res["df1"] == 6 and int(res["df2"]) == 463
    # MBoxtest truncates df2 to 463 before computing F; with the exact df2 (as SPSS) F agrees to 4 decimals
    assert round(res["F"], 4) == 2.6293
    assert round(res["p"], 4) == 0.0162
    assert res["equal_covariances"] is True      # judged at alpha = .001


@pytest.mark.parametrize("case,cols,species", [
    ("iris", MEASURES, None),
    ("iris_sepal_2groups", ["Sepal.Length", "Sepal.Width"], ["setosa", "versicolor"]),
])
def test_iris_against_r(case, cols, species):
    d = IRIS if species is None else IRIS[IRIS["Species"].isin(species)]
    res = box_m_test(d[cols], d["Species"])
    _check(res, case)


def test_two_group_example_against_r():
    _check(box_m_test(STEVENS, [1] * 5 + [2] * 5), "trujillo_ortiz_2002")


@pytest.mark.parametrize("outcome", ["self_efficacy", "school_belonging"])
def test_example_cohort_against_r(outcome):
    d = EXAMPLE[EXAMPLE["outcome"] == outcome].reset_index(drop=True)
    long = (d.assign(student_id=[f"s{i}" for i in range(len(d))])
            .melt(id_vars=["student_id", "condition"], value_vars=["T1", "T2", "T3"], var_name="wave",
                  value_name="score"))
    out = box_m(long)
    assert list(out.columns) == ["box_m", "chi2", "chi2_df", "chi2_p", "F", "df1", "df2", "p", "n_mentee",
                                 "n_control", "alpha", "equal_covariances"]
    row = out.iloc[0]
    _check(row.to_dict(), f"example_{outcome}")
    ref = R.loc[f"example_{outcome}"]
    assert (row.n_mentee, row.n_control) == (ref.n_1, ref.n_2) == (122, 62)
    assert row.alpha == 0.001 and bool(row.equal_covariances) is (float(ref.p) >= 0.001)


def test_same_sample_as_mixed_anova():
    # a pupil without T3 is left out, as in mixed_anova
    d = EXAMPLE[EXAMPLE["outcome"] == "self_efficacy"].reset_index(drop=True)
    long = (d.assign(student_id=[f"s{i}" for i in range(len(d))])
            .melt(id_vars=["student_id", "condition"], value_vars=["T1", "T2", "T3"], var_name="wave",
                  value_name="score"))
    gone = long[~((long.student_id == "s0") & (long.wave == "T3"))]
    out = box_m(gone).iloc[0]
    assert out.n_mentee + out.n_control == len(d) - 1


def test_singular_group_gives_missing_not_error():
    # a group with fewer cases than measures (n_i <= p) or a constant measure has |S_i| = 0
    res = box_m_test(STEVENS[:7], [1] * 5 + [2] * 2)
    assert np.isnan(res["box_m"]) and res["equal_covariances"] is None
    flat = STEVENS.copy()
    flat[:5, 0] = 3.0
    res = box_m_test(flat, [1] * 5 + [2] * 5)
    assert np.isnan(res["F"]) and res["df1"] == 6
