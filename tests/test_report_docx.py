"""The Word report (report_research.docx), built from the demo results and read back with python-docx:
the same tables, headings, figures and text as the document the PDF is typeset from."""
import json
import re

import docx
import pytest
from docx.oxml.ns import qn

from mut_eval import figures as figs
from mut_eval.disclosure import staff_view
from mut_eval.report import build_report
from mut_eval.report.build import assemble
from mut_eval.report.demo import demo_results
from mut_eval.report.docx import write_docx

PUPIL_ID = re.compile(r"P[0-9a-f]{12}")


def flat(x, chapters) -> str:
    """Rich text as it should read (written out here, not taken from the module under test)."""
    if isinstance(x, str):
        return x
    if isinstance(x, list):
        return "".join(flat(y, chapters) for y in x)
    if isinstance(x, dict):
        if "chapter" in x:
            return str(chapters[x["chapter"]])
        (value,) = x.values()
        return flat(value, chapters)
    return "" if x is None else str(x)


def distinct(cells):
    """The cells of a row, a merged cell once (python-docx repeats it for every column it spans)."""
    out, seen = [], set()
    for c in cells:
        if id(c._tc) not in seen:
            seen.add(id(c._tc))
            out.append(c)
    return out


def blocks(d, kind):
    return [b for s in d["sections"] for b in s["blocks"] if b["type"] == kind]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    res = demo_results()
    out = {}
    d = tmp_path_factory.mktemp("docx_nl")
    figures = figs.make_figures(staff_view(res), d / "figures", "nl")
    build_report(res, d, lang="nl", figures=figures, edition="research")
    doc = json.loads((d / "report_research_data.json").read_text(encoding="utf-8"))
    out["nl"] = (d, doc, d / "report_research.docx")
    # English from the same figures (their labels are Dutch; the text around them is not)
    doc_en = json.loads(json.dumps(assemble(staff_view(res), "en", figures, d), default=str))
    out["en"] = (d, doc_en, write_docx(doc_en, d, d / "report_en.docx"))
    return out


def chapters_of(doc):
    return {s["label"]: i for i, s in enumerate(doc["sections"], start=1) if "label" in s}


def all_text(w) -> list[str]:
    texts = [p.text for p in w.paragraphs]
    for t in w.tables:
        for row in t.rows:
            texts += [c.text for c in distinct(row.cells)]
    for s in w.sections:
        texts += [p.text for p in s.header.paragraphs + s.footer.paragraphs]
    return texts


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_tables_are_word_tables_with_the_same_cells(built, lang):
    _, doc, path = built[lang]
    chapters = chapters_of(doc)
    w = docx.Document(str(path))
    tables = blocks(doc, "table")
    assert len(tables) == len(w.tables) > 10
    paras = [p.text for p in w.paragraphs]
    word = {"nl": "Tabel", "en": "Table"}[lang]
    for k, (b, t) in enumerate(zip(tables, w.tables), start=1):
        n_head = 2 if b.get("header_top") else 1
        assert len(t.rows) == n_head + len(b["rows"]), b["caption"]
        # APA: "Table k" on one line, the title on the next, both above the table
        i = paras.index(f"{word} {k}")
        assert paras[i + 1] == flat(b["caption"], chapters)
        if b.get("header_top"):
            top = [c.text for c in distinct(t.rows[0].cells)]
            assert top == [flat(c["t"], chapters) for c in b["header_top"]]
        assert [c.text for c in t.rows[n_head - 1].cells] == [flat(h, chapters) for h in b["header"]]
        for row, r in zip(t.rows[n_head:], b["rows"]):
            if isinstance(r, dict):
                assert [c.text for c in distinct(row.cells)] == [r["group"]]
            else:
                assert [c.text for c in row.cells] == [flat(c, chapters) for c in r]
        # right-aligned columns stay right-aligned in the body
        for j, a in enumerate(b["align"]):
            body = [row.cells[j] for row, r in zip(t.rows[n_head:], b["rows"]) if isinstance(r, list)]
            if a == "right" and body:
                assert body[0].paragraphs[0].alignment == 2   # WD_ALIGN_PARAGRAPH.RIGHT
        if b["notes"]:
            note_start = {"nl": "Noot. ", "en": "Note. "}[lang] + flat(b["notes"][0], chapters)
            assert note_start in paras


