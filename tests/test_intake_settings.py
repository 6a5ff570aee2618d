"""study.yaml read once into typed settings (issue 10 item 13): defaults, checks naming
study.yaml and the key, and analyze() accepting a plain dict as the README shows."""
import pytest
import yaml

from mut_eval import StudyError
from mut_eval.intake.settings import (DEFAULT_ANALYSIS, AnalysisSettings, analysis_settings, read_settings)
from mut_eval.intake.study import load_study


def test_defaults_in_one_place():
    s = read_settings({})
    assert s.analysis == AnalysisSettings()
    assert (s.analysis.bootstrap, s.analysis.seed, s.analysis.alpha, s.analysis.min_cell) == (5000, 2020, 0.05, 10)
    assert s.ids.pad is None and s.ids.strip is True
    assert s.mentees_without_match == "error" and s.duplicates_for("wave_T2") == "error"
    assert s.missing_for("wave_T1") == () and s.date_format is None and s.list_separator == "auto"
    assert DEFAULT_ANALYSIS["bootstrap"] == 5000 and DEFAULT_ANALYSIS["covariates"] == []


def test_plain_dict_is_completed_and_checked():
    opts = analysis_settings({"bootstrap": 0, "seed": 1, "alpha": 0.05, "min_cell": 10})
    assert opts.bootstrap == 0 and opts.seed == 1 and opts.probe == "moments"
    with pytest.raises(StudyError, match="analysis option 'alpha' must be between 0 and 1"):
        analysis_settings({"alpha": 2})
    with pytest.raises(StudyError, match="unknown analysis option"):
        analysis_settings({"boostrap": 10})
    assert analysis_settings({"hc": 3}).hc == "HC3"


def test_hc3_is_the_default_and_ols_stays_an_option():
    # issue 13 item 7: OLS SEs of the moderation slope rejected a true null 9-30 % of the
    # time under heteroscedastic/skewed errors; HC3 is the default
    assert AnalysisSettings().hc == "HC3" and DEFAULT_ANALYSIS["hc"] == "HC3"
    for spelling in ("OLS", "ols", " Ols ", None, "none", "None", False):
        assert analysis_settings({"hc": spelling}).hc == "OLS", spelling
    assert analysis_settings({"hc": "hc1"}).hc == "HC1" and analysis_settings({"hc": 0}).hc == "HC0"
    # the choice survives the round trip through results meta and a command-line override
    ols = analysis_settings({"hc": None})
    assert ols.as_dict()["hc"] == "OLS" and ols.with_overrides(bootstrap=0).hc == "OLS"
    with pytest.raises(StudyError, match="'hc' must be one of HC0, HC1, HC2, HC3, HC4 or OLS"):
        analysis_settings({"hc": "HC5"})
    with pytest.raises(StudyError, match="'hc'"):
        analysis_settings({"hc": True})


def test_overrides_from_the_command_line():
    opts = AnalysisSettings().with_overrides(bootstrap=0, seed=None)
    assert opts.bootstrap == 0 and opts.seed == 2020


@pytest.mark.parametrize("cfg, fragments", [
    ({"ids": {"pad": "six"}}, ["ids.pad", "whole number"]),
    ({"ids": {"padding": 6}}, ["ids", "unknown key", "padding"]),
    ({"duplicates": {"wave_T2": "newest"}}, ["duplicates.wave_T2", "most_complete"]),
    ({"duplicates": {"wave_T4": "first"}}, ["duplicates", "wave_T4"]),
    ({"mentees_without_match": "drop"}, ["mentees_without_match", "'keep'"]),
    ({"missing_codes": {"leerlingen": [9]}}, ["missing_codes", "leerlingen"]),
    ({"missing_codes": [True]}, ["missing_codes.all", "numbers or texts"]),
    ({"dates": {"format": "dd-mm-yyyy"}}, ["dates.format", "%d-%m-%Y"]),
    ({"lists": {"separator": "|"}}, ["lists.separator"]),
    ({"variables": {"lwoo": {"file": "students", "type": "boolean"}}}, ["variables.lwoo.type"]),
    ({"variables": {"lwoo": {"file": "mentors", "type": "numeric"}}}, ["variables.lwoo.file"]),
    ({"variables": {"lwoo": {"type": "categorical", "levels": "nee"}}}, ["variables.lwoo.levels"]),
    ({"variables": {"g": {"type": "numeric", "min": "1"}}}, ["variables.g.min"]),
    ({"analysis": {"bootstrap": -1}}, ["analysis option 'bootstrap'"]),
])
def test_bad_settings_name_the_key(tmp_path, cfg, fragments):
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    with pytest.raises(StudyError) as e:
        load_study(tmp_path)
    msg = str(e.value)
    assert "study.yaml" in msg
    for f in fragments:
        assert f in msg, msg


def test_settings_shapes():
    s = read_settings({"missing_codes": {"all": [9], "wave": [99], "wave_T2": ["n.v.t."]},
                       "duplicates": {"wave": "first", "wave_T2": "most_complete"},
                       "variables": {"lwoo": {"column": "LWOO", "type": "categorical", "levels": ["Nee", "Ja"]}}})
    assert s.missing_for("students") == (9,)
    assert s.missing_for("wave_T2") == (9, 99, "n.v.t.")
    assert s.duplicates_for("wave_T1") == "first" and s.duplicates_for("wave_T2") == "most_complete"
    v = s.variables["lwoo"]
    assert (v.file, v.column, v.type, v.label, v.levels) == ("students", "LWOO", "categorical", "lwoo", ("nee", "ja"))


def test_study_carries_settings_and_a_dict_view(study):
    s = load_study(study)
    assert s.settings.analysis.seed == 2020 and len(s.settings.analysis.prespecified_moderators) == 5
    assert s.analysis["seed"] == 2020 and isinstance(s.analysis["prespecified_moderators"], list)


def test_bootstrap_auto_chooses_resamples_by_the_number_of_mentees():
    # issue 16: 5000 up to 20,000 mentees, then 1e8/n rounded down to hundreds, at least 1000
    from mut_eval.intake.settings import auto_bootstrap
    assert [auto_bootstrap(n) for n in (124, 20_000, 25_000, 50_000, 100_000, 500_000)] == \
        [5000, 5000, 4000, 2000, 1000, 1000]
    auto = AnalysisSettings.from_mapping({"bootstrap": "Auto"})
    assert auto.bootstrap == "auto" and auto.resamples(124) == 5000 and auto.resamples(50_000) == 2000
    assert AnalysisSettings().with_overrides(bootstrap="300").resamples(10**6) == 300
    with pytest.raises(StudyError, match="'bootstrap' must be a whole number >= 0 or auto, not 'many'"):
        AnalysisSettings.from_mapping({"bootstrap": "many"})
