"""Figures of the programme report (issue 14): reach over the years as small multiples,
and a forest plot per outcome (the cohorts, the pooled random-effects diamond with its
prediction interval, and the benchmark of youth mentoring). Drawn from the staff
versions of the programme tables only (see :mod:`mut_eval.figures` for the conventions):
a suppressed count or a withheld cohort is not drawn.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .figures import BENCHMARK_G, BENCHMARK_RANGE, COLORS, RC, _safe_name, _save
from .programme import REPORTED
from .report import format as fmt
from .report.text import tr

#: the contrast read first: lasting change, then the end of the programme
HEADLINE = ("T3-T1", "T2-T1")


def fig_reach(reach: pd.DataFrame, out_dir: Path, lang: str) -> Path | None:
    """Four panels over the cohorts: pupils taking part (mentees, controls), mentees
    matched and never started, sessions attended (share of planned; share of mentees at
    ≥ 75%), and the response at each wave. ``reach``: one row per cohort with those
    columns (suppressed values missing)."""
    if reach is None or reach.empty:
        return None
    reach = reach.dropna(axis=1, how="all")
    x = np.arange(len(reach))
    labels = [str(c).replace("-", "–\n", 1) for c in reach["cohort"]]
    panels = [
        (tr(lang, "Leerlingen", "Pupils"), [("mentees", tr(lang, "mentees", "mentees"), COLORS["mentee"]),
                                            ("controls", tr(lang, "controlegroep", "controls"), COLORS["control"])],
         False),
        (tr(lang, "Koppelingen", "Matches"), [("matched", tr(lang, "gekoppeld", "matched"), COLORS["mentee"]),
                                              ("never_started", tr(lang, "nooit begonnen", "never started"),
                                               "#999999")], False),
        (tr(lang, "Bijeenkomsten", "Sessions"),
         [("sessions_attended_share", tr(lang, "bijgewoond (% van gepland)", "attended (% of planned)"),
           COLORS["mentee"]),
          ("attended_75_share", tr(lang, "mentees met ≥ 75%", "mentees at ≥ 75%"), "#999999")], True),
        (tr(lang, "Respons", "Response"),
         [(f"response_{w}", w, c) for w, c in (("T1", "#0072B2"), ("T2", "#E69F00"), ("T3", "#009E73"))], True),
    ]
    # a panel with nothing to show (e.g. response, whose counts are suppressed) is left out
    panels = [pn for pn in panels if any(col in reach.columns for col, _, _ in pn[1])]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(panels), figsize=(1.85 * len(panels), 2.5), squeeze=False)
        axes = axes[0]
        for ax, (title, series, share) in zip(axes, panels):
            width = 0.8 / len(series)
            for k, (col, lab, color) in enumerate(series):
                if col not in reach.columns:
                    continue
                v = fmt.floats(reach[col]) * (100 if share else 1)
                if share:
                    ax.plot(x, v, marker="o", ms=3.5, color=color, lw=1.2, label=lab)
                else:
                    ax.bar(x + (k - (len(series) - 1) / 2) * width, np.nan_to_num(v), width, color=color,
                           label=lab)
                    for xi, vi in zip(x + (k - (len(series) - 1) / 2) * width, v):
                        if not np.isfinite(vi):      # suppressed: say so instead of a bar of 0
                            ax.text(xi, 0, "–", ha="center", va="bottom", fontsize=7, color="#777777")
            ax.set_title(title, fontsize=8.5)
            ax.set_xticks(x, labels, fontsize=6.5)
            if share:
                ax.set_ylim(0, 105)
            ax.tick_params(axis="y", labelsize=7)
            ax.legend(fontsize=6, frameon=False, loc="lower left" if share else "upper left")
        fig.tight_layout()
        return _save(fig, out_dir, "programme_reach", lang)


def fig_programme_forest(effects: pd.DataFrame, pooled: pd.DataFrame, outcome: str, label: str,
                         out_dir: Path, lang: str, ci_z: float = 1.959963984540054) -> Path | None:
    """One outcome: per contrast (lasting change first) the cohorts' g with 95% CI
    (g ± 1.96·√v), the pooled random-effects estimate as a diamond (its Knapp–Hartung
    CI) with the prediction interval as a line, the benchmark of youth mentoring (g ≈
    .21, band .11–.25) and 0."""
    e = effects[(effects["outcome"].astype(str) == outcome)].copy()
    e["yi"], e["vi"] = fmt.floats(e["yi"]), fmt.floats(e["vi"])
    e = e[np.isfinite(e["yi"]) & np.isfinite(e["vi"])]
    contrasts = [c for c in HEADLINE if c in set(e["contrast"].astype(str))]
    if e.empty or not contrasts:
        return None
    p = pooled[(pooled["outcome"].astype(str) == outcome)] if pooled is not None and len(pooled) else pooled
    cohorts = list(dict.fromkeys(e["cohort"].astype(str)))
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, len(contrasts), figsize=(3.6 * len(contrasts), 0.32 * len(cohorts) + 1.5),
                                 sharey=True, squeeze=False)
        for ax, con in zip(axes[0], contrasts):
            ec = e[e["contrast"].astype(str) == con].set_index(e[e["contrast"].astype(str) == con]["cohort"]
                                                              .astype(str))
            ax.axvspan(*BENCHMARK_RANGE, color="#e8e8e8", zorder=0)
            ax.axvline(BENCHMARK_G, color="#555555", ls=":", lw=1.0, zorder=1)
            ax.axvline(0, color="black", lw=0.8, zorder=1)
            for i, c in enumerate(cohorts):
                if c not in ec.index:
                    continue
                y, v = float(ec.at[c, "yi"]), float(ec.at[c, "vi"])
                half = ci_z * np.sqrt(v)
                ax.errorbar(y, i, xerr=half, fmt="s", color=COLORS["mentee"], ms=4, capsize=2, lw=1.0, zorder=3)
            yp = len(cohorts) + 0.4
            row = None
            if p is not None and len(p):
                pr = p[(p["contrast"].astype(str) == con) & (p["method"].astype(str) == REPORTED)]
                row = pr.iloc[0] if len(pr) else None
            if row is not None and np.isfinite(fmt.floats([row["estimate"]])[0]):
                est, lo, hi = (float(row[k]) for k in ("estimate", "ci_low", "ci_high"))
                plo, phi = float(row["pi_low"]), float(row["pi_high"])
                if np.isfinite(plo) and np.isfinite(phi):
                    ax.plot([plo, phi], [yp, yp], color="#333333", lw=1.0, zorder=2)
                ax.fill([lo, est, hi, est], [yp, yp - 0.28, yp, yp + 0.28], color=COLORS["control"], zorder=3)
            ax.set_title({"T3-T1": tr(lang, "T1 → T3 (blijvend)", "T1 → T3 (lasting)"),
                          "T2-T1": tr(lang, "T1 → T2 (einde programma)", "T1 → T2 (end of programme)")}[con],
                         fontsize=8.5)
            ax.set_xlabel("g (95%-BI)" if lang == "nl" else "g (95% CI)", fontsize=7.5)
        axes[0][0].set_yticks(list(range(len(cohorts))) + [len(cohorts) + 0.4],
                              cohorts + [tr(lang, "Samen (random effects)", "Pooled (random effects)")], fontsize=7)
        axes[0][0].set_ylim(len(cohorts) + 1.0, -0.6)
        fig.suptitle(label, fontsize=9)
        fig.tight_layout()
        return _save(fig, out_dir, _safe_name("programme_forest", outcome), lang)
