"""The research edition's chapter on effects: the means, the split-plot ANOVA with Box's M,
the DiD of the primary model, the WWC checks, classes, schools and mentor groups (ICC,
the model formula) and the robustness figure.
"""
from __future__ import annotations


import pandas as pd

from .. import CONDITIONS, WAVES
from .. import figures as figs
from . import format as fmt
from . import text as txt
from .text import tr
from .common import (I18N, Ctx, Table, _s, bullets, did_family, did_rows, em, group_changes, h, p,
                     skipped_outcomes_sentence, sub)
from .moderation import _by_outcome


#: The one WWC handbook whose numbers the report uses (baseline bands .05/.25, attrition
#: boundaries, default ICC, Hedges' g); every citation in code, notebooks and README names it.
WWC_HANDBOOK = "Procedures and Standards Handbook, Version 5.0 (2022)"
WWC_LABELS = {
    "satisfies": ("voldoet", "satisfies"), "adjust": ("correctie nodig", "adjustment needed"),
    "fails": ("voldoet niet", "fails"), "low": ("laag", "low"), "high": ("hoog", "high"),
}
SOURCE_LABELS = {"condition": ("Conditie", "Condition"), "wave": ("Meting", "Wave"),
                 "condition:wave": ("Conditie × meting", "Condition × wave")}


def table_means(ctx: Ctx) -> dict | None:
    d = ctx.table("descriptives")
    if d is None or not {"outcome", "condition", "wave", "mean", "sd", "n"} <= set(d.columns):
        return None
    lang = ctx.lang
    sample = "completers"
    if "sample" in d.columns:
        if not (d["sample"].astype(str) == "completers").any():
            sample = "available"
        d = d[d["sample"].astype(str) == sample]
    cols = [(tr(lang, "Uitkomst", "Outcome"), "left")]
    for _c in CONDITIONS:
        cols.append(([em("n")], "right"))
        cols += [(w, "right") for w in WAVES]
    cap = (tr(lang, "Gemiddelden (SD) per groep en meting, leerlingen met alle drie metingen",
              "Means (SD) per group and wave, pupils with all three waves") if sample == "completers" else
           tr(lang, "Gemiddelden (SD) per groep en meting, alle beschikbare metingen",
              "Means (SD) per group and wave, all available measurements"))
    t = Table(cap, cols, lang=lang, min_cell=ctx.mc, size="small",
              header_top=[("", 1), ("Mentees", 4), (tr(lang, "Controlegroep", "Controls"), 4)])
    key = {(str(o), str(c), str(w)): (m, s, n) for o, c, w, m, s, n in
           d[["outcome", "condition", "wave", "mean", "sd", "n"]].itertuples(index=False)}
    for o in ctx.outcomes(d["outcome"].astype(str).unique()):
        row = [ctx.label(o)]
        for c in CONDITIONS:
            ns = [key[(o, c, w)][2] for w in WAVES if (o, c, w) in key]
            nvals = {int(x) for x in ns if fmt.is_number(x)}
            n_one = min(nvals) if nvals else next((x for x in ns if fmt.is_suppressed(x)), None)
            row.append(t.cell(fmt.integer(n_one, lang) if len(nvals) <= 1 else
                              f"{min(nvals)}–{max(nvals)}", n_one, count=True))
            for w in WAVES:
                if (o, c, w) in key:
                    m, s, n_ = key[(o, c, w)]
                    row.append(t.cell(fmt.m_sd(m, s, lang), n_))
                else:
                    row.append("")
        t.add(row)
    t.notes.append(tr(lang, "Schaal 1–5; hogere scores zijn gunstiger. n = aantal leerlingen.",
                      "Scale 1–5; higher scores are more favourable. n = number of pupils."))
    return t.block()


