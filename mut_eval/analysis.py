"""The whole evaluation of one study: Panel -> Results (every contract table).

``analyze(panel, options)`` is pure: it reads the Panel and returns a
:class:`~mut_eval.results.Results`. ``run_analysis`` wires load -> analyze -> write
(and the report) for the CLI and ``make report``.
"""
from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import replace
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from . import CHANGES, CONDITIONS, WAVES, StudyError, __version__, outfolder, progress
from .disclosure import small_groups
from .panel import Panel, load_panel
from .privacy import is_id_column, sanitise_config
from .results import Results, atomic_dir, write_results
from .stats.adjustment import (WEIGHTING_COVARIATES, adjusted_rows, att_weights, baseline_covariates,
                               pool_sparse_levels, propensity_overlap, sensitivity_with_benchmark)
from .stats.anova import interaction_contrasts, mixed_anova
from .stats.implementation import implementation_table
from .stats.balance import balance_table, weights_summary
from .stats.cluster_robust import unique_clusters
from .stats.box_m import box_m
from .intake.codebook import codebook_summary
from .match import MATCH_COLUMNS, match_moderators
from .stats.descriptives import descriptives_table
from .stats.effects import cluster_correction, sample_table
from .stats.icc import ICC_COLUMNS, icc_table
from .stats.imputation import mi_did
from .stats.lmm import did_by_outcome
from .stats.multilevel import effects_by_outcome, random_part, resolve_design, with_mentor_groups
from .stats.wwc import attrition, baseline_equivalence
from .stats.moderation import did_by_moderator, moderation_grid
from .stats.qsort import qsort_summary
from .stats.reliability import reliability_table
from .intake.settings import AnalysisSettings, analysis_settings
from .intake.study import Study, load_study

PACKAGES = ("mut-eval", "numpy", "pandas", "scipy", "statsmodels", "pingouin", "pandera", "matplotlib",
            "seaborn", "typst", "pyreadstat", "openpyxl")


def _by_outcome(panel: Panel, fn, **kw) -> pd.DataFrame:
    """Run a single-outcome analysis for every outcome and stack with an ``outcome`` column."""
    parts = []
    for o in panel.outcomes:
        d = panel.outcome_data(o)
        try:
            t = fn(d, **kw)
        except StudyError as e:  # say which analysis of which outcome could not be estimated
            raise StudyError(f"cannot estimate {fn.__name__} for outcome '{o}': {e}") from None
        parts.append(t.assign(outcome=o)[["outcome", *[c for c in t.columns if c != "outcome"]]])
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _with_covariates(panel: Panel, covariates: list[str]) -> pd.DataFrame:
    unknown = [c for c in covariates if c not in panel.students.columns]
    if unknown:
        raise StudyError(f"study.yaml: analysis.covariates: unknown pupil column(s) {', '.join(unknown)}")
    return panel.long.join(panel.students[covariates], on="student_id")


def mean_class_size(panel: Panel) -> float:
    return float(panel.students.groupby(["school", "class"]).size().mean())


def with_cluster_correction(did: pd.DataFrame, panel: Panel, icc) -> pd.DataFrame:
    """Add the WWC clustering correction of each pupil-level DiD test as a sensitivity
    check: pupils sit in classes, so with intraclass correlation ρ the z of the mixed
    model is corrected as t_a = t·√{[(N−2) − 2(n̄−1)ρ] / [(N−2)(1+(n̄−1)ρ)]} with N the
    pupils in the model and n̄ the mean class size (WWC Procedures and Standards Handbook, Version 5.0, 2022;
    Hedges 2007). ``icc``: one ρ for all outcomes, or a mapping outcome → ρ (the
    estimated class ICC). Columns ``t_cluster``, ``df_cluster``, ``p_cluster``, ``icc``."""
    n_bar = mean_class_size(panel)
    rho = [float(icc.get(r.outcome, float("nan"))) if isinstance(icc, dict) else float(icc)
           for r in did.itertuples(index=False)]
    rows = [cluster_correction(r.estimate / r.se, r.n_students, n_bar, p)
            for r, p in zip(did.itertuples(index=False), rho)]
    return did.assign(t_cluster=[r["t_corrected"] for r in rows], df_cluster=[r["df"] for r in rows],
                      p_cluster=[r["p"] for r in rows], icc=rho, mean_class_size=n_bar)


