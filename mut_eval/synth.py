"""Synthetic example cohorts calibrated to the published MUT evaluation.

The Mentoring Urban Talent pupils' answers cannot be shared, so the toolkit ships a
*synthetic* cohort with the same design (5 schools, mentee classes in all of them,
control classes in 3; three waves; attrition mostly at T2, the COVID school closure)
whose completer means and SDs reproduce Table 2 of the 2019-20 evaluation report
(``design/brief.md``) and whose demographics follow the report's sample description.
Nothing in it describes a real pupil or mentor, and every file says so: identifiers
start with ``SYN``, ``study.yaml`` has ``synthetic: true`` and the README explains
the generator.

Generative model (pupil *i* in condition *c*, outcome *o*, wave *t*, item *k*)::

    Z[i,o,t] = sqrt(.6) P[i,o] + sqrt(.4) W[i,o,t]                        pupil
             + S[school,o] + C[class,o] + CW[class,o,t]                    school, class
             + post[i,t] G[mentor,o]                                       mentor group
    y = mu[o,c,t] + d[o,k] + s[o,c,t] (rho_o Z + sqrt(1 - rho_o^2) E[i,o,t,k]) + plant[i,o,t]
    x = clip(round(y), 1, 5)       stored as 6 - x for reverse-coded items

``P`` (stable) and ``W`` (occasion) are correlated across outcomes, so scale scores
correlate about .4-.5 across waves. The clustered components, in units of the
pupil-level variance 1, are the school ``S`` (variance ``_SCHOOL_VAR`` = .02), the
class within school ``C`` (``_CLASS_VAR`` = .035, stable over the waves), the class x
wave ``CW`` (``_CLASS_WAVE_VAR`` = .035, drawn anew at each wave: half of a class's
variance at a wave is wave-specific, so change clusters by class and a pupil-level
DiD is too precise) and the mentor group ``G`` (``_MENTOR_VAR`` = .08) for mentees
only, ``post`` = 1 at T2 and T3: mentees who met one mentor share a shift after T1
(Bauer, Sterba & Hallfors 2008, partially nested design; R ``(0 + mentee_post |
mentor_id)``). At T1 the class-level share of the latent is .09/1.09, a class ICC
(school + class, null model) of the scale scores of about .09 on average over seeds
(.04-.10 per outcome for seed 2020). With 5 schools and 8 classes raw draws would
make one cohort's ICC anything from 0 to .2, so every component has exact moments
(mean 0, its variance exactly), the class components are orthogonal over the
classes to one another and to the condition, and the class means of the pupil part
are given exactly their expected spread (within-class variance / class size),
orthogonal to the class components. ``rho_o^2`` is the inter-item correlation that
gives the continuous items Cronbach's alpha ``ALPHA_TARGET`` by Spearman-Brown,
``alpha = k rho^2 / (1 + (k - 1) rho^2)``; rounding lowers the observed alpha to
about .71-.92. Academic help seeking has a left-skewed latent (``_SKEW``): Table 2
has means near the ceiling with SDs up to 1.02. ``mu`` and ``s`` are found per
outcome x condition x wave by fixed-point iteration (``mu += target_mean - mean``,
``s *= target_sd / sd``) on the discretised scale scores of the completers, so
rounding, the ceiling at 5 and item non-response are all accounted for.

Planted moderation (mentees only): ``plant[i,o,later] = b_lat (m_i - mean(m))`` for
the effects in :data:`PLANTED`. The mentees' latent ``Z`` are first residualised on
the planted moderators, so chance correlation in a cohort of 124 cannot hide or
reverse an effect; then ``b_lat`` is adjusted (jointly with the Table 2 calibration)
until the OLS slope of the completers' *scored* change on the moderator equals the
planted ``b`` (within about .02). The defaults have the signs of the report's
estimates; the ``same_*`` and relationship-quality slopes are smaller than the
report's (|b| up to 1.03 on outcomes with SDs of .5-.6 would leave no room for a
stable trait).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import WAVES
from .intake.codebook import Codebook, load_codebook

__all__ = [
    "TABLE2", "PLANTED", "RQ_TARGET", "PlantedEffect",
    "generate_study", "write_study", "calibration_table",
]

# Table 2 of the report: completers' M (SD) per outcome, condition and wave.
TABLE2: dict[str, dict[str, tuple[tuple[float, float], ...]]] = {
    "self_efficacy": {
        "mentee": ((3.66, .45), (3.87, .59), (3.69, .57)),
        "control": ((3.76, .41), (4.18, .47), (3.58, .56))},
    "help_seeking_academic": {
        "mentee": ((4.18, .90), (4.04, .77), (3.90, 1.02)),
        "control": ((4.16, .68), (3.88, .71), (3.74, .74))},
    "help_seeking_network": {
        "mentee": ((3.84, .55), (3.86, .46), (3.80, .53)),
        "control": ((4.01, .34), (4.01, .59), (3.88, .53))},
    "intrinsic_motivation": {
        "mentee": ((3.89, .52), (3.95, .56), (3.84, .61)),
        "control": ((3.80, .60), (3.98, .60), (3.71, .68))},
    "extrinsic_motivation": {
        "mentee": ((3.74, .53), (3.80, .60), (3.88, .41)),
        "control": ((3.74, .55), (3.80, .64), (3.73, .63))},
    "school_belonging": {
        "mentee": ((3.61, .71), (3.59, .79), (3.51, .85)),
        "control": ((3.72, .72), (3.77, .86), (3.50, .88))},
}
OUTCOMES = tuple(TABLE2)
# Relationship quality is not in Table 2; the report describes it as high.
RQ_TARGET = (3.90, 0.60)
# Cronbach's alpha of the continuous item responses; rounding to 1-5 lowers the
# observed alpha by up to about .1, to the .70-.92 typical of these instruments.
ALPHA_TARGET = {"self_efficacy": .88, "intrinsic_motivation": .85, "extrinsic_motivation": .82,
                "school_belonging": .92, "help_seeking_academic": .90,
                "help_seeking_network": .83, "relationship_quality": .88}
# Correlation of the stable traits (and of the occasion parts) across outcomes, in
# OUTCOMES order: motivation, self-efficacy and belonging go together; the two
# help-seeking attitudes go together.
_OUTCOME_CORR = np.array([
    [1.00, .45, .20, .35, .15, .20],
    [.45, 1.00, .30, .35, .20, .20],
    [.20, .30, 1.00, .15, .15, .15],
    [.35, .35, .15, 1.00, .25, .35],
    [.15, .20, .15, .25, 1.00, .40],
    [.20, .20, .15, .35, .40, 1.00]])
# Left skew of the latent per outcome (0 = normal). Academic help seeking has means
# near the ceiling with SDs up to 1.02 in Table 2, which needs a long lower tail (a
# minority who reject asking for help) and a strongly shared item factor.
_SKEW = {"help_seeking_academic": 0.5}
_STABLE = 0.6          # share of latent variance that is a stable pupil trait
# Cluster components of the latent, in units of the pupil-level variance (1). At T1
# school + class + class x wave = .09 of 1.09: a latent class ICC of about .08 and,
# through the item noise, about .07-.08 on the scale scores, plus what the Table 2
# condition differences add in a null model. Half of a class's variance at a wave
# is wave-specific: that is what makes change cluster by class (issue 12).
_SCHOOL_VAR = 0.02       # school, all waves
_CLASS_VAR = 0.035       # class within school, stable over the waves
_CLASS_WAVE_VAR = 0.035  # class x wave: the class's shift at one wave only
_MENTOR_VAR = 0.08       # mentor group, mentees at T2 and T3 (partially nested)
_CLUSTER_STREAM = 12     # second entropy word of the cluster effects' random stream
_ITEM_MISSING = 0.015  # item non-response per answered questionnaire cell


@dataclass(frozen=True)
class PlantedEffect:
    """A moderation effect planted in the mentees' latent change:
    ``change`` (later - earlier wave) of ``outcome`` rises by ``b`` per unit of
    ``moderator`` (per year of age, per RQ scale point, or same vs not same)."""
    outcome: str
    change: str
    moderator: str
    b: float


PLANTED: dict[str, PlantedEffect] = {
    "age_belonging": PlantedEffect("school_belonging", "T3-T1", "age", -0.28),
    "rq_extrinsic": PlantedEffect("extrinsic_motivation", "T2-T1", "relationship_quality", 0.40),
    "same_gender_intrinsic": PlantedEffect("intrinsic_motivation", "T2-T1", "same_gender", 0.50),
    "same_migration_self_efficacy": PlantedEffect("self_efficacy", "T2-T1", "same_migration_background", 0.40),
    "same_ses_intrinsic": PlantedEffect("intrinsic_motivation", "T2-T1", "same_ses", -0.40),
}

ID_PREFIX = "SYN"   # every identifier marks the row as synthetic
MENTOR_PREFIX = "SYNM"
SCHOOLS = ("school_A", "school_B", "school_C", "school_D", "school_E")
CITY = {"school_A": "Rotterdam", "school_B": "Rotterdam", "school_C": "Rotterdam",
        "school_D": "Amsterdam", "school_E": "Amsterdam"}
CONTROL_SCHOOLS = ("school_A", "school_C", "school_D")
CLASS_SIZE = 28
INTERESTS = ("sports", "music", "gaming", "reading", "drawing", "dance", "cooking", "film",
             "technology", "nature", "fashion", "travel", "programming", "maths",
             "languages", "history", "science", "social_media")
PROGRAMMES = ("medicine", "law", "economics", "psychology", "business_administration",
              "public_administration", "sociology", "education_sciences",
              "computer_science", "biomedical_sciences", "history", "engineering")

# Shares from brief.md (sample description of the report); dutch = the rest.
_ORIGIN = {
    "mentee": {"moroccan": .218, "turkish": .121, "surinamese": .065, "other_western": .048,
               "other_non_western": .161},
    "control": {"moroccan": .063, "turkish": .032, "surinamese": .032, "antillean": .016,
                "other_western": .048, "other_non_western": .127},
    # Student mentors were recruited to resemble the mentees.
    "mentor": {"moroccan": .20, "turkish": .12, "surinamese": .10, "antillean": .03,
               "other_western": .04, "other_non_western": .06},
}
_GENDER = {"mentee": {"girl": .45, "boy": .54, "unknown": .01},
           "control": {"girl": .49, "boy": .50, "unknown": .01},
           "mentor": {"girl": .65, "boy": .35}}
# Parental-education profiles. SES low 19.4 / high 57.3 / unknown 23.4 and first
# generation 26.6 (= low + high_fg) for mentees; 11.1 / 73.0 / 15.9 and 22.2 for
# controls. The report's shares leave no 'middle' SES pupils.
_EDU_PROFILE = {
    "mentee": {"unknown": .234, "low": .194, "middle": 0.0, "high_fg": .072, "high_cg": .500},
    "control": {"unknown": .159, "low": .111, "middle": 0.0, "high_fg": .111, "high_cg": .619},
    "mentor": {"unknown": .02, "low": .30, "middle": .15, "high_fg": .20, "high_cg": .33},
}
_AGE = {"mentee": (14.33, .51), "control": (14.13, 1.33)}
_AGE_RANGE = (12.5, 17.5)
# Wave-presence patterns (T1, T2, T3) other than complete, as shares: most pupils
# missing a wave missed T2 (school closure, online questionnaire).
_ATTRITION = {"mentee": {"101": .008, "100": .008},
              "control": {"011": .015, "101": .015, "100": .030}}
_GROUP_SIZES = (1, 2, 3, 4)
_GROUP_SIZE_P = (.10, .12, .38, .40)


# ----------------------------------------------------------------------------- helpers
def _allocate(rng: np.random.Generator, n: int, shares: dict[str, float], rest: str | None = None) -> np.ndarray:
    """Labels in exactly the given shares (largest remainder), in random order.

    Exact counts rather than independent draws keep a cohort of 124 close to the
    published percentages."""
    keys = list(shares)
    p = np.array([shares[k] for k in keys], dtype=float)
    if rest is not None:
        keys.append(rest)
        p = np.append(p, max(0.0, 1.0 - p.sum()))
    p = p / p.sum()
    raw = n * p
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return rng.permutation(np.repeat(np.array(keys, dtype=object), counts))


def _ages(rng: np.random.Generator, n: int, mean: float, sd: float) -> np.ndarray:
    """Ages at T1: a shifted gamma (a few older pupils who repeated a year, few much
    younger), brought to the published mean and SD by alternately standardising and
    clipping to 12.5-17.5, then rounded to one decimal."""
    lo, hi = _AGE_RANGE
    shape = ((mean - lo) / sd) ** 2
    x = lo + rng.gamma(shape, sd ** 2 / (mean - lo), size=n)
    if n < 3:
        return np.round(np.clip(x, lo, hi), 1)
    for _ in range(30):
        x = np.clip(mean + sd * (x - x.mean()) / max(x.std(ddof=1), 1e-9), lo, hi)
    return np.round(x, 1)


def _choice(rng, n, options, p):
    return np.asarray(options, dtype=object)[rng.choice(len(options), size=n, p=np.asarray(p) / np.sum(p))]


def _parent_education(rng: np.random.Generator, profile: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Education of two parents such that the contract's derived SES and first
    generation status follow the profile: low (no parent havo+), middle (havo/vwo,
    no hbo/wo), high_fg (an hbo parent, no vwo/wo), high_cg (a wo parent, or hbo
    with a vwo/wo partner), unknown (both unknown)."""
    n = len(profile)
    low = ("none", "primary", "vmbo", "mbo")
    low_p = (.05, .20, .35, .40)
    lo1 = _choice(rng, n, low, low_p)
    lo2 = np.where(rng.random(n) < .15, "unknown", _choice(rng, n, low, low_p))
    mid1 = _choice(rng, n, ("havo", "vwo"), (.6, .4))
    mid2 = _choice(rng, n, ("none", "primary", "vmbo", "mbo", "havo", "vwo", "unknown"),
                   (.02, .10, .20, .30, .18, .10, .10))
    fg2 = _choice(rng, n, ("primary", "vmbo", "mbo", "havo", "hbo", "unknown"),
                  (.10, .15, .30, .15, .20, .10))
    cg1 = _choice(rng, n, ("wo", "hbo"), (.75, .25))
    cg2_wo = _choice(rng, n, ("mbo", "havo", "vwo", "hbo", "wo", "unknown"), (.15, .10, .10, .30, .30, .05))
    cg2_hbo = _choice(rng, n, ("vwo", "wo"), (.4, .6))
    cg2 = np.where(cg1 == "wo", cg2_wo, cg2_hbo)
    conds = [profile == "low", profile == "middle", profile == "high_fg", profile == "high_cg"]
    p1 = np.select(conds, [lo1, mid1, np.full(n, "hbo", dtype=object), cg1], "unknown")
    p2 = np.select(conds, [lo2, mid2, fg2, cg2], "unknown")
    swap = rng.random(n) < .5
    return np.where(swap, p2, p1).astype(object), np.where(swap, p1, p2).astype(object)


