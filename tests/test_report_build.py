"""The PDF report, built from a hand-made Results in both languages (no analysis, no R)."""
import json
import re

import pandas as pd
import pytest
from pypdf import PdfReader

from mut_eval.report import build_report
from mut_eval.report.build import assemble, short_citation
from mut_eval.report.demo import demo_results
from mut_eval.results import Results

PLANTED_ID = "STU-PLANTED-4711"


def hand_made() -> Results:
    """The demo tables with three things planted: a known DiD row, a pupil id, a small cell."""
    r = demo_results()
    t = dict(r.tables)
    did = t["did"].copy()
    row = (did["outcome"] == "self_efficacy") & (did["contrast"] == "T3-T2")
    # Written into the table by hand, so the test knows the printed numbers without the code:
    # difference 0.42 points, 95% CI 0.20 to 0.64, Holm p = .004, g = 0.75.
    did.loc[row, ["estimate", "ci_low", "ci_high", "p", "p_holm", "g", "g_ci_low", "g_ci_high"]] = \
        [0.42, 0.20, 0.64, 0.0002, 0.004, 0.75, 0.36, 1.13]
    t["did"] = did
    # A pupil identifier in tables that the report must never print.
    t["descriptives"] = t["descriptives"].assign(student_id=PLANTED_ID)
    t["scores"] = pd.DataFrame({"student_id": [PLANTED_ID], "score": [3.1]})
    t["moderation"] = t["moderation"].assign(student_id=PLANTED_ID)
    # A level with only 4 mentees (81.7%, a number that appears nowhere else): must be suppressed.
    small = pd.DataFrame([("origin", "other_western", 4, 81.7, 12, 18.2, 17.9, "fisher", 0.004, 0.11)],
                         columns=t["sample"].columns)
    t["sample"] = pd.concat([t["sample"], small], ignore_index=True)
    return Results(tables=t, meta=dict(r.meta))


def pdf_text(path) -> tuple[int, str]:
    reader = PdfReader(str(path))
    text = " ".join(p.extract_text() for p in reader.pages)
    # typst's hyphen comes out as a soft hyphen; line breaks may fall anywhere: compare without spaces
    return len(reader.pages), re.sub(r"\s+", "", text.replace("\xad", "-"))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    res = hand_made()
    out = {}
    for lang in ("nl", "en"):
        d = tmp_path_factory.mktemp(f"report_{lang}")
        pdf = build_report(res, d, lang=lang)
        out[lang] = (d, pdf, *pdf_text(d / "report_research.pdf"))
    return out


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_pdf_exists_with_pages(built, lang):
    d, pdf, pages, _ = built[lang]
    assert pdf == d / "report.pdf" and pdf.read_bytes()[:5] == b"%PDF-"     # the staff edition
    assert (d / "report_research.pdf").read_bytes()[:5] == b"%PDF-"
    assert pages > 5
    data = json.loads((d / "report_research_data.json").read_text(encoding="utf-8"))
    assert data["lang"] == lang and len(data["sections"]) == 9
    assert (d / "figures" / "forest.svg").exists()


def test_did_numbers_in_text(built):
    _, _, _, nl = built["nl"]
    _, _, _, en = built["en"]
    assert "0.42points,95%CI0.20to0.64;g=0.75" in en
    assert "0,42punten,95%-BI0,20tot0,64;g=0,75" in nl
    # the plain summary states the direction without numbers
    assert "Mentees'self-efficacydeclinedlessthanthecontrolgroup's" in en


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_no_pupil_identifier(built, lang):
    d, _, _, text = built[lang]
    assert PLANTED_ID.replace("-", "") not in text.replace("-", "")
    for doc in ("report_data.json", "report_research_data.json"):
        assert PLANTED_ID not in (d / doc).read_text(encoding="utf-8")


@pytest.mark.parametrize("lang,pct,note", [
    ("nl", "81,7", "<10of—:onderdrukt,minderdan10leerlingen."),
    ("en", "81.7", "<10or—:suppressed,fewerthan10pupils."),
])
def test_small_cell_suppressed(built, lang, pct, note):
    _, _, _, text = built[lang]
    assert pct not in text
    assert "<10" in text and note in text
    # the control group's 12 pupils (18.2%) in the same row are shown
    assert ("18,2" if lang == "nl" else "18.2") in text


