"""Statistical disclosure control: the staff view of a :class:`~mut_eval.results.Results`.

Everything programme staff read — the PDF report and the staff edition of
``results.xlsx`` — is made from :func:`staff_view`; the researchers' CSV and JSON keep
every number. The rule, as implemented (Hundepool et al., *Statistical Disclosure
Control*, Wiley 2012, ch. 5 "Frequency tables": threshold rule §5.2, group disclosure
through zeros §5.2, secondary suppression §5.4; the same rules as the CBS/Eurostat
*Handbook on Statistical Disclosure Control*, 2010):

1. **Primary suppression.** A count of 1 to ``min_cell − 1`` pupils is shown as
   ``"<min_cell"``. A zero is treated the same way when it discloses an attribute of a
   group: a level of a pupil characteristic (sample table) with 0 pupils in one condition
   while the other condition has pupils at that level tells a reader that every pupil with
   that characteristic is in the other group (group disclosure). A level empty in both
   conditions is a structural zero and is shown.
2. **Statistics go with their counts.** Every statistic computed from a suppressed cell
   is blanked with it: per table, :data:`RULES` declares the count columns and the
   statistics that derive from each (percentage, mean, SD, test statistic, p, Cohen's h,
   expected counts, effect sizes, attrition rates).
3. **Complementary (secondary) suppression.** The counts of one report are cells linked
   by additive equations (a margin = the sum of its parts): enrolled = responded at a
   wave + missing at that wave; enrolled = the levels of a characteristic (+ the pupils
   whose value is unknown); enrolled = analysed in a contrast + lost; the same quantity in
   two tables is one cell. Whenever a suppressed cell (or a small group that is not printed
   but follows from printed counts, such as the non-respondents of a wave) could be
   computed from printed cells, the smallest printed part of that equation is suppressed
   too (shown as ``"x"``, the CBS sign for "secret"), until no suppressed cell follows from
   what is printed. When a margin itself is hidden, the percentages computed on it are
   blanked, since a count and its percentage give the margin back.
4. **Comparisons with a small group are not shown.** When fewer than ``min_cell`` pupils
   of a condition are enrolled or scored on an outcome, the comparisons of that outcome
   (ANOVA, DiD, g, baseline equivalence, attrition, DiD by characteristic) are withheld
   from staff; :func:`small_groups` lists them with the reason and the report says why.
5. Statistics in the staff workbook are rounded to :data:`STAFF_DECIMALS` decimals, as
   printed in the report: full-precision means and percentages allow a reader to recover
   a hidden count from the arithmetic (e.g. n·mean must be a multiple of 1/k for a k-item
   scale).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from . import CONDITIONS, WAVES
from .privacy import is_small

SECONDARY = "x"
STAFF_DECIMALS = 3
ROW = "*"   # every numeric column of the row that is not itself a count


def primary_label(min_cell: int) -> str:
    return f"<{int(min_cell)}"


def is_suppressed(v) -> bool:
    """True for a cell the staff view has replaced by a suppression label."""
    return isinstance(v, str) and (v == SECONDARY or bool(re.fullmatch(r"<\d+", v)))


@dataclass(frozen=True)
class Rule:
    """Which columns of a table are counts, and which statistics derive from each.

    ``counts``: count column → the statistics of that count's group (``ROW`` = all
    numeric columns of the row), blanked when the group is small. ``reveals``: count
    column → statistics that give the count itself back with a printed margin
    (percentages, rates), blanked whenever the count is hidden. ``joint``: statistics
    computed from all the counts of the row (tests, effect sizes, expected counts):
    blanked when any count of the row is hidden."""
    counts: dict
    joint: tuple = ()
    reveals: dict = field(default_factory=dict)


RULES: dict[str, Rule] = {
    "flow": Rule({"n": ()}),
    "sample": Rule({"mentee_n": ("mentee_value", "mentee_sd"), "control_n": ("control_value", "control_sd"),
                    "mentee_total": (), "control_total": ()},
                   joint=("statistic", "df", "p", "std_diff", "min_expected"),
                   reveals={"mentee_n": ("mentee_value",), "control_n": ("control_value",)}),
    "descriptives": Rule({"n": ("mean", "sd")}),
    "reliability": Rule({"n": ROW}),
    "moderation": Rule({"n": ROW}),
    "moderation_skipped": Rule({"n": ()}),
    "conditional_effects": Rule({"n_level": ROW}),
    "did_by_moderator": Rule({"n_level": ROW, "n_level_mentee": ROW, "n_level_control": ROW, "n_students": ROW}),
    "interaction_contrasts": Rule({"n": ROW}),
    # df2 and the pair M, chi2 (chi2 = (1 - c1) M) are functions of the group sizes and give
    # them back; F and p (printed rounded) do not, and stay.
    "box_m": Rule({"n_mentee": (), "n_control": ()}, joint=("box_m", "chi2", "chi2_p", "df2")),
    "lmm_emm": Rule({"n": ROW}),
    "lmm_fixed": Rule({"n_students": ROW}),
    "did": Rule({"n_students": ROW, "n_t1": ROW}),
    "did_adjusted": Rule({"n_students": ROW, "n_t1": ROW}),
    "baseline_equivalence": Rule({"n_mentee": ("mean_mentee",), "n_control": ("mean_control",)},
                                 joint=("g_baseline",)),
    "attrition": Rule({"enrolled_mentee": (), "enrolled_control": (), "analytic_mentee": (),
                       "analytic_control": ()}, joint=("overall", "differential"),
                      reveals={"analytic_mentee": ("attrition_mentee",), "analytic_control": ("attrition_control",),
                               "enrolled_mentee": ("attrition_mentee",),
                               "enrolled_control": ("attrition_control",)}),
    "qsort_summary": Rule({"n": ROW}, joint=("mean_rank", "sd_rank")),
    "small_groups": Rule({"n": ()}),
    # reach per school (stats.implementation): the medians describe the matched mentees; a
    # share gives its count back with the margin it is computed on, and the margin with the count
    "implementation": Rule({"pupils": (), "mentees": (), "controls": (),
                            "matched": ("sessions_planned", "sessions_attended", "sessions_attended_share"), "never_started": (),
                            "attended_75": (), "individual": (), "group": ()},
                           reveals={"attended_75": ("attended_75_share",), "matched": ("attended_75_share",)}),
}
# Pupil-level rows: which file row was excluded and why; never for staff.
RESEARCH_ONLY = ("accounting",)
# Comparisons of the conditions on one outcome (withheld when a condition is small).
COMPARISONS = ("mixed_anova", "interaction_contrasts", "box_m", "did", "did_adjusted", "baseline_equivalence",
               "attrition", "did_by_moderator", "lmm_emm", "lmm_fixed", "icc", "did_robustness", "sensitivity")
# Comparisons of the conditions on all pupils at once (withheld when a condition is small).
STUDY_COMPARISONS = ("balance", "weights_summary", "propensity_overlap")


def small_balance_rows(balance: pd.DataFrame, weights_summary: pd.DataFrame | None, min_cell: int) -> pd.Series:
    """True for the binary rows of ``balance`` whose level (or its complement) is held by
    fewer than ``min_cell`` pupils in either group: its proportions would give the count
    back. Group sizes come from ``weights_summary`` (the pupils in the balance table)."""
    if weights_summary is None or balance is None or not len(balance):
        return pd.Series(False, index=getattr(balance, "index", None), dtype=bool)
    n = dict(zip(weights_summary["condition"].astype(str), pd.to_numeric(weights_summary["n"], errors="coerce")))
    binary = balance["type"].astype(str) == "binary"
    small = pd.Series(False, index=balance.index)
    for cond, col in (("mentee", "mean_mentee"), ("control", "mean_control")):
        share = pd.to_numeric(balance[col], errors="coerce")
        count = (share * n.get(cond, np.nan)).round()
        small |= (count < min_cell) | ((n.get(cond, np.nan) - count) < min_cell)
    return binary & small


def _rule(name: str, df: pd.DataFrame) -> Rule | None:
    rule = RULES.get(name)
    if name == "qsort_summary" and rule is not None:
        ranks = {c: () for c in df.columns if re.fullmatch(r"rank_\d+", str(c))}
        rule = replace(rule, counts={**rule.counts, **ranks})
    return rule


# ---------------------------------------------------------------- cells and equations

@dataclass
class Cells:
    """The counts of one report as cells: value, where each is printed, and the additive
    equations between them (``total = sum(parts)``)."""
    value: dict = field(default_factory=dict)
    places: dict = field(default_factory=dict)        # key -> [(table, row index, column)]
    sensitive: set = field(default_factory=set)
    equations: list = field(default_factory=list)     # (total key, [part keys])
    protected: set = field(default_factory=set)       # margins chosen last as complements
    published_meta: set = field(default_factory=set)  # cells printed in the text (meta counts)

    def add(self, key, value, place=None):
        if key not in self.value:
            self.value[key] = value
        if place is not None:
            self.places.setdefault(key, []).append(place)

    def published(self, key) -> bool:
        return bool(self.places.get(key)) or key in self.published_meta


def _num(v) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def _link_flow(cells: Cells, tables: dict) -> None:
    f = tables.get("flow")
    if f is None or not {"condition", "stage", "n"} <= set(f.columns):
        return
    stages: dict = {}
    for i, (c, s, n) in enumerate(f[["condition", "stage", "n"]].itertuples(index=False)):
        key = ("enrolled", str(c)) if str(s) == "enrolled" else ("flow", str(c), str(s))
        cells.add(key, _num(n), ("flow", i, "n"))
        stages.setdefault(str(c), []).append(key)
    for c, keys in stages.items():
        if ("enrolled", c) not in cells.value:
            continue
        for k in keys:
            if k[0] == "flow":
                # the pupils who did not reach this stage: printed by the flow chart as "missing"
                miss = ("flow_missing", c, k[2])
                cells.add(miss, cells.value[("enrolled", c)] - cells.value[k])
                if k[2].startswith("responded_T"):
                    cells.places.setdefault(miss, []).append(("flow", None, "missing"))
                cells.equations.append((("enrolled", c), [k, miss]))


def _link_sample(cells: Cells, tables: dict) -> None:
    s = tables.get("sample")
    if s is None or not {"characteristic", "level", "mentee_n", "control_n"} <= set(s.columns):
        return
    for char, rows in s.groupby(s["characteristic"].astype(str), sort=False):
        lv = rows["level"].astype(str)
        if (lv == "mean").any():       # age: pupils with a known age, and those without
            for c in CONDITIONS:
                i = rows.index[lv == "mean"][0]
                known = ("sample", char, "known", c)
                cells.add(known, _num(rows.at[i, f"{c}_n"]), ("sample", i, f"{c}_n"))
                if f"{c}_total" in rows.columns:
                    cells.places[known].append(("sample", i, f"{c}_total"))
                _unknown_part(cells, char, c, known)
            continue
        levels = rows[~lv.isin(["all"])]
        for c in CONDITIONS:
            other = next(o for o in CONDITIONS if o != c)
            parts = []
            for i, r in levels.iterrows():
                key = ("sample", char, str(r["level"]), c)
                v = _num(r[f"{c}_n"])
                cells.add(key, v, ("sample", i, f"{c}_n"))
                # a zero facing pupils of that level in the other group: group disclosure
                if v == 0 and _num(r[f"{other}_n"]) > 0:
                    cells.sensitive.add(key)
                parts.append(key)
            total = ("sample", char, "known", c)
            if f"{c}_total" in levels.columns and len(levels):
                tv = _num(levels[f"{c}_total"].iloc[0])
                cells.add(total, tv)
                for i in rows.index:
                    cells.places.setdefault(total, []).append(("sample", i, f"{c}_total"))
                shown = sum(cells.value[k] for k in parts)
                rest = ("sample", char, "rest", c)       # the levels not shown (e.g. boys and 'other')
                cells.add(rest, tv - shown)
                r_other = (_num(levels[f"{other}_total"].iloc[0])
                           - pd.to_numeric(levels[f"{other}_n"], errors="coerce").sum()
                           if f"{other}_total" in levels.columns else math.nan)
                if tv - shown == 0 and r_other > 0:
                    cells.sensitive.add(rest)
                # levels that cover everyone (both groups): the rest is a known, structural zero
                cells.equations.append((total, parts if tv - shown == 0 and r_other == 0 else parts + [rest]))
                _unknown_part(cells, char, c, total)


def _unknown_part(cells: Cells, char: str, c: str, known) -> None:
    """enrolled = pupils with a known value + pupils whose value is unknown."""
    if ("enrolled", c) not in cells.value or known == ("enrolled", c):
        return
    unk = ("sample", char, "missing", c)
    cells.add(unk, cells.value[("enrolled", c)] - cells.value[known])
    cells.equations.append((("enrolled", c), [known, unk]))


def _link_descriptives(cells: Cells, tables: dict) -> None:
    d = tables.get("descriptives")
    if d is None or not {"outcome", "condition", "wave", "n"} <= set(d.columns):
        return
    sample = d["sample"].astype(str) if "sample" in d.columns else pd.Series("available", index=d.index)
    for i, r in d.iterrows():
        o, c, w = str(r["outcome"]), str(r["condition"]), str(r["wave"])
        if sample[i] == "completers":
            key = ("flow", c, f"completers_{o}")
        else:
            key = ("scored", o, c, w)
        cells.add(key, _num(r["n"]), ("descriptives", i, "n"))
        if ("enrolled", c) in cells.value and key[0] == "scored":
            miss = ("not_scored", o, c, w)
            cells.add(miss, cells.value[("enrolled", c)] - cells.value[key])
            if (("enrolled", c), [key, miss]) not in cells.equations:
                cells.equations.append((("enrolled", c), [key, miss]))


def _link_completers(cells: Cells, tables: dict) -> None:
    """The completers of each outcome and condition, printed again by Box's M (``box_m``)."""
    b = tables.get("box_m")
    if b is None or "outcome" not in b.columns:
        return
    for i, r in b.iterrows():
        for c in CONDITIONS:
            if f"n_{c}" in b.columns:
                cells.add(("flow", c, f"completers_{r['outcome']}"), _num(r[f"n_{c}"]), ("box_m", i, f"n_{c}"))


