"""What the numbers say: the decisions that choose the report's sentences (``findings`` of results.json).

Every claim a sentence makes about a result — significant or not, the direction of an
estimate, whether the MANOVA and the mixed model agree, in which condition an association
holds, whether the freeze is interim — is decided here from the other results, so that
rendering only words a decision and never makes one.

* **Significance**: two-sided P < α = .05 (analysis plan); ``None`` when not estimable.
* **Direction**: the sign of the estimate (+1, −1, 0), ``None`` when not estimable.
* **MANOVA versus mixed model** (Aim 2), per effect, against the comparable mixed-model
  estimate: time ↔ the average slope over the two conditions (``contrasts.week_average``);
  condition ↔ eMBCT − MBCT at the mean week (``contrasts.condition_at_mean_week``);
  time × condition ↔ ``week_x_condition_embct``.  The MANOVA's direction is that of the
  complete-case means: for time the linear trend Σ(w − w̄)·m̄_w of the unweighted mean of the
  conditions over weeks w = 2, 5, 9; for the interaction the eMBCT − MBCT difference of the
  linear trends; for condition eMBCT − MBCT of the three-week means.  The two *agree* when
  they are on the same side of α and, when either is significant, point the same way
  (opposite signs of two non-significant estimates are noise, not disagreement).
* **Outcome** (Aim 3): with a significant early alliance × condition interaction the
  association is described per condition by the simple slopes; otherwise by the main model.
  ``stronger_in``: the condition whose simple slope is the larger in absolute value, |B|
  (MBCT on an exact tie; null when a slope is not estimable) — the sentence names it when the
  association is significant in both conditions in the same direction.
"""

from __future__ import annotations

from alliance_report.design import (ALLIANCE_WEEK_NUMBERS, ALLIANCE_WEEKS, COMPARED_CONDITION, CONDITIONS,
                                    MEAN_ALLIANCE_WEEK, REFERENCE_CONDITION)

ALPHA = 0.05
# fewer residual degrees of freedom than this: a model's estimates are flagged as very imprecise
# (t quantiles with < 10 df are heavy-tailed: t(0.975; 9) = 2.26, t(0.975; 1) = 12.7; residual
# diagnostics say little) — the report says so beside the estimate instead of letting
# "no evidence" stand alone
FEW_RESIDUAL_DF = 10


def significant(p: float | None) -> bool | None:
    """P < α (two-sided, α = ALPHA = .05, no correction, as the paper); None when not estimable."""
    return None if p is None else bool(p < ALPHA)


def direction(estimate: float | None) -> int | None:
    """The sign of an estimate: 1, −1 or 0; None when not estimable."""
    if estimate is None:
        return None
    return (estimate > 0) - (estimate < 0)


def _estimate(term: dict | None) -> dict:
    term = term or {}
    return {"p": term.get("p"), "significant": significant(term.get("p")),
            "direction": direction(term.get("b"))}


# ------------------------------------------------------------------ Aim 2: MANOVA vs mixed model

def _trend(means: dict[str, float | None]) -> float | None:
    """Linear trend Σ(w − w̄)·m_w of the weekly means (None when a mean is missing)."""
    if any(means[week] is None for week in ALLIANCE_WEEKS):
        return None
    return sum((ALLIANCE_WEEK_NUMBERS[week] - MEAN_ALLIANCE_WEEK) * means[week] for week in ALLIANCE_WEEKS)


def manova_directions(complete_cases: dict) -> dict[str, int | None]:
    """Directions of the MANOVA's effects, from the complete-case means (see the module doc)."""
    means = {c: {week: complete_cases[c][week]["mean"] for week in ALLIANCE_WEEKS} for c in CONDITIONS}
    trends = {c: _trend(means[c]) for c in CONDITIONS}
    present = [t for t in trends.values() if t is not None]
    levels = {c: None if trends[c] is None else sum(means[c].values()) / len(ALLIANCE_WEEKS) for c in CONDITIONS}
    both = None not in trends.values()
    return {
        "time": direction(sum(present) / len(present)) if present else None,
        "time_x_condition": direction(trends[COMPARED_CONDITION] - trends[REFERENCE_CONDITION]) if both else None,
        "condition": direction(levels[COMPARED_CONDITION] - levels[REFERENCE_CONDITION]) if both else None,
    }


# MANOVA effect → the comparable mixed-model estimate (a contrast or a term)
MIXED_COUNTERPART = {
    "time": ("contrasts", "week_average"),
    "condition": ("contrasts", "condition_at_mean_week"),
    "time_x_condition": ("terms", "week_x_condition_embct"),
}