def table_anova(ctx: Ctx) -> tuple[dict | None, list[str]]:
    a = ctx.table("mixed_anova")
    if a is None or not {"outcome", "source", "F", "df1", "df2", "p_unc"} <= set(a.columns):
        return None, []
    lang = ctx.lang
    t = Table(tr(lang, "Variantieanalyse met herhaalde metingen (conditie × meting), leerlingen met alle drie metingen",
                 "Repeated-measures analysis of variance (condition × wave), pupils with all three waves"),
              [(tr(lang, "Bron", "Source"), "left"), ([em("F")], "right"), ([em("df")], "right"),
               ([em("p")], "right"), ([em("ε"), sub("GG")], "right"), ([em("p"), sub("GG")], "right"),
               ([em("η"), {"sup": "2"}, sub("p")], "right"), ([em("η"), {"sup": "2"}, sub("G")], "right")],
              lang=lang, min_cell=ctx.mc)
    sentences = []
    sep = "; " if lang == "nl" else ", "
    for o in ctx.outcomes(a["outcome"].astype(str).unique()):
        t.group(ctx.label(o))
        sub_a = a[a["outcome"].astype(str) == o]
        for src in ("condition", "wave", "condition:wave"):
            rr = sub_a[sub_a["source"].astype(str) == src]
            if rr.empty:
                continue
            r = rr.iloc[0].to_dict()
            t.add([txt._pick(SOURCE_LABELS[src], lang), fmt.num(r.get("F"), 2, lang),
                   f"{fmt.dof(r.get('df1'), lang)}{sep}{fmt.dof(r.get('df2'), lang)}",
                   fmt.p_value(r.get("p_unc"), lang),
                   fmt.nolead(r.get("eps_gg"), 2, lang) if src != "condition" else "",
                   fmt.p_value(r.get("p_gg"), lang) if src != "condition" else "",
                   fmt.nolead(r.get("np2"), 3, lang), fmt.nolead(r.get("ng2"), 3, lang)])
            if src == "condition:wave":
                sentences.append(txt.anova_sentence(ctx.label(o), r.get("F"), r.get("df1"), r.get("df2"),
                                                    r.get("p_unc"), r.get("np2"), eps_gg=r.get("eps_gg"),
                                                    mauchly_p=r.get("mauchly_p"), p_gg=r.get("p_gg"),
                                                    alpha=ctx.alpha, lang=lang))
    t.notes.append(tr(lang,
                      "Type III-kwadratensommen (zoals SPSS). εGG en pGG: Greenhouse–Geisser-correctie, gebruikt "
                      "in de tekst als Mauchly's toets significant is. ηp²: partiële eta-kwadraat; ηG²: "
                      "gegeneraliseerde eta-kwadraat.",
                      "Type III sums of squares (as in SPSS). εGG and pGG: Greenhouse–Geisser correction, used in "
                      "the text when Mauchly's test is significant. ηp²: partial eta squared; ηG²: generalised eta "
                      "squared."))
    return t.block(), sentences


def se_words(ctx: Ctx, lang: str) -> str:
    """', met HC3-standaardfouten' for the moderation models' standard errors (``se_type``);
    nothing for classical OLS errors."""
    m = ctx.table("moderation")
    kinds = sorted(set(m["se_type"].dropna().astype(str))) if m is not None and "se_type" in m.columns else []
    hc = [k for k in kinds if k != "OLS"]
    if not hc:
        return ""
    return tr(lang, f" met {'/'.join(hc)}-standaardfouten, robuust voor ongelijke spreiding",
              f" with {'/'.join(hc)} standard errors, robust to unequal spread")


def box_m_text(ctx: Ctx) -> str:
    """The split-plot ANOVA's assumption of equal covariance matrices, from ``box_m``."""
    from ..stats.box_m import BOX_M_ALPHA
    b = ctx.table("box_m")
    if b is None or not {"outcome", "F", "df1", "df2", "p"} <= set(b.columns):
        return ""
    rows = [{**r, "outcome": ctx.label(str(r["outcome"]))}
            for o in ctx.outcomes(b["outcome"].astype(str).unique())
            for r in b[b["outcome"].astype(str) == o].to_dict("records")]
    alpha = pd.to_numeric(b["alpha"], errors="coerce").dropna() if "alpha" in b.columns else pd.Series(dtype=float)
    return txt.box_m_sentence(rows, float(alpha.iloc[0]) if len(alpha) else BOX_M_ALPHA, ctx.lang)


