"""The study configuration: facts about a trial that a data freeze does not hold.

One reviewed TOML file per study, ``studies/<study>.toml`` (the manifest's ``study`` names
it; spec: ``committee-reports.md``, "Study configuration"): title and registration, the
recruitment target and dates, the TAU waiting period, and the visit schedule — per timepoint
an ``anchor`` (``randomized_on``, ``rerandomized_on``, ``treatment_start`` or another
timepoint's planned date), ``offset_days`` and ``window_days``.

A timepoint's *planned date* is its anchor date + offset; it is *due* at the cut-off when
planned date + window ≤ cutoff_date.  ``treatment_start`` is the participant's earliest
attended session, else the (re-)randomization date that started treatment +
``treatment_start_fallback_days``.

Standard library only (``tomllib``): the no-change path of a build reads nothing heavier.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

from alliance_report import STUDIES_DIR
from alliance_report.design import TIMEPOINTS
# anchors that are dates of the participant (the others are timepoints)
DATE_ANCHORS = ("randomized_on", "rerandomized_on", "treatment_start")


class StudyError(Exception):
    """No usable study configuration: a usage error (exit 2) naming the file."""


@dataclass(frozen=True)
class Visit:
    """When a timepoint is planned and how long it may take to be completed."""

    anchor: str
    offset_days: int
    window_days: int


@dataclass(frozen=True)
class Study:
    name: str
    title: str
    registration: str
    target_randomized: int
    recruitment_start: dt.date
    recruitment_end_planned: dt.date
    waiting_period_days: int
    waiting_period_window_days: int
    treatment_start_fallback_days: int
    schedule: dict[str, Visit]

    def anchor_order(self) -> tuple[str, ...]:
        """The timepoints in an order where every anchor timepoint comes before those anchored on it."""
        order: list[str] = []
        while len(order) < len(self.schedule):
            for timepoint, visit in self.schedule.items():
                if timepoint not in order and (visit.anchor in DATE_ANCHORS or visit.anchor in order):
                    order.append(timepoint)
        return tuple(order)

    def as_dict(self) -> dict:
        """JSON-ready (dates as ISO strings), for results.json."""
        data = asdict(self)
        for key in ("recruitment_start", "recruitment_end_planned"):
            data[key] = data[key].isoformat()
        return data


def study_file(name: str) -> Path:
    return STUDIES_DIR / f"{name}.toml"


def load_study(name: str) -> Study:
    """Read and check ``studies/<name>.toml``; StudyError names the file and what is wrong."""
    path = study_file(name)
    shown = f"studies/{name}.toml"
    if not path.is_file():
        raise StudyError(f"{shown}: no study configuration for study {name!r} (the manifest's "
                         f"\"study\"); add the file (see studies/BeMind.toml and the README)")
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise StudyError(f"{shown}: cannot be read ({exc})") from None
    try:
        return _study(name, config)
    except (KeyError, TypeError, ValueError) as exc:
        message = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise StudyError(f"{shown}: {message}") from None


def _typed(config: dict, key: str, kind: type, minimum: int | None = None):
    value = config[key]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise TypeError(f"{key} must be a whole number, found {value!r}")
    if kind is dt.date and (isinstance(value, dt.datetime) or not isinstance(value, dt.date)):
        raise TypeError(f"{key} must be a date written YYYY-MM-DD (no quotes), found {value!r}")
    if kind is str and not (isinstance(value, str) and value.strip()):
        raise TypeError(f"{key} must be a non-empty text, found {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{key} must be at least {minimum}, found {value}")
    return value


def _study(name: str, config: dict) -> Study:
    schedule_config = config["schedule"]
    if not isinstance(schedule_config, dict):
        raise TypeError("[schedule] must be a table of timepoints")
    unknown = sorted(set(schedule_config) - set(TIMEPOINTS))
    missing = [tp for tp in TIMEPOINTS if tp not in schedule_config]
    if unknown or missing:
        raise ValueError("[schedule] must have one table per timepoint "
                         f"({', '.join(TIMEPOINTS)}); " + "; ".join(
                             filter(None, [unknown and f"unknown {', '.join(unknown)}",
                                           missing and f"missing {', '.join(missing)}"])))
    schedule = {}
    for timepoint in TIMEPOINTS:
        visit = schedule_config[timepoint]
        where = f"[schedule.{timepoint}] "
        try:
            anchor = _typed(visit, "anchor", str)
            offset = _typed(visit, "offset_days", int)
            window = _typed(visit, "window_days", int, minimum=0)
        except KeyError as exc:
            raise ValueError(f"{where}missing key {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ValueError(where + str(exc)) from None
        if anchor not in DATE_ANCHORS and anchor not in TIMEPOINTS:
            raise ValueError(f"{where}anchor must be one of {', '.join(DATE_ANCHORS)} or a timepoint, "
                             f"found {anchor!r}")
        schedule[timepoint] = Visit(anchor, offset, window)
    study = Study(
        name=name,
        title=_typed(config, "title", str),
        registration=_typed(config, "registration", str),
        target_randomized=_typed(config, "target_randomized", int, minimum=1),
        recruitment_start=_typed(config, "recruitment_start", dt.date),
        recruitment_end_planned=_typed(config, "recruitment_end_planned", dt.date),
        waiting_period_days=_typed(config, "waiting_period_days", int, minimum=0),
        waiting_period_window_days=_typed(config, "waiting_period_window_days", int, minimum=0),
        treatment_start_fallback_days=_typed(config, "treatment_start_fallback_days", int, minimum=0),
        schedule=schedule,
    )
    if study.recruitment_end_planned < study.recruitment_start:
        raise ValueError("recruitment_end_planned is before recruitment_start")
    _check_anchors(schedule)
    return study


def _check_anchors(schedule: dict[str, Visit]) -> None:
    """Every timepoint anchor must lead to a date anchor (no cycle)."""
    for timepoint in schedule:
        seen = [timepoint]
        anchor = schedule[timepoint].anchor
        while anchor not in DATE_ANCHORS:
            if anchor in seen:
                raise ValueError(f"[schedule] the anchors form a cycle: {' → '.join(seen + [anchor])}")
            seen.append(anchor)
            anchor = schedule[anchor].anchor


def planned_dates(study: Study, anchors: dict) -> dict:
    """Planned date of every timepoint from the participants' anchor dates.

    ``anchors`` maps each of :data:`DATE_ANCHORS` to an array of ``datetime64[D]`` (NaT where
    the participant has no such date); the result maps each timepoint to such an array
    (NaT where its anchor is NaT).
    """
    import numpy as np

    planned: dict = {}
    for timepoint in study.anchor_order():
        visit = study.schedule[timepoint]
        base = anchors[visit.anchor] if visit.anchor in DATE_ANCHORS else planned[visit.anchor]
        planned[timepoint] = np.asarray(base, dtype="datetime64[D]") + np.timedelta64(visit.offset_days, "D")
    return {timepoint: planned[timepoint] for timepoint in study.schedule}
