"""What changed between two freezes of one study (committee-reports.md, "Changes since the
previous freeze").

:func:`compare_freezes` returns the ``changes.json`` object of the spec::

    {"previous": {"freeze_id", "cutoff_date", "files": {<csv>: <sha256>}},
     "files": {<csv>: {"added", "removed", "changed", "unchanged"}},
     "data_changes": [{"file", "key", "column", "previous", "current"}]}

Definitions (both freezes are read by ``read_freeze``: every cell the text of the CSV, None when
empty; nothing is converted, so "3" and "3.0" differ and so do "P001" and " P001"):

* **Rows are matched on their keys** (:data:`KEYS`): screening ``screening_id``; participants
  ``participant_id``; sessions (``participant_id``, ``session``); questionnaires
  (``participant_id``, ``timepoint``, ``instrument``, ``item``); disposition ``participant_id``.
  Per file a row of the current freeze is *added* when the previous freeze has no row with its
  key, a row of the previous freeze is *removed* when the current freeze has none; a matched row
  is *changed* when any other cell differs (a cell filled or emptied counts), else *unchanged*.
  So ``added + changed + unchanged`` = rows now and ``removed + changed + unchanged`` = rows then.
* A **data change** is a removed row, or a cell of a matched row whose previous value was not
  empty and is now different or empty.  A cell filled for the first time (empty → set, e.g.
  ``treatment`` and ``rerandomized_on`` after a re-randomization) makes its row changed but is
  an ordinary update, not a data change.  Every data change concerns a row of the previous
  freeze.
* Each data change: ``file``; ``key`` = the row's key cells joined by ``|`` in the order of
  :data:`KEYS`; ``column`` = the changed column, null for a removed row; ``previous`` /
  ``current`` = the cells as written in the CSV, None when empty; for a removed row ``previous``
  is the whole row as CSV text (its cells in the format's column order, written by the csv
  module, minimal quoting, no line ending) and ``current`` None.
* **Order**: files in the format's order (``freeze.FREEZE_FILES``); within a file in the
  *previous* freeze's row order; within a row the format's column order.  Deterministic, and
  independent of the values (of the arms in particular).
* ``previous.files`` holds the SHA-256 of the bytes of the previous freeze's five CSVs as read,
  in the format's order.

Both freezes are assumed valid.  A file without one of the format's columns, or with a key twice,
raises ValueError (the build validates the previous freeze separately); columns beyond the
format's are ignored.  The comparison is vectorized: per file the key columns of both freezes are
factorized together into one integer code per row, rows are matched through an array indexed by
that code, and each other column is compared as two object arrays (Python string equality);
Python loops run over the data changes only.

Also here:

* :func:`flagged` — the changes a committee must see as warnings in the report's validation
  summary (:data:`CATEGORIES`): rows removed (any file); changed *randomization* data
  (screening.csv ``eligible``, ``participant_id``; participants.csv ``site``, ``randomized_on``,
  ``allocation``, ``treatment``, ``rerandomized_on``); changed *baseline* data (participants.csv
  ``age`` … ``months_since_diagnosis``; questionnaires.csv rows at ``T0`` or ``T0b``).  "Changed"
  means a data change of a cell (a removed row is flagged once, as removed).  One flag per
  category with at least one row: ``{"rule", "file", "n", "examples"}``, ``n`` the number of rows
  (keys), ``examples`` up to 5 keys in the order of the data changes.
* :func:`changes_csv` — ``changes.csv``: every data change, columns file, key, column, previous,
  current (an empty cell for None).
* :func:`open_changes` — the object for the open edition, which must show no arm: every data
  change keeps its file, key and column, and its values are None — not only those of the
  columns that carry the arm (``design.ARM_COLUMNS``): other cells follow the arm too (an MBCT
  participant's session dates fall a week apart on one weekday) or are outcome data — and the
  SHA-256 of the files that hold an arm column is None (with a guessed allocation list, it would
  confirm it).  It is the same (==) for two freezes and for the same two freezes with MBCT and
  eMBCT swapped in both.
"""

from __future__ import annotations

