"""The five CSV files of a simulated freeze: the complete trial censored at the cut-off.

Nothing dated after the cut-off is exported, so an interim freeze of a seed is a consistent
earlier view of the final freeze of that seed.  Ids are numbered over the complete trial before
censoring (screening rows in order of screening, participants in order of randomization,
zero-padded to the complete trial's size), so a person keeps their ids from one freeze of a
seed to the next.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from alliance_report import scoring
from alliance_report.design import ALLIANCE_WEEKS, ALLOCATIONS, CONDITIONS, FOLLOW_UPS, INSTRUMENTS, TIMEPOINTS
from alliance_report.freeze import COLUMNS
from alliance_report.simulation.conduct import screening_persons
from alliance_report.simulation.dates import date_strings, day
from alliance_report.simulation.items import questionnaire_rows
from alliance_report.simulation.model import simulate_trial
from alliance_report.simulation.parameters import (CANCER_TYPES, DEMO_CUTOFF, DEMO_SEED, DISCONTINUATION_REASONS,
                                                   DISCONTINUED, EDUCATION, EVENTS, EXCLUSIONS, LTFU_REASONS,
                                                   SCREENED_PER_RANDOMIZED, SITES, STUDY, WITHDRAWAL_REASONS,
                                                   WITHDREW)
from alliance_report.study import load_study

# timepoints by their index in TIMEPOINTS (the questionnaire rows' ``tp``)
_ALLIANCE_TP = [TIMEPOINTS.index(week) for week in ALLIANCE_WEEKS]
_FOLLOW_UP_TP = [TIMEPOINTS.index(tp) for tp in FOLLOW_UPS]
_T0B_TP = TIMEPOINTS.index("T0b")
# the text of an item number and of a value (index value + 1; value -1 is a skipped item: empty)
_ITEM_TEXT = np.array([""] + [str(v) for v in range(1, max(s.n_items for s in scoring.INSTRUMENTS.values()) + 1)],
                      dtype=object)
_VALUE_TEXT = np.array([""] + [str(v) for v in range(max(s.high for s in scoring.INSTRUMENTS.values()) + 1)],
                       dtype=object)


def build_tables(*, seed: int = DEMO_SEED, n_screened: int | None = None, n_randomized: int = 245,
                 cutoff_date: str | None = None) -> dict[str, bytes]:
    """The five CSV files of a simulated freeze as bytes (see :func:`.simulate_freeze`)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError("seed must be a non-negative integer")
    if isinstance(n_randomized, bool) or not isinstance(n_randomized, (int, np.integer)) or n_randomized < 1:
        raise ValueError("n_randomized must be a positive integer")
    if n_screened is None:
        n_screened = int(round(SCREENED_PER_RANDOMIZED * n_randomized))
    if isinstance(n_screened, bool) or not isinstance(n_screened, (int, np.integer)) or n_screened < n_randomized:
        raise ValueError("n_screened must be an integer ≥ n_randomized")
    cutoff = day(DEMO_CUTOFF if cutoff_date is None else cutoff_date)

    rng = np.random.default_rng(seed)
    trial = simulate_trial(rng, int(n_randomized), int(n_screened), load_study(STUDY))
    qrows = questionnaire_rows(rng, trial)
    screen = screening_persons(rng, trial)

    view = _censoring(trial, cutoff)
    if not view["exists"].any():
        raise ValueError(f"nobody is randomized by the cut-off {cutoff_date}; choose a later date")
    tables = {
        "screening.csv": _screening(screen, view, cutoff),
        "participants.csv": _participants(trial, view),
        "sessions.csv": _sessions(trial, view),
        "questionnaires.csv": _questionnaires(qrows, view),
        "disposition.csv": _disposition(trial, view, cutoff),
    }
    return {name: csv_bytes(tables[name], name) for name in tables}