def table_did(ctx: Ctx, rows: list[dict]) -> dict:
    lang = ctx.lang
    t = Table(tr(lang, "Verschil in verandering tussen mentees en controlegroep (multilevelmodel met klassen, alle "
                       "metingen)" if multilevel_primary(ctx) else
                 "Verschil in verandering tussen mentees en controlegroep (gemengd model, alle metingen)",
                 "Difference in change between mentees and controls (multilevel model with classes, all "
                 "measurements)" if multilevel_primary(ctx) else
                 "Difference in change between mentees and controls (mixed model, all measurements)"),
              [(tr(lang, "Uitkomst", "Outcome"), "left"), (tr(lang, "Periode", "Period"), "left"),
               (tr(lang, "Verschil", "Difference"), "right"), (tr(lang, "95%-BI", "95% CI"), "right"),
               ([em("p")], "right"), ([em("p"), sub("Holm")], "right"), ([em("g")], "right"),
               (tr(lang, "95%-BI", "95% CI"), "right"),
               (tr(lang, "Verbeter-index", "Improvement index"), "right")],
              lang=lang, min_cell=ctx.mc, size="small")
    order = ctx.outcomes([r["outcome"] for r in rows])
    last = None
    for r in sorted(rows, key=lambda r: (order.index(str(r["outcome"])), str(r["contrast"]))):
        o = str(r["outcome"])
        t.add([ctx.label(o) if o != last else "", txt.contrast_label(str(r["contrast"]), lang),
               fmt.num(r.get("estimate"), 2, lang), fmt.ci(r.get("ci_low"), r.get("ci_high"), 2, lang),
               fmt.p_value(r.get("p"), lang), fmt.p_value(r.get("p_holm"), lang),
               fmt.num(r.get("g"), 2, lang), fmt.ci(r.get("g_ci_low"), r.get("g_ci_high"), 2, lang),
               fmt.num(r.get("improvement_index"), 1, lang)])
        last = o
    t.notes.append(tr(lang,
                      "Verschil = verandering bij mentees min verandering in de controlegroep (punten op schaal 1–5); "
                      "> 0 is gunstiger voor mentees. g: Hedges' g (verschil gedeeld door de standaarddeviatie op T1). "
                      "Verbeterindex: verwachte verandering in percentielpunten voor een gemiddelde leerling uit de "
                      f"controlegroep. pHolm: {txt.holm_family(did_family(ctx), lang) or 'Holm-correctie'}.",
                      "Difference = change among mentees minus change among controls (points on the 1–5 scale); "
                      "> 0 favours mentees. g: Hedges' g (difference divided by the standard deviation at T1). "
                      "Improvement index: expected change in percentile points for an average control pupil. "
                      f"pHolm: {txt.holm_family(did_family(ctx), lang) or 'Holm correction'}."))
    return t.block()