def reliability_of(panel: Panel) -> pd.DataFrame:
    sets = []
    for key, scale in panel.codebook.scales.items():
        for w in scale.waves:
            items = panel.items.get(w)
            cols = [i for i in scale.items if items is not None and i in items.columns]
            if len(cols) >= 2:
                data = items[cols].dropna(how="all")
                if len(data.dropna()) >= 3:
                    sets.append((key, w, data))
    return reliability_table(sets)


PUPIL_MODERATORS = ["age", "gender", "ses", "migration_background", "first_generation"]
# n_shared_known says how many characteristics could be compared: a count, not a moderator.
MATCH_MODERATORS = [c for c in MATCH_COLUMNS if c != "n_shared_known"]


def mentee_moderators(panel: Panel) -> pd.DataFrame:
    """Per mentee: pupil characteristics, match overlap with the mentor, relationship
    quality and dosage (the contract's moderator names), then the study's declared
    ``variables`` (study.yaml) under their own names."""
    mentees = panel.students[panel.students["condition"] == "mentee"]
    match = match_moderators(mentees, panel.mentors, panel.matches, panel.relationship_quality)
    declared = [v for v in panel.variables if v in mentees.columns]
    return mentees[PUPIL_MODERATORS].join(match[MATCH_MODERATORS], how="left").join(mentees[declared])


def _pupil_moderators(panel: Panel) -> list[str]:
    """Moderators measured for every pupil (mentees and controls): the DiD by moderator."""
    return PUPIL_MODERATORS + [n for n, v in panel.variables.items() if v.file != "matches"]


def moderation_tables(panel: Panel, options: AnalysisSettings | dict) -> dict[str, pd.DataFrame]:
    """Within-mentee moderation of change (MEMORE) for every outcome × change × moderator,
    and the DiD by pupil characteristic in the mixed model on both conditions."""
    options = analysis_settings(options)
    moderators = mentee_moderators(panel)
    chosen = list(options.moderators or moderators.columns)
    unknown = [m for m in chosen if m not in moderators.columns]
    if unknown:
        raise StudyError(f"study.yaml: analysis.moderators: unknown moderator(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(moderators.columns)}")
    # A prespecified test that names nothing real, or a change left out of analysis.changes,
    # would silently never be tested.
    for spec in options.prespecified_moderators:
        for key, allowed in (("moderator", list(moderators.columns)), ("outcome", panel.codebook.outcomes),
                             ("change", list(options.changes))):
            if spec.get(key) not in (None, "*", *allowed):
                hint = (" (add it to analysis.changes to analyse it)" if key == "change" and spec.get(key) in CHANGES
                        else "")
                raise StudyError(f"study.yaml: analysis.prespecified_moderators: unknown {key} "
                                 f"{spec.get(key)!r}; allowed: {', '.join(allowed)}{hint}")
    wide = panel.wide
    grid = moderation_grid(wide[wide["condition"] == "mentee"], moderators, outcomes=panel.outcomes,
                           changes_list=options.changes,
                           moderator_list=chosen, prespecified=options.prespecified_moderators,
                           n_boot=options.resamples(len(moderators)), seed=options.seed, alpha=options.alpha,
                           probe=options.probe, hc=options.hc, center=options.center)
    parts = []
    progress.stage("DiD by pupil characteristic")
    for o in panel.outcomes:
        data = panel.outcome_data(o)
        for m in [m for m in _pupil_moderators(panel) if m in chosen]:
            try:
                parts.append(did_by_moderator(data, panel.students[m], w=m, alpha=options.alpha,
                                              levels=_levels(panel, m), probe=options.probe,
                                              changes=options.changes).assign(outcome=o))
            except StudyError as e:  # too few pupils in a level: recorded, not fatal
                grid["skipped"] = pd.concat([grid["skipped"], pd.DataFrame(
                    [{"outcome": o, "change": "did", "moderator": m, "reason": str(e)}])], ignore_index=True)
    if parts:
        dbm = pd.concat(parts, ignore_index=True)
        grid["did_by_moderator"] = dbm[["outcome", *[c for c in dbm.columns if c != "outcome"]]]
    grid["moderation_skipped"] = grid.pop("skipped")
    return grid