def _censoring(trial: dict, cutoff: int) -> dict:
    """Who is in the freeze at the cut-off, treated, re-randomized, with data until which day,
    and the ids: numbered over the complete trial and kept when it is censored, so that a person
    has the same id in every freeze of a seed (participants in order of randomization, which is
    sorted, so the randomized by the cut-off are a prefix; the width of the number is that of the
    complete trial)."""
    exists = trial["randomized_on"] <= cutoff
    rerandomized = trial["is_tau"] & (trial["rerandomized_on"] <= cutoff)
    treated = exists & (~trial["is_tau"] | rerandomized)
    # the last day with data of each participant: the cut-off, or the day of withdrawal
    last_day = np.where(trial["event"] == WITHDREW, np.minimum(trial["event_on"], cutoff), cutoff)
    pid_new = np.cumsum(exists) - 1
    pid_str = id_strings("P", int(exists.sum()), width_of=trial["n"])
    return dict(exists=exists, rerandomized=rerandomized, treated=treated, last_day=last_day,
                pid_new=pid_new, pid_str=pid_str)


def _participants(trial: dict, view: dict) -> dict[str, np.ndarray]:
    idx = np.flatnonzero(view["exists"])
    conds = np.array(CONDITIONS, dtype=object)
    return {
        "participant_id": view["pid_str"],
        "site": _lookup(SITES, trial["site"][idx]),
        "randomized_on": date_strings(trial["randomized_on"][idx]),
        "allocation": _lookup(ALLOCATIONS, trial["allocation"][idx]),
        "treatment": np.where(view["treated"][idx], conds[trial["treatment"][idx]], ""),
        "rerandomized_on": date_strings(np.where(view["rerandomized"], trial["rerandomized_on"], -1)[idx]),
        "age": trial["age"][idx],
        "sex": np.where(trial["female"][idx], "female", "male"),
        "partner": np.where(trial["partner"][idx], "yes", "no"),
        "children": np.where(trial["children"][idx], "yes", "no"),
        "education": _lookup(EDUCATION, trial["education"][idx]),
        "cancer_type": _lookup(CANCER_TYPES, trial["cancer"][idx]),
        "treatment_intent": np.where(trial["palliative"][idx], "palliative", "curative"),
        "months_since_diagnosis": np.array([f"{m:.1f}" for m in trial["months"][idx]], dtype=object),
    }


def _screening(screen: dict, view: dict, cutoff: int) -> dict[str, np.ndarray]:
    """Persons screened by the cut-off; a person randomized after the cut-off is still in the
    eligibility assessment and not exported (the format has no "pending" state)."""
    part = screen["participant"]
    is_part = part >= 0
    keep = (screen["screened_on"] <= cutoff) & np.where(is_part, view["exists"][np.maximum(part, 0)], True)
    sidx = np.flatnonzero(keep)
    sp = part[sidx]
    reasons = np.array([e[0] for e in EXCLUSIONS] + [""], dtype=object)
    eligible = np.array([e[1] for e in EXCLUSIONS] + ["yes"], dtype=object)
    return {
        "screening_id": id_strings("S", screen["screened_on"].size)[sidx],  # numbered before censoring
        "site": _lookup(SITES, screen["site"][sidx]),
        "screened_on": date_strings(screen["screened_on"][sidx]),
        "eligible": eligible[screen["reason"][sidx]],
        "exclusion_reason": reasons[screen["reason"][sidx]],
        "participant_id": np.where(sp >= 0, view["pid_str"][view["pid_new"][np.maximum(sp, 0)]], ""),
    }


def _sessions(trial: dict, view: dict) -> dict[str, np.ndarray]:
    """A row per planned session once it is known (attended: held; missed: its week over)."""
    srow = view["treated"][:, None] & (trial["session_recorded"] <= view["last_day"][:, None])
    p_idx, s_idx = np.nonzero(srow)
    return {
        "participant_id": view["pid_str"][view["pid_new"][p_idx]],
        "session": s_idx + 1,
        "attended": np.where(trial["attended"][p_idx, s_idx], "yes", "no"),
        "session_on": date_strings(trial["session_on"][p_idx, s_idx]),
    }