def _ses(p1: np.ndarray, p2: np.ndarray) -> np.ndarray:
    """SES by the contract's rule (section 1); used only to plant ``same_ses``."""
    known = (p1 != "unknown") | (p2 != "unknown")
    high = np.isin(p1, ("hbo", "wo")) | np.isin(p2, ("hbo", "wo"))
    mid = np.isin(p1, ("havo", "vwo")) | np.isin(p2, ("havo", "vwo"))
    return np.where(~known, "unknown", np.where(high, "high", np.where(mid, "middle", "low"))).astype(object)


def _interests(rng: np.random.Generator, n: int) -> list[list[str]]:
    k = rng.integers(2, 5, size=n)
    keys = rng.random((n, len(INTERESTS))).argsort(axis=1)
    return [[INTERESTS[j] for j in row[:m]] for row, m in zip(keys, k)]


def _ids(prefix: str, order: np.ndarray) -> np.ndarray:
    width = max(4 if prefix == ID_PREFIX else 3, len(str(len(order))))
    return np.array([f"{prefix}{i + 1:0{width}d}" for i in order], dtype=object)


def _unit_latents(rng: np.random.Generator, n: int, n_waves: int) -> np.ndarray:
    """Standard-normal pupil x outcome x wave latents: a stable trait plus an
    occasion part, each correlated across outcomes as in ``_OUTCOME_CORR``."""
    chol = np.linalg.cholesky(_OUTCOME_CORR)
    p = rng.standard_normal((n, len(OUTCOMES))) @ chol.T
    w = rng.standard_normal((n, n_waves, len(OUTCOMES))) @ chol.T
    z = np.sqrt(_STABLE) * p[:, None, :] + np.sqrt(1 - _STABLE) * w
    return z.transpose(0, 2, 1)  # (n, outcome, wave)


