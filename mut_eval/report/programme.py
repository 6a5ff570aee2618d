"""The programme report (issue 14): the programme over the years, what the cohorts show
together, the trend, planning the next cohort — then the latest cohort's report.

Everything staff read is made from staff views: each cohort's results pass
:func:`mut_eval.disclosure.staff_view` first, and the programme tables are rebuilt from
those (a withheld comparison or a suppressed count of a cohort never enters a pooled
estimate, a figure or a sentence). The document is the JSON of :mod:`.build`, drawn by
the same template.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .. import figures as figs
from ..disclosure import staff_view
from ..figures_programme import HEADLINE, fig_programme_forest, fig_reach
from ..programme import REPORTED, cohort_value, programme_tables
from . import format as fmt
from . import text as txt
from .build import assemble
from .common import I18N, Table, _created, _date_text, h, note, p, typeset
from .text import tr

MEASURES = ("mentees", "controls", "matched", "never_started", "sessions_attended_share", "attended_75_share")


def reach_table(prog, staff: dict) -> pd.DataFrame:
    """One row per cohort: the staff view's reach (``implementation``, school ``all``)
    and the response per wave (from the flow; missing when a count is hidden)."""
    rows = []
    for c in prog.cohorts:
        res = staff.get(c.cohort)
        if res is None:
            continue
        row = {"cohort": c.cohort}
        for m in MEASURES:
            row[m] = cohort_value(res, m)
        for w in ("T1", "T2", "T3"):
            row[f"response_{w}"] = cohort_value(res, f"response_{w}")
        rows.append(row)
    return pd.DataFrame(rows)


def section_reach(prog, reach: pd.DataFrame, targets: pd.DataFrame, figures: dict, lang: str, mc: int) -> dict:
    blocks = [p(tr(lang,
                   f"{prog.name} is gevolgd over {len(prog.cohorts)} cohorten "
                   f"({prog.cohorts[0].cohort} tot en met {prog.cohorts[-1].cohort}). Hieronder staat per jaar "
                   "hoeveel leerlingen meededen, hoeveel mentees een mentor kregen, hoeveel bijeenkomsten zij "
                   "bijwoonden en hoeveel leerlingen de vragenlijsten invulden.",
                   f"{prog.name} was followed over {len(prog.cohorts)} cohorts ({prog.cohorts[0].cohort} to "
                   f"{prog.cohorts[-1].cohort}). Below, per year: how many pupils took part, how many mentees "
                   "were matched with a mentor, how many sessions they attended and how many pupils answered "
                   "the questionnaires."))]
    if figures.get("reach"):
        blocks.append(figures["reach"])
    response = "response_T3" in reach.columns and reach["response_T3"].notna().any()
    t = Table(tr(lang, "Bereik en uitvoering per cohort", "Reach and implementation per cohort"),
              [(tr(lang, "Cohort", "Cohort"), "left"), ("Mentees", "right"),
               (tr(lang, "Controle", "Controls"), "right"), (tr(lang, "Gekoppeld", "Matched"), "right"),
               (tr(lang, "Nooit begonnen", "Never started"), "right"),
               (tr(lang, "Bijgewoond", "Attended"), "right"), ("≥ 75%", "right")]
              + ([("Respons T3" if lang == "nl" else "Response T3", "right")] if response else []),
              lang=lang, min_cell=mc)
    shares = ("sessions_attended_share", "attended_75_share") + (("response_T3",) if response else ())
    for r in reach.itertuples(index=False):
        t.add([r.cohort] + [_count(getattr(r, m), lang) for m in ("mentees", "controls", "matched", "never_started")]
              + [_share(getattr(r, m), lang) for m in shares])
    t.notes.append(tr(lang,
                      "Bijgewoond: het aandeel van de geplande bijeenkomsten dat gekoppelde mentees bijwoonden; ≥ 75%: "
                      "het aandeel mentees dat minstens driekwart bijwoonde. Respons (leerlingen van beide groepen) "
                      "staat in de stroomdiagrammen van de cohorten, voor zover de privacyregels dat toelaten. "
                      f"Een streepje: niet getoond, omdat het om minder dan {mc} leerlingen gaat of daaruit te "
                      "berekenen zou zijn.",
                      "Attended: the share of planned sessions that matched mentees attended; ≥ 75%: the share of "
                      "mentees who attended at least three quarters. Response (pupils of both groups) is in the "
                      "cohorts' flow charts, as far as the privacy rules allow. A dash: not "
                      f"shown, because it concerns fewer than {mc} pupils or could be computed from such a number."))
    blocks.append(t.block())
    if targets is not None and len(targets):
        tt = Table(tr(lang, "Doelen uit programme.yaml", "Targets from programme.yaml"),
                   [(tr(lang, "Cohort", "Cohort"), "left"), (tr(lang, "Doel", "Target"), "left"),
                    (tr(lang, "Gepland", "Planned"), "right"), (tr(lang, "Gehaald", "Achieved"), "right"),
                    ("", "left")], lang=lang, min_cell=mc)
        met = 0
        for r in targets.itertuples(index=False):
            share = r.measure.endswith("share") or r.measure.startswith("response_")
            val = (lambda x: _share(x, lang)) if share else (lambda x: _count(x, lang))
            verdict = ("–" if r.met is None or (isinstance(r.met, float) and np.isnan(r.met))
                       else tr(lang, "gehaald", "met") if bool(r.met) else tr(lang, "niet gehaald", "not met"))
            met += verdict in ("gehaald", "met")
            tt.add([r.cohort, TARGET_LABELS.get(r.measure, (r.measure, r.measure))[lang == "en"],
                    val(r.target), val(r.actual), verdict])
        blocks.append(tt.block())
        blocks.append(p(tr(lang, f"Van de {len(targets)} doelen zijn er {met} gehaald.",
                           f"Of the {len(targets)} targets, {met} were met.")))
    return {"title": tr(lang, "Het programma door de jaren heen", "The programme over the years"),
            "newpage": True, "blocks": blocks}


TARGET_LABELS = {
    "pupils": ("leerlingen", "pupils"), "mentees": ("mentees", "mentees"),
    "matched": ("gekoppelde mentees", "matched mentees"),
    "sessions_attended": ("bijeenkomsten bijgewoond (mediaan)", "sessions attended (median)"),
    "sessions_attended_share": ("aandeel bijeenkomsten bijgewoond", "share of sessions attended"),
    "attended_75_share": ("mentees met ≥ 75% bijgewoond", "mentees attending ≥ 75%"),
    "response_T1": ("respons T1", "response T1"), "response_T2": ("respons T2", "response T2"),
    "response_T3": ("respons T3", "response T3"),
}


def _count(x, lang) -> str:
    v = fmt.to_float(x)
    return fmt.integer(v, lang) if np.isfinite(v) else "–"


def _share(x, lang) -> str:
    v = fmt.to_float(x)
    return fmt.pct(100 * v, 0, lang) if np.isfinite(v) else "–"


def pooled_sentence(row, label: str, lang: str) -> str:
    """One outcome's pooled lasting effect in words."""
    est, lo, hi = fmt.to_float(row["estimate"]), fmt.to_float(row["ci_low"]), fmt.to_float(row["ci_high"])
    k = int(fmt.to_float(row["k"]))
    g = fmt.num(est, 2, lang)
    ci = fmt.ci(lo, hi, 2, lang)
    if lo > 0:
        verdict = tr(lang, "gunstiger voor mentees dan voor de controlegroep",
                     "more favourable for mentees than for the control group")
    elif hi < 0:
        verdict = tr(lang, "ongunstiger voor mentees dan voor de controlegroep",
                     "less favourable for mentees than for the control group")
    else:
        verdict = tr(lang, "niet aantoonbaar verschillend van nul", "not shown to differ from zero")
    pi = ""
    plo, phi = fmt.to_float(row["pi_low"]), fmt.to_float(row["pi_high"])
    if np.isfinite(plo) and np.isfinite(phi) and k >= 3:
        pi = tr(lang, f" In een volgend jaar ligt het effect naar verwachting tussen {fmt.num(plo, 2, lang)} en "
                      f"{fmt.num(phi, 2, lang)}.",
                f" In a next year the effect is expected between {fmt.num(plo, 2, lang)} and {fmt.num(phi, 2, lang)}.")
    return tr(lang, f"{label}: over {k} cohorten samen g = {g} {ci}, {verdict}.{pi}",
              f"{label}: over {k} cohorts together g = {g} {ci}, {verdict}.{pi}")


