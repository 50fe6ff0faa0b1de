"""Aim 2 (alliance development) against computations that share no code with the module.

The module fits the profile analysis with its own NumPy general-linear-hypothesis code and
the mixed model with statsmodels' MixedLM array interface.  The references here are:

* Wilks' Λ from E and H written out from their textbook definitions on *orthogonal
  polynomial* contrasts (linear, quadratic) instead of the module's difference scores
  (Λ is invariant to the full-rank contrast):
      E      = Σ_g Σ_i (d_i − d̄_g)(d_i − d̄_g)'                  (pooled within-group SSCP)
      H_par  = Σ_g n_g (d̄_g − d̄)(d̄_g − d̄)'                    (between-group SSCP)
      H_flat = ñ · d̄_u d̄_u',  d̄_u = (d̄_1 + d̄_2)/2,  ñ = 4 / (1/n_1 + 1/n_2)
  Derivation of H_flat (type III, effect coding X = [1, ±1]): the intercept estimate is the
  unweighted mean d̄_u of the two group means, and L(X'X)⁻¹L' for L = [1, 0] is
  (1/n_1 + 1/n_2)/4, so H = d̄_u [(1/n_1 + 1/n_2)/4]⁻¹ d̄_u' (g²/Σ 1/n_g with g = 2 groups).
  With equal n, ñ = n and d̄_u is the grand mean.
* statsmodels ``MANOVA.from_formula("d1 + d2 ~ C(condition, Sum)")`` — its ``Intercept`` row
  is the flatness test (sum coding ⇒ intercept = unweighted mean), its
  ``C(condition, Sum)`` row the parallelism test.
* Hotelling's T²: two-sample for parallelism, one-sample (pooled within-group covariance,
  and the plain one-sample test when the group means coincide or only one group exists)
  for flatness, F = (ν − p + 1)/(p ν) · T².
* condition: scipy's pooled two-sample t test on the mean of the three weeks (F = t²).
* descriptives: pandas groupby.
* mixed model: statsmodels' formula interface ``smf.mixedlm`` for B and the variance
  components; the model-based SE √diag σ̂²(X'V̂⁻¹X)⁻¹ from the dense N × N matrix
  V = σ²I + τ²·[same participant] inverted by NumPy (``dense_mixed_reference``); and, for
  complete balanced data, the closed form (fixed effects = OLS, REML variance components =
  the ANOVA estimators of the within- and between-participant residual mean squares).
  More on the model-based SE, the contrasts and boundary fits in test_model_based_se.py.
"""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.multivariate.manova import MANOVA

from alliance_report.analysis.alliance import alliance_descriptives, alliance_manova, alliance_mixed

RTOL = 1e-6
WAI = ["wai_w2", "wai_w5", "wai_w9"]
WEEKS = {"W2": "wai_w2", "W5": "wai_w5", "W9": "wai_w9"}
# orthogonal polynomial contrasts for 3 equally treated occasions: linear, quadratic
POLY = np.array([[-1.0, 1.0], [0.0, -2.0], [1.0, 1.0]])
DIFFERENCES = np.array([[-1.0, 0.0], [1.0, -1.0], [0.0, 1.0]])   # W5 − W2, W9 − W5


