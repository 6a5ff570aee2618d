"""Balance statistics (cobalt's ATT conventions) and ATT weights: by hand, by an
independent solve, and against R glm(binomial)."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize

from mut_eval import StudyError
from mut_eval.stats.balance import (
    BALANCE_COLUMNS,
    balance_table,
    covariate_design,
    entropy_weights,
    ess,
    logistic_att_weights,
    weights_summary,
)

REF = Path(__file__).parent / "reference"

# ------------------------------------------------------------------ balance by hand
# Eight pupils: rows 0-3 mentees, rows 4-7 controls; control weights 2, 1, .5, .5.
SMALL = pd.DataFrame({
    "age": [12.0, 13, 13, 14, 12, 12, 14, 16],
    "gender": ["girl", "boy", "girl", "girl", "boy", "boy", "girl", "boy"],
    "origin": ["NL", "MA", "TR", "NL", "NL", "NL", "MA", "NL"],
    "ses": [1.0, 2.0, np.nan, 3.0, 2.0, 3.0, 4.0, 3.0],
})
T = np.array([True] * 4 + [False] * 4)
W = np.array([1, 1, 1, 1, 2, 1, 0.5, 0.5])


def _row(tab, covariate, level=""):
    r = tab[(tab.covariate == covariate) & (tab.level == level)]
    assert len(r) == 1, (covariate, level)
    return r.iloc[0]


def test_balance_columns_and_rows():
    tab = balance_table(SMALL, T, W)
    assert list(tab.columns) == BALANCE_COLUMNS
    # gender: two levels -> one row for the second sorted level ("girl"), as cobalt;
    # origin: three levels -> one row per level; ses has a missing value -> extra row
    assert list(zip(tab.covariate, tab.level, tab.type)) == [
        ("age", "", "continuous"), ("gender", "girl", "binary"),
        ("origin", "MA", "binary"), ("origin", "NL", "binary"), ("origin", "TR", "binary"),
        ("ses", "", "continuous"), ("ses", "missing", "binary")]


def test_balance_continuous_by_hand():
    r = _row(balance_table(SMALL, T, W), "age")
    # mentees 12,13,13,14: mean 13, SS = 1+0+0+1 = 2, s_t² = 2/3 (n-1), s_t = .816497
    # controls 12,12,14,16: mean 13.5, SS = 2.25+2.25+.25+6.25 = 11, s_c² = 11/3
    assert r.mean_mentee == pytest.approx(13.0, abs=1e-12)
    assert r.mean_control == pytest.approx(13.5, abs=1e-12)
    # SMD = (13 - 13.5)/sqrt(2/3)
    assert r.smd == pytest.approx(-0.5 / math.sqrt(2 / 3), abs=1e-12)
    # variance ratio treated/control (cobalt col_w_vr) = (2/3)/(11/3) = 2/11
    assert r.var_ratio == pytest.approx(2 / 11, abs=1e-12)
    # eCDFs at 12, 13, 14, 16: mentees 1/4, 3/4, 1, 1; controls 2/4, 2/4, 3/4, 1
    # gaps .25, .25, .25, 0 -> KS = .25
    assert r.ks == pytest.approx(0.25, abs=1e-12)
    # weighted controls (w 2, 1, .5, .5; sum 4): mean (24 + 12 + 7 + 8)/4 = 12.75
    assert r.mean_control_weighted == pytest.approx(12.75, abs=1e-12)
    # SMD_w keeps the unweighted mentee SD: (13 - 12.75)/sqrt(2/3)
    assert r.smd_weighted == pytest.approx(0.25 / math.sqrt(2 / 3), abs=1e-12)
    # weighted control variance, normalised weights w~ = .5, .25, .125, .125:
    # deviations from 12.75: -.75, -.75, 1.25, 3.25; Σw~d² = .28125 + .140625 +
    # .1953125 + 1.3203125 = 1.9375; 1 - Σw~² = 1 - .34375 = .65625; var = 62/21
    # ratio (2/3)/(62/21) = 7/31
    assert r.var_ratio_weighted == pytest.approx(7 / 31, abs=1e-12)
    # weighted control eCDF at 12, 13, 14, 16: 3/4, 3/4, 7/8, 1; mentees 1/4, 3/4, 1, 1
    # gaps .5, 0, .125, 0 -> KS_w = .5
    assert r.ks_weighted == pytest.approx(0.5, abs=1e-12)


def test_balance_binary_and_categorical_by_hand():
    tab = balance_table(SMALL, T, W)
    g = _row(tab, "gender", "girl")
    # girls: mentees 3/4, controls 1/4 -> raw difference .5 (not standardised)
    assert (g.mean_mentee, g.mean_control) == pytest.approx((0.75, 0.25), abs=1e-12)
    assert g.smd == pytest.approx(0.5, abs=1e-12)
    assert g.ks == pytest.approx(0.5, abs=1e-12)
    assert math.isnan(g.var_ratio) and math.isnan(g.var_ratio_weighted)
    # weighted: only control row 6 (weight .5) is a girl -> .5/4 = .125; .75 - .125
    assert g.mean_control_weighted == pytest.approx(0.125, abs=1e-12)
    assert g.smd_weighted == pytest.approx(0.625, abs=1e-12)
    assert g.ks_weighted == pytest.approx(0.625, abs=1e-12)
    # origin: mentees NL, MA, TR, NL; controls NL, NL, MA, NL
    ma, nl, tr = (_row(tab, "origin", lev) for lev in ("MA", "NL", "TR"))
    assert (ma.smd, nl.smd, tr.smd) == pytest.approx((0.0, 0.5 - 0.75, 0.25), abs=1e-12)
    # weighted controls: NL = (2 + 1 + .5)/4 = .875, MA = .5/4 = .125, TR = 0
    assert (ma.mean_control_weighted, nl.mean_control_weighted,
            tr.mean_control_weighted) == pytest.approx((0.125, 0.875, 0.0), abs=1e-12)
    assert nl.smd_weighted == pytest.approx(0.5 - 0.875, abs=1e-12)


def test_balance_missing_values_by_hand():
    tab = balance_table(SMALL, T, W)
    s = _row(tab, "ses")
    # mentee 3 has no ses: mentees 1, 2, 3 (mean 2, s_t = 1); controls 2, 3, 4, 3
    # (mean 3, SS = 1 + 0 + 1 + 0 = 2, var 2/3)
    assert s.smd == pytest.approx(-1.0, abs=1e-12)
    assert s.var_ratio == pytest.approx(1 / (2 / 3), abs=1e-12)
    # eCDFs at 1, 2, 3, 4: mentees 1/3, 2/3, 1, 1; controls 0, 1/4, 3/4, 1 -> 5/12
    assert s.ks == pytest.approx(5 / 12, abs=1e-12)
    # weighted control mean (2·2 + 1·3 + .5·4 + .5·3)/4 = 2.625
    assert s.smd_weighted == pytest.approx(2 - 2.625, abs=1e-12)
    m = _row(tab, "ses", "missing")
    # proportion missing: mentees 1/4, controls 0
    assert (m.mean_mentee, m.mean_control, m.smd) == pytest.approx((0.25, 0.0, 0.25))


def test_balance_without_weights_and_numeric_binary():
    X = pd.DataFrame({"first_generation": [1, 0, 1, 1, 0, 0, 1, 0]})
    tab = balance_table(X, T)
    r = tab.iloc[0]
    # numeric 0/1: one row for level "1"; mentees 3/4, controls 1/4
    assert (r.level, r.type, r.smd) == ("1", "binary", pytest.approx(0.5))
    assert tab[["mean_control_weighted", "smd_weighted", "ks_weighted"]].isna().all().all()


def test_balance_treated_sd_zero_falls_back_to_whole_sample():
    # mentees all 10: s_t = 0; cobalt then uses the SD of the whole sample:
    # values 10,10,10,10,8,9,11,12: mean 10, SS = 4+1+1+4 = 10, var 10/7
    X = pd.DataFrame({"x": [10.0, 10, 10, 10, 8, 9, 11, 12]})
    r = balance_table(X, T).iloc[0]
    assert r.smd == pytest.approx(0.0, abs=1e-12)   # means 10 and 10
    X2 = pd.DataFrame({"x": [10.0, 10, 10, 10, 8, 9, 11, 14]})
    # controls mean 10.5; whole sample mean 10.25, SS = 4·.0625 + 5.0625 + 1.5625
    # + .5625 + 14.0625 = 21.5 -> var 21.5/7
    r2 = balance_table(X2, T).iloc[0]
    assert r2.smd == pytest.approx(-0.5 / math.sqrt(21.5 / 7), abs=1e-12)


def test_balance_input_errors():
    with pytest.raises(ValueError, match="boolean"):
        balance_table(SMALL, T.astype(int))
    with pytest.raises(StudyError, match="both"):
        balance_table(SMALL, np.ones(8, dtype=bool))
    with pytest.raises(ValueError, match="mentees' weights"):
        balance_table(SMALL, T, np.arange(1, 9, dtype=float))


def test_ess_and_weights_summary():
    # (1 + 1 + 2)² / (1 + 1 + 4) = 16/6
    assert ess([1, 1, 2]) == pytest.approx(16 / 6)
    assert ess(np.ones(7)) == pytest.approx(7.0)
    s = weights_summary(W, T, "entropy")
    assert list(s.columns) == ["condition", "n", "ess", "min_weight", "max_weight", "method"]
    c = s.set_index("condition").loc["control"]
    # (2 + 1 + .5 + .5)² / (4 + 1 + .25 + .25) = 16/5.5
    assert (c.n, c.ess, c.min_weight, c.max_weight) == (4, pytest.approx(16 / 5.5), 0.5, 2.0)


# ------------------------------------------------------------------ entropy balancing

def _selection_data(n=80, seed=13):
    rng = np.random.default_rng(seed)
    age = rng.normal(13, 1, n).round(1)
    ses = rng.normal(0, 1, n)
    girl = rng.integers(0, 2, n)
    origin = rng.choice(["NL", "MA", "TR"], n, p=[.6, .25, .15])
    lin = -0.3 + 0.5 * (age - 13) - 0.6 * ses + 0.4 * girl + 0.5 * (origin == "MA")
    treated = rng.random(n) < 1 / (1 + np.exp(-lin))
    X = pd.DataFrame({"age": age, "ses": ses, "gender": np.where(girl == 1, "girl", "boy"),
                      "origin": pd.Categorical(origin, categories=["NL", "MA", "TR"])})
    return X, treated


def _dummies(X):
    # the test's own numeric coding: girl indicator, origin MA and TR indicators
    return np.column_stack([X.age, X.ses, X.gender == "girl", X.origin == "MA",
                            X.origin == "TR"]).astype(float)


def test_entropy_reproduces_target_means():
    X, t = _selection_data()
    w = entropy_weights(X, t).to_numpy()
    C = _dummies(X)
    target = C[t].mean(axis=0)
    achieved = (w[~t] @ C[~t]) / w[~t].sum()
    assert np.max(np.abs(achieved - target)) < 1e-8
    assert np.all(w[t] == 1.0)
    # WeightIt's scale: the control weights sum to the number of mentees
    assert w[~t].sum() == pytest.approx(t.sum(), rel=1e-12)
    tab = balance_table(X, t, w)
    assert np.max(np.abs(tab.smd_weighted)) < 1e-8


def test_entropy_matches_independent_bfgs_solve():
    X, t = _selection_data()
    w = entropy_weights(X, t).to_numpy()
    C = _dummies(X)
    Z = (C[~t] - C[t].mean(axis=0)) / C.std(axis=0)

    def dual(lam):        # log Σ exp(λ'z_i), Hainmueller's dual up to constants
        a = Z @ lam
        return a.max() + np.log(np.exp(a - a.max()).sum())

    def grad(lam):
        a = Z @ lam
        p = np.exp(a - a.max())
        return (p / p.sum()) @ Z

    opt = minimize(dual, np.zeros(Z.shape[1]), jac=grad, method="BFGS",
                   options={"gtol": 1e-12, "maxiter": 10_000})
    a = Z @ opt.x
    p = np.exp(a - a.max())
    w_ref = p / p.sum() * t.sum()
    assert np.max(np.abs(w[~t] - w_ref)) < 1e-6


def test_entropy_second_moments_match_population_variance():
    X, t = _selection_data()
    w = entropy_weights(X, t, moments=2).to_numpy()
    wc = w[~t] / w[~t].sum()
    for col in ("age", "ses"):
        x = X[col].to_numpy()
        m_c = wc @ x[~t]
        # the mentees' variance with divisor n (population), as WeightIt's ebal
        v_t = x[t].var(ddof=0)
        v_c = wc @ (x[~t] - m_c) ** 2
        assert m_c == pytest.approx(x[t].mean(), abs=1e-8)
        assert v_c == pytest.approx(v_t, abs=1e-8)


def test_entropy_second_moments_in_cobalt_variance_ratio():
    # the balance table's variance ratio uses cobalt's unbiased forms: the mentees'
    # n/(n-1)·v_pop over the controls' v_pop/(1 - Σw~²); after moments = 2 the
    # population variances are equal, so the ratio is (n/(n-1))·(1 - Σw~²), not 1
    X, t = _selection_data()
    w = entropy_weights(X, t, moments=2).to_numpy()
    wc = w[~t] / w[~t].sum()
    n = t.sum()
    expect = n / (n - 1) * (1 - np.sum(wc ** 2))
    tab = balance_table(X, t, w).set_index("covariate")
    assert tab.loc["age", "var_ratio_weighted"] == pytest.approx(expect, rel=1e-8)
    assert tab.loc["ses", "var_ratio_weighted"] == pytest.approx(expect, rel=1e-8)


def test_entropy_no_overlap_names_the_covariate():
    X, t = _selection_data()
    X = X.assign(age=np.where(t, X.age + 10, X.age))   # every mentee older than any control
    with pytest.raises(StudyError, match=r"'age'.*outside the range of the controls"):
        entropy_weights(X, t)


def test_entropy_jointly_impossible_target_raises():
    # controls at (0,0), (1,0), (0,1); mentees' mean (.6, .6) is inside each covariate's
    # range but outside the controls' convex hull (x + y ≤ 1): the dual is unbounded
    a = [1, 1, 1, 0, 0] + [0, 0, 1, 1, 0, 0]
    b = [1, 1, 0, 1, 0] + [0, 0, 0, 0, 1, 1]
    X = pd.DataFrame({"a": a, "b": b})
    t = np.array([True] * 5 + [False] * 6)
    with pytest.raises(StudyError, match=r"did not converge.*'(a|b)\[1\]'"):
        entropy_weights(X, t)


def test_entropy_missing_covariate_is_a_clear_error():
    X, t = _selection_data()
    X.loc[3, "ses"] = np.nan
    with pytest.raises(StudyError, match=r"'ses' \(1 missing\)"):
        entropy_weights(X, t)


# ------------------------------------------------------------------ logistic PS weights

def _irls(Xd, y, n_iter=50):
    """Fisher scoring for the logit link, written out: β ← (X'WX)⁻¹X'Wz."""
    beta = np.zeros(Xd.shape[1])
    for _ in range(n_iter):
        eta = Xd @ beta
        mu = 1 / (1 + np.exp(-eta))
        wt = mu * (1 - mu)
        z = eta + (y - mu) / wt
        beta = np.linalg.solve(Xd.T @ (Xd * wt[:, None]), Xd.T @ (wt * z))
    return beta


def test_logistic_coefficients_equal_irls_and_weights_by_formula():
    X, t = _selection_data()
    w, ps, fit = logistic_att_weights(X, t)
    Xd = np.column_stack([np.ones(len(X)), _dummies(X)])
    beta = _irls(Xd, t.astype(float))
    assert np.max(np.abs(np.asarray(fit.params) - beta)) < 1e-8
    # and statsmodels' Logit (Newton on the log-likelihood, not IRLS)
    import statsmodels.api as sm
    logit = sm.Logit(t.astype(float), Xd).fit(disp=0, method="newton", tol=1e-12)
    assert np.max(np.abs(np.asarray(fit.params) - logit.params)) < 1e-8
    e = 1 / (1 + np.exp(-(Xd @ beta)))
    assert np.max(np.abs(ps.to_numpy() - e)) < 1e-10
    # ATT weights: 1 for mentees, the odds e/(1 - e) for controls
    w_hand = np.where(t, 1.0, e / (1 - e))
    assert np.max(np.abs(w.to_numpy() - w_hand)) < 1e-10


def test_logistic_equals_r_glm():
    data = pd.read_csv(REF / "balance_glm_data.csv")
    ref = pd.read_csv(REF / "balance_glm_reference.csv")
    t = data.pop("mentee").to_numpy().astype(bool)
    data["origin"] = pd.Categorical(data.origin, categories=["NL", "MA", "TR"])
    w, ps, fit = logistic_att_weights(data, t)
    coef = ref[ref.kind == "coef"].set_index("name").value
    r_names = {"(Intercept)": "(Intercept)", "age": "age", "ses": "ses",
               "gendergirl": "gender[girl]", "originMA": "origin[MA]", "originTR": "origin[TR]"}
    for r_name, ours in r_names.items():
        assert fit.params[ours] == pytest.approx(coef[r_name], abs=1e-8)
    r_ps = ref[ref.kind == "ps"].value.to_numpy()
    assert np.max(np.abs(ps.to_numpy() - r_ps)) < 1e-8
    r_w = ref[ref.kind == "weight"].value.to_numpy()
    assert np.max(np.abs(w.to_numpy() - r_w)) < 1e-8


def test_logistic_trim_at_quantile_type_3():
    X, t = _selection_data()
    w0, _, _ = logistic_att_weights(X, t)
    w1, _, _ = logistic_att_weights(X, t, trim=0.9)
    wc = np.sort(w0.to_numpy()[~t])
    n = wc.size
    # R quantile type 3 (WeightIt's trim): j = floor(n·p - 1/2), g = n·p - 1/2 - j;
    # the j-th order statistic when g = 0 and j is even, else the (j+1)-th
    j = math.floor(n * 0.9 - 0.5)
    g = n * 0.9 - 0.5 - j
    cap = wc[j - 1] if (g == 0 and j % 2 == 0) else wc[j]
    expect = np.where(t, 1.0, np.minimum(w0.to_numpy(), cap))
    assert np.max(np.abs(w1.to_numpy() - expect)) < 1e-12
    assert (w1.to_numpy()[~t] == cap).sum() >= 1


def test_logistic_perfect_separation_is_a_clear_error():
    X = pd.DataFrame({"age": [14.0, 15, 16, 15, 11, 12, 12, 13]})
    with pytest.raises(StudyError, match="separate mentees from controls"):
        logistic_att_weights(X, T)


def test_covariate_design_reference_levels():
    D = covariate_design(SMALL.drop(columns="ses"))
    # gender: "girl" indicator; origin: MA is the first sorted level, so NL and TR
    assert list(D.columns) == ["age", "gender[girl]", "origin[NL]", "origin[TR]"]


def test_entropy_with_nothing_to_balance_gives_equal_weights():
    # a covariate constant in both groups: the controls keep equal weights, n_t/n_c each
    X = pd.DataFrame({"school_year": [2.0] * 8})
    w = entropy_weights(X, T).to_numpy()
    assert np.allclose(w, [1, 1, 1, 1, 1, 1, 1, 1])
