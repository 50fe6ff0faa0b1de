"""Aim 2 — development of the therapeutic alliance, analysis plan item 5.

Descriptives
    Mean, SD (n−1 denominator) and n of the WAI mean score per condition × week (W2, W5, W9),
    for the alliance complete cases (treated with all three scores) and for all available
    data (every treated participant with a score at that week).  ``mean`` is null when n=0,
    ``sd`` is null when n<2.

Repeated-measures MANOVA (profile analysis; Tabachnick & Fidell, *Using Multivariate
Statistics*, ch. 8; the IBM SPSS Statistics Algorithms, "GLM Multivariate")
    On the complete cases, the multivariate linear model of the three weekly scores on the
    sum-to-zero (effect) coded condition,

        Y (n×3) = X B + U,   X = [1, c],   c = +1 for MBCT, −1 for eMBCT
        (R ``contr.sum`` with the levels in the order MBCT, eMBCT),

    and the general linear hypothesis L B M = 0 with

        B̂ = (X'X)⁻¹X'Y,   E = M'(Y − XB̂)'(Y − XB̂)M,
        H = (LB̂M)' [L(X'X)⁻¹L']⁻¹ (LB̂M),   Wilks' Λ = det(E) / det(E + H).

    * time (flatness): L = [1, 0] (the intercept, i.e. the *unweighted* mean of the two
      condition means — type III, as SPSS GLM repeated measures and R car::Anova(type=3);
      with unequal group sizes this differs from the weighted mean of type I), M = the
      difference contrasts W5−W2, W9−W5 (Λ is invariant to the choice of a full-rank
      contrast).
    * time × condition (parallelism): L = [0, 1], same M.
    * Both hypotheses have one degree of freedom (q=1) and p=2 dependent variables, so the
      F transformation of Λ is exact:  F = (1 − Λ)/Λ · (df_E − 1)/2  with df (2, df_E − 1)
      = (2, n − 3), where df_E = n − 2;  partial η² = 1 − Λ^(1/s) = 1 − Λ (s = min(p, q) = 1).
    * condition (levels): the univariate test of L = [0, 1] on the mean of the three weeks
      (M = (1/3, 1/3, 1/3)'):  F = H / (E / df_E) with df (1, n − 2), partial
      η² = H / (H + E) = SS_condition / (SS_condition + SS_error).  With two groups this is
      the pooled two-sample t test, F = t².

    Degenerate data (null estimates, ``not_estimable_reason`` says why; never an exception):

    * no complete cases, or fewer than (number of conditions present + 2) complete cases, so
      that df_E < 2 and the exact F has no denominator df: everything null;
    * only one condition among the complete cases: time × condition and condition are null.
      **Decision:** time *is* estimated, with the model that remains (intercept only), i.e.
      the one-sample Hotelling T² flatness test in the condition that has complete cases,
      with df (2, n − 2) (what SPSS GLM reports when the between factor has one level).  The
      df fields carry n − 2 and the reason string states that time was tested within one
      condition only;
    * a singular error SSCP matrix E of the difference scores (e.g. constant or collinear
      difference scores; smallest eigenvalue ≤ 1e-10 × the largest eigenvalue of the
      uncentred SSCP of the difference scores): time and time × condition are null; the
      condition test is unaffected;
    * no error variance of the three-week mean (constant within conditions): condition null.

    Why E and H are computed here and not by statsmodels' ``MANOVA(Y, X).mv_test`` with the same
    L and M (which the tests compare against): statsmodels keeps only the eigenvalues of
    (E + H)⁻¹H above 1e-8 and fails with a ValueError when none is left (H = 0: identical
    profiles of the two conditions, possible with a handful of item-mean scores at an interim
    freeze) and with a LinAlgError on a singular E; the report needs Λ = 1 (F = 0, P = 1) in the
    first case and a not-estimable reason in the second.  Checked 2026-12-01, statsmodels 0.15.0.

Sensitivity: linear mixed model (Laird & Ware, Random-effects models for longitudinal data,
Biometrics 1982; 38:963–74), statsmodels ``MixedLM``, REML
    All available WAI scores of treated participants, long format (one row per score),

        wai_ij = b0 + b1·week_ij + b2·condition_embct_i + b3·week_ij·condition_embct_i
                 + u_i + e_ij,   u_i ~ N(0, τ²),  e_ij ~ N(0, σ²),

    week in weeks (2, 5, 9).  ``week`` is the slope in MBCT (the reference), ``condition_embct``
    the eMBCT − MBCT difference at week 0.  statsmodels gives the REML estimates B̂ (GLS at the
    REML variance components), σ̂² (``scale``) and ψ̂ = τ̂²/σ̂² (``cov_re_unscaled``).

    Standard errors are the model-based ones at the REML estimates, as SPSS MIXED (IBM SPSS
    Statistics Algorithms, "MIXED": the fixed-effects covariance (X'V̂⁻¹X)⁻¹), R nlme and lme4
    report (Pinheiro & Bates, *Mixed-Effects Models in S and S-PLUS*, 2000, §2.4):

        Cov(B̂) = σ̂² (X'Ṽ⁻¹X)⁻¹,   Ṽ_i = I + ψ̂·J,   Ṽ_i⁻¹ = I − ψ̂/(1 + n_i ψ̂)·J,
        X'Ṽ⁻¹X = X'X − Σ_i ψ̂/(1 + n_i ψ̂) · s_i s_i',   s_i = Σ_j x_ij,

    for participant i with n_i scores, J = 11', s_i the column sums of X over i's rows; summed in
    O(N) by ``model_based_cov``.  Not statsmodels' default, the fixed-effects block of the
    inverse of the full observed information of (B, ψ) (differs by up to ~0.4% at these n).
    Wald z = B/SE, P = 2·(1 − Φ(|z|)) and the 95% CI B ± 1.959964·SE are statsmodels'
    (``t_test`` of a ``MixedLMResults`` whose ``normalized_cov_params`` has (X'Ṽ⁻¹X)⁻¹ as its
    fixed-effects block and zero fixed/variance cross blocks; ``scale`` = σ̂²).  Reported
    also: ``variance_components`` τ̂², σ̂², and two linear contrasts L·B with SE √(L Cov(B̂) L'),
    z, P and CI from the same ``t_test``, the counterparts of the MANOVA's effects:

        week_average            = b1 + 0.5·b3          (change per week, mean of the conditions)
        condition_at_mean_week  = b2 + (16/3)·b3       (eMBCT − MBCT at the mean week (2+5+9)/3)

    The optimiser starts at the maximum of the profile REML log-likelihood over τ²/σ², found by
    a one-dimensional search (``mixed_start``, ``reml_profile``), and stops at a gradient below
    1e-7 per score (``GTOL``; statsmodels' default is 1e-5): the same optimum as statsmodels'
    defaults, more precisely and in fewer steps (100× demo: 9 s, against 27 s from a moment
    estimate and 60 s from statsmodels' defaults).

    Boundary fit: statsmodels flags τ̂² < 0.01 ("The MLE may be on the boundary of the parameter
    space.", often with "The Hessian matrix ... is not positive definite" and "Random effects
    covariance is singular" from the optimiser's path near τ² = 0).  Such a fit is *reported*,
    with its estimates and a ``note`` (null otherwise): the model-based SE does not use the
    Hessian, and at ψ̂ → 0 it tends to the OLS one, σ̂²(X'X)⁻¹.  When the REML optimum is at
    τ² = 0 itself, statsmodels' optimisers often stop short of it without converging; a fit
    that is not estimable for any of the reasons below is then checked against the profile REML
    log-likelihood (``reml_profile``):
    when it is highest at ψ = 0 among ψ = 0 and a grid up to 10, the τ² = 0 solution is
    reported with a note (``at_zero_variance``): B by OLS, σ̂² = RSS/(N − 4), SE from
    σ̂²(X'X)⁻¹.
    Not estimable (null estimates plus reason; after a fit, unless its REML optimum is at τ² = 0,
    above): no scores, a rank-deficient fixed-effects
    design (e.g. one condition or one week only), no participant with more than one score
    (τ² not identifiable), fewer observations than fixed + variance parameters, a fit that
    reports ``converged=False`` (with statsmodels' warnings as the reason), any other
    ``ConvergenceWarning`` or ``SingularMatrixWarning`` (the Hessian and singularity warnings
    above count as failures unless the fit is on the boundary), ψ̂ < 1e-10 (statsmodels then
    computes the GLS fixed effects with a pseudo-inverse that drops the random intercept's
    column space, i.e. not the GLS estimate), a singular X'Ṽ⁻¹X, or non-finite / non-positive
    standard errors.  statsmodels' notices of one optimiser's failure before it retries with
    the next ("Maximum Likelihood optimization failed to converge", "Retrying MixedLM
    optimization with <method>") are not failures in themselves: a retry that converges is
    the fit; a retry that fails leaves ``converged=False`` and the final warnings.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams, MixedLMResults
from scipy import optimize, stats
from statsmodels.tools.sm_exceptions import ConvergenceWarning, SingularMatrixWarning

from alliance_report.analysis import samples
from alliance_report.design import ALLIANCE_WEEKS as WEEKS
from alliance_report.design import ALLIANCE_WEEK_NUMBERS, CONDITIONS, MEAN_ALLIANCE_WEEK, WAI_COLUMNS

WEEK_NUMBERS = {week: float(number) for week, number in ALLIANCE_WEEK_NUMBERS.items()}  # "W2" → 2.0

# Y = [W2, W5, W9];  Y @ TIME_CONTRAST = [W5 − W2, W9 − W5]
TIME_CONTRAST = np.array([[-1.0, 0.0], [1.0, -1.0], [0.0, 1.0]])
MEAN_CONTRAST = np.full((3, 1), 1.0 / 3.0)
# sum-to-zero code of condition (R contr.sum, levels in the order of CONDITIONS)
EFFECT_CODE = {CONDITIONS[0]: 1.0, CONDITIONS[1]: -1.0}
SINGULAR_TOL = 1e-10
MIXED_TERMS = ("intercept", "week", "condition_embct", "week_x_condition_embct")

MULTIVARIATE_KEYS = ("wilks", "f", "df1", "df2", "p", "partial_eta_sq")
UNIVARIATE_KEYS = ("f", "df1", "df2", "p", "partial_eta_sq")
MIXED_KEYS = ("b", "se", "z", "p", "ci_low", "ci_high")
# linear contrasts L·B of the fixed effects (intercept, week, condition_embct, week × condition)
MIXED_CONTRASTS = {
    "week_average": np.array([0.0, 1.0, 0.0, 0.5]),
    "condition_at_mean_week": np.array([0.0, 0.0, 1.0, MEAN_ALLIANCE_WEEK]),
}
# statsmodels' get_fe_params switches to a pseudo-inverse below this τ²/σ² (its ``tol``)
PSI_PINV_TOL = 1e-10
BOUNDARY_WARNING = "The MLE may be on the boundary of the parameter space."
BOUNDARY_SYMPTOMS = ("The Hessian matrix at the estimated parameter values is not positive definite",
                     "Random effects covariance is singular",
                     "The random effects covariance matrix is singular")
RETRY_NOTICES = ("Retrying MixedLM optimization", "Maximum Likelihood optimization failed to converge")


# ----------------------------------------------------------------------------- samples

def long_format(data: pd.DataFrame) -> pd.DataFrame:
    """One row per available WAI score of a treated participant.

    Columns ``participant_id``, ``week`` (2, 5, 9), ``condition_embct``, ``wai``; rows ordered
    by participant (in the order of ``data``) and week.
    """
    sample = samples.treated(data)
    ids = sample.index.to_numpy()
    frames = []
    for week in WEEKS:
        frames.append(pd.DataFrame({
            "participant_id": ids,
            "order": np.arange(len(ids)),
            "week": WEEK_NUMBERS[week],
            "condition_embct": sample["condition_embct"].to_numpy(dtype=float),
            "wai": sample[WAI_COLUMNS[week]].to_numpy(dtype=float),
        }))
    long = pd.concat(frames, ignore_index=True).dropna(subset=["wai"])
    long = long.sort_values(["order", "week"], kind="stable").drop(columns="order")
    return long.reset_index(drop=True)


# ----------------------------------------------------------------------------- descriptives

def _summary(values: pd.Series) -> dict:
    """n, mean, SD (n−1) and the t-based 95% CI of the mean, mean ± t(.975, n−1)·SD/√n."""
    values = values.dropna().astype(float)
    n = int(len(values))
    mean = float(values.mean()) if n >= 1 else None
    sd = float(values.std(ddof=1)) if n >= 2 else None
    half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)) if n >= 2 else None
    return {
        "n": n, "mean": mean, "sd": sd,
        "ci_low": mean - half if half is not None else None,
        "ci_high": mean + half if half is not None else None,
    }


def alliance_descriptives(data: pd.DataFrame) -> dict:
    """n, mean, SD and 95% CI per condition × week, complete cases and all available data."""
    sets = {"complete_cases": samples.alliance_complete_cases(data), "available": samples.treated(data)}
    result = {}
    for name, sample in sets.items():
        result[name] = {
            condition: {
                week: _summary(sample.loc[sample["condition"] == condition, WAI_COLUMNS[week]])
                for week in WEEKS
            }
            for condition in CONDITIONS
        }
    return result


# ----------------------------------------------------------------------------- MANOVA

def _glm_hypothesis(X: np.ndarray, Y: np.ndarray, L: np.ndarray, M: np.ndarray):
    """E and H of the general linear hypothesis L B M = 0 in Y = X B + U (see module doc)."""
    xtx_inv = np.linalg.inv(X.T @ X)
    B = xtx_inv @ X.T @ Y
    residual_m = (Y - X @ B) @ M
    E = residual_m.T @ residual_m
    lbm = L @ B @ M
    H = lbm.T @ np.linalg.inv(L @ xtx_inv @ L.T) @ lbm
    return E, H


def _wilks_test(E: np.ndarray, H: np.ndarray, df_error: int) -> dict:
    """Exact F of Wilks' Λ for a one-df hypothesis on p=2 dependent variables."""
    p = E.shape[0]
    wilks = float(np.linalg.det(E) / np.linalg.det(E + H))
    df2 = df_error - p + 1
    f = (1.0 - wilks) / wilks * df2 / p
    return {"wilks": wilks, "f": float(f), "df1": p, "df2": int(df2),
            "p": float(stats.f.sf(f, p, df2)), "partial_eta_sq": 1.0 - wilks}