def test_synthetic_banner_and_sections(built):
    _, _, _, nl = built["nl"]
    _, _, _, en = built["en"]
    assert "SYNTHETISCHEDATA/SYNTHETICDATA" in nl and "SYNTHETISCHEDATA/SYNTHETICDATA" in en
    for title in ("Samenvatting", "Deelnemersenrespons", "Metingenenbetrouwbaarheid", "Effecten",
                  "Voorwiewerkthet?", "Watmenteeszeiden", "Werkwijzeenbeperkingen", "Bijlage:reproduceerbaarheid"):
        assert title in nl
    assert "Summary" in en and "Forwhomdoesitwork?" in en and "Appendix:reproducibility" in en
    # APA: no leading zero for p, decimal comma in Dutch
    assert "p=,02" in nl and "p=.02" in en


def test_missing_tables_are_said_plainly(tmp_path):
    res = Results(tables={"did": pd.DataFrame(), "flow": pd.DataFrame(columns=["condition", "stage", "n"])},
                  meta={"name": "Leeg", "synthetic": False, "min_cell": 10})
    pdf = build_report(res, tmp_path, lang="en", edition="research")
    _, text = pdf_text(pdf)
    assert "Thesedataaremissingfromtheresults(did)" in text
    assert "Thesedataaremissingfromtheresults(moderation)" in text
    assert "SYNTHETIC" not in text


def test_user_strings_are_not_markup(tmp_path):
    name = 'Mentor #let x = 1 $a$ *b* _c_ [d] <e> @f \\ "g"'
    res = Results(tables={}, meta={"name": name, "cohort": "2024/25 #2", "min_cell": 10})
    pdf = build_report(res, tmp_path, lang="nl", edition="research")
    _, text = pdf_text(pdf)
    assert re.sub(r"\s+", "", name) in text


def test_assemble_rejects_unknown_language(tmp_path):
    with pytest.raises(ValueError):
        assemble(Results(), "de", {}, tmp_path)


def test_short_citation():
    assert short_citation("Pintrich, P. R., & De Groot, E. V. (1990). Motivational ...", "en") == \
        "Pintrich & De Groot (1990)"
    assert short_citation("Pintrich, P. R., Smith, D. A. F., Garcia, T., & McKeachie, W. J. (1991). A manual",
                          "nl") == "Pintrich e.a. (1991)"
    assert short_citation("Goodenow, C. (1993). The psychological sense", "en") == "Goodenow (1993)"
    assert short_citation("", "en") == ""


def real_shaped() -> Results:
    """Tables shaped like the pipeline's own output (extra columns, omnibus rows, level sizes)."""
    sample = pd.DataFrame([
        ("age", "mean", 124, 14.327, 66, 14.135, 1.13, "welch_t", 0.26, 0.22, 0.514, 1.326),
        ("ses", "low", 24, 19.35, 7, 10.61, 2.41, "chi2", 0.12, 0.25, None, None),
        ("ses", "middle", 0, 0.0, 0, 0.0, None, "none", None, 0.0, None, None),
        ("ses", "all", None, None, None, None, 4.59, "chi2", 0.0101, None, None, None),
    ], columns=["characteristic", "level", "mentee_n", "mentee_value", "control_n", "control_value", "statistic",
                "test", "p", "std_diff", "mentee_sd", "control_sd"])
    moderation = pd.DataFrame([
        # format[group] vs individual: only 9 mentees had individual mentoring, so b is about a group of 9
        ("self_efficacy", "T3-T1", "format", "categorical", "format[group]", "group", "individual", 123,
         -0.777, 0.166, -2.68, 0.0085, -1.10, -0.45, 0.09, False),
        ("self_efficacy", "T2-T1", "same_gender", "categorical", "same_gender[yes]", "yes", "no", 121,
         0.505, 0.10, 4.93, 0.000003, 0.303, 0.709, 0.0008, True),
    ], columns=["outcome", "change", "moderator", "moderator_type", "term", "level", "reference", "n", "b", "se",
                "t", "p", "ci_low", "ci_high", "p_bh", "prespecified"])
    ce = pd.DataFrame([
        ("self_efficacy", "T3-T1", "format", "individual", None, 0.449, 0.16, 0.13, 0.77, 9),
        ("self_efficacy", "T3-T1", "format", "group", None, 0.005, 0.045, -0.08, 0.09, 114),
        ("self_efficacy", "T2-T1", "same_gender", "no", None, -0.10, 0.08, -0.26, 0.06, 60),
        ("self_efficacy", "T2-T1", "same_gender", "yes", None, 0.41, 0.07, 0.27, 0.55, 61),
    ], columns=["outcome", "change", "moderator", "probe", "w", "effect", "se", "ci_low", "ci_high", "n_level"])
    meta = {"name": "Shape test", "n_mentee": 124, "n_control": 66, "min_cell": 10, "alpha": 0.05,
            "created": "2025-01-02T03:04:05+00:00", "options": {"bootstrap": 200, "seed": 1}}
    return Results(tables={"sample": sample, "moderation": moderation, "conditional_effects": ce}, meta=meta)


