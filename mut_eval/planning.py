"""Planning the next cohort from earlier results: the design parameters of
:mod:`mut_eval.stats.power` read from a results folder (``mut-eval analyze STUDY --out
OUT``) or a programme results folder (one results folder per cohort under
``OUT/cohorts/<cohort>/``), and the plan's one sentence for the report (nl/en).

What is read, and how it is pooled (every value is the median over the outcomes of all
cohorts, so one odd outcome or year does not set the plan):

- ``icc`` — ``tables/icc.csv`` column ``icc_class`` (the correlation of two pupils of
  one class, school variance included; :func:`mut_eval.stats.icc.icc_table`), and
  ``icc_school`` from column ``icc_school``;
- ``r2`` — the squared pooled within-condition correlation of the T1 and T3 scores
  (T2 when there is no T3) of the pupils with both, per outcome, from
  ``data/panel_long.csv``; the pretest's R² in the ANCOVA of the post-test. Without that
  file: ρ² with ρ = σ²_student / (σ²_student + σ²_resid) of the pupil-level mixed model in
  ``tables/lmm_fixed.csv`` (the compound-symmetry correlation of two waves);
- ``r2_cluster`` — not estimable from a handful of classes; set equal to ``r2``, which
  is conservative: class-level pretest R² are usually higher than pupil-level ones
  (Bloom, Richburg-Hayes & Black 2007, *Educ. Eval. Policy Anal.* 29:30, table 4);
- ``attrition`` — column ``overall`` of ``tables/attrition.csv`` for contrast T3-T1
  (the WWC overall attrition); without it 1 − responded_all_waves / enrolled from
  ``tables/flow.csv``;
- ``class_size`` — the median number of pupils per class at T1 in ``data/panel_long.csv``.

Only counts, correlations and variance shares are read; no pupil identifier leaves
this module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from . import StudyError
from .report.format import num

__all__ = ["DesignParameters", "parameters_from_results", "plan_sentence"]


@dataclass
class DesignParameters:
    """Parameters read from earlier results (None: not available) and one note per value
    saying where it came from."""

    icc: float | None = None
    icc_school: float | None = None
    r2: float | None = None
    r2_cluster: float | None = None
    attrition: float | None = None
    class_size: float | None = None
    cohorts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _results_folders(path: Path) -> list[tuple[str, Path]]:
    if not path.exists():
        raise StudyError(f"--from {path}: no such file or folder")
    if not path.is_dir():
        raise StudyError(f"--from {path}: not a folder; give a results folder written by "
                         "`mut-eval analyze STUDY --out OUT` or `mut-eval programme PROGRAMME --out OUT`")
    if (path / "tables" / "icc.csv").is_file():
        return [(path.name, path)]
    cohorts = sorted(p.parent.parent for p in path.glob("cohorts/*/tables/icc.csv"))
    if cohorts:
        return [(p.name, p) for p in cohorts]
    if (path / "programme.yaml").is_file():
        raise StudyError(f"--from {path}: a programme folder without results; run `mut-eval programme "
                         f"{path} --out OUT` first and give --from OUT")
    if (path / "study.yaml").is_file() or any(path.glob("students.*")):
        raise StudyError(f"--from {path}: a study folder without results; run `mut-eval analyze "
                         f"{path} --out OUT` first and give --from OUT")
    raise StudyError(f"--from {path}: no tables/icc.csv and no cohorts/*/tables/icc.csv in this folder "
                     "(the ICC table is written by `mut-eval analyze` when classes are known)")


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise StudyError(f"{path}: cannot be read as CSV ({e})") from None


def _numbers(df: pd.DataFrame, path: Path, column: str, low: float, high: float) -> pd.Series:
    """The column as floats; a value that is not a number in [low, high] (empty allowed) is an error."""
    if column not in df.columns:
        raise StudyError(f"{path}: column {column!r} is missing (columns: {', '.join(map(str, df.columns))})")
    values = pd.to_numeric(df[column], errors="coerce")
    bad = (values.isna() & df[column].notna()) | ~(values.isna() | values.between(low, high))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise StudyError(f"{path}: row {i + 2}, column {column}: value {df[column].iloc[i]!r} is not a "
                         f"number from {low:g} to {high:g}")
    return values.dropna()


def _pre_post_r2(panel: pd.DataFrame, path: Path) -> list[float]:
    need = {"student_id", "condition", "wave", "outcome", "score"}
    if not need <= set(panel.columns):
        raise StudyError(f"{path}: columns {sorted(need - set(panel.columns))} are missing")
    panel = panel.assign(score=pd.to_numeric(panel["score"], errors="coerce"))
    post = "T3" if (panel["wave"] == "T3").any() else "T2"
    out = []
    for _, d in panel.groupby("outcome", sort=False):
        w = d.pivot_table(index=["student_id", "condition"], columns="wave", values="score", aggfunc="first")
        if "T1" not in w or post not in w:
            continue
        w = w[["T1", post]].dropna().reset_index()
        if len(w) < 10:
            continue
        # pooled within-condition: centre each condition on its own means
        c = w[["T1", post]] - w.groupby("condition")[["T1", post]].transform("mean")
        r = float(np.corrcoef(c["T1"], c[post])[0, 1]) if c.std().min() > 0 else math.nan
        if math.isfinite(r):
            out.append(r * r)
    return out


def parameters_from_results(path: str | Path) -> DesignParameters:
    """ICC, pre-post R², attrition and class size from a results folder or a programme
    results folder (``cohorts/*/``); see the module docstring for the definitions."""
    path = Path(path)
    folders = _results_folders(path)
    p = DesignParameters(cohorts=[c for c, _ in folders])
    icc, icc_s, r2, attr, sizes = [], [], [], [], []
    r2_from, attr_from = set(), set()
    for _, f in folders:
        t = _read(f / "tables" / "icc.csv")
        icc += list(_numbers(t, f / "tables" / "icc.csv", "icc_class", 0, 1))
        if "icc_school" in t.columns:
            icc_s += list(_numbers(t, f / "tables" / "icc.csv", "icc_school", 0, 1))
        panel_file = f / "data" / "panel_long.csv"
        lmm_file = f / "tables" / "lmm_fixed.csv"
        if panel_file.is_file():
            panel = _read(panel_file)
            r2 += _pre_post_r2(panel, panel_file)
            r2_from.add("the T1–T3 correlation in data/panel_long.csv")
            t1 = panel[(panel["wave"] == "T1")] if {"wave", "school", "class"} <= set(panel.columns) else None
            if t1 is not None and len(t1):
                sizes += list(t1.drop_duplicates(["student_id"]).groupby(["school", "class"]).size())
        elif lmm_file.is_file():
            lm = _read(lmm_file)
            if "model" in lm.columns and (lm["model"] == "lmm_pupil").any():
                lm = lm[lm["model"] == "lmm_pupil"]
            s = _numbers(lm.drop_duplicates("outcome"), lmm_file, "sigma2_student", 0, math.inf)
            e = _numbers(lm.drop_duplicates("outcome"), lmm_file, "sigma2_resid", 0, math.inf)
            rho = (s / (s + e)).dropna()
            r2 += list(rho ** 2)
            r2_from.add("σ²_student/(σ²_student+σ²_resid) in tables/lmm_fixed.csv")
        att_file, flow_file = f / "tables" / "attrition.csv", f / "tables" / "flow.csv"
        if att_file.is_file():
            a = _read(att_file)
            if "contrast" in a.columns:
                a = a[a["contrast"].astype(str) == "T3-T1"] if (a["contrast"] == "T3-T1").any() else a
            attr += list(_numbers(a.reset_index(drop=True), att_file, "overall", 0, 1))
            attr_from.add("column overall (T3-T1) of tables/attrition.csv")
        elif flow_file.is_file():
            fl = _read(flow_file)
            n = _numbers(fl, flow_file, "n", 0, math.inf)
            st = fl.loc[n.index, "stage"].astype(str)
            enrolled, kept = n[st == "enrolled"].sum(), n[st == "responded_all_waves"].sum()
            if enrolled > 0 and (st == "responded_all_waves").any():
                attr.append(1 - kept / enrolled)
                attr_from.add("1 − responded_all_waves/enrolled in tables/flow.csv")
    k = len(folders)
    where = f"{k} cohort{'s' if k > 1 else ''} in {path}"
    if icc:
        p.icc = float(np.median(icc))
        p.notes.append(f"icc = {p.icc:.3f}: median icc_class over {len(icc)} outcome × cohort values ({where})")
    if icc_s:
        p.icc_school = min(float(np.median(icc_s)), p.icc if p.icc is not None else 1.0)
        p.notes.append(f"icc_school = {p.icc_school:.3f}: median icc_school ({where})")
    if r2:
        p.r2 = p.r2_cluster = float(np.median(r2))
        p.notes.append(f"r2 = {p.r2:.3f}: median over outcomes of the squared pre-post correlation "
                       f"({'; '.join(sorted(r2_from))}); r2_cluster set equal to it (class-level pretest "
                       "R² are usually higher, so this is conservative)")
    else:
        p.notes.append("r2: no pre-post correlation in these results (no data/panel_long.csv or "
                       "tables/lmm_fixed.csv); the default or --r2 is used")
    if attr:
        p.attrition = float(np.median(attr))
        p.notes.append(f"attrition = {p.attrition:.3f}: median of {'; '.join(sorted(attr_from))}")
    else:
        p.notes.append("attrition: no attrition or flow table in these results; the default or --attrition is used")
    if sizes:
        p.class_size = float(math.floor(np.median(sizes) + 0.5))  # whole pupils
        p.notes.append(f"class_size = {p.class_size:g}: median pupils per class at T1 in data/panel_long.csv, rounded")
    return p


_UNITS = {
    "nl": {"class": ("klas", "klassen"), "pupil": ("leerling", "leerlingen"),
           "partial": ("mentorgroep", "mentorgroepen"), "school": ("school", "scholen")},
    "en": {"class": ("class", "classes"), "pupil": ("pupil", "pupils"),
           "partial": ("mentor group", "mentor groups"), "school": ("school", "schools")},
}


def _n(x: float, one: str, many: str) -> str:
    x = int(round(float(x)))
    return f"{x} {one if x == 1 else many}"


def _sample(row, lang: str) -> str:
    """'34 klassen van 25 leerlingen', '5 scholen met elk 8 klassen van 25 leerlingen', ..."""
    u = _UNITS[lang]
    d, J, n = row["design"], row["classes"], row["class_size"]
    of = " van " if lang == "nl" else " of "
    classes = _n(J, *u["class"]) + of + _n(n, *u["pupil"])
    if d == "school":
        each = " met elk " if lang == "nl" else " with "
        return _n(row["schools"], *u["school"]) + each + classes + ("" if lang == "nl" else " each")
    if d == "pupil":
        return _n(row["pupils"], *u["pupil"]) + f" ({classes})"
    if d == "partial":
        groups = _n(J, *u["partial"]) + of + _n(n, *u["pupil"])
        n_c = row["pupils"] - J * n
        control = ("controleleerling", "controleleerlingen") if lang == "nl" else ("control pupil", "control pupils")
        return groups + (" en " if lang == "nl" else " and ") + _n(n_c, *control)
    return classes


def plan_sentence(row, language: str = "nl") -> str:
    """The plan in one sentence, e.g. "Om een effect van g = 0,20 te kunnen aantonen (power
    80%, α = 5%) zijn 34 klassen van 25 leerlingen nodig." ``row`` is a row (Series or
    dict) of :func:`mut_eval.stats.power.plan`; its ``solved`` column picks the sentence."""
    lang = "en" if language == "en" else "nl"
    if language not in ("nl", "en"):
        raise StudyError(f"--language = {language!r}: must be nl or en")
    g = num(row["mdes"], 2, lang)
    pw = num(100 * row["power"], 0, lang) + "%"
    a = num(100 * row["alpha"], 0 if round(100 * row["alpha"], 6).is_integer() else 1, lang) + "%"
    sample = _sample(row, lang)
    attr = row.get("attrition", 0) or 0
    loss = ""
    if attr > 0:
        loss = (f", bij {num(100 * attr, 0, lang)}% uitval" if lang == "nl"
                else f", allowing for {num(100 * attr, 0, lang)}% attrition")
    solved = row["solved"]
    if lang == "nl":
        if solved == "classes":
            return f"Om een effect van g = {g} te kunnen aantonen (power {pw}, α = {a}{loss}) zijn {sample} nodig."
        if solved == "mdes":
            return (f"Met {sample} is het kleinste effect dat met power {pw} (α = {a}{loss}) kan worden "
                    f"aangetoond g = {g}.")
        return f"Met {sample} is de kans om een effect van g = {g} aan te tonen (α = {a}{loss}) {pw}."
    if solved == "classes":
        return f"To detect an effect of g = {g} (power {pw}, α = {a}{loss}), {sample} are needed."
    if solved == "mdes":
        return f"With {sample}, the smallest effect that can be detected with {pw} power (α = {a}{loss}) is g = {g}."
    return f"With {sample}, the power to detect an effect of g = {g} (α = {a}{loss}) is {pw}."