def section_pooled(prog, effects: pd.DataFrame, pooled: pd.DataFrame, trend: pd.DataFrame, figures: dict,
                   labels: dict, order: list, lang: str, mc: int) -> dict:
    g = pooled[(pooled["measure"].astype(str) == "g")] if len(pooled) else pooled
    re_rows = g[g["method"].astype(str) == REPORTED] if len(g) else g
    k_max = int(np.nanmax(fmt.floats(re_rows["k"]))) if len(re_rows) else 0
    blocks = [p(tr(lang,
                   "Eén cohort van een paar honderd leerlingen zegt weinig over de vraag of een programma werkt; "
                   "het bewijs stapelt zich op over de jaren. Per uitkomst zijn de effecten van de cohorten (Hedges' g, "
                   "verandering van mentees min die van de controlegroep) samengenomen in een meta-analyse met "
                   "random effects: het samengenomen effect houdt er rekening mee dat het echte effect van jaar tot "
                   "jaar kan verschillen.",
                   "One cohort of a few hundred pupils says little about whether a programme works; the evidence "
                   "accumulates over the years. Per outcome the cohorts' effects (Hedges' g, the change of mentees "
                   "minus that of the control group) were pooled in a random-effects meta-analysis: the pooled "
                   "effect allows the true effect to differ from year to year."))]
    if k_max == 2:
        blocks.append(note(tr(lang,
                              "Met twee cohorten is nauwelijks te schatten hoeveel het effect van jaar tot jaar "
                              "verschilt: de spreiding tussen de jaren (τ²) en het voorspellingsinterval zijn "
                              "dan zeer onzeker en het betrouwbaarheidsinterval is breed.",
                              "With two cohorts it can hardly be estimated how much the effect differs from year to "
                              "year: the between-year spread (τ²) and the prediction interval are very uncertain, "
                              "and the confidence interval is wide.")))
    lasting = re_rows[re_rows["contrast"].astype(str) == HEADLINE[0]] if len(re_rows) else re_rows
    sentences = [pooled_sentence(r, labels.get(str(r["outcome"]), str(r["outcome"])), lang)
                 for _, r in lasting.set_index("outcome", drop=False).reindex(
                     [o for o in order if o in set(lasting["outcome"].astype(str))]).iterrows()]
    if sentences:
        blocks.append(h(tr(lang, "Blijvende verandering (T1 → T3)", "Lasting change (T1 → T3)")))
        blocks += [p(s) for s in sentences]
        blocks.append(p(evidence_paragraph(lasting, labels, lang)))
    t = Table(tr(lang, "Samengenomen effecten (random effects)", "Pooled effects (random effects)"),
              [(tr(lang, "Uitkomst", "Outcome"), "left"), (tr(lang, "Periode", "Period"), "left"), ("k", "right"),
               ("g", "right"), (tr(lang, "95%-BI", "95% CI"), "right"),
               (tr(lang, "Voorspellingsinterval", "Prediction interval"), "right"), ("τ²", "right"),
               ("I²", "right")], lang=lang, min_cell=mc, size="small")
    for o in order:
        for con in HEADLINE:
            r = re_rows[(re_rows["outcome"].astype(str) == o) & (re_rows["contrast"].astype(str) == con)]
            if not len(r):
                continue
            r = r.iloc[0]
            t.add([labels.get(o, o), txt.period(con), _count(r["k"], lang), fmt.num(r["estimate"], 2, lang),
                   fmt.ci(r["ci_low"], r["ci_high"], 2, lang),
                   fmt.ci(r["pi_low"], r["pi_high"], 2, lang) if np.isfinite(fmt.to_float(r["pi_low"])) else "–",
                   fmt.num(r["tau2"], 3, lang), fmt.pct(r["i2"], 0, lang)])
    t.notes.append(tr(lang,
                      "k: aantal cohorten. BI: betrouwbaarheidsinterval (REML, Knapp–Hartung, nooit smaller dan "
                      "zonder spreiding tussen de jaren). Voorspellingsinterval: waar "
                      "het effect van een volgend cohort naar verwachting ligt. τ²: spreiding van het echte effect "
                      "tussen de jaren; I²: het deel van de spreiding tussen cohorten dat niet op toeval berust.",
                      "k: number of cohorts. CI: confidence interval (REML, Knapp–Hartung, never narrower than "
                      "without between-year spread). Prediction interval: where the "
                      "effect of a next cohort is expected. τ²: spread of the true effect between years; I²: the part "
                      "of the spread between cohorts that is not chance."))
    blocks.append(t.block())
    for o in order:
        if figures.get(f"forest_{o}"):
            blocks.append(figures[f"forest_{o}"])
    if trend is not None and len(trend):
        blocks.append(h(tr(lang, "Trend over de jaren", "Trend over the years")))
        blocks.append(p(trend_sentence(trend, labels, lang)))
    return {"title": tr(lang, "Wat de cohorten samen laten zien", "What the cohorts show together"),
            "newpage": True, "blocks": blocks}