def _levels(panel: Panel, name: str) -> list | None:
    """The declared level order of a categorical study variable (its first level is the reference)."""
    spec = panel.variables.get(name)
    return list(spec.levels) if spec is not None and spec.levels else None


def select_outcomes(panel: Panel, options: AnalysisSettings | dict) -> Panel:
    """The Panel restricted to the study's ``analysis.outcomes`` (all outcomes when unset)."""
    chosen = analysis_settings(options).outcomes
    if not chosen:
        return panel
    unknown = [o for o in chosen if o not in panel.codebook.outcomes]
    if unknown:
        raise StudyError(f"study.yaml: analysis.outcomes: unknown outcome(s) {', '.join(unknown)}; "
                         f"allowed: {', '.join(panel.codebook.outcomes)}")
    if set(panel.outcomes) <= set(chosen):
        return panel
    return replace(panel, long=panel.long[panel.long["outcome"].isin(chosen)].reset_index(drop=True))


def unanalysable_outcomes(panel: Panel) -> pd.DataFrame:
    """Outcomes that cannot be analysed, with the reason (``outcome, reason``): scores
    that do not vary between pupils or waves (every answer the same, e.g. all 4), or
    changes that do not vary within pupils, leave the ANOVA's and the mixed model's error
    variance at zero, so no test statistic exists. They are skipped; the rest goes on."""
    rows = []
    for o in panel.outcomes:
        d = panel.outcome_data(o)
        score = pd.to_numeric(d["score"], errors="coerce").dropna()
        if score.nunique() <= 1:
            rows.append({"outcome": o, "reason": f"every score is the same ({score.iloc[0]:g}) at every wave: "
                         "nothing varies, so no change can be estimated" if len(score) else "no scores"})
            continue
        w = d.pivot_table(index="student_id", columns="wave", values="score").dropna()
        if len(w) and len(w.columns) == len(WAVES):
            dev = w.sub(w.mean(axis=1), axis=0)
            if float((dev.sub(dev.groupby(panel.students.loc[w.index, "condition"]).transform("mean"))
                      ** 2).to_numpy().sum()) == 0:
                rows.append({"outcome": o, "reason": "every pupil's scores change exactly as their group's: no "
                             "variance within pupils, so the repeated-measures tests cannot be estimated"})
    return pd.DataFrame(rows, columns=["outcome", "reason"])


def check_design(panel: Panel) -> None:
    """Refuse, with the reason, a study whose design the evaluation cannot estimate:
    both conditions enrolled, a score at every wave, and for every outcome at least 2
    pupils per condition scored at T1, T2 and T3 (the mixed ANOVA of completers needs
    them; an outcome without them can be left out with ``analysis.outcomes``)."""
    file = panel.clean.files["students"].name if panel.clean is not None else "the students file"
    n = panel.students["condition"].value_counts()
    if any(n.get(c, 0) == 0 for c in CONDITIONS):
        raise StudyError(f"cannot compare mentees with controls: {file} has {n.get('mentee', 0)} mentee(s) and "
                         f"{n.get('control', 0)} control(s) (column condition); the evaluation needs both groups")
    missing = [w for w in WAVES if not (panel.long["wave"] == w).any()]
    if missing:
        raise StudyError(f"cannot estimate change over {', '.join(WAVES)}: no pupil has a questionnaire score at "
                         f"{', '.join(missing)} (see the warnings on the wave file(s))")
    counts = {}
    for o in panel.outcomes:
        per = panel.students.loc[panel.completers(o), "condition"].value_counts()
        counts[o] = (int(per.get("mentee", 0)), int(per.get("control", 0)))
    short = {o: c for o, c in counts.items() if min(c) < 2}
    if not short:
        return
    if len(short) == len(counts):
        m, c = max(counts.values(), key=min)
        raise StudyError("cannot estimate change by condition: on no outcome are at least 2 mentees and 2 controls "
                         f"scored at T1, T2 and T3 (the best outcome has {m} mentee(s) and {c} control(s))")
    detail = "; ".join(f"{o}: {m} mentee(s), {c} control(s)" for o, (m, c) in short.items())
    raise StudyError(f"cannot estimate the analyses of outcome(s) {', '.join(short)}: fewer than 2 mentees or 2 "
                     f"controls are scored on it at T1, T2 and T3 ({detail}); leave it out by listing the "
                     "outcomes to analyse under 'outcomes' in the 'analysis' section of study.yaml")


