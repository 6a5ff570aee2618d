"""Number formatting, small-cell suppression and the generated sentences of the report.

Every expected string below is written out by hand from the APA rules (APA 7th ed.
6.36, 6.40-6.44) and the hedging rule of mut_eval.report.text, never produced by the
code under test.
"""
import pytest

from mut_eval.report import format as fmt
from mut_eval.report import text as txt

MINUS = "\u2212"


# ---------------------------------------------------------------- formatting

@pytest.mark.parametrize("x,digits,lang,expected", [
    (3.6612, 2, "en", "3.66"),
    (3.6612, 2, "nl", "3,66"),
    (-0.214, 2, "en", MINUS + "0.21"),
    (-0.214, 2, "nl", MINUS + "0,21"),
    (-0.001, 2, "en", "0.00"),          # a rounded zero carries no sign
    (0.005, 1, "en", "0.0"),
    (None, 2, "en", "\u2014"),
    (float("nan"), 2, "nl", "\u2014"),
    ("abc", 2, "en", "\u2014"),
])
def test_num(x, digits, lang, expected):
    assert fmt.num(x, digits, lang) == expected


def test_num_plus_sign():
    assert fmt.num(0.2, 2, "en", plus=True) == "+0.20"
    assert fmt.num(-0.2, 2, "en", plus=True) == MINUS + "0.20"


@pytest.mark.parametrize("x,lang,expected", [
    (0.04, "en", ".04"), (0.04, "nl", ",04"), (-0.30, "en", MINUS + ".30"), (0.999, "en", "1.00"),
    (0.7749, "nl", ",77"),
])
def test_nolead(x, lang, expected):
    assert fmt.nolead(x, 2, lang) == expected


@pytest.mark.parametrize("p,lang,expected", [
    (0.0213, "en", ".02"),
    (0.0213, "nl", ",02"),
    (0.0004, "en", "< .001"),
    (0.0004, "nl", "< ,001"),
    (0.001, "en", ".001"),
    (0.0034, "en", ".003"),     # below .01: three decimals
    (0.0496, "en", ".050"),     # would round to the .05 boundary: three decimals
    (0.0504, "en", ".050"),
    (0.05, "en", ".05"),
    (0.5449, "en", ".54"),
    (0.996, "en", "> .99"),
    (None, "en", "\u2014"),
])
def test_p_value(p, lang, expected):
    assert fmt.p_value(p, lang) == expected


def test_p_text():
    assert fmt.p_text(0.02, "en") == "p = .02"
    assert fmt.p_text(0.00001, "nl") == "p < ,001"
    assert fmt.p_text(0.2, "en", symbol="p_BH") == "p_BH = .20"


def test_ci_and_words():
    assert fmt.ci(0.04, 0.38, 2, "en") == "[0.04, 0.38]"
    assert fmt.ci(0.04, 0.38, 2, "nl") == "[0,04; 0,38]"
    assert fmt.ci(0.64, 0.74, 2, "nl", bounded=True) == "[,64; ,74]"
    assert fmt.ci(-0.5, None, 2, "en") == "\u2014"
    assert fmt.ci_words(0.04, 0.38, 2, "en") == "95% CI 0.04 to 0.38"
    assert fmt.ci_words(-0.04, 0.38, 2, "nl") == f"95%-BI {MINUS}0,04 tot 0,38"


def test_misc_formats():
    assert fmt.m_sd(3.66, 0.45, "en") == "3.66 (0.45)"
    assert fmt.m_sd(3.66, 0.45, "nl") == "3,66 (0,45)"
    assert fmt.dof(2.0) == "2"
    assert fmt.dof(1.862, "nl") == "1,86"
    assert fmt.integer(124) == "124"
    assert fmt.integer(12345, "en") == "12,345"
    assert fmt.integer(12345, "nl") == "12.345"
    assert fmt.pct(45.24, 1, "nl") == "45,2%"


# ---------------------------------------------------------------- suppression

@pytest.mark.parametrize("n,count,expected,hit", [
    (9, True, "<10", True),
    (9, False, "\u2014", True),
    (1, True, "<10", True),
    (10, True, "42", False),        # exactly min_cell is reported
    (0, True, "42", False),         # an empty cell identifies nobody
    (None, False, "42", False),     # unknown n: not suppressed
    (float("nan"), False, "42", False),
])
def test_suppress_cell(n, count, expected, hit):
    assert fmt.suppress_cell("42", n, 10, count=count) == (expected, hit)


