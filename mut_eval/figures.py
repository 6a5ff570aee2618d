"""Figures of the report, drawn from the result tables only (contract section 4).

``make_figures(results, out_dir, lang)`` writes each figure as SVG (for the PDF) and PNG
(for slides and e-mail) and returns ``{name: svg_path}``. A figure whose table is
missing or empty is skipped, never an error. Files are byte-stable for the same
results (fixed ``svg.hashsalt``, no date in the metadata). No figure shows a pupil
identifier, and a group with fewer than ``meta['min_cell']`` pupils is not drawn.

The two conditions have the same colour-blind-safe colours everywhere (Okabe & Ito,
2008, "Color universal design"): mentees blue, controls orange, with different
markers and line styles so the figures also work in greyscale.
"""
from __future__ import annotations

import math
import re
import textwrap
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import FancyBboxPatch
from matplotlib.ticker import ScalarFormatter
from scipy import stats

from . import CHANGES, CONDITIONS, WAVES, is_missing, short_label
from .intake.codebook import codebook_of
from .report import format as fmt
from .report import text as txt
from .report.text import tr

COLORS = {"mentee": "#0072B2", "control": "#E69F00"}
MARKERS = {"mentee": "o", "control": "s"}
LINESTYLES = {"mentee": "-", "control": "--"}
CONTRAST_STYLE = dict(zip(CHANGES, (("#222222", "o"), ("#777777", "s"), ("#AAAAAA", "D"))))
#: The changes since the start (T1), to the end of the programme and to the follow-up: the
#: programme's effect. The forest plot and the benchmark comparison use these.
EFFECT_CHANGES = tuple(c for c in CHANGES if c.endswith(f"-{WAVES[0]}"))
BENCHMARK_G = txt.BENCHMARK_G
# Average effects of kinds of youth mentoring programmes: friendship-based ≈ 0.11,
# targeted ≈ 0.25 (Christensen et al., 2020, J. Youth Adolesc. 49, 959-972).
BENCHMARK_RANGE = (0.11, 0.25)

RC = {
    "svg.hashsalt": "mut_eval",
    "svg.fonttype": "path",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 100,
    # labels come from the user's codebook and study.yaml: print them as written, never
    # as TeX math ("$\\frac{5$" would stop the figure)
    "text.parse_math": False,
    "text.usetex": False,
}


# ---------------------------------------------------------------- helpers

def get_table(results, name: str) -> pd.DataFrame | None:
    """The table ``name`` when it exists and has rows, else None."""
    tables = getattr(results, "tables", {}) or {}
    df = tables.get(name)
    if df is None or not isinstance(df, pd.DataFrame) or df.empty:
        return None
    return df


def outcome_labels(results, lang: str) -> dict[str, str]:
    """Outcome key → printed label, from the codebook the results were made with."""
    cb = codebook_of(getattr(results, "meta", None))
    return {k: short_label(cb.label(k, lang)) for k in cb.scales}


def analysed_order(results) -> list[str]:
    """The outcomes in the order they were analysed (``meta['outcomes']``), else the scales of
    the results' codebook."""
    meta = getattr(results, "meta", None) or {}
    return list(meta.get("outcomes") or codebook_of(meta).scales)


def sort_outcomes(order: list[str], keys) -> list[str]:
    """``keys`` (without missing ones and repeats) in the order of ``order``, then the others in
    order of appearance."""
    keys = list(dict.fromkeys(str(k) for k in keys if not is_missing(k)))
    return [k for k in order if k in keys] + [k for k in keys if k not in order]


def outcome_order(results, keys) -> list[str]:
    """Outcome keys in the analysed order, then any others in order of appearance."""
    return sort_outcomes(analysed_order(results), keys)


def min_cell(results) -> int:
    try:
        return int((getattr(results, "meta", {}) or {}).get("min_cell", 10) or 10)
    except (TypeError, ValueError):
        return 10


def alpha_of(results) -> float:
    try:
        return float((getattr(results, "meta", {}) or {}).get("alpha", 0.05) or 0.05)
    except (TypeError, ValueError):
        return 0.05


def _wrap(s: str, width: int = 28) -> str:
    return "\n".join(textwrap.wrap(str(s), width)) or str(s)


class _CommaFormatter(ScalarFormatter):
    """Matplotlib's default tick labels with the Dutch decimal comma."""

    def __call__(self, x, pos=None):
        return super().__call__(x, pos).replace(".", ",")

    def format_data_short(self, value):
        return super().format_data_short(value).replace(".", ",")


def _localise(fig, lang: str):
    if lang != "nl":
        return
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(_CommaFormatter())


