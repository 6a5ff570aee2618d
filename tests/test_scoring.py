"""Scoring rules of contract section 2, with hand calculations."""
import numpy as np
import pandas as pd
import pytest

from mut_eval.intake.codebook import load_codebook
from mut_eval.intake.scoring import score_scale, score_wave, scored_disagreements

CB = load_codebook()


def test_codebook_matches_contract():
    s = CB.scales
    assert s["self_efficacy"].items == tuple(f"SE{i:02d}" for i in range(1, 10))
    assert s["school_belonging"].reverse == ("SB03", "SB06", "SB09", "SB12", "SB16")
    assert s["help_seeking_academic"].reverse == ("HA05", "HA06")
    assert s["help_seeking_network"].reverse == ("NO02", "NO04", "NO07", "NO09")
    assert s["relationship_quality"].reverse == ("RQ04", "RQ08")
    assert s["relationship_quality"].waves == ("T2",) and s["relationship_quality"].group == "mentee"
    assert len(CB.outcomes) == 6 and CB.min_answered == 0.75


def test_reverse_coding_and_mean():
    # HA: items 1..6, HA05 and HA06 reversed (6 - x).
    row = {"HA01": 4, "HA02": 5, "HA03": 3, "HA04": 4, "HA05": 2, "HA06": 1}
    # scored: 4, 5, 3, 4, 6-2=4, 6-1=5 -> mean 25/6
    got = score_scale(pd.DataFrame([row]), CB.scales["help_seeking_academic"], CB)
    assert got.iloc[0] == pytest.approx(25 / 6)


def test_prorating_at_least_75_percent():
    im = CB.scales["intrinsic_motivation"]  # 4 items: 3 answered = 75% -> scored
    df = pd.DataFrame([{"IM01": 4, "IM02": 2, "IM03": 3, "IM04": np.nan},
                       {"IM01": 4, "IM02": np.nan, "IM03": np.nan, "IM04": 5}])
    got = score_scale(df, im, CB)
    assert got.iloc[0] == pytest.approx(3.0)
    assert np.isnan(got.iloc[1])  # 2 of 4 answered
    se = CB.scales["self_efficacy"]  # 9 items: 7 answered = 77.8% ok; 6 answered = 66.7% not
    row7 = {f"SE{i:02d}": 4 for i in range(1, 8)}
    row6 = {f"SE{i:02d}": 4 for i in range(1, 7)}
    got = score_scale(pd.DataFrame([row7, row6]), se, CB)
    assert got.iloc[0] == 4 and np.isnan(got.iloc[1])


def test_scored_column_accepted_and_items_win():
    wave = pd.DataFrame({"intrinsic_motivation": [3.25, 4.0],
                         "EM01": [5, 1], "EM02": [5, 1], "EM03": [5, 1], "EM04": [5, 1],
                         "extrinsic_motivation": [5.0, 2.0]})
    scores = score_wave(wave, CB, "T1")
    assert scores["intrinsic_motivation"].tolist() == [3.25, 4.0]       # given as a scale column
    assert scores["extrinsic_motivation"].tolist() == [5.0, 1.0]        # items win
    dis = scored_disagreements(wave, CB)
    assert dis[["row", "scale"]].values.tolist() == [[1, "extrinsic_motivation"]]


def test_relationship_quality_only_at_t2():
    wave = pd.DataFrame({f"RQ{i:02d}": [3] for i in range(1, 9)})
    assert "relationship_quality" in score_wave(wave, CB, "T2")
    assert "relationship_quality" not in score_wave(wave, CB, "T1")
