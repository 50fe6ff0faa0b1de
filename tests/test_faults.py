"""Faults and hostile folders: every failure the user can fix is a one-line user error (exit 2),
signals end a build cleanly (130 / 143, nothing published, nothing left behind), and no command
silently replaces data.

Speed: one small freeze is built once, in-process (``built``); the signal tests need real
processes, so the module starts them in the background as it begins (``interrupted``), each
with its own copy of a previous output, and each test only collects its run.  Every wait on a
process is bounded by a timeout of the harness; no test asserts on time.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from alliance_report import REPO_ROOT
from alliance_report.errors import BuildError
from alliance_report.output_folder import check_origin
from alliance_report.quarto import effective_settings
from alliance_report.cli import main
from alliance_report.fingerprint import FINGERPRINT_FILE, fingerprint
from alliance_report.freeze import sha256_bytes
from alliance_report.settings import Settings
from conftest import SMALL_FREEZE_ID, small_freeze

INTERRUPTED = "alliance-report: interrupted; nothing was published"
PROCESS_TIMEOUT = 180  # seconds for a whole build run by a test (a loaded 2-core machine)
STOP_TIMEOUT = 20  # seconds from the signal to the end of the process (the build itself takes 2)


def state(folder: Path) -> dict:
    """Every file of a folder with its bytes' hash and modification time."""
    return {p.relative_to(folder).as_posix(): (sha256_bytes(p.read_bytes()), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def temporary_folders(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".building-" in p.name or ".old-" in p.name)


def re_sign(freeze: Path, name: str) -> None:
    manifest = json.loads((freeze / "manifest.json").read_text())
    manifest["files"][name] = sha256_bytes((freeze / name).read_bytes())
    (freeze / "manifest.json").write_text(json.dumps(manifest, indent=2))


def corrected_export(freeze: Path) -> None:
    """The same data exported again with other bytes (CRLF line ends), manifest re-signed."""
    path = freeze / "disposition.csv"
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    re_sign(freeze, "disposition.csv")


def fake_report(folder: Path) -> Path:
    """A previous output as far as a build is concerned (its record predates the freeze_dir field)."""
    folder.mkdir(parents=True)
    (folder / "report.html").write_text("<p>the previous report</p>\n")
    (folder / "build.log").write_text("outcome:      built\n")
    (folder / FINGERPRINT_FILE).write_text('{"fingerprint": "0", "parts": {}, "outputs": {}}\n')
    return folder




# ------------------------------------------------------------------------------------ signals


def signal_dispositions(pid: int) -> dict[int, tuple[int, int]]:
    """The forked children of ``pid`` (the worker: the same executable) with their (ignored, caught)
    signal masks, from /proc.  Not another program the process runs for a moment (WeasyPrint's
    import runs gcc through ctypes.util.find_library, looking for an optional library)."""
    masks = {}
    exe = os.readlink(f"/proc/{pid}/exe")
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
            if fields.get("PPid", "").strip() != str(pid) or os.readlink(status.parent / "exe") != exe:
                continue
        except OSError:
            continue
        masks[int(status.parent.name)] = (int(fields["SigIgn"], 16), int(fields["SigCgt"], 16))
    return masks


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def bit(signum: int) -> int:
    return 1 << (signum - 1)


class Run:
    """A real ``alliance-report`` process that gets ``sig`` once a stderr line contains ``trigger``."""

    def __init__(self, args: list, trigger: str, sig: int, *, group: bool = False):
        self.trigger, self.sig, self.group = trigger, sig, group
        self.lines: list[str] = []
        self.children: dict[int, tuple[int, int]] = {}  # its worker when the signal was sent: signal masks
        self.signalled = threading.Event()
        self.proc = subprocess.Popen([sys.executable, "-m", "alliance_report", *map(str, args)], cwd=REPO_ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)  # its own process group: the worker is in it
        self.stdout: list[str] = []
        self.readers = [threading.Thread(target=self._read, daemon=True),
                        threading.Thread(target=lambda: self.stdout.extend(self.proc.stdout), daemon=True)]
        for reader in self.readers:
            reader.start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            if self.trigger in line and not self.signalled.is_set():
                self.children = signal_dispositions(self.proc.pid)
                (os.killpg if self.group else os.kill)(self.proc.pid, self.sig)  # Ctrl-C: the whole group
                self.signalled.set()

    def result(self) -> tuple[int, str, str]:
        """(exit code, stdout, stderr); the harness bounds every wait."""
        try:
            assert self.signalled.wait(PROCESS_TIMEOUT), f"no line with {self.trigger!r}: {''.join(self.lines)}"
            self.proc.wait(timeout=STOP_TIMEOUT)
        except BaseException:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            raise
        for reader in self.readers:
            reader.join(timeout=STOP_TIMEOUT)
        return self.proc.returncode, "".join(self.stdout), "".join(self.lines)

    def group_is_gone(self) -> bool:
        """No process of the run is left (the forked worker included)."""
        try:
            os.killpg(self.proc.pid, 0)
        except ProcessLookupError:
            return True
        try:  # a grandchild may take a moment to go; bounded
            subprocess.run(["sh", "-c", f"while kill -0 -{self.proc.pid} 2>/dev/null; do sleep 0.05; done"],
                           timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return False
        return True


LOST_SIGNAL = """
import signal, sys, time
from pathlib import Path
from alliance_report.interrupts import abortable, interruptible, state
staging, how = Path(sys.argv[1]), sys.argv[2]


class Closing:
    def __del__(self):
        signal.raise_signal(signal.SIGTERM)  # Interrupted cannot leave a __del__: Python drops it


with interruptible(), abortable():
    staging.mkdir()
    state.staging.add(staging)
    if how == "del":
        Closing()
    else:
        try:
            signal.raise_signal(signal.SIGTERM)
        except BaseException:  # a library that swallows everything, Interrupted included
            pass
    while True:
        time.sleep(0.05)
"""


@pytest.fixture(autouse=True)
def start_the_signal_runs_early(request):
    """In `make test-slow`, the signal runs start with the module's first slow test (they run while
    the in-process tests do); `make test` starts none."""
    if request.node.get_closest_marker("slow") is not None:
        request.getfixturevalue("interrupted")


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory):
    """The signal runs (processes), started once for the module."""
    root = tmp_path_factory.mktemp("signals")
    freeze = small_freeze(root / "freeze", "signals")
    runs = {}

    def build_run(name, trigger, sig, *options, group=False):
        out = fake_report(root / name / "out")
        runs[name] = (Run(["build", freeze, "--out", out, "--force", *options], trigger, sig, group=group),
                      out, state(out))

    build_run("validation-and-analysis-sigint", "alliance-report: read:", signal.SIGINT)  # kill -INT
    build_run("validation-and-analysis-ctrl-c", "alliance-report: read:", signal.SIGINT, group=True)
    build_run("pdf-sigterm", "alliance-report: write:", signal.SIGTERM)  # the worker makes the PDF

    folder = root / "freezes"  # build-all: an unreadable freeze first, then one interrupted as it is read
    (folder / "a-unreadable").mkdir(parents=True)
    (folder / "a-unreadable" / "participants.csv").write_text("participant_id\n")
    small_freeze(folder / "b", "signals-b", seed=6)
    out_root = root / "all"
    fake_report(out_root / "BeMind-signals-b")
    runs["build-all-sigterm"] = (Run(["build-all", folder, "--out-root", out_root, "--jobs", "1"],
                                     "alliance-report: read:", signal.SIGTERM), out_root, state(out_root))
    for how in ("swallowed", "del"):  # the watchdog: a signal that a library or a __del__ loses
        staging = root / f".lost-{how}.building-x"
        runs[f"lost-{how}"] = (subprocess.Popen([sys.executable, "-c", LOST_SIGNAL, str(staging), how], cwd=REPO_ROOT,
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                start_new_session=True), staging, None)
    yield runs
    for run, _, _ in runs.values():  # a test that failed early: nothing keeps running
        proc = getattr(run, "proc", run)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ------------------------------------------------------------------------------------ output location


@pytest.mark.slow
def test_out_inside_the_freeze_is_refused_before_any_work(built, tmp_path, monkeypatch, capsys):
    freeze = shutil.copytree(built[0], tmp_path / "freeze")
    before = state(tmp_path)
    assert main(["build", str(freeze), "--out", str(freeze / "report")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"alliance-report: the output {freeze / 'report'}/ is inside the freeze folder {freeze}; a report is never "
        "written into its freeze, name a folder outside it with --out"]
    assert main(["build", str(freeze), "--out", str(freeze)]) == 2
    assert "is the freeze folder itself" in capsys.readouterr().err
    (tmp_path / "report.html").write_text("an earlier report")  # replacing it would delete the freeze
    assert main(["build", str(freeze), "--out", str(tmp_path)]) == 2
    assert f"holds the freeze folder {freeze}" in capsys.readouterr().err
    (tmp_path / "report.html").unlink()
    monkeypatch.chdir(freeze)  # the default output, reports/<study>-<freeze_id>/, is relative to here
    assert main(["build", str(freeze)]) == 2
    assert "is inside the freeze folder" in capsys.readouterr().err
    assert state(tmp_path) == before


@contextmanager
def read_only(folder: Path):
    """``folder`` made read-only: chmod 0o555 where that stops writes; as root (where it does not)
    a read-only bind mount of the folder on itself; else skip, saying why."""
    probe = folder / ".write-test"
    folder.chmod(0o555)
    try:
        probe.touch()
    except PermissionError:
        try:
            yield folder
        finally:
            folder.chmod(0o755)
        return
    probe.unlink()
    folder.chmod(0o755)
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"running as root, where chmod does not stop writes, and no bind mount: {mounted.stderr.strip()}")
    try:
        remounted = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True)
        if remounted.returncode != 0:
            pytest.skip(f"running as root and a read-only remount is not permitted: {remounted.stderr.strip()}")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


@pytest.mark.slow
def test_a_read_only_output_folder_is_a_usage_error_before_validation(built, tmp_path, capsys):
    freeze, out0 = built
    shutil.copytree(out0, tmp_path / "ro" / "out")
    with read_only(tmp_path / "ro") as folder:
        before = state(folder)
        assert main(["build", str(freeze), "--out", str(folder / "out"), "--force"]) == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [f"alliance-report: cannot write the output {folder / 'out'}/ in {folder} "
                                    "(Read-only file system); nothing was published, name a folder you can "
                                    "write to with --out"] or "Permission denied" in err, err
        assert "validate" not in err  # found before the freeze was validated
        assert main(["build", str(freeze), "--out", str(folder / "new" / "out")]) == 2  # a parent to make
        assert "cannot write the output" in capsys.readouterr().err
        assert main(["simulate", "--out", str(folder / "sim"), "--n-randomized", "20"]) == 2
        assert "cannot be written" in capsys.readouterr().err
        assert state(folder) == before


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc")
def test_a_location_that_refuses_a_folder_is_a_usage_error(built, capsys):
    """/proc refuses a new folder with "no such file or directory" (not a permission error): still
    the user's to fix, exit 2 with one line, not an internal error (exit 3)."""
    freeze, _ = built
    assert main(["build", str(freeze), "--out", "/proc/alliance-report-out", "--quiet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "alliance-report: cannot write the output /proc/alliance-report-out/ in /proc (No such file or directory); "
        "nothing was published, name a folder you can write to with --out"]


@contextmanager
def small_disk(tmp_path: Path, size: str = "4m"):
    """A tmpfs of ``size`` mounted in tmp_path (skip, saying why, where that is not permitted)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    chunk = bytes(1 << 16)
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


@pytest.mark.slow
def test_a_full_disk_is_a_usage_error_and_the_previous_output_stays(built, tmp_path, capsys):
    freeze, out0 = built
    with small_disk(tmp_path) as disk:
        out = shutil.copytree(out0, disk / "out")
        filler = fill(disk)
        before = state(disk)
        # full: found before the validation
        assert main(["build", str(freeze), "--out", str(out), "--force"]) == 2
        err = capsys.readouterr().err
        assert err.splitlines() == [f"alliance-report: cannot write the output {out}/ in {disk} (No space left "
                                    "on device); nothing was published, free some space there or name another --out"]
        assert main(["simulate", "--out", str(disk / "sim"), "--n-randomized", "20"]) == 2
        assert capsys.readouterr().err == f"alliance-report: error: --out {disk / 'sim'}: cannot be written " \
                                          "(No space left on device)\n"
        assert state(disk) == before and sorted(p.name for p in disk.iterdir()) == ["filler", "out"]
        # room for the probe, not for the report: found while the worker writes
        os.truncate(filler, filler.stat().st_size - (400 << 10))
        before = state(disk)
        assert main(["build", str(freeze), "--out", str(out), "--force"]) == 2
        err = capsys.readouterr().err
        assert "validate: " in err and "Traceback" not in err and "internal error" not in err
        assert err.splitlines()[-1].startswith(f"alliance-report: cannot write the output {out}/ in {disk} "
                                               "(No space left on device)"), err
        assert state(disk) == before and temporary_folders(disk) == []


# ------------------------------------------------------------------------------------ simulate


@pytest.mark.slow
def test_simulate_never_writes_over_data(built, tmp_path, capsys):
    def simulate(out, *options):
        return main(["simulate", "--out", str(out), "--n-randomized", "20", "--seed", "3", *options])

    real = shutil.copytree(built[0], tmp_path / "real")
    manifest = json.loads((real / "manifest.json").read_text())
    (real / "manifest.json").write_text(json.dumps({**manifest, "simulated": False}, indent=2))
    export = tmp_path / "export"  # CSVs without a manifest: an export on its way
    export.mkdir()
    shutil.copy(real / "participants.csv", export)
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    a_file = tmp_path / "a-file"
    a_file.write_text("mine")
    before = state(tmp_path)
    for folder, message in [(real, 'its manifest.json says "simulated": false'),
                            (export, "holds CSV files without a manifest.json"),
                            (other, "is not empty and holds no simulated freeze"),
                            (a_file, "exists and is not a folder")]:
        for force in ((), ("--force",)):
            assert simulate(folder, *force) == 2, (folder, force)
            err = capsys.readouterr().err
            assert len(err.splitlines()) == 1 and err.startswith(f"alliance-report: error: --out {folder}: "), err
            assert message in err, err
    assert state(tmp_path) == before

    simulated = tmp_path / "simulated"
    assert simulate(simulated) == 0
    first = state(simulated)
    assert simulate(simulated, "--seed", "4") == 2
    assert "holds a simulated freeze already; --force replaces it" in capsys.readouterr().err
    assert state(simulated) == first
    assert simulate(simulated, "--seed", "4", "--force") == 0
    assert state(simulated) != first
    assert json.loads((simulated / "manifest.json").read_text())["simulated"] is True


# ------------------------------------------------------------------------------------ another freeze's output


@pytest.mark.slow
def test_build_does_not_replace_the_report_of_another_freeze_folder(built, tmp_path, monkeypatch, capsys):
    freeze, out0 = built
    other = small_freeze(tmp_path / "other-trial", SMALL_FREEZE_ID, seed=6)  # same study and freeze_id
    reports = tmp_path / "reports"
    out = shutil.copytree(out0, reports / f"BeMind-{SMALL_FREEZE_ID}")
    before = state(out)
    monkeypatch.chdir(tmp_path)  # no --out: reports/<study>-<freeze_id>/, as `make report FREEZE=...`
    assert main(["build", str(other), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"alliance-report: the output reports/BeMind-{SMALL_FREEZE_ID}/ holds the report of another "
                                f"freeze folder, {freeze.resolve()}, with other data than {other}; --force "
                                "replaces it, or name another --out"]
    assert state(out) == before and temporary_folders(reports) == []

    from alliance_report import steps

    def stop(freeze, timings):
        raise BuildError("validation reached", exit_code=1)

    monkeypatch.setattr(steps, "validate", stop)  # --force goes on to build (stopped here: cheaper)
    assert main(["build", str(other), "--quiet", "--force", "--jobs", "1"]) == 1
    assert capsys.readouterr().err == "alliance-report: validation reached\n"
    assert state(out) == before


@pytest.mark.slow
def test_a_corrected_export_in_the_same_folder_is_rebuilt_as_usual(built, tmp_path, monkeypatch, capsys):
    freeze0, out0 = built
    freeze = shutil.copytree(freeze0, tmp_path / "freeze")  # the session's freeze stays as it is
    out = shutil.copytree(out0, tmp_path / "out")
    record = json.loads((out / FINGERPRINT_FILE).read_text())
    record["freeze_dir"] = str(freeze.resolve())  # as if `out` had been built from this very folder
    (out / FINGERPRINT_FILE).write_text(json.dumps(record))
    from alliance_report import build as build_module

    def publish_as_a_signal_comes(staging, out):  # a signal that comes while the output is swapped in:
        signal.raise_signal(signal.SIGTERM)       # the build completes, and says so
        real_publish(staging, out)

    real_publish = build_module.publish
    monkeypatch.setattr(build_module, "publish", publish_as_a_signal_comes)
    corrected_export(freeze)
    assert main(["build", str(freeze), "--out", str(out), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("built") and captured.err == ""
    assert "why built:    changed: freeze (disposition.csv, manifest.json)" in (out / "build.log").read_text()
    assert json.loads((out / FINGERPRINT_FILE).read_text())["freeze_dir"] == str(freeze.resolve())


@pytest.mark.slow
def test_what_may_replace_an_output(built, tmp_path):
    freeze, out0 = built
    settings = effective_settings(Settings(), "weasyprint")
    out = shutil.copytree(out0, tmp_path / "out")
    record = json.loads((out / FINGERPRINT_FILE).read_text())
    assert record["freeze_dir"] == str(freeze.resolve())
    check_origin(freeze, out, fingerprint(freeze, settings))  # the same folder
    copy = shutil.copytree(freeze, tmp_path / "copy")
    check_origin(copy, out, fingerprint(copy, settings))  # the same data in another folder
    other = small_freeze(tmp_path / "other-trial", SMALL_FREEZE_ID, seed=6)
    with pytest.raises(BuildError, match="holds the report of another freeze folder"):
        check_origin(other, out, fingerprint(other, settings))
    del record["freeze_dir"]  # an output built before the field existed: replaced as before
    (out / FINGERPRINT_FILE).write_text(json.dumps(record))
    check_origin(other, out, fingerprint(other, settings))


# ------------------------------------------------------------------------------------ validate --json


def test_validate_json_is_written_for_an_unreadable_freeze(tmp_path, monkeypatch, capsys):
    freeze = tmp_path / "freeze"
    freeze.mkdir()
    (freeze / "participants.csv").write_text("participant_id\nP001\n")  # no manifest.json
    report = tmp_path / "validation.json"
    assert main(["validate", str(freeze), "--json", str(report)]) == 2
    data = json.loads(report.read_text())
    assert data["valid"] is False and data["readable"] is False and data["checks"] == []
    assert "manifest.json" in data["reason"] and data["reason"] in capsys.readouterr().err

    from alliance_report import validation  # a readable freeze: the same keys as before, and readable

    monkeypatch.setattr(validation, "validate_freeze", lambda freeze, study=None: validation.ValidationReport(()))
    monkeypatch.setattr(validation, "format_report", lambda report: "0 checks run, 0 failed, 0 warnings")
    small_freeze(tmp_path / "readable", "json", n=20)
    assert main(["validate", str(tmp_path / "readable"), "--json", str(report)]) == 0
    as_before = validation.ValidationReport(()).to_dict()
    assert json.loads(report.read_text()) == {**as_before, "readable": True}


# ------------------------------------------------------------------------------------ signals (collected last)


@pytest.mark.slow
@pytest.mark.parametrize("name, exit_code", [("validation-and-analysis-sigint", 130),
                                             ("validation-and-analysis-ctrl-c", 130), ("pdf-sigterm", 143)])
def test_a_signal_ends_a_build_cleanly(interrupted, name, exit_code):
    run, out, before = interrupted[name]
    code, stdout, stderr = run.result()
    assert code == exit_code, stderr
    assert stderr.splitlines()[-1] == INTERRUPTED and stderr.count("interrupted") == 1, stderr
    assert "Traceback" not in stderr and stdout == ""
    assert run.children and not any(alive(pid) for pid in run.children)  # the worker was stopped (and reaped)
    assert run.group_is_gone()
    if name == "pdf-sigterm":  # the worker leaves Ctrl-C to the main process, and ends at once on its SIGTERM
        assert all(ignored & bit(signal.SIGINT) and not caught & bit(signal.SIGTERM)
                   for ignored, caught in run.children.values()), run.children
    assert state(out) == before  # the previous output, byte for byte
    assert temporary_folders(out.parent) == []


def test_a_signal_between_two_freezes_stops_build_all_before_the_next(tmp_path, monkeypatch, capsys):
    from alliance_report import build as build_module

    folder = tmp_path / "freezes"
    for name in ("a", "b", "c"):
        (folder / name).mkdir(parents=True)
        (folder / name / "manifest.json").write_text("{}")
    done = []

    def build_and_get_a_signal(freeze_dir, out, *args, **kwargs):  # as if it came after publishing
        done.append(freeze_dir.name)
        signal.raise_signal(signal.SIGTERM)
        return build_module.BuildOutcome(Path(out), {})

    monkeypatch.setattr(build_module, "build", build_and_get_a_signal)
    assert main(["build-all", str(folder), "--out-root", str(tmp_path / "reports"), "--quiet"]) == 143
    captured = capsys.readouterr()
    assert done == ["a"]
    assert [line.split()[:2] for line in captured.out.splitlines()[2:]] == [[str(folder / "a"), "built"],
                                                                             [str(folder / "b"), "not"],
                                                                             [str(folder / "c"), "not"],
                                                                             ["3", "freezes:"]]
    assert captured.err == f"alliance-report: interrupted; 2 freeze(s) not built, from {folder / 'b'} on\n"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["swallowed", "del"])
def test_a_signal_that_gets_lost_still_ends_the_build(interrupted, how):
    proc, staging, _ = interrupted[f"lost-{how}"]
    _, stderr = proc.communicate(timeout=PROCESS_TIMEOUT)
    assert proc.returncode == 143 and stderr == INTERRUPTED + "\n", stderr  # no "Exception ignored"
    assert not staging.exists()  # the watchdog cleaned up


@pytest.mark.slow
def test_a_signal_stops_build_all_with_the_table_so_far(interrupted):
    run, out_root, before = interrupted["build-all-sigterm"]
    code, stdout, stderr = run.result()
    assert code == 143, stderr
    assert "Traceback" not in stderr
    last = stderr.splitlines()[-1]
    assert last.startswith(INTERRUPTED + " for ") and last.endswith("/b"), stderr
    rows = {Path(line.split()[0]).name: line.split()[1] for line in stdout.splitlines()[2:-1]}
    # freezes are built in cut-off order, unreadable manifests last: the row of the one the signal
    # kept from being built says so
    assert rows == {"b": "interrupted", "a-unreadable": "not"}, stdout
    assert "not built (interrupted before it)" in stdout
    assert stdout.splitlines()[-1] == "2 freezes: 0 ok, 2 not published"
    assert run.group_is_gone()
    assert state(out_root) == before and temporary_folders(out_root) == []


def test_an_output_that_is_a_symbolic_link_is_named_as_one(tmp_path):
    """A link to a folder was refused as "exists and is not a folder", which it seems to be."""
    from alliance_report.errors import BuildError
    from alliance_report.output_folder import check_out

    (tmp_path / "reports").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "reports")
    with pytest.raises(BuildError) as refused:
        check_out(tmp_path / "link")
    assert refused.value.exit_code == 2
    assert str(refused.value) == (f"--out {tmp_path / 'link'}: is a symbolic link (to {tmp_path / 'reports'}); a build "
                                  "replaces its output folder as a whole, never through a link, so name the folder itself")
    (tmp_path / "a-file").write_text("mine")
    with pytest.raises(BuildError, match="exists and is not a folder"):
        check_out(tmp_path / "a-file")
