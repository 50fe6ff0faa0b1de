"""Validate a data freeze (format v1, ``shared/spec/freeze-format.md``) before any analysis.

Fail closed: every rule of the format is a check, never skipped.  A check that cannot run
because a column it needs is missing (in its file or, for a derived column, in another one)
or the manifest has no valid cutoff_date is "not checked": the column-list check or the
manifest check has already failed for that cause, so the knock-ons are counted apart (and
summed up in one line per file) instead of being reported as failures one by one; a freeze
with a check not checked is invalid.  A check that cannot run for another reason (a derived
value cannot be computed, Great Expectations raises) is reported as failed (a warning stays a
warning).  Warnings flag implausible but legal data and never block a report.

The modules, in the order a validation runs:

* ``manifest``: ``manifest.json`` and the folder (listed files, SHA-256), in plain Python, and
  the suite parameter ``{"$PARAMETER": "cutoff_date"}`` (checks that need it are "not checked"
  when the manifest has no valid cutoff_date);
* ``suites``: the Great Expectations suites of ``expectations/`` (one per CSV), read and linted;
* ``frames``: the checked frame of each CSV (its cells plus typed views and values joined from
  other files, so that cross-file rules are ordinary expectations);
* ``runner``: Great Expectations run on each file's header and checked frame;
* ``outcomes``: GE's results as checks (counts, examples), one per ``check_id``;
* ``report``: ``ValidationReport`` (``validation.json``) and its summary in words.
"""

from __future__ import annotations

from ..freeze import FREEZE_FILES, Freeze
from ..study import Study, StudyError, load_study
from .frames import checked_frames
from .manifest import manifest_checks, parameters
from .report import CheckResult, ValidationReport, format_report
from .runner import GX, run_suite
from .suites import SuiteError, load_suites

__all__ = ["CheckResult", "SuiteError", "ValidationReport", "format_report", "load_suites", "prepare",
           "validate_freeze"]


def prepare() -> None:
    """Import Great Expectations and create its context (about 2.5 s, once per process);
    ``validate_freeze`` does it when it has not been done."""
    GX()


def validate_freeze(freeze: Freeze, study: Study | None = None) -> ValidationReport:
    """Run every check of the format on ``freeze`` (as returned by ``read_freeze``).

    ``study`` (the visit schedule of the timeliness warning) defaults to the configuration the
    manifest names; without one, that warning is not checked."""
    checks: list[CheckResult] = list(manifest_checks(freeze))
    suites = load_suites()
    params, missing_params = parameters(freeze)
    frames, unavailable = checked_frames(freeze, study or _study_of(freeze))
    runner = GX()
    for file in FREEZE_FILES:
        checks += run_suite(
            runner, suites[file], freeze.tables[file], frames[file], unavailable[file], params, missing_params,
        )
    return ValidationReport(tuple(checks))


def _study_of(freeze: Freeze) -> Study | None:
    try:
        return load_study(str(freeze.manifest.get("study")))
    except StudyError:
        return None
