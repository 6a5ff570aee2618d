"""The programme view: a programme's cohorts, year after year (issue 14).

A **programme folder** holds ``programme.yaml`` and one normal study folder per cohort::

    name: Mentoring Urban Talent
    language: nl
    cohorts:                       # in time order; `study` relative to this file
      - {cohort: 2019-2020, study: cohort_2019}
      - {cohort: 2020-2021, study: cohort_2020}
    targets:                       # optional, per cohort
      2020-2021: {matched: 150, sessions_attended_share: 0.75, response_T3: 0.8}

:func:`run_programme` analyses every cohort into ``OUT/cohorts/<cohort>/`` (a normal
results folder, as ``mut-eval analyze`` writes it) — reusing a cohort's earlier results
when its input files, the settings and mut_eval's version are unchanged — and writes the
programme tables (``cohort_effects``, ``pooled``, ``cumulative``, ``trend``,
``implementation``, ``targets``) and the programme report into ``OUT``.

Flow: programme.yaml → per cohort (cached) :func:`mut_eval.analysis.run_analysis` →
:func:`programme_tables` (pure: the cohorts' results in, tables out) → report.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import StudyError, WAVES, __version__

TARGET_MEASURES = ("pupils", "mentees", "matched", "sessions_attended", "sessions_attended_share",
                   "attended_75_share", *(f"response_{w}" for w in WAVES))
SHARES = ("sessions_attended_share", "attended_75_share", *(f"response_{w}" for w in WAVES))
_KNOWN = {"name", "language", "cohorts", "targets"}
#: the pooled row the report reads (see :func:`_pooled_both`)
REPORTED = "REML-KH-adhoc"


@dataclass(frozen=True)
class Cohort:
    cohort: str
    study: Path

    @property
    def slug(self) -> str:
        """The cohort's folder name under ``OUT/cohorts``."""
        return re.sub(r"[^A-Za-z0-9._-]+", "_", self.cohort).strip("_") or "cohort"

    @property
    def year(self) -> float:
        """The first year in the cohort's label (``2019-2020`` → 2019), for the trend."""
        m = re.search(r"(19|20)\d\d", self.cohort)
        return float(m.group(0)) if m else math.nan


@dataclass(frozen=True)
class Programme:
    folder: Path
    name: str
    language: str
    cohorts: tuple[Cohort, ...]
    targets: dict = field(default_factory=dict)   # cohort -> {measure: value}


