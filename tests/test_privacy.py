"""No pupil or mentor identifier, name or birth date leaves mut_eval: every output of
`mut-eval report` (CSV, JSON, XLSX, SVG, PNG, PDF) is scanned, as text, as decompressed
content and as raw bytes. Pupil ids are pseudonymised with HMAC-SHA256 (RFC 2104), checked
against a published test vector and a hand-written HMAC; the key matters and the default
key is warned about."""
import contextlib
import hashlib
import hmac
import io
import json
import re
import shutil
import struct
import zipfile
import zlib
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from mut_eval.cli import main
from mut_eval.panel import build_panel
from mut_eval.privacy import DEFAULT_KEY, pseudonym
from mut_eval.intake.validate import validate_study

from conftest import EXAMPLE, read_csv_text, write_csv_text

T1_DATE = pd.Timestamp("2019-09-20")


FIRST = ["Zwaantje", "Quirijn", "Yfke", "Xandrijn", "Wubbo", "Vroukje", "Ubbo", "Tjitske", "Sjoerdje", "Rindert"]
LAST = ["Quellinck", "Zijlstraat", "Oudewater", "Kromhoutje", "Ypmaar", "Velsbroek", "Haaxman", "Dijkgraafje",
        "Lammerink", "Gruppelaar", "Wispelweij", "Noppeney", "Tuitert", "Bekkering", "Olthoff", "Pruimboom",
        "Schuttevaer", "Ekkelkamp", "Iwema"]


def _with_birth_dates_and_names(dst: Path) -> tuple[list[pd.Timestamp], list[str]]:
    """A copy of the example whose pupils also have a birth date and a name (as schools
    export them; mut_eval does not use the name, which must not reach any output)."""
    shutil.copytree(EXAMPLE, dst)
    s = read_csv_text(dst / "students.csv")
    dates = [T1_DATE - pd.Timedelta(days=round(float(a) * 365.25)) + pd.Timedelta(days=i % 11)
             for i, a in enumerate(s["age"])]
    s["birth_date"] = [d.strftime("%Y-%m-%d") for d in dates]
    names = [f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}" for i in range(len(s))]
    s.insert(1, "name", names)
    write_csv_text(s, dst / "students.csv")
    return dates, names


def _ids_only_in_config(study: Path) -> set[str]:
    """Identifiers that appear only in study.yaml (a recode repairing ids, as researchers
    write when Excel mangled them) and in exclusions.csv (pupils excluded, with a reason)."""
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg["recode"] = {"student_id": {"SYN9417": "SYN0001", "SYN9418": "SYN0002", "SYNM977": "SYN0003"}}
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    # an enrolled pupil left out at T2, with an identifier typed into the free-text reason
    (study / "exclusions.csv").write_text("student_id,wave,reason\nSYN0010,T2,moved away (SYN9421)\n",
                                          encoding="utf-8")
    return {"SYN9417", "SYN9418", "SYNM977", "SYN9421"}


def _run(argv: list[str], env: dict[str, str | None]) -> tuple[int, str]:
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        for k, v in env.items():
            mp.delenv(k, raising=False) if v is None else mp.setenv(k, v)
        code = main(argv)
    return code, err.getvalue()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    dates, names = _with_birth_dates_and_names(root / "study")
    planted = _ids_only_in_config(root / "study")
    out = root / "out"
    code, err = _run(["report", str(root / "study"), "--out", str(out), "--lang", "en", "--bootstrap", "200"],
                     {"MUT_EVAL_KEY": None})
    students = read_csv_text(EXAMPLE / "students.csv")
    mentors = read_csv_text(EXAMPLE / "mentors.csv")
    ids = {*students["student_id"], *mentors["mentor_id"], *planted}
    # A scan for 1,700 literals at once is slow in Python's re; so a text is searched for
    # every string of an identifier's or a date's *shape* and the finds are looked up.
    assert all(re.fullmatch(ID_SHAPE, i) for i in ids), "the example's ids changed shape: update ID_SHAPE"
    dates = {d.strftime(f) for d in dates for f in DATE_FORMATS}
    names = set(names) | set(FIRST) | set(LAST)
    layers = {p.relative_to(out).as_posix(): _texts(p) for p in sorted(out.rglob("*")) if p.is_file()}
    return SimpleNamespace(code=code, stderr=err, out=out, layers=layers, needles=ids | dates | names)


