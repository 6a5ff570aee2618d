"""Derived pupil and mentor characteristics (contract section 1).

- ``ses``: from the known parental education levels: ``low`` if no parent has havo or
  higher, ``high`` if a parent has hbo or wo, otherwise ``middle``; ``unknown`` if both
  are unknown. (Definitions of the MUT evaluation report, Schenk et al. 2022, section 3.3.)
- ``first_generation``: ``yes`` if no parent has vwo or wo, ``no`` otherwise; ``unknown``
  if both are unknown.
- ``migration_background``: ``no`` for origin ``dutch``, ``unknown`` for ``unknown``,
  ``yes`` otherwise.
- ``origin`` from countries of birth (when the origin column is absent), after the CBS
  definition: the pupil's own country of birth when born abroad, otherwise the first
  parent born abroad (parent 1 before parent 2).
- ``age`` in years at T1 from ``birth_date``: (T1 date − birth date) / 365.25 days.
"""
from __future__ import annotations

import pandas as pd

from .. import is_missing

HAVO_OR_HIGHER = {"havo", "vwo", "hbo", "wo"}
HIGHER_EDUCATION = {"hbo", "wo"}
VWO_OR_UNIVERSITY = {"vwo", "wo"}


def _known(*levels) -> list[str]:
    return [lv for lv in levels if not (is_missing(lv) or lv == "unknown")]


def ses(education_parent1, education_parent2) -> str:
    """SES of a person from the two parental education codes (see module docstring)."""
    known = _known(education_parent1, education_parent2)
    if not known:
        return "unknown"
    if any(lv in HIGHER_EDUCATION for lv in known):
        return "high"
    if any(lv in HAVO_OR_HIGHER for lv in known):
        return "middle"
    return "low"


def first_generation(education_parent1, education_parent2) -> str:
    """``yes`` when no parent completed vwo or university (wo); see module docstring."""
    known = _known(education_parent1, education_parent2)
    if not known:
        return "unknown"
    return "no" if any(lv in VWO_OR_UNIVERSITY for lv in known) else "yes"


def migration_background(origin) -> str:
    if is_missing(origin) or origin == "unknown":
        return "unknown"
    return "no" if origin == "dutch" else "yes"


# Country names (Dutch and English, lower case) to origin groups, after CBS (Statistics
# Netherlands) "westerse / niet-westerse migratieachtergrond" (Europe excl. Turkey, North
# America, Oceania, Indonesia and Japan are western). Unlisted countries are reported by
# validation so that a study can recode them.
COUNTRY_ORIGIN = {
    **dict.fromkeys(["nederland", "netherlands", "the netherlands", "nl"], "dutch"),
    **dict.fromkeys(["marokko", "morocco"], "moroccan"),
    **dict.fromkeys(["turkije", "turkey", "türkiye"], "turkish"),
    **dict.fromkeys(["suriname"], "surinamese"),
    **dict.fromkeys(["curaçao", "curacao", "aruba", "bonaire", "sint maarten", "sint eustatius", "saba",
                     "nederlandse antillen", "netherlands antilles"], "antillean"),
    **dict.fromkeys(["belgië", "belgium", "duitsland", "germany", "frankrijk", "france", "verenigd koninkrijk",
                     "united kingdom", "spanje", "spain", "italië", "italy", "portugal", "polen", "poland",
                     "bulgarije", "bulgaria", "roemenië", "romania", "griekenland", "greece", "ierland", "ireland",
                     "zweden", "sweden", "noorwegen", "norway", "denemarken", "denmark", "finland", "oostenrijk",
                     "austria", "zwitserland", "switzerland", "hongarije", "hungary", "tsjechië", "czechia",
                     "slowakije", "slovakia", "kroatië", "croatia", "servië", "serbia", "bosnië", "bosnia",
                     "oekraïne", "ukraine", "rusland", "russia", "litouwen", "lithuania", "letland", "latvia",
                     "estland", "estonia", "verenigde staten", "united states", "usa", "canada", "australië",
                     "australia", "nieuw-zeeland", "new zealand", "indonesië", "indonesia", "japan"],
                    "other_western"),
    **dict.fromkeys(["ghana", "nigeria", "kaapverdië", "cape verde", "somalië", "somalia", "eritrea", "ethiopië",
                     "ethiopia", "egypte", "egypt", "algerije", "algeria", "tunesië", "tunisia", "syrië", "syria",
                     "irak", "iraq", "iran", "afghanistan", "pakistan", "india", "china", "vietnam", "filipijnen",
                     "philippines", "thailand", "brazilië", "brazil", "colombia", "dominicaanse republiek",
                     "dominican republic", "venezuela", "peru", "chili", "chile", "argentinië", "argentina",
                     "mexico", "kenia", "kenya", "sudan", "soedan", "libanon", "lebanon", "jemen", "yemen",
                     "bangladesh", "sri lanka", "nepal", "zuid-afrika", "south africa", "angola", "congo"],
                    "other_non_western"),
    **dict.fromkeys(["onbekend", "unknown"], "unknown"),
}


def origin_from_countries(own, parent1, parent2) -> str | None:
    """Origin group from countries of birth (CBS rule, see module docstring); None when
    a named country is not in :data:`COUNTRY_ORIGIN`."""
    groups = []
    for c in (own, parent1, parent2):
        if is_missing(c):
            groups.append("unknown")
            continue
        g = COUNTRY_ORIGIN.get(str(c).strip().lower())
        if g is None:
            return None
        groups.append(g)
    for g in groups:
        if g not in ("dutch", "unknown"):
            return g
    return "dutch" if "dutch" in groups else "unknown"


def age_at(birth_date: pd.Series, reference_date: pd.Series) -> pd.Series:
    """Age in years at ``reference_date``: days / 365.25."""
    return (pd.to_datetime(reference_date) - pd.to_datetime(birth_date)).dt.days / 365.25


def derive_person(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``ses``, ``first_generation`` and ``migration_background`` to a table of
    persons (pupils or mentors) with ``education_parent1/2`` and ``origin``."""
    out = df.copy()
    e1 = out["education_parent1"].tolist()
    e2 = out["education_parent2"].tolist()
    out["ses"] = [ses(a, b) for a, b in zip(e1, e2)]
    out["first_generation"] = [first_generation(a, b) for a, b in zip(e1, e2)]
    out["migration_background"] = [migration_background(o) for o in out["origin"].tolist()]
    return out
