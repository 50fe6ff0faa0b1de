"""From Great Expectations' results to checks: an expectation's outcome (its count of failing
rows and examples: "row 12", 'row 12: "17"', "participant P0007", or what is wrong with a
header), and the merging of the expectations that share a ``check_id`` into one ``CheckResult``.

GE's SUMMARY result gives the failing rows (``partial_unexpected_index_list``: the checked
frame's index, i.e. the spreadsheet row number); an example shows the CSV cell as typed
(``age``, not the ``age__int`` value GE saw), so the cell is read from the checked frame.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

import pandas as pd

from alliance_report.freeze import quoted_name

from .report import FAILED, MAX_EXAMPLES, NOT_CHECKED, PASSED, UNCHECKED, WARNING, CheckResult
from .suites import TABLE_TYPES, rule_text

MAX_CELL = 40  # characters of an offending cell shown in an example


def outcome(exp: dict, result: Any, target: pd.DataFrame, frame: pd.DataFrame) -> tuple[dict, str, int, list[str]]:
    if result is None:
        return exp, "error", 0, [NOT_CHECKED + "Great Expectations returned no result"]
    error = _exception_message(result.exception_info)
    if error is not None:
        return exp, "error", 0, [NOT_CHECKED + error]
    if result.success:
        return exp, PASSED, 0, []
    res = result.result or {}
    if exp["type"] in TABLE_TYPES:
        problems = column_problems(exp, list(target.columns))
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


def column_problems(exp: dict, found: list[str]) -> list[str]:
    """What is wrong with the header, every name quoted as the file holds it.  A missing name that
    the header holds up to white space or case is named with it: 'missing column "participant_id";
    the header has "participant_id " (trailing space)' (not a missing and an unexpected column)."""
    expected = list(exp["kwargs"].get("column_list") or [])
    unexpected = [c for c in found if c not in expected]
    problems = []
    for column in (c for c in expected if c not in found):
        near = next((u for u in unexpected if _loose(u) == _loose(column)), None)
        if near is None:
            problems.append(f"missing column {quoted_name(column)}")
        else:
            unexpected.remove(near)
            problems.append(f"missing column {quoted_name(column)}; the header has {quoted_name(near)} "
                            f"({_difference(column, near)})")
    problems += [f"unexpected column {quoted_name(c)}" if c else
                 f"a column without a name (column {found.index(c) + 1}: its header field is empty, as when "
                 "every line ends in a comma)" for c in unexpected]
    if not problems:
        problems = ["columns in the wrong order: found " + ", ".join(quoted_name(c) for c in found)]
    return problems


def _invisible(ch: str) -> bool:
    return ch.isspace() or not ch.isprintable()


def _loose(name: str) -> str:
    """A header name without white space or invisible characters, case folded."""
    return "".join(ch for ch in name if not _invisible(ch)).casefold()


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


def merge(file: str, outcomes: list[tuple[dict, str, int, list[str]]], params: dict) -> list[CheckResult]:
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
            rule=rule_text(meta["rule"], params),
            status=status, n_failing=sum(p[2] for p in bad),
            examples=tuple(examples if status == UNCHECKED else _sorted_examples(examples)[:MAX_EXAMPLES]),
        ))
    return results


def _sorted_examples(examples: list[str]) -> list[str]:
    def key(e: str):
        m = re.match(r"row (\d+)\b", e)
        return (0, int(m.group(1)), "") if m else (1, 0, "")
    return sorted(examples, key=key)
