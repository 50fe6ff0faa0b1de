"""Trial conduct at the cut-off: accrual, sites, completeness, timeliness, retention.

Spec: ``committee-reports.md``, "Trial conduct".  :func:`trial_conduct` returns the
``conduct`` object of results.json; every count is at the freeze's cut-off date ``c``.

**Accrual** (participants.csv).  The months are the calendar months from the month of
``min(recruitment_start, first randomized_on)`` to the month of ``c``, months without a
randomization included.  Per month *m*: ``randomized`` = participants with ``randomized_on``
in *m*; ``cumulative`` = Σ randomized up to *m*; ``target_cumulative`` = the planned line

    target(d) = min(T, max(0, T · (d − start) / (end − start)))      (days; T = target_randomized)

evaluated at d = the last day of *m* (the cut-off for the cut-off month); with end = start it
is T from the start on.  A *complete* month is a calendar month lying wholly within
[recruitment_start, c] (its first day ≥ recruitment_start, its last day ≤ c);
``rate_last_3_months`` = (randomized in the last 3 complete months) / 3, null when there are
fewer than 3 complete months (``rate_months`` names them).  ``target_reached`` = randomized ≥ T;
``projected_target_date`` = c + ⌈(T − randomized) / rate × 365.25/12⌉ days, null when the
target is reached or the rate is 0 or null.  ``pct_of_target`` = 100 · randomized / T;
``target_at_cutoff`` = target(c).  What the report says of it is decided here too: ``projection``
(``projected``, ``target_reached``, ``too_few_complete_months``, ``no_recent_randomization``),
``rate_window_months`` (3), ``target_reached_month`` (the first month whose cumulative ≥ T, null
before), ``last_randomization_month`` and ``cutoff_month_partial`` (c before the last day of its month).

**Sites** (screening.csv, by its ``site``, sorted by name): ``screened`` = rows,
``eligible`` = rows with eligible = yes, ``randomized`` = rows with a participant_id,
``randomized_pct`` = 100 · randomized / screened; ``sites_total`` the same over all rows.

**Completeness** (the visit status of :mod:`alliance_report.analysis.visits`), per timepoint ×
instrument of that timepoint, as committee-reports.md defines it: a form is *due* when its
planned date + window ≤ the cut-off (``due_on`` ≤ c; the visit status has already left out
those who withdrew from the study before the planned date or are still in the waiting
period); ``complete``, ``partial`` and ``missing`` count the due forms in each status, so
``due`` = complete + partial + missing and ``pct_complete`` = 100 · complete / due (null when
due = 0).  A form that is there before its window has closed is not due yet: it is counted
apart, as ``received_before_due`` (in the percentage once its window has closed), beside
``not_yet_due`` (no form, window still open) and ``not_applicable``; so is a form returned
before its planned date by a participant who withdrew before that date (never due).

**Timeliness**, per timepoint: for each form (participant × timepoint × instrument with rows
in questionnaires.csv; the format gives a form one ``completed_on``), days = ``completed_on``
− planned date (negative: completed before the planned date); ``n`` (forms), median, first
and third quartile (linear interpolation, R type 7 = pandas' default; null when n = 0).  Per
form, as committee-reports.md defines it: a questionnaire returned late counts as late even
when the other one of its timepoint came on time.
Forms without a planned date (T1–T3 rows of a participant who was never treated, which the
format allows) have no delay and are left out.

**Retention** (disposition.csv): ``disposition`` = rows per event (every event of the format,
0 when none); ``disposition_monthly`` = per accrual month, the number of rows per event with
``event_on`` ≤ the month's last day (cumulative; the cut-off month's row equals the totals).

**By arm** (``by_arm=True``, the closed edition): ``by_arm: {MBCT, eMBCT, TAU}`` beside each
pooled block, each arm with the pooled block's shape, adding up to it.  Accrual and sites
group by ``allocation`` (the first randomization; ``by_arm[arm].pct_of_randomized`` =
100 · arm / randomized); completeness, timeliness and disposition by the arm a participant
is in at the cut-off: the treatment condition when treated (re-randomized TAU participants
included), ``TAU`` for TAU participants not (yet) re-randomized.  ``disposition_monthly``
stays pooled.

**Open edition** (``by_arm=False``): the pooled blocks read randomized_on, screening.csv,
disposition.csv, questionnaires.csv and the status table only, never ``allocation`` or
``treatment``; the status table itself depends on the arms only through "treated or not"
and "TAU or not", which a relabelling of MBCT ↔ eMBCT does not change.  The pooled blocks
are the same objects whether ``by_arm`` is set or not.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from alliance_report.analysis.visits import COMPLETE, DUE, PARTIAL, STATUSES, days as _days
from alliance_report.design import ALLOCATIONS, TIMEPOINT_INSTRUMENTS, TIMEPOINTS, WAITING_LIST
from alliance_report.design import DISPOSITION_EVENTS as EVENTS
from alliance_report.study import Study

ARMS: tuple[str, ...] = ALLOCATIONS                 # MBCT, eMBCT, TAU
MONTH_DAYS = 365.25 / 12
RATE_MONTHS = 3
# a form that is there while its window is still open: not due yet, counted apart
RECEIVED_BEFORE_DUE = "received before due"
COMPLETENESS_STATUSES = (*STATUSES, RECEIVED_BEFORE_DUE)
# results.json keys of the statuses (they hold spaces)
STATUS_KEYS = {status: status.replace(" ", "_") for status in COMPLETENESS_STATUSES}


# ----------------------------------------------------------------------------- helpers

def _float(value) -> float | None:
    """A plain float, None for NaN/inf/None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _months(first: np.datetime64, last: np.datetime64) -> np.ndarray:
    """Calendar months first..last (datetime64[M]) inclusive."""
    return np.arange(first, last + 1, dtype="datetime64[M]")