def analyze(panel: Panel, options: AnalysisSettings | dict | None = None) -> Results:
    """Every analysis of the evaluation on one Panel; ``options`` is the study's
    :class:`~mut_eval.intake.settings.AnalysisSettings` or a plain dict of the same options
    (``{"bootstrap": 5000, "seed": 1, "alpha": 0.05, "min_cell": 10}``; options left out take
    their defaults, and every value is checked as in study.yaml's ``analysis``)."""
    options = analysis_settings(options or {})
    panel = select_outcomes(panel, options)
    skipped = unanalysable_outcomes(panel)
    if len(skipped) and len(skipped) == len(panel.outcomes):
        raise StudyError("no outcome can be analysed: " + "; ".join(f"{o}: {r}" for o, r in skipped.itertuples(
            index=False)))
    if len(skipped):
        panel = replace(panel, long=panel.long[~panel.long["outcome"].isin(skipped["outcome"])]
                        .reset_index(drop=True))
    check_design(panel)
    progress.stage("descriptives, ANOVA, ICC")
    t: dict[str, pd.DataFrame] = {}
    t["skipped_outcomes"] = skipped
    t["flow"] = panel.flow
    t["implementation"] = implementation_table(panel.students, panel.matches,
                                               {w: panel.items[w].index for w in panel.items})
    t["accounting"] = panel.accounting
    t["reliability"] = reliability_of(panel)
    t["descriptives"] = descriptives_table(panel.long)
    t["sample"] = sample_table(panel.students)
    # both restrict themselves to the completers of the outcome (complete cases, as SPSS)
    t["mixed_anova"] = _by_outcome(panel, mixed_anova)
    t["interaction_contrasts"] = _by_outcome(panel, interaction_contrasts)
    # the ANOVA's assumption of equal covariance matrices of T1-T3 across the conditions
    t["box_m"] = _by_outcome(panel, box_m)
    design = study_design(panel)
    t1 = panel.long[panel.long["wave"] == "T1"]
    t["icc"] = (icc_table(t1, levels=design.levels, alpha=options.alpha) if "class" in design.levels
                else pd.DataFrame(columns=ICC_COLUMNS))
    progress.stage("comparability: weighting, imputation")
    comp = comparability(panel, design, options)
    t.update(comp.tables)
    progress.stage("DiD models")
    t.update(effects_by_outcome(panel.long, panel.wide, design, t["icc"], outcomes=panel.outcomes,
                                matches=panel.matches, alpha=options.alpha, seed=options.seed,
                                additional=comp.rows))
    t["sensitivity"] = sensitivity_with_benchmark(t["did"], panel.wide, comp.covariates,
                                                  options.benchmark, options.alpha)
    if not design.clustered:
        # the WWC correction with the estimated ICC (the assumed analysis.icc without classes)
        est = dict(zip(t["icc"]["outcome"], t["icc"]["icc_class"])) if len(t["icc"]) else options.icc
        t["did"] = with_cluster_correction(t["did"], panel, est)
    covariates = list(options.covariates)
    if covariates:
        data = _with_covariates(panel, covariates)
        if design.mentor_groups:
            data = with_mentor_groups(data, panel.matches)
        t["did_adjusted"] = did_by_outcome(
            data, covariates=covariates, outcomes=panel.outcomes, alpha=options.alpha,
            residual=design.residual,
            **(dict(random=random_part(design), ddf="kenward-roger") if design.clustered or
               design.residual == "unstructured" else {}))
    progress.stage("WWC checks")
    t["baseline_equivalence"] = _by_outcome(panel, baseline_equivalence)
    enrolled = panel.students["condition"].value_counts().to_dict()
    t["attrition"] = _by_outcome(panel, attrition, enrolled=enrolled)
    t.update(moderation_tables(panel, options))
    # Researchers keep every number; this table marks the comparisons that involve a group
    # below min_cell, which the staff view withholds (mut_eval.disclosure).
    progress.stage("small groups")
    sizes = {f"n_{c}": int(v) for c, v in panel.students["condition"].value_counts().items()}
    t["small_groups"] = small_groups(t, sizes, options.min_cell)
    if panel.qsort is not None and len(panel.qsort):
        t["qsort_summary"] = qsort_summary(panel.qsort.drop(columns=["student_id"]))
    # the outcomes analysed (after `analysis.outcomes`); run_analysis adds the rest of meta
    return Results(tables=t, meta={"outcomes": panel.outcomes, "variables": variables_meta(panel),
                                   "design": design.as_dict(), "weighting": comp.meta})