def _univariate_test(e: float, h: float, df_error: int) -> dict:
    f = h / (e / df_error)
    return {"f": float(f), "df1": 1, "df2": int(df_error),
            "p": float(stats.f.sf(f, 1, df_error)), "partial_eta_sq": float(h / (h + e))}


def _is_singular(E: np.ndarray, scale: np.ndarray) -> bool:
    """E (p×p) singular relative to the scale of the (uncentred) data SSCP ``scale``."""
    reference = float(np.linalg.eigvalsh(scale).max())
    if not np.isfinite(reference) or reference <= 0.0:
        return True
    return float(np.linalg.eigvalsh(E).min()) <= SINGULAR_TOL * reference


def alliance_manova(data: pd.DataFrame) -> dict:
    """Repeated-measures MANOVA (profile analysis) of the alliance; ``alliance_manova`` of results.json.

    See the module docstring for the model, the tests and the rules for degenerate data.
    """
    cases = samples.alliance_complete_cases(data)
    n = int(len(cases))
    result = {"n": n,
              "time": dict.fromkeys(MULTIVARIATE_KEYS),
              "time_x_condition": dict.fromkeys(MULTIVARIATE_KEYS),
              "condition": dict.fromkeys(UNIVARIATE_KEYS),
              "not_estimable_reason": None}
    if n == 0:
        result["not_estimable_reason"] = "no alliance complete cases (treated with WAI at W2, W5 and W9)"
        return result

    counts = cases["condition"].value_counts()
    present = [c for c in CONDITIONS if counts.get(c, 0) > 0]
    missing = [c for c in CONDITIONS if c not in present]
    two_groups = len(present) == 2
    df_error = n - len(present)
    if df_error < 2:
        result["not_estimable_reason"] = (
            f"too few complete cases in {len(present)} condition{'' if len(present) == 1 else 's'}; "
            f"the MANOVA needs at least {len(present) + 2}")
        return result

    Y = cases[list(WAI_COLUMNS.values())].to_numpy(dtype=float)
    if two_groups:
        X = np.column_stack([np.ones(n), cases["condition"].map(EFFECT_CODE).to_numpy(dtype=float)])
    else:
        X = np.ones((n, 1))
    intercept = np.eye(X.shape[1])[[0]]
    reasons = []

    E, H_time = _glm_hypothesis(X, Y, intercept, TIME_CONTRAST)
    differences = Y @ TIME_CONTRAST
    if _is_singular(E, differences.T @ differences):
        reasons.append("singular error SSCP matrix of the difference scores W5−W2, W9−W5 "
                       "(constant or collinear change): time and time × condition not estimable")
    else:
        result["time"] = _wilks_test(E, H_time, df_error)
        if two_groups:
            _, H_par = _glm_hypothesis(X, Y, np.array([[0.0, 1.0]]), TIME_CONTRAST)
            result["time_x_condition"] = _wilks_test(E, H_par, df_error)

    if two_groups:
        e, h = (float(m[0, 0]) for m in _glm_hypothesis(X, Y, np.array([[0.0, 1.0]]), MEAN_CONTRAST))
        means = (Y @ MEAN_CONTRAST)[:, 0]
        if e <= SINGULAR_TOL * float(means @ means):
            reasons.append("the mean alliance of the three weeks is constant within conditions: "
                           "condition not estimable")
        else:
            result["condition"] = _univariate_test(e, h, df_error)
    else:
        detail = ("; time tested within " + present[0] + " only (one-sample Hotelling T², "
                  f"df 2, {df_error - 1})") if result["time"]["wilks"] is not None else ""
        reasons.insert(0, f"no complete cases in {', '.join(missing)}: time × condition and "
                          f"condition not estimable{detail}")
    result["not_estimable_reason"] = "; ".join(reasons) or None
    return result


