"""Issue 3 end to end: corrupted copies of the demo freeze through the command line.

Each case copies ``data/demo-freeze/``, breaks it once the way a data manager would by hand
(edit a cell, delete a column, duplicate a row, re-save with semicolons or in Latin-1, leave a
backup copy, truncate a file, edit the manifest ...) and runs ``alliance-report build`` into an
existing output folder.  The build must exit 1 (2 for usage errors: FREEZE not a folder,
unreadable manifest), name the file and the column on stderr, print no traceback, and leave the
output folder byte for byte as it was, with no staging folder beside it.  ``validate --json``
must list the failed checks and end with the line "N checks run, M failed, K warnings" (followed
by ", J not checked" when checks could not run because of a missing column).
Unless the case is about the manifest or the checksums, the manifest is re-signed, so that the
rule itself is what fails.

Speed: the commands run in-process (a process costs seconds of imports); three cases also run
as real processes, started in the background when the module starts.  Great Expectations costs
~10 ms per expectation and run whatever the data size, and a corrupted copy of the demo differs
from the demo in one file: the autouse fixture ``memo_ge_runs`` (``tests/ge_memo.py``, autouse
for the session) memoizes GE runs, keyed by a SHA-256 of the exact input (every column's dtype and values, the index,
the expectations, parameters and result format), so a run is skipped only when GE already
validated an identical input.  Production code has no cache.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import freeze_corruptions as fc  # noqa: E402
from conftest import fast_sample  # noqa: E402
from alliance_report import DEMO_FREEZE, REPO_ROOT  # noqa: E402
from alliance_report.cli import main  # noqa: E402
from alliance_report.freeze import read_freeze  # noqa: E402
from alliance_report.simulation import simulate_freeze  # noqa: E402
from alliance_report.validation import format_report, validate_freeze  # noqa: E402
from alliance_report.validation.runner import GX  # noqa: E402

pytestmark = pytest.mark.skipif(not (DEMO_FREEZE / "manifest.json").is_file(), reason="demo freeze not built")

SUMMARY = re.compile(r"^(\d+) checks run, (\d+) failed, (\d+) warnings?(?:, (\d+) not checked)?$", re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# the cases


@dataclass(frozen=True)
class Case:
    exit_code: int
    file: str  # the file named on stderr: "participants.csv", "screening.csv+participants.csv" ...
    columns: str | None  # the column(s) as printed after the file ("age", "session_on, attended")
    example: str | None  # an example row or participant, or a word of the message
    failed: tuple[str, ...] = ()  # check_ids that fail (validation failures only); the first is on `file`
    not_checked: tuple[str, ...] = ()  # check_ids that cannot run because of the failure (a missing column)


def invalid(file, columns, example, *failed, not_checked=()):
    return Case(1, file, columns, example, failed, not_checked)


def unreadable(file, words, exit_code=1):
    return Case(exit_code, file, None, words)


CASES: dict[str, Case] = {
    # screening.csv
    "spreadsheet_dates": invalid("screening.csv", "screened_on", '429 rows failed (e.g. row 2: "25/12/2013", row 3: "25/12/2013", row 4: "27/12/2013", '
                                 'row 5: "29/12/2013", row 6: "29/12/2013")',
                                 "screening.screened_on.date"),
    "missing_exclusion_reason": invalid("screening.csv", "exclusion_reason, participant_id", "row 2",
                                        "screening.exclusion_reason.required_unless_randomized"),
    "screening_unknown_participant": invalid("screening.csv+participants.csv", "participant_id", "participant P_UNKNOWN",
                                             "screening.participant_id.known"),
    "participant_screened_twice": invalid("screening.csv", "participant_id", "participant P0004",
                                          "screening.participant_id.unique",
                                          "participants.participant_id.one_screening_row"),
    "header_only_screening": invalid("screening.csv", None, "the file has 0 data rows",
                                     "screening.rows.at_least_one", "participants.participant_id.one_screening_row"),
    # participants.csv
    "age_17": invalid("participants.csv", "age", "row 2", "participants.age.between"),
    "age_not_a_number": invalid("participants.csv", "age", "row 2", "participants.age.integer"),
    "bad_category": invalid("participants.csv", "sex", "row 2", "participants.sex.in_set"),
    "months_decimal_comma": invalid("participants.csv", "months_since_diagnosis", "row 2",
                                    "participants.months_since_diagnosis.number"),
    "missing_column": invalid("participants.csv", None, 'missing column "age"', "participants.columns",
                              not_checked=("participants.age.integer", "participants.age.between",
                                           "participants.months_since_diagnosis.within_lifetime")),
    "duplicate_participant_id": invalid("participants.csv", "participant_id", "participant P0001",
                                        "participants.participant_id.unique"),
    "randomized_after_cutoff": invalid("participants.csv", "randomized_on", "row 2",
                                       "participants.randomized_on.not_after_cutoff",
                                       # the demo's first participant has a disposition event, now too early
                                       "disposition.event_on.not_before_randomization"),
    "treatment_differs_from_allocation": invalid("participants.csv", "treatment, allocation", "participant P0001",
                                                 "participants.treatment.equals_allocation"),
    "rerandomized_on_missing": invalid("participants.csv", "rerandomized_on, allocation, treatment", "participant P0002",
                                       "participants.rerandomized_on.required_when_rerandomized"),
    "header_only_participants": invalid("participants.csv", None, "the file has 0 data rows",
                                        "participants.rows.at_least_one", "screening.participant_id.known",
                                        "sessions.participant_id.known", "questionnaires.participant_id.known",
                                        "disposition.participant_id.known"),
    # sessions.csv
    "extra_column": invalid("sessions.csv", None, 'unexpected column "notes"', "sessions.columns"),
    "duplicate_session": invalid("sessions.csv", "participant_id, session", "participant P0001",
                                 "sessions.participant_session.unique"),
    "session_out_of_range": invalid("sessions.csv", "session", "row 9", "sessions.session.between"),
    "attended_without_date": invalid("sessions.csv", "session_on, attended", "row 2",
                                     "sessions.session_on.required_when_attended"),
    # questionnaires.csv
    "duplicate_item_zero_padded": invalid("questionnaires.csv", "participant_id, timepoint, instrument, item",
                                          "participant P0001", "questionnaires.item.unique_per_form"),
    "value_out_of_range": invalid("questionnaires.csv", "value, instrument", "row 2", "questionnaires.value.in_range"),
    "instrument_at_wrong_timepoint": invalid("questionnaires.csv", "timepoint, instrument", "row 2",
                                             "questionnaires.timepoint.allowed_for_instrument"),
    "t0b_not_rerandomized": invalid("questionnaires.csv+participants.csv", "timepoint, participant_id",
                                    "participant P0001", "questionnaires.t0b.only_rerandomized"),
    "questionnaire_after_withdrawal": invalid("questionnaires.csv+disposition.csv", "completed_on, participant_id",
                                              "participant P0050", "questionnaires.completed_on.not_after_withdrawal"),
    # disposition.csv
    "disposition_reason_missing": invalid("disposition.csv", "reason, event", "row 4", "disposition.reason.required"),
    "bad_event": invalid("disposition.csv", "event", "row 2", "disposition.event.in_set"),
    # manifest and folder
    "edited_after_freeze": invalid("participants.csv", None, "changed after the freeze", "manifest.sha256.participants"),
    "backup_copy_csv": invalid("manifest.json", None, "file participants - Copy.csv", "manifest.files.no_unlisted_csv"),
    "manifest_format_version_2": invalid("manifest.json", "format_version", "found 2", "manifest.format_version"),
    "manifest_simulated_text": invalid("manifest.json", "simulated", 'found "true"', "manifest.simulated"),
    "manifest_missing_key": invalid("manifest.json", None, "missing key exported_at",
                                    "manifest.required_keys", "manifest.exported_at"),
    # unreadable input: no check runs
    "zero_byte_file": unreadable("sessions.csv", "zero bytes"),
    "semicolon_delimited": unreadable("questionnaires.csv", "semicolon-delimited"),
    "tab_delimited": unreadable("sessions.csv", "tab-delimited"),
    "latin1_file": unreadable("screening.csv", "is not UTF-8"),
    "utf16_file": unreadable("participants.csv", "is not UTF-8"),
    "short_row": unreadable("sessions.csv", "row 3 has 2 fields, the header has 4"),
    "blank_line_inside": unreadable("sessions.csv", "row 4 is empty"),
    "csv_missing": unreadable("disposition.csv", "is missing"),
    "manifest_not_json": unreadable("manifest.json", "is not valid JSON", exit_code=2),
    "manifest_trailing_comma": unreadable("manifest.json", "is not valid JSON", exit_code=2),
    "manifest_missing": unreadable("manifest.json", "not found", exit_code=2),
    "folder_missing": unreadable("no-such-freeze", "does not exist", exit_code=2),
}

# two cases also run as real processes (exit code and stderr at the process level): a usage error
# (exit 2) and an invalid freeze (exit 1); every case runs in-process in test_build_of_a_broken_freeze_fails_closed
SUBPROCESS_CASES = ("manifest_not_json", "age_17")
# in `make test`, one case of each kind (a rule, a missing column, a changed file, an unreadable file, a
# usage error); `make test-slow` runs every case
FAST_CASES = ("age_17", "missing_column", "edited_after_freeze", "semicolon_delimited", "manifest_not_json")


def make_case(name: str, folder: Path) -> Path:
    if name == "folder_missing":
        return folder.parent / "no-such-freeze"
    return fc.break_copy(DEMO_FREEZE, folder, name)


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    """``broken(name)``: the demo freeze broken by ``name``, made once per module (no command writes to it)."""
    made: dict[str, Path] = {}

    def get(name: str) -> Path:
        if name not in made:
            made[name] = make_case(name, tmp_path_factory.mktemp(name) / "freeze")
        return made[name]
    return get


def test_cases_cover_the_issue():
    """At least 25 corruptions, every registered hand edit, and the unreadable inputs of the issue."""
    assert len(CASES) >= 25
    assert set(fc.HAND_EDITS) <= set(CASES)
    for name in CASES:
        assert name == "folder_missing" or name in fc.HAND_EDITS or name in fc.CORRUPTIONS or name in fc.UNREADABLE
    required = {"zero_byte_file", "semicolon_delimited", "latin1_file", "manifest_not_json", "folder_missing",
                "header_only_participants", "edited_after_freeze", "backup_copy_csv", "missing_column",
                "duplicate_participant_id", "extra_column"}
    assert required <= set(CASES)
    assert set(SUBPROCESS_CASES) <= set(CASES)


# ---------------------------------------------------------------------------------------------
# fixtures


def previous_output(parent: Path) -> Path:
    """An output folder as an earlier build left it (the build must not touch it)."""
    out = parent / "BeMind-2018-03-01"
    (out / "figures").mkdir(parents=True)
    (out / "report.html").write_text("<p>previous report</p>\n", encoding="utf-8")
    (out / "results.json").write_text('{"previous": true}\n', encoding="utf-8")
    (out / "figures" / "alliance.svg").write_bytes(b"<svg/>\n")
    return out


def snapshot(folder: Path) -> dict:
    """Every path below ``folder`` with its bytes, mode and modification time (and the folder's)."""
    state = {".": (None, folder.stat().st_mode, folder.stat().st_mtime_ns)}
    for path in sorted(folder.rglob("*")):
        st = path.stat()
        state[str(path.relative_to(folder))] = (path.read_bytes() if path.is_file() else None, st.st_mode,
                                                st.st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    """Start the process-level cases at once, in the background; their test collects them."""
    started = {}
    for name in SUBPROCESS_CASES:
        root = tmp_path_factory.mktemp(f"process-{name}")
        freeze = make_case(name, root / "freeze")
        out = previous_output(root / "reports")
        before = snapshot(out)
        proc = subprocess.Popen(
            [sys.executable, "-m", "alliance_report", "build", str(freeze), "--out", str(out), "--jobs", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", cwd=REPO_ROOT,
        )
        started[name] = (proc, out, before)
    yield started
    for proc, _, _ in started.values():
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


# ---------------------------------------------------------------------------------------------
# build: exit code, the named file and column, no traceback, the output folder untouched


def check_message(case: Case, text: str) -> None:
    """The message names the file (and the column) of the failed rule, with an example."""
    assert "Traceback" not in text and 'File "' not in text, text
    if case.failed:  # validation failures: "<file>: <columns>: <rule> — <count and examples>"
        prefix = f"{case.file}: " + (f"{case.columns}: " if case.columns else "")
        lines = [line for line in text.splitlines() if line.startswith(prefix)]
        assert lines, f"no line starts with {prefix!r}:\n{text}"
        assert any(case.example in line for line in lines), f"{case.example!r} not in {lines}"
        summary = SUMMARY.findall(text)
        assert len(summary) == 1, text
        n_checks, n_failed, _, n_not_checked = (int(n or 0) for n in summary[0])
        assert n_checks >= 100 and n_failed == len(case.failed) and n_not_checked == len(case.not_checked), text
        assert SUMMARY.fullmatch(text.rstrip("\n").splitlines()[-1]), text  # the summary comes last
    else:  # unreadable input: one line "alliance-report: error: <file>: <reason>"
        assert f"{case.file}: " in text and case.example in text, text
        assert len(text.strip().splitlines()) == 1, text


@pytest.mark.parametrize("name", fast_sample(CASES, FAST_CASES))
def test_build_of_a_broken_freeze_fails_closed(name, broken, tmp_path, capsys):
    case = CASES[name]
    freeze = broken(name)
    reports = tmp_path / "reports"
    out = previous_output(reports)
    before = snapshot(out)
    capsys.readouterr()

    code = main(["build", str(freeze), "--out", str(out), "--jobs", "1"])  # no worker analysing a freeze that fails
    captured = capsys.readouterr()

    assert code == case.exit_code, captured.err
    check_message(case, captured.err)
    assert "Traceback" not in captured.out
    assert not captured.out.startswith("built")
    assert snapshot(out) == before  # byte for byte, same modes and times
    assert sorted(p.name for p in reports.iterdir()) == [out.name]  # no staging folder left beside it


@pytest.mark.parametrize("name", fast_sample(CASES, FAST_CASES))
def test_validate_lists_the_failed_checks(name, broken, tmp_path, capsys):
    """``validate --json``: the same readable lines on stdout; the JSON lists exactly the failed checks."""
    case = CASES[name]
    freeze = broken(name)
    report_file = tmp_path / "validation.json"
    capsys.readouterr()

    code = main(["validate", str(freeze), "--json", str(report_file)])
    captured = capsys.readouterr()

    assert code == case.exit_code, captured.err
    if not case.failed:  # unreadable: nothing was checked; the JSON says why
        check_message(case, captured.err)
        assert captured.out == ""
        data = json.loads(report_file.read_text(encoding="utf-8"))
        assert data["valid"] is False and data["readable"] is False and data["checks"] == []
        assert data["reason"] and data["reason"] in captured.err
        return
    assert captured.err == ""
    check_message(case, captured.out)
    data = json.loads(report_file.read_text(encoding="utf-8"))
    assert data["valid"] is False
    failed = [c for c in data["checks"] if c["status"] == "failed"]
    assert {c["check_id"] for c in failed} == set(case.failed)
    assert data["n_failed"] == len(failed) and data["n_checks"] == len(data["checks"])
    not_checked = [c for c in data["checks"] if c["status"] == "not checked"]
    assert {c["check_id"] for c in not_checked} == set(case.not_checked)
    assert data["n_not_checked"] == len(not_checked)
    assert all(c["n_failing"] == 0 and c["examples"] for c in not_checked)  # with the reason
    summed_up = [line.split(": ")[0] for line in captured.out.splitlines() if " not checked because " in line]
    assert sorted(summed_up) == sorted({c["check_id"].split(".")[0] + ".csv" for c in not_checked})  # one line per file
    assert captured.out.rstrip("\n").splitlines()[-1] == (
        f"{data['n_checks']} checks run, {data['n_failed']} failed, {data['n_warnings']} "
        + ("warning" if data["n_warnings"] == 1 else "warnings")
        + (f", {data['n_not_checked']} not checked" if data["n_not_checked"] else ""))
    first = next(c for c in failed if c["check_id"] == case.failed[0])
    assert first["file"] == case.file
    assert first["rule"] and first["n_failing"] >= 1 and 1 <= len(first["examples"]) <= 5
    if case.columns:
        assert ", ".join(first["columns"]) == case.columns
    for c in failed:  # every failed check is a line of the readable summary
        assert f"{c['file']}: " + (", ".join(c["columns"]) + ": " if c["columns"] else "") + c["rule"] in captured.out


def test_failed_build_creates_no_output_folder(broken, tmp_path, capsys):
    """Without a previous output: the build stops in the worker and creates nothing, not even the
    output's parent folder or a staging folder beside it."""
    freeze = broken("age_17")
    out = tmp_path / "reports" / "new"
    assert main(["build", str(freeze), "--out", str(out)]) == 1
    check_message(CASES["age_17"], capsys.readouterr().err)
    assert list(tmp_path.iterdir()) == []


def test_freeze_that_is_a_file_is_a_usage_error(tmp_path, capsys):
    not_a_folder = tmp_path / "freeze.zip"
    not_a_folder.write_bytes(b"PK\x03\x04")
    for command in (["build", str(not_a_folder), "--out", str(tmp_path / "out")], ["validate", str(not_a_folder)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert "freeze.zip: is not a directory" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_unwritable_json_file_is_a_usage_error(tmp_path, capsys):
    code = main(["validate", str(DEMO_FREEZE), "--json", str(tmp_path / "no-such-folder" / "validation.json")])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    assert code == 2 and "validation.json" in captured.err and "internal error" not in captured.err


@pytest.mark.slow
def test_process_level_cases(processes):
    """Real processes: exit code, the named file, no traceback, the output folder untouched."""
    for name, (proc, out, before) in processes.items():
        try:
            stdout, stderr = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        case = CASES[name]
        assert proc.returncode == case.exit_code, (name, stderr)
        assert "Traceback" not in stdout + stderr, (name, stderr)
        check_message(case, stderr)
        assert snapshot(out) == before, name
        assert sorted(p.name for p in out.parent.iterdir()) == [out.name], name


# ---------------------------------------------------------------------------------------------
# valid freezes pass


def assert_valid(folder: Path) -> None:
    """Every check passes: nothing failed, nothing unchecked, and no warning either."""
    report = validate_freeze(read_freeze(folder))
    assert report.ok and not report.warnings(), format_report(report)


def test_demo_freeze_passes(capsys):
    assert_valid(DEMO_FREEZE)
    assert main(["validate", str(DEMO_FREEZE)]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"\d+ checks run, 0 failed, 0 warnings\n", out), out


def test_demo_freeze_with_bom_and_crlf_passes(tmp_path, capsys):
    """Re-saved as "CSV UTF-8" on Windows: a byte-order mark and CRLF line endings change nothing."""
    folder = fc.with_bom_and_crlf(DEMO_FREEZE, tmp_path / "bom")
    assert (folder / "questionnaires.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in (folder / "participants.csv").read_bytes()
    assert main(["validate", str(folder), "--json", str(tmp_path / "v.json")]) == 0
    assert json.loads((tmp_path / "v.json").read_text())["valid"] is True
    assert " 0 failed" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("seed", [11, 2024])
def test_simulated_freezes_with_other_seeds_pass(seed, tmp_path):
    assert_valid(simulate_freeze(tmp_path / f"seed-{seed}", seed=seed, n_randomized=120))


# ---------------------------------------------------------------------------------------------
# the module's own harness


@pytest.mark.slow
def test_memo_returns_what_great_expectations_returns(broken):
    """The memo does not change an outcome: same report with and without it."""
    folder = broken("duplicate_session")
    memoized = validate_freeze(read_freeze(folder)).to_dict()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GX, "_run", _REAL_RUN)
        direct = validate_freeze(read_freeze(folder)).to_dict()
    assert memoized == direct


_REAL_RUN = GX._run  # captured at import, before the memo fixture patches it
