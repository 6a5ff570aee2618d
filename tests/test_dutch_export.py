"""Issue 10, "Done when": a realistic Dutch school export (tests/fixtures/dutch_export/,
written by tests/fixtures/make_dutch_export.py) goes through `mut-eval analyze` and
`mut-eval report` with only its study.yaml and exclusions.csv — no edited copies — and
its numbers equal an independent scoring of the raw files done here.

The reference is computed in this file from the raw files alone, read with pyreadstat,
openpyxl and csv (not mut_eval's readers), with the mapping written out by hand:
Dutch variable names -> scales, 9 -> missing, reverse coding from
data_schemas/instruments.yaml, the prorated mean (a score when >= 75% of the items are
answered), the most complete of a pupil's duplicate T2 rows, the exclusion.
"""
from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
import yaml

from mut_eval.cli import main

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "dutch_export"
WAVES = ("T1", "T2", "T3")

# ------------------------------------------------------------------ the mapping, by hand
# Dutch variable prefix -> scale of data_schemas/instruments.yaml; item i is the scale's i-th item
DUTCH_SCALES = {"ZE": "self_efficacy", "IM": "intrinsic_motivation", "EM": "extrinsic_motivation",
                "SV": "school_belonging", "HA": "help_seeking_academic", "NO": "help_seeking_network",
                "RK": "relationship_quality"}
CONDITION = {"Interventie": "mentee", "Controle": "control"}
MISSING_CODE = 9                              # study.yaml missing_codes: {wave: [9]}
EXCLUSION_REASON = "ouders hebben toestemming ingetrokken"
SURNAME_SAMPLE = ["Boukhari", "Kartosen", "Öztürk", "El Amrani", "Yilmaz"]   # Achternaam cells
MENTOR_NAMES = ["Chloë", "René", "Noëlle", "Anaïs", "Hélène"]                # Naam cells


def _instruments() -> dict:
    return yaml.safe_load((ROOT / "data_schemas" / "instruments.yaml").read_text(encoding="utf-8"))


def _pupil(v) -> str:
    """The pupil number as text of six digits (study.yaml ids: {pad: 6})."""
    if isinstance(v, float):
        v = int(v)
    return str(v).strip().zfill(6)


def _register() -> pd.DataFrame:
    ws = openpyxl.load_workbook(FIXTURE / "Leerlingregister.xlsx", read_only=True).active
    rows = list(ws.iter_rows(values_only=True))
    df = pd.DataFrame(rows[1:], columns=rows[0])
    df["student_id"] = df["Leerlingnummer"].map(_pupil)
    df["condition"] = df["Conditie"].map(CONDITION)
    df["gender"] = df["Geslacht"].map({"v": "girl", "m": "boy", "x": "other", "onbekend": "unknown", None: "unknown"})
    return df


def _excluded() -> dict[str, str]:
    with open(FIXTURE / "exclusions.csv", encoding="utf-8", newline="") as f:
        return {_pupil(r["student_id"]): r["reason"] for r in csv.DictReader(f)}


def _matches() -> list[dict]:
    with open(FIXTURE / "koppelingen.csv", encoding="cp1252", newline="") as f:
        return list(csv.DictReader(f, delimiter=";"))


def _wave(w: str) -> tuple[pd.DataFrame, list[int]]:
    """Scores per pupil at wave ``w`` (index student_id, one column per scale) and the
    case numbers of the duplicate rows left out (most complete row kept)."""
    raw, _meta = pyreadstat.read_sav(str(FIXTURE / f"Vragenlijst_{w}.sav"))
    inst = _instruments()
    items = [c for c in raw.columns if re.fullmatch(r"[A-Z]{2}_\d+", c)]
    answers = raw[items].where(raw[items] != MISSING_CODE)
    answers["student_id"] = raw["Leerlingnummer"].map(_pupil)
    answers["case"] = np.arange(len(raw)) + 1
    answers["n_answered"] = answers[items].notna().sum(axis=1)
    # duplicates: {wave_T2: most_complete} -- the row with the most answers (first on a tie)
    kept = answers.sort_values(["student_id", "n_answered", "case"], ascending=[True, False, True])
    dropped = sorted(kept.loc[kept["student_id"].duplicated(), "case"].tolist())
    kept = kept.drop_duplicates("student_id").set_index("student_id")
    scores = {}
    for prefix, scale in DUTCH_SCALES.items():
        spec = inst["scales"][scale]
        if w not in spec["waves"]:
            continue
        cols = [f"{prefix}_{i}" for i in range(1, len(spec["items"]) + 1)]
        x = kept[cols].astype(float).copy()
        lo, hi = inst["response"]["min"], inst["response"]["max"]
        for i, item in enumerate(spec["items"]):
            if item in spec["reverse"]:
                x[cols[i]] = lo + hi - x[cols[i]]
        share = x.notna().sum(axis=1) / len(cols)
        scores[scale] = x.mean(axis=1).where(share >= inst["min_answered"])
    return pd.DataFrame(scores), dropped