import csv
import io
import itertools
from typing import NamedTuple

import numpy as np
import pandas as pd

from alliance_report.design import BASELINE_TIMEPOINTS
from alliance_report.freeze import COLUMNS, FREEZE_FILES, Freeze
from alliance_report.provenance import open_digests

KEYS: dict[str, tuple[str, ...]] = {
    "screening.csv": ("screening_id",),
    "participants.csv": ("participant_id",),
    "sessions.csv": ("participant_id", "session"),
    "questionnaires.csv": ("participant_id", "timepoint", "instrument", "item"),
    "disposition.csv": ("participant_id",),
}
KEY_SEPARATOR = "|"

BASELINE_COLUMNS = ("age", "sex", "partner", "children", "education", "cancer_type", "treatment_intent",
                    "months_since_diagnosis")
RANDOMIZATION_COLUMNS = {
    "screening.csv": ("eligible", "participant_id"),
    "participants.csv": ("site", "randomized_on", "allocation", "treatment", "rerandomized_on"),
}
N_EXAMPLES = 5


# ------------------------------------------------------------------------------------ comparison


def compare_freezes(previous: Freeze, current: Freeze) -> dict:
    """The changes from ``previous`` to ``current`` (two freezes of one study): see the module
    docstring.  Raises ValueError for a table without a column of the format or with a key twice."""
    files: dict[str, dict[str, int]] = {}
    data_changes: list[dict] = []
    for file in FREEZE_FILES:
        counts, changes = _compare_table(file, _table(previous, file, "previous"), _table(current, file, "current"))
        files[file] = counts
        data_changes.extend(changes)
    return {
        "previous": {
            "freeze_id": previous.manifest.get("freeze_id"),
            "cutoff_date": previous.manifest.get("cutoff_date"),
            "files": {file: previous.file_sha256.get(file) for file in FREEZE_FILES},
        },
        "files": files,
        "data_changes": data_changes,
    }


def _table(freeze: Freeze, file: str, which: str) -> pd.DataFrame:
    frame = freeze.tables.get(file)
    if frame is None:
        raise ValueError(f"the {which} freeze has no {file}")
    missing = [column for column in COLUMNS[file] if column not in frame.columns]
    if missing:
        raise ValueError(f"{file} of the {which} freeze has no column {', '.join(map(repr, missing))}")
    return frame


def _cells(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=object, copy=False)


def _compare_table(file: str, prev: pd.DataFrame, cur: pd.DataFrame) -> tuple[dict[str, int], list[dict]]:
    keys = KEYS[file]
    n_prev, n_cur = len(prev), len(cur)
    prev_code, cur_code, size = _key_codes([_cells(prev, k) for k in keys], [_cells(cur, k) for k in keys])
    for which, codes in (("previous", prev_code), ("current", cur_code)):
        if codes.size and np.bincount(codes, minlength=size).max() > 1:
            raise ValueError(f"{file} of the {which} freeze has a key ({', '.join(keys)}) twice")
    where_now = np.full(size, -1, dtype=np.int64)
    where_now[cur_code] = np.arange(n_cur)
    match = where_now[prev_code]                       # per previous row: its row now, -1 = removed
    matched = np.flatnonzero(match >= 0)
    now = match[matched]

    changed_row = np.zeros(matched.size, dtype=bool)
    cell_rows: list[np.ndarray] = []                   # per column: previous rows with a data change
    others = [column for column in COLUMNS[file] if column not in keys]
    for column in others:
        before = _cells(prev, column)[matched]
        after = _cells(cur, column)[now]
        differs = np.flatnonzero(before != after)      # str == str, None == None: exact, no conversion
        del before, after
        if differs.size:                               # (a NaN is an empty cell too, like None)
            was_empty = pd.isna(_cells(prev, column)[matched[differs]])
            both_empty = was_empty & pd.isna(_cells(cur, column)[now[differs]])
            differs, was_empty = differs[~both_empty], was_empty[~both_empty]
        changed_row[differs] = True
        cell_rows.append(matched[differs[~was_empty]] if differs.size else differs)

    n_changed = int(changed_row.sum())
    counts = {"added": n_cur - int(matched.size), "removed": n_prev - int(matched.size),
              "changed": n_changed, "unchanged": int(matched.size) - n_changed}

    # the data changes, in the previous freeze's row order, then the format's column order
    # (position 0: a removed row; 1 + i: the i-th non-key column)
    removed = np.flatnonzero(match < 0)
    row = np.concatenate([removed, *cell_rows]).astype(np.int64)
    slot = np.concatenate([np.zeros(removed.size, np.int64),
                           *(np.full(r.size, 1 + i, np.int64) for i, r in enumerate(cell_rows))])
    if not row.size:
        return counts, []
    order = np.lexsort((slot, row))
    row, slot = row[order], slot[order]
    key_cells = [_cells(prev, k) for k in keys]
    prev_cells = {c: _cells(prev, c) for c in COLUMNS[file]}
    cur_cells = {c: _cells(cur, c) for c in others}
    writer = _RowWriter()
    changes = []
    for r, s in zip(row.tolist(), slot.tolist()):
        key = KEY_SEPARATOR.join(_text(cells[r]) for cells in key_cells)
        if s == 0:
            changes.append({"file": file, "key": key, "column": None,
                            "previous": writer.text([cells[r] for cells in prev_cells.values()]), "current": None})
        else:
            column = others[s - 1]
            changes.append({"file": file, "key": key, "column": column, "previous": _value(prev_cells[column][r]),
                            "current": _value(cur_cells[column][match[r]])})
    return counts, changes