def _month_ends(months: np.ndarray) -> np.ndarray:
    return (months + 1).astype("datetime64[D]") - np.timedelta64(1, "D")


def _month_index(dates: np.ndarray, first: np.datetime64) -> np.ndarray:
    return (dates.astype("datetime64[M]") - first).astype(np.int64)


def _participant_arm(data: pd.DataFrame) -> pd.Series:
    """The arm at the cut-off: the treatment condition when treated, TAU otherwise."""
    return pd.Series(np.where(data["treated"].to_numpy(), data["condition"].to_numpy(dtype=object),
                              WAITING_LIST), index=data.index, dtype=object)


def _arm_of(ids, arm: pd.Series) -> np.ndarray:
    """The arm of each participant id (None for an id not in ``arm``)."""
    rows = arm.index.get_indexer(pd.Index(ids))
    return np.where(rows >= 0, arm.to_numpy(dtype=object)[rows], None)


# ----------------------------------------------------------------------------- accrual

def planned_line(study: Study, dates: np.ndarray) -> np.ndarray:
    """The target line at ``dates`` (datetime64[D]): linear in days, 0 at recruitment_start,
    target_randomized at recruitment_end_planned, capped at both ends."""
    start = np.datetime64(study.recruitment_start, "D")
    end = np.datetime64(study.recruitment_end_planned, "D")
    target = float(study.target_randomized)
    elapsed = (dates - start).astype(np.int64).astype(float)
    span = float((end - start).astype(np.int64))
    if span <= 0:
        return np.where(elapsed >= 0, target, 0.0)
    return np.clip(target * elapsed / span, 0.0, target)


def _monthly_counts(randomized_on: np.ndarray, first: np.datetime64, n_months: int) -> np.ndarray:
    return np.bincount(_month_index(randomized_on, first), minlength=n_months)[:n_months]


def _projection_status(reached: bool, rate: float | None) -> str:
    """Why there is a projected date or not: ``projected``, ``target_reached``,
    ``too_few_complete_months`` (fewer than RATE_MONTHS) or ``no_recent_randomization`` (rate 0)."""
    if reached:
        return "target_reached"
    if rate is None:
        return "too_few_complete_months"
    return "projected" if rate else "no_recent_randomization"