ID_SHAPE = r"SYNM?\d{3,4}"
# every way a birth date could be written out, and a pattern that finds each of them
DATE_FORMATS = ["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y", "%Y%m%d", "%d %B %Y", "%B %d, %Y", "%d %b %Y"]
SHAPES = [re.compile(f"(?=({shape}))") for shape in (   # (?=...): overlapping finds too
    ID_SHAPE, r"[A-Z][a-z]+(?: [A-Z][a-z]+)?", r"\d{4}-\d\d-\d\d", r"\d\d[-/.]\d\d[-/.]\d{4}",
    r"(?<![\d.])\d{8}(?!\d)", r"\d\d [A-Z][a-z]+ \d{4}", r"[A-Z][a-z]+ \d\d, \d{4}")]


def _hits(text: str, needles: set[str]) -> list[str]:
    return sorted(set().union(*(shape.findall(text) for shape in SHAPES)) & needles)


# ---------------------------------------------------------------- text of every output
def _png_text(data: bytes) -> str:
    """The text chunks of a PNG (tEXt, zTXt, iTXt: where metadata lives)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, parts = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"tEXt":
            parts.append(body.decode("latin-1"))
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\x00")
            parts.append(key.decode("latin-1") + " " + zlib.decompress(rest[1:]).decode("latin-1"))
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\x00")
            compressed, rest = rest[0], rest[2:]
            _lang, _, rest = rest.partition(b"\x00")
            _tkey, _, text = rest.partition(b"\x00")
            parts.append(key.decode("latin-1") + " " + (zlib.decompress(text) if compressed else text).decode("utf-8"))
        pos += 12 + n
    return "\n".join(parts)


def _pdf_text(path: Path) -> str:
    """Visible text, document info, XMP and every decompressed stream of a PDF."""
    from pypdf import PdfReader
    from pypdf.generic import IndirectObject, StreamObject

    reader = PdfReader(path)
    parts = [page.extract_text() or "" for page in reader.pages]
    parts.append(json.dumps({str(k): str(v) for k, v in (reader.metadata or {}).items()}))
    ids = {(num, gen) for gen, objs in reader.xref.items() for num in objs}
    ids |= {(num, 0) for num in reader.xref_objStm}
    for num, gen in sorted(ids):
        try:
            obj = reader.get_object(IndirectObject(num, gen, reader))
        except Exception:  # a free or broken entry: nothing to read
            continue
        if isinstance(obj, StreamObject):
            try:
                parts.append(obj.get_data().decode("latin-1"))
            except Exception:  # an image or font filter pypdf cannot undo: raw bytes are scanned anyway
                pass
        else:
            parts.append(str(obj))
    return "\n".join(parts)


def _texts(path: Path) -> dict[str, str]:
    """Every readable layer of an output file, by name."""
    raw = path.read_bytes()
    if path.name == ".mut_eval_manifest.json":
        # the manifest's file sizes are byte counts of our own files: a figure of 47362 bytes
        # is not pupil 47362 (file names and hashes are still scanned)
        raw = re.sub(rb'"size":\s*\d+', b'"size": 0', raw)
    layers = {"raw bytes": raw.decode("latin-1")}
    ext = path.suffix.lower()
    if ext in (".csv", ".json", ".svg", ".txt", ".typ", ".md", ".html"):
        layers["text"] = raw.decode("utf-8")
        return layers
    # a binary file may hold UTF-16 text, at either byte offset
    layers["utf-16"] = raw.decode("utf-16-le", errors="ignore") + raw[1:].decode("utf-16-le", errors="ignore")
    if ext in (".xlsx", ".docx"):    # zipped XML (the Word file's figures are the scanned PNGs)
        with zipfile.ZipFile(path) as z:
            layers["xml"] = "\n".join(z.read(n).decode("utf-8", errors="replace") for n in z.namelist())
    elif ext == ".png":
        layers["png text chunks"] = _png_text(raw)
    elif ext == ".pdf":
        layers["pdf"] = _pdf_text(path)
    elif ext == ".sav":  # the researchers' scored panel: every value and label as SPSS reads them
        import pyreadstat
        df, meta = pyreadstat.read_sav(str(path))
        layers["sav"] = "\n".join([df.to_csv(index=False),
                                   json.dumps(meta.column_names_to_labels, ensure_ascii=False),
                                   json.dumps({k: {str(a): b for a, b in v.items()}
                                               for k, v in meta.variable_value_labels.items()})])
    else:
        pytest.fail(f"{path.name}: an output type this scan does not know; add it to _texts")
    return layers


def test_report_was_made_and_warned_about_the_default_key(report):
    assert report.code == 0, report.stderr
    line = next((x for x in report.stderr.splitlines() if "default key" in x), "")
    assert "MUT_EVAL_KEY" in line, report.stderr


def test_the_scan_reads_every_kind_of_output(report):
    """Guard against a vacuous scan: each kind of file is there and its layers are read."""
    kinds = {Path(name).suffix.lower() for name in report.layers}
    assert {".csv", ".json", ".xlsx", ".svg", ".png", ".pdf", ".docx"} <= kinds
    pdf = report.layers["report.pdf"]["pdf"]
    assert "mentee" in pdf.lower() and len(pdf) > 10_000
    xlsx = report.layers["results.xlsx"]["xml"]
    assert "outcome" in xlsx and "self_efficacy" in xlsx
    word = report.layers["report_research.docx"]["xml"]
    assert "mentee" in word.lower() and "<w:tbl>" in word


def test_the_scan_finds_identifiers_planted_in_each_layer(tmp_path):
    """Identifiers hidden where the raw bytes do not show them are found all the same."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, NameObject, TextStringObject

    fig = plt.figure(figsize=(1, 1))
    fig.savefig(tmp_path / "f.png", metadata={"Title": "SYN0001", "Description": "ä SYN0002"})
    plt.close(fig)
    assert _hits(_texts(tmp_path / "f.png")["png text chunks"], {"SYN0001", "SYN0002"}) == ["SYN0001", "SYN0002"]
    text = "x SYN00012 2004-03-15T00:00:00 15.03.2004, 15 March 2004 0.2004031512 20040316 March 16, 2004 Yfke Iwema"
    assert _hits(text, {"SYN0001", "2004-03-15", "15.03.2004", "15 March 2004", "20040315", "20040316",
                        "March 16, 2004", "Yfke Iwema", "Iwema"}) == [
        "15 March 2004", "15.03.2004", "2004-03-15", "20040316", "Iwema", "March 16, 2004", "SYN0001", "Yfke Iwema"]

    w = PdfWriter()
    page = w.add_blank_page(100, 100)
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 12 Tf 10 10 Td (SYN0003) Tj ET")
    page[NameObject("/Contents")] = w._add_object(content)
    page.compress_content_streams()
    w.add_metadata({NameObject("/Title"): TextStringObject("SYN0004")})
    with open(tmp_path / "f.pdf", "wb") as f:
        w.write(f)
    layers = _texts(tmp_path / "f.pdf")
    assert "SYN0003" not in layers["raw bytes"] and "SYN0003" in layers["pdf"]
    assert "SYN0004" in layers["pdf"]

    pd.DataFrame({"id": ["SYN0005"]}).to_excel(tmp_path / "f.xlsx", index=False)
    layers = _texts(tmp_path / "f.xlsx")
    assert "SYN0005" not in layers["raw bytes"] and "SYN0005" in layers["xml"]