def _link_analytic(cells: Cells, tables: dict) -> None:
    """Pupils analysed in a contrast (both waves scored): attrition and baseline equivalence."""
    for name, cols in (("attrition", {c: f"analytic_{c}" for c in CONDITIONS}),
                       ("baseline_equivalence", {c: f"n_{c}" for c in CONDITIONS})):
        t = tables.get(name)
        if t is None or not {"outcome", "contrast", *cols.values()} <= set(t.columns):
            continue
        for i, r in t.iterrows():
            for c, col in cols.items():
                key = ("analytic", str(r["outcome"]), str(r["contrast"]), c)
                cells.add(key, _num(r[col]), (name, i, col))
                if name == "attrition" and f"enrolled_{c}" in t.columns:
                    cells.add(("enrolled", c), _num(r[f"enrolled_{c}"]), (name, i, f"enrolled_{c}"))
                if ("enrolled", c) in cells.value:
                    lost = ("lost", str(r["outcome"]), str(r["contrast"]), c)
                    cells.add(lost, cells.value[("enrolled", c)] - cells.value[key])
                    eq = (("enrolled", c), [key, lost])
                    if eq not in cells.equations:
                        cells.equations.append(eq)


RESPONSE = tuple(c for w in WAVES for c in (f"responded_{w}", f"response_{w}"))


