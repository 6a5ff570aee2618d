"""Validation of a study folder: every problem collected, none silently dropped.

Rules come from ``data_schemas/tables.yaml`` (columns, codes, ranges) and the codebook
(item columns and their response range); they are turned into pandera schemas and run
lazily so that all failures are reported together. Cross-table rules (a pupil in a wave
file who is not enrolled, a mentee without a match, a match to an unknown mentor, ...)
are checked here too. Each problem names the file, the row as numbered in that file,
the column and the value.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import yaml

from .. import CONDITIONS, WAVES, StudyError, is_missing
from .codebook import Codebook, load_codebook
from .derive import age_at, derive_person, origin_from_countries
from .io import RawTable, TableError, read_table, to_number
from .scoring import scored_disagreements
from .study import REQUIRED_TABLES, Study, load_study


@dataclass(frozen=True)
class Problem:
    file: str
    row: int | None
    column: str | None
    value: object
    rule: str
    severity: str = "error"  # or "warning"

    def __str__(self) -> str:
        parts = [self.file]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column}")
        if self.value is not None:
            parts.append(f"value {_shorten(self.value)}")
        return f"{self.severity.upper()}: " + ", ".join(parts) + f": {self.rule}"


def _shorten(value, limit: int = 60) -> str:
    """The value as typed (``repr``), cut short when it would flood the message."""
    text = str(value)
    if len(text) <= limit:
        return repr(value)
    return repr(text[:limit]) + f"... ({len(text):,} characters)"


class ValidationFailed(StudyError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        files = list(dict.fromkeys(p.file for p in problems))
        # reported file by file (in the order met) and row by row, as a user works through them
        errors = sorted((p for p in problems if p.severity == "error"),
                        key=lambda p: (files.index(p.file), -1 if p.row is None else p.row))
        super().__init__(f"{len(errors)} problem(s) in the study:\n" + "\n".join(str(p) for p in errors))


@dataclass
class CleanStudy:
    """Typed, validated tables. ``students`` etc. are indexed by their key; ``rows`` maps
    each table to the file row number of each of its records (for the flow account)."""
    study: Study
    codebook: Codebook
    students: pd.DataFrame
    waves: dict[str, pd.DataFrame]
    mentors: pd.DataFrame
    matches: pd.DataFrame
    qsort: pd.DataFrame | None
    files: dict[str, Path]
    problems: list[Problem] = field(default_factory=list)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def load_schema_spec() -> dict:
    path = Path(str(resources.files("mut_eval") / "schemas" / "tables.yaml"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


SPEC = load_schema_spec()
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")


def normalise_code(v):
    """Codes are compared lower-case with spaces and hyphens as underscores."""
    if v is None:
        return None
    return re.sub(r"[\s\-]+", "_", str(v).strip().lower())


# ----------------------------------------------------------------- column checks
def _is_number(s: pd.Series) -> pd.Series:
    return to_number(s).notna() | s.isna()


def _check_for(spec: dict, codebook: Codebook) -> list[pa.Check]:
    t = spec["type"]
    lo, hi = spec.get("min"), spec.get("max")
    if t == "code":
        allowed = SPEC["codes"][spec["codes"]]
        return [pa.Check(lambda s, a=tuple(allowed): s.isna() | s.isin(a),
                         error=f"unknown code (allowed: {', '.join(allowed)})")]
    if t in ("number", "integer", "item", "score"):
        if t in ("item", "score"):
            lo, hi = codebook.response_min, codebook.response_max
        kind = "a whole number" if t in ("integer", "item") else "a number"
        rng = f" from {lo:g} to {hi:g}" if lo is not None and hi is not None else (
            f" of at least {lo:g}" if lo is not None else "")
        msg = f"must be {kind}{rng}" + (" (an answer on the questionnaire scale)" if t == "item" else "")

        def check(s, lo=lo, hi=hi, whole=t in ("integer", "item")):
            x = to_number(s)
            ok = x.notna()
            if whole:
                ok &= np.isclose(x.fillna(0.5) % 1, 0)
            if lo is not None:
                ok &= x >= lo
            if hi is not None:
                ok &= x <= hi
            return ok | s.isna()
        return [pa.Check(check, error=msg)]
    if t == "date":
        today = pd.Timestamp(date.today())

        def check_date(s):
            ok = s.map(lambda v: v is None or bool(_ISO_DATE.match(str(v))))
            parsed = pd.to_datetime(s.where(ok, None), errors="coerce", format="mixed")
            return s.isna() | (ok & parsed.notna() & (parsed <= today))
        return [pa.Check(check_date, error="must be a date yyyy-mm-dd, not in the future")]
    return []


def build_schema(table: str, columns: dict, codebook: Codebook) -> pa.DataFrameSchema:
    """A pandera schema for one table from its column specs (tables.yaml + codebook)."""
    cols = {}
    for name, spec in columns.items():
        cols[name] = pa.Column(None, checks=_check_for(spec, codebook),
                               nullable=spec.get("nullable", True), required=False)
    return pa.DataFrameSchema(cols, name=table)


def wave_columns(codebook: Codebook, wave: str) -> dict:
    cols = dict(SPEC["tables"]["wave"]["columns"])
    for key, scale in codebook.scales.items():
        if wave in scale.waves:
            for item in scale.items:
                cols[item] = {"type": "item"}
            cols[key] = {"type": "score"}
    return cols


# ----------------------------------------------------------------- the validator
class _Collector:
    def __init__(self):
        self.problems: list[Problem] = []

    def add(self, file, row, column, value, rule, severity="error"):
        if is_missing(value):
            value = None
        self.problems.append(Problem(file, None if row is None else int(row), column, value, rule, severity))

    @property
    def n_errors(self):
        return sum(p.severity == "error" for p in self.problems)


def _prepare(raw: RawTable, study: Study, columns: dict, out: _Collector) -> pd.DataFrame | None:
    """Rename columns, map SPSS labels, normalise and recode codes; report structural problems."""
    df = raw.data.copy()
    renames = study.rename.get(raw.name, {}) or study.rename.get(raw.name.split("_")[0], {})
    for src, dst in renames.items():
        if src not in df.columns:
            out.add("study.yaml", None, None, None,
                    f"rename {src!r} -> {dst!r}: {src!r} is not a column of {raw.file}; the rename does nothing",
                    "warning")
    df.columns = [renames.get(c, c) for c in df.columns]
    if "" in df.columns:
        out.add(raw.file, 1, None, None, "a column without a name in the header holds values; it is not used",
                "warning")
        df = df.loc[:, [c != "" for c in df.columns]]
    dup = sorted(c for c, k in Counter(df.columns).items() if k > 1)  # linear: a header may be wide
    for c in dup:
        out.add(raw.file, 1, c, None, "the column appears more than once in the header")
    if dup:
        return None
    for note in raw.notes:
        out.add(raw.file, None, None, None, note.removeprefix(f"{raw.file}: "), "warning")
    for col, spec in columns.items():
        if col not in df.columns:
            continue
        # SPSS value labels are stored under the file's (pre-rename) column name.
        src = next((k for k in raw.value_labels if renames.get(k, k) == col), None)
        if src is not None and spec["type"] in ("code", "text", "tags", "id"):
            df[col] = df[col].map(lambda v, L=raw.value_labels[src]: _label(v, L))
        if spec["type"] == "code":
            defaults = {str(k).lower(): v for k, v in SPEC["default_recodes"].get(spec["codes"], {}).items()}
            own = {normalise_code(k): v for k, v in study.recode.get(col, {}).items()}
            df[col] = df[col].map(lambda v: None if v is None else own.get(normalise_code(v), defaults.get(
                normalise_code(v), normalise_code(v))))
        elif col in study.recode:
            own = {str(k): v for k, v in study.recode[col].items()}
            df[col] = df[col].map(lambda v: own.get(v, v) if v is not None else None)
    return df


def _label(v, labels: dict):
    if v is None:
        return None
    for k, lab in labels.items():
        try:
            if float(k) == float(v):
                return str(lab)
        except (TypeError, ValueError):
            if str(k) == str(v):
                return str(lab)
    return v


def _check_table(raw: RawTable, df: pd.DataFrame, columns: dict, required: list[str],
                 codebook: Codebook, out: _Collector) -> None:
    for col in required:
        if col not in df.columns:
            out.add(raw.file, 1, col, None, "required column is missing from the header")
    schema = build_schema(raw.name, {c: s for c, s in columns.items() if c in df.columns}, codebook)
    frame = df.set_axis(raw.rows, axis=0)
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as e:
        fc = e.failure_cases
        for rec in fc.itertuples(index=False):
            row = None if is_missing(rec.index) else rec.index
            value = rec.failure_case
            rule = str(rec.check)
            if rule == "not_nullable":
                rule, value = "a value is required here", None
            out.add(raw.file, row, rec.column, value, rule)
    key = SPEC["tables"]["wave" if raw.name.startswith("wave_") else raw.name]["key"]
    if key and key in df.columns:
        seen: dict = {}
        cond = df["condition"].tolist() if "condition" in df.columns else [None] * len(df)
        for r, v, c in zip(raw.rows, df[key], cond):
            if v is None:
                continue
            if v in seen:
                r0, c0 = seen[v]
                also = f" (there as {c0}, here as {c})" if c != c0 and c0 is not None and c is not None else ""
                out.add(raw.file, r, key, v, f"duplicate: the same {key} is already on row {r0}{also}")
            else:
                seen[v] = (r, c)


def validate_study(study: Study | str | Path) -> CleanStudy:
    """Validate a study folder and return its clean, typed tables.

    Raises :class:`ValidationFailed` (a :class:`StudyError`) listing every error when
    the study is not usable; warnings travel with the returned :class:`CleanStudy`.
    """
    if not isinstance(study, Study):
        study = load_study(study)
    codebook = load_codebook(study.codebook_path)
    out = _Collector()
    raws: dict[str, RawTable] = {}
    for name, path in study.files.items():
        if path is None:
            if name in REQUIRED_TABLES:
                expected = study.config.get("files", {}).get(name, f"{name}.csv")
                out.add(str(expected), None, None, None,
                        "required file is missing from the study folder (.csv, .xlsx or .sav)")
            continue
        try:
            raws[name] = read_table(path, name)
        except TableError as e:
            out.add(e.file, e.row, e.column, e.value, e.rule)
    for file, note in study.notes:
        out.add(file, None, None, None, note, "warning")
    for extra in study.extra_files:
        out.add(extra.name, None, None, None, "not a wave of this study (T1, T2, T3); the file is not used",
                "warning")

    tables: dict[str, pd.DataFrame] = {}
    for name, raw in raws.items():
        if name.startswith("wave_"):
            columns, required = wave_columns(codebook, name[5:]), ["student_id"]
        else:
            spec = SPEC["tables"][name]["columns"]
            columns = dict(spec)
            required = [c for c, s in spec.items() if s.get("required")]
        if raw.data.shape[0] == 0:
            out.add(raw.file, None, None, None, "the file has a header but no rows",
                    "error" if name in ("students", "wave_T1") else "warning")
        df = _prepare(raw, study, columns, out)
        if df is None:
            continue
        if name == "students":
            required = _students_required(df, required, raw, out)
        _check_table(raw, df, columns, required, codebook, out)
        if name.startswith("wave_"):
            _check_wave_columns(raw, df, codebook, name[5:], out)
        tables[name] = df

    if out.n_errors:
        raise ValidationFailed(out.problems)
    clean = _typed(study, codebook, raws, tables, out)
    if out.n_errors:
        raise ValidationFailed(out.problems)
    clean.problems = out.problems
    return clean


def _students_required(df, required, raw, out):
    required = list(required)
    if "age" not in df.columns and "birth_date" not in df.columns:
        out.add(raw.file, 1, "age", None, "required column is missing: give 'age' (years at T1) or 'birth_date'")
    has_countries = "country_of_birth" in df.columns
    if "origin" not in df.columns and has_countries:
        required.remove("origin")
    return required


def _check_wave_columns(raw, df, codebook, wave, out):
    known = set(wave_columns(codebook, wave))
    unknown = [c for c in df.columns if c not in known]
    if unknown:
        out.add(raw.file, 1, ", ".join(unknown[:8]) + (" ..." if len(unknown) > 8 else ""), None,
                "column(s) not in the codebook for this wave; not used", "warning")
    scales = [k for k, s in codebook.scales.items()
              if wave in s.waves and (k in df.columns or any(i in df.columns for i in s.items))]
    if not scales:
        out.add(raw.file, 1, None, None, "no item or scale column of the codebook found in this wave file")
    for key in scales:
        scale = codebook.scales[key]
        present = [i for i in scale.items if i in df.columns]
        if present and len(present) < len(scale.items):
            missing = [i for i in scale.items if i not in df.columns]
            out.add(raw.file, 1, ", ".join(missing), None,
                    f"item column(s) of {key} missing; scores use the items present", "warning")


def _typed(study, codebook, raws, tables, out: _Collector) -> CleanStudy:
    """Convert the checked text tables to typed frames and run the cross-table rules."""
    def num(df, cols):
        for c in cols:
            if c in df.columns:
                df[c] = to_number(df[c])
        return df

    s_raw = raws["students"]
    students = tables["students"].copy()
    students["file_row"] = s_raw.rows
    if "origin" not in students.columns:
        derived = []
        for r, a, b, c in zip(s_raw.rows, students["country_of_birth"],
                              students.get("country_of_birth_parent1", pd.Series([None] * len(students))),
                              students.get("country_of_birth_parent2", pd.Series([None] * len(students)))):
            g = origin_from_countries(a, b, c)
            if g is None:
                out.add(s_raw.file, r, "country_of_birth", a or b or c,
                        "country not recognised; add it to 'recode' in study.yaml or give 'origin'")
            derived.append(g)
        students["origin"] = derived
    students = num(students, ["age"])
    students = derive_person(students)
    n = students["condition"].value_counts()
    for c in CONDITIONS:
        if n.get(c, 0) == 0:
            out.add(s_raw.file, None, "condition", None,
                    f"no pupil is a {c} ({n.get('mentee', 0)} mentee(s), {n.get('control', 0)} control(s)); "
                    "the evaluation compares mentees with controls")

    waves = {}
    for w in WAVES:
        name = f"wave_{w}"
        df = tables[name].copy()
        df["file_row"] = raws[name].rows
        item_cols = [c for c in df.columns if c in set(codebook.items) or c in codebook.scales]
        df = num(df, item_cols)
        _unanswered(raws[name], df, codebook, w, item_cols, out)
        if "date" in df.columns:
            df["date"] = pd.to_datetime(df["date"], errors="coerce", format="mixed")
        for rec in scored_disagreements(df, codebook).itertuples(index=False):
            out.add(raws[name].file, df.loc[rec.row, "file_row"], rec.scale, rec.given,
                    f"the scored column differs from the mean of its items ({rec.computed:.3f}); "
                    "the items are used", "warning")
        waves[w] = df.set_index("student_id", drop=False)

    # age from birth date at the pupil's T1 date (else the cohort's median T1 date)
    if "age" not in students.columns or students["age"].isna().any():
        _derive_age(students, waves["T1"], s_raw, out)

    ids = set(students["student_id"])
    cond = dict(zip(students["student_id"], students["condition"]))
    for w in WAVES:
        f = raws[f"wave_{w}"]
        for r, sid in zip(waves[w]["file_row"], waves[w]["student_id"]):
            if sid not in ids:
                out.add(f.file, r, "student_id", sid, f"pupil is not in {s_raw.file}")
        # relationship quality is asked of mentees only
        for key, scale in codebook.scales.items():
            if scale.group == "mentee" and w in scale.waves:
                cols = [c for c in (*scale.items, key) if c in waves[w].columns]
                if cols:
                    answered = waves[w][cols].notna().any(axis=1)
                    for r, sid, a in zip(waves[w]["file_row"], waves[w]["student_id"], answered):
                        if a and cond.get(sid) == "control":
                            out.add(f.file, r, cols[0], None,
                                    f"{key} is asked of mentees only, but this pupil is a control; "
                                    "the answers are not used", "warning")

    mentors = tables["mentors"].copy()
    mentors["file_row"] = raws["mentors"].rows
    mentors = derive_person(mentors)
    matches = num(tables["matches"].copy(), ["group_size", "sessions_planned", "sessions_attended"])
    matches["file_row"] = raws["matches"].rows
    mfile = raws["matches"].file
    mentor_ids = set(mentors["mentor_id"])
    for rec in matches.itertuples(index=False):
        if rec.student_id not in ids:
            out.add(mfile, rec.file_row, "student_id", rec.student_id, f"pupil is not in {s_raw.file}")
        elif cond[rec.student_id] != "mentee":
            out.add(mfile, rec.file_row, "student_id", rec.student_id,
                    "a control pupil has a mentor match; controls are not mentored")
        if rec.mentor_id not in mentor_ids:
            out.add(mfile, rec.file_row, "mentor_id", rec.mentor_id, f"mentor is not in {raws['mentors'].file}")
        if rec.sessions_attended > rec.sessions_planned:
            out.add(mfile, rec.file_row, "sessions_attended", _fmt(rec.sessions_attended),
                    f"more sessions attended than planned ({_fmt(rec.sessions_planned)})")
        if rec.format == "individual" and rec.group_size == rec.group_size and rec.group_size != 1:
            out.add(mfile, rec.file_row, "group_size", _fmt(rec.group_size),
                    "format is 'individual' but the group size is not 1", "warning")
    matched = set(matches["student_id"])
    for rec in students.itertuples(index=False):
        if rec.condition == "mentee" and rec.student_id not in matched:
            out.add(s_raw.file, rec.file_row, "student_id", rec.student_id,
                    f"mentee has no row in {mfile} (every mentee needs a mentor match)")

    qsort = None
    if "qsort" in tables:
        qsort = tables["qsort"].copy()
        qraw = raws["qsort"]
        qsort["file_row"] = qraw.rows
        cards = [c for c in SPEC["tables"]["qsort"]["columns"] if c != "student_id" and c in qsort]
        qsort = num(qsort, cards)
        for rec in qsort.itertuples(index=False):
            ranks = [getattr(rec, c) for c in cards]
            if sorted(ranks) != list(range(1, len(cards) + 1)):
                out.add(qraw.file, rec.file_row, ", ".join(cards), " ".join(_fmt(x) for x in ranks),
                        f"ranks must be a permutation of 1..{len(cards)} (each rank once, no ties)")
            if rec.student_id not in ids:
                out.add(qraw.file, rec.file_row, "student_id", rec.student_id, f"pupil is not in {s_raw.file}")
            elif cond[rec.student_id] != "mentee":
                out.add(qraw.file, rec.file_row, "student_id", rec.student_id,
                        "Q-sort interviews are with mentees; this pupil is a control")
        qsort = qsort.set_index("student_id", drop=False)

    responded = set().union(*(set(waves[w]["student_id"]) for w in WAVES))
    for rec in students.itertuples(index=False):
        if rec.student_id not in responded:
            out.add(s_raw.file, rec.file_row, "student_id", None,
                    "pupil has no questionnaire at any wave (counted as enrolled, not analysed)", "warning")

    return CleanStudy(study=study, codebook=codebook, students=students.set_index("student_id", drop=False),
                      waves=waves, mentors=mentors.set_index("mentor_id", drop=False),
                      matches=matches.set_index("student_id", drop=False), qsort=qsort,
                      files={k: v.path for k, v in raws.items()})


def _unanswered(raw, df, codebook, wave, item_cols, out):
    """Warn about a pupil who answered nothing, and a scale nobody answered, at a wave:
    neither is an error (the row, the scale at this wave are left out), but both are
    more often an export slip than a fact."""
    if not item_cols or len(df) == 0:
        return
    blank = df[item_cols].isna().all(axis=1)
    for r, sid in zip(df.loc[blank, "file_row"], df.loc[blank, "student_id"]):
        out.add(raw.file, r, "student_id", sid, "no item answered at this wave (the row is not used)", "warning")
    for key, scale in codebook.scales.items():
        cols = [c for c in (*scale.items, key) if c in df.columns]
        if wave in scale.waves and cols and df[cols].isna().all().all():
            out.add(raw.file, 1, cols[0] if len(cols) == 1 else f"{cols[0]}..{cols[-1]}", None,
                    f"nobody answered any item of {key} at {wave}; {key} is not analysed at {wave}", "warning")


def _derive_age(students, t1, s_raw, out):
    if "birth_date" not in students.columns:
        for r, a in zip(s_raw.rows, students["age"]):
            if a != a:
                out.add(s_raw.file, r, "age", None, "age is missing (moderation by age leaves this pupil out)",
                        "warning")
        return
    dates = t1["date"] if "date" in t1.columns else pd.Series(dtype="datetime64[ns]")
    cohort_date = dates.dropna().median() if dates.notna().any() else pd.NaT
    ref = students["student_id"].map(dates.to_dict() if len(dates) else {}).astype("datetime64[ns]")
    ref = ref.fillna(cohort_date)
    bd = pd.to_datetime(students["birth_date"], errors="coerce", format="mixed")
    derived = age_at(bd, ref)
    if "age" not in students.columns:
        students["age"] = np.nan
    students["age"] = students["age"].fillna(derived)
    for r, a, b in zip(s_raw.rows, students["age"], students["birth_date"]):
        if a != a and b is not None:
            out.add(s_raw.file, r, "birth_date", b, "no T1 date to compute the age from", "warning")
        elif a == a and not 9 <= a <= 25 and b is not None:
            out.add(s_raw.file, r, "birth_date", b, f"gives an age of {a:.1f} years at T1, outside 9-25")


def _fmt(x):
    return f"{x:g}" if isinstance(x, (float, int)) and x == x else str(x)
