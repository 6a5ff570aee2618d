"""The staff edition's evidence rating (issue 15 item 2): each rule of
mut_eval.report.staff.evidence_rating on hand-made results."""
from pathlib import Path

import pandas as pd
import pytest

from mut_eval.report.build import Ctx
from mut_eval.report.staff import evidence_rating, locks_text, outcome_paragraph, for_whom_items
from mut_eval.results import Results


def _ctx(did=None, attrition="low", g_baseline=0.0, robustness=(), randomised=False, moderation=None):
    did = {"outcome": "self_efficacy", "contrast": "T3-T1", "estimate": 0.2, "ci_low": 0.05, "ci_high": 0.35,
           "g": 0.45, "g_ci_low": 0.15, "g_ci_high": 0.75, "p_holm": 0.01, "mentee_change": 0.1,
           "control_change": -0.1, **(did or {})}
    tables = {
        "did": pd.DataFrame([did]),
        "attrition": pd.DataFrame([{"outcome": "self_efficacy", "contrast": "T3-T1", "wwc_cautious": attrition}]),
        "baseline_equivalence": pd.DataFrame([{"outcome": "self_efficacy", "contrast": "T3-T1",
                                               "g_baseline": g_baseline}]),
        "did_robustness": pd.DataFrame([{"outcome": "self_efficacy", "contrast": "T3-T1", "model": m,
                                         "ci_low": lo, "ci_high": hi} for m, lo, hi in robustness],
                                       columns=["outcome", "contrast", "model", "ci_low", "ci_high"]),
    }
    if moderation is not None:
        tables["moderation"] = pd.DataFrame(moderation)
    res = Results(tables=tables, meta={"design": {"randomised": randomised}, "alpha": 0.05, "min_cell": 10})
    return Ctx(res, "nl", {}, Path("."))


def test_a_quasi_experiment_starts_at_three_locks_and_a_randomised_one_at_four():
    assert evidence_rating(_ctx(), "self_efficacy")[0] == 3
    assert evidence_rating(_ctx(randomised=True), "self_efficacy") == (4, [])


def test_each_weakness_takes_one_lock():
    assert evidence_rating(_ctx(attrition="high"), "self_efficacy")[0] == 2
    assert evidence_rating(_ctx(g_baseline=0.30), "self_efficacy")[0] == 2
    # .05-.25: only when the adjusted estimates reach another verdict (here: around 0)
    adj = [("weighted_dr", -0.02, 0.40)]
    assert evidence_rating(_ctx(g_baseline=0.15, robustness=adj), "self_efficacy")[0] == 1   # and robustness
    assert evidence_rating(_ctx(g_baseline=0.15, robustness=[("weighted_dr", 0.01, 0.4)]), "self_efficacy")[0] == 3
    assert evidence_rating(_ctx(did={"g_ci_low": -0.2, "g_ci_high": 0.7}), "self_efficacy")[0] == 2  # width .9
    # robustness: 2 of 4 other models disagree (> a quarter)
    rob = [("lmm_multilevel", 0.05, 0.35), ("cr2_change", 0.01, 0.3), ("cr2_ancova", 0.02, 0.3),
           ("lmm_pupil", -0.1, 0.3), ("wwc_corrected", -0.05, 0.4)]
    locks, why = evidence_rating(_ctx(robustness=rob), "self_efficacy")
    assert locks == 2 and any("rekenmethoden" in w for w in why)
    # never below 0
    worst = evidence_rating(_ctx(attrition="high", g_baseline=0.4, did={"g_ci_low": -0.5, "g_ci_high": 0.6},
                                 robustness=rob), "self_efficacy")
    assert worst[0] == 0 and locks_text(0) == "○○○○"


def test_a_difference_driven_by_the_control_group_is_said():
    ctx = _ctx(did={"mentee_change": 0.01, "control_change": -0.30})
    text = outcome_paragraph(ctx, "self_efficacy", evidence_rating(ctx, "self_efficacy"))[1]["text"]
    assert "vooral doordat de controlegroep daalde" in text and "●●●○ (3 van 4)" in text


def test_for_whom_only_prespecified_results_that_survive_bh():
    rows = [{"outcome": "self_efficacy", "change": "T2-T1", "moderator": "same_gender", "moderator_type": "binary",
             "b": 0.4, "p_bh": 0.01, "prespecified": True, "level": None, "reference": None},
            {"outcome": "self_efficacy", "change": "T2-T1", "moderator": "age", "moderator_type": "continuous",
             "b": -0.3, "p_bh": 0.01, "prespecified": False, "level": None, "reference": None},
            {"outcome": "self_efficacy", "change": "T3-T1", "moderator": "age", "moderator_type": "continuous",
             "b": -0.3, "p_bh": 0.20, "prespecified": True, "level": None, "reference": None}]
    items = for_whom_items(_ctx(moderation=rows))
    assert items == ["Bij mentees met dezelfde gender als hun mentor was de verandering in geloof in eigen kunnen "
                     "(T1–T2) gunstiger dan bij de andere mentees."]
