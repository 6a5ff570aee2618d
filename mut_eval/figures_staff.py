"""The figure of the staff edition's first page: per outcome the difference in lasting change
between mentees and the control group (the effect size of the main model with its 95%
interval), against the band of what youth mentoring achieves on average. Plain labels, no
statistical symbols; drawn from the staff view (a withheld comparison is not drawn).
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .figures import BENCHMARK_RANGE, COLORS, RC, _save, _wrap, get_table, outcome_labels, outcome_order
from .report.text import tr

HEADLINE = ("T3-T1", "T2-T1")


def fig_staff_effects(results, out_dir: Path, lang: str) -> Path | None:
    d = get_table(results, "did")
    if d is None or not len(d) or not {"g", "g_ci_low", "g_ci_high"} <= set(d.columns):
        return None
    rows = []
    for o in outcome_order(results, d["outcome"].astype(str).unique()):
        do = d[d["outcome"].astype(str) == o]
        con = next((c for c in HEADLINE if c in set(do["contrast"].astype(str))), None)
        if con is None:
            continue
        r = do[do["contrast"].astype(str) == con].iloc[0]
        vals = pd.to_numeric(pd.Series([r["g"], r["g_ci_low"], r["g_ci_high"]]), errors="coerce").to_numpy(float)
        if np.isfinite(vals).all():
            rows.append((o, *vals))
    if not rows:
        return None
    labels = outcome_labels(results, lang)
    y = np.arange(len(rows))
    g = np.array([r[1] for r in rows])
    lo, hi = np.array([r[2] for r in rows]), np.array([r[3] for r in rows])
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6.4, 0.42 * len(rows) + 1.3))
        ax.axvspan(*BENCHMARK_RANGE, color="#e8e8e8", zorder=0,
                   label=tr(lang, "Wat mentorprogramma's gemiddeld bereiken", "What mentoring programmes achieve on "
                                                                           "average"))
        ax.axvline(0, color="black", lw=0.8, zorder=1)
        ax.errorbar(g, y, xerr=np.vstack([g - lo, hi - g]), fmt="o", color=COLORS["mentee"], ms=6, capsize=3,
                    lw=1.3, zorder=3, label=tr(lang, "Mentees vergeleken met controlegroep (met onzekerheid)",
                                               "Mentees compared with the control group (with uncertainty)"))
        ax.set_yticks(y, [_wrap(labels.get(r[0], r[0]), 34) for r in rows])
        ax.set_ylim(len(rows) - 0.5, -0.5)
        span = max(abs(lo.min()), abs(hi.max()), 0.3) * 1.1
        ax.set_xlim(-span, span)
        ax.set_xticks([-span * 0.6, 0, span * 0.6],
                      [tr(lang, "← gunstiger voor\ncontrolegroep", "← better for\ncontrol group"),
                       tr(lang, "geen\nverschil", "no\ndifference"),
                       tr(lang, "gunstiger voor\nmentees →", "better for\nmentees →")])
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22 - 0.02 * max(0, 6 - len(rows))), ncol=1,
                  frameon=False, fontsize=7.5)
        fig.tight_layout()
        return _save(fig, out_dir, "staff_effects", lang)
