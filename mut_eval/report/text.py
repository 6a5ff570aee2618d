"""Sentences of the report, generated from the numbers, in Dutch (``nl``) and English (``en``).

Every result sentence in the PDF comes from one of the small functions below, so the
wording follows the numbers and never a person's reading of them (the idea of
easystats ``report``). Hedging is driven by the confidence interval and the
multiplicity-adjusted p:

* CI excludes 0 and adjusted p < alpha  → a plain statement of the direction;
* CI excludes 0 but adjusted p >= alpha → "there are indications that ..., but after
  correction for the number of tests this is not conclusive";
* CI includes 0                         → "no difference ... was shown" (never "there is
  no difference": absence of evidence is not evidence of absence).

Effect sizes are compared with the meta-analytic benchmark for youth mentoring,
Hedges' g ≈ 0.21 (DuBois, Portillo, Rhodes, Silverthorn & Valentine, 2011,
Psychological Science in the Public Interest 12(2), 57-91; Raposa et al., 2019,
Journal of Youth and Adolescence 48, 423-443).
"""
from __future__ import annotations

from . import format as fmt

BENCHMARK_G = 0.21
LANGS = ("nl", "en")

WAVE_WORDS = {
    "nl": {"T1": "de start (T1)", "T2": "het einde van het programma (T2)", "T3": "de nameting (T3)"},
    "en": {"T1": "the start (T1)", "T2": "the end of the programme (T2)", "T3": "the follow-up (T3)"},
}

CONDITION_LABELS = {
    "nl": {"mentee": "Mentees", "control": "Controlegroep"},
    "en": {"mentee": "Mentees", "control": "Controls"},
}

MODERATOR_LABELS = {
    "age": ("leeftijd", "age"),
    "gender": ("gender", "gender"),
    "ses": ("sociaaleconomische status (SES)", "socio-economic status (SES)"),
    "migration_background": ("migratieachtergrond", "migration background"),
    "first_generation": ("eerste generatie", "first generation"),
    "origin": ("herkomst", "origin"),
    "same_gender": ("zelfde gender als de mentor", "same gender as the mentor"),
    "same_migration_background": ("zelfde migratieachtergrond als de mentor",
                                  "same migration background as the mentor"),
    "same_ses": ("zelfde SES als de mentor", "same SES as the mentor"),
    "same_first_generation": ("zelfde eerste-generatiestatus als de mentor",
                              "same first-generation status as the mentor"),
    "same_study": ("gewenste studie gelijk aan die van de mentor", "intended study matches the mentor's"),
    "interest_overlap": ("overlap in interesses met de mentor", "overlap in interests with the mentor"),
    "n_shared": ("aantal overeenkomsten met de mentor", "number of characteristics shared with the mentor"),
    "relationship_quality": ("kwaliteit van de relatie met de mentor", "quality of the relationship with the mentor"),
    "sessions_attended": ("aantal bijgewoonde bijeenkomsten", "number of sessions attended"),
    "attendance_share": ("aandeel bijgewoonde bijeenkomsten", "share of sessions attended"),
    "format": ("vorm (individueel of groep)", "format (individual or group)"),
    "group_size": ("groepsgrootte", "group size"),
    "class": ("klas", "class"),
    "school": ("school", "school"),
    "city": ("stad", "city"),
}

LEVEL_LABELS = {
    "girl": ("meisje", "girl"), "boy": ("jongen", "boy"), "other": ("anders", "other"),
    "unknown": ("onbekend", "unknown"), "yes": ("ja", "yes"), "no": ("nee", "no"),
    "low": ("laag", "low"), "middle": ("midden", "middle"), "high": ("hoog", "high"),
    "individual": ("individueel", "individual"), "group": ("groep", "group"),
    "dutch": ("Nederlands", "Dutch"), "moroccan": ("Marokkaans", "Moroccan"), "turkish": ("Turks", "Turkish"),
    "surinamese": ("Surinaams", "Surinamese"), "antillean": ("Antilliaans", "Antillean"),
    "other_western": ("overig westers", "other Western"),
    "other_non_western": ("overig niet-westers", "other non-Western"),
    "true": ("ja", "yes"), "false": ("nee", "no"), "1": ("ja", "yes"), "0": ("nee", "no"),
}

CARD_LABELS = {
    "self_efficacy": ("Geloof in eigen kunnen", "Self-efficacy"),
    "motivation": ("Motivatie", "Motivation"),
    "school_belonging": ("Verbondenheid met school", "School belonging"),
    "help_seeking": ("Hulp vragen", "Help seeking"),
}

