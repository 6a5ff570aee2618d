"""Build the PDF report for programme staff from a :class:`~mut_eval.results.Results`.

``build_report(results, out_dir, lang)`` draws the figures, assembles the whole report
as one JSON document (``out_dir/report_data.json``: sections made of paragraphs,
lists, tables and figures, every number already formatted and every sentence already
written by :mod:`mut_eval.report.text`) and typesets it with the generic typst
template ``template.typ`` into ``out_dir/report.pdf``.

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

import datetime as _dt
import json
import shutil
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from .. import CHANGES, CONDITIONS, WAVES, short_label
from .. import figures as figs
from ..disclosure import COMPARISONS, SECONDARY, staff_view
from ..intake.codebook import codebook_of
from ..results import _jsonable
from . import format as fmt
from . import text as txt
from .settings_table import settings_rows
from .comparability import section_comparability
from .text import tr

TEMPLATE = "template.typ"
FONT_NOTE_SUPPRESSED = {
    "nl": "<{m} of —: onderdrukt, minder dan {m} leerlingen.",
    "en": "<{m} or —: suppressed, fewer than {m} pupils.",
}
FONT_NOTE_SECONDARY = {
    "nl": "x: niet getoond, omdat anders een kleine groep uit de andere aantallen te berekenen is.",
    "en": "x: not shown, because a small group could otherwise be calculated from the other counts.",
}

I18N = {
    "nl": {
        "subtitle": "Effectevaluatie van het mentorprogramma",
        "banner": "SYNTHETISCHE DATA / SYNTHETIC DATA",
        "banner_sub": "Gesimuleerde gegevens om de werkwijze te tonen; de uitkomsten gaan niet over echte leerlingen.",
        "header_synthetic": "SYNTHETISCHE DATA",
        "cohort": "Cohort", "date": "Datum", "contents": "Inhoud",
        "summary": "Samenvatting", "sample": "Deelnemers en respons", "measures": "Metingen en betrouwbaarheid",
        "effects": "Effecten", "whom": "Voor wie werkt het?", "qsort": "Wat mentees zeiden",
        "methods": "Werkwijze en beperkingen", "appendix": "Bijlage: reproduceerbaarheid",
        "how_to_read": ("Zo leest u dit rapport: ‘aangetoond’ betekent dat het verschil groot genoeg is om niet aan "
                        "toeval toe te schrijven. ‘Niet aangetoond’ betekent niet dat er geen verschil is: het "
                        "onderzoek kon een eventueel verschil niet met zekerheid vaststellen."),
        "missing_table": "Deze gegevens ontbreken in de resultaten ({t}); dit onderdeel wordt daarom niet getoond.",
        "page": "Pagina",
    },
    "en": {
        "subtitle": "Effect evaluation of the mentoring programme",
        "banner": "SYNTHETISCHE DATA / SYNTHETIC DATA",
        "banner_sub": "Simulated data to show the method; the results are not about real pupils.",
        "header_synthetic": "SYNTHETIC DATA",
        "cohort": "Cohort", "date": "Date", "contents": "Contents",
        "summary": "Summary", "sample": "Participants and response", "measures": "Measures and reliability",
        "effects": "Effects", "whom": "For whom does it work?", "qsort": "What mentees said",
        "methods": "Methods and limitations", "appendix": "Appendix: reproducibility",
        "how_to_read": ("How to read this report: ‘shown’ means the difference is large enough not to be put down "
                        "to chance. ‘Not shown’ does not mean there is no difference: the study could not establish "
                        "a possible difference with confidence."),
        "missing_table": "These data are missing from the results ({t}); this part is therefore not shown.",
        "page": "Page",
    },
}

#: The one WWC handbook whose numbers the report uses (baseline bands .05/.25, attrition
#: boundaries, default ICC, Hedges' g); every citation in code, notebooks and README names it.
WWC_HANDBOOK = "Procedures and Standards Handbook, Version 5.0 (2022)"
WWC_LABELS = {
    "satisfies": ("voldoet", "satisfies"), "adjust": ("correctie nodig", "adjustment needed"),
    "fails": ("voldoet niet", "fails"), "low": ("laag", "low"), "high": ("hoog", "high"),
}
SOURCE_LABELS = {"condition": ("Conditie", "Condition"), "wave": ("Meting", "Wave"),
                 "condition:wave": ("Conditie × meting", "Condition × wave")}
MONTHS_NL = ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
             "oktober", "november", "december"]


def em(s: str) -> dict:
    return {"em": s}


def sub(s: str) -> dict:
    return {"sub": s}


def _s(x) -> str:
    if x is None:
        return ""
    try:
        if pd.isna(x):
            return ""
    except (TypeError, ValueError):
        pass
    return str(x)


class Table:
    """A report table: formatted cells, the suppression rule, and its notes."""

    def __init__(self, caption: str, columns: list[tuple], *, lang: str, min_cell: int,
                 header_top: list | None = None, size: str = "normal", widths: list | None = None):
        self.caption = caption
        self.columns = columns          # [(header rich text, "left"/"right"/"center")]
        self.header_top = header_top    # optional spanning header row: [(rich, colspan)]
        self.rows: list = []
        self.notes: list = []
        self.lang, self.mc = lang, min_cell
        self.suppressed = False
        self.secondary = False
        self.size = size
        self.widths = widths

    def cell(self, text: str, n=None, count: bool = False) -> str:
        out, hit = fmt.suppress_cell(text, n, self.mc, count=count)
        if out == SECONDARY:
            self.secondary = True
        else:
            self.suppressed |= hit
        return out

    def add(self, cells: list):
        self.rows.append(list(cells))

    def group(self, label: str):
        self.rows.append({"group": label})

    def block(self) -> dict:
        notes = list(self.notes)
        if self.suppressed:
            notes.append(FONT_NOTE_SUPPRESSED[self.lang].format(m=self.mc))
        if self.secondary:
            notes.append(FONT_NOTE_SECONDARY[self.lang])
        return {"type": "table", "caption": self.caption,
                "align": [a for _, a in self.columns],
                "header": [h for h, _ in self.columns],
                "header_top": [{"t": t, "span": k} for t, k in self.header_top] if self.header_top else None,
                "rows": self.rows, "notes": notes, "size": self.size, "widths": self.widths}


class Ctx:
    """What every section needs: the results, the language, labels and options."""

    def __init__(self, results, lang: str, figures: dict, root: Path):
        self.r = results
        self.meta = dict(getattr(results, "meta", {}) or {})
        self.lang = lang
        self.figures = figures
        self.root = root
        self.mc = figs.min_cell(results)
        self.alpha = figs.alpha_of(results)
        self.codebook = codebook_of(self.meta)
        self.labels = figs.outcome_labels(results, lang)
        self.order = figs.analysed_order(results)

    def table(self, name):
        return figs.get_table(self.r, name)

    def label(self, key) -> str:
        return self.labels.get(str(key), str(key).replace("_", " "))

    def outcomes(self, keys) -> list[str]:
        return figs.sort_outcomes(self.order, keys)

    def missing(self, *names) -> dict:
        if self.withheld() and set(names) & set(COMPARISONS):
            return p(self.withheld())
        return p(I18N[self.lang]["missing_table"].format(t=", ".join(names)))

    def withheld(self) -> str:
        """Why comparisons with a group of fewer than ``min_cell`` pupils are not shown ('' when none are)."""
        rows = self.meta.get("withheld") or []
        if not rows:
            return ""
        outcomes = {str(r.get("outcome")) for r in rows}
        conds = sorted({str(r.get("condition")) for r in rows})
        names = {"nl": {"mentee": "groep mentees", "control": "controlegroep"},
                 "en": {"mentee": "mentee group", "control": "control group"}}[self.lang]
        who = txt.join_list([names.get(c, c) for c in conds], self.lang)
        if "*" in outcomes or set(self.order) <= outcomes:
            what = tr(self.lang, "De vergelijking tussen mentees en controlegroep wordt niet getoond",
                      "The comparison of mentees and controls is not shown")
        else:
            labs = txt.join_list([txt.lower_first(self.label(o)) for o in self.outcomes(outcomes)], self.lang)
            what = tr(self.lang, f"Voor {labs} wordt de vergelijking tussen mentees en controlegroep niet getoond",
                      f"For {labs} the comparison of mentees and controls is not shown")
        return what + tr(self.lang,
                         f": in de {who} zitten minder dan {self.mc} leerlingen met gegevens. Bij zo'n kleine "
                         f"groep zouden de uitkomsten iets over afzonderlijke leerlingen zeggen.",
                         f": fewer than {self.mc} pupils with data are in the group of {who}. With so small a group "
                         f"the results would say something about individual pupils.")

    def figure(self, name: str, caption: str, width: str = "100%") -> dict | None:
        path = self.figures.get(name)
        if path is None:
            return None
        path = Path(path)
        try:
            rel = path.resolve().relative_to(self.root.resolve())
        except ValueError:
            # typst reads files below its root only: copy a figure drawn elsewhere
            dest = self.root / "figures" / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            rel = dest.relative_to(self.root)
        return {"type": "figure", "path": "/" + rel.as_posix(), "caption": caption, "width": width}


def p(text) -> dict:
    return {"type": "p", "text": text}


def h(text) -> dict:
    return {"type": "h", "text": text}


def bullets(items) -> dict:
    return {"type": "list", "items": [i for i in items if i]}


def note(text) -> dict:
    return {"type": "note", "text": text}


# ---------------------------------------------------------------- shared numbers

def group_sizes(ctx: Ctx) -> tuple:
    """(n mentees, n controls) from meta (``n_mentee``, ``n_control``)."""
    return tuple(ctx.meta.get(f"n_{c}") for c in CONDITIONS)


def group_changes(ctx: Ctx) -> dict:
    """``{(outcome, condition, contrast): change}``: the did table's ``mentee_change`` /
    ``control_change`` when present, else from ``lmm_emm`` (else the available means)."""
    d = ctx.table("did")
    if d is not None and {"outcome", "contrast", "mentee_change", "control_change"} <= set(d.columns):
        out = {}
        for o, con, mc, cc in d[["outcome", "contrast", "mentee_change", "control_change"]].itertuples(index=False):
            out[(str(o), "mentee", str(con))] = fmt.to_float(mc)
            out[(str(o), "control", str(con))] = fmt.to_float(cc)
        return out
    src = ctx.table("lmm_emm")
    col = "emm"
    if src is None or not {"outcome", "condition", "wave", "emm"} <= set(src.columns):
        src = ctx.table("descriptives")
        col = "mean"
        if src is None or not {"outcome", "condition", "wave", "mean"} <= set(src.columns):
            return {}
        if "sample" in src.columns and (src["sample"].astype(str) == "available").any():
            src = src[src["sample"].astype(str) == "available"]
    m = {(str(o), str(c), str(w)): fmt.to_float(v) for o, c, w, v in
         src[["outcome", "condition", "wave", col]].itertuples(index=False)}
    out = {}
    for o, c in {(o, c) for o, c, _ in m}:
        for con in CHANGES:
            earlier, later = txt.parse_contrast(con)
            if (o, c, later) in m and (o, c, earlier) in m:
                out[(o, c, con)] = m[(o, c, later)] - m[(o, c, earlier)]
    return out


def did_rows(ctx: Ctx) -> list[dict]:
    """The did table as dicts with the adjusted p used for hedging (Holm, else BH, else raw)."""
    d = ctx.table("did")
    if d is None or not {"outcome", "contrast", "estimate", "ci_low", "ci_high"} <= set(d.columns):
        return []
    adj_col = next((c for c in ("p_holm", "p_bh", "p") if c in d.columns), None)
    out = []
    for r in d.to_dict("records"):
        r = dict(r)
        r["p_adj"] = r.get(adj_col) if adj_col else None
        r["verdict"] = txt.effect_verdict(r.get("ci_low"), r.get("ci_high"), r["p_adj"], ctx.alpha) \
            if fmt.is_number(r.get("estimate")) else "missing"
        out.append(r)
    return out


def moderation_info(ctx: Ctx) -> tuple[pd.DataFrame | None, int]:
    m = ctx.table("moderation")
    if m is None or not {"outcome", "change", "moderator", "b", "p"} <= set(m.columns):
        return None, 0
    return m, len(m)


def did_family(ctx: Ctx) -> dict[str, int]:
    """``{contrast: number of tests}`` of the Holm family of the ``did`` table: its p values
    are adjusted across the outcomes within each contrast
    (:func:`mut_eval.stats.lmm.adjust_across`). A row counts when it has a p (a suppressed
    one too: it stays in the family)."""
    d = ctx.table("did")
    if d is None or not {"contrast", "p"} <= set(d.columns):
        return {}
    has_p = d["p"].map(lambda v: fmt.is_number(v) or fmt.is_suppressed(v))
    counts = d[has_p]["contrast"].astype(str).value_counts()
    return {c: int(counts[c]) for c in [*CHANGES, *counts.index] if c in counts}


def moderation_family(ctx: Ctx) -> dict:
    """The Benjamini–Hochberg family of the moderation grid: one F test per estimated
    outcome × change × moderator cell (:func:`mut_eval.stats.moderation.moderation_grid`).
    ``{n_tests, n_outcomes, n_changes, n_moderators}``; {} without a moderation table."""
    m = ctx.table("moderation")
    if m is None or not {"outcome", "change", "moderator"} <= set(m.columns) or m.empty:
        return {}
    cells = m[["outcome", "change", "moderator"]].astype(str).drop_duplicates()
    return {"n_tests": len(cells), "n_outcomes": cells["outcome"].nunique(),
            "n_changes": cells["change"].nunique(), "n_moderators": cells["moderator"].nunique()}


def bh_words(ctx: Ctx, long: bool = False) -> str | None:
    """:func:`~mut_eval.report.text.bh_family` of this report's moderation grid."""
    fam = moderation_family(ctx)
    if not fam:
        return None
    dims = {k: fam[k] for k in ("n_outcomes", "n_changes", "n_moderators")} if long else {}
    return txt.bh_family(fam["n_tests"], ctx.lang, **dims)


