"""Sentences about the conduct of the trial (both editions) and the open edition's own sentences.

Plain text from ``results`` through the one formatter, like :mod:`alliance_report.render.text`;
the open edition's sentences read the open results only (``participant_flow``, ``conduct``,
``interim``: nothing by arm).
"""

from __future__ import annotations

from alliance_report.render import format as fmt


def window_days(study: dict) -> str:
    """The window of the study's visit schedule: "30", or "14–30" when the timepoints differ."""
    windows = sorted({visit["window_days"] for visit in study["schedule"].values()})
    return str(windows[0]) if len(windows) == 1 else f"{windows[0]}–{windows[-1]}"


def accrual(results: dict) -> str:
    a = results["conduct"]["accrual"]
    text = (f"By the cut-off date {results['cutoff_date']}, "
            f"{fmt.plural(a['randomized'], 'participant', 'participants')} had been randomized, "
            f"{fmt.percent(a['pct_of_target'], a['target'])}% of the target of {fmt.integer(a['target'])} (the planned "
            f"recruitment line stands at {fmt.number(a['target_at_cutoff'], 0)} on that date).")
    window = a["rate_window_months"]
    if a["projection"] == "projected":
        months = a["rate_months"]
        text += (f" Over the last {window} complete months ({months[0]} to {months[-1]}), "
                 f"{fmt.number(a['rate_last_3_months'], 1)} participants were randomized per month; at that rate "
                 f"the target is reached around {a['projected_target_date']} (planned end of recruitment: "
                 f"{a['recruitment_end_planned']}).")
    elif a["projection"] == "target_reached":
        text += " The recruitment target has been reached."
    elif a["projection"] == "too_few_complete_months":
        text += f" A recruitment rate is given once {window} complete months of recruitment have passed."
    else:
        text += (f" Nobody was randomized in the last {window} complete months, so no date for reaching the target "
                 "can be projected.")
    return text


def completeness(results: dict) -> str:
    window = window_days(results["study_configuration"])
    return ("Per timepoint and questionnaire, a form counts as due at the cut-off once its planned date "
            f"(the visit schedule of the study) plus a window of {window} days has passed, unless the participant "
            "withdrew from the study before the planned date; of the due forms, complete ones have a scale score, "
            "partial ones rows but no score. Forms returned while their window is still open are listed apart "
            "(before due) and join the due forms once it has closed. Timeliness is the number of days from the "
            "planned date to the completion of each form.")


def disposition(results: dict) -> str:
    d = results["conduct"]["disposition"]
    return (f"By the cut-off date, {fmt.plural(d['discontinued_treatment'], 'participant', 'participants')} had "
            f"discontinued treatment, {fmt.integer(d['withdrew_from_study'])} had withdrawn from the study and "
            f"{fmt.integer(d['lost_to_follow_up'])} {fmt.agree(d['lost_to_follow_up'], 'was', 'were')} recorded "
            "as lost to follow-up.")


def conduct(results: dict) -> dict[str, str]:
    """The paragraphs of the "Trial conduct" section."""
    return {"accrual": accrual(results), "completeness": completeness(results),
            "disposition": disposition(results)}


# ------------------------------------------------------------------ the open edition

def summary(results: dict) -> str:
    return (f"This open report describes the conduct of the {results['study']} trial up to the cut-off date "
            f"{results['cutoff_date']}: accrual against the target, sites, the completeness and timeliness of "
            "the questionnaires, withdrawals, the flow of participants and their baseline characteristics, each "
            "pooled over the treatment arms. It holds no data by arm and no comparison of the arms; those are "
            "in the closed report for the data monitoring committee.")


def awaited_follow_ups(state: dict) -> str:
    """Which follow-ups the participants awaiting one await: "7 of them at T1", "all of them at
    T1", "at T1" (one participant) or "only at T2 or T3" (T1 is the follow-up the analyses use)."""
    n, analysed = state["awaiting_follow_up"], state["awaiting_analysed_follow_up"]
    if analysed == 0:
        return f"only at {fmt.UNANALYSED_FOLLOW_UPS}"
    if analysed == n:
        return f"{'all of them ' if n > 1 else ''}at {fmt.ANALYSED_FOLLOW_UPS}"
    return f"{fmt.integer(analysed)} of them at {fmt.ANALYSED_FOLLOW_UPS}"