def table_wwc(ctx: Ctx) -> tuple[dict | None, list]:
    be, at = ctx.table("baseline_equivalence"), ctx.table("attrition")
    if be is None and at is None:
        return None, []
    lang = ctx.lang
    rows = {}
    if be is not None and {"outcome", "contrast"} <= set(be.columns):
        for r in be.to_dict("records"):
            rows.setdefault((str(r["outcome"]), str(r["contrast"])), {}).update(
                g_baseline=r.get("g_baseline"), wwc=_s(r.get("wwc")))
    pct_scale = False
    if at is not None and {"outcome", "contrast", "overall", "differential"} <= set(at.columns):
        vals = pd.to_numeric(pd.concat([at["overall"], at["differential"]]), errors="coerce").abs().dropna()
        # Attrition given as proportions (0-1) or as percentages: decide once per table.
        pct_scale = bool(len(vals)) and float(vals.max()) <= 1.0
        for r in at.to_dict("records"):
            rows.setdefault((str(r["outcome"]), str(r["contrast"])), {}).update(
                overall=txt.as_percent(r.get("overall"), pct_scale),
                differential=txt.as_percent(r.get("differential"), pct_scale),
                cautious=_s(r.get("wwc_cautious")), optimistic=_s(r.get("wwc_optimistic")))
    t = Table(tr(lang, "Gelijkwaardigheid bij de start en uitval, getoetst aan de WWC-standaarden",
                 "Baseline equivalence and attrition against the WWC standards"),
              [(tr(lang, "Uitkomst", "Outcome"), "left"), (tr(lang, "Periode", "Period"), "left"),
               ([em("g")], "right"), ("WWC", "left"),
               (tr(lang, "Totaal %", "Overall %"), "right"), (tr(lang, "Verschil (pp)", "Differential (pp)"), "right"),
               (tr(lang, "Voorzichtig", "Cautious"), "left"), (tr(lang, "Optimistisch", "Optimistic"), "left")],
              lang=lang, min_cell=ctx.mc, size="small",
              header_top=[("", 2), (tr(lang, "Gelijkwaardigheid op T1", "Baseline equivalence"), 2),
                          (tr(lang, "Uitval", "Attrition"), 4)])
    order = ctx.outcomes([k[0] for k in rows])
    last = None
    for (o, con) in sorted(rows, key=lambda k: (order.index(k[0]), k[1])):
        v = rows[(o, con)]
        wl = lambda code: txt._pick(WWC_LABELS[code], lang) if code in WWC_LABELS else code  # noqa: E731
        t.add([ctx.label(o) if o != last else "", txt.contrast_label(con, lang),
               fmt.num(v.get("g_baseline"), 2, lang), wl(v.get("wwc", "")),
               fmt.num(v.get("overall"), 0, lang),
               fmt.num(abs(v["differential"]) if fmt.is_number(v.get("differential")) else None, 1, lang),
               wl(v.get("cautious", "")), wl(v.get("optimistic", ""))])
        last = o
    t.notes.append(tr(lang,
                      "What Works Clearinghouse: |g| ≤ 0,05 voldoet, ≤ 0,25 correctie nodig, anders voldoet niet. "
                      "Uitval: totaal en verschil tussen de groepen (procentpunten), beoordeeld met de voorzichtige "
                      "en de optimistische grens.",
                      "What Works Clearinghouse: |g| ≤ 0.05 satisfies, ≤ 0.25 adjustment needed, otherwise fails. "
                      "Attrition: overall and the difference between the groups (percentage points), rated with the "
                      "cautious and the optimistic boundary."))
    return t.block(), [(o, con, v) for (o, con), v in rows.items()]


def design_of(ctx: Ctx) -> dict:
    """The design the analysis assumed (results.json meta ``design``; {} for older results)."""
    return dict(ctx.meta.get("design") or {})


def multilevel_primary(ctx: Ctx) -> bool:
    d = ctx.table("did")
    return d is not None and "model" in d.columns and \
        d["model"].astype(str).isin(["lmm_multilevel", "mmrm_multilevel"]).any()