def level_sizes(ctx: Ctx) -> dict:
    """``{(outcome, change, moderator): smallest level n}`` for categorical moderators, from
    ``conditional_effects.n_level``: a contrast with a level of fewer than ``min_cell`` pupils
    describes that small group and is suppressed."""
    ce = ctx.table("conditional_effects")
    if ce is None or not {"outcome", "change", "moderator", "n_level"} <= set(ce.columns):
        return {}
    n = ce["n_level"].map(fmt.as_count)
    g = ce.assign(_n=n).dropna(subset=["_n"]).groupby(["outcome", "change", "moderator"])["_n"].min()
    return {(str(o), str(c), str(w)): float(v) for (o, c, w), v in g.items()}


def _level_of(row) -> str | None:
    for c in ("level", "term"):
        v = _s(row.get(c))
        if v and v != str(row.get("moderator")):
            return v
    return None


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


def skipped_moderations(ctx: Ctx) -> tuple[list[dict], str]:
    """(prespecified tests that could not be estimated, a sentence on every skipped
    moderation analysis grouped by moderator) from ``moderation_skipped``."""
    from ..stats.moderation import _is_prespecified
    sk = ctx.table("moderation_skipped")
    if sk is None or sk.empty or not {"outcome", "change", "moderator", "reason"} <= set(sk.columns):
        return [], ""
    specs = (ctx.meta.get("options") or {}).get("prespecified_moderators") or []
    pre = [r for r in sk.to_dict("records")
           if str(r["change"]) != "did" and _is_prespecified(specs, str(r["outcome"]), str(r["change"]),
                                                               str(r["moderator"]))]
    items = []
    for w, g in sk.groupby(sk["moderator"].astype(str), sort=False):
        items.append((txt.moderator_label(w, ctx.lang), len(g),
                      txt.skip_reason(g["reason"].astype(str).mode().iloc[0], ctx.lang, ctx.mc)))
    return pre, txt.skipped_sentence(items, ctx.lang)


