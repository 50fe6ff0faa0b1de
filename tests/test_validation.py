"""Validation of data freezes: every rule of freeze-format.md fails closed, with row numbers.

The Great Expectations context is built once per process (module-level cache in
``alliance_report.validation``); each corruption test validates one corrupted copy of a tiny
hand-written freeze (``freeze_corruptions.write_tiny_freeze``).

Speed: GE costs ~10 ms per expectation and run, whatever the data size, and a corrupted copy
differs from the valid freeze in a few rows of one file.  The autouse fixture ``memo_ge_runs``
(``tests/ge_memo.py``, made autouse for the session by conftest) therefore memoizes GE runs, keyed by a SHA-256 of the exact input
(every column's dtype and values, the index, the expectations, parameters and result format):
a run is only skipped when GE already validated an identical input.  Production code has no cache.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import freeze_corruptions as fc  # noqa: E402
from conftest import fast_sample  # noqa: E402
from alliance_report import DEMO_FREEZE, EXPECTATIONS_DIR, REPO_ROOT  # noqa: E402
from alliance_report.freeze import COLUMNS, FreezeError, read_freeze  # noqa: E402
from alliance_report.study import load_study  # noqa: E402
from alliance_report.validation import (  # noqa: E402
    CheckResult, SuiteError, ValidationReport, format_report, load_suites, validate_freeze,
)
from alliance_report.validation.frames import checked_frames  # noqa: E402
from alliance_report.validation.outcomes import column_problems, merge  # noqa: E402
from alliance_report.validation.runner import condition_mask  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return fc.write_tiny_freeze(tmp_path_factory.mktemp("tiny") / "freeze")


@pytest.fixture(scope="module")
def tiny_report(tiny) -> ValidationReport:
    return validate_freeze(read_freeze(tiny))


def failed_ids(report: ValidationReport) -> set[str]:
    return {c.check_id for c in report.failed()}


def check(report: ValidationReport, check_id: str) -> CheckResult:
    return next(c for c in report.checks if c.check_id == check_id)


# ---------------------------------------------------------------------------------------------
# valid freezes


def test_tiny_freeze_is_valid_without_warnings(tiny_report):
    assert tiny_report.ok, format_report(tiny_report)
    assert not tiny_report.warnings(), format_report(tiny_report)
    assert len(tiny_report.checks) > 100
    assert all(c.status == "passed" and c.n_failing == 0 and not c.examples for c in tiny_report.checks)


@pytest.mark.skipif(not (DEMO_FREEZE / "manifest.json").is_file(), reason="demo freeze not built yet")
def test_demo_freeze_is_valid():
    report = validate_freeze(read_freeze(DEMO_FREEZE))
    assert report.ok, format_report(report)


def test_bom_and_crlf_are_accepted(tiny, tmp_path):
    folder = fc.with_bom_and_crlf(tiny, tmp_path / "bom")
    assert (folder / "participants.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in (folder / "sessions.csv").read_bytes()
    freeze = read_freeze(folder)
    assert list(freeze.tables["participants.csv"].columns) == list(COLUMNS["participants.csv"])
    report = validate_freeze(freeze)
    assert report.ok and not report.warnings(), format_report(report)


def test_quoted_fields_with_commas_are_accepted(tiny):
    freeze = read_freeze(tiny)
    reasons = freeze.tables["screening.csv"]["exclusion_reason"].tolist()
    assert "declined to participate, no time" in reasons  # written quoted by the csv module
    assert b'"declined to participate, no time"' in (tiny / "screening.csv").read_bytes()


# ---------------------------------------------------------------------------------------------
# corruptions: each breaks one rule; exactly the listed checks fail, the first one on `file`

CASES = {
    # screening.csv
    "bad_date": (("screening.screened_on.date",), "screening.csv", "row 2"),
    "duplicate_screening_id": (("screening.screening_id.unique",), "screening.csv", "row 2"),
    "exclusion_reason_when_randomized": (("screening.exclusion_reason.empty_when_randomized",), "screening.csv", "row 2"),
    "missing_exclusion_reason": (("screening.exclusion_reason.required_unless_randomized",), "screening.csv", "row 11"),
    "randomized_not_eligible": (("screening.participant_id.only_if_eligible",), "screening.csv", "row 2"),
    "screening_unknown_participant": (("screening.participant_id.known",), "screening.csv+participants.csv",
                                      "participant P_UNKNOWN"),
    "participant_without_screening": (("participants.participant_id.one_screening_row",),
                                      "participants.csv+screening.csv", "participant P001"),
    "participant_screened_twice": (("screening.participant_id.unique", "participants.participant_id.one_screening_row"),
                                   "screening.csv", "participant P001"),
    # participants.csv
    "duplicate_participant_id": (("participants.participant_id.unique",), "participants.csv", "participant P001"),
    "bad_category": (("participants.sex.in_set",), "participants.csv", "row 2"),
    "age_17": (("participants.age.between",), "participants.csv", "row 2"),
    "age_not_a_number": (("participants.age.integer",), "participants.csv", "row 2"),
    "blank_site": (("participants.site.required",), "participants.csv", "row 2"),
    "months_negative": (("participants.months_since_diagnosis.not_negative",), "participants.csv", "row 2"),
    "months_decimal_comma": (("participants.months_since_diagnosis.number",), "participants.csv", "row 2"),
    "age_too_many_digits": (("participants.age.integer",), "participants.csv", "row 2"),
    "months_too_many_digits": (("participants.months_since_diagnosis.number",), "participants.csv", "row 2"),
    "randomized_after_cutoff": (("participants.randomized_on.not_after_cutoff",), "participants.csv", "row 2"),
    "randomized_before_screening": (("participants.randomized_on.not_before_screening",),
                                    "participants.csv+screening.csv", "participant P001"),
    "treatment_differs_from_allocation": (("participants.treatment.equals_allocation",), "participants.csv",
                                          "participant P001"),
    "rerandomized_on_before_randomized_on": (("participants.rerandomized_on.after_randomized_on",), "participants.csv",
                                             "participant P007"),
    "rerandomized_on_missing": (("participants.rerandomized_on.required_when_rerandomized",), "participants.csv",
                                "participant P007"),
    "rerandomized_on_for_mbct": (("participants.rerandomized_on.empty_unless_rerandomized",), "participants.csv",
                                 "participant P001"),
    "missing_column": (("participants.columns",), "participants.csv", 'missing column "age"'),
    "renamed_column": (("participants.columns",), "participants.csv",
                       'missing column "randomized_on"'),
    "padded_header": (("participants.columns",), "participants.csv",
                      'missing column "participant_id"; the header has "participant_id " (trailing space)'),
    "columns_reordered": (("participants.columns",), "participants.csv", None),
    "header_only_participants": (("participants.rows.at_least_one", "screening.participant_id.known",
                                  "sessions.participant_id.known", "questionnaires.participant_id.known",
                                  "disposition.participant_id.known"), "participants.csv", None),
    # sessions.csv
    "extra_column": (("sessions.columns",), "sessions.csv", 'unexpected column "notes"'),
    "trailing_comma": (("sessions.columns",), "sessions.csv",
                       "a column without a name (column 5: its header field is empty, as when every line ends "
                       "in a comma)"),
    "session_after_cutoff": (("sessions.session_on.not_after_cutoff",), "sessions.csv", "row 2"),
    "session_out_of_range": (("sessions.session.between",), "sessions.csv", "row 9"),
    "duplicate_session": (("sessions.participant_session.unique",), "sessions.csv", "participant P001"),
    "duplicate_session_zero_padded": (("sessions.participant_session.unique",), "sessions.csv", "participant P001"),
    "attended_without_date": (("sessions.session_on.required_when_attended",), "sessions.csv", "row 2"),
    "session_for_untreated": (("sessions.participant_id.treated",), "sessions.csv+participants.csv", "participant P009"),
    "session_after_withdrawal": (("sessions.session_on.not_after_withdrawal",), "sessions.csv+disposition.csv", None),
    # questionnaires.csv
    "unknown_participant": (("questionnaires.participant_id.known",), "questionnaires.csv+participants.csv",
                            "participant P_UNKNOWN"),
    "t0b_not_rerandomized": (("questionnaires.t0b.only_rerandomized",), "questionnaires.csv+participants.csv",
                             "participant P001"),
    "wai_for_untreated": (("questionnaires.wai.only_treated",), "questionnaires.csv+participants.csv", "participant P009"),
    "questionnaire_after_withdrawal": (("questionnaires.completed_on.not_after_withdrawal",),
                                       "questionnaires.csv+disposition.csv", "participant P009"),
    "two_completed_on": (("questionnaires.completed_on.one_per_form",), "questionnaires.csv", "participant P001"),
    "duplicate_item": (("questionnaires.item.unique_per_form",), "questionnaires.csv", "participant P001"),
    "duplicate_item_zero_padded": (("questionnaires.item.unique_per_form",), "questionnaires.csv", "participant P001"),
    "item_out_of_range": (("questionnaires.item.in_range",), "questionnaires.csv", None),
    "value_out_of_range": (("questionnaires.value.in_range",), "questionnaires.csv", "row 2"),
    "instrument_at_wrong_timepoint": (("questionnaires.timepoint.allowed_for_instrument",), "questionnaires.csv", "row 2"),
    "bad_timepoint": (("questionnaires.timepoint.in_set", "questionnaires.timepoint.allowed_for_instrument"),
                      "questionnaires.csv", "row 2"),
    # disposition.csv
    "disposition_reason_missing": (("disposition.reason.required",), "disposition.csv", "row 2"),
    "event_before_randomization": (("disposition.event_on.not_before_randomization",),
                                   "disposition.csv+participants.csv", "participant P005"),
    "bad_event": (("disposition.event.in_set",), "disposition.csv", "row 3"),
    "duplicate_disposition": (("disposition.participant_id.unique",), "disposition.csv", "participant P005"),
    # manifest.json and the folder
    "sha_mismatch": (("manifest.sha256.sessions",), "sessions.csv", None),
    "unlisted_csv": (("manifest.files.no_unlisted_csv",), "manifest.json", "file extra.csv"),
    "manifest_format_version_2": (("manifest.format_version",), "manifest.json", "found 2"),
    "manifest_file_not_listed": (("manifest.files.lists_every_csv", "manifest.sha256.disposition"), "manifest.json",
                                 "disposition.csv not listed"),
    "manifest_unknown_file": (("manifest.files.no_unknown_entries",), "manifest.json", None),
    "manifest_simulated_text": (("manifest.simulated",), "manifest.json", None),
    "manifest_missing_key": (("manifest.required_keys", "manifest.exported_at"), "manifest.json",
                             "missing key exported_at"),
    "manifest_unsafe_freeze_id": (("manifest.freeze_id",), "manifest.json", None),
    "manifest_bad_cutoff": (("manifest.cutoff_date",), "manifest.json", 'found "2026-02-30"'),
}


def test_every_corruption_has_a_case():
    assert set(CASES) == set(fc.CORRUPTIONS)
    assert len(CASES) >= 25


ONE_CELL = {name: (column, value) for name, _, _, column, value in fc.ONE_CELL}


def as_shown(cell: str) -> str:
    """A cell as an example shows it: "empty", or quoted and cut to 40 characters with "…"."""
    if cell == "":
        return "empty"
    return json.dumps(cell if len(cell) <= 40 else cell[:39] + "…", ensure_ascii=False)


def row_as_shown(folder: Path, file: str, row: int) -> set[str]:
    """The cells of a CSV row (read with the csv module; row 1 is the header) as examples show them."""
    return {as_shown(value) for value in fc.records(folder, file)[row - 2].values()}


# in `make test`, one corruption of each file (a cross-file rule among them) and of the manifest;
# `make test-slow` runs every case
FAST_CASES = ("bad_date", "age_17", "missing_column", "randomized_before_screening", "duplicate_session",
              "value_out_of_range", "disposition_reason_missing", "sha_mismatch", "manifest_bad_cutoff")


@pytest.mark.parametrize("name", fast_sample(CASES, FAST_CASES))
def test_corruption_fails_its_check(name, tiny, tmp_path):
    expected, file, example = CASES[name]
    folder = fc.corrupt(tiny, tmp_path / name, name)
    report = validate_freeze(read_freeze(folder))
    assert not report.ok
    assert failed_ids(report) == set(expected), format_report(report)
    first = check(report, expected[0])
    assert first.status == "failed" and first.file == file
    assert first.examples and len(first.examples) <= 5
    if example is not None:
        assert example in [e.split(": ")[0] if e.startswith("row ") else e for e in first.examples], first
    for e in first.examples:  # "row N: <cell>" shows a cell of row N as the file holds it
        if e.startswith("row ") and ": " in e:
            row, shown = e.split(": ", 1)
            assert shown in row_as_shown(folder, first.file, int(row.removeprefix("row "))), e
    column, value = ONE_CELL.get(name, (None, None))
    if column is not None and column == first.columns[0]:  # a rule about the cell the corruption wrote
        written = value(folder) if callable(value) else value
        assert any(e.startswith("row ") and e.endswith(f": {as_shown(written)}") for e in first.examples), first
    # the readable summary names the file and the rule of every failed check, never a traceback
    text = format_report(report)
    for c in report.failed():
        assert f"{c.file}: " in text and c.rule in text
    assert "Traceback" not in text
    n_warnings, n_not_checked = len(report.warnings()), len(report.not_checked())
    assert text.splitlines()[-1] == (
        f"{len(report.checks)} checks run, {len(report.failed())} failed, {n_warnings} "
        + ("warning" if n_warnings == 1 else "warnings") + (f", {n_not_checked} not checked" if n_not_checked else ""))


def test_bad_cells_fail_with_row_numbers_not_crash(tiny, tmp_path):
    folder = fc.corrupt(tiny, tmp_path / "cells", "age_not_a_number")
    with fc._Table(folder, "participants.csv") as t:
        t.recs[1]["sex"] = "Female"
        t.recs[2]["randomized_on"] = "2016-13-45"
        t.recs[3]["months_since_diagnosis"] = "n/a"
        t.recs[4]["age"] = "18.0"
        t.recs[5]["allocation"] = ""
    fc.refresh_manifest(folder)
    report = validate_freeze(read_freeze(folder))
    assert check(report, "participants.age.integer").examples == ('row 2: "abc"', 'row 6: "18.0"')
    assert check(report, "participants.age.between").status == "passed"  # unparseable ages are not "out of range"
    assert check(report, "participants.sex.in_set").examples == ('row 3: "Female"',)
    assert check(report, "participants.randomized_on.date").examples == ('row 4: "2016-13-45"',)
    assert check(report, "participants.months_since_diagnosis.number").examples == ('row 5: "n/a"',)
    assert check(report, "participants.allocation.required").examples == ("row 7: empty",)


def test_missing_column_is_reported_once(tiny, tmp_path):
    """The column-list check fails; the checks needing the column are "not checked" (not skipped,
    not failed), summed up in one line."""
    report = validate_freeze(read_freeze(fc.corrupt(tiny, tmp_path / "m", "missing_column")))
    between = check(report, "participants.age.between")
    assert between.status == "not checked" and between.n_failing == 0
    assert between.examples == ("participants.csv has no column age",)
    # a warning that needs the column (through age_in_months) cannot run either: not checked too
    assert check(report, "participants.months_since_diagnosis.within_lifetime").status == "not checked"
    assert {c.check_id for c in report.not_checked()} == {
        "participants.age.integer", "participants.age.between", "participants.months_since_diagnosis.within_lifetime"}
    assert not report.ok and not report.warnings()
    assert format_report(report).splitlines()[1:] == [
        "participants.csv: 3 checks not checked because of the missing column(s) above (age)",
        f"{len(report.checks)} checks run, 1 failed, 0 warnings, 3 not checked"]


def referenced_columns(exp: dict) -> set[str]:
    """The columns of the checked frame an expectation reads, from its kwargs (the column list and
    the other table-level expectations read none)."""
    kwargs = exp["kwargs"]
    found = {kwargs[k] for k in ("column", "column_A", "column_B") if k in kwargs}
    if not exp["type"].startswith("expect_table_"):
        found |= set(kwargs.get("column_list") or [])

    def walk(condition):
        if isinstance(condition, dict):
            if "column" in condition:
                found.add(condition["column"]["name"])
            for sub in condition.get("conditions", []):
                walk(sub)
    walk(kwargs.get("row_condition"))
    return found


def test_renamed_column_fails_once_and_its_knock_ons_are_not_checked(tiny, tmp_path):
    folder = fc.corrupt(tiny, tmp_path / "r", "renamed_column")  # participants.csv randomized_on
    report = validate_freeze(read_freeze(folder))
    # from the suites: every check reading randomized_on or a derived column that needs it (one
    # that is computed for the valid freeze and not for this one), in any file
    study = load_study("BeMind")
    valid, _ = checked_frames(read_freeze(tiny), study)
    broken, _ = checked_frames(read_freeze(folder), study)
    lost = {(f, c) for f in valid for c in valid[f].columns if c not in broken[f].columns}
    assert ("participants.csv", "randomized_on") in lost
    assert ("disposition.csv", "participant__randomized_on__date") in lost
    expected: dict[str, set[str]] = {}
    for file, suite in load_suites().items():
        for exp in suite["expectations"]:
            if any((file, c) in lost for c in referenced_columns(exp)):
                expected.setdefault(file, set()).add(exp["meta"]["check_id"])
    n = sum(len(ids) for ids in expected.values())
    assert n >= 6 and len(expected) >= 3

    assert failed_ids(report) == {"participants.columns"} and not report.warnings()
    assert {c.check_id for c in report.not_checked()} == set().union(*expected.values())
    for c in report.not_checked():
        assert c.n_failing == 0 and c.examples == ("participants.csv has no column randomized_on",), c
    lines = format_report(report).splitlines()
    assert lines[0].endswith(' — missing column "randomized_on"; unexpected column "randomisation_date"'), lines[0]
    assert lines[1:] == [  # one line per file, not one failure per check
        f"{file}: {len(ids)} {'check' if len(ids) == 1 else 'checks'} not checked because of the missing column(s) "
        + ("above (randomized_on)" if file == "participants.csv" else "above (randomized_on in participants.csv)")
        for file, ids in expected.items()
    ] + [f"{len(report.checks)} checks run, 1 failed, 0 warnings, {n} not checked"]
    data = report.to_dict()  # validation.json
    assert data["valid"] is False and data["n_failed"] == 1 and data["n_warnings"] == 0 and data["n_not_checked"] == n
    assert sorted(c["check_id"] for c in data["checks"] if c["status"] == "not checked") == sorted(
        set().union(*expected.values()))


def test_header_name_with_a_space_is_shown_quoted_with_a_hint(tiny, tmp_path):
    report = validate_freeze(read_freeze(fc.corrupt(tiny, tmp_path / "p", "padded_header")))
    columns = check(report, "participants.columns")
    problem = 'missing column "participant_id"; the header has "participant_id " (trailing space)'
    assert columns.examples == (problem,) and columns.n_failing == 1
    lines = format_report(report).splitlines()
    assert lines[0] == f"participants.csv: {columns.rule} — {problem}"
    assert "participants.csv: 5 checks not checked because of the missing column(s) above (participant_id)" in lines
    assert not any("unexpected column" in line for line in lines)


@pytest.mark.parametrize("header, problems", [
    (["site", " Participant_ID"], ['missing column "participant_id"; the header has " Participant_ID" '
                                   "(leading space, different case)"]),
    (["participant_id\u00a0\u00a0", "site"], ['missing column "participant_id"; the header has '
                                              '"participant_id\\u00a0\\u00a0" (2 trailing non-breaking spaces)']),
    (["participant_id", "si\tte", "notes"], ['missing column "site"; the header has "si\\tte" (tab inside the name)',
                                            'unexpected column "notes"']),
    (["pid", "site"], ['missing column "participant_id"', 'unexpected column "pid"']),
    (["site", "participant_id"], ['columns in the wrong order: found "site", "participant_id"']),
])
def test_column_list_messages_quote_every_name(header, problems):
    assert column_problems({"kwargs": {"column_list": ["participant_id", "site"]}}, header) == problems


def test_cutoff_rules_show_the_cutoff_date(tiny, tmp_path):
    report = validate_freeze(read_freeze(fc.corrupt(tiny, tmp_path / "c", "randomized_after_cutoff")))
    rule = "randomized_on must not be after the freeze's cutoff_date 2026-11-01 (manifest.json)"
    assert check(report, "participants.randomized_on.not_after_cutoff").rule == rule
    assert f'participants.csv: randomized_on: {rule} — 1 row failed (e.g. row 2: "2026-11-02")' \
        in format_report(report).splitlines()
    cutoff_rules = [c for c in report.checks if c.check_id.endswith(".not_after_cutoff")]
    assert len(cutoff_rules) == 6
    assert all(c.rule.endswith(" must not be after the freeze's cutoff_date 2026-11-01 (manifest.json)")
               for c in cutoff_rules)
    # without a valid cutoff_date: the plain rule, not checked, one line per file
    report = validate_freeze(read_freeze(fc.corrupt(tiny, tmp_path / "b", "manifest_bad_cutoff")))
    for c in (c for c in report.checks if c.check_id.endswith(".not_after_cutoff")):
        assert c.status == "not checked"
        assert c.rule == f"{c.columns[0]} must not be after the freeze's cutoff_date (manifest.json)"
        assert c.examples == ("manifest.json cutoff_date is missing or not a date YYYY-MM-DD",)
    assert format_report(report).splitlines()[1:3] == [
        "screening.csv: 1 check not checked because manifest.json cutoff_date is missing or not a date YYYY-MM-DD",
        "participants.csv: 2 checks not checked because manifest.json cutoff_date is missing or not a date YYYY-MM-DD"]


def test_rule_placeholders_must_be_parameters_of_the_expectation(tmp_path):
    for path in EXPECTATIONS_DIR.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    suite = tmp_path / "participants.json"
    suite.write_text(suite.read_text().replace("cutoff_date {cutoff_date}", "cutoff_date {cut_off}", 1))
    with pytest.raises(SuiteError, match=r"\{cut_off\}, which is no parameter"):
        load_suites(tmp_path)


def test_errors_other_than_a_missing_column_stay_failures(tiny, monkeypatch):
    """Great Expectations raising or a derived value that cannot be computed is a bug or a real
    problem, not the knock-on of a failure reported above: failed (a warning stays a warning)."""
    from alliance_report import values
    from alliance_report.validation.runner import GX

    def boom(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr(values, "integers", boom)
    monkeypatch.setattr(GX, "_run", boom)
    report = validate_freeze(read_freeze(tiny))
    assert not report.not_checked() and not report.ok
    age = check(report, "participants.age.between")
    assert age.status == "failed"
    assert age.examples == ("not checked: age__int could not be computed (RuntimeError: boom)",)
    sex = check(report, "participants.sex.in_set")
    assert sex.status == "failed" and sex.examples == ("not checked: Great Expectations failed (RuntimeError: boom)",)
    assert check(report, "participants.months_since_diagnosis.within_lifetime").status == "warning"


def test_a_check_not_checked_makes_the_freeze_invalid(tiny_report):
    last = dataclasses.replace(tiny_report.checks[-1], status="not checked", examples=("x.csv has no column y",))
    report = ValidationReport(tiny_report.checks[:-1] + (last,))
    assert not report.ok and report.not_checked() == (last,) and not report.failed()
    assert report.to_dict()["valid"] is False and report.to_dict()["n_not_checked"] == 1


def test_a_check_that_fails_in_one_part_is_failed_even_if_another_part_is_not_checked():
    exp = {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"},
           "meta": {"check_id": "x.a.required", "rule": "a is required", "columns": ["a"]}}
    part_failed = (exp, "failed", 2, ["row 3", "row 2"])
    part_not_checked = (exp, "not checked", 0, ["x.csv has no column b"])
    (result,) = merge("x.csv", [part_not_checked, part_failed], {})
    assert result.status == "failed" and result.n_failing == 2
    assert result.examples == ("row 2", "row 3", "not checked: x.csv has no column b")
    (result,) = merge("x.csv", [(exp, "passed", 0, []), part_not_checked], {})
    assert result.status == "not checked" and result.examples == ("x.csv has no column b",)


def test_missing_participant_id_column_fails_every_cross_file_check(tiny, tmp_path):
    folder = tmp_path / "noid"
    fc.corrupt(tiny, folder, "columns_reordered")
    with fc._Table(folder, "participants.csv") as t:
        t.header[0] = "pid"
    fc.refresh_manifest(folder)
    report = validate_freeze(read_freeze(folder))
    for check_id in ("sessions.participant_id.known", "questionnaires.wai.only_treated",
                     "questionnaires.t0b.only_rerandomized", "disposition.event_on.not_before_randomization",
                     "participants.participant_id.one_screening_row"):
        c = check(report, check_id)
        assert c.status == "not checked" and c.examples == ("participants.csv has no column participant_id",), c


def test_many_failures_report_count_and_five_examples(tiny, tmp_path):
    report = validate_freeze(read_freeze(fc.corrupt(tiny, tmp_path / "u", "unknown_participant")))
    c = check(report, "questionnaires.participant_id.known")
    assert c.n_failing == 14 and c.examples == ("participant P_UNKNOWN",)
    report = validate_freeze(read_freeze(fc.corrupt(tiny, tmp_path / "t", "bad_timepoint")))
    c = check(report, "questionnaires.timepoint.in_set")
    assert c.n_failing == 14 and c.examples == tuple(f'row {n}: "t0"' for n in range(2, 7))
    assert "questionnaires.csv: timepoint: " in format_report(report)
    assert '— 14 rows failed (e.g. row 2: "t0", row 3: "t0", row 4: "t0", row 5: "t0", row 6: "t0")' \
        in format_report(report)


# ---------------------------------------------------------------------------------------------
# warnings do not block


def test_late_questionnaire_is_a_warning(tiny, tmp_path):
    folder = tmp_path / "late"
    fc.corrupt(tiny, folder, "sha_mismatch")
    with fc._Table(folder, "questionnaires.csv") as t:
        for r in t.recs:
            if r["participant_id"] == "P002" and r["timepoint"] == "T1":
                r["completed_on"] = fc.day(r["completed_on"], 75)
    fc.refresh_manifest(folder)
    report = validate_freeze(read_freeze(folder))
    assert report.ok, format_report(report)
    late = check(report, "questionnaires.completed_on.within_60_days_of_planned")
    assert late.status == "warning" and late.n_failing == 28 and late.examples == ("participant P002",)
    assert report.to_dict()["valid"] is True and report.to_dict()["n_warnings"] == 1
    assert format_report(report).splitlines()[0].startswith("warning: questionnaires.csv+participants.csv+sessions.csv")


def test_sessions_out_of_order_is_a_warning(tiny, tmp_path):
    folder = tmp_path / "order"
    fc.corrupt(tiny, folder, "sha_mismatch")
    with fc._Table(folder, "sessions.csv") as t:
        s2 = t.first(participant_id="P001", session="2")
        s3 = t.first(participant_id="P001", session="3")
        s2["session_on"], s3["session_on"] = s3["session_on"], s2["session_on"]
    fc.refresh_manifest(folder)
    report = validate_freeze(read_freeze(folder))
    assert report.ok
    assert {c.check_id for c in report.warnings()} == {"sessions.session_on.in_session_order"}


# ---------------------------------------------------------------------------------------------
# unreadable input: read_freeze raises FreezeError naming the file


@pytest.mark.parametrize("name", list(fc.UNREADABLE))
def test_unreadable_input_names_the_file(name, tiny, tmp_path):
    folder, file = fc.make_unreadable(tiny, tmp_path / name, name)
    with pytest.raises(FreezeError) as info:
        read_freeze(folder)
    assert info.value.file == file
    assert info.value.usage == (file == "manifest.json")
    assert str(info.value).startswith(file + ": ")


def test_folder_that_does_not_exist(tmp_path):
    with pytest.raises(FreezeError) as info:
        read_freeze(tmp_path / "nope")
    assert info.value.usage and "does not exist" in info.value.reason


def test_manifest_with_duplicate_key_is_unreadable(tiny, tmp_path):
    folder = fc.corrupt(tiny, tmp_path / "dup", "sha_mismatch")
    text = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(text.replace('"format_version": 1,', '"format_version": 1, "format_version": 2,'))
    with pytest.raises(FreezeError, match="appears twice") as info:
        read_freeze(folder)
    assert info.value.file == "manifest.json" and info.value.usage


def test_extra_field_in_first_data_row_does_not_shift_columns(tiny, tmp_path):
    folder = tmp_path / "shift"
    fc.corrupt(tiny, folder, "sha_mismatch")
    path = folder / "participants.csv"
    lines = path.read_text().splitlines()
    lines[1] += ","  # pandas alone would take the first column as an index and shift the others
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FreezeError, match="row 2 has 15 fields, the header has 14"):
        read_freeze(folder)


@pytest.mark.parametrize("line", [2, 3])
def test_a_quote_never_closed_is_named_by_its_row(tiny, tmp_path, line):
    """A '"' opening the last cell of row ``line`` (the file's line, header = row 1, as every other
    message counts) with no closing '"': the rest of the file would be one cell."""
    folder = fc.corrupt(tiny, tmp_path / "quote", "sha_mismatch")
    path = folder / "disposition.csv"
    lines = path.read_text().splitlines()
    assert len(lines) > line
    cells = lines[line - 1].split(",")
    cells[-1] = '"' + cells[-1]
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FreezeError, match=f"^disposition.csv: row {line} opens a quoted cell that is never closed"):
        read_freeze(folder)


def test_trailing_blank_lines_are_ignored(tiny, tmp_path):
    folder = fc.corrupt(tiny, tmp_path / "blank", "sha_mismatch")
    with open(folder / "disposition.csv", "a") as fh:
        fh.write("\n\n")
    fc.refresh_manifest(folder)
    assert len(read_freeze(folder).tables["disposition.csv"]) == 3


# ---------------------------------------------------------------------------------------------
# interface, output and set-up


def test_interface_and_json(tiny_report):
    assert dataclasses.is_dataclass(CheckResult) and CheckResult.__dataclass_params__.frozen
    assert [f.name for f in dataclasses.fields(CheckResult)] == [
        "check_id", "file", "columns", "rule", "status", "n_failing", "examples"]
    data = tiny_report.to_dict()
    assert set(data) == {"valid", "n_checks", "n_failed", "n_warnings", "n_not_checked", "by_file", "checks"}
    by_file = {}
    for check in data["checks"]:  # counted here from the checks, independently of by_file
        counts = by_file.setdefault(check["file"], {"checks": 0, "passed": 0, "failed": 0, "warning": 0,
                                                    "not checked": 0})
        counts["checks"] += 1
        counts[check["status"]] += 1
    assert data["by_file"] == by_file and list(data["by_file"]) == list(by_file)
    assert data["valid"] is True and data["n_checks"] == len(tiny_report.checks) and data["n_failed"] == 0
    assert data["n_not_checked"] == 0
    assert json.loads(json.dumps(data)) == data
    assert data["checks"][0].keys() == {"check_id", "file", "columns", "rule", "status", "n_failing", "examples"}
    ids = [c.check_id for c in tiny_report.checks]
    assert len(ids) == len(set(ids))
    assert format_report(tiny_report) == f"{len(ids)} checks run, 0 failed, 0 warnings"


def test_every_rule_of_the_format_has_a_check(tiny_report):
    ids = {c.check_id for c in tiny_report.checks}
    for file, columns in COLUMNS.items():
        stem = file.removesuffix(".csv")
        assert f"{stem}.columns" in ids
        assert f"manifest.sha256.{stem}" in ids
        for column in columns:  # every column is the subject of at least one check
            assert any(column in c.columns for c in tiny_report.checks if c.file.startswith(file)), (file, column)


def test_suites_are_consistent(tiny):
    suites = load_suites()
    frames, unavailable = checked_frames(read_freeze(tiny), load_study("BeMind"))
    for file, suite in suites.items():
        assert suite["meta"]["file"] == file
        declared = set(suite["meta"]["derived_columns"])
        assert not unavailable[file]
        assert declared <= set(frames[file].columns), declared - set(frames[file].columns)
        for exp in suite["expectations"]:
            assert exp["meta"]["check_id"].startswith(file.removesuffix(".csv") + ".")
            assert exp["severity"] in ("critical", "warning")
            assert set(exp["meta"]["columns"]) <= set(COLUMNS[file]) | {
                c for cols in COLUMNS.values() for c in cols}


def test_row_conditions_match_great_expectations(tiny):
    """The validator filters rows per row_condition itself; the result must equal GE's own query."""
    from great_expectations.execution_engine import PandasExecutionEngine
    from great_expectations.expectations.row_conditions import deserialize_row_condition

    engine = PandasExecutionEngine()
    frames, _ = checked_frames(read_freeze(tiny), load_study("BeMind"))
    n = 0
    for file, suite in load_suites().items():
        for exp in suite["expectations"]:
            condition = exp["kwargs"].get("row_condition")
            if condition is None:
                continue
            frame = frames[file]
            query = engine.condition_to_filter_clause(deserialize_row_condition(condition))
            assert list(frame.index[condition_mask(frame, condition)]) == list(frame.query(query).index), query
            n += 1
    assert n >= 15