def model_formula(ctx: Ctx) -> str:
    """The primary model in lme4 notation with the report's words (conditie/condition ...)."""
    design = design_of(ctx)
    terms = ["(1 | school)"] if multilevel_primary(ctx) and "school" in design.get("levels", []) else []
    if multilevel_primary(ctx) and "class" in design.get("levels", []):
        terms += [tr(ctx.lang, "(1 | school:klas)", "(1 | school:class)"),
                  tr(ctx.lang, "(1 | school:klas:meting)", "(1 | school:class:wave)")]
    if design.get("residual") == "unstructured":
        terms.append(tr(ctx.lang, "ongestructureerde covariantie van de metingen per leerling",
                        "unstructured covariance of each pupil's waves"))
    else:
        terms.append(tr(ctx.lang, "(1 | leerling)", "(1 | pupil)"))
    if multilevel_primary(ctx) and design.get("mentor_groups"):
        terms.append(tr(ctx.lang, "(0 + mentee_na_T1 | mentor)", "(0 + mentee_after_T1 | mentor)"))
    return tr(ctx.lang, "score ~ conditie × meting + ", "score ~ condition × wave + ") + " + ".join(terms)


def table_icc(ctx: Ctx) -> dict | None:
    t_icc = ctx.table("icc")
    if t_icc is None or "icc_class" not in t_icc.columns:
        return None
    lang = ctx.lang
    t = Table(tr(lang, "Hoeveel lijken leerlingen uit één klas op elkaar? (T1)",
                 "How alike are pupils of one class? (T1)"),
              [(tr(lang, "Uitkomst", "Outcome"), "left"), ("ICC " + tr(lang, "klas", "class"), "right"),
               (tr(lang, "95%-BI", "95% CI"), "right"), ("ICC " + tr(lang, "school", "school"), "right"),
               (tr(lang, "Design-effect", "Design effect"), "right"),
               (tr(lang, "Effectieve n", "Effective n"), "right")],
              lang=lang, min_cell=ctx.mc, size="small")
    rows = t_icc.set_index("outcome")
    for o in ctx.outcomes([str(x) for x in rows.index]):
        r = rows.loc[o]
        t.add([ctx.label(o), fmt.nolead(r.get("icc_class"), 2, lang),
               fmt.ci(r.get("icc_class_ci_low"), r.get("icc_class_ci_high"), 2, lang),
               fmt.nolead(r.get("icc_school"), 2, lang), fmt.num(r.get("design_effect"), 2, lang),
               fmt.num(r.get("n_effective"), 0, lang)])
    t.notes.append(tr(lang,
                      "ICC klas: de correlatie tussen twee leerlingen uit dezelfde klas (uit het nulmodel met school "
                      "en klas, REML; BI: Wald-interval op de logit-schaal). Design-effect 1 + (m − 1)·ICC met m de "
                      "gemiddelde klasgrootte; effectieve n: het aantal onafhankelijke leerlingen dat evenveel "
                      "informatie zou geven.",
                      "Class ICC: the correlation between two pupils of the same class (from the null model with "
                      "school and class, REML; CI: Wald interval on the logit scale). Design effect 1 + (m − 1)·ICC "
                      "with m the mean class size; effective n: the number of independent pupils that would give as "
                      "much information."))
    return t.block()