def accrual(randomized_on, study: Study, cutoff_date: str, allocation=None) -> dict:
    """The ``accrual`` block from the randomization dates (and, for ``by_arm``, the allocations
    aligned with them)."""
    cutoff = np.datetime64(cutoff_date, "D")
    dates = _days(randomized_on)
    start = np.datetime64(study.recruitment_start, "D")
    first_day = min(start, dates.min()) if len(dates) else start
    first = min(first_day, cutoff).astype("datetime64[M]")
    months = _months(first, cutoff.astype("datetime64[M]"))
    counts = _monthly_counts(dates, first, len(months))
    cumulative = np.cumsum(counts)
    evaluated = np.minimum(_month_ends(months), cutoff)
    target_line = planned_line(study, evaluated)
    monthly = [{"month": str(month), "randomized": int(n), "cumulative": int(total),
                "target_cumulative": float(planned)}
               for month, n, total, planned in zip(months, counts, cumulative, target_line)]

    # complete months: wholly within [recruitment_start, cutoff]
    complete = (months.astype("datetime64[D]") >= start) & (_month_ends(months) <= cutoff)
    complete_idx = np.flatnonzero(complete)
    if len(complete_idx) >= RATE_MONTHS:
        last = complete_idx[-RATE_MONTHS:]
        rate = float(counts[last].sum()) / RATE_MONTHS
        rate_months = [str(months[i]) for i in last]
    else:
        rate, rate_months = None, None
    randomized, target = int(len(dates)), int(study.target_randomized)
    reached = randomized >= target
    projected = None
    if not reached and rate:
        days = (target - randomized) / rate * MONTH_DAYS
        projected = str(cutoff + np.timedelta64(math.ceil(days - 1e-9), "D"))
    with_randomization = np.flatnonzero(counts)
    block = {
        "randomized": randomized,
        "target": target,
        "pct_of_target": _pct(randomized, target),
        "target_at_cutoff": float(planned_line(study, np.array([cutoff]))[0]),
        "cutoff_date": str(cutoff),
        "recruitment_start": str(start),
        "recruitment_end_planned": str(np.datetime64(study.recruitment_end_planned, "D")),
        "monthly": monthly,
        "cutoff_month_partial": bool(_month_ends(months[-1:])[0] > cutoff),
        "target_reached_month": str(months[np.argmax(cumulative >= target)]) if reached else None,
        "last_randomization_month": str(months[with_randomization[-1]]) if len(with_randomization) else None,
        "rate_window_months": RATE_MONTHS,
        "rate_months": rate_months,
        "rate_last_3_months": rate,
        "projected_target_date": projected,
        "projection": _projection_status(reached, rate),
        "target_reached": reached,
    }
    if allocation is not None:
        allocation = np.asarray(allocation, dtype=object)
        by_arm = {}
        for arm in ARMS:
            mine = dates[allocation == arm]
            arm_counts = _monthly_counts(mine, first, len(months))
            by_arm[arm] = {
                "randomized": int(len(mine)),
                "pct_of_randomized": _pct(len(mine), randomized),
                "monthly": [{"month": str(month), "randomized": int(n), "cumulative": int(total)}
                            for month, n, total in zip(months, arm_counts, np.cumsum(arm_counts))],
            }
        block["by_arm"] = by_arm
    return block


# ----------------------------------------------------------------------------- sites

def _site_counts(frame: pd.DataFrame) -> dict:
    screened = int(len(frame))
    randomized = int(frame["participant_id"].notna().sum())
    return {"screened": screened, "eligible": int((frame["eligible"] == "yes").sum()),
            "randomized": randomized, "randomized_pct": _pct(randomized, screened)}


def sites(screening: pd.DataFrame, allocation: pd.Series | None = None) -> tuple[list, dict]:
    """Per site of screening.csv (sorted by name), and the total over all rows."""
    if allocation is not None:
        arm = allocation.reindex(pd.Index(screening["participant_id"])).to_numpy(dtype=object)

    def arm_counts(mask) -> dict:
        return {a: {"randomized": int(((arm == a) & mask).sum())} for a in ARMS}

    rows = []
    site = screening["site"].to_numpy(dtype=object)
    for name in sorted(set(site)):
        mask = site == name
        row = {"site": str(name), **_site_counts(screening.loc[mask])}
        if allocation is not None:
            row["by_arm"] = arm_counts(mask)
        rows.append(row)
    total = _site_counts(screening)
    if allocation is not None:
        total["by_arm"] = arm_counts(np.ones(len(screening), dtype=bool))
    return rows, total


# ----------------------------------------------------------------------------- completeness