def _link_implementation(cells: Cells, tables: dict) -> None:
    """Reach per school (``implementation``): a column's schools add up to its ``all`` row;
    within a row pupils = mentees + controls, and each count with the pupils it leaves out
    (mentees not matched, matched mentees who started, below 75% attendance or of another
    format, pupils who did not respond) — unpublished parts, sensitive when small; a part
    that is 0 is left out of its equation, as a reader would take it to be 0. The ``all``
    row's mentees and controls are the flow's enrolled pupils. Response is not printed for
    staff (:data:`RESPONSE`; the flow chart gives it per condition): its non-respondents,
    one or two per school, would take most of the table with them."""
    t = tables.get("implementation")
    if t is None or "school" not in t.columns:
        return
    schools = t["school"].astype(str)

    def key(school, col):
        if school == "all" and col in ("mentees", "controls"):
            return ("enrolled", CONDITIONS[0] if col == "mentees" else CONDITIONS[1])
        return ("impl", school, col)
    for i, school in schools.items():
        for col in RULES["implementation"].counts:
            if col in t.columns and col not in RESPONSE:
                cells.add(key(school, col), _num(t.at[i, col]), ("implementation", i, col))

        def part(total, shown, name):
            rest = ("impl", school, name)
            cells.add(rest, cells.value[key(school, total)] - sum(cells.value[key(school, c)] for c in shown))
            cells.equations.append((key(school, total), [key(school, c) for c in shown]
                                    + ([rest] if cells.value[rest] != 0 else [])))
        cells.equations.append((key(school, "pupils"), [key(school, "mentees"), key(school, "controls")]))
        part("mentees", ["matched"], "not_matched")
        part("matched", ["never_started"], "started")
        part("matched", ["attended_75"], "below_75")
        part("matched", ["individual", "group"], "format_unknown")
    for col in RULES["implementation"].counts:
        if col in t.columns and col not in RESPONSE and (schools == "all").any():
            cells.equations.append((key("all", col), [key(sc, col) for sc in schools if sc != "all"]))


