"""Validate a data freeze (format v1, ``shared/spec/freeze-format.md``) before any analysis.

Fail closed: every rule of the format is a check, never skipped.  A check that cannot run
because a column it needs is missing (in its file or, for a derived column, in another one)
or the manifest has no valid cutoff_date is "not checked": the column-list check or the
manifest check has already failed for that cause, so the knock-ons are counted apart (and
summed up in one line per file) instead of being reported as failures one by one; a freeze
with a check not checked is invalid.  A check that cannot run for another reason (a derived
value cannot be computed, Great Expectations raises) is reported as failed (a warning stays a
warning).  Warnings flag implausible but legal data and never block a report.

How it works
------------
* ``manifest.json`` and the folder (listed files, SHA-256) are checked in plain Python.
* Every CSV has one Great Expectations suite, ``expectations/<file stem>.json``: a GE 1.x
  expectation suite whose expectations carry, in ``meta``, a stable ``check_id``, the
  ``rule`` in words, the CSV ``columns`` concerned and, for rules that join files, the
  ``file`` label (``"sessions.csv+participants.csv"``).  ``severity: "warning"`` marks a
  warning.  Several expectations may share one ``check_id``; they are reported as one check.
* Expectations about the table's columns run on the CSV's header as read.  All others run
  on the file's *checked frame*: the CSV's cells (as categoricals), its index the row number
  as in a spreadsheet (header = row 1), plus derived columns named in the suite's
  ``meta.derived_columns`` — typed views (``age__int``, ``screened_on__date``,
  ``months_since_diagnosis__num``: empty when the cell is empty *or unparseable*) and values
  joined from other files (``participant__treatment``, ``withdrawal__event_on__date`` ...),
  computed by the ``_derive_*`` functions below.  Cross-file rules are therefore ordinary
  expectations on the joined frame.
* Suite parameter: ``{"$PARAMETER": "cutoff_date"}`` is the manifest's cutoff date; checks
  that need it are "not checked" when the manifest has no valid cutoff_date.  A rule text may
  show a parameter of its expectation: ``{cutoff_date}`` in ``meta.rule`` becomes the date
  (and disappears, with the space before it, when the manifest has no valid cutoff_date).
* Expectations sharing a ``row_condition`` run together, in one GE run, on the rows meeting it
  (filtered once, by ``_condition_mask``, with GE's semantics); the others in one run per file.
  A first pass asks GE only pass/fail; failed expectations run again for counts and examples.

Great Expectations is imported lazily (it costs seconds), with analytics and progress bars
off and its logging and warnings silenced.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from . import EXPECTATIONS_DIR
from .files import NAME_RE
from .freeze import COLUMNS, DATE_COLUMNS, FLOAT_COLUMNS, FREEZE_FILES, INTEGER_COLUMNS, MANIFEST, Freeze
from .study import Study, StudyError, load_study, planned_dates

MAX_EXAMPLES = 5
MAX_CELL = 40  # characters of an offending cell shown in an example
PASSED, FAILED, WARNING, UNCHECKED = "passed", "failed", "warning", "not checked"
NOT_CHECKED = "not checked: "  # prefix of the example of a check that failed because it could not run


class _Missing(str):
    """Why a check cannot run, when the cause is reported by another check that failed: a column
    missing from a file (the file's column-list check) or no valid cutoff_date (manifest.json).
    A check with only such causes is "not checked"; any other cause (computing a derived value
    or Great Expectations raises) makes it fail."""


def _no_column(file: str, column: str) -> _Missing:
    return _Missing(f"{file} has no column {column}")


_NO_COLUMN_RE = re.compile(r"(?P<file>\S+) has no column (?P<column>.+)")
_PLACEHOLDER_RE = re.compile(r"( ?)\{(\w+)\}")

# ---------------------------------------------------------------------------------------------
# public interface


@dataclass(frozen=True)
class CheckResult:
    check_id: str
    file: str
    columns: tuple[str, ...]
    rule: str
    status: str  # "passed" | "failed" | "warning" | "not checked"
    n_failing: int
    examples: tuple[str, ...]  # up to 5: "row 12" (header = row 1), 'row 12: "17"' or "participant P0007";
    # for a check not checked, why ("participants.csv has no column age")

    def to_dict(self) -> dict:
        return {
            "check_id": self.check_id, "file": self.file, "columns": list(self.columns), "rule": self.rule,
            "status": self.status, "n_failing": self.n_failing, "examples": list(self.examples),
        }


@dataclass(frozen=True)
class ValidationReport:
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """No check failed or was left unchecked (warnings allowed).  A check is only left
        unchecked for a cause that is itself a failed check (a missing column, no valid cutoff_date)."""
        return not self.failed() and not self.not_checked()

    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status == FAILED)

    def warnings(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status == WARNING)

    def not_checked(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status == UNCHECKED)

    def to_dict(self) -> dict:
        return {
            "valid": self.ok,
            "n_checks": len(self.checks),
            "n_failed": len(self.failed()),
            "n_warnings": len(self.warnings()),
            "n_not_checked": len(self.not_checked()),
            "by_file": self.by_file(),
            "checks": [c.to_dict() for c in self.checks],
        }

    def by_file(self) -> dict[str, dict[str, int]]:
        """Per file (as the checks name it: "manifest.json", "sessions.csv+participants.csv", …)
        the number of checks and of each outcome, in the order the files first appear."""
        counts: dict[str, dict[str, int]] = {}
        for check in self.checks:
            cell = counts.setdefault(check.file, {"checks": 0, PASSED: 0, FAILED: 0, WARNING: 0, UNCHECKED: 0})
            cell["checks"] += 1
            cell[check.status] = cell.get(check.status, 0) + 1
        return counts


def prepare() -> None:
    """Import Great Expectations and create its context (about 2.5 s, once per process);
    ``validate_freeze`` does it when it has not been done."""
    _GX()


def validate_freeze(freeze: Freeze, study: Study | None = None) -> ValidationReport:
    """Run every check of the format on ``freeze`` (as returned by ``read_freeze``).

    ``study`` (the visit schedule of the timeliness warning) defaults to the configuration the
    manifest names; without one, that warning is not checked."""
    checks: list[CheckResult] = list(_manifest_checks(freeze))
    suites = load_suites()
    params, missing_params = _parameters(freeze)
    frames, unavailable = _checked_frames(freeze, study or _study_of(freeze))
    runner = _GX()
    for file in FREEZE_FILES:
        checks += _run_suite(
            runner, suites[file], freeze.tables[file], frames[file], unavailable[file], params, missing_params,
        )
    return ValidationReport(tuple(checks))


def _study_of(freeze: Freeze) -> Study | None:
    try:
        return load_study(str(freeze.manifest.get("study")))
    except StudyError:
        return None


def _found(value) -> str:
    """The offending manifest value in words a data manager reads ("missing", not None)."""
    return "the key is missing" if value is None else f"found {json.dumps(value, ensure_ascii=False, default=str)}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def format_report(report: ValidationReport) -> str:
    """Human-readable summary: every failed check, then one line per file for the checks not
    checked, then every warning, then the totals ("…, K not checked" only when K > 0).

    Failures are listed causes first: the manifest and the files' shape (columns, at least one
    row), then the rules within one file, then the rules across files, which often fail only
    as a consequence (participants.csv without rows: every participant_id elsewhere is unknown).
    """
    lines = []
    for check in sorted(report.failed(), key=_cause_rank):
        lines.append(_format_check(check))
    lines += _not_checked_lines(report.not_checked())
    for check in report.warnings():
        lines.append("warning: " + _format_check(check))
    totals = (f"{len(report.checks)} checks run, {len(report.failed())} failed, "
              f"{_plural(len(report.warnings()), 'warning')}")
    if report.not_checked():
        totals += f", {len(report.not_checked())} not checked"
    lines.append(totals)
    return "\n".join(lines)


def _not_checked_lines(checks: Iterable[CheckResult]) -> list[str]:
    """One line per file (the first file of a cross-file check's label) for its checks not checked:
    "participants.csv: 7 checks not checked because of the missing column(s) above (participant_id)"."""
    by_file: dict[str, list[CheckResult]] = {}
    for check in checks:
        by_file.setdefault(check.file.split("+")[0], []).append(check)
    lines = []
    for file, group in by_file.items():
        columns: list[str] = []
        others: list[str] = []
        for check in group:
            for reason in check.examples:
                m = _NO_COLUMN_RE.fullmatch(reason)
                name = (m["column"] if m["file"] == file else f"{m['column']} in {m['file']}") if m else None
                if name is not None and name not in columns:
                    columns.append(name)
                elif name is None and reason not in others:
                    others.append(reason)
        causes = ([f"of the missing column(s) above ({', '.join(columns)})"] if columns else []) + others
        lines.append(f"{file}: {_plural(len(group), 'check')} not checked because " + " and because ".join(causes))
    return lines


def _cause_rank(check: CheckResult) -> int:
    if not _counts_rows(check):  # the manifest, the columns, "at least one row"
        return 0
    return 2 if "+" in check.file else 1


def _format_check(check: CheckResult) -> str:
    head = check.file + ": " + (", ".join(check.columns) + ": " if check.columns else "") + check.rule
    if check.examples and check.examples[0].startswith(NOT_CHECKED):
        return f"{head} — {check.examples[0]}"
    if _counts_rows(check):
        noun = "row" if check.n_failing == 1 else "rows"
        verb = "failed" if check.status == FAILED else "flagged"
        text = f"{head} — {check.n_failing} {noun} {verb}"
        if check.examples:
            text += f" (e.g. {', '.join(check.examples)})"
        return text
    return f"{head} — " + ("; ".join(check.examples) if check.examples else check.status)


def _counts_rows(check: CheckResult) -> bool:
    return not (
        check.check_id.startswith("manifest.")
        or check.check_id.endswith(".columns")
        or check.check_id.endswith(".rows.at_least_one")
    )


# ---------------------------------------------------------------------------------------------
# suites


class SuiteError(ValueError):
    """An expectation suite in ``expectations/`` is missing or malformed (a bug, not bad data)."""


@lru_cache(maxsize=4)
def load_suites(directory: str | Path = EXPECTATIONS_DIR) -> dict[str, dict]:
    """Read and sanity-check ``<directory>/<stem>.json`` for every CSV of the format."""
    directory = Path(directory)
    suites = {}
    for file in FREEZE_FILES:
        path = directory / (file.removesuffix(".csv") + ".json")
        try:
            suite = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SuiteError(f"{path}: cannot be read as JSON ({exc})") from None
        if suite.get("meta", {}).get("file") != file:
            raise SuiteError(f"{path}: meta.file must be {file!r}")
        derived = suite["meta"].get("derived_columns", {})
        first_rule: dict[str, str] = {}
        for i, exp in enumerate(suite.get("expectations", [])):
            meta = exp.get("meta", {})
            where = f"{path}: expectation {i + 1}"
            for key in ("check_id", "rule", "columns"):
                if key not in meta:
                    raise SuiteError(f"{where}: meta.{key} is required")
            if exp.get("severity", "critical") not in ("critical", "warning"):
                raise SuiteError(f"{where}: severity must be 'critical' or 'warning'")
            rule = first_rule.setdefault(meta["check_id"], meta["rule"])
            if rule != meta["rule"]:
                raise SuiteError(f"{where}: expectations sharing check_id {meta['check_id']} need the same rule")
            for _, name in _PLACEHOLDER_RE.findall(meta["rule"]):
                if name not in _parameter_names(exp["kwargs"]):
                    raise SuiteError(f"{where}: meta.rule shows {{{name}}}, which is no parameter of its kwargs")
            if "row_condition" in exp["kwargs"]:
                _check_condition(exp["kwargs"]["row_condition"], where)
            for column in _referenced_columns(exp):
                if column not in COLUMNS[file] and column not in derived:
                    raise SuiteError(f"{where}: column {column!r} is neither in {file} nor in meta.derived_columns")
        suites[file] = suite
    return suites


def _check_condition(condition: Any, where: str) -> None:
    """Row conditions are GE's structured conditions; this validator evaluates these kinds."""
    if not isinstance(condition, dict):
        raise SuiteError(f"{where}: row_condition must be a structured condition (type comparison/nullity/and/or)")
    kind = condition.get("type")
    if kind in ("and", "or"):
        for sub in condition.get("conditions", []):
            _check_condition(sub, where)
    elif kind == "nullity":
        pass
    elif kind == "comparison":
        if condition.get("operator") not in ("==", "!=", "IN", "NOT_IN"):
            raise SuiteError(f"{where}: row_condition operator must be ==, !=, IN or NOT_IN")
    else:
        raise SuiteError(f"{where}: row_condition type {kind!r} is not supported")


_TABLE_TYPES = frozenset({
    "expect_table_columns_to_match_ordered_list", "expect_table_columns_to_match_set",
    "expect_table_column_count_to_equal", "expect_table_column_count_to_be_between", "expect_column_to_exist",
})


def _referenced_columns(exp: dict) -> list[str]:
    """The columns an expectation reads (for table-level ones, such as the column list, none)."""
    kwargs = exp["kwargs"]
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    if exp["type"] not in _TABLE_TYPES:
        columns += list(kwargs.get("column_list") or [])
    columns += _condition_columns(kwargs.get("row_condition"))
    return columns


def _condition_columns(condition: Any) -> list[str]:
    if isinstance(condition, dict):
        if "conditions" in condition:
            return [c for sub in condition["conditions"] for c in _condition_columns(sub)]
        if "column" in condition:
            return [condition["column"]["name"]]
    return []


def _parameter_names(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return [value["$PARAMETER"]]
        return [n for v in value.values() for n in _parameter_names(v)]
    if isinstance(value, list):
        return [n for v in value for n in _parameter_names(v)]
    return []


# ---------------------------------------------------------------------------------------------
# manifest and folder (plain Python)

_REQUIRED_KEYS = ("format_version", "study", "freeze_id", "cutoff_date", "exported_at", "simulated", "files")
_KNOWN_KEYS = frozenset(_REQUIRED_KEYS) | {"source"}
_SHA_RE = re.compile(r"[0-9a-fA-F]{64}")


def _manifest_checks(freeze: Freeze) -> list[CheckResult]:
    m = freeze.manifest
    out: list[CheckResult] = []

    def check(check_id, rule, problems, columns=(), *, file=MANIFEST, severity=FAILED):
        problems = list(problems)
        out.append(CheckResult(
            check_id, file, tuple(columns), rule, severity if problems else PASSED, len(problems),
            tuple(problems[:MAX_EXAMPLES]),
        ))

    present = [k for k in _REQUIRED_KEYS if k in m]
    check("manifest.required_keys", "manifest.json must contain " + ", ".join(_REQUIRED_KEYS),
          [f"missing key {k}" for k in _REQUIRED_KEYS if k not in present])
    version = m.get("format_version")
    check("manifest.format_version", "format_version must be 1 (this tool reads format version 1 only)",
          [] if type(version) is int and version == 1 else [_found(version)], ["format_version"])
    for key in ("study", "freeze_id"):
        value = m.get(key)
        ok = isinstance(value, str) and NAME_RE.fullmatch(value) is not None
        check(f"manifest.{key}",
              f"{key} must be a non-empty name of letters, digits, '.', '_' or '-' (it names the report folder)",
              [] if ok else [_found(value)], [key])
    cutoff = m.get("cutoff_date")
    check("manifest.cutoff_date", "cutoff_date must be a real calendar date written YYYY-MM-DD (year 1900-2199)",
          [] if _cutoff(m) is not None else [_found(cutoff)], ["cutoff_date"])
    exported = m.get("exported_at")
    exported_at = _manifest_datetime(exported)
    check("manifest.exported_at", "exported_at must be an ISO 8601 date and time, e.g. 2026-11-02T08:15:00Z",
          [] if exported_at is not None else [_found(exported)], ["exported_at"])
    simulated = m.get("simulated")
    check("manifest.simulated", "simulated must be true or false (a JSON boolean, not text)",
          [] if isinstance(simulated, bool) else [_found(simulated)], ["simulated"])
    if "source" in m:
        source = m["source"]
        check("manifest.source", "source, when present, must be text",
              [] if isinstance(source, str) else [_found(source)], ["source"])

    files = m.get("files")
    files_ok = isinstance(files, dict)
    bad_entries = [] if files_ok else [f"found {type(files).__name__}"]
    if files_ok:
        bad_entries = [f"{name}: {value!r}" for name, value in files.items()
                       if not (isinstance(value, str) and _SHA_RE.fullmatch(value))]
    check("manifest.files", "files must map each CSV file name to the SHA-256 of its bytes (64 hex digits)",
          bad_entries, ["files"])
    listed = files if files_ok else {}
    check("manifest.files.lists_every_csv", "files must list every CSV of the format: " + ", ".join(FREEZE_FILES),
          [f"{f} not listed" for f in FREEZE_FILES if f not in listed], ["files"])
    check("manifest.files.no_unknown_entries", "files must list only the CSVs of the format: " + ", ".join(FREEZE_FILES),
          [f"{f} is not a file of the format" for f in listed if f not in COLUMNS], ["files"])
    check("manifest.files.no_unlisted_csv",
          "the freeze folder must not hold CSV files other than the format's (an unlisted CSV means an edited export)",
          [f"file {name}" for name in _unlisted_csvs(freeze)])
    for file in FREEZE_FILES:
        expected = listed.get(file)
        actual = freeze.file_sha256.get(file)
        if expected is None:
            problems = [f"{file} is not listed in manifest.json, its SHA-256 cannot be compared"]
        elif actual is None:
            problems = [f"{file} was not read"]
        elif not isinstance(expected, str) or expected.lower() != actual:
            problems = [f"{file} has SHA-256 {actual[:12]}…, manifest.json says {str(expected)[:12]}…"]
        else:
            problems = []
        check(f"manifest.sha256.{file.removesuffix('.csv')}",
              f"the SHA-256 of {file} must equal its entry in manifest.json files; a mismatch means the "
              "file was changed after the freeze: restore the exported file or export a new freeze "
              "(do not edit the hash)", problems, file=file)

    # warnings
    check("manifest.unknown_keys", "manifest.json has keys that the format does not define (ignored)",
          [f"key {k}" for k in m if k not in _KNOWN_KEYS], severity=WARNING)
    cutoff_day = _cutoff(m)
    late = []
    if cutoff_day is not None and exported_at is not None and exported_at.date() < cutoff_day:
        late = [f"exported_at {exported} is before cutoff_date {cutoff}"]
    check("manifest.exported_after_cutoff", "exported_at is expected on or after cutoff_date", late,
          ["exported_at", "cutoff_date"], severity=WARNING)
    check("manifest.study_is_bemind", "study is expected to be BeMind (this tool is built for the BeMind trial)",
          [] if m.get("study") == "BeMind" else [f"found {m.get('study')!r}"], ["study"], severity=WARNING)
    check("manifest.no_other_files", "the freeze folder holds files that are not part of the format (ignored)",
          [f"file {name}" for name in _other_files(freeze)], severity=WARNING)
    return out


def _unlisted_csvs(freeze: Freeze) -> list[str]:
    names = set(freeze.unlisted_csvs)
    folder = Path(freeze.path)
    if folder.is_dir():  # also *.CSV etc., which the loader's glob does not see
        names |= {p.name for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.name not in COLUMNS}
    return sorted(names)


def _other_files(freeze: Freeze) -> list[str]:
    folder = Path(freeze.path)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.name not in COLUMNS and p.name != MANIFEST and p.suffix.lower() != ".csv"
                  and not p.name.startswith("."))


def _manifest_date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _cutoff(manifest: dict) -> dt.date | None:
    day = _manifest_date(manifest.get("cutoff_date"))
    return day if day is not None and 1900 <= day.year <= 2199 else None


def _manifest_datetime(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}.*", value):
        return None
    try:
        return dt.datetime.fromisoformat(value)
    except ValueError:
        return None


def _parameters(freeze: Freeze) -> tuple[dict, dict[str, str]]:
    """Suite parameters, and for each one that cannot be given the reason."""
    params: dict[str, Any] = {}
    missing: dict[str, str] = {}
    cutoff = _cutoff(freeze.manifest)
    if cutoff is None:
        missing["cutoff_date"] = _Missing("manifest.json cutoff_date is missing or not a date YYYY-MM-DD")
    else:
        params["cutoff_date"] = pd.Timestamp(cutoff)
    return params, missing


def _rule_text(rule: str, params: dict) -> str:
    """``meta.rule`` with each ``{parameter}`` replaced by its value (a date as YYYY-MM-DD); a
    parameter without a value is left out with the space before it."""
    def value(m: re.Match) -> str:
        if m[2] not in params:
            return ""
        v = params[m[2]]
        return m[1] + (v.date().isoformat() if isinstance(v, pd.Timestamp) else str(v))
    return _PLACEHOLDER_RE.sub(value, rule)


# ---------------------------------------------------------------------------------------------
# typed views of text cells (parsed once per distinct value)

_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_INT_RE = re.compile(r"-?[0-9]+")
_NUM_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_NAT = np.datetime64("NaT", "ns")
_DAY = np.timedelta64(1, "D")


def _parse_date(text: str) -> np.datetime64:
    if not _DATE_RE.fullmatch(text):
        return _NAT
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        return _NAT
    if not 1900 <= day.year <= 2199:
        return _NAT
    return np.datetime64(day, "ns")


def _parse_int(text: str) -> float:
    return float(int(text)) if _INT_RE.fullmatch(text) else np.nan


def _parse_num(text: str) -> float:
    return float(text) if _NUM_RE.fullmatch(text) else np.nan


def _view(column: pd.Series, parse: Callable[[str], Any], dtype: str) -> pd.Series:
    """Apply ``parse`` to each distinct value of a categorical column; missing stays missing."""
    categories = column.cat.categories
    na = _NAT if dtype.startswith("datetime") else np.nan
    parsed = np.array([parse(str(c)) for c in categories] + [na], dtype=dtype)
    return pd.Series(parsed[column.cat.codes.to_numpy()], index=column.index)


def _date_view(column: pd.Series) -> pd.Series:
    return _view(column, _parse_date, "datetime64[ns]")


def _int_view(column: pd.Series) -> pd.Series:
    return _view(column, _parse_int, "float64")


def _num_view(column: pd.Series) -> pd.Series:
    return _view(column, _parse_num, "float64")


# ---------------------------------------------------------------------------------------------
# checked frames: CSV cells as categoricals + derived columns


def _base_frame(table: pd.DataFrame) -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: pd.Categorical(table[name].to_numpy(dtype=object)) for name in table.columns},
        index=pd.RangeIndex(2, len(table) + 2),
    )
    return frame


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

    def missing(self, needs: Iterable[str]) -> _Missing | None:
        """The first of ``needs`` (columns ``"file:column"``, or ``"column"`` of this file) that is missing."""
        for need in needs:
            file, _, column = need.rpartition(":")
            file = file or self.file
            if column not in self.frames[file].columns:
                return _no_column(file, column)
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


