"""Disclosure control of what staff read (issue 11 items 1-2, issue 15 item 4).

An attacker holds the PDF (its flow chart and text) and the staff edition of
results.xlsx, and knows how the tables are built: enrolled = responded at a wave +
missing; enrolled = the levels of a characteristic (+ unknown); a percentage is
100·n/total. The attack below writes those relations down independently of mut_eval,
takes every printed count as known, and asks, for every small group (1..9 pupils, or a
disclosive zero), whether some combination of additions and subtractions of printed
counts gives it back: a hidden cell x_i is determined exactly when the unit vector e_i
lies in the row space of the equations restricted to the hidden cells (every integer
combination of the equations is such a row). It must recover nothing, on the example
and on a copy of it with a control group of 3.
"""
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mut_eval.analysis import run_analysis

from conftest import EXAMPLE, read_csv_text, write_csv_text

MC = 10
LABEL = re.compile(r"^(<\d+|x)$")


def _fast(study: Path) -> None:
    cfg = yaml.safe_load((study / "study.yaml").read_text(encoding="utf-8"))
    cfg["analysis"].update(moderators=["age", "gender"], prespecified_moderators=[], staff_edition=True)
    (study / "study.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def small_control_copy(dst: Path, keep: int = 3) -> Path:
    """The example with only its first ``keep`` control pupils (rows of the others dropped)."""
    shutil.copytree(EXAMPLE, dst)
    s = read_csv_text(dst / "students.csv")
    drop = set(s.loc[s["condition"] == "control", "student_id"].tolist()[keep:])
    write_csv_text(s[~s["student_id"].isin(drop)], dst / "students.csv")
    for w in ("T1", "T2", "T3"):
        t = read_csv_text(dst / f"wave_{w}.csv")
        write_csv_text(t[~t["student_id"].isin(drop)], dst / f"wave_{w}.csv")
    return dst


@pytest.fixture(scope="module", params=["example", "control_of_3"])
def run(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(request.param)
    study = root / "study"
    if request.param == "example":
        shutil.copytree(EXAMPLE, study)
    else:
        small_control_copy(study)
    _fast(study)
    out = root / "out"
    run_analysis(study, out, bootstrap=0, report=True)
    return request.param, out


# ---------------------------------------------------------------- what the attacker sees

def flow_chart(out: Path) -> dict:
    """{(condition, stage): printed n or label} and {(condition, stage): printed missing}
    read from the flow chart's text (boxes drawn mentee, control, row by row)."""
    texts = [t.replace("&lt;", "<") for t in re.findall(r"<!-- (.*?) -->", (out / "figures" / "flow.svg")
                                                          .read_text(encoding="utf-8"), re.S)]
    ns = [t for t in texts if t.startswith("n = ")]
    stages = ["enrolled", "responded_T1", "responded_T2", "responded_T3", "responded_all_waves"]
    n, miss = {}, {}
    for k, t in enumerate(ns):
        cond, stage = ("mentee", "control")[k % 2], stages[k // 2]
        m = re.match(r"n = (\S+)(?:\s+\((?:ontbrak|missing): (\S+)\))?", t)
        n[(cond, stage)] = m.group(1)
        if m.group(2):
            miss[(cond, stage)] = m.group(2)
    comp = [t for t in texts if ":" in t and not t.startswith(("n = ", "Alle", "All"))]
    return n, miss, comp


def staff_sheet(out: Path, name: str) -> pd.DataFrame:
    return pd.read_excel(out / "results.xlsx", sheet_name=name, dtype=object)


def is_hidden(v) -> bool:
    return isinstance(v, str) and bool(LABEL.match(v))


def printed(v):
    if v is None or is_hidden(v):
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


class Attack:
    """Cells (true values from the researchers' CSV), which of them are printed, and the
    additive equations between them."""

    def __init__(self):
        self.true, self.known, self.eqs = {}, {}, []

    def cell(self, key, true, shown=None):
        self.true[key] = float(true)
        if shown is not None:
            self.known[key] = float(shown)

    def eq(self, total, parts):
        self.eqs.append((total, list(parts)))

    def recovered(self) -> set:
        """Every cell determined by the printed ones through the equations (with the
        percentage rule n = value·total/100 applied between rounds)."""
        keys = sorted(self.true, key=str)
        idx = {k: i for i, k in enumerate(keys)}
        rows = []
        for total, parts in self.eqs:
            r = np.zeros(len(keys))
            r[idx[total]] = 1
            for p in parts:
                r[idx[p]] -= 1
            rows.append(r)
        A = np.array(rows) if rows else np.zeros((0, len(keys)))
        known = set(self.known)
        while True:
            hidden = [k for k in keys if k not in known]
            cols = [idx[k] for k in hidden]
            sub = A[:, cols]
            rank = np.linalg.matrix_rank(sub) if sub.size else 0
            new = set()
            for j, k in enumerate(hidden):
                e = np.zeros((1, len(hidden)))
                e[0, j] = 1
                if sub.size and np.linalg.matrix_rank(np.vstack([sub, e])) == rank:
                    new.add(k)
            new |= self.percent_rule(known | new)
            if not new - known:
                return known
            known |= new

    percents: list = []

    def percent_rule(self, known: set) -> set:
        got = set()
        for target, source in self.percents:
            if source in known and target not in known:
                got.add(target)
        return got


def build_attack(out: Path) -> tuple[Attack, set]:
    """The attacker's equations over flow chart, sample table, means table and the text."""
    a = Attack()
    a.percents = []
    flow = pd.read_csv(out / "tables" / "flow.csv")
    truth = {(c, s): n for c, s, n in flow[["condition", "stage", "n"]].itertuples(index=False)}
    _, miss_shown, _ = flow_chart(out)
    sf = staff_sheet(out, "flow")
    n_shown = {(c, s): n for c, s, n in sf[["condition", "stage", "n"]].itertuples(index=False)}
    sensitive = set()
    for c in ("mentee", "control"):
        enrolled = truth[(c, "enrolled")]
        a.cell(("E", c), enrolled, printed(n_shown.get((c, "enrolled"))))
        for s in [s for (cc, s) in truth if cc == c and s != "enrolled"]:
            v = truth[(c, s)]
            a.cell(("F", c, s), v, printed(n_shown.get((c, s))))
            a.cell(("Fmiss", c, s), enrolled - v, printed(miss_shown.get((c, s))))
            a.eq(("E", c), [("F", c, s), ("Fmiss", c, s)])
            if 0 < enrolled - v < MC:
                sensitive.add(("Fmiss", c, s))
        if 0 < enrolled < MC:
            sensitive.add(("E", c))
    # the sample table
    full = pd.read_csv(out / "tables" / "sample.csv")
    staff = staff_sheet(out, "sample")
    for char, rows in full.groupby("characteristic", sort=False):
        srows = staff.loc[rows.index]
        for c in ("mentee", "control"):
            other = "control" if c == "mentee" else "mentee"
            if char == "age":
                i = rows.index[0]
                a.cell(("S", char, "known", c), rows.at[i, f"{c}_n"], printed(srows.at[i, f"{c}_n"]))
                a.cell(("S", char, "nodata", c), truth[(c, "enrolled")] - rows.at[i, f"{c}_n"])
                a.eq(("E", c), [("S", char, "known", c), ("S", char, "nodata", c)])
                continue
            lv = rows[rows["level"] != "all"]
            total = lv[f"{c}_total"].iloc[0]
            tkey = ("S", char, "total", c)
            a.cell(tkey, total, printed(srows.loc[lv.index, f"{c}_total"].iloc[0]))
            parts = []
            for i in lv.index:
                key = ("S", char, lv.at[i, "level"], c)
                a.cell(key, lv.at[i, f"{c}_n"], printed(srows.at[i, f"{c}_n"]))
                if printed(srows.at[i, f"{c}_value"]) is not None:
                    a.percents.append((key, tkey))
                    if printed(srows.at[i, f"{c}_n"]):       # n and % printed give the total
                        a.percents.append((tkey, key))
                parts.append(key)
                if 0 < lv.at[i, f"{c}_n"] < MC or (lv.at[i, f"{c}_n"] == 0 and lv.at[i, f"{other}_n"] > 0):
                    sensitive.add(key)
            rest = total - lv[f"{c}_n"].sum()
            a.cell(("S", char, "rest", c), rest, 0.0 if rest == 0 and char in ("ses", "origin") else None)
            a.eq(tkey, parts + [("S", char, "rest", c)])
            unknown = truth[(c, "enrolled")] - total
            a.cell(("S", char, "nodata", c), unknown)
            a.eq(("E", c), [tkey, ("S", char, "nodata", c)])
            if 0 < rest < MC:
                sensitive.add(("S", char, "rest", c))
            if 0 < unknown < MC:
                sensitive.add(("S", char, "nodata", c))
    # the means table: completers n is the flow's completers; available n per wave
    d = pd.read_csv(out / "tables" / "descriptives.csv")
    ds = staff_sheet(out, "descriptives")
    shown_d = {(o, s, c, w): printed(n) for o, s, c, w, n in
               ds[["outcome", "sample", "condition", "wave", "n"]].itertuples(index=False)}
    for o, s, c, w, n in d[["outcome", "sample", "condition", "wave", "n"]].itertuples(index=False):
        if s == "completers":
            key = ("F", c, f"completers_{o}")
            if shown_d.get((o, s, c, w)) is not None:
                a.known[key] = float(n)
        else:
            key = ("D", o, c, w)
            a.cell(key, n, shown_d.get((o, s, c, w)))
            a.cell(("Dmiss", o, c, w), truth[(c, "enrolled")] - n)
            a.eq(("E", c), [key, ("Dmiss", o, c, w)])
            if 0 < truth[(c, "enrolled")] - n < MC:
                sensitive.add(("Dmiss", o, c, w))
    # reach per school: the schools add up to 'all'; within a row pupils = mentees + controls,
    # mentees = matched + not matched, matched = never started + started = attended >= 75% +
    # below = individual + group + format unknown (a part that is 0 is taken as known)
    it = pd.read_csv(out / "tables" / "implementation.csv")
    ist = staff_sheet(out, "implementation")
    cols = ["pupils", "mentees", "controls", "matched", "never_started", "attended_75", "individual", "group"]

    def ikey(school, col):
        if school == "all" and col in ("mentees", "controls"):
            return ("E", "mentee" if col == "mentees" else "control")
        return ("I", school, col)
    for i in it.index:
        sch = str(it.at[i, "school"])
        for col in cols:
            a.cell(ikey(sch, col), it.at[i, col], printed(ist.at[i, col]))
            if 0 < it.at[i, col] < MC:
                sensitive.add(ikey(sch, col))
        for total, shown, name in (("pupils", ["mentees", "controls"], None),
                                   ("mentees", ["matched"], "not_matched"),
                                   ("matched", ["never_started"], "started"),
                                   ("matched", ["attended_75"], "below_75"),
                                   ("matched", ["individual", "group"], "format_unknown")):
            parts = [ikey(sch, c) for c in shown]
            if name is not None:
                rest = it.at[i, total] - sum(it.at[i, c] for c in shown)
                a.cell(("I", sch, name), rest, 0.0 if rest == 0 else None)
                parts.append(("I", sch, name))
                if 0 < rest < MC:
                    sensitive.add(("I", sch, name))
            a.eq(ikey(sch, total), parts)
    for col in cols:
        a.eq(ikey("all", col), [ikey(str(sc), col) for sc in it["school"] if str(sc) != "all"])
    # the text of both editions: "... 124 mentees and 66 controls"
    text = " ".join((out / f).read_text(encoding="utf-8") for f in ("report_data.json", "report_research_data.json"))
    for c, word in (("mentee", "mentees"), ("control", "leerlingen uit vergelijkingsklassen")):
        m = re.search(rf"(\d+) {word}", text)
        if m:
            a.known[("E", c)] = float(m.group(1))
    return a, sensitive


def test_no_small_group_can_be_recomputed_from_printed_counts(run):
    name, out = run
    attack, sensitive = build_attack(out)
    assert sensitive, "the fixture has no small group: the attack would prove nothing"
    # the attack works: with the researchers' numbers every small group follows
    naive = Attack()
    naive.true, naive.eqs, naive.percents = attack.true, attack.eqs, []
    for k in sensitive:     # each small group alone follows from the other numbers
        naive.known = {j: v for j, v in attack.true.items() if j != k}
        assert k in naive.recovered(), k
    got = attack.recovered() & sensitive
    assert not got, f"{name}: small groups recomputed from printed counts: " + \
        ", ".join(f"{k}={attack.true[k]:g}" for k in sorted(got, key=str))


def test_cohens_h_gives_the_count_back_so_it_goes_with_it(run):
    """Hand inversion of Cohen's h (h = 2·asin√p_m − 2·asin√p_c, Cohen 1988 ch. 6): with
    the mentee percentage, h and the control total, the control count is
    total·sin²(asin√p_m − h/2). On the researchers' table this recovers every small
    control count; in the staff sheet no row with a hidden count keeps h, p, the test
    statistic, the expected count or the percentage."""
    name, out = run
    full = pd.read_csv(out / "tables" / "sample.csv")
    cat = full[(full["level"] != "all") & (full["level"] != "mean")]
    small = cat[(cat["control_n"] > 0) & (cat["control_n"] < MC)]
    for r in small.itertuples():
        k = r.control_total * math.sin(math.asin(math.sqrt(r.mentee_value / 100)) - r.std_diff / 2) ** 2
        assert round(k) == r.control_n
    staff = staff_sheet(out, "sample")
    for i in staff.index:
        hidden = [c for c in ("mentee_n", "control_n") if is_hidden(staff.at[i, c])]
        if not hidden:
            continue
        for col in ("std_diff", "p", "statistic", "min_expected", *[f"{c.split('_')[0]}_value" for c in hidden]):
            assert printed(staff.at[i, col]) is None, f"{name}: sample row {i} keeps {col} with a hidden count"
        for c in hidden:
            if 0 < full.at[i, c] < MC:
                assert staff.at[i, c] == f"<{MC}"


def test_small_control_group_is_not_compared_for_staff(run):
    name, out = run
    doc = json.loads((out / "report_research_data.json").read_text(encoding="utf-8"))
    text = json.dumps(doc, ensure_ascii=False)
    captions = [b.get("caption", "") for s in doc["sections"] for b in s["blocks"] if b.get("type") == "table"]
    if name == "example":
        assert any("Verschil in verandering" in c for c in captions)
        return
    # researchers keep the numbers, marked
    did = pd.read_csv(out / "tables" / "did.csv")
    assert did["estimate"].notna().all()
    sg = pd.read_csv(out / "tables" / "small_groups.csv")
    assert set(sg["condition"]) == {"control"} and "withheld" in sg["reason"].iloc[0]
    # staff: no comparison, the reason, and no count below min_cell in a sentence
    assert not any("Verschil in verandering" in c or "Variantieanalyse" in c for c in captions)
    assert "minder dan 10 leerlingen met gegevens" in text
    assert not re.search(r"\b[1-9] (leerlingen|in de controlegroep)", text)
    assert not (out / "figures" / "forest.svg").exists()
    for sheet in ("did", "mixed_anova", "box_m"):
        assert staff_sheet(out, sheet).empty


def test_box_m_counts_follow_the_completers(run):
    # box_m prints the completers per condition again: hidden wherever the flow hides them, with
    # df2, M and chi2 (functions of the group sizes); F and p stay
    name, out = run
    if name != "example":
        return
    flow = staff_sheet(out, "flow").set_index(["condition", "stage"])["n"]
    box = staff_sheet(out, "box_m")
    assert len(box) == len(pd.read_csv(out / "tables" / "box_m.csv"))
    for r in box.to_dict("records"):
        for c in ("mentee", "control"):
            shown = flow.loc[(c, f"completers_{r['outcome']}")]
            assert str(r[f"n_{c}"]) == str(shown)
            if is_hidden(shown):
                assert all(printed(r[k]) is None for k in ("box_m", "chi2", "chi2_p", "df2"))
        assert printed(r["F"]) is not None and printed(r["p"]) is not None
