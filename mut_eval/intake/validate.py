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

from .. import CONDITIONS, WAVES, is_missing
from .codebook import Codebook, load_codebook
from .derive import age_at, derive_person, origin_from_countries
from .io import RawTable, TableError, map_distinct, read_table, to_number
from .problems import Problem, ValidationFailed, _Collector, _report_failures, _rows_note
from .repairs import normalise_code  # noqa: F401  (documented here since before the repairs module)
from .repairs import (blank_missing_codes, case_only_groups, choose_duplicates, iso_dates,
                      near_match, normalise_ids, personal_columns, tag_lists)
from .extras import apply_exclusions, declared_columns, read_exclusions, variable_values
from .scoring import scored_disagreements
from .study import REQUIRED_TABLES, Study, load_study


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
    # rows left out by exclusions.csv or the duplicates setting: file, row, kind, reason, ...
    dropped: list[dict] = field(default_factory=list)

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def load_schema_spec() -> dict:
    path = Path(str(resources.files("mut_eval") / "schemas" / "tables.yaml"))
    return yaml.safe_load(path.read_text(encoding="utf-8"))


SPEC = load_schema_spec()
#: Names mut_eval gives to derived columns and moderators: not free for study variables.
DERIVED_NAMES = ("age", "ses", "migration_background", "first_generation", "file_row", "same_gender",
                 "same_migration_background", "same_ses", "same_first_generation", "same_study",
                 "interest_overlap", "n_shared", "n_shared_known", "relationship_quality", "attendance_share")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")


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


def _prepare(raw: RawTable, study: Study, columns: dict, out: _Collector,
             declared: dict[str, str] | None = None) -> pd.DataFrame | None:
    """Rename columns, drop personal and undeclared columns, blank missing codes, map SPSS
    labels, normalise ids, dates, tag lists and codes (blank categorical -> ``unknown``),
    apply recodes; report structural problems. The frame is indexed by file row.
    ``declared``: source column -> name of the study's ``variables`` read from this file."""
    settings = study.settings
    df = raw.data.copy()
    df.index = raw.rows
    own = raw.name in study.rename
    renames = study.rename.get(raw.name, {}) or study.rename.get(raw.name.split("_")[0], {})
    for src, dst in renames.items():
        # a shared `wave:` rename may name an item asked at one wave only: checked across the waves
        if src not in df.columns and (own or not raw.name.startswith("wave_")):
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
    declared = declared or {}
    known = set(columns) | set(declared)
    personal = personal_columns(df.columns, known)
    if personal:  # names only: the values are never read into any message
        out.add(raw.file, 1, ", ".join(personal), None,
                "column(s) that look like names, contact details or birth dates are dropped on reading "
                "(never used, never shown)", "warning")
    unused = [c for c in df.columns if c not in known and c not in personal]
    if unused and not raw.name.startswith("wave_"):  # wave files: _check_wave_columns says it
        out.add(raw.file, 1, ", ".join(unused[:8]) + (" ..." if len(unused) > 8 else ""), None,
                "column(s) not used (to use one as a moderator or covariate, declare it under "
                "'variables' in study.yaml)", "warning")
    if raw.name.startswith("wave_"):
        df = df.drop(columns=personal)
    else:
        df = df[[c for c in df.columns if c in known]]
    ids = [c for c, sp in columns.items() if sp["type"] == "id" or c in ("student_id", "mentor_id")]
    df, blanked = blank_missing_codes(df, settings.missing_for(raw.name), set(ids))
    if blanked:
        cols = list(blanked)
        out.add(raw.file, None, ", ".join(cols[:6]) + (" ..." if len(cols) > 6 else ""), None,
                f"{sum(blanked.values())} cell(s) hold a missing_codes value of study.yaml and are read as missing",
                "warning")
    for col, spec in columns.items():
        if col not in df.columns:
            continue
        # SPSS value labels are stored under the file's (pre-rename) column name.
        src = next((k for k in raw.value_labels if renames.get(k, k) == col), None)
        if src is not None and spec["type"] in ("code", "text", "tags", "id"):
            df[col] = map_distinct(df[col], lambda v, L=raw.value_labels[src]: _label(v, L))
        if col in ids:
            df[col] = normalise_ids(df[col], settings.ids.pad, settings.ids.strip)
        if spec["type"] == "code":
            defaults = {normalise_code(k): v for k, v in SPEC["default_recodes"].get(spec["codes"], {}).items()}
            own = {normalise_code(k): v for k, v in study.recode.get(col, {}).items()}
            df[col] = map_distinct(df[col], lambda v: None if v is None else own.get(normalise_code(v), defaults.get(
                normalise_code(v), normalise_code(v))))
            if "unknown" in SPEC["codes"][spec["codes"]] and spec.get("nullable", True):
                _blank_as_unknown(raw, df, col, out)
        elif col in study.recode:
            own = {str(k): v for k, v in study.recode[col].items()}
            df[col] = map_distinct(df[col], lambda v: own.get(v, v) if v is not None else None)
            if col in ids:
                df[col] = normalise_ids(df[col], settings.ids.pad, settings.ids.strip)
        if spec["type"] == "date":
            df[col] = iso_dates(df[col], settings.date_format)
        if spec["type"] == "tags":
            df[col] = tag_lists(df[col], settings.list_separator)
    for src, name in declared.items():
        if src in df.columns:
            df[name] = df[src]
    return df


