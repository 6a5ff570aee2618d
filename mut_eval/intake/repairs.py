"""The repairs a study.yaml can ask for, applied to a table as read (text cells, NA = missing).

Each function is pure (a frame in, a frame and a short account out), so that
:mod:`mut_eval.intake.validate` can apply them in a fixed order and report what each did:

1. :func:`personal_columns` — columns that look like names, contact details or birth
   dates are dropped on reading (never used, never echoed);
2. :func:`blank_missing_codes` — ``missing_codes`` cells become missing;
3. :func:`normalise_ids` — ``ids`` (text, NFC, invisible characters, ``ids.pad``);
4. :func:`iso_dates` — ``dates.format`` text dates to ISO;
5. :func:`tag_lists` — ``lists.separator`` tag lists to ``;``-separated;
6. :func:`choose_duplicates` — ``duplicates`` (keep one row per key, say which were dropped);
7. :func:`near_match` — for an id that is not found, the enrolled id it probably is.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime

import pandas as pd

from .. import is_missing
from .io import to_number

# Words that mark a column holding a person's name, contact details or date of birth
# (Dutch and English exports), compared with the column name's words in lower case. A
# column is personal when one of its words is one of these, or ends in naam/name
# (Achternaam, Roepnaam, Lastname).
PERSONAL_WORDS = frozenset({
    "naam", "name", "voornaam", "achternaam", "roepnaam", "tussenvoegsel", "voorletters", "initialen",
    "firstname", "lastname", "surname", "email", "mail", "emailadres", "adres", "address", "straat",
    "straatnaam", "huisnummer", "postcode", "zipcode", "zip", "woonplaats", "telefoon", "telefoonnummer",
    "tel", "phone", "mobiel", "mobile", "gsm", "geboortedatum", "geboortedag", "birthdate", "dob", "bsn",
    "burgerservicenummer", "iban",
})
_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_FLOAT_ID = re.compile(r"^(\d+)\.0+$")
_DAY_FIRST = re.compile(r"^\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?$")


def normalise_code(v):
    """Codes are compared lower-case with spaces and hyphens as underscores (``'1-op-1'`` →
    ``'1_op_1'``), on both sides: the cell and every recode key."""
    if v is None:
        return None
    return re.sub(r"[\s\-]+", "_", str(v).strip().lower())


def _text(series: pd.Series) -> pd.Series:
    """Text cells with None for missing (``Series.map`` turns None into NaN)."""
    out = series.astype(object)
    return out.where(out.notna(), None)


def is_personal(column: str) -> bool:
    """True for a column name that looks like a name, address, phone, e-mail or birth date.

    >>> [is_personal(c) for c in ("Achternaam", "e-mail", "Postcode", "school", "class")]
    [True, True, True, False, False]
    """
    folded = unicodedata.normalize("NFKC", str(column)).casefold()
    words = [w for w in re.split(r"[^0-9a-z]+", folded) if w]
    joined = "".join(words)
    return any(w in PERSONAL_WORDS or w.endswith(("naam", "name")) for w in words) or joined in PERSONAL_WORDS


def personal_columns(columns, keep: set[str]) -> list[str]:
    """The columns to drop as personal data (``keep``: canonical or declared columns)."""
    return [c for c in columns if c not in keep and is_personal(c)]


def _code_hits(col: pd.Series, codes: tuple) -> pd.Series:
    """Cells of ``col`` equal to one of ``codes``: text codes compared trimmed and
    case-insensitively, number codes with the cell's number (vectorised over the column)."""
    texts = {c.strip().casefold() for c in codes if isinstance(c, str)}
    numbers = [float(c) for c in codes if not isinstance(c, str)]
    present = col.notna()
    hit = pd.Series(False, index=col.index)
    if texts:
        hit |= present & col.astype(str).str.strip().str.casefold().isin(texts)
    if numbers:
        hit |= present & to_number(col).isin(numbers)
    return hit