def _unit_means(codes: np.ndarray, n_units: int, x: np.ndarray) -> np.ndarray:
    """Means of the rows of ``x`` (n, ...) per unit code 0..n_units-1 (0 when empty)."""
    flat = x.reshape(len(x), -1)
    cnt = np.bincount(codes, minlength=n_units).astype(float)
    sums = np.stack([np.bincount(codes, flat[:, j], n_units) for j in range(flat.shape[1])], axis=1)
    return (sums / np.maximum(cnt, 1)[:, None]).reshape((n_units,) + x.shape[1:])


def _orthogonal(x: np.ndarray, avoid: np.ndarray | None) -> np.ndarray:
    """``x`` (units, outcome) centred and, per outcome, without its least-squares
    projection on the centred columns of ``avoid`` (units, outcome, k)."""
    x = x - x.mean(axis=0)
    if avoid is None or len(x) <= avoid.shape[2] + 2:   # too few units to avoid them all
        return x
    for o in range(x.shape[1]):
        a = avoid[:, o, :] - avoid[:, o, :].mean(axis=0)
        beta, *_ = np.linalg.lstsq(a, x[:, o], rcond=None)
        x[:, o] -= a @ beta
    return x


def _exact_effects(rng: np.random.Generator, n_units: int, var: float,
                   avoid: np.ndarray | None = None, draws: np.ndarray | None = None) -> np.ndarray:
    """(n_units, outcome) cluster effects correlated across outcomes as the pupil
    traits, with mean 0, variance exactly ``var`` (n in the denominator) and, per
    outcome, no sample correlation with the columns of ``avoid`` (n_units, outcome,
    k). Exact moments rather than raw draws, as in :func:`_allocate`: with 5 schools
    and 8 classes a raw draw's variance is off by half of itself at random.
    ``draws``: the standard normals (n_units, outcome) to start from, else drawn."""
    if draws is None:
        draws = rng.standard_normal((n_units, len(OUTCOMES)))
    x = draws @ np.linalg.cholesky(_OUTCOME_CORR).T
    if n_units < 3:
        return np.zeros_like(x)
    x = _orthogonal(x, avoid)
    sd = x.std(axis=0)
    return np.sqrt(var) * x / np.where(sd > 0, sd, 1.0)


def _cluster_latents(rng: np.random.Generator, school_codes: np.ndarray, class_codes: np.ndarray,
                     n_classes: int, mentor_codes: np.ndarray, n_mentors: int,
                     class_draws: np.ndarray) -> np.ndarray:
    """The clustered part of the latent, (n, outcome, wave)::

        S[school] + C[class] + CW[class, t] + mentee_post[i, t] G[mentor]

    with variances ``_SCHOOL_VAR``, ``_CLASS_VAR``, ``_CLASS_WAVE_VAR`` (drawn per
    wave) and ``_MENTOR_VAR``; ``mentee_post`` is 1 for a mentee (``mentor_codes``
    >= 0) at T2 and T3: the shared shift of mentees who met one mentor (Bauer,
    Sterba & Hallfors 2008, partially nested design). Every component has exact
    moments (:func:`_exact_effects`). The class components are drawn one after the
    other, each orthogonal over the classes to the ones before and to the class's
    condition (the calibration sets each condition's mean, so a chance difference
    between the 5 mentee and 3 control classes would be taken out again): their sum
    has the variance of the sum of the parameters, not a chance covariance of 8
    values on top. ``class_draws`` (n_classes, outcome): the standard normals of the
    stable class effects."""
    is_mentee = mentor_codes >= 0
    school = _exact_effects(rng, len(SCHOOLS), _SCHOOL_VAR)
    per_class = lambda x: _unit_means(class_codes, n_classes, x)  # noqa: E731
    cond_col = np.repeat(per_class(is_mentee.astype(float)[:, None, None]), len(OUTCOMES), axis=1)
    school_col = per_class(school[school_codes])[:, :, None]
    klass = _exact_effects(rng, n_classes, _CLASS_VAR, np.concatenate([cond_col, school_col], axis=2),
                           draws=class_draws)
    before = np.concatenate([cond_col, school_col, klass[:, :, None]], axis=2)
    class_wave = np.stack([_exact_effects(rng, n_classes, _CLASS_WAVE_VAR, before) for _ in WAVES], axis=2)
    mentor = _exact_effects(rng, n_mentors, _MENTOR_VAR)
    out = (school[school_codes] + klass[class_codes])[:, :, None] + class_wave[class_codes]
    post = np.array([w != WAVES[0] for w in WAVES], dtype=float)
    out[is_mentee] += mentor[mentor_codes[is_mentee]][:, :, None] * post
    return out


