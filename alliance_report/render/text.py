"""Result sentences of the article, written from ``results`` with the one formatter.

Each function returns plain text (statistical symbols are set in italics by the markup).
Which sentence is written is chosen by the decisions of ``results["findings"]``
(:mod:`alliance_report.analysis.findings`: significance at α, direction, agreement of the
MANOVA and the mixed model, where an association holds, interim or final): nothing here
decides or computes.  A non-significant result reads "no evidence of …" with its CI, never as
the absence of an effect; an estimate that is null (not estimable) is only explained.
"""

from __future__ import annotations

from alliance_report.design import (ALLIANCE_WEEK_NUMBERS, ALLIANCE_WEEKS, COMPARED_CONDITION, CONDITIONS,
                                    INSTRUMENT_TITLES, INSTRUMENTS, N_SESSIONS, REFERENCE_CONDITION,
                                    TIMEPOINT_INSTRUMENTS)
from alliance_report.render import format as fmt
from alliance_report.scoring import INSTRUMENTS as SCORED
from alliance_report.render.conduct_text import awaited_follow_ups, pending_participants

EFFECT_LABELS = {"time": "time", "condition": "condition", "time_x_condition": "time × condition"}
# per MANOVA effect: the words when significant, and when not
MANOVA_WORDS = {
    "time": ("the working alliance changed over time",
             "there was no evidence that the working alliance changed over time"),
    "time_x_condition": ("its development differed between the conditions",
                         "there was no evidence that its development differed between the conditions"),
    "condition": ("the mean alliance level differed between MBCT and eMBCT",
                  "there was no evidence of a difference in the mean alliance level between MBCT and eMBCT"),
}


def _style(results: dict) -> str:
    return results["settings"]["style"]


def _higher_lower(direction: int | None) -> str:
    return "higher" if direction and direction > 0 else "lower"


def _coefficient(term: dict, style: str, statistic: str | None = None, df: int | None = None,
                 decimals: int = 2) -> str:
    """"B=−1.96, 95% CI −3.64 to −0.29, t(107)=−2.31, P=.02"."""
    parts = [fmt.stat("B", term["b"], decimals, style), fmt.ci(term["ci_low"], term["ci_high"], decimals, style)]
    if statistic:
        parts.append(fmt.test_statistic(statistic, term[statistic], df, style=style))
    return ", ".join(parts + [fmt.p_statement(term["p"], style)])


def _wilks(effect: dict, style: str) -> str:
    return ", ".join([
        fmt.stat("Wilks Λ", effect["wilks"], 3, style, bounded=True),
        fmt.test_statistic("F", effect["f"], (effect["df1"], effect["df2"]), style=style),
        fmt.p_statement(effect["p"], style),
        fmt.stat("partial η²", effect["partial_eta_sq"], 3, style, bounded=True)])


def _univariate(effect: dict, style: str) -> str:
    return ", ".join([
        fmt.test_statistic("F", effect["f"], (effect["df1"], effect["df2"]), style=style),
        fmt.p_statement(effect["p"], style),
        fmt.stat("partial η²", effect["partial_eta_sq"], 3, style, bounded=True)])


def _parenthesized(*parts: str) -> str:
    """"(a; b)", with any parentheses inside as brackets (APA: "(too few cases [1 of 9]; n=9)")."""
    inner = "; ".join(parts).replace("(", "[").replace(")", "]")
    return f"({inner})"


def _per_arm(counts: dict[str, int]) -> str:
    return f"{fmt.integer(counts['MBCT'])} in MBCT and {fmt.integer(counts['eMBCT'])} in eMBCT"


# ------------------------------------------------------------------ participant flow