def blank_missing_codes(df: pd.DataFrame, codes: tuple, skip: set[str]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Cells equal to a missing-value code become missing (NA), except in ``skip`` columns
    (identifiers). A number code matches the cell's number (``9`` = ``9.0`` = ``9,0``), a
    text code the trimmed cell case-insensitively. Returns the frame and the count of
    blanked cells per column."""
    if not codes:
        return df, {}
    df = df.copy()
    counts = {}
    for col in df.columns:
        if col in skip:
            continue
        hit = _code_hits(df[col], codes)
        if hit.any():
            counts[col] = int(hit.sum())
            df.loc[hit, col] = None
    return df, counts


def normalise_id(value, pad: int | None = None, strip: bool = True):
    """An identifier as compared everywhere: text in Unicode NFC form; a whole number
    stored as a decimal (``47311.0``) without its decimals; with ``strip`` invisible
    characters (zero-width space, byte-order mark, soft hyphen) removed; with ``pad`` a
    numeric id left-padded with zeros to ``pad`` digits.

    >>> normalise_id("47311.0", pad=6), normalise_id("\\u200bSYN01 "), normalise_id("1234567", pad=6)
    ('047311', 'SYN01', '1234567')
    """
    if is_missing(value):
        return None
    s = unicodedata.normalize("NFC", str(value))
    if strip:
        s = s.strip().strip(_ZERO_WIDTH).strip()
    m = _FLOAT_ID.match(s)
    if m:
        s = m.group(1)
    if pad and s.isdigit() and s.isascii():
        s = s.zfill(pad)
    return s or None


def normalise_ids(series: pd.Series, pad: int | None, strip: bool) -> pd.Series:
    return _text(series.map(lambda v: normalise_id(v, pad, strip)))


def iso_dates(series: pd.Series, fmt: str | None) -> pd.Series:
    """Text dates in ``fmt`` (``dates.format``) as ISO ``yyyy-mm-dd``; ISO values (Excel and
    SPSS date cells read as ISO) and values that do not parse are left as they are (the
    date rule reports the latter)."""
    if not fmt:
        return series

    def conv(v):
        if is_missing(v) or _ISO_DATE.match(str(v)):
            return v
        try:
            return datetime.strptime(str(v).strip(), fmt).date().isoformat()
        except ValueError:
            return v
    return _text(series.map(conv))


def looks_day_first(value) -> bool:
    """A text date such as ``03-02-2010`` or ``3/2/2010`` (Dutch exports write day first)."""
    return value is not None and bool(_DAY_FIRST.match(str(value).strip()))


def tag_lists(series: pd.Series, separator: str = "auto") -> pd.Series:
    """Tag lists written as ``a;b`` or ``a, b`` to the ``;``-separated form the match
    overlap reads. ``auto``: ``;`` when the cell holds one, else ``,``."""
    def conv(v):
        if is_missing(v):
            return None
        v = str(v)
        sep = separator if separator != "auto" else (";" if ";" in v else ",")
        tags = [t.strip() for t in str(v).split(sep)]
        return ";".join(t for t in tags if t) or None
    return _text(series.map(conv))


def choose_duplicates(df: pd.DataFrame, key: str, policy: str) -> tuple[pd.DataFrame, list[tuple[int, int]]]:
    """Keep one row per ``key`` by ``policy`` (``first``, ``last`` or ``most_complete``: the
    row with the most filled cells, the first of those on a tie). ``df`` is indexed by file
    row. Returns the kept rows (in file order) and ``(dropped row, kept row)`` pairs.
    Rows without a key are kept (the required-value rule reports them)."""
    if policy == "error" or key not in df.columns:
        return df, []
    keyed = df[df[key].notna()]
    filled = keyed.notna().sum(axis=1)
    keep_rows, dropped = [], []
    for _, group in keyed.groupby(key, sort=False):
        rows = list(group.index)
        if policy == "first":
            kept = rows[0]
        elif policy == "last":
            kept = rows[-1]
        else:
            counts = filled.loc[rows]
            kept = counts.index[counts.to_numpy().argmax()]
        keep_rows.append(kept)
        dropped += [(r, kept) for r in rows if r != kept]
    if not dropped:
        return df, []
    drop = {r for r, _ in dropped}
    return df.loc[[r for r in df.index if r not in drop]], sorted(dropped)


def _skeleton(s: str) -> str:
    """A form in which ids that look alike compare equal: NFKC, case-folded, without
    white space and invisible (format) characters."""
    s = unicodedata.normalize("NFKC", s).casefold()
    return "".join(ch for ch in s if not ch.isspace() and unicodedata.category(ch) != "Cf")


def code_points(s: str) -> str:
    """``'SYN01'`` → ``U+0053 U+0059 U+004E U+0030 U+0031``: shows what two look-alike ids differ in."""
    return " ".join(f"U+{ord(ch):04X}" for ch in s)


def near_match(value: str, known) -> tuple[str, str] | None:
    """The known id that ``value`` probably means, with a hint why, or None.

    Tried in order: the same digits without (or with) leading zeros (``ids.pad``); the
    same id in another case; an id that looks the same (compatibility forms, invisible
    characters), shown with code points."""
    if value is None:
        return None
    v = str(value)
    known = [str(k) for k in known]
    if v.isdigit():
        for k in known:
            if k.isdigit() and k.lstrip("0") == v.lstrip("0") and k != v:
                return k, (f"leading zeros differ; set ids: {{pad: {len(k)}}} in study.yaml "
                           "(see ids.pad in the README)")
    for k in known:
        if k.casefold() == v.casefold() and k != v:
            return k, "differs only in upper/lower case; ids are compared exactly (see ids in the README)"
    sk = _skeleton(v)
    for k in known:
        if _skeleton(k) == sk and k != v:
            return k, (f"looks the same but is another text: {v!r} is {code_points(v)}, "
                       f"{k!r} is {code_points(k)}")
    return None


def case_only_groups(ids) -> list[list[str]]:
    """Groups of distinct ids that differ only in upper/lower case (``SYN0001``, ``syn0001``)."""
    by: dict[str, list[str]] = {}
    for i in dict.fromkeys(str(x) for x in ids if x is not None):
        by.setdefault(i.casefold(), []).append(i)
    return [g for g in by.values() if len(g) > 1]