def test_pipeline_shaped_tables(tmp_path):
    res = real_shaped()
    pdf = build_report(res, tmp_path, lang="en", edition="research")
    _, text = pdf_text(pdf)
    # age is continuous (level "mean"): M (SD); the empty "middle" level and the omnibus row are not rows
    assert "14.33(0.51)" in text and "middle" not in text
    # the omnibus p (.0101) is computed from the suppressed control count (7): it goes with it, and
    # the text says why instead of claiming that the groups did or did not differ in SES
    assert "Atthestartthegroupsdifferedsignificantlyinsocio-economicstatus(SES)." not in text
    assert "Forsocio-economicstatus(SES)thetestisnotshown" in text
    # the format contrast involves a level of 9 pupils: b = −0.777 and its CI are suppressed
    assert "0.78" not in text and "1.10" not in text
    # the prespecified same-gender moderation is written out with its reference level
    assert "forsamegenderasthementor=yesthechangewasmorepositivethanforsamegenderasthementor=no" in text
    # the categorical figure leaves out the level with 9 pupils but is drawn
    figs_dir = tmp_path / "figures"
    assert (figs_dir / "moderation_self_efficacy_t2_t1_same_gender.svg").exists()
    # the options are a table of settings (words, key, value), not a YAML dump
    assert "Bootstrapresamples" in text and "analysis.bootstrap" in text and "Analysisoptionsused" not in text


def test_pdf_is_byte_stable(tmp_path):
    res = real_shaped()
    a = build_report(res, tmp_path / "a", lang="nl").read_bytes()
    b = build_report(res, tmp_path / "b", lang="nl").read_bytes()
    assert a == b


def test_clustering_check_counted_from_the_did_table(tmp_path):
    from mut_eval.report import text as txt
    from mut_eval.report.build import Ctx, limitation_facts
    # Holm p .01, .03, .20, .04: three effects significant at .05. Their p_cluster .02, .08, .049:
    # two of the three keep p < .05 (the .20 row's p_cluster .01 does not count: it was not significant).
    did = pd.DataFrame({"outcome": ["a", "a", "b", "b"], "contrast": ["T2-T1", "T3-T1", "T2-T1", "T3-T1"],
                        "estimate": [0.3, 0.25, 0.1, 0.2], "ci_low": [0.1, 0.05, -0.1, 0.01],
                        "ci_high": [0.5, 0.45, 0.3, 0.39], "p": [0.002, 0.01, 0.1, 0.02],
                        "p_holm": [0.01, 0.03, 0.20, 0.04], "p_cluster": [0.02, 0.08, 0.01, 0.049]})
    meta = {"alpha": 0.05, "min_cell": 10,
            "clustering": {"icc": 0.10, "mean_class_size": 23.75, "n_classes": 8, "n_schools": 5}}
    res = Results(tables={"did": did}, meta=meta)
    facts = limitation_facts(Ctx(res, "en", {}, tmp_path))
    assert (facts["n_significant"], facts["n_significant_cluster"]) == (3, 2)
    assert facts["n_classes"] == 8 and facts["n_schools"] == 5 and facts["icc"] == 0.10
    expected = ("(8 classes in 5 schools)", "intraclass correlation .10): 2 of the 3 effects that were significant "
                "after correction for the number of tests still have p < .05")
    assert any(all(e in x for e in expected) for x in txt.limitations(facts, "en"))
    doc = json.dumps(assemble(res, "nl", {}, tmp_path), ensure_ascii=False)
    assert "2 van de 3 effecten die na correctie voor het aantal toetsen significant waren" in doc


