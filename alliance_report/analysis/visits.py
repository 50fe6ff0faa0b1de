"""Where every participant stands at the cut-off: the visit schedule applied to the freeze.

The study's schedule (``studies/<study>.toml``, :mod:`alliance_report.study`) gives each
timepoint an anchor, an offset and a window.  Per participant the anchors are

* ``randomized_on`` and ``rerandomized_on`` (participants.csv);
* ``treatment_start``: the earliest attended session (sessions.csv), else the
  (re-)randomization date that started treatment + ``treatment_start_fallback_days``
  (treated participants only);

and the planned date of a timepoint is its anchor's date (or planned date) + offset.

TAU participants who are not re-randomized are either still in their **waiting period**
(no disposition row and the cut-off before randomized_on + waiting_period_days +
waiting_period_window_days) or **not re-randomized** — with the disposition row's event and
reason, or "(no reason recorded)" once the waiting period is overdue.

Status of each participant × timepoint × instrument of that timepoint at the cut-off
(:data:`STATUSES`):

``complete``
    the form has rows and its scale score can be computed;
``partial``
    the form has rows but no scale score (too many skipped items);
``missing``
    no rows, and the timepoint is due: planned date + window ≤ cut-off;
``not yet due``
    no rows, and planned date + window > cut-off — or the anchor is still to come (a TAU
    participant in the waiting period: T0b and every treatment timepoint);
``not applicable``
    no rows, and the timepoint does not concern the participant: T0b for anyone not
    re-randomized, the treatment timepoints (W2–W9, T1–T3) for a TAU participant who was not
    re-randomized, and any timepoint planned after the participant withdrew from the study
    (``withdrew_from_study`` with event_on before the planned date).

A form that is there is complete or partial whether or not its window has closed (the CONSORT
counts take a complete one as assessed; a partial one counts as lost to follow-up only once its
window has closed, ``window_closed``), and whether or not the participant withdrew before its
planned date (``withdrew_before_planned``: a form returned early, then a withdrawal).  The
completeness table of the trial conduct (:func:`alliance_report.analysis.conduct.completeness`)
counts such a form as due only once its window has closed and only when the participant had not
withdrawn before the planned date, as committee-reports.md defines *due*, and lists it apart.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alliance_report.analysis import samples
from alliance_report.design import (ALLIANCE_WEEKS, ANALYSED_TIMEPOINTS, DISPOSITION_EVENT_WORDS, FOLLOW_UPS,
                                    TIMEPOINT_INSTRUMENTS, TIMEPOINTS, WAITING_LIST)
from alliance_report.study import Study, planned_dates

COMPLETE, PARTIAL, MISSING, NOT_YET_DUE, NOT_APPLICABLE = (
    "complete", "partial", "missing", "not yet due", "not applicable")
STATUSES = (COMPLETE, PARTIAL, MISSING, NOT_YET_DUE, NOT_APPLICABLE)
DUE = (COMPLETE, PARTIAL, MISSING)
TREATMENT_TIMEPOINTS = (*ALLIANCE_WEEKS, *FOLLOW_UPS)

# TAU participants' state after the first randomization
RERANDOMIZED, WAITING, NOT_RERANDOMIZED = "re-randomized", "waiting", "not re-randomized"
NO_REASON = "(no reason recorded)"


def days(value) -> np.ndarray:
    """Dates (strings, datetimes) as numpy days."""
    return np.asarray(value, dtype="datetime64[D]")


def _disposition_reason(event: str, reason: str | None) -> str:
    words = DISPOSITION_EVENT_WORDS.get(event, event)
    return f"{words}: {reason}" if reason else words


def participant_schedule(tables: dict[str, pd.DataFrame], data: pd.DataFrame, study: Study,
                         cutoff: np.datetime64) -> pd.DataFrame:
    """Per participant (index of ``data``): TAU state and reason, anchor and planned dates.

    Columns ``tau_state`` (None outside TAU), ``tau_reason``, ``withdrew_on``,
    ``treatment_start`` and ``planned_<timepoint>`` (datetime64[D], NaT where there is none).
    """
    index = data.index
    participants = tables["participants"].set_index("participant_id").reindex(index)
    disposition = tables["disposition"].set_index("participant_id")
    sessions = tables["sessions"]

    randomized_on = days(participants["randomized_on"])
    rerandomized_on = days(participants["rerandomized_on"])
    attended = sessions.loc[sessions["attended"] == "yes"]
    first_session = days(attended.groupby("participant_id")["session_on"].min().reindex(index))
    started_by = np.where(data["rerandomized"].to_numpy(), rerandomized_on, randomized_on)
    fallback = started_by + np.timedelta64(study.treatment_start_fallback_days, "D")
    treatment_start = np.where(np.isnat(first_session), fallback, first_session)
    treatment_start = np.where(data["treated"].to_numpy(), treatment_start, np.datetime64("NaT"))

    schedule = pd.DataFrame(index=index)
    tau = (data["allocation"] == WAITING_LIST).to_numpy()
    event = disposition["event"].reindex(index)
    reason = disposition["reason"].reindex(index)
    overdue_on = randomized_on + np.timedelta64(study.waiting_period_days + study.waiting_period_window_days, "D")
    state = np.full(len(index), None, dtype=object)
    state[tau] = NOT_RERANDOMIZED
    state[tau & data["treated"].to_numpy()] = RERANDOMIZED
    waiting = tau & ~data["treated"].to_numpy() & event.isna().to_numpy() & (cutoff < overdue_on)
    state[waiting] = WAITING
    schedule["tau_state"] = state
    reasons = [(_disposition_reason(e, r) if isinstance(e, str) else NO_REASON)
               if s == NOT_RERANDOMIZED else None
               for s, e, r in zip(state, event.to_numpy(), reason.to_numpy())]
    schedule["tau_reason"] = reasons
    withdrew = event.to_numpy() == "withdrew_from_study"
    schedule["withdrew_on"] = np.where(
        withdrew, days(disposition["event_on"].reindex(index)), np.datetime64("NaT"))
    schedule["treatment_start"] = treatment_start
    planned = planned_dates(study, {"randomized_on": randomized_on, "rerandomized_on": rerandomized_on,
                                    "treatment_start": treatment_start})
    for timepoint in TIMEPOINTS:
        schedule[f"planned_{timepoint}"] = planned[timepoint]
    return schedule


def visit_status(tables: dict[str, pd.DataFrame], scores: pd.DataFrame, data: pd.DataFrame,
                 study: Study, cutoff_date: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The participant schedule and the long status table.

    The status table has one row per participant × timepoint × instrument of that timepoint:
    ``participant_id``, ``timepoint``, ``instrument``, ``planned_on``, ``due_on`` (planned +
    window), ``window_closed`` (``due_on`` ≤ cut-off), ``withdrew_before_planned`` and ``status``
    (see the module docstring).
    """
    cutoff = np.datetime64(cutoff_date, "D")
    schedule = participant_schedule(tables, data, study, cutoff)
    index = data.index
    tau_state = schedule["tau_state"].to_numpy()
    treated = data["treated"].to_numpy()
    withdrew_on = days(schedule["withdrew_on"])
    form_total = scores.set_index(["participant_id", "timepoint", "instrument"])["total"]

    parts = []
    for timepoint in TIMEPOINTS:
        planned = days(schedule[f"planned_{timepoint}"])
        due_on = planned + np.timedelta64(study.schedule[timepoint].window_days, "D")
        if timepoint == "T0":
            applies = np.ones(len(index), dtype=bool)
        elif timepoint == "T0b":
            applies = tau_state == RERANDOMIZED
        else:
            applies = treated
        pending = tau_state == WAITING if timepoint in ("T0b", *TREATMENT_TIMEPOINTS) else np.zeros(len(index), bool)
        withdrawn = ~np.isnat(withdrew_on) & ~np.isnat(planned) & (withdrew_on < planned)
        for instrument in TIMEPOINT_INSTRUMENTS[timepoint]:
            keys = pd.MultiIndex.from_arrays([index, np.full(len(index), timepoint), np.full(len(index), instrument)])
            total = form_total.reindex(keys)
            has_rows = keys.isin(form_total.index)
            status = np.select(
                [has_rows & total.notna().to_numpy(), has_rows, pending,
                 ~applies | withdrawn, np.isnat(due_on) | (due_on > cutoff)],
                [COMPLETE, PARTIAL, NOT_YET_DUE, NOT_APPLICABLE, NOT_YET_DUE],
                default=MISSING)
            parts.append(pd.DataFrame({
                "participant_id": index, "timepoint": timepoint, "instrument": instrument,
                "planned_on": planned, "due_on": due_on, "window_closed": ~np.isnat(due_on) & (due_on <= cutoff),
                "withdrew_before_planned": withdrawn, "status": status}))
    return schedule, pd.concat(parts, ignore_index=True)