def flow(results: dict) -> str:
    c = results["consort"]
    n = fmt.integer  # a count as text ("1,523")
    rerandomized = c["rerandomized"]
    tau = [f"{n(rerandomized['MBCT'])} {fmt.agree(rerandomized['MBCT'], 'was', 'were')} re-randomized to MBCT "
           f"and {n(rerandomized['eMBCT'])} to eMBCT after the waiting period"]
    if c["tau_waiting"]:
        tau.append(f"{n(c['tau_waiting'])} {fmt.agree(c['tau_waiting'], 'was', 'were')} still in their waiting "
                   "period at the cut-off")
    tau.append(f"{n(c['tau_not_rerandomized'])} {fmt.agree(c['tau_not_rerandomized'], 'was', 'were')} not "
               "re-randomized")
    text = (f"Of {n(c['assessed'])} people assessed for eligibility, {n(c['excluded'])} were not randomized and "
            f"{n(c['randomized'])} were randomized: {n(c['allocated']['MBCT'])} to MBCT, "
            f"{n(c['allocated']['eMBCT'])} to eMBCT and {n(c['allocated']['TAU'])} to treatment as usual (TAU). "
            f"Of the TAU participants, {fmt.listing(tau)}. In all, "
            f"{fmt.plural(c['treated']['MBCT'], 'participant was', 'participants were')} treated in MBCT and "
            f"{n(c['treated']['eMBCT'])} in eMBCT.")
    if any(c["in_treatment"].values()):  # each optional clause: only when some arm has a count
        text += (f" At the cut-off, {_per_arm(c['in_treatment'])} were still in treatment; they are "
                 "excluded from the dropout analyses.")
        if any(c["in_treatment_none_attended"].values()):
            text += f" Of them, {_per_arm(c['in_treatment_none_attended'])} had attended no session yet."
    follow_up = [f"{_per_arm(c['t1_assessed'])} had a post-treatment (T1) HADS score",
                 f"{_per_arm(c['lost_to_follow_up_t1'])} were lost to follow-up (T1 due, no score)"]
    if any(c["withdrawn_before_t1"].values()):
        follow_up.append(f"{_per_arm(c['withdrawn_before_t1'])} had withdrawn from the study before T1")
    if any(c["t1_not_yet_due"].values()):
        follow_up.append(f"for {_per_arm(c['t1_not_yet_due'])} T1 was not yet due")
    if any(c["t1_overdue_in_treatment"].values()):
        follow_up.append(f"{_per_arm(c['t1_overdue_in_treatment'])} had no T1 score although T1 was due, "
                         "with their treatment not recorded as ended")
    return f"{text} Of the treated participants, {fmt.listing(follow_up)}."  # (a sentence never starts with a numeral)


def flow_short(results: dict) -> str:
    c = results["consort"]
    text = (f"By the cut-off, {fmt.plural(c['randomized'], 'participant was', 'participants were')} randomized; "
            f"{fmt.integer(c['treated']['MBCT'])} {fmt.agree(c['treated']['MBCT'], 'was', 'were')} treated in MBCT "
            f"and {fmt.integer(c['treated']['eMBCT'])} in eMBCT")
    if results["findings"]["interim"]:
        state = results["interim"]
        pending = [f"{fmt.integer(state['waiting_period'])} in the waiting period" if state["waiting_period"] else "",
                   f"{fmt.integer(state['in_treatment'])} in treatment" if state["in_treatment"] else "",
                   (f"{fmt.integer(state['awaiting_follow_up'])} awaiting follow-up [{awaited_follow_ups(state)}]"
                    if state["awaiting_follow_up"] else "")]  # brackets inside the parentheses
        text += f" (at the cut-off {fmt.listing(pending)})"
    return text + "."


def interim_notice(results: dict) -> str:
    """The short notice an interim freeze carries in the abstract and the conclusions ("" if final)."""
    if not results["findings"]["interim"]:
        return ""
    state = results["interim"]
    alpha = results["findings"]["alpha"]
    if state["analysed_data_complete"]:  # only follow-ups no analysis uses are still to come
        change = (f"; these analyses do not use {fmt.UNANALYSED_FOLLOW_UPS}, so their results will not change "
                  "as those data accrue")
    else:
        change = ", so these results will change as data accrue"
    return (f"At the cut-off there {pending_participants(state)}{change}. Every freeze re-tests at "
            f"{fmt.alpha(alpha, _style(results))} without correction for repeated looks, so over several freezes "
            f"the chance of a false-positive finding is higher than {100 * alpha:g}%.")


# ------------------------------------------------------------------ Aim 1

