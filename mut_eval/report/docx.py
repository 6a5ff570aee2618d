"""The report as an editable Word document, from the same JSON document as the PDF.

``write_docx(doc, root, path)`` turns the document that :func:`mut_eval.report.build.assemble`
returns (the format is described in the header of ``template.typ``) into a ``.docx``:
Dutch evaluation reports are finished in Word, so researchers get every sentence and
every table of the PDF as text and real Word tables they can edit, not as pictures.

Layout follows the PDF; tables follow APA 7 (Publication Manual of the American
Psychological Association, 7th ed., 2020, §7.8-7.14): the number in bold above the table,
the title in italics on the next line, horizontal rules only (above and below the header
and below the body), a spanning header over the columns it covers with a rule under it,
and the notes below in a smaller font, the first one after "Note." in italics.
Headings carry their numbers as text ("4 Effecten", "4.1 ..."), as the PDF prints them;
a chapter reference ``{chapter: label}`` becomes the 1-based position of that section.

Deterministic: the core properties' dates come from the title's date (a fixed date when
it has none) and the zip entries carry that date too, so the same document gives the
same bytes.
"""
from __future__ import annotations

import datetime as _dt
import io
import re
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from .common import plain_text as plain

WORDS = {
    "nl": {"table": "Tabel", "figure": "Figuur", "note": "Noot.", "locale": "nl-NL"},
    "en": {"table": "Table", "figure": "Figure", "note": "Note.", "locale": "en-GB"},
}
MONTHS = {
    "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
           "oktober", "november", "december"],
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
}
# The date of a document without one (the typst PDF uses the same).
FIXED_DATE = _dt.datetime(2000, 1, 1, tzinfo=_dt.timezone.utc)
TEXT_WIDTH_CM = 16.6          # A4 minus the PDF's 2.2 cm margins
FIGURE_WIDTH_CM = 15.0
ALARM = RGBColor(0xB0, 0x00, 0x20)
ACCENT = RGBColor(0x00, 0x72, 0xB2)
MONO = "Courier New"
SIZES = {"body": 11, "normal": 10, "small": 9, "notes": 9, "raw": 8}
ALIGN = {"left": WD_ALIGN_PARAGRAPH.LEFT, "right": WD_ALIGN_PARAGRAPH.RIGHT, "center": WD_ALIGN_PARAGRAPH.CENTER}


# ---------------------------------------------------------------- rich text
def chapter_numbers(doc: dict) -> dict:
    """label -> the section's 1-based position among all sections (the PDF numbers every section)."""
    return {s["label"]: i for i, s in enumerate(doc.get("sections", []), start=1) if s.get("label")}


def add_rich(par, x, chapters: dict, style: frozenset = frozenset(), size: float | None = None):
    """Append the runs of a rich text to a paragraph (em: italic, b: bold, sub/sup, mono)."""
    if x is None:
        return
    if isinstance(x, list):
        for y in x:
            add_rich(par, y, chapters, style, size)
        return
    if isinstance(x, dict):
        if "chapter" in x:
            add_rich(par, plain(x, chapters), chapters, style, size)
            return
        for key in ("em", "b", "sub", "sup", "mono"):
            if key in x:
                add_rich(par, x[key], chapters, style | {key}, size)
                return
        return
    run = par.add_run(str(x))
    run.italic = True if "em" in style else None
    run.bold = True if "b" in style else None
    if "sub" in style:
        run.font.subscript = True
    if "sup" in style:
        run.font.superscript = True
    if "mono" in style:
        run.font.name = MONO
        run.font.size = Pt((size or SIZES["body"]) * 0.85)
    elif size:
        run.font.size = Pt(size)


# ---------------------------------------------------------------- low-level OOXML
# Children that come after an element in its parent, in the order the OOXML schema
# (ECMA-376 Part 1, 17.3.1.26 pPr, 17.4.60 tblPr, 17.4.70 tcPr, 17.3.2.28 rPr) requires:
# Word refuses a file with children out of order.
AFTER = {
    "w:shd": ("w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
              "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
              "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
              "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment", "w:textboxTightWrap",
              "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr", "w:pPrChange"),
    "w:tblBorders": ("w:shd", "w:tblLayout", "w:tblCellMar", "w:tblLook", "w:tblCaption",
                     "w:tblDescription", "w:tblPrChange"),
    "w:tcBorders": ("w:shd", "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign",
                    "w:hideMark", "w:headers", "w:cellIns", "w:cellDel", "w:cellMerge", "w:tcPrChange"),
    "w:lang": ("w:eastAsianLayout", "w:specVanish", "w:oMath"),
}


