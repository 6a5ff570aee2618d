"""Mentor-mentee match characteristics used as moderators (contract sections 1 and 4).

One row per mentee with how similar the pupil and the mentor are and how much
mentoring the pupil received. The MUT programme matched on background and on the
overlap of interests from an intake form (brief, "The programme being evaluated"); the
report tested whether overlap in gender, origin and SES moderated the change in the
outcomes. These are the variables for such tests:

==============================  =========================================================
column                          definition
==============================  =========================================================
``same_gender``                 ``'yes'`` / ``'no'``: pupil ``gender`` == mentor ``gender``
``same_migration_background``   idem for the derived ``migration_background``
``same_ses``                    idem for the derived ``ses`` (low / middle / high)
``same_first_generation``       idem for the derived ``first_generation``
``same_study``                  pupil ``intended_study`` vs mentor ``study_programme``,
                                compared case-insensitively after trimming
``interest_overlap``            Jaccard index |A ∩ B| / |A ∪ B| of the ``;``-separated
                                ``interests`` tags (trimmed, case-insensitive)
``n_shared``                    number of the five ``same_*`` characteristics above
                                that are ``'yes'``
``n_shared_known``              how many of those five could be compared
``relationship_quality``        the pupil's T2 relationship-quality score (given)
``sessions_attended``           from ``matches``
``attendance_share``            ``sessions_attended / sessions_planned``
``format``                      ``individual`` / ``group``
``group_size``                  from ``matches``
==============================  =========================================================

Unknowns: a ``same_*`` value is missing (NaN) when either side is ``unknown``, empty
or missing, and ``interest_overlap`` is NaN when either side lists no interest. In
``n_shared`` an unknown characteristic counts as *not shared* (it adds 0), so
``n_shared`` is a lower bound when ``n_shared_known < 5``; it is NaN only when none of
the five could be compared (for a complete-information version select rows with
``n_shared_known == 5``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import StudyError, is_missing

#: The characteristics compared one-to-one (pupil column, mentor column, output column).
SAME_CHARACTERISTICS = (
    ("gender", "gender", "same_gender"),
    ("migration_background", "migration_background", "same_migration_background"),
    ("ses", "ses", "same_ses"),
    ("first_generation", "first_generation", "same_first_generation"),
    ("intended_study", "study_programme", "same_study"),
)

MATCH_COLUMNS = (
    "same_gender", "same_migration_background", "same_ses", "same_first_generation",
    "same_study", "interest_overlap", "n_shared", "n_shared_known", "relationship_quality",
    "sessions_attended", "attendance_share", "format", "group_size",
)

_UNKNOWN = {"", "unknown", "nan", "none", "onbekend"}


def _norm(value) -> str | None:
    """Comparable form of a code or free text; None when unknown or missing."""
    if is_missing(value):
        return None
    s = " ".join(str(value).split()).casefold()
    return None if s in _UNKNOWN else s


def _tags(value) -> frozenset[str]:
    if _norm(value) is None:
        return frozenset()
    return frozenset(t for t in (" ".join(p.split()).casefold() for p in str(value).split(";")) if t)


def jaccard(a, b) -> float:
    """Jaccard index of two ``;``-separated tag lists; NaN when either has no tag."""
    ta, tb = _tags(a), _tags(b)
    if not ta or not tb:
        return np.nan
    return len(ta & tb) / len(ta | tb)


def _same(a, b):
    na, nb = _norm(a), _norm(b)
    if na is None or nb is None:
        return np.nan
    return "yes" if na == nb else "no"


def match_moderators(students: pd.DataFrame, mentors: pd.DataFrame, matches: pd.DataFrame,
                     relationship_quality: pd.Series | None = None) -> pd.DataFrame:
    """Match characteristics per mentee (see the module docstring for every column).

    Parameters
    ----------
    students : DataFrame indexed by ``student_id`` with the derived ``gender``,
        ``migration_background``, ``ses``, ``first_generation`` and, when available,
        ``interests`` and ``intended_study``. When a ``condition`` column is present,
        mentees without a row in ``matches`` are kept (all match columns NaN).
    mentors : DataFrame indexed by ``mentor_id`` with ``gender``,
        ``migration_background``, ``ses``, ``first_generation``, ``study_programme``
        and ``interests`` (derived like the pupils' by the caller).
    matches : one row per mentee: ``student_id``, ``mentor_id``, ``format``,
        ``group_size``, ``sessions_planned``, ``sessions_attended``.
    relationship_quality : Series indexed by ``student_id`` (the T2 scale score).

    Returns
    -------
    DataFrame indexed by ``student_id`` (mentees in the order of ``matches``, then
    unmatched mentees) with the columns of :data:`MATCH_COLUMNS`; ``same_*`` hold the
    strings ``'yes'``/``'no'`` or NaN.
    """
    if "student_id" not in matches.columns or "mentor_id" not in matches.columns:
        raise StudyError("matches: needs the columns student_id and mentor_id")
    m = matches.copy()
    m["student_id"] = m["student_id"].astype(str)
    dup = m["student_id"][m["student_id"].duplicated()].unique().tolist()
    if dup:
        raise StudyError(f"matches: a mentee may have only one row; repeated student_id: {dup[:5]}")
    ids = m["student_id"].tolist()
    if "condition" in students.columns:
        matched = set(ids)
        extra = [str(s) for s in students.index[students["condition"] == "mentee"] if str(s) not in matched]
        ids += extra
    stu = students.copy()
    stu.index = stu.index.astype(str)
    men = mentors.copy()
    men.index = men.index.astype(str)
    m = m.set_index("student_id").reindex(ids)
    mentor_ids = m["mentor_id"].map(lambda x: None if _norm(x) is None else str(x).strip())

    def pupil(col):
        return stu[col].reindex(ids) if col in stu.columns else pd.Series(np.nan, index=ids, dtype=object)

    def mentor(col):
        if col not in men.columns:
            return pd.Series(np.nan, index=ids, dtype=object)
        values = men[col][~men.index.duplicated()].reindex(mentor_ids.to_numpy()).to_numpy(dtype=object)
        return pd.Series(values, index=ids, dtype=object)

    out = pd.DataFrame(index=pd.Index(ids, name="student_id"))
    same_cols = []
    for pcol, mcol, name in SAME_CHARACTERISTICS:
        out[name] = pd.Series([_same(a, b) for a, b in zip(pupil(pcol), mentor(mcol))],
                              index=ids, dtype=object)
        same_cols.append(name)
    out["interest_overlap"] = [jaccard(a, b) for a, b in zip(pupil("interests"), mentor("interests"))]
    known = out[same_cols].notna().sum(axis=1)
    shared = (out[same_cols] == "yes").sum(axis=1).astype(float)
    out["n_shared"] = shared.where(known > 0)
    out["n_shared_known"] = known.astype(int)
    if relationship_quality is None:
        out["relationship_quality"] = np.nan
    else:
        rq = relationship_quality.copy()
        rq.index = rq.index.astype(str)
        out["relationship_quality"] = pd.to_numeric(rq.reindex(ids), errors="coerce").to_numpy(float)
    planned = pd.to_numeric(m["sessions_planned"], errors="coerce") if "sessions_planned" in m else np.nan
    attended = pd.to_numeric(m["sessions_attended"], errors="coerce") if "sessions_attended" in m else np.nan
    out["sessions_attended"] = attended
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.asarray(attended, float) / np.asarray(planned, float)
    out["attendance_share"] = np.where(np.isfinite(share), share, np.nan)
    out["format"] = pd.Series([_norm(v) for v in m["format"]] if "format" in m else np.nan,
                              index=ids, dtype=object).where(lambda s: s.notna(), np.nan)
    out["group_size"] = pd.to_numeric(m["group_size"], errors="coerce") if "group_size" in m else np.nan
    return out