def dropout_summary(results: dict) -> str:
    d, threshold = results["dropout_description"], results["settings"]["dropout_threshold"]
    if not any(d[c]["n"] for c in CONDITIONS):
        return "No treated participant had ended treatment by the cut-off date."
    parts = []
    for condition in CONDITIONS:
        cell = d[condition]
        if not cell["n"]:
            parts.append(f"none in {condition} (no participant had ended treatment)")
            continue
        median, q1, q3 = fmt.plain_numbers(cell["sessions_median"], cell["sessions_q1"], cell["sessions_q3"])
        parts.append(f"{fmt.integer(cell['dropout_n'])} of {fmt.integer(cell['n'])} in {condition} "
                     f"({fmt.percent(cell['dropout_pct'], cell['n'])}%; median sessions {median}, IQR {q1}–{q3})")
    return (f"Among treated participants whose treatment had ended, {parts[0]} and {parts[1]} "
            f"dropped out (fewer than {threshold} of {N_SESSIONS} sessions).")


def dropout_model(results: dict) -> str:
    model, style = results["dropout_model"], _style(results)
    sample = f"{fmt.count('n', model['n'], style)}, {fmt.plural(model['events'], 'dropout', 'dropouts')}"
    if model["not_estimable_reason"]:
        return f"The dropout model could not be estimated {_parenthesized(model['not_estimable_reason'], sample)}."
    term = model["terms"]["wai_w2"]
    finding = results["findings"]["dropout"]
    odds = (f"{fmt.stat('OR', term['or'], style=style)}, {fmt.ci(term['or_ci_low'], term['or_ci_high'], style=style)}; "
            f"{fmt.stat('B', term['b'], style=style)}, {fmt.test_statistic('z', term['z'], style=style)}, "
            f"{fmt.p_statement(term['p'], style)}; {sample}")
    if finding["significant"]:
        return (f"Higher early alliance was associated with {_higher_lower(finding['direction'])} odds of "
                f"dropout, adjusted for condition ({odds}).")
    return f"There was no evidence that early alliance was associated with dropout, adjusted for condition ({odds})."


# ------------------------------------------------------------------ Aim 2

def alliance_development(results: dict) -> str:
    manova, style = results["alliance_manova"], _style(results)
    alliance = results["findings"]["alliance"]
    if manova["time"]["wilks"] is None and manova["condition"]["f"] is None:
        sample = fmt.count("n", manova["n"], style)
        reason = _parenthesized(manova["not_estimable_reason"], sample)
        return f"The repeated-measures MANOVA could not be estimated {reason}."
    statistics = {"time": _wilks, "time_x_condition": _wilks, "condition": _univariate}
    sentences = []
    for effect, (significant_words, no_evidence_words) in MANOVA_WORDS.items():
        significant = alliance[effect]["manova"]["significant"]
        if significant is not None:
            words = significant_words if significant else no_evidence_words
            sentences.append(f"{words} ({statistics[effect](manova[effect], style)})")
    text = f"In the {fmt.integer(manova['n'])} alliance complete cases, " + ". ".join(
        s[0].upper() + s[1:] if i else s for i, s in enumerate(sentences)) + "."
    if manova["not_estimable_reason"]:
        text += f" Not estimable: {manova['not_estimable_reason']}."
    if results["findings"]["manova_few_error_df"]:
        df = results["findings"]["manova_error_df"]
        text += (f" With {fmt.plural(manova['n'], 'complete case', 'complete cases')} "
                 f"({fmt.plural(df, 'error degree', 'error degrees')} of freedom), the MANOVA's estimates are very "
                 "imprecise.")
    return text


def _side(significant: bool) -> str:
    return "was significant" if significant else "gave no evidence of an effect"


def _disagreement(effect: str, comparison: dict, style: str) -> str:
    manova, mixed = comparison["manova"], comparison["mixed"]
    label = EFFECT_LABELS[effect]
    if manova["significant"] != mixed["significant"]:
        return (f"On {label}, the MANOVA {_side(manova['significant'])} ({fmt.p_statement(manova['p'], style)}) "
                f"whereas the mixed model {_side(mixed['significant'])} ({fmt.p_statement(mixed['p'], style)}).")
    return f"On {label}, both were significant but the two estimates point in opposite directions."


