"""Pseudonyms for pupils: keyed HMAC-SHA256 of the identifier.

Pupil identifiers from the school's export never travel past the Panel: they are replaced
by ``P`` + the first 12 hex digits of HMAC-SHA256(key, student_id) (RFC 2104). The key
comes from the ``MUT_EVAL_KEY`` environment variable or ``pseudonym_key`` in study.yaml;
without one a built-in default key is used and a warning says so — with the default key
anyone holding the toolkit can re-identify a pupil from a list of candidate identifiers.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import os
import re

import pandas as pd

from . import StudyError

DEFAULT_KEY = "mut-eval-default-key"


def pseudonym_key(config: dict | None = None) -> tuple[str, bool]:
    """The key to use and whether it is the default one."""
    env = os.environ.get("MUT_EVAL_KEY")
    if env is not None and env != "" and not env.strip():
        raise StudyError("MUT_EVAL_KEY is set but holds only spaces; set it to a secret of your own "
                         "(or unset it to use study.yaml's pseudonym_key)")
    key = env or (config or {}).get("pseudonym_key")
    if key is not None and key != "" and not str(key).strip():
        raise StudyError("study.yaml: pseudonym_key holds only spaces; give a secret of your own")
    return (str(key), False) if key else (DEFAULT_KEY, True)


def pseudonym(student_id: str, key: str) -> str:
    digest = hmac.new(key.encode("utf-8"), str(student_id).encode("utf-8"), hashlib.sha256).hexdigest()
    return "P" + digest[:12]


def pseudonymise(ids, key: str) -> list[str]:
    """Pseudonyms for a sequence of identifiers (same id and key → same pseudonym)."""
    return [pseudonym(i, key) for i in ids]


def is_small(n, min_cell: int = 10) -> bool:
    """True when a group of ``n`` pupils is too small to show to staff (1 <= n < min_cell).

    Zero is not suppressed here: an empty cell says nothing about any pupil by itself (the
    zeros that do disclose are handled by :mod:`mut_eval.disclosure`). A missing n
    (unknown group size) is treated as reportable; tables that can be small carry n. A
    count already replaced by the primary label (``"<10"``) of the staff view is small.
    """
    if n is None or isinstance(n, bool):
        return False
    if isinstance(n, str) and re.fullmatch(r"<\d+", n.strip()):
        return True
    try:
        v = float(n)
    except (TypeError, ValueError):
        return False
    return math.isfinite(v) and 0 < v < min_cell


# Count columns of the result tables: a group's size, per row or per condition.
_COUNT = re.compile(r"^(n|n_.+|.+_n|enrolled_.+|analytic_.+|rank_\d+)$")


def suppress_small_cells(table: pd.DataFrame, min_cell: int = 10) -> pd.DataFrame:
    """The staff edition of a result table: every count of 1..min_cell−1 pupils shows
    as ``"<10"``, and the statistics of that group are blanked — the whole row for a
    row count (``n``, ``n_level``), the columns of that condition for a per-condition
    count (``mentee_n`` → ``mentee_*``, ``n_control`` → ``*_control``)."""
    counts = [c for c in table.columns if _COUNT.match(str(c)) and pd.api.types.is_numeric_dtype(table[c])]
    if not counts:
        return table
    out = table.astype(object).copy()
    label = f"<{min_cell}"
    stats = [c for c in table.columns if c not in counts and pd.api.types.is_numeric_dtype(table[c])]
    for c in counts:
        small = table[c].map(lambda v: is_small(v, min_cell)).to_numpy(bool)
        if not small.any():
            continue
        out.loc[small, c] = label
        if c in ("n", "n_level", "n_students"):
            group = stats
        else:
            side = next((s for s in ("mentee", "control") if s in str(c)), None)
            group = [s for s in stats if side and side in str(s)]
        out.loc[small, group] = None
    return out


# Columns whose values identify a pupil or mentor.
ID_COLUMNS = ("student_id", "mentor_id")
NOT_SHOWN = "(not shown)"


def is_id_column(name, renamed_to_id=()) -> bool:
    """An identifier column: ``student_id``/``mentor_id``, any ``*_id`` or ``id`` column, or a
    source column that study.yaml renames to one of them."""
    n = str(name).strip().lower()
    return n in ID_COLUMNS or n == "id" or n.endswith("_id") or n.endswith(" id") or str(name) in renamed_to_id


def sanitise_config(config: dict | None, identifiers=()) -> dict:
    """study.yaml as it may be shown in results and reports: every value that is or maps an
    identifier is replaced by a count, and the pseudonym key by "(set; not shown)".

    - ``pseudonym_key`` → ``"(set; not shown)"``;
    - ``recode`` of an identifier column (:func:`is_id_column`) → ``"3 values (not shown)"``;
    - ``exclusions`` given inline → ``"N rows (not shown)"``;
    - any other key or string value equal to one of ``identifiers`` (the school's ids) →
      ``"(identifier; not shown)"``, so an id typed anywhere in study.yaml never travels on.
    """
    cfg = dict(config or {})
    ids = {str(i) for i in identifiers}
    renamed = {str(src) for per_file in (cfg.get("rename") or {}).values() if isinstance(per_file, dict)
               for src, dst in per_file.items() if is_id_column(dst)}
    if "pseudonym_key" in cfg:
        cfg["pseudonym_key"] = "(set; not shown)"
    recode = cfg.get("recode")
    if isinstance(recode, dict):
        cfg["recode"] = {col: (f"{len(m) if isinstance(m, dict) else 1} values {NOT_SHOWN}"
                               if is_id_column(col, renamed) else m) for col, m in recode.items()}
    if "exclusions" in cfg:
        ex = cfg["exclusions"]
        cfg["exclusions"] = f"{len(ex) if isinstance(ex, (list, dict)) else 1} rows {NOT_SHOWN}"

    def scrub(v):
        if isinstance(v, dict):
            return {("(identifier; not shown)" if str(k) in ids else k): scrub(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [scrub(x) for x in v]
        if isinstance(v, str) and v.strip() in ids:
            return "(identifier; not shown)"
        return v
    return scrub(cfg) if ids else cfg
