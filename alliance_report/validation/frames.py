"""The *checked frames* that the Great Expectations suites run on: per CSV, its cells (as
categoricals), indexed by the row number as in a spreadsheet (header = row 1), plus the derived
columns named in the suite's ``meta.derived_columns``:

* typed views (``age__int``, ``screened_on__date``, ``months_since_diagnosis__num``: empty when
  the cell is empty *or unparseable*, ``alliance_report.values``);
* values joined from other files (``participant__treatment``, ``withdrawal__event_on__date``
  ...), computed by the ``_derive_*`` functions below, so that cross-file rules are ordinary
  expectations on the joined frame.

A derived column that cannot be computed is left out and the reason recorded: a missing column
it needs (``Missing``, the knock-on of a failed column-list check) or an error.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from ..freeze import DATE_COLUMNS, FLOAT_COLUMNS, FREEZE_FILES, INTEGER_COLUMNS, Freeze
from ..study import Study, planned_dates
from .. import values
from .report import Missing, no_column

_NAT = np.datetime64("NaT", "ns")


def _base_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The CSV's cells as categoricals, indexed by spreadsheet row number (header = row 1)."""
    return pd.DataFrame(
        {name: pd.Categorical(table[name].to_numpy(dtype=object)) for name in table.columns},
        index=pd.RangeIndex(2, len(table) + 2),
    )


class _Keyed:
    """Row position of the first row for each key of a table (keys may repeat or be missing)."""

    def __init__(self, keys: pd.Series):
        values = keys.to_numpy(dtype=object)
        mask = pd.notna(values) & ~pd.Series(values).duplicated().to_numpy()
        self.rows = np.append(np.flatnonzero(mask), -1)
        self.index = pd.Index(values[mask], dtype=object)

    def positions(self, keys: pd.Series) -> np.ndarray:
        """For each key, the row of the table (-1 when the key is missing or unknown)."""
        if isinstance(keys.dtype, pd.CategoricalDtype):
            found = self.index.get_indexer(pd.Index(keys.cat.categories, dtype=object))
            per_category = np.append(self.rows[found], -1)
            return per_category[keys.cat.codes.to_numpy()]
        found = self.index.get_indexer(pd.Index(keys.to_numpy(dtype=object), dtype=object))
        return self.rows[found]