class Comparability(NamedTuple):
    """What :func:`comparability` finds: ``tables`` (balance, weights_summary,
    propensity_overlap), ``rows`` for did_robustness, ``meta`` (meta.weighting) and the
    pupils' weighting ``covariates`` (for the sensitivity benchmark)."""
    tables: dict
    rows: pd.DataFrame
    meta: dict
    covariates: pd.DataFrame


def comparability(panel: Panel, design, options: AnalysisSettings) -> Comparability:
    """Were the groups comparable? The ``balance``, ``weights_summary`` and
    ``propensity_overlap`` tables, the adjusted and weighted DiD rows for
    ``did_robustness`` (:func:`mut_eval.stats.adjustment.adjusted_rows`) and a
    ``meta["weighting"]`` record (method, covariates, pooled levels, pupils without
    every covariate, and the problem when weights cannot be found: then the balance
    table has no weighted columns and only ``covariate_adjusted`` rows are made), and with
    ``analysis.imputation.m`` > 0 the ``multiple_imputation`` rows (:func:`imputation_rows`)."""
    wide, students, outcomes = panel.wide, panel.students, panel.outcomes
    ws = options.weighting
    names = weighting_covariates(panel, options)
    treated = (wide["condition"] == CONDITIONS[0]).to_numpy()
    X = baseline_covariates(students, wide, outcomes, names, unknown_as_level=True)
    complete = X.notna().all(axis=1).to_numpy()
    Xw, pooled = pool_sparse_levels(X[complete], treated[complete])
    meta = {"method": ws.method, "moments": ws.moments, "trim": ws.trim, "covariates": names,
            "pooled_levels": pooled, "pupils_without_covariates": int((~complete).sum()), "problem": None}
    weights = ps = None
    try:
        weights, ps = att_weights(Xw, treated[complete], ws.method, ws.moments, ws.trim)
    except StudyError as e:
        meta["problem"] = str(e)
    shown = list(dict.fromkeys([c for c in names if not c.endswith("_T1")] +
                               [c for c in students.columns if c in panel.variables or c == "origin"] +
                               [c for c in names if c.endswith("_T1")]))
    Xb = baseline_covariates(students, wide, outcomes, shown)[complete]
    tables = {"balance": balance_table(Xb, treated[complete], weights),
              "weights_summary": weights_summary(weights if weights is not None else np.ones(len(Xw)),
                                                 treated[complete], ws.method if weights is not None else "none"),
              "propensity_overlap": propensity_overlap(ps, treated[complete])}
    clusters = unique_clusters(wide) if design.clustered else None
    w_all = weights.reindex(wide.index) if weights is not None and ws.method != "none" else None
    rows = [adjusted_rows(wide, o, ("T2-T1", "T3-T1"), Xw.reindex(wide.index), weights=w_all,
                          clusters=clusters, alpha=options.alpha).assign(outcome=o) for o in outcomes]
    if options.imputation.m:
        rows.append(imputation_rows(panel, design, options))
    covariates = Xw.reindex(wide.index)
    bench = options.benchmark
    if bench and bench not in covariates.columns and bench in students.columns:
        covariates[bench] = baseline_covariates(students, wide, outcomes, [bench], unknown_as_level=True)[bench]
    return Comparability(tables, pd.concat(rows, ignore_index=True), meta, covariates)