def _completeness_block(lookup: dict, *group) -> dict:
    """{timepoint: {instrument: {due, complete, …, pct_complete}}} from counts keyed by
    (*group, timepoint, instrument, status)."""
    block = {}
    for timepoint in TIMEPOINTS:
        block[timepoint] = {}
        for instrument in TIMEPOINT_INSTRUMENTS[timepoint]:
            n = {status: int(lookup.get((*group, timepoint, instrument, status), 0))
                 for status in COMPLETENESS_STATUSES}
            due = sum(n[status] for status in DUE)
            cell = {"due": due}
            cell.update({STATUS_KEYS[status]: n[status] for status in COMPLETENESS_STATUSES})
            cell["pct_complete"] = _pct(cell["complete"], due)
            block[timepoint][instrument] = cell
    return block


def _counts(columns: list[np.ndarray]) -> dict:
    """{(value of each column, …): n} over the rows (factorized codes and one bincount: the
    status table has 13 rows per participant)."""
    codes, uniques = zip(*(pd.factorize(column) for column in columns))
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for code, unique in zip(codes, uniques):
        key = key * max(len(unique), 1) + code
    n = np.bincount(key)
    out = {}
    for flat in np.flatnonzero(n):
        parts, rest = [], int(flat)
        for unique in reversed(uniques):
            rest, code = divmod(rest, len(unique))
            parts.append(unique[code])
        out[tuple(reversed(parts))] = int(n[flat])
    return out


def completeness_status(status: pd.DataFrame) -> np.ndarray:
    """The visit status of each form, but ``RECEIVED_BEFORE_DUE`` for a form that is there
    (complete or partial) and is not due: its window is still open at the cut-off, it has no
    planned date (T1–T3 rows of someone never treated), or the participant withdrew from the
    study before its planned date."""
    there = status["status"].isin((COMPLETE, PARTIAL)).to_numpy()
    not_due = ~status["window_closed"].to_numpy() | status["withdrew_before_planned"].to_numpy()
    return np.where(there & not_due, RECEIVED_BEFORE_DUE, status["status"].to_numpy(dtype=object))


def completeness(status: pd.DataFrame, arm: pd.Series | None = None) -> dict:
    """The ``completeness`` block: per timepoint × instrument, due / complete / partial / missing,
    % complete = 100 · complete / due, and the forms not (yet) due (see the module doc, Completeness)."""
    columns = [status["timepoint"].to_numpy(dtype=object), status["instrument"].to_numpy(dtype=object),
               completeness_status(status)]
    block = _completeness_block(_counts(columns))
    if arm is not None:
        counts = _counts([_arm_of(status["participant_id"], arm), *columns])
        block["by_arm"] = {a: _completeness_block(counts, a) for a in ARMS}
    return block


# ----------------------------------------------------------------------------- timeliness

def _forms_completed(questionnaires: pd.DataFrame) -> pd.DataFrame:
    """One row per form (participant × timepoint × instrument) with its completed_on."""
    pid = questionnaires["participant_id"].to_numpy(dtype=object)
    timepoint = questionnaires["timepoint"].to_numpy(dtype=object)
    instrument = questionnaires["instrument"].to_numpy(dtype=object)
    completed = _days(questionnaires["completed_on"])
    # a row repeating the previous row's form and date adds nothing: drop it first (the items of
    # one form are usually adjacent; 3 M rows → 0.1 M)
    keep = np.ones(len(pid), dtype=bool)
    if len(pid) > 1:
        keep[1:] = ((pid[1:] != pid[:-1]) | (timepoint[1:] != timepoint[:-1]) | (instrument[1:] != instrument[:-1])
                    | (completed[1:] != completed[:-1]))
    frame = pd.DataFrame({"participant_id": pid[keep], "timepoint": timepoint[keep], "instrument": instrument[keep],
                          "completed_on": completed[keep]})
    return frame.drop_duplicates(["participant_id", "timepoint", "instrument"], ignore_index=True)


def _quartiles(days: pd.Series) -> dict:
    n = int(days.notna().sum())
    if not n:
        return {"n": 0, "median_days": None, "q1_days": None, "q3_days": None}
    q = days.dropna().astype(float).quantile([0.5, 0.25, 0.75])   # linear interpolation, R type 7
    return {"n": n, "median_days": _float(q.iloc[0]), "q1_days": _float(q.iloc[1]), "q3_days": _float(q.iloc[2])}