def alliance_frame(seed=1, n_mbct=40, n_embct=40, missing=0.0, n_untreated=5, shift=0.25):
    """Synthetic analysis table; eMBCT's alliance grows differently (``shift``)."""
    rng = np.random.default_rng(seed)
    n = n_mbct + n_embct
    condition = np.array(["MBCT"] * n_mbct + ["eMBCT"] * n_embct, dtype=object)
    embct = (condition == "eMBCT").astype(float)
    person = rng.normal(0, 0.55, n)
    slope = rng.normal(0, 0.3, n)
    wai = np.column_stack([
        3.3 + person + rng.normal(0, 0.2, n),
        3.5 + person + (0.4 + shift * embct) * slope + rng.normal(0, 0.2, n),
        3.7 - 0.5 * shift * embct + person + slope + rng.normal(0, 0.2, n),
    ])
    wai = np.clip(wai, 1, 5)
    wai[rng.random(wai.shape) < missing] = np.nan
    frame = pd.DataFrame(wai, columns=WAI)
    frame.insert(0, "treated", True)
    frame.insert(1, "condition", condition)
    frame.insert(2, "condition_embct", embct)
    untreated = pd.DataFrame({"treated": [False] * n_untreated, "condition": [None] * n_untreated,
                              "condition_embct": np.nan})
    for col in WAI:   # scores of untreated participants must never count
        untreated[col] = rng.uniform(1, 5, n_untreated)
    frame = pd.concat([frame, untreated], ignore_index=True).sample(frac=1.0, random_state=seed)
    frame.index = pd.Index([f"P{i:04d}" for i in range(len(frame))], name="participant_id")
    return frame


def complete(frame):
    return frame[frame["treated"]].dropna(subset=WAI)


def groups(cases, contrast=POLY):
    """Transformed scores per condition, MBCT first."""
    return [cases.loc[cases["condition"] == c, WAI].to_numpy() @ contrast for c in ("MBCT", "eMBCT")]


def within_sscp(parts):
    return sum((d - d.mean(0)).T @ (d - d.mean(0)) for d in parts)


def reference_wilks(cases):
    """Λ for flatness (type III) and parallelism from the textbook E and H (module doc)."""
    parts = groups(cases)
    n1, n2 = len(parts[0]), len(parts[1])
    E = within_sscp(parts)
    grand = np.vstack(parts).mean(0)
    H_par = sum(len(d) * np.outer(d.mean(0) - grand, d.mean(0) - grand) for d in parts)
    unweighted = (parts[0].mean(0) + parts[1].mean(0)) / 2
    H_flat = 4 / (1 / n1 + 1 / n2) * np.outer(unweighted, unweighted)
    wilks = lambda H: np.linalg.det(E) / np.linalg.det(E + H)  # noqa: E731
    return wilks(H_flat), wilks(H_par), E, grand


def hotelling_f(t2, nu, p=2):
    """F of Hotelling's T² with error df ν: (ν − p + 1)/(p ν) · T², df (p, ν − p + 1)."""
    df2 = nu - p + 1
    f = df2 / (p * nu) * t2
    return f, df2, stats.f.sf(f, p, df2)


def assert_close(got: dict, want: dict):
    for key, value in want.items():
        assert got[key] == pytest.approx(value, rel=RTOL), key


def assert_json_plain(result):
    json.dumps(result, allow_nan=False)


# ----------------------------------------------------------------------------- MANOVA

DESIGNS = {
    "balanced": dict(seed=1, n_mbct=45, n_embct=45),
    "unbalanced": dict(seed=2, n_mbct=30, n_embct=63),
    "missing": dict(seed=3, n_mbct=70, n_embct=55, missing=0.25),
}


@pytest.mark.parametrize("design", DESIGNS)
def test_wilks_matches_textbook_E_and_H(design):
    frame = alliance_frame(**DESIGNS[design])
    cases = complete(frame)
    flat, par, *_ = reference_wilks(cases)
    result = alliance_manova(frame)
    n = len(cases)
    assert result["n"] == n and result["not_estimable_reason"] is None
    for key, wilks in (("time", flat), ("time_x_condition", par)):
        got = result[key]
        assert got["df1"] == 2 and got["df2"] == n - 3
        assert got["wilks"] == pytest.approx(wilks, rel=RTOL)
        assert got["partial_eta_sq"] == pytest.approx(1 - wilks, rel=RTOL)
        assert got["f"] == pytest.approx((1 - wilks) / wilks * (n - 3) / 2, rel=RTOL)
    assert_json_plain(result)