def alliance_abstract(results: dict) -> str:
    """The alliance results of the abstract: the MANOVA's, and the mixed model's as well when the
    MANOVA could not test the change over time or the two disagree on an effect
    (``findings.abstract_reports_mixed``)."""
    development = alliance_development(results)
    return (f"{development} {alliance_mixed(results)}" if results["findings"]["abstract_reports_mixed"]
            else development)


def alliance_mixed(results: dict) -> str:
    mixed, style = results["alliance_mixed"], _style(results)
    if mixed["not_estimable_reason"]:
        return f"The linear mixed model could not be estimated {_parenthesized(mixed['not_estimable_reason'])}."
    comparisons = results["findings"]["alliance"]
    compared = [e for e in EFFECT_LABELS if comparisons[e]["agree"] is not None]
    agreed = [EFFECT_LABELS[e] for e in compared if comparisons[e]["agree"]]
    disagreed = [e for e in compared if not comparisons[e]["agree"]]
    if not compared:
        verdict = "gave these estimates (the MANOVA has no result to compare them with)"
    elif not disagreed:
        verdict = f"agreed with the MANOVA on {fmt.listing(agreed)}"
    elif not agreed:
        verdict = f"did not agree with the MANOVA on {fmt.listing([EFFECT_LABELS[e] for e in disagreed], 'or')}"
    else:
        verdict = (f"agreed with the MANOVA on {fmt.listing(agreed)} but not on "
                   f"{fmt.listing([EFFECT_LABELS[e] for e in disagreed], 'or')}")
    contrasts, interaction = mixed["contrasts"], mixed["terms"]["week_x_condition_embct"]
    text = (f"In the sensitivity analysis, the linear mixed model on all {fmt.integer(mixed['n_observations'])} available "
            f"alliance scores of {fmt.plural(mixed['n_participants'], 'participant', 'participants')} {verdict}: "
            "averaged over the conditions "
            f"the alliance changed per week by {_coefficient(contrasts['week_average'], style, decimals=3)}; "
            f"eMBCT − MBCT at the mean week, {_coefficient(contrasts['condition_at_mean_week'], style, decimals=3)}; "
            f"week × condition, {_coefficient(interaction, style, decimals=3)}.")
    for effect in disagreed:
        text += " " + _disagreement(effect, comparisons[effect], style)
    if mixed.get("note"):
        text += f" Note: {mixed['note']}."
    return text


# ------------------------------------------------------------------ Aim 3

def outcome(results: dict, scale: str, label: str) -> str:
    model, style = results["outcome_models"][scale], _style(results)
    sample = fmt.count("n", model["n"], style)
    if model["not_estimable_reason"]:
        return f"The {label} model could not be estimated {_parenthesized(model['not_estimable_reason'], sample)}."
    term = model["terms"]["wai_w2"]
    finding = results["findings"]["outcome"][scale]
    numbers = (f"{_coefficient(term, style, 't', model['df_resid'])}; "
               f"{fmt.stat('β', term['beta'], style=style)}; {sample}")
    pooled = ", on average over the two conditions" if finding["describe_by_condition"] else ""
    if finding["main"]["significant"]:
        text = (f"Higher early alliance was associated with {_higher_lower(finding['main']['direction'])} "
                f"post-treatment {label}, adjusted for baseline and condition{pooled} ({numbers}).")
    else:
        text = (f"There was no evidence that early alliance was associated with post-treatment {label}, "
                f"adjusted for baseline and condition{pooled} ({numbers}).")
    return text + (_imprecise(model) if finding["few_residual_df"] else "")


def _imprecise(model: dict) -> str:
    """The caution after a model with few residual degrees of freedom (" With 5 participants for 4
    parameters (1 residual degree of freedom), the estimates are very imprecise.")."""
    df = model["df_resid"]
    return (f" With {fmt.plural(model['n'], 'participant', 'participants')} for {model['n_parameters']} parameters "
            f"({fmt.plural(df, 'residual degree', 'residual degrees')} of freedom), the estimates are very "
            "imprecise.")


