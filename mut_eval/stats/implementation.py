"""Reach and implementation of one cohort, per school: the numbers programme staff ask for first.

:func:`implementation_table` counts, per school and for the cohort (``school`` = ``all``):

- ``mentees``, ``controls``, ``pupils`` (= mentees + controls): enrolled pupils;
- ``matched``: mentees with a mentor (a row in ``matches`` with a ``mentor_id``);
- ``never_started``: matched mentees who attended no session (``sessions_attended`` 0);
- ``sessions_planned`` / ``sessions_attended``: medians over the matched mentees with the
  number given; ``sessions_attended_share``: Σ attended / Σ planned over those with both;
- ``attended_75`` and ``attended_75_share``: matched mentees who attended at least 75% of
  their planned sessions (the share over those with both numbers given) — the fidelity
  threshold of the programme guides (Mentoren op Zuid: "minimaal driekwart van de
  bijeenkomsten"; DuBois et al. 2002 on dosage);
- ``individual``, ``group``: matched mentees by format;
- ``responded_T1..T3`` and ``response_T1..T3``: pupils of both conditions who answered the
  questionnaire of that wave, as a count and as a share of ``pupils``.

Counts are whole pupils; the staff view suppresses small ones with the rules of
:mod:`mut_eval.disclosure` (its ``implementation`` rule and equations).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import CONDITIONS, WAVES

ALL = "all"
COUNTS = ("pupils", "mentees", "controls", "matched", "never_started", "attended_75", "individual", "group",
          *(f"responded_{w}" for w in WAVES))
FIDELITY = 0.75


def implementation_table(students: pd.DataFrame, matches: pd.DataFrame | None,
                         respondents: dict[str, pd.Index]) -> pd.DataFrame:
    """One row per school (sorted) and a last row ``school = all``.

    ``students``: indexed by pupil with ``condition`` and ``school``; ``matches``: indexed
    by pupil with ``mentor_id`` and optional ``format``, ``sessions_planned``,
    ``sessions_attended``; ``respondents``: wave → the pupils who answered that wave."""
    s = students[["condition", "school"]].copy()
    s["school"] = s["school"].astype(str)
    m = matches if matches is not None else pd.DataFrame(index=pd.Index([], name=s.index.name))
    mentor = m["mentor_id"] if "mentor_id" in m.columns else pd.Series(np.nan, index=m.index)
    matched = s.index.isin(mentor.dropna().index) & (s["condition"] == CONDITIONS[0]).to_numpy()
    s["matched"] = matched
    num = {c: pd.to_numeric(m[c], errors="coerce").reindex(s.index) if c in m.columns
           else pd.Series(np.nan, index=s.index) for c in ("sessions_planned", "sessions_attended")}
    s["planned"] = num["sessions_planned"].where(matched)
    s["attended"] = num["sessions_attended"].where(matched)
    s["never_started"] = matched & (s["attended"] == 0)
    both = s["planned"].notna() & s["attended"].notna() & (s["planned"] > 0)
    s["rated"] = both
    s["attended_75"] = both & (s["attended"] >= FIDELITY * s["planned"])
    fmt = (m["format"].astype("string").str.strip().str.lower().reindex(s.index)
           if "format" in m.columns else pd.Series(pd.NA, index=s.index, dtype="string"))
    s["individual"] = matched & (fmt == "individual").fillna(False).to_numpy()
    s["group"] = matched & (fmt == "group").fillna(False).to_numpy()
    for w in WAVES:
        s[f"responded_{w}"] = s.index.isin(respondents.get(w, pd.Index([])))

    def row(part: pd.DataFrame, school: str) -> dict:
        cond = part["condition"]
        n = len(part)
        out = {"school": school, "pupils": n, "mentees": int((cond == CONDITIONS[0]).sum()),
               "controls": int((cond == CONDITIONS[1]).sum())}
        for c in ("matched", "never_started", "attended_75", "individual", "group"):
            out[c] = int(part[c].sum())
        out["sessions_planned"] = float(part["planned"].median()) if part["planned"].notna().any() else np.nan
        out["sessions_attended"] = float(part["attended"].median()) if part["attended"].notna().any() else np.nan
        rated = int(part["rated"].sum())
        planned = float(part.loc[part["rated"], "planned"].sum())
        out["sessions_attended_share"] = float(part.loc[part["rated"], "attended"].sum()) / planned if rated else np.nan
        out["attended_75_share"] = out["attended_75"] / rated if rated else np.nan
        for w in WAVES:
            out[f"responded_{w}"] = int(part[f"responded_{w}"].sum())
            out[f"response_{w}"] = out[f"responded_{w}"] / n if n else np.nan
        return out

    rows = [row(part, str(school)) for school, part in s.groupby("school", sort=True)]
    rows.append(row(s, ALL))
    cols = ["school", "pupils", "mentees", "controls", "matched", "never_started", "sessions_planned",
            "sessions_attended", "sessions_attended_share", "attended_75", "attended_75_share", "individual", "group",
            *(c for w in WAVES for c in (f"responded_{w}", f"response_{w}"))]
    return pd.DataFrame(rows, columns=cols)