def _blank_as_unknown(raw: RawTable, df: pd.DataFrame, col: str, out: _Collector) -> None:
    """A blank characteristic (gender, origin, parents' education) is read as ``unknown``,
    as the pupil might have answered "zeg ik liever niet"; said once per column."""
    blank = df[col].isna()
    if blank.any():
        rows = list(df.index[blank])
        out.add(raw.file, rows[0], col, None,
                f"{len(rows)} blank cell(s) read as 'unknown'{_rows_note(rows)}", "warning")
        df.loc[blank, col] = "unknown"


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
    failures = []
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as e:
        for rec in e.failure_cases.itertuples(index=False):
            row = None if is_missing(rec.index) else int(rec.index)
            value, rule = rec.failure_case, str(rec.check)
            if rule == "not_nullable":
                rule, value = "a value is required here", None
            failures.append((row, rec.column, value, rule))
    order = {c: i for i, c in enumerate(df.columns)}
    failures.sort(key=lambda f: (order.get(f[1], len(order)), -1 if f[0] is None else f[0]))
    _report_failures(raw.file, failures, out)
    key = SPEC["tables"]["wave" if raw.name.startswith("wave_") else raw.name]["key"]
    if key and key in df.columns:
        seen: dict = {}
        cond = df["condition"].tolist() if "condition" in df.columns else [None] * len(df)
        for r, v, c in zip(df.index, df[key], cond):
            if v is None:
                continue
            if v in seen:
                r0, c0 = seen[v]
                also = f" (there as {c0}, here as {c})" if c != c0 and c0 is not None and c is not None else ""
                out.add(raw.file, r, key, v, f"duplicate: the same {key} is already on row {r0}{also}; "
                        f"see duplicates in the README to keep one row")
            else:
                seen[v] = (r, c)
        if key == "student_id" and raw.name == "students":
            for group in case_only_groups(df[key]):
                rows = [int(r) for r in df.index[df[key].isin(group)]]
                out.add(raw.file, rows[0], key, None,
                        f"{len(group)} ids differ only in upper/lower case ({', '.join(map(repr, group))}, rows "
                        f"{', '.join(map(str, rows))}); they count as different pupils — correct the file if they "
                        "are one", "warning")


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

    settings = study.settings
    tables: dict[str, pd.DataFrame] = {}
    wave_raws = [r for n, r in raws.items() if n.startswith("wave_") and n not in study.rename]
    for src, dst in (study.rename.get("wave") or {}).items():
        if wave_raws and not any(src in r.data.columns for r in wave_raws):
            out.add("study.yaml", None, None, None, f"rename {src!r} -> {dst!r}: {src!r} is not a column of any "
                    "wave file; the rename does nothing", "warning")
    specs: dict[str, tuple[dict, list[str]]] = {}
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
        df = _prepare(raw, study, columns, out, declared_columns(settings.variables, name))
        if df is None:
            continue
        tables[name] = df
        specs[name] = (columns, required)

    files = {name: raw.file for name, raw in raws.items()}
    dropped: list[dict] = []
    if study.exclusions is not None:
        exclusions = read_exclusions(study.exclusions, settings, out.add)
        dropped += apply_exclusions(exclusions, study.exclusions.name, tables, files, out.add)
    for name, df in list(tables.items()):
        key = SPEC["tables"]["wave" if name.startswith("wave_") else name]["key"]
        policy = settings.duplicates_for(name)
        tables[name], pairs = choose_duplicates(df, key, policy)
        dropped += [{"file": files[name], "row": int(r), "kind": "duplicate", "whole_pupil": False,
                     "reason": f"duplicate {key} of row {k} (duplicates: {policy})"} for r, k in pairs]
        if pairs:
            out.add(files[name], pairs[0][0], key, None, f"{len(pairs)} duplicate row(s) left out "
                    f"(duplicates: {policy}){_rows_note([r for r, _ in pairs])}; see the accounting table", "warning")

    for name, df in tables.items():
        raw, (columns, required) = raws[name], specs[name]
        if name == "students":
            required = _students_required(df, required, raw, out)
        _check_table(raw, df, columns, required, codebook, out)
        if name.startswith("wave_"):
            _check_wave_columns(raw, df, codebook, name[5:], out)
    _check_variables(study, tables, files, out)

    if out.n_errors:
        raise ValidationFailed(out.problems)
    clean = _typed(study, codebook, raws, tables, out)
    if out.n_errors:
        raise ValidationFailed(out.problems)
    clean.problems = out.problems
    clean.dropped = dropped
    return clean


