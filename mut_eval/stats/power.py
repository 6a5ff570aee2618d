"""Planning the next cohort: minimum detectable effect size, power and the number of
classes needed (issue 14 item 5; ``mut-eval plan``).

All effect sizes are standardised mean differences in units of the outcome's total SD
before the programme — the unit of mut_eval's ``g`` (the pooled within-condition SD at
T1). For a design with standardised standard error SE (the SE of the impact estimate
divided by that SD) and degrees of freedom df, PowerUp! (Dong & Maynard 2013, *J. Res.
Educ. Eff.* 6:24, eq. 1–2; Bloom 1995, 2006; Bloom, Richburg-Hayes & Black 2007,
*Educ. Eval. Policy Anal.* 29:30) gives::

    MDES  = M_df · SE,     M_df = t_{1−α/2, df} + t_{power, df}       (two-sided;
                                                     one-sided: t_{1−α, df} + t_{power, df})
    power = 1 − T_df(t_crit | λ) + T_df(−t_crit | λ),   λ = effect / SE  (noncentral t)

The MDES uses the multiplier M (an approximation: it treats the t statistic under the
alternative as a shifted central t); power uses the exact noncentral t, as
``PowerUpR``'s ``power.*`` functions do. The two therefore differ slightly: the exact
power at the MDES planned for 80% is 79.9–80.0% for df ≥ 10, but 79.1% at df = 4 and
78.4% at df = 3 (the multiplier is a little optimistic with very few classes). The
number of classes is the root of MDES(J) = target (continuous J, df continuous, Brent's
method), rounded **up** to whole classes (a shortfall below 0.001 class is not counted); ``PowerUpR``'s ``mrss.*`` find the same root by
fixed-point iteration and round it to the nearest integer (``classes_exact`` is the root).

Designs (P = share of pupils/classes treated, Q = 1 − P; n pupils per class after
attrition, n = class_size·(1 − attrition); R² the share of variance explained by
covariates, usually the pretest):

``pupil`` — individual random assignment (PowerUp IRA, ``PowerUpR::mdes.ira``):
    N = J·n pupils in J classes, clustering ignored;
    SE² = (1 − R²₁) / (P·Q·N),   df = N − g − 2.

``class`` — two-level cluster random assignment, classes assigned (CRA2_2r,
``mdes.cra2``), J classes in all, ρ the class ICC (mut_eval's ``icc_class``: the
correlation of two pupils of one class, school variance included)::

    SE² = ρ(1 − R²₂)/(P·Q·J) + (1 − ρ)(1 − R²₁)/(P·Q·J·n),   df = J − g₂ − 2.

``school`` — classes assigned within schools, schools as **fixed** blocks (BCRA3_2f,
``mdes.bcra3f2``), K schools with J classes each. Fixed blocks were chosen over
BCRA3_2r because a mentoring programme's schools are its partner schools, not a sample
from a population of schools, and with the handful of schools of a programme the random
design's df = K − 1 would make every plan hopeless; the price is that the conclusion is
about these schools. PowerUp's ρ₂ of this design is the class share of the
*within-school* variance; in units of the total SD (school variance ρ₃ included, as
mut_eval's ``g``) the same formula reads, with ρ₂ = icc_class − icc_school the class-only
share of the total variance::

    SE² = ρ₂(1 − R²₂)/(P·Q·J·K) + (1 − ρ₃ − ρ₂)(1 − R²₁)/(P·Q·J·K·n),   df = K(J − 2) − g₂,

i.e. (1 − ρ₃) × PowerUp's BCRA3_2f SE² with ρ₂' = ρ₂/(1 − ρ₃) (and equal to BCRA3_2r's
SE² with no variation of the effect over schools, ω₃ = 0).

``partial`` — partially nested individual random assignment (``PowerUpR::mdes.ira_pn``;
Lohr, Schochet & Sanders 2014, *Partially nested randomized controlled trials in
education research*, NCER 2014-2000, ch. 3): pupils assigned individually; the mentees
meet in mentor groups of m pupils (``class_size``), J_T groups (``classes``); the control
pupils are not grouped, n_C = J_T·m·Q/P. ρ is the share of the treated arm's variance
between mentor groups; the effect is in units of the control arm's SD (the SD without
the groups, as mut_eval's T1 SD). With N = n_T + n_C::

    SE² = (1 − R²₁)/(P·Q·N) · (1 − Pρ)/(1 − ρ) · [1 + ρ·Q·(m − 1)/(1 − Pρ)]
        = (1 − R²₁) · [(1 + (m − 1)ρ)/((1 − ρ)·n_T) + 1/n_C],

    df (Satterthwaite 1946) = (v_T + v_C)² / (v_T²/(J_T − 1) + v_C²/(n_C − 1)) − g,
         v_T = (1/m + ρ/(1 − ρ))/J_T,  v_C = 1/n_C   (equal within-group variances).

Moerbeek & Wong (2008, *Stat. Med.* 27:2850) and Roberts & Roberts (2005, *Clin.
Trials* 2:152) write the variance as σ²[(1 + (m − 1)ρ)/n_T + 1/n_C] with σ² the common
*total* variance of both arms; Lohr et al. assume instead that the mentor groups add
variance to the treated arm only, which makes the effect's unit the control (pre-
programme) SD — the unit of mut_eval's ``g`` — and gives the factor 1/(1 − ρ).

Known optimism (``validation/RESULTS_power.md``): with a class-level covariate the
formulas treat its slope as known; estimated from J class means the variance of the
impact is larger by (J − 3)/(J − 4) on average, so a plan with the pretest and J ≈ 16
classes has about 77% power instead of 80% (79% at J = 40). PowerUp! shares this; the
formulas are kept as published so that plans agree with it.

Covariates: g (``covariates``) defaults to 1 when the R² of the level whose df counts is
positive (the pretest) and 0 otherwise. Attrition multiplies every pupil count
(class size, mentor group size, control pupils) by (1 − attrition); classes and schools
are not lost.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .. import StudyError

__all__ = ["DESIGNS", "PLAN_COLUMNS", "Design", "standard_error", "multiplier", "mdes", "power",
           "required_classes", "plan"]

DESIGNS = ("pupil", "class", "school", "partial")
PLAN_COLUMNS = ["design", "mdes", "power", "classes", "class_size", "schools", "df", "multiplier",
                "icc", "r2", "r2_cluster", "icc_school", "share_treated", "attrition", "alpha",
                "pupils", "classes_exact", "se", "solved"]
#: Largest number of classes (per school, or mentor groups) the solver will consider.
MAX_CLASSES = 1_000_000


@dataclass(frozen=True)
class Design:
    """The fixed parameters of a design; ``classes`` (J) is what :func:`required_classes`
    solves for. ``icc`` is the class ICC (``class``, ``school``) or the mentor-group ICC
    (``partial``); ``icc_school`` is used by ``school`` only; ``schools`` (K) by ``school``
    only. ``class_size`` is the planned number of pupils per class (mentor group for
    ``partial``) before attrition."""

    design: str
    class_size: float
    schools: int | None = None
    icc: float = 0.0
    icc_school: float = 0.0
    r2: float = 0.0
    r2_cluster: float = 0.0
    share_treated: float = 0.5
    attrition: float = 0.0
    covariates: int | None = None

    def __post_init__(self):
        _check(self)

    @property
    def n_covariates(self) -> int:
        if self.covariates is not None:
            return int(self.covariates)
        r2 = self.r2_cluster if self.design in ("class", "school") else self.r2
        return 1 if r2 > 0 else 0


def _check(d: Design) -> None:
    """Every parameter a user gives is checked here, with the option's name in the message."""
    def bad(opt, value, rule):
        raise StudyError(f"plan: --{opt} = {value!r}: {rule}")
    if d.design not in DESIGNS:
        bad("design", d.design, f"must be one of {', '.join(DESIGNS)}")
    for opt, v in (("icc", d.icc), ("icc-school", d.icc_school), ("r2", d.r2),
                   ("r2-cluster", d.r2_cluster), ("attrition", d.attrition)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v < 1):
            bad(opt, v, "must be a number from 0 up to (not including) 1")
    if not (0 < d.share_treated < 1):
        bad("share-treated", d.share_treated, "must lie strictly between 0 and 1")
    if not (math.isfinite(d.class_size) and d.class_size >= 1):
        bad("class-size", d.class_size, "must be at least 1 pupil")
    if d.design == "school":
        if d.schools is None or d.schools < 1 or int(d.schools) != d.schools:
            bad("schools", d.schools, "the school design needs a whole number of schools ≥ 1")
        if d.icc_school > d.icc:
            bad("icc-school", d.icc_school, f"cannot exceed --icc = {d.icc} (icc is the correlation "
                "of two pupils of one class, the school variance included)")
    if d.design in ("class", "school") and d.class_size * (1 - d.attrition) < 1:
        bad("attrition", d.attrition, "leaves less than one pupil per class")
    if d.covariates is not None and (d.covariates < 0 or int(d.covariates) != d.covariates):
        bad("covariates", d.covariates, "must be a whole number ≥ 0")