def test_suppress_cell_other_threshold():
    assert fmt.suppress_cell("7", 7, 5) == ("7", False)
    assert fmt.suppress_cell("4", 4, 5, count=True) == ("<5", True)


# ---------------------------------------------------------------- DiD sentences

def test_did_shown_declined_less_en():
    # CI 0.04..0.38 excludes 0, Holm p .01 < .05; both groups declined, mentees less.
    s = txt.did_sentence("Self-efficacy", "T3-T2", 0.21, 0.04, 0.38, 0.01, 0.36,
                         mentee_change=-0.18, control_change=-0.39, lang="en")
    assert s == ("Mentees' self-efficacy declined less than the control group's between T2 and T3 "
                 "(difference 0.21 points, 95% CI 0.04 to 0.38; g = 0.36).")


def test_did_shown_declined_less_nl():
    s = txt.did_sentence("Geloof in eigen kunnen", "T3-T2", 0.21, 0.04, 0.38, 0.01, 0.36,
                         mentee_change=-0.18, control_change=-0.39, lang="nl")
    assert s == ("Bij mentees daalde de score voor geloof in eigen kunnen tussen T2 en T3 minder dan in de "
                 "controlegroep (verschil 0,21 punten, 95%-BI 0,04 tot 0,38; g = 0,36).")


@pytest.mark.parametrize("mc,cc,est,en,nl", [
    (0.3, 0.1, 0.2, "rose more than the control group's", "steeg de score voor xy tussen T1 en T3 meer"),
    (0.1, -0.2, 0.3, "rose between T1 and T3, while the control group's declined", "terwijl die in de controlegroep daalde"),
    (0.1, 0.3, -0.2, "rose less than", "steeg de score voor xy tussen T1 en T3 minder"),
    (-0.3, -0.1, -0.2, "declined more than", "daalde de score voor xy tussen T1 en T3 meer"),
    (-0.1, 0.2, -0.3, "declined between T1 and T3, while the control group's rose", "terwijl die in de controlegroep steeg"),
    (None, None, 0.2, "was more positive among mentees", "bij mentees positiever"),
    (None, None, -0.2, "was more negative among mentees", "bij mentees negatiever"),
])
def test_did_direction_branches(mc, cc, est, en, nl):
    lo, hi = est - 0.1, est + 0.1     # excludes 0 in every case
    assert en in txt.did_sentence("Xy", "T3-T1", est, lo, hi, 0.001, None, mentee_change=mc, control_change=cc,
                                  lang="en")
    assert nl in txt.did_sentence("Xy", "T3-T1", est, lo, hi, 0.001, None, mentee_change=mc, control_change=cc,
                                  lang="nl")


def test_did_indication_when_adjusted_p_not_significant():
    # CI excludes 0 but the Holm-adjusted p (.21) is above alpha: hedged.
    en = txt.did_sentence("Self-efficacy", "T2-T1", -0.21, -0.38, -0.04, 0.21, -0.37,
                          mentee_change=0.21, control_change=0.42, lang="en")
    assert en.startswith("There are indications that mentees' self-efficacy rose less than the control group's "
                         "between T1 and T2")
    assert "not conclusive (adjusted p = .21)" in en
    nl = txt.did_sentence("Geloof in eigen kunnen", "T2-T1", -0.21, -0.38, -0.04, 0.21, -0.37,
                          mentee_change=0.21, control_change=0.42, lang="nl")
    assert nl.startswith("Er zijn aanwijzingen dat de score voor geloof in eigen kunnen bij mentees tussen T1 en T2 "
                         "minder steeg dan in de controlegroep")
    assert "niet overtuigend (gecorrigeerde p = ,21)" in nl


def test_did_not_shown_when_ci_includes_zero():
    en = txt.did_sentence("School belonging", "T3-T1", 0.12, -0.08, 0.32, 0.04, 0.21, lang="en")
    assert en == ("No difference between mentees and controls in the change in school belonging between T1 and T3 "
                  f"was shown (difference 0.12 points, 95% CI {MINUS}0.08 to 0.32; g = 0.21).")
    nl = txt.did_sentence("Verbondenheid met school", "T3-T1", 0.12, -0.08, 0.32, 0.04, 0.21, lang="nl")
    assert nl == ("Er is geen verschil aangetoond tussen mentees en controlegroep in de verandering van verbondenheid "
                  f"met school tussen T1 en T3 (verschil 0,12 punten, 95%-BI {MINUS}0,08 tot 0,32; g = 0,21).")
    # never an assertion of absence
    assert "there is no difference" not in en.lower()