def skipped_outcomes_sentence(ctx: Ctx) -> str:
    sk = ctx.table("skipped_outcomes")
    if sk is None or sk.empty or not {"outcome", "reason"} <= set(sk.columns):
        return ""
    parts = [f"{txt.lower_first(ctx.label(o))} ({txt.skip_reason(r, ctx.lang, ctx.mc)})"
             for o, r in sk[["outcome", "reason"]].itertuples(index=False)]
    return tr(ctx.lang, "Niet geanalyseerd, omdat de gegevens geen schatting toelaten: ",
              "Not analysed, because the data allow no estimate: ") + txt.join_list(parts, ctx.lang) + "."


def _by_outcome(ctx: Ctx, pairs: list[tuple[str, str]], universe: list[tuple[str, str]]) -> list[str]:
    """Outcome–period pairs as readable labels: 'self-efficacy (T1–T2, T2–T3)', or just the outcome when
    it holds for every period of that outcome, or 'all outcomes' when it holds for everything."""
    if not pairs:
        return []
    if set(pairs) == set(universe):
        return [tr(ctx.lang, "alle uitkomsten", "all outcomes")]
    out = []
    for o in ctx.outcomes([o for o, _ in pairs]):
        mine = [c for o2, c in pairs if o2 == o]
        every = [c for o2, c in universe if o2 == o]
        lab = txt.lower_first(ctx.label(o))
        out.append(lab if set(mine) == set(every) else f"{lab} ({', '.join(txt.period(c) for c in sorted(mine))})")
    return out