@pytest.mark.parametrize("design", DESIGNS)
def test_manova_matches_statsmodels_sum_coded(design):
    frame = alliance_frame(**DESIGNS[design])
    cases = complete(frame).copy()
    cases["d1"] = cases["wai_w5"] - cases["wai_w2"]
    cases["d2"] = cases["wai_w9"] - cases["wai_w5"]
    tests = MANOVA.from_formula("d1 + d2 ~ C(condition, Sum)", cases).mv_test().results
    result = alliance_manova(frame)
    for key, row in (("time", "Intercept"), ("time_x_condition", "C(condition, Sum)")):
        stat = tests[row]["stat"].loc["Wilks' lambda"]
        assert_close(result[key], {"wilks": stat["Value"], "f": stat["F Value"], "p": stat["Pr > F"]})
        assert result[key]["df1"] == stat["Num DF"] and result[key]["df2"] == stat["Den DF"]


@pytest.mark.parametrize("design", DESIGNS)
def test_parallelism_is_two_sample_hotelling(design):
    frame = alliance_frame(**DESIGNS[design])
    parts = groups(complete(frame), DIFFERENCES)
    n1, n2 = len(parts[0]), len(parts[1])
    nu = n1 + n2 - 2
    pooled = (np.cov(parts[0].T) * (n1 - 1) + np.cov(parts[1].T) * (n2 - 1)) / nu
    delta = parts[0].mean(0) - parts[1].mean(0)
    t2 = n1 * n2 / (n1 + n2) * delta @ np.linalg.solve(pooled, delta)
    f, df2, p = hotelling_f(t2, nu)
    got = alliance_manova(frame)["time_x_condition"]
    assert got["df2"] == df2 == n1 + n2 - 3
    assert_close(got, {"f": f, "p": p})


def test_flatness_balanced_is_one_sample_hotelling_with_pooled_covariance():
    frame = alliance_frame(seed=4, n_mbct=40, n_embct=40)
    parts = groups(complete(frame))
    n = sum(len(d) for d in parts)
    pooled = within_sscp(parts) / (n - 2)
    mean = np.vstack(parts).mean(0)
    t2 = n * mean @ np.linalg.solve(pooled, mean)
    f, df2, p = hotelling_f(t2, n - 2)
    got = alliance_manova(frame)["time"]
    assert got["df2"] == df2
    assert_close(got, {"f": f, "p": p})


def test_flatness_balanced_equal_profiles_is_plain_one_sample_hotelling():
    """When the two condition means coincide, E = the total SSCP and Λ is that of the plain
    one-sample Hotelling T² (the F differs only by the one df spent on condition)."""
    frame = alliance_frame(seed=5, n_mbct=35, n_embct=35)
    treated = frame["treated"]
    for condition in ("MBCT", "eMBCT"):   # centre each condition on the same profile
        rows = treated & (frame["condition"] == condition)
        frame.loc[rows, WAI] = frame.loc[rows, WAI] - frame.loc[rows, WAI].mean() + [3.3, 3.5, 3.8]
    d = complete(frame)[WAI].to_numpy() @ POLY
    n = len(d)
    mean = d.mean(0)
    t2 = n * mean @ np.linalg.solve(np.cov(d.T), mean)
    got = alliance_manova(frame)["time"]
    assert got["wilks"] == pytest.approx(1 / (1 + t2 / (n - 1)), rel=RTOL)
    assert got["df2"] == n - 3
    assert alliance_manova(frame)["time_x_condition"]["wilks"] == pytest.approx(1.0, rel=RTOL)


