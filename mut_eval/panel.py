"""The Panel: pupils × waves × outcomes, with the flow of every input row.

Built from a validated study (:class:`~mut_eval.intake.validate.CleanStudy`):

- ``students``: one row per enrolled pupil (covariates, derived characteristics);
- ``long``: one row per pupil × wave × outcome with a score (``student_id, condition,
  school, class, wave, outcome, score``);
- ``wide``: one row per pupil with covariates and ``{outcome}_{wave}`` scores;
- ``items``: per wave, the reverse-coded item answers (for reliability);
- ``flow``: the number of pupils per condition at each stage (with ``excluded``: pupils
  left out by ``exclusions.csv``; and for mentees ``matched`` / ``not_matched`` /
  ``never_started`` when not every mentee has a match row with a session attended);
- ``accounting``: every row of every input file, included or excluded with the reason
  (rows left out by ``exclusions.csv`` or the ``duplicates`` setting with theirs);
- ``variables``: the study's declared variables (their values are columns of ``students``).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd

from . import CONDITIONS, WAVES, StudyError
from .intake.codebook import Codebook
from .privacy import pseudonym_key, pseudonymise
from .intake.scoring import coded_wave, score_wave
from .intake.validate import CleanStudy, validate_study

COVARIATES = ["condition", "school", "class", "age", "gender", "origin", "migration_background",
              "ses", "first_generation"]


@dataclass
class Panel:
    students: pd.DataFrame
    long: pd.DataFrame
    codebook: Codebook
    items: dict[str, pd.DataFrame]
    mentors: pd.DataFrame
    matches: pd.DataFrame
    qsort: pd.DataFrame | None
    accounting: pd.DataFrame
    relationship_quality: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    clean: CleanStudy | None = None
    default_key: bool = False   # pseudonyms made with the built-in key (see privacy.py)
    variables: dict = field(default_factory=dict)          # name -> settings.VariableSpec
    excluded: dict = field(default_factory=dict)           # condition -> pupils left out by exclusions.csv

    @cached_property
    def outcomes(self) -> list[str]:
        present = set(self.long["outcome"].unique())
        return [o for o in self.codebook.outcomes if o in present]

    @property
    def wide(self) -> pd.DataFrame:
        scores = self.long.pivot_table(index="student_id", columns=["outcome", "wave"], values="score",
                                       aggfunc="first")
        scores.columns = [f"{o}_{w}" for o, w in scores.columns]
        cov = self.students[[c for c in COVARIATES if c in self.students.columns]]
        wide = cov.join(scores, how="left")
        ordered = [f"{o}_{w}" for o in self.outcomes for w in WAVES if f"{o}_{w}" in wide.columns]
        return wide[list(cov.columns) + ordered]

    @cached_property
    def _completers(self) -> dict[str, pd.Index]:
        n = self.long.groupby(["outcome", "student_id"])["wave"].nunique()
        full = n[n == len(WAVES)].reset_index()
        return {o: pd.Index(full.loc[full["outcome"] == o, "student_id"], name="student_id")
                for o in self.outcomes}

    def completers(self, outcome: str) -> pd.Index:
        """Pupils scored on ``outcome`` at T1, T2 and T3."""
        return self._completers.get(outcome, pd.Index([], name="student_id"))

    def outcome_data(self, outcome: str, completers: bool = False) -> pd.DataFrame:
        """Long rows of one outcome; with ``completers=True`` only pupils scored at every wave."""
        d = self.long[self.long["outcome"] == outcome]
        if completers:
            d = d[d["student_id"].isin(self.completers(outcome))]
        return d.reset_index(drop=True)

    @property
    def flow(self) -> pd.DataFrame:
        """Pupils per condition at each stage: enrolled, responded at each wave, responded
        at every wave, and completers of each outcome (contract table ``flow``)."""
        rows = []
        cond = self.students["condition"]
        responded = {w: set(self.items[w].index) if w in self.items else set() for w in WAVES}
        for c in CONDITIONS:
            ids = set(cond.index[cond == c])
            rows.append((c, "enrolled", len(ids)))
            for w in WAVES:
                rows.append((c, f"responded_{w}", len(ids & responded[w])))
            rows.append((c, "responded_all_waves", len(ids & set.intersection(*responded.values()))))
            for o in self.outcomes:
                rows.append((c, f"completers_{o}", len(ids.intersection(self.completers(o)))))
            if any(self.excluded.values()):
                rows.append((c, "excluded", int(self.excluded.get(c, 0))))
        uptake = self.uptake
        if uptake["not_matched"] or uptake["never_started"]:
            rows += [("mentee", stage, n) for stage, n in uptake.items()]
        return pd.DataFrame(rows, columns=["condition", "stage", "n"])

    @property
    def uptake(self) -> dict[str, int]:
        """Mentees by programme uptake: ``matched`` (a match row with a session attended, or
        attendance not given), ``never_started`` (a match row with ``sessions_attended`` 0),
        ``not_matched`` (no match row; kept with ``mentees_without_match: keep``)."""
        mentees = self.students.index[self.students["condition"] == "mentee"]
        m = self.matches.reindex(mentees)
        has = m["mentor_id"].notna() if "mentor_id" in m.columns else pd.Series(False, index=mentees)
        attended = pd.to_numeric(m.get("sessions_attended"), errors="coerce") if len(m) else pd.Series(dtype=float)
        never = has & (attended == 0)
        return {"matched": int((has & ~never).sum()), "not_matched": int((~has).sum()),
                "never_started": int(never.sum())}


def build_panel(clean: CleanStudy, key: str | None = None) -> Panel:
    """Score every wave, assemble the long view and account for every input row.

    Pupil identifiers are replaced by keyed pseudonyms (:mod:`mut_eval.privacy`) here, so
    nothing downstream ever sees the school's identifiers. ``key`` defaults to
    ``MUT_EVAL_KEY`` or the study's ``pseudonym_key``.
    """
    default_key = False
    if key is None:
        key, default_key = pseudonym_key(clean.study.config)
    ids = clean.students["student_id"].tolist()
    alias = dict(zip(ids, pseudonymise(ids, key)))
    if len(set(alias.values())) != len(alias):  # 48-bit pseudonyms: practically impossible
        raise StudyError("two pupils received the same pseudonym; set another MUT_EVAL_KEY")
    clean = _with_ids(clean, alias)
    cb = clean.codebook
    students = clean.students.drop(columns=["file_row"]).copy()
    students.index.name = "student_id"
    frames, items, account = [], {}, []
    rq = pd.Series(dtype=float, name="relationship_quality")
    s_file = clean.files["students"].name
    for rec in clean.students.itertuples(index=False):
        account.append((s_file, rec.file_row, "included", "enrolled pupil"))
    for w in WAVES:
        wave = clean.waves[w]
        file = clean.files[f"wave_{w}"].name
        coded = coded_wave(wave, cb, w)
        scores = score_wave(wave, cb, w, coded=coded)
        # Scales asked of mentees only (codebook `group`): a control's answers are not used
        # (validation warns about them), in scores and in reliability alike.
        control = (students.loc[wave.index, "condition"] == "control").to_numpy()
        for key, s in cb.scales.items():
            if s.group == "mentee" and key in scores.columns:
                scores.loc[control, key] = np.nan
                coded.loc[control, [i for i in s.items if i in coded.columns]] = np.nan
        items[w] = coded
        outcome_cols = [o for o in cb.outcomes if o in scores.columns]
        any_score = scores[outcome_cols].notna().any(axis=1) if outcome_cols else pd.Series(False, index=wave.index)
        for sid, r, ok in zip(wave["student_id"], wave["file_row"], any_score):
            account.append((file, r, "included" if ok else "excluded",
                            "questionnaire scored" if ok else
                            f"fewer than {cb.min_answered:.0%} of the items of every scale answered"))
        if "relationship_quality" in scores.columns:  # the moderator of the same name
            rq = scores["relationship_quality"].dropna()
        long = scores[outcome_cols].stack().dropna().rename("score").reset_index()
        long.columns = ["student_id", "outcome", "score"]
        long["wave"] = w
        frames.append(long)
    long = pd.concat(frames, ignore_index=True)
    long = long.join(students[["condition", "school", "class"]], on="student_id")
    long["outcome"] = pd.Categorical(long["outcome"], categories=cb.outcomes, ordered=True)
    long = long.sort_values(["outcome", "student_id", "wave"]).reset_index(drop=True)
    long["outcome"] = long["outcome"].astype(str)
    long = long[["student_id", "condition", "school", "class", "wave", "outcome", "score"]]
    for name in ("mentors", "matches"):
        t = getattr(clean, name)
        file = clean.files[name].name
        for r in t["file_row"]:
            account.append((file, r, "included", "mentor profile" if name == "mentors" else "mentor match"))
    if clean.qsort is not None:
        for r in clean.qsort["file_row"]:
            account.append((clean.files["qsort"].name, r, "included", "Q-sort ranking"))
    for d in clean.dropped:  # exclusions.csv and duplicates: left out before anything was read
        account.append((d["file"], d["row"], "excluded", d["reason"]))
    accounting = pd.DataFrame(account, columns=["file", "row", "status", "reason"])
    excluded: dict[str, int] = {}
    for d in clean.dropped:
        if d.get("whole_pupil"):
            excluded[d["condition"]] = excluded.get(d["condition"], 0) + 1
    return Panel(students=students, long=long, codebook=cb, items=items,
                 mentors=clean.mentors.drop(columns=["file_row"]), matches=clean.matches.drop(columns=["file_row"]),
                 qsort=None if clean.qsort is None else clean.qsort.drop(columns=["file_row"]),
                 accounting=accounting, relationship_quality=rq, clean=clean, default_key=default_key,
                 variables=dict(clean.study.settings.variables), excluded=excluded)


def _with_ids(clean: CleanStudy, alias: dict) -> CleanStudy:
    """A copy of the clean tables with every student_id replaced through ``alias``."""
    def swap(df):
        if df is None:
            return None
        df = df.copy()
        df["student_id"] = df["student_id"].map(alias)
        return df.set_index("student_id", drop=False)
    return replace(clean, students=swap(clean.students), waves={w: swap(d) for w, d in clean.waves.items()},
                   matches=swap(clean.matches), qsort=swap(clean.qsort))


def load_panel(study) -> Panel:
    """Validate a study folder (path or :class:`~mut_eval.intake.study.Study`) and build its Panel."""
    return build_panel(validate_study(study))
