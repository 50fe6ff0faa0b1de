"""The mixed model's standard errors, contrasts and boundary fits against dense NumPy.

The module sums X'Ṽ⁻¹X in O(N) per participant (``np.bincount``) and takes z, P and the CI
from statsmodels' ``t_test``.  The references here share none of that:

* Cov(B) = (X'V⁻¹X)⁻¹ with the dense N × N matrix V = σ²I + τ²·S (S_rs = 1 for two scores
  of the same participant) inverted by ``np.linalg.inv``, at the variance components that
  the module reports (``dense_mixed_reference`` of test_alliance.py); the GLS estimate
  (X'V⁻¹X)⁻¹X'V⁻¹y at the same components must reproduce B, which ties the reported
  components to the reported B;
* z = B/SE, P = 2·(1 − Φ(|z|)) and the CI B ± Φ⁻¹(0.975)·SE from scipy.stats.norm;
* contrasts: L·B and √(L Cov L') from that dense covariance;
* boundary fit (τ̂² ≈ 0): OLS by ``np.linalg.lstsq``, σ̂² = RSS/(N − 4) (the REML residual
  variance at τ² = 0) and Cov = σ̂²(X'X)⁻¹.
"""

import functools
import json
import warnings

import numpy as np
import pytest
from test_alliance import WAI, alliance_frame, assert_wald, dense_mixed_reference, long_frame

from alliance_report.analysis.alliance import alliance_mixed

RTOL = 1e-8
TERMS = ("intercept", "week", "condition_embct", "week_x_condition_embct")
CONTRASTS = {"week_average": [0.0, 1.0, 0.0, 0.5],
             "condition_at_mean_week": [0.0, 0.0, 1.0, (2 + 5 + 9) / 3]}


def no_between_variance_frame(seed, n=30, missing=0.0):
    """WAI = a common profile + independent noise: the true τ² is 0, and with these seeds the
    REML estimate is on (or near) the boundary."""
    rng = np.random.default_rng(seed)
    frame = alliance_frame(seed=seed, n_mbct=n, n_embct=n, n_untreated=0, missing=missing)
    values = np.array([3.3, 3.5, 3.7]) + rng.normal(0, 0.4, (len(frame), 3))
    frame[WAI] = np.where(frame[WAI].isna(), np.nan, values)
    return frame


DESIGNS = {
    "balanced": lambda: alliance_frame(seed=1, n_mbct=45, n_embct=45),
    "unbalanced_groups": lambda: alliance_frame(seed=2, n_mbct=30, n_embct=63),
    "one_two_three_scores": lambda: alliance_frame(seed=3, n_mbct=70, n_embct=55, missing=0.3),
    "small_one_two_three_scores": lambda: alliance_frame(seed=21, n_mbct=12, n_embct=9, missing=0.4),
    # statsmodels flags τ̂² < 0.01 as a boundary fit: reported with a note
    "near_boundary": lambda: no_between_variance_frame(seed=0),
    "boundary": lambda: no_between_variance_frame(seed=1),
    "boundary_unbalanced": lambda: no_between_variance_frame(seed=1, missing=0.2),
}


@functools.cache  # each design is fitted once for the module's tests, which only read the result
def fitted(design):
    frame = DESIGNS[design]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # every statsmodels warning is captured by the module
        result = alliance_mixed(frame)
    assert result["not_estimable_reason"] is None, result["not_estimable_reason"]
    json.dumps(result, allow_nan=False)
    return long_frame(frame), result


def test_designs_have_participants_with_one_two_and_three_scores():
    for design in ("one_two_three_scores", "small_one_two_three_scores", "boundary_unbalanced"):
        long = long_frame(DESIGNS[design]())
        assert set(long["participant_id"].value_counts()) == {1, 2, 3}, design