def standard_error(d: Design, classes: float) -> tuple[float, float]:
    """(SE, df) of the standardised impact estimate with ``classes`` J (per school for
    ``school``; treated mentor groups for ``partial``); the formulas in the module
    docstring."""
    J = float(classes)
    P = d.share_treated
    Q = 1 - P
    n = d.class_size * (1 - d.attrition)
    g = d.n_covariates
    if d.design == "pupil":
        N = J * n
        return math.sqrt((1 - d.r2) / (P * Q * N)), N - g - 2
    if d.design == "class":
        rho = d.icc
        var = rho * (1 - d.r2_cluster) / (P * Q * J) + (1 - rho) * (1 - d.r2) / (P * Q * J * n)
        return math.sqrt(var), J - g - 2
    if d.design == "school":
        K = d.schools
        rho2 = d.icc - d.icc_school
        var = (rho2 * (1 - d.r2_cluster) / (P * Q * J * K)
               + (1 - d.icc_school - rho2) * (1 - d.r2) / (P * Q * J * K * n))
        return math.sqrt(var), K * (J - 2) - g
    # partial: J treated mentor groups of n (after attrition) pupils, n_C control pupils
    rho = d.icc
    n_t = J * n
    n_c = n_t * Q / P
    var = (1 - d.r2) * ((1 + (n - 1) * rho) / ((1 - rho) * n_t) + 1 / n_c)
    v_t = (1 / n + rho / (1 - rho)) / J
    v_c = 1 / n_c
    df = (v_t + v_c) ** 2 / (v_t ** 2 / (J - 1) + v_c ** 2 / (n_c - 1)) if J > 1 and n_c > 1 else 0.0
    return math.sqrt(var), df - g