def _save(fig, out_dir: Path, name: str, lang: str = "en") -> Path:
    _localise(fig, lang)
    svg = out_dir / f"{name}.svg"
    fig.savefig(svg, format="svg", metadata={"Date": None}, bbox_inches="tight")
    fig.savefig(out_dir / f"{name}.png", format="png", dpi=150, bbox_inches="tight",
                metadata={"Software": None})
    plt.close(fig)
    return svg


def _safe_name(*parts) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", "_".join(str(p) for p in parts)).strip("_").lower()


# ---------------------------------------------------------------- data for the figures

def trajectory_data(results) -> pd.DataFrame:
    """Mean and 95% CI per outcome × condition × wave, the data of the trajectories figure.

    From ``descriptives`` (sample ``available``; completers if that is all there is),
    CI = mean ± t(.975, n − 1)·sd/√n; otherwise from ``lmm_emm`` (``emm``, ``ci_low``,
    ``ci_high``). Cells with fewer than ``min_cell`` pupils are dropped.
    Columns: ``outcome, condition, wave, mean, ci_low, ci_high, n, source``.
    """
    cols = ["outcome", "condition", "wave", "mean", "ci_low", "ci_high", "n", "source"]
    mc = min_cell(results)
    d = get_table(results, "descriptives")
    if d is not None and {"outcome", "condition", "wave", "mean", "sd", "n"} <= set(d.columns):
        if "sample" in d.columns:
            samples = set(d["sample"].astype(str))
            pick = "available" if "available" in samples else ("completers" if "completers" in samples else None)
            d = d[d["sample"].astype(str) == pick] if pick else d
        d = d.copy()
        n = pd.to_numeric(d["n"], errors="coerce")
        m = pd.to_numeric(d["mean"], errors="coerce")
        sd = pd.to_numeric(d["sd"], errors="coerce")
        with np.errstate(invalid="ignore", divide="ignore"):
            half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
        out = pd.DataFrame({"outcome": d["outcome"].astype(str), "condition": d["condition"].astype(str),
                            "wave": d["wave"].astype(str), "mean": m, "ci_low": m - half, "ci_high": m + half,
                            "n": n, "source": "descriptives"})
    else:
        e = get_table(results, "lmm_emm")
        if e is None or not {"outcome", "condition", "wave", "emm"} <= set(e.columns):
            return pd.DataFrame(columns=cols)
        out = pd.DataFrame({"outcome": e["outcome"].astype(str), "condition": e["condition"].astype(str),
                            "wave": e["wave"].astype(str), "mean": pd.to_numeric(e["emm"], errors="coerce"),
                            "ci_low": pd.to_numeric(e.get("ci_low"), errors="coerce"),
                            "ci_high": pd.to_numeric(e.get("ci_high"), errors="coerce"),
                            "n": pd.to_numeric(e["n"], errors="coerce") if "n" in e.columns else np.nan,
                            "source": "lmm_emm"})
    out = out[out["condition"].isin(CONDITIONS) & out["wave"].isin(WAVES) & out["mean"].notna()]
    out = out[~out["n"].map(lambda v: fmt.is_small(v, mc))]
    # Only outcomes measured in both conditions at two or more waves make a trajectory.
    keep = [o for o, g in out.groupby("outcome")
            if g["condition"].nunique() == 2 and g["wave"].nunique() >= 2]
    return out[out["outcome"].isin(keep)].reset_index(drop=True)[cols]


# ---------------------------------------------------------------- the figures

def fig_trajectories(results, out_dir: Path, lang: str) -> Path | None:
    data = trajectory_data(results)
    if data.empty:
        return None
    labels = outcome_labels(results, lang)
    outcomes = outcome_order(results, data["outcome"].unique())
    ncols = 3 if len(outcomes) > 2 else len(outcomes)
    nrows = math.ceil(len(outcomes) / ncols)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrows, ncols, figsize=(7.2, 2.35 * nrows + 0.5), sharey=True, squeeze=False)
        lo = np.nanmin(data[["ci_low", "mean"]].to_numpy(dtype=float))
        hi = np.nanmax(data[["ci_high", "mean"]].to_numpy(dtype=float))
        pad = max(0.05, 0.08 * (hi - lo))
        x_of = {w: i for i, w in enumerate(WAVES)}
        for ax, o in zip(axes.flat, outcomes):
            g = data[data["outcome"] == o]
            for k, cond in enumerate(CONDITIONS):
                gc = g[g["condition"] == cond].sort_values("wave")
                x = gc["wave"].map(x_of).to_numpy(dtype=float) + (-0.06 if k == 0 else 0.06)
                y = gc["mean"].to_numpy(dtype=float)
                err = np.vstack([y - gc["ci_low"].to_numpy(dtype=float), gc["ci_high"].to_numpy(dtype=float) - y])
                err = np.where(np.isfinite(err), err, 0)
                ax.errorbar(x, y, yerr=err, color=COLORS[cond], marker=MARKERS[cond], ls=LINESTYLES[cond],
                            ms=4.5, lw=1.5, capsize=2.5, elinewidth=1,
                            label=txt.CONDITION_LABELS[lang][cond])
            ax.set_title(_wrap(labels.get(o, o), 30))
            ax.set_xticks(range(len(WAVES)), WAVES)
            ax.set_xlim(-0.35, len(WAVES) - 0.65)
            ax.grid(axis="y", color="#dddddd", lw=0.6)
            ax.set_axisbelow(True)
        for ax in axes.flat[len(outcomes):]:
            ax.set_visible(False)
        axes[0, 0].set_ylim(lo - pad, hi + pad)
        for r in range(nrows):
            axes[r, 0].set_ylabel(tr(lang, "Gemiddelde (95%-BI)", "Mean (95% CI)"))
        handles, labs = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labs, loc="upper center", ncol=2, frameon=False, bbox_to_anchor=(0.5, 1.0))
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        return _save(fig, out_dir, "trajectories", lang)