def evidence_paragraph(lasting: pd.DataFrame, labels: dict, lang: str) -> str:
    """What the accumulated evidence says, from the pooled lasting effects."""
    if not len(lasting):
        return ""
    lo, hi = fmt.floats(lasting["ci_low"]), fmt.floats(lasting["ci_high"])
    pos = [labels.get(str(o), str(o)) for o, a in zip(lasting["outcome"], lo) if a > 0]
    neg = [labels.get(str(o), str(o)) for o, b in zip(lasting["outcome"], hi) if b < 0]
    k = int(np.nanmax(fmt.floats(lasting["k"])))
    bench = sum(1 for a, b in zip(lo, hi) if a <= txt.BENCHMARK_G <= b)
    parts = []
    if pos:
        parts.append(tr(lang, f"Over {k} cohorten samen veranderden mentees blijvend gunstiger dan de controlegroep "
                              f"op {txt.join_list([txt.lower_first(x) for x in pos], lang)}.",
                        f"Over {k} cohorts together, mentees changed more favourably than the control group, "
                        f"lastingly, on {txt.join_list([txt.lower_first(x) for x in pos], lang)}."))
    else:
        parts.append(tr(lang, f"Over {k} cohorten samen is op geen van de uitkomsten een blijvend verschil tussen "
                              "mentees en controlegroep aangetoond.",
                        f"Over {k} cohorts together, no lasting difference between mentees and the control group "
                        "was shown on any outcome."))
    if neg:
        parts.append(tr(lang, f"Op {txt.join_list([txt.lower_first(x) for x in neg], lang)} veranderden mentees "
                              "ongunstiger.",
                        f"On {txt.join_list([txt.lower_first(x) for x in neg], lang)} mentees changed less "
                        "favourably."))
    parts.append(tr(lang, f"Bij {bench} van de {len(lasting)} uitkomsten is het samengenomen effect verenigbaar met "
                          "het gemiddelde effect van mentorprogramma's voor jongeren (g ≈ 0,21; DuBois e.a., 2011).",
                    f"For {bench} of the {len(lasting)} outcomes the pooled effect is compatible with the average "
                    "effect of youth mentoring programmes (g ≈ 0.21; DuBois et al., 2011)."))
    return " ".join(parts)