def _key_codes(prev: list[np.ndarray], cur: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """One integer code per row for the key cells of both tables together (equal keys, equal
    codes), all below the returned size, which is at most a few times the number of rows."""
    n_prev = prev[0].size
    n_total = n_prev + cur[0].size
    combined = np.zeros(n_total, dtype=np.int64)
    size = 1
    for before, after in zip(prev, cur):
        codes, uniques = pd.factorize(np.concatenate([before, after]))
        codes = codes.astype(np.int64, copy=False)
        k = len(uniques) + 1                           # the code len(uniques): an empty cell
        codes[codes < 0] = len(uniques)
        if size * k >= 1 << 62:                        # renumber the combination so far: no overflow
            combined, seen = pd.factorize(combined)
            size = max(len(seen), 1)
        combined = combined * k + codes
        size *= k
    if size > 4 * n_total + 16:                        # sparse codes: renumber densely
        combined, seen = pd.factorize(combined)
        combined = combined.astype(np.int64, copy=False)
        size = max(len(seen), 1)
    return combined[:n_prev], combined[n_prev:], size


def _value(cell) -> str | None:
    return None if cell is None or (not isinstance(cell, str) and pd.isna(cell)) else cell


def _text(cell) -> str:
    value = _value(cell)
    return "" if value is None else value


class _RowWriter:
    """Rows as CSV text: the csv module's minimal quoting, no line ending."""

    def __init__(self):
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="")

    def text(self, cells: list) -> str:
        self.buffer.seek(0)
        self.buffer.truncate()
        self.writer.writerow([_text(cell) for cell in cells])
        return self.buffer.getvalue()


# ------------------------------------------------------------------------------ flags (warnings)


class Category(NamedTuple):
    """Data changes a committee must see as a warning: the removed rows of ``file``
    (``columns`` None), or the data changes of cells in ``columns`` of ``file`` — of rows at
    ``timepoints`` only, when given (questionnaires.csv)."""

    kind: str                                # "removed", "randomization" or "baseline"
    file: str
    rule: str                                # in words, for a data manager
    columns: tuple[str, ...] | None = None
    timepoints: tuple[str, ...] | None = None


def _words(names: tuple[str, ...], last: str) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} {last} {names[-1]}"


def _removed(file: str) -> Category:
    return Category("removed", file, "rows removed since the previous freeze: the previous freeze has a row with "
                    f"this {_words(KEYS[file], 'and')}, this one has none")


def _changed(kind: str, file: str, what: str, columns: tuple[str, ...], timepoints=None, *, values=None) -> Category:
    values = values or f"a value of {_words(columns, 'or')}"
    return Category(kind, file, f"{what} changed since the previous freeze: {values} that was set then differs now "
                    "or is empty", columns, timepoints)