def test_did_missing():
    assert "could not be estimated" in txt.did_sentence("X", "T2-T1", None, None, None, None, lang="en")
    assert "kon niet worden geschat" in txt.did_sentence("X", "T2-T1", 0.1, None, None, None, lang="nl")


def test_effect_verdict():
    assert txt.effect_verdict(0.04, 0.38, 0.01) == "shown"
    assert txt.effect_verdict(0.04, 0.38, None) == "shown"        # no adjusted p: the CI decides
    assert txt.effect_verdict(0.04, 0.38, 0.05) == "indication"   # p_adj == alpha is not below alpha
    assert txt.effect_verdict(-0.01, 0.38, 0.001) == "not_shown"
    assert txt.effect_verdict(None, 0.3, 0.01) == "missing"


# ---------------------------------------------------------------- benchmark g ≈ 0.21

@pytest.mark.parametrize("g,lo,hi,en,nl", [
    (0.50, 0.30, 0.70, "larger than the average effect", "groter dan het gemiddelde effect"),
    (0.25, 0.05, 0.45, "comparable to the average effect", "vergelijkbaar met het gemiddelde effect"),
    (0.12, 0.05, 0.19, "positive but smaller than", "positief, maar kleiner dan"),
    (0.10, -0.10, 0.30, "compatible both with no effect and with an effect as large as",
     "zowel bij geen effect als bij een effect zo groot als"),
    (0.02, -0.10, 0.15, "is not compatible with these data", "past niet bij deze gegevens"),
    (-0.40, -0.70, -0.10, "negative (to the disadvantage of mentees)", "negatief (in het nadeel van mentees)"),
])
def test_benchmark_sentence(g, lo, hi, en, nl):
    assert en in txt.benchmark_sentence(g, lo, hi, lang="en")
    assert "g ≈ 0.21" in txt.benchmark_sentence(g, lo, hi, lang="en")
    assert nl in txt.benchmark_sentence(g, lo, hi, lang="nl")
    assert "g ≈ 0,21" in txt.benchmark_sentence(g, lo, hi, lang="nl")


def test_benchmark_sentence_missing():
    assert txt.benchmark_sentence(None, 0.1, 0.2) == ""


# ---------------------------------------------------------------- ANOVA

def test_anova_sentence_significant_uncorrected():
    # Mauchly p = .40: sphericity kept, uncorrected df and p.
    s = txt.anova_sentence("Self-efficacy", 4.21, 2, 364, 0.016, 0.023, eps_gg=0.95, mauchly_p=0.40,
                           p_gg=0.018, lang="en")
    assert s == ("For self-efficacy, the course over time differed between mentees and controls "
                 "(condition × wave: F(2, 364) = 4.21, p = .02, ηp² = .02).")


def test_anova_sentence_greenhouse_geisser_nl():
    # Mauchly p = .01 < .05: df × ε = 2 × .90 = 1.80 and 280 × .90 = 252; p_GG = .34.
    s = txt.anova_sentence("Intrinsieke motivatie", 1.10, 2, 280, 0.33, 0.012, eps_gg=0.90, mauchly_p=0.01,
                           p_gg=0.34, lang="nl")
    assert s == ("Voor intrinsieke motivatie is geen verschil in het verloop over de tijd tussen mentees en "
                 "controlegroep aangetoond (conditie × meting: F(1,80; 252) = 1,10, p = ,34, ηp² = ,01, "
                 "Greenhouse–Geisser).")


# ---------------------------------------------------------------- WWC

def test_baseline_sentences():
    assert "equivalent by the WWC standard (|g| ≤ 0.05)" in txt.baseline_sentence("X", "T3-T1", 0.03, "satisfies")
    s = txt.baseline_sentence("Self-efficacy", "T3-T1", -0.22, "adjust", lang="en")
    assert f"by g = {MINUS}0.22" in s and "requires statistical adjustment" in s
    s = txt.baseline_sentence("Hulp", "T2-T1", 0.36, "fails", lang="nl")
    assert "met g = 0,36" in s and "(|g| > 0,25)" in s and "onzeker" in s


