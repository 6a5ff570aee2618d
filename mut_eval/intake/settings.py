"""The settings of ``study.yaml``, read once into typed objects with their defaults and checks.

:func:`read_settings` turns the parsed YAML mapping into a :class:`StudySettings`; every
later stage reads these objects and never re-checks the YAML. A wrong value ends in a
:class:`~mut_eval.StudyError` naming ``study.yaml``, the key and the value.

The keys (every one optional; the defaults apply when it is left out):

``analysis``
    see :class:`AnalysisSettings` (bootstrap, seed, alpha, min_cell, outcomes, moderators,
    prespecified_moderators, changes, covariates, probe, icc, hc, center, staff_edition,
    weighting, imputation, benchmark).
``ids``
    ``{pad: 6, strip: true}`` — see :class:`IdSettings`.
``missing_codes``
    values that mean "no answer". Either one list for every file,
    ``missing_codes: [9, 99, -1, "n.v.t."]``, or per file, ``missing_codes: {all: [9],
    wave: [99], wave_T2: [-1]}`` where ``all`` applies to every file, ``wave`` to the three
    wave files, and a file's own name (``students``, ``wave_T1`` ... ``qsort``) to that file;
    the lists add up. A number matches the cell's number (``9`` matches ``9``, ``9.0``,
    ``9,0``); text matches case-insensitively after trimming. Identifier columns are never
    blanked. Values declared missing in an SPSS ``.sav`` file count already.
``dates``
    ``{format: "%d-%m-%Y"}`` — how text dates are written (Python ``strptime`` codes).
    Default: ISO ``yyyy-mm-dd``; date cells of Excel and SPSS are read as dates whatever
    the format.
``lists``
    ``{separator: ","}`` — the separator of tag lists (``interests``): ``";"``, ``","`` or
    ``auto`` (default: ``;`` when the cell has one, else ``,``).
``duplicates``
    per file, what to do with a second row of the same pupil (mentor in ``mentors``):
    ``error`` (default: listed as a problem), ``first`` / ``last`` (keep the first / last
    row in file order), ``most_complete`` (keep the row with the most filled cells; the
    first on a tie). E.g. ``duplicates: {wave_T2: most_complete}``; ``wave`` sets all three
    waves. Every dropped row is listed in the ``accounting`` table with its reason.
``mentees_without_match``
    ``error`` (default) or ``keep``: a mentee without a row in ``matches`` stays a mentee
    for the effect analyses (intention to treat); match moderators are missing for that
    pupil.
``variables``
    extra columns to use as moderators or covariates — see :class:`VariableSpec`.
``design``
    how pupils were assigned and grouped — see :class:`DesignSettings`.

Next to ``study.yaml`` a file ``exclusions.csv`` (or ``.xlsx``) may list pupils to leave
out: columns ``student_id``, optional ``wave`` (``T1``/``T2``/``T3``; blank = the whole
pupil) and ``reason``; see :mod:`mut_eval.intake.validate`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Mapping

from .. import CHANGES, StudyError, WAVES
from .repairs import normalise_code

TABLES = ("students", "wave_T1", "wave_T2", "wave_T3", "mentors", "matches", "qsort")
DUPLICATE_POLICIES = ("error", "first", "last", "most_complete")
HC_TYPES = ("HC0", "HC1", "HC2", "HC3", "HC4")
#: The changes moderated by default: those from the baseline T1. T3−T2 is mostly the
#: T3−T1 and T2−T1 rows subtracted, so it adds tests (and BH burden) more than answers.
DEFAULT_CHANGES = tuple(c for c in CHANGES if c.endswith(f"-{WAVES[0]}"))


def _whole(v) -> bool:  # YAML's yes/no are bools, and bool is an int in Python
    return isinstance(v, int) and not isinstance(v, bool)


def _names(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


WEIGHTING_METHODS = ("entropy", "logistic", "none")


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class WeightingSettings:
    """``analysis.weighting`` — weights that make the control group resemble the mentees
    (the ATT), for the balance table and the doubly robust estimates:

    - ``method`` (``entropy``): ``entropy`` balancing (the controls' covariate means
      equal to the mentees' exactly, with the weights as even as possible; Hainmueller
      2012), ``logistic`` propensity scores with weights e/(1 − e), or ``none``;
    - ``covariates`` (age, gender, ses, migration_background, first_generation and every
      outcome's T1 score, those the study has): pupil columns or ``{outcome}_T1``;
    - ``moments`` (1): 1 balances means, 2 also the variances of continuous covariates;
    - ``trim`` (none): with ``logistic``, control weights above this quantile (e.g.
      0.99) are set to it.
    """
    method: str = "entropy"
    covariates: tuple[str, ...] | None = None
    moments: int = 1
    trim: float | None = None

    @classmethod
    def from_mapping(cls, raw, where: str = "study.yaml") -> "WeightingSettings":
        if isinstance(raw, cls):
            return raw
        if isinstance(raw, str):
            raw = {"method": raw}
        if raw is not None and not isinstance(raw, Mapping):
            raise StudyError(f"{where}: analysis.weighting must be a mapping such as "
                             f"{{method: entropy}}, not {raw!r}")
        raw = dict(raw or {})
        bad = sorted(str(k) for k in raw if k not in {f.name for f in fields(cls)})
        if bad:
            raise StudyError(f"{where}: analysis.weighting: unknown key(s) {', '.join(bad)}; allowed: "
                             "method, covariates, moments, trim")

        def fail(key, msg):
            raise StudyError(f"{where}: analysis.weighting.{key}: {msg}")
        method = raw.get("method", "entropy")
        if method not in WEIGHTING_METHODS:
            fail("method", f"must be one of {', '.join(WEIGHTING_METHODS)}, not {method!r}")
        cov = raw.get("covariates")
        if isinstance(cov, tuple):
            cov = list(cov)
        if cov is not None and (not _names(cov) or not cov):
            fail("covariates", f"must be a list of names (e.g. [age, ses, self_efficacy_T1]), not {cov!r}")
        moments = raw.get("moments", 1)
        if moments not in (1, 2) or isinstance(moments, bool):
            fail("moments", f"must be 1 (means) or 2 (means and variances), not {moments!r}")
        trim = raw.get("trim")
        if trim is not None and (not _number(trim) or not 0.5 < trim < 1):
            fail("trim", f"must be a quantile between 0.5 and 1 (e.g. 0.99), not {trim!r}")
        return cls(method=method, covariates=tuple(cov) if cov is not None else None,
                   moments=int(moments), trim=None if trim is None else float(trim))


@dataclass(frozen=True)
class ImputationSettings:
    """``analysis.imputation`` — multiple imputation of missing covariates and outcome
    waves as a sensitivity analysis (row ``multiple_imputation`` of ``did_robustness``):

    - ``m`` (20): imputed data sets; 0 switches the analysis off;
    - ``donors`` (5): candidates of predictive mean matching (as R ``mice``);
    - ``maxit`` (5): iterations of the chained equations (as ``mice``).
    The seed is ``analysis.seed``.
    """
    m: int = 20
    donors: int = 5
    maxit: int = 5

    @classmethod
    def from_mapping(cls, raw, where: str = "study.yaml") -> "ImputationSettings":
        if isinstance(raw, cls):
            return raw
        if raw is False:
            raw = {"m": 0}
        if raw is not None and not isinstance(raw, Mapping):
            raise StudyError(f"{where}: analysis.imputation must be a mapping such as {{m: 20}}, not {raw!r}")
        raw = dict(raw or {})
        bad = sorted(str(k) for k in raw if k not in {f.name for f in fields(cls)})
        if bad:
            raise StudyError(f"{where}: analysis.imputation: unknown key(s) {', '.join(bad)}; allowed: "
                             "m, donors, maxit")
        a = {f.name: raw.get(f.name, f.default) for f in fields(cls)}
        for key, low in (("m", 0), ("donors", 1), ("maxit", 1)):
            if not _whole(a[key]) or a[key] < low:
                raise StudyError(f"{where}: analysis.imputation.{key}: must be a whole number >= {low}, "
                                 f"not {a[key]!r}")
        if a["m"] == 1:
            raise StudyError(f"{where}: analysis.imputation.m: one imputation has no between-imputation "
                             "variance; use 0 (off) or at least 2 (20 recommended)")
        return cls(**a)


def auto_bootstrap(n: int) -> int:
    """Resamples for ``bootstrap: auto`` with ``n`` mentees: 5000 up to 20,000 mentees, then
    10^8 / n rounded down to hundreds, at least 1000 (2000 at 50,000, 1000 from 100,000).

    With this many pupils the sampling distribution of the moderation coefficients is
    normal to within the Monte Carlo error of any bootstrap (Berry–Esseen: its distance
    from the normal shrinks as 1/√n), so the percentile interval coincides with the t
    interval; the bootstrap then only confirms it and need not cost n × 5000 pupil draws
    per model. 1000 resamples keep the Monte Carlo SE of a 2.5 % percentile at about
    0.5 % of the interval's width (Efron & Tibshirani 1993, ch. 19)."""
    n = int(n)
    if n <= 20_000:
        return 5000
    return max(1000, (10 ** 8 // n) // 100 * 100)


@dataclass(frozen=True)
class AnalysisSettings:
    """``analysis:`` in study.yaml.

    - ``bootstrap`` (5000): bootstrap resamples for the moderation CIs (0 = none), or
      ``auto``: chosen by the number of mentees (:func:`auto_bootstrap`);
    - ``seed`` (2020): seed of every random draw;
    - ``alpha`` (0.05): significance level, CIs are 1 − alpha;
    - ``min_cell`` (10): groups smaller than this are suppressed in what staff read;
    - ``outcomes`` (all outcome scales of the codebook): the outcomes to analyse;
    - ``moderators`` (all that can be formed): moderator names (also declared ``variables``);
    - ``prespecified_moderators`` ([]): ``{outcome, change, moderator}`` confirmatory tests;
    - ``changes`` (``[T2-T1, T3-T1]``): the changes whose moderation is analysed (the
      moderation grid, its conditional effects and figures, and the rows of the DiD by
      pupil characteristic); a list of ``T2-T1``, ``T3-T1``, ``T3-T2``. The default keeps
      the changes from the start: T3−T2 is their difference and, listed, adds as many tests
      to the Benjamini–Hochberg family;
    - ``covariates`` ([]): baseline pupil columns for a second, adjusted mixed model;
    - ``probe`` (``moments``): probe values M−1SD/M/M+1SD, or ``percentiles`` (P16/P50/P84);
    - ``icc`` (0.10): WWC default intraclass correlation for the clustering correction;
    - ``hc`` (``HC3``): standard errors of the moderation regressions, ``HC0`` … ``HC4``
      (heteroscedasticity-consistent, Long & Ervin 2000), or ``OLS`` (also ``null`` /
      ``none``) for the classical OLS covariance as PROCESS prints by default. HC3 is the
      default because in a simulation of MUT-like data (124 mentees) OLS rejected a true
      null slope 9–30 % of the time with heteroscedastic or skewed errors or a skewed
      moderator, and HC3 5–9 %;
    - ``center`` (false): mean-centre a numeric moderator (PROCESS's centering);
    - ``staff_edition`` (false): results.xlsx with small cells suppressed, for staff;
    - ``weighting``: see :class:`WeightingSettings`;
    - ``imputation``: see :class:`ImputationSettings`;
    - ``benchmark`` (``migration_background``): the observed covariate against which the
      sensitivity to an unmeasured confounder is expressed ("k times as strong as").
    """
    bootstrap: int | str = 5000
    seed: int = 2020
    alpha: float = 0.05
    min_cell: int = 10
    outcomes: tuple[str, ...] | None = None
    moderators: tuple[str, ...] | None = None
    prespecified_moderators: tuple[dict, ...] = ()
    changes: tuple[str, ...] = DEFAULT_CHANGES
    covariates: tuple[str, ...] = ()
    probe: str = "moments"
    icc: float = 0.10
    hc: str = "HC3"
    center: bool = False
    staff_edition: bool = False
    weighting: WeightingSettings = field(default_factory=WeightingSettings)
    imputation: ImputationSettings = field(default_factory=ImputationSettings)
    benchmark: str | None = "migration_background"

    @classmethod
    def from_mapping(cls, raw: Mapping | None, where: str = "study.yaml") -> "AnalysisSettings":
        """Defaults updated with ``raw`` (a dict as in study.yaml), every value checked."""
        raw = dict(raw or {})
        allowed = [f.name for f in fields(cls)]
        bad = sorted(str(k) for k in raw if k not in allowed)
        if bad:
            raise StudyError(f"{where}: unknown analysis option(s) {', '.join(bad)}; allowed: {', '.join(allowed)}")

        def fail(msg):
            raise StudyError(f"{where}: analysis option {msg}")
        a = {f.name: raw.get(f.name, f.default) for f in fields(cls)}
        b = a["bootstrap"]
        if isinstance(b, str) and b.strip().isdigit():
            b = int(b.strip())
        elif isinstance(b, str) and b.strip().lower() == "auto":
            b = "auto"
        if b != "auto" and (not _whole(b) or b < 0):
            fail(f"'bootstrap' must be a whole number >= 0 or auto, not {a['bootstrap']!r}")
        a["bootstrap"] = b
        if not _whole(a["seed"]):
            fail(f"'seed' must be a whole number, not {a['seed']!r}")
        if isinstance(a["alpha"], bool) or not isinstance(a["alpha"], (int, float)) or not 0 < a["alpha"] < 1:
            fail(f"'alpha' must be between 0 and 1, not {a['alpha']!r}")
        if not _whole(a["min_cell"]) or a["min_cell"] < 1:
            fail(f"'min_cell' must be a whole number >= 1, not {a['min_cell']!r}")
        if a["probe"] not in ("moments", "percentiles"):
            fail(f"'probe' must be 'moments' or 'percentiles', not {a['probe']!r}")
        if isinstance(a["icc"], bool) or not isinstance(a["icc"], (int, float)) or not 0 <= a["icc"] < 1:
            fail(f"'icc' must be a number from 0 to 1, not {a['icc']!r}")
        # null / none / false spell the classical OLS covariance too
        hc = "OLS" if a["hc"] is None or a["hc"] is False else (
            f"HC{a['hc']}" if _whole(a["hc"]) else str(a["hc"]).strip().upper())
        hc = "OLS" if hc == "NONE" else hc
        if hc not in (*HC_TYPES, "OLS"):
            fail(f"'hc' must be one of HC0, HC1, HC2, HC3, HC4 or OLS (default HC3), not {a['hc']!r}")
        a["hc"] = hc
        for key in ("center", "staff_edition"):
            if not isinstance(a[key], bool):
                fail(f"'{key}' must be true or false, not {a[key]!r}")
        for key in ("outcomes", "moderators", "covariates"):
            v = a[key]
            if isinstance(v, tuple):
                v = list(v)
            if v is not None and not _names(v):
                fail(f"'{key}' must be a list of names (e.g. [{'age, gender' if key != 'outcomes' else 'self_efficacy'}]), "
                     f"not {v!r}")
            a[key] = tuple(v) if v is not None else (None if key != "covariates" else ())
        pre = a["prespecified_moderators"]
        pre = list(pre) if isinstance(pre, tuple) else ([] if pre is None else pre)
        if not (isinstance(pre, list) and all(
                isinstance(x, dict) and set(x) <= {"outcome", "change", "moderator"} for x in pre)):
            fail(f"'prespecified_moderators' must be a list of {{outcome, change, moderator}} entries, not {pre!r}")
        a["prespecified_moderators"] = tuple(dict(x) for x in pre)
        ch = list(a["changes"]) if isinstance(a["changes"], (list, tuple)) else a["changes"]
        if not _names(ch) or not ch:
            fail(f"'changes' must be a list of {', '.join(CHANGES)} (e.g. [T2-T1, T3-T1]), not {a['changes']!r}")
        unknown = [c for c in ch if c not in CHANGES]
        if unknown:
            fail(f"'changes': unknown change(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(CHANGES)}")
        if len(set(ch)) != len(ch):
            fail(f"'changes' lists a change twice: {ch!r}")
        a["changes"] = tuple(c for c in CHANGES if c in ch)
        a["weighting"] = WeightingSettings.from_mapping(raw.get("weighting"), where)
        a["imputation"] = ImputationSettings.from_mapping(raw.get("imputation"), where)
        if a["benchmark"] is not None and not isinstance(a["benchmark"], str):
            fail(f"'benchmark' must be the name of a pupil covariate, not {a['benchmark']!r}")
        return cls(**a)

    def as_dict(self) -> dict:
        """Plain data (lists, not tuples) as written to ``results.json`` meta ``options``."""
        d = asdict(self)
        for part in (d, d["weighting"]):
            for k, v in part.items():
                if isinstance(v, tuple):
                    part[k] = list(v)
        return d

    def resamples(self, n_mentees: int) -> int:
        """The number of bootstrap resamples: ``bootstrap``, or :func:`auto_bootstrap` for ``auto``."""
        return auto_bootstrap(n_mentees) if self.bootstrap == "auto" else int(self.bootstrap)

    def with_overrides(self, **kw) -> "AnalysisSettings":
        """A copy with the given options replaced (``None`` = keep), checked again."""
        changed = {k: v for k, v in kw.items() if v is not None}
        return AnalysisSettings.from_mapping({**self.as_dict(), **changed}, "study.yaml or command line") if changed else self


def analysis_settings(options) -> AnalysisSettings:
    """Accept an :class:`AnalysisSettings` or a plain dict (``analyze(panel, {"bootstrap": 0})``):
    a dict is completed with the defaults and checked like ``study.yaml``'s ``analysis``."""
    if isinstance(options, AnalysisSettings):
        return options
    return AnalysisSettings.from_mapping(options, "analysis options")


#: The defaults of ``analysis`` as a plain dict (kept for notebooks and tests).
DEFAULT_ANALYSIS = AnalysisSettings().as_dict()


@dataclass(frozen=True)
class IdSettings:
    """``ids:`` — how pupil (and mentor) identifiers are made comparable across files.

    Identifiers are always compared as text, in Unicode NFC form (so an ``é`` typed as one
    character or as ``e`` + accent is the same id), and a number stored as ``47311.0`` by
    Excel or SPSS reads as ``47311``.

    - ``pad`` (none): left-pad numeric ids with zeros to this many digits (Excel and SPSS
      drop leading zeros: ``47311`` becomes ``047311`` with ``pad: 6``); applied in every file.
    - ``strip`` (true): remove invisible characters (zero-width spaces, byte-order marks)
      around an id; white space around any cell is always removed.
    """
    pad: int | None = None
    strip: bool = True


@dataclass(frozen=True)
class VariableSpec:
    """One entry of ``variables:`` — an extra column declared for use in the analyses::

        variables:
          grade_avg: {file: students, column: "Rapportcijfer gem.", type: numeric,
                      label: "Rapportcijfer (gemiddeld)", min: 1, max: 10}
          lwoo:      {file: students, column: LWOO, type: categorical, levels: [nee, ja]}

    - ``file``: ``students``, ``matches`` or a wave (``wave_T1``...): one value per pupil;
    - ``column``: the column's name in that file (default: the variable's own name);
    - ``type``: ``numeric`` (checked to be a number, within ``min``/``max`` when given) or
      ``categorical`` (compared like codes: lower case, spaces as ``_``; when ``levels`` are
      given every value must be one of them, and the first level is the reference);
    - ``min``/``max``: the range of a numeric variable;
    - ``label``: the name shown in tables and the report (default: the variable's name).

    The variable's name can then be listed under ``analysis.moderators`` (moderation of
    change among mentees; a ``students`` or wave variable also in the DiD by moderator) and
    ``analysis.covariates`` (the adjusted mixed model).
    """
    name: str
    file: str
    column: str
    type: str
    label: str
    levels: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None


ASSIGNMENTS = ("pupil", "class", "school")
LEVELS = ("school", "class")
RESIDUALS = ("compound", "unstructured")


@dataclass(frozen=True)
class DesignSettings:
    """``design:`` in study.yaml — what the effect model must respect. Every key may be
    left out; :func:`mut_eval.stats.multilevel.resolve_design` then decides from the data
    and writes the reason to ``results.json`` and the report.

    - ``assignment``: ``pupil`` | ``class`` | ``school`` — the unit that was given a
      condition (default: ``class`` when every class holds one condition, else ``pupil``);
    - ``levels``: grouping levels in the model, a subset of ``[school, class]`` (default:
      those with at least two units);
    - ``mentor_groups``: ``true`` adds the partially nested term of mentees who share a
      mentor after T1 (default: true when some mentor has two or more mentees);
    - ``residual``: ``compound`` (a pupil random intercept) or ``unstructured`` (the MMRM
      within-pupil covariance; default ``compound``, which the simulation study
      ``validation/RESULTS_mmrm.md`` found as well calibrated and as powerful);
    - ``randomised``: ``true`` when the units were assigned by lot (default ``false``: a
      comparison group chosen by schools); it raises the staff edition's evidence rating.
    """
    assignment: str | None = None
    levels: tuple[str, ...] | None = None
    mentor_groups: bool | None = None
    residual: str = "compound"
    randomised: bool = False

    @classmethod
    def from_mapping(cls, raw: Mapping | None, where: str = "study.yaml") -> "DesignSettings":
        raw = dict(raw or {})

        def fail(key, msg):
            raise StudyError(f"{where}: design.{key}: {msg}")
        bad = sorted(str(k) for k in raw if k not in {f.name for f in fields(cls)})
        if bad:
            raise StudyError(f"{where}: design: unknown key(s) {', '.join(bad)}; allowed: "
                             "assignment, levels, mentor_groups, residual, randomised")
        a = raw.get("assignment")
        if a is not None and a not in ASSIGNMENTS:
            fail("assignment", f"must be one of {', '.join(ASSIGNMENTS)}, not {a!r}")
        lv = raw.get("levels")
        if lv is not None:
            if isinstance(lv, str):
                lv = [lv]
            if not _names(lv) or not set(lv) <= set(LEVELS) or len(set(lv)) != len(lv):
                fail("levels", f"must be a list of school and/or class (or []), not {raw.get('levels')!r}")
            lv = tuple(x for x in LEVELS if x in lv)
        mg = raw.get("mentor_groups")
        if mg is not None and not isinstance(mg, bool):
            fail("mentor_groups", f"must be true or false, not {mg!r}")
        res = raw.get("residual", "compound")
        if res not in RESIDUALS:
            fail("residual", f"must be one of {', '.join(RESIDUALS)}, not {res!r}")
        rnd = raw.get("randomised", False)
        if not isinstance(rnd, bool):
            fail("randomised", f"must be true or false, not {rnd!r}")
        return cls(assignment=a, levels=lv, mentor_groups=mg, residual=res, randomised=rnd)


@dataclass(frozen=True)
class StudySettings:
    """Everything of ``study.yaml`` that steers reading and analysing (see the module docstring)."""
    analysis: AnalysisSettings = field(default_factory=AnalysisSettings)
    ids: IdSettings = field(default_factory=IdSettings)
    missing_codes: dict = field(default_factory=dict)        # table -> tuple of codes (see missing_for)
    date_format: str | None = None
    list_separator: str = "auto"
    duplicates: dict = field(default_factory=dict)           # table -> policy
    mentees_without_match: str = "error"
    variables: dict = field(default_factory=dict)            # name -> VariableSpec
    design: DesignSettings = field(default_factory=DesignSettings)

    def missing_for(self, table: str) -> tuple:
        """The missing-value codes that apply to one table (``all`` + ``wave`` + its own)."""
        keys = ["all"] + (["wave"] if table.startswith("wave_") else []) + [table]
        return tuple(c for k in keys for c in self.missing_codes.get(k, ()))

    def duplicates_for(self, table: str) -> str:
        return self.duplicates.get(table) or (self.duplicates.get("wave") if table.startswith("wave_") else None) \
            or "error"


SETTING_KEYS = ("analysis", "ids", "missing_codes", "dates", "lists", "duplicates", "mentees_without_match",
                "variables", "design")


def read_settings(cfg: Mapping, where: str | Path = "study.yaml") -> StudySettings:
    """The typed settings of a parsed ``study.yaml`` mapping; raises :class:`StudyError`
    naming ``where`` and the key for a value of the wrong shape."""
    where = str(where)

    def fail(key, msg):
        raise StudyError(f"{where}: {key}: {msg}")

    def mapping(key):
        v = cfg.get(key)
        if v is not None and not isinstance(v, dict):
            fail(key, f"must be a mapping (key: value lines), not {v!r}")
        return v or {}

    if cfg.get("analysis") is not None and not isinstance(cfg["analysis"], dict):
        raise StudyError(f"{where}: 'analysis' must be a mapping")
    analysis = AnalysisSettings.from_mapping(cfg.get("analysis"), where)

    ids_raw = mapping("ids")
    bad = sorted(set(map(str, ids_raw)) - {"pad", "strip"})
    if bad:
        fail("ids", f"unknown key(s) {', '.join(bad)}; allowed: pad, strip")
    pad = ids_raw.get("pad")
    if pad is not None and (not _whole(pad) or not 1 <= pad <= 40):
        fail("ids.pad", f"must be a whole number of digits (e.g. 6), not {pad!r}")
    strip = ids_raw.get("strip", True)
    if not isinstance(strip, bool):
        fail("ids.strip", f"must be true or false, not {strip!r}")

    mc = cfg.get("missing_codes")
    missing: dict[str, tuple] = {}
    if mc is not None:
        per = {"all": mc} if isinstance(mc, list) else mc
        if not isinstance(per, dict):
            fail("missing_codes", f"must be a list (e.g. [9, 99, \"n.v.t.\"]) or a mapping per file, not {mc!r}")
        for k, codes in per.items():
            if k not in (*TABLES, "all", "wave"):
                fail("missing_codes", f"unknown file {k!r}; allowed: all, wave, {', '.join(TABLES)}")
            codes = [codes] if isinstance(codes, (str, int, float)) and not isinstance(codes, bool) else codes
            if not isinstance(codes, list) or not all(
                    isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in codes):
                fail(f"missing_codes.{k}", f"must be a list of numbers or texts, not {codes!r}")
            missing[str(k)] = tuple(codes)

    dates = mapping("dates")
    bad = sorted(set(map(str, dates)) - {"format"})
    if bad:
        fail("dates", f"unknown key(s) {', '.join(bad)}; allowed: format")
    fmt = dates.get("format")
    if fmt is not None:
        if not isinstance(fmt, str) or "%" not in fmt:
            fail("dates.format", f"must be a strptime format such as \"%d-%m-%Y\", not {fmt!r}")
        try:
            datetime.strptime(datetime(2001, 2, 3).strftime(fmt), fmt)
        except ValueError as e:
            fail("dates.format", f"{fmt!r} is not a usable date format ({e})")

    lists = mapping("lists")
    bad = sorted(set(map(str, lists)) - {"separator"})
    if bad:
        fail("lists", f"unknown key(s) {', '.join(bad)}; allowed: separator")
    sep = lists.get("separator", "auto")
    if sep not in ("auto", ";", ","):
        fail("lists.separator", f"must be ';', ',' or auto, not {sep!r}")

    dup = mapping("duplicates")
    for k, v in dup.items():
        if k not in (*TABLES, "wave"):
            fail("duplicates", f"unknown file {k!r}; allowed: wave, {', '.join(TABLES)}")
        if v not in DUPLICATE_POLICIES:
            fail(f"duplicates.{k}", f"must be one of {', '.join(DUPLICATE_POLICIES)}, not {v!r}")

    mwm = cfg.get("mentees_without_match", "error")
    if mwm not in ("error", "keep"):
        fail("mentees_without_match", f"must be 'error' or 'keep', not {mwm!r}")

    return StudySettings(analysis=analysis, ids=IdSettings(pad=pad, strip=strip), missing_codes=missing,
                         date_format=fmt, list_separator=sep, duplicates={str(k): v for k, v in dup.items()},
                         mentees_without_match=mwm, variables=_variables(mapping("variables"), fail),
                         design=DesignSettings.from_mapping(mapping("design"), where))


_VARIABLE_FILES = ("students", "matches", *(f"wave_{w}" for w in WAVES))


def _variables(raw: dict, fail) -> dict:
    out = {}
    for name, spec in raw.items():
        key = f"variables.{name}"
        if not isinstance(name, str) or not name.isidentifier():
            fail("variables", f"a variable name must be a plain name (letters, digits, _), not {name!r}")
        if not isinstance(spec, dict):
            fail(key, f"must be a mapping such as {{file: students, column: LWOO, type: categorical}}, not {spec!r}")
        bad = sorted(set(map(str, spec)) - {"file", "column", "type", "label", "levels", "min", "max"})
        if bad:
            fail(key, f"unknown key(s) {', '.join(bad)}; allowed: file, column, type, label, levels, min, max")
        file = spec.get("file", "students")
        if file not in _VARIABLE_FILES:
            fail(f"{key}.file", f"must be one of {', '.join(_VARIABLE_FILES)} (one value per pupil), not {file!r}")
        typ = spec.get("type")
        if typ not in ("numeric", "categorical"):
            fail(f"{key}.type", f"must be numeric or categorical, not {typ!r}")
        column = spec.get("column", name)
        if not isinstance(column, (str, int)) or isinstance(column, bool):
            fail(f"{key}.column", f"must be a column name, not {column!r}")
        label = spec.get("label", name)
        if not isinstance(label, str) or not label.strip():
            fail(f"{key}.label", f"must be a text, not {label!r}")
        levels = spec.get("levels")
        if levels is not None:
            if typ != "categorical":
                fail(f"{key}.levels", "levels are given for a categorical variable only")
            if not isinstance(levels, list) or len(levels) < 2 or not all(
                    isinstance(v, (str, int)) and not isinstance(v, bool) for v in levels):
                fail(f"{key}.levels", f"must be a list of at least two values, not {levels!r}")
            levels = tuple(normalise_code(v) for v in levels)
        bounds = {}
        for b in ("min", "max"):
            v = spec.get(b)
            if v is not None:
                if typ != "numeric" or isinstance(v, bool) or not isinstance(v, (int, float)):
                    fail(f"{key}.{b}", f"must be a number, for a numeric variable, not {v!r}")
                bounds[b] = float(v)
        out[name] = VariableSpec(name=name, file=file, column=str(column), type=typ, label=label.strip(),
                                 levels=levels, **bounds)
    return out


__all__ = ["AnalysisSettings", "IdSettings", "VariableSpec", "StudySettings", "read_settings",
           "analysis_settings", "DEFAULT_ANALYSIS", "SETTING_KEYS"]