def _checked_frames(freeze: Freeze, study: Study | None) -> tuple[dict[str, pd.DataFrame], dict[str, dict[str, str]]]:
    frames = {file: _base_frame(freeze.tables[file]) for file in FREEZE_FILES}
    unavailable: dict[str, dict[str, str]] = {file: {} for file in FREEZE_FILES}
    derivers = {file: _Deriver(frames, file, unavailable[file]) for file in FREEZE_FILES}
    # typed views of the columns with a type
    for file in FREEZE_FILES:
        d, f = derivers[file], frames[file]
        for column in DATE_COLUMNS.get(file, ()):
            d.add(f"{column}__date", [column], lambda c=column, f=f: _date_view(f[c]))
        for column in INTEGER_COLUMNS.get(file, ()):
            d.add(f"{column}__int", [column], lambda c=column, f=f: _int_view(f[c]))
        for column in FLOAT_COLUMNS.get(file, ()):
            d.add(f"{column}__num", [column], lambda c=column, f=f: _num_view(f[c]))
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


# ---------------------------------------------------------------------------------------------
# Great Expectations


class _GX:
    """The ephemeral GE context and one pandas batch definition, created once per process."""

    _state: tuple | None = None

    def __init__(self):
        if _GX._state is None:
            _GX._state = self._create()
        self.gx, self.ExpectationConfiguration, self.batch_definition = _GX._state

    @staticmethod
    def _create():
        os.environ["GX_ANALYTICS_ENABLED"] = "False"
        logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
            )
            from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

            logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            )
            context = gx.get_context(project_config=config, mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            asset = context.data_sources.add_pandas("freeze").add_dataframe_asset("table")
            batch_definition = asset.add_batch_definition_whole_dataframe("whole table")
        return gx, ExpectationConfiguration, batch_definition

    def validate(self, frame: pd.DataFrame, expectations: list[dict], params: dict) -> list:
        """Validate ``frame``; one GE result per expectation, in order.

        A first pass asks only pass/fail (cheap); the expectations that did not pass are run
        again with the "SUMMARY" result format for the count and example rows."""
        results = self._run(frame, expectations, params, {"result_format": "BOOLEAN_ONLY"})
        again = [i for i, r in enumerate(results) if r is None or not r.success]
        if again:
            detailed = self._run(frame, [expectations[i] for i in again], params,
                                 {"result_format": "SUMMARY", "partial_unexpected_count": 20})
            for i, r in zip(again, detailed):
                results[i] = r
        return results

    def _run(self, frame: pd.DataFrame, expectations: list[dict], params: dict, result_format: dict) -> list:
        if not expectations:
            return []
        # GE copies each expectation's configuration many times: keep meta minimal
        configs = [
            self.ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta={"position": i})
            for i, exp in enumerate(expectations)
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            suite = self.gx.ExpectationSuite(name="checks", expectations=[c.to_domain_obj() for c in configs])
            batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(suite, expectation_parameters=params, result_format=result_format)
        by_position: list = [None] * len(expectations)
        for r in result.results:
            by_position[r.expectation_config.meta["position"]] = r
        return by_position


def _run_suite(runner: _GX, suite: dict, raw: pd.DataFrame, frame: pd.DataFrame, unavailable: dict[str, str],
               params: dict, missing_params: dict[str, str]) -> list[CheckResult]:
    """Run one suite on a file's header and on its checked frame.

    Expectations with the same row_condition run together, in one GE run, on the rows meeting it
    (filtered once here: GE would filter the whole frame again for every metric of every
    expectation, which costs more than a GE run even on small frames)."""
    file = suite["meta"]["file"]
    header = pd.DataFrame({name: pd.Series(dtype=object) for name in raw.columns})
    expectations = suite["expectations"]
    outcomes: list = [None] * len(expectations)
    groups: dict[tuple[bool, str], list[int]] = {}
    for i, exp in enumerate(expectations):
        on_header = exp["type"] in _TABLE_TYPES
        target = header if on_header else frame
        reasons: list[str] = []
        for column in dict.fromkeys(_referenced_columns(exp)):
            if column not in target.columns:
                reasons.append(unavailable.get(column) or (
                    _no_column(file, column) if column in COLUMNS[file] else f"{column} was not computed"))
        reasons += [missing_params[n] for n in _parameter_names(exp["kwargs"]) if n in missing_params]
        reasons = list(dict.fromkeys(reasons))
        if reasons and all(isinstance(r, _Missing) for r in reasons):  # knock-ons of a failed check
            outcomes[i] = (exp, UNCHECKED, 0, reasons)
        elif reasons:
            outcomes[i] = (exp, "error", 0, [NOT_CHECKED + "; ".join(reasons)])
        else:
            condition = json.dumps(exp["kwargs"].get("row_condition"), sort_keys=True)
            groups.setdefault((on_header, condition), []).append(i)
    _unify_pair_categories(frame, [expectations[i] for (on_header, _), idx in groups.items() if not on_header
                                   for i in idx])
    for (on_header, condition), indices in groups.items():
        target = header if on_header else _rows_meeting(frame, json.loads(condition))
        group = [dict(expectations[i], kwargs=_without_condition(expectations[i]["kwargs"])) for i in indices]
        if not on_header:  # only the columns these expectations use (GE hashes and copies the frame)
            used = {c for exp in group for c in _referenced_columns(exp)}
            if "participant_id" in target.columns:
                used.add("participant_id")
            target = target[[c for c in target.columns if c in used]]
        try:
            results = runner.validate(target, group, params)
        except Exception as exc:  # noqa: BLE001 - fail closed: these checks did not run
            message = f"{NOT_CHECKED}Great Expectations failed ({type(exc).__name__}: {exc})"
            results = [None] * len(indices)
            for i in indices:
                outcomes[i] = (expectations[i], "error", 0, [message])
            continue
        for i, result in zip(indices, results):
            outcomes[i] = _outcome(expectations[i], result, target, frame)
    return _merge(file, outcomes, params)


def _without_condition(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k not in ("row_condition", "condition_parser")}


def _rows_meeting(frame: pd.DataFrame, condition: dict | None) -> pd.DataFrame:
    """The rows of ``frame`` meeting a GE row_condition (same semantics as GE's pandas query)."""
    if condition is None:
        return frame
    return frame[_condition_mask(frame, condition)]


def _condition_mask(frame: pd.DataFrame, condition: dict) -> np.ndarray:
    kind = condition.get("type")
    if kind in ("and", "or"):
        masks = [_condition_mask(frame, c) for c in condition["conditions"]]
        return np.logical_and.reduce(masks) if kind == "and" else np.logical_or.reduce(masks)
    column = frame[condition["column"]["name"]]
    if kind == "nullity":
        return (column.isna() if condition["is_null"] else column.notna()).to_numpy()
    if kind == "comparison":
        op, value = condition["operator"], condition["parameter"]
        if op == "==":
            return (column == value).to_numpy(dtype=bool)
        if op == "!=":
            return (column != value).to_numpy(dtype=bool)
        if op == "IN":
            return column.isin(value).to_numpy(dtype=bool)
        if op == "NOT_IN":
            return ~column.isin(value).to_numpy(dtype=bool)
    raise SuiteError(f"row_condition not supported by this validator: {condition}")


def _unify_pair_categories(frame: pd.DataFrame, expectations: list[dict]) -> None:
    """Categoricals compared pairwise must share their categories (pandas refuses otherwise)."""
    columns = set()
    for exp in expectations:
        kwargs = exp["kwargs"]
        if "column_A" in kwargs:
            pair = [kwargs["column_A"], kwargs["column_B"]]
            if all(isinstance(frame[c].dtype, pd.CategoricalDtype) for c in pair):
                columns.update(pair)
    if columns:
        union = pd.Index([], dtype=object)
        for c in sorted(columns):
            union = union.union(pd.Index(frame[c].cat.categories, dtype=object))
        for c in columns:
            frame[c] = frame[c].cat.set_categories(union)


def _outcome(exp: dict, result: Any, target: pd.DataFrame, frame: pd.DataFrame) -> tuple[dict, str, int, list[str]]:
    if result is None:
        return exp, "error", 0, [NOT_CHECKED + "Great Expectations returned no result"]
    error = _exception_message(result.exception_info)
    if error is not None:
        return exp, "error", 0, [NOT_CHECKED + error]
    if result.success:
        return exp, PASSED, 0, []
    res = result.result or {}
    if exp["type"] in _TABLE_TYPES:
        problems = _column_problems(exp, list(target.columns))
        return exp, "failed", len(problems), problems
    if exp["type"].startswith("expect_table_row_count"):
        return exp, "failed", 1, [f"the file has {res.get('observed_value', 0)} data rows"]
    n = int(res.get("unexpected_count") or 0)
    rows = [int(r) for r in res.get("partial_unexpected_index_list") or []]
    return exp, "failed", n, _examples(exp, rows, target, _cells(exp, frame))


def _exception_message(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message") or "the check raised an error")
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message") or "the check raised an error")
    return None


def _column_problems(exp: dict, found: list[str]) -> list[str]:
    """What is wrong with the header, every name quoted as the file holds it.  A missing name that
    the header holds up to white space or case is named with it: 'missing column "participant_id";
    the header has "participant_id " (trailing space)' (not a missing and an unexpected column)."""
    expected = list(exp["kwargs"].get("column_list") or [])
    unexpected = [c for c in found if c not in expected]
    problems = []
    for column in (c for c in expected if c not in found):
        near = next((u for u in unexpected if _loose(u) == _loose(column)), None)
        if near is None:
            problems.append(f"missing column {_quoted(column)}")
        else:
            unexpected.remove(near)
            problems.append(f"missing column {_quoted(column)}; the header has {_quoted(near)} "
                            f"({_difference(column, near)})")
    problems += [f"unexpected column {_quoted(c)}" for c in unexpected]
    if not problems:
        problems = ["columns in the wrong order: found " + ", ".join(_quoted(c) for c in found)]
    return problems


def _invisible(ch: str) -> bool:
    return ch.isspace() or not ch.isprintable()


def _loose(name: str) -> str:
    """A header name without white space or invisible characters, case folded."""
    return "".join(ch for ch in name if not _invisible(ch)).casefold()


def _quoted(name: str) -> str:
    """A header name quoted, with every invisible character but the space escaped ("age\\u00a0")."""
    text = json.dumps(name, ensure_ascii=False)
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


_CHAR_NAMES = {" ": "space", "\t": "tab", "\xa0": "non-breaking space", "\u200b": "zero-width space",
               "\ufeff": "byte-order mark", "\r": "line break", "\n": "line break"}


def _difference(expected: str, found: str) -> str:
    """How ``found`` differs from ``expected`` when they are equal up to white space and case:
    "trailing space", "2 leading spaces", "tab inside the name", "different case" ..."""
    visible = [i for i, ch in enumerate(found) if not _invisible(ch)]
    first, last = (visible[0], visible[-1]) if visible else (len(found), len(found) - 1)

    def chars(run: str, pattern: str) -> list[str]:  # pattern: "trailing {}" -> "2 trailing spaces"
        if not run:
            return []
        names = list(dict.fromkeys(_CHAR_NAMES.get(ch) or unicodedata.name(ch, f"U+{ord(ch):04X}").lower()
                                   for ch in run))
        if len(names) == 1 and len(run) > 1:
            return [f"{len(run)} " + pattern.format(names[0] + "s")]
        return [pattern.format(" and ".join(names))]

    inside = "".join(ch for ch in found[first:last + 1] if _invisible(ch))
    parts = chars(found[:first], "leading {}") + chars(found[last + 1:], "trailing {}")
    parts += chars(inside, "{} inside the name")
    if "".join(found[i] for i in visible) != expected:
        parts.append("different case")
    return ", ".join(parts)


def _cells(exp: dict, frame: pd.DataFrame) -> pd.Series | None:
    """The CSV cells a check of one column's values is about: the column GE checks, or the CSV
    column it is a typed view of (``age__int`` → ``age``).  None for checks across files, of
    pairs of columns, or of a derived value that is no cell of the file."""
    meta = exp["meta"]
    if "file" in meta or not exp["type"].startswith("expect_column_values_"):
        return None
    column = re.sub(r"__(?:int|num|date)$", "", str(exp["kwargs"].get("column", "")))
    return frame[column] if column in meta["columns"] and column in frame.columns else None


def _cell_text(value: Any) -> str:
    """A cell as the data manager typed it: quoted (JSON escapes), "empty", cut at 40 characters."""
    if not isinstance(value, str):
        return "empty"
    return json.dumps(value if len(value) <= MAX_CELL else value[:MAX_CELL - 1] + "…", ensure_ascii=False)


def _examples(exp: dict, rows: list[int], frame: pd.DataFrame, cells: pd.Series | None = None) -> list[str]:
    """Up to 5 failing rows as "row 12" (spreadsheet numbering), with the offending cell when the
    check is about one column ("row 12: \"17\""), or as "participant P0007" for the checks that
    name participants."""
    if exp["meta"].get("examples") == "participant" and "participant_id" in frame.columns:
        out: list[str] = []
        for row in rows:
            pid = frame.at[row, "participant_id"] if row in frame.index else None
            text = f"participant {pid}" if isinstance(pid, str) else f"row {row}"
            if text not in out:
                out.append(text)
        return out
    if cells is None:
        return [f"row {r}" for r in rows]
    return [f"row {r}: {_cell_text(cells.at[r])}" if r in cells.index else f"row {r}" for r in rows]


def _merge(file: str, outcomes: list[tuple[dict, str, int, list[str]]], params: dict) -> list[CheckResult]:
    """One CheckResult per check_id (expectations sharing an id are parts of one rule).  A check
    is not checked when a part could not run for a missing column or parameter and no part failed."""
    grouped: dict[str, list] = {}
    for outcome in outcomes:
        grouped.setdefault(outcome[0]["meta"]["check_id"], []).append(outcome)
    results = []
    for check_id, parts in grouped.items():
        exp = parts[0][0]
        meta = exp["meta"]
        warning = exp.get("severity", "critical") == "warning"
        bad = [p for p in parts if p[1] != PASSED]
        unchecked_only = bool(bad) and all(p[1] == UNCHECKED for p in bad)
        examples: list[str] = []
        for p in bad:
            for e in p[3]:
                e = NOT_CHECKED + e if p[1] == UNCHECKED and not unchecked_only else e
                if e not in examples:
                    examples.append(e)
        status = PASSED if not bad else UNCHECKED if unchecked_only else (WARNING if warning else FAILED)
        results.append(CheckResult(
            check_id=check_id, file=meta.get("file", file), columns=tuple(meta["columns"]),
            rule=_rule_text(meta["rule"], params),
            status=status, n_failing=sum(p[2] for p in bad),
            examples=tuple(examples if status == UNCHECKED else _sorted_examples(examples)[:MAX_EXAMPLES]),
        ))
    return results


def _sorted_examples(examples: list[str]) -> list[str]:
    def key(e: str):
        m = re.match(r"row (\d+)\b", e)
        return (0, int(m.group(1)), "") if m else (1, 0, "")
    return sorted(examples, key=key)
