"""WWC baseline equivalence and attrition: by hand, published points, and R."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.wwc import (
    ATTRITION_BOUNDARY,
    attrition,
    attrition_boundary,
    attrition_rating,
    baseline_equivalence,
    wwc_band,
)

REF = Path(__file__).parent / "reference"
# Published points (WWC Procedures and Standards Handbook, Version 5.0, 2022; anchors.md): overall % -> max differential
PUBLISHED = {0: (5.7, 10.0), 10: (6.3, 10.9), 20: (5.4, 10.0), 30: (4.1, 8.2),
             40: (2.6, 6.0), 50: (1.0, 3.7)}


def test_wwc_bands():
    assert wwc_band(0.0) == "satisfies"
    assert wwc_band(0.05) == "satisfies"
    assert wwc_band(-0.05) == "satisfies"
    assert wwc_band(0.0501) == "adjust"
    assert wwc_band(-0.25) == "adjust"
    assert wwc_band(0.2501) == "fails"
    assert wwc_band(float("nan")) is None
    assert list(wwc_band([0.01, -0.1, 0.3])) == ["satisfies", "adjust", "fails"]


def test_boundary_table_agrees_with_published_points():
    t = ATTRITION_BOUNDARY.set_index("overall")
    assert list(t.index) == list(range(66))
    for pct, (cautious, optimistic) in PUBLISHED.items():
        assert t.loc[pct, "cautious"] == cautious
        assert t.loc[pct, "optimistic"] == optimistic
        assert attrition_boundary(pct, "cautious") == pytest.approx(cautious, abs=1e-12)
        assert attrition_boundary(pct, "optimistic") == pytest.approx(optimistic, abs=1e-12)
    # cautious: high from 58% overall
    assert t.loc[:57, "cautious"].notna().all() and t.loc[58:, "cautious"].isna().all()
    assert t["optimistic"].notna().all()
    # the boundary rises to a peak near 10% and then falls
    assert t["cautious"].idxmax() in range(7, 11) and t["optimistic"].idxmax() in range(8, 13)
    assert (t.loc[10:57, "cautious"].diff().dropna() <= 0).all()


def test_boundary_lookup_interpolation_and_limits():
    # between whole percents: linear; 25.5% -> (4.8 + 4.7)/2 cautious, (9.2 + 9.0)/2 optimistic
    assert attrition_boundary(25.5, "cautious") == pytest.approx(4.75, abs=1e-12)
    assert attrition_boundary(25.5, "optimistic") == pytest.approx(9.1, abs=1e-12)
    assert attrition_boundary(25.25, "cautious") == pytest.approx(4.8 - 0.25 * 0.1, abs=1e-12)
    assert attrition_boundary(25.5, "cautious", method="round") == 4.7   # -> 26%
    assert attrition_boundary(25.4, "cautious", method="round") == 4.8   # -> 25%
    assert math.isnan(attrition_boundary(58, "cautious"))
    assert math.isnan(attrition_boundary(70, "optimistic"))
    assert attrition_boundary(65, "optimistic") == 0.3
    assert attrition_boundary(57.5, "cautious") == 0.0


def test_attrition_rating_by_hand():
    # 30% overall, 6 points differential: cautious boundary 4.1 -> high; optimistic 8.2 -> low
    assert attrition_rating(0.30, 0.06, "cautious") == "high"
    assert attrition_rating(0.30, 0.06, "optimistic") == "low"
    # exactly on the boundary counts as low (20% -> 5.4 cautious), despite float noise
    assert attrition_rating(0.20, 0.054, "cautious") == "low"
    assert attrition_rating(0.20, 0.0541, "cautious") == "high"
    assert attrition_rating(0.08, 0.03) == "low"
    assert attrition_rating(0.60, 0.0, "cautious") == "high"
    assert attrition_rating(0.60, 0.0, "optimistic") == "low"       # boundary 1.4 at 60%
    assert attrition_rating(float("nan"), 0.01) is None


def test_baseline_equivalence_matches_r():
    d = pd.read_csv(REF / "lmm_study.csv")
    got = baseline_equivalence(d).set_index("contrast")
    ref = pd.read_csv(REF / "lmm_study_wwc.csv").set_index("contrast")
    assert list(got.index) == ["T2-T1", "T3-T1", "T3-T2"]
    np.testing.assert_array_equal(got["n_mentee"], ref["n_mentee"])
    np.testing.assert_array_equal(got["n_control"], ref["n_control"])
    np.testing.assert_allclose(got["g_baseline"], ref["g_baseline"], atol=1e-12)
    # R: g = 0.0891, -0.0897, -0.1013 -> all in .05 < |g| <= .25
    assert list(got["wwc"]) == ["adjust", "adjust", "adjust"]
    assert (got["outcome"] == "self_efficacy").all()


def test_attrition_matches_r():
    d = pd.read_csv(REF / "lmm_study.csv")
    got = attrition(d, {"mentee": 120, "control": 60}).set_index("contrast")
    ref = pd.read_csv(REF / "lmm_study_wwc.csv").set_index("contrast")
    for col in ("enrolled_mentee", "enrolled_control", "analytic_mentee", "analytic_control"):
        np.testing.assert_array_equal(got[col], ref[col])
    np.testing.assert_allclose(got["overall"], ref["overall"], atol=1e-14)
    np.testing.assert_allclose(got["differential"], ref["differential"], atol=1e-14)
    # T2-T1: 27.2% overall, 14.2 points differential: above both boundaries (~4.5 / ~8.8)
    assert list(got["wwc_cautious"]) == ["high"] * 3
    assert list(got["wwc_optimistic"]) == ["high"] * 3


def _panel(n_m, n_c, waves_m, waves_c):
    """Pupils with scores at the given waves (scores irrelevant for attrition)."""
    rows = []
    for cond, n, waves in (("mentee", n_m, waves_m), ("control", n_c, waves_c)):
        for i in range(n):
            for w in waves:
                rows.append((f"{cond[0]}{i}", cond, w, 3.0 + 0.01 * i))
    return pd.DataFrame(rows, columns=["student_id", "condition", "wave", "score"])


def test_attrition_by_hand():
    # enrolled 50 + 50; analysed 48 mentees, 46 controls (T1 and T2 only):
    # overall = 1 − 94/100 = 6%; differential = |4% − 8%| = 4 points
    # boundaries at 6%: cautious 6.2, optimistic 10.7 -> low, low
    d = _panel(48, 46, ("T1", "T2"), ("T1", "T2"))
    out = attrition(d, pd.Series({"mentee": 50, "control": 50}))
    assert list(out["contrast"]) == ["T2-T1"]
    row = out.iloc[0]
    assert row["overall"] == pytest.approx(0.06, abs=1e-15)
    assert row["differential"] == pytest.approx(0.04, abs=1e-15)
    assert (row["wwc_cautious"], row["wwc_optimistic"]) == ("low", "low")
    assert row["max_differential_cautious"] == pytest.approx(0.062, abs=1e-12)
    # 49 and 42 of 50: overall 9%, differential |2% − 16%| = 14 points -> high, high
    d = _panel(49, 42, ("T1", "T2"), ("T1", "T2"))
    row = attrition(d, {"mentee": 50, "control": 50}).iloc[0]
    assert row["overall"] == pytest.approx(0.09)
    assert row["differential"] == pytest.approx(0.14)
    assert (row["wwc_cautious"], row["wwc_optimistic"]) == ("high", "high")
    # 45 and 41 of 50: overall 14%, differential |10% − 18%| = 8 points
    # -> cautious boundary 6.0: high; optimistic boundary 10.8: low
    row = attrition(_panel(45, 41, ("T1", "T2"), ("T1", "T2")),
                    {"mentee": 50, "control": 50}).iloc[0]
    assert row["overall"] == pytest.approx(0.14)
    assert row["differential"] == pytest.approx(0.08)
    assert (row["wwc_cautious"], row["wwc_optimistic"]) == ("high", "low")


def test_t3_t2_sample_requires_t1():
    # mentees: 10 with T1-T3, 5 with T2 and T3 only; controls: 10 with T1-T3
    d = pd.concat([_panel(10, 10, ("T1", "T2", "T3"), ("T1", "T2", "T3")),
                   _panel(5, 0, ("T2", "T3"), ()).assign(
                       student_id=lambda x: "x" + x["student_id"])])
    be = baseline_equivalence(d).set_index("contrast")
    assert be.loc["T3-T2", "n_mentee"] == 10
    att = attrition(d, {"mentee": 15, "control": 10}).set_index("contrast")
    assert att.loc["T3-T2", "analytic_mentee"] == 10
    assert att.loc["T3-T2", "overall"] == pytest.approx(1 - 20 / 25)


def test_attrition_input_errors():
    d = _panel(10, 10, ("T1", "T2"), ("T1", "T2"))
    with pytest.raises(StudyError, match="enrolled"):
        attrition(d, {"mentee": 10})
    with pytest.raises(StudyError, match="more pupils analysed"):
        attrition(d, {"mentee": 5, "control": 10})


def test_long_data_errors():
    d = _panel(10, 10, ("T1", "T2"), ("T1", "T2"))
    with pytest.raises(StudyError, match="outcomes"):
        baseline_equivalence(pd.concat([d.assign(outcome="a"), d.assign(outcome="b")]))
    with pytest.raises(StudyError, match="not found"):
        baseline_equivalence(d.drop(columns="score"))
    with pytest.raises(StudyError, match="unknown condition"):
        baseline_equivalence(d.replace({"condition": {"control": "waitlist"}}))
    with pytest.raises(StudyError, match="unknown wave"):
        attrition(d.replace({"wave": {"T2": "T4"}}), {"mentee": 10, "control": 10})
    with pytest.raises(StudyError, match="'m0' has more than one score at wave 'T1'"):
        baseline_equivalence(pd.concat([d, d.iloc[[0]]]))
    two = d.copy()
    two.loc[0, "condition"] = "control"  # m0 at T1
    with pytest.raises(StudyError, match="'m0' has more than one value of 'condition'"):
        attrition(two, {"mentee": 10, "control": 10})