def test_attrition_sentence():
    s = txt.attrition_sentence("Self-efficacy", "T3-T1", 14.0, 3.0, "low", "low", lang="en")
    assert s == ("For self-efficacy (T1–T3), 14% of the pupils had no score (overall attrition) and attrition "
                 "differed by 3.0 percentage points between the groups (differential attrition): low attrition by "
                 "both the cautious and the optimistic WWC boundary.")
    s = txt.attrition_sentence("X", "T2-T1", 30, -5.0, "high", "low", lang="nl")
    assert "30%" in s and "5,0 procentpunt" in s and "hoge uitval volgens de voorzichtige" in s


# ---------------------------------------------------------------- moderation

def test_moderation_shown_en():
    s = txt.moderation_sentence("Extrinsic motivation", "T3-T1", "quality of the relationship with the mentor",
                                0.722, 0.33, 1.11, 0.0004, 0.02, n_tests=60, lang="en")
    assert s == ("Among mentees, the change in extrinsic motivation between T1 and T3 depended on quality of the "
                 "relationship with the mentor: the higher the value, the more positive the change (b = 0.72, "
                 "95% CI 0.33 to 1.11, p < .001; after BH correction for 60 tests p = .02).")


def test_moderation_shown_bh_below_001_nl():
    # p_BH < .001 must read "p < ,001", never "p = < ,001"
    s = txt.moderation_sentence("Intrinsieke motivatie", "T2-T1", "zelfde gender als de mentor", 0.51, 0.30, 0.71,
                                0.000003, 0.0008, n_tests=306, level="ja", reference="nee", lang="nl")
    assert s.endswith("na BH-correctie voor 306 toetsen p < ,001).")
    assert "bij zelfde gender als de mentor = ja was de verandering positiever dan bij zelfde gender als de " \
           "mentor = nee" in s


def test_moderation_indication_nl():
    # Age and belonging in the published report: b = −.284, 95% CI [−.499, −.039]; here p_BH = .35.
    s = txt.moderation_sentence("Verbondenheid met school", "T3-T1", "leeftijd", -0.284, -0.499, -0.039,
                                0.016, 0.35, n_tests=60, lang="nl")
    assert s.startswith("Er was een aanwijzing dat de verandering in verbondenheid met school tussen T1 en T3 bij "
                        "mentees samenhing met leeftijd (hoe hoger de waarde, hoe negatiever de verandering; "
                        f"b = {MINUS}0,28, 95%-BI {MINUS}0,50 tot {MINUS}0,04, p = ,02)")
    assert s.endswith("na correctie voor de 60 moderatietoetsen kan dit op toeval berusten "
                      "(BH-gecorrigeerde p = ,35).")


def test_moderation_not_shown_and_level():
    s = txt.moderation_sentence("Xy", "T2-T1", "Origin", 0.1, -0.2, 0.4, 0.5, 0.9, lang="en")
    assert s.startswith("It was not shown that the change in xy between T1 and T2 among mentees depends on origin")
    s = txt.moderation_sentence("X", "T3-T1", "gender", 0.5, 0.08, 0.92, 0.019, 0.01, level="girl", lang="en")
    assert "for gender = girl the change was more positive than in the reference group" in s


def test_moderation_verdict():
    assert txt.moderation_verdict(0.1, 0.5, 0.01, 0.03) == "shown"
    assert txt.moderation_verdict(0.1, 0.5, 0.01, 0.30) == "indication"
    assert txt.moderation_verdict(-0.1, 0.5, 0.40, 0.90) == "not_shown"
    assert txt.moderation_verdict(None, None, None, None) == "missing"


def test_moderation_summary():
    s = txt.moderation_summary(60, [("Quality of the relationship", "Extrinsic motivation", "T3-T1")], 6, "en")
    assert "60 tests" in s and ("an association remained between quality of the relationship and the change in "
                                "extrinsic motivation (T1–T3)") in s
    many = [(f"w{i}", f"O{i}", "T2-T1") for i in range(5)]
    s = txt.moderation_summary(306, many, 0, "en")
    assert s[1:] == [{"chapter": "moderation"}, ")."]          # the number comes from the template
    assert "5 associations remained, among them between w0 and the change in o0 (T1–T2), w1" in s[0]
    assert "w3" not in s[0] and s[0].endswith("(see chapter ")
    s = txt.moderation_summary(60, [], 6, "nl")
    assert "geen enkel verband" in s and "6 verbanden waren alleen zonder correctie significant" in s


