"""Hostile freeze folders: the tool never reads outside the freeze, never hangs and never grows
past a fixed memory, whatever a freeze folder holds.

Each case copies the tiny freeze (``freeze_corruptions.write_tiny_freeze``) and breaks one thing:
a CSV or the manifest that is a symbolic link (to a file elsewhere, to /dev/zero), a FIFO or a
directory; a file over the size limit; a 20 MB cell, a 200,000-column header, CR-only line
endings, a header name twice; a manifest nested 100,000 deep or with a 5,000-digit number.
Where the file's hash should match, the manifest is re-signed (``refresh_manifest``), so that
the hostile file itself is what the build meets.  ``alliance-report build`` must exit 1 (2 for
the manifest) with one line naming the file and what it is, no traceback, and leave the
previous output as it was (no new output folder, no staging folder).

Time and memory are bounded by the harness, not by assertions on timings: the cases that would
hang or swallow memory if a rule broke (a FIFO, /dev/zero, a sparse 2 GiB file, a header of
200,000 columns that pandas would parse into 2.8 GB) run in a child process, one after the other
(``cli.main`` in-process there: one import of pandas for all), and ``build-all`` over the demo
freeze and two hostile ones in another (both only in `make test-slow`, started by its first test
that needs them), with a timeout
(a hang fails the test with TimeoutExpired) and an address-space limit of 1.5 GiB
(``RLIMIT_AS``: runaway memory fails instead of swapping).  The other cases run in the test
process (``cli.main``), fast: they fail at reading, before any analysis.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import freeze_corruptions as fc  # noqa: E402
from conftest import fast_sample, small_freeze  # noqa: E402
from alliance_report import DEMO_FREEZE, REPO_ROOT, files  # noqa: E402
from alliance_report.cli import main  # noqa: E402
from alliance_report.fingerprint import freeze_hashes  # noqa: E402
from alliance_report.freeze import FreezeError, read_freeze  # noqa: E402


SECRET = "TOPSECRET"
MEMORY_LIMIT = 1536 << 20  # RLIMIT_AS of every process started here
TIMEOUT = 60  # seconds; a refusal takes ~2 s (Python, pandas' import), a full demo build ~7 s


# ---------------------------------------------------------------------------------------------
# the hostile edits (each gets the copied freeze folder and a scratch folder outside it)


def _secret_csv(folder: Path, outside: Path) -> None:
    """screening.csv a link to a CSV elsewhere that passes every check but one, whose example
    would print the secret (the original bug: ``row 2: "TOPSECRET"``)."""
    target = outside / "elsewhere.csv"
    rows = fc.read_rows(folder, "screening.csv")
    rows[1][rows[0].index("eligible")] = SECRET
    fc.write_rows(outside, "elsewhere.csv", rows)
    (folder / "screening.csv").unlink()
    (folder / "screening.csv").symlink_to(target)
    fc.refresh_manifest(folder)  # hashes the target: the hash check would pass


def _secret_manifest(folder: Path, outside: Path) -> None:
    shutil.move(folder / "manifest.json", outside / "manifest.json")
    (folder / "manifest.json").symlink_to(outside / "manifest.json")


def _fifo(name: str):
    def edit(folder: Path, outside: Path) -> None:
        if (folder / name).exists():
            (folder / name).unlink()
        os.mkfifo(folder / name)
    return edit


def _dev_zero(folder: Path, outside: Path) -> None:
    (folder / "questionnaires.csv").unlink()
    (folder / "questionnaires.csv").symlink_to("/dev/zero")


def _directory(folder: Path, outside: Path) -> None:
    (folder / "sessions.csv").unlink()
    (folder / "sessions.csv").mkdir()
    (folder / "sessions.csv" / "part-1.csv").write_text("participant_id\n", encoding="utf-8")


def _sparse_csv(folder: Path, outside: Path) -> None:
    """questionnaires.csv 1 byte over the limit (sparse: no disk, no time to write)."""
    with open(folder / "questionnaires.csv", "r+b") as fh:
        fh.truncate(files.CSV_LIMIT + 1)


def _big_manifest(folder: Path, outside: Path) -> None:
    """A valid JSON manifest padded with 2 MiB of spaces."""
    path = folder / "manifest.json"
    path.write_text(path.read_text(encoding="utf-8") + " " * (2 << 20), encoding="utf-8")


def _huge_cell(quoted: bool):
    def edit(folder: Path, outside: Path) -> None:
        """A withdrawal reason of 20 MB (free text; with commas when quoted)."""
        with fc._Table(folder, "disposition.csv") as t:
            t.first(event="withdrew_from_study")["reason"] = "too far, " * 2_222_222 if quoted else "word " * 4_000_000
        fc.refresh_manifest(folder)
    return edit


def _wide_header(folder: Path, outside: Path) -> None:
    """questionnaires.csv with only a header row (allowed) of 200,000 columns."""
    (folder / "questionnaires.csv").write_text(",".join(f"c{i}" for i in range(200_000)) + "\n", encoding="utf-8")
    fc.refresh_manifest(folder)


def _cr_only(folder: Path, outside: Path) -> None:
    path = folder / "sessions.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r"))
    fc.refresh_manifest(folder)


def _mixed_line_endings(folder: Path, outside: Path) -> None:
    """CRLF, but one line of sessions.csv ends in a lone CR (pandas would split the row there)."""
    path = folder / "sessions.csv"
    data = path.read_bytes().replace(b"\n", b"\r\n")
    end_of_row_5 = [i for i in range(len(data)) if data[i:i + 2] == b"\r\n"][4]
    path.write_bytes(data[:end_of_row_5 + 1] + data[end_of_row_5 + 2:])
    fc.refresh_manifest(folder)


def _duplicated_header(folder: Path, outside: Path) -> None:
    rows = fc.read_rows(folder, "participants.csv")
    rows[0][rows[0].index("months_since_diagnosis")] = "age"
    fc.write_rows(folder, "participants.csv", rows)
    fc.refresh_manifest(folder)


def _manifest_extra(value: str):
    def edit(folder: Path, outside: Path) -> None:
        path = folder / "manifest.json"
        text = path.read_text(encoding="utf-8").rstrip().removesuffix("}")
        path.write_text(f'{text}, "note": {value}}}\n', encoding="utf-8")
    return edit


@dataclass(frozen=True)
class Case:
    edit: Callable[[Path, Path], None]
    exit_code: int
    file: str  # the file named in the message
    words: tuple[str, ...]  # in the message
    process: bool = False  # run as a process (timeout, RLIMIT_AS): it could hang or blow up


CASES: dict[str, Case] = {
    "symlinked_csv": Case(_secret_csv, 1, "screening.csv", ("is a symbolic link (to ", "elsewhere.csv)")),
    "symlinked_manifest": Case(_secret_manifest, 2, "manifest.json", ("is a symbolic link (to ",)),
    "fifo_listed_csv": Case(_fifo("sessions.csv"), 1, "sessions.csv", ("is not a regular file (a FIFO)",), True),
    "fifo_unlisted_csv": Case(_fifo("extra.csv"), 1, "extra.csv", ("is not a regular file (a FIFO)",), True),
    "fifo_manifest": Case(_fifo("manifest.json"), 2, "manifest.json", ("is not a regular file (a FIFO)",), True),
    "dev_zero_csv": Case(_dev_zero, 1, "questionnaires.csv", ("is a symbolic link (to /dev/zero)",), True),
    "directory_csv": Case(_directory, 1, "sessions.csv", ("is not a regular file (a directory)",)),
    "csv_over_the_limit": Case(_sparse_csv, 1, "questionnaires.csv",
                               ("is larger than the limit of 2,048 MB (2,147,483,649 bytes)",), True),
    "manifest_over_the_limit": Case(_big_manifest, 2, "manifest.json", ("is larger than the limit of 1 MB",)),
    "cell_of_20_mb": Case(_huge_cell(quoted=False), 1, "disposition.csv",
                          ('column "reason": a cell of 20,000,000 characters', "limit of 100,000 characters")),
    "quoted_cell_of_20_mb": Case(_huge_cell(quoted=True), 1, "disposition.csv",
                                 ("bytes long", "cells of at most 100,000 characters")),
    "header_of_200000_columns": Case(_wide_header, 1, "questionnaires.csv",
                                     ("row 1 (the header) has 200,000 columns", "limit of 1,000"), True),
    "cr_only_line_endings": Case(_cr_only, 1, "sessions.csv", ("CR-only line endings", "LF or CRLF")),
    "mixed_line_endings": Case(_mixed_line_endings, 1, "sessions.csv",
                               ("row 5 ends with a lone carriage return (CR)", "LF or CRLF")),
    "duplicated_header": Case(_duplicated_header, 1, "participants.csv",
                              ('header: the column "age" appears twice (columns 7 and 14)',)),
    "manifest_nested_100000_deep": Case(_manifest_extra("[" * 100_000 + "]" * 100_000), 2, "manifest.json",
                                        ("nested more deeply than 32 levels",)),
    "manifest_nested_40_deep": Case(_manifest_extra("[" * 40 + "]" * 40), 2, "manifest.json",
                                    ("nested more deeply than 32 levels",)),
    "manifest_number_of_5000_digits": Case(_manifest_extra("9" * 5000), 2, "manifest.json",
                                           ("a number with 5,000 digits (the limit is 50)",)),
    "manifest_number_out_of_range": Case(_manifest_extra("1e999"), 2, "manifest.json", ("number out of range",)),
    "manifest_lone_surrogate": Case(_manifest_extra('"\\ud800"'), 2, "manifest.json", ("lone surrogate",)),
}
IN_PROCESS = [name for name, case in CASES.items() if not case.process]
PROCESSES = [name for name, case in CASES.items() if case.process]


def make(name: str, root: Path) -> Path:
    """The tiny freeze in ``root/freeze``, broken by ``name`` (scratch files in ``root/outside``)."""
    freeze, outside = root / "freeze", root / "outside"
    outside.mkdir(parents=True)
    fc.write_tiny_freeze(freeze)
    CASES[name].edit(freeze, outside)
    return freeze


def previous_output(parent: Path) -> Path:
    out = parent / "BeMind-2026-11-01"
    out.mkdir(parents=True)
    (out / "report.html").write_text("<p>previous report</p>\n", encoding="utf-8")
    (out / "results.json").write_text('{"previous": true}\n', encoding="utf-8")
    return out


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def check_message(case: Case, err: str, out: str = "") -> None:
    """One line, ``alliance-report: error: <file>: <what it is>``; no traceback, no secret."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"alliance-report: error: {case.file}: "), err
    for word in case.words:
        assert word in lines[0], (word, err)
    for text in (err, out):
        assert "Traceback" not in text and SECRET not in text and "This is a bug" not in text


