"""Build the report editions from a :class:`~mut_eval.results.Results`: the research edition's
sections (summary, sample, measures, Q-sort, methods, appendix; effects in :mod:`.effects`,
moderation in :mod:`.moderation`, comparability in :mod:`.comparability`), the staff edition
(:mod:`.staff`), and :func:`build_report`. Shared pieces are in :mod:`.common`.

``build_report(results, out_dir, lang, edition)`` draws the figures, assembles each edition
as one JSON document (``report_data.json`` / ``report_research_data.json``: sections made of
paragraphs, lists, tables and figures, every number already formatted and every sentence
already written by :mod:`mut_eval.report.text`) and typesets it with the generic typst
template ``template.typ`` into ``report.pdf`` (staff) / ``report_research.pdf``.

Why JSON and not generated markup: typst prints a string from ``json()`` literally, so
programme names, labels and codes never need escaping and can never break the layout.

Privacy: a table is only printed through an explicit list of its columns, so an
identifier column (``student_id``) is never printed, whatever the tables hold; every
count or statistic of a group with fewer than ``meta['min_cell']`` pupils goes through
:func:`mut_eval.report.format.suppress_cell`.

Only the contract's tables and columns are required, and none of them: a missing or
empty table turns its section into a plain sentence saying so.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import CONDITIONS, short_label
from .. import figures as figs
from ..disclosure import staff_view
from . import format as fmt
from . import text as txt
from .common import (EDITION_FILES, EDITIONS, I18N, Ctx, Table, _created, _date_text, _s, bullets,  # noqa: F401
                     did_family, did_rows, document, em, group_changes, group_sizes, h, note, p, typeset)
from .comparability import section_comparability
from .effects import WWC_HANDBOOK, model_formula, multilevel_primary, se_words, section_effects
from .moderation import _by_outcome, bh_words, moderation_family, moderation_info, section_moderation
from .settings_table import settings_rows
from .text import tr


# ---------------------------------------------------------------- sections

def section_summary(ctx: Ctx) -> dict:
    lang = ctx.lang
    blocks = []
    nm, nc = group_sizes(ctx)
    if fmt.is_number(nm) and fmt.is_number(nc):
        blocks += [h(tr(lang, "Het onderzoek", "The study")), p(txt.design_sentence(nm, nc, lang))]
    if ctx.withheld():
        blocks.append(p(ctx.withheld()))
    items = []
    rows = did_rows(ctx)
    changes = group_changes(ctx)
    if rows:
        order = ctx.outcomes([x["outcome"] for x in rows])
        for r in sorted(rows, key=lambda r: (order.index(str(r["outcome"])), str(r["contrast"]))):
            if r["verdict"] in ("shown", "indication"):
                o, con = str(r["outcome"]), str(r["contrast"])
                items.append(txt.plain_did(ctx.label(o), con, r["verdict"], r["estimate"],
                                           changes.get((o, "mentee", con)), changes.get((o, "control", con)), lang))
        nothing = [o for o in order
                   if all(x["verdict"] in ("not_shown", "missing") for x in rows if str(x["outcome"]) == o)]
        items.append(txt.not_shown_sentence([ctx.label(o) for o in nothing], lang))
        gs = [x for x in rows if str(x["contrast"]) in figs.EFFECT_CHANGES and fmt.is_number(x.get("g"))
              and fmt.is_number(x.get("g_ci_low")) and fmt.is_number(x.get("g_ci_high"))]
        if gs:
            comp = sum(1 for x in gs if x["g_ci_low"] <= txt.BENCHMARK_G <= x["g_ci_high"])
            items.append(txt.benchmark_summary(comp, len(gs), min(x["g"] for x in gs), max(x["g"] for x in gs),
                                               lang))
    else:
        items.append(ctx.missing("did")["text"])
    m, n_tests = moderation_info(ctx)
    if m is not None and "p_bh" in m.columns:
        pbh = pd.to_numeric(m["p_bh"], errors="coerce")
        praw = pd.to_numeric(m["p"], errors="coerce")
        strong = m[pbh < ctx.alpha].assign(_p=praw[pbh < ctx.alpha]).sort_values("_p", kind="stable")
        shown = [(txt.moderator_label(str(r["moderator"]), lang), ctx.label(r["outcome"]), str(r["change"]))
                 for r in strong.to_dict("records")]
        fam = moderation_family(ctx)
        items.append(txt.moderation_summary(fam.get("n_tests", n_tests), shown,
                                            int(((praw < ctx.alpha) & ~(pbh < ctx.alpha)).sum()), lang,
                                            family=bh_words(ctx)))
    q = figs.qsort_table(ctx.r)
    if q is not None:
        items.append(txt.qsort_sentence(_qsort_cards(ctx, q), lang, ctx.mc))
    blocks += [h(tr(lang, "Wat is gevonden", "What was found")), bullets(items)]
    lim = txt.limitations(limitation_facts(ctx), lang)
    if lim:
        blocks += [h(tr(lang, "Kanttekeningen", "Caveats")),
                   bullets(lim[:3] + ([[tr(lang, "Meer kanttekeningen staan in hoofdstuk ",
                                           "More caveats are listed in chapter "), txt.chapter("methods"), "."]]
                                      if len(lim) > 3 else []))]
    blocks.append(note(I18N[lang]["how_to_read"]))
    return {"title": I18N[lang]["summary"], "blocks": blocks, "newpage": True}


def uptake_blocks(ctx: Ctx, flow: dict) -> list:
    """How many mentees were never matched or never started, and how many pupils were left
    out by the study's exclusions (the flow stages ``not_matched``, ``never_started``,
    ``excluded``). The matched count is not printed: with the enrolled count beside it, it
    would give a suppressed small count back."""
    lang, m = ctx.lang, flow.get("mentee", {})
    out = []
    if "not_matched" in m or "never_started" in m:
        nm, ns = m.get("not_matched", 0), m.get("never_started", 0)
        out.append(p(tr(lang,
                        f"Niet elke mentee kwam aan mentoring toe: {_count(ctx, nm)} kregen geen mentor en "
                        f"{_count(ctx, ns)} begonnen nooit aan de gesprekken. Zij tellen wel mee in de groep mentees "
                        f"(zoals bedoeld: iedereen die voor het programma was aangewezen).",
                        f"Not every mentee took up mentoring: {_count(ctx, nm)} were never matched with a mentor and "
                        f"{_count(ctx, ns)} never attended a session. They are still counted as mentees "
                        f"(intention to treat: everyone assigned to the programme).")))
    excluded = {c: flow.get(c, {}).get("excluded") for c in CONDITIONS}
    groups = {"mentee": tr(lang, "mentees", "mentees"),
              "control": tr(lang, "leerlingen uit de controlegroep", "control pupils")}
    named = [f"{_count(ctx, n)} {groups[c]}" for c, n in excluded.items()
             if fmt.is_suppressed(n) or fmt.is_number(n) and n > 0]
    if named:
        who = txt.join_list(named, lang)
        out.append(p(tr(lang, f"Op verzoek van de onderzoekers zijn {who} buiten de analyses gelaten (met reden "
                              "vastgelegd).",
                        f"At the researchers' request {who} were left out of the analyses (with a recorded "
                        "reason).")))
    return out


def section_sample(ctx: Ctx) -> dict:
    lang, blocks = ctx.lang, []
    flow = figs.flow_counts(ctx.r)
    if flow:
        e = {c: flow.get(c, {}).get("enrolled") for c in CONDITIONS}
        if all(fmt.is_number(v) or fmt.is_suppressed(v) for v in e.values()):
            blocks.append(p(tr(lang,
                               f"Aan het onderzoek deden {_count(ctx, e['mentee'])} mentees en "
                               f"{_count(ctx, e['control'])} leerlingen in de controlegroep mee. Het stroomdiagram laat "
                               f"zien hoeveel van hen bij elke meting de vragenlijst invulden.",
                               f"{_count(ctx, e['mentee'])} mentees and {_count(ctx, e['control'])} control pupils "
                               f"took part. The flow diagram shows how many of them filled in the questionnaire at "
                               f"each wave.")))
        blocks += uptake_blocks(ctx, flow)
        fig = ctx.figure("flow", tr(lang, "Deelname en respons per meting (stroomdiagram).",
                                    "Participation and response per wave (flow diagram)."), "92%")
        if fig:
            blocks.append(fig)
    else:
        blocks.append(ctx.missing("flow"))
    s = ctx.table("sample")
    need = {"characteristic", "mentee_n", "mentee_value", "control_n", "control_value"}
    if s is not None and need <= set(s.columns):
        t = Table(tr(lang, "Kenmerken van de deelnemers bij de start", "Characteristics of the participants at the start"),
                  [(tr(lang, "Kenmerk", "Characteristic"), "left"), (tr(lang, "Categorie", "Level"), "left"),
                   ([em("n")], "right"), ("% / M", "right"), ([em("n")], "right"), ("% / M", "right"),
                   ([em("p")], "right"), (tr(lang, "Gest. verschil", "Std. diff."), "right")],
                  lang=lang, min_cell=ctx.mc,
                  header_top=[("", 2), ("Mentees", 2), (tr(lang, "Controlegroep", "Controls"), 2), ("", 2)])
        last_char = None
        differs, withheld = [], []
        omnibus = {}
        for r in s.to_dict("records"):
            if _s(r.get("level")) == "all" and fmt.is_number(r.get("p")):
                omnibus[_s(r.get("characteristic"))] = float(r["p"])
        for r in s.to_dict("records"):
            char = _s(r.get("characteristic"))
            level = _s(r.get("level"))
            cont = level in ("", "mean") or fmt.is_number(r.get("mentee_sd"))
            if level == "all" or (not cont and fmt.to_float(r.get("mentee_n")) == 0
                                   and fmt.to_float(r.get("control_n")) == 0):
                continue    # the omnibus test goes in the text; empty levels carry no information
            first = char != last_char
            lab = txt.upper_first(txt.moderator_label(char, lang)) if first else ""
            vals = []
            for c in CONDITIONS:
                n_ = r.get(f"{c}_n")
                v = r.get(f"{c}_value")
                sd = r.get(f"{c}_sd")
                vtext = ((fmt.m_sd(v, sd, lang) if fmt.is_number(sd) else fmt.num(v, 2, lang)) if cont
                         else fmt.num(v, 1, lang))
                vals += [t.cell(fmt.integer(n_, lang), n_, count=True), t.cell(vtext, n_)]
            t.add([lab, "" if cont else txt.level_label(level, lang), *vals,
                   fmt.p_value(r.get("p"), lang), fmt.num(r.get("std_diff"), 2, lang)])
            if first and any(fmt.is_suppressed(r2.get(f"{c}_n")) for r2 in s.to_dict("records")
                             if _s(r2.get("characteristic")) == char for c in CONDITIONS):
                withheld.append(txt.moderator_label(char, lang))
            elif first:
                p_char = omnibus.get(char)
                if p_char is None:
                    ps = pd.to_numeric(s.loc[s["characteristic"].astype(str) == char, "p"], errors="coerce")
                    p_char = ps.min() if ps.notna().any() else None
                if fmt.is_number(p_char) and float(p_char) < ctx.alpha:
                    differs.append(txt.moderator_label(char, lang))
            last_char = char
        t.notes.append(tr(lang,
                          "Percentages per categorie; bij leeftijd het gemiddelde (M) en de SD. p: toets op verschil "
                          "tussen de groepen. Gest. verschil: gestandaardiseerd verschil mentees − controlegroep.",
                          "Percentages per level; for age the mean (M) and SD. p: test of the difference between the "
                          "groups. Std. diff.: standardised difference mentees − controls."))
        blocks.append(t.block())
        blocks.append(p(txt.sample_difference_sentence(differs, lang, withheld, ctx.mc)))
    else:
        blocks.append(ctx.missing("sample"))
    return {"title": I18N[lang]["sample"], "blocks": blocks, "newpage": True}


def short_citation(source: str, lang: str = "en") -> str:
    """'Pintrich, P. R., Smith, D. A. F., ... (1991). Title' → 'Pintrich et al. (1991)'."""
    import re
    if not source or "(" not in source:
        return source or ""
    authors, rest = source.split("(", 1)
    year = rest.split(")", 1)[0]
    parts = [x.strip().lstrip("&").strip() for x in authors.replace("&", ",").split(",")]
    names = [x for x in parts if x and not re.fullmatch(r"(?:[A-Z][a-z]?\.\s*-?)+", x)]
    if not names:
        return f"({year})"
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} & {names[1]}"
    else:
        who = f"{names[0]} {tr(lang, 'e.a.', 'et al.')}"
    return f"{who} ({year})"


def _count(ctx, n) -> str:
    return fmt.suppress_cell(fmt.integer(n, ctx.lang), n, ctx.mc, count=True)[0]


def section_measures(ctx: Ctx) -> dict:
    lang, blocks = ctx.lang, []
    cb = ctx.codebook
    rel = ctx.table("reliability")
    if cb is not None:
        t = Table(tr(lang, "Gemeten uitkomsten (alle vragen op een schaal van 1 tot 5)",
                     "Outcomes measured (all items on a scale from 1 to 5)"),
                  [(tr(lang, "Schaal", "Scale"), "left"), (tr(lang, "Vragen", "Items"), "right"),
                   (tr(lang, "Metingen", "Waves"), "left"), (tr(lang, "Bron", "Source"), "left")],
                  lang=lang, min_cell=ctx.mc, size="small", widths=["auto", "auto", "auto", "1fr"])
        for k, sc in cb.scales.items():
            t.add([short_label(cb.label(k, lang)), str(len(sc.items)), ", ".join(sc.waves)
                   + ("" if sc.group == "all" else tr(lang, " (alleen mentees)", " (mentees only)")),
                   short_citation(sc.source, lang)])
        blocks.append(t.block())
    if rel is not None and {"scale", "wave", "alpha"} <= set(rel.columns):
        t = Table(tr(lang, "Betrouwbaarheid per schaal en meting", "Reliability per scale and wave"),
                  [(tr(lang, "Schaal", "Scale"), "left"), (tr(lang, "Meting", "Wave"), "left"),
                   ([em("n")], "right"), (tr(lang, "Vragen", "Items"), "right"),
                   ("Cronbach α", "right"), (tr(lang, "95%-BI", "95% CI"), "right"), ("McDonald ω", "right")],
                  lang=lang, min_cell=ctx.mc)
        alphas, low = [], []
        for sc in ctx.outcomes(rel["scale"].astype(str).unique()):
            first = True
            for r in rel[rel["scale"].astype(str) == sc].to_dict("records"):
                n_ = r.get("n")
                a = r.get("alpha")
                t.add([ctx.label(sc) if first else "", _s(r.get("wave")), t.cell(fmt.integer(n_, lang), n_, True),
                       fmt.integer(r.get("n_items"), lang), t.cell(fmt.nolead(a, 2, lang), n_),
                       t.cell(fmt.ci(r.get("alpha_ci_low"), r.get("alpha_ci_high"), 2, lang, bounded=True), n_),
                       t.cell(fmt.nolead(r.get("omega"), 2, lang), n_)])
                first = False
                if fmt.is_number(a) and not fmt.is_small(n_, ctx.mc):
                    alphas.append(float(a))
                    if float(a) < 0.70:
                        low.append((sc, _s(r.get("wave"))))
        t.notes.append(tr(lang, "α en ω berekend op leerlingen die alle vragen van de schaal beantwoordden.",
                          "α and ω computed on pupils who answered every item of the scale."))
        blocks.append(t.block())
        low_lab = [f"{txt.lower_first(ctx.label(sc))} ({', '.join(w for s_, w in low if s_ == sc)})"
                   for sc in dict.fromkeys(s_ for s_, _ in low)]
        blocks.append(p(txt.reliability_sentence(min(alphas) if alphas else None, max(alphas) if alphas else None,
                                                 low_lab, lang)))
    else:
        blocks.append(ctx.missing("reliability"))
    return {"title": I18N[lang]["measures"], "blocks": blocks, "newpage": True}


def _qsort_cards(ctx: Ctx, q: pd.DataFrame) -> list[dict]:
    cards = []
    for r in q.to_dict("records"):
        d = dict(r)
        d["label"] = txt.card_label(str(r["card"]), ctx.lang, ctx.labels)
        cards.append(d)
    return cards


def section_qsort(ctx: Ctx) -> dict | None:
    lang, blocks = ctx.lang, []
    q = figs.qsort_table(ctx.r)
    if q is None:       # no interviews: no chapter (issue 15: nothing empty)
        return None
    n = q["n"].map(fmt.as_count).max()
    blocks.append(p(txt.qsort_sentence(_qsort_cards(ctx, q), lang, ctx.mc)))
    if not fmt.is_small(n, ctx.mc):
        fig = ctx.figure("qsort", tr(lang, "Rangorde van de kaartjes: hoe vaak elke rang werd gegeven.",
                                     "Ranking of the cards: how often each rank was given."), "85%")
        if fig:
            blocks.append(fig)
        ranks = sorted([c for c in q.columns if str(c).startswith("rank_") and str(c)[5:].isdigit()],
                       key=lambda c: int(str(c)[5:]))
        t = Table(tr(lang, "Q-sort: gemiddelde rang en verdeling van de rangen", "Q-sort: mean rank and distribution of ranks"),
                  [(tr(lang, "Kaartje", "Card"), "left"), ([em("n")], "right"),
                   (tr(lang, "Gem. rang (SD)", "Mean rank (SD)"), "right")]
                  + [(tr(lang, f"Rang {c[5:]}", f"Rank {c[5:]}"), "right") for c in ranks],
                  lang=lang, min_cell=ctx.mc)
        for r in q.sort_values("mean_rank", kind="stable").to_dict("records"):
            t.add([txt.card_label(str(r["card"]), lang, ctx.labels), fmt.integer(r.get("n"), lang),
                   fmt.m_sd(r.get("mean_rank"), r.get("sd_rank"), lang)]
                  + [fmt.integer(r.get(c), lang) for c in ranks])
        t.notes.append(tr(lang, "Rang 1 = hielp het meest. De aantallen per rang gaan over de hele groep "
                                "geïnterviewde mentees.",
                          "Rank 1 = helped most. The counts per rank refer to the whole group of interviewed mentees."))
        blocks.append(t.block())
    return {"title": I18N[lang]["qsort"], "blocks": blocks, "newpage": True}


def sample_differences(ctx: Ctx, s: pd.DataFrame) -> list[str]:
    """Characteristics on which the groups differ at p < alpha (the omnibus 'all' row when there is one)."""
    out = []
    for char in dict.fromkeys(s["characteristic"].astype(str)):
        rows = s[s["characteristic"].astype(str) == char]
        lv = rows["level"].astype(str) if "level" in rows.columns else pd.Series("", index=rows.index)
        ps = pd.to_numeric(rows.loc[lv == "all", "p"] if (lv == "all").any() else rows["p"], errors="coerce")
        if ps.notna().any() and ps.min() < ctx.alpha:
            out.append(char)
    return out


def limitation_facts(ctx: Ctx) -> dict:
    clustering = ctx.meta.get("clustering") or {}
    facts: dict = {"synthetic": bool(ctx.meta.get("synthetic", False)),
                   "randomised": bool((ctx.meta.get("config") or {}).get("randomised", False)),
                   "alpha": ctx.alpha, "icc": clustering.get("icc"),
                   "n_classes": clustering.get("n_classes"), "n_schools": clustering.get("n_schools"),
                   "multilevel": multilevel_primary(ctx)}
    facts["n_mentee"], facts["n_control"] = group_sizes(ctx)
    rows = did_rows(ctx)
    rhos = {round(float(r["icc"]), 6) for r in rows if fmt.is_number(r.get("icc"))}
    if rhos:   # the ICC the check used: analysis.icc, or the estimated ICC of each outcome
        facts["icc"] = rhos.pop() if len(rhos) == 1 else None
    if rows and all("p_cluster" in r for r in rows):
        # The clustering check: do the effects significant after the Holm correction keep p < alpha
        # when the DiD test is corrected for pupils sharing a class?
        sig = [r for r in rows if fmt.is_number(r["p_adj"]) and float(r["p_adj"]) < ctx.alpha]
        facts["n_significant"] = len(sig)
        facts["n_significant_cluster"] = sum(1 for r in sig if fmt.is_number(r["p_cluster"])
                                             and float(r["p_cluster"]) < ctx.alpha)
    be = ctx.table("baseline_equivalence")
    if be is not None and {"outcome", "contrast", "wwc"} <= set(be.columns):
        pairs = [(str(o), str(c)) for o, c in be[["outcome", "contrast"]].itertuples(index=False)]
        bad = [(str(o), str(c)) for o, c, w in be[["outcome", "contrast", "wwc"]].itertuples(index=False)
               if str(w) == "fails"]
        facts["baseline_fails"] = _by_outcome(ctx, bad, pairs)
    at = ctx.table("attrition")
    if at is not None and {"outcome", "contrast", "wwc_cautious"} <= set(at.columns):
        pairs = [(str(o), str(c)) for o, c in at[["outcome", "contrast"]].itertuples(index=False)]
        bad = [(str(o), str(c)) for o, c, w in at[["outcome", "contrast", "wwc_cautious"]].itertuples(index=False)
               if str(w) == "high"]
        facts["attrition_high"] = _by_outcome(ctx, bad, pairs)
    s = ctx.table("sample")
    if s is not None and {"characteristic", "p"} <= set(s.columns):
        facts["sample_differences"] = [txt.moderator_label(c, ctx.lang) for c in sample_differences(ctx, s)]
    facts["covariates_adjusted"] = ctx.table("did_adjusted") is not None
    rob = ctx.table("did_robustness")
    facts["weighted"] = rob is not None and "weighted_dr" in set(rob["model"].astype(str))
    facts["n_tests_effects"] = len(rows)
    fam = moderation_family(ctx)
    facts["n_tests_moderation"] = fam.get("n_tests", moderation_info(ctx)[1])
    facts["family_effects"] = txt.holm_family(did_family(ctx), ctx.lang) or None
    facts["family_moderation"] = bh_words(ctx)
    facts["completers_only_anova"] = ctx.table("mixed_anova") is not None
    q = figs.qsort_table(ctx.r)
    if q is not None:
        facts["qsort_n"] = q["n"].map(fmt.as_count).max()
    return facts


def section_methods(ctx: Ctx) -> dict:
    lang, meta = ctx.lang, ctx.meta
    alpha = fmt.nolead(ctx.alpha, 2, lang)
    nb = fmt.integer(meta.get("n_boot"), lang) if fmt.is_number(meta.get("n_boot")) else "—"
    # bootstrap: auto — fewer resamples with many mentees, where the percentile and t intervals coincide
    auto_nl = auto_en = ""
    if meta.get("bootstrap_auto") and fmt.is_number(meta.get("n_mentee")) and meta["n_mentee"] > 20_000:
        auto_nl = (f", gekozen bij {fmt.integer(meta['n_mentee'], lang)} mentees: bij zoveel leerlingen vallen "
                   "het percentiel-interval en het t-interval samen")
        auto_en = (f", chosen for {fmt.integer(meta['n_mentee'], lang)} mentees: with this many pupils the "
                   "percentile and t intervals coincide")
    rho = (meta.get("clustering") or {}).get("icc")
    icc = f" (ICC {fmt.nolead(rho, 2, lang)})" if fmt.is_number(rho) else ""
    holm_text, bh_text = txt.holm_family(did_family(ctx), lang), bh_words(ctx, long=True)
    blocks = [h(tr(lang, "Werkwijze", "Methods")), bullets([
        tr(lang,
           "Opzet: quasi-experiment met mentees en vergelijkingsklassen, drie metingen (T1 start, T2 einde "
           "programma, T3 nameting).",
           "Design: quasi-experiment with mentees and comparison classes, three waves (T1 start, T2 end of the "
           "programme, T3 follow-up)."),
        tr(lang,
           "Schaalscores: gemiddelde van de beantwoorde vragen (omgepoolde vragen 6 − x), alleen als minstens 75% "
           "van de vragen is beantwoord.",
           "Scale scores: mean of the answered items (reverse-coded items 6 − x), only when at least 75% of the "
           "items were answered."),
        tr(lang,
           "Variantieanalyse (conditie × meting) op leerlingen met alle drie metingen, Type III-kwadratensommen met "
           "Greenhouse–Geisser- en Huynh–Feldt-correctie, gelijk aan SPSS GLM Repeated Measures; de aanname van "
           "gelijke covariantiematrices in beide groepen getoetst met Box's M (F-benadering zoals SPSS, bij "
           "p < ,001).",
           "Analysis of variance (condition × wave) on pupils with all three waves, Type III sums of squares with "
           "Greenhouse–Geisser and Huynh–Feldt corrections, equal to SPSS GLM Repeated Measures; its assumption of "
           "equal covariance matrices in both groups tested with Box's M (F approximation as SPSS, at p < .001)."),
        tr(lang,
           f"Gemengd model op alle beschikbare metingen ({model_formula(ctx)}, REML; gelijk aan R lme4). Het "
           f"verschil in verandering (mentees min controlegroep) is omgerekend naar Hedges' g met de gepoolde "
           f"standaarddeviatie op T1." + (" Toetsen en intervallen met Kenward–Roger-vrijheidsgraden (pbkrtest); "
                                          "ter controle ook Satterthwaite, CR2-standaardfouten per klas en een wild "
                                          "cluster bootstrap (figuur bij het effect)." if multilevel_primary(ctx) else ""),
           f"Mixed model on all available measurements ({model_formula(ctx)}, REML; equal to R lme4). The difference "
           f"in change (mentees minus controls) is converted to Hedges' g with the pooled standard deviation at T1."
           + (" Tests and intervals with Kenward–Roger degrees of freedom (pbkrtest); as checks also Satterthwaite, "
              "CR2 standard errors by class and a wild cluster bootstrap (figure with the effects)."
              if multilevel_primary(ctx) else "")),
        tr(lang,
           f"Gelijkwaardigheid bij de start (|g| ≤ {fmt.nolead(0.05, 2, lang)} voldoet, tot "
           f"{fmt.nolead(0.25, 2, lang)} met correctie voor de beginscore), uitval (voorzichtige en optimistische "
           f"grens), Hedges' g met kleine-steekproefcorrectie en de correctie voor leerlingen in dezelfde klas{icc} "
           f"volgen de What Works Clearinghouse, {WWC_HANDBOOK}.",
           f"Baseline equivalence (|g| ≤ {fmt.nolead(0.05, 2, lang)} satisfies, up to {fmt.nolead(0.25, 2, lang)} "
           f"with adjustment for the baseline score), attrition (cautious and optimistic boundary), Hedges' g with "
           f"its small-sample correction and the correction for pupils sharing a class{icc} follow the What Works "
           f"Clearinghouse, {WWC_HANDBOOK}."),
        tr(lang,
           f"Moderatie (alleen mentees): de verandering tussen twee metingen geregresseerd op de moderator (OLS"
           f"{se_words(ctx, 'nl')}), met voorspelde veranderingen bij M − 1SD, M en M + 1SD, Johnson–Neyman-grenzen en bootstrap-"
           f"betrouwbaarheidsintervallen ({nb} trekkingen{auto_nl}).",
           f"Moderation (mentees only): the change between two waves regressed on the moderator (OLS"
           f"{se_words(ctx, 'en')}), with predicted changes at M − 1SD, M and M + 1SD, Johnson–Neyman points and bootstrap confidence intervals "
           f"({nb} resamples{auto_en})."),
        tr(lang,
           f"Significantieniveau α = {alpha}. Effecten: {holm_text or 'Holm-correctie'}; moderatie: "
           f"{bh_text or 'Benjamini–Hochberg-correctie'}. "
           f"Een resultaat heet ‘aangetoond’ als het betrouwbaarheidsinterval 0 niet bevat én de gecorrigeerde p "
           f"kleiner is dan α.",
           f"Significance level α = {alpha}. Effects: {holm_text or 'Holm correction'}; moderation: "
           f"{bh_text or 'Benjamini–Hochberg correction'}. A "
           f"result counts as ‘shown’ when its confidence interval excludes 0 and its adjusted p is below α."),
        tr(lang,
           f"Privacy: er staan geen namen of leerlingnummers in dit rapport; aantallen en statistieken van groepen "
           f"met minder dan {ctx.mc} leerlingen zijn weggelaten.",
           f"Privacy: this report contains no names or pupil numbers; counts and statistics of groups with fewer "
           f"than {ctx.mc} pupils are left out."),
    ]), h(tr(lang, "Beperkingen", "Limitations")), bullets(txt.limitations(limitation_facts(ctx), lang))]
    return {"title": I18N[lang]["methods"], "blocks": blocks, "newpage": True}


def section_appendix(ctx: Ctx) -> dict:
    """The settings of the run as a readable table (one row per setting, grouped; see
    :mod:`mut_eval.report.settings_table`), when it was made, the software versions and
    the SHA-256 of the input files."""
    lang, meta, blocks = ctx.lang, ctx.meta, []
    groups = settings_rows(meta, lang)
    run = [(tr(lang, "Gemaakt op", "Created"), _date_text(_created(meta), lang)),
           (tr(lang, "Versie van mut_eval", "mut_eval version"), _s(meta.get("mut_eval_version")))]
    run = [(label, v) for label, v in run if v]
    if groups or run:
        t = Table(tr(lang, "Instellingen", "Settings"),
                  [(tr(lang, "Instelling", "Setting"), "left"), (tr(lang, "Sleutel in study.yaml", "Key in study.yaml"),
                                                                 "left"), (tr(lang, "Waarde", "Value"), "left")],
                  lang=lang, min_cell=ctx.mc, size="small", widths=["1.3fr", "1.2fr", "1.6fr"])
        for title, rows in groups:
            t.group(title)
            for label, key, value in rows:
                t.add([label, {"mono": key}, short_label(value, 160)])
        if run:
            t.group(tr(lang, "Deze uitvoering", "This run"))
            for label, value in run:
                t.add([label, "", value])
        t.notes.append(tr(lang,
                          "Uit study.yaml zoals de analyse het gebruikte; ‘(standaard)’: niet ingesteld, de "
                          "standaardwaarde is gebruikt. Leerlingnummers en de sleutel voor pseudoniemen worden nooit "
                          "getoond.",
                          "From study.yaml as the analysis used it; ‘(default)’: not set, the default was used. "
                          "Pupil identifiers and the pseudonym key are never shown."))
        blocks.append(t.block())
    versions = meta.get("versions") or {}
    if versions:
        t = Table(tr(lang, "Softwareversies", "Software versions"),
                  [(tr(lang, "Pakket", "Package"), "left"), (tr(lang, "Versie", "Version"), "left")],
                  lang=lang, min_cell=ctx.mc, size="small")
        for k in sorted(versions):
            t.add([str(k), _s(versions[k])])
        blocks.append(t.block())
    hashes = meta.get("input_hashes") or {}
    if hashes:
        t = Table(tr(lang, "Invoerbestanden (SHA-256)", "Input files (SHA-256)"),
                  [(tr(lang, "Bestand", "File"), "left"), ("SHA-256", "left")],
                  lang=lang, min_cell=ctx.mc, size="small")
        for k in sorted(hashes):
            t.add([str(k), {"mono": _s(hashes[k])}])
        blocks.append(t.block())
    if not blocks:
        blocks.append(ctx.missing("meta"))
    return {"title": I18N[lang]["appendix"], "blocks": blocks, "newpage": True}


def assemble(results, lang: str, figures: dict, root: Path) -> dict:
    """The whole report as a JSON-ready dict (see ``template.typ`` for how it is drawn)."""
    if lang not in txt.LANGS:
        raise ValueError(f"lang must be one of {txt.LANGS}, not {lang!r}")
    ctx = Ctx(results, lang, figures, Path(root))
    meta = ctx.meta
    sections = []
    for fn in (section_summary, section_sample, section_measures, section_effects, section_comparability,
               section_moderation, section_qsort, section_methods, section_appendix):
        try:
            section = fn(ctx)
            if section is not None:     # a chapter without data is left out (and the contents with it)
                sections.append({**section, "label": fn.__name__.replace("section_", "")})
        except (KeyError, ValueError, TypeError, IndexError, AttributeError) as e:
            # A table with an unexpected shape costs its section, not the whole report.
            sections.append({"title": fn.__name__.replace("section_", "").capitalize(), "newpage": True,
                             "blocks": [p(tr(lang, f"Dit onderdeel kon niet worden gemaakt ({type(e).__name__}).",
                                             f"This part could not be made ({type(e).__name__})."))]})
    from .staff import rating_rule_blocks
    for s in sections:
        if s.get("label") == "methods":
            s["blocks"] = [*s["blocks"], *rating_rule_blocks(lang)]
    return document(meta, lang, sections, tr(lang, "Technisch rapport", "Technical report"))


def build_report(results, out_dir, lang: str = "nl", figures: dict | None = None, edition: str = "both",
                 docx: bool = True) -> Path:
    """Write the report editions into ``out_dir`` (``figures/`` and each edition's document
    JSON beside them) and return the first PDF written:

    - ``staff``: ``report.pdf``, at most six pages in plain language for programme staff
      (:mod:`mut_eval.report.staff`);
    - ``research``: ``report_research.pdf``, the full technical report, and with ``docx``
      (default) ``report_research.docx``, the same document as an editable Word file
      (:func:`mut_eval.report.docx.write_docx`; APA tables);
    - ``both`` (default).

    ``figures``: what :func:`mut_eval.figures.make_figures` returned (its ``moderation``
    mapping places the moderation figures); drawn into ``out_dir/figures`` when not given.
    """
    from ..figures_staff import fig_staff_effects
    from .staff import staff_sections

    if edition not in (*EDITIONS, "both"):
        raise ValueError(f"edition must be staff, research or both, not {edition!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Both editions are made from the staff view only, so no suppressed count or statistic
    # can reach a table, a sentence or a figure of a PDF; the research tables keep every number.
    results = staff_view(results)
    if figures is None:
        figures = figs.make_figures(results, out / "figures", lang)
    created = _created(getattr(results, "meta", {}) or {})
    pdfs = []
    for ed in (EDITIONS if edition == "both" else (edition,)):
        if ed == "research":
            doc = assemble(results, lang, figures, out)
        else:
            path = fig_staff_effects(results, out / "figures", lang)
            ctx = Ctx(results, lang, {**figures, "staff_effects": path} if path else figures, out)
            fig = ctx.figure("staff_effects", tr(lang, "Verschil in blijvende verandering tussen mentees en "
                                                       "controlegroep, per uitkomst",
                                                 "Difference in lasting change between mentees and the control "
                                                 "group, per outcome"), "90%")
            doc = document(ctx.meta, lang, staff_sections(ctx, fig), tr(lang, "Samenvatting voor het programma",
                                                                          "Summary for the programme"))
        pdfs.append(typeset(doc, out, *EDITION_FILES[ed], created))
        if ed == "research" and docx:   # the same document as an editable Word file, for researchers
            from .docx import write_docx
            write_docx(doc, out, out / "report_research.docx")
    return pdfs[0]


def _main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description="Build report.pdf from a results folder (or the demo results).")
    ap.add_argument("out", help="output folder")
    ap.add_argument("--results", help="folder with results.json (default: the built-in demo)")
    ap.add_argument("--lang", default="nl", choices=txt.LANGS)
    a = ap.parse_args(argv)
    if a.results:
        from ..results import Results
        res = Results.read(a.results)
    else:
        from .demo import demo_results
        res = demo_results()
    print(build_report(res, a.out, a.lang))


if __name__ == "__main__":
    _main()