def test_apa_rules_only_horizontal(built):
    _, _, path = built["nl"]
    body = docx.Document(str(path)).element.body
    xml = body.xml
    assert 'w:insideV w:val="nil"' in xml
    for edge in ("left", "right", "insideV"):
        assert not re.search(rf'<w:{edge} w:val="single"', xml)
    # top rule over the header, a rule under the header and under the last row
    t = docx.Document(str(path)).tables[1]   # measures table: one header row

    def rule(cell, edge):
        b = cell._tc.tcPr.find(qn("w:tcBorders"))
        e = None if b is None else b.find(qn(f"w:{edge}"))
        return None if e is None else e.get(qn("w:val"))
    assert [rule(c, "top") for c in t.rows[0].cells] == ["single"] * 4
    assert [rule(c, "bottom") for c in t.rows[0].cells] == ["single"] * 4
    assert [rule(c, "bottom") for c in t.rows[-1].cells] == ["single"] * 4
    assert {rule(c, e) for row in t.rows[1:-1] for c in row.cells for e in ("top", "bottom")} == {None}


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_headings_numbered(built, lang):
    _, doc, path = built[lang]
    w = docx.Document(str(path))
    h1 = [p.text for p in w.paragraphs if p.style.name == "Heading 1"]
    assert h1 == [f"{i} {s['title']}" for i, s in enumerate(doc["sections"], start=1)]
    assert h1[0] == {"nl": "1 Samenvatting", "en": "1 Summary"}[lang]
    h2 = [p.text for p in w.paragraphs if p.style.name == "Heading 2"]
    assert len(h2) == len(blocks(doc, "h")) and h2[0].startswith("1.1 ")


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_figures_present_with_captions(built, lang):
    _, doc, path = built[lang]
    w = docx.Document(str(path))
    figures = blocks(doc, "figure")
    assert len(w.inline_shapes) == len(figures) > 3
    paras = [p.text for p in w.paragraphs]
    word = {"nl": "Figuur", "en": "Figure"}[lang]
    for k, b in enumerate(figures, start=1):
        assert f"{word} {k}: {b['caption']}" in paras
    # about 15 cm wide at full width (EMU: 360000 per cm)
    assert max(s.width for s in w.inline_shapes) == pytest.approx(15 * 360000, rel=0.01)


def test_chapter_references_filled(built):
    _, doc, path = built["nl"]
    # the demo's chapters in order: summary, sample, measures, effects, comparability,
    # moderation, qsort, methods, appendix; "methods" is the 8th
    assert chapters_of(doc)["methods"] == 8
    text = "\n".join(p.text for p in docx.Document(str(path)).paragraphs)
    assert "Meer kanttekeningen staan in hoofdstuk 8." in text
    assert "?" not in re.findall(r"hoofdstuk (\S)", text)


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_all_text_present(built, lang):
    _, doc, path = built[lang]
    chapters = chapters_of(doc)
    paras = set(p.text for p in docx.Document(str(path)).paragraphs)
    for b in blocks(doc, "p") + blocks(doc, "note"):
        assert flat(b["text"], chapters) in paras
    for b in blocks(doc, "list"):
        for item in b["items"]:
            assert flat(item, chapters) in paras


def test_title_page(built):
    _, doc, path = built["nl"]
    w = docx.Document(str(path))
    first = [p.text for p in w.paragraphs[:10]]
    assert "EFFECTEVALUATIE VAN HET MENTORPROGRAMMA — TECHNISCH RAPPORT" in first and "Mentoring Urban Talent" in first
    assert "Cohort\t2019–2020" in first and "Datum\t1 mei 2024" in first
    assert "SYNTHETISCHE DATA / SYNTHETIC DATA" in first
    # dates from the report's date, not the time of writing
    props = w.core_properties
    assert (props.created.year, props.created.month, props.created.day) == (2024, 5, 1)
    assert props.modified == props.created


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_no_pupil_identifier(built, lang):
    _, _, path = built[lang]
    assert not [t for t in all_text(docx.Document(str(path))) if PUPIL_ID.search(t)]


def test_same_document_same_bytes(built, tmp_path):
    d, doc, path = built["nl"]
    again = write_docx(doc, d, tmp_path / "again.docx")
    assert again.read_bytes() == path.read_bytes()