def status_counts(status: pd.DataFrame) -> dict:
    """{timepoint: {instrument: {status: n}}} over every participant, every status listed."""
    counts = status.groupby(["timepoint", "instrument", "status"]).size()
    return {
        timepoint: {
            instrument: {name: int(counts.get((timepoint, instrument, name), 0)) for name in STATUSES}
            for instrument in TIMEPOINT_INSTRUMENTS[timepoint]
        }
        for timepoint in TIMEPOINTS
    }


def awaited(status: pd.DataFrame) -> pd.Series:
    """Forms still to come at the cut-off: no form while the window is open or the anchor is
    still to come (``not yet due``), or a partial one while its window is open (a scorable form
    may follow).  What the CONSORT counts and the interim notice take as not yet due."""
    return (status["status"] == NOT_YET_DUE) | ((status["status"] == PARTIAL) & ~status["window_closed"])


def interim_state(data: pd.DataFrame, schedule: pd.DataFrame, status: pd.DataFrame) -> dict:
    """Whether the freeze is interim: anyone still in the waiting period, in treatment, or with a
    follow-up (T1–T3) not yet due at the cut-off (no form, or a partial one, while its window is
    open: as the CONSORT counts); with the counts of each.  ``analysed_data_complete``: nobody is
    waiting or in treatment and no form of a timepoint the analyses use (``ANALYSED_TIMEPOINTS``)
    is still to come — a later freeze can then change the trial conduct, not the analyses' data.
    ``awaiting_analysed_follow_up``: of those awaiting a follow-up, the participants awaiting one
    that the analyses use (T1), not only T2 or T3."""
    treated = samples.treated(data)
    in_treatment = len(samples.in_treatment(data))
    waiting = int((schedule["tau_state"] == WAITING).sum())
    ended = treated.index[treated["treatment_ended"]]

    def awaiting(timepoints) -> int:
        pending = status.loc[status["timepoint"].isin(timepoints) & awaited(status), "participant_id"]
        return int(pd.Index(pending.unique()).isin(ended).sum())

    awaiting_follow_up = awaiting(FOLLOW_UPS)
    analysed_awaited = bool((status["timepoint"].isin(ANALYSED_TIMEPOINTS) & awaited(status)).any())
    return {
        "is_interim": bool(waiting or in_treatment or awaiting_follow_up),
        "waiting_period": waiting,
        "in_treatment": in_treatment,
        "in_treatment_none_attended": len(samples.in_treatment_none_attended(data)),
        "awaiting_follow_up": awaiting_follow_up,
        "awaiting_analysed_follow_up": awaiting([t for t in FOLLOW_UPS if t in ANALYSED_TIMEPOINTS]),
        "analysed_data_complete": not (waiting or in_treatment or analysed_awaited),
    }