# ----------------------------------------------------------------------------- mixed model

def _mixed_skeleton(long: pd.DataFrame) -> dict:
    return {"n_participants": int(long["participant_id"].nunique()),
            "n_observations": int(len(long)),
            "terms": {term: dict.fromkeys(MIXED_KEYS) for term in MIXED_TERMS},
            "contrasts": {name: dict.fromkeys(MIXED_KEYS) for name in MIXED_CONTRASTS},
            "variance_components": {"tau2": None, "sigma2": None},
            "note": None,
            "not_estimable_reason": None}


def mixed_design(long: pd.DataFrame) -> np.ndarray:
    """Fixed-effects design in the order of the results.json terms."""
    week = long["week"].to_numpy(dtype=float)
    embct = long["condition_embct"].to_numpy(dtype=float)
    return np.column_stack([np.ones(len(long)), week, embct, week * embct])


# The optimiser stops when the gradient of the REML log-likelihood per score (statsmodels
# divides it by the number of scores) is below GTOL.  statsmodels' 1e-5 leaves B and SE off
# by up to 2e-5 relative from this start (measured on 100–250 scores against a fit to 1e-10);
# 1e-7 gives 2e-9 on those, on the demo and on the 10× demo, and is reached at 100× (49,000
# scores: 24 s); 1e-8 is not (the fit fails there after 3–4 minutes).
GTOL = 1e-7


