"""The Great Expectations suites of ``expectations/``: reading and linting them (``load_suites``),
what an expectation reads (its columns, its parameters) and the text of a rule.

Every CSV has one suite, ``expectations/<file stem>.json``: a GE 1.x expectation suite whose
expectations carry, in ``meta``, a stable ``check_id``, the ``rule`` in words, the CSV
``columns`` concerned and, for rules that join files, the ``file`` label
(``"sessions.csv+participants.csv"``).  ``severity: "warning"`` marks a warning.  Several
expectations may share one ``check_id``; they are reported as one check.  A rule text may show
a parameter of its expectation: ``{cutoff_date}`` in ``meta.rule`` becomes the date (and
disappears, with the space before it, when the manifest has no valid cutoff_date).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from .. import EXPECTATIONS_DIR
from ..freeze import COLUMNS, FREEZE_FILES

_PLACEHOLDER_RE = re.compile(r"( ?)\{(\w+)\}")


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
                if name not in parameter_names(exp["kwargs"]):
                    raise SuiteError(f"{where}: meta.rule shows {{{name}}}, which is no parameter of its kwargs")
            if "row_condition" in exp["kwargs"]:
                _check_condition(exp["kwargs"]["row_condition"], where)
            for column in referenced_columns(exp):
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


TABLE_TYPES = frozenset({
    "expect_table_columns_to_match_ordered_list", "expect_table_columns_to_match_set",
    "expect_table_column_count_to_equal", "expect_table_column_count_to_be_between", "expect_column_to_exist",
})


def referenced_columns(exp: dict) -> list[str]:
    """The columns an expectation reads (for table-level ones, such as the column list, none)."""
    kwargs = exp["kwargs"]
    columns = [kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs]
    if exp["type"] not in TABLE_TYPES:
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


def parameter_names(value: Any) -> list[str]:
    if isinstance(value, dict):
        if "$PARAMETER" in value:
            return [value["$PARAMETER"]]
        return [n for v in value.values() for n in parameter_names(v)]
    if isinstance(value, list):
        return [n for v in value for n in parameter_names(v)]
    return []


def rule_text(rule: str, params: dict) -> str:
    """``meta.rule`` with each ``{parameter}`` replaced by its value (a date as YYYY-MM-DD); a
    parameter without a value is left out with the space before it."""
    def value(m: re.Match) -> str:
        if m[2] not in params:
            return ""
        v = params[m[2]]
        return m[1] + (v.date().isoformat() if isinstance(v, pd.Timestamp) else str(v))
    return _PLACEHOLDER_RE.sub(value, rule)

