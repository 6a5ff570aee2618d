"""The staff edition (issue 15): at most six pages in plain language for programme staff.

Made from the staff view of the results (small cells suppressed, comparisons with a small
group withheld), like the research edition, and drawn by the same template. Each section
is a small function from the results to a document fragment; its Dutch and English words
sit side by side in it (``tr``).

**How sure are we** (:func:`evidence_rating`) is a rating of 0–4 locks per outcome, in the
manner of the EEF Teaching and Learning Toolkit's padlocks (EEF 2023, *Toolkit guide*:
design, number of studies/pupils, attrition, balance); our rule, for the outcome's lasting
change (T1 → T3; T1 → T2 when there is no T3):

1. start at 4 when the groups were formed by lot (``design.randomised: true``), else at 3:
   a comparison group chosen by schools can differ in ways no analysis sees;
2. −1 when attrition is high by the WWC's cautious boundary (Standards Handbook 5.0);
3. −1 when the groups differed at the start by more than .25 SD (WWC: not equivalent), or
   by .05–.25 SD and the estimate adjusted for it (weighting / covariates, table
   ``did_robustness``) reaches another conclusion than the main model;
4. −1 when the estimate is imprecise: its 95% interval on the g scale is wider than 0.8
   (it cannot tell no effect from twice the benchmark of youth mentoring, g ≈ .21);
5. −1 when the other models of ``did_robustness`` disagree with the main one: in more than
   a quarter of them the interval's verdict (above 0, below 0, or including 0) differs;
never below 0. The rule is printed in the research edition and the README.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import format as fmt
from . import text as txt
from .common import Ctx, Table, bullets, did_rows, group_changes, group_sizes, h, note, p
from .text import tr

HEADLINE = ("T3-T1", "T2-T1")
FULL, EMPTY = "●", "○"
MAX_LOCKS = 4
CI_WIDTH_MAX = 0.8
DISAGREE_MAX = 0.25
MAIN_MODELS = ("lmm_multilevel", "mmrm_multilevel", "lmm_pupil", "mmrm_pupil")   # the did table's models


def _verdict(lo, hi) -> int:
    lo, hi = fmt.to_float(lo), fmt.to_float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return 9
    return 1 if lo > 0 else -1 if hi < 0 else 0


def headline_contrast(ctx: Ctx, outcome: str) -> str | None:
    d = ctx.table("did")
    if d is None:
        return None
    have = set(d.loc[d["outcome"].astype(str) == outcome, "contrast"].astype(str))
    return next((c for c in HEADLINE if c in have), None)


def evidence_rating(ctx: Ctx, outcome: str) -> tuple[int, list[str]]:
    """(locks 0–4, the reasons for each lock taken off) for the outcome's headline
    contrast (see the module docstring for the rule)."""
    lang = ctx.lang
    con = headline_contrast(ctx, outcome)
    design = dict(ctx.meta.get("design") or {})
    randomised = bool(design.get("randomised", False))
    locks = MAX_LOCKS if randomised else MAX_LOCKS - 1
    why = [] if randomised else [tr(lang, "de controlegroep is niet door loting gekozen",
                                    "the control group was not chosen by lot")]
    if con is None:
        return 0, [tr(lang, "geen vergelijking beschikbaar", "no comparison available")]

    def row(name):
        t = ctx.table(name)
        if t is None or not {"outcome", "contrast"} <= set(t.columns):
            return None
        r = t[(t["outcome"].astype(str) == outcome) & (t["contrast"].astype(str) == con)]
        return r.iloc[0] if len(r) else None
    a = row("attrition")
    if a is not None and str(a.get("wwc_cautious", "")) == "high":
        locks -= 1
        why.append(tr(lang, "veel leerlingen vielen uit", "many pupils dropped out"))
    d = row("did")
    rob = ctx.table("did_robustness")
    rob = rob[(rob["outcome"].astype(str) == outcome) & (rob["contrast"].astype(str) == con)] \
        if rob is not None and {"outcome", "contrast", "model"} <= set(rob.columns) else None
    main = _verdict(d.get("g_ci_low"), d.get("g_ci_high")) if d is not None else 9
    b = row("baseline_equivalence")
    gb = abs(fmt.to_float(b.get("g_baseline"))) if b is not None else float("nan")
    if np.isfinite(gb) and gb > 0.25:
        locks -= 1
        why.append(tr(lang, "de groepen verschilden bij de start veel", "the groups differed much at the start"))
    elif np.isfinite(gb) and gb > 0.05 and rob is not None:
        adj = rob[rob["model"].astype(str).isin(["weighted_dr", "covariate_adjusted"])]
        if len(adj) and any(_verdict(r["ci_low"], r["ci_high"]) != main for _, r in adj.iterrows()):
            locks -= 1
            why.append(tr(lang, "rekening houden met de verschillen bij de start verandert de uitkomst",
                          "allowing for the differences at the start changes the result"))
    if d is not None:
        width = fmt.to_float(d.get("g_ci_high")) - fmt.to_float(d.get("g_ci_low"))
        if not np.isfinite(width) or width > CI_WIDTH_MAX:
            locks -= 1
            why.append(tr(lang, "de schatting is onnauwkeurig (te weinig klassen of leerlingen)",
                          "the estimate is imprecise (too few classes or pupils)"))
    if rob is not None and len(rob):
        main_model = str(d.get("model")) if d is not None and d.get("model") is not None else MAIN_MODELS[0]
        others = rob[rob["model"].astype(str) != main_model]     # the models other than the did's own
        verdicts = [_verdict(r["ci_low"], r["ci_high"]) for _, r in others.iterrows()]
        verdicts = [v for v in verdicts if v != 9]
        if verdicts and np.mean([v != main for v in verdicts]) > DISAGREE_MAX:
            locks -= 1
            why.append(tr(lang, "andere rekenmethoden komen tot een andere conclusie",
                          "other ways of calculating reach another conclusion"))
    return max(locks, 0), why


def locks_text(n: int) -> str:
    return FULL * n + EMPTY * (MAX_LOCKS - n)


def _change_words(x: float, lang: str) -> str:
    if not np.isfinite(x):
        return tr(lang, "is niet bekend", "is not known")
    if abs(x) < 0.05:
        return tr(lang, "bleef ongeveer gelijk", "stayed about the same")
    amount = fmt.num(abs(x), 2, lang)
    return (tr(lang, f"steeg met {amount} punt", f"rose by {amount} points") if x > 0
            else tr(lang, f"daalde met {amount} punt", f"fell by {amount} points"))


def _size_words(g: float, lang: str) -> str:
    if not np.isfinite(g):
        return ""
    if abs(g) < 0.11:
        return tr(lang, "klein, kleiner dan wat mentorprogramma's gemiddeld bereiken",
                  "small, smaller than what mentoring programmes achieve on average")
    if abs(g) <= 0.25:
        return tr(lang, "ongeveer zo groot als wat mentorprogramma's gemiddeld bereiken",
                  "about as large as what mentoring programmes achieve on average")
    return tr(lang, "groter dan wat mentorprogramma's gemiddeld bereiken",
              "larger than what mentoring programmes achieve on average")


def outcome_paragraph(ctx: Ctx, outcome: str, rating: tuple[int, list[str]] | None,
                      say_not_shown: bool = True) -> list:
    """One paragraph: the lasting change of both groups, whether the difference is shown,
    what drives it, T1 → T2 only when it changes the conclusion, and how sure we are
    (``rating`` None and ``say_not_shown`` False: the section says it once for all)."""
    lang = ctx.lang
    rows = {str(r["contrast"]): r for r in did_rows(ctx) if str(r["outcome"]) == outcome}
    changes = group_changes(ctx)
    con = headline_contrast(ctx, outcome)
    if con is None or con not in rows:
        return []
    r = rows[con]
    span = tr(lang, "tussen de start en de nameting", "between the start and the follow-up") if con == "T3-T1" \
        else tr(lang, "tussen de start en het einde van het programma", "between the start and the end of the programme")
    mc, cc = fmt.to_float(changes.get((outcome, "mentee", con))), fmt.to_float(changes.get((outcome, "control", con)))
    o = txt.lower_first(ctx.label(outcome))
    s = [tr(lang, f"De score van mentees op {o} {_change_words(mc, lang)} {span}; die van de controlegroep "
                  f"{_change_words(cc, lang)}.",
            f"On {o}, {span}, the mentees' score {_change_words(mc, lang)}; the control group's "
            f"{_change_words(cc, lang)}.")]
    verdict = r["verdict"]
    g = fmt.to_float(r.get("g"))
    if verdict == "shown":
        better = fmt.to_float(r.get("estimate")) > 0
        s.append(tr(lang, f"Mentees gingen er {'meer' if better else 'minder'} op vooruit dan de controlegroep; "
                          f"het verschil is {_size_words(g, lang)}.",
                    f"Mentees did {'better' if better else 'worse'} than the control group; the difference is "
                    f"{_size_words(g, lang)}."))
        if np.isfinite(mc) and np.isfinite(cc) and abs(cc) > abs(mc) and np.sign(cc) != np.sign(fmt.to_float(r.get("estimate"))):
            s.append(tr(lang, "Het verschil komt vooral doordat de controlegroep "
                              f"{'daalde' if cc < 0 else 'steeg'}, niet doordat mentees veranderden.",
                        f"The difference comes mainly from the control group, which {'fell' if cc < 0 else 'rose'}, "
                        "not from a change of the mentees."))
    elif verdict == "indication":
        s.append(tr(lang, "Er zijn aanwijzingen voor een verschil tussen mentees en controlegroep, maar die zijn niet "
                          "overtuigend.",
                    "There are indications of a difference between mentees and the control group, but they are not "
                    "conclusive."))
    elif say_not_shown:
        s.append(tr(lang, "Een verschil tussen mentees en controlegroep is niet aangetoond.",
                    "A difference between mentees and the control group was not shown."))
    early = rows.get("T2-T1")
    if con == "T3-T1" and early is not None and early["verdict"] == "shown" and verdict != "shown":
        up = fmt.to_float(early.get("estimate")) > 0
        s.append(tr(lang, f"Aan het einde van het programma was er wel een verschil ({'in het voordeel van' if up else 'in het nadeel van'} "
                          "mentees), maar dat bleef niet tot de nameting.",
                    f"At the end of the programme there was a difference ({'in favour of' if up else 'to the disadvantage of'} "
                    "the mentees), but it did not last until the follow-up."))
    if rating is not None:
        s.append(sure_sentence(rating, lang))
    return [h(ctx.label(outcome)), p(" ".join(s))]


def sure_sentence(rating: tuple[int, list[str]], lang: str, all_outcomes: bool = False) -> str:
    locks, why = rating
    lead = tr(lang, "Hoe zeker, voor alle uitkomsten" if all_outcomes else "Hoe zeker",
              "How sure, for every outcome" if all_outcomes else "How sure")
    sure = tr(lang, f"{lead}: {locks_text(locks)} ({locks} van {MAX_LOCKS})",
              f"{lead}: {locks_text(locks)} ({locks} of {MAX_LOCKS})")
    if why:
        sure += tr(lang, ", want ", ", as ") + txt.join_list(why, lang)
    return sure + "."


# ---------------------------------------------------------------- for whom, reach, meaning, glossary

def for_whom_items(ctx: Ctx) -> list[str]:
    """The prespecified moderation results that survive the BH correction, in words."""
    lang = ctx.lang
    m = ctx.table("moderation")
    if m is None or not {"prespecified", "p_bh", "b", "moderator", "outcome", "change"} <= set(m.columns):
        return []
    pre = m["prespecified"].astype(str).str.lower().isin(["true", "1"])
    hit = m[pre & (pd.to_numeric(m["p_bh"], errors="coerce") < ctx.alpha)]
    out = []
    for _, r in hit.iterrows():
        lab = txt.moderator_label(str(r["moderator"]), lang)
        o = txt.lower_first(ctx.label(str(r["outcome"])))
        per = txt.period(str(r["change"]))
        better = fmt.to_float(r["b"]) > 0
        word = tr(lang, "gunstiger" if better else "ongunstiger", "more favourable" if better else "less favourable")
        level, ref = r.get("level"), r.get("reference")
        mod = str(r["moderator"])
        if mod.startswith("same_") and str(level).lower() in ("yes", "1", "true", "no", "0", "false", "nan", "none"):
            if str(level).lower() in ("no", "0", "false"):
                better = not better
                word = tr(lang, "gunstiger" if better else "ongunstiger",
                          "more favourable" if better else "less favourable")
            out.append(tr(lang, f"Bij mentees met {lab.replace('zelfde', 'dezelfde', 1).replace('de mentor', 'hun mentor')} "
                                f"was de verandering in {o} ({per}) {word} dan bij de andere mentees.",
                          f"For mentees with the {lab.replace('the mentor', 'their mentor')} the change in {o} ({per}) "
                          f"was {word} than for the other mentees."))
        elif str(r.get("moderator_type")) == "continuous":
            out.append(tr(lang, f"Hoe hoger de {lab}, hoe {word} de verandering in {o} ({per}).",
                          f"The higher the {lab}, the {word} the change in {o} ({per})."))
        elif isinstance(level, str) and level and isinstance(ref, str) and ref:
            out.append(tr(lang, f"Bij mentees met {lab} ‘{txt.level_label(level, lang)}’ was de verandering in {o} "
                                f"({per}) {word} dan bij mentees met ‘{txt.level_label(ref, lang)}’.",
                          f"For mentees with {lab} ‘{txt.level_label(level, lang)}’ the change in {o} ({per}) was "
                          f"{word} than for mentees with ‘{txt.level_label(ref, lang)}’."))
        else:
            out.append(tr(lang, f"Bij mentees met {lab} was de verandering in {o} ({per}) {word} dan bij de andere "
                                "mentees.",
                          f"For mentees with the {lab} the change in {o} ({per}) was {word} than for the other "
                          "mentees."))
    return out


def section_for_whom(ctx: Ctx) -> dict:
    lang = ctx.lang
    items = for_whom_items(ctx)
    pre = ctx.table("moderation")
    n_pre = int(pre["prespecified"].astype(str).str.lower().isin(["true", "1"]).sum()) if pre is not None \
        and "prespecified" in pre.columns else 0
    if not n_pre:
        text = tr(lang, "Vooraf is niet vastgelegd voor welke mentees of koppelingen het programma beter zou werken; "
                        "daarom staan hier geen uitkomsten.",
                  "It was not laid down in advance for which mentees or matches the programme would work better, "
                  "so no results are given here.")
        return {"title": tr(lang, "Voor wie werkt het?", "For whom does it work?"), "blocks": [p(text)]}
    blocks = [p(tr(lang, f"Vooraf is vastgelegd welke kenmerken van mentees en koppelingen zouden kunnen uitmaken "
                         f"({n_pre} vergelijkingen). Alleen wat na correctie voor het aantal vergelijkingen overeind "
                         "bleef, staat hier.",
                   f"It was laid down in advance which characteristics of mentees and matches might matter "
                   f"({n_pre} comparisons). Only what held after correcting for the number of comparisons is "
                   "given here."))]
    if items:
        blocks.append(bullets(items))
        blocks.append(note(tr(lang, "Dit zijn samenhangen: ze laten zien bij wie de verandering anders was, niet dat "
                                    "het kenmerk de oorzaak is.",
                              "These are associations: they show for whom the change differed, not that the "
                              "characteristic is the cause.")))
    else:
        blocks.append(p(tr(lang, "Geen van deze kenmerken hing aantoonbaar samen met de verandering bij mentees.",
                           "None of these characteristics was shown to be related to the mentees' change.")))
    return {"title": tr(lang, "Voor wie werkt het?", "For whom does it work?"), "blocks": blocks}


def _impl_all(ctx: Ctx) -> dict:
    t = ctx.table("implementation")
    if t is None or "school" not in t.columns:
        return {}
    rows = t[t["school"].astype(str) == "all"]
    return rows.iloc[0].to_dict() if len(rows) else {}


def _shown(v, lang, share=False) -> str:
    if isinstance(v, str) and v:
        return tr(lang, "niet getoond", "not shown") if v == "x" else tr(lang, f"minder dan {v[1:]}", f"fewer than {v[1:]}") \
            if v.startswith("<") else v
    x = fmt.to_float(v)
    if not np.isfinite(x):
        return "–"
    return fmt.pct(100 * x, 0, lang) if share else fmt.integer(x, lang) if float(x).is_integer() else fmt.num(x, 1, lang)


def section_reach(ctx: Ctx) -> dict | None:
    lang = ctx.lang
    r = _impl_all(ctx)
    if not r:
        return None
    t = Table(tr(lang, "Bereik en uitvoering", "Reach and implementation"),
              [(tr(lang, "Onderdeel", "Item"), "left"), (tr(lang, "Aantal of deel", "Number or share"), "right")],
              lang=lang, min_cell=ctx.mc)
    for key, nl, en, share in (
            ("mentees", "Mentees", "Mentees", False),
            ("matched", "Gekoppeld aan een mentor", "Matched with a mentor", False),
            ("never_started", "Nooit begonnen (geen bijeenkomst bijgewoond)", "Never started (no session attended)",
             False),
            ("sessions_planned", "Bijeenkomsten gepland per mentee (mediaan)", "Sessions planned per mentee (median)",
             False),
            ("sessions_attended", "Bijeenkomsten bijgewoond per mentee (mediaan)",
             "Sessions attended per mentee (median)", False),
            ("sessions_attended_share", "Deel van de geplande bijeenkomsten bijgewoond",
             "Share of planned sessions attended", True),
            ("attended_75_share", "Mentees die minstens driekwart bijwoonden", "Mentees attending at least three quarters",
             True),
            ("individual", "Individueel begeleid", "Mentored one to one", False),
            ("group", "In een groepje begeleid", "Mentored in a small group", False)):
        if key in r:
            t.add([tr(lang, nl, en), _shown(r[key], lang, share)])
    return {"title": tr(lang, "Bereik en uitvoering", "Reach and implementation"), "blocks": [t.block()]}


def smallest_detectable(ctx: Ctx) -> float | None:
    """The smallest effect (g) this design could show with 80% power: PowerUp's CRA2_2r
    with the cohort's classes, mean class size and median class ICC (no covariates)."""
    from ..stats.power import plan
    cl = dict(ctx.meta.get("clustering") or {})
    icc = ctx.table("icc")
    n_classes, size = fmt.to_float(cl.get("n_classes")), fmt.to_float(cl.get("mean_class_size"))
    if icc is None or "icc_class" not in icc.columns or not (np.isfinite(n_classes) and n_classes >= 4
                                                              and np.isfinite(size)):
        return None
    rho = float(np.nanmedian(pd.to_numeric(icc["icc_class"], errors="coerce")))
    if not np.isfinite(rho):
        return None
    row = plan("class", classes=int(n_classes), power=0.8, icc=rho, class_size=max(size, 2.0)).iloc[0]
    return float(row["mdes"])