def test_no_identifier_name_or_birth_date_in_any_output(report):
    leaks = []
    for name, layers in report.layers.items():
        for layer, text in layers.items():
            hits = _hits(text, report.needles)
            if hits:
                leaks.append(f"{name} ({layer}): {hits[:5]}")
    assert not leaks, "identifiers in the output:\n" + "\n".join(leaks)


# ---------------------------------------------------------------- the pseudonyms
def _hmac_sha256_by_hand(key: bytes, msg: bytes) -> str:
    """RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)), block size 64 for SHA-256."""
    key = hashlib.sha256(key).digest() if len(key) > 64 else key
    key = key.ljust(64, b"\x00")
    inner = hashlib.sha256(bytes(k ^ 0x36 for k in key) + msg).digest()
    return hashlib.sha256(bytes(k ^ 0x5C for k in key) + inner).hexdigest()


def test_pseudonym_is_hmac_sha256_rfc4231_vector():
    # RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?"
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert _hmac_sha256_by_hand(b"Jefe", b"what do ya want for nothing?") == expected
    assert pseudonym("what do ya want for nothing?", "Jefe") == "P" + expected[:12]


def test_pseudonym_by_hand_for_a_known_id():
    assert pseudonym("SYN0001", DEFAULT_KEY) == "P" + _hmac_sha256_by_hand(DEFAULT_KEY.encode(), b"SYN0001")[:12]
    assert pseudonym("ŞÜKRÜ-01", "k") == "P" + _hmac_sha256_by_hand(b"k", "ŞÜKRÜ-01".encode("utf-8"))[:12]
    assert pseudonym("SYN0001", "another key") != pseudonym("SYN0001", DEFAULT_KEY)