def _exact_class_means(z: np.ndarray, class_codes: np.ndarray, n_classes: int,
                       cluster: np.ndarray, condition: np.ndarray) -> np.ndarray:
    """The pupil-level latent ``z`` (n, outcome, wave) with exact moments of its class
    means: per outcome and wave, the class means' deviations are made orthogonal
    over the classes to the class means of ``cluster`` (the clustered part, same
    shape) and of ``condition`` (n,: 1 = mentee), then scaled so that their variance
    is the pooled within-class variance over the mean class size — what pupils drawn
    independently give on average. Only class means move (every pupil of a class by
    the same amount). Without this a chance spread (chi-square with 7 df: +-50%) or
    alignment of 8 class means would add to or cancel the planted class variance."""
    cnt = np.bincount(class_codes, minlength=n_classes)
    used = cnt > 0
    if used.sum() < 3:
        return z
    means = _unit_means(class_codes, n_classes, z)[used]          # (classes, outcome, wave)
    cl = _unit_means(class_codes, n_classes, cluster)[used]
    cond = np.repeat(_unit_means(class_codes, n_classes, condition.astype(float)[:, None])[used], z.shape[1], axis=1)
    within = ((z - _unit_means(class_codes, n_classes, z)[class_codes]) ** 2).sum(axis=0) / max(len(z) - used.sum(), 1)
    target = within / cnt[used].mean()
    new = np.empty_like(means)
    for t in range(z.shape[2]):
        dev = _orthogonal(means[:, :, t], np.stack([cl[:, :, t], cond], axis=2))
        new[:, :, t] = means[:, :, t].mean(axis=0) + dev * np.sqrt(target[:, t] / np.maximum((dev ** 2).mean(axis=0), 1e-12))
    shift = np.zeros((n_classes,) + z.shape[1:])
    shift[used] = new - means
    return z + shift[class_codes]