def moderation(results: dict, scale: str, label: str) -> str:
    model, style = results["outcome_models"][f"{scale}_moderation"], _style(results)
    if model["not_estimable_reason"]:
        reason = _parenthesized(model["not_estimable_reason"], fmt.count("n", model["n"], style))
        return f"The {label} moderation model could not be estimated {reason}."
    finding = results["findings"]["outcome"][scale]
    term = model["terms"]["wai_w2_c_x_condition_embct"]
    slopes = model["simple_slopes"]
    interaction = _coefficient(term, style, "t", model["df_resid"])
    described = {c: f"{c}: {_coefficient(slopes[c], style, 't', model['df_resid'])}" for c in CONDITIONS}
    if not finding["describe_by_condition"]:
        return (f"There was no evidence that the association with {label} differed between the conditions "
                f"(interaction {interaction}); simple slopes of early alliance — {described['MBCT']}; "
                f"{described['eMBCT']}.")
    where = finding["significant_in"]
    directions = {c: finding["simple_slopes"][c]["direction"] for c in CONDITIONS}
    text = f"The association with {label} differed between the conditions (interaction {interaction}): "
    if finding["same_direction"]:
        text += (f"higher early alliance was associated with {_higher_lower(directions[where[0]])} post-treatment "
                 f"{label} in both conditions, more strongly in {finding['stronger_in']} ({described['MBCT']}; "
                 f"{described['eMBCT']}).")
    elif finding["same_direction"] is False:
        text += (f"the association went in opposite directions in the two conditions ({described['MBCT']}; "
                 f"{described['eMBCT']}).")
    elif len(where) == 1:
        (inside,), outside = where, next(c for c in CONDITIONS if c not in where)
        numbers = {c: _coefficient(slopes[c], style, "t", model["df_resid"]) for c in CONDITIONS}
        text += (f"higher early alliance was associated with {_higher_lower(directions[inside])} post-treatment "
                 f"{label} in {inside} ({numbers[inside]}), with no evidence of an association in {outside} "
                 f"({numbers[outside]}).")
    else:
        text += (f"within neither condition was the association significant on its own ({described['MBCT']}; "
                 f"{described['eMBCT']}).")
    return text


# ------------------------------------------------------------------ conclusions

def _higher_in(direction: int) -> tuple[str, str]:
    """(the condition with the higher mean alliance, the other) from the sign of eMBCT − MBCT."""
    return ((COMPARED_CONDITION, REFERENCE_CONDITION) if direction > 0 else (REFERENCE_CONDITION, COMPARED_CONDITION))


def _mixed_note(agreement: dict, found: str) -> str:
    """" (the mixed-model sensitivity analysis did not confirm it)" — or "found <found>", or
    "estimated the opposite direction" — when the two models disagree on the effect; else ""."""
    if agreement["agree"] is not False:
        return ""
    manova, mixed = agreement["manova"], agreement["mixed"]
    if manova["significant"] and not mixed["significant"]:
        what = "did not confirm it"
    elif mixed["significant"] and not manova["significant"]:
        what = f"found {found}"
    else:
        what = "estimated the opposite direction"
    return f" (the mixed-model sensitivity analysis {what})"


def _rising(direction: int) -> str:
    """How the mixed model found the alliance going (a significant estimate is not 0: 1 or −1)."""
    return "rising" if direction == 1 else "falling"


def _mixed_only(mixed: dict) -> str:
    """What the mixed model found of a change that the MANOVA could not test."""
    if not mixed["significant"]:
        return " (the mixed-model sensitivity analysis found no evidence of a change)"
    return f" (the mixed-model sensitivity analysis found the alliance {_rising(mixed['direction'])})"