@pytest.fixture(scope="module")
def reference() -> dict:
    """The hand scoring: descriptives (available, completers), flow counts."""
    reg = _register()
    excluded = _excluded()
    reg = reg[~reg["student_id"].isin(excluded)]
    cond = dict(zip(reg["student_id"], reg["condition"]))
    outcomes = [k for k, s in _instruments()["scales"].items() if s["outcome"]]
    long, responded, dropped = [], {}, {}
    for w in WAVES:
        scores, dropped[w] = _wave(w)
        scores = scores[scores.index.isin(cond)]
        responded[w] = set(scores.index)
        for o in outcomes:
            s = scores[o].dropna()
            long.append(pd.DataFrame({"student_id": s.index, "condition": s.index.map(cond), "wave": w,
                                      "outcome": o, "score": s.to_numpy()}))
    long = pd.concat(long, ignore_index=True)
    n_waves = long.groupby(["outcome", "student_id"])["wave"].transform("nunique")
    rows = []
    for sample, d in (("available", long), ("completers", long[n_waves == 3])):
        for (o, c, w), g in d.groupby(["outcome", "condition", "wave"]):
            rows.append({"outcome": o, "sample": sample, "condition": c, "wave": w, "n": len(g),
                         "mean": g["score"].mean(), "sd": g["score"].std(ddof=1)})
    completers = {o: set(long.loc[(n_waves == 3) & (long["outcome"] == o), "student_id"]) for o in outcomes}
    matched = {_pupil(m["Leerlingnummer"]) for m in _matches()}
    return {"descriptives": pd.DataFrame(rows), "cond": cond, "responded": responded, "completers": completers,
            "dropped": dropped, "excluded": excluded, "register": reg, "matched": matched}