def test_flatness_unbalanced_uses_unweighted_means():
    frame = alliance_frame(seed=6, n_mbct=30, n_embct=63, shift=0.6)
    cases = complete(frame)
    parts = groups(cases)
    n1, n2 = len(parts[0]), len(parts[1])
    nu = n1 + n2 - 2
    pooled = within_sscp(parts) / nu
    unweighted = (parts[0].mean(0) + parts[1].mean(0)) / 2
    t2 = 4 / (1 / n1 + 1 / n2) * unweighted @ np.linalg.solve(pooled, unweighted)
    f, df2, p = hotelling_f(t2, nu)
    got = alliance_manova(frame)["time"]
    assert_close(got, {"f": f, "p": p})
    # type I (weighted grand mean) would give a different answer with these unequal n
    E = within_sscp(parts)
    grand = np.vstack(parts).mean(0)
    weighted = np.linalg.det(E) / np.linalg.det(E + (n1 + n2) * np.outer(grand, grand))
    assert abs(got["wilks"] - weighted) > 1e-4


@pytest.mark.parametrize("design", DESIGNS)
def test_condition_is_pooled_t_squared(design):
    frame = alliance_frame(**DESIGNS[design])
    cases = complete(frame)
    level = cases[WAI].mean(axis=1)
    a, b = (level[cases["condition"] == c] for c in ("MBCT", "eMBCT"))
    t, p = stats.ttest_ind(a, b, equal_var=True)
    grand = level.mean()
    ss_effect = len(a) * (a.mean() - grand) ** 2 + len(b) * (b.mean() - grand) ** 2
    ss_error = ((a - a.mean()) ** 2).sum() + ((b - b.mean()) ** 2).sum()
    got = alliance_manova(frame)["condition"]
    assert got["df1"] == 1 and got["df2"] == len(cases) - 2
    assert_close(got, {"f": t ** 2, "p": p, "partial_eta_sq": ss_effect / (ss_effect + ss_error)})


# ----------------------------------------------------------------------------- MANOVA, degenerate data

def test_one_condition_without_complete_cases():
    frame = alliance_frame(seed=7, n_mbct=30, n_embct=20)
    frame.loc[frame["condition"] == "eMBCT", "wai_w9"] = np.nan
    result = alliance_manova(frame)
    d = complete(frame)[WAI].to_numpy() @ POLY
    n = len(d)
    mean = d.mean(0)
    t2 = n * mean @ np.linalg.solve(np.cov(d.T), mean)
    f, df2, p = hotelling_f(t2, n - 1)
    assert result["n"] == n == 30
    assert_close(result["time"], {"f": f, "p": p, "wilks": 1 / (1 + t2 / (n - 1))})
    assert result["time"]["df2"] == df2 == n - 2
    assert all(v is None for v in result["time_x_condition"].values())
    assert all(v is None for v in result["condition"].values())
    assert "no complete cases in eMBCT" in result["not_estimable_reason"]
    assert "within MBCT only" in result["not_estimable_reason"]
    assert_json_plain(result)


@pytest.mark.parametrize("n_mbct, n_embct", [(2, 1), (1, 2), (1, 1), (2, 0), (0, 1)])
def test_too_few_cases(n_mbct, n_embct):
    result = alliance_manova(alliance_frame(seed=8, n_mbct=n_mbct, n_embct=n_embct))
    assert result["n"] == n_mbct + n_embct
    for key in ("time", "time_x_condition", "condition"):
        assert all(v is None for v in result[key].values()), key
    present = (n_mbct > 0) + (n_embct > 0)
    assert result["not_estimable_reason"] == (f"too few complete cases in {present} "
                                              f"condition{'s' if present == 2 else ''}; the MANOVA needs "
                                              f"at least {present + 2}")
    assert_json_plain(result)


def test_minimum_cases_are_conditions_plus_two():
    result = alliance_manova(alliance_frame(seed=9, n_mbct=2, n_embct=2))
    assert result["time"]["df2"] == 1 and result["condition"]["df2"] == 2
    assert result["not_estimable_reason"] is None
    one_condition = alliance_manova(alliance_frame(seed=9, n_mbct=0, n_embct=3))
    assert one_condition["time"]["df2"] == 1 and one_condition["condition"]["f"] is None


