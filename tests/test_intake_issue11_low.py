"""Issue 11 (low): a blank MUT_EVAL_KEY, min_answered as a word and a scale label given as a
plain string end in a clear message (exit 2), not an internal error."""
import yaml

from mut_eval.cli import main


def test_blank_key_is_refused(study, capsys, monkeypatch):
    monkeypatch.setenv("MUT_EVAL_KEY", "   ")
    code = main(["analyze", str(study), "--out", str(study.parent / "out"), "--bootstrap", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "MUT_EVAL_KEY" in err and "only spaces" in err and "internal error" not in err


def _own_codebook(study, edit):
    from mut_eval.intake.codebook import default_codebook_path
    cb = yaml.safe_load(default_codebook_path().read_text(encoding="utf-8"))
    edit(cb)
    (study / "codebook.yaml").write_text(yaml.safe_dump(cb, allow_unicode=True), encoding="utf-8")
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg["codebook"] = "codebook.yaml"
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def test_min_answered_word(study, capsys):
    _own_codebook(study, lambda cb: cb.__setitem__("min_answered", "most"))
    code = main(["validate", str(study)])
    err = capsys.readouterr().err
    assert code == 2 and "min_answered" in err and "'most'" in err and "internal error" not in err


def test_label_as_string(study, capsys):
    _own_codebook(study, lambda cb: cb["scales"]["self_efficacy"].__setitem__("label", "Zelfvertrouwen"))
    code = main(["validate", str(study)])
    err = capsys.readouterr().err
    assert code == 2 and "self_efficacy" in err and "label" in err and "internal error" not in err