def section_moderation(ctx: Ctx) -> dict:
    lang, blocks = ctx.lang, []
    m, n_tests = moderation_info(ctx)
    if m is None:
        blocks.append(ctx.missing("moderation"))
        return {"title": I18N[lang]["whom"], "blocks": blocks, "newpage": True}
    praw = pd.to_numeric(m["p"], errors="coerce")
    pbh = pd.to_numeric(m["p_bh"], errors="coerce") if "p_bh" in m.columns else pd.Series(np.nan, index=m.index)
    pre = m["prespecified"].fillna(False).astype(bool) if "prespecified" in m.columns else \
        pd.Series(False, index=m.index)
    sel = m[(praw < ctx.alpha) | (pbh < ctx.alpha) | pre].copy()
    sel = sel.assign(_p=praw[sel.index]).sort_values(["_p"], kind="stable")
    fam = moderation_family(ctx)
    n_bh = fam.get("n_tests", n_tests)
    bh_short, bh_long = bh_words(ctx), bh_words(ctx, long=True)
    changes = txt.join_list([txt.period(c) for c in CHANGES if c in set(m["change"].astype(str))], lang)
    # a categorical moderator with k levels gives k − 1 rows (one b each) but one F test
    rows_in = "" if n_bh == n_tests else tr(lang, f" in {n_bh} toetsen (één per uitkomst, verandering en moderator)",
                                             f" in {n_bh} tests (one per outcome, change and moderator)")
    blocks.append(p(tr(lang,
                       f"Binnen de groep mentees is onderzocht of de verandering tussen twee metingen ({changes}) "
                       f"samenhangt met kenmerken van de mentee of van de match met de mentor (moderatie). In totaal "
                       f"zijn {n_tests} verbanden getoetst{rows_in}. Bij zoveel toetsen is een deel van de significante "
                       f"uitkomsten toeval; daarom staat naast elke p ook de gecorrigeerde p (pBH): "
                       f"{bh_long or 'Benjamini–Hochberg-correctie'}. "
                       f"Hieronder staan de verbanden met p < {fmt.nolead(ctx.alpha, 2, lang)} en de vooraf "
                       f"gekozen verbanden.",
                       f"Within the mentee group we examined whether the change between two waves ({changes}) is "
                       f"associated with characteristics of the mentee or of the match with the mentor (moderation). "
                       f"In total {n_tests} associations were tested{rows_in}. With so many tests some significant "
                       f"results are due to chance; next to every p is therefore the adjusted p (pBH): "
                       f"{bh_long or 'Benjamini–Hochberg correction'}. Shown below "
                       f"are the associations with p < {fmt.nolead(ctx.alpha, 2, lang)} and the prespecified ones.")))
    # how many raw p < alpha chance alone gives in a grid this size, next to the count seen
    blocks.append(p(txt.chance_findings_sentence(n_tests, int((praw < ctx.alpha).sum()), ctx.alpha, lang)))
    pre_skipped, skipped_text = skipped_moderations(ctx)
    if sel.empty and not pre_skipped:
        blocks.append(p(tr(lang, "Geen enkel verband had p < 0,05 en er waren geen vooraf gekozen verbanden.",
                           "No association had p < .05 and no associations were prespecified.")))
    else:
        t = Table(tr(lang, "Moderatie van de verandering bij mentees", "Moderation of mentees' change"),
                  [(tr(lang, "Uitkomst", "Outcome"), "left"), (tr(lang, "Periode", "Period"), "left"),
                   (tr(lang, "Moderator", "Moderator"), "left"), ([em("n")], "right"), ([em("b")], "right"),
                   (tr(lang, "95%-BI", "95% CI"), "right"), ([em("p")], "right"), ([em("p"), sub("BH")], "right"),
                   (tr(lang, "Vooraf", "Prespec."), "center")],
                  lang=lang, min_cell=ctx.mc, size="small", widths=["1fr", "auto", "1.4fr", "auto", "auto",
                                                                   "auto", "auto", "auto", "auto"])
        sents, quiet = [], []
        sizes = level_sizes(ctx)
        for r in sel.to_dict("records"):
            n_ = r.get("n")
            lvl = _level_of(r)
            key = (str(r["outcome"]), str(r["change"]), str(r["moderator"]))
            if lvl and key in sizes and (not fmt.is_number(n_) or sizes[key] < float(n_)):
                n_ = sizes[key]    # the smallest group behind this contrast decides
            wlab = txt.moderator_label(str(r["moderator"]), lang)
            ref = _s(r.get("reference"))
            wcell = wlab + (f": {txt.level_label(lvl, lang)}" if lvl else "") + \
                (f" ({tr(lang, 'ref.', 'ref.')} {txt.level_label(ref, lang)})" if lvl and ref else "")
            t.add([ctx.label(r["outcome"]), txt.contrast_label(str(r["change"]), lang), txt.upper_first(wcell),
                   t.cell(fmt.integer(r.get("n"), lang), r.get("n"), count=True), t.cell(fmt.num(r.get("b"), 2, lang), n_),
                   t.cell(fmt.ci(r.get("ci_low"), r.get("ci_high"), 2, lang), n_),
                   t.cell(fmt.p_value(r.get("p"), lang), n_), t.cell(fmt.p_value(r.get("p_bh"), lang), n_),
                   tr(lang, "ja", "yes") if bool(r.get("prespecified")) is True else ""])
            verdict = txt.moderation_verdict(r.get("ci_low"), r.get("ci_high"), r.get("p"), r.get("p_bh"), ctx.alpha)
            pre_r = bool(r.get("prespecified")) is True
            if fmt.is_small(n_, ctx.mc):
                continue
            if verdict == "shown" or pre_r:
                # Every surviving association and every prespecified one gets its own sentence.
                sents.append(txt.moderation_sentence(ctx.label(r["outcome"]), str(r["change"]), wlab, r.get("b"),
                                                     r.get("ci_low"), r.get("ci_high"), r.get("p"), r.get("p_bh"),
                                                     n_tests=n_bh, family=bh_short,
                                                     level=txt.level_label(lvl, lang) if lvl else None,
                                                     reference=txt.level_label(ref, lang) if lvl and ref else None,
                                                     alpha=ctx.alpha, lang=lang))
            elif verdict == "indication":
                quiet.append(r)
        for r in pre_skipped:
            # A confirmatory test is always listed, also when it could not be estimated.
            why = txt.skip_reason(r.get("reason"), lang, ctx.mc)
            t.add([ctx.label(r["outcome"]), txt.contrast_label(str(r["change"]), lang),
                   txt.upper_first(txt.moderator_label(str(r["moderator"]), lang)),
                   t.cell(fmt.integer(r.get("n"), lang), r.get("n"), count=True),
                   tr(lang, "niet te schatten", "not estimable"), "", "", "", tr(lang, "ja", "yes")])
            sents.append(tr(lang, f"Het vooraf gekozen verband tussen {txt.moderator_label(str(r['moderator']), lang)} "
                                  f"en de verandering in {txt.lower_first(ctx.label(r['outcome']))} "
                                  f"({txt.period(str(r['change']))}) is niet te schatten: {why}.",
                            f"The prespecified association between {txt.moderator_label(str(r['moderator']), lang)} "
                            f"and the change in {txt.lower_first(ctx.label(r['outcome']))} "
                            f"({txt.period(str(r['change']))}) is not estimable: {why}."))
        t.notes.append(tr(lang,
                          f"b: verandering per eenheid van de moderator (bij een categorie: verschil met de "
                          f"referentiegroep). pBH: {bh_long or 'Benjamini–Hochberg-correctie'}; de rijen van één "
                          f"moderator met categorieën delen de toets van die moderator.",
                          f"b: change per unit of the moderator (for a level: difference from the reference group). "
                          f"pBH: {bh_long or 'Benjamini–Hochberg correction'}; the rows of one categorical moderator "
                          f"share that moderator's test."))
        blocks.append(t.block())
        blocks.append(bullets(sents + [txt.exploratory_indications_sentence(len(quiet), n_bh, lang,
                                                                            family=bh_short)]))
    if skipped_text:
        blocks.append(p(skipped_text))
    blocks += did_by_moderator_blocks(ctx)
    for name, (o, c, w) in getattr(ctx.figures, "moderation", {}).items():
        what = tr(lang, f"Voorspelde verandering in {txt.lower_first(ctx.label(o))} ({txt.period(c)}) naar "
                        f"{txt.moderator_label(w, lang)}, met 95%-BI",
                  f"Predicted change in {txt.lower_first(ctx.label(o))} ({txt.period(c)}) by "
                  f"{txt.moderator_label(w, lang)}, with 95% CI")
        cap = what + (tr(lang, "; groen: waarden van de moderator waarbij de verandering significant van 0 "
                               "verschilt (Johnson–Neyman).",
                         "; green: moderator values where the change differs significantly from 0 "
                         "(Johnson–Neyman).") if figs.moderation_is_continuous(ctx.r, o, c, w) else ".")
        fig = ctx.figure(name, cap, "62%")
        if fig:
            blocks.append(fig)
    return {"title": I18N[lang]["whom"], "blocks": blocks, "newpage": True}