def forest_data(results) -> pd.DataFrame:
    d = get_table(results, "did")
    if d is None or not {"outcome", "contrast", "g", "g_ci_low", "g_ci_high"} <= set(d.columns):
        return pd.DataFrame(columns=["outcome", "contrast", "g", "g_ci_low", "g_ci_high"])
    d = d[d["contrast"].astype(str).isin(EFFECT_CHANGES)].copy()
    for c in ("g", "g_ci_low", "g_ci_high"):
        d[c] = pd.to_numeric(d[c], errors="coerce")
    return d[d["g"].notna()].reset_index(drop=True)


def fig_forest(results, out_dir: Path, lang: str) -> Path | None:
    d = forest_data(results)
    if d.empty:
        return None
    labels = outcome_labels(results, lang)
    outcomes = outcome_order(results, d["outcome"].unique())
    contrasts = [c for c in EFFECT_CHANGES if c in set(d["contrast"].astype(str))]
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(7.0, 0.55 * len(outcomes) + 1.3))
        lo = min(np.nanmin(d["g_ci_low"]), -0.1)
        hi = max(np.nanmax(d["g_ci_high"]), BENCHMARK_RANGE[1] + 0.05)
        ax.axvspan(*BENCHMARK_RANGE, color="#e8e8e8", zorder=0,
                   label=tr(lang, "Gemiddelde effecten mentorprogramma's (0,11–0,25)",
                             "Average effects of mentoring programmes (0.11–0.25)"))
        ax.axvline(BENCHMARK_G, color="#555555", ls=":", lw=1.2, zorder=1,
                   label=tr(lang, "Gemiddeld effect mentoring jongeren (g ≈ 0,21)",
                             "Average effect of youth mentoring (g ≈ 0.21)"))
        ax.axvline(0, color="black", lw=0.8, zorder=1)
        step = 0.32 if len(contrasts) > 1 else 0
        for k, con in enumerate(contrasts):
            color, marker = CONTRAST_STYLE.get(con, ("#333333", "o"))
            dc = d[d["contrast"].astype(str) == con].set_index("outcome")
            ys, gs, los, his = [], [], [], []
            for i, o in enumerate(outcomes):
                if o in dc.index:
                    r = dc.loc[o]
                    ys.append(i + (k - (len(contrasts) - 1) / 2) * step)
                    gs.append(r["g"])
                    los.append(r["g_ci_low"])
                    his.append(r["g_ci_high"])
            gs, los, his = map(lambda a: np.asarray(a, dtype=float), (gs, los, his))
            err = np.vstack([gs - los, his - gs])
            err = np.where(np.isfinite(err), err, 0)
            period = {"T2-T1": tr(lang, " (einde programma)", " (end of programme)"),
                      "T3-T1": tr(lang, " (nameting)", " (follow-up)")}.get(con, "")
            ax.errorbar(gs, ys, xerr=err, fmt=marker, color=color, ms=5, capsize=2.5, lw=1.2, zorder=3,
                        label=txt.period(con) + period)
        ax.set_yticks(range(len(outcomes)), [_wrap(labels.get(o, o), 34) for o in outcomes])
        ax.set_ylim(len(outcomes) - 0.5, -0.5)
        ax.set_xlim(lo - 0.05, hi + 0.05)
        ax.set_xlabel(tr(lang, "Effectgrootte Hedges' g (95%-BI); > 0 = gunstiger voor mentees",
                          "Effect size Hedges' g (95% CI); > 0 = more favourable for mentees"))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16 - 0.02 * (6 - min(len(outcomes), 6))),
                  ncol=2, frameon=False)
        fig.tight_layout()
        return _save(fig, out_dir, "forest", lang)