def _run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(scope="module")
def analysed(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("dutch") / "out"
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stderr(buf), contextlib.redirect_stdout(buf):
        code = main(["report", str(FIXTURE), "--out", str(out)])
    text = buf.getvalue()
    assert code == 0, f"mut-eval report on the Dutch export failed (exit {code}):\n{text}"
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return {"out": out, "log": text, "meta": res["meta"],
            "tables": {k: pd.DataFrame(v) for k, v in res["tables"].items()}}


# ------------------------------------------------------------------------------ the tests
def test_the_fixture_is_what_its_generator_writes(tmp_path):
    """The committed files are the generator's output (the data; SPSS and Excel stamp the
    time of writing into their files, so those are compared cell by cell)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("make_dutch_export", FIXTURE.parent / "make_dutch_export.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    fresh = gen.write(tmp_path / "again")
    assert sorted(p.name for p in fresh.iterdir()) == sorted(p.name for p in FIXTURE.iterdir())
    for p in FIXTURE.iterdir():
        q = fresh / p.name
        if p.suffix == ".sav":
            (a, ma), (b, mb) = pyreadstat.read_sav(str(p)), pyreadstat.read_sav(str(q))
            pd.testing.assert_frame_equal(a, b)
            assert ma.variable_value_labels == mb.variable_value_labels
        elif p.suffix == ".xlsx":
            cells = [list(openpyxl.load_workbook(f).active.iter_rows(values_only=True)) for f in (p, q)]
            assert cells[0] == cells[1]
        else:
            assert p.read_bytes() == q.read_bytes(), p.name


def test_the_fixture_is_a_real_export():
    """What issue 10 asks of the fixture, checked on the raw files."""
    raw, meta = pyreadstat.read_sav(str(FIXTURE / "Vragenlijst_T1.sav"))
    assert {"ZE_1", "ZE_9", "SV_18", "NO_10"} <= set(raw.columns) and "SE01" not in raw.columns
    assert meta.variable_value_labels["ZE_1"][1] == "helemaal niet mee eens"
    assert (raw.filter(regex=r"^[A-Z]{2}_\d+$") == MISSING_CODE).sum().sum() > 100   # the undeclared code
    assert not meta.missing_ranges and raw["Leerlingnummer"].dtype == float           # ids as numbers
    t2, _ = pyreadstat.read_sav(str(FIXTURE / "Vragenlijst_T2.sav"))
    assert t2["Leerlingnummer"].duplicated().sum() == 1
    reg = _register()
    assert "047311" in reg["Leerlingnummer"].tolist() and 47312 in reg["Leerlingnummer"].tolist()
    assert reg["Geslacht"].isna().sum() == 2
    assert re.fullmatch(r"\d{2}-\d{2}-\d{4}", reg["Geboortedatum"].iloc[0])
    assert {"Rapportcijfer gem.", "Achternaam"} <= set(reg.columns)
    for name in ("mentoren.csv", "koppelingen.csv"):
        assert (FIXTURE / name).read_bytes().split(b"\r\n")[0].count(b";") >= 5
    with pytest.raises(UnicodeDecodeError):   # Windows-1252, as Excel saves "CSV"
        (FIXTURE / "mentoren.csv").read_bytes().decode("utf-8")
    assert "ë" in (FIXTURE / "mentoren.csv").read_bytes().decode("cp1252")
    assert re.search(r";\d+,\d\n", (FIXTURE / "koppelingen.csv").read_text(encoding="cp1252"))   # decimal comma
    mentees = set(reg.loc[reg["condition"] == "mentee", "student_id"])
    assert len(mentees - {_pupil(m["Leerlingnummer"]) for m in _matches()}) == 1
    cfg = yaml.safe_load((FIXTURE / "study.yaml").read_text(encoding="utf-8"))
    assert {"ids", "missing_codes", "dates", "lists", "duplicates", "mentees_without_match", "variables"} <= set(cfg)


def test_validate_says_usable_and_what_it_repaired(capsys):
    code, text = _run(capsys, "validate", FIXTURE)
    assert code == 0, text
    assert "Achternaam" in text          # a name column: dropped, with a warning
    assert "Naam" in text                # the mentors' names likewise


def test_descriptives_equal_the_hand_scoring(analysed, reference):
    got = analysed["tables"]["descriptives"]
    want = reference["descriptives"]
    key = ["outcome", "sample", "condition", "wave"]
    merged = want.merge(got, on=key, how="outer", suffixes=("_want", "_got"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", key + ["_merge"]]
    assert (merged["n_want"] == merged["n_got"]).all()
    np.testing.assert_allclose(merged["mean_got"], merged["mean_want"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(merged["sd_got"], merged["sd_want"], rtol=0, atol=1e-10)


def test_flow_counts_equal_the_hand_count(analysed, reference):
    flow = analysed["tables"]["flow"].set_index(["condition", "stage"])["n"]
    cond = reference["cond"]
    for c in ("mentee", "control"):
        ids = {i for i, k in cond.items() if k == c}
        assert analysed["meta"][f"n_{c}"] == len(ids)
        for w in WAVES:
            assert flow[(c, f"responded_{w}")] == len(ids & reference["responded"][w]), (c, w)
        for o, done in reference["completers"].items():
            assert flow[(c, f"completers_{o}")] == len(ids & done), (c, o)


def test_exclusion_and_duplicate_are_accounted_for(analysed, reference):
    acc = analysed["tables"]["accounting"]
    assert acc["reason"].astype(str).str.contains(EXCLUSION_REASON, regex=False).sum() >= 1
    t2 = acc[acc["file"] == "Vragenlijst_T2.sav"]
    for case in reference["dropped"]["T2"]:
        row = t2[t2["row"] == case]
        assert len(row) == 1 and row["status"].iloc[0] == "excluded", t2.head()
    assert reference["dropped"]["T1"] == reference["dropped"]["T3"] == []


def test_mentee_without_match_stays_a_mentee(analysed, reference):
    """Intention to treat: the mentee with no match row is in the mentee group; the flow
    shows one mentee not matched and one who never started (0 sessions attended)."""
    mentees = {i for i, c in reference["cond"].items() if c == "mentee"}
    assert len(mentees - reference["matched"]) == 1
    flow = analysed["tables"]["flow"]
    stages = flow.loc[flow["condition"] == "mentee"].set_index("stage")["n"]
    not_matched = [s for s in stages.index if re.search(r"not_?matched|unmatched", s)]
    never = [s for s in stages.index if re.search(r"never_?started", s)]
    assert not_matched and stages[not_matched[0]] == 1, stages
    assert never and stages[never[0]] == 1, stages


def test_own_variables_are_moderators_and_covariates(analysed):
    mods = set(analysed["tables"]["moderation"]["moderator"])
    assert {"grade_avg", "contact_hours"} <= mods
    assert "did_adjusted" in analysed["tables"]


def test_blank_gender_is_unknown(analysed, reference):
    """The two blank Geslacht cells are read as unknown: Table 1 gives "% girls" among the
    pupils of known gender, so the group size minus that denominator is the unknowns."""
    sample = analysed["tables"]["sample"]
    girl = sample[(sample["characteristic"] == "gender") & (sample["level"] == "girl")].iloc[0]
    reg = reference["register"]
    for c in ("mentee", "control"):
        unknown = int(((reg["condition"] == c) & (reg["gender"] == "unknown")).sum())
        assert analysed["meta"][f"n_{c}"] - girl[f"{c}_total"] == unknown, c
    assert (reg["Geslacht"].isna()).sum() == 2


def test_report_written_and_no_pupil_or_name_in_any_output(analysed, reference):
    from test_privacy import _texts
    out = analysed["out"]
    assert (out / "report.pdf").stat().st_size > 10_000
    ids = set(reference["register"]["student_id"]) | {i.lstrip("0") for i in reference["register"]["student_id"]}
    needles = ids | set(SURNAME_SAMPLE) | set(MENTOR_NAMES)
    # one alternation for all needles: a search per needle per layer took minutes
    pattern = re.compile(r"(?<![\w.])(?:" + "|".join(map(re.escape, sorted(needles, key=len, reverse=True)))
                         + r")(?![\w.])")
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        # (the scan of test_privacy does not know SPSS files: their bytes are scanned here)
        layers = {"raw bytes": path.read_bytes().decode("latin-1")} if path.suffix == ".sav" else _texts(path)
        for layer, text in layers.items():
            found = sorted(set(pattern.findall(text)))
            assert not found, f"{path.relative_to(out)} ({layer}) holds {found[:5]}"