@pytest.mark.parametrize("change", ["constant", "collinear"])
def test_singular_error_matrix(change):
    frame = alliance_frame(seed=10, n_mbct=25, n_embct=30)
    if change == "constant":
        frame["wai_w5"] = frame["wai_w2"] + 0.2
        frame["wai_w9"] = frame["wai_w5"] + 0.3
    else:
        frame["wai_w9"] = frame["wai_w5"] + 2 * (frame["wai_w5"] - frame["wai_w2"])
    result = alliance_manova(frame)
    assert all(v is None for v in result["time"].values())
    assert all(v is None for v in result["time_x_condition"].values())
    assert "singular error SSCP" in result["not_estimable_reason"]
    # the levels test does not involve E and is still estimated
    cases = complete(frame)
    level = cases[WAI].mean(axis=1)
    t, _ = stats.ttest_ind(*(level[cases["condition"] == c] for c in ("MBCT", "eMBCT")))
    assert result["condition"]["f"] == pytest.approx(t ** 2, rel=RTOL)
    assert_json_plain(result)


def test_all_wai_missing():
    frame = alliance_frame(seed=11)
    frame[WAI] = np.nan
    manova = alliance_manova(frame)
    assert manova["n"] == 0 and manova["time"]["wilks"] is None
    assert "no alliance complete cases" in manova["not_estimable_reason"]
    mixed = alliance_mixed(frame)
    assert mixed["n_observations"] == 0 and mixed["terms"]["week"]["b"] is None
    assert mixed["contrasts"]["week_average"] == dict.fromkeys(["b", "se", "z", "p", "ci_low", "ci_high"])
    assert mixed["variance_components"] == {"tau2": None, "sigma2": None} and mixed["note"] is None
    assert mixed["not_estimable_reason"]
    descriptives = alliance_descriptives(frame)
    for kind in ("complete_cases", "available"):
        for condition in ("MBCT", "eMBCT"):
            for week in WEEKS:
                assert descriptives[kind][condition][week] == {"n": 0, "mean": None, "sd": None, "ci_low": None, "ci_high": None}
    for result in (manova, mixed, descriptives):
        assert_json_plain(result)


# ----------------------------------------------------------------------------- descriptives

def test_descriptives_match_pandas_groupby():
    frame = alliance_frame(seed=12, n_mbct=50, n_embct=40, missing=0.3)
    result = alliance_descriptives(frame)
    treated = frame[frame["treated"]]
    samples = {"complete_cases": treated.dropna(subset=WAI), "available": treated}
    for kind, sample in samples.items():
        for week, col in WEEKS.items():
            table = sample.groupby("condition")[col].agg(["count", "mean", "std"])
            for condition in ("MBCT", "eMBCT"):
                got = result[kind][condition][week]
                assert got["n"] == table.loc[condition, "count"]
                assert got["mean"] == pytest.approx(table.loc[condition, "mean"], rel=RTOL)
                assert got["sd"] == pytest.approx(table.loc[condition, "std"], rel=RTOL)
                values = sample.loc[sample["condition"] == condition, col].dropna()
                interval = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
                assert (got["ci_low"], got["ci_high"]) == pytest.approx(interval, rel=RTOL)
    assert result["complete_cases"]["MBCT"]["W2"]["n"] < result["available"]["MBCT"]["W2"]["n"]


