"""Tests of the synthetic cohort generator (mut_eval.synth).

Reference values are written out here from design/brief.md (the published report's
Table 2 and sample description), not taken from mut_eval.synth.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from mut_eval.intake.codebook import load_codebook
from mut_eval.intake.scoring import score_wave
from mut_eval.synth import generate_study, write_study

WAVES = ("T1", "T2", "T3")

# Table 2 of the report (completers; mentees n = 122, controls n = 62): M, SD.
TABLE2 = {
    ("self_efficacy", "mentee"): [(3.66, .45), (3.87, .59), (3.69, .57)],
    ("self_efficacy", "control"): [(3.76, .41), (4.18, .47), (3.58, .56)],
    ("help_seeking_academic", "mentee"): [(4.18, .90), (4.04, .77), (3.90, 1.02)],
    ("help_seeking_academic", "control"): [(4.16, .68), (3.88, .71), (3.74, .74)],
    ("help_seeking_network", "mentee"): [(3.84, .55), (3.86, .46), (3.80, .53)],
    ("help_seeking_network", "control"): [(4.01, .34), (4.01, .59), (3.88, .53)],
    ("intrinsic_motivation", "mentee"): [(3.89, .52), (3.95, .56), (3.84, .61)],
    ("intrinsic_motivation", "control"): [(3.80, .60), (3.98, .60), (3.71, .68)],
    ("extrinsic_motivation", "mentee"): [(3.74, .53), (3.80, .60), (3.88, .41)],
    ("extrinsic_motivation", "control"): [(3.74, .55), (3.80, .64), (3.73, .63)],
    ("school_belonging", "mentee"): [(3.61, .71), (3.59, .79), (3.51, .85)],
    ("school_belonging", "control"): [(3.72, .72), (3.77, .86), (3.50, .88)],
}


@pytest.fixture(scope="module")
def cb():
    return load_codebook()


@pytest.fixture(scope="module")
def study():
    return generate_study(seed=2020)


@pytest.fixture(scope="module")
def scores(study, cb):
    return {w: score_wave(study[f"wave_{w}"].set_index("student_id"), cb, w) for w in WAVES}


def _completers(scores, outcome):
    return pd.concat({w: scores[w][outcome] for w in WAVES}, axis=1).dropna()


def test_calibration_to_table2(study, scores):
    cond = study["students"].set_index("student_id")["condition"]
    worst_mean = worst_sd = 0.0
    for (outcome, condition), targets in TABLE2.items():
        wide = _completers(scores, outcome)
        sub = wide[cond.reindex(wide.index).to_numpy() == condition]
        assert len(sub) == (122 if condition == "mentee" else 62)
        for w, (m, sd) in zip(WAVES, targets):
            worst_mean = max(worst_mean, abs(sub[w].mean() - m))
            worst_sd = max(worst_sd, abs(sub[w].std(ddof=1) - sd))
    assert worst_mean <= 0.05
    assert worst_sd <= 0.08


def _ses(p1: str, p2: str) -> str:
    # contract section 1, written out independently of the generator
    known = [p for p in (p1, p2) if p != "unknown"]
    if not known:
        return "unknown"
    if any(p in ("hbo", "wo") for p in known):
        return "high"
    if any(p in ("havo", "vwo", "hbo", "wo") for p in known):
        return "middle"
    return "low"


def _first_gen(p1: str, p2: str) -> str:
    known = [p for p in (p1, p2) if p != "unknown"]
    if not known:
        return "unknown"
    return "no" if any(p in ("vwo", "wo") for p in known) else "yes"


@pytest.mark.parametrize("condition,age,girls,mig,ses,fg,origin", [
    # brief.md: age M (SD), % girls, % migration background, SES low/high/unknown %,
    # first generation %, origin shares
    ("mentee", (14.33, .51), 45, 61.3, (19.4, 57.3, 23.4), 26.6,
     {"moroccan": 21.8, "turkish": 12.1, "surinamese": 6.5, "other_western": 4.8,
      "other_non_western": 16.1}),
    ("control", (14.13, 1.33), 49, 31.7, (11.1, 73.0, 15.9), 22.2,
     {"moroccan": 6.3, "turkish": 3.2, "surinamese": 3.2, "antillean": 1.6,
      "other_western": 4.8, "other_non_western": 12.7}),
])
def test_demographics(study, condition, age, girls, mig, ses, fg, origin):
    st = study["students"]
    g = st[st["condition"] == condition]
    assert len(g) == (124 if condition == "mentee" else 66)
    a = g["age"].astype(float)
    assert abs(a.mean() - age[0]) < .1 and abs(a.std(ddof=1) - age[1]) < .15
    assert a.between(12.5, 17.5).all()
    pct = lambda mask: 100 * float(np.mean(mask))  # noqa: E731
    assert abs(pct(g["gender"] == "girl") - girls) < 5
    assert pct(~g["gender"].isin(["girl", "boy"])) < 3
    assert abs(pct(g["origin"] != "dutch") - mig) < 5
    for code, share in origin.items():
        assert abs(pct(g["origin"] == code) - share) < 3
    s = [_ses(p1, p2) for p1, p2 in zip(g["education_parent1"], g["education_parent2"])]
    f = [_first_gen(p1, p2) for p1, p2 in zip(g["education_parent1"], g["education_parent2"])]
    for code, share in zip(("low", "high", "unknown"), ses):
        assert abs(pct(np.array(s) == code) - share) < 5
    assert abs(pct(np.array(f) == "yes") - fg) < 5


def test_design_schools_and_classes(study):
    st = study["students"]
    assert st["student_id"].is_unique and st["student_id"].str.fullmatch(r"SYN\d{4}").all()
    assert st.groupby("condition")["school"].nunique().to_dict() == {"control": 3, "mentee": 5}
    assert set(st["city"]) == {"Rotterdam", "Amsterdam"}
    # a class belongs to one school and one condition
    assert (st.groupby("class")[["school", "condition"]].nunique() == 1).all().all()
    tags = st["interests"].str.split(";")
    assert tags.map(len).between(2, 4).all()


def test_answers_and_missingness(study, cb):
    ids = set(study["students"]["student_id"])
    cond = study["students"].set_index("student_id")["condition"]
    rq = list(cb.scales["relationship_quality"].items)
    outcome_items = [i for k in cb.outcomes for i in cb.scales[k].items]
    n_present = {}
    for w in WAVES:
        df = study[f"wave_{w}"]
        assert df["student_id"].is_unique and set(df["student_id"]) <= ids
        assert list(df["student_id"]) == sorted(df["student_id"])
        n_present[w] = len(df)
        vals = df[outcome_items].to_numpy(dtype=float)
        answered = vals[~np.isnan(vals)]
        assert np.isin(answered, [1, 2, 3, 4, 5]).all()
        assert 0.005 < np.isnan(vals).mean() < 0.03
        if w == "T2":
            c = cond.reindex(df["student_id"]).to_numpy()
            rqv = df[rq].to_numpy(dtype=float)
            assert np.isnan(rqv[c == "control"]).all()
            assert np.isin(rqv[c == "mentee"][~np.isnan(rqv[c == "mentee"])], [1, 2, 3, 4, 5]).all()
        else:
            assert not set(rq) & set(df.columns)
        assert pd.to_datetime(df["date"]).notna().all()
    # dates: T1 mid-September 2019, T2 end of June 2020, T3 October/November 2020
    assert study["wave_T1"]["date"].str.startswith("2019-09").all()
    assert study["wave_T2"]["date"].str.startswith("2020-06").all()
    assert study["wave_T3"]["date"].str[:7].isin(["2020-10", "2020-11"]).all()
    n = len(ids)
    assert n - n_present["T2"] > n - n_present["T1"]  # attrition at the school closure
    assert n_present["T3"] < n


def test_reverse_coded_items_stored_as_answered(study, cb):
    # A reverse-coded item correlates negatively with the rest of its scale when stored raw.
    df = study["wave_T1"]
    for key in ("school_belonging", "help_seeking_academic", "help_seeking_network"):
        scale = cb.scales[key]
        plain = [i for i in scale.items if i not in scale.reverse]
        rest = df[plain].astype(float).mean(axis=1)
        for item in scale.reverse:
            assert df[item].astype(float).corr(rest) < 0


def _alpha(x: np.ndarray) -> float:
    # Cronbach (1951): k/(k-1) * (1 - sum of item variances / variance of the sum)
    k = x.shape[1]
    return k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))


def test_reliability_is_realistic(study, cb):
    for w in WAVES:
        df = study[f"wave_{w}"]
        for key, scale in cb.scales.items():
            if w not in scale.waves:
                continue
            x = df[list(scale.items)].astype(float)
            for item in scale.reverse:
                x[item] = 6 - x[item]
            x = x.dropna().to_numpy()
            assert .65 <= _alpha(x) <= .95, (key, w)


def test_relationship_quality_level(scores):
    rq = scores["T2"]["relationship_quality"].dropna()
    assert 3.7 <= rq.mean() <= 4.1


def test_matches_and_mentors(study):
    st = study["students"].set_index("student_id")
    m = study["matches"]
    mentees = set(st.index[st["condition"] == "mentee"])
    assert m["student_id"].is_unique and set(m["student_id"]) == mentees
    assert set(m["mentor_id"]) <= set(study["mentors"]["mentor_id"])
    assert (m["sessions_attended"] <= m["sessions_planned"]).all()
    assert (m["sessions_attended"] >= 0).all() and (m["sessions_planned"] == 20).all()
    assert m["sessions_attended"].median() in range(9, 13)
    size = m.groupby("mentor_id")["student_id"].transform("size")
    assert (m["group_size"] == size).all()
    assert ((m["format"] == "individual") == (m["group_size"] == 1)).all()
    assert m["group_size"].between(1, 4).all()
    assert (m["format"] == "group").mean() > .7
    assert (m.assign(school=st.loc[m["student_id"], "school"].to_numpy())
            .groupby("mentor_id")["school"].nunique() == 1).all()
    assert 30 <= len(study["mentors"]) <= 55  # about one mentor per three mentees
    assert study["mentors"]["mentor_id"].is_unique


def test_qsort(study):
    q = study["qsort"]
    cards = ["self_efficacy", "motivation", "school_belonging", "help_seeking"]
    assert len(q) == 13
    assert (np.sort(q[cards].to_numpy(), axis=1) == [1, 2, 3, 4]).all()
    assert (q["motivation"] <= 2).sum() == 12
    assert (q["school_belonging"] == 4).sum() == 11
    mentees = set(study["students"].query("condition == 'mentee'")["student_id"])
    assert set(q["student_id"]) <= mentees


def _age_slope(tables, cb) -> float:
    sc = {w: score_wave(tables[f"wave_{w}"].set_index("student_id"), cb, w) for w in ("T1", "T3")}
    st = tables["students"].set_index("student_id")
    change = (sc["T3"]["school_belonging"] - sc["T1"]["school_belonging"].reindex(sc["T3"].index)).dropna()
    change = change[st.loc[change.index, "condition"].to_numpy() == "mentee"]
    age = st.loc[change.index, "age"].astype(float).to_numpy()
    design = np.column_stack([np.ones(len(age)), age])
    return float(np.linalg.lstsq(design, change.to_numpy(), rcond=None)[0][1])


def _binary_slope(tables, scores, outcome, change, same):
    later, earlier = change.split("-")
    d = (scores[later][outcome] - scores[earlier][outcome].reindex(scores[later].index)).dropna()
    d = d[d.index.isin(same.index)]
    x = same.reindex(d.index)
    ok = x.notna().to_numpy()
    design = np.column_stack([np.ones(ok.sum()), x[ok].to_numpy(dtype=float)])
    return float(np.linalg.lstsq(design, d[ok].to_numpy(), rcond=None)[0][1])


def test_planted_moderation_recovered(study, scores, cb):
    assert _age_slope(study, cb) < 0  # planted b = -0.28 per year
    st = study["students"].set_index("student_id")
    m = study["matches"].set_index("student_id")
    mentors = study["mentors"].set_index("mentor_id").loc[m["mentor_id"]]
    mentors.index = m.index
    pupil = st.loc[m.index]
    known = pupil["gender"].isin(["girl", "boy"])
    same_gender = (pupil["gender"] == mentors["gender"]).astype(float).where(known)
    same_mig = ((pupil["origin"] != "dutch") == (mentors["origin"] != "dutch")).astype(float)
    ses_p = pd.Series([_ses(a, b) for a, b in zip(pupil["education_parent1"], pupil["education_parent2"])], index=m.index)
    ses_m = pd.Series([_ses(a, b) for a, b in zip(mentors["education_parent1"], mentors["education_parent2"])], index=m.index)
    same_ses = (ses_p == ses_m).astype(float).where((ses_p != "unknown") & (ses_m != "unknown"))
    rq = scores["T2"]["relationship_quality"].reindex(m.index)
    assert _binary_slope(study, scores, "intrinsic_motivation", "T2-T1", same_gender) > 0
    assert _binary_slope(study, scores, "self_efficacy", "T2-T1", same_mig) > 0
    assert _binary_slope(study, scores, "intrinsic_motivation", "T2-T1", same_ses) < 0
    assert _binary_slope(study, scores, "extrinsic_motivation", "T2-T1", rq) > 0


def test_plant_off_and_custom(cb):
    off = generate_study(seed=2020, plant=False)
    assert _age_slope(off, cb) > -0.15
    strong = generate_study(seed=2020, age_belonging=-0.5)
    assert _age_slope(strong, cb) < -0.4
    with pytest.raises(TypeError):
        generate_study(seed=2020, not_an_effect=1.0)


def test_write_study_deterministic_and_labelled(tmp_path):
    a = write_study(tmp_path / "a", seed=2020)
    b = write_study(tmp_path / "b", seed=2020)
    c = write_study(tmp_path / "c", seed=2021, plant=False)
    names = sorted(p.name for p in a.iterdir())
    assert names == ["README.md", "matches.csv", "mentors.csv", "qsort.csv", "students.csv",
                     "study.yaml", "wave_T1.csv", "wave_T2.csv", "wave_T3.csv"]
    assert sorted(p.name for p in b.iterdir()) == names
    for name in names:
        raw = (a / name).read_bytes()
        assert raw == (b / name).read_bytes(), name
        assert b"\r" not in raw
    assert (a / "wave_T1.csv").read_bytes() != (c / "wave_T1.csv").read_bytes()

    meta = yaml.safe_load((a / "study.yaml").read_text(encoding="utf-8"))
    assert meta["synthetic"] is True and "synthetic" in meta["name"]
    assert meta["cohort"] == "2019-2020 (synthetic)" and meta["language"] == "nl" and meta["seed"] == 2020
    an = meta["analysis"]
    assert (an["bootstrap"], an["seed"], an["alpha"], an["min_cell"]) == (5000, 2020, 0.05, 10)
    assert {"outcome": "school_belonging", "change": "T3-T1", "moderator": "age"} in an["prespecified_moderators"]
    assert yaml.safe_load((c / "study.yaml").read_text(encoding="utf-8"))["analysis"]["prespecified_moderators"] == []
    assert "SYNTHETIC" in (a / "README.md").read_text(encoding="utf-8")

    students = pd.read_csv(a / "students.csv", dtype=str)
    assert students["age"].str.fullmatch(r"\d{2}\.\d").all()
    wave = pd.read_csv(a / "wave_T2.csv")
    assert wave.filter(regex=r"^(SE|IM|EM|SB|HA|NO|RQ)\d\d$").stack().dropna().isin([1, 2, 3, 4, 5]).all()