def meaning_items(ctx: Ctx, ratings: dict) -> list[str]:
    """'What does this mean for the programme?', from the numbers."""
    lang = ctx.lang
    out = []
    rows = [r for r in did_rows(ctx) if str(r["contrast"]) == headline_contrast(ctx, str(r["outcome"]))]
    good = [ctx.label(str(r["outcome"])) for r in rows if r["verdict"] == "shown" and fmt.to_float(r["estimate"]) > 0]
    bad = [ctx.label(str(r["outcome"])) for r in rows if r["verdict"] == "shown" and fmt.to_float(r["estimate"]) < 0]
    if good:
        out.append(tr(lang, f"Mentees gingen er blijvend meer op vooruit op {txt.join_list([txt.lower_first(x) for x in good], lang)}: "
                            "daar lijkt het programma te helpen.",
                      f"Mentees gained more, lastingly, on {txt.join_list([txt.lower_first(x) for x in good], lang)}: "
                      "there the programme seems to help."))
    if bad:
        out.append(tr(lang, f"Op {txt.join_list([txt.lower_first(x) for x in bad], lang)} gingen mentees er minder op "
                            "vooruit dan de controlegroep; dat verdient aandacht.",
                      f"On {txt.join_list([txt.lower_first(x) for x in bad], lang)} mentees gained less than the "
                      "control group; that deserves attention."))
    mdes = smallest_detectable(ctx)
    if not good and mdes is not None:
        out.append(tr(lang, f"Er is geen blijvend verschil aangetoond. Dat betekent niet dat het programma niet werkt: "
                            f"met zo weinig klassen kan alleen een verschil van ongeveer {fmt.num(mdes, 2, lang)} "
                            f"worden aangetoond, {fmt.num(mdes / txt.BENCHMARK_G, 0, lang)} keer zo groot als wat "
                            "mentorprogramma's gemiddeld bereiken. Meer klassen of meerdere jaren samen geven een "
                            "duidelijker antwoord.",
                      f"No lasting difference was shown. That does not mean that the programme does not work: with "
                      f"so few classes only a difference of about {fmt.num(mdes, 2, lang)} can be shown, "
                      f"{fmt.num(mdes / txt.BENCHMARK_G, 0, lang)} times what mentoring programmes achieve on "
                      "average. More classes or several years together give a clearer answer."))
    r = _impl_all(ctx)
    share75 = fmt.to_float(r.get("attended_75_share")) if r else float("nan")
    if np.isfinite(share75) and share75 < 0.5:
        out.append(tr(lang, f"Slechts {fmt.pct(100 * share75, 0, lang)} van de mentees woonde minstens driekwart van de "
                            "geplande bijeenkomsten bij. Een programma werkt pas als het gevolgd wordt: laat meer "
                            "bijeenkomsten doorgaan of plan er minder en houd de opkomst bij.",
                      f"Only {fmt.pct(100 * share75, 0, lang)} of the mentees attended at least three quarters of "
                      "the planned sessions. A programme works only when it is followed: hold more of the sessions, "
                      "or plan fewer, and track attendance."))
    low = [k for k, (n, _) in ratings.items() if n <= 1]
    if ratings and len(low) >= len(ratings) / 2:
        out.append(tr(lang, "Bij de meeste uitkomsten zijn we niet erg zeker (één slot of minder): lees de uitkomsten "
                            "als voorlopig.",
                      "For most outcomes we are not very sure (one lock or fewer): read the results as provisional."))
    match = [i for i in for_whom_items(ctx) if "mentor" in i]
    if match:
        out.append(tr(lang, "Bij het koppelen kan het helpen te letten op wat hierboven onder ‘Voor wie werkt het?’ "
                            "staat; het gaat om samenhangen, dus probeer het uit en volg het.",
                      "When matching it may help to consider what is listed under ‘For whom does it work?’; these "
                      "are associations, so try it out and follow it up."))
    return out