def test_descriptives_small_cells():
    frame = alliance_frame(seed=13, n_mbct=6, n_embct=6)
    embct = frame.index[frame["condition"] == "eMBCT"]
    frame.loc[embct[1:], "wai_w9"] = np.nan                     # one eMBCT W9 score left
    frame.loc[frame["condition"] == "MBCT", "wai_w5"] = np.nan   # no MBCT W5 score
    result = alliance_descriptives(frame)
    one = result["available"]["eMBCT"]["W9"]
    assert one["n"] == 1 and one["sd"] is None
    assert one["mean"] == pytest.approx(frame.loc[embct[0], "wai_w9"], rel=RTOL)
    assert result["available"]["MBCT"]["W5"] == {"n": 0, "mean": None, "sd": None, "ci_low": None, "ci_high": None}
    assert result["complete_cases"]["MBCT"]["W2"] == {"n": 0, "mean": None, "sd": None, "ci_low": None, "ci_high": None}
    assert result["complete_cases"]["eMBCT"]["W2"]["n"] == 1
    assert_json_plain(result)


# ----------------------------------------------------------------------------- mixed model

def long_frame(frame):
    treated = frame[frame["treated"]].reset_index()
    long = treated.melt(id_vars=["participant_id", "condition_embct"], value_vars=WAI,
                        var_name="column", value_name="wai").dropna(subset=["wai"])
    long["week"] = long["column"].map({"wai_w2": 2, "wai_w5": 5, "wai_w9": 9}).astype(float)
    return long


MIXED_TERMS = {"intercept": "Intercept", "week": "week", "condition_embct": "condition_embct",
               "week_x_condition_embct": "week:condition_embct"}
Z_975 = stats.norm.ppf(0.975)


def dense_mixed_reference(long, tau2, sigma2):
    """GLS fixed effects and their model-based covariance at given variance components, with
    dense matrices: V = σ²I + τ²·S (S_rs = 1 when scores r and s are of the same participant,
    i.e. V_i = σ²(I + ψJ) per participant), B = (X'V⁻¹X)⁻¹X'V⁻¹y, Cov(B) = (X'V⁻¹X)⁻¹.

    ``long`` has columns participant_id, week, condition_embct, wai (any row order).
    Returns B and Cov(B) in the order intercept, week, condition_embct, week × condition."""
    week, embct = long["week"].to_numpy(float), long["condition_embct"].to_numpy(float)
    X = np.column_stack([np.ones(len(long)), week, embct, week * embct])
    y = long["wai"].to_numpy(float)
    pid = long["participant_id"].to_numpy()
    V = sigma2 * np.eye(len(y)) + tau2 * (pid[:, None] == pid[None, :])
    V_inv = np.linalg.inv(V)
    cov = np.linalg.inv(X.T @ V_inv @ X)
    return cov @ X.T @ V_inv @ y, cov


def assert_wald(got, b, se, rel):
    """z, P and 95% CI of a Wald row against scipy.stats.norm from B and SE."""
    assert got["b"] == pytest.approx(b, rel=rel)
    assert got["se"] == pytest.approx(se, rel=rel)
    assert got["z"] == pytest.approx(b / se, rel=rel)
    assert got["p"] == pytest.approx(2 * stats.norm.sf(abs(b / se)), rel=rel)
    assert got["ci_low"] == pytest.approx(b - Z_975 * se, rel=rel)
    assert got["ci_high"] == pytest.approx(b + Z_975 * se, rel=rel)


@pytest.mark.parametrize("design", DESIGNS)
def test_mixed_model_matches_formula_interface(design):
    """B and the variance components from statsmodels' formula interface; the SE is the
    model-based one (not the formula fit's bse_fe, from the inverse of the full Hessian): the
    dense σ̂²(X'V̂⁻¹X)⁻¹ at the formula fit's variance components."""
    frame = alliance_frame(**DESIGNS[design])
    long = long_frame(frame)
    # statsmodels' default gradient tolerance (1e-5) leaves B and SE off by up to 2e-5 relative;
    # the reference is fitted to 1e-8 (from its own default start), so that RTOL tests our fit
    fit = smf.mixedlm("wai ~ week * condition_embct", long, groups=long["participant_id"]).fit(
        reml=True, method="bfgs", gtol=1e-8)
    tau2, sigma2 = float(fit.cov_re.iloc[0, 0]), float(fit.scale)
    _, cov = dense_mixed_reference(long, tau2, sigma2)
    result = alliance_mixed(frame)
    assert result["not_estimable_reason"] is None and result["note"] is None
    assert result["n_observations"] == len(long)
    assert result["n_participants"] == long["participant_id"].nunique()
    assert result["variance_components"]["tau2"] == pytest.approx(tau2, rel=1e-5)
    assert result["variance_components"]["sigma2"] == pytest.approx(sigma2, rel=1e-5)
    for i, (term, name) in enumerate(MIXED_TERMS.items()):
        assert_wald(result["terms"][term], fit.fe_params[name], np.sqrt(cov[i, i]), RTOL)
    assert_json_plain(result)