def trend_sentence(trend: pd.DataFrame, labels: dict, lang: str) -> str:
    g = trend[(trend["measure"].astype(str) == "g") & (trend["contrast"].astype(str) == HEADLINE[0])
              & (trend["term"].astype(str) != "intercept")] if len(trend) else trend
    if not len(g):
        return tr(lang, "Voor een trend zijn minstens drie cohorten nodig.",
                  "A trend needs at least three cohorts.")
    sig = [labels.get(str(r["outcome"]), str(r["outcome"])) + f" ({fmt.num(r['estimate'], 2, lang, plus=True)} "
           + tr(lang, "per jaar)", "per year)") for _, r in g.iterrows() if fmt.to_float(r["p"]) < 0.05]
    base = tr(lang, "De meta-regressie op het cohortjaar toetst of het blijvende effect met de jaren groter of kleiner "
                    "wordt. ",
              "The meta-regression on the cohort year tests whether the lasting effect grows or shrinks over the "
              "years. ")
    if sig:
        return base + tr(lang, f"Een verandering over de jaren is aangetoond bij {txt.join_list(sig, lang)}.",
                         f"A change over the years was shown for {txt.join_list(sig, lang)}.")
    return base + tr(lang, f"Bij geen van de {len(g)} uitkomsten is een verandering over de jaren aangetoond; met "
                           f"{int(np.nanmax(fmt.floats(g['k'])))} cohorten kan alleen een grote verandering worden gezien.",
                     f"No change over the years was shown for any of the {len(g)} outcomes; with "
                     f"{int(np.nanmax(fmt.floats(g['k'])))} cohorts only a large change could be seen.")