def _development(model: dict, alliance: dict | None = None) -> str:
    """What one model (``{effect: estimate finding}``, the MANOVA's or the mixed model's) says of
    the alliance: its change over treatment (and which way), its development by condition, and its
    mean level by condition when that differed; with ``alliance`` (the MANOVA's conclusion), each
    effect on which the mixed model disagrees says so beside it."""
    def note(effect: str, found: str) -> str:
        return _mixed_note(alliance[effect], found) if alliance else ""

    time, interaction, level = (model[effect] for effect in ("time", "time_x_condition", "condition"))
    mixed_time = alliance["time"]["mixed"]["direction"] if alliance else None
    if time["significant"] is None:
        text = "the change of the working alliance over treatment could not be tested"
        if alliance and alliance["time"]["mixed"]["significant"] is not None:  # the abstract gives the mixed model
            text += f" by the MANOVA{_mixed_only(alliance['time']['mixed'])}"
    elif time["significant"]:
        way = {1: "rose", -1: "fell"}.get(time["direction"], "changed")
        text = f"the working alliance {way} over treatment" + note("time", "")
    else:
        found = f"it {_rising(mixed_time)}" if mixed_time else "a change"
        text = "there was no evidence that the working alliance changed over treatment" + note("time", found)
    if interaction["significant"] is True:
        text += ", and it developed differently in the two conditions" + note("time_x_condition", "")
    elif interaction["significant"] is False:
        text += (", with no evidence that it developed differently in the two conditions"
                 + note("time_x_condition", "a different development"))
    if level["significant"] and level["direction"]:
        text += "; the mean alliance was higher in {} than in {}".format(*_higher_in(level["direction"]))
        text += note("condition", "")
    elif level["significant"] is False and alliance and alliance["condition"]["agree"] is False:
        mixed_level = alliance["condition"]["mixed"]["direction"]
        found = ("the mean alliance higher in {} than in {}".format(*_higher_in(mixed_level)) if mixed_level
                 else "a difference")
        text += ("; there was no evidence of a difference in mean alliance between the conditions"
                 + note("condition", found))
    return text


def _alliance_conclusion(results: dict) -> str:
    alliance = results["findings"]["alliance"]
    effects = tuple(EFFECT_LABELS)
    if all(alliance[effect]["manova"]["significant"] is None for effect in effects):
        if alliance["time"]["mixed"]["significant"] is None:
            return "the development of the alliance could not be tested (see Results)"
        return ("the MANOVA of the alliance could not be estimated, but in the mixed-model sensitivity analysis "
                + _development({effect: alliance[effect]["mixed"] for effect in effects}))
    return _development({effect: alliance[effect]["manova"] for effect in effects}, alliance)


def _outcome_conclusion(results: dict, scale: str) -> str:
    label = fmt.OUTCOME_NAMES[scale]["construct"]
    if results["outcome_models"][scale]["not_estimable_reason"]:
        return f"the association of early alliance with post-treatment {label} could not be estimated"
    finding = results["findings"]["outcome"][scale]
    if finding["describe_by_condition"]:
        where = finding["significant_in"]
        directions = {c: finding["simple_slopes"][c]["direction"] for c in CONDITIONS}
        if finding["same_direction"]:
            return (f"higher early alliance went with {_higher_lower(directions[where[0]])} post-treatment {label} "
                    "in both conditions, to a different degree")
        if finding["same_direction"] is False:
            return f"early alliance went with post-treatment {label} in opposite directions in the two conditions"
        if len(where) == 1:
            (inside,), outside = where, next(c for c in CONDITIONS if c not in where)
            return (f"higher early alliance went with {_higher_lower(directions[inside])} post-treatment {label} "
                    f"in {inside}, with no evidence of an association in {outside} (the association differed "
                    "between the conditions)")
        return (f"the association of early alliance with post-treatment {label} differed between the conditions, "
                "without a significant association within either")
    if finding["main"]["significant"]:
        return f"higher early alliance went with {_higher_lower(finding['main']['direction'])} post-treatment {label}"
    return f"there was no evidence of an association between early alliance and post-treatment {label}"


def _dropout_conclusion(results: dict) -> str:
    if results["dropout_model"]["not_estimable_reason"]:
        return "the association of early alliance with dropout could not be estimated"
    finding = results["findings"]["dropout"]
    if finding["significant"]:
        return f"higher early alliance went with {_higher_lower(finding['direction'])} odds of dropout"
    return "there was no evidence of an association between early alliance and dropout"