STAGE_LABELS = {
    "enrolled": ("Deelnemers", "Enrolled"),
    "responded_T1": ("Ingevuld op T1", "Responded at T1"),
    "responded_T2": ("Ingevuld op T2", "Responded at T2"),
    "responded_T3": ("Ingevuld op T3", "Responded at T3"),
    "responded_all_waves": ("Alle drie metingen ingevuld", "Responded at all three waves"),
    "excluded": ("Uitgesloten (met reden)", "Excluded (with a reason)"),
    "matched": ("Gekoppeld aan een mentor", "Matched with a mentor"),
    "not_matched": ("Niet gekoppeld", "Not matched"),
    "never_started": ("Nooit begonnen", "Never started"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[0] if lang == "nl" else pair[1]


def moderator_label(key: str, lang: str = "en") -> str:
    return _pick(MODERATOR_LABELS[key], lang) if key in MODERATOR_LABELS else str(key).replace("_", " ")


def level_label(key, lang: str = "en") -> str:
    k = str(key)
    return _pick(LEVEL_LABELS[k.lower()], lang) if k.lower() in LEVEL_LABELS else k.replace("_", " ")


def card_label(key: str, lang: str = "en", outcome_labels: dict | None = None) -> str:
    if key in CARD_LABELS:
        return _pick(CARD_LABELS[key], lang)
    if outcome_labels and key in outcome_labels:
        return outcome_labels[key]
    return str(key).replace("_", " ").capitalize()


def stage_label(stage: str, lang: str = "en", outcome_labels: dict | None = None) -> str:
    if stage in STAGE_LABELS:
        return _pick(STAGE_LABELS[stage], lang)
    if stage.startswith("completers_"):
        key = stage[len("completers_"):]
        lab = (outcome_labels or {}).get(key, key.replace("_", " "))
        return (f"Alle drie metingen: {lab}" if lang == "nl" else f"All three waves: {lab}")
    return stage.replace("_", " ")


def lower_first(label: str) -> str:
    """'Self-efficacy' → 'self-efficacy' for use inside a sentence; 'SES' stays 'SES'."""
    if len(label) > 1 and label[0].isupper() and not label[1].isupper():
        return label[0].lower() + label[1:]
    return label


def upper_first(s: str) -> str:
    return s[:1].upper() + s[1:] if s else s


def tr(lang: str, nl: str, en: str) -> str:
    """The Dutch or the English text, by ``lang``."""
    return nl if lang == "nl" else en


def parse_contrast(contrast: str) -> tuple[str, str]:
    """``'T3-T1'`` → ``('T1', 'T3')`` (earlier, later)."""
    later, earlier = (str(contrast).replace("\u2212", "-").split("-") + [""])[:2]
    return earlier.strip(), later.strip()


def between(contrast: str, lang: str = "en") -> str:
    """``'T3-T1'`` → ``'between T1 and T3'`` / ``'tussen T1 en T3'``."""
    a, b = parse_contrast(contrast)
    return f"tussen {a} en {b}" if lang == "nl" else f"between {a} and {b}"


def period(contrast: str) -> str:
    """``'T3-T1'`` → ``'T1–T3'`` (a period in running text)."""
    a, b = parse_contrast(contrast)
    return f"{a}\u2013{b}" if a and b else str(contrast)


def contrast_label(contrast: str, lang: str = "en") -> str:
    """``'T3-T1'`` → ``'T3 − T1'`` for tables."""
    a, b = parse_contrast(contrast)
    return f"{b} \u2212 {a}" if a and b else str(contrast)


def holm_family(tests, lang: str = "en") -> str:
    """The family of the Holm (1979) correction of the DiD tests, in words.

    The ``did`` table is adjusted across outcomes within each contrast
    (:func:`mut_eval.stats.lmm.adjust_across`). ``tests``: the number of outcomes of one
    period (the short form, for a sentence on that period: 'Holm over the 6 outcomes of
    this period'), or a mapping contrast → number of tests (the long form, for table notes
    and the methods: 'Holm correction over the 6 outcomes within each period (3 periods
    separately, 18 tests in all)').
    """
    if not isinstance(tests, dict):
        k = int(tests)
        if lang == "nl":
            return f"Holm over de {k} {'uitkomst' if k == 1 else 'uitkomsten'} van deze periode"
        return f"Holm over the {k} {'outcome' if k == 1 else 'outcomes'} of this period"
    counts = {str(c): int(n) for c, n in tests.items() if n}
    if not counts:
        return ""
    ks, m, total = set(counts.values()), len(counts), sum(counts.values())
    if len(ks) == 1:
        k = ks.pop()
        if lang == "nl":
            return (f"Holm-correctie over de {k} {'uitkomst' if k == 1 else 'uitkomsten'} binnen elke periode "
                    f"({m} {'periode' if m == 1 else 'perioden'} apart, samen {total} toetsen)")
        return (f"Holm correction over the {k} {'outcome' if k == 1 else 'outcomes'} within each period "
                f"({m} {'period' if m == 1 else 'periods'} separately, {total} tests in all)")
    per = ", ".join(f"{period(c)}: {n}" for c, n in counts.items())
    if lang == "nl":
        return f"Holm-correctie over de uitkomsten binnen elke periode apart ({per}; samen {total} toetsen)"
    return f"Holm correction over the outcomes within each period separately ({per}; {total} tests in all)"


def bh_family(n_tests: int, lang: str = "en", n_outcomes: int | None = None, n_changes: int | None = None,
              n_moderators: int | None = None) -> str:
    """The family of the Benjamini–Hochberg (1995) correction of the moderation grid, in words.

    :func:`mut_eval.stats.moderation.moderation_grid` adjusts the one F test of the
    moderator per estimated outcome × change × moderator cell across the whole grid.
    Short form, for sentences ('BH correction over the 204 tests of the moderation grid');
    with the grid's dimensions the long form, for notes and the methods ('Benjamini–Hochberg
    correction over the 204 tests ... (one per estimated combination of 6 outcomes × 2
    changes × 17 moderators)').
    """
    n = int(n_tests)
    long = bool(n_outcomes and n_changes and n_moderators)
    name = "Benjamini–Hochberg" if long else "BH"
    if lang == "nl":
        s = f"{name}-correctie over de {n} {'toets' if n == 1 else 'toetsen'} van het moderatieraster"
    else:
        s = f"{name} correction over the {n} {'test' if n == 1 else 'tests'} of the moderation grid"
    if long:
        def k(n, one, many):
            return f"{n} {one if n == 1 else many}"
        s += (f" (één per geschatte combinatie van {k(n_outcomes, 'uitkomst', 'uitkomsten')} × "
              f"{k(n_changes, 'verandering', 'veranderingen')} × {k(n_moderators, 'moderator', 'moderatoren')})"
              if lang == "nl" else
              f" (one per estimated combination of {k(n_outcomes, 'outcome', 'outcomes')} × "
              f"{k(n_changes, 'change', 'changes')} × {k(n_moderators, 'moderator', 'moderators')})")
    return s


def _diff_stats(estimate, lo, hi, g, lang) -> str:
    word = "verschil" if lang == "nl" else "difference"
    unit = "punten" if lang == "nl" else "points"
    parts = f"{word} {fmt.num(estimate, 2, lang)} {unit}"
    civ = fmt.ci_words(lo, hi, 2, lang)
    if civ:
        parts += f", {civ}"
    if fmt.is_number(g):
        parts += f"; g = {fmt.num(g, 2, lang)}"
    return parts


def _direction(estimate, mentee_change, control_change, o, btw, lang, sub=False) -> str:
    """The clause describing how mentees' change compared with the controls'.

    ``sub=True`` gives the subordinate-clause form (Dutch word order: verb last).
    """
    pos = estimate > 0
    known = fmt.is_number(mentee_change) and fmt.is_number(control_change)
    if known:
        mc, cc = float(mentee_change), float(control_change)
        if pos:
            kind = "decl_less" if (mc < 0 and cc < 0) else "rise_more" if (mc >= 0 and cc >= 0) else "rise_while"
        else:
            kind = "rise_less" if (mc > 0 and cc > 0) else "decl_more" if (mc <= 0 and cc <= 0) else "decl_while"
    else:
        kind = "more_pos" if pos else "more_neg"
    if lang == "nl":
        main = {
            "decl_less": f"Bij mentees daalde de score voor {o} {btw} minder dan in de controlegroep",
            "rise_more": f"Bij mentees steeg de score voor {o} {btw} meer dan in de controlegroep",
            "rise_while": f"Bij mentees steeg de score voor {o} {btw}, terwijl die in de controlegroep daalde",
            "rise_less": f"Bij mentees steeg de score voor {o} {btw} minder dan in de controlegroep",
            "decl_more": f"Bij mentees daalde de score voor {o} {btw} meer dan in de controlegroep",
            "decl_while": f"Bij mentees daalde de score voor {o} {btw}, terwijl die in de controlegroep steeg",
            "more_pos": f"De verandering in {o} {btw} was bij mentees positiever dan in de controlegroep",
            "more_neg": f"De verandering in {o} {btw} was bij mentees negatiever dan in de controlegroep",
        }
        subc = {
            "decl_less": f"de score voor {o} bij mentees {btw} minder daalde dan in de controlegroep",
            "rise_more": f"de score voor {o} bij mentees {btw} meer steeg dan in de controlegroep",
            "rise_while": f"de score voor {o} bij mentees {btw} steeg, terwijl die in de controlegroep daalde",
            "rise_less": f"de score voor {o} bij mentees {btw} minder steeg dan in de controlegroep",
            "decl_more": f"de score voor {o} bij mentees {btw} meer daalde dan in de controlegroep",
            "decl_while": f"de score voor {o} bij mentees {btw} daalde, terwijl die in de controlegroep steeg",
            "more_pos": f"de verandering in {o} {btw} bij mentees positiever was dan in de controlegroep",
            "more_neg": f"de verandering in {o} {btw} bij mentees negatiever was dan in de controlegroep",
        }
        return subc[kind] if sub else main[kind]
    main = {
        "decl_less": f"Mentees' {o} declined less than the control group's {btw}",
        "rise_more": f"Mentees' {o} rose more than the control group's {btw}",
        "rise_while": f"Mentees' {o} rose {btw}, while the control group's declined",
        "rise_less": f"Mentees' {o} rose less than the control group's {btw}",
        "decl_more": f"Mentees' {o} declined more than the control group's {btw}",
        "decl_while": f"Mentees' {o} declined {btw}, while the control group's rose",
        "more_pos": f"The change in {o} {btw} was more positive among mentees than in the control group",
        "more_neg": f"The change in {o} {btw} was more negative among mentees than in the control group",
    }
    s = main[kind]
    return s[0].lower() + s[1:] if sub else s


def effect_verdict(ci_low, ci_high, p_adj, alpha: float = 0.05) -> str:
    """The hedging branch for a difference: ``'shown'``, ``'indication'``, ``'not_shown'``
    or ``'missing'``.

    ``shown`` needs both the CI to exclude 0 and the adjusted p to be below alpha;
    a CI that excludes 0 with an adjusted p at or above alpha is an ``indication``.
    Without an adjusted p the CI alone decides.
    """
    if not (fmt.is_number(ci_low) and fmt.is_number(ci_high)):
        return "missing"
    excludes = float(ci_low) > 0 or float(ci_high) < 0
    if not excludes:
        return "not_shown"
    if fmt.is_number(p_adj) and float(p_adj) >= alpha:
        return "indication"
    return "shown"


def did_sentence(outcome: str, contrast: str, estimate, ci_low, ci_high, p_adj, g=None, *,
                 alpha: float = 0.05, mentee_change=None, control_change=None, lang: str = "en",
                 family: str | None = None) -> str:
    """One sentence on a difference-in-differences estimate (mentee change − control change).

    ``outcome`` is the printed label; ``p_adj`` the multiplicity-adjusted p (Holm in the
    report); ``mentee_change``/``control_change`` (optional) choose between "declined
    less" and "rose more"; ``family`` (optional, :func:`holm_family`) names the tests the
    correction runs over. See the module docstring for the hedging rule.
    """
    o = lower_first(outcome)
    btw = between(contrast, lang)
    verdict = effect_verdict(ci_low, ci_high, p_adj, alpha) if fmt.is_number(estimate) else "missing"
    if verdict == "missing":
        if lang == "nl":
            return f"Het verschil in verandering van {o} {btw} tussen mentees en controlegroep kon niet worden geschat."
        return f"The difference between mentees and controls in the change in {o} {btw} could not be estimated."
    stats = _diff_stats(estimate, ci_low, ci_high, g, lang)
    if verdict == "not_shown":
        if lang == "nl":
            return (f"Er is geen verschil aangetoond tussen mentees en controlegroep in de verandering van "
                    f"{o} {btw} ({stats}).")
        return f"No difference between mentees and controls in the change in {o} {btw} was shown ({stats})."
    est = float(estimate)
    if verdict == "shown":
        return f"{_direction(est, mentee_change, control_change, o, btw, lang)} ({stats})."
    clause = _direction(est, mentee_change, control_change, o, btw, lang, sub=True)
    padj = fmt.p_text(p_adj, lang)
    fam = f"; {family}" if family else ""
    if lang == "nl":
        return (f"Er zijn aanwijzingen dat {clause} ({stats}), maar na correctie voor het aantal toetsen "
                f"is dit verschil niet overtuigend (gecorrigeerde {padj}{fam}).")
    return (f"There are indications that {clause} ({stats}), but after correction for the number of "
            f"tests this difference is not conclusive (adjusted {padj}{fam}).")


def benchmark_sentence(g, g_ci_low, g_ci_high, *, benchmark: float = BENCHMARK_G, lang: str = "en") -> str:
    """Compare Hedges' g and its CI with the youth-mentoring benchmark (g ≈ 0.21)."""
    if not (fmt.is_number(g) and fmt.is_number(g_ci_low) and fmt.is_number(g_ci_high)):
        return ""
    lo, hi = float(g_ci_low), float(g_ci_high)
    b = fmt.num(benchmark, 2, lang)
    if lang == "nl":
        avg = f"het gemiddelde effect van mentorprogramma's voor jongeren (g ≈ {b})"
        if lo > benchmark:
            return f"Dit effect is groter dan {avg}."
        if hi < 0:
            return f"De geschatte effectgrootte is negatief (in het nadeel van mentees) en ligt onder {avg}."
        if hi < benchmark:
            if lo > 0:
                return f"Dit effect is positief, maar kleiner dan {avg}."
            return f"Een effect zo groot als {avg} past niet bij deze gegevens: het effect is kleiner of afwezig."
        if lo > 0:
            return f"Dit effect is vergelijkbaar met {avg}."
        return f"De gegevens passen zowel bij geen effect als bij een effect zo groot als {avg}."
    avg = f"the average effect of youth mentoring programmes (g ≈ {b})"
    if lo > benchmark:
        return f"This effect is larger than {avg}."
    if hi < 0:
        return f"The estimated effect size is negative (to the disadvantage of mentees) and lies below {avg}."
    if hi < benchmark:
        if lo > 0:
            return f"This effect is positive but smaller than {avg}."
        return f"An effect as large as {avg} is not compatible with these data: the effect is smaller or absent."
    if lo > 0:
        return f"This effect is comparable to {avg}."
    return f"The data are compatible both with no effect and with an effect as large as {avg}."


def f_text(F, df1, df2, lang: str = "en") -> str:
    """``'F(2, 364) = 4.21'``; nl ``'F(2; 364) = 4,21'`` (the comma is the decimal mark)."""
    sep = "; " if lang == "nl" else ", "
    return f"F({fmt.dof(df1, lang)}{sep}{fmt.dof(df2, lang)}) = {fmt.num(F, 2, lang)}"


def anova_choose_correction(eps_gg, mauchly_p, alpha: float = 0.05) -> bool:
    """Use the Greenhouse–Geisser correction when Mauchly's test rejects sphericity."""
    return fmt.is_number(eps_gg) and fmt.is_number(mauchly_p) and float(mauchly_p) < alpha and float(eps_gg) < 1


def anova_sentence(outcome: str, F, df1, df2, p, np2=None, *, eps_gg=None, mauchly_p=None, p_gg=None,
                   alpha: float = 0.05, lang: str = "en") -> str:
    """One sentence on the condition × wave interaction of the mixed ANOVA (completers).

    With Mauchly's p < alpha the Greenhouse–Geisser corrected df and p are reported.
    """
    o = lower_first(outcome)
    if not (fmt.is_number(F) and fmt.is_number(p)):
        if lang == "nl":
            return f"Voor {o} kon de variantieanalyse niet worden uitgevoerd."
        return f"The analysis of variance could not be carried out for {o}."
    gg = anova_choose_correction(eps_gg, mauchly_p, alpha) and fmt.is_number(p_gg)
    if gg:
        df1, df2, p = float(df1) * float(eps_gg), float(df2) * float(eps_gg), p_gg
    stat = f"{f_text(F, df1, df2, lang)}, {fmt.p_text(p, lang)}"
    if fmt.is_number(np2):
        stat += f", ηp² = {fmt.nolead(np2, 2, lang)}"
    if gg:
        stat += ", Greenhouse–Geisser"
    if float(p) < alpha:
        if lang == "nl":
            return f"Voor {o} verschilde het verloop over de tijd tussen mentees en controlegroep (conditie × meting: {stat})."
        return f"For {o}, the course over time differed between mentees and controls (condition × wave: {stat})."
    if lang == "nl":
        return (f"Voor {o} is geen verschil in het verloop over de tijd tussen mentees en controlegroep "
                f"aangetoond (conditie × meting: {stat}).")
    return (f"For {o}, no difference in the course over time between mentees and controls was shown "
            f"(condition × wave: {stat}).")


def box_m_sentence(rows: list[dict], alpha_box: float = 0.001, lang: str = "en") -> str:
    """The split-plot ANOVA's assumption of equal covariance matrices and Box's M result.

    ``rows``: one per outcome, ``{outcome (label), F, df1, df2, p}`` from the ``box_m``
    table. Judged at ``alpha_box`` (.001, the SPSS convention); a rejection points to
    the mixed model, which does not assume equal covariance matrices."""
    if not rows:
        return ""
    a = fmt.nolead(alpha_box, 3, lang)
    ok = [r for r in rows if fmt.is_number(r.get("p"))]
    fails = [r for r in ok if float(r["p"]) < alpha_box]
    missing = [lower_first(r["outcome"]) for r in rows if not fmt.is_number(r.get("p"))]

    def stat(r):
        if not fmt.is_number(r.get("df2")):   # withheld for staff: it gives the group sizes back
            return f"F = {fmt.num(r.get('F'), 2, lang)}, {fmt.p_text(r['p'], lang)}"
        return f"{f_text(r.get('F'), r.get('df1'), round(float(r['df2'])), lang)}, {fmt.p_text(r['p'], lang)}"
    s = tr(lang, "De variantieanalyse gaat ervan uit dat de spreiding van en de samenhang tussen de drie "
                 "metingen (de covariantiematrix) bij mentees en controlegroep gelijk zijn; bij ongelijke groepen "
                 "is de interactietoets niet bestand tegen een schending, ook niet met Greenhouse–Geisser-correctie. ",
           "The analysis of variance assumes that the spread of and the association between the three waves (the "
           "covariance matrix) are equal for mentees and controls; with unequal groups its interaction test is not "
           "robust to a violation, not even with the Greenhouse–Geisser correction. ")
    if fails:
        items = join_list([f"{lower_first(r['outcome'])} ({stat(r)})" for r in fails], lang)
        one = len(fails) == 1
        s += tr(lang, f"Box's M-toets (beoordeeld bij p < {a}) wees die aanname af voor {items}; voor "
                      f"{'die uitkomst' if one else 'die uitkomsten'} is het gemengde model hieronder, dat deze "
                      f"aanname niet maakt, de analyse om op te vertrouwen.",
                f"Box's M test (judged at p < {a}) rejected this assumption for {items}; for "
                f"{'that outcome' if one else 'these outcomes'} the mixed model below, which does not make this "
                f"assumption, is the analysis to rely on.")
    elif ok:
        low = min(ok, key=lambda r: float(r["p"]))
        where = lower_first(low["outcome"])
        s += tr(lang, f"Volgens Box's M-toets (beoordeeld bij p < {a}) was die aanname voor geen enkele uitkomst "
                      f"geschonden (kleinste {fmt.p_text(low['p'], lang)}, bij {where}).",
                f"By Box's M test (judged at p < {a}) the assumption was violated for none of the outcomes "
                f"(smallest {fmt.p_text(low['p'], lang)}, for {where}).")
    if missing:
        lst = join_list(missing, lang)
        s += tr(lang, f" Voor {lst} kon Box's M niet worden berekend.", f" Box's M could not be computed for {lst}.")
    return s.strip()


def chance_findings_sentence(n_tests: int, n_significant: int, alpha: float = 0.05, lang: str = "en") -> str:
    """How many unadjusted p < alpha a grid of ``n_tests`` tests gives when nothing is
    moderated (alpha · n_tests: under the null every p is uniform), next to the number seen."""
    if not n_tests:
        return ""
    expected = alpha * n_tests
    e = fmt.num(expected, 0 if expected >= 1 else 1, lang)
    a = fmt.nolead(alpha, 2, lang)
    if lang == "nl":
        return (f"Van de {n_tests} toetsen zouden er bij afwezigheid van elk moderatie-effect ongeveer {e} een "
                f"p < {a} geven; hier {'is het er' if n_significant == 1 else 'zijn het er'} {n_significant}.")
    return (f"Of the {n_tests} tests, about {e} would give p < {a} if there were no moderation at all; here "
            f"{'there is' if n_significant == 1 else 'there are'} {n_significant}.")


def baseline_sentence(outcome: str, contrast: str, g_baseline, wwc: str, lang: str = "en") -> str:
    """Baseline equivalence against the WWC bands: |g| ≤ .05 satisfies, ≤ .25 adjust, else fails."""
    o = lower_first(outcome)
    a, b = parse_contrast(contrast)
    if not fmt.is_number(g_baseline):
        return (f"Voor {o} kon de gelijkwaardigheid op T1 niet worden bepaald." if lang == "nl"
                else f"Baseline equivalence could not be assessed for {o}.")
    g = fmt.num(g_baseline, 2, lang)
    if lang == "nl":
        who = f"leerlingen met metingen op {a} en {b}"
        if wwc == "satisfies":
            return (f"Op T1 verschilden mentees en controlegroep ({who}) nauwelijks in {o} (g = {g}): "
                    f"volgens de WWC-standaard zijn de groepen gelijkwaardig (|g| ≤ 0,05).")
        if wwc == "adjust":
            return (f"Op T1 verschilden mentees en controlegroep ({who}) in {o} met g = {g}: volgens de "
                    f"WWC-standaard moet hiervoor statistisch worden gecorrigeerd (0,05 < |g| ≤ 0,25); de "
                    f"verschil-in-verschilschatting houdt rekening met dit beginverschil.")
        return (f"Op T1 verschilden mentees en controlegroep ({who}) in {o} met g = {g}: te veel om de groepen "
                f"volgens de WWC-standaard gelijkwaardig te noemen (|g| > 0,25). Het effect op deze uitkomst is "
                f"daardoor onzeker.")
    who = f"pupils measured at {a} and {b}"
    if wwc == "satisfies":
        return (f"At T1, mentees and controls ({who}) hardly differed in {o} (g = {g}): equivalent by the "
                f"WWC standard (|g| ≤ 0.05).")
    if wwc == "adjust":
        return (f"At T1, mentees and controls ({who}) differed in {o} by g = {g}: by the WWC standard this "
                f"requires statistical adjustment (0.05 < |g| ≤ 0.25); the difference-in-differences estimate "
                f"takes this baseline difference into account.")
    return (f"At T1, mentees and controls ({who}) differed in {o} by g = {g}: too much for the groups to count as "
            f"equivalent by the WWC standard (|g| > 0.25). The effect on this outcome is therefore uncertain.")


def as_percent(x, scale_is_fraction: bool) -> float | None:
    if not fmt.is_number(x):
        return None
    return float(x) * 100 if scale_is_fraction else float(x)


def attrition_sentence(outcome: str, contrast: str, overall_pct, differential_pct, wwc_cautious: str,
                       wwc_optimistic: str, lang: str = "en") -> str:
    """Overall and differential attrition (in percent) against the WWC boundaries."""
    o = lower_first(outcome)
    a, b = parse_contrast(contrast)
    if not (fmt.is_number(overall_pct) and fmt.is_number(differential_pct)):
        return (f"Voor {o} kon de uitval niet worden bepaald." if lang == "nl"
                else f"Attrition could not be determined for {o}.")
    ov, di = fmt.num(overall_pct, 0, lang), fmt.num(abs(float(differential_pct)), 1, lang)
    c, op = str(wwc_cautious), str(wwc_optimistic)
    if lang == "nl":
        if c == "low" and op == "low":
            v = "lage uitval volgens zowel de voorzichtige als de optimistische WWC-grens"
        elif c == "high" and op == "high":
            v = "hoge uitval volgens beide WWC-grenzen"
        elif c == "high":
            v = "hoge uitval volgens de voorzichtige en lage uitval volgens de optimistische WWC-grens"
        else:
            v = "uitval waarvan de beoordeling per WWC-grens verschilt"
        return (f"Voor {o} ({a}–{b}) ontbrak bij {ov}% van de leerlingen een score (totale uitval) en verschilde "
                f"de uitval tussen de groepen {di} procentpunt (differentiële uitval): {v}.")
    if c == "low" and op == "low":
        v = "low attrition by both the cautious and the optimistic WWC boundary"
    elif c == "high" and op == "high":
        v = "high attrition by both WWC boundaries"
    elif c == "high":
        v = "high attrition by the cautious and low attrition by the optimistic WWC boundary"
    else:
        v = "attrition rated differently by the two WWC boundaries"
    return (f"For {o} ({a}–{b}), {ov}% of the pupils had no score (overall attrition) and attrition differed "
            f"by {di} percentage points between the groups (differential attrition): {v}.")


def moderation_verdict(ci_low, ci_high, p, p_bh, alpha: float = 0.05) -> str:
    """``'shown'`` (BH-adjusted p < alpha), ``'indication'`` (only the unadjusted p or CI),
    ``'not_shown'`` or ``'missing'``."""
    if not fmt.is_number(p) and not (fmt.is_number(ci_low) and fmt.is_number(ci_high)):
        return "missing"
    raw_sig = (float(p) < alpha) if fmt.is_number(p) else (float(ci_low) > 0 or float(ci_high) < 0)
    if not raw_sig:
        return "not_shown"
    if fmt.is_number(p_bh) and float(p_bh) < alpha:
        return "shown"
    return "indication"


def moderation_sentence(outcome: str, change: str, moderator: str, b, ci_low, ci_high, p, p_bh, *,
                        n_tests: int | None = None, level: str | None = None, reference: str | None = None,
                        alpha: float = 0.05, lang: str = "en", family: str | None = None) -> str:
    """One sentence on whether a moderator (W) goes with the size of mentees' change.

    ``moderator``, ``level`` and ``reference`` are printed labels; ``level`` is given for one
    level of a categorical moderator (its difference from the ``reference`` level). BH = Benjamini–
    Hochberg false discovery rate over ``n_tests`` moderation tests; ``family`` (optional,
    :func:`bh_family`) names them instead.
    """
    o = lower_first(outcome)
    w = lower_first(moderator)
    btw = between(change, lang)
    verdict = moderation_verdict(ci_low, ci_high, p, p_bh, alpha)
    if verdict == "missing" or not fmt.is_number(b):
        return (f"De moderatie door {w} van de verandering in {o} {btw} kon niet worden geschat." if lang == "nl"
                else f"Moderation by {w} of the change in {o} {btw} could not be estimated.")
    stats = f"b = {fmt.num(b, 2, lang)}"
    civ = fmt.ci_words(ci_low, ci_high, 2, lang)
    if civ:
        stats += f", {civ}"
    stats += f", {fmt.p_text(p, lang)}"
    k = f" {int(n_tests)}" if n_tests else ""
    pos = float(b) > 0
    if verdict == "not_shown":
        if lang == "nl":
            return f"Er is niet aangetoond dat de verandering in {o} {btw} bij mentees afhangt van {w} ({stats})."
        return f"It was not shown that the change in {o} {btw} among mentees depends on {w} ({stats})."
    if lang == "nl":
        if level is not None:
            ref = f"bij {w} = {reference}" if reference else "in de referentiegroep"
            how = f"bij {w} = {level} was de verandering {'positiever' if pos else 'negatiever'} dan {ref}"
        else:
            how = f"hoe hoger de waarde, hoe {'positiever' if pos else 'negatiever'} de verandering"
        after = f"na {family}:" if family else f"na BH-correctie voor{k} toetsen"
        if verdict == "shown":
            return (f"Bij mentees hing de verandering in {o} {btw} samen met {w}: {how} ({stats}; "
                    f"{after} {fmt.p_text(p_bh, lang)}).")
        after = after.rstrip(":")
        return (f"Er was een aanwijzing dat de verandering in {o} {btw} bij mentees samenhing met {w} ({how}; "
                f"{stats}), maar {after if family else f'na correctie voor de{k} moderatietoetsen'} kan dit op "
                f"toeval berusten (BH-gecorrigeerde {fmt.p_text(p_bh, lang)}).")
    if level is not None:
        ref = f"for {w} = {reference}" if reference else "in the reference group"
        how = f"for {w} = {level} the change was {'more positive' if pos else 'more negative'} than {ref}"
    else:
        how = f"the higher the value, the {'more positive' if pos else 'more negative'} the change"
    after = f"after {family}:" if family else f"after BH correction for{k} tests"
    if verdict == "shown":
        return (f"Among mentees, the change in {o} {btw} depended on {w}: {how} ({stats}; "
                f"{after} {fmt.p_text(p_bh, lang)}).")
    after = after.rstrip(":")
    return (f"There was an indication that among mentees the change in {o} {btw} depended on {w} ({how}; "
            f"{stats}), but {after if family else f'after correction for the{k} moderation tests'} this may be "
            f"a chance finding (BH-adjusted {fmt.p_text(p_bh, lang)}).")


def prespecified_not_shown_sentence(items: list[str], lang: str = "en", max_listed: int = 4) -> str:
    """The prespecified moderations without evidence in one sentence (``items``: 'W for outcome');
    more than ``max_listed`` are given as a count."""
    if not items:
        return ""
    k = len(items)
    if lang == "nl":
        if k > max_listed:
            return f"Voor de overige {k} vooraf gekozen verbanden is geen samenhang aangetoond (zie de tabel)."
        return f"Voor de overige vooraf gekozen verbanden is geen samenhang aangetoond: {join_list(items, lang)}."
    if k > max_listed:
        return f"For the other {k} prespecified associations no association was shown (see the table)."
    return f"For the other prespecified associations no association was shown: {join_list(items, lang)}."


def did_moderator_sentence(n_tests: int, significant: list[str], lang: str = "en", alpha: float = 0.05) -> str:
    """Whether the programme effect (DiD) differs by pupil characteristic, in one or two sentences.

    ``significant``: 'characteristic for outcome' labels whose interaction test had p < alpha.
    """
    if not n_tests:
        return ""
    a = fmt.nolead(alpha, 2, lang)
    if lang == "nl":
        s = (f"Met {n_tests} toetsen is onderzocht of het verschil tussen mentees en controlegroep (het "
             f"programma-effect) anders is voor groepen leerlingen. ")
        if not significant:
            return s + f"Bij geen enkele toets was p < {a}: een verschillend effect voor groepen leerlingen is niet aangetoond."
        return s + (f"Een aanwijzing (p < {a}, zonder correctie voor het aantal toetsen) was er voor "
                    f"{join_list(significant, lang)}.")
    s = (f"{n_tests} tests examined whether the difference between mentees and controls (the programme "
         f"effect) differs between groups of pupils. ")
    if not significant:
        return s + f"No test had p < {a}: a different effect for groups of pupils was not shown."
    return s + (f"There was an indication (p < {a}, without correction for the number of tests) for "
                f"{join_list(significant, lang)}.")


def exploratory_indications_sentence(k: int, n_tests: int | None = None, lang: str = "en",
                                     family: str | None = None) -> str:
    """The exploratory associations with only an unadjusted p below alpha, as a count;
    ``family`` (optional, :func:`bh_family`) names the tests of the correction."""
    if not k:
        return ""
    tests = f" {n_tests}" if n_tests else ""
    if lang == "nl":
        after = f"na {family}" if family else f"na correctie voor de{tests} toetsen"
        return (f"{k} andere {'verband had' if k == 1 else 'verbanden hadden'} alleen zonder correctie p < ,05 "
                f"(zie de tabel); {after} kan dat op toeval berusten.")
    after = f"after {family}" if family else f"after correction for the{tests} tests"
    return (f"{k} other association{' was' if k == 1 else 's were'} significant only without correction (see the "
            f"table); {after} this may be chance.")


def qsort_sentence(cards: list[dict], lang: str = "en", min_cell: int = 10) -> str:
    """What interviewed mentees said: the highest and the lowest ranked card.

    ``cards``: one dict per card with ``label``, ``n``, ``mean_rank`` and ``rank_1``...``rank_k``.
    """
    shown = [c for c in cards if fmt.is_number(c.get("mean_rank"))]
    if cards and not shown and any(fmt.is_suppressed(c.get(key)) for c in cards for key in c):
        # the staff view hid the ranks: counts per card and rank below min_cell
        return (f"De rangordes worden niet getoond: per kaartje en plaats gaat het om minder dan {min_cell} mentees, "
                f"en om hun privacy te beschermen worden zulke kleine aantallen niet gegeven." if lang == "nl" else
                f"The rankings are not shown: per card and place they concern fewer than {min_cell} mentees, and to "
                f"protect their privacy such small numbers are not given.")
    cards = shown
    if not cards:
        return ("Er zijn geen Q-sortgegevens." if lang == "nl" else "There are no Q-sort data.")
    n = int(max(c.get("n", 0) for c in cards))
    # The number of ranks (the last place) comes from the rank_<r> keys, not from how many cards are given.
    ranks = [int(key[5:]) for c in cards for key in c if str(key).startswith("rank_") and str(key)[5:].isdigit()]
    k = max(ranks) if ranks else len(cards)
    if fmt.is_small(n, min_cell):
        return (f"Minder dan {min_cell} mentees maakten een rangorde; om hun privacy te beschermen worden de "
                f"resultaten niet getoond." if lang == "nl" else
                f"Fewer than {min_cell} mentees ranked the cards; to protect their privacy the results are not shown.")
    srt = sorted(cards, key=lambda c: c["mean_rank"])
    top, bottom = srt[0], srt[-1]
    top2 = int(top.get("rank_1", 0) or 0) + int(top.get("rank_2", 0) or 0)
    last = int(bottom.get(f"rank_{k}", 0) or 0)
    if lang == "nl":
        return (f"{n} geïnterviewde mentees zetten {len(cards)} kaartjes in volgorde van hoeveel de mentoring hen hielp "
                f"(1 = hielp het meest). Gemiddeld kwam {lower_first(top['label'])} het hoogst (gemiddelde rang "
                f"{fmt.num(top['mean_rank'], 2, lang)}; bij {top2} van de {n} op plaats 1 of 2) en "
                f"{lower_first(bottom['label'])} het laagst (gemiddelde rang {fmt.num(bottom['mean_rank'], 2, lang)}; "
                f"bij {last} van de {n} op de laatste plaats).")
    return (f"{n} interviewed mentees put {len(cards)} cards in order of how much the mentoring helped them "
            f"(1 = helped most). On average {lower_first(top['label'])} came first (mean rank "
            f"{fmt.num(top['mean_rank'], 2, lang)}; first or second for {top2} of {n}) and "
            f"{lower_first(bottom['label'])} came last (mean rank {fmt.num(bottom['mean_rank'], 2, lang)}; "
            f"last for {last} of {n}).")


def plain_did(outcome: str, contrast: str, verdict: str, estimate, mentee_change=None, control_change=None,
              lang: str = "en") -> str:
    """The summary-page version of a DiD result: direction only, no statistics."""
    o = lower_first(outcome)
    a, b = parse_contrast(contrast)
    span = (f"tussen {WAVE_WORDS['nl'].get(a, a)} en {WAVE_WORDS['nl'].get(b, b)}" if lang == "nl"
            else f"between {WAVE_WORDS['en'].get(a, a)} and {WAVE_WORDS['en'].get(b, b)}")
    if verdict == "shown" and fmt.is_number(estimate):
        return _direction(float(estimate), mentee_change, control_change, o, span, lang) + "."
    if verdict == "indication" and fmt.is_number(estimate):
        clause = _direction(float(estimate), mentee_change, control_change, o, span, lang, sub=True)
        return (f"Er zijn aanwijzingen dat {clause}, maar dat is niet overtuigend." if lang == "nl"
                else f"There are indications that {clause}, but this is not conclusive.")
    if lang == "nl":
        return f"Voor {o} is {span} geen verschil tussen mentees en controlegroep aangetoond."
    return f"For {o}, no difference between mentees and controls was shown {span}."


def join_list(items: list[str], lang: str = "en") -> str:
    """'a, b and c' / 'a, b en c'."""
    items = [i for i in items if i]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    word = " en " if lang == "nl" else " and "
    return ", ".join(items[:-1]) + word + items[-1]



# ---------------------------------------------------------------- summary and limitations

def design_sentence(n_mentee, n_control, lang: str = "en", n_waves: int = 3) -> str:
    """Plain description of the comparison for the summary page."""
    nm, nc = fmt.integer(n_mentee, lang), fmt.integer(n_control, lang)
    if lang == "nl":
        return (f"Dit rapport vergelijkt {nm} leerlingen met een studentmentor (mentees) met {nc} leerlingen uit "
                f"vergelijkingsklassen zonder mentor. Zij vulden op {n_waves} momenten een vragenlijst in: aan de "
                f"start (T1), aan het einde van het programma (T2) en bij de nameting (T3).")
    return (f"This report compares {nm} pupils who had a student mentor (mentees) with {nc} pupils in comparison "
            f"classes without a mentor. They filled in a questionnaire at {n_waves} moments: at the start (T1), at "
            f"the end of the programme (T2) and at the follow-up (T3).")


def not_shown_sentence(outcomes: list[str], lang: str = "en") -> str:
    """Outcomes for which no difference was shown in any contrast."""
    if not outcomes:
        return ""
    lst = join_list([lower_first(o) for o in outcomes], lang)
    if lang == "nl":
        return f"Voor {lst} is op geen enkel moment een verschil tussen mentees en controlegroep aangetoond."
    return f"For {lst}, no difference between mentees and controls was shown at any point."


def benchmark_summary(n_compatible: int, n_total: int, g_min=None, g_max=None, lang: str = "en") -> str:
    """How many effect sizes are compatible with the benchmark g ≈ 0.21."""
    if not n_total:
        return ""
    b = fmt.num(BENCHMARK_G, 2, lang)
    rng = ""
    if fmt.is_number(g_min) and fmt.is_number(g_max):
        rng = (f" De geschatte effecten liepen uiteen van g = {fmt.num(g_min, 2, lang)} tot g = "
               f"{fmt.num(g_max, 2, lang)}." if lang == "nl" else
               f" The estimated effects ranged from g = {fmt.num(g_min, 2, lang)} to g = {fmt.num(g_max, 2, lang)}.")
    if lang == "nl":
        return (f"Ter vergelijking: mentorprogramma's voor jongeren hebben gemiddeld een effect van g ≈ {b}."
                f"{rng} Bij {n_compatible} van de {n_total} vergelijkingen passen de gegevens bij een effect van "
                f"die omvang.")
    return (f"For comparison: youth mentoring programmes have an average effect of g ≈ {b}.{rng} In "
            f"{n_compatible} of the {n_total} comparisons the data are compatible with an effect of that size.")


def chapter(label: str) -> dict:
    """Rich text: the number of the chapter labelled ``label`` (the section's function name
    without ``section_``), filled in by the template, so a reference stays right when
    chapters are added or left out."""
    return {"chapter": label}


def moderation_summary(n_tests: int, shown: list[tuple[str, str, str]], n_indication: int,
                       lang: str = "en", max_listed: int = 3, family: str | None = None) -> str | list:
    """Summary of the moderation analyses: which associations survive the BH correction.

    ``shown``: ``(moderator label, outcome label, change)`` for each association with a
    BH-adjusted p below alpha, strongest first (only the first ``max_listed`` are named);
    ``n_indication``: how many had only an unadjusted p below alpha; ``family`` (optional,
    :func:`bh_family`) names the tests the correction runs over.
    """
    if not n_tests:
        return ""
    k = len(shown)
    after = upper_first(tr(lang, f"na {family}", f"after {family}")) if family else \
        tr(lang, "Na correctie voor het aantal toetsen", "After correction for the number of tests")
    if lang == "nl":
        items = [f"{lower_first(w)} en de verandering in {lower_first(o)} ({period(c)})"
                 for w, o, c in shown[:max_listed]]
        s = (f"Met {n_tests} toetsen is onderzocht of de verandering bij mentees afhangt van kenmerken van de "
             f"mentee of van de match met de mentor. ")
        if k == 1:
            s += f"{after} bleef een verband over tussen {items[0]}."
        elif k > max_listed:
            return [s + f"{after} bleven {k} verbanden over, onder meer tussen "
                    f"{join_list(items, lang)} (zie hoofdstuk ", chapter("moderation"), ")."]
        elif k:
            s += f"{after} bleven verbanden over tussen {join_list(items, lang)}."
        else:
            s += f"{after} bleef geen enkel verband overtuigend over"
            s += (f"; {n_indication} {'verband was' if n_indication == 1 else 'verbanden waren'} alleen zonder "
                  f"correctie significant." if n_indication else ".")
        return s
    items = [f"{lower_first(w)} and the change in {lower_first(o)} ({period(c)})" for w, o, c in shown[:max_listed]]
    s = (f"{n_tests} tests examined whether mentees' change depends on characteristics of the mentee or of the "
         f"match with the mentor. ")
    if k == 1:
        s += f"{after} an association remained between {items[0]}."
    elif k > max_listed:
        return [s + f"{after} {k} associations remained, among them between "
                f"{join_list(items, lang)} (see chapter ", chapter("moderation"), ")."]
    elif k:
        s += f"{after} associations remained between {join_list(items, lang)}."
    else:
        s += f"{after} no association remained conclusive"
        s += (f"; {n_indication} {'was' if n_indication == 1 else 'were'} significant only without correction."
              if n_indication else ".")
    return s


def reliability_sentence(alpha_min, alpha_max, low: list[str], lang: str = "en", threshold: float = 0.70) -> str:
    """Range of Cronbach's alpha and the scales below ``threshold``."""
    if not (fmt.is_number(alpha_min) and fmt.is_number(alpha_max)):
        return ("De betrouwbaarheid kon niet worden bepaald." if lang == "nl"
                else "Reliability could not be determined.")
    lo, hi = fmt.nolead(alpha_min, 2, lang), fmt.nolead(alpha_max, 2, lang)
    t = fmt.nolead(threshold, 2, lang)
    if lang == "nl":
        s = f"Cronbachs α lag tussen {lo} en {hi}."
        if low:
            s += f" Onder de gebruikelijke grens van {t} bleven: {join_list(low, lang)}; resultaten voor deze schalen zijn minder betrouwbaar."
        else:
            s += f" Alle schalen haalden de gebruikelijke grens van {t}."
        return s
    s = f"Cronbach's α ranged from {lo} to {hi}."
    if low:
        s += f" Below the usual threshold of {t}: {join_list(low, lang)}; results for these scales are less reliable."
    else:
        s += f" All scales reached the usual threshold of {t}."
    return s


def baseline_summary(n_rows: int, fails: list[str], adjust: list[str], lang: str = "en") -> str:
    """Aggregate of the WWC baseline-equivalence verdicts (labels are outcome–contrast names)."""
    if not n_rows:
        return ""
    if lang == "nl":
        if not fails and not adjust:
            return "Op T1 waren mentees en controlegroep voor alle uitkomsten gelijkwaardig volgens de WWC-standaard."
        s = ""
        if fails:
            s += f"Het beginverschil was te groot volgens de WWC-standaard (|g| > 0,25) voor {join_list(fails, lang)}. "
        if adjust:
            s += (f"Voor {join_list(adjust, lang)} vraagt het beginverschil om statistische correctie "
                  f"(0,05 < |g| ≤ 0,25).")
        return s.strip()
    if not fails and not adjust:
        return "At T1, mentees and controls were equivalent on every outcome by the WWC standard."
    s = ""
    if fails:
        s += f"The baseline difference was too large by the WWC standard (|g| > 0.25) for {join_list(fails, lang)}. "
    if adjust:
        s += f"For {join_list(adjust, lang)} the baseline difference requires statistical adjustment (0.05 < |g| ≤ 0.25)."
    return s.strip()


def attrition_summary(n_rows: int, high_cautious: list[str], high_optimistic: list[str], lang: str = "en") -> str:
    """Aggregate of the WWC attrition verdicts."""
    if not n_rows:
        return ""
    if lang == "nl":
        if not high_cautious and not high_optimistic:
            return "De uitval was laag volgens zowel de voorzichtige als de optimistische WWC-grens."
        s = ""
        if high_optimistic:
            s += f"De uitval was hoog volgens beide WWC-grenzen voor {join_list(high_optimistic, lang)}. "
        rest = [x for x in high_cautious if x not in high_optimistic]
        if rest:
            s += f"Volgens de voorzichtige WWC-grens was de uitval hoog voor {join_list(rest, lang)}."
        return s.strip()
    if not high_cautious and not high_optimistic:
        return "Attrition was low by both the cautious and the optimistic WWC boundary."
    s = ""
    if high_optimistic:
        s += f"Attrition was high by both WWC boundaries for {join_list(high_optimistic, lang)}. "
    rest = [x for x in high_cautious if x not in high_optimistic]
    if rest:
        s += f"By the cautious WWC boundary attrition was high for {join_list(rest, lang)}."
    return s.strip()


def sample_difference_sentence(characteristics: list[str], lang: str = "en", withheld: list[str] = (),
                               min_cell: int = 10) -> str:
    """Baseline characteristics on which the groups differed (p < alpha); ``withheld``:
    characteristics whose test is not shown because it was computed from a small group."""
    if withheld:
        lst = join_list([lower_first(c) for c in withheld], lang)
        tail = (f" Voor {lst} is de toets niet getoond, omdat die uit een groep van minder dan {min_cell} leerlingen is "
                f"berekend." if lang == "nl" else
                f" For {lst} the test is not shown, because it was computed from a group of fewer than {min_cell} pupils.")
        others = sample_difference_sentence(characteristics, lang) if characteristics else (
            "Bij de overige kenmerken verschilden de groepen bij de start niet significant." if lang == "nl" else
            "On the other characteristics the groups did not differ significantly at the start.")
        return others + tail
    if not characteristics:
        return ("Bij de start verschilden de groepen niet significant in de gemeten achtergrondkenmerken."
                if lang == "nl" else
                "At the start the groups did not differ significantly in the measured background characteristics.")
    lst = join_list([lower_first(c) for c in characteristics], lang)
    return (f"Bij de start verschilden de groepen significant in {lst}." if lang == "nl"
            else f"At the start the groups differed significantly in {lst}.")


def limitations(facts: dict, lang: str = "en") -> list[str]:
    """The limitations section, written from the data.

    ``facts`` keys (all optional): ``synthetic`` (bool), ``randomised`` (bool, default
    False), ``attrition_high`` (outcome labels with high attrition by the cautious
    boundary), ``baseline_fails`` (labels), ``sample_differences`` (characteristics that
    differed at T1), ``n_mentee``, ``n_control``, ``n_tests_effects``,
    ``n_tests_moderation``, ``n_classes``, ``n_schools``, ``icc``, ``n_significant``,
    ``n_significant_cluster``, ``alpha`` (see :func:`clustering_limitation`), ``covariates_adjusted``
    (bool), ``weighted`` (bool: weighted doubly robust estimates were made), ``completers_only_anova`` (bool), ``qsort_n``.
    """
    nl = lang == "nl"
    out: list[str] = []
    if facts.get("synthetic"):
        out.append("Dit rapport is gemaakt met synthetische (gesimuleerde) gegevens. De getallen zeggen niets over "
                   "een echt programma." if nl else
                   "This report was made with synthetic (simulated) data. The numbers say nothing about a real "
                   "programme.")
    if not facts.get("randomised", False):
        out.append("De vergelijkingsklassen zijn niet door loting toegewezen. Verschillen tussen de groepen kunnen "
                   "daarom ook andere oorzaken hebben dan de mentoring." if nl else
                   "The comparison classes were not assigned at random. Differences between the groups can "
                   "therefore also have causes other than the mentoring.")
    sd = facts.get("sample_differences") or []
    if sd:
        lst = join_list([lower_first(x) for x in sd], lang)
        if facts.get("weighted"):
            out.append(f"De groepen verschilden bij de start in {lst}. Het hoofdmodel corrigeert daar niet voor; "
                       f"daarom is de controlegroep ook gewogen naar de kenmerken van de mentees en is het effect "
                       f"opnieuw geschat (hoofdstuk 'Zijn de groepen vergelijkbaar?'). Weging en correctie helpen "
                       f"alleen voor gemeten kenmerken; hoe sterk een onbekende factor zou moeten zijn, staat daar "
                       f"ook." if nl else
                       f"The groups differed at the start in {lst}. The main model does not adjust for this; the "
                       f"control group was therefore also weighted to the mentees' characteristics and the effect "
                       f"estimated again (chapter 'Were the groups comparable?'). Weighting and adjustment only help "
                       f"for measured characteristics; how strong an unknown factor would have to be is shown there "
                       f"too.")
        elif facts.get("covariates_adjusted"):
            out.append(f"De groepen verschilden bij de start in {lst}; de hoofdanalyses corrigeren daar niet voor, "
                       f"een aanvullende analyse met covariaten staat in de tabellen (did_adjusted)." if nl else
                       f"The groups differed at the start in {lst}; the main analyses do not adjust for this, an "
                       f"additional analysis with covariates is in the tables (did_adjusted).")
        else:
            out.append(f"De groepen verschilden bij de start in {lst}; de analyses corrigeren daar niet voor." if nl
                       else f"The groups differed at the start in {lst}; the analyses do not adjust for this.")
    fails = facts.get("baseline_fails") or []
    if fails:
        lst = join_list(fails, lang)
        out.append(f"Voor {lst} waren de groepen op T1 niet gelijkwaardig volgens de WWC-standaard; effecten op "
                   f"deze uitkomsten zijn onzeker." if nl else
                   f"For {lst} the groups were not equivalent at T1 by the WWC standard; effects on these outcomes "
                   f"are uncertain.")
    high = facts.get("attrition_high") or []
    if high:
        lst = join_list(high, lang)
        out.append(f"De uitval was hoog volgens de voorzichtige WWC-grens ({lst}). Als de leerlingen die uitvielen anders "
                   f"veranderden dan de rest, zijn de resultaten vertekend." if nl else
                   f"Attrition was high by the cautious WWC boundary ({lst}). If the pupils who dropped out changed "
                   f"differently from the others, the results are biased.")
    nm, nc = facts.get("n_mentee"), facts.get("n_control")
    if fmt.is_number(nm) and fmt.is_number(nc) and min(nm, nc) > 0 and max(nm, nc) / min(nm, nc) >= 1.5:
        out.append(f"De groepen zijn ongelijk van omvang ({fmt.integer(nm, lang)} mentees, {fmt.integer(nc, lang)} "
                   f"in de controlegroep). De kleinste groep bepaalt grotendeels hoe precies de vergelijking is."
                   if nl else
                   f"The groups differ in size ({fmt.integer(nm, lang)} mentees, {fmt.integer(nc, lang)} controls). "
                   f"The smaller group largely determines how precise the comparison is.")
    te, tm = facts.get("n_tests_effects") or 0, facts.get("n_tests_moderation") or 0
    if te + tm >= 5:
        # name each correction's family (facts ``family_effects`` / ``family_moderation``,
        # from holm_family / bh_family) when known
        fams = "; ".join(f for f in (facts.get("family_effects"), facts.get("family_moderation")) if f)
        out.append(f"Er zijn veel toetsen uitgevoerd ({te} voor de effecten, {tm} voor moderatie). Bij zoveel "
                   f"toetsen is een deel van de significante uitkomsten toeval; daarom worden gecorrigeerde "
                   f"p-waarden gerapporteerd ({fams or 'Holm, Benjamini–Hochberg'})." if nl else
                   f"Many tests were carried out ({te} for the effects, {tm} for moderation). With so many tests "
                   f"some significant results are due to chance; corrected p-values are therefore reported "
                   f"({fams or 'Holm, Benjamini–Hochberg'}).")
    clustering = clustering_limitation(facts.get("n_classes"), facts.get("n_schools"), facts.get("icc"),
                                       facts.get("n_significant"), facts.get("n_significant_cluster"), lang,
                                       facts.get("alpha", 0.05), multilevel=bool(facts.get("multilevel")))
    if clustering:
        out.append(clustering)
    if facts.get("completers_only_anova", True):
        out.append("De variantieanalyse gebruikt alleen leerlingen met alle drie metingen; het gemengde model "
                   "gebruikt alle beschikbare metingen." if nl else
                   "The analysis of variance uses only pupils with all three measurements; the mixed model uses "
                   "all available measurements.")
    q = facts.get("qsort_n")
    if fmt.is_number(q) and q > 0:
        out.append(f"De interviews (Q-sort) zijn met {fmt.integer(q, lang)} mentees gehouden; dat is geen "
                   f"representatieve steekproef." if nl else
                   f"The interviews (Q-sort) were held with {fmt.integer(q, lang)} mentees; this is not a "
                   f"representative sample.")
    return out


def clustering_limitation(n_classes, n_schools, icc=None, n_significant=None, n_significant_cluster=None,
                          lang: str = "en", alpha: float = 0.05, multilevel: bool = False) -> str:
    """The limitation that pupils sit in classes, with what the clustering check found.

    With ``multilevel`` the main model takes the classes into account; what remains is
    that a handful of classes gives imprecise class-level variances.

    The main model has a random intercept per pupil only, not per class. The check is the
    WWC correction of each DiD test for clustering (the ``p_cluster`` column of ``did``,
    computed as if pupils in a class correlate ``icc``): of the ``n_significant`` effects
    with an adjusted p below alpha, ``n_significant_cluster`` still have ``p_cluster`` below
    alpha. Empty when nothing is known about classes (neither a class count nor the check).
    """
    nl = lang == "nl"
    checked = fmt.is_number(n_significant) and fmt.is_number(n_significant_cluster)
    if not (fmt.is_number(n_classes) or checked):
        return ""
    where = ""
    if fmt.is_number(n_classes) and fmt.is_number(n_schools):
        where = (f" ({fmt.integer(n_classes, lang)} klassen op {fmt.integer(n_schools, lang)} scholen)" if nl
                 else f" ({fmt.integer(n_classes, lang)} classes in {fmt.integer(n_schools, lang)} schools)")
    if multilevel:
        return tr(lang,
                  f"Leerlingen zitten samen in klassen en scholen{where}. Het hoofdmodel houdt daar rekening mee, "
                  f"maar met zo weinig klassen zijn de verschillen tussen klassen onnauwkeurig geschat; de "
                  f"betrouwbaarheidsintervallen zijn daardoor breed, en de controles met de klas als eenheid "
                  f"(figuur bij het effect) kunnen iets anders uitvallen.",
                  f"Pupils are grouped in classes and schools{where}. The main model takes this into account, but "
                  f"with so few classes the differences between classes are estimated imprecisely; the confidence "
                  f"intervals are therefore wide, and the checks with the class as the unit (figure with the "
                  f"effects) may come out somewhat differently.")
    s = tr(lang,
           f"Leerlingen zitten samen in klassen en scholen{where}. Leerlingen uit dezelfde klas lijken op elkaar, "
           f"maar het hoofdmodel houdt geen rekening met de klassen; de onzekerheid wordt daardoor waarschijnlijk "
           f"onderschat.",
           f"Pupils are grouped in classes and schools{where}. Pupils in the same class resemble each other, but "
           f"the main model does not take the classes into account, so the uncertainty is probably "
           f"underestimated.")
    if not checked:
        return s
    k, n = int(n_significant), int(n_significant_cluster)
    a = fmt.nolead(alpha, 2, lang)
    rho = (tr(lang, f", intraklassecorrelatie {fmt.nolead(icc, 2, lang)}", f", intraclass correlation "
              f"{fmt.nolead(icc, 2, lang)}") if fmt.is_number(icc) else "")
    if nl:
        check = f"Een controle die daarvoor corrigeert (correctie van de What Works Clearinghouse{rho})"
        which = "na correctie voor het aantal toetsen significant"
        if k == 0:
            return f"{s} {check} verandert geen conclusie: er was geen significant effect."
        if n == k:
            res = (f"het effect dat {which} was, heeft nog steeds p < {a}." if k == 1 else
                   f"alle {k} effecten die {which} waren, hebben nog steeds p < {a}.")
        elif n == 0:
            res = (f"het effect dat {which} was, heeft dan geen p < {a} meer; lees het daarom met extra "
                   f"voorzichtigheid." if k == 1 else
                   f"geen van de {k} effecten die {which} waren, heeft dan nog p < {a}; lees ze daarom met extra "
                   f"voorzichtigheid.")
        else:
            res = (f"{n} van de {k} effecten die {which} waren, {'heeft' if n == 1 else 'hebben'} nog steeds "
                   f"p < {a}; lees {'het andere' if k - n == 1 else f'de andere {k - n}'} met extra voorzichtigheid.")
    else:
        check = f"A check that allows for this (What Works Clearinghouse correction{rho})"
        which = "significant after correction for the number of tests"
        if k == 0:
            return f"{s} {check} changes no conclusion: no effect was significant."
        if n == k:
            res = (f"the one effect that was {which} still has p < {a}." if k == 1 else
                   f"all {k} effects that were {which} still have p < {a}.")
        elif n == 0:
            res = (f"the one effect that was {which} no longer has p < {a}; read it with extra caution." if k == 1
                   else f"none of the {k} effects that were {which} still has p < {a}; read them with extra "
                        f"caution.")
        else:
            res = (f"{n} of the {k} effects that were {which} still {'has' if n == 1 else 'have'} p < {a}; read "
                   f"the other {'one' if k - n == 1 else k - n} with extra caution.")
    return f"{s} {check}: {res}"


_SKIP_REASONS = [
    (r"moderator has no variance", "de moderator varieert niet (iedereen heeft dezelfde waarde)",
     "the moderator does not vary (everyone has the same value)"),
    (r"change score has no variance", "de verandering varieert niet", "the change does not vary"),
    (r"only (\d+) complete cases \(minimum (\d+)\)", "te weinig leerlingen met gegevens ({0}; minimaal {1})",
     "too few pupils with data ({0}; minimum {1})"),
    (r"fewer than 2 levels with at least (\d+) cases", "minder dan 2 groepen met minstens {0} leerlingen",
     "fewer than 2 groups with at least {0} pupils"),
    (r"fewer than 2 levels of the moderator observed", "minder dan 2 groepen van de moderator",
     "fewer than 2 groups of the moderator"),
    (r"every score is the same", "alle scores zijn gelijk, op elke meting", "every score is the same at every wave"),
    (r"no variance within pupils", "de scores variëren niet binnen leerlingen", "the scores do not vary within pupils"),
]


def skip_reason(reason: str, lang: str = "en", min_cell: int = 10) -> str:
    """Why an analysis could not be estimated, in plain words; a count of pupils below
    ``min_cell`` in it is printed as '<min_cell'."""
    import re
    reason = str(reason or "")
    for pattern, nl, en in _SKIP_REASONS:
        m = re.search(pattern, reason)
        if m:
            args = [fmt.suppress_cell(g, g, min_cell, count=True)[0] for g in m.groups()]
            return (nl if lang == "nl" else en).format(*args)
    # an unknown reason: its numbers could be small counts, so they are not echoed
    return re.sub(r"\d+", "…", reason) if lang == "en" else "niet te schatten op deze gegevens"


def skipped_sentence(items: list[tuple[str, int, str]], lang: str = "en") -> str:
    """'Not estimated for lack of variance or data: age (3 analyses: ...)' — ``items`` are
    (what, number of analyses, reason in words)."""
    if not items:
        return ""
    parts = [f"{w} ({k} {'analyse' if k == 1 else 'analyses'}{': ' if lang == 'nl' else ': '}{r})"
             if lang == "nl" else f"{w} ({k} {'analysis' if k == 1 else 'analyses'}: {r})" for w, k, r in items]
    head = ("Niet geschat wegens te weinig variatie of gegevens: " if lang == "nl" else
            "Not estimated for lack of variance or data: ")
    return head + "; ".join(parts) + "."