def design_blocks(ctx: Ctx) -> list:
    """How the design was taken into account: a sentence on the assignment and on what
    clustering means for precision, the ICC table and the robustness figure."""
    lang, design = ctx.lang, design_of(ctx)
    if not design:
        return []
    blocks = [h(tr(lang, "Klassen, scholen en mentorgroepen", "Classes, schools and mentor groups"))]
    n_cls, n_sch = design.get("n_classes"), design.get("n_schools")
    where = tr(lang, f"{fmt.integer(n_cls, lang)} klassen op {fmt.integer(n_sch, lang)} scholen",
               f"{fmt.integer(n_cls, lang)} classes in {fmt.integer(n_sch, lang)} schools")
    t_icc = ctx.table("icc")
    icc_s = ""
    if t_icc is not None and "icc_class" in t_icc.columns and len(t_icc):
        v = pd.to_numeric(t_icc["icc_class"], errors="coerce")
        neff = pd.to_numeric(t_icc["n_effective"], errors="coerce")
        n = (neff * pd.to_numeric(t_icc["design_effect"], errors="coerce")).max()
        icc_s = tr(lang,
                   f" Op T1 is de intraklassecorrelatie {fmt.nolead(v.min(), 2, lang)} tot "
                   f"{fmt.nolead(v.max(), 2, lang)}: de {fmt.num(n, 0, lang)} leerlingen geven daardoor evenveel "
                   f"informatie als {fmt.num(neff.min(), 0, lang)} tot {fmt.num(neff.max(), 0, lang)} leerlingen "
                   f"uit verschillende klassen (tabel hieronder).",
                   f" At T1 the intraclass correlation is {fmt.nolead(v.min(), 2, lang)} to "
                   f"{fmt.nolead(v.max(), 2, lang)}: the {fmt.num(n, 0, lang)} pupils therefore hold as much "
                   f"information as {fmt.num(neff.min(), 0, lang)} to {fmt.num(neff.max(), 0, lang)} pupils from "
                   f"different classes (table below).")
    mentor = design.get("mentor_groups")
    if multilevel_primary(ctx):
        s = tr(lang,
               f"De condities zijn per klas toegewezen ({where}): hele klassen waren mentee- of controleklas. "
               f"Leerlingen uit één klas lijken meer op elkaar dan leerlingen uit verschillende klassen, en klassen "
               f"veranderen ook samen.{icc_s} Het hoofdmodel houdt daarom rekening met scholen, klassen en de "
               f"verandering per klas" + (", en met mentees die dezelfde mentor delen" if mentor else "") +
               "; de onzekerheid is berekend met Kenward–Roger-vrijheidsgraden, die passen bij weinig klassen.",
               f"The conditions were assigned by class ({where}): whole classes were mentee or control classes. "
               f"Pupils of one class are more alike than pupils of different classes, and classes also change "
               f"together.{icc_s} The main model therefore takes schools, classes and the change per class into "
               f"account" + (", and mentees who share a mentor" if mentor else "") +
               "; its uncertainty uses Kenward–Roger degrees of freedom, which suit few classes.")
    else:
        s = tr(lang,
               f"Mentees en controleleerlingen zaten in dezelfde klassen ({where}); het hoofdmodel vergelijkt "
               f"leerlingen.{icc_s}",
               f"Mentees and controls sat in the same classes ({where}); the main model compares pupils.{icc_s}")
    blocks.append(p(s))
    ti = table_icc(ctx)
    if ti:
        blocks.append(ti)
    fig = ctx.figure("robustness", tr(
        lang, "Het verschil in verandering volgens elk model (95%-BI). Grijs: het hoofdmodel. De andere rijen tellen "
              "de klassen op een andere manier mee (klas als eenheid, bootstrap per klas) of niet (leerlingniveau).",
        "The difference in change under each model (95% CI). Shaded: the main model. The other rows count the "
        "classes in another way (class as the unit, bootstrap by class) or not at all (pupil level)."))
    if fig:
        blocks.append(fig)
    return blocks