def did_by_moderator_blocks(ctx: Ctx) -> list:
    """Does the programme effect itself (the DiD, both conditions) differ by pupil characteristic?

    One interaction test per outcome × characteristic (``p_interaction``); the DiD per level
    or probe is shown for those with p < alpha. A level with fewer than ``min_cell`` pupils
    (``n_level``) or fewer than that among its mentees or its controls (``n_level_mentee``,
    ``n_level_control``) is suppressed.
    """
    d = ctx.table("did_by_moderator")
    need = {"outcome", "moderator", "probe", "contrast", "estimate", "ci_low", "ci_high", "p_interaction"}
    if d is None or not need <= set(d.columns):
        return []
    lang = ctx.lang
    tests = d.groupby(["outcome", "moderator"], sort=False)["p_interaction"].first().reset_index()
    tests["p_interaction"] = pd.to_numeric(tests["p_interaction"], errors="coerce")
    sig = tests[tests["p_interaction"] < ctx.alpha].sort_values("p_interaction", kind="stable")
    blocks = [h(tr(lang, "Verschilt het programma-effect tussen groepen leerlingen?",
                   "Does the programme effect differ between groups of pupils?")),
              p(txt.did_moderator_sentence(
                  len(tests), [f"{txt.moderator_label(str(w), lang)} {tr(lang, 'bij', 'for')} "
                               f"{txt.lower_first(ctx.label(o))}" for o, w in sig[["outcome", "moderator"]]
                               .itertuples(index=False)], lang, ctx.alpha))]
    if sig.empty:
        return blocks
    t = Table(tr(lang, "Verschil in verandering (mentees − controlegroep) per groep leerlingen",
                 "Difference in change (mentees − controls) per group of pupils"),
              [(tr(lang, "Uitkomst", "Outcome"), "left"), (tr(lang, "Kenmerk", "Characteristic"), "left"),
               (tr(lang, "Groep", "Group"), "left"), (tr(lang, "Periode", "Period"), "left"),
               (tr(lang, "Verschil", "Difference"), "right"), (tr(lang, "95%-BI", "95% CI"), "right"),
               ([em("p")], "right"), ([em("p"), sub(tr(lang, "interactie", "interaction"))], "right")],
              lang=lang, min_cell=ctx.mc, size="small")
    for o, w, pint in sig[["outcome", "moderator", "p_interaction"]].itertuples(index=False):
        rows = d[(d["outcome"] == o) & (d["moderator"] == w)]
        first = True
        for r in rows.to_dict("records"):
            # the smallest group behind the estimate: the level's mentees or its controls
            n_ = min((float(r[c]) for c in ("n_level", "n_level_mentee", "n_level_control")
                      if fmt.is_number(r.get(c))), default=None)
            probe, w_ = _s(r.get("probe")), r.get("w")
            # A level code has no W value (a dichotomous W's levels are their own value);
            # a probe of a continuous W (M − 1SD, ...) is shown with its value.
            if not fmt.is_number(w_) or probe == f"{float(w_):g}":
                grp = txt.level_label(probe, lang)
            else:
                grp = f"{probe} ({fmt.num(w_, 2, lang)})"
            t.add([ctx.label(o) if first else "", txt.moderator_label(str(w), lang) if first else "", grp,
                   txt.contrast_label(str(r["contrast"]), lang), t.cell(fmt.num(r.get("estimate"), 2, lang), n_),
                   t.cell(fmt.ci(r.get("ci_low"), r.get("ci_high"), 2, lang), n_),
                   t.cell(fmt.p_value(r.get("p"), lang), n_), fmt.p_value(pint, lang) if first else ""])
            first = False
    t.notes.append(tr(lang, "Gemengd model op alle metingen met een interactie tussen conditie × meting en het "
                            "kenmerk; pinteractie toetst of het effect tussen de groepen verschilt.",
                      "Mixed model on all measurements with an interaction of condition × wave with the "
                      "characteristic; p interaction tests whether the effect differs between the groups."))
    blocks.append(t.block())
    return blocks


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
           f"betrouwbaarheidsintervallen ({nb} trekkingen).",
           f"Moderation (mentees only): the change between two waves regressed on the moderator (OLS"
           f"{se_words(ctx, 'en')}), with predicted changes at M − 1SD, M and M + 1SD, Johnson–Neyman points and bootstrap confidence intervals "
           f"({nb} resamples)."),
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


