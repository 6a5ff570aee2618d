"""Tests of mut_eval.match.match_moderators on hand-made mentor-mentee pairs."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.match import MATCH_COLUMNS, jaccard, match_moderators


def _frames():
    students = pd.DataFrame({
        "student_id": ["s1", "s2", "s3", "s4", "s5"],
        "condition": ["mentee", "mentee", "mentee", "mentee", "control"],
        "gender": ["girl", "boy", "unknown", "girl", "boy"],
        "migration_background": ["yes", "no", "yes", "unknown", "no"],
        "ses": ["low", "high", "middle", "unknown", "low"],
        "first_generation": ["yes", "no", "unknown", "yes", "no"],
        "interests": ["Football; music ;gaming", "", "Art", np.nan, "x"],
        "intended_study": ["Medicine", "law ", np.nan, "Economics", "x"],
    }).set_index("student_id")
    mentors = pd.DataFrame({
        "mentor_id": ["m1", "m2"],
        "gender": ["girl", "girl"],
        "migration_background": ["yes", "no"],
        "ses": ["low", "middle"],
        "first_generation": ["yes", "no"],
        "study_programme": [" medicine", "Law"],
        "interests": ["music;Gaming;reading", "art"],
    }).set_index("mentor_id")
    matches = pd.DataFrame({
        "student_id": ["s1", "s2", "s3"],
        "mentor_id": ["m1", "m2", "m2"],
        "format": ["individual", "group", "Group"],
        "group_size": [1, 3, 3],
        "sessions_planned": [20, 20, 0],
        "sessions_attended": [15, 8, 0],
    })
    rq = pd.Series({"s1": 4.25, "s3": 3.5}, name="relationship_quality")
    return students, mentors, matches, rq


def test_hand_made_pairs():
    students, mentors, matches, rq = _frames()
    out = match_moderators(students, mentors, matches, relationship_quality=rq)
    assert list(out.index) == ["s1", "s2", "s3", "s4"]  # s4: mentee without a match; s5 a control
    assert list(out.columns) == list(MATCH_COLUMNS)

    s1 = out.loc["s1"]
    # girl-girl, yes-yes, low-low, yes-yes, "Medicine" vs " medicine" -> all shared
    assert [s1[c] for c in ("same_gender", "same_migration_background", "same_ses",
                            "same_first_generation", "same_study")] == ["yes"] * 5
    # {football, music, gaming} vs {music, gaming, reading}: 2 shared of 4 distinct
    assert s1.interest_overlap == pytest.approx(2 / 4)
    assert s1.n_shared == 5 and s1.n_shared_known == 5
    assert s1.relationship_quality == 4.25
    assert s1.sessions_attended == 15 and s1.attendance_share == pytest.approx(0.75)
    assert s1.format == "individual" and s1.group_size == 1

    s2 = out.loc["s2"]
    # boy-girl no, no-no yes, high-middle no, no-no yes, "law " vs "Law" yes; no interests
    assert [s2[c] for c in ("same_gender", "same_migration_background", "same_ses",
                            "same_first_generation", "same_study")] == ["no", "yes", "no", "yes", "yes"]
    assert np.isnan(s2.interest_overlap)
    assert s2.n_shared == 3 and s2.n_shared_known == 5
    assert np.isnan(s2.relationship_quality)
    assert s2.attendance_share == pytest.approx(0.4) and s2.format == "group"

    s3 = out.loc["s3"]
    # gender unknown, first generation unknown, study missing -> NaN; yes-no, middle-middle
    assert pd.isna(s3.same_gender) and pd.isna(s3.same_first_generation) and pd.isna(s3.same_study)
    assert s3.same_migration_background == "no" and s3.same_ses == "yes"
    assert s3.interest_overlap == 1.0  # "Art" vs "art"
    assert s3.n_shared == 1 and s3.n_shared_known == 2  # unknowns count as not shared
    assert np.isnan(s3.attendance_share)  # 0 of 0 planned
    assert s3.format == "group"

    s4 = out.loc["s4"]
    assert s4[["same_gender", "same_ses", "interest_overlap", "n_shared", "format"]].isna().all()
    assert s4.n_shared_known == 0


def test_jaccard_edge_cases():
    assert jaccard("a;b", "B ; c;") == pytest.approx(1 / 3)
    assert np.isnan(jaccard("a", "")) and np.isnan(jaccard(None, "a")) and np.isnan(jaccard(" ; ", "a"))


def test_unknown_mentor_and_duplicates():
    students, mentors, matches, _ = _frames()
    matches.loc[0, "mentor_id"] = "m9"
    out = match_moderators(students, mentors, matches)
    assert out.loc["s1", ["same_gender", "same_study", "interest_overlap"]].isna().all()
    assert out.relationship_quality.isna().all()
    dup = pd.concat([matches, matches.head(1)])
    with pytest.raises(StudyError, match="only one row"):
        match_moderators(students, mentors, dup)
