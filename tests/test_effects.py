"""Effect sizes (WWC) by hand, and Table 1 against R (tests/reference/lmm_reference.R)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.effects import (
    cluster_corrected_t,
    cluster_correction,
    hedges_g,
    improvement_index,
    omega_correction,
    pooled_sd,
    sample_table,
)

REF = Path(__file__).parent / "reference"


def test_omega_by_hand():
    assert omega_correction(100) == pytest.approx(1 - 3 / 391, abs=1e-15)   # 4·100 − 9 = 391
    assert omega_correction(7) == pytest.approx(1 - 3 / 19, abs=1e-15)
    np.testing.assert_allclose(omega_correction([10, 20]), [1 - 3 / 31, 1 - 3 / 71])


def test_hedges_g_by_hand():
    # (4, 5, 6) vs (3, 4, 5): difference 1, both SDs 1 -> S = 1; N = 6 -> ω = 1 − 3/15 = 0.8
    assert hedges_g([4, 5, 6], [3, 4, 5]) == pytest.approx(0.8, abs=1e-15)
    # (2, 4, 6, 8) vs (1, 3, 5): means 5 and 3; SS = 20 and 8; S = √(28/5);
    # N = 7 -> ω = 1 − 3/19; g = ω · 2 / S = 0.7117088...
    S = math.sqrt(28 / 5)
    assert pooled_sd([2, 4, 6, 8], [1, 3, 5]) == pytest.approx(S, abs=1e-15)
    assert hedges_g([2, 4, 6, 8], [1, 3, 5]) == pytest.approx((1 - 3 / 19) * 2 / S, abs=1e-14)
    assert hedges_g([2, 4, 6, 8], [1, 3, 5]) == pytest.approx(0.711708847, abs=1e-9)
    # missing values are dropped; sign follows treatment − control
    assert hedges_g([3, 4, np.nan, 5], [4, 5, 6]) == pytest.approx(-0.8, abs=1e-15)
    assert math.isnan(hedges_g([1, 1], [1, 1]))


def test_improvement_index_by_hand():
    # Φ(0.21) = 0.58317 -> 100·0.58317 − 50 = 8.3 (the mentoring benchmark g ≈ 0.21)
    assert round(improvement_index(0.21), 1) == 8.3
    assert improvement_index(0.21) == pytest.approx(
        100 * 0.5 * (1 + math.erf(0.21 / math.sqrt(2))) - 50, abs=1e-12)
    assert improvement_index(0.0) == 0.0
    np.testing.assert_allclose(improvement_index([-0.21, 0.21]),
                               [-improvement_index(0.21), improvement_index(0.21)])


def test_cluster_correction_by_hand():
    # t = 2.5, N = 200 pupils, n̄ = 20 per class, ρ = .10:
    #   numerator   (N − 2) − 2(n̄ − 1)ρ = 198 − 2·19·0.1 = 194.2
    #   denominator (N − 2)(1 + (n̄ − 1)ρ) = 198 · 2.9 = 574.2
    #   t_a = 2.5 · √0.3382097 = 2.5 · 0.5815580 = 1.4538949
    t_a = 2.5 * math.sqrt(194.2 / 574.2)
    assert cluster_corrected_t(2.5, 200, 20, 0.10) == pytest.approx(t_a, abs=1e-12)
    assert t_a == pytest.approx(1.4538949, abs=1e-7)
    # df h = 194.2² / [198·0.9² + 20·(200 − 40)·0.1² + 2·(200 − 40)·0.1·0.9]
    #      = 37713.64 / (160.38 + 32 + 28.8) = 37713.64 / 221.18 = 170.511...
    res = cluster_correction(2.5, 200, 20, 0.10)
    assert res["t_corrected"] == pytest.approx(t_a, abs=1e-12)
    assert res["df"] == pytest.approx(37713.64 / 221.18, abs=1e-9)
    from scipy import stats
    assert res["p"] == pytest.approx(2 * stats.t.sf(t_a, 37713.64 / 221.18), abs=1e-12)
    # ρ = 0 leaves t unchanged; default ICC is the WWC .10 for non-achievement outcomes
    assert cluster_corrected_t(2.5, 200, 20, 0.0) == pytest.approx(2.5, abs=1e-15)
    assert cluster_corrected_t(2.5, 200, 20) == pytest.approx(t_a, abs=1e-12)


def test_sample_table_matches_r():
    students = pd.read_csv(REF / "lmm_students.csv")
    got = sample_table(students)
    ref = pd.read_csv(REF / "lmm_sample_tests.csv")
    assert list(got[["characteristic", "level"]].itertuples(index=False)) == \
        list(ref[["characteristic", "level"]].itertuples(index=False))
    assert list(got["test"]) == list(ref["test"])
    for col in ("mentee_n", "control_n"):
        np.testing.assert_array_equal(got[col].astype(float).to_numpy(), ref[col].to_numpy())
    for col in ("mentee_value", "control_value", "mentee_sd", "control_sd", "statistic",
                "df", "p", "std_diff"):
        np.testing.assert_allclose(got[col].astype(float), ref[col], atol=1e-9, rtol=0,
                                   err_msg=col)


def test_sample_table_by_hand():
    # 2 × 2 "girl" table: mentee 6 girls of 10, control 2 of 10 -> expected 4 < 5 -> Fisher.
    # Fisher two-sided p: hypergeometric(20, 8 girls, 10 mentees); P(x) for x = 0..8;
    # observed x = 6 has P = C(8,6)C(12,4)/C(20,10) = 28·495/184756 = 0.0750; tables at
    # least as unlikely: x ∈ {0,1,2,6,7,8} -> p = 2·(P6 + P7 + P8) by symmetry.
    c = math.comb
    P = [c(8, x) * c(12, 10 - x) / c(20, 10) for x in range(9)]
    p_fisher = sum(q for q in P if q <= P[6] * (1 + 1e-7))
    s = pd.DataFrame({"condition": ["mentee"] * 10 + ["control"] * 10,
                      "gender": ["girl"] * 6 + ["boy"] * 4 + ["girl"] * 2 + ["boy"] * 8,
                      "age": [12.0, 13.0] * 10})
    out = sample_table(s).set_index(["characteristic", "level"])
    row = out.loc[("gender", "girl")]
    assert row["test"] == "fisher_exact"
    assert row["p"] == pytest.approx(p_fisher, abs=1e-12)
    assert row["mentee_value"] == 60 and row["control_value"] == 20
    # Cohen's h = 2 asin √.6 − 2 asin √.2
    h = 2 * math.asin(math.sqrt(.6)) - 2 * math.asin(math.sqrt(.2))
    assert row["std_diff"] == pytest.approx(h, abs=1e-15)
    age = out.loc[("age", "mean")]
    assert age["mentee_value"] == 12.5 and age["std_diff"] == 0.0
    with pytest.raises(StudyError):
        sample_table(s.assign(condition="treated"))