def test_exploratory_and_did_moderator_sentences():
    assert txt.exploratory_indications_sentence(0, 60) == ""
    assert txt.exploratory_indications_sentence(13, 306, "en").startswith(
        "13 other associations were significant only without correction")
    assert "1 andere verband had alleen zonder correctie p < ,05" in txt.exploratory_indications_sentence(1, 60, "nl")
    s = txt.did_moderator_sentence(30, ["age for school belonging"], "en")
    assert s.startswith("30 tests examined whether the difference between mentees and controls")
    assert s.endswith("for age for school belonging.")
    assert "niet aangetoond" in txt.did_moderator_sentence(30, [], "nl")
    assert txt.did_moderator_sentence(0, [], "nl") == ""


def test_prespecified_sentence():
    assert txt.prespecified_not_shown_sentence([], "en") == ""
    assert "a for x and b for y" in txt.prespecified_not_shown_sentence(["a for x", "b for y"], "en")
    assert "overige 5 vooraf" in txt.prespecified_not_shown_sentence(list("abcde"), "nl")


# ---------------------------------------------------------------- Q-sort, summary, limitations

QSORT = [  # 13 mentees, the pattern of the published report
    {"label": "Motivation", "n": 13, "mean_rank": 1.54, "rank_1": 7, "rank_2": 5, "rank_3": 1, "rank_4": 0},
    {"label": "School belonging", "n": 13, "mean_rank": 3.85, "rank_1": 0, "rank_2": 0, "rank_3": 2, "rank_4": 11},
    {"label": "Self-efficacy", "n": 13, "mean_rank": 2.15, "rank_1": 3, "rank_2": 5, "rank_3": 5, "rank_4": 0},
]


def test_qsort_sentence():
    s = txt.qsort_sentence(QSORT, "en")
    assert "13 interviewed mentees put 3 cards in order" in s
    assert "motivation came first (mean rank 1.54; first or second for 12 of 13)" in s
    assert "school belonging came last (mean rank 3.85; last for 11 of 13)" in s
    s = txt.qsort_sentence(QSORT, "nl")
    assert "bij 12 van de 13 op plaats 1 of 2" in s and "gemiddelde rang 3,85" in s


def test_qsort_sentence_suppressed_below_min_cell():
    small = [dict(c, n=8) for c in QSORT]
    assert "Fewer than 10 mentees" in txt.qsort_sentence(small, "en")
    assert "Minder dan 10 mentees" in txt.qsort_sentence(small, "nl")


def test_plain_did_and_lists():
    assert txt.plain_did("Self-efficacy", "T3-T2", "shown", 0.42, -0.18, -0.60, "en") == (
        "Mentees' self-efficacy declined less than the control group's between the end of the programme (T2) "
        "and the follow-up (T3).")
    assert "no difference between mentees and controls was shown" in txt.plain_did("X", "T3-T1", "not_shown", 0.1)
    assert txt.join_list(["a", "b", "c"], "nl") == "a, b en c"
    assert txt.not_shown_sentence(["Self-efficacy", "School belonging"], "en") == (
        "For self-efficacy and school belonging, no difference between mentees and controls was shown at any point.")


def test_benchmark_summary():
    s = txt.benchmark_summary(10, 12, -0.37, 0.37, "en")
    assert "g ≈ 0.21" in s and f"from g = {MINUS}0.37 to g = 0.37" in s and "In 10 of the 12 comparisons" in s


def test_reliability_sentence():
    s = txt.reliability_sentence(0.63, 0.81, ["intrinsic motivation (T2)"], "en")
    assert s.startswith("Cronbach's α ranged from .63 to .81.") and "intrinsic motivation (T2)" in s
    assert txt.reliability_sentence(0.72, 0.90, [], "nl") == (
        "Cronbachs α lag tussen ,72 en ,90. Alle schalen haalden de gebruikelijke grens van ,70.")


