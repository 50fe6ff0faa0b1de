"""The outcome of a validation: one ``CheckResult`` per check, the ``ValidationReport`` that
``validation.json`` serializes (``to_dict``), and its human-readable summary (``format_report``,
the lines of ``validate`` and of a failed build)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable

MAX_EXAMPLES = 5
PASSED, FAILED, WARNING, UNCHECKED = "passed", "failed", "warning", "not checked"
NOT_CHECKED = "not checked: "  # prefix of the example of a check that failed because it could not run


class Missing(str):
    """Why a check cannot run, when the cause is reported by another check that failed: a column
    missing from a file (the file's column-list check) or no valid cutoff_date (manifest.json).
    A check with only such causes is "not checked"; any other cause (computing a derived value
    or Great Expectations raises) makes it fail."""


def no_column(file: str, column: str) -> Missing:
    return Missing(f"{file} has no column {column}")


_NO_COLUMN_RE = re.compile(r"(?P<file>\S+) has no column (?P<column>.+)")


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

