"""Effects that respect how pupils were assigned: the design, the multilevel DiD and the
table that compares the models (issue 12).

When school leaders assign whole classes to a condition, pupils of one class are more
alike than pupils of different classes, and — what inflates a pupil-level
difference-in-differences — classes also *change* together between waves. The
multilevel model (lme4 notation)::

    score ~ condition * wave + (1 | school) + (1 | school:class) + (1 | school:class:wave)
            + (1 | student_id) [+ (0 + mentee_post | mentor_id)]

carries both: the class intercept (stable class differences) and the class × wave
intercept (class-level change). ``mentee_post`` is 1 for a mentee at T2/T3: mentees who
share a mentor share a component after the programme started, the partially nested
design of Bauer, Sterba & Hallfors (2008, *Multivariate Behav. Res.* 43:210); controls
and mentees without a match get a level of their own whose column is all zero, so they
contribute nothing to it. Terms are included for the levels the design has
(:func:`resolve_design`). Fitted by REML (:func:`mut_eval.stats.mixed.fit_mixed`, equal
to ``lme4::lmer``); the DiD contrasts are tested with Kenward–Roger SEs and df
(pbkrtest; default) and with Satterthwaite df (lmerTest).

:func:`did_robustness` puts every estimate of the same DiD side by side — the
pupil-level model, the multilevel model (KR and Satterthwaite), the design-based checks
with the class as unit (CR2 change and ANCOVA regressions, the wild cluster bootstrap;
:mod:`mut_eval.stats.cluster_robust`) and the WWC correction of the pupil-level test
with the estimated ICC.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .. import CONDITIONS, StudyError, progress
from ..intake.settings import DesignSettings
from .cluster_robust import design_based_checks
from .effects import cluster_correction, omega_correction, pooled_sd
from .lmm import LMMFit, did, fit_lmm, lmm_emm, lmm_fixed, stack_by_outcome

__all__ = ["Design", "resolve_design", "random_part", "with_mentor_groups", "g_total",
           "ROBUSTNESS_COLUMNS", "did_robustness", "wwc_rows", "MODELS", "effects_by_outcome"]

ROBUSTNESS_COLUMNS = ["model", "outcome", "contrast", "estimate", "se", "df", "ci_low", "ci_high",
                      "p", "g", "n_pupils", "n_clusters", "fmi"]
#: the rows of ``did_robustness``, in order
MODELS = ("lmm_pupil", "lmm_multilevel", "lmm_multilevel_satterthwaite", "mmrm_pupil",
          "mmrm_multilevel", "cr2_change", "cr2_ancova", "wild_cluster_bootstrap",
          "covariate_adjusted", "weighted_dr", "weighted_dr_change", "multiple_imputation",
          "wwc_corrected")
NO_MENTOR = "(no mentor)"


@dataclass(frozen=True)
class Design:
    """The design an analysis assumes, resolved against the data (:func:`resolve_design`).

    ``reasons``: one sentence per setting saying whether study.yaml set it or how it was
    derived from the data (written to results.json and the report)."""

    assignment: str                      # pupil | class | school
    levels: tuple[str, ...]              # subset of (school, class)
    mentor_groups: bool
    residual: str = "compound"
    n_schools: int = 0
    n_classes: int = 0
    n_mentor_groups: int = 0
    reasons: dict = field(default_factory=dict)
    randomised: bool = False             # assigned by lot (study.yaml design.randomised)

    @property
    def clustered(self) -> bool:
        """Whole classes or schools were assigned: the multilevel model is primary."""
        return self.assignment in ("class", "school")

    def as_dict(self) -> dict:
        return {"assignment": self.assignment, "levels": list(self.levels),
                "mentor_groups": self.mentor_groups, "residual": self.residual,
                "n_schools": self.n_schools, "n_classes": self.n_classes,
                "n_mentor_groups": self.n_mentor_groups, "randomised": self.randomised, "primary_model":
                ("mmrm" if self.residual == "unstructured" else "lmm") + ("_multilevel" if self.clustered else "_pupil"),
                "reasons": dict(self.reasons)}


def _mixed_units(students: pd.DataFrame, unit: list[str]) -> list[str]:
    per = students.groupby(unit, sort=True)["condition"].nunique()
    return ["/".join(map(str, k if isinstance(k, tuple) else (k,))) for k in per.index[per > 1]]


def resolve_design(students: pd.DataFrame, matches: pd.DataFrame | None = None,
                   settings: DesignSettings | None = None) -> Design:
    """The study's design: what ``study.yaml``'s ``design`` says, the rest from the data.

    - ``assignment``: ``class`` when every class (class ids taken within their school)
      holds one condition, else ``pupil``. A declared ``class``/``school`` that the data
      contradict (a class or school with mentees and controls) is an error.
    - ``levels``: ``school`` when there are at least two schools and some school has
      more than one class (else the school and class variances are not separable);
      ``class`` when there are at least two classes.
    - ``mentor_groups``: true when some mentor has two or more mentees in ``matches``.

    ``students``: one row per pupil with ``condition``, ``school``, ``class``;
    ``matches``: indexed by pupil with ``mentor_id`` (optional).
    """
    settings = settings or DesignSettings()
    for col in ("condition", "school", "class"):
        if col not in students.columns:
            raise StudyError(f"design: column {col!r} is needed in the pupils' table")
    s = students.dropna(subset=["school", "class"])
    n_schools = int(s["school"].nunique())
    n_classes = int(s.groupby(["school", "class"]).ngroups)
    reasons = {}
    mixed_classes = _mixed_units(s, ["school", "class"])
    if settings.assignment is None:
        assignment = "pupil" if mixed_classes else "class"
        reasons["assignment"] = (
            f"from the data: {len(mixed_classes)} of {n_classes} classes hold mentees and controls"
            if mixed_classes else f"from the data: each of the {n_classes} classes holds one condition")
    else:
        assignment = settings.assignment
        unit = ["school"] if assignment == "school" else ["school", "class"]
        wrong = _mixed_units(s, unit) if assignment != "pupil" else []
        if wrong:
            raise StudyError(f"study.yaml: design.assignment: {assignment}, but {assignment} "
                             f"{', '.join(wrong[:5])} hold(s) mentees and controls; assignment by "
                             f"{assignment} means each {assignment} holds one condition")
        reasons["assignment"] = "set in study.yaml"
    if settings.levels is None:
        per_school = s.groupby("school")["class"].nunique()
        levels = tuple(lv for lv, ok in (("school", n_schools >= 2 and (per_school > 1).any()),
                                         ("class", n_classes >= 2)) if ok)
        reasons["levels"] = (f"from the data: {n_schools} school(s), {n_classes} classes"
                             + ("" if "school" in levels or n_schools < 2 else
                                "; one class per school, so school and class are one level"))
    else:
        levels = tuple(settings.levels)
        reasons["levels"] = "set in study.yaml"
    mentors = pd.Series(dtype=object)
    if matches is not None and "mentor_id" in getattr(matches, "columns", ()):
        mentors = matches["mentor_id"].dropna()
        mentors = mentors[mentors.index.isin(s.index[s["condition"] == CONDITIONS[0]])]
    sizes = mentors.value_counts()
    n_groups = int((sizes > 1).sum())
    if settings.mentor_groups is None:
        mentor_groups = n_groups > 0
        reasons["mentor_groups"] = (f"from the data: {n_groups} mentor(s) with two or more mentees"
                                    if n_groups else "from the data: every mentor has one mentee")
    else:
        mentor_groups = settings.mentor_groups
        if mentor_groups and mentors.empty:
            raise StudyError("study.yaml: design.mentor_groups: true, but no mentee has a mentor_id "
                             "in the matches file")
        reasons["mentor_groups"] = "set in study.yaml"
    # The default follows validation/RESULTS_mmrm.md: with 8 classes the unstructured
    # covariance was no better calibrated (type I error up to .064 against .057) and no
    # more powerful than the pupil intercept next to the class × wave term.
    reasons["residual"] = ("set in study.yaml" if settings.residual != "compound" else
                           "default: a pupil random intercept (compound symmetry within pupils); the "
                           "simulation study found the unstructured MMRM no better calibrated")
    return Design(assignment=assignment, levels=levels, mentor_groups=mentor_groups,
                  residual=settings.residual, n_schools=n_schools, n_classes=n_classes,
                  n_mentor_groups=n_groups, reasons=reasons, randomised=settings.randomised)


def random_part(design: Design, subject: str = "student_id", within: str = "wave") -> str:
    """The random part of the multilevel model in lme4 notation (see the module docstring)."""
    terms = []
    if "school" in design.levels:
        terms.append("(1 | school)")
    if "class" in design.levels:
        terms += ["(1 | school:class)", f"(1 | school:class:{within})"]
    terms.append(f"(1 | {subject})")
    if design.mentor_groups:
        terms.append("(0 + mentee_post | mentor_id)")
    return " + ".join(terms)


def with_mentor_groups(long: pd.DataFrame, matches: pd.DataFrame | None, *,
                       subject: str = "student_id", within: str = "wave") -> pd.DataFrame:
    """``long`` with ``mentor_id`` (the pupil's mentor; :data:`NO_MENTOR` for controls and
    mentees without one) and ``mentee_post`` (1 for a mentee with a mentor at a wave after
    T1, else 0) — the columns of the partially nested term."""
    mentor = pd.Series(NO_MENTOR, index=long.index, dtype=object)
    if matches is not None and "mentor_id" in getattr(matches, "columns", ()):
        m = matches["mentor_id"].dropna().astype(str)
        mentor = long[subject].map(m).fillna(NO_MENTOR)
    is_m = (long["condition"] == CONDITIONS[0]).to_numpy()
    post = (long[within].astype(str) != "T1").to_numpy()
    out = long.assign(mentor_id=mentor.to_numpy(dtype=object))
    out["mentee_post"] = (is_m & post & (out["mentor_id"] != NO_MENTOR).to_numpy()).astype(float)
    return out


def g_total(estimate, se, var_total: float, icc: float, n_pupils: int, n_bar: float,
            alpha: float = 0.05) -> pd.DataFrame:
    """Effect size on the total SD of a clustered design, with Hedges' (2007) variance.

    g_T = estimate / σ_T with σ_T² = σ²_school + σ²_class + σ²_resid at T1 from the
    null multilevel model (EEF 2022 analysis guidance: the total variance, not the
    within-class one). Its variance follows Hedges (2007, *J. Educ. Behav. Stat.*
    32:341, eq. for V(d_T)): V = se²/σ_T² + g_T²/(2h), where se²/σ_T² is the sampling
    variance of the (cluster-aware) estimate on the SD scale — for a post-test mean
    difference it is Hedges' ((N_T + N_C)/(N_T N_C))(1 + (n − 1)ρ) — and h the effective
    df of the total variance estimate,
    h = [(N − 2) − 2(n − 1)ρ]² / [(N − 2)(1 − ρ)² + n(N − 2n)ρ² + 2(N − 2n)ρ(1 − ρ)],
    with N pupils, n the mean class size and ρ the class ICC (the same h as the WWC
    correction, :func:`mut_eval.stats.effects.cluster_correction`). CI: g_T ± z·√V.
    Columns ``g_total, g_total_ci_low, g_total_ci_high``.
    """
    est, se = np.asarray(estimate, float), np.asarray(se, float)
    sd = np.sqrt(var_total) if var_total > 0 else np.nan
    g = est / sd
    h = cluster_correction(1.0, n_pupils, n_bar, icc)["df"]
    v = (se / sd) ** 2 + g ** 2 / (2 * h)
    q = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame({"g_total": g, "g_total_ci_low": g - q * np.sqrt(v),
                         "g_total_ci_high": g + q * np.sqrt(v)})


def _g_scale(data: pd.DataFrame, dv: str = "score") -> float:
    """ω / S of the contract's g (pooled within-condition SD of all pupils at T1)."""
    t1 = data[data["wave"].astype(str) == "T1"]
    y = pd.to_numeric(t1[dv], errors="coerce")
    ym = y[(t1["condition"] == CONDITIONS[0]).to_numpy()].dropna().to_numpy(float)
    yc = y[(t1["condition"] == CONDITIONS[1]).to_numpy()].dropna().to_numpy(float)
    S, n = pooled_sd(ym, yc), ym.size + yc.size
    return omega_correction(n) / S if n > 2 and np.isfinite(S) and S > 0 else np.nan