GLOSSARY = (
    ("Mentee", "Mentee", "leerling met een studentmentor", "a pupil with a student mentor"),
    ("Controlegroep", "Control group", "leerlingen uit vergelijkingsklassen zonder mentor",
     "pupils from comparison classes without a mentor"),
    ("Start, einde, nameting", "Start, end, follow-up",
     "de drie vragenlijsten: aan het begin (T1), aan het einde van het programma (T2) en enkele maanden later (T3)",
     "the three questionnaires: at the start (T1), at the end of the programme (T2) and some months later (T3)"),
    ("Aangetoond", "Shown", "groot genoeg om niet aan toeval toe te schrijven",
     "large enough not to be put down to chance"),
    ("Niet aangetoond", "Not shown",
     "het onderzoek kon een eventueel verschil niet met zekerheid vaststellen; dat is iets anders dan ‘geen verschil’",
     "the study could not establish a possible difference with certainty; that is not the same as ‘no difference’"),
    ("Hoe zeker (sloten)", "How sure (locks)",
     "0 tot 4 sloten: hoe sterk de opzet en de gegevens de conclusie dragen (loting, uitval, gelijke start, "
     "aantal leerlingen en klassen, andere rekenmethoden)",
     "0 to 4 locks: how strongly the design and the data carry the conclusion (random assignment, drop-out, "
     "equal start, number of pupils and classes, other ways of calculating)"),
    ("Effectgrootte", "Effect size",
     "het verschil in verandering tussen mentees en controlegroep, in een maat die uitkomsten en studies vergelijkbaar "
     "maakt; mentorprogramma's voor jongeren bereiken gemiddeld ongeveer 0,2",
     "the difference in change between mentees and control group, in a measure that makes outcomes and studies "
     "comparable; mentoring programmes for young people reach about 0.2 on average"),
    ("Samenhang", "Association", "twee dingen gaan samen; dat zegt niet dat het een het ander veroorzaakt",
     "two things go together; that does not say that one causes the other"),
)