def test_panel_carries_only_pseudonyms_and_the_key_changes_them(monkeypatch):
    clean = validate_study(EXAMPLE)
    ids = clean.students["student_id"].tolist()
    monkeypatch.delenv("MUT_EVAL_KEY", raising=False)
    default = build_panel(clean)
    monkeypatch.setenv("MUT_EVAL_KEY", "a-secret-of-our-own")
    keyed = build_panel(clean)
    assert default.default_key and not keyed.default_key
    assert set(default.students.index) == {pseudonym(i, DEFAULT_KEY) for i in ids}
    assert set(keyed.students.index) == {pseudonym(i, "a-secret-of-our-own") for i in ids}
    assert not set(default.students.index) & set(keyed.students.index)
    for panel in (default, keyed):
        frames = [panel.students, panel.long, panel.matches, panel.qsort, *panel.items.values()]
        for df in frames:
            cells = set(df.astype(str).to_numpy().ravel()) | set(df.index.astype(str))
            assert not cells & set(ids), "a school identifier is still in the panel"


def test_a_key_in_study_yaml_silences_the_warning_and_is_not_written_out(tmp_path):
    study = tmp_path / "study"
    shutil.copytree(EXAMPLE, study)
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg["pseudonym_key"] = "hush-hush-4471"
    cfg["analysis"].update(moderators=["same_gender"], prespecified_moderators=[])   # fast
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    code, err = _run(["analyze", str(study), "--out", str(tmp_path / "out"), "--bootstrap", "0"],
                     {"MUT_EVAL_KEY": None})
    assert code == 0, err
    assert "default key" not in err
    # the hash of the file holding the key is an offline oracle for guessing it: never shown
    raw_hash = hashlib.sha256((study / "study.yaml").read_bytes()).hexdigest()
    for path in (p for p in (tmp_path / "out").rglob("*") if p.is_file()):
        for layer, text in _texts(path).items():
            assert "hush-hush-4471" not in text, f"the pseudonym key is in {path.name} ({layer})"
            assert raw_hash not in text, f"sha256(study.yaml with the key) is in {path.name} ({layer})"