ROBUSTNESS_LABELS = {
    "lmm_pupil": ("Gemengd model, leerlingniveau", "Mixed model, pupil level"),
    "lmm_multilevel": ("Multilevelmodel (Kenward–Roger)", "Multilevel model (Kenward–Roger)"),
    "lmm_multilevel_satterthwaite": ("Multilevelmodel (Satterthwaite)", "Multilevel model (Satterthwaite)"),
    "mmrm_pupil": ("MMRM, leerlingniveau", "MMRM, pupil level"),
    "mmrm_multilevel": ("MMRM met klassen", "MMRM with classes"),
    "cr2_change": ("Veranderscore, CR2 (klas)", "Change score, CR2 (class)"),
    "cr2_ancova": ("ANCOVA, CR2 (klas)", "ANCOVA, CR2 (class)"),
    "wild_cluster_bootstrap": ("Wild cluster bootstrap (klas)", "Wild cluster bootstrap (class)"),
    "covariate_adjusted": ("Gecorrigeerd voor kenmerken (klas)", "Adjusted for characteristics (class)"),
    "weighted_dr": ("Gewogen + gecorrigeerd (dubbel robuust)", "Weighted + adjusted (doubly robust)"),
    "weighted_dr_change": ("Gewogen, veranderscore (dubbel robuust)", "Weighted, change score (doubly robust)"),
    "multiple_imputation": ("Meervoudige imputatie", "Multiple imputation"),
    "wwc_corrected": ("WWC-correctie (geschatte ICC)", "WWC correction (estimated ICC)"),
}


def robustness_data(results) -> pd.DataFrame:
    """did_robustness rows of the contrasts with T1 that have an estimate and a CI."""
    cols = ["model", "outcome", "contrast", "estimate", "ci_low", "ci_high"]
    d = get_table(results, "did_robustness")
    if d is None or not set(cols) <= set(d.columns):
        return pd.DataFrame(columns=cols)
    d = d[d["contrast"].astype(str).isin(EFFECT_CHANGES) & d["model"].isin(list(ROBUSTNESS_LABELS))].copy()
    for c in cols[3:]:
        d[c] = pd.to_numeric(d[c], errors="coerce")
    return d[d["estimate"].notna()].reset_index(drop=True)[cols]


def fig_robustness(results, out_dir: Path, lang: str) -> Path | None:
    """One panel per outcome: the DiD estimate with its 95% CI under every model of
    ``did_robustness`` (rows), per contrast with T1 (markers as in the forest plot)."""
    d = robustness_data(results)
    if d.empty:
        return None
    labels = outcome_labels(results, lang)
    outcomes = outcome_order(results, d["outcome"].unique())
    models = [m for m in ROBUSTNESS_LABELS if m in set(d["model"])]
    contrasts = [c for c in EFFECT_CHANGES if c in set(d["contrast"].astype(str))]
    did = get_table(results, "did")
    primary = (str(did["model"].iloc[0]) if did is not None and "model" in did.columns and len(did)
               else "lmm_pupil")
    ncol = 2 if len(outcomes) > 1 else 1
    nrow = math.ceil(len(outcomes) / ncol)
    with plt.rc_context(RC):
        fig, axes = plt.subplots(nrow, ncol, figsize=(7.2, 0.32 * len(models) * nrow + 1.4),
                                 sharex=True, squeeze=False)
        lo, hi = np.nanmin(d[["ci_low", "estimate"]].to_numpy()), np.nanmax(d[["ci_high", "estimate"]].to_numpy())
        for ax, o in zip(axes.ravel(), outcomes):
            ax.axvline(0, color="black", lw=0.8, zorder=1)
            step = 0.3 if len(contrasts) > 1 else 0
            for k, con in enumerate(contrasts):
                color, marker = CONTRAST_STYLE.get(con, ("#333333", "o"))
                dc = d[(d["outcome"] == o) & (d["contrast"].astype(str) == con)].set_index("model")
                ys = [i + (k - (len(contrasts) - 1) / 2) * step for i, m in enumerate(models) if m in dc.index]
                r = dc.reindex([m for m in models if m in dc.index])
                err = np.vstack([r["estimate"] - r["ci_low"], r["ci_high"] - r["estimate"]]).astype(float)
                ax.errorbar(r["estimate"], ys, xerr=np.where(np.isfinite(err), err, 0), fmt=marker, color=color,
                            ms=4, capsize=2, lw=1.0, zorder=3, label=txt.period(con))
            ax.set_yticks(range(len(models)), [tr(lang, *ROBUSTNESS_LABELS[m]) for m in models], fontsize=6.5)
            ax.set_ylim(len(models) - 0.5, -0.5)
            ax.set_title(_wrap(labels.get(o, o), 40), fontsize=8)
            for m_i, m in enumerate(models):
                if m == primary:
                    ax.axhspan(m_i - 0.5, m_i + 0.5, color="#eeeeee", zorder=0)
        for ax in axes[:, 1:].ravel():
            ax.tick_params(labelleft=False)
        for ax in axes.ravel()[len(outcomes):]:
            ax.set_visible(False)
        pad = 0.05 * (hi - lo if np.isfinite(hi - lo) and hi > lo else 1)
        axes[0, 0].set_xlim(lo - pad, hi + pad)
        for ax in axes[-1]:
            ax.set_xlabel(tr(lang, "Verschil in verandering (95%-BI)", "Difference in change (95% CI)"), fontsize=7)
        handles, labs = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labs, loc="lower center", ncol=len(contrasts), frameon=False)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        return _save(fig, out_dir, "robustness", lang)