def section_meaning(ctx: Ctx, ratings: dict) -> dict:
    lang = ctx.lang
    items = meaning_items(ctx, ratings) or [tr(lang, "De cijfers geven geen aanleiding tot een aanpassing.",
                                                "The numbers give no reason for a change.")]
    gloss = Table(tr(lang, "Begrippen", "Terms"), [(tr(lang, "Begrip", "Term"), "left"),
                                                   (tr(lang, "Betekenis", "Meaning"), "left")], lang=lang, min_cell=ctx.mc,
                  size="small", widths=["28%", "72%"])
    for nl, en, dnl, den in GLOSSARY:
        gloss.add([{"b": tr(lang, nl, en)}, tr(lang, dnl, den)])
    return {"title": tr(lang, "Wat betekent dit voor het programma?", "What does this mean for the programme?"),
            "blocks": [bullets(items), h(tr(lang, "Begrippen", "Terms")), gloss.block()]}


# ---------------------------------------------------------------- page 1 and the document

def section_in_short(ctx: Ctx, ratings: dict, figure: dict | None) -> dict:
    lang = ctx.lang
    nm, nc = group_sizes(ctx)
    cl = dict(ctx.meta.get("clustering") or {})
    blocks = []
    if fmt.is_number(nm) and fmt.is_number(nc):
        where = ""
        if fmt.is_number(cl.get("n_schools")) and fmt.is_number(cl.get("n_classes")):
            where = tr(lang, f" uit {fmt.integer(cl['n_classes'], lang)} klassen van {fmt.integer(cl['n_schools'], lang)} "
                             "scholen", f" from {fmt.integer(cl['n_classes'], lang)} classes of "
                             f"{fmt.integer(cl['n_schools'], lang)} schools")
        blocks.append(p(tr(lang, f"Aan dit onderzoek deden {fmt.integer(nm, lang)} leerlingen met een studentmentor "
                                 f"(mentees) en {fmt.integer(nc, lang)} leerlingen zonder mentor (controlegroep) "
                                 f"mee{where}. Ze vulden drie keer een vragenlijst in: aan de start, aan het einde "
                                 "van het programma en enkele maanden later.",
                           f"{fmt.integer(nm, lang)} pupils with a student mentor (mentees) and {fmt.integer(nc, lang)} "
                           f"pupils without a mentor (control group){where} took part. They answered a "
                           "questionnaire three times: at the start, at the end of the programme and some months "
                           "later.")))
    if ctx.withheld():
        blocks.append(p(ctx.withheld()))
    if figure:
        blocks.append(figure)
    t = Table(tr(lang, "Wat veranderde er, en hoe zeker is dat?", "What changed, and how sure is that?"),
              [(tr(lang, "Uitkomst", "Outcome"), "left"),
               (tr(lang, "Mentees vergeleken met controlegroep", "Mentees compared with control group"), "left"),
               (tr(lang, "Hoe zeker", "How sure"), "left")], lang=lang, min_cell=ctx.mc, size="small")
    for r in did_rows(ctx):
        o = str(r["outcome"])
        if str(r["contrast"]) != headline_contrast(ctx, o):
            continue
        if r["verdict"] == "shown":
            word = tr(lang, "meer vooruit", "gained more") if fmt.to_float(r["estimate"]) > 0 else \
                tr(lang, "minder vooruit", "gained less")
        elif r["verdict"] == "indication":
            word = tr(lang, "aanwijzing, niet overtuigend", "indication, not conclusive")
        else:
            word = tr(lang, "geen verschil aangetoond", "no difference shown")
        n = ratings.get(o, (0, []))[0]
        t.add([ctx.label(o), word, f"{locks_text(n)} ({n})"])
    t.notes.append(tr(lang, "Blijvende verandering: van de start tot de nameting. Hoe zeker: 0 tot 4 sloten (zie "
                            "Begrippen).",
                      "Lasting change: from the start to the follow-up. How sure: 0 to 4 locks (see Terms)."))
    blocks.append(t.block())
    first = meaning_items(ctx, ratings)[:1]
    if first:
        blocks.append(p([{"b": tr(lang, "Wat betekent dit? ", "What does it mean? ")}, first[0]]))
    return {"title": tr(lang, "In het kort", "In brief"), "newpage": True, "blocks": blocks}