def test_did_by_moderator_levels_below_min_cell_suppressed(tmp_path):
    res = real_shaped()
    # individual format: 6 pupils (estimate 0.613, CI 0.333 to 0.893 must not appear); group: 120 pupils;
    # same study "no": 45 pupils but only 7 of them mentees (0.519, CI 0.222 to 0.816 must not appear);
    # age is continuous: its probes are printed with their W value
    d = pd.DataFrame([
        ("self_efficacy", "format", "individual", None, "T2-T1", 0.613, 0.333, 0.893, 0.001, 0.004, 6, 2, 4),
        ("self_efficacy", "format", "group", None, "T2-T1", 0.047, -0.171, 0.265, 0.67, 0.004, 120, 70, 50),
        ("self_efficacy", "same_study", "no", None, "T2-T1", 0.519, 0.222, 0.816, 0.001, 0.02, 45, 7, 38),
        ("self_efficacy", "same_study", "yes", None, "T2-T1", -0.081, -0.302, 0.140, 0.47, 0.02, 81, 61, 20),
        ("self_efficacy", "age", "M-1SD", 13.374, "T2-T1", 0.237, 0.011, 0.463, 0.04, 0.03, None, None, None),
    ], columns=["outcome", "moderator", "probe", "w", "contrast", "estimate", "ci_low", "ci_high", "p",
                "p_interaction", "n_level", "n_level_mentee", "n_level_control"])
    res.tables["did_by_moderator"] = d
    doc = json.dumps(assemble(res, "en", {}, tmp_path), ensure_ascii=False)
    assert "[0.33, 0.89]" not in doc and "0.61" not in doc
    assert "[0.22, 0.82]" not in doc and "0.52" not in doc
    assert "[−0.17, 0.27]" in doc and "individual" in doc and "[−0.30, 0.14]" in doc
    assert "M-1SD (13.37)" in doc and "[0.01, 0.46]" in doc


def test_moderation_figures_placed_by_their_recorded_key(tmp_path):
    from mut_eval import figures as figs
    res = real_shaped()
    made = figs.make_figures(res, tmp_path / "figures", "en")
    # same_gender (p = .000003, BH .0008) gets a figure; format (p = .0085) too, but drawn without its small level
    assert made.moderation["moderation_self_efficacy_t2_t1_same_gender"] == ("self_efficacy", "T2-T1", "same_gender")
    doc = json.dumps(assemble(res, "en", made, tmp_path), ensure_ascii=False)
    assert "/figures/moderation_self_efficacy_t2_t1_same_gender.svg" in doc
    assert "Predicted change in self-efficacy (T1–T2) by same gender as the mentor, with 95% CI." in doc


def test_multilevel_design_in_the_report(tmp_path):
    """A class-assigned study: the ICC table (numbers written here by hand), the sentence on
    precision, the primary model in the methods and the robustness figure's place."""
    did = pd.DataFrame({"outcome": ["a", "a"], "contrast": ["T2-T1", "T3-T1"], "estimate": [0.3, 0.25],
                        "ci_low": [0.1, 0.05], "ci_high": [0.5, 0.45], "p": [0.002, 0.01],
                        "p_holm": [0.004, 0.01], "model": "lmm_multilevel", "df": [12.5, 13.1]})
    icc = pd.DataFrame({"outcome": ["a"], "var_school": [0.01], "var_class": [0.02], "var_resid": [0.27],
                        "icc_class": [0.1], "icc_class_ci_low": [0.03], "icc_class_ci_high": [0.27],
                        "icc_school": [0.0333], "design_effect": [3.2], "n_effective": [59.4]})
    meta = {"alpha": 0.05, "min_cell": 10, "design": {
        "assignment": "class", "levels": ["school", "class"], "mentor_groups": True, "n_classes": 8,
        "n_schools": 5, "primary_model": "lmm_multilevel"}}
    res = Results(tables={"did": did, "icc": icc}, meta=meta)
    doc = json.dumps(assemble(res, "en", {}, tmp_path), ensure_ascii=False)
    assert "The conditions were assigned by class (8 classes in 5 schools)" in doc
    # 59.4 × 3.2 = 190 pupils hold as much information as 59 from different classes
    assert "the 190 pupils therefore hold as much information as 59 to 59 pupils" in doc
    assert "How alike are pupils of one class? (T1)" in doc and ".10" in doc and "3.20" in doc
    assert "(1 | school:class:wave)" in doc and "(0 + mentee_after_T1 | mentor)" in doc
    assert "Kenward–Roger degrees of freedom (pbkrtest)" in doc
    assert "multilevel model with classes" in doc
    nl = json.dumps(assemble(res, "nl", {}, tmp_path), ensure_ascii=False)
    assert "De condities zijn per klas toegewezen (8 klassen op 5 scholen)" in nl


def test_a_chapter_without_data_is_left_out(tmp_path):
    """No interviews, no Q-sort chapter (and no line for it in the contents): issue 15 item 5."""
    res = demo_results()
    with_q = assemble(res, "nl", {}, tmp_path)
    res.tables.pop("qsort_summary")
    without = assemble(res, "nl", {}, tmp_path)
    labels = [s.get("label") for s in without["sections"]]
    assert "qsort" in [s.get("label") for s in with_q["sections"]] and "qsort" not in labels
    assert len(without["sections"]) == len(with_q["sections"]) - 1
    assert "qsort_summary" not in json.dumps(without, ensure_ascii=False)
