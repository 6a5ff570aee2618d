"""Every case of the bad-input corpus (tests/bad_inputs/cases.yaml) through `mut-eval validate`
and `mut-eval analyze`: the expected exit code, the expected file/row/column/value
fragments on stderr, never a traceback, nothing written on failure, inputs untouched."""
import hashlib
import importlib.util
from pathlib import Path

import pytest
import yaml

from mut_eval.cli import main

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("make_corpus", HERE / "bad_inputs" / "make_corpus.py")
corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(corpus)

MANIFEST = yaml.safe_load(corpus.MANIFEST.read_text(encoding="utf-8"))
CASES = MANIFEST["cases"]


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _check(expect: dict, code: int, out: str, err: str, what: str) -> None:
    shown = f"\n--- {what}: exit {code}\nstdout:\n{out[:3000]}\nstderr:\n{err[:3000]}"
    assert "Traceback" not in out + err, shown
    assert "internal error" not in err, shown
    assert code == expect["exit"], shown
    for frag in expect.get("stderr", []):
        assert frag in err, f"expected {frag!r} on stderr" + shown
    for frag in expect.get("stdout", []):
        assert frag in out, f"expected {frag!r} on stdout" + shown
    if "max_line" in expect:
        longest = max((len(line) for line in err.splitlines()), default=0)
        assert longest <= expect["max_line"], f"a line of {longest} characters on stderr" + shown
    if code == 2:
        assert err.strip(), "exit 2 without a message" + shown


def test_manifest_is_generated_from_make_corpus():
    assert corpus.MANIFEST.read_text(encoding="utf-8") == corpus.dump(corpus.build_manifest()), \
        "cases.yaml is stale: run python tests/bad_inputs/make_corpus.py"
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 40
    assert all(c["what"] and c["edits"] and c["expect"]["exit"] in (0, 2) for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, tmp_path, capsys):
    study = tmp_path / "study"
    corpus.materialise(case, study, base=MANIFEST.get("base_edits", []))
    before = _hashes(study)

    code = main(["validate", str(study)])
    out, err = capsys.readouterr()
    _check(case["expect"], code, out, err, "validate")

    # stdout differs between the commands ("usable — ..." against "wrote ..."): its fragments
    # are for validate; exit code and stderr fragments hold for analyze unless it has its own.
    expect = case.get("analyze", {**case["expect"], "stdout": []})
    target = tmp_path / "out"
    code = main(["analyze", str(study), "--out", str(target), "--bootstrap", "0"])
    out, err = capsys.readouterr()
    _check(expect, code, out, err, "analyze")
    if code == 0:
        assert (target / "results.json").is_file()
    else:
        assert not target.exists(), "output written although the analysis failed"
    assert sorted(p.name for p in tmp_path.iterdir()) == (["out", "study"] if code == 0 else ["study"]), \
        "temporary output left behind"
    assert _hashes(study) == before, "an input file was modified"


# ---------------------------------------------------------------- beyond the study folder
def _study(tmp_path) -> Path:
    return corpus.materialise({"edits": []}, tmp_path / "study", base=MANIFEST["base_edits"])


@pytest.mark.parametrize("where", ["the study", "its parent", "a folder of other files", "a file"])
def test_output_folder_that_would_destroy_data_is_refused(where, tmp_path, capsys):
    study = _study(tmp_path)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "thesis.docx").write_bytes(b"months of work")
    (tmp_path / "out.txt").write_text("not a folder")
    out = {"the study": study, "its parent": tmp_path, "a folder of other files": tmp_path / "notes",
           "a file": tmp_path / "out.txt"}[where]
    before = _hashes(tmp_path)
    assert main(["analyze", str(study), "--out", str(out), "--bootstrap", "0"]) == 2
    err = capsys.readouterr().err
    assert "--out" in err and "Traceback" not in err
    assert _hashes(tmp_path) == before


def test_a_locked_file_is_named(tmp_path, capsys, monkeypatch):
    """Excel on Windows locks the file it has open: reading it raises PermissionError."""
    import builtins

    study = _study(tmp_path)
    real_open = builtins.open

    def locked_open(file, *a, **kw):
        if Path(str(file)).name == "wave_T2.csv":
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)
    monkeypatch.setattr(builtins, "open", locked_open)
    assert main(["validate", str(study)]) == 2
    err = capsys.readouterr().err
    assert "wave_T2.csv" in err and "open in another program" in err and "Traceback" not in err