def _disposition(trial: dict, view: dict, cutoff: int) -> dict[str, np.ndarray]:
    """Events by the cut-off of participants who are treated or were not on the waiting list."""
    d = np.flatnonzero(view["exists"] & (trial["event"] > 0) & (trial["event_on"] <= cutoff)
                       & (view["treated"] | ~trial["is_tau"]))
    ev = trial["event"][d]
    reason = trial["reason"][d]
    reason_text = np.where(
        ev == DISCONTINUED, _lookup(DISCONTINUATION_REASONS, np.minimum(reason, len(DISCONTINUATION_REASONS) - 1)),
        np.where(ev == WITHDREW, _lookup(WITHDRAWAL_REASONS, np.minimum(reason, len(WITHDRAWAL_REASONS) - 1)),
                 _lookup(LTFU_REASONS, np.minimum(reason, len(LTFU_REASONS) - 1))))
    return {
        "participant_id": view["pid_str"][view["pid_new"][d]],
        "event": _lookup(EVENTS, ev),
        "event_on": date_strings(trial["event_on"][d]),
        "reason": reason_text,
    }


def _questionnaires(qrows: dict, view: dict) -> dict[str, np.ndarray]:
    """Forms dated by the cut-off (and not after a withdrawal); alliance weeks and follow-ups
    only once treated, T0b only once re-randomized."""
    qp = qrows["pid"]
    tp = qrows["tp"]
    treated = view["treated"][qp]
    ok = view["exists"][qp] & (qrows["date"] <= view["last_day"][qp])
    ok &= np.where(np.isin(tp, _ALLIANCE_TP), treated, True)
    ok &= np.where(tp == _T0B_TP, view["rerandomized"][qp], True)
    ok &= np.where(np.isin(tp, _FOLLOW_UP_TP), treated, True)
    q = {key: v[ok] for key, v in qrows.items()}
    udates, inverse = np.unique(q["date"], return_inverse=True)    # format each distinct date once
    return {
        "participant_id": view["pid_str"][view["pid_new"][q["pid"]]],
        "timepoint": np.asarray(TIMEPOINTS, dtype=object)[q["tp"]],
        "instrument": np.asarray(INSTRUMENTS, dtype=object)[q["inst"]],
        "item": _ITEM_TEXT[q["item"]],
        "value": _VALUE_TEXT[q["value"].astype(np.int64) + 1],
        "completed_on": date_strings(udates)[inverse] if udates.size else np.array([], dtype=object),
    }


def _as_str_list(column) -> list[str]:
    """The cells of a column as Python strings (object columns hold ``str`` already)."""
    values = np.asarray(column)
    if values.dtype == object:
        return values.tolist()
    return [str(v) for v in values.tolist()]


def csv_bytes(columns: dict[str, np.ndarray], file: str) -> bytes:
    """CSV text of the columns of ``file`` in the order of :data:`COLUMNS`, "\n" line endings.

    A plain join is several times faster than ``DataFrame.to_csv`` for millions of rows; it is
    used when no field needs RFC 4180 quoting (checked on the text), else pandas quotes.
    """
    names = COLUMNS[file]
    fields = [_as_str_list(columns[name]) for name in names]
    n_rows = len(fields[0])
    text = "\n".join([",".join(names), *map(",".join, zip(*fields))]) + "\n"
    if (text.count(",") == (n_rows + 1) * (len(names) - 1) and text.count("\n") == n_rows + 1
            and '"' not in text and "\r" not in text):
        return text.encode("utf-8")
    buffer = io.StringIO()
    pd.DataFrame(dict(zip(names, fields))).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def id_strings(prefix: str, count: int, width_of: int | None = None) -> np.ndarray:
    """``prefix`` + 1..count, zero-padded to at least 4 digits and to the digits of ``width_of``
    (default ``count``): the size of the complete trial, so that censoring keeps every id."""
    width = max(4, len(str(count if width_of is None else width_of)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, count + 1)], dtype=object)


def _lookup(table, index: np.ndarray) -> np.ndarray:
    return np.asarray(table, dtype=object)[index]