# the variance ratio ψ = τ²/σ² searched for the optimiser's start: log ψ in [−25, 5]
LOG_PSI_BOUNDS = (-25.0, 5.0)


def mixed_start(wai: np.ndarray, X: np.ndarray, codes: np.ndarray) -> MixedLMParams | None:
    """Where statsmodels' REML optimiser starts: the maximum of the profile REML log-likelihood
    over the variance ratio ψ = τ²/σ² (:func:`reml_profile`, a function of ψ alone once β and σ²
    are profiled out; Brent's bounded search on log ψ, scipy's ``minimize_scalar``), with the GLS
    fixed effects at that ψ.  statsmodels then confirms the optimum in one or two steps: its
    gradient loops over the participants in Python (100× demo: 9 s instead of 27 s from the
    moment estimate of τ²/σ² this start replaced; the same B and SE, and a more precise ψ̂).

    None (statsmodels' own start, ψ = 1) when the search ends at ψ ≤ 0.01, where statsmodels
    flags the boundary anyway, or at its upper bound.
    """
    if codes.max(initial=-1) < 1 or len(wai) <= codes.max() + 1:
        return None
    search = optimize.minimize_scalar(lambda log_psi: -reml_profile(wai, X, codes, float(np.exp(log_psi))),
                                      bounds=LOG_PSI_BOUNDS, method="bounded", options={"xatol": 1e-10})
    psi = float(np.exp(search.x))
    if not (search.success and np.isfinite(psi) and 0.01 < psi < 0.99 * np.exp(LOG_PSI_BOUNDS[1])):
        return None
    fixed = np.linalg.solve(_v_inverse_product(codes, psi, X, X), _v_inverse_product(codes, psi, X, wai[:, None]))
    return MixedLMParams.from_components(fe_params=fixed.ravel(), cov_re=np.array([[psi]]))