def load_programme(folder: str | Path) -> Programme:
    """Read and check ``programme.yaml``; every problem raises :class:`StudyError` naming
    the file, the key and the value."""
    from .intake.io import load_yaml
    folder = Path(folder)
    if not folder.is_dir():
        raise StudyError(f"{folder}: programme folder not found (or not a folder)")
    path = folder / "programme.yaml"
    cfg = load_yaml(path, "programme file")
    if not isinstance(cfg, dict):
        raise StudyError(f"{path}: must be a mapping with name, language, cohorts (and optional targets)")
    unknown = sorted(set(map(str, cfg)) - _KNOWN)
    if unknown:
        raise StudyError(f"{path}: unknown setting(s) {', '.join(unknown)}; allowed: {', '.join(sorted(_KNOWN))}")
    language = str(cfg.get("language") or "nl")
    if language not in ("nl", "en"):
        raise StudyError(f"{path}: language: must be nl or en, not {language!r}")
    raw = cfg.get("cohorts")
    if not isinstance(raw, list) or not raw:
        raise StudyError(f"{path}: cohorts: give the cohorts in time order, each as {{cohort: 2019-2020, "
                         f"study: <study folder>}}")
    cohorts, seen = [], set()
    for i, c in enumerate(raw, start=1):
        if not isinstance(c, dict) or not c.get("cohort") or not c.get("study"):
            raise StudyError(f"{path}: cohorts, entry {i}: needs 'cohort' and 'study' (got {c!r})")
        extra = sorted(set(map(str, c)) - {"cohort", "study"})
        if extra:
            raise StudyError(f"{path}: cohorts, entry {i}: unknown key(s) {', '.join(extra)}; allowed: cohort, study")
        label = str(c["cohort"]).strip()
        if label in seen:
            raise StudyError(f"{path}: cohorts, entry {i}: cohort {label!r} is listed twice")
        seen.add(label)
        study = (folder / str(c["study"])).resolve()
        if not study.is_dir():
            raise StudyError(f"{path}: cohorts, entry {i} ({label}): study folder {c['study']!r} not found "
                             f"(looked in {folder / str(c['study'])})")
        cohorts.append(Cohort(label, study))
    slugs = [c.slug for c in cohorts]
    if len(set(slugs)) != len(slugs):
        raise StudyError(f"{path}: cohorts: two cohort labels give the same folder name ({', '.join(slugs)})")
    targets = {}
    for label, t in (cfg.get("targets") or {}).items():
        label = str(label)
        if label not in seen:
            raise StudyError(f"{path}: targets: {label!r} is not one of the cohorts ({', '.join(sorted(seen))})")
        if not isinstance(t, dict):
            raise StudyError(f"{path}: targets: {label}: must be a mapping of measure: value")
        clean = {}
        for k, v in t.items():
            if k not in TARGET_MEASURES:
                raise StudyError(f"{path}: targets: {label}: unknown measure {k!r}; allowed: "
                                 f"{', '.join(TARGET_MEASURES)}")
            try:
                x = float(v)
            except (TypeError, ValueError):
                raise StudyError(f"{path}: targets: {label}: {k}: {v!r} is not a number") from None
            if not math.isfinite(x) or x < 0 or (k in SHARES and x > 1):
                raise StudyError(f"{path}: targets: {label}: {k}: {v!r} is out of range "
                                 f"({'a share between 0 and 1' if k in SHARES else 'a count of 0 or more'})")
            clean[k] = x
        targets[label] = clean
    return Programme(folder=folder, name=str(cfg.get("name") or folder.name), language=language,
                     cohorts=tuple(cohorts), targets=targets)


# ---------------------------------------------------------------- running the cohorts