def test_limitations_from_data():
    facts = {"synthetic": True, "attrition_high": ["self-efficacy"], "baseline_fails": ["help seeking"],
             "n_mentee": 124, "n_control": 66, "n_tests_effects": 18, "n_tests_moderation": 60,
             "n_classes": 8, "n_schools": 5, "sample_differences": ["migration background"], "qsort_n": 13}
    en = txt.limitations(facts, "en")
    joined = " ".join(en)
    assert en[0].startswith("This report was made with synthetic")
    assert "not assigned at random" in joined
    assert "(124 mentees, 66 controls)" in joined                      # 124/66 = 1.88 ≥ 1.5
    assert "(8 classes in 5 schools)" in joined
    assert "18 for the effects, 60 for moderation" in joined
    assert "cautious WWC boundary (self-efficacy)" in joined
    assert "For help seeking the groups were not equivalent" in joined
    assert "differed at the start in migration background" in joined
    nl = " ".join(txt.limitations(facts, "nl"))
    assert "synthetische" in nl and "8 klassen op 5 scholen" in nl


def test_limitations_covariates():
    facts = {"sample_differences": ["migration background"], "covariates_adjusted": True}
    assert any("additional analysis with covariates" in x for x in txt.limitations(facts, "en"))


def test_limitations_only_what_applies():
    # nothing known about classes (no class count, no clustering check): no clustering limitation
    facts = {"randomised": True, "n_mentee": 100, "n_control": 90,
             "n_tests_effects": 2, "n_tests_moderation": 0, "completers_only_anova": False}
    assert txt.limitations(facts, "en") == []


MAIN_EN = ("Pupils are grouped in classes and schools (8 classes in 5 schools). Pupils in the same class resemble "
           "each other, but the main model does not take the classes into account, so the uncertainty is probably "
           "underestimated.")
MAIN_NL = ("Leerlingen zitten samen in klassen en scholen (8 klassen op 5 scholen). Leerlingen uit dezelfde klas "
           "lijken op elkaar, maar het hoofdmodel houdt geen rekening met de klassen; de onzekerheid wordt daardoor "
           "waarschijnlijk onderschat.")
CHECK_EN = "A check that allows for this (What Works Clearinghouse correction, intraclass correlation .10)"
CHECK_NL = "Een controle die daarvoor corrigeert (correctie van de What Works Clearinghouse, intraklassecorrelatie ,10)"


@pytest.mark.parametrize("k,n,en,nl", [
    (3, 2, ": 2 of the 3 effects that were significant after correction for the number of tests still have "
           "p < .05; read the other one with extra caution.",
     ": 2 van de 3 effecten die na correctie voor het aantal toetsen significant waren, hebben nog steeds "
     "p < ,05; lees het andere met extra voorzichtigheid."),
    (4, 1, ": 1 of the 4 effects that were significant after correction for the number of tests still has "
           "p < .05; read the other 3 with extra caution.",
     ": 1 van de 4 effecten die na correctie voor het aantal toetsen significant waren, heeft nog steeds "
     "p < ,05; lees de andere 3 met extra voorzichtigheid."),
    (2, 2, ": all 2 effects that were significant after correction for the number of tests still have p < .05.",
     ": alle 2 effecten die na correctie voor het aantal toetsen significant waren, hebben nog steeds p < ,05."),
    (1, 0, ": the one effect that was significant after correction for the number of tests no longer has "
           "p < .05; read it with extra caution.",
     ": het effect dat na correctie voor het aantal toetsen significant was, heeft dan geen p < ,05 meer; lees "
     "het daarom met extra voorzichtigheid."),
    (3, 0, ": none of the 3 effects that were significant after correction for the number of tests still has "
           "p < .05; read them with extra caution.",
     ": geen van de 3 effecten die na correctie voor het aantal toetsen significant waren, heeft dan nog "
     "p < ,05; lees ze daarom met extra voorzichtigheid."),
    (0, 0, " changes no conclusion: no effect was significant.",
     " verandert geen conclusie: er was geen significant effect."),
])
def test_clustering_limitation_reports_the_check(k, n, en, nl):
    facts = {"randomised": True, "n_classes": 8, "n_schools": 5, "icc": 0.10, "n_significant": k,
             "n_significant_cluster": n, "completers_only_anova": False}
    assert txt.limitations(facts, "en") == [f"{MAIN_EN} {CHECK_EN}{en}"]
    assert txt.limitations(facts, "nl") == [f"{MAIN_NL} {CHECK_NL}{nl}"]


def test_clustering_limitation_without_the_check():
    # class counts but no p_cluster column (older results): only the first part
    facts = {"randomised": True, "n_classes": 8, "n_schools": 5, "completers_only_anova": False}
    assert txt.limitations(facts, "en") == [MAIN_EN]
    assert txt.clustering_limitation(None, None, 0.1, None, None, "en") == ""


