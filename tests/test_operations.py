"""Operations: up-to-date builds, build.log, atomic publishing, progress, build-all, Quarto, make and the CI workflows.

Small simulated freezes (60 randomized) keep these builds to a few seconds each; timing targets
live in benchmarks/bench_build.py, never in a test.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from alliance_report import DEMO_FREEZE, REPO_ROOT
from alliance_report.errors import BuildError
from alliance_report.quarto import effective_settings, render_quarto
from alliance_report.publish import host, remove_leftovers
from alliance_report.build_all import FreezeOutcome, find_freezes, summary_table
from alliance_report.cli import main
from alliance_report.fingerprint import FINGERPRINT_FILE, fingerprint, up_to_date
from alliance_report.freeze import sha256_bytes
from alliance_report.progress import Progress
from alliance_report.settings import Settings
from conftest import SMALL_FREEZE_ID, small_freeze
import freeze_corruptions as fc

WORKFLOWS = REPO_ROOT / ".github" / "workflows"
PUBLISHED = ("report.html", "report.pdf", "report.qmd", "results.json", "validation.json", "build.log")


def break_freeze(freeze: Path) -> Path:
    """One participant aged 17, manifest re-signed: well-formed but invalid."""
    participants = fc.records(freeze, "participants.csv")
    participants[0]["age"] = "17"
    fc.write_records(freeze, "participants.csv", list(participants[0]), participants)
    fc.refresh_manifest(freeze)
    return freeze


def state(folder: Path) -> dict:
    """Every file of a folder with its bytes' hash and its modification time."""
    return {p.relative_to(folder).as_posix(): (sha256_bytes(p.read_bytes()), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------------------------ up to date


@pytest.mark.slow
def test_build_writes_log_and_fingerprint(built):
    freeze, out = built
    for name in PUBLISHED:
        assert (out / name).stat().st_size > 0, name
    log = (out / "build.log").read_text()
    for name in ("manifest.json", "participants.csv", "questionnaires.csv"):
        digest = sha256_bytes((freeze / name).read_bytes())
        assert f"{name}" in log and digest in log, name
    for step in ("fingerprint", "read", "validate", "analyse", "figures", "render", "write", "total"):
        assert f"\n  {step} " in log, step
    assert "outcome:      built" in log and "fingerprint:  " in log and "requirements.lock" in log
    record = json.loads((out / FINGERPRINT_FILE).read_text())
    assert record["fingerprint"] in log
    assert set(PUBLISHED) <= set(record["outputs"])
    assert record["parts"]["settings"]["style"] == "jmir"


def test_unchanged_rebuild_is_up_to_date_and_touches_nothing(demo_pair, tmp_path, capsys):
    freeze, out = (shutil.copytree(folder, tmp_path / name) for folder, name in zip(demo_pair, ("freeze", "out")))
    before = state(out)
    for path in freeze.iterdir():  # new file times, same bytes: still up to date
        os.utime(path, (1, 1))
    capsys.readouterr()
    assert main(["build", str(freeze), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "is up to date" in captured.out and "--force" in captured.out
    assert captured.err == ""
    assert state(out) == before


@pytest.mark.slow
def test_no_change_path_imports_no_heavy_library(built):
    freeze, out = built
    code = ("import sys; from alliance_report.cli import main; "
            f"rc = main(['build', {str(freeze)!r}, '--out', {str(out)!r}]); "
            "heavy = [m for m in ('pandas', 'numpy', 'great_expectations', 'statsmodels', 'matplotlib', "
            "'weasyprint', 'jinja2') if m in sys.modules]; print(rc, heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stdout + result.stderr


@pytest.mark.slow
def test_the_main_process_makes_the_open_edition_without_the_analysis_libraries():
    """What the main process runs for the open edition beside the worker (build._open_edition_here:
    changes block, figures, render and guard, files, PDF) imports no statsmodels (0.3–0.4 s)."""
    code = ("import sys; from alliance_report import build, comparison, results_schema, steps; "
            "from alliance_report.render import report, open_guard, changes_section; "
            "print([m for m in sys.modules if m.split('.')[0] in ('statsmodels', 'alliance_report') "
            "and (m.startswith('statsmodels') or m.startswith('alliance_report.analysis'))])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", result.stdout + result.stderr


@pytest.mark.slow
def test_a_changed_setting_rebuilds_and_an_edition_alone(built, tmp_path, capsys):
    """A copy of a build is up to date; another setting is another build; --edition open writes
    open/ only (and is another build than both editions: the fingerprint)."""
    freeze0, out0 = built
    freeze, out = shutil.copytree(freeze0, tmp_path / "freeze"), shutil.copytree(out0, tmp_path / "out")
    assert (out / "report.html").is_file() and (out / "open" / "report.html").is_file()
    assert main(["build", str(freeze), "--out", str(out), "--quiet"]) == 0
    assert "up to date" in capsys.readouterr().out  # a copy is the same build

    assert main(["build", str(freeze), "--out", str(out), "--quiet", "--edition", "open", "--style", "apa"]) == 0
    assert capsys.readouterr().out.startswith("built")
    assert "why built:    changed: settings" in (out / "build.log").read_text()
    assert not (out / "report.html").exists() and not (out / "results.json").exists()
    assert sorted(p.name for p in (out / "open").iterdir()) == [
        "figures", "report.html", "report.pdf", "report.qmd", "results.json", "tables"]
    results = json.loads((out / "open" / "results.json").read_text())
    assert results["edition"] == "open" and results["settings"]["style"] == "apa"


def test_what_the_fingerprint_covers(demo_pair, tmp_path):
    freeze0, out0 = demo_pair
    freeze, out = shutil.copytree(freeze0, tmp_path / "freeze"), shutil.copytree(out0, tmp_path / "out")
    settings = effective_settings(Settings(), "weasyprint")
    assert up_to_date(out, fingerprint(freeze, settings)) == (True, "")

    path = freeze / "disposition.csv"  # same data, other bytes
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    current, reason = up_to_date(out, fingerprint(freeze, settings))
    assert not current and reason == "changed: freeze (disposition.csv)"
    shutil.copy(freeze0 / "disposition.csv", path)

    (freeze / "extra.csv").write_text("a\n1\n")  # a CSV the manifest does not list is read too
    assert "freeze (extra.csv)" in up_to_date(out, fingerprint(freeze, settings))[1]
    (freeze / "extra.csv").unlink()

    assert up_to_date(out, fingerprint(freeze, {**settings, "dropout_threshold": 3}))[1] == "changed: settings"
    fp = fingerprint(freeze, settings)
    assert fp.parts["code"]["files"] > 30 and fp.parts["environment"]["requirements.lock"]
    assert fp.parts["environment"]["packages"]["great-expectations"]

    (out / "figures" / "alliance_outcome.png").write_bytes(b"edited")  # a published file was changed
    assert up_to_date(out, fp) == (False, "the published file figures/alliance_outcome.png is missing or was modified")
    (out / "report.pdf").unlink()
    assert not up_to_date(out, fp)[0]


@pytest.mark.slow
@pytest.mark.real_renders
def test_one_process_and_two_give_identical_outputs(built, tmp_path, capsys):
    freeze, out = built
    one = shutil.copytree(out, tmp_path / "one")
    assert main(["build", str(freeze), "--out", str(one), "--jobs", "1", "--force"]) == 0
    for name in ("report.html", "report.pdf", "report.qmd", "results.json", "validation.json",
                 "figures/alliance_outcome.svg", "figures/alliance_outcome.png", "tables/hads_models.csv",
                 "open/report.pdf", "open/report.html"):
        assert (one / name).read_bytes() == (out / name).read_bytes(), name
    log = (one / "build.log").read_text()
    assert "processes:    1" in log and "why built:    --force" in log
    two = (out / "build.log").read_text()
    assert "processes:    2" in two
    # with two processes, the main process writes the open edition's PDF beside the worker's closed one
    assert re.search(r"^  pdf open +main ", two, re.M) and re.search(r"^  pdf +worker ", two, re.M)
    assert not re.search(r"^  pdf open ", log, re.M)
    # progress: one line per step on stderr (not a terminal)
    lines = capsys.readouterr().err.splitlines()
    steps = [line.split(":")[1].split(" (")[0].strip() for line in lines]
    assert steps == ["read", "validate", "analyse", "figures", "render", "write", "pdf"], lines


# ------------------------------------------------------------------------------------ failures


@pytest.mark.slow
def test_a_failing_write_leaves_the_previous_output(built, tmp_path, monkeypatch, capsys):
    freeze, out0 = built
    out = tmp_path / "out"
    shutil.copytree(out0, out)
    before = state(out)
    from alliance_report.render import report

    def broken_pdf(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "write_pdf", broken_pdf)
    assert main(["build", str(freeze), "--out", str(out), "--force", "--jobs", "1"]) == 3
    assert "internal error: RuntimeError: disk full" in capsys.readouterr().err
    assert state(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folder left


def test_a_bug_in_the_command_line_itself_is_an_internal_error(monkeypatch, capsys):
    """Even a bug in building the parser gives exit 3 and one message, no traceback (cli.md: exit 3 =
    internal error); --help and a usage error still end as argparse ends them (0, 2)."""
    from alliance_report import cli

    with pytest.raises(SystemExit) as help_exit:
        main(["build", "--help"])
    assert help_exit.value.code == 0
    with pytest.raises(SystemExit) as usage_exit:
        main(["build", "--edition", "both-ways"])
    assert usage_exit.value.code == 2
    capsys.readouterr()

    def broken(parser):
        raise NameError("name 'RENDERERS' is not defined")

    monkeypatch.setattr(cli, "_build_options", broken)
    assert main(["build", str(DEMO_FREEZE)]) == 3
    err = capsys.readouterr().err
    assert "internal error: NameError: name 'RENDERERS' is not defined" in err and "Traceback" not in err


@pytest.mark.slow
def test_an_error_in_the_worker_is_an_internal_error(built, tmp_path, monkeypatch, capsys):
    freeze, _ = built
    from alliance_report import results

    def broken(*args, **kwargs):
        raise KeyError("no such column")

    monkeypatch.setattr(results, "compute_editions", broken)  # the forked worker inherits it
    out = tmp_path / "out"
    assert main(["build", str(freeze), "--out", str(out), "--quiet", "--jobs", "2"]) == 3
    err = capsys.readouterr().err
    assert "internal error: WorkerError: KeyError: 'no such column'" in err and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_killed_build_leaves_a_folder_that_the_next_build_removes(built, tmp_path, capsys):
    freeze, out0 = built
    out = shutil.copytree(out0, tmp_path / "out")
    before = state(out)
    build = subprocess.Popen([sys.executable, "-m", "alliance_report", "build", str(freeze), "--out", str(out),
                              "--force", "--quiet"], cwd=REPO_ROOT, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(1200):  # the staging folder appears once the freeze is valid
            if list(tmp_path.glob(".out.building-*")) or build.poll() is not None:
                break
            time.sleep(0.05)
    finally:
        os.killpg(build.pid, signal.SIGKILL)  # a power cut: main process and worker at once
        build.wait()
    (leftover,) = tmp_path.glob(".out.building-*")
    assert leftover.name.startswith(f".out.building-{host()}-{build.pid}-")
    assert state(out) == before  # the killed build changed nothing that readers see
    running = tmp_path / f".out.building-{host()}-{os.getpid()}-abcd1234"  # a build still running: kept
    running.mkdir()

    assert main(["build", str(freeze), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "is up to date" in captured.out  # nothing to build, and the leftover is gone all the same
    assert f"removed 1 temporary folder(s) left beside {out} by a build that was killed: {leftover.name}" \
        in captured.err
    assert not leftover.exists() and running.is_dir()


def test_leftovers_are_removed_only_when_surely_dead_and_a_lost_output_comes_back(tmp_path):
    finished = subprocess.Popen(["true"])
    finished.wait()
    this_host, dead, out = host(), finished.pid, tmp_path / "out"
    # killed between moving the previous output aside and moving the new one in: out is missing
    retired = tmp_path / f".out.old-{this_host}-{dead}-abcd1234"
    (retired / "out").mkdir(parents=True)
    (retired / "out" / "report.html").write_text("previous")
    kept = [tmp_path / f".out.building-elsewhere-{dead}-abcd1234",  # another host: cannot be checked
            tmp_path / f".out.building-{this_host}-99999999999999999999-abcd1234",  # no such process id
            tmp_path / f".out.old-5-x.building-{this_host}-{dead}-abcd1234",  # output "out.old-5-x"
            tmp_path / f".out.building-{this_host}-{dead}-abc"]  # not a name mkdtemp makes
    for folder in kept:
        folder.mkdir()
    assert remove_leftovers(out) == ([retired], out)
    assert (out / "report.html").read_text() == "previous"
    assert all(folder.is_dir() for folder in kept)


def test_a_folder_that_is_not_a_report_is_never_replaced(tmp_path, capsys):
    freeze = DEMO_FREEZE  # refused before anything is read
    (tmp_path / "notes.txt").write_text("mine")
    before = state(tmp_path)
    assert main(["build", str(freeze), "--out", str(tmp_path), "--quiet"]) == 2
    assert "holds no earlier report" in capsys.readouterr().err
    assert state(tmp_path) == before
    assert main(["build", str(freeze), "--out", str(tmp_path / "notes.txt"), "--quiet"]) == 2
    assert "is not a folder" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ progress


class FakeTerminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self):
        return True


def test_progress_one_line_per_step_when_not_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream)
    progress.start("validate")
    progress.done("validate", 4.25, "120 checks")
    progress.start("pdf")
    progress.failed("pdf")
    progress.close()
    assert stream.getvalue() == "alliance-report: validate: 120 checks (4.2 s)\n"


def test_progress_on_a_terminal_redraws_a_status_line():
    stream = FakeTerminal()
    progress = Progress(stream)
    progress.start("validate")
    progress.start("analyse")
    progress.done("analyse", 1.0)
    progress.done("validate", 2.0, "120 checks")
    progress.close()
    text = stream.getvalue()
    assert "\r\x1b[K" in text and "validate" in text and "analyse" in text
    assert "✓ analyse" in text and "✓ validate  120 checks  2.0 s" in text


def test_quiet_prints_no_progress():
    stream = FakeTerminal()
    progress = Progress(stream, quiet=True)
    progress.start("validate")
    progress.done("validate", 2.0)
    progress.close()
    assert stream.getvalue() == ""


# ------------------------------------------------------------------------------------ build-all


@pytest.fixture(scope="module")
def freezes(tmp_path_factory, built, demo_built):
    """a: the small freeze (built before), b: the demo freeze (its figures are in the session's memo
    once ``demo_built`` is made), a broken freeze and a folder that is no freeze."""
    root = tmp_path_factory.mktemp("freezes")
    shutil.copytree(built[0], root / "a")
    shutil.copytree(DEMO_FREEZE, root / "b")
    break_freeze(small_freeze(root / "broken", "ops-broken", seed=7))
    (root / "notes").mkdir()  # neither manifest nor CSV: not a freeze
    (root / "notes" / "README.txt").write_text("not a freeze")
    return root


@pytest.mark.slow
def test_build_all_carries_on_past_a_broken_freeze(built, freezes, tmp_path, capsys):
    out_root = tmp_path / "reports"
    shutil.copytree(built[1], out_root / f"BeMind-{SMALL_FREEZE_ID}")  # a was built before: up to date
    assert [p.name for p in find_freezes(freezes)] == ["a", "b", "broken"]
    assert main(["build-all", str(freezes), "--out-root", str(out_root)]) == 1
    captured = capsys.readouterr()
    assert f"the freeze {freezes / 'broken'} failed validation" in captured.err
    assert "participants.csv: age: " in captured.err
    table = captured.out.splitlines()
    assert table[0].split() == ["freeze", "outcome", "output"]
    rows = {Path(line.split()[0]).name: line.split()[1:] for line in table[2:-1]}
    assert rows["a"] == ["up", "to", "date", f"{out_root / f'BeMind-{SMALL_FREEZE_ID}'}/"]
    assert rows["b"] == ["built", f"{out_root / 'BeMind-2018-03-01'}/"]
    assert re.fullmatch(r"invalid \(1 of \d+ checks failed\) —", " ".join(rows["broken"]))
    assert table[-1] == "3 freezes: 2 ok, 1 not published"
    assert sorted(p.name for p in out_root.iterdir()) == sorted([f"BeMind-{SMALL_FREEZE_ID}", "BeMind-2018-03-01",
                                                                 "index.html", "index.md"])
    assert f"index of the freezes: {out_root / 'index.html'}" in captured.err
    # the invalid freeze's row of the index has its validation counts (checks / failed / warnings)
    broken_row = next(line for line in (out_root / "index.md").read_text().splitlines() if "ops-broken" in line)
    assert re.search(r"\| \d+ / 1 / \d+ \|", broken_row), broken_row
    for name in (f"BeMind-{SMALL_FREEZE_ID}", "BeMind-2018-03-01"):
        assert (out_root / name / "report.pdf").is_file()

    # the scheduled run again: nothing changed, nothing rebuilt
    assert main(["build-all", str(freezes), "--out-root", str(out_root), "--quiet"]) == 1
    rows = {Path(line.split()[0]).name: line.split()[1] for line in capsys.readouterr().out.splitlines()[2:-1]}
    assert rows == {"a": "up", "b": "up", "broken": "invalid"}  # "up to date"


def test_build_all_usage_errors(tmp_path, capsys):
    assert main(["build-all", str(tmp_path / "missing")]) == 2
    (tmp_path / "empty").mkdir()
    assert main(["build-all", str(tmp_path / "empty")]) == 2
    assert "holds no freeze" in capsys.readouterr().err


def test_summary_table_format():
    table = summary_table([FreezeOutcome(Path("f/a"), "built", Path("r/A"), 0),
                           FreezeOutcome(Path("f/bad"), "invalid", None, 1, detail="2 of 120 checks failed")])
    assert table.splitlines() == [
        "freeze  outcome                           output",
        "------  --------------------------------  ------",
        "f/a     built                             r/A/",
        "f/bad   invalid (2 of 120 checks failed)  —",
        "2 freezes: 1 ok, 1 not published",
    ]
    one = summary_table([FreezeOutcome(Path("f/a"), "unreadable", None, 2, detail="manifest.json: not JSON")])
    assert one.splitlines()[2:] == ["f/a     invalid (manifest.json: not JSON)  —", "1 freeze: 0 ok, 1 not published"]


# ------------------------------------------------------------------------------------ Quarto


@pytest.mark.slow
def test_quarto_renderer_not_installed_says_so_in_one_line(built, tmp_path, monkeypatch, capsys):
    freeze, out = built
    monkeypatch.setenv("PATH", str(tmp_path))  # no quarto here
    assert main(["build", str(freeze), "--out", str(out), "--renderer", "quarto"]) == 0
    captured = capsys.readouterr()
    assert "up to date" in captured.out  # without Quarto the outputs are those of WeasyPrint
    assert captured.err.count("\n") == 1 and "Quarto is not installed" in captured.err


@pytest.mark.slow
def test_quarto_renderer_runs_quarto_render(built, tmp_path, monkeypatch, capsys):
    freeze, _ = built
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "quarto"
    fake.write_text('#!/bin/sh\nmkdir -p quarto && echo "$@" > quarto/args.txt && cp report.qmd quarto/\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    out = tmp_path / "out"
    assert main(["build", str(freeze), "--out", str(out), "--renderer", "quarto", "--quiet"]) == 0
    for edition in (out, out / "open"):  # each edition's report.qmd
        assert (edition / "quarto" / "args.txt").read_text().split() == ["render", "report.qmd", "--output-dir", "quarto"]
        assert (edition / "quarto" / "report.qmd").read_bytes() == (edition / "report.qmd").read_bytes()
        assert (edition / "report.pdf").is_file()  # WeasyPrint's PDF stays
    assert "renderer=quarto" in (out / "build.log").read_text()

    fake.write_text("#!/bin/sh\necho 'ERROR: no TeX installation' >&2\nexit 1\n")
    with pytest.raises(BuildError) as failure:  # a failing render fails the build (nothing published)
        render_quarto(tmp_path)
    assert failure.value.exit_code == 3
    assert "quarto render report.qmd failed (exit code 1)" in str(failure.value)
    assert "no TeX installation" in str(failure.value)


# ------------------------------------------------------------------------------------ make, CI


def fake_program(folder: Path, name: str, output: str = "", exit_codes: dict[str, int] | None = None) -> Path:
    """An executable ``folder/name`` that appends its arguments (one JSON list per call) to
    ``folder/name.calls``, prints ``output`` and exits with ``exit_codes[first argument]`` (else 0)."""
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f"#!{sys.executable}\nimport json, sys\n"
                       f"with open({str(folder / (name + '.calls'))!r}, 'a') as calls:\n"
                       "    calls.write(json.dumps(sys.argv[1:]) + '\\n')\n"
                       f"sys.stdout.write({output!r})\n"
                       f"sys.exit({exit_codes or {}!r}.get((sys.argv[1:] or [''])[0], 0))\n")
    program.chmod(program.stat().st_mode | stat.S_IEXEC)
    return program


def calls(program: Path) -> list[list[str]]:
    path = program.with_name(program.name + ".calls")
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def make_runs(tmp_path: Path, target: str, *variables: str) -> list[str]:
    """The arguments ``make target variables`` passes to alliance-report: the command line of its
    dry run (make -n) run by sh against a fake alliance-report."""
    bin_dir = tmp_path / "bin"
    fake = fake_program(bin_dir, "alliance-report")
    dry = subprocess.run(["make", "-n", target, f"BIN={bin_dir}", *variables], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    (line,) = [line for line in dry.stdout.splitlines() if line.startswith(f"{fake} ")]
    subprocess.run(["sh", "-c", line], check=True, timeout=60)
    (argv,) = calls(fake)
    return argv


def test_make_passes_paths_and_options_to_the_cli_as_given(tmp_path):
    """Every make variable reaches the command line as one argument, whatever the path holds
    (spaces, quotes, ;, $), and the command line is one the CLI accepts with those values."""
    from alliance_report.cli import _parser

    odd = ["FREEZE=a b/it's; x", "OUT=my $HOME/x", "PREVIOUS=old 'one'"]
    argv = make_runs(tmp_path / "one", "report", *odd, "EDITION=open", "RENDERER=quarto", "FORCE=1", "QUIET=1",
                     "JOBS=1")
    assert argv == ["build", "a b/it's; x", "--out", "my $HOME/x", "--previous", "old 'one'",
                    "--renderer", "quarto", "--edition", "open", "--force", "--quiet", "--jobs", "1"]
    args = _parser().parse_args(argv)
    assert (args.freeze, args.out, args.previous) == (Path("a b/it's; x"), Path("my $HOME/x"), Path("old 'one'"))
    assert (args.renderer, args.edition, args.force, args.quiet, args.jobs) == ("quarto", "open", True, True, 1)

    assert make_runs(tmp_path / "defaults", "report") == [  # no option the user did not ask for
        "build", "data/demo-freeze", "--renderer", "weasyprint", "--edition", "both"]

    settings = ("STYLE=apa", "DROPOUT_THRESHOLD=5", "TABLE1_TESTS=1", "BUILD_DATE=2026-12-01")
    argv = make_runs(tmp_path / "settings", "report", *settings)
    assert argv[-7:] == ["--style", "apa", "--dropout-threshold", "5", "--table1-tests", "--build-date", "2026-12-01"]
    args = _parser().parse_args(argv)
    assert (args.style, args.dropout_threshold, args.table1_tests, args.build_date) == ("apa", 5, True, "2026-12-01")

    argv = make_runs(tmp_path / "all", "reports", "FREEZES=it's $here", "REPORTS_ROOT=r s", "EDITION=closed", "STYLE=apa")
    assert argv == ["build-all", "it's $here", "--out-root", "r s", "--renderer", "weasyprint", "--edition", "closed",
                    "--style", "apa"]
    args = _parser().parse_args(argv)
    assert (args.command, args.folder, args.out_root, args.edition) == ("build-all", Path("it's $here"), Path("r s"),
                                                                       "closed")


def load_workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def run_step(step: dict, folder: Path, env: dict) -> subprocess.CompletedProcess:
    """A workflow step's ``run:`` script as GitHub runs it when no shell is named: ``bash -e``
    (no pipefail unless the script sets it), in ``folder``."""
    script = folder / "step.sh"
    script.write_text(step["run"])
    return subprocess.run(["bash", "--noprofile", "--norc", "-e", str(script)], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)


def test_the_test_workflow_runs_make_test_and_test_slow_on_every_push(tmp_path):
    workflow = load_workflow("test.yml")
    assert "push" in workflow["on"]  # configuration GitHub reads: every push
    (job,) = workflow["jobs"].values()
    make = fake_program(tmp_path / "bin", "make")
    env = {**os.environ, "PATH": f"{make.parent}{os.pathsep}{os.environ['PATH']}"}
    for step in job["steps"]:
        if "run" in step:
            assert run_step(step, tmp_path, env).returncode == 0
    assert calls(make) == [["test"], ["test-slow"]]  # the fast suite, then the rest: every test
    (python,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
    assert python["with"]["python-version"] == "3.11"


@pytest.mark.parametrize("failing, expected_calls", [(None, [["test"], ["test-slow"]]), ("test", [["test"]])])
def test_ci_runs_the_fast_suite_then_the_slow_one_and_stops_at_a_failure(tmp_path, failing, expected_calls):
    """.ci/run: ``make test``, then ``make test-slow`` (together every test); a failing ``make test`` fails CI."""
    make = fake_program(tmp_path / "bin", "make", exit_codes={failing: 2} if failing else None)
    env = {**os.environ, "PATH": f"{make.parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run([str(REPO_ROOT / ".ci" / "run")], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == (2 if failing else 0), run.stderr
    assert calls(make) == expected_calls


TABLE = "freeze  outcome  output\n------  -------  ------\nf/a     built    reports/BeMind-a/\n1 freeze: 1 ok, 0 not published\n"


def report_job_run(tmp_path: Path, make_exit_code: int) -> tuple[dict, Path, dict[str, subprocess.CompletedProcess]]:
    """The report job's run: steps in a temporary folder with a fake make whose build-all prints a
    validation example (a participant's cell) and then the summary table."""
    job = load_workflow("report.yml")["jobs"]["reports"]
    work = tmp_path / "work"
    (work / "reports").mkdir(parents=True)
    (work / "reports" / "index.md").write_text("| freeze | outcome |\n")
    make = fake_program(tmp_path / "bin", "make",
                        "participants.csv: age: must be from 18 to 99 (e.g. row 2: participant P0001 \"17\")\n" + TABLE,
                        {"reports": make_exit_code})
    summary = tmp_path / "summary.md"
    env = {**os.environ, "PATH": f"{make.parent}{os.pathsep}{os.environ['PATH']}", "GITHUB_STEP_SUMMARY": str(summary),
           "FREEZES": "/mnt/trial freezes/it's"}  # the job's env, as the workflow input sets it
    done = {}
    for step in job["steps"]:
        if "run" in step and (not done or all(r.returncode == 0 for r in done.values()) or step.get("if") == "always()"):
            done[step["name"]] = run_step(step, work, env)
    return job, make, done


def test_the_report_workflow_builds_every_freeze_and_fails_when_one_fails(tmp_path):
    workflow = load_workflow("report.yml")
    triggers = workflow["on"]  # configuration GitHub reads: weekly, and on demand with a folder
    (schedule,) = triggers["schedule"]
    day_of_month, month, weekday = schedule["cron"].split()[2:]
    assert day_of_month == month == "*" and weekday in tuple("0123456")
    # a run on demand without a folder falls back on the variable: the input has no default of its own
    assert triggers["workflow_dispatch"]["inputs"]["freezes"]["default"] == ""
    expression = workflow["jobs"]["reports"]["env"]["FREEZES"]  # the input, else the variable, else data
    assert [part.strip() for part in expression.strip("${} ").split("||")] == [
        "inputs.freezes", "vars.REPORT_FREEZES", "'data'"]

    for exit_code in (0, 1):  # 1: a freeze failed validation; the others were built
        _, make, done = report_job_run(tmp_path / str(exit_code), exit_code)
        assert calls(make) == [["venv"], ["reports", "FREEZES=/mnt/trial freezes/it's", "REPORTS_ROOT=reports"]]
        build, summary_step = done["Build every freeze (make reports)"], done["Summary table"]
        assert build.returncode == exit_code  # pipefail: tee does not hide a failing make
        assert summary_step.returncode == 0
        log = (tmp_path / str(exit_code) / "work" / "reports.log").read_text()
        assert "P0001" in log and log.endswith(TABLE)
        summary = (tmp_path / str(exit_code) / "summary.md").read_text()
        assert "P0001" not in summary  # the run page shows the table, not the validation examples
        assert summary.startswith("### Reports built from `/mnt/trial freezes/it's`\n```\n" + TABLE + "```\n")
        assert summary.endswith("### Index of the freezes\n| freeze | outcome |\n")


def artifact_files(step: dict, root: Path) -> set[str]:
    """The files an upload-artifact step takes from ``root`` (its path globs, one per line)."""
    return {p.relative_to(root).as_posix() for pattern in step["with"]["path"].split()
            for p in root.glob(pattern) if p.is_file()}


def test_the_open_artifact_holds_no_data_by_arm(demo_pair, tmp_path):
    """Data protection: the open artifact, the one sent to the open session, holds the index and
    the open editions only; everything by arm or from the data (results.json, validation.json,
    changes, logs) goes to the closed artifact only.  Checked on a real build's output."""
    workflow_text = (WORKFLOWS / "report.yml").read_text()
    job = load_workflow("report.yml")["jobs"]["reports"]
    closed, opened = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact")]
    assert closed["if"] == opened["if"] == "always()"  # a failed freeze does not keep the others' reports back
    assert closed["with"]["name"].startswith("reports-closed-") and opened["with"]["name"].startswith("reports-open-")

    root = tmp_path
    out = shutil.copytree(demo_pair[1], root / "reports" / f"BeMind-{SMALL_FREEZE_ID}")
    for name in ("changes.json", "changes.csv"):  # as a build with a previous freeze writes them
        (out / name).write_text("by arm\n")
    (root / "reports" / "index.html").write_text("<p>index</p>")
    (root / "reports.log").write_text(TABLE)
    opened_files, closed_files = artifact_files(opened, root), artifact_files(closed, root)
    prefix = f"reports/BeMind-{SMALL_FREEZE_ID}/"
    assert opened_files == {"reports/index.html"} | {prefix + f"open/{name}" for name in
                                                     ("report.html", "report.pdf", "results.json")}
    assert closed_files == {"reports.log"} | {prefix + name for name in (
        "report.html", "report.pdf", "results.json", "validation.json", "changes.json", "changes.csv", "build.log")}
    assert json.loads((root / prefix / "open" / "results.json").read_text())["edition"] == "open"

    # the workflow's header says what each artifact holds and how long it is kept: the same files
    header = " ".join(line.lstrip("# ") for line in workflow_text.splitlines() if line.startswith("#"))
    for name in {Path(f).name for f in closed_files | opened_files}:
        assert name in header, name
    days = {s["with"]["retention-days"] for s in (closed, opened)}
    assert len(days) == 1 and f"{days.pop()} days" in header and "reports-open-" in header


def test_a_build_has_one_or_two_processes(monkeypatch):
    """--jobs 5 runs (and logs) 2 processes: a build has no third; without --jobs, the default."""
    from alliance_report import worker

    monkeypatch.setattr(worker, "default_jobs", lambda: 2)
    assert [worker.processes(jobs) for jobs in (None, 1, 2, 3, 5)] == [2, 1, 2, 2, 2]


@pytest.mark.slow
def test_no_fork_where_it_is_unsafe(built, tmp_path, monkeypatch, capsys):
    """A caller's thread is running: the build runs in one process (and says so); on macOS too."""
    import threading

    from alliance_report import worker

    assert worker.fork_is_safe()
    stop = threading.Event()
    caller = threading.Thread(target=stop.wait, name="a-caller-thread", daemon=True)
    caller.start()
    try:
        assert not worker.fork_is_safe()
        freeze, _ = built
        out = tmp_path / "out"
        assert main(["build", str(freeze), "--out", str(out), "--quiet", "--edition", "open"]) == 0
        assert "processes:    1 (forking a worker is not safe here: macOS, or other threads are running)" \
            in (out / "build.log").read_text()
        assert capsys.readouterr().err == ""
    finally:
        stop.set()
        caller.join()
    monkeypatch.setattr(worker.sys, "platform", "darwin")
    assert not worker.fork_is_safe()


def _bench_build():
    """benchmarks/bench_build.py as a module (benchmarks/ is not a package)."""
    sys.path.insert(0, str(REPO_ROOT / "benchmarks"))
    try:
        import bench_build
    finally:
        sys.path.remove(str(REPO_ROOT / "benchmarks"))
    return bench_build


def test_benchmark_schedule_bound_from_a_build_log():
    """The benchmark's bound: the steps up to ``imports`` one after the other, the rest shared over
    the cores, idle ``wait`` left out (a hand-worked build.log excerpt: 0.1 + 1.9 before the fork,
    1 + 2 + 2 + 1 + 3 = 9 after it, so 2 + 9 / 2 = 6.5 s on 2 cores, 2 + 9 / 4 = 4.25 s on 4)."""
    schedule_bound = _bench_build().schedule_bound
    steps = """  fingerprint  main        0.10   c3c70e6149c31bf9
  imports      main        1.90
  read         main        1.00   participants.csv 245 rows
  analyse      worker      2.00
  validate     main        2.00   120 checks, 0 failed, 0 warnings
  wait         main        5.00
  figures open main        1.00   2 figures
  pdf          worker      3.00   report.pdf (WeasyPrint)
  total                    9.00"""
    assert schedule_bound(steps) == pytest.approx((2.0, 9.0, 6.5))
    assert schedule_bound(steps, cores=4)[2] == pytest.approx(2.0 + 9.0 / 4)


def test_benchmark_chain_bound_from_a_build_log():
    """The closed PDF's chain: before the fork (0.1 + 1.9), then the steps of the process that
    wrote it (the worker: 0.5 + 2 + 4 / 2 + 1 + 3 = 8.5), its figures halved, the main process's
    steps and ``wait`` left out: 10.5 s; with 4 cores the figures count 4 / 4."""
    chain_bound = _bench_build().chain_bound
    steps = """  fingerprint  main        0.10   c3c70e6149c31bf9
  imports      main        1.90
  read         worker      0.50
  read         main        1.00   participants.csv 245 rows
  analyse      worker      2.00
  validate     main        2.00   120 checks, 0 failed, 0 warnings
  figures open main        1.00   2 figures
  figures      worker      4.00   7 figures
  load         worker      1.00
  wait         worker      0.70
  pdf open     main        2.00   open/report.pdf (WeasyPrint)
  pdf          worker      3.00   report.pdf (WeasyPrint)
  wait         main        5.00
  total                   14.00"""
    assert chain_bound(steps) == pytest.approx(10.5)
    assert chain_bound(steps, cores=4) == pytest.approx(9.5)
