"""Aim 3 OLS models against computations that share no code with the module.

Reference: the normal equations in NumPy (B = (X'X)⁻¹X'y, SE from σ̂²(X'X)⁻¹, t and P
from scipy's t distribution), R² from the sums of squares, β from its definition, and the
simple slopes by refitting with the condition coded the other way round (statsmodels
formula interface), in which the centred-alliance coefficient *is* the eMBCT slope.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from alliance_report.analysis.outcome import fit_outcome_model

RTOL = 1e-6


def analysis_frame(seed=1, n=150, interaction=1.5):
    rng = np.random.default_rng(seed)
    embct = rng.integers(0, 2, n).astype(float)
    wai = np.clip(rng.normal(3.5, 0.6, n), 1, 5)
    baseline = rng.normal(18, 4, n)
    hads_t1 = 4 + 0.5 * baseline - 2.5 * wai + 1.0 * embct + interaction * (wai - 3.5) * embct + rng.normal(0, 3, n)
    frame = pd.DataFrame({
        "treated": True, "condition_embct": embct, "wai_w2": wai,
        "condition": np.where(embct == 1, "eMBCT", "MBCT"),
        "baseline_hads": baseline, "hads_t1": hads_t1,
    })
    frame.loc[::17, "hads_t1"] = np.nan       # missing outcomes leave the sample
    frame.loc[5, "treated"] = False           # untreated participants never count
    return frame


def numpy_ols(X, y):
    n, k = X.shape
    xtx_inv = np.linalg.inv(X.T @ X)
    b = xtx_inv @ X.T @ y
    resid = y - X @ b
    sigma2 = resid @ resid / (n - k)
    se = np.sqrt(np.diag(sigma2 * xtx_inv))
    t = b / se
    p = 2 * stats.t.sf(np.abs(t), n - k)
    r2 = 1 - resid @ resid / ((y - y.mean()) @ (y - y.mean()))
    adj = 1 - (1 - r2) * (n - 1) / (n - k)
    half = stats.t.ppf(0.975, n - k) * se
    return b, se, t, p, r2, adj, b - half, b + half


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_main_model_matches_normal_equations(seed):
    frame = analysis_frame(seed)
    sample = frame[frame["treated"]].dropna()
    X = np.column_stack([np.ones(len(sample)), sample["baseline_hads"], sample["wai_w2"], sample["condition_embct"]])
    y = sample["hads_t1"].to_numpy()
    b, se, t, p, r2, adj, lo, hi = numpy_ols(X, y)

    model = fit_outcome_model(frame, "hads")
    assert model["n"] == len(sample) and model["df_resid"] == len(sample) - 4
    assert model["n_parameters"] == np.linalg.matrix_rank(X) == 4
    for i, term in enumerate(["intercept", "baseline", "wai_w2", "condition_embct"]):
        got = model["terms"][term]
        for key, want in zip(["b", "se", "t", "p", "ci_low", "ci_high"], [b[i], se[i], t[i], p[i], lo[i], hi[i]]):
            assert got[key] == pytest.approx(want, rel=RTOL), (term, key)
        if term != "intercept":
            assert got["beta"] == pytest.approx(b[i] * X[:, i].std(ddof=1) / y.std(ddof=1), rel=RTOL)
    assert model["terms"]["intercept"]["beta"] is None
    assert model["r2"] == pytest.approx(r2, rel=RTOL)
    assert model["adj_r2"] == pytest.approx(adj, rel=RTOL)


@pytest.mark.parametrize("seed", [1, 4])
def test_moderation_model_and_simple_slopes(seed):
    frame = analysis_frame(seed)
    sample = frame[frame["treated"]].dropna().copy()
    sample["wai_c"] = sample["wai_w2"] - sample["wai_w2"].mean()
    X = np.column_stack([np.ones(len(sample)), sample["baseline_hads"], sample["wai_c"],
                         sample["condition_embct"], sample["wai_c"] * sample["condition_embct"]])
    b, se, t, p, *_ = numpy_ols(X, sample["hads_t1"].to_numpy())

    model = fit_outcome_model(frame, "hads", moderation=True)
    assert model["n_parameters"] == np.linalg.matrix_rank(X) == 5 and model["df_resid"] == len(sample) - 5
    interaction = model["terms"]["wai_w2_c_x_condition_embct"]
    assert interaction["b"] == pytest.approx(b[4], rel=RTOL)
    assert interaction["p"] == pytest.approx(p[4], rel=RTOL)

    # MBCT slope: the centred-alliance coefficient with eMBCT = 1; eMBCT slope: refit with MBCT = 1
    sample["mbct"] = 1 - sample["condition_embct"]
    mbct_fit = smf.ols("hads_t1 ~ baseline_hads + wai_c * condition_embct", sample).fit()
    embct_fit = smf.ols("hads_t1 ~ baseline_hads + wai_c * mbct", sample).fit()
    for condition, fit in (("MBCT", mbct_fit), ("eMBCT", embct_fit)):
        slope = model["simple_slopes"][condition]
        assert slope["b"] == pytest.approx(fit.params["wai_c"], rel=RTOL)
        assert slope["se"] == pytest.approx(fit.bse["wai_c"], rel=RTOL)
        assert slope["t"] == pytest.approx(fit.tvalues["wai_c"], rel=RTOL)
        assert slope["p"] == pytest.approx(fit.pvalues["wai_c"], rel=RTOL)


def test_too_few_cases_gives_null_with_reason():
    frame = analysis_frame(n=4)
    model = fit_outcome_model(frame, "hads")
    assert model["terms"]["wai_w2"]["b"] is None and model["r2"] is None
    assert "too few cases" in model["not_estimable_reason"]


def test_one_condition_only_is_a_singular_design():
    frame = analysis_frame()
    frame["condition_embct"] = 0.0
    model = fit_outcome_model(frame, "hads", moderation=True)
    assert model["terms"]["wai_w2_c"]["b"] is None
    assert "singular design" in model["not_estimable_reason"]
    assert model["simple_slopes"]["MBCT"]["b"] is None


def test_diagnostics_against_auxiliary_regressions():
    frame = analysis_frame(seed=9)
    sample = frame[frame["treated"]].dropna()
    X = np.column_stack([np.ones(len(sample)), sample["baseline_hads"], sample["wai_w2"], sample["condition_embct"]])
    y = sample["hads_t1"].to_numpy()
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    resid = y - X @ b

    def r_squared(target, predictors):
        coef = np.linalg.lstsq(predictors, target, rcond=None)[0]
        rest = target - predictors @ coef
        return 1 - rest @ rest / ((target - target.mean()) @ (target - target.mean()))

    lm = len(y) * r_squared(resid ** 2, X)   # Koenker's studentized Breusch–Pagan statistic
    vif = [1 / (1 - r_squared(X[:, j], np.delete(X, j, axis=1))) for j in range(1, 4)]

    model = fit_outcome_model(frame, "hads")
    assert model["diagnostics"]["breusch_pagan_p"] == pytest.approx(stats.chi2.sf(lm, 3), rel=RTOL)
    assert model["diagnostics"]["max_vif"] == pytest.approx(max(vif), rel=RTOL)
    assert model["diagnostics"]["residuals"] == pytest.approx(list(resid), rel=RTOL, abs=1e-9)
    assert model["observed"]["wai_w2"] == pytest.approx(list(sample["wai_w2"]))


def test_fitted_lines_follow_the_simple_slopes():
    model = fit_outcome_model(analysis_frame(seed=10), "hads", moderation=True)
    for condition, line in model["fitted_lines"].items():
        (x0, x1), (y0, y1) = line["wai_w2"], line["predicted"]
        assert (y1 - y0) / (x1 - x0) == pytest.approx(model["simple_slopes"][condition]["b"], rel=RTOL)