def timeliness(questionnaires: pd.DataFrame, schedule: pd.DataFrame, arm: pd.Series | None = None) -> dict:
    """The ``timeliness`` block: per timepoint, the days from planned date to ``completed_on`` of
    each form — n, median, quartiles (type 7; see the module doc, Timeliness)."""
    forms = _forms_completed(questionnaires)
    rows = schedule.index.get_indexer(pd.Index(forms["participant_id"]))
    forms = forms.loc[rows >= 0]
    rows = rows[rows >= 0]
    planned = np.full(len(forms), np.datetime64("NaT"), dtype="datetime64[D]")
    timepoint = forms["timepoint"].to_numpy(dtype=object)
    for tp in TIMEPOINTS:
        mask = timepoint == tp
        planned[mask] = _days(schedule[f"planned_{tp}"].to_numpy())[rows[mask]]
    valid = ~np.isnat(planned)
    days = (_days(forms["completed_on"]) - planned).astype("timedelta64[D]").astype(np.int64)
    frame = pd.DataFrame({"timepoint": timepoint[valid], "days": days[valid].astype(float)})
    groups = dict(tuple(frame.groupby("timepoint", sort=False)["days"]))
    empty = pd.Series(dtype=float)
    block = {tp: _quartiles(groups.get(tp, empty)) for tp in TIMEPOINTS}
    if arm is not None:
        frame["arm"] = _arm_of(forms["participant_id"].to_numpy(dtype=object)[valid], arm)
        by = dict(tuple(frame.groupby(["arm", "timepoint"], sort=False)["days"]))
        block["by_arm"] = {a: {tp: _quartiles(by.get((a, tp), empty)) for tp in TIMEPOINTS} for a in ARMS}
    return block


# ----------------------------------------------------------------------------- disposition

def _event_counts(events: np.ndarray) -> dict:
    return {event: int((events == event).sum()) for event in EVENTS}


def disposition(rows: pd.DataFrame, arm: pd.Series | None = None) -> dict:
    """The ``disposition`` block: rows of disposition.csv per event (see the module doc, Retention)."""
    events = rows["event"].to_numpy(dtype=object)
    block = _event_counts(events)
    if arm is not None:
        arms = _arm_of(rows["participant_id"], arm)
        block["by_arm"] = {a: _event_counts(events[arms == a]) for a in ARMS}
    return block


def disposition_monthly(rows: pd.DataFrame, months: list[str]) -> list[dict]:
    """``disposition_monthly``: per accrual month, the rows per event up to the month's last day
    (cumulative; see the module doc, Retention)."""
    if not months:
        return []
    first = np.datetime64(months[0], "M")
    events = rows["event"].to_numpy(dtype=object)
    on = _days(rows["event_on"])
    out = [{"month": month} for month in months]
    for event in EVENTS:
        dates = on[events == event]
        index = np.clip(_month_index(dates, first), 0, None)   # an event before the first month counts from it
        cumulative = np.cumsum(np.bincount(index, minlength=len(months))[:len(months)])
        # an event after the last month end (not in a valid freeze) is not counted
        for row, n in zip(out, cumulative):
            row[event] = int(n)
    return out


# ----------------------------------------------------------------------------- all

def trial_conduct(tables: dict[str, pd.DataFrame], data: pd.DataFrame, schedule: pd.DataFrame,
                  status: pd.DataFrame, study: Study, cutoff_date: str, *, by_arm: bool) -> dict:
    """The ``conduct`` object of results.json (see the module docstring).

    ``tables``: :func:`freeze.typed_tables`; ``data``: :func:`dataset.build_dataset`;
    ``schedule``, ``status``: :func:`visits.visit_status`.  With ``by_arm=False`` nothing in
    the result depends on which treatment condition anyone is in.
    """
    participants = tables["participants"]
    allocation = arm = None
    if by_arm:
        allocation = participants.set_index("participant_id")["allocation"].astype(object)
        arm = _participant_arm(data)
    accrual_block = accrual(participants["randomized_on"], study, cutoff_date,
                            None if allocation is None else allocation.to_numpy())
    site_rows, site_total = sites(tables["screening"], allocation)
    months = [row["month"] for row in accrual_block["monthly"]]
    return {
        "accrual": accrual_block,
        "sites": site_rows,
        "sites_total": site_total,
        "completeness": completeness(status, arm),
        "timeliness": timeliness(tables["questionnaires"], schedule, arm),
        "disposition": disposition(tables["disposition"], arm),
        "disposition_monthly": disposition_monthly(tables["disposition"], months),
    }
