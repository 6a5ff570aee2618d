"""Figures (files exist, SVG parses, byte-stable, tolerant of missing tables) and the Q-sort summary."""
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval import figures as figs
from mut_eval.report.demo import demo_results
from mut_eval.results import Results
from mut_eval.stats.qsort import qsort_summary


# ---------------------------------------------------------------- Q-sort summary (hand count)

QSORT = pd.DataFrame({
    "student_id": ["s1", "s2", "s3", "s4", "s5"],
    "self_efficacy": [2, 1, 3, 2, 1],
    "motivation": [1, 2, 1, 1, 3],
    "school_belonging": [4, 4, 4, 3, 4],
    "help_seeking": [3, 3, 2, 4, 2],
})


def test_qsort_summary_hand_count():
    out = qsort_summary(QSORT).set_index("card")
    assert list(out.columns) == ["n", "mean_rank", "sd_rank", "rank_1", "rank_2", "rank_3", "rank_4"]
    assert list(out.index) == ["self_efficacy", "motivation", "school_belonging", "help_seeking"]
    # self_efficacy 2,1,3,2,1: mean 9/5 = 1.8; squared deviations .04+.64+1.44+.04+.64 = 2.8; SD = sqrt(2.8/4)
    assert out.loc["self_efficacy", "mean_rank"] == pytest.approx(1.8)
    assert out.loc["self_efficacy", "sd_rank"] == pytest.approx(np.sqrt(0.7))
    assert out.loc["self_efficacy", ["rank_1", "rank_2", "rank_3", "rank_4"]].tolist() == [2, 2, 1, 0]
    # motivation 1,2,1,1,3: mean 1.6; squared deviations .36+.16+.36+.36+1.96 = 3.2; SD = sqrt(.8)
    assert out.loc["motivation", "mean_rank"] == pytest.approx(1.6)
    assert out.loc["motivation", "sd_rank"] == pytest.approx(np.sqrt(0.8))
    assert out.loc["motivation", ["rank_1", "rank_2", "rank_3", "rank_4"]].tolist() == [3, 1, 1, 0]
    # school_belonging 4,4,4,3,4: mean 3.8; squared deviations 4 × .04 + .64 = .8; SD = sqrt(.2)
    assert out.loc["school_belonging", "mean_rank"] == pytest.approx(3.8)
    assert out.loc["school_belonging", "sd_rank"] == pytest.approx(np.sqrt(0.2))
    assert out.loc["school_belonging", ["rank_1", "rank_2", "rank_3", "rank_4"]].tolist() == [0, 0, 1, 4]
    # help_seeking 3,3,2,4,2: mean 2.8, SD sqrt(.7); counts 0, 2, 2, 1
    assert out.loc["help_seeking", "mean_rank"] == pytest.approx(2.8)
    assert out.loc["help_seeking", ["rank_1", "rank_2", "rank_3", "rank_4"]].tolist() == [0, 2, 2, 1]
    assert (out["n"] == 5).all()
    assert "student_id" not in out.reset_index().columns


def test_qsort_summary_missing_and_errors():
    q = QSORT.copy()
    q["motivation"] = q["motivation"].astype(float)
    q.loc[4, "motivation"] = np.nan        # drop the 3: motivation 1,2,1,1 → mean 1.25, n 4
    out = qsort_summary(q).set_index("card")
    assert out.loc["motivation", "n"] == 4
    assert out.loc["motivation", "mean_rank"] == pytest.approx(1.25)
    assert out.loc["motivation", "rank_3"] == 0
    bad = QSORT.copy()
    bad.loc[0, "help_seeking"] = 5         # only 4 cards: rank 5 is impossible
    with pytest.raises(StudyError, match="row 1, column help_seeking"):
        qsort_summary(bad)
    with pytest.raises(StudyError):
        qsort_summary(QSORT, cards=["self_efficacy", "nope"])


# ---------------------------------------------------------------- figure data