def _limited() -> None:  # preexec_fn of every process started here
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def start(args: list[str]) -> subprocess.Popen:
    """A child process in a process group of its own (``kill`` ends it with the build's worker)."""
    return subprocess.Popen([sys.executable, *args], cwd=REPO_ROOT, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_limited, start_new_session=True,
                            env={**os.environ, "ALLIANCE_REPORT_DEBUG": ""})


def kill(proc: subprocess.Popen) -> tuple[str, str]:
    """End ``proc`` and every process of its group (a worker it forked would otherwise keep the
    pipes open, and hang, after it); return what it wrote."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return proc.communicate()


# runs the process cases one after the other: a JSON line before and after each (a hang shows
# which case it was)
DRIVER = """
import contextlib, io, json, sys
from alliance_report.cli import main
for name, freeze, out in json.loads(sys.argv[1]):
    print(json.dumps({"started": name}), flush=True)
    err, out_text = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out_text):
        code = main(["build", freeze, "--out", out, "--quiet"])
    print(json.dumps({"name": name, "code": code, "err": err.getvalue(), "out": out_text.getvalue()}), flush=True)
"""


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    """The two child processes (slow tests only): the process cases, and build-all over the demo
    and two hostile freezes (named to come first).  A test collects its own with ``finish``."""
    cases, outs = [], {}
    for name in PROCESSES:
        root = tmp_path_factory.mktemp(name)
        outs[name] = root / "reports" / "new"
        cases.append((name, str(make(name, root)), str(outs[name])))
    root = tmp_path_factory.mktemp("build-all")
    folder = root / "freezes"
    small_freeze(folder / "demo", "2018-03-01")  # a small valid freeze, open edition only: quick to build
    for prefix, name in (("a", "fifo_listed_csv"), ("b", "dev_zero_csv")):
        freeze = make(name, root / name)
        fc.edit_manifest(freeze, lambda m, name=name: m.update(freeze_id=f"hostile-{name}"))
        shutil.move(freeze, folder / f"{prefix}-{name}")
    started = {"cases": (start(["-c", DRIVER, json.dumps(cases)]), outs),
               "build-all": (start(["-m", "alliance_report", "build-all", str(folder), "--out-root",
                                    str(root / "reports"), "--quiet", "--edition", "open"]), root / "reports")}
    yield started
    for proc, _ in started.values():
        kill(proc)  # the group: also a worker left behind by a build that was killed


_finished: dict[int, tuple[str, str]] = {}


def finish(proc: subprocess.Popen) -> tuple[str, str]:
    """stdout and stderr of ``proc`` once it has ended; killed after TIMEOUT seconds (a hang), it
    ends with a line that says so (the cases that ended before still count)."""
    if proc.pid not in _finished:
        try:
            _finished[proc.pid] = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            stdout, stderr = kill(proc)
            last = stdout.splitlines()[-1:]
            _finished[proc.pid] = (stdout, f"{stderr}\nHUNG: killed after {TIMEOUT} s; the last line: {last}")
    return _finished[proc.pid]


# ---------------------------------------------------------------------------------------------
# build: the exit code, one line naming the file, nothing written


# in `make test`, one of each kind (a link, an oversized manifest, a huge cell, a duplicated
# header, a deeply nested manifest); `make test-slow` runs every case and the process cases
FAST_CASES = ("symlinked_csv", "manifest_over_the_limit", "cell_of_20_mb", "duplicated_header",
              "manifest_nested_40_deep")


@pytest.mark.parametrize("name", fast_sample(IN_PROCESS, FAST_CASES))
def test_build_refuses_the_hostile_freeze(name, tmp_path, capsys):
    case = CASES[name]
    freeze = make(name, tmp_path)
    reports = tmp_path / "reports"
    out = previous_output(reports)
    before = snapshot(out)
    capsys.readouterr()

    code = main(["build", str(freeze), "--out", str(out), "--quiet"])
    captured = capsys.readouterr()

    assert code == case.exit_code, captured.err
    check_message(case, captured.err, captured.out)
    assert captured.out == ""
    assert snapshot(out) == before
    assert sorted(p.name for p in reports.iterdir()) == [out.name]  # no staging folder left


@pytest.mark.slow
@pytest.mark.parametrize("name", PROCESSES)
def test_build_refuses_without_hanging_or_swallowing_memory(name, processes):
    proc, outs = processes["cases"]
    stdout, stderr = finish(proc)
    results = [r for r in map(json.loads, stdout.splitlines()) if r.get("name") == name]
    assert results, f"the child process ended (exit {proc.returncode}) before this case ended:\n{stderr[-3000:]}"
    (result,) = results
    case = CASES[name]
    assert result["code"] == case.exit_code, result["err"]
    check_message(case, result["err"], result["out"])
    assert not outs[name].parent.exists() or not any(outs[name].parent.iterdir())  # nothing written


@pytest.mark.slow
def test_build_all_builds_the_others(processes):
    """A hostile freeze is a row of the summary; the valid freeze beside it is built."""
    proc, reports = processes["build-all"]
    stdout, stderr = finish(proc)
    assert proc.returncode == 1, stderr
    rows = {line.split()[0].rsplit("/", 1)[-1]: line for line in stdout.splitlines()[2:-1]}
    # in cut-off order; freezes whose manifest cannot be read come last
    assert list(rows) == ["demo", "a-fifo_listed_csv", "b-dev_zero_csv"], stdout
    assert " built " in rows["demo"] and (reports / "BeMind-2018-03-01" / "open" / "report.pdf").is_file()
    assert "invalid (sessions.csv: is not a regular file (a FIFO)" in rows["a-fifo_listed_csv"]
    assert "invalid (questionnaires.csv: is a symbolic link (to /dev/zero)" in rows["b-dev_zero_csv"]
    assert stdout.splitlines()[-1] == "3 freezes: 1 ok, 2 not published"
    assert sorted(p.name for p in reports.iterdir()) == ["BeMind-2018-03-01", "index.html", "index.md"]
    assert "Traceback" not in stderr


# ---------------------------------------------------------------------------------------------
# the secret file: never printed, never hashed; validate refuses it too


def test_a_symlinked_csv_is_neither_read_nor_hashed(tmp_path, capsys):
    freeze = make("symlinked_csv", tmp_path)
    target_sha = fc.sha256_file(freeze / "screening.csv")  # the test follows the link; the tool must not
    hashes = freeze_hashes(freeze)
    assert hashes["screening.csv"].startswith("not read: is a symbolic link (to ")
    assert target_sha not in hashes.values()
    assert main(["validate", str(freeze)]) == 1
    captured = capsys.readouterr()
    check_message(CASES["symlinked_csv"], captured.err, captured.out)


def test_a_space_padded_header_name_reaches_validation_unchanged(tmp_path):
    freeze = tmp_path / "freeze"
    fc.write_tiny_freeze(freeze)
    rows = fc.read_rows(freeze, "participants.csv")
    rows[0][0] = "participant_id "
    fc.write_rows(freeze, "participants.csv", rows)
    fc.refresh_manifest(freeze)
    assert list(read_freeze(freeze).tables["participants.csv"].columns)[:2] == ["participant_id ", "site"]


# ---------------------------------------------------------------------------------------------
# alliance_report.files, rule by rule (the races: a link or a FIFO swapped in after the lstat)


def test_only_a_plain_name_inside_the_folder_is_read(tmp_path):
    (tmp_path / "freeze").mkdir()
    (tmp_path / "secret.csv").write_text(SECRET)
    for name in ("../secret.csv", str(tmp_path / "secret.csv"), "..", ""):
        with pytest.raises(files.FileRefused, match="is not a file name inside the freeze folder"):
            files.read_file(tmp_path / "freeze", name, 100)


def test_a_link_or_fifo_is_never_opened(tmp_path, monkeypatch):
    """The lstat refuses them before ``open``: opening a device or a FIFO can have effects."""
    os.mkfifo(tmp_path / "fifo.csv")
    (tmp_path / "link.csv").symlink_to("/dev/zero")
    opened = []
    real_open = os.open
    monkeypatch.setattr(files.os, "open", lambda path, *a, **k: opened.append(str(path)) or real_open(path, *a, **k))
    for name, kind in (("fifo.csv", files.SPECIAL), ("link.csv", files.LINK)):
        with pytest.raises(files.FileRefused) as info:
            files.read_file(tmp_path, name, 100)
        assert info.value.kind == kind
        with pytest.raises(files.FileRefused):
            files.sha256_file(tmp_path, name, 100)
    assert not {"fifo.csv", "link.csv"} & set(opened)


def _as_regular(monkeypatch, tmp_path: Path, name: str) -> None:
    """Make the lstat of ``name`` see a regular file (a swap after the lstat)."""
    regular = os.stat(tmp_path / "regular.csv")
    real_stat = os.stat
    monkeypatch.setattr(files.os, "stat", lambda path, *a, **k: regular if path == name else real_stat(path, *a, **k))


def test_a_link_swapped_in_after_the_lstat_is_not_followed(tmp_path, monkeypatch):
    (tmp_path / "regular.csv").write_text("a\n")
    (tmp_path / "elsewhere.csv").write_text(SECRET)
    (tmp_path / "swapped.csv").symlink_to(tmp_path / "elsewhere.csv")
    _as_regular(monkeypatch, tmp_path, "swapped.csv")
    with pytest.raises(files.FileRefused, match=r"is a symbolic link \(to .*elsewhere.csv\)"):
        files.read_file(tmp_path, "swapped.csv", 100)


@pytest.mark.slow
def test_a_fifo_swapped_in_after_the_lstat_neither_blocks_nor_reads(tmp_path):
    """In a process with a timeout: a FIFO opened without O_NONBLOCK waits for a writer forever."""
    (tmp_path / "regular.csv").write_text("a\n")
    os.mkfifo(tmp_path / "swapped.csv")
    code = f"""
