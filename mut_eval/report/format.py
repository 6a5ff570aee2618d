"""Number formatting for the report, in APA style, in Dutch (``nl``) or English (``en``).

Rules (APA Publication Manual, 7th ed., sections 6.36 and 6.40-6.44):

* statistics that cannot exceed 1 in absolute value (p, correlations, alpha, omega,
  eta squared) have no leading zero: ``.04``; every other number keeps it: ``0.45``;
* ``p`` is given exactly with two decimals (three below .01), and ``< .001`` below that;
* means and SDs with two decimals;
* negative numbers use the minus sign (U+2212), not a hyphen.

Dutch uses the decimal comma (``3,66``, ``p = ,02``: the leading zero is dropped in the
same places as in English). A confidence interval is written ``[0,04; 0,38]`` in Dutch,
because the comma is taken. Missing values print as an em dash.

Small-cell suppression (:func:`suppress_cell`) lives here too, so every table of the
report applies the same rule.
"""
from __future__ import annotations

import math

from ..disclosure import SECONDARY, is_suppressed
from ..privacy import is_small  # noqa: F401  (the one small-cell rule, used by the report)

MISSING = "\u2014"      # em dash
MINUS = "\u2212"        # minus sign


def is_number(x) -> bool:
    """True for a finite number (not a bool, None, NaN, ±inf or text): a value that can be printed."""
    if x is None or isinstance(x, bool):
        return False
    try:
        v = float(x)
    except (TypeError, ValueError):
        return False
    return math.isfinite(v)


def floats(values):
    """A column or list as a float array, NaN where a cell is not a number (e.g. a
    suppression label)."""
    import numpy as np
    import pandas as pd
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def to_float(x) -> float:
    """``x`` as a float; NaN when it is not a number."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def _localise(s: str, lang: str) -> str:
    return s.replace(".", ",") if lang == "nl" else s


def num(x, digits: int = 2, lang: str = "en", plus: bool = False) -> str:
    """A number with ``digits`` decimals: ``num(-0.214) == '−0.21'``; nl: ``'−0,21'``.

    ``plus=True`` prefixes a + to positive values (used for changes).
    """
    if not is_number(x):
        return MISSING
    s = f"{float(x):.{digits}f}"
    if s.startswith("-"):
        # "-0.00" is zero, not a negative number
        s = s[1:] if float(s) == 0 else MINUS + s[1:]
    elif plus and float(s) > 0:
        s = "+" + s
    return _localise(s, lang)


def nolead(x, digits: int = 2, lang: str = "en") -> str:
    """A bounded statistic (|x| <= 1) without the leading zero: ``.04``, ``−.30``, ``1.00``."""
    s = num(x, digits, lang)
    if s == MISSING:
        return s
    sep = "," if lang == "nl" else "."
    for prefix in ("", MINUS):
        if s.startswith(prefix + "0" + sep):
            return prefix + s[len(prefix) + 1:]
    return s


def integer(n, lang: str = "en") -> str:
    """A count, with a thousands separator from 10,000 on (APA 6.38): nl ``12.345``.
    A count the staff view suppressed (``"<10"``, ``"x"``) prints as its label."""
    if is_suppressed(n):
        return n
    if not is_number(n):
        return MISSING
    v = int(round(float(n)))
    if abs(v) < 10000:
        return str(v).replace("-", MINUS)
    s = f"{v:,}".replace("-", MINUS)
    return s.replace(",", ".") if lang == "nl" else s


def p_value(p, lang: str = "en") -> str:
    """``p`` without the symbol: ``'.02'``, ``'.003'``, ``'< .001'`` (nl ``',02'``, ``'< ,001'``).

    Two decimals, three when p < .01, and three when two decimals would round to the
    .05 boundary from either side (p = .0496 prints as .050, not .05).
    """
    if not is_number(p):
        return MISSING
    p = float(p)
    if p < 0.001:
        return "< " + nolead(0.001, 3, lang)
    if p > 0.99:
        return "> " + nolead(0.99, 2, lang)
    digits = 3 if p < 0.01 or (round(p, 2) == 0.05 and p != 0.05) else 2
    return nolead(p, digits, lang)


def p_text(p, lang: str = "en", symbol: str = "p") -> str:
    """``'p = .02'`` or ``'p < .001'``; the symbol can be changed (e.g. ``'p_BH'``)."""
    v = p_value(p, lang)
    if v == MISSING:
        return f"{symbol} = {MISSING}"
    if v.startswith(("<", ">")):
        return f"{symbol} {v}"
    return f"{symbol} = {v}"


def ci(lo, hi, digits: int = 2, lang: str = "en", bounded: bool = False) -> str:
    """A confidence interval in brackets: ``'[0.04, 0.38]'``; nl ``'[0,04; 0,38]'``."""
    f = nolead if bounded else num
    if not (is_number(lo) and is_number(hi)):
        return MISSING
    sep = "; " if lang == "nl" else ", "
    return f"[{f(lo, digits, lang)}{sep}{f(hi, digits, lang)}]"


def ci_words(lo, hi, digits: int = 2, lang: str = "en", level: int = 95) -> str:
    """A confidence interval in running text: ``'95% CI 0.04 to 0.38'``; nl ``'95%-BI 0,04 tot 0,38'``."""
    if not (is_number(lo) and is_number(hi)):
        return ""
    if lang == "nl":
        return f"{level}%-BI {num(lo, digits, lang)} tot {num(hi, digits, lang)}"
    return f"{level}% CI {num(lo, digits, lang)} to {num(hi, digits, lang)}"


def pct(x, digits: int = 0, lang: str = "en") -> str:
    """A percentage given as a percentage (45.2 → ``'45%'``)."""
    if not is_number(x):
        return MISSING
    return num(x, digits, lang) + "%"


def m_sd(m, sd, lang: str = "en", digits: int = 2) -> str:
    """``'3.66 (0.45)'``: a mean with its SD in brackets."""
    if not is_number(m):
        return MISSING
    return f"{num(m, digits, lang)} ({num(sd, digits, lang)})"


def dof(df, lang: str = "en") -> str:
    """Degrees of freedom: whole numbers without decimals, corrected ones with two."""
    if not is_number(df):
        return MISSING
    v = float(df)
    return str(int(round(v))) if abs(v - round(v)) < 1e-9 else num(v, 2, lang)


def as_count(v) -> float:
    """A count for decisions (is this group small?): a count the staff view shows as
    ``"<10"`` becomes 9 (small by construction), ``"x"`` and text become NaN."""
    if isinstance(v, str) and v.startswith("<") and v[1:].isdigit():
        return float(int(v[1:]) - 1)
    return to_float(v)


def suppressed_label(min_cell: int = 10) -> str:
    return f"<{int(min_cell)}"


def suppress_cell(text: str, n, min_cell: int = 10, count: bool = False) -> tuple[str, bool]:
    """The privacy rule for every table cell of the report.

    Returns ``(text_to_print, was_suppressed)``. When the group behind the cell has
    fewer than ``min_cell`` pupils (see :func:`is_small`) a count prints as ``'<10'``
    and any other statistic as an em dash; the caller adds the footnote when
    ``was_suppressed`` is true. A count hidden by complementary suppression (``n`` is
    ``"x"``, see :mod:`mut_eval.disclosure`) prints as ``x``; the statistics of its (large)
    group are printed.
    """
    if isinstance(n, str) and n == SECONDARY:
        return (SECONDARY, True) if count else (text, False)
    if is_small(n, min_cell):
        return (suppressed_label(min_cell) if count else MISSING), True
    return text, False