def weighting_covariates(panel: Panel, options: AnalysisSettings) -> list[str]:
    """``analysis.weighting.covariates``, by default :data:`~mut_eval.stats.adjustment.WEIGHTING_COVARIATES`
    the study has and every outcome's T1 score."""
    ws = options.weighting
    if ws.covariates is not None:
        return list(ws.covariates)
    return ([c for c in WEIGHTING_COVARIATES if c in panel.students.columns] +
            [f"{o}_T1" for o in panel.outcomes])


def imputation_rows(panel: Panel, design, options: AnalysisSettings) -> pd.DataFrame:
    """The ``multiple_imputation`` rows of ``did_robustness``
    (:func:`mut_eval.stats.imputation.mi_did`): every wave of every outcome and the
    baseline weighting covariates ("unknown" = missing) imputed ``analysis.imputation.m``
    times, seeded with ``analysis.seed``; CR2 by class when classes were assigned."""
    imp = options.imputation
    names = [c for c in weighting_covariates(panel, options) if not c.endswith("_T1")]
    covs = baseline_covariates(panel.students, panel.wide, panel.outcomes, names)
    return mi_did(panel.wide, panel.outcomes, covariates=covs,
                  clusters=unique_clusters(panel.wide) if design.clustered else None, m=imp.m,
                  seed=options.seed, alpha=options.alpha, donors=imp.donors, maxit=imp.maxit)


def study_design(panel: Panel):
    """The design of the study (study.yaml ``design`` completed from the data; see
    :func:`mut_eval.stats.multilevel.resolve_design`)."""
    settings = panel.clean.study.settings.design if panel.clean is not None else None
    return resolve_design(panel.students, panel.matches, settings)


