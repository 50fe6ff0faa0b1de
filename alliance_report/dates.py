"""Dates and times as a freeze writes them (``shared/spec/freeze-format.md``), read without numpy
or pandas so that the command line's no-change path may use them:

* a date is a real calendar date written ``YYYY-MM-DD`` (:func:`calendar_date`), of a freeze in
  1900-2199 (:func:`day`);
* the manifest's ``exported_at`` is an ISO 8601 date and time (:func:`date_time`), compared
  between two exports as a moment in UTC (:func:`instant`).

:mod:`alliance_report.values` builds the parsers of the freeze's date columns on :func:`day`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Callable

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*")


def _iso(value: Any, pattern: re.Pattern, parse: Callable[[str], Any]) -> Any:
    """``parse(value)`` when ``value`` is text matching ``pattern`` that ``parse`` accepts, else None."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return None
    try:
        return parse(value)
    except ValueError:
        return None


def calendar_date(value: Any) -> dt.date | None:
    """``value`` as a date when it is text written YYYY-MM-DD and a real calendar date."""
    return _iso(value, _DATE_RE, dt.date.fromisoformat)


def day(value: Any) -> dt.date | None:
    """``value`` as a date of a freeze: a :func:`calendar_date` in 1900-2199."""
    parsed = calendar_date(value)
    return parsed if parsed is not None and 1900 <= parsed.year <= 2199 else None


def date_time(value: Any) -> dt.datetime | None:
    """``value`` as a date and time when it is ISO 8601 text starting YYYY-MM-DDThh:mm (or a space for T)."""
    return _iso(value, _DATE_TIME_RE, dt.datetime.fromisoformat)


def instant(value: Any) -> dt.datetime | None:
    """The moment ``value`` (a :func:`date_time`) names, in UTC, for comparing two exports: a time
    with an offset converted, a time without one read as UTC; None when it is not a date and time."""
    parsed = date_time(value)
    if parsed is None:
        return None
    return parsed.replace(tzinfo=dt.timezone.utc) if parsed.tzinfo is None else parsed.astimezone(dt.timezone.utc)