# In the order of the flags: files in the format's order; per file removed, randomization, baseline.
CATEGORIES: tuple[Category, ...] = (
    _removed("screening.csv"),
    _changed("randomization", "screening.csv", "screening outcome",
             RANDOMIZATION_COLUMNS["screening.csv"]),
    _removed("participants.csv"),
    _changed("randomization", "participants.csv", "randomization data", RANDOMIZATION_COLUMNS["participants.csv"]),
    _changed("baseline", "participants.csv", "baseline characteristics", BASELINE_COLUMNS),
    _removed("sessions.csv"),
    _removed("questionnaires.csv"),
    _changed("baseline", "questionnaires.csv", "baseline questionnaires (T0, T0b)", ("value", "completed_on"),
             BASELINE_TIMEPOINTS, values="an item's value or completed_on"),
    _removed("disposition.csv"),
)


def _timepoint(key: str) -> str:
    """The timepoint of a questionnaires.csv key (participant_id|timepoint|instrument|item; only
    the participant id could hold a "|")."""
    parts = key.rsplit(KEY_SEPARATOR, 3)
    return parts[1] if len(parts) == 4 else ""


def _in_category(change: dict, category: Category) -> bool:
    """Whether a data change of ``category.file`` belongs to ``category``."""
    if category.columns is None:
        return change["column"] is None
    if change["column"] not in category.columns:
        return False
    return category.timepoints is None or _timepoint(change["key"]) in category.timepoints


def flagged(changes: dict) -> list[dict]:
    """The warnings of the comparison, one per category of :data:`CATEGORIES` with at least one
    row: ``{"rule", "file", "n", "examples"}`` (``n`` rows, i.e. keys; up to 5 example keys in the
    order of the data changes).  The same for the closed and the open object."""
    keys: dict[Category, dict[str, None]] = {category: {} for category in CATEGORIES}
    of_file: dict[str, list[Category]] = {}
    for category in CATEGORIES:
        of_file.setdefault(category.file, []).append(category)
    for change in changes["data_changes"]:
        for category in of_file.get(change["file"], ()):
            if _in_category(change, category):
                keys[category][change["key"]] = None
    return [{"rule": category.rule, "file": category.file, "n": len(keys[category]),
             "examples": list(itertools.islice(keys[category], N_EXAMPLES))}
            for category in CATEGORIES if keys[category]]


def is_flagged(change: dict) -> bool:
    """Whether a data change is in a category of :data:`CATEGORIES` (a warning)."""
    return any(_in_category(change, category) for category in CATEGORIES if category.file == change["file"])


def reported_first(data_changes: list[dict], n: int) -> list[dict]:
    """The ``n`` data changes a report lists: the flagged ones (removed rows, changed
    randomization and baseline data) first, then the others, each in the list's order (which
    does not depend on the values, so neither does this one)."""
    return sorted(data_changes, key=lambda change: not is_flagged(change))[:n]


# ------------------------------------------------------------------------------- changes.csv


CSV_COLUMNS = ("file", "key", "column", "previous", "current")


def changes_csv(changes: dict) -> str:
    """``changes.csv``: every data change, one row each (an empty cell for None), LF line endings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([["" if value is None else value for value in (c["file"], c["key"], c["column"], c["previous"],
                                                                    c["current"])]
                      for c in changes["data_changes"]])
    return buffer.getvalue()


# ------------------------------------------------------------------------------- open edition


def open_changes(changes: dict) -> dict:
    """The object for the open edition: the data changes without their values, no SHA-256 of a
    file with an arm column (see the module docstring).  A new object; ``changes`` is not modified."""
    data_changes = [{**change, "previous": None, "current": None} for change in changes["data_changes"]]
    previous = changes["previous"]
    if previous is not None:
        previous = {**previous, "files": open_digests(previous["files"])}
    return {**changes, "previous": previous, "files": {file: dict(c) for file, c in changes["files"].items()},
            "data_changes": data_changes}
