"""Dates in the simulation: integer days since 1970 (-1 = none), the study schedule's planned
dates and the days from a planned date to a form's completion."""

from __future__ import annotations

import datetime as _dt
import re

import numpy as np

from alliance_report.simulation.parameters import PARAMS
from alliance_report.study import Study, planned_dates

EPOCH = np.datetime64("1970-01-01", "D")


def iso_date(date: str | _dt.date) -> str:
    """``YYYY-MM-DD`` of a date or an ISO date string; ValueError otherwise."""
    if isinstance(date, _dt.datetime):
        date = date.date()
    if isinstance(date, _dt.date):
        return date.isoformat()
    text = str(date)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return _dt.date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise ValueError(f"cutoff_date must be a date YYYY-MM-DD, got {date!r}")


def day(date: str | _dt.date) -> int:
    """Days since 1970 of a date or an ISO date string."""
    return int((np.datetime64(iso_date(date), "D") - EPOCH).astype(np.int64))


def date_strings(days: np.ndarray) -> np.ndarray:
    """ISO strings of integer days since 1970; negative sentinel (-1) → empty string."""
    days = np.asarray(days, dtype=np.int64)
    out = np.full(days.shape, "", dtype=object)
    ok = days >= 0
    out[ok] = np.datetime_as_string(days[ok].astype("datetime64[D]"), unit="D").astype(object)
    return out


def completion_delay(rng: np.random.Generator, timepoint: str, size) -> np.ndarray:
    """Days from the planned date to completion (PARAMS["completion_days"]; "W": an alliance week)."""
    low, high = PARAMS["completion_days"][timepoint]
    return rng.integers(0, high - low + 1, size) + low


def planned_days(study: Study, randomized_on, rerandomized_on, treatment_start) -> dict[str, np.ndarray]:
    """The study schedule's planned dates, as integer days since 1970."""
    def as_date(days):
        return np.where(np.asarray(days) >= 0, np.asarray(days), 0).astype("datetime64[D]")

    planned = planned_dates(study, {"randomized_on": as_date(randomized_on),
                                    "rerandomized_on": as_date(rerandomized_on),
                                    "treatment_start": as_date(treatment_start)})
    return {tp: (dates - EPOCH).astype(np.int64) for tp, dates in planned.items()}