def _residualise(z: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Residuals of every column of ``z`` (n, ...) on ``x`` (n, p) with intercept."""
    if len(z) <= x.shape[1] + 1:
        return z
    design = np.column_stack([np.ones(len(x)), x])
    flat = z.reshape(len(z), -1)
    beta, *_ = np.linalg.lstsq(design, flat, rcond=None)
    return (flat - design @ beta).reshape(z.shape)


def _calibrate(u: np.ndarray, d: np.ndarray, answered: np.ndarray, plant: np.ndarray,
               cell: np.ndarray, sample: np.ndarray, target: np.ndarray, k_items: int,
               rho: float, init: tuple[np.ndarray, np.ndarray] | None = None,
               max_iter: int = 80) -> dict:
    """Find the cell location ``mu`` and scale ``s`` (arrays n_cells x n_waves) for
    which the discretised scale scores of ``sample`` (n, waves) hit ``target``
    (n_cells, n_waves, 2: mean, SD with n - 1).

    ``u`` (n, waves, k) are the standardised item deviations, ``d`` the item
    offsets, ``answered`` the item response mask, ``plant`` (n, waves) fixed shifts,
    ``cell`` (n,) the cell row of each pupil. Returns a dict with ``x`` (answers in
    the scored direction, NaN when unanswered), ``score`` (n, waves; NaN without
    answers), ``err`` (largest absolute error of a mean or SD), ``mu`` and ``s``."""
    n_cells, n_waves = target.shape[:2]
    if init is None:
        mu = target[..., 0].copy()
        s = target[..., 1] / np.sqrt(rho ** 2 + (1 - rho ** 2) / k_items)
    else:
        mu, s = init[0].copy(), init[1].copy()
    n_ans = answered.sum(axis=2)
    # Per-cell sums by bincount: the cell means and SDs of every wave in one pass.
    grp = [cell[sample[:, w]] for w in range(n_waves)]
    cnt = np.stack([np.bincount(g, minlength=n_cells) for g in grp], axis=1).astype(float)
    enough = cnt > 1

    def items(mu, s):
        y = (mu[cell] + plant)[:, :, None] + d + s[cell][:, :, None] * u
        x = np.clip(np.rint(y), 1, 5)
        return x, np.where(answered, x, 0).sum(axis=2) / np.maximum(n_ans, 1)

    # Cells do not interact, so the best iterate is kept per cell; the search stops
    # when no cell has improved for 10 iterations (discreteness sets a floor).
    best_err = np.full((n_cells, n_waves), np.inf)
    best_mu, best_s = mu.copy(), s.copy()
    stale = 0
    for it in range(max_iter):
        _, score = items(mu, s)
        s1 = np.stack([np.bincount(g, score[sample[:, w], w], n_cells) for w, g in enumerate(grp)], axis=1)
        s2 = np.stack([np.bincount(g, score[sample[:, w], w] ** 2, n_cells) for w, g in enumerate(grp)], axis=1)
        m = np.where(cnt > 0, s1 / np.maximum(cnt, 1), target[..., 0])
        var = (s2 - cnt * m ** 2) / np.maximum(cnt - 1, 1)
        sd = np.where(enough, np.sqrt(np.maximum(var, 0)), target[..., 1])
        err = np.maximum(np.abs(m - target[..., 0]), np.abs(sd - target[..., 1]))
        better = err < best_err
        stale = 0 if better.any() else stale + 1
        best_err = np.where(better, err, best_err)
        best_mu = np.where(better, mu, best_mu)
        best_s = np.where(better, s, best_s)
        if best_err.max() < 5e-4 or stale >= 20:
            break
        # Full steps first; smaller ones later stop the oscillation between
        # neighbouring discrete states.
        gain = 1.0 if it < 15 else (0.5 if it < 30 else 0.25)
        mu = mu + gain * (target[..., 0] - m)
        s = np.clip(s * (target[..., 1] / np.maximum(sd, 1e-6)) ** gain, 0.02, 5.0)
    x, score = items(best_mu, best_s)
    return {"x": np.where(answered, x, np.nan), "score": np.where(n_ans > 0, score, np.nan),
            "err": float(best_err.max()), "mu": best_mu, "s": best_s}


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    """OLS slope of y on x over the rows where both are finite."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0:
        return np.nan
    xc = x[ok] - x[ok].mean()
    return float(xc @ (y[ok] - y[ok].mean()) / (xc @ xc))


def _answered_mask(rng: np.random.Generator, present: np.ndarray, k: int, min_share: float) -> np.ndarray:
    """Item response mask (n, waves, k): ~1.5% item non-response, never so much that
    a present pupil loses the scale score (the completers stay as designed)."""
    n, n_waves = present.shape
    miss = rng.random((n, n_waves, k)) < _ITEM_MISSING
    too_many = (k - miss.sum(axis=2)) < np.ceil(min_share * k - 1e-9)
    miss[too_many] = False
    return ~miss & present[:, :, None]


# ----------------------------------------------------------------------------- main
def generate_study(seed: int = 2020, n_mentees: int = 124, n_controls: int = 66, *,
                   plant: bool = True, codebook: Codebook | None = None, did_shift: float = 0.0,
                   sessions: tuple[int, int] = (20, 10),
                   **effects: float) -> dict[str, pd.DataFrame]:
    """Generate a synthetic MUT cohort as the tables of a study folder.

    Parameters
    ----------
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed and sizes give identical
        tables.
    n_mentees, n_controls : int
        Cohort sizes (the report: 124 and 66). Mentors number about n_mentees / 3.
    plant : bool
        ``False`` plants no moderation effects (all ``b`` = 0).
    codebook : Codebook, optional
        The instrument codebook (default :func:`mut_eval.intake.codebook.load_codebook`);
        its scales must be those of the default codebook.
    did_shift : float or dict
        Added to the mentees' target means at T2 and T3, in units of the outcome's T1 SD
        (a cohort with a larger or smaller effect; 0 = Table 2 as published); a dict gives
        it per outcome as ``{outcome: (shift_T2, shift_T3)}`` (outcomes left out: 0).
    sessions : (planned, held)
        Sessions planned per mentee, and the fewest held by a mentor (each holds 0-2
        more; the report's COVID year: 20 planned, 10-12 held).
    **effects : float
        Planted slopes ``b`` by key of :data:`PLANTED` (0 switches one off):

        ``age_belonging`` (-0.28)
            school_belonging T3-T1 per year of age (report: b = -.284).
        ``rq_extrinsic`` (0.40)
            extrinsic_motivation T2-T1 per point of relationship_quality (report .722).
        ``same_gender_intrinsic`` (0.50)
            intrinsic_motivation T2-T1, mentor and mentee of the same gender (report .500).
        ``same_migration_self_efficacy`` (0.40)
            self_efficacy T2-T1, both or neither with a migration background (report 1.032).
        ``same_ses_intrinsic`` (-0.40)
            intrinsic_motivation T2-T1, same SES as the mentor (report -0.863).

    Returns
    -------
    dict with DataFrames ``students``, ``wave_T1``, ``wave_T2``, ``wave_T3``,
    ``mentors``, ``matches``, ``qsort`` in the column layout of the contract
    (section 1), rows sorted by id; item columns are nullable integers.

    Planted slopes: the OLS slope of the mentee completers' scored change on the
    moderator equals ``b`` within about .02 (``same_*`` are 1/0, NaN when either
    side is unknown; relationship_quality is the T2 scale score).

    Calibration: for every outcome x condition x wave the completers' (pupils scored
    at T1, T2 and T3) scale-score mean and SD (n - 1) equal Table 2 of the report
    (:data:`TABLE2`) up to the discreteness of the answers (typically < .01).

    Examples
    --------
    >>> from mut_eval.synth import generate_study
    >>> tables = generate_study(seed=1, n_mentees=60, n_controls=30)
    >>> sorted(tables)
    ['matches', 'mentors', 'qsort', 'students', 'wave_T1', 'wave_T2', 'wave_T3']
    """
    effects_b = _effect_sizes(plant, effects)
    if n_mentees < 2 or n_controls < 2:
        raise ValueError("n_mentees and n_controls must each be at least 2")
    cb = codebook or load_codebook()
    rng = np.random.default_rng(seed)
    n_m, n_c = int(n_mentees), int(n_controls)
    n = n_m + n_c
    is_m = np.arange(n) < n_m
    condition = np.where(is_m, "mentee", "control").astype(object)

    # --- schools and classes (pupils ordered by school within condition)
    school = np.empty(n, dtype=object)
    klass = np.empty(n, dtype=object)
    class_codes = np.empty(n, dtype=int)
    code = 0
    mentee_classes = {sch: max(1, int(round(size / CLASS_SIZE)))
                      for sch, size in zip(SCHOOLS, _split_even(n_m, len(SCHOOLS)))}
    for cond, schools, lo, hi in (("mentee", SCHOOLS, 0, n_m), ("control", CONTROL_SCHOOLS, n_m, n)):
        start = lo
        for sch, size in zip(schools, _split_even(hi - lo, len(schools))):
            # Classes numbered within a school, mentee classes first.
            first = 1 if cond == "mentee" else mentee_classes[sch] + 1
            for j, cs in enumerate(_split_even(size, max(1, int(round(size / CLASS_SIZE))))):
                sl = slice(start, start + cs)
                school[sl] = sch
                klass[sl] = f"{sch[-1]}-3V{first + j}"
                class_codes[sl] = code
                code += 1
                start += cs
    n_classes = code

    # --- pupil demographics
    age = np.empty(n)
    gender = np.empty(n, dtype=object)
    origin = np.empty(n, dtype=object)
    profile = np.empty(n, dtype=object)
    for cond, sel in (("mentee", is_m), ("control", ~is_m)):
        k = int(sel.sum())
        age[sel] = _ages(rng, k, *_AGE[cond])
        gender[sel] = _allocate(rng, k, _GENDER[cond])
        origin[sel] = _allocate(rng, k, _ORIGIN[cond], rest="dutch")
        profile[sel] = _allocate(rng, k, _EDU_PROFILE[cond])
    edu1, edu2 = _parent_education(rng, profile)
    interests = _interests(rng, n)
    intended = _choice(rng, n, PROGRAMMES + ("unknown",), [1.0] * len(PROGRAMMES) + [4.0])

    # --- mentors and matches: groups of 1-4 mentees of one school per mentor
    mentee_idx = np.flatnonzero(is_m)
    group_of = np.zeros(n, dtype=int)
    g = 0
    for sch in SCHOOLS:
        members = rng.permutation(mentee_idx[school[mentee_idx] == sch])
        if len(members) == 0:
            continue
        sizes = rng.choice(_GROUP_SIZES, size=len(members), p=_GROUP_SIZE_P)
        ends = np.cumsum(sizes)
        n_groups = int(np.searchsorted(ends, len(members)) + 1)
        grp = np.searchsorted(ends[:n_groups], np.arange(len(members)), side="right")
        group_of[members] = g + grp
        g += n_groups
    n_mentors = g
    mentor_gender = _allocate(rng, n_mentors, _GENDER["mentor"])
    mentor_origin = _allocate(rng, n_mentors, _ORIGIN["mentor"], rest="dutch")
    m_edu1, m_edu2 = _parent_education(rng, _allocate(rng, n_mentors, _EDU_PROFILE["mentor"]))
    mentor_prog = _choice(rng, n_mentors, PROGRAMMES, [1.0] * len(PROGRAMMES))
    mentor_interests = _interests(rng, n_mentors)
    # Matching was on overlapping interests: most mentees share a tag with the mentor.
    share_tag = rng.random(n) < .7
    pick = rng.integers(0, 4, size=n)
    for i in mentee_idx[share_tag[mentee_idx]]:
        tags = mentor_interests[group_of[i]]
        tag = tags[pick[i] % len(tags)]
        if tag not in interests[i]:
            interests[i][0] = tag
    group_size = np.bincount(group_of[mentee_idx], minlength=n_mentors)
    held = int(sessions[1]) + rng.integers(0, 3, size=n_mentors)  # e.g. 10 on site + 0-2 online (COVID)
    attended = held[group_of] - rng.binomial(held[group_of], .08)
    dropout = rng.random(n) < .04
    attended = np.where(dropout, rng.integers(2, 9, size=n), attended)

    # --- which waves each pupil answered
    pattern = np.empty(n, dtype=object)
    for cond, sel in (("mentee", is_m), ("control", ~is_m)):
        pattern[sel] = _allocate(rng, int(sel.sum()), _ATTRITION[cond], rest="111")
    present = np.array([[p[w] == "1" for w in range(3)] for p in pattern], dtype=bool).reshape(n, 3)
    completer = present.all(axis=1)

    # --- moderators as the analysis derives them (mentees; NaN when unknown)
    mg = mentor_gender[group_of]
    known_g = np.isin(gender, ("girl", "boy")) & is_m
    same_gender = np.where(known_g, (gender == mg).astype(float), np.nan)
    mig = origin != "dutch"
    m_mig = mentor_origin[group_of] != "dutch"
    same_mig = np.where(is_m & (origin != "unknown"), (mig == m_mig).astype(float), np.nan)
    ses = _ses(edu1, edu2)
    m_ses = _ses(m_edu1, m_edu2)[group_of]
    same_ses = np.where(is_m & (ses != "unknown") & (m_ses != "unknown"),
                        (ses == m_ses).astype(float), np.nan)

    # --- relationship quality (T2, mentees): closer with more sessions attended
    rq_items = cb.scales["relationship_quality"]
    k_rq = len(rq_items.items)
    att_z = (attended - attended[is_m].mean()) / max(attended[is_m].std(), 1e-9)
    z_rq = 0.3 * att_z + np.sqrt(0.91) * rng.standard_normal(n)
    rho_rq = _rho(ALPHA_TARGET["relationship_quality"], k_rq)
    u_rq = rho_rq * z_rq[:, None, None] + np.sqrt(1 - rho_rq ** 2) * rng.standard_normal((n, 1, k_rq))
    d_rq = _item_offsets(rng, k_rq)
    rq_present = (present[:, 1] & is_m)[:, None]
    ans_rq = _answered_mask(rng, rq_present, k_rq, cb.min_answered)
    rq = _calibrate(u_rq, d_rq, ans_rq, np.zeros((n, 1)), np.zeros(n, dtype=int), rq_present,
                    np.array([[RQ_TARGET]]), k_rq, rho_rq)
    x_rq, rq_score = rq["x"], rq["score"][:, 0]

    moderators = {"age": np.where(is_m, age, np.nan), "same_gender": same_gender,
                  "same_migration_background": same_mig, "same_ses": same_ses,
                  "relationship_quality": rq_score}
    centred = {}
    for key, v in moderators.items():
        mean = np.nanmean(v[is_m]) if np.isfinite(v[is_m]).any() else 0.0
        centred[key] = np.where(is_m & np.isfinite(v), v - mean, 0.0)

    # --- outcome latents, residualised on the moderators within mentees
    z = _unit_latents(rng, n, 3)
    school_codes = np.array([SCHOOLS.index(sch) for sch in school], dtype=int)
    # The stable class effects take the draws of the generator's former class effect
    # and the other components have a random stream of their own, so that adding
    # them left the rest of every seed's cohort (demographics, matches, attrition,
    # identifiers) as it was.
    class_draws = rng.standard_normal((n_classes, len(OUTCOMES), 1))[:, :, 0]
    cluster_rng = np.random.default_rng([int(seed), _CLUSTER_STREAM])
    cluster = _cluster_latents(cluster_rng, school_codes, class_codes, n_classes,
                               np.where(is_m, group_of, -1), n_mentors, class_draws)
    z = _exact_class_means(z, class_codes, n_classes, cluster, is_m) + cluster
    for key, lam in _SKEW.items():
        o = OUTCOMES.index(key)
        # -exp(-lam z) standardised with its population moments (lognormal)
        m1 = np.exp(lam ** 2 / 2)
        sd1 = np.sqrt(np.exp(lam ** 2) * (np.exp(lam ** 2) - 1))
        z[:, o] = (m1 - np.exp(-lam * z[:, o])) / sd1
    active = [k for k, e in effects_b.items() if e != 0]
    if active:
        mods = np.column_stack([centred[PLANTED[k].moderator] for k in active])
        z[is_m] = _residualise(z[is_m], mods[is_m])

    # --- items per outcome, calibrated to Table 2 on the completers; where effects
    # are planted, their latent size is adjusted until the completers' observed
    # slope (scored change on the moderator) equals the planted b.
    cell = (~is_m).astype(int)  # 0 = mentee, 1 = control
    sample = np.repeat(completer[:, None], 3, axis=1)
    mentee_completer = is_m & completer
    items: dict[str, np.ndarray] = {}
    for o, key in enumerate(OUTCOMES):
        scale = cb.scales[key]
        k = len(scale.items)
        rho = _rho(ALPHA_TARGET[key], k)
        u = rho * z[:, o, :, None] + np.sqrt(1 - rho ** 2) * rng.standard_normal((n, 3, k))
        d = _item_offsets(rng, k)
        ans = _answered_mask(rng, present, k, cb.min_answered)
        target = np.array([TABLE2[key]["mentee"], TABLE2[key]["control"]])
        shift = did_shift.get(key, (0.0, 0.0)) if isinstance(did_shift, dict) else (did_shift, did_shift)
        target[0, 1:, 0] += np.asarray(shift, float) * target[0, 0, 1]
        mine = [kk for kk in active if PLANTED[kk].outcome == key]
        b_lat = {kk: effects_b[kk] for kk in mine}
        res, best, best_gap = None, None, np.inf
        for _ in range(12 if mine else 1):
            plant_o = np.zeros((n, 3))
            for kk in mine:
                eff = PLANTED[kk]
                plant_o[:, WAVES.index(eff.change.split("-")[0])] += b_lat[kk] * centred[eff.moderator]
            res = _calibrate(u, d, ans, plant_o, cell, sample, target, k, rho,
                             init=None if res is None else (res["mu"], res["s"]))
            gaps = {}
            for kk in mine:
                eff = PLANTED[kk]
                later, earlier = (WAVES.index(w) for w in eff.change.split("-"))
                change = np.where(mentee_completer, res["score"][:, later] - res["score"][:, earlier], np.nan)
                gaps[kk] = effects_b[kk] - _slope(moderators[eff.moderator], change)
            gap = max((abs(g) for g in gaps.values() if np.isfinite(g)), default=0.0)
            if best is None or gap < best_gap:
                best, best_gap = res, gap
            if gap < .005:
                break
            for kk, g in gaps.items():
                if np.isfinite(g):
                    b_lat[kk] += g
        for j, item in enumerate(scale.items):
            items[item] = best["x"][:, :, j]
    for j, item in enumerate(rq_items.items):
        items[item] = np.repeat(x_rq[:, :, j], 3, axis=1) * np.where([False, True, False], 1.0, np.nan)

    # --- identifiers (opaque: random order over conditions and schools)
    sid = _ids(ID_PREFIX, rng.permutation(n))
    mid = _ids(MENTOR_PREFIX, rng.permutation(n_mentors))

    # --- dates: T1 and T3 in class, T2 online per pupil
    t1 = np.datetime64("2019-09-16") + rng.integers(0, 5, size=n_classes)
    t3 = np.busday_offset(np.datetime64("2020-10-05"), rng.integers(0, 30, size=n_classes), roll="forward")
    t2 = np.datetime64("2020-06-22") + rng.integers(0, 9, size=n)
    dates = [np.datetime_as_string(t1[class_codes]), np.datetime_as_string(t2),
             np.datetime_as_string(t3[class_codes])]

    # --- q-sort: 13 interviewed mentees (completers)
    qsort = _qsort(rng, sid[np.flatnonzero(is_m & completer)])

    out: dict[str, pd.DataFrame] = {}
    students = pd.DataFrame({
        "student_id": sid, "condition": condition, "school": school, "class": klass,
        "age": age, "gender": gender, "origin": origin,
        "education_parent1": edu1, "education_parent2": edu2,
        "city": [CITY[s] for s in school], "interests": [";".join(sorted(t)) for t in interests],
        "intended_study": intended,
    })
    out["students"] = _sorted(students, "student_id")
    for w, wave in enumerate(WAVES):
        rows = np.flatnonzero(present[:, w])
        cols = {"student_id": sid[rows], "date": dates[w][rows]}
        for key, scale in cb.scales.items():
            if wave not in scale.waves:
                continue
            for item in scale.items:
                v = items[item][rows, w]
                if item in scale.reverse:
                    v = 6 - v  # stored as answered
                cols[item] = pd.array(v, dtype="Float64").astype("Int64") if len(v) else pd.array([], dtype="Int64")
        out[f"wave_{wave}"] = _sorted(pd.DataFrame(cols), "student_id")
    out["mentors"] = _sorted(pd.DataFrame({
        "mentor_id": mid, "gender": mentor_gender, "origin": mentor_origin,
        "education_parent1": m_edu1, "education_parent2": m_edu2,
        "study_programme": mentor_prog, "interests": [";".join(sorted(t)) for t in mentor_interests],
    }), "mentor_id")
    gs = group_size[group_of[mentee_idx]]
    out["matches"] = _sorted(pd.DataFrame({
        "student_id": sid[mentee_idx], "mentor_id": mid[group_of[mentee_idx]],
        "format": np.where(gs == 1, "individual", "group"), "group_size": gs,
        "sessions_planned": np.full(len(mentee_idx), int(sessions[0])), "sessions_attended": attended[mentee_idx],
    }), "student_id")
    out["qsort"] = qsort
    return out


def _split_even(n: int, k: int) -> list[int]:
    base, extra = divmod(n, k)
    return [base + (1 if i < extra else 0) for i in range(k)]


def _rho(alpha: float, k: int) -> float:
    """Item-latent correlation whose square is the inter-item correlation giving
    Cronbach's alpha by Spearman-Brown: r = alpha / (k - (k - 1) alpha)."""
    return float(np.sqrt(alpha / (k - (k - 1) * alpha)))


def _item_offsets(rng: np.random.Generator, k: int) -> np.ndarray:
    d = rng.normal(0, .15, size=k)
    return d - d.mean()


def _sorted(df: pd.DataFrame, key: str) -> pd.DataFrame:
    return df.sort_values(key, kind="stable").reset_index(drop=True)


def _effect_sizes(plant: bool, effects: dict) -> dict[str, float]:
    unknown = set(effects) - set(PLANTED)
    if unknown:
        raise TypeError(f"unknown planted effect(s) {sorted(unknown)}; known: {sorted(PLANTED)}")
    if not plant:
        return {k: 0.0 for k in PLANTED}
    return {k: float(effects.get(k, e.b)) for k, e in PLANTED.items()}


def _qsort(rng: np.random.Generator, mentee_ids: np.ndarray, n_interviews: int = 13) -> pd.DataFrame:
    """Q-sort ranks (1 = helped most) with the report's pattern: motivation first or
    second for 12 of 13 mentees, belonging last for 11 of 13."""
    cards = ("self_efficacy", "motivation", "school_belonging", "help_seeking")
    k = min(n_interviews, len(mentee_ids))
    chosen = np.sort(rng.choice(mentee_ids, size=k, replace=False)) if k else np.array([], dtype=object)
    mot_top = _allocate(rng, k, {"yes": 12 / 13}, rest="no")
    bel_last = _allocate(rng, k, {"yes": 11 / 13}, rest="no")
    rows = []
    for i in range(k):
        ranks = {}
        if bel_last[i] == "yes":
            ranks["school_belonging"] = 4
        ranks["motivation"] = int(rng.choice([1, 2])) if mot_top[i] == "yes" else (
            3 if "school_belonging" in ranks else int(rng.choice([3, 4])))
        free = [r for r in (1, 2, 3, 4) if r not in ranks.values()]
        if "school_belonging" not in ranks:
            options = [r for r in free if r != 4]
            ranks["school_belonging"] = int(rng.choice(options))
            free.remove(ranks["school_belonging"])
        free = list(rng.permutation(free))
        ranks["self_efficacy"], ranks["help_seeking"] = int(free[0]), int(free[1])
        rows.append({"student_id": chosen[i], **{c: ranks[c] for c in cards}})
    return pd.DataFrame(rows, columns=["student_id", *cards])


# ----------------------------------------------------------------------------- writing
_README = """\
# SYNTHETIC example cohort — not real pupils

This folder is **synthetic data** generated by `mut-eval synth` (Python:
`mut_eval.synth.write_study(OUT_DIR, seed={seed}, n_mentees={n_m}, n_controls={n_c})`).
No row describes a real pupil, mentor or school; every identifier starts with `SYN`.
It exists so that the toolkit, its tests and its example report can run end to end
without the confidential data of the Mentoring Urban Talent evaluation (2019-20).

How it was made:
- Design as in the evaluation: 5 schools (Rotterdam, Amsterdam), a mentee class in
  each, a control class in 3; waves T1 (September 2019), T2 (end of June 2020, during
  the COVID school closure, hence most attrition), T3 (autumn 2020).
- Demographics (age, gender, migration background, parental education and hence
  SES and first-generation status) follow the report's sample description.
- Answers (1-5; reverse-coded items stored as answered, ~1.5% item non-response) come
  from latent pupil traits (correlated about .6 across waves) plus item noise,
  rounded and clipped; the latent location and spread of every outcome x condition x
  wave were calibrated so that the completers' scale means and SDs equal Table 2
  of the report.{shift_note}
- Pupils are clustered as in schools: the latent has a school part (variance .02,
  in units of the pupil-level variance 1), a stable class part (.035) and a class x
  wave part (.035, new at every wave, so classes also differ in how they change):
  a class ICC of the scale scores at T1 of about .08 (the expected value; the
  estimate from one cohort of 8 classes scatters around it). Mentees who share a
  mentor share a shift at T2 and T3 (variance .08; a partially nested design). A
  pupil-level model overstates the precision of the effects on these data, as it
  would on real class-assigned data.
- Mentors: about one per three mentees, mostly groups of 2-4 at one school, some
  1-to-1; {held}-{held2} of {planned} planned sessions held{covid}.
- Q-sort: 13 interviewed mentees; motivation ranked first or second by 12,
  belonging last by 11, as in the report.

Planted moderation effects (within mentees: the change score, later minus earlier
wave, regressed on the moderator by OLS). In these files the completers' slopes equal
the planted b within about .02; a moderation analysis should recover them:

| outcome | change | moderator | planted b |
|---|---|---|---|
{rows}

Regenerate byte-identically with
`mut-eval synth OUT_DIR --seed {seed} --n-mentees {n_m} --n-controls {n_c}`.
"""


def write_study(out_dir: str | Path, seed: int = 2020, n_mentees: int = 124,
                n_controls: int = 66, *, did_shift: float = 0.0, sessions: tuple[int, int] = (20, 10),
                cohort: str = "2019-2020 (synthetic)", bootstrap: int = 5000, **plant) -> Path:
    """Write a synthetic study folder (contract section 1) and return its path.

    Files: ``students.csv``, ``wave_T1.csv``, ``wave_T2.csv``, ``wave_T3.csv``,
    ``mentors.csv``, ``matches.csv``, ``qsort.csv``, ``study.yaml`` (``synthetic:
    true``, the seed and the analysis options with the planted moderators as
    ``prespecified_moderators``) and ``README.md``. The same arguments give
    byte-identical files. ``plant`` takes the keyword arguments of
    :func:`generate_study` (``plant=False`` or any of the effect keys, e.g.
    ``age_belonging=-0.3``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    do_plant = bool(plant.pop("plant", True))
    effects_b = _effect_sizes(do_plant, plant)
    tables = generate_study(seed, n_mentees, n_controls, plant=do_plant, did_shift=did_shift,
                            sessions=sessions, **plant)
    for name, df in tables.items():
        # age is the only float column: one decimal, fixed format
        df.to_csv(out / f"{name}.csv", index=False, lineterminator="\n", encoding="utf-8",
                  float_format="%.1f")
    active = [(k, PLANTED[k], b) for k, b in effects_b.items() if b != 0]
    study = {
        "name": "Mentoring Urban Talent — synthetic example cohort",
        "cohort": cohort,
        "synthetic": True,
        "language": "nl",
        "seed": int(seed),
        "analysis": {
            "bootstrap": int(bootstrap), "seed": int(seed), "alpha": 0.05, "min_cell": 10,
            "prespecified_moderators": [
                {"outcome": e.outcome, "change": e.change, "moderator": e.moderator} for _, e, _ in active],
        },
    }
    header = ("# SYNTHETIC DATA generated by `mut-eval synth` (mut_eval.synth.write_study);\n"
              f"# n_mentees={int(n_mentees)}, n_controls={int(n_controls)}, seed={int(seed)}. "
              "Not real pupils. See README.md.\n"
              "# Planted moderation (b per unit of the moderator): "
              + (", ".join(f"{k}={b:g}" for k, _, b in active) or "none") + "\n"
              "# Clustering (variances of the latent, pupil level = 1): "
              f"school={_SCHOOL_VAR:g}, class={_CLASS_VAR:g}, class_x_wave={_CLASS_WAVE_VAR:g}, "
              f"mentor_group_T2_T3={_MENTOR_VAR:g}\n")
    text = header + yaml.safe_dump(study, sort_keys=False, allow_unicode=True, default_flow_style=False)
    (out / "study.yaml").write_text(text, encoding="utf-8", newline="\n")
    rows = "\n".join(f"| {e.outcome} | {e.change} | {e.moderator} | {b:g} |" for _, e, b in active) \
        or "| (none planted) | | | |"
    (out / "README.md").write_text(
        _README.format(seed=int(seed), n_m=int(n_mentees), n_c=int(n_controls), rows=rows,
                       held=int(sessions[1]), held2=int(sessions[1]) + 2, planned=int(sessions[0]),
                       covid=" (COVID)" if tuple(sessions) == (20, 10) else "",
                       shift_note=_shift_note(did_shift)),
        encoding="utf-8", newline="\n")
    return out


def calibration_table(tables: dict[str, pd.DataFrame], codebook: Codebook | None = None) -> pd.DataFrame:
    """Completers' scale means and SDs (n - 1) next to :data:`TABLE2`.

    ``tables`` as returned by :func:`generate_study` (or read from a study folder).
    Completers of an outcome are the pupils scored at T1, T2 and T3. Columns:
    ``outcome``, ``condition``, ``wave``, ``n``, ``target_mean``, ``mean``,
    ``target_sd``, ``sd``.
    """
    from .intake.scoring import score_wave

    cb = codebook or load_codebook()
    cond = tables["students"].set_index("student_id")["condition"]
    scored = {w: score_wave(tables[f"wave_{w}"].set_index("student_id"), cb, w) for w in WAVES}
    rows = []
    for key in OUTCOMES:
        wide = pd.concat({w: scored[w][key] for w in WAVES}, axis=1).dropna()
        for c in ("mentee", "control"):
            sub = wide[cond.reindex(wide.index).to_numpy() == c]
            for j, w in enumerate(WAVES):
                tm, tsd = TABLE2[key][c][j]
                rows.append({"outcome": key, "condition": c, "wave": w, "n": len(sub),
                             "target_mean": tm, "mean": float(sub[w].mean()),
                             "target_sd": tsd, "sd": float(sub[w].std(ddof=1))})
    return pd.DataFrame(rows)


# the synthetic programme: reach grows, the true effect varies from cohort to cohort
_PROGRAMME_SIZES = ((80, 50), (124, 66), (160, 80), (200, 90), (240, 100), (260, 110))
_PROGRAMME_SESSIONS = ((20, 10), (16, 12), (14, 11), (12, 10), (12, 10), (12, 10))


def _shift_note(did_shift) -> str:
    if isinstance(did_shift, dict):
        if not did_shift:
            return ""
        moved = "; ".join(f"{o} {a:+.2f}/{b:+.2f}" for o, (a, b) in did_shift.items())
        return ("\n  The mentees' T2/T3 means were then moved (in SD of T1) by: " + moved + "\n"
                "  (this cohort's programme effect plus its sampling error).")
    if not did_shift:
        return ""
    return (f" The mentees' T2 and T3 means were then moved by {did_shift:+.2f} SD of T1\n"
            "  (a cohort whose programme effect differs from the published one).")


def write_programme(out_dir: str | Path, cohorts: int = 4, seed: int = 2019, first_year: int = 2019,
                    bootstrap: int = 1000, scale: float = 1.0, pupils: int | None = None) -> Path:
    """Write a SYNTHETIC programme folder (issue 14): ``programme.yaml`` and one study
    folder per cohort (``cohort_<year>``, each made by :func:`write_study`).

    Cohorts ``first_year``-``first_year+1`` onwards; reach grows (80 mentees and 50
    controls in the first year to 200 and 90 in the fourth, times ``scale``); sessions
    planned fall from 20 (10-12 held, the COVID year) to 12 (10-12 held); the true
    programme effect varies between cohorts: each cohort's mentee means at T2 and T3 are
    moved by a draw from N(0.10, 0.08²) SD of T1 (a between-cohort SD of .08, about τ =
    .08 in g, as the spread of effects across years of one programme in DuBois et al.
    2011). The generator reproduces its target means exactly, so each cohort, outcome and
    wave also gets the sampling error of a mean difference of clustered changes,
    N(0, 4·0.7²(1/n_m + 1/n_c)) SD of T1 (0.7 ≈ the SD of a change over the T1 SD with a
    T1–T2 correlation of .75; 4 = the design effect 1 + (25 − 1)·.125 of classes of 25 with
    an ICC of the change of about .125): without it every cohort would show the same effect. ``pupils``: every cohort that size instead (two thirds mentees; for benchmarks,
    any number of cohorts, the last sizes and sessions repeated). Targets for the last two
    cohorts exercise the target table. The same arguments give byte-identical files."""
    if cohorts < 1 or (pupils is None and cohorts > len(_PROGRAMME_SIZES)):
        raise ValueError(f"cohorts must be between 1 and {len(_PROGRAMME_SIZES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    shifts = rng.normal(0.10, 0.08, size=cohorts)
    noise_rng = np.random.default_rng([seed, 14])
    entries, targets = [], {}
    for k in range(cohorts):
        year = first_year + k
        label = f"{year}-{year + 1}"
        size = _PROGRAMME_SIZES[min(k, len(_PROGRAMME_SIZES) - 1)] if pupils is None else \
            (pupils - pupils // 3, pupils // 3)
        n_m, n_c = (max(4, int(round(x * scale))) for x in size)
        se = 2.0 * 0.7 * np.sqrt(1 / n_m + 1 / n_c)
        moved = {o: tuple(float(round(shifts[k] + e, 3)) for e in noise_rng.normal(0, se, size=2))
                 for o in OUTCOMES}
        write_study(out / f"cohort_{year}", seed=seed * 100 + k, n_mentees=n_m, n_controls=n_c,
                    did_shift=moved,
                    sessions=_PROGRAMME_SESSIONS[min(k, len(_PROGRAMME_SESSIONS) - 1)],
                    cohort=f"{label} (synthetic)", bootstrap=bootstrap)
        entries.append({"cohort": label, "study": f"cohort_{year}"})
        if k >= cohorts - 2:
            targets[label] = {"matched": int(round(n_m * 1.05)), "sessions_attended_share": 0.75,
                              "response_T3": 0.85}
    cfg = {"name": "Mentoring Urban Talent — synthetic programme", "language": "nl",
           "cohorts": entries, "targets": targets}
    text = ("# SYNTHETIC programme generated by `mut-eval synth-programme` (mut_eval.synth.write_programme);\n"
            f"# cohorts={cohorts}, seed={seed}, true shifts of the mentee change (SD of T1): "
            + ", ".join(f"{e['cohort']} {s:+.3f}" for e, s in zip(entries, shifts)) + ". Not real pupils.\n"
            + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, default_flow_style=None))
    (out / "programme.yaml").write_text(text, encoding="utf-8", newline="\n")
    return out