def _check_variables(study, tables, files, out) -> None:
    """Each declared variable: its file is there, its column is, its name is free, its
    values have the declared type (checked values replace the text under its name)."""
    taken = {c for t in SPEC["tables"].values() for c in t["columns"]} | set(DERIVED_NAMES)
    for name, spec in study.settings.variables.items():
        where = f"variables.{name}"
        if name in taken:
            out.add("study.yaml", None, where, None, f"the name {name!r} is already a mut_eval column or "
                    "moderator; choose another name")
            continue
        df = tables.get(spec.file)
        if df is None:
            out.add("study.yaml", None, where, spec.file, "the file of this variable is not in the study folder")
            continue
        if name not in df.columns:
            out.add(files[spec.file], 1, spec.column, None,
                    f"column not found, but declared in study.yaml {where} (names are case-sensitive)")
            continue
        df[name] = variable_values(spec, df, files[spec.file], out.add)


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
    students["file_row"] = students.index
    if "origin" not in students.columns:
        derived = []
        for r, a, b, c in zip(students.index, students["country_of_birth"],
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
        df["file_row"] = df.index
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

    def not_in(sid, known, file):
        guess = near_match(sid, known)
        return f"not in {file}" + (f" — did you mean {guess[0]!r} in {file}? {guess[1]}" if guess else "")
    for w in WAVES:
        f = raws[f"wave_{w}"]
        for r, sid in zip(waves[w]["file_row"], waves[w]["student_id"]):
            if sid not in ids:
                out.add(f.file, r, "student_id", sid, "pupil is " + not_in(sid, ids, s_raw.file))
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
    mentors["file_row"] = mentors.index
    mentors = derive_person(mentors)
    matches = num(tables["matches"].copy(), ["group_size", "sessions_planned", "sessions_attended"])
    matches["file_row"] = matches.index
    srow_of = dict(zip(students["student_id"], students["file_row"]))
    mfile = raws["matches"].file
    mentor_ids = set(mentors["mentor_id"])
    for rec in matches.itertuples(index=False):
        if rec.student_id not in ids:
            out.add(mfile, rec.file_row, "student_id", rec.student_id, "pupil is " + not_in(rec.student_id, ids,
                                                                                              s_raw.file))
        elif cond[rec.student_id] != "mentee":
            # Either side may be the slip: name both the match row and the pupil's condition.
            s_row = srow_of[rec.student_id]
            out.add(mfile, rec.file_row, "student_id", rec.student_id,
                    f"a control pupil has a mentor match; controls are not mentored (the pupil is 'control' in "
                    f"{s_raw.file}, row {s_row}, column condition: is that row or this match wrong?)")
            out.add(s_raw.file, s_row, "condition", "control",
                    f"this pupil has a mentor match in {mfile} (row {rec.file_row}); a mentee's condition is "
                    "'mentee'")
        if rec.mentor_id not in mentor_ids:
            out.add(mfile, rec.file_row, "mentor_id", rec.mentor_id,
                    "mentor is " + not_in(rec.mentor_id, mentor_ids, raws["mentors"].file))
        if rec.sessions_attended > rec.sessions_planned:
            out.add(mfile, rec.file_row, "sessions_attended", _fmt(rec.sessions_attended),
                    f"more sessions attended than planned ({_fmt(rec.sessions_planned)})")
        if rec.format == "individual" and rec.group_size == rec.group_size and rec.group_size != 1:
            out.add(mfile, rec.file_row, "group_size", _fmt(rec.group_size),
                    "format is 'individual' but the group size is not 1", "warning")
    matched = set(matches["student_id"])
    unmatched = [rec for rec in students.itertuples(index=False)
                 if rec.condition == "mentee" and rec.student_id not in matched]
    if study.settings.mentees_without_match == "keep":
        if unmatched:
            rows = [rec.file_row for rec in unmatched]
            out.add(s_raw.file, rows[0], "student_id", None,
                    f"{len(rows)} mentee(s) without a row in {mfile} stay mentees for the effect analyses "
                    f"(mentees_without_match: keep); their match moderators are missing{_rows_note(rows)}",
                    "warning")
    else:
        for rec in unmatched:
            out.add(s_raw.file, rec.file_row, "student_id", rec.student_id,
                    f"mentee has no row in {mfile} (every mentee needs a mentor match; to keep mentees who "
                    "never got one, set mentees_without_match: keep in study.yaml)")

    qsort = None
    if "qsort" in tables:
        qsort = tables["qsort"].copy()
        qraw = raws["qsort"]
        qsort["file_row"] = qsort.index
        cards = [c for c in SPEC["tables"]["qsort"]["columns"] if c != "student_id" and c in qsort]
        qsort = num(qsort, cards)
        for rec in qsort.itertuples(index=False):
            ranks = [getattr(rec, c) for c in cards]
            if sorted(ranks) != list(range(1, len(cards) + 1)):
                out.add(qraw.file, rec.file_row, ", ".join(cards), " ".join(_fmt(x) for x in ranks),
                        f"ranks must be a permutation of 1..{len(cards)} (each rank once, no ties)")
            if rec.student_id not in ids:
                out.add(qraw.file, rec.file_row, "student_id", rec.student_id,
                        "pupil is " + not_in(rec.student_id, ids, s_raw.file))
            elif cond[rec.student_id] != "mentee":
                out.add(qraw.file, rec.file_row, "student_id", rec.student_id,
                        "Q-sort interviews are with mentees; this pupil is a control")
        qsort = qsort.set_index("student_id", drop=False)

    responded = set().union(*(set(waves[w]["student_id"]) for w in WAVES))
    for rec in students.itertuples(index=False):
        if rec.student_id not in responded:
            out.add(s_raw.file, rec.file_row, "student_id", None,
                    "pupil has no questionnaire at any wave (counted as enrolled, not analysed)", "warning")

    for name, spec in study.settings.variables.items():
        if spec.file != "students":  # one value per pupil, by student_id; missing for pupils without a row
            src = tables[spec.file]
            src = src[src["student_id"].notna()].drop_duplicates("student_id")
            students[name] = students["student_id"].map(dict(zip(src["student_id"], src[name])))
    # the birth date has served to compute the age: it is not carried on (a personal datum)
    students = students.drop(columns=["birth_date"], errors="ignore")
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
        for r, a in zip(students["file_row"], students["age"]):
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
    for r, a, b in zip(students["file_row"], students["age"], students["birth_date"]):
        if a != a and b is not None:
            out.add(s_raw.file, r, "birth_date", b, "no T1 date to compute the age from", "warning")
        elif a == a and not 9 <= a <= 25 and b is not None:
            out.add(s_raw.file, r, "birth_date", b, f"gives an age of {a:.1f} years at T1, outside 9-25")


def _fmt(x):
    return f"{x:g}" if isinstance(x, (float, int)) and x == x else str(x)