def section_outcomes(ctx: Ctx, ratings: dict) -> dict:
    lang = ctx.lang
    d = ctx.table("did")
    blocks = [p(tr(lang, "Per uitkomst: hoe de scores van mentees en controlegroep veranderden tussen de start en de "
                         "nameting (op een schaal van 1 tot 5), of het verschil is aangetoond, en hoe zeker dat is.",
                   "Per outcome: how the scores of mentees and the control group changed between the start and the "
                   "follow-up (on a scale of 1 to 5), whether the difference was shown, and how sure that is."))]
    if d is None or not len(d):
        blocks.append(p(ctx.withheld() or tr(lang, "Er zijn geen vergelijkingen beschikbaar.",
                                              "No comparisons are available.")))
    else:
        outcomes = ctx.outcomes(d["outcome"].astype(str).unique())
        verdicts = {str(r["outcome"]): r["verdict"] for r in did_rows(ctx)
                    if str(r["contrast"]) == headline_contrast(ctx, str(r["outcome"]))}
        quiet = [o for o in outcomes if verdicts.get(o) in ("not_shown", "missing")]
        if len(quiet) > 2:      # said once, not in every paragraph
            blocks.append(p(tr(lang, f"Voor {txt.join_list([txt.lower_first(ctx.label(o)) for o in quiet], lang)} is "
                                     "geen blijvend verschil tussen mentees en controlegroep aangetoond.",
                               f"For {txt.join_list([txt.lower_first(ctx.label(o)) for o in quiet], lang)} no lasting "
                               "difference between mentees and the control group was shown.")))
        same = len({(ratings[o][0], tuple(ratings[o][1])) for o in outcomes if o in ratings}) == 1
        if same and len(outcomes) > 1:
            blocks.append(p(sure_sentence(ratings[outcomes[0]], lang, all_outcomes=True)))
        for o in outcomes:
            blocks += outcome_paragraph(ctx, o, None if same else ratings.get(o, (0, [])),
                                        say_not_shown=len(quiet) <= 2)
    return {"title": tr(lang, "Wat veranderde er?", "What changed?"), "newpage": True, "blocks": blocks}


