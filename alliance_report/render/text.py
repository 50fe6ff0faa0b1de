"""Result sentences of the article, written from ``results`` with the one formatter.

Each function returns plain text (statistical symbols are set in italics by the markup).
Wording that depends on a result ("increased", "was not associated") follows the
two-sided α=.05 of the analysis plan; nothing here computes a statistic.
"""

from __future__ import annotations

from alliance_report.render import format as fmt

ALPHA = 0.05


def _significant(p: float | None) -> bool:
    return p is not None and p < ALPHA


def _term(term: dict, df: int | None, statistic: str, style: str) -> str:
    """"B=−1.96, 95% CI −3.64 to −0.29, t(107)=−2.31, P=.02"."""
    return (f"B={fmt.number(term['b'])}, {fmt.ci(term['ci_low'], term['ci_high'], style=style)}, "
            f"{fmt.test_statistic(statistic, term[statistic], df, style=style)}, "
            f"{fmt.p_statement(term['p'], style)}")


def _wilks(effect: dict, style: str) -> str:
    return (f"Wilks Λ={fmt.number(effect['wilks'], 3)}, "
            f"{fmt.test_statistic('F', effect['f'], (effect['df1'], effect['df2']), style=style)}, "
            f"{fmt.p_statement(effect['p'], style)}, partial η²={fmt.number(effect['partial_eta_sq'], 3)}")


def flow(results: dict) -> str:
    c = results["consort"]
    text = (f"Of {c['assessed']} people assessed for eligibility, {c['excluded']} were not randomized and "
            f"{c['randomized']} were randomized: {c['allocated']['MBCT']} to MBCT, {c['allocated']['eMBCT']} "
            f"to eMBCT and {c['allocated']['TAU']} to treatment as usual (TAU). After the waiting period, "
            f"{c['rerandomized']['MBCT']} TAU participants were re-randomized to MBCT and "
            f"{c['rerandomized']['eMBCT']} to eMBCT ({c['tau_not_rerandomized']} not re-randomized), so that "
            f"{c['treated']['MBCT']} participants were treated in MBCT and {c['treated']['eMBCT']} in eMBCT.")
    in_treatment = c["in_treatment"]["MBCT"] + c["in_treatment"]["eMBCT"]
    if in_treatment:
        text += (f" At the cut-off date {c['in_treatment']['MBCT']} MBCT and {c['in_treatment']['eMBCT']} "
                 "eMBCT participants were still in treatment; they are excluded from the dropout analyses.")
    return text


def dropout_summary(results: dict) -> str:
    d, threshold = results["dropout_description"], results["settings"]["dropout_threshold"]
    parts = []
    for condition in ("MBCT", "eMBCT"):
        cell = d[condition]
        parts.append(f"{cell['dropout_n']} of {cell['n']} in {condition} "
                     f"({fmt.percent(cell['dropout_pct'], cell['n'])}%; median sessions "
                     f"{fmt.number(cell['sessions_median'], 0)}, IQR {fmt.number(cell['sessions_q1'], 0)}"
                     f"–{fmt.number(cell['sessions_q3'], 0)})")
    return (f"Among treated participants whose treatment had ended, {parts[0]} and {parts[1]} "
            f"dropped out (fewer than {threshold} of 8 sessions).")


def dropout_model(results: dict) -> str:
    model, style = results["dropout_model"], results["settings"]["style"]
    if model["not_estimable_reason"]:
        return (f"The dropout model could not be estimated ({model['not_estimable_reason']}; "
                f"n={model['n']}, {model['events']} dropouts).")
    term = model["terms"]["wai_w2"]
    verb = "was" if _significant(term["p"]) else "was not significantly"
    return (f"Early alliance {verb} associated with dropout ({_term(term, None, 'z', style)}; "
            f"OR {fmt.number(term['or'])}; n={model['n']}, {model['events']} dropouts), adjusted for condition.")


def alliance_development(results: dict) -> str:
    manova, style = results["alliance_manova"], results["settings"]["style"]
    if manova["time"]["wilks"] is None:
        return f"The repeated-measures MANOVA could not be estimated ({manova['not_estimable_reason']})."
    time = manova["time"]
    direction = "changed significantly over time" if _significant(time["p"]) else "did not change significantly over time"
    text = (f"In the {manova['n']} alliance complete cases, the working alliance {direction} "
            f"({_wilks(time, style)}).")
    interaction, condition = manova["time_x_condition"], manova["condition"]
    if interaction["wilks"] is not None:
        differs = "differed" if _significant(interaction["p"]) else "did not differ"
        text += f" The development {differs} between the conditions ({_wilks(interaction, style)})"
    if condition["f"] is not None:
        level = "differed" if _significant(condition["p"]) else "did not differ"
        text += (f", and the mean alliance level {level} between MBCT and eMBCT "
                 f"({fmt.test_statistic('F', condition['f'], (condition['df1'], condition['df2']), style=style)}, "
                 f"{fmt.p_statement(condition['p'], style)}, partial η²={fmt.number(condition['partial_eta_sq'], 3)}).")
    elif interaction["wilks"] is not None:
        text += "."
    if manova["not_estimable_reason"]:
        text += f" Note: {manova['not_estimable_reason']}."
    return text