def flow_counts(results) -> dict:
    """``{condition: {stage: n}}`` from the ``flow`` table (stages in contract order)."""
    f = get_table(results, "flow")
    if f is None or not {"condition", "stage", "n"} <= set(f.columns):
        return {}
    out: dict = {}
    for cond, stage, n in f[["condition", "stage", "n"]].itertuples(index=False):
        if str(cond) in CONDITIONS:
            out.setdefault(str(cond), {})[str(stage)] = n if fmt.is_suppressed(n) else fmt.to_float(n)
    return out


def _count(n, mc) -> str:
    text, _ = fmt.suppress_cell(fmt.integer(n), n, mc, count=True)
    return text


def fig_flow(results, out_dir: Path, lang: str) -> Path | None:
    """CONSORT-style flow: per condition enrolled → responded at each wave → completers."""
    counts = flow_counts(results)
    if not counts:
        return None
    mc = min_cell(results)
    labels = outcome_labels(results, lang)
    stages = ["enrolled"] + [f"responded_{w}" for w in WAVES]
    present = [s for s in stages if any(s in counts.get(c, {}) for c in CONDITIONS)]
    others = []
    for c in CONDITIONS:
        for s in counts.get(c, {}):
            if s not in stages and s not in others:
                others.append(s)
    completers = [s for s in others if s.startswith("completers_")]
    completers = [f"completers_{o}" for o in outcome_order(results, [s[len("completers_"):] for s in completers])]
    rows = present + [s for s in others if not s.startswith("completers_")]
    # Geometry in inches, so that text and boxes keep their size whatever the number of rows.
    box_h, gap, line = 0.46, 0.24, 0.145
    comp_h = 0.18 + line * (len(completers) + 1) if completers else 0.0
    title_h = 0.35
    height = title_h + len(rows) * (box_h + gap) + (comp_h if completers else -gap) + 0.05
    width, box_w = 7.0, 3.0
    xs = {"mentee": 1.85, "control": 5.15}
    enrolled = {c: counts.get(c, {}).get("enrolled", math.nan) for c in CONDITIONS}
    # the staff view says what may be printed as missing (a difference of two printed
    # counts could give a hidden count back); researchers' results compute it
    missing = (getattr(results, "meta", None) or {}).get("flow_missing")
    with plt.rc_context(RC):
        fig = plt.figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, width)
        ax.set_ylim(-height, 0)
        ax.axis("off")
        for cond in CONDITIONS:
            ax.text(xs[cond], -title_h / 2, txt.CONDITION_LABELS[lang][cond], ha="center", va="center",
                    fontsize=10, fontweight="bold", color=COLORS[cond])
        y = -title_h
        for i, s in enumerate(rows):
            for cond in CONDITIONS:
                n = counts.get(cond, {}).get(s, math.nan)
                body = f"{txt.stage_label(s, lang, labels)}\nn = {_count(n, mc)}"
                miss = missing.get(cond, {}).get(s) if missing is not None else (
                    enrolled[cond] - n if s.startswith("responded_") else None)
                if fmt.is_suppressed(miss) or (fmt.is_number(miss) and miss > 0):
                    body += tr(lang, "  (ontbrak: ", "  (missing: ") + _count(miss, mc) + ")"
                _box(ax, xs[cond], y, box_w, box_h, body, COLORS[cond])
                if i < len(rows) - 1 or completers:
                    ax.annotate("", xy=(xs[cond], y - box_h - gap), xytext=(xs[cond], y - box_h),
                                arrowprops=dict(arrowstyle="-|>", color="#777777", lw=0.9, shrinkA=0, shrinkB=0))
            y -= box_h + gap
        if completers:
            for cond in CONDITIONS:
                lines = [tr(lang, "Alle drie metingen (per uitkomst):", "All three waves (per outcome):")]
                for s in completers:
                    key = s[len("completers_"):]
                    n = counts.get(cond, {}).get(s, math.nan)
                    lines.append(f"{labels.get(key, key)}: {_count(n, mc)}")
                _box(ax, xs[cond], y, box_w, comp_h, "\n".join(lines), COLORS[cond], fontsize=7)
        return _save(fig, out_dir, "flow", lang)


