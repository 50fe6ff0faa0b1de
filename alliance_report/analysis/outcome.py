"""Aim 3 — early alliance and post-treatment outcome (OLS), analysis plan item 6.

Main model (per scale, in its outcome population)::

    <scale>_t1 = b0 + b1·baseline_<scale> + b2·wai_w2 + b3·condition_embct + e

Moderation model: ``wai_w2`` replaced by ``wai_w2_c`` (wai_w2 centred at its mean in the
model sample) plus the product ``wai_w2_c × condition_embct``.  Simple slopes of wai_w2:
MBCT = b(wai_w2_c), eMBCT = b(wai_w2_c) + b(interaction), SE from the coefficient
covariance, t with the model's residual df, P and 95% CI (Aiken & West, 1991).

Per term: B, SE, t, P (two-sided), 95% CI, standardized β = B·SD(x)/SD(y) over the model
sample with SDs on n−1 (null for the intercept).  Per model: n, the parameters estimated (the
design's rank; n = parameters + residual df), residual df, R², adjusted R².

Diagnostics: Breusch–Pagan P (studentized/Koenker LM test = n·R² of the squared residuals
on the predictors, χ² with k−1 df; Breusch & Pagan 1979, Koenker 1981), the largest
variance inflation factor of the predictors (VIF_j = 1/(1 − R²_j)), and the fitted values
and residuals for the residual plot.  For the figures, the main models carry the observed
points (wai_w2, outcome, condition) and the moderation models the fitted line of each
condition at the sample mean of the baseline score, over that condition's observed range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS
from statsmodels.stats.diagnostic import het_breuschpagan
from statsmodels.stats.outliers_influence import variance_inflation_factor

from alliance_report.analysis.samples import outcome_sample
from alliance_report.design import CONDITION_CODE, CONDITIONS, OUTCOME_SCALES


def design_matrix(sample: pd.DataFrame, scale: str, moderation: bool) -> pd.DataFrame:
    """Columns in the order of the results.json terms."""
    design = pd.DataFrame(index=sample.index)
    design["intercept"] = 1.0
    design["baseline"] = sample[f"baseline_{scale}"]
    if moderation:
        design["wai_w2_c"] = sample["wai_w2"] - sample["wai_w2"].mean()
        design["condition_embct"] = sample["condition_embct"]
        design["wai_w2_c_x_condition_embct"] = design["wai_w2_c"] * design["condition_embct"]
    else:
        design["wai_w2"] = sample["wai_w2"]
        design["condition_embct"] = sample["condition_embct"]
    return design


def not_estimable(design: pd.DataFrame, outcome: pd.Series) -> str | None:
    """Why an OLS fit would be meaningless, or None when it can be estimated."""
    n, k = design.shape
    if n <= k:
        return f"too few cases for {k} parameters"
    if np.linalg.matrix_rank(design.to_numpy()) < k:
        constant = [c for c in design.columns[1:] if design[c].nunique() < 2]
        detail = f" ({', '.join(constant)} constant in the sample)" if constant else ""
        return f"singular design{detail}"
    if outcome.nunique() < 2:
        return "the outcome is constant in the sample"
    return None


def _empty_terms(columns, with_beta=True) -> dict:
    keys = ["b", "se", "t", "p", "ci_low", "ci_high"] + (["beta"] if with_beta else [])
    return {term: dict.fromkeys(keys) for term in columns}


def fit_outcome_model(data: pd.DataFrame, scale: str, moderation: bool = False) -> dict:
    """One Aim 3 model by OLS (statsmodels): <scale>_t1 on baseline, wai_w2 and condition (with
    ``moderation``: wai_w2 centred and its product with condition); per term B, SE, t (residual df),
    P, 95% CI and β = B·SD(x)/SD(y), R², adjusted R² and the diagnostics (see the module doc);
    the results.json object of ``outcome_models``."""
    sample = outcome_sample(data, scale)
    design = design_matrix(sample, scale, moderation)
    outcome = sample[f"{scale}_t1"].astype(float)
    result = {"n": int(len(sample)), "n_parameters": None, "df_resid": None, "r2": None, "adj_r2": None,
              "terms": _empty_terms(design.columns), "not_estimable_reason": None,
              "diagnostics": dict.fromkeys(["breusch_pagan_p", "max_vif", "fitted", "residuals"])}
    if moderation:
        result["simple_slopes"] = {c: dict.fromkeys(["b", "se", "t", "p", "ci_low", "ci_high"]) for c in CONDITIONS}
    reason = not_estimable(design, outcome)
    if reason:
        result["not_estimable_reason"] = reason
        return result

    fit = OLS(outcome.to_numpy(), design.to_numpy()).fit()
    ci = fit.conf_int(0.05)
    sd_outcome = outcome.std(ddof=1)
    for i, term in enumerate(design.columns):
        beta = None if term == "intercept" else float(fit.params[i] * design[term].std(ddof=1) / sd_outcome)
        result["terms"][term] = {
            "b": float(fit.params[i]), "se": float(fit.bse[i]), "t": float(fit.tvalues[i]),
            "p": float(fit.pvalues[i]), "ci_low": float(ci[i, 0]), "ci_high": float(ci[i, 1]),
            "beta": beta,
        }
    df_resid = int(round(fit.df_resid))
    # the coefficients estimated (the design's rank): n = n_parameters + df_resid
    result.update(n_parameters=result["n"] - df_resid, df_resid=df_resid, r2=float(fit.rsquared),
                  adj_r2=float(fit.rsquared_adj))
    result["diagnostics"] = diagnostics(fit, design)
    if moderation:
        result["simple_slopes"] = simple_slopes(fit, list(design.columns))
        result["fitted_lines"] = fitted_lines(fit, design, sample)
    else:
        result["observed"] = {
            "wai_w2": [float(x) for x in sample["wai_w2"]],
            "outcome": [float(y) for y in outcome],
            "condition": [str(c) for c in sample["condition"]],
        }
    return result


def diagnostics(fit, design: pd.DataFrame) -> dict:
    """Breusch–Pagan P, max VIF, fitted values and residuals of an OLS fit.

    Breusch–Pagan: the studentized (Koenker 1981) LM test, n·R² of the squared residuals on the
    model's predictors, χ² with k−1 df (statsmodels' default, as R's ``lmtest::bptest``); the
    original 1979 test, which assumes normal errors, can give a different P."""
    exog = design.to_numpy()
    _, bp_p, _, _ = het_breuschpagan(fit.resid, exog, robust=True)
    vifs = [variance_inflation_factor(exog, j) for j in range(1, exog.shape[1])]
    return {
        "breusch_pagan_p": float(bp_p),
        "max_vif": float(max(vifs)),
        "fitted": [float(v) for v in fit.fittedvalues],
        "residuals": [float(v) for v in fit.resid],
    }


def fitted_lines(fit, design: pd.DataFrame, sample: pd.DataFrame) -> dict:
    """Predicted outcome per condition at the mean baseline, at the ends of its wai_w2 range."""
    wai_mean = sample["wai_w2"].mean()
    lines = {}
    for condition, embct in CONDITION_CODE.items():
        observed = sample.loc[sample["condition_embct"] == embct, "wai_w2"]
        if observed.empty:
            continue
        ends = np.array([observed.min(), observed.max()])
        centred = ends - wai_mean
        rows = np.column_stack([np.ones(2), np.full(2, design["baseline"].mean()), centred,
                                np.full(2, embct), centred * embct])
        lines[condition] = {"wai_w2": [float(x) for x in ends],
                            "predicted": [float(y) for y in rows @ fit.params]}
    return lines


def simple_slopes(fit, columns: list[str]) -> dict:
    """Slope of wai_w2 in each condition from the moderation fit: the linear combination
    c'b with SE √(c'Σc), its t (residual df), P and 95% CI, from statsmodels' ``t_test``."""
    slope, inter = columns.index("wai_w2_c"), columns.index("wai_w2_c_x_condition_embct")
    slopes = {}
    for condition, weight in CONDITION_CODE.items():
        contrast = np.zeros((1, len(columns)))
        contrast[0, slope], contrast[0, inter] = 1.0, weight
        test = fit.t_test(contrast)
        low, high = np.asarray(test.conf_int(0.05))[0]
        slopes[condition] = {"b": float(np.squeeze(test.effect)), "se": float(np.squeeze(test.sd)),
                             "t": float(np.squeeze(test.tvalue)), "p": float(np.squeeze(test.pvalue)),
                             "ci_low": float(low), "ci_high": float(high)}
    return slopes


def fit_outcome_models(data: pd.DataFrame) -> dict:
    """All four Aim 3 models, keyed as in results.json."""
    models = {}
    for scale in OUTCOME_SCALES:
        models[scale] = fit_outcome_model(data, scale, moderation=False)
        models[f"{scale}_moderation"] = fit_outcome_model(data, scale, moderation=True)
    return models