@pytest.mark.parametrize("design", DESIGNS)
def test_se_is_model_based_at_the_reml_estimates(design):
    long, result = fitted(design)
    components = result["variance_components"]
    b, cov = dense_mixed_reference(long, components["tau2"], components["sigma2"])
    for i, term in enumerate(TERMS):
        assert result["terms"][term]["b"] == pytest.approx(b[i], rel=1e-7, abs=1e-12), term
        got = result["terms"][term]
        # z, P and CI from the module's B and the dense SE (B itself is checked just above)
        assert_wald(got, got["b"], np.sqrt(cov[i, i]), RTOL)


@pytest.mark.parametrize("design", DESIGNS)
def test_contrasts_are_linear_combinations_with_the_model_based_covariance(design):
    long, result = fitted(design)
    components = result["variance_components"]
    _, cov = dense_mixed_reference(long, components["tau2"], components["sigma2"])
    b = np.array([result["terms"][term]["b"] for term in TERMS])
    assert set(result["contrasts"]) == set(CONTRASTS)
    for name, row in CONTRASTS.items():
        L = np.array(row)
        assert_wald(result["contrasts"][name], L @ b, np.sqrt(L @ cov @ L), RTOL)
    # the averaged slope lies between the two condition slopes
    week, interaction = result["terms"]["week"]["b"], result["terms"]["week_x_condition_embct"]["b"]
    assert min(week, week + interaction) <= result["contrasts"]["week_average"]["b"] <= max(
        week, week + interaction)


@pytest.mark.parametrize("design", ["boundary", "boundary_unbalanced"])
def test_boundary_fit_is_reported_and_reduces_to_ols(design):
    """τ̂²/σ̂² ≤ 1e-8, so X'Ṽ⁻¹X = X'X up to 3·1e-8 relative: SE at rel 1e-7."""
    long, result = fitted(design)
    assert "boundary" in result["note"] and "reported" in result["note"]
    components = result["variance_components"]
    assert 0 <= components["tau2"] < 1e-8 * components["sigma2"]
    week, embct = long["week"].to_numpy(float), long["condition_embct"].to_numpy(float)
    X = np.column_stack([np.ones(len(long)), week, embct, week * embct])
    y = long["wai"].to_numpy(float)
    b_ols = np.linalg.lstsq(X, y, rcond=None)[0]
    rss = float(((y - X @ b_ols) ** 2).sum())
    assert components["sigma2"] == pytest.approx(rss / (len(y) - 4), rel=1e-7)
    cov_ols = components["sigma2"] * np.linalg.inv(X.T @ X)
    for i, term in enumerate(TERMS):
        got = result["terms"][term]
        assert got["b"] == pytest.approx(b_ols[i], rel=1e-7, abs=1e-12), term
        assert_wald(got, got["b"], np.sqrt(cov_ols[i, i]), 1e-7)


def test_near_boundary_fit_keeps_its_small_variance():
    _, result = fitted("near_boundary")
    tau2 = result["variance_components"]["tau2"]
    assert 1e-4 < tau2 < 0.01 and "boundary" in result["note"]


def test_interior_fit_has_no_note():
    _, result = fitted("balanced")
    assert result["note"] is None and result["variance_components"]["tau2"] > 0.1


def test_contrasts_are_null_when_not_estimable():
    frame = alliance_frame(seed=15, n_mbct=30, n_embct=0)
    result = alliance_mixed(frame)
    assert result["not_estimable_reason"]
    for row in result["contrasts"].values():
        assert all(value is None for value in row.values())
    assert result["variance_components"] == {"tau2": None, "sigma2": None}
    assert result["note"] is None


def test_participant_order_does_not_matter():
    """The per-participant sums do not depend on where a participant's rows are."""
    frame = DESIGNS["one_two_three_scores"]()
    shuffled = frame.sample(frac=1.0, random_state=5)
    a, b = alliance_mixed(frame), alliance_mixed(shuffled)
    for term in TERMS:
        assert b["terms"][term]["se"] == pytest.approx(a["terms"][term]["se"], rel=1e-6)
