"""What every part of the report needs: the context of a report (:class:`Ctx`), its table
(:class:`Table`) and blocks, the numbers several sections share, and the document frame
(title page, header) with its typesetting through ``template.typ``.

Why JSON and not generated markup: typst prints a string from ``json()`` literally, so
programme names, labels and codes never need escaping and can never break the layout.
"""
from __future__ import annotations

import datetime as _dt
import json
import shutil
from importlib import resources
from pathlib import Path

import pandas as pd

from .. import CHANGES, CONDITIONS, short_label
from .. import figures as figs
from ..disclosure import COMPARISONS, SECONDARY
from ..intake.codebook import codebook_of
from ..results import _jsonable
from . import format as fmt
from . import text as txt
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


def plain_text(x, chapters: dict | None = None) -> str:
    """The characters of a rich text of the document (see template.typ), as it reads:
    ``{chapter: label}`` is the chapter's number from ``chapters`` ("?" without)."""
    if x is None:
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, list):
        return "".join(plain_text(y, chapters) for y in x)
    if isinstance(x, dict):
        if "chapter" in x:
            return str((chapters or {}).get(x["chapter"], "?"))
        for key in ("em", "b", "sub", "sup", "mono"):
            if key in x:
                return plain_text(x[key], chapters)
        return ""
    return str(x)


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


def skipped_outcomes_sentence(ctx: Ctx) -> str:
    sk = ctx.table("skipped_outcomes")
    if sk is None or sk.empty or not {"outcome", "reason"} <= set(sk.columns):
        return ""
    parts = [f"{txt.lower_first(ctx.label(o))} ({txt.skip_reason(r, ctx.lang, ctx.mc)})"
             for o, r in sk[["outcome", "reason"]].itertuples(index=False)]
    return tr(ctx.lang, "Niet geanalyseerd, omdat de gegevens geen schatting toelaten: ",
              "Not analysed, because the data allow no estimate: ") + txt.join_list(parts, ctx.lang) + "."


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