def report_cells(tables: dict, meta: dict, min_cell: int) -> Cells:
    """The linked count cells of one report (flow, sample, means, attrition, baseline
    equivalence and the group sizes in the text) with their equations."""
    cells = Cells()
    for c in CONDITIONS:
        v = _num((meta or {}).get(f"n_{c}"))
        if math.isfinite(v):
            cells.add(("enrolled", c), v)
            cells.published_meta.add(("enrolled", c))
            cells.protected.add(("enrolled", c))
    _link_flow(cells, tables)
    _link_sample(cells, tables)
    _link_descriptives(cells, tables)
    _link_completers(cells, tables)
    _link_analytic(cells, tables)
    _link_implementation(cells, tables)
    for k, v in cells.value.items():
        if is_small(v, min_cell):
            cells.sensitive.add(k)
    return cells


def derivable(cells: Cells, hidden: set) -> dict:
    """Cells a reader can compute from the printed ones by adding and subtracting along the
    equations (repeatedly): ``{cell: equation index used}``; printed cells map to None."""
    known = {k: None for k in cells.value if cells.published(k) and k not in hidden}
    changed = True
    while changed:
        changed = False
        for j, (total, parts) in enumerate(cells.equations):
            members = [total, *parts]
            unknown = [m for m in members if m not in known]
            if len(unknown) == 1:
                known[unknown[0]] = j
                changed = True
    return known


