"""The research edition's content fixes (issue 15, item 3): one WWC handbook version, every
corrected p with its family, moderation restricted to the changes of ``analysis.changes``,
and the appendix as a table of settings."""
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from mut_eval import StudyError
from mut_eval.analysis import moderation_tables
from mut_eval.cli import main
from mut_eval.intake.settings import AnalysisSettings
from mut_eval.panel import load_panel
from mut_eval.privacy import sanitise_config
from mut_eval.report import text as txt
from mut_eval.report.build import assemble
from mut_eval.report.demo import demo_results

from conftest import EXAMPLE

ROOT = Path(__file__).resolve().parent.parent


def _doc(results, lang, tmp_path):
    return assemble(results, lang, {}, tmp_path)


def _section(doc, label):
    return next(s for s in doc["sections"] if s.get("label") == label)


def _text(obj) -> str:
    """Every string of a report fragment, joined (table cells, notes, rich text)."""
    return " ".join(re.sub(r"\s+", " ", x) for x in _strings(obj))


def _strings(obj):
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _strings(v)


# ------------------------------------------------------------------ 1. one WWC handbook

def test_no_file_cites_another_wwc_handbook_version():
    """Every citation of a WWC handbook names Version 5.0, the one whose numbers we use."""
    this = Path(__file__).resolve()
    bad = []
    for path in ROOT.rglob("*"):
        if not path.is_file() or path.resolve() == this or {".git", ".venv", "__pycache__"} & set(path.parts):
            continue
        if path.suffix not in (".py", ".md", ".ipynb", ".typ", ".yaml", ".yml", ".R", ".txt", ".toml"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        # a notebook's lines are JSON strings: join them back into running text
        flat = " ".join(re.sub(r'\\n",\s*"', " ", text).split()).replace("*", "")
        for m in re.finditer(r"Handbook|What Works Clearinghouse|WWC", flat):
            window = flat[m.start(): m.start() + 80]
            if "Handbook" not in window or "Disclosure" in window or "SDC" in window or "youth mentoring" in window:
                continue
            for v in re.findall(r"(?:Version|Handbook)[ ,]*v?(\d+\.\d+)", window):
                if v != "5.0":
                    bad.append(f"{path.relative_to(ROOT)}: {window}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_methods_cite_handbook_5_with_its_numbers(lang, tmp_path):
    methods = _text(_section(_doc(demo_results(), lang, tmp_path), "methods"))
    assert "Procedures and Standards Handbook, Version 5.0 (2022)" in methods
    sep = "," if lang == "nl" else "."
    # the baseline bands of the handbook, and the demo's ICC (.10, in its meta)
    assert f"|g| ≤ {sep}05" in methods and f"{sep}25" in methods and f"ICC {sep}10" in methods


# ------------------------------------------------------------------ 2. families named

def test_family_phrases():
    assert txt.holm_family({"T2-T1": 6, "T3-T1": 6, "T3-T2": 6}, "en") == (
        "Holm correction over the 6 outcomes within each period (3 periods separately, 18 tests in all)")
    assert txt.holm_family({"T2-T1": 6, "T3-T1": 5}, "nl") == (
        "Holm-correctie over de uitkomsten binnen elke periode apart (T1–T2: 6, T1–T3: 5; samen 11 toetsen)")
    assert txt.holm_family(1, "nl") == "Holm over de 1 uitkomst van deze periode"
    assert txt.bh_family(204, "en", 6, 2, 17) == (
        "Benjamini–Hochberg correction over the 204 tests of the moderation grid (one per estimated "
        "combination of 6 outcomes × 2 changes × 17 moderators)")
    assert txt.bh_family(1, "nl") == "BH-correctie over de 1 toets van het moderatieraster"


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_every_corrected_p_names_its_family(lang, tmp_path):
    res = demo_results()
    mod = res.tables["moderation"]
    # counted here from the demo's tables: one BH test per outcome × change × moderator
    cells = mod[["outcome", "change", "moderator"]].drop_duplicates()
    n_bh, n_out, n_ch, n_mod = len(cells), cells.outcome.nunique(), cells.change.nunique(), cells.moderator.nunique()
    assert (n_bh, n_out) == (60, 6)      # the demo: 6 outcomes × 10 moderators, one change
    doc = _doc(res, lang, tmp_path)
    effects, moderation = _text(_section(doc, "effects")), _text(_section(doc, "moderation"))
    methods = _text(_section(doc, "methods"))
    # the demo's did table: 6 outcomes × 3 periods, Holm within each period
    holm = ("Holm-correctie over de 6 uitkomsten binnen elke periode (3 perioden apart, samen 18 toetsen)"
            if lang == "nl" else
            "Holm correction over the 6 outcomes within each period (3 periods separately, 18 tests in all)")
    assert f"pHolm: {holm}." in effects and holm in methods
    assert ("Holm over de 6 uitkomsten van deze periode" if lang == "nl"
            else "Holm over the 6 outcomes of this period") in effects   # the 'indication' sentences
    bh = (f"Benjamini–Hochberg-correctie over de {n_bh} toetsen van het moderatieraster (één per geschatte "
          f"combinatie van {n_out} uitkomsten × {n_ch} verandering × {n_mod} moderatoren)" if lang == "nl" else
          f"Benjamini–Hochberg correction over the {n_bh} tests of the moderation grid (one per estimated "
          f"combination of {n_out} outcomes × {n_ch} change × {n_mod} moderators)")
    assert f"pBH: {bh}" in moderation and bh in methods
    # no corrected p without its family: every 'BH' / 'Holm' mention sits in a named family
    for m in re.finditer(r"((Benjamini–Hochberg|BH)[- ]correcti\w+|Holm-correctie|Holm correction)",
                         moderation + effects):
        assert re.match(r" (over|voor) (de|the) \d+", (moderation + effects)[m.end():]), m.group(0)


def test_moderation_rows_and_tests_are_counted_apart(tmp_path):
    """A categorical moderator with three levels has two rows (one b each) and one F test:
    the BH family counts tests, not rows."""
    res = demo_results()
    mod = res.tables["moderation"]
    extra = mod.iloc[[0]].assign(level="other")
    res.tables["moderation"] = pd.concat([mod, extra], ignore_index=True)
    text = _text(_section(_doc(res, "en", tmp_path), "moderation"))
    assert f"In total {len(mod) + 1} associations were tested in {len(mod)} tests" in text
    assert f"BH correction over the {len(mod)} tests of the moderation grid" in text


# ------------------------------------------------------------------ 3. analysis.changes

def test_changes_setting_default_and_values():
    assert AnalysisSettings().changes == ("T2-T1", "T3-T1")
    assert AnalysisSettings.from_mapping({"changes": ["T3-T2", "T2-T1"]}).changes == ("T2-T1", "T3-T2")
    assert AnalysisSettings().as_dict()["changes"] == ["T2-T1", "T3-T1"]


@pytest.mark.parametrize("value, words", [
    (["T4-T1"], "unknown change(s) 'T4-T1'; allowed: T2-T1, T3-T1, T3-T2"),
    ("T3-T2", "must be a list of T2-T1, T3-T1, T3-T2"),
    ([], "must be a list of"),
    (["T2-T1", "T2-T1"], "lists a change twice"),
])
def test_bad_changes_exit_2_naming_key_and_value(study, capsys, value, words):
    cfg = (study / "study.yaml").read_text(encoding="utf-8")
    (study / "study.yaml").write_text(cfg.replace("analysis:\n", f"analysis:\n  changes: {json.dumps(value)}\n", 1),
                                      encoding="utf-8")
    assert main(["validate", str(study)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "study.yaml" in err and "'changes'" in err and words in err


@pytest.fixture(scope="module")
def panel():
    return load_panel(EXAMPLE)


def test_default_grid_has_no_t3_t2_rows(panel):
    t = moderation_tables(panel, {"bootstrap": 0, "moderators": ["age", "gender"]})
    for name, col in (("moderation", "change"), ("conditional_effects", "change"),
                      ("did_by_moderator", "contrast")):
        assert set(t[name][col]) == {"T2-T1", "T3-T1"}, name
    # 6 outcomes × 2 changes × 2 moderators, one BH test each
    assert len(t["moderation"][["outcome", "change", "moderator"]].drop_duplicates()) == 24


def test_t3_t2_when_listed(panel):
    t = moderation_tables(panel, {"bootstrap": 0, "moderators": ["age"], "changes": ["T3-T2"]})
    assert set(t["moderation"]["change"]) == {"T3-T2"} and set(t["did_by_moderator"]["contrast"]) == {"T3-T2"}
    assert len(t["moderation"]) == 6


def test_prespecified_change_must_be_listed(panel):
    with pytest.raises(StudyError, match=r"prespecified_moderators: unknown change 'T3-T2'.*analysis\.changes"):
        moderation_tables(panel, {"bootstrap": 0, "moderators": ["age"],
                                  "prespecified_moderators": [{"outcome": "*", "change": "T3-T2", "moderator": "age"}]})


# ------------------------------------------------------------------ 4. settings table

@pytest.mark.parametrize("lang", ["nl", "en"])
def test_appendix_is_a_table_of_settings(lang, tmp_path):
    res = demo_results()
    res.meta["options"] = {**res.meta["options"], "changes": ["T2-T1", "T3-T1"], "prespecified_moderators": [
        {"outcome": "self_efficacy", "change": "T2-T1", "moderator": "age"},
        {"outcome": "school_belonging", "change": "T3-T1", "moderator": "same_gender"}]}
    app = _section(_doc(res, lang, tmp_path), "appendix")
    assert not [b for b in app["blocks"] if b["type"] == "raw"]          # no YAML dump
    table = app["blocks"][0]
    assert table["caption"] == ("Instellingen" if lang == "nl" else "Settings")
    groups = [r["group"] for r in table["rows"] if isinstance(r, dict)]
    assert groups[:3] == (["Studie", "Analyse", "Moderatie"] if lang == "nl" else ["Study", "Analysis", "Moderation"])
    rows = {(r[1]["mono"], r[2]) for r in table["rows"] if isinstance(r, list) and isinstance(r[1], dict)}
    default = " (standaard)" if lang == "nl" else " (default)"
    # the demo's study.yaml sets bootstrap 5000 and seed 20240501; alpha and min_cell are defaults
    assert {("name", "Mentoring Urban Talent"), ("analysis.bootstrap", "5000"), ("analysis.seed", "20240501"),
            ("analysis.alpha", "0.05" + default), ("analysis.min_cell", "10" + default),
            ("analysis.changes", "T2-T1, T3-T1" + default),
            ("analysis.prespecified_moderators", "self_efficacy · T2-T1 · age"),
            ("analysis.prespecified_moderators", "school_belonging · T3-T1 · same_gender")} <= rows
    labels = {r[0] for r in table["rows"] if isinstance(r, list)}
    assert ("Bootstrap-trekkingen" if lang == "nl" else "Bootstrap resamples") in labels
    # the input files stay as a table of hashes
    hashes = next(b for b in app["blocks"] if b["type"] == "table" and "SHA-256" in b["caption"])
    assert [r[0] for r in hashes["rows"]] == ["students.csv", "wave_T1.csv"]


def test_settings_table_shows_no_identifier_or_key(tmp_path):
    res = demo_results()
    raw = {"name": "X", "pseudonym_key": "k3y-Very-Secret", "recode": {"student_id": {"4711": "0815"}},
           "exclusions": [{"student_id": "4711", "reason": "moved"}],
           "variables": {"lwoo": {"file": "students", "column": "LWOO", "type": "categorical"}},
           "analysis": {"bootstrap": 0}, "design": {"assignment": "class"}}
    res.meta["config"] = sanitise_config(raw, identifiers=["4711", "0815"])
    res.meta["design"] = {"assignment": "class", "levels": ["class"], "mentor_groups": False,
                          "residual": "compound"}
    table = _section(_doc(res, "en", tmp_path), "appendix")["blocks"][0]
    text = _text(table)
    for secret in ("k3y-Very-Secret", "4711", "0815"):
        assert secret not in text
    rows = {(r[1]["mono"], r[2]) for r in table["rows"] if isinstance(r, list) and isinstance(r[1], dict)}
    assert ("pseudonym_key", "(set; not shown)") in rows and ("exclusions", "1 rows (not shown)") in rows
    assert ("variables.lwoo", "file: students; column: LWOO; type: categorical") in rows
    # design: set in study.yaml as is, the rest as the analysis resolved it
    assert ("design.assignment", "class") in rows and ("design.levels", "class (from the data)") in rows
