"""Descriptives by hand calculation."""
import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.stats.descriptives import completers, descriptives, descriptives_table


def long_frame() -> pd.DataFrame:
    # Pupils a, b (mentee), c, d (control); d misses T2, b misses T3.
    rows = [
        ("a", "mentee", "T1", 3.0), ("a", "mentee", "T2", 4.0), ("a", "mentee", "T3", 5.0),
        ("b", "mentee", "T1", 1.0), ("b", "mentee", "T2", 2.0),
        ("c", "control", "T1", 2.0), ("c", "control", "T2", 2.0), ("c", "control", "T3", 3.0),
        ("d", "control", "T1", 4.0), ("d", "control", "T3", 1.0),
        ("e", "mentee", "T3", 2.0),
    ]
    d = pd.DataFrame(rows, columns=["student_id", "condition", "wave", "score"])
    d["outcome"] = "self_efficacy"
    return d


def test_descriptives_hand():
    res = descriptives(long_frame().sample(frac=1, random_state=1))
    assert res.columns.tolist() == ["condition", "wave", "n", "mean", "sd"]
    # Project order: mentee before control, T1 < T2 < T3.
    assert res[["condition", "wave"]].values.tolist() == [
        ["mentee", "T1"], ["mentee", "T2"], ["mentee", "T3"],
        ["control", "T1"], ["control", "T2"], ["control", "T3"]]
    # mentee T1: 3, 1 -> mean 2, sd sqrt(((1)^2 + (-1)^2)/1) = sqrt 2
    # mentee T3: 5, 2 -> mean 3.5, sd sqrt(2 * 1.5^2) = 1.5 sqrt 2
    # control T2: 2 alone -> sd NaN (n - 1 = 0)
    expected = {
        ("mentee", "T1"): (2, 2.0, np.sqrt(2)),
        ("mentee", "T2"): (2, 3.0, np.sqrt(2)),
        ("mentee", "T3"): (2, 3.5, 1.5 * np.sqrt(2)),
        ("control", "T1"): (2, 3.0, np.sqrt(2)),
        ("control", "T2"): (1, 2.0, np.nan),
        ("control", "T3"): (2, 2.0, np.sqrt(2)),
    }
    for _, r in res.iterrows():
        n, m, s = expected[(r["condition"], r["wave"])]
        assert r["n"] == n and r["mean"] == pytest.approx(m)
        if np.isnan(s):
            assert np.isnan(r["sd"])
        else:
            assert r["sd"] == pytest.approx(s)


def test_descriptives_table_samples():
    d = long_frame()
    other = d[d["wave"] == "T2"].assign(outcome="relationship_quality", score=lambda x: x["score"] + 1)
    tab = descriptives_table(pd.concat([d, other], ignore_index=True))
    assert tab.columns.tolist() == ["outcome", "sample", "condition", "wave", "n", "mean", "sd"]
    comp = tab[(tab["outcome"] == "self_efficacy") & (tab["sample"] == "completers")]
    # Completers: a (mentee) and c (control) only.
    assert comp["n"].tolist() == [1] * 6
    assert comp["mean"].tolist() == [3.0, 4.0, 5.0, 2.0, 2.0, 3.0]
    avail = tab[(tab["outcome"] == "self_efficacy") & (tab["sample"] == "available")]
    assert avail["n"].tolist() == [2, 2, 2, 2, 1, 2]
    # An outcome measured only at T2: every pupil scored at T2 is a completer.
    rq = tab[tab["outcome"] == "relationship_quality"]
    assert rq["sample"].tolist() == ["completers", "completers", "available", "available"]
    assert rq["n"].tolist() == [2, 1, 2, 1]
    assert rq["mean"].tolist() == [4.0, 3.0, 4.0, 3.0]


def test_order_ignores_categorical_order_for_project_levels():
    d = long_frame()
    d["wave"] = pd.Categorical(d["wave"], categories=["T3", "T2", "T1"])
    d["condition"] = pd.Categorical(d["condition"], categories=["control", "mentee"])
    res = descriptives(d)
    assert res["condition"].astype(str).tolist() == ["mentee"] * 3 + ["control"] * 3
    assert res["wave"].astype(str).tolist() == ["T1", "T2", "T3"] * 2


def test_completers_and_errors():
    d = long_frame()
    assert sorted(completers(d)["student_id"].unique()) == ["a", "c"]
    assert sorted(completers(d, levels=["T1", "T3"])["student_id"].unique()) == ["a", "c", "d"]
    with pytest.raises(StudyError):
        descriptives(d, dv="nope")
    one = descriptives(d, by=())
    assert one["n"].iloc[0] == 11 and one["mean"].iloc[0] == pytest.approx(29 / 11)