def _box(ax, xc, ytop, w, h, text, color, fontsize=8):
    """A rounded box whose top edge is at ``ytop``, centred on ``xc``."""
    ax.add_patch(FancyBboxPatch((xc - w / 2, ytop - h), w, h, boxstyle="round,pad=0,rounding_size=0.06",
                                fc="white", ec=color, lw=1.2))
    ax.text(xc, ytop - h / 2, text, ha="center", va="center", fontsize=fontsize, linespacing=1.35)


def _moderation_keys(results, alpha: float) -> list[tuple[str, str, str, float]]:
    """(outcome, change, moderator, p) with p < alpha: those that survive the BH correction or
    were prespecified first, then the others, each by p."""
    m = get_table(results, "moderation")
    if m is None or not {"outcome", "change", "moderator", "p"} <= set(m.columns):
        return []
    m = m.assign(p=pd.to_numeric(m["p"], errors="coerce"),
                 _bh=pd.to_numeric(m["p_bh"], errors="coerce") < alpha if "p_bh" in m.columns else False,
                 _pre=m["prespecified"].fillna(False).astype(bool) if "prespecified" in m.columns else False)
    best = m.groupby(["outcome", "change", "moderator"], sort=False).agg(
        p=("p", "min"), bh=("_bh", "any"), pre=("_pre", "any")).reset_index()
    best = best[best["p"] < alpha]
    best = best.assign(first=~(best["bh"] | best["pre"])).sort_values(["first", "p"], kind="stable")
    return [(str(o), str(c), str(w), float(p)) for o, c, w, p in
            best[["outcome", "change", "moderator", "p"]].itertuples(index=False)]


def _select(df, outcome, change, moderator):
    if df is None or not {"outcome", "change", "moderator"} <= set(df.columns):
        return None
    s = df[(df["outcome"].astype(str) == outcome) & (df["change"].astype(str) == change)
           & (df["moderator"].astype(str) == moderator)]
    return s if not s.empty else None


def moderator_type(results, outcome: str, change: str, moderator: str) -> str:
    """``'continuous'``, ``'dichotomous'`` or ``'categorical'``: the ``moderator_type`` of the
    moderation table; without it, a moderator whose conditional effects have no W value
    (``w`` NaN: level codes) is categorical and any other continuous."""
    m = _select(get_table(results, "moderation"), outcome, change, moderator)
    if m is not None and "moderator_type" in m.columns:
        kinds = m["moderator_type"].dropna().astype(str)
        if len(kinds):
            return kinds.iloc[0]
    ce = _select(get_table(results, "conditional_effects"), outcome, change, moderator)
    if ce is not None and "w" in ce.columns and pd.to_numeric(ce["w"], errors="coerce").isna().all():
        return "categorical"
    return "continuous"


def moderation_is_continuous(results, outcome: str, change: str, moderator: str) -> bool:
    return moderator_type(results, outcome, change, moderator) == "continuous"


def _significant_spans(w_lo, w_hi, jn_points, probes) -> list[tuple[float, float]]:
    """Intervals of W (between Johnson–Neyman points) where the conditional effect is significant.

    Each interval between consecutive JN points (and the ends of the observed range) is
    significant when a probe inside it has a CI that excludes 0; the significance of an
    interval without a probe is unknown and it is left unshaded.
    """
    cuts = sorted(v for v in jn_points if w_lo < v < w_hi)
    edges = [w_lo] + cuts + [w_hi]
    spans = []
    for a, b in zip(edges[:-1], edges[1:]):
        inside = [(lo, hi) for w, lo, hi in probes if a <= w <= b and np.isfinite(lo) and np.isfinite(hi)]
        if inside and all(lo > 0 or hi < 0 for lo, hi in inside):
            spans.append((a, b))
    return spans