def test_mixed_model_balanced_complete_data_closed_form():
    """Complete, balanced data: GLS = OLS for the fixed effects; the REML variance components
    are the ANOVA estimators σ² = SS_within/(N − n − 2), 3τ² + σ² = SS_between/(n − 2), so
    SEs of week terms use σ² and of between-participant terms use (3τ² + σ²)/3.
    B at rel 1e-6; SE at rel 1e-4, the accuracy of statsmodels' REML optimiser (its variance
    components agree with the ANOVA estimators to about 1e-5)."""
    frame = alliance_frame(seed=14, n_mbct=40, n_embct=40)
    long = long_frame(frame)
    X = np.column_stack([np.ones(len(long)), long["week"], long["condition_embct"],
                         long["week"] * long["condition_embct"]])
    y = long["wai"].to_numpy()
    b_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = pd.Series(y - X @ b_ols, index=long["participant_id"])
    n, N = long["participant_id"].nunique(), len(long)
    person_mean = resid.groupby(level=0).transform("mean")
    sigma2 = ((resid - person_mean) ** 2).sum() / (N - n - 2)
    between = 3 * (resid.groupby(level=0).mean() ** 2).sum() / (n - 2)   # = 3τ² + σ²
    tau2 = (between - sigma2) / 3
    assert tau2 > 0.05
    V_block = sigma2 * np.eye(3) + tau2 * np.ones((3, 3))
    V_inv = np.kron(np.eye(n), np.linalg.inv(V_block))
    order = np.lexsort((long["week"].to_numpy(), long["participant_id"].to_numpy()))
    Xo = X[order]
    se = np.sqrt(np.diag(np.linalg.inv(Xo.T @ V_inv @ Xo)))
    result = alliance_mixed(frame)
    for i, term in enumerate(MIXED_TERMS):
        assert result["terms"][term]["b"] == pytest.approx(b_ols[i], rel=RTOL), term
        assert result["terms"][term]["se"] == pytest.approx(se[i], rel=1e-4), term


def test_mixed_model_one_condition_is_singular():
    frame = alliance_frame(seed=15, n_mbct=30, n_embct=0)
    result = alliance_mixed(frame)
    assert all(v is None for v in result["terms"]["week"].values())
    assert "singular fixed-effects design (one condition only)" == result["not_estimable_reason"]


def test_mixed_model_single_scores_only():
    frame = alliance_frame(seed=16, n_mbct=20, n_embct=20)
    columns = [frame.columns.get_loc(c) for c in WAI]
    frame.iloc[::2, columns[1:]] = np.nan
    frame.iloc[1::2, [columns[0], columns[2]]] = np.nan
    result = alliance_mixed(frame)
    assert result["terms"]["intercept"]["b"] is None
    assert "random intercept is not identifiable" in result["not_estimable_reason"]