def _t_crit(alpha: float, df: float, two_tailed: bool) -> float:
    return float(stats.t.ppf(1 - alpha / 2 if two_tailed else 1 - alpha, df))


def multiplier(df: float, alpha: float = 0.05, power: float = 0.80, two_tailed: bool = True) -> float:
    """M_df = t_{1−α/2,df} + t_{power,df} (Bloom 2006, eq. 2; one-sided: t_{1−α,df}).
    Example: df = 18, α = .05, power = .80 gives 2.101 + 0.862 = 2.963."""
    return _t_crit(alpha, df, two_tailed) + float(stats.t.ppf(power, df))


def _power_at(effect: float, se: float, df: float, alpha: float, two_tailed: bool) -> float:
    tc = _t_crit(alpha, df, two_tailed)
    lam = effect / se
    if two_tailed:
        return float(stats.nct.sf(tc, df, lam) + stats.nct.cdf(-tc, df, lam))
    return float(stats.nct.sf(tc, df, lam))


def _feasible(d: Design, classes: float) -> tuple[float, float]:
    se, df = standard_error(d, classes)
    if not df >= 1:
        what = {"school": "classes per school", "partial": "mentor groups"}.get(d.design, "classes")
        raise StudyError(f"plan: {classes:g} {what} leave {df:.2f} degrees of freedom (at least 1 "
                         f"needed): give more {what}, fewer covariates or a larger class size")
    return se, df


def _check_alpha_power(alpha, power=None, mdes_=None):
    if not (0 < alpha < 1):
        raise StudyError(f"plan: --alpha = {alpha!r}: must lie strictly between 0 and 1")
    if power is not None and not (0 < power < 1):
        raise StudyError(f"plan: --power = {power!r}: must lie strictly between 0 and 1")
    if mdes_ is not None and not (math.isfinite(mdes_) and mdes_ > 0):
        raise StudyError(f"plan: --mdes = {mdes_!r}: must be a positive effect size")


def mdes(d: Design, classes: float, power: float = 0.80, alpha: float = 0.05,
         two_tailed: bool = True) -> float:
    """MDES = M_df · SE (Dong & Maynard 2013, eq. 1). Example (``PowerUpR::mdes.cra2``
    documentation): class design, ρ = .17, n = 15, J = 20 → 0.629."""
    _check_alpha_power(alpha, power)
    se, df = _feasible(d, classes)
    return multiplier(df, alpha, power, two_tailed) * se


def power(d: Design, classes: float, effect: float, alpha: float = 0.05, two_tailed: bool = True) -> float:
    """Power to detect ``effect`` (noncentral t, λ = effect / SE); PowerUpR's ``power.*``."""
    _check_alpha_power(alpha, None, effect)
    se, df = _feasible(d, classes)
    return _power_at(effect, se, df, alpha, two_tailed)


def _min_classes(d: Design) -> float:
    """The smallest J with df ≥ 1 (found numerically: df grows with J in every design)."""
    lo, hi = 1.0, 4.0
    while standard_error(d, hi)[1] < 1:
        lo, hi = hi, hi * 2
        if hi > MAX_CLASSES:
            raise StudyError("plan: no number of classes gives a positive df")
    if standard_error(d, lo)[1] >= 1:
        return lo
    return optimize.brentq(lambda j: standard_error(d, j)[1] - 1, lo, hi, xtol=1e-9) + 1e-9