import os, sys
from alliance_report import files
regular, real_stat = os.stat({str(tmp_path / "regular.csv")!r}), os.stat
files.os.stat = lambda path, *a, **k: regular if path == "swapped.csv" else real_stat(path, *a, **k)
try:
    files.read_file({str(tmp_path)!r}, "swapped.csv", 100)
except files.FileRefused as exc:
    print(exc.kind, exc.reason)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=REPO_ROOT, preexec_fn=_limited)
    assert proc.stdout.startswith("special is not a regular file (a FIFO)"), proc.stdout + proc.stderr


def test_at_most_limit_plus_one_bytes_are_read(tmp_path, monkeypatch):
    """A file that grows after the fstat (its size says 5 bytes) is still refused at the limit."""
    (tmp_path / "growing.csv").write_bytes(b"x" * 1000)
    small = os.stat_result((*os.stat(tmp_path / "growing.csv")[:6], 5, *os.stat(tmp_path / "growing.csv")[7:]))
    assert small.st_size == 5
    real_stat, real_fstat = os.stat, os.fstat
    monkeypatch.setattr(files.os, "stat", lambda path, *a, **k: small if path == "growing.csv"
                        else real_stat(path, *a, **k))
    monkeypatch.setattr(files.os, "fstat", lambda fd: small)
    reads = []
    real_read = os.read
    monkeypatch.setattr(files.os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    for read in (files.read_file, files.sha256_file):
        with pytest.raises(files.FileRefused, match="is larger than the limit of 100 bytes"):
            read(tmp_path, "growing.csv", 100)
    assert sum(reads) <= 2 * 101
    assert files.read_file(tmp_path, "growing.csv", 1000) == b"x" * 1000


def test_the_fingerprint_flags_what_it_does_not_read(tmp_path):
    freeze = tmp_path / "freeze"
    fc.write_tiny_freeze(freeze)
    expected = freeze_hashes(freeze)
    (freeze / "a-link.csv").symlink_to(freeze / "sessions.csv")
    (freeze / "a-folder.csv").mkdir()
    hashes = freeze_hashes(freeze)
    assert hashes == {**expected, "a-link.csv": hashes["a-link.csv"], "a-folder.csv": hashes["a-folder.csv"]}
    assert hashes["a-link.csv"].startswith("not read: is a symbolic link")
    assert hashes["a-folder.csv"].startswith("not read: is not a regular file (a directory)")
    with pytest.raises(FreezeError, match="a-folder.csv: is not a regular file"):
        read_freeze(freeze)


def test_manifest_json_is_parsed_within_bounds():
    assert files.load_json('{"a": [1, 2.5, {"b": "c"}]}') == {"a": [1, 2.5, {"b": "c"}]}
    assert files.load_json("[" * 32 + "]" * 32) is not None
    for text, words in (("[" * 33 + "]" * 33, "nested more deeply than 32"), ("9" * 51, "51 digits"),
                        ("-1" + "0" * 60 + ".5", "62 digits"), ("1e400", "out of range"),
                        ('"\\udc00"', "lone surrogate")):
        with pytest.raises(files.JSONLimitError, match=words):
            files.load_json(text)
    with pytest.raises(json.JSONDecodeError):
        files.load_json("{")