def fig_moderation(results, out_dir: Path, lang: str, outcome: str, change: str, moderator: str) -> Path | None:
    """Conditional effect of W on mentees' change with its CI.

    Continuous W: the predicted change against W with its 95% CI band (from ``jn_table``
    when present, else the M−1SD/M/M+1SD probes of ``conditional_effects``) and the
    Johnson–Neyman region of significance shaded. Categorical or dichotomous W (see
    :func:`moderator_type`): one point and CI per level (levels with ``n_level`` below
    ``min_cell`` are not drawn).
    """
    mc = min_cell(results)
    labels = outcome_labels(results, lang)
    ce = _select(get_table(results, "conditional_effects"), outcome, change, moderator)
    jt = _select(get_table(results, "jn_table"), outcome, change, moderator)
    jn = _select(get_table(results, "johnson_neyman"), outcome, change, moderator)
    if ce is None and jt is None:
        return None
    ylab = tr(lang, f"Verandering {txt.period(change)} bij mentees", f"Change {txt.period(change)} among mentees")
    title = f"{labels.get(outcome, outcome)} × {txt.moderator_label(moderator, lang)}"
    green = "#009E73"
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(4.8, 3.1))
        ax.axhline(0, color="black", lw=0.8)
        if moderator_type(results, outcome, change, moderator) != "continuous":
            if ce is not None and "n_level" in ce.columns:
                ce = ce[~ce["n_level"].map(lambda v: fmt.is_small(v, mc))]
            if ce is None or ce.empty:
                plt.close(fig)
                return None
            x = np.arange(len(ce))
            y = pd.to_numeric(ce["effect"], errors="coerce").to_numpy(dtype=float)
            lo = pd.to_numeric(ce["ci_low"], errors="coerce").to_numpy(dtype=float)
            hi = pd.to_numeric(ce["ci_high"], errors="coerce").to_numpy(dtype=float)
            err = np.vstack([y - lo, hi - y])
            ax.errorbar(x, y, yerr=np.where(np.isfinite(err), err, 0), fmt="o", color=COLORS["mentee"],
                        capsize=3, ms=6)
            ax.set_xticks(x, [txt.level_label(v, lang) for v in ce["probe"].astype(str)])
            ax.set_xlim(-0.6, len(ce) - 0.4)
        else:
            src = jt if jt is not None else ce
            src = src.assign(w=pd.to_numeric(src["w"], errors="coerce")).dropna(subset=["w"]).sort_values("w")
            w = src["w"].to_numpy(dtype=float)
            y = pd.to_numeric(src["effect"], errors="coerce").to_numpy(dtype=float)
            lo = pd.to_numeric(src["ci_low"], errors="coerce").to_numpy(dtype=float)
            hi = pd.to_numeric(src["ci_high"], errors="coerce").to_numpy(dtype=float)
            jn_points = list(pd.to_numeric(jn["w"], errors="coerce").dropna()) if jn is not None and "w" in jn else []
            if jt is not None:
                # A fine grid: shade where the CI excludes 0, split at sign changes.
                sig = (lo > 0) | (hi < 0)
                spans, start = [], None
                for i, flag in enumerate(sig):
                    if flag and start is None:
                        start = i
                    if (not flag or i == len(sig) - 1) and start is not None:
                        end = i if flag else i - 1
                        spans.append((w[start], w[end]))
                        start = None
            else:
                spans = _significant_spans(float(np.nanmin(w)), float(np.nanmax(w)), jn_points, list(zip(w, lo, hi)))
            for k, (a, b) in enumerate(spans):
                ax.axvspan(a, b, color=green, alpha=0.12, lw=0,
                           label=tr(lang, "Significant (Johnson–Neyman)", "Significant (Johnson–Neyman)")
                           if k == 0 else None)
            ax.fill_between(w, lo, hi, color=COLORS["mentee"], alpha=0.2, lw=0, label=tr(lang, "95%-BI", "95% CI"))
            ax.plot(w, y, color=COLORS["mentee"], lw=1.8, label=tr(lang, "Voorspelde verandering", "Predicted change"))
            if jt is None:
                ax.plot(w, y, "o", color=COLORS["mentee"], ms=4)
            for v in jn_points:
                if np.nanmin(w) <= v <= np.nanmax(w):
                    ax.axvline(v, color=green, ls="--", lw=1)
                    ax.annotate(f"JN = {fmt.num(v, 2, lang)}", (v, 1), xycoords=("data", "axes fraction"),
                                ha="left", va="top", fontsize=7, color="#00664a", xytext=(2, -2),
                                textcoords="offset points")
            ax.legend(frameon=False, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
        ax.set_xlabel(_wrap(txt.upper_first(txt.moderator_label(moderator, lang)), 60))
        ax.set_ylabel(_wrap(ylab, 34))
        ax.set_title(_wrap(title, 55))
        ax.grid(axis="y", color="#eeeeee", lw=0.6)
        fig.tight_layout()
        return _save(fig, out_dir, _safe_name("moderation", outcome, change, moderator), lang)


def qsort_table(results) -> pd.DataFrame | None:
    q = get_table(results, "qsort_summary")
    if q is None or not {"card", "n", "mean_rank"} <= set(q.columns):
        return None
    return q


def fig_qsort(results, out_dir: Path, lang: str) -> Path | None:
    q = qsort_table(results)
    if q is None:
        return None
    mc = min_cell(results)
    n = q["n"].map(fmt.as_count).max()
    if fmt.is_small(n, mc) or not np.isfinite(n) or n <= 0:
        return None
    if any(fmt.is_suppressed(v) for c in q.columns if re.fullmatch(r"rank_\d+", str(c)) for v in q[c]):
        return None     # bars of hidden counts would be drawn as zeros
    labels = outcome_labels(results, lang)
    q = q.assign(mean_rank=pd.to_numeric(q["mean_rank"], errors="coerce")).sort_values("mean_rank", kind="stable")
    rank_cols = sorted([c for c in q.columns if re.fullmatch(r"rank_\d+", str(c))], key=lambda c: int(c[5:]))
    k = len(rank_cols)
    with plt.rc_context(RC):
        fig, ax = plt.subplots(figsize=(6.6, 0.55 * len(q) + 1.2))
        cmap = plt.get_cmap("Blues")
        shades = [cmap(0.85 - 0.6 * i / max(k - 1, 1)) for i in range(k)]
        y = np.arange(len(q))
        left = np.zeros(len(q))
        for i, c in enumerate(rank_cols):
            share = pd.to_numeric(q[c], errors="coerce").fillna(0).to_numpy(dtype=float) / \
                pd.to_numeric(q["n"], errors="coerce").to_numpy(dtype=float)
            lab = (tr(lang, f"Rang {i + 1}", f"Rank {i + 1}")
                   + (tr(lang, " (hielp het meest)", " (helped most)") if i == 0 else "")
                   + (tr(lang, " (hielp het minst)", " (helped least)") if i == k - 1 else ""))
            ax.barh(y, share * 100, left=left, color=shades[i], edgecolor="white", height=0.6, label=lab)
            left += share * 100
        for yi, mr in zip(y, q["mean_rank"]):
            ax.text(101.5, yi, tr(lang, "gem. rang ", "mean rank ") + fmt.num(mr, 2, lang),
                    va="center", fontsize=8)
        ax.set_yticks(y, [_wrap(txt.card_label(c, lang, labels), 26) for c in q["card"].astype(str)])
        ax.set_ylim(len(q) - 0.5, -0.5)
        ax.set_xlim(0, 100)
        ax.set_xlabel(tr(lang, f"Percentage van de mentees (n = {int(n)})", f"Percentage of mentees (n = {int(n)})"))
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=min(k, 4), frameon=False)
        ax.spines["left"].set_visible(False)
        fig.tight_layout()
        return _save(fig, out_dir, "qsort", lang)