def section_plan(plan: pd.DataFrame, lang: str, mc: int) -> dict | None:
    """Planning the next cohort: one sentence per planned design, the table and where the
    parameters came from (:func:`mut_eval.programme.plan_table`)."""
    if plan is None or not len(plan):
        return None
    from ..planning import plan_sentence
    blocks = [p(tr(lang,
                   "Hoeveel klassen zijn nodig om een effect van de omvang die mentorprogramma's gemiddeld hebben "
                   "te kunnen aantonen? De berekening (PowerUp!; Dong & Maynard, 2013) gebruikt wat de cohorten "
                   "lieten zien: hoe sterk leerlingen van één klas op elkaar lijken (ICC), hoeveel de beginmeting "
                   "voorspelt en hoeveel leerlingen uitvallen.",
                   "How many classes are needed to detect an effect of the size mentoring programmes have on "
                   "average? The calculation (PowerUp!; Dong & Maynard, 2013) uses what the cohorts showed: how "
                   "alike pupils of one class are (ICC), how much the first measurement predicts and how many "
                   "pupils drop out."))]
    blocks += [p(plan_sentence(r, lang)) for _, r in plan.iterrows()]
    if (plan["design"].astype(str) == "class").any() and (plan["design"].astype(str) == "pupil").any():
        blocks.append(p(tr(lang,
                           "Omdat hele klassen mentee- of controleklas zijn, zijn veel meer leerlingen nodig dan "
                           "wanneer leerlingen afzonderlijk zouden worden ingedeeld.",
                           "Because whole classes are mentee or control classes, many more pupils are needed than "
                           "if pupils were assigned one by one.")))
    t = Table(tr(lang, "Planning van het volgende cohort", "Planning the next cohort"),
              [(tr(lang, "Indeling", "Assignment"), "left"), ("g", "right"), ("Power", "right"),
               (tr(lang, "Klassen", "Classes"), "right"), (tr(lang, "Leerlingen", "Pupils"), "right"),
               ("ICC", "right"), ("R²", "right"), (tr(lang, "Uitval", "Attrition"), "right")],
              lang=lang, min_cell=mc, size="small")
    for _, r in plan.iterrows():
        t.add([tr(lang, "per klas", "by class") if r["design"] == "class" else tr(lang, "per leerling", "by pupil"),
               fmt.num(r["mdes"], 2, lang), fmt.pct(100 * fmt.to_float(r["power"]), 0, lang), _count(r["classes"], lang),
               _count(r["pupils"], lang), fmt.num(r["icc"], 3, lang) if r["design"] == "class" else "–",
               fmt.num(r["r2"], 2, lang), fmt.pct(100 * fmt.to_float(r["attrition"]), 0, lang)])
    t.notes.append(tr(lang,
                      "Tweezijdig, α = 5%; de helft van de klassen mentee. ICC: de mediaan over de uitkomsten en "
                      "cohorten bij de beginmeting; R²: het kwadraat van de samenhang tussen begin- en nameting "
                      "(mediaan); uitval: tussen begin- en nameting (mediaan); klasgrootte: mediaan. De laatste rij: "
                      "met evenveel klassen als in het laatste cohort.",
                      "Two-sided, α = 5%; half of the classes mentee. ICC: the median over outcomes and cohorts at "
                      "the first measurement; R²: the square of the correlation between first and last measurement "
                      "(median); attrition: between first and last measurement (median); class size: median. The "
                      "last row: with as many classes as in the latest cohort."))
    blocks.append(t.block())
    return {"title": tr(lang, "Het volgende cohort plannen", "Planning the next cohort"), "newpage": True,
            "blocks": blocks}