def variables_meta(panel: Panel) -> dict:
    """The study's declared variables for labelling tables and the report:
    ``{name: {label, type, levels, file}}`` (no values, no source column names)."""
    return {n: {"label": v.label, "type": v.type, "levels": list(v.levels) if v.levels else None, "file": v.file}
            for n, v in panel.variables.items()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return out


def config_identifiers(config: dict, mentors: pd.DataFrame | None = None) -> set[str]:
    """Identifiers that study.yaml itself holds (both sides of a recode of an id column) and
    the mentors' ids: values the sanitised config must not show anywhere."""
    ids: set[str] = set()
    for col, mapping in (config.get("recode") or {}).items():
        if is_id_column(col) and isinstance(mapping, dict):
            ids |= {str(k) for k in mapping} | {str(v) for v in mapping.values()}
    if mentors is not None and "mentor_id" in getattr(mentors, "columns", ()):
        ids |= {str(v) for v in mentors["mentor_id"].dropna()}
    return ids


def input_hashes(study: Study, config: dict) -> dict:
    """SHA-256 of every input file, for reproducibility. study.yaml is hashed as its
    sanitised settings (canonical JSON, no pseudonym key, no identifiers): a hash of the
    file itself would be an offline oracle for guessing the key or an id typed in it.
    Files of excluded pupils (``exclusions*``) are not hashed for the same reason."""
    out = {}
    if study.config_path.exists():
        canon = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
        out[study.config_path.name] = hashlib.sha256(canon).hexdigest()
    for p in (p for p in study.files.values() if p is not None):
        p = Path(p)
        out[p.name] = "(not hashed: pupil identifiers)" if p.name.lower().startswith("exclusions") else _sha256(p)
    return out


def build_meta(study: Study, panel: Panel, options: AnalysisSettings | dict) -> dict:
    options = analysis_settings(options)
    n = panel.students["condition"].value_counts()
    # One sanitised config, used by results.json, report_data.json and the PDF appendix.
    config = sanitise_config(study.config, config_identifiers(study.config, getattr(panel, "mentors", None)))
    return {
        "name": study.name, "cohort": study.cohort, "synthetic": study.synthetic,
        "language": study.language, "seed": options.seed,
        "n_boot": options.resamples(int(n.get("mentee", 0))), "bootstrap_auto": options.bootstrap == "auto",
        "alpha": options.alpha, "min_cell": options.min_cell,
        "n_mentee": int(n.get("mentee", 0)), "n_control": int(n.get("control", 0)),
        "clustering": {"icc": options.icc, "mean_class_size": mean_class_size(panel),
                       "n_classes": int(panel.students.groupby(["school", "class"]).ngroups),
                       "n_schools": int(panel.students["school"].nunique())},
        "mut_eval_version": __version__, "versions": _versions(),
        "input_hashes": input_hashes(study, config),
        "input_hashes_note": "study.yaml: SHA-256 of its sanitised settings (canonical JSON), not of the file",
        "codebook_file": Path(panel.codebook.path).name, "codebook": codebook_summary(panel.codebook),
        # The pseudonym key is a secret and ids are personal: results say they were set, never which.
        "config": config,
        "options": sanitise_config(options.as_dict()),
        # The only field that changes between identical runs.
        "created": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
    }


def skipped_summary(results: Results) -> list[str]:
    """One line per kind of analysis that was skipped for lack of variance or data (for
    the CLI): outcomes, within-mentee moderation, and DiD by pupil characteristic."""
    lines = []
    so = results.tables.get("skipped_outcomes")
    if so is not None and len(so):
        lines.append("skipped outcome(s), not analysed: " + "; ".join(
            f"{o} ({r})" for o, r in so[["outcome", "reason"]].itertuples(index=False)))
    ms = results.tables.get("moderation_skipped")
    if ms is not None and len(ms):
        for kind, part in (("moderation analyses (mentees)", ms[ms["change"].astype(str) != "did"]),
                           ("DiD-by-characteristic analyses", ms[ms["change"].astype(str) == "did"])):
            if len(part):
                per = [f"{m} ({len(g)}: {g['reason'].astype(str).mode().iloc[0]})"
                       for m, g in part.groupby(part["moderator"].astype(str), sort=False)]
                lines.append(f"skipped {len(part)} {kind} for lack of variance or data: " + "; ".join(per)
                             + " (see moderation_skipped.csv)")
    return lines


DEFAULT_KEY_WARNING = ("WARNING: pupil pseudonyms are made with mut_eval's built-in default key, so anyone with "
                       "mut_eval and a list of pupil ids can undo them; set the environment variable MUT_EVAL_KEY "
                       "to a secret of your own (and keep it: the same key gives the same pseudonyms).")


def check_output_folder(study_dir, out) -> None:
    """Refuse, before the analysis, an output folder whose replacement would destroy data
    (the study, a folder of other files, a link) or that cannot be written: see
    :func:`mut_eval.outfolder.check_output_folder`."""
    outfolder.check_output_folder(out, protect=(study_dir,))


def run_analysis(study_dir, out, bootstrap: int | None = None, seed: int | None = None,
                 report: bool = False, lang: str | None = None, log=None, edition: str = "both") -> Results:
    """Load, validate, analyse and write a study; with ``report=True`` also the figures
    and the PDF. Output appears in ``out`` only when everything succeeded. ``log`` (e.g.
    ``print``) receives the validation warnings and a warning when the default
    pseudonym key is used."""
    if lang is not None and lang not in ("nl", "en"):
        raise StudyError(f"report language must be 'nl' or 'en', not {lang!r}")
    check_output_folder(study_dir, out)
    study = load_study(study_dir)
    options = study.settings.analysis.with_overrides(bootstrap=bootstrap, seed=seed)
    progress.stage("reading and checking the files")
    panel = load_panel(study)
    if log is not None:
        for p in panel.clean.warnings:
            log(str(p))
        if panel.default_key:
            log(DEFAULT_KEY_WARNING)
    results = analyze(panel, options)
    results.meta.update(build_meta(study, panel, options))
    if log is not None:
        for line in skipped_summary(results):
            log(line)
    with atomic_dir(out) as tmp:
        progress.stage("writing the results")
        write_results(results, tmp, staff_min_cell=options.min_cell if options.staff_edition else None)
        if not options.staff_edition:  # pupil-level data are for researchers only
            from .datafiles import researcher_data, write_data
            write_data(results, researcher_data(panel, study.language), tmp / "data", panel.codebook,
                       lang=study.language)
        if report:
            from .report.build import build_report
            progress.stage("writing the report")
            build_report(results, tmp, lang=lang or study.language, edition=edition)
    return results