def _set(el, tag: str, **attrs):
    """The child ``tag`` of ``el`` (made in its schema place when absent) with ``attrs`` (w:) set."""
    child = el.find(qn(tag))
    if child is None:
        child = OxmlElement(tag)
        later = [x for x in (el.find(qn(t)) for t in AFTER.get(tag, ())) if x is not None]
        if later:
            later[0].addprevious(child)
        else:
            el.append(child)
    for k, v in attrs.items():
        child.set(qn(f"w:{k}"), str(v))
    return child


def shade(par, fill: str):
    """Paragraph background colour (hex RGB)."""
    _set(par._p.get_or_add_pPr(), "w:shd", val="clear", color="auto", fill=fill)


def cell_rules(cell, **edges):
    """Borders of one cell: edge -> width in eighths of a point (0: none)."""
    borders = _set(cell._tc.get_or_add_tcPr(), "w:tcBorders")
    for edge in ("top", "left", "bottom", "right"):
        w = edges.get(edge, 0)
        _set(borders, f"w:{edge}", val="single" if w else "nil", sz=w or 0, space=0, color="000000")


def repeat_header(row):
    """A header row Word repeats at the top of every page the table runs over."""
    _set(row._tr.get_or_add_trPr(), "w:tblHeader", val="true")


def no_table_borders(table):
    borders = _set(table._tbl.tblPr, "w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        _set(borders, f"w:{edge}", val="nil")


def field_mark(par, kind: str, instr: str = "", size: float | None = None):
    """A run holding one part of a Word field: "begin", the code ("instr"), "separate" or "end";
    what lies between "separate" and "end" is the field's current value."""
    run = par.add_run()
    if size:
        run.font.size = Pt(size)
    if kind == "instr":
        el = OxmlElement("w:instrText")
        el.set(qn("xml:space"), "preserve")
        el.text = f" {instr} "
    else:
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
    run._r.append(el)


def add_field(par, instr: str, result: str, size: float | None = None):
    """A Word field (SEQ, PAGE) with its current value, so it reads right before Word updates it;
    returns the run of the value."""
    field_mark(par, "begin", size=size)
    field_mark(par, "instr", instr, size=size)
    field_mark(par, "separate", size=size)
    value = par.add_run(result)
    if size:
        value.font.size = Pt(size)
    field_mark(par, "end", size=size)
    return value


def tight(par, after: float = 0):
    pf = par.paragraph_format
    pf.space_before, pf.space_after, pf.line_spacing = Pt(0), Pt(after), 1.0


# ---------------------------------------------------------------- blocks
class Writer:
    """One document being written: the python-docx Document and the running numbers."""

    def __init__(self, doc: dict, root: Path):
        self.d = doc
        self.root = Path(root)
        self.lang = doc.get("lang", "nl") if doc.get("lang") in WORDS else "nl"
        self.w = WORDS[self.lang]
        self.chapters = chapter_numbers(doc)
        self.n_tables = 0
        self.n_figures = 0
        self.section_no = 0
        self.sub_no = 0
        self.out = Document()

    # ------------------------------------------------ page set-up and title page
    def setup(self):
        normal = self.out.styles["Normal"]
        normal.font.size = Pt(SIZES["body"])
        # spelling and hyphenation in the report's language
        _set(normal.element.get_or_add_rPr(), "w:lang", val=self.w["locale"])
        for sec in self.out.sections:
            sec.page_height, sec.page_width = Cm(29.7), Cm(21.0)
            sec.left_margin = sec.right_margin = Cm(2.2)
            sec.top_margin, sec.bottom_margin = Cm(2.4), Cm(2.2)
            sec.different_first_page_header_footer = True
            head = sec.header.paragraphs[0]
            head.text = ""
            r = head.add_run(self.d.get("header", ""))
            r.font.size = Pt(8)
            if self.d.get("header_flag"):
                head.add_run("\t\t")
                flag = head.add_run(self.d["header_flag"])
                flag.bold, flag.font.size, flag.font.color.rgb = True, Pt(8), ALARM
            foot = sec.footer.paragraphs[0]
            foot.alignment = WD_ALIGN_PARAGRAPH.RIGHT
            label = foot.add_run(f"{self.d.get('page_label', '')} ")
            label.font.size = Pt(8)
            add_field(foot, "PAGE", "1", size=8)

    def title_page(self):
        t = self.d.get("title", {})
        sub = self.out.add_paragraph()
        r = sub.add_run(str(t.get("subtitle", "")).upper())
        r.bold, r.font.size, r.font.color.rgb = True, Pt(11), ACCENT
        sub.paragraph_format.space_before = Pt(90)
        prog = self.out.add_paragraph()
        r = prog.add_run(str(t.get("programme", "")))
        r.bold, r.font.size = True, Pt(26)
        for label, value in ((t.get("cohort_label", ""), t.get("cohort", "")),
                             (t.get("date_label", ""), t.get("date", ""))):
            par = self.out.add_paragraph()
            tight(par, 4)
            lab = par.add_run(f"{label}\t")
            lab.font.color.rgb = RGBColor(0x5A, 0x5A, 0x5A)
            par.add_run(str(value))
        if t.get("synthetic"):
            for text, size, after in ((t.get("banner", ""), 17, 2), (t.get("banner_sub", ""), 9.5, 0)):
                par = self.out.add_paragraph()
                par.alignment = WD_ALIGN_PARAGRAPH.CENTER
                shade(par, "B00020")
                tight(par, after)
                if size == 17:
                    par.paragraph_format.space_before = Pt(28)
                r = par.add_run(str(text))
                r.bold = size == 17 or None
                r.font.size, r.font.color.rgb = Pt(size), RGBColor(0xFF, 0xFF, 0xFF)
        self.contents()

    def contents(self):
        """The table of contents: a Word TOC field, filled with the chapters (without page numbers
        until Word updates the field)."""
        head = self.out.add_paragraph()
        head.paragraph_format.space_before = Pt(36)
        r = head.add_run(str(self.d.get("title", {}).get("contents", "")))
        r.bold = True
        titles = [f"{i} {s.get('title', '')}" for i, s in enumerate(self.d.get("sections", []), start=1)]
        for i, line in enumerate(titles):
            par = self.out.add_paragraph()
            tight(par, 2)
            if i == 0:
                field_mark(par, "begin")
                field_mark(par, "instr", 'TOC \\o "1-1" \\h')
                field_mark(par, "separate")
            par.add_run(line)
            if i == len(titles) - 1:
                field_mark(par, "end")

    # ------------------------------------------------ sections and blocks
    def section(self, s: dict):
        self.section_no += 1
        self.sub_no = 0
        heading = self.out.add_heading(f"{self.section_no} {s.get('title', '')}", level=1)
        if s.get("newpage"):
            heading.paragraph_format.page_break_before = True
        for b in s.get("blocks", []):
            # a block of an unknown type is skipped, as the template skips it
            getattr(self, "block_" + str(b.get("type")), lambda b: None)(b)

    def block_p(self, b):
        add_rich(self.out.add_paragraph(), b.get("text"), self.chapters)

    def block_h(self, b):
        self.sub_no += 1
        self.out.add_heading(f"{self.section_no}.{self.sub_no} {plain(b.get('text'), self.chapters)}", level=2)

    def block_list(self, b):
        for item in b.get("items", []):
            add_rich(self.out.add_paragraph(style="List Bullet"), item, self.chapters)

    def block_note(self, b):
        par = self.out.add_paragraph()
        shade(par, "F2F2F2")
        par.paragraph_format.left_indent = par.paragraph_format.right_indent = Cm(0.3)
        add_rich(par, b.get("text"), self.chapters, size=SIZES["body"] - 1)

    def block_raw(self, b):
        par = self.out.add_paragraph()
        shade(par, "F6F6F6")
        tight(par, 6)
        run = par.add_run(str(b.get("text", "")).rstrip("\n"))   # a "\n" becomes a line break
        run.font.name, run.font.size = MONO, Pt(SIZES["raw"])

    def block_figure(self, b):
        path = self.root / str(b.get("path", "")).lstrip("/")
        png = path if path.suffix.lower() == ".png" else path.with_suffix(".png")
        if not png.exists():
            raise FileNotFoundError(f"figure {png} is missing (the Word report needs the PNG beside the SVG)")
        self.n_figures += 1
        width = str(b.get("width", "100%"))
        share = float(width[:-1]) / 100 if re.fullmatch(r"\d+(\.\d+)?%", width) else 1.0
        pic = self.out.add_paragraph()
        pic.alignment = WD_ALIGN_PARAGRAPH.CENTER
        pic.paragraph_format.keep_with_next = True
        pic.add_run().add_picture(str(png), width=Cm(FIGURE_WIDTH_CM * min(share, 1.0)))
        cap = self.out.add_paragraph()
        cap.paragraph_format.space_after = Pt(10)
        lab = cap.add_run(f"{self.w['figure']} ")
        lab.bold, lab.font.size = True, Pt(SIZES["notes"])
        add_field(cap, f"SEQ {self.w['figure']} \\* ARABIC", str(self.n_figures), size=SIZES["notes"]).bold = True
        colon = cap.add_run(": ")
        colon.bold, colon.font.size = True, Pt(SIZES["notes"])
        add_rich(cap, b.get("caption"), self.chapters, size=SIZES["notes"])

    def table_caption(self, b):
        """APA 7: "Table n" in bold, the title in italics on the next line, both above the table."""
        num = self.out.add_paragraph()
        tight(num, 0)
        num.paragraph_format.space_before = Pt(10)
        num.paragraph_format.keep_with_next = True
        num.add_run(f"{self.w['table']} ").bold = True
        add_field(num, f"SEQ {self.w['table']} \\* ARABIC", str(self.n_tables)).bold = True
        cap = self.out.add_paragraph()
        tight(cap, 4)
        cap.paragraph_format.keep_with_next = True
        add_rich(cap, b.get("caption"), self.chapters, style=frozenset({"em"}))

    def block_table(self, b):
        self.n_tables += 1
        size = SIZES["small"] if b.get("size") == "small" else SIZES["normal"]
        header = list(b.get("header") or [])
        n = len(header)
        align = [ALIGN.get(a, WD_ALIGN_PARAGRAPH.LEFT) for a in (b.get("align") or [])] + \
            [WD_ALIGN_PARAGRAPH.LEFT] * n
        self.table_caption(b)
        top = b.get("header_top") or []
        rows = list(b.get("rows") or [])
        n_head = 2 if top else 1
        table = self.out.add_table(rows=n_head + len(rows), cols=n)
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        table.autofit = False
        no_table_borders(table)
        widths = column_widths(header, rows, self.chapters, align, size)
        # the cells taken once, before any merge (table.cell() walks the whole table every time)
        grid = [list(row.cells) for row in table.rows]
        for row in grid:
            for j, cell in enumerate(row):
                cell.width = widths[j]

        def put(cell, rich, j, style=frozenset(), al=None, keep=False):
            par = cell.paragraphs[0]
            tight(par)
            par.alignment = al if al is not None else align[j]
            # caption and header stay with the first row; a long table may run over pages
            par.paragraph_format.keep_with_next = keep
            add_rich(par, rich, self.chapters, style, size)

        last = len(table.rows) - 1
        if top:
            j = 0
            for span in top:
                k = max(int(span.get("span", 1)), 1)
                cell = grid[0][j]
                if k > 1:
                    cell = cell.merge(grid[0][min(j + k, n) - 1])
                text = span.get("t", "")
                put(cell, text, j, al=WD_ALIGN_PARAGRAPH.CENTER, keep=True)
                cell_rules(cell, top=8, bottom=4 if plain(text) else 0)
                j += k
            repeat_header(table.rows[0])
        hrow = n_head - 1
        for j, text in enumerate(header):
            cell = grid[hrow][j]
            put(cell, text, j, keep=True)
            cell_rules(cell, top=0 if top else 8, bottom=4)
        repeat_header(table.rows[hrow])
        for i, r in enumerate(rows, start=n_head):
            if isinstance(r, dict):
                cell = grid[i][0].merge(grid[i][n - 1]) if n > 1 else grid[i][0]
                put(cell, r.get("group", ""), 0, style=frozenset({"em"}), al=WD_ALIGN_PARAGRAPH.LEFT,
                    keep=True)
                cells = [cell]
            else:
                cells = []
                for j in range(n):
                    cell = grid[i][j]
                    # the notes stay with the last row
                    put(cell, r[j] if j < len(r) else "", j, keep=i == last and bool(b.get("notes")))
                    cells.append(cell)
            if i == last:
                for cell in cells:
                    cell_rules(cell, bottom=8)
        for k, text in enumerate(b.get("notes") or []):
            par = self.out.add_paragraph()
            tight(par, 2)
            if k == 0:
                par.paragraph_format.space_before = Pt(3)
                add_rich(par, [{"em": self.w["note"]}, " "], self.chapters, size=SIZES["notes"])
            add_rich(par, text, self.chapters, size=SIZES["notes"])
        if not b.get("notes"):
            # a table has no space below of its own
            tight(self.out.add_paragraph(), 0)


def column_widths(header: list, rows: list, chapters: dict, align: list, size: float) -> list:
    """Column widths (Word's own autofit is not applied by every reader): a right-aligned or
    centred column (numbers) as wide as its longest cell, so no number wraps; the left-aligned
    columns (labels) get their own width when it fits in an equal share of the rest, and
    otherwise share what is left in proportion to their longest cell (4 to 40 characters),
    each at least 2.5 cm (or its own width when shorter): when that leaves too little, the
    number columns are narrowed in proportion."""
    n = len(header)
    longest = [len(plain(h, chapters)) for h in header]
    for r in rows:
        if isinstance(r, list):
            for j, c in enumerate(r[:n]):
                longest[j] = max(longest[j], len(plain(c, chapters)))
    chars = [min(max(k, 4), 40) for k in longest]
    # mean character width of the default font (Calibri: digits 0.51 em) and Word's cell margins
    natural = [k * 0.17 * size / 10 + 0.4 for k in chars]
    free = [j for j in range(n) if align[j] == WD_ALIGN_PARAGRAPH.LEFT]
    fixed = [j for j in range(n) if j not in free]
    floor = sum(min(natural[j], 2.5) for j in free)
    width = {j: natural[j] for j in fixed}
    numbers = sum(width.values())
    if numbers > TEXT_WIDTH_CM - floor:
        width = {j: w * (TEXT_WIDTH_CM - floor) / numbers for j, w in width.items()}
    rest = TEXT_WIDTH_CM - sum(width.values())
    todo = sorted(free, key=lambda j: natural[j])
    # a short label column gets its own width when that fits in an equal share of the rest
    while todo and natural[todo[0]] <= rest / len(todo):
        j = todo.pop(0)
        width[j] = natural[j]
        rest -= natural[j]
    share = sum(chars[j] for j in todo)
    for j in todo:
        width[j] = rest * chars[j] / share
    if not free:   # numbers only: spread them over the text width
        width = {j: w * TEXT_WIDTH_CM / sum(width.values()) for j, w in width.items()}
    return [Cm(width[j]) for j in range(n)]


def document_date(title: dict, lang: str) -> _dt.datetime:
    """The title's date ("1 mei 2024" / "1 May 2024") as a UTC datetime; FIXED_DATE without one."""
    m = re.fullmatch(r"\s*(\d{1,2}) (\w+) (\d{4})\s*", str(title.get("date", "")))
    months = [x.lower() for x in MONTHS.get(lang, MONTHS["en"])]
    if not m or m.group(2).lower() not in months:
        return FIXED_DATE
    return _dt.datetime(int(m.group(3)), months.index(m.group(2).lower()) + 1, int(m.group(1)),
                        tzinfo=_dt.timezone.utc)


def _fixed_zip(blob: bytes, when: _dt.datetime) -> bytes:
    """The same package with every entry dated ``when`` (python-docx stamps the time of saving)."""
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = info.external_attr
            dst.writestr(entry, src.read(info.filename))
    return out.getvalue()


def write_docx(doc: dict, root: Path, path: Path) -> Path:
    """Write the report document ``doc`` (figures read below ``root``) as a Word file at ``path``."""
    w = Writer(doc, root)
    w.setup()
    w.title_page()
    for s in doc.get("sections", []):
        w.section(s)
    title = doc.get("title", {})
    when = document_date(title, w.lang)
    props = w.out.core_properties
    props.title = f"{title.get('programme', '')} — {title.get('subtitle', '')}".strip(" —")
    props.subject = str(title.get("cohort", ""))
    props.author = props.last_modified_by = "mut_eval"
    props.language = w.w["locale"]
    props.created = props.modified = props.last_printed = when.replace(tzinfo=None)
    props.revision = 1
    props.comments = props.keywords = props.category = ""
    buf = io.BytesIO()
    w.out.save(buf)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_fixed_zip(buf.getvalue(), when))
    return path