def test_trajectory_ci_is_t_based_and_small_cells_dropped():
    rows = []
    for c in ("mentee", "control"):
        for w in ("T1", "T2", "T3"):
            rows.append(("x", "available", c, w, 25, 3.5, 0.5))
    rows.append(("y", "available", "mentee", "T1", 9, 3.0, 0.5))     # n < 10: not drawn
    rows.append(("y", "available", "control", "T1", 30, 3.0, 0.5))
    d = pd.DataFrame(rows, columns=["outcome", "sample", "condition", "wave", "n", "mean", "sd"])
    out = figs.trajectory_data(Results(tables={"descriptives": d}, meta={"min_cell": 10}))
    # t(.975, 24) = 2.0639 (table value); se = .5 / sqrt(25) = .1
    assert out["ci_low"].tolist() == pytest.approx([3.5 - 0.20639] * 6, abs=1e-4)
    assert out["ci_high"].tolist() == pytest.approx([3.5 + 0.20639] * 6, abs=1e-4)
    assert set(out["outcome"]) == {"x"}     # y has one wave per condition left: no trajectory


def test_significant_spans():
    # JN point 14.5; the probe at 14.8 has a CI excluding 0, the probes below include 0.
    probes = [(13.8, -0.16, 0.12), (14.3, -0.24, 0.04), (14.8, -0.39, -0.11)]
    assert figs._significant_spans(13.8, 14.8, [14.5], probes) == [(14.5, 14.8)]
    assert figs._significant_spans(13.8, 14.8, [], probes) == []
    # a JN point outside the observed range is ignored
    assert figs._significant_spans(0.0, 1.0, [5.0], [(0.5, 0.1, 0.3)]) == [(0.0, 1.0)]


def test_comma_formatter():
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    figs._localise(fig, "nl")
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    plt.close(fig)
    assert "0,2" in labels and not any("." in t for t in labels)


# ---------------------------------------------------------------- the files

@pytest.fixture(scope="module")
def demo():
    return demo_results()