def test_labels():
    assert txt.lower_first("Self-efficacy") == "self-efficacy"
    assert txt.lower_first("SES") == "SES"
    assert txt.between("T3-T1", "nl") == "tussen T1 en T3"
    assert txt.contrast_label("T3-T1") == f"T3 {MINUS} T1"
    assert txt.period("T2-T1") == "T1–T2"
    assert txt.moderator_label("same_gender", "nl") == "zelfde gender als de mentor"
    assert txt.level_label("girl", "nl") == "meisje"
    assert txt.stage_label("completers_self_efficacy", "en", {"self_efficacy": "Self-efficacy"}) == \
        "All three waves: Self-efficacy"


def test_clustering_limitation_when_the_main_model_has_the_classes():
    facts = {"randomised": True, "n_classes": 8, "n_schools": 5, "icc": 0.10, "n_significant": 2,
             "n_significant_cluster": 0, "completers_only_anova": False, "multilevel": True}
    en, = txt.limitations(facts, "en")
    nl, = txt.limitations(facts, "nl")
    assert en.startswith("Pupils are grouped in classes and schools (8 classes in 5 schools). The main model "
                         "takes this into account")
    assert "does not take the classes into account" not in en and "What Works" not in en
    assert nl.startswith("Leerlingen zitten samen in klassen en scholen (8 klassen op 5 scholen). Het hoofdmodel "
                         "houdt daar rekening mee")


# ---------------------------------------------------------------- issue 13 item 7: robust defaults

def test_chance_findings_sentence():
    # 84 tests at alpha .05: 0.05 * 84 = 4.2 expected raw p < .05 without any moderation
    assert txt.chance_findings_sentence(84, 7, 0.05, "nl") == (
        "Van de 84 toetsen zouden er bij afwezigheid van elk moderatie-effect ongeveer 4 een p < ,05 geven; "
        "hier zijn het er 7.")
    assert txt.chance_findings_sentence(84, 1, 0.05, "en") == (
        "Of the 84 tests, about 4 would give p < .05 if there were no moderation at all; here there is 1.")
    # 12 tests: 0.6 expected, given with one decimal
    assert "about 0.6 would" in txt.chance_findings_sentence(12, 0, 0.05, "en")
    assert txt.chance_findings_sentence(0, 0) == ""


def test_box_m_sentence():
    rows = [{"outcome": "Self-efficacy", "F": 1.4734, "df1": 6, "df2": 99458.287, "p": 0.1828},
            {"outcome": "School belonging", "F": 0.6765, "df1": 6, "df2": 99458.287, "p": 0.6687}]
    en = txt.box_m_sentence(rows, 0.001, "en")
    assert en.startswith("The analysis of variance assumes that the spread of and the association between the "
                         "three waves (the covariance matrix) are equal for mentees and controls;")
    assert en.endswith("By Box's M test (judged at p < .001) the assumption was violated for none of the outcomes "
                       "(smallest p = .18, for self-efficacy).")
    nl = txt.box_m_sentence(rows, 0.001, "nl")
    assert nl.endswith("Volgens Box's M-toets (beoordeeld bij p < ,001) was die aanname voor geen enkele uitkomst "
                       "geschonden (kleinste p = ,18, bij self-efficacy).")
    fail = [dict(rows[0], F=5.214, p=0.00002), rows[1]]
    en = txt.box_m_sentence(fail, 0.001, "en")
    assert ("Box's M test (judged at p < .001) rejected this assumption for self-efficacy (F(6, 99458) = 5.21, "
            "p < .001); for that outcome the mixed model below, which does not make this assumption, is the "
            "analysis to rely on.") in en
    nl = txt.box_m_sentence(fail, 0.001, "nl")
    assert ("wees die aanname af voor self-efficacy (F(6; 99458) = 5,21, p < ,001); voor die uitkomst is het "
            "gemengde model hieronder") in nl
    # df2 withheld for staff (it gives the group sizes back): F and p only
    assert "for self-efficacy (F = 5.21, p < .001); for that" in txt.box_m_sentence(
        [dict(fail[0], df2=None)], 0.001, "en")
    # a singular covariance matrix: said, not hidden
    assert "could not be computed for school belonging" in txt.box_m_sentence(
        [rows[0], dict(rows[1], F=None, p=None)], 0.001, "en")
    assert txt.box_m_sentence([], 0.001, "en") == ""
