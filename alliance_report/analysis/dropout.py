"""Aim 1 — early alliance and dropout (analysis plan items 4 and 7).

Logistic regression by maximum likelihood (statsmodels ``Logit``, Newton–Raphson)::

    logit P(dropout = 1) = b0 + b1·wai_w2 + b2·condition_embct

in the early-alliance participants whose treatment has ended.  Per term (Hosmer, Lemeshow &
Sturdivant, *Applied Logistic Regression*, 3rd ed., 2013, §1.3–1.4):

* B, the ML estimate, and SE = √diag (X'ŴX)⁻¹, Ŵ = diag p̂(1 − p̂) (the inverse observed =
  expected information);
* Wald z = B/SE and the two-sided P = 2·(1 − Φ(|z|)) from the normal distribution;
* the Wald 95% CI of B, B ± z₀.₉₇₅·SE, z₀.₉₇₅ = Φ⁻¹(0.975) = 1.959964 (``ci_low``,
  ``ci_high``, on the log-odds scale, as the analysis plan says);
* OR = exp(B) and its 95% CI, exp(B ± z₀.₉₇₅·SE) (``or_ci_low``, ``or_ci_high``: the CI of
  B transformed, hence not symmetric around OR).

z, P and the CI of B are statsmodels' (``fit.tvalues``, ``fit.pvalues``,
``fit.conf_int(0.05)``; normal distribution for discrete models), not recomputed here.

Not estimable (estimates null, with the reason): fewer than 2 dropouts or completers,
cases ≤ parameters, a singular design, perfect or quasi-complete separation, or no
convergence.

The dropout description counts sessions attended (median, IQR, distribution 0–8: the
number of participants per number of sessions, and as a percentage of the condition's n,
``sessions_distribution_pct`` = 100 · count / n, null when n = 0) and dropout n and % per
condition among treated participants whose treatment has ended.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.discrete.discrete_model import Logit

from alliance_report.design import CONDITIONS, N_SESSIONS
from alliance_report.analysis.samples import dropout_sample, treated

TERMS = ("intercept", "wai_w2", "condition_embct")
TERM_KEYS = ("b", "se", "z", "p", "or", "ci_low", "ci_high", "or_ci_low", "or_ci_high")
# |B| of a predictor beyond this on a logit scale (odds ratio > e^15 per WAI point, or between the
# conditions) only arises from separation.  Not the intercept: it is the log-odds at WAI = 0, off
# the 1-5 scale, and passes 15 in a well-determined fit with a steep WAI slope (B = -5.3, SE 1.1)
SEPARATION_BOUND = 15.0


def _null_terms() -> dict:
    return {term: dict.fromkeys(TERM_KEYS) for term in TERMS}


def _design(sample: pd.DataFrame) -> np.ndarray:
    return np.column_stack([np.ones(len(sample)), sample["wai_w2"].to_numpy(float),
                            sample["condition_embct"].to_numpy(float)])


def _not_estimable(design: np.ndarray, outcome: np.ndarray) -> str | None:
    n, k = design.shape
    events = int(outcome.sum())
    if n <= k:
        return f"too few cases for {k} parameters"
    if events < 2 or n - events < 2:
        return "too few dropouts or completers"  # the report prints n and the dropouts beside it
    if np.linalg.matrix_rank(design) < k:
        return "singular design (a predictor is constant in the sample)"
    return None


def fit_dropout_model(data: pd.DataFrame) -> dict:
    """The ``dropout_model`` object of results.json: logit P(dropout) = b0 + b1·wai_w2 +
    b2·condition_embct by ML (statsmodels Logit), B, SE, Wald z, P, 95% CI and OR per term (see the
    module doc; Hosmer, Lemeshow & Sturdivant 2013, §1.3–1.4); null with a reason when not estimable."""
    sample = dropout_sample(data)
    design, outcome = _design(sample), sample["dropout"].to_numpy(float)
    result = {"n": int(len(sample)), "events": int(outcome.sum()), "terms": _null_terms(),
              "not_estimable_reason": _not_estimable(design, outcome)}
    if result["not_estimable_reason"]:
        return result
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = Logit(outcome, design).fit(method="newton", maxiter=100, disp=False)
        except (np.linalg.LinAlgError, ValueError) as exc:
            result["not_estimable_reason"] = f"the model could not be fitted ({exc})"
            return result
    names = {type(w.message).__name__ for w in caught}
    if "PerfectSeparationWarning" in names or np.any(np.abs(fit.params[1:]) > SEPARATION_BOUND):
        result["not_estimable_reason"] = "separation: the predictors perfectly or almost perfectly predict dropout"
        return result
    if not fit.mle_retvals.get("converged", False) or not np.all(np.isfinite(fit.bse)):
        result["not_estimable_reason"] = "the maximum-likelihood fit did not converge"
        return result
    b, se = np.asarray(fit.params, float), np.asarray(fit.bse, float)
    z, p = np.asarray(fit.tvalues, float), np.asarray(fit.pvalues, float)
    ci = np.asarray(fit.conf_int(0.05), float)   # Wald CI of B: B ± Φ⁻¹(0.975)·SE
    for i, term in enumerate(TERMS):
        result["terms"][term] = {
            "b": float(b[i]), "se": float(se[i]), "z": float(z[i]), "p": float(p[i]),
            "or": float(np.exp(b[i])), "ci_low": float(ci[i, 0]), "ci_high": float(ci[i, 1]),
            "or_ci_low": float(np.exp(ci[i, 0])), "or_ci_high": float(np.exp(ci[i, 1])),
        }
    return result


def dropout_description(data: pd.DataFrame) -> dict:
    """Sessions attended and dropout per condition (treated, treatment ended): n, dropouts and
    their percentage, median and quartiles of the sessions attended (linear interpolation, type 7)."""
    ended = treated(data).loc[lambda frame: frame["treatment_ended"]]
    description = {}
    for condition in CONDITIONS:
        group = ended.loc[ended["condition"] == condition]
        sessions = group["sessions_attended"]
        n, dropouts = int(len(group)), int(group["dropout"].sum())
        counts = {str(k): int((sessions == k).sum()) for k in range(N_SESSIONS + 1)}
        description[condition] = {
            "n": n,
            "dropout_n": dropouts,
            "dropout_pct": 100 * dropouts / n if n else None,  # 100·k/n, as the other percentages
            "sessions_median": float(sessions.median()) if n else None,
            "sessions_q1": float(sessions.quantile(0.25)) if n else None,
            "sessions_q3": float(sessions.quantile(0.75)) if n else None,
            "sessions_distribution": counts,
            "sessions_distribution_pct": {k: 100.0 * count / n if n else None for k, count in counts.items()},
        }
    return description