def input_fingerprint(study_dir: Path, overrides: dict) -> str:
    """One SHA-256 over every file the study reads (names and bytes), the overrides and
    mut_eval's version: the cohort is analysed again exactly when this changes. One digest
    of all the files together, not one per file, so it is no oracle for guessing a key or
    an identifier typed into study.yaml without holding every data file as well."""
    from .intake.study import load_study
    study = load_study(study_dir)
    files = [study.config_path, *(p for p in study.files.values() if p is not None)]
    files += [p for p in (study.codebook_path, study.exclusions) if p is not None]
    h = hashlib.sha256(f"mut_eval {__version__}\n{json.dumps(overrides, sort_keys=True)}\n".encode())
    for p in sorted({Path(p) for p in files if Path(p).is_file()}, key=lambda q: q.name):
        h.update(p.name.encode("utf-8") + b"\0" + hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _previous(out: Path) -> dict:
    """{slug: fingerprint} of the cohorts in an earlier programme output."""
    try:
        meta = json.loads((out / "results.json").read_text(encoding="utf-8"))["meta"]
        return {c["folder"]: c["fingerprint"] for c in meta.get("cohorts", [])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def run_programme(folder, out, *, bootstrap: int | None = None, seed: int | None = None,
                  lang: str | None = None, report: bool = True, log=None):
    """Analyse every cohort of a programme (reusing unchanged ones) and write the programme
    tables and, with ``report``, ``report.pdf``; returns the programme's
    :class:`~mut_eval.results.Results` (meta ``cohorts`` says which cohorts were reused)."""
    from .outfolder import atomic_dir, check_output_folder
    from .results import Results, write_results

    prog = load_programme(folder)
    if lang is not None and lang not in ("nl", "en"):
        raise StudyError(f"report language must be 'nl' or 'en', not {lang!r}")
    out = Path(out)
    check_output_folder(out, protect=(prog.folder, *(c.study for c in prog.cohorts)))
    overrides = {"bootstrap": bootstrap, "seed": seed}
    before = _previous(out)
    cohort_meta, todo = [], []
    with atomic_dir(out) as tmp:
        (tmp / "cohorts").mkdir()
        for c in prog.cohorts:
            fp = input_fingerprint(c.study, overrides)
            dest = tmp / "cohorts" / c.slug
            old = out / "cohorts" / c.slug
            reused = before.get(f"cohorts/{c.slug}") == fp and (old / "results.json").is_file()
            if reused:
                shutil.copytree(old, dest)
            else:
                todo.append((c, dest))
            cohort_meta.append({"cohort": c.cohort, "folder": f"cohorts/{c.slug}", "fingerprint": fp,
                                "reused": bool(reused)})
        _analyse_cohorts(todo, bootstrap, seed, log)
        cohort_results = {c.cohort: Results.read(tmp / "cohorts" / c.slug) for c in prog.cohorts}
        tables = programme_tables(prog, cohort_results)
        params = None
        try:
            from .planning import parameters_from_results
            params = parameters_from_results(tmp)
        except StudyError as e:     # e.g. no cohort has an ICC (no classes): say so, plan nothing
            if log is not None:
                log(f"planning: {e}")
        last = cohort_results[prog.cohorts[-1].cohort].meta.get("clustering", {}) or {}
        tables["plan"] = plan_table(params, last.get("n_classes"))
        meta = {"programme": prog.name, "language": prog.language, "cohorts": cohort_meta,
                "targets": prog.targets, "mut_eval_version": __version__,
                "min_cell": _min_cell(cohort_results),
                # where each planning value came from (the temporary folder named as OUT)
                "planning_parameters": [] if params is None else
                [n.replace(str(tmp), str(out)) for n in params.notes]}
        results = Results(tables=tables, meta=meta)
        write_results(results, tmp)
        if report:
            from .report.programme import build_programme_report
            build_programme_report(prog, results, cohort_results, tmp, lang=lang or prog.language)
    return results


def plan_table(params, n_classes_last=None, effect: float = 0.20, power: float = 0.80) -> pd.DataFrame:
    """Planning the next cohort (:func:`mut_eval.stats.power.plan`, PowerUp!) with the ICC,
    pre-post R², attrition and class size of the cohorts (:mod:`mut_eval.planning`): the
    classes (pupils) needed for g = ``effect`` at ``power`` when whole classes are assigned,
    as in the programme, and when pupils are; and the smallest detectable effect with the
    latest cohort's number of classes."""
    from .stats.power import plan
    if params is None or params.icc is None:
        return pd.DataFrame()
    common = dict(class_size=params.class_size or 25, r2=params.r2 or 0.0, attrition=params.attrition or 0.0)
    rows = [plan("class", mdes=effect, power=power, icc=params.icc, r2_cluster=params.r2_cluster or 0.0, **common),
            plan("pupil", mdes=effect, power=power, **common)]
    if n_classes_last and n_classes_last >= 4:
        rows.append(plan("class", classes=int(n_classes_last), power=power, icc=params.icc,
                         r2_cluster=params.r2_cluster or 0.0, **common))
    return pd.concat(rows, ignore_index=True)


def _analyse_one(study: Path, dest: Path, bootstrap, seed, label: str, verbose: bool) -> None:
    """One cohort, in a worker process (BLAS on one thread: the workers share the cores)."""
    import sys

    from threadpoolctl import threadpool_limits

    from .analysis import run_analysis
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if verbose else None
    if log is not None:
        log(f"cohort {label}: analysing {study.name}")
    with threadpool_limits(limits=1):
        try:
            run_analysis(study, dest, bootstrap=bootstrap, seed=seed, report=False, log=log)
        except StudyError as e:     # as a plain StudyError: subclasses with other arguments do not unpickle
            raise StudyError(str(e)) from None


def _analyse_cohorts(todo: list, bootstrap, seed, log) -> None:
    """Analyse the changed cohorts, two at a time on a machine with two or more cores
    (each cohort's analysis is seeded, so the order changes nothing)."""
    import os
    from concurrent.futures import ProcessPoolExecutor

    from . import progress
    progress.stage("cohorts analysed", total=len(todo))
    workers = min(len(todo), os.cpu_count() or 1, 4)
    if workers <= 1:
        for c, dest in todo:
            try:
                _analyse_one(c.study, dest, bootstrap, seed, c.cohort, log is not None)
            except StudyError as e:
                raise StudyError(f"cohort {c.cohort} ({c.study.name}): {e}") from None
            progress.advance()
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [(c, pool.submit(_analyse_one, c.study, dest, bootstrap, seed, c.cohort, log is not None))
                   for c, dest in todo]
        for c, f in futures:
            try:
                f.result()      # a cohort's StudyError arrives here, as without the pool
            except StudyError as e:
                raise StudyError(f"cohort {c.cohort} ({c.study.name}): {e}") from None
            progress.advance()


def _min_cell(cohort_results: dict) -> int:
    return max(int(r.meta.get("min_cell", 10) or 10) for r in cohort_results.values())


# ---------------------------------------------------------------- programme tables (pure)

def cohort_effects(cohort: str, results) -> pd.DataFrame:
    """The cohort's DiD of the primary model as effect sizes for the meta-analysis:
    ``yi`` = its g (contract ``did.g``, Hedges' small-sample factor ω applied) and ``vi``
    = (ω·se/s)² + g²/(2·n_T1), the model's sampling variance of the estimate scaled by the
    pooled T1 SD s, plus the term for the uncertainty in s (Hedges 1981; Borenstein et al.
    2009, *Introduction to Meta-Analysis*, eqs. 4.20 and 4.24, with the model-based SE in
    place of √((n₁+n₂)/(n₁n₂)), which respects the clustering). The raw DiD enters as
    ``did`` with ``did_vi`` = se²."""
    cols = ["cohort", "outcome", "contrast", "yi", "vi", "did", "did_vi", "n_mentee", "n_control"]
    d = results.tables.get("did")
    if d is None or not len(d):
        return pd.DataFrame(columns=cols)
    num = {c: pd.to_numeric(d[c], errors="coerce") for c in ("g", "se", "omega", "sd_pooled_t1", "n_t1", "estimate")}
    meta = getattr(results, "meta", {}) or {}
    out = pd.DataFrame({
        "cohort": cohort, "outcome": d["outcome"].astype(str), "contrast": d["contrast"].astype(str),
        "yi": num["g"],
        "vi": (num["omega"] * num["se"] / num["sd_pooled_t1"]) ** 2 + num["g"] ** 2 / (2 * num["n_t1"]),
        "did": num["estimate"], "did_vi": num["se"] ** 2,
        "n_mentee": meta.get("n_mentee"), "n_control": meta.get("n_control")})
    return out[cols].reset_index(drop=True)


def implementation_over_cohorts(cohort_results: dict) -> pd.DataFrame:
    """The cohorts' ``implementation`` tables stacked, with ``cohort`` first."""
    parts = []
    for cohort, res in cohort_results.items():
        t = res.tables.get("implementation")
        if t is not None and len(t):
            parts.append(t.assign(cohort=cohort)[["cohort", *t.columns]])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["cohort", "school"])


def cohort_value(res, measure: str):
    """A cohort's value of a target measure (None when not available or suppressed)."""
    impl = res.tables.get("implementation")
    row = None
    if impl is not None and len(impl) and "school" in impl.columns:
        rows = impl[impl["school"].astype(str) == "all"]
        row = rows.iloc[0] if len(rows) else None
    if measure.startswith("response_"):
        flow = res.tables.get("flow")
        if flow is None:
            return None
        f = flow.set_index(["condition", "stage"])["n"]
        try:
            n = [f[(c, "enrolled")] for c in ("mentee", "control")]
            r = [f[(c, f"responded_{measure[-2:]}")] for c in ("mentee", "control")]
            n, r = [float(x) for x in n], [float(x) for x in r]
        except (KeyError, TypeError, ValueError):   # a stage missing, or a suppressed count
            return None
        return sum(r) / sum(n) if sum(n) else None
    if row is None or measure not in row.index:
        return None
    try:
        v = float(row[measure])
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def targets_table(prog: Programme, cohort_results: dict) -> pd.DataFrame:
    """Per cohort and target of programme.yaml: ``target``, ``actual`` and ``met``
    (actual ≥ target; empty when the actual is not available)."""
    rows = []
    for cohort, goals in prog.targets.items():
        res = cohort_results.get(cohort)
        for measure, target in goals.items():
            actual = cohort_value(res, measure) if res is not None else None
            rows.append({"cohort": cohort, "measure": measure, "target": target, "actual": actual,
                         "met": None if actual is None else bool(actual >= target - 1e-12)})
    return pd.DataFrame(rows, columns=["cohort", "measure", "target", "actual", "met"])


def _pooled_both(effects: pd.DataFrame) -> pd.DataFrame:
    """``pooled`` with both Knapp–Hartung rows: ``REML-KH`` (the contract's) and
    ``REML-KH-adhoc``, whose variance factor is at least 1 (Röver, Knapp & Friede 2015), so
    its CI is never narrower than the fixed-effect one — the interval the report uses: with
    few cohorts whose effects agree more than chance would have it (Q < k − 1), plain
    Knapp–Hartung gives a CI narrower than even the fixed-effect model's."""
    from .stats import meta
    kh = meta.pooled_table(effects)
    adhoc = meta.pooled_table(effects, ad_hoc=True)
    adhoc = adhoc[adhoc["method"].astype(str) != "FE"]
    return pd.concat([kh, adhoc], ignore_index=True).sort_values(
        ["outcome", "contrast"], key=lambda c: c.map({v: i for i, v in enumerate(dict.fromkeys(c))}),
        kind="stable").reset_index(drop=True)


def pooled_tables(effects: pd.DataFrame, years: dict) -> dict[str, pd.DataFrame]:
    """``pooled``, ``cumulative`` and ``trend`` over the cohorts' effects, for g (``measure``
    = ``g``) and the raw DiD (``did``) — :mod:`mut_eval.stats.meta`."""
    from .stats import meta
    out = {"pooled": [], "cumulative": [], "trend": []}
    eff = effects.assign(year=effects["cohort"].map(years))
    for measure, e in (("g", eff),
                       ("did", eff.drop(columns=["yi", "vi"]).rename(columns={"did": "yi", "did_vi": "vi"}))):
        for name, fn in (("pooled", _pooled_both), ("cumulative", meta.cumulative_table),
                         ("trend", meta.trend_table)):
            t = fn(e)
            if len(t):
                out[name].append(t.assign(measure=measure)[["measure", *t.columns]])
    return {k: pd.concat(v, ignore_index=True) if v else pd.DataFrame() for k, v in out.items()}


def programme_tables(prog: Programme, cohort_results: dict) -> dict[str, pd.DataFrame]:
    """The programme's tables from its cohorts' results (research numbers)."""
    effects = pd.concat([cohort_effects(c, r) for c, r in cohort_results.items()], ignore_index=True)
    years = {c.cohort: c.year for c in prog.cohorts}
    tables = {"cohort_effects": effects, **pooled_tables(effects, years),
              "implementation": implementation_over_cohorts(cohort_results),
              "targets": targets_table(prog, cohort_results)}
    return tables


__all__ = ["Programme", "Cohort", "load_programme", "run_programme", "programme_tables", "cohort_effects",
           "implementation_over_cohorts", "targets_table", "input_fingerprint"]