def required_classes(d: Design, effect: float, power: float = 0.80, alpha: float = 0.05,
                     two_tailed: bool = True) -> float:
    """The (continuous) J at which MDES(J) = ``effect``: classes for ``pupil``/``class``,
    classes per school for ``school``, treated mentor groups for ``partial``. Round it
    up for a plan; ``PowerUpR::mrss.*`` round it to the nearest integer."""
    _check_alpha_power(alpha, power, effect)
    lo = _min_classes(d)

    def gap(j):
        se, df = standard_error(d, j)
        return multiplier(df, alpha, power, two_tailed) * se - effect

    if gap(lo) <= 0:
        return lo
    hi = max(2 * lo, 4.0)
    while gap(hi) > 0:
        hi *= 2
        if hi > MAX_CLASSES:
            raise StudyError(f"plan: an effect of {effect:g} cannot be detected with fewer than "
                             f"{MAX_CLASSES:,} classes under these assumptions")
    return float(optimize.brentq(gap, lo, hi, xtol=1e-10, rtol=1e-12))


def plan(design: str, *, mdes: float | None = None, power: float | None = None,
         classes: float | None = None, class_size: float = 25, schools: int | None = None,
         icc: float = 0.0, icc_school: float = 0.0, r2: float = 0.0, r2_cluster: float = 0.0,
         share_treated: float = 0.5, attrition: float = 0.0, alpha: float = 0.05,
         covariates: int | None = None, two_tailed: bool = True) -> pd.DataFrame:
    """One planning row: give two of ``mdes``, ``power``, ``classes``; the third is solved.

    ``classes`` is J (classes in all for ``pupil``/``class``, per school for ``school``,
    treated mentor groups for ``partial``); when it is solved it is rounded up to whole
    classes (so the MDES there is at most ``mdes``) and ``power`` stays the requested one. Columns: :data:`PLAN_COLUMNS` — ``pupils`` is the
    planned number of pupils before attrition (both arms), ``classes_exact`` the root
    before rounding, ``se`` the standardised SE, ``solved`` which quantity was solved.
    Example: ``plan("class", mdes=.629, power=.8, class_size=15, icc=.17)`` gives
    classes = 20 (``PowerUpR::mrss.cra2`` documentation).
    """
    given = [x is not None for x in (mdes, power, classes)]
    if sum(given) != 2:
        raise StudyError("plan: give exactly two of --mdes, --power and --classes; the third is "
                         f"solved for (given: {', '.join(n for n, g in zip(('mdes', 'power', 'classes'), given) if g) or 'none'})")
    d = Design(design, float(class_size), schools, float(icc), float(icc_school), float(r2),
               float(r2_cluster), float(share_treated), float(attrition), covariates)
    if classes is not None and not (math.isfinite(classes) and classes > 0):
        raise StudyError(f"plan: --classes = {classes!r}: must be a positive number")
    if mdes is None:
        solved, exact = "mdes", float(classes)
        mdes = globals()["mdes"](d, classes, power, alpha, two_tailed)
    elif power is None:
        solved, exact = "power", float(classes)
        power = globals()["power"](d, classes, mdes, alpha, two_tailed)
    else:
        solved = "classes"
        exact = required_classes(d, mdes, power, alpha, two_tailed)
        # a shortfall below a thousandth of a class (an MDES difference of ~1e-5) is the
        # rounding of the requested MDES, not a reason for one more class
        classes = max(math.ceil(exact - 1e-3), math.ceil(_min_classes(d)))
    se, df = standard_error(d, classes)
    row = {
        "design": design, "mdes": float(mdes), "power": float(power), "classes": classes,
        "class_size": class_size, "schools": schools if design == "school" else np.nan,
        "df": df, "multiplier": multiplier(df, alpha, power, two_tailed),
        "icc": icc, "r2": r2, "r2_cluster": r2_cluster,
        "icc_school": icc_school if design == "school" else np.nan,
        "share_treated": share_treated, "attrition": attrition, "alpha": alpha,
        "pupils": _pupils(d, classes), "classes_exact": exact, "se": se, "solved": solved,
    }
    return pd.DataFrame([row], columns=PLAN_COLUMNS)


def _pupils(d: Design, classes: float) -> float:
    """Planned pupils of both arms before attrition."""
    if d.design == "school":
        return classes * d.schools * d.class_size
    if d.design == "partial":
        return classes * d.class_size / d.share_treated
    return classes * d.class_size