def alliance_mixed(results: dict) -> str:
    mixed, style = results["alliance_mixed"], results["settings"]["style"]
    if mixed["not_estimable_reason"]:
        return f"The linear mixed model could not be estimated ({mixed['not_estimable_reason']})."
    week = mixed["terms"]["week"]
    interaction = mixed["terms"]["week_x_condition_embct"]
    return (f"The linear mixed model on all {mixed['n_observations']} available alliance scores of "
            f"{mixed['n_participants']} participants gave the same picture: alliance per week "
            f"B={fmt.number(week['b'], 3)} ({fmt.ci(week['ci_low'], week['ci_high'], 3, style)}, "
            f"{fmt.p_statement(week['p'], style)}); week × condition B={fmt.number(interaction['b'], 3)} "
            f"({fmt.p_statement(interaction['p'], style)}).")


def outcome(results: dict, scale: str, label: str) -> str:
    model, style = results["outcome_models"][scale], results["settings"]["style"]
    if model["not_estimable_reason"]:
        return f"The {label} model could not be estimated ({model['not_estimable_reason']}; n={model['n']})."
    term = model["terms"]["wai_w2"]
    verb = "was" if _significant(term["p"]) else "was not significantly"
    return (f"Early alliance {verb} associated with post-treatment {label}, adjusted for baseline and "
            f"condition ({_term(term, model['df_resid'], 't', style)}; β={fmt.number(term['beta'])}; "
            f"n={model['n']}).")


def moderation(results: dict, scale: str, label: str) -> str:
    model, style = results["outcome_models"][f"{scale}_moderation"], results["settings"]["style"]
    if model["not_estimable_reason"]:
        return f"The {label} moderation model could not be estimated ({model['not_estimable_reason']})."
    term = model["terms"]["wai_w2_c_x_condition_embct"]
    differs = "differed" if _significant(term["p"]) else "did not differ significantly"
    slopes = "; ".join(
        f"{condition}: B={fmt.number(slope['b'])}, "
        f"{fmt.test_statistic('t', slope['t'], model['df_resid'], style=style)}, {fmt.p_statement(slope['p'], style)}"
        for condition, slope in model["simple_slopes"].items())
    return (f"The association with {label} {differs} between the conditions (interaction "
            f"{_term(term, model['df_resid'], 't', style)}); simple slopes of early alliance — {slopes}.")


def flow_short(results: dict) -> str:
    c = results["consort"]
    return (f"{c['randomized']} participants were randomized; {c['treated']['MBCT']} were treated in MBCT "
            f"and {c['treated']['eMBCT']} in eMBCT.")


def measures() -> list[str]:
    """The instruments and their scoring (freeze-format.md)."""
    return [
        "Working Alliance Inventory–Short Revised (WAI-SR; 12 items, 1–5), at the start of treatment "
        "weeks 2 (early alliance), 5 and 9: mean of the answered items, missing with more than 2 "
        "skipped items (subscales goal, task and bond: more than 1).",
        "Hospital Anxiety and Depression Scale (HADS; 14 items, 0–3): anxiety (odd items) and "
        "depression (even items) prorated from the answered items (mean × 7) with at most 1 skipped "
        "item each; total (0–42) = anxiety + depression.",
        "Mental Health Continuum–Short Form (MHC-SF; 14 items, 0–5): mean of the answered items, "
        "missing with more than 2 skipped items (subscales: more than 1).",
    ]


def analyses(results: dict) -> list[str]:
    """One line per analysis of the plan, with the settings in force."""
    threshold = results["settings"]["dropout_threshold"]
    return [
        "Participant flow: CONSORT counts from the freeze, checked for arithmetic consistency.",
        "Baseline characteristics of the treated participants with standardized differences"
        + (" and χ² or t tests." if results["settings"]["table1_tests"] else "."),
        "Reliability: Cronbach α of each scale per assessment, on complete forms.",
        f"Aim 1: logistic regression of dropout (< {threshold} sessions) on early alliance and condition.",
        "Aim 2: repeated-measures MANOVA (profile analysis; time, time × condition, condition) on the "
        "alliance complete cases, with condition in sum-to-zero coding; sensitivity analysis: linear "
        "mixed model wai ~ week × condition + (1 | participant) on all available scores (REML).",
        "Aim 3: linear regression of post-treatment HADS and MHC-SF on baseline, early alliance and "
        "condition; moderation by condition with the centred early alliance × condition interaction "
        "and simple slopes per condition; diagnostics: Breusch–Pagan test, variance inflation factors, "
        "residual plots.",
    ]


def conclusion(results: dict) -> str:
    """One sentence that summarises the direction of the key findings of this freeze."""
    manova = results["alliance_manova"]
    parts = []
    if manova["time"]["p"] is not None:
        change = "changed over treatment" if _significant(manova["time"]["p"]) else "did not change significantly over treatment"
        same = ("similarly in both conditions" if not _significant(manova["time_x_condition"]["p"])
                else "differently in the two conditions")
        parts.append(f"the working alliance {change}, {same}")
    predicted = [label for scale, label in (("hads", "distress"), ("mhcsf", "well-being"))
                 if _significant(results["outcome_models"][scale]["terms"]["wai_w2"]["p"])]
    if predicted:
        parts.append("early alliance was associated with post-treatment " + " and ".join(predicted))
    dropout_p = results["dropout_model"]["terms"]["wai_w2"]["p"]
    if dropout_p is not None:
        parts.append("early alliance " + ("was" if _significant(dropout_p) else "was not") + " associated with dropout")
    if not parts:
        return "The data of this freeze do not yet allow conclusions on the aims."
    return "In this freeze, " + "; ".join(parts) + ". These are interim results for the committees, not a publication."
