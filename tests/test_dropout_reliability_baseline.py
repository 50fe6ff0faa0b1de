"""Aim 1, Cronbach's α and Table 1 against independent computations.

* logistic model: Newton–Raphson written out in NumPy (score X'(y−p), information X'WX),
  z, P and the CIs of B and of the OR from scipy.stats.norm;
* α: a hand-worked 5 × 3 example (α = 0.9375) and forms selected by hand;
* Table 1: SMD from its formula, t and χ² from textbook formulas in NumPy.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alliance_report.analysis.baseline import baseline_characteristics
from alliance_report.analysis.dropout import dropout_description, fit_dropout_model
from alliance_report.analysis.reliability import cronbach_alpha, reliability

RTOL = 1e-6


def newton_raphson_logit(X, y, iterations=50):
    beta = np.zeros(X.shape[1])
    for _ in range(iterations):
        p = 1 / (1 + np.exp(-X @ beta))
        information = X.T @ (X * (p * (1 - p))[:, None])
        beta = beta + np.linalg.solve(information, X.T @ (y - p))
    p = 1 / (1 + np.exp(-X @ beta))
    cov = np.linalg.inv(X.T @ (X * (p * (1 - p))[:, None]))
    return beta, np.sqrt(np.diag(cov))


def dropout_frame(seed, n=160, slope=-0.4):
    rng = np.random.default_rng(seed)
    embct = rng.integers(0, 2, n).astype(float)
    wai = np.clip(rng.normal(3.5, 0.6, n), 1, 5)
    p = 1 / (1 + np.exp(-(-0.5 + slope * (wai - 3.5) + 0.4 * embct)))
    dropout = (rng.random(n) < p).astype(float)
    ended = rng.random(n) > 0.1
    return pd.DataFrame({
        "treated": True, "condition": np.where(embct == 1, "eMBCT", "MBCT"), "condition_embct": embct,
        "wai_w2": np.where(rng.random(n) < 0.15, np.nan, wai), "treatment_ended": ended,
        "dropout": np.where(ended, dropout, np.nan),
        "sessions_attended": np.where(dropout == 1, rng.integers(0, 4, n), rng.integers(4, 9, n)),
    })


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_dropout_model_matches_newton_raphson(seed):
    frame = dropout_frame(seed)
    sample = frame.dropna(subset=["wai_w2"]).loc[lambda f: f["treatment_ended"]]
    X = np.column_stack([np.ones(len(sample)), sample["wai_w2"], sample["condition_embct"]])
    beta, se = newton_raphson_logit(X, sample["dropout"].to_numpy())
    model = fit_dropout_model(frame)
    assert model["n"] == len(sample) and model["events"] == int(sample["dropout"].sum())
    for i, term in enumerate(["intercept", "wai_w2", "condition_embct"]):
        assert_logistic_term(model["terms"][term], beta[i], se[i])


def assert_logistic_term(got, b, se, rel=RTOL):
    """Every key of a dropout-model term from a reference B and SE: Wald z, P from the normal
    distribution, the 95% CI of B and the OR with its CI, exp of the CI of B."""
    from test_alliance import assert_wald

    z975 = stats.norm.ppf(0.975)
    assert set(got) == {"b", "se", "z", "p", "or", "ci_low", "ci_high", "or_ci_low", "or_ci_high"}
    assert_wald(got, b, se, rel)
    assert got["or"] == pytest.approx(np.exp(b), rel=rel)
    assert got["or_ci_low"] == pytest.approx(np.exp(b - z975 * se), rel=rel)
    assert got["or_ci_high"] == pytest.approx(np.exp(b + z975 * se), rel=rel)
    assert got["or_ci_low"] < got["or"] < got["or_ci_high"]


def test_perfect_separation_gives_null_with_reason():
    frame = dropout_frame(4)
    frame["dropout"] = np.where(frame["treatment_ended"], (frame["wai_w2"] < 3.5).astype(float), np.nan)
    model = fit_dropout_model(frame)
    assert model["terms"]["wai_w2"]["b"] is None
    assert model["not_estimable_reason"] == "separation: the predictors perfectly or almost perfectly predict dropout"
    assert_null_terms(model)


def test_a_steep_slope_with_a_large_intercept_is_estimated():
    """Strong but not perfect prediction (the groups overlap): the intercept, the log-odds at
    WAI = 0 off the scale, passes 15 while the fit is well determined; it was nulled as separation."""
    frame = dropout_frame(6, n=300, slope=-5.3)
    sample = frame.dropna(subset=["wai_w2"]).loc[lambda f: f["treatment_ended"]]
    dropped = sample["dropout"] == 1
    assert sample.loc[dropped, "wai_w2"].max() > sample.loc[~dropped, "wai_w2"].min()  # overlap: no separation
    X = np.column_stack([np.ones(len(sample)), sample["wai_w2"], sample["condition_embct"]])
    beta, se = newton_raphson_logit(X, sample["dropout"].to_numpy())
    assert beta[0] > 15 and abs(beta[1]) < 15
    model = fit_dropout_model(frame)
    assert model["not_estimable_reason"] is None
    for i, term in enumerate(["intercept", "wai_w2", "condition_embct"]):
        assert_logistic_term(model["terms"][term], beta[i], se[i])


def assert_null_terms(model):
    for term in model["terms"].values():
        assert term == dict.fromkeys(["b", "se", "z", "p", "or", "ci_low", "ci_high", "or_ci_low", "or_ci_high"])


def test_no_dropouts_gives_null_with_reason():
    frame = dropout_frame(5)
    frame["dropout"] = np.where(frame["treatment_ended"], 0.0, np.nan)
    model = fit_dropout_model(frame)
    assert model["terms"]["intercept"]["b"] is None and "too few dropouts" in model["not_estimable_reason"]
    assert_null_terms(model)


def test_dropout_description_counts():
    frame = dropout_frame(6)
    description = dropout_description(frame)
    ended = frame[frame["treatment_ended"]]
    for condition in ("MBCT", "eMBCT"):
        group = ended[ended["condition"] == condition]
        assert description[condition]["n"] == len(group)
        assert description[condition]["dropout_n"] == int(group["dropout"].sum())
        assert description[condition]["sessions_median"] == float(np.median(group["sessions_attended"]))
        assert sum(description[condition]["sessions_distribution"].values()) == len(group)
        for k in range(9):  # the percentages of the figure: 100 · participants with k sessions / n
            share = 100 * int((group["sessions_attended"] == k).sum()) / len(group)
            assert description[condition]["sessions_distribution_pct"][str(k)] == pytest.approx(share)
    empty = dropout_description(frame[frame["condition"] == "MBCT"])["eMBCT"]  # no eMBCT participant: no %
    assert empty["n"] == 0 and set(empty["sessions_distribution_pct"].values()) == {None}


def test_cronbach_alpha_hand_worked():
    items = np.array([[1, 2, 3], [2, 2, 3], [3, 3, 4], [4, 4, 4], [5, 4, 5]], dtype=float)
    # item variances 2.5 + 1.0 + 0.7 = 4.2; variance of the totals 6,7,10,12,14 = 11.2
    assert cronbach_alpha(items) == pytest.approx(1.5 * (1 - 4.2 / 11.2))
    assert cronbach_alpha(items[:1]) is None
    assert cronbach_alpha(np.ones((4, 3))) is None


def test_reliability_uses_complete_forms_at_own_baseline():
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"treated": [True, True, True, True, False],
                         "rerandomized": [False, False, True, True, False]},
                        index=pd.Index(["A", "B", "C", "D", "E"], name="participant_id"))
    rows, matrices = [], {}
    for pid in data.index:
        for timepoint in ("T0", "T0b", "T1"):
            values = rng.integers(0, 4, 14).astype(float)
            if (pid, timepoint) == ("B", "T1"):
                values[3] = np.nan  # incomplete form: excluded from α at T1
            matrices[(pid, timepoint)] = values
            rows += [{"participant_id": pid, "timepoint": timepoint, "instrument": "HADS", "item": i + 1,
                      "value": None if np.isnan(v) else int(v)} for i, v in enumerate(values)]
    questionnaires = pd.DataFrame(rows)
    alphas, counts = reliability(questionnaires, data)
    baseline = np.array([matrices[k] for k in [("A", "T0"), ("B", "T0"), ("C", "T0b"), ("D", "T0b")]])
    t1 = np.array([matrices[k] for k in [("A", "T1"), ("C", "T1"), ("D", "T1")]])
    assert alphas["HADS"]["baseline"] == pytest.approx(cronbach_alpha(baseline), rel=RTOL)
    assert alphas["HADS"]["T1"] == pytest.approx(cronbach_alpha(t1), rel=RTOL)
    assert counts["HADS"] == {"baseline": 4, "T1": 3}
    assert alphas["WAI"]["W2"] is None and alphas["MHCSF"]["T1"] is None


def baseline_frame(seed=8, n=120):
    rng = np.random.default_rng(seed)
    condition = np.where(rng.random(n) < 0.5, "MBCT", "eMBCT")
    return pd.DataFrame({
        "treated": True, "condition": condition,
        "age": rng.normal(52, 10, n).round(), "months_since_diagnosis": rng.gamma(2, 15, n),
        "sex": np.where(rng.random(n) < 0.85, "female", "male"),
        "partner": np.where(rng.random(n) < 0.8, "yes", "no"),
        "children": np.where(rng.random(n) < 0.7, "yes", "no"),
        "education": rng.choice(["low", "middle", "high"], n),
        "cancer_type": rng.choice(["breast", "colorectal", "other"], n),
        "treatment_intent": np.where(rng.random(n) < 0.7, "curative", "palliative"),
        "baseline_hads": rng.normal(18, 5, n), "baseline_hads_anxiety": rng.normal(10, 3, n),
        "baseline_hads_depression": rng.normal(8, 3, n), "baseline_mhcsf": rng.normal(2.6, 0.8, n),
    })


def test_table1_against_formulas():
    frame = baseline_frame()
    table = baseline_characteristics(frame)
    rows = {(row["variable"], row["level"]): row for row in table["rows"]}
    m, e = frame[frame.condition == "MBCT"], frame[frame.condition == "eMBCT"]
    assert table["n"] == {"MBCT": len(m), "eMBCT": len(e), "overall": len(frame)}

    age = rows[("age", None)]
    assert age["cells"]["MBCT"]["mean"] == pytest.approx(m.age.mean(), rel=RTOL)
    assert age["cells"]["overall"]["sd"] == pytest.approx(np.std(frame.age, ddof=1), rel=RTOL)
    d = (e.age.mean() - m.age.mean()) / np.sqrt((np.var(e.age, ddof=1) + np.var(m.age, ddof=1)) / 2)
    assert age["smd"] == pytest.approx(d, rel=RTOL)
    pooled = ((len(m) - 1) * np.var(m.age, ddof=1) + (len(e) - 1) * np.var(e.age, ddof=1)) / (len(frame) - 2)
    t = (e.age.mean() - m.age.mean()) / np.sqrt(pooled * (1 / len(m) + 1 / len(e)))
    assert age["test"]["statistic"] == pytest.approx(t, rel=RTOL) and age["test"]["df"] == len(frame) - 2

    female = rows[("sex", "female")]
    p1, p0 = (e.sex == "female").mean(), (m.sex == "female").mean()
    assert female["cells"]["eMBCT"]["pct"] == pytest.approx(100 * p1, rel=RTOL)
    assert female["smd"] == pytest.approx((p1 - p0) / np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2), rel=RTOL)

    observed = pd.crosstab(frame.education, frame.condition).to_numpy(float)
    expected = observed.sum(1, keepdims=True) * observed.sum(0, keepdims=True) / observed.sum()
    chi2 = ((observed - expected) ** 2 / expected).sum()
    education = rows[("education", "high")]["test"]
    assert education["statistic"] == pytest.approx(chi2, rel=RTOL) and education["df"] == 2
    assert education["p"] == pytest.approx(stats.chi2.sf(chi2, 2), rel=RTOL)

    months = rows[("months_since_diagnosis", None)]["cells"]["MBCT"]
    assert months["median"] == pytest.approx(np.median(m.months_since_diagnosis), rel=RTOL)
    assert months["q1"] == pytest.approx(np.percentile(m.months_since_diagnosis, 25), rel=RTOL)


def test_table1_with_an_empty_condition_does_not_crash():
    frame = baseline_frame()
    frame["condition"] = "MBCT"
    table = baseline_characteristics(frame)
    rows = {(row["variable"], row["level"]): row for row in table["rows"]}
    assert table["n"]["eMBCT"] == 0
    assert rows[("age", None)]["smd"] is None and rows[("age", None)]["test"]["p"] is None
    assert rows[("sex", "female")]["cells"]["eMBCT"]["pct"] is None


def test_a_percentage_at_a_tie_is_exact_and_prints_rounded_away_from_zero():
    """23 of 40 is 57.5 % exactly (100·23/40), not 57.49999999999999 (100·(23/40)), so the report
    prints 58 (half away from zero), as a reader computing it by hand would."""
    from alliance_report.render import format as fmt

    frame = baseline_frame()
    mbct = frame.index[frame["condition"] == "MBCT"][:40]
    frame = frame.loc[list(mbct) + list(frame.index[frame["condition"] == "eMBCT"])]
    frame.loc[mbct, "sex"] = ["female"] * 23 + ["male"] * 17
    cell = next(row for row in baseline_characteristics(frame)["rows"]
                if (row["variable"], row["level"]) == ("sex", "female"))["cells"]["MBCT"]
    assert (cell["n"], cell["denominator"], cell["pct"]) == (23, 40, 57.5)
    assert fmt.n_percent(cell["n"], cell["pct"], cell["denominator"]) == "23 (58)"