def wwc_rows(pupil_did: pd.DataFrame, icc: float, n_bar: float, alpha: float = 0.05) -> pd.DataFrame:
    """The pupil-level DiD corrected for clustering as the WWC does (Procedures and
    Standards Handbook, Version 5.0, 2022; Hedges 2007): t_a and its df h from
    :func:`~mut_eval.stats.effects.cluster_correction` with ρ the estimated class ICC and n̄ the mean class size; the se is the one that gives
    t_a (se·t/t_a), the CI estimate ± t_{h,1−α/2}·se. Columns of :data:`ROBUSTNESS_COLUMNS`
    except ``g``, ``n_pupils``, ``n_clusters``."""
    rows = []
    for r in pupil_did.itertuples(index=False):
        c = cluster_correction(r.estimate / r.se, r.n_students, n_bar, icc)
        se = r.se * (r.estimate / r.se) / c["t_corrected"] if c["t_corrected"] else np.nan
        q = stats.t.ppf(1 - alpha / 2, c["df"]) if np.isfinite(c["df"]) else np.nan
        rows.append(dict(model="wwc_corrected", contrast=r.contrast, estimate=r.estimate, se=se,
                         df=c["df"], ci_low=r.estimate - q * se, ci_high=r.estimate + q * se, p=c["p"]))
    return pd.DataFrame(rows)


