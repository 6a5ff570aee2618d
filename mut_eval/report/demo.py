"""A small hand-made :class:`~mut_eval.results.Results` for previewing the report.

The numbers are plausible, not computed: the completers' means and SDs are those of
Table 2 of the published MUT report, the other tables are invented to look like a real
cohort (one clear effect, one tentative one, the rest not shown). The tables and meta
have the shapes the pipeline writes (``mut-eval report``). Used by the tests and by
``python -m mut_eval.report.build OUT``. Always marked synthetic.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from .. import CHANGES
from ..intake.codebook import codebook_summary, load_codebook
from ..results import Results
from ..stats.effects import cluster_correction

OUTCOMES = ["self_efficacy", "intrinsic_motivation", "extrinsic_motivation", "school_belonging",
            "help_seeking_academic", "help_seeking_network"]

# Table 2 of the published report (completers), M and SD per wave.
TABLE2 = {
    "self_efficacy": ((3.66, .45, 3.87, .59, 3.69, .57), (3.76, .41, 4.18, .47, 3.58, .56)),
    "help_seeking_academic": ((4.18, .90, 4.04, .77, 3.90, 1.02), (4.16, .68, 3.88, .71, 3.74, .74)),
    "help_seeking_network": ((3.84, .55, 3.86, .46, 3.80, .53), (4.01, .34, 4.01, .59, 3.88, .53)),
    "intrinsic_motivation": ((3.89, .52, 3.95, .56, 3.84, .61), (3.80, .60, 3.98, .60, 3.71, .68)),
    "extrinsic_motivation": ((3.74, .53, 3.80, .60, 3.88, .41), (3.74, .55, 3.80, .64, 3.73, .63)),
    "school_belonging": ((3.61, .71, 3.59, .79, 3.51, .85), (3.72, .72, 3.77, .86, 3.50, .88)),
}


def demo_results(n_mentee: int = 124, n_control: int = 66) -> Results:
    rng = np.random.default_rng(20240501)
    waves = ("T1", "T2", "T3")
    responded = {"mentee": {"T1": n_mentee, "T2": n_mentee - 26, "T3": n_mentee - 6},
                 "control": {"T1": n_control - 3, "T2": n_control - 16, "T3": n_control - 6}}
    completers = {"mentee": n_mentee - 29, "control": n_control - 19}
    flow = []
    for c, n in (("mentee", n_mentee), ("control", n_control)):
        flow.append((c, "enrolled", n))
        flow += [(c, f"responded_{w}", responded[c][w]) for w in waves]
        flow += [(c, f"completers_{o}", completers[c] - i % 3) for i, o in enumerate(OUTCOMES)]
    flow = pd.DataFrame(flow, columns=["condition", "stage", "n"])

    sample = pd.DataFrame([
        ("age", None, n_mentee, 14.33, n_control, 14.13, 1.42, "t", 0.158, 0.20),
        ("gender", "girl", 56, 45.2, 32, 48.5, 0.18, "chi2", 0.672, -0.07),
        ("ses", "low", 24, 19.4, 7, 11.1, 5.21, "chi2", 0.074, 0.23),
        ("ses", "high", 71, 57.3, 46, 73.0, 5.21, "chi2", 0.074, -0.33),
        ("ses", "unknown", 29, 23.4, 10, 15.9, 5.21, "chi2", 0.074, 0.19),
        ("migration_background", "yes", 76, 61.3, 21, 31.7, 14.62, "chi2", 0.0001, 0.62),
        ("origin", "moroccan", 27, 21.8, 4, 6.3, 17.9, "fisher", 0.004, 0.46),
        ("origin", "turkish", 15, 12.1, 2, 3.2, 17.9, "fisher", 0.004, 0.33),
        ("origin", "surinamese", 8, 6.5, 2, 3.2, 17.9, "fisher", 0.004, 0.15),
        ("origin", "antillean", 0, 0.0, 1, 1.6, 17.9, "fisher", 0.004, -0.18),
        ("first_generation", "yes", 33, 26.6, 14, 22.2, 0.43, "chi2", 0.51, 0.10),
    ], columns=["characteristic", "level", "mentee_n", "mentee_value", "control_n", "control_value",
                "statistic", "test", "p", "std_diff"])

    n_items = {"self_efficacy": 9, "intrinsic_motivation": 4, "extrinsic_motivation": 4, "school_belonging": 18,
               "help_seeking_academic": 6, "help_seeking_network": 10, "relationship_quality": 8}
    rel = []
    for s, k in n_items.items():
        for w in (("T2",) if s == "relationship_quality" else waves):
            a = float(np.clip(0.62 + 0.03 * k ** 0.5 + rng.normal(0, 0.03), 0.55, 0.93))
            n = (responded["mentee"][w] - 5) if s == "relationship_quality" else \
                responded["mentee"][w] + responded["control"][w] - 6
            rel.append((s, w, n, k, a, a - 0.06, min(a + 0.04, 0.97), a + 0.02))
    reliability = pd.DataFrame(rel, columns=["scale", "wave", "n", "n_items", "alpha", "alpha_ci_low",
                                             "alpha_ci_high", "omega"])

    desc = []
    for o in OUTCOMES:
        for ci, c in enumerate(("mentee", "control")):
            v = TABLE2[o][ci]
            for wi, w in enumerate(waves):
                m, sd = v[2 * wi], v[2 * wi + 1]
                desc.append((o, "completers", c, w, completers[c], m, sd))
                desc.append((o, "available", c, w, responded[c][w] - 1, m + rng.normal(0, 0.02), sd + 0.02))
    desc.append(("relationship_quality", "available", "mentee", "T2", responded["mentee"]["T2"] - 2, 4.02, 0.61))
    descriptives = pd.DataFrame(desc, columns=["outcome", "sample", "condition", "wave", "n", "mean", "sd"])

    an = []
    inter = {"self_efficacy": (4.21, 0.016, 0.044), "intrinsic_motivation": (0.62, 0.54, 0.007),
             "extrinsic_motivation": (1.10, 0.33, 0.012), "school_belonging": (0.95, 0.39, 0.010),
             "help_seeking_academic": (0.41, 0.66, 0.005), "help_seeking_network": (0.33, 0.72, 0.004)}
    df2 = 2 * (completers["mentee"] + completers["control"] - 2)
    for o in OUTCOMES:
        F, p, np2 = inter[o]
        an.append((o, "condition", 1.2, 1, df2 / 2, 2.05, 0.154, None, None, None, None, 0.013, 0.008, None, None))
        an.append((o, "wave", 3.1, 2, df2, 9.8, 0.0001, 0.93, 0.95, 0.0002, 0.0001, 0.069, 0.02, 0.925, 0.012))
        an.append((o, "condition:wave", 1.4, 2, df2, F, p, 0.93, 0.95, p * 1.08, p * 1.05, np2, np2 / 3,
                   0.925, 0.012))
    mixed_anova = pd.DataFrame(an, columns=["outcome", "source", "ss", "df1", "df2", "F", "p_unc", "eps_gg",
                                            "eps_hf", "p_gg", "p_hf", "np2", "ng2", "mauchly_w", "mauchly_p"])

    emm = []
    for o in OUTCOMES:
        for ci, c in enumerate(("mentee", "control")):
            v = TABLE2[o][ci]
            for wi, w in enumerate(waves):
                m, se = v[2 * wi], v[2 * wi + 1] / np.sqrt(responded[c][w])
                emm.append((o, c, w, m, se, m - 1.97 * se, m + 1.97 * se))
    lmm_emm = pd.DataFrame(emm, columns=["outcome", "condition", "wave", "emm", "se", "ci_low", "ci_high"])

    did = []
    special = {("self_efficacy", "T3-T2"): (0.42, 0.11, 0.0002, 0.004),
               ("self_efficacy", "T2-T1"): (-0.21, 0.085, 0.014, 0.21)}
    n_classes, n_schools, icc = 8, 5, 0.10
    n_students = n_mentee + n_control
    class_size = n_students / n_classes
    for o in OUTCOMES:
        (m1, _, m2, _, m3, _), (c1, _, c2, _, c3, _) = TABLE2[o]
        means = {"mentee": {"T1": m1, "T2": m2, "T3": m3}, "control": {"T1": c1, "T2": c2, "T3": c3}}
        for con in CHANGES:
            later, earlier = con.split("-")
            mc, cc = (means[c][later] - means[c][earlier] for c in ("mentee", "control"))
            est, se, p, ph = special.get((o, con), (mc - cc, 0.10, None, None))
            if p is None:
                p = float(2 * norm.sf(abs(est / se)))
                ph = min(1.0, p * 6)
            s = 0.56
            omega = 1 - 3 / (4 * n_students - 9)
            g = omega * est / s
            lo, hi = est - 1.96 * se, est + 1.96 * se
            cl = cluster_correction(est / se, n_students, class_size, icc)
            did.append((o, con, est, se, lo, hi, p, ph, min(1.0, p * 3), g, omega * lo / s, omega * hi / s,
                        100 * norm.cdf(g) - 50, est / se, mc, cc, s, n_students - 1, omega, n_students,
                        3 * n_students - 50, True, cl["t_corrected"], cl["df"], cl["p"], icc, class_size))
    did = pd.DataFrame(did, columns=["outcome", "contrast", "estimate", "se", "ci_low", "ci_high", "p", "p_holm",
                                     "p_bh", "g", "g_ci_low", "g_ci_high", "improvement_index", "z",
                                     "mentee_change", "control_change", "sd_pooled_t1", "n_t1", "omega",
                                     "n_students", "n_obs", "converged", "t_cluster", "df_cluster", "p_cluster",
                                     "icc", "mean_class_size"])

    be, at = [], []
    gb = {"self_efficacy": -0.22, "intrinsic_motivation": 0.16, "extrinsic_motivation": 0.01,
          "school_belonging": -0.16, "help_seeking_academic": 0.03, "help_seeking_network": -0.36}
    for o in OUTCOMES:
        for con in CHANGES:
            g = gb[o] + (0.02 if con == "T3-T1" else 0)
            wwc = "satisfies" if abs(g) <= 0.05 else "adjust" if abs(g) <= 0.25 else "fails"
            be.append((o, con, g, wwc))
            overall = 0.30 if con != "T3-T1" else 0.14
            diff = 0.05 if con != "T3-T1" else 0.03
            at.append((o, con, overall, diff, "high" if con != "T3-T1" else "low", "low"))
    baseline_equivalence = pd.DataFrame(be, columns=["outcome", "contrast", "g_baseline", "wwc"])
    attrition = pd.DataFrame(at, columns=["outcome", "contrast", "overall", "differential", "wwc_cautious",
                                          "wwc_optimistic"])

    # moderator: (level, reference) for a categorical one, None for a continuous one
    mods = {"age": None, "gender": ("girl", "boy"), "ses": ("low", "high"), "migration_background": ("yes", "no"),
            "first_generation": ("yes", "no"), "same_gender": ("yes", "no"),
            "same_migration_background": ("yes", "no"), "same_ses": ("yes", "no"), "relationship_quality": None,
            "sessions_attended": None}
    mrows = []
    for o in OUTCOMES:
        for ch in ("T3-T1",):
            for w, lv in mods.items():
                b = float(rng.normal(0, 0.12))
                se = 0.12
                p = float(min(1, 2 * (1 - _phi(abs(b / se)))))
                mrows.append([o, ch, w, "categorical" if lv else "continuous", f"{w}[{lv[0]}]" if lv else w,
                              lv[0] if lv else np.nan, lv[1] if lv else np.nan, n_mentee - 30, b, se, b / se, p,
                              b - 1.98 * se, b + 1.98 * se, b - 2.0 * se, b + 2.0 * se, 0.01, None,
                              w in ("age", "relationship_quality", "same_migration_background")])
    mod = pd.DataFrame(mrows, columns=["outcome", "change", "moderator", "moderator_type", "term", "level",
                                       "reference", "n", "b", "se", "t", "p", "ci_low", "ci_high", "boot_ci_low",
                                       "boot_ci_high", "r2", "p_bh", "prespecified"])
    set_row = {("school_belonging", "age"): (-0.284, 0.116, 0.016, -0.499, -0.039),
               ("extrinsic_motivation", "relationship_quality"): (0.722, 0.20, 0.0004, 0.33, 1.11),
               ("intrinsic_motivation", "gender"): (0.500, 0.21, 0.019, 0.08, 0.92)}
    for (o, w), (b, se, p, lo, hi) in set_row.items():
        i = mod.index[(mod["outcome"] == o) & (mod["moderator"] == w)][0]
        mod.loc[i, ["b", "se", "t", "p", "ci_low", "ci_high", "boot_ci_low", "boot_ci_high"]] = \
            [b, se, b / se, p, lo, hi, lo - 0.01, hi + 0.02]
    # Benjamini–Hochberg over all moderation tests.
    p = mod["p"].to_numpy(dtype=float)
    order = np.argsort(p)
    m = len(p)
    adj = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    p_bh = np.empty(m)
    p_bh[order] = np.minimum(adj, 1)
    mod["p_bh"] = p_bh

    ce = []
    for probe, w, eff in (("M-1SD", 13.82, -0.02), ("M", 14.33, -0.10), ("M+1SD", 14.84, -0.25)):
        ce.append(("school_belonging", "T3-T1", "age", probe, w, eff, 0.07, eff / 0.07,
                   float(2 * (1 - _phi(abs(eff / 0.07)))), eff - 0.14, eff + 0.14, eff - 0.15, eff + 0.15, np.nan,
                   False, True))
    # a categorical moderator's levels have no W value
    for probe, eff, n in (("girl", 0.21, 40), ("boy", -0.29, 52)):
        ce.append(("intrinsic_motivation", "T3-T1", "gender", probe, np.nan, eff, 0.1, eff / 0.1,
                   float(2 * (1 - _phi(abs(eff / 0.1)))), eff - 0.2, eff + 0.2, eff - 0.21, eff + 0.21, n,
                   False, False))
    conditional_effects = pd.DataFrame(ce, columns=["outcome", "change", "moderator", "probe", "w", "effect", "se",
                                                    "t", "p", "ci_low", "ci_high", "boot_ci_low", "boot_ci_high",
                                                    "n_level", "outside_range", "prespecified"])
    johnson_neyman = pd.DataFrame([("school_belonging", "T3-T1", "age", 14.52, 71.0, 29.0)],
                                  columns=["outcome", "change", "moderator", "w", "pct_below", "pct_above"])
    ws = np.linspace(1.5, 5.0, 22)
    eff = -0.35 + 0.2 * (ws - 1.5)
    se = 0.05 + 0.04 * np.abs(ws - 3.6)
    jn_table = pd.DataFrame({"outcome": "extrinsic_motivation", "change": "T3-T1", "moderator": "relationship_quality",
                             "w": ws, "effect": eff, "se": se, "t": eff / se,
                             "p": 2 * (1 - np.vectorize(_phi)(np.abs(eff / se))),
                             "ci_low": eff - 1.98 * se, "ci_high": eff + 1.98 * se})

    # The DiD per level of gender and per probe of age (both conditions); n_level: pupils in the level,
    # n_level_mentee / n_level_control: of whom mentees / controls.
    dbm = []
    for w, p_int, chi2, probes in (("gender", 0.031, 6.95, (("girl", np.nan, (88, 56, 32), 0.18),
                                                             ("boy", np.nan, (102, 68, 34), -0.06))),
                                   ("age", 0.044, 6.24, (("M-1SD", 13.37, (np.nan,) * 3, 0.16),
                                                        ("M", 14.26, (np.nan,) * 3, 0.05),
                                                        ("M+1SD", 15.15, (np.nan,) * 3, -0.06)))):
        for probe, wv, n_level, base in probes:
            for k, con in enumerate(CHANGES):
                est, se = base + 0.05 * k, 0.11
                z = est / se
                dbm.append(("self_efficacy", w, probe, wv, con, est, se, z, est - 1.96 * se, est + 1.96 * se,
                            float(2 * norm.sf(abs(z))), p_int, chi2, 2, n_students, 3 * n_students - 50, True,
                            *n_level))
    did_by_moderator = pd.DataFrame(dbm, columns=["outcome", "moderator", "probe", "w", "contrast", "estimate", "se",
                                                  "z", "ci_low", "ci_high", "p", "p_interaction", "chi2_interaction",
                                                  "df_interaction", "n_students", "n_obs", "converged", "n_level",
                                                  "n_level_mentee", "n_level_control"])

    # 13 interviewed mentees (Q-sort): motivation first or second for 12, belonging last for 11.
    qsort_summary = pd.DataFrame([
        ("self_efficacy", 13, 2.15, 0.80, 3, 5, 5, 0),
        ("motivation", 13, 1.54, 0.66, 7, 5, 1, 0),
        ("school_belonging", 13, 3.85, 0.38, 0, 0, 2, 11),
        ("help_seeking", 13, 2.46, 0.78, 3, 3, 5, 2),
    ], columns=["card", "n", "mean_rank", "sd_rank", "rank_1", "rank_2", "rank_3", "rank_4"])

    options = {"bootstrap": 5000, "seed": 20240501, "alpha": 0.05, "min_cell": 10, "probe": "moments", "icc": icc}
    meta = {
        "outcomes": list(OUTCOMES),
        "name": "Mentoring Urban Talent", "cohort": "2019–2020", "synthetic": True, "language": "nl",
        "seed": 20240501, "n_boot": 5000, "alpha": 0.05, "min_cell": 10,
        "n_mentee": n_mentee, "n_control": n_control,
        "clustering": {"icc": icc, "mean_class_size": class_size, "n_classes": n_classes, "n_schools": n_schools},
        "mut_eval_version": "0.1.0",
        "versions": {"mut_eval": "0.1.0", "python": "3.11", "numpy": np.__version__, "pandas": pd.__version__},
        "input_hashes": {"students.csv": "0" * 64, "wave_T1.csv": "1" * 64},
        "codebook_file": "instruments.yaml", "codebook": codebook_summary(load_codebook()),
        "config": {"name": "Mentoring Urban Talent", "cohort": "2019–2020", "synthetic": True, "language": "nl",
                   "randomised": False, "analysis": {"bootstrap": 5000, "seed": 20240501}},
        "options": options,
        "created": "2024-05-01T12:00:00+00:00",
    }
    tables = {"flow": flow, "sample": sample, "reliability": reliability, "descriptives": descriptives,
              "mixed_anova": mixed_anova, "lmm_emm": lmm_emm, "did": did,
              "baseline_equivalence": baseline_equivalence, "attrition": attrition, "moderation": mod,
              "conditional_effects": conditional_effects, "johnson_neyman": johnson_neyman, "jn_table": jn_table,
              "did_by_moderator": did_by_moderator, "qsort_summary": qsort_summary}
    return Results(tables=tables, meta=meta)


def _phi(z: float) -> float:
    from math import erf, sqrt
    return 0.5 * (1 + erf(z / sqrt(2)))