def programme_document(prog, staff_tables: dict, reach: pd.DataFrame, figures: dict, latest_doc: dict,
                       labels: dict, order: list, lang: str, mc: int, created, extra_sections=()) -> dict:
    sections = [section_reach(prog, reach, staff_tables.get("targets"), figures, lang, mc),
                section_pooled(prog, staff_tables["cohort_effects"], staff_tables["pooled"],
                               staff_tables.get("trend"), figures, labels, order, lang, mc),
                *(s for s in extra_sections if s)]
    latest = prog.cohorts[-1].cohort
    first = dict(latest_doc["sections"][0]) if latest_doc["sections"] else None
    if first is not None:
        first["title"] = tr(lang, f"Het laatste cohort ({latest}): ", f"The latest cohort ({latest}): ") + \
            str(first.get("title", ""))
        first["newpage"] = True
        sections += [first, *latest_doc["sections"][1:]]
    title = dict(latest_doc["title"])
    title.update(programme=prog.name, cohort=f"{prog.cohorts[0].cohort} – {latest}",
                 subtitle=tr(lang, "Effectevaluatie over de cohorten", "Effect evaluation across cohorts"),
                 date=_date_text(created, lang))
    return {**latest_doc, "title": title, "header": f"{prog.name} — {prog.cohorts[0].cohort} – {latest}",
            "sections": sections}


def build_programme_report(prog, results, cohort_results: dict, out_dir, lang: str = "nl",
                           extra_sections=()) -> Path:
    """Write ``out_dir/report.pdf`` (figures in ``out_dir/figures``, the document in
    ``report_data.json``) for the programme; return the PDF path."""
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    staff = {c: staff_view(r) for c, r in cohort_results.items()}
    latest = staff[prog.cohorts[-1].cohort]
    mc = figs.min_cell(latest)
    tables = programme_tables(prog, staff)      # rebuilt from the staff views
    reach = reach_table(prog, staff)
    labels = figs.outcome_labels(latest, lang)
    order = figs.analysed_order(latest)
    fig_blocks = {}
    path = fig_reach(reach, out / "figures", lang)
    if path is not None:
        fig_blocks["reach"] = _figure(path, out, tr(lang, "Bereik en uitvoering per cohort",
                                                    "Reach and implementation per cohort"))
    for o in order:
        path = fig_programme_forest(tables["cohort_effects"], tables["pooled"][tables["pooled"]["measure"] == "g"]
                                    if len(tables["pooled"]) else tables["pooled"], o, labels.get(o, o),
                                    out / "figures", lang)
        if path is not None:
            fig_blocks[f"forest_{o}"] = _figure(path, out, tr(
                lang, f"{labels.get(o, o)}: effect per cohort en samen (ruit: random effects met 95%-BI; lijn: "
                      "voorspellingsinterval; grijze band: gemiddelde effecten van mentorprogramma's)",
                f"{labels.get(o, o)}: effect per cohort and pooled (diamond: random effects with 95% CI; line: "
                "prediction interval; grey band: average effects of mentoring programmes)"), width="85%")
    latest_figs = figs.make_figures(latest, out / "figures" / "latest", lang)
    latest_doc = assemble(latest, lang, latest_figs, out)
    created = _created(getattr(results, "meta", {}) or {}) or _created(latest.meta)
    plan = section_plan(results.tables.get("plan"), lang, mc)
    doc = programme_document(prog, tables, reach, fig_blocks, latest_doc, labels, order, lang, mc, created,
                             [plan, *extra_sections])
    return typeset(doc, out, "report.pdf", "report_data.json", created)


def _figure(path: Path, root: Path, caption: str, width: str = "100%") -> dict:
    rel = Path(path).resolve().relative_to(root.resolve())
    return {"type": "figure", "path": "/" + rel.as_posix(), "caption": caption, "width": width}


__all__ = ["build_programme_report", "reach_table", "programme_document", "I18N"]