def _mixed_not_estimable(long: pd.DataFrame, X: np.ndarray) -> str | None:
    n_obs, k = X.shape
    if n_obs == 0:
        return "no WAI scores of treated participants"
    if np.linalg.matrix_rank(X) < k:
        detail = []
        if long["condition_embct"].nunique() < 2:
            detail.append("one condition only")
        if long["week"].nunique() < 2:
            detail.append("one week only")
        return "singular fixed-effects design" + (f" ({', '.join(detail)})" if detail else "")
    if n_obs <= k + 2:
        return f"too few observations: {n_obs} for {k} fixed effects and 2 variance components"
    if long["participant_id"].value_counts().max() < 2:
        return "no participant has more than one WAI score: the random intercept is not identifiable"
    if long["wai"].nunique() < 2:
        return "the WAI score is constant"
    return None


def alliance_mixed(data: pd.DataFrame) -> dict:
    """Linear mixed model of all available WAI scores; ``alliance_mixed`` of results.json.

    ``wai ~ week * condition_embct + (1 | participant)``, REML, statsmodels MixedLM (array
    interface).  See the module docstring for the statistics and the non-estimable rules.
    """
    long = long_format(data)
    result = _mixed_skeleton(long)
    X = mixed_design(long)
    reason = _mixed_not_estimable(long, X)
    if reason:
        result["not_estimable_reason"] = reason
        return result

    wai, participant = long["wai"].to_numpy(dtype=float), long["participant_id"].to_numpy()
    codes, _ = pd.factorize(participant)
    model = MixedLM(wai, X, groups=participant, exog_re=np.ones((len(long), 1)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fit = model.fit(reml=True, start_params=mixed_start(wai, X, codes),
                            gtol=GTOL)
        except (np.linalg.LinAlgError, ValueError, ZeroDivisionError) as exc:
            result["not_estimable_reason"] = f"the mixed model could not be fitted: {exc}"
            return result

    problems, boundary, fixed_cov = _fit_problems(fit, caught, X, codes)
    if problems:
        at_zero = at_zero_variance(model, wai, X, codes)
        if at_zero is None:
            result["not_estimable_reason"] = "mixed model not estimable: " + "; ".join(problems)
            return result
        _fill_mixed(result, at_zero, X.shape[1], tau2=0.0)
        result["note"] = ("the random-intercept variance is estimated at zero (τ̂²=0: the REML optimum is on the "
                          "boundary, which statsmodels' optimiser did not reach): the model reduces to ordinary "
                          "regression; estimates are reported")
        return result

    _fill_mixed(result, model_based_results(fit, fixed_cov), X.shape[1],
                tau2=float(np.asarray(fit.cov_re, dtype=float)[0, 0]))
    if boundary:  # τ̂² itself is in variance_components (the report prints it beside the note)
        result["note"] = (
            "the random-intercept variance is estimated at (or near) zero (statsmodels flags τ̂² < 0.01 as a "
            "boundary fit): the model reduces to (nearly) ordinary regression; estimates are reported")
    return result


def _fit_problems(fit, caught: list, X: np.ndarray,
                  codes: np.ndarray) -> tuple[list[str], bool, np.ndarray | None]:
    """(problems, boundary, the model-based Cov(B) / σ²) of a REML fit: statsmodels' convergence and
    singularity warnings (its retry notices left out, and the symptoms of a boundary fit when it
    flags one), a ψ = τ²/σ² too small for its fixed effects to be the GLS estimate, a singular
    X'Ṽ⁻¹X, non-finite or zero standard errors; no problem: estimable."""
    messages = []
    for warning in caught:
        if issubclass(warning.category, (ConvergenceWarning, SingularMatrixWarning)):
            message = str(warning.message)
            if not message.startswith(RETRY_NOTICES) and message not in messages:
                messages.append(message)
    boundary = BOUNDARY_WARNING in messages
    problems = [m for m in messages
                if m != BOUNDARY_WARNING and not (boundary and m.startswith(BOUNDARY_SYMPTOMS))]
    if not bool(getattr(fit, "converged", False)):
        problems = messages or ["the optimiser did not converge"]
    b = np.asarray(fit.fe_params, dtype=float)
    psi = float(np.asarray(fit.cov_re_unscaled, dtype=float)[0, 0])
    sigma2 = float(fit.scale)
    if not problems and not (np.isfinite(psi) and psi >= PSI_PINV_TOL):
        problems.append(f"the random-intercept variance ratio τ²/σ² is estimated at {psi:.3g}, below "
                        f"{PSI_PINV_TOL:g}, where statsmodels' fixed effects are not the GLS estimate")
    fixed_cov = None
    if not problems:
        fixed_cov = model_based_cov(X, codes, psi)
        if fixed_cov is None:
            problems.append("singular X'V⁻¹X at the REML estimates")
    if not problems:
        se = np.sqrt(sigma2 * np.diag(fixed_cov))
        if not (np.all(np.isfinite(b)) and np.isfinite(sigma2) and np.all(np.isfinite(se))
                and np.all(se > 0)):
            problems.append("non-finite or zero standard errors of the fixed effects")
    return problems, boundary, fixed_cov


def _fill_mixed(result: dict, results: MixedLMResults, k: int, tau2: float) -> None:
    """The terms, contrasts and variance components of a fit into ``result`` (in place)."""
    result["terms"] = dict(zip(MIXED_TERMS, _wald_rows(results, np.eye(k))))
    result["contrasts"] = dict(zip(MIXED_CONTRASTS, _wald_rows(
        results, np.vstack(list(MIXED_CONTRASTS.values())))))
    result["variance_components"] = {"tau2": tau2, "sigma2": float(results.scale)}


def _v_inverse_product(codes: np.ndarray, psi: float, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A'Ṽ⁻¹B for Ṽ = blockdiag(I + ψ·J): Ṽ_i⁻¹ = I − ψ/(1 + n_i·ψ)·J, so A'Ṽ⁻¹B = A'B − Σ_i
    w_i·a_i b_i', with a_i, b_i the column sums of participant i's rows and w_i = ψ/(1 + n_i·ψ)."""
    n_scores = np.bincount(codes)
    weight = psi / (1.0 + n_scores * psi)

    def sums(M: np.ndarray) -> np.ndarray:
        return np.column_stack([np.bincount(codes, M[:, j], minlength=len(n_scores)) for j in range(M.shape[1])])
    return A.T @ B - sums(A).T @ (sums(B) * weight[:, None])


def reml_profile(wai: np.ndarray, X: np.ndarray, codes: np.ndarray, psi: float) -> float:
    """The REML log-likelihood of the random-intercept model at ψ = τ²/σ², with β and σ²
    profiled out, up to a constant (Harville 1977; Pinheiro & Bates 2000, §2.2.5):

        l_R(ψ) = −½ [(N − k)·log σ̂²(ψ) + Σ_i log(1 + n_i·ψ) + log|X'Ṽ⁻¹X|],
        σ̂²(ψ) = r'Ṽ⁻¹r / (N − k),  r = y − Xβ̂(ψ), β̂(ψ) the GLS estimate.
    """
    y = wai[:, None]
    xtvx, xtvy = _v_inverse_product(codes, psi, X, X), _v_inverse_product(codes, psi, X, y)
    residual = y - X @ np.linalg.solve(xtvx, xtvy)
    n, k = X.shape
    sigma2 = float(_v_inverse_product(codes, psi, residual, residual)[0, 0]) / (n - k)
    log_det_v = float(np.log1p(np.bincount(codes) * psi).sum())
    return -0.5 * ((n - k) * np.log(sigma2) + log_det_v + np.linalg.slogdet(xtvx)[1])


# ψ where the profile REML log-likelihood must be below its value at 0 for a failed fit's optimum
# to be taken as the boundary τ² = 0
BOUNDARY_GRID = (1e-6, 1e-4, 1e-2, 0.1, 1.0, 10.0)


def at_zero_variance(model: MixedLM, wai: np.ndarray, X: np.ndarray, codes: np.ndarray) -> MixedLMResults | None:
    """The fit at τ² = 0 (B by OLS, σ̂² = RSS/(N − k), Cov(B) = σ̂²(X'X)⁻¹) when the REML optimum is
    there (:data:`BOUNDARY_GRID`), else None."""
    at_zero = reml_profile(wai, X, codes, 0.0)
    if not all(reml_profile(wai, X, codes, psi) <= at_zero for psi in BOUNDARY_GRID):
        return None
    fixed_cov = model_based_cov(X, codes, 0.0)
    if fixed_cov is None:
        return None
    b, *_ = np.linalg.lstsq(X, wai, rcond=None)
    k = X.shape[1]
    normalized = np.zeros((k + 1, k + 1))
    normalized[:k, :k] = fixed_cov
    results = MixedLMResults(model, np.append(b, 0.0), normalized)
    results.scale = float(((wai - X @ b) ** 2).sum() / (len(wai) - k))
    results.fe_params = b
    results.k_fe, results.k_re, results.k_re2, results.k_vc = k, 1, 1, 0
    return results


def model_based_cov(X: np.ndarray, codes: np.ndarray, psi: float) -> np.ndarray | None:
    """(X'Ṽ⁻¹X)⁻¹ of the random-intercept model, Ṽ_i = I + ψ·J (see the module docstring).

    ``codes`` numbers the participants 0..n−1 (one per row of X).  O(N·k + n·k²): the column
    sums per participant come from ``np.bincount``.  None when X'Ṽ⁻¹X is not positive definite.
    """
    xtvx = _v_inverse_product(codes, psi, X, X)
    try:
        np.linalg.cholesky(xtvx)
        return np.linalg.inv(xtvx)
    except np.linalg.LinAlgError:
        return None


def model_based_results(fit, fixed_cov: np.ndarray) -> MixedLMResults:
    """A statsmodels ``MixedLMResults`` with the fit's parameters and scale (σ̂²) whose
    ``normalized_cov_params`` has the model-based fixed-effects block (X'Ṽ⁻¹X)⁻¹, zero
    fixed/variance cross blocks and the fit's own (inverse-Hessian) variance block (zero if
    not finite; the fixed-effects tests never read it)."""
    k = fixed_cov.shape[0]
    original = np.asarray(fit.normalized_cov_params, dtype=float)
    normalized = np.zeros_like(original)
    normalized[:k, :k] = fixed_cov
    if np.all(np.isfinite(original[k:, k:])):
        normalized[k:, k:] = original[k:, k:]
    results = MixedLMResults(fit.model, np.asarray(fit.params, dtype=float), normalized)
    results.scale = float(fit.scale)
    results.fe_params = np.asarray(fit.fe_params, dtype=float)
    results.k_fe, results.k_re, results.k_re2, results.k_vc = fit.k_fe, fit.k_re, fit.k_re2, fit.k_vc
    return results


def _wald_rows(results: MixedLMResults, contrasts: np.ndarray) -> list[dict]:
    """B, SE, z, P and 95% CI of each row L of ``contrasts`` (over the fixed effects), from
    statsmodels' ``t_test`` (normal distribution, as MixedLM's own ``pvalues``; ``t_test``
    pads L with zeros for the variance parameter)."""
    test = results.t_test(contrasts, use_t=False)
    effect, sd = np.atleast_1d(test.effect), np.atleast_1d(test.sd)
    z, p = np.atleast_1d(test.tvalue), np.atleast_1d(test.pvalue)
    ci = np.atleast_2d(test.conf_int(alpha=0.05))
    return [{"b": float(effect[i]), "se": float(sd[i]), "z": float(z[i]), "p": float(p[i]),
             "ci_low": float(ci[i, 0]), "ci_high": float(ci[i, 1])}
            for i in range(contrasts.shape[0])]
