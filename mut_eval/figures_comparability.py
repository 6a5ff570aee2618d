"""Figures of "Were the groups comparable?": the love plot of covariate balance before
and after weighting, and the overlap of the propensity score (drawn from the ``balance``
and ``propensity_overlap`` tables only; see :mod:`mut_eval.figures` for the conventions).

A level of a categorical covariate held by fewer than ``min_cell`` pupils in either
group is left out of the love plot: its proportion would say something about those few
pupils. The overlap figure shows shares per bin, never single pupils.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import CONDITIONS
from .disclosure import small_balance_rows
from .figures import COLORS, RC, _save, _wrap, get_table, min_cell, outcome_labels
from .report import text as txt
from .report.text import tr

#: |SMD| ≤ .10: balanced (Stuart 2010); the WWC's upper band for baseline differences
BALANCE_LINE, WWC_LINE = 0.10, 0.25


def balance_label(covariate: str, level: str, lang: str, labels: dict) -> str:
    """'Migration background' / 'SES: low' / 'Self-efficacy (T1)' for a balance row."""
    if covariate.endswith("_T1") and covariate[:-3] in labels:
        return f"{labels[covariate[:-3]]} (T1)"
    name = txt.upper_first(txt.moderator_label(covariate, lang))
    if not level:
        return name
    lv = txt.level_label(level, lang) if level != "missing" else tr(lang, "onbekend", "unknown")
    return f"{name}: {lv}"


def love_data(results) -> pd.DataFrame | None:
    """Rows of ``balance`` to draw: those with an SMD, without the levels held by fewer
    than min_cell pupils in a group (:func:`mut_eval.disclosure.small_balance_rows`)."""
    b = get_table(results, "balance")
    ws = get_table(results, "weights_summary")
    if b is None or ws is None:
        return None
    b = b.copy()
    for c in ("smd", "smd_weighted", "mean_mentee", "mean_control"):
        b[c] = pd.to_numeric(b[c], errors="coerce")
    keep = b["smd"].notna() & ~small_balance_rows(b, ws, min_cell(results))
    return b[keep].reset_index(drop=True)


def fig_love(results, out_dir: Path, lang: str) -> Path | None:
    """|SMD| per covariate before (open) and after (filled) weighting, with lines at .10
    (balance) and .25 (the WWC's limit for a baseline difference)."""
    d = love_data(results)
    if d is None or d.empty:
        return None
    labels = outcome_labels(results, lang)
    names = [balance_label(str(c), "" if pd.isna(lv) else str(lv), lang, labels)
             for c, lv in zip(d["covariate"], d["level"])]
    y = np.arange(len(d))
    weighted = d["smd_weighted"].notna().any()
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6.2, 0.22 * len(d) + 1.2))
        for x, style in ((BALANCE_LINE, ":"), (WWC_LINE, "--")):
            ax.axvline(x, color="#777777", lw=0.8, ls=style, zorder=1)
        ax.scatter(d["smd"].abs(), y, s=22, facecolors="white", edgecolors=COLORS["control"], lw=1.1,
                   zorder=3, label=tr(lang, "Vóór weging", "Before weighting"))
        if weighted:
            ax.scatter(d["smd_weighted"].abs(), y, s=22, color=COLORS["mentee"], zorder=4,
                       label=tr(lang, "Na weging", "After weighting"))
        ax.set_yticks(y, [_wrap(s, 42) for s in names], fontsize=7)
        ax.set_ylim(len(d) - 0.5, -0.5)
        ax.set_xlim(0, max(0.3, float(np.nanmax(d[["smd", "smd_weighted"]].abs().to_numpy())) * 1.08))
        ax.set_xlabel(tr(lang, "Absoluut gestandaardiseerd verschil (mentees − controlegroep)",
                         "Absolute standardised difference (mentees − controls)"))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / (0.22 * len(d) + 1.2) - 0.08), ncol=2,
                  frameon=False)
        fig.tight_layout()
        return _save(fig, out_dir, "love_plot", lang)


def fig_overlap(results, out_dir: Path, lang: str) -> Path | None:
    """The propensity score per condition as mirrored histograms: mentees above,
    controls below (shares of each group per bin)."""
    o = get_table(results, "propensity_overlap")
    if o is None:
        return None
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6.2, 2.8))
        for cond, sign in ((CONDITIONS[0], 1), (CONDITIONS[1], -1)):
            r = o[o["condition"] == cond]
            lo, hi = pd.to_numeric(r["bin_low"]), pd.to_numeric(r["bin_high"])
            ax.bar(lo, sign * pd.to_numeric(r["share"]), width=hi - lo, align="edge", color=COLORS[cond],
                   alpha=0.85, label=txt.CONDITION_LABELS[lang][cond])
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xlim(0, 1)
        ticks = ax.get_yticks()
        ax.set_yticks(ticks, [f"{abs(t):.0%}" for t in ticks])
        ax.set_xlabel(tr(lang, "Geschatte kans om mentee te zijn (propensity score)",
                         "Estimated probability of being a mentee (propensity score)"))
        ax.set_ylabel(tr(lang, "Aandeel van de groep", "Share of the group"))
        ax.legend(loc="upper left", frameon=False)
        fig.tight_layout()
        return _save(fig, out_dir, "overlap", lang)