def staff_sections(ctx: Ctx, figure: dict | None) -> list[dict]:
    d = ctx.table("did")
    outcomes = ctx.outcomes(d["outcome"].astype(str).unique()) if d is not None and len(d) else []
    ratings = {o: evidence_rating(ctx, o) for o in outcomes}
    sections = [section_in_short(ctx, ratings, figure), section_outcomes(ctx, ratings), section_for_whom(ctx),
                section_reach(ctx), section_meaning(ctx, ratings)]
    return [s for s in sections if s]


def rating_rule_blocks(lang: str) -> list[dict]:
    """The evidence-rating rule, for the methods of the research edition."""
    items = [tr(lang, "start: 4 sloten als de groepen door loting zijn gevormd (design.randomised), anders 3;",
                "start: 4 locks when the groups were formed by lot (design.randomised), else 3;"),
             tr(lang, "−1 bij hoge uitval volgens de voorzichtige grens van het WWC (Standards Handbook 5.0);",
                "−1 for high attrition by the WWC's cautious boundary (Standards Handbook 5.0);"),
             tr(lang, "−1 als de groepen bij de start meer dan 0,25 SD verschilden, of 0,05–0,25 SD en de voor de "
                      "startverschillen gecorrigeerde schattingen (weighted_dr, covariate_adjusted) tot een andere "
                      "conclusie komen;",
                "−1 when the groups differed at the start by more than .25 SD, or by .05–.25 SD and the estimates "
                "adjusted for it (weighted_dr, covariate_adjusted) reach another conclusion;"),
             tr(lang, f"−1 als het 95%-BI van g breder is dan {fmt.num(CI_WIDTH_MAX, 1, lang)};",
                f"−1 when the 95% CI of g is wider than {fmt.num(CI_WIDTH_MAX, 1, lang)};"),
             tr(lang, "−1 als meer dan een kwart van de andere modellen van did_robustness een ander oordeel geeft "
                      "(BI boven 0, onder 0 of om 0);",
                "−1 when more than a quarter of the other models of did_robustness give another verdict (CI above 0, "
                "below 0 or around 0);"),
             tr(lang, "nooit minder dan 0. Beoordeeld wordt de blijvende verandering (T1–T3; T1–T2 zonder T3).",
                "never below 0. Rated is the lasting change (T1–T3; T1–T2 without T3).")]
    return [h(tr(lang, "Hoe zeker: de sloten van de samenvatting", "How sure: the locks of the summary")),
            p(tr(lang, "De samenvatting voor het programma (report.pdf) geeft per uitkomst 0 tot 4 sloten, naar de "
                       "padlocks van de EEF Teaching and Learning Toolkit, met deze regel:",
                 "The summary for the programme (report.pdf) gives each outcome 0 to 4 locks, after the padlocks of "
                 "the EEF Teaching and Learning Toolkit, by this rule:")),
            bullets(items)]