def moderation_figure_keys(results, max_figures: int = 8) -> list[tuple[str, str, str, float]]:
    """The moderations that get a figure: p < alpha; BH-significant or prespecified ones first, then by p;
    at most ``max_figures``."""
    return _moderation_keys(results, alpha_of(results))[:max_figures]


class Figures(dict):
    """``{name: svg_path}`` of the figures drawn, and in ``moderation`` the
    ``(outcome, change, moderator)`` of each moderation figure by its name, in the order of
    :func:`moderation_figure_keys`."""

    def __init__(self):
        super().__init__()
        self.moderation: dict[str, tuple[str, str, str]] = {}


def make_figures(results, out_dir, lang: str = "nl", max_moderation_figures: int = 8) -> Figures:
    """Draw every figure the tables allow into ``out_dir``; return ``{name: svg_path}`` (a
    :class:`Figures`, which also says which moderation each moderation figure shows).

    Names: ``trajectories``, ``forest``, ``robustness``, ``love_plot``, ``overlap``,
    ``flow``, ``qsort`` and ``moderation_<outcome>_<change>_<moderator>``; each also as
    ``<name>.png``.
    """
    from .figures_comparability import fig_love, fig_overlap   # it builds on this module

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figs = Figures()
    for name, fn in (("flow", fig_flow), ("trajectories", fig_trajectories), ("forest", fig_forest),
                     ("robustness", fig_robustness), ("love_plot", fig_love), ("overlap", fig_overlap),
                     ("qsort", fig_qsort)):
        path = fn(results, out, lang)
        if path is not None:
            figs[name] = path
    for o, c, w, _p in moderation_figure_keys(results, max_moderation_figures):
        path = fig_moderation(results, out, lang, o, c, w)
        if path is not None:
            figs[path.stem] = path
            figs.moderation[path.stem] = (o, c, w)
    return figs