def _created(meta) -> _dt.datetime | None:
    c = meta.get("created")
    if not c:
        return None
    try:
        d = _dt.datetime.fromisoformat(str(c).replace("Z", "+00:00"))
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=_dt.timezone.utc)


def _date_text(d: _dt.datetime | None, lang: str) -> str:
    if d is None:
        return ""
    if lang == "nl":
        return f"{d.day} {MONTHS_NL[d.month - 1]} {d.year}"
    return d.strftime("%-d %B %Y")


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


def document(meta: dict, lang: str, sections: list, edition: str = "") -> dict:
    """The report document around its sections: title page, header, labels."""
    # an empty `name:` or `cohort:` of study.yaml is None in older results: not printed as "None"
    name = short_label(_s(meta.get("name")).strip()) or tr(lang, "Mentorprogramma", "Mentoring programme")
    cohort = short_label(_s(meta.get("cohort")).strip())
    subtitle = I18N[lang]["subtitle"] + (f" — {edition}" if edition else "")
    return {
        "lang": lang,
        "title": {"programme": name, "subtitle": subtitle, "cohort": cohort,
                  "date": _date_text(_created(meta), lang), "cohort_label": I18N[lang]["cohort"],
                  "date_label": I18N[lang]["date"], "contents": I18N[lang]["contents"],
                  "synthetic": bool(meta.get("synthetic", False)), "banner": I18N[lang]["banner"],
                  "banner_sub": I18N[lang]["banner_sub"]},
        "header": name + (" — " + cohort if cohort else ""),
        "header_flag": I18N[lang]["header_synthetic"] if meta.get("synthetic") else "",
        "page_label": I18N[lang]["page"],
        "sections": sections,
    }


EDITIONS = ("staff", "research")
#: (PDF, its document) per edition; the staff edition is the default report
EDITION_FILES = {"staff": ("report.pdf", "report_data.json"),
                 "research": ("report_research.pdf", "report_research_data.json")}


def typeset(doc: dict, out: Path, pdf_name: str, data_name: str, created=None) -> Path:
    """Write the document as ``out/data_name`` and typeset it into ``out/pdf_name``."""
    import typst

    data_path = out / data_name
    data_path.write_text(json.dumps(_jsonable(doc), ensure_ascii=False, indent=1, default=str, allow_nan=False)
                         + "\n", encoding="utf-8")
    template = (resources.files("mut_eval.report") / TEMPLATE).read_bytes()
    pdf = out / pdf_name
    try:
        typst.compile(template, output=str(pdf), root=str(out), sys_inputs={"data": "/" + data_path.name},
                      timestamp=created or _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc))
    except typst.TypstError as e:  # a bug in the template or the data, not a user error
        raise RuntimeError(f"typst could not typeset the report: {e}") from e
    return pdf


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