def _rows_from_did(t: pd.DataFrame, model: str) -> pd.DataFrame:
    return t.assign(model=model)[["model", "contrast", "estimate", "se", "df", "ci_low", "ci_high", "p"]]


def did_robustness(data: pd.DataFrame, wide: pd.DataFrame, design: Design, *, icc_class: float,
                   matches: pd.DataFrame | None = None, alpha: float = 0.05,
                   pupil_fit: LMMFit | None = None, multilevel_fit: LMMFit | None = None,
                   mmrm_fit: LMMFit | None = None, n_boot: int = 9999, seed=0,
                   contrasts=None, additional: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every estimate of the DiD of ONE outcome, one row per model × contrast
    (columns :data:`ROBUSTNESS_COLUMNS`, rows in the order of :data:`MODELS`):

    - ``lmm_pupil``: ``score ~ condition * wave + (1 | student_id)``, Wald z (the
      contract's ``did`` of a pupil-assigned design);
    - ``lmm_multilevel`` / ``lmm_multilevel_satterthwaite``: the multilevel model of
      ``design`` (:func:`random_part`) with KR / Satterthwaite inference;
    - ``cr2_change``, ``cr2_ancova``, ``wild_cluster_bootstrap``: the class as unit
      (:func:`mut_eval.stats.cluster_robust.design_based_did`; no T3-T2 row: they compare
      a later wave with T1);
    - ``wwc_corrected``: the pupil-level test corrected with ``icc_class`` (:func:`wwc_rows`);
    - ``additional``: rows estimated elsewhere for this outcome, with their own
      ``n_pupils``/``n_clusters`` (and ``fmi``) — the adjusted and weighted estimates of
      :func:`mut_eval.stats.adjustment.adjusted_rows` and the pooled multiple imputation
      (:func:`mut_eval.stats.imputation.mi_did`); ``fmi`` (fraction of missing
      information) is empty for the other rows;
    - with ``design.residual == "unstructured"`` also ``mmrm_multilevel`` (class-assigned)
      or ``mmrm_pupil``: the unstructured within-pupil covariance (MMRM) in place of the
      pupil intercept, Kenward–Roger (:func:`mut_eval.stats.mmrm.fit_mmrm`).

    ``g`` is every row's estimate on the contract's scale (ω·estimate / S, S the pooled
    SD at T1); ``n_pupils`` the pupils in that analysis, ``n_clusters`` their classes.
    Pass fitted models to avoid refitting. ``data``: long rows of one outcome with
    ``student_id, condition, school, class, wave, score``; ``wide``: the Panel's wide view.
    """
    outcome = str(data["outcome"].iloc[0]) if "outcome" in data.columns and len(data) else None
    pupil_fit = pupil_fit or fit_lmm(data)
    rand = random_part(design)
    d = with_mentor_groups(data, matches) if design.mentor_groups else data
    multilevel_fit = multilevel_fit or fit_lmm(d, random=rand)
    pupil = did(data, fit=pupil_fit, alpha=alpha)
    parts = [_rows_from_did(pupil, "lmm_pupil"),
             _rows_from_did(did(d, fit=multilevel_fit, alpha=alpha, ddf="kenward-roger"), "lmm_multilevel"),
             _rows_from_did(did(d, fit=multilevel_fit, alpha=alpha, ddf="satterthwaite"),
                            "lmm_multilevel_satterthwaite")]
    if design.residual == "unstructured":
        mmrm_fit = mmrm_fit or _mmrm_fit(d, design)
        parts.append(_rows_from_did(did(d, fit=mmrm_fit, alpha=alpha, ddf="kenward-roger"),
                                    "mmrm_multilevel" if design.clustered else "mmrm_pupil"))
    n_bar = float(data.drop_duplicates("student_id").groupby(["school", "class"]).size().mean())
    later = [c for c in pupil["contrast"] if c.endswith("-T1")]
    if contrasts is not None:
        later = [c for c in later if c in contrasts]
    if outcome is not None and later and "class" in design.levels:
        db = design_based_checks(wide, [outcome], later, alpha=alpha, n_boot=n_boot, seed=seed)
        parts.append(db.drop(columns=["outcome", "n_pupils", "n_clusters"]))
    parts.append(wwc_rows(pupil, icc_class, n_bar, alpha))
    own = ["n_pupils", "n_clusters", "fmi"]
    if additional is not None and len(additional):
        extra = additional[additional["outcome"] == outcome] if "outcome" in additional.columns else additional
        parts.append(extra.drop(columns=["outcome"], errors="ignore").reindex(
            columns=["model", "contrast", "estimate", "se", "df", "ci_low", "ci_high", "p", *own]))
    out = pd.concat([p.reindex(columns=[*p.columns, *[c for c in own if c not in p.columns]]) for p in parts],
                    ignore_index=True)
    if contrasts is not None:
        out = out[out["contrast"].isin(contrasts)]
    out["g"] = _g_scale(data) * out["estimate"]
    pupils = _pupils_in(data, out["contrast"].unique())
    n_classes = int(data.groupby(["school", "class"]).ngroups)
    design_based = out["model"].str.startswith(("cr2", "wild")).to_numpy()
    for col, k, whole in (("n_pupils", 0, pupil_fit.n_students), ("n_clusters", 1, n_classes)):
        default = [pupils[c][k] if db else whole for db, c in zip(design_based, out["contrast"])]
        out[col] = out[col].astype(float).fillna(pd.Series(default, index=out.index, dtype=float)).astype(int)
    out["outcome"] = outcome
    order = {m: i for i, m in enumerate(MODELS)}
    out = out.sort_values(["contrast", "model"], key=lambda s: s.map(order) if s.name == "model" else s,
                          kind="stable")
    return out[ROBUSTNESS_COLUMNS].reset_index(drop=True)


def _mmrm_fit(data: pd.DataFrame, design: Design) -> LMMFit:
    """The primary model's terms with the unstructured residual covariance (MMRM)."""
    return fit_lmm(data, random=random_part(design) if design.clustered else None, residual="unstructured")


def _pupils_in(data: pd.DataFrame, contrasts) -> dict[str, tuple[int, int]]:
    """Per contrast: the pupils scored at both of its waves and their classes (the
    design-based rows)."""
    w = data.pivot_table(index="student_id", columns="wave", values="score", aggfunc="first")
    where = data.drop_duplicates("student_id").set_index("student_id")[["school", "class"]]
    out = {}
    for c in contrasts:
        later, earlier = c.split("-")
        if later not in w.columns or earlier not in w.columns:
            out[c] = (0, 0)
            continue
        ok = w.index[w[later].notna() & w[earlier].notna()]
        out[c] = (int(len(ok)), int(where.loc[ok].drop_duplicates().shape[0]))
    return out


def effects_by_outcome(long: pd.DataFrame, wide: pd.DataFrame, design: Design, icc: pd.DataFrame, *,
                       outcomes=None, matches: pd.DataFrame | None = None, alpha: float = 0.05,
                       n_boot: int = 9999, seed=0, additional: pd.DataFrame | None = None
                       ) -> dict[str, pd.DataFrame]:
    """The effect tables of every outcome under ``design``: ``lmm_fixed``, ``lmm_emm`` and
    ``did`` of the primary model — the multilevel model with Kenward–Roger inference when
    whole classes or schools were assigned (``design.clustered``), else the pupil-level
    model — and ``did_robustness`` (:func:`did_robustness`).

    With ``design.residual == "unstructured"`` the primary model has the unstructured
    within-pupil covariance instead of the pupil intercept (``mmrm_multilevel`` /
    ``mmrm_pupil``, Kenward–Roger). ``did`` keeps the contract's columns and adds ``model``, ``df`` and ``g_total`` with
    its CI (:func:`g_total`, from the T1 variances and class ICC in ``icc``, the table of
    :func:`mut_eval.stats.icc.icc_table`); the WWC correction of the pupil-level test uses
    the estimated ICC. ``additional``: rows for ``did_robustness`` estimated elsewhere
    (with an ``outcome`` column; see :func:`did_robustness`).
    """
    outcomes = list(pd.unique(long["outcome"])) if outcomes is None else list(outcomes)
    rand = random_part(design)
    data = with_mentor_groups(long, matches) if design.mentor_groups else long
    icc_by = icc.set_index("outcome") if len(icc) else pd.DataFrame()
    parts: dict[str, list] = {"lmm_fixed": [], "lmm_emm": [], "did": [], "did_robustness": []}
    progress.stage("effect models per outcome", total=len(outcomes))
    for o in outcomes:
        progress.advance()
        d = data[data["outcome"] == o]
        try:
            pupil = fit_lmm(d)
            multi = fit_lmm(d, random=rand) if design.levels or design.mentor_groups else pupil
            mmrm = _mmrm_fit(d, design) if design.residual == "unstructured" else None
        except StudyError as e:
            raise StudyError(f"cannot estimate the mixed model for outcome '{o}': {e}") from None
        rho = float(icc_by.loc[o, "icc_class"]) if o in icc_by.index else np.nan
        parts["did_robustness"].append(did_robustness(
            d, wide, design, icc_class=rho if np.isfinite(rho) else 0.0, matches=matches, alpha=alpha,
            pupil_fit=pupil, multilevel_fit=multi, mmrm_fit=mmrm, n_boot=n_boot, seed=seed,
            additional=additional))
        primary, model, ddf = ((multi, "lmm_multilevel", "kenward-roger") if design.clustered
                               else (pupil, "lmm_pupil", "asymptotic"))
        if mmrm is not None:
            primary, model, ddf = mmrm, "mmrm_multilevel" if design.clustered else "mmrm_pupil", "kenward-roger"
        t = did(d, fit=primary, alpha=alpha, ddf=ddf).assign(model=model)
        if o in icc_by.index:
            r = icc_by.loc[o]
            total = float(np.nansum([r["var_school"], r["var_class"], r["var_resid"]]))
            n_bar = float(d.drop_duplicates("student_id").groupby(["school", "class"]).size().mean())
            t = pd.concat([t, g_total(t["estimate"], t["se"], total, rho, primary.n_students, n_bar,
                                      alpha)], axis=1)
        parts["did"].append(t)
        kw = dict(fit=primary, alpha=alpha)
        parts["lmm_fixed"].append(lmm_fixed(d, **kw).assign(outcome=o, model=model))
        parts["lmm_emm"].append(lmm_emm(d, **kw).assign(outcome=o, model=model))
    return stack_by_outcome(parts)