def secondary_suppression(cells: Cells) -> tuple[set, set]:
    """(primary, secondary): the printed sensitive cells, and the printed cells hidden as
    well so that no sensitive cell can be derived (greedy: the smallest printed part of the
    equation that gives a sensitive cell away, margins last)."""
    primary = {k for k in cells.sensitive if cells.published(k)}
    secondary: set = set()
    for _ in range(len(cells.value) + 1):
        known = derivable(cells, primary | secondary)
        leaks = [k for k in cells.sensitive if k in known]
        if not leaks:
            break
        # the printed cells of the equation that gives the leak; when it holds none (its other
        # members were derived in turn), those of the equations that derived them
        options, seen, todo = [], {leaks[0]}, [leaks[0]]
        while todo and not options:
            nxt = []
            for cell in todo:
                total, parts = cells.equations[known[cell]]
                for m in (*parts, total):
                    if m in seen:
                        continue
                    seen.add(m)
                    if cells.published(m) and m not in primary | secondary:
                        options.append(m)
                    elif known.get(m) is not None:
                        nxt.append(m)
            todo = nxt
        if not options:
            raise RuntimeError(f"disclosure: no complementary cell for {leaks[0]}")  # cannot happen: leak needs one
        # margins and zeros last: hiding a zero of a level empty in both groups protects little
        secondary.add(min(options, key=lambda m: (m in cells.protected, cells.value[m] == 0, cells.value[m],
                                                  str(m))))
    return primary, secondary