def conclusion(results: dict) -> str:
    """The key findings of this freeze in words, each chosen by its numbers."""
    parts = [_alliance_conclusion(results), _outcome_conclusion(results, "hads"),
             _outcome_conclusion(results, "mhcsf"), _dropout_conclusion(results)]
    text = "In this freeze, " + "; ".join(parts) + "."
    if results["findings"]["interim"]:
        return text  # the interim notice follows it (interim_notice)
    return text + " These results of the complete follow-up are for the committees, not a publication."


# ------------------------------------------------------------------ methods

def _item_set(items: tuple[int, ...]) -> str:
    """"odd items", "even items" or "items 1–3" / "items 1, 4, 7" (a subscale's items)."""
    if all(i % 2 for i in items) or not any(i % 2 for i in items):
        return f"{'odd' if items[0] % 2 else 'even'} items"
    if list(items) == list(range(items[0], items[-1] + 1)):
        return f"items {items[0]}–{items[-1]}"
    return f"items {fmt.listing(items)}"


def _scoring(spec) -> str:
    """How an instrument is scored, from its definition (scoring.INSTRUMENTS; freeze-format.md)."""
    subscales = list(spec.subscales.items())
    skipped = f"{spec.subscale_max_missing} skipped {fmt.agree(spec.subscale_max_missing, 'item', 'items')}"
    if spec.total_max_missing is None:  # the total is the sum of the prorated subscales (HADS)
        sizes = {len(items) for _, items in subscales}
        factor = sizes.pop() if len(sizes) == 1 else "the number of its items"
        names = fmt.listing(f"{name} ({_item_set(items)})" for name, items in subscales)
        return (f"{names} prorated from the answered items (mean × {factor}) with at most {skipped} each; "
                f"total ({fmt.score_range(spec)}) = {' + '.join(name for name, _ in subscales)}")
    names = fmt.listing(name for name, _ in subscales)
    return (f"mean of the answered items, missing with more than {spec.total_max_missing} skipped items "
            f"(subscales {names}: more than {spec.subscale_max_missing})")


def measures() -> list[str]:
    """The instruments and their scoring, written from their definitions (design.INSTRUMENT_TITLES,
    scoring.INSTRUMENTS); the WAI with the weeks it is administered."""
    lines = []
    for name in INSTRUMENTS:
        spec, (short, title) = SCORED[name], INSTRUMENT_TITLES[name]
        when = (f", at the start of treatment weeks {fmt.ALLIANCE_WEEKS_TEXT} (early alliance: week "
                f"{min(ALLIANCE_WEEK_NUMBERS.values())})" if name in TIMEPOINT_INSTRUMENTS[ALLIANCE_WEEKS[0]] else "")
        lines.append(f"{title} ({short}; {spec.n_items} items, {spec.low}–{spec.high}){when}: {_scoring(spec)}.")
    return lines


def analyses(results: dict) -> list[str]:
    """One line per analysis of the plan, with the settings in force."""
    threshold = results["settings"]["dropout_threshold"]
    return [
        "Participant flow: CONSORT counts from the freeze at the cut-off date (a timepoint counts as due once "
        "its planned date plus window has passed), checked for arithmetic consistency.",
        "Baseline characteristics of the treated participants with standardized differences"
        + (" and χ² or t tests." if results["settings"]["table1_tests"] else "."),
        "Reliability: Cronbach α of each scale per assessment, on complete forms.",
        f"Aim 1: logistic regression of dropout (< {threshold} sessions) on early alliance and condition.",
        "Aim 2: repeated-measures MANOVA (profile analysis; time, time × condition, condition) on the "
        "alliance complete cases, with condition in sum-to-zero coding; sensitivity analysis: linear "
        "mixed model wai ~ week × condition + (1 | participant) on all available scores (REML, "
        "model-based standard errors), compared with the MANOVA through the average weekly change and "
        "the condition difference at the mean week.",
        "Aim 3: linear regression of post-treatment HADS and MHC-SF on baseline, early alliance and "
        "condition; moderation by condition with the centred early alliance × condition interaction "
        "and simple slopes per condition; diagnostics: studentized (Koenker) Breusch–Pagan test, variance inflation factors, "
        "residual plots.",
    ]