def _take(values: pd.Series, positions: np.ndarray, index: pd.Index) -> pd.Series:
    """values[positions] with -1 giving a missing value."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return pd.Series(values.array.take(positions, allow_fill=True), index=index)
    array = values.to_numpy()
    na = _NAT if array.dtype.kind == "M" else np.nan
    if array.dtype.kind == "b":
        array = array.astype("float64")
    extended = np.append(array, np.array([na], dtype=array.dtype))
    return pd.Series(extended[positions], index=index)


def _group_key(*codes: np.ndarray) -> np.ndarray:
    """One int key (0..n-1) per combination of category codes; -1 where any code is missing."""
    key = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:  # factorize after each column so the combined key never overflows
        key = pd.factorize(key * (int(c.max(initial=0)) + 2) + (c + 1))[0].astype(np.int64)
    key[~np.logical_and.reduce([c >= 0 for c in codes])] = -1
    return key


class _Deriver:
    """Adds derived columns to a checked frame, recording why one could not be computed."""

    def __init__(self, frames: dict[str, pd.DataFrame], file: str, unavailable: dict[str, str]):
        self.frames, self.file, self.frame, self.unavailable = frames, file, frames[file], unavailable

    def missing(self, needs: Iterable[str]) -> Missing | None:
        """The first of ``needs`` (columns ``"file:column"``, or ``"column"`` of this file) that is missing."""
        for need in needs:
            file, _, column = need.rpartition(":")
            file = file or self.file
            if column not in self.frames[file].columns:
                return no_column(file, column)
        return None

    def add(self, name: str, needs: Iterable[str], compute: Callable[[], Any]) -> None:
        """``needs``: columns ``"file:column"`` (or ``"column"`` of this file) the value depends on."""
        missing = self.missing(needs)
        if missing is not None:
            self.unavailable[name] = missing
            return
        try:
            value = compute()
        except Exception as exc:  # noqa: BLE001 - fail closed: the checks using it fail
            self.unavailable[name] = f"{name} could not be computed ({type(exc).__name__}: {exc})"
            return
        self.frame[name] = value


def checked_frames(freeze: Freeze, study: Study | None) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    """The checked frame of every CSV, and per file the derived columns that could not be computed
    with the reason (a ``Missing`` column, or the error).  ``study`` gives the planned dates of the
    timeliness warning; without it, ``days_after_planned_date`` is not computed."""
    frames = {file: _base_frame(freeze.tables[file]) for file in FREEZE_FILES}
    unavailable: dict[str, dict[str, str]] = {file: {} for file in FREEZE_FILES}
    derivers = {file: _Deriver(frames, file, unavailable[file]) for file in FREEZE_FILES}
    # typed views of the columns with a type
    for file in FREEZE_FILES:
        d, f = derivers[file], frames[file]
        for column in DATE_COLUMNS.get(file, ()):
            d.add(f"{column}__date", [column], lambda c=column, f=f: values.dates(f[c]))
        for column in INTEGER_COLUMNS.get(file, ()):
            d.add(f"{column}__int", [column], lambda c=column, f=f: values.integers(f[c]))
        for column in FLOAT_COLUMNS.get(file, ()):
            d.add(f"{column}__num", [column], lambda c=column, f=f: values.numbers(f[c]))
    _derive_participants(derivers["participants.csv"], frames)
    per_participant = _per_participant(frames, study)
    _derive_sessions(derivers["sessions.csv"], frames, per_participant)
    _derive_questionnaires(derivers["questionnaires.csv"], frames, per_participant)
    _derive_disposition(derivers["disposition.csv"], frames)
    _participant_lookups(derivers["screening.csv"], frames, per_participant, ["participant__known"])
    return frames, unavailable


def _derive_participants(d: _Deriver, frames: dict[str, pd.DataFrame]) -> None:
    p, s = frames["participants.csv"], frames["screening.csv"]
    d.add("is_rerandomized", ["allocation", "treatment"],
          lambda: pd.Series((p["allocation"] == "TAU").to_numpy() & p["treatment"].notna().to_numpy(), index=p.index))

    def n_rows():
        counts = s["participant_id"].value_counts()
        n = p["participant_id"].astype(object).map(counts).astype("float64").fillna(0.0)
        return n.where(p["participant_id"].notna())

    screening_of = lambda: _Keyed(s["participant_id"]).positions(p["participant_id"])  # noqa: E731
    d.add("screening__n_rows", ["participant_id", "screening.csv:participant_id"], n_rows)
    d.add("screening__screened_on__date", ["participant_id", "screening.csv:participant_id", "screening.csv:screened_on"],
          lambda: _take(s["screened_on__date"], screening_of(), p.index))
    d.add("screening__site", ["participant_id", "screening.csv:participant_id", "screening.csv:site"],
          lambda: _take(s["site"], screening_of(), p.index))
    d.add("age_in_months", ["age"], lambda: p["age__int"] * 12)


def _per_participant(frames: dict[str, pd.DataFrame], study: Study | None) -> dict[str, Any]:
    """Values per participant: "keyed" finds a participant's row (first of its participant_id) in
    participants.csv; the others are Series indexed by participant_id or aligned with participants.csv.
    A value that cannot be computed is left out; the derived columns needing it then fail closed."""
    p, sessions, disposition = frames["participants.csv"], frames["sessions.csv"], frames["disposition.csv"]
    out: dict[str, Any] = {}

    def put(name: str, needs: tuple[pd.DataFrame, set[str]], compute: Callable[[], Any]) -> None:
        frame, columns = needs
        if columns <= set(frame.columns):
            try:
                out[name] = compute()
            except Exception:  # noqa: BLE001
                pass

    def first_date(rows: pd.DataFrame, column: str) -> pd.Series:
        return rows[column].groupby(rows["participant_id"].astype(object)).min().dropna()

    put("keyed", (p, {"participant_id"}), lambda: _Keyed(p["participant_id"]))
    for name, event in (("withdrawal", "withdrew_from_study"), ("discontinuation", "discontinued_treatment")):
        put(name, (disposition, {"participant_id", "event", "event_on"}),
            lambda event=event: first_date(disposition[(disposition["event"] == event).to_numpy()], "event_on__date"))
    if study is not None:
        put("planned", (p, {"participant_id", "allocation", "treatment", "randomized_on", "rerandomized_on"}),
            lambda: _planned_dates(p, sessions, study))
    put("treatment_start_on", (p, {"allocation", "treatment", "randomized_on", "rerandomized_on"}),
        lambda: pd.Series(np.where(p["is_rerandomized"].to_numpy(), p["rerandomized_on__date"].to_numpy(),
                                   p["randomized_on__date"].to_numpy()), index=p.index))
    return out


def _planned_dates(p: pd.DataFrame, sessions: pd.DataFrame, study: Study) -> dict[str, np.ndarray]:
    """Planned date of every timepoint per row of participants.csv (the study's visit schedule;
    treatment starts at the earliest attended session, else at the fallback after (re-)randomization)."""
    attended = sessions[(sessions["attended"] == "yes").to_numpy()] if "attended" in sessions.columns else sessions
    first = attended["session_on__date"].groupby(attended["participant_id"].astype(object)).min().dropna()
    first_session = _by_participant(first, p["participant_id"], p.index).to_numpy().astype("datetime64[D]")
    randomized_on = p["randomized_on__date"].to_numpy().astype("datetime64[D]")
    rerandomized_on = p["rerandomized_on__date"].to_numpy().astype("datetime64[D]")
    started_by = np.where(p["is_rerandomized"].to_numpy(dtype=bool), rerandomized_on, randomized_on)
    fallback = started_by + np.timedelta64(study.treatment_start_fallback_days, "D")
    treatment_start = np.where(np.isnat(first_session), fallback, first_session)
    treatment_start = np.where(p["treatment"].notna().to_numpy(), treatment_start, np.datetime64("NaT"))
    return planned_dates(study, {"randomized_on": randomized_on, "rerandomized_on": rerandomized_on,
                                 "treatment_start": treatment_start})


def _by_participant(dates: pd.Series, keys: pd.Series, index: pd.Index) -> pd.Series:
    """Look up a per-participant Series (indexed by participant_id) for each key."""
    positions = _Keyed(pd.Series(dates.index, dtype=object)).positions(keys)
    return _take(dates.reset_index(drop=True), positions, index)


def _participant_lookups(d: _Deriver, frames: dict, per: dict, names: Iterable[str]) -> None:
    f, p = d.frame, frames["participants.csv"]
    need = ["participant_id", "participants.csv:participant_id"]
    pos = (lambda: per["keyed"].positions(f["participant_id"])) if "keyed" in per else (lambda: None)  # noqa: E731
    for name in names:
        if name == "participant__known":
            d.add(name, need, lambda: _known(pos(), f["participant_id"]))
        elif name == "participant__treatment":
            d.add(name, need + ["participants.csv:treatment"], lambda: _take(p["treatment"], pos(), f.index))
        elif name == "participant__randomized_on__date":
            d.add(name, need + ["participants.csv:randomized_on"],
                  lambda: _take(p["randomized_on__date"], pos(), f.index))
        elif name == "participant__is_rerandomized":
            d.add(name, need + ["participants.csv:allocation", "participants.csv:treatment"],
                  lambda: pd.Series(_take(p["is_rerandomized"], pos(), f.index).to_numpy() == 1.0, index=f.index))
        elif name == "participant__treatment_start_on":
            d.add(name, need + ["participants.csv:" + c for c in ("allocation", "treatment", "randomized_on", "rerandomized_on")],
                  lambda: _take(per["treatment_start_on"], pos(), f.index))
        elif name in ("withdrawal__event_on__date", "discontinuation__event_on__date"):
            key = name.split("__")[0]
            d.add(name, ["participant_id"] + ["disposition.csv:" + c for c in ("participant_id", "event", "event_on")],
                  lambda key=key: _by_participant(per[key], f["participant_id"], f.index))
        else:  # pragma: no cover - programming error
            raise ValueError(name)


def _known(positions: np.ndarray, keys: pd.Series) -> pd.Series:
    """True/False whether the key was found; missing where the key is missing."""
    codes = np.where(keys.isna().to_numpy(), -1, (positions >= 0).astype(np.int8))
    return pd.Series(pd.Categorical.from_codes(codes, categories=[False, True]), index=keys.index)


def _derive_sessions(d: _Deriver, frames: dict, per: dict) -> None:
    f = d.frame
    _participant_lookups(d, frames, per, [
        "participant__known", "participant__treatment", "participant__treatment_start_on",
        "withdrawal__event_on__date", "discontinuation__event_on__date",
    ])

    def previous_session_on():
        pid = f["participant_id"].to_numpy(dtype=object)
        this = pd.DataFrame({"pid": pid, "session": f["session__int"].to_numpy(), "on": f["session_on__date"].to_numpy()})
        this = this.dropna(subset=["pid", "session"]).drop_duplicates(["pid", "session"])
        wanted = pd.DataFrame({"pid": pid, "session": f["session__int"].to_numpy() - 1})
        merged = wanted.merge(this, on=["pid", "session"], how="left")
        return pd.Series(merged["on"].to_numpy(dtype="datetime64[ns]"), index=f.index)

    d.add("previous_session_on__date", ["participant_id", "session", "session_on"], previous_session_on)


def _derive_questionnaires(d: _Deriver, frames: dict, per: dict) -> None:
    f, p = d.frame, frames["participants.csv"]
    _participant_lookups(d, frames, per, [
        "participant__known", "participant__treatment", "participant__is_rerandomized",
        "participant__randomized_on__date", "withdrawal__event_on__date",
    ])
    form_columns = ["participant_id", "timepoint", "instrument"]
    form_key = lambda: _group_key(*(f[c].cat.codes.to_numpy().astype(np.int64) for c in form_columns))  # noqa: E731

    def n_completed_on():
        key = form_key()
        dates = f["completed_on"].cat.codes.to_numpy().astype(np.int64)
        use = (key >= 0) & (dates >= 0)
        pairs = pd.unique(key[use] * (int(dates.max(initial=0)) + 1) + dates[use])
        pair_keys = pairs // (int(dates.max(initial=0)) + 1)
        counts = np.bincount(pair_keys, minlength=int(key.max(initial=-1)) + 1).astype("float64")
        return pd.Series(np.where(key >= 0, np.append(counts, np.nan)[key], np.nan), index=f.index)

    def n_answered():
        key = form_key()
        answered = f["value"].notna().to_numpy()
        counts = np.bincount(key[key >= 0], weights=answered[key >= 0], minlength=int(key.max(initial=-1)) + 1)
        return pd.Series(np.where(key >= 0, np.append(counts, np.nan)[key], np.nan), index=f.index)

    d.add("form__n_completed_on", form_columns + ["completed_on"], n_completed_on)
    d.add("form__n_answered", form_columns + ["value"], n_answered)

    def days_after_planned():
        pos = per["keyed"].positions(f["participant_id"])
        timepoint = f["timepoint"].astype(object).to_numpy()
        planned_on = np.full(len(f), np.datetime64("NaT"), dtype="datetime64[D]")
        for tp, dates in per["planned"].items():
            rows = (timepoint == tp) & (pos >= 0)
            planned_on[rows] = dates[pos[rows]]
        completed_on = f["completed_on__date"].to_numpy().astype("datetime64[D]")
        return pd.Series((completed_on - planned_on) / np.timedelta64(1, "D"), index=f.index)

    needs = (["participant_id", "timepoint", "completed_on", "sessions.csv:participant_id", "sessions.csv:session_on"]
             + ["participants.csv:" + c
                for c in ("participant_id", "allocation", "treatment", "randomized_on", "rerandomized_on")])
    if "planned" not in per and d.missing(needs) is None:  # (a missing column is reported by add)
        d.unavailable["days_after_planned_date"] = (
            "the planned dates need the study's visit schedule (studies/<study>.toml) and a readable "
            "participants.csv")
        return
    d.add("days_after_planned_date", needs, days_after_planned)


def _derive_disposition(d: _Deriver, frames: dict) -> None:
    per = {"keyed": _Keyed(frames["participants.csv"]["participant_id"])} \
        if "participant_id" in frames["participants.csv"].columns else {}
    _participant_lookups(d, frames, per, ["participant__known", "participant__randomized_on__date", "participant__treatment"])