def dense_reml(long, X, y):
    """The profile REML log-likelihood as a function of ψ = τ²/σ², with the dense N × N
    V = I + ψ·S (S_rs = 1 for two scores of one participant); β and σ² profiled out (Harville 1977)."""
    pid = long["participant_id"].to_numpy()
    same_participant = (pid[:, None] == pid[None, :]).astype(float)
    n, k = X.shape

    def reml(ratio):
        V_inv = np.linalg.inv(np.eye(n) + ratio * same_participant)
        beta = np.linalg.solve(X.T @ V_inv @ X, X.T @ V_inv @ y)
        r = y - X @ beta
        return -0.5 * ((n - k) * np.log(r @ V_inv @ r / (n - k)) - np.linalg.slogdet(V_inv)[1]
                       + np.linalg.slogdet(X.T @ V_inv @ X)[1])
    return reml


def test_the_profile_reml_by_participant_sums_is_the_dense_one():
    """``reml_profile`` (sums per participant) decides whether a failed fit's optimum is at τ² = 0."""
    import pandas as pd

    from alliance_report.analysis.alliance import reml_profile

    long = long_frame(alliance_frame(seed=3, n_mbct=30, n_embct=25, missing=0.3))
    week, embct = long["week"].to_numpy(float), long["condition_embct"].to_numpy(float)
    X = np.column_stack([np.ones(len(long)), week, embct, week * embct])
    y = long["wai"].to_numpy(float)
    codes, _ = pd.factorize(long["participant_id"])
    reml = dense_reml(long, X, y)
    for ratio in (0.0, 1e-4, 0.3, 2.0, 10.0):
        assert reml_profile(y, X, codes, ratio) == pytest.approx(reml(ratio), rel=1e-10)


def test_mixed_model_with_its_reml_optimum_at_zero_variance_is_reported_as_ols():
    """No between-participant variance at all (each participant's deviations sum to zero): the
    REML optimum is at τ² = 0, where statsmodels' optimisers stop short without converging.  The
    spec reports a boundary fit with its estimates and a note: the τ² = 0 solution, B by OLS
    (np.linalg.lstsq), σ̂² = RSS/(N − 4), SE = √(σ̂²·diag((X'X)⁻¹)).  That the optimum is at 0 is
    checked on the REML log-likelihood computed with the dense N × N covariance."""
    rng = np.random.default_rng(17)
    frame = alliance_frame(seed=17, n_mbct=25, n_embct=25, n_untreated=0)
    noise = rng.normal(0, 0.3, (len(frame), 3))
    noise -= noise.mean(axis=1, keepdims=True)
    frame[WAI] = np.array([3.3, 3.5, 3.7]) + noise
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # the module must capture, not leak, the warnings
        result = alliance_mixed(frame)
    assert result["not_estimable_reason"] is None
    assert result["note"].startswith("the random-intercept variance is estimated at zero (τ̂²=0")
    long = long_frame(frame)
    week, embct = long["week"].to_numpy(float), long["condition_embct"].to_numpy(float)
    X = np.column_stack([np.ones(len(long)), week, embct, week * embct])
    y = long["wai"].to_numpy(float)
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    sigma2 = float(((y - X @ b) ** 2).sum()) / (len(y) - 4)
    assert result["variance_components"] == {"tau2": 0.0, "sigma2": pytest.approx(sigma2, rel=1e-10)}
    se = np.sqrt(sigma2 * np.diag(np.linalg.inv(X.T @ X)))
    for i, term in enumerate(["intercept", "week", "condition_embct", "week_x_condition_embct"]):
        assert_wald(result["terms"][term], b[i], se[i], 1e-8)
    reml = dense_reml(long, X, y)
    assert all(reml(ratio) < reml(0.0) for ratio in (1e-3, 0.05, 0.5, 5.0))
    assert_json_plain(result)


def test_untreated_participants_never_count():
    frame = alliance_frame(seed=18, n_untreated=7)
    treated_only = frame[frame["treated"]]
    assert alliance_manova(frame) == alliance_manova(treated_only)
    assert alliance_descriptives(frame) == alliance_descriptives(treated_only)
    assert alliance_mixed(frame)["n_participants"] == len(treated_only)