def alliance_agreement(manova: dict, mixed: dict, complete_cases: dict) -> dict:
    """Per effect: each model's P, significance and direction, and whether they agree
    (``agree`` None when either model did not estimate the effect)."""
    directions = manova_directions(complete_cases)
    agreement = {}
    for effect, (block, key) in MIXED_COUNTERPART.items():
        left = {"p": manova[effect]["p"], "significant": significant(manova[effect]["p"]),
                "direction": directions[effect] if manova[effect]["p"] is not None else None}
        right = _estimate((mixed.get(block) or {}).get(key))
        comparable = left["significant"] is not None and right["significant"] is not None
        agree = None
        if comparable:
            agree = left["significant"] == right["significant"]
            if agree and left["significant"]:
                agree = left["direction"] == right["direction"]
        agreement[effect] = {"manova": left, "mixed": right, "agree": agree}
    return agreement


# ------------------------------------------------------------------ Aim 3

def outcome_finding(main: dict, moderation: dict) -> dict:
    """How the association of early alliance with one outcome is to be described."""
    interaction = _estimate(moderation["terms"]["wai_w2_c_x_condition_embct"])
    slopes = {c: _estimate(moderation["simple_slopes"][c]) for c in CONDITIONS}
    by_condition = bool(interaction["significant"])
    significant_in = [c for c in CONDITIONS if slopes[c]["significant"]] if by_condition else None
    both = significant_in is not None and len(significant_in) == len(CONDITIONS)
    return {
        "main": _estimate(main["terms"]["wai_w2"]),
        "interaction": interaction,
        "simple_slopes": slopes,
        # a significant interaction: describe the association per condition, not pooled
        "describe_by_condition": by_condition,
        "significant_in": significant_in,
        # significant in both conditions: in the same direction (True) or in opposite ones (False)
        "same_direction": len({slopes[c]["direction"] for c in CONDITIONS}) == 1 if both else None,
        "stronger_in": stronger_slope(moderation["simple_slopes"]),
        "few_residual_df": main["df_resid"] is not None and main["df_resid"] < FEW_RESIDUAL_DF,
    }


def stronger_slope(simple_slopes: dict) -> str | None:
    """The condition whose simple slope B is the larger in absolute value (the first condition on
    an exact tie); None when a slope is not estimable."""
    if any(simple_slopes[c]["b"] is None for c in CONDITIONS):
        return None
    return max(CONDITIONS, key=lambda c: abs(simple_slopes[c]["b"]))


def abstract_reports_mixed(alliance: dict) -> bool:
    """Whether the abstract gives the mixed model beside the MANOVA: when the MANOVA could not test
    the change over time (the abstract then says what the sensitivity analysis gave, or that it
    could not be estimated either; where it could, the conclusion says what it found), or when
    the two disagree on an effect."""
    if alliance["time"]["manova"]["significant"] is None:
        return True
    return any(alliance[effect]["agree"] is False for effect in MIXED_COUNTERPART)


def manova_precision(manova: dict) -> dict:
    """``manova_error_df``: the smallest error df of the MANOVA's F tests (None when none was
    estimated); ``manova_few_error_df``: fewer than FEW_RESIDUAL_DF, so that the report calls its
    estimates very imprecise, as it does for an outcome model."""
    dfs = [manova[effect]["df2"] for effect in MIXED_COUNTERPART if manova[effect].get("df2") is not None]
    smallest = int(min(dfs)) if dfs else None
    return {"manova_error_df": smallest, "manova_few_error_df": smallest is not None and smallest < FEW_RESIDUAL_DF}


def findings(results: dict) -> dict:
    """The ``findings`` object of results.json (computed from the other results)."""
    models = results["outcome_models"]
    mixed = results["alliance_mixed"]
    alliance = alliance_agreement(results["alliance_manova"], mixed, results["alliance_descriptives"]["complete_cases"])
    return {
        "alpha": ALPHA,
        "interim": results["interim"]["is_interim"],
        "dropout": _estimate(results["dropout_model"]["terms"]["wai_w2"]),
        # per effect (time, time_x_condition, condition): the MANOVA, the mixed model, agreement
        "alliance": alliance,
        "abstract_reports_mixed": abstract_reports_mixed(alliance),
        **manova_precision(results["alliance_manova"]),
        "outcome": {scale: outcome_finding(models[scale], models[f"{scale}_moderation"])
                    for scale in ("hads", "mhcsf")},
    }