# ---------------------------------------------------------------- small comparison groups

def small_groups(tables: dict, meta: dict, min_cell: int) -> pd.DataFrame:
    """Outcomes whose comparison involves a group of fewer than ``min_cell`` pupils: a
    condition with fewer enrolled, or fewer scored at a wave, or fewer completers.
    Columns ``outcome, condition, what, n, reason``; ``outcome`` '*' means every outcome."""
    rows = []
    for c in CONDITIONS:
        n = _num((meta or {}).get(f"n_{c}"))
        if is_small(n, min_cell):
            rows.append({"outcome": "*", "condition": c, "what": "enrolled", "n": n})
    d = tables.get("descriptives")
    if d is not None and {"outcome", "condition", "n"} <= set(d.columns):
        for (o, c), g in d.groupby([d["outcome"].astype(str), d["condition"].astype(str)], sort=False):
            n = pd.to_numeric(g["n"], errors="coerce").min()
            if is_small(n, min_cell):
                rows.append({"outcome": o, "condition": c, "what": "scored", "n": n})
    out = pd.DataFrame(rows, columns=["outcome", "condition", "what", "n"])
    out["reason"] = [f"fewer than {min_cell} {c} pupils {'enrolled' if w == 'enrolled' else 'scored at a wave'}: "
                     "comparisons withheld from staff" for c, w in zip(out["condition"], out["what"])]
    return out.astype({"n": float})


def withheld_outcomes(tables: dict, meta: dict, min_cell: int) -> set:
    """Outcomes whose comparisons are withheld from staff ('*' = all)."""
    sg = small_groups(tables, meta, min_cell)
    return set(sg["outcome"].astype(str))


# ---------------------------------------------------------------- the staff view

def _blank_row_stats(out: pd.DataFrame, table: pd.DataFrame, i, cols, counts) -> None:
    if cols == ROW:
        cols = [c for c in table.columns if c not in counts and pd.api.types.is_numeric_dtype(table[c])]
    for c in cols:
        if c in out.columns:
            out.at[i, c] = None


def _suppress_rows(name: str, table: pd.DataFrame, out: pd.DataFrame, min_cell: int, hidden: dict) -> None:
    """Primary suppression of each count, the linked cells' labels, and the statistics."""
    rule = _rule(name, table)
    counts = [c for c in rule.counts if c in table.columns]
    for i in table.index:
        any_hidden = False
        for c in counts:
            label = hidden.get((i, c))
            if label is None and is_small(table.at[i, c], min_cell):
                label = primary_label(min_cell)
            if label is None:
                continue
            out.at[i, c] = label
            any_hidden = True
            _blank_row_stats(out, table, i, rule.reveals.get(c, ()), counts)
            if label != SECONDARY:     # a secondarily hidden count has its own, large group
                _blank_row_stats(out, table, i, rule.counts[c], counts)
        if any_hidden:
            _blank_row_stats(out, table, i, [j for j in rule.joint], counts)