@pytest.fixture(scope="module")
def drawn(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("figs")
    return out, figs.make_figures(demo, out, "nl")


def test_make_figures_writes_svg_and_png(drawn):
    out, made = drawn
    assert {"flow", "trajectories", "forest", "qsort"} <= set(made)
    mods = [k for k in made if k.startswith("moderation_")]
    # three moderations in the demo have p < .05 and conditional effects: relationship quality (jn_table),
    # gender (categorical levels) and age (probes + Johnson-Neyman point)
    assert len(mods) >= 3
    for name, svg in made.items():
        assert svg.exists() and svg.suffix == ".svg" and svg.parent == out
        root = ET.parse(svg).getroot()
        assert root.tag.endswith("svg")
        png = svg.with_suffix(".png")
        assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_svg_is_byte_stable(demo, drawn, tmp_path):
    out, made = drawn
    again = figs.make_figures(demo, tmp_path, "nl")
    for name in ("flow", "forest", "qsort"):
        assert again[name].read_bytes() == made[name].read_bytes()
    assert b"<dc:date>" not in made["forest"].read_bytes()


def test_missing_or_empty_tables_give_no_figures(tmp_path):
    assert figs.make_figures(Results(), tmp_path, "en") == {}
    empty = Results(tables={"did": pd.DataFrame(), "flow": pd.DataFrame(columns=["condition", "stage", "n"])})
    assert figs.make_figures(empty, tmp_path, "en") == {}


def test_only_the_tables_present(tmp_path, demo):
    only = Results(tables={"did": demo.tables["did"]}, meta={})
    assert set(figs.make_figures(only, tmp_path, "en")) == {"forest"}


def test_qsort_figure_not_drawn_for_small_groups(tmp_path, demo):
    q = demo.tables["qsort_summary"].assign(n=8)
    assert figs.fig_qsort(Results(tables={"qsort_summary": q}, meta={"min_cell": 10}), tmp_path, "en") is None


def test_moderation_keys_sorted_by_p(demo):
    keys = figs.moderation_figure_keys(demo)
    ps = [p for *_, p in keys]
    assert all(p < 0.05 for p in ps) and len(keys) >= 3


def test_make_figures_records_the_moderation_of_each_figure(drawn):
    _, made = drawn
    assert set(made.moderation) == {k for k in made if k.startswith("moderation_")}
    # the three moderations the demo sets by hand to p < .05
    assert {("extrinsic_motivation", "T3-T1", "relationship_quality"), ("school_belonging", "T3-T1", "age"),
            ("intrinsic_motivation", "T3-T1", "gender")} <= set(made.moderation.values())


def test_moderator_type_from_the_tables(tmp_path):
    ce = pd.DataFrame({"outcome": "o", "change": "T2-T1",
                       "moderator": ["lv", "lv", "cont", "cont", "cont", "dich", "dich"],
                       "probe": ["a", "b", "M-1SD", "M", "M+1SD", "0", "1"],
                       "w": [np.nan, np.nan, 1.0, 2.0, 3.0, 0.0, 1.0],
                       "effect": [0.1, 0.2, 0.1, 0.2, 0.3, 0.1, 0.4], "ci_low": -0.2, "ci_high": 0.6,
                       "n_level": [30, 40, np.nan, np.nan, np.nan, 25, 5]})
    only_ce = Results(tables={"conditional_effects": ce}, meta={"min_cell": 10})
    # without the moderation table: level codes (w NaN) are categorical, anything else continuous
    assert figs.moderator_type(only_ce, "o", "T2-T1", "lv") == "categorical"
    assert figs.moderator_type(only_ce, "o", "T2-T1", "cont") == "continuous"
    mod = pd.DataFrame({"outcome": "o", "change": "T2-T1", "moderator": ["lv", "cont", "dich"],
                        "moderator_type": ["categorical", "continuous", "dichotomous"]})
    both = Results(tables={"conditional_effects": ce, "moderation": mod}, meta={"min_cell": 10})
    assert figs.moderator_type(both, "o", "T2-T1", "dich") == "dichotomous"
    assert figs.moderation_is_continuous(both, "o", "T2-T1", "cont")
    assert not figs.moderation_is_continuous(both, "o", "T2-T1", "dich")
    # a dichotomous W is drawn per level; one with only its small level left would be empty
    assert figs.fig_moderation(both, tmp_path, "en", "o", "T2-T1", "dich") is not None
    tiny = ce.assign(n_level=ce["n_level"].where(ce["moderator"] != "dich", 5))
    assert figs.fig_moderation(Results(tables={"conditional_effects": tiny, "moderation": mod},
                                       meta={"min_cell": 10}), tmp_path, "en", "o", "T2-T1", "dich") is None


def test_outcome_order_follows_the_analysed_outcomes():
    res = Results(meta={"outcomes": ["b_scale", "a_scale"]})
    assert figs.outcome_order(res, ["x", "a_scale", None, "b_scale", "a_scale"]) == ["b_scale", "a_scale", "x"]


def _robustness_table():
    rows = []
    for o in ("self_efficacy", "school_belonging"):
        for con in ("T2-T1", "T3-T1", "T3-T2"):
            for k, m in enumerate(figs.ROBUSTNESS_LABELS):
                if con == "T3-T2" and m.startswith(("cr2", "wild")):
                    continue
                rows.append((m, o, con, 0.1 + 0.01 * k, 0.0 - 0.01 * k, 0.2 + 0.02 * k))
    return pd.DataFrame(rows, columns=["model", "outcome", "contrast", "estimate", "ci_low", "ci_high"])


def test_robustness_figure_one_row_per_model(tmp_path):
    res = Results(tables={"did_robustness": _robustness_table()}, meta={})
    d = figs.robustness_data(res)
    # contrasts with T1 only, every model of the table
    assert set(d["contrast"]) == {"T2-T1", "T3-T1"} and len(d) == 2 * 2 * len(figs.ROBUSTNESS_LABELS)
    made = figs.make_figures(res, tmp_path, "en")
    assert set(made) == {"robustness"}
    svg = made["robustness"].read_text()
    assert "Multilevel model (Kenward" in svg and "Wild cluster bootstrap" in svg
    again = figs.make_figures(res, tmp_path / "again", "en")
    assert again["robustness"].read_bytes() == made["robustness"].read_bytes()