def section_effects(ctx: Ctx) -> dict:
    lang, blocks = ctx.lang, []
    if skipped_outcomes_sentence(ctx):
        blocks.append(p(skipped_outcomes_sentence(ctx)))
    blocks.append(h(tr(lang, "Gemiddelden per meting", "Means per wave")))
    tm = table_means(ctx)
    if tm:
        blocks.append(tm)
    else:
        blocks.append(ctx.missing("descriptives"))
    fig = ctx.figure("trajectories", tr(
        lang, "Gemiddelde score per meting met 95%-betrouwbaarheidsinterval (alle beschikbare metingen).",
        "Mean score per wave with 95% confidence interval (all available measurements)."))
    if fig:
        blocks.append(fig)
    blocks.append(h(tr(lang, "Verloop over de tijd: variantieanalyse", "Course over time: analysis of variance")))
    ta, sentences = table_anova(ctx)
    if ta:
        blocks.append(ta)
        blocks.append(bullets(sentences))
        box = box_m_text(ctx)
        if box:
            blocks.append(p(box))
    else:
        blocks.append(ctx.missing("mixed_anova"))

    blocks.append(h(tr(lang, "Verschil in verandering en effectgrootte", "Difference in change and effect size")))
    rows = did_rows(ctx)
    if rows:
        blocks.append(p(tr(lang,
                           "Het gemengde model gebruikt alle beschikbare metingen, ook van leerlingen die een meting "
                           "misten. Per uitkomst en periode staat hieronder hoeveel meer (of minder) mentees "
                           "veranderden dan de controlegroep, en de effectgrootte g naast het gemiddelde effect van "
                           "mentorprogramma's voor jongeren (g ≈ 0,21; DuBois e.a., 2011).",
                           "The mixed model uses all available measurements, including those of pupils who missed "
                           "a wave. Below, per outcome and period, is how much more (or less) mentees changed than "
                           "the controls, and the effect size g next to the average effect of youth mentoring "
                           "programmes (g ≈ 0.21; DuBois et al., 2011).")))
        blocks.append(table_did(ctx, rows))
        fig = ctx.figure("forest", tr(
            lang, "Effectgroottes (Hedges' g, 95%-BI) per uitkomst, naast het gemiddelde effect van mentoring.",
            "Effect sizes (Hedges' g, 95% CI) per outcome, next to the average effect of mentoring."))
        if fig:
            blocks.append(fig)
        changes = group_changes(ctx)
        family = did_family(ctx)
        for o in ctx.outcomes({str(r["outcome"]) for r in rows}):
            sents = []
            mine = sorted([r for r in rows if str(r["outcome"]) == o], key=lambda r: str(r["contrast"]))
            for r in mine:
                con = str(r["contrast"])
                sents.append(txt.did_sentence(ctx.label(o), con, r.get("estimate"), r.get("ci_low"),
                                              r.get("ci_high"), r.get("p_adj"), r.get("g"), alpha=ctx.alpha,
                                              mentee_change=changes.get((o, "mentee", con)),
                                              control_change=changes.get((o, "control", con)), lang=lang,
                                              family=txt.holm_family(family[con], lang) if con in family else None))
            # The benchmark is compared once per outcome, on the longest period available.
            main = next((r for con in reversed(figs.EFFECT_CHANGES) for r in mine if str(r["contrast"]) == con),
                        None)
            if main is not None:
                bs = txt.benchmark_sentence(main.get("g"), main.get("g_ci_low"), main.get("g_ci_high"), lang=lang)
                if bs:
                    sents.append(f"{txt.period(str(main['contrast']))}: {txt.lower_first(bs)}")
            blocks.append(p([{"b": ctx.label(o) + ". "}, " ".join(sents)]))
    else:
        blocks.append(ctx.missing("did"))
    blocks += design_blocks(ctx)

    blocks.append(h(tr(lang, "Gelijkwaardigheid bij de start en uitval", "Baseline equivalence and attrition")))
    tw, wrows = table_wwc(ctx)
    if tw:
        blocks.append(tw)
        def which(pred):
            return _by_outcome(ctx, [(o, c) for o, c, v in wrows if pred(v)], [(o, c) for o, c, _ in wrows])
        n_be = sum(1 for *_, v in wrows if v.get("wwc"))
        n_at = sum(1 for *_, v in wrows if v.get("cautious"))
        blocks.append(p(" ".join(x for x in (
            txt.baseline_summary(n_be, which(lambda v: v.get("wwc") == "fails"),
                                 which(lambda v: v.get("wwc") == "adjust"), lang),
            txt.attrition_summary(n_at, which(lambda v: v.get("cautious") == "high"),
                                  which(lambda v: v.get("optimistic") == "high"), lang)) if x)))
    else:
        blocks.append(ctx.missing("baseline_equivalence", "attrition"))
    return {"title": I18N[lang]["effects"], "blocks": blocks, "newpage": True}