def staff_view(results, min_cell: int | None = None):
    """The staff edition of ``results`` (see the module docstring for the rule).

    Count cells become ``"<min_cell"`` (primary) or ``"x"`` (complementary), statistics of
    a suppressed group become missing, comparisons involving a small group are removed
    (listed in ``meta['withheld']``), pupil-level tables are dropped, and ``meta`` counts
    follow the same rule. ``meta['disclosure']`` says what was done."""
    from .results import Results
    meta = dict(getattr(results, "meta", {}) or {})
    mc = int(min_cell if min_cell is not None else meta.get("min_cell", 10) or 10)
    tables = {k: v for k, v in results.tables.items() if k not in RESEARCH_ONLY}
    cells = report_cells(tables, meta, mc)
    primary, secondary = secondary_suppression(cells)
    where: dict = {}
    for key in primary | secondary:
        for t, i, col in cells.places.get(key, []):
            if i is not None:
                where.setdefault(t, {})[(i, col)] = primary_label(mc) if key in primary else SECONDARY
    out_tables = {}
    for name, df in tables.items():
        out = df.astype(object).copy()
        if _rule(name, df) is not None:
            _suppress_rows(name, df, out, mc, where.get(name, {}))
        else:
            from .privacy import suppress_small_cells
            out = suppress_small_cells(df, mc)
        out_tables[name] = out
    impl = out_tables.get("implementation")
    if impl is not None and "school" in impl.columns:
        impl.loc[:, [c for c in RESPONSE if c in impl.columns]] = None
    # a hidden margin: the percentages computed on it would give it back
    s = out_tables.get("sample")
    if s is not None:
        for key in secondary | primary:
            if key[0] == "sample" and key[2] == "known":
                rows = s.index[s["characteristic"].astype(str) == key[1]]
                s.loc[rows, f"{key[3]}_value"] = None
                s.loc[rows, ["statistic", "p", "std_diff", "min_expected", "df"]] = None
            if key[0] == "sample" and key[2] not in ("known", "rest", "missing"):
                s.loc[s["characteristic"].astype(str) == key[1], "min_expected"] = None
                s.loc[(s["characteristic"].astype(str) == key[1]) & (s["level"].astype(str) == "all"),
                      ["statistic", "p", "df"]] = None
    # comparisons with a small group: withheld from staff
    withheld = small_groups(tables, meta, mc)
    gone = set(withheld["outcome"].astype(str))
    for name in COMPARISONS:
        t = out_tables.get(name)
        if t is None or "outcome" not in t.columns:
            continue
        out_tables[name] = t.iloc[0:0] if "*" in gone else t[~t["outcome"].astype(str).isin(gone)]
    for name in STUDY_COMPARISONS:
        if name in out_tables and "*" in gone:
            out_tables[name] = out_tables[name].iloc[0:0]
    if "balance" in out_tables and len(out_tables["balance"]):
        b = tables["balance"]
        out_tables["balance"] = out_tables["balance"][~small_balance_rows(b, tables.get("weights_summary"), mc)]
    for name in ("descriptives",):
        t = out_tables.get(name)
        if t is not None and len(withheld):
            small = set(zip(withheld["outcome"], withheld["condition"]))
            keep = [not ((o, c) in small or ("*", c) in small)
                    for o, c in zip(t["outcome"].astype(str), t["condition"].astype(str))]
            out_tables[name] = t[keep]
    # the text's group sizes follow the cells
    for c in CONDITIONS:
        key = ("enrolled", c)
        if key in primary:
            meta[f"n_{c}"] = primary_label(mc)
        elif key in secondary:
            meta[f"n_{c}"] = SECONDARY
    # what the flow chart may print as "missing" per condition and stage: the number, the
    # primary label, or nothing (when it would give a hidden count back)
    hidden = primary | secondary
    flow_missing: dict = {}
    for k in cells.value:
        if k[0] == "flow_missing" and k[2].startswith("responded_T"):
            stage = ("flow", k[1], k[2])
            label = (primary_label(mc) if k in primary else None if k in secondary or stage in hidden
                     else cells.value[k])
            flow_missing.setdefault(k[1], {})[k[2]] = label
    meta["flow_missing"] = flow_missing
    meta["withheld"] = withheld.drop(columns=["n"]).to_dict("records")
    meta["disclosure"] = {"min_cell": mc, "primary": len(primary), "secondary": len(secondary)}
    return Results(tables=out_tables, meta=meta)


def round_for_staff(df: pd.DataFrame, decimals: int = STAFF_DECIMALS) -> pd.DataFrame:
    """Floats rounded to what the report prints (integers and labels untouched)."""
    out = df.copy()
    for c in out.columns:
        out[c] = [round(v, decimals) if isinstance(v, (float, np.floating)) and math.isfinite(v) else v
                  for v in out[c]]
    return out


__all__ = ["staff_view", "small_groups", "report_cells", "secondary_suppression", "derivable", "RULES",
           "SECONDARY", "primary_label", "is_suppressed", "round_for_staff", "WAVES"]