@pytest.mark.slow
def test_ge_is_imported_lazily_and_quietly(tiny):
    code = (
        "import sys, io, contextlib\n"
        "import alliance_report.validation as v\n"
        "assert 'great_expectations' not in sys.modules\n"
        "from alliance_report.freeze import read_freeze\n"
        f"r = v.validate_freeze(read_freeze({str(tiny)!r}))\n"
        "assert r.ok\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout == "" and run.stderr == "", (run.stdout, run.stderr)


def test_failures_are_listed_causes_first(tiny, tmp_path):
    """participants.csv without rows makes every participant_id elsewhere unknown: the empty file
    is named first, the cross-file knock-ons after it (in file order they would come first)."""
    report = validate_freeze(read_freeze(fc.corrupt(tiny, tmp_path / "h", "header_only_participants")))
    lines = format_report(report).splitlines()
    assert lines[0] == "participants.csv: participants.csv must have at least one data row — the file has 0 data rows"
    assert all("+participants.csv: participant_id: " in line for line in lines[1:-1]), lines
    assert report.failed()[0].check_id == "screening.participant_id.known"  # validation.json keeps file order


def test_an_example_shows_the_cell_the_rule_checks(tiny, tmp_path):
    """screening.participant_id.only_if_eligible checks `eligible` on the rows with a
    participant_id (meta columns: participant_id, eligible): the example shows "no", not the id."""
    report = validate_freeze(read_freeze(fc.corrupt(tiny, tmp_path / "e", "randomized_not_eligible")))
    (example,) = check(report, "screening.participant_id.only_if_eligible").examples
    assert example == 'row 2: "no"'
