"""What cannot be estimated is skipped with its reason and said (issue 11 items 7-8,
issue 10 item 8): a constant outcome (every IM01-IM04 answer 4 at every wave) no longer
crashes the ANOVA; a prespecified moderation whose moderator is constant stays in the
report's table as 'niet te schatten'; skipped analyses are listed on the command line
and in the report."""
import contextlib
import io
import json

import pandas as pd
import pytest
import yaml

from mut_eval.cli import main

from conftest import read_csv_text, write_csv_text


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    import shutil
    from conftest import EXAMPLE
    root = tmp_path_factory.mktemp("skipped")
    study = root / "study"
    shutil.copytree(EXAMPLE, study)
    for w in ("T1", "T2", "T3"):
        t = read_csv_text(study / f"wave_{w}.csv")
        for c in ("IM01", "IM02", "IM03", "IM04"):
            t[c] = "4"
        write_csv_text(t, study / f"wave_{w}.csv")
    m = read_csv_text(study / "matches.csv")
    m["sessions_attended"] = "8"
    m["sessions_planned"] = "10"
    write_csv_text(m, study / "matches.csv")
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg["analysis"].update(moderators=["age", "sessions_attended"], prespecified_moderators=[
        {"outcome": "self_efficacy", "change": "T2-T1", "moderator": "sessions_attended"}])
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    out = root / "out"
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["report", str(study), "--out", str(out), "--bootstrap", "0"])
    doc = json.loads((out / "report_research_data.json").read_text(encoding="utf-8")) if code == 0 else {}
    return code, err.getvalue(), out, json.dumps(doc, ensure_ascii=False)


def test_constant_outcome_is_skipped_with_its_reason(run):
    code, err, out, text = run
    assert code == 0, err
    skipped = pd.read_csv(out / "tables" / "skipped_outcomes.csv")
    assert skipped["outcome"].tolist() == ["intrinsic_motivation"]
    assert "same" in skipped["reason"].iloc[0]
    anova = pd.read_csv(out / "tables" / "mixed_anova.csv")
    assert "intrinsic_motivation" not in set(anova["outcome"]) and anova["outcome"].nunique() == 5
    assert "Niet geanalyseerd" in text and "intrinsieke motivatie (alle scores zijn gelijk" in text


def test_prespecified_test_that_cannot_be_estimated_is_listed(run):
    code, err, out, text = run
    doc = json.loads(text)
    rows = [r for s in doc["sections"] for b in s["blocks"] if b.get("type") == "table"
            and "Moderatie" in b.get("caption", "") for r in b["rows"] if isinstance(r, list)]
    hit = [r for r in rows if "niet te schatten" in r]
    assert len(hit) == 1 and hit[0][-1] == "ja"        # the one prespecified test, marked as such
    assert "is niet te schatten: de moderator varieert niet" in text


def test_skipped_analyses_are_said_on_the_command_line_and_in_the_report(run):
    code, err, out, text = run
    assert "skipped outcome(s), not analysed: intrinsic_motivation" in err
    line = next(x for x in err.splitlines() if "moderation analyses (mentees)" in x)
    assert "sessions_attended" in line and "moderator has no variance" in line
    assert "Niet geschat wegens te weinig variatie of gegevens:" in text