def none_attended_yet(none_attended: int, in_treatment: int) -> str:
    """" (5 of them with no session attended yet)": of the participants in treatment, those who
    had attended no session by the cut-off ("" when there are none)."""
    if not none_attended:
        return ""
    if none_attended == in_treatment:
        return " (none of them with a session attended yet)" if in_treatment > 1 else " (no session attended yet)"
    return f" ({fmt.integer(none_attended)} of them with no session attended yet)"


def pending_participants(state: dict) -> str:
    """"were 12 participants still in their waiting period, 18 in treatment and 30 awaiting a
    follow-up assessment (7 of them at T1)" (the verb agrees with the first count; counts of 0 are
    left out)."""
    awaiting = (f"awaiting a follow-up assessment ({awaited_follow_ups(state)})"
                if state["awaiting_follow_up"] else "")
    in_treatment = "in treatment" + none_attended_yet(state["in_treatment_none_attended"], state["in_treatment"])
    counts = [(state["waiting_period"], "still in their waiting period"), (state["in_treatment"], in_treatment),
              (state["awaiting_follow_up"], awaiting)]
    present = [(n, words) for n, words in counts if n]
    if not present:
        return ""
    parts = [f"{fmt.integer(n)} {words}" for n, words in present]
    first = present[0][0]
    parts[0] = f"{fmt.plural(first, 'participant', 'participants')} {present[0][1]}"
    return f"{fmt.agree(first, 'was', 'were')} {fmt.listing(parts)}"


def interim(results: dict) -> str:
    """"" for a freeze where nobody is waiting, in treatment or awaiting follow-up."""
    state = results["interim"]
    if not state["is_interim"]:
        return ""
    return f"At the cut-off there {pending_participants(state)}; these counts will change as the trial goes on."


def flow(results: dict) -> str:
    f = results["participant_flow"]
    n = {key: fmt.integer(value) for key, value in f.items() if isinstance(value, int)}  # counts as text
    text = (f"Of {n['assessed']} people assessed for eligibility, {n['excluded']} were not randomized and "
            f"{n['randomized']} were randomized. In all, "
            f"{fmt.plural(f['treated'], 'participant was', 'participants were')} treated in MBCT or eMBCT, "
            f"{n['first_round']} of them after the first randomization and {n['rerandomized']} after the "
            "waiting period of treatment as usual")
    waiting = fmt.listing([
        f"{n['tau_waiting']} {fmt.agree(f['tau_waiting'], 'was', 'were')} still in the waiting period"
        if f["tau_waiting"] else "",
        f"{n['tau_not_rerandomized']} {fmt.agree(f['tau_not_rerandomized'], 'was', 'were')} not re-randomized"
        if f["tau_not_rerandomized"] else ""])
    text += f"; {waiting}." if waiting else "."
    text += (f" Of the treated participants, {n['treatment_ended']} had ended treatment ({n['dropout']} of them "
             f"with fewer than {results['settings']['dropout_threshold']} sessions attended) and {n['in_treatment']} "
             f"{fmt.agree(f['in_treatment'], 'was', 'were')} still in treatment"
             f"{none_attended_yet(f['in_treatment_none_attended'], f['in_treatment'])}; {n['t1_assessed']} had a "
             f"post-treatment (T1) HADS score and {n['lost_to_follow_up_t1']} "
             f"{fmt.agree(f['lost_to_follow_up_t1'], 'was', 'were')} lost to follow-up at T1")
    later = fmt.listing([f"{n['withdrawn_before_t1']} had withdrawn before T1" if f["withdrawn_before_t1"] else "",
                         f"for {n['t1_not_yet_due']} T1 was not yet due" if f["t1_not_yet_due"] else ""])
    return text + (f"; {later}." if later else ".")


def sentences(results: dict) -> dict[str, str]:
    """The open edition's sentences."""
    return {"summary": summary(results), "interim": interim(results), "flow": flow(results)}
