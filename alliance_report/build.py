"""The build pipeline: read → validate → analyse → render, published atomically.

Steps (each timed in ``build.log``)::

    fingerprint  hash the freeze, the code, the settings and the pinned environment; when the
                 output already holds a build with the same fingerprint (and its files are
                 unchanged) there is nothing to do (``force`` rebuilds)
    read         read the freeze as text
    validate     manifest checks + Great Expectations suites; a failure ends the build (exit 1)
    analyse      compute_results (the analysis plan, model fitting)
    figures      draw the figures from the results
    render       HTML, Quarto markdown, tables (Jinja2)
    write        results.json, validation.json, report.html/.qmd, figures/, tables/
    pdf          report.pdf from report.html (WeasyPrint)
    quarto       ``quarto render`` (renderer "quarto" only, when the Quarto CLI is on PATH)
    publish      build.log and .fingerprint.json, then the staging folder is swapped in

Two processes (``jobs=2``, the default on a machine with two or more cores): after the
fingerprint, a worker process is forked.  It reads the freeze itself, analyses it, draws the
figures and imports WeasyPrint while the main process reads the freeze and validates it
(Great Expectations, the longest step of a small freeze).  When the freeze is valid, the main
process hands the worker the validation results and a staging folder, and the worker renders
and writes every output file; the main process then writes build.log and publishes.  When the
freeze is invalid the worker is stopped and nothing is written.  The worker's work is kept only
when both processes read the same bytes.  ``jobs=1`` runs every step in one process, in the
order above; the outputs are byte-identical either way.

Outputs are written into a temporary folder beside ``out`` and swapped in by a rename only
when everything succeeded, so a reader never sees a half-written report and a failed build
leaves an existing output folder as it was.  That folder is made, with a write probe, before
the freeze is validated: an output location that is read-only, not ours or full is a usage
error (exit 2) found at once, and one that fails later (the disk fills up) is one too.  Under
``interruptible`` (the command line), SIGINT and SIGTERM end a build that has not begun to
publish with ``Interrupted`` (exit 130 / 143): the worker is stopped and the temporary folder
removed on the way out.

The no-change path (fingerprint and comparison) imports no heavy library (no pandas, Great
Expectations, statsmodels, matplotlib or WeasyPrint): it takes a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import errno
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from alliance_report import __version__, files
from alliance_report.fingerprint import Fingerprint, fingerprint, read_record, up_to_date, write_record
from alliance_report.progress import Progress
from alliance_report.publish import note_leftovers, publish, temporary_prefix
from alliance_report.settings import EDITIONS, Settings
from alliance_report.study import Study, StudyError, load_study

RENDERERS = ("weasyprint", "quarto")
LOG_FILE = "build.log"


class BuildError(Exception):
    """A freeze that cannot be built; ``exit_code`` as in cli.md."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class WorkerError(RuntimeError):
    """The analysis worker process raised (a bug) or ended without a result."""


class _RemoteTraceback(Exception):
    def __init__(self, text: str):
        super().__init__(text)

    def __str__(self) -> str:
        return "\n\nin the analysis worker process:\n" + self.args[0]


@dataclass
class BuildOutcome:
    out: Path
    results: dict | None  # per edition ({"closed": …, "open": …}); None when the output was up to date
    up_to_date: bool = False
    reason: str = ""  # why it was built ("no previous output", "changed: freeze (...)", "--force")
    notes: list[str] = field(default_factory=list)  # one-line remarks for the user (e.g. Quarto missing)


# --------------------------------------------------------------------------------------------- signals

INTERRUPTED = "interrupted; nothing was published"
SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})


class Interrupted(BaseException):
    """SIGINT (Ctrl-C) or SIGTERM ended a build before it published anything.

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on its way up
    (build-all carrying on past a broken freeze, a library) swallows it; the ``finally`` blocks
    on its way stop the worker process and remove the staging folder.  ``exit_code`` is
    128 + the signal's number (130, 143); ``message`` is the one line the command line prints.
    """

    def __init__(self, signum: int, message: str = INTERRUPTED):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
        self.message = message
        self.outcomes: list = []  # build-all: what was done before (the summary table)


class _Interrupts:
    """What ``interruptible`` (the command line's build and build-all) does with SIGINT and SIGTERM.

    Inside a build that has not begun publishing (``_abortable``) a signal raises Interrupted at
    once.  Anywhere else it waits in ``pending``: outside a build (between the freezes of
    build-all, which then stops before the next one), while the staging folder or the worker
    process is being made (``_held``: raised as soon as it is recorded, so that it is cleaned
    up), while the output is being swapped in (``commit``: that build completes) and during
    clean-up.  Once Interrupted has been raised, further signals are ignored: the clean-up is
    under way.

    Should the clean-up not end the process within ``GRACE`` seconds (the exception dropped
    inside a ``__del__``, a hung child), a watchdog thread, started beforehand so that the
    handler only sets an event, stops the worker, removes the staging folder, prints the line
    and ends the process.
    """

    GRACE = 1.5

    def __init__(self):
        self.installed = False
        self.held = 0  # > 0: a signal waits in pending
        self.pending: int | None = None
        self.stopping: int | None = None
        self.staging: set[Path] = set()  # what the watchdog removes and stops
        self.workers: set[int] = set()
        self.fired = threading.Event()
        self.closed = threading.Event()
        self.watchdog: threading.Thread | None = None

    def on_signal(self, signum, frame) -> None:
        if self.stopping is not None:
            return
        if self.held:
            self.pending = self.pending or signum
            return
        self.interrupt(signum)

    def interrupt(self, signum: int) -> None:
        self.stopping = signum
        self.fired.set()
        raise Interrupted(signum)

    def deliver(self) -> None:
        """Raise the signal that waited, now that a build may stop."""
        if self.installed and not self.held and self.pending is not None and self.stopping is None:
            self.interrupt(self.pending)

    def commit(self) -> None:
        """The build is about to publish: a signal that waited stops it now; later ones wait (the
        swap takes milliseconds, and a build that published says so)."""
        if self.installed:
            self.deliver()
            self.held += 1

    def _watch(self) -> None:
        self.fired.wait()
        if self.closed.wait(self.GRACE):
            return
        for pid in list(self.workers):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for path in list(self.staging):
            shutil.rmtree(path, ignore_errors=True)
        try:
            sys.stderr.write(f"alliance-report: {INTERRUPTED}\n")
            sys.stderr.flush()
        finally:
            os._exit(128 + (self.stopping or signal.SIGTERM))

    def unraisable(self, previous):
        """``sys.unraisablehook``: Interrupted raised inside a ``__del__`` or a callback cannot
        propagate; Python would print it with a traceback and drop it.  Dropped silently: the
        watchdog ends the process."""
        def hook(unraisable):
            if not isinstance(unraisable.exc_value, Interrupted):
                previous(unraisable)
        return hook


_interrupts = _Interrupts()


@contextmanager
def interruptible():
    """SIGINT and SIGTERM end ``build`` and ``build_all`` cleanly (see ``_Interrupts``) while the
    block runs; the previous handlers come back after it.  Main thread only."""
    state = _interrupts
    if state.installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    state.__init__()
    state.watchdog = threading.Thread(target=state._watch, name="interrupt-watchdog", daemon=True)
    state.watchdog.start()
    state.installed, state.held = True, 1
    previous = {signum: signal.signal(signum, state.on_signal) for signum in (signal.SIGINT, signal.SIGTERM)}
    previous_hook = sys.unraisablehook
    sys.unraisablehook = state.unraisable(previous_hook)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        sys.unraisablehook = previous_hook
        state.installed = False
        state.closed.set()
        state.fired.set()
        state.watchdog.join()


@contextmanager
def _abortable():
    """A build: a signal raises Interrupted until ``_interrupts.commit()``."""
    state = _interrupts
    if not state.installed:
        yield
        return
    state.held -= 1
    held = state.held
    try:
        state.deliver()
        yield
    finally:
        state.held = max(state.held, held + 1)  # as before, whether or not commit() held it already


@contextmanager
def _held():
    """Make something that must be recorded to be cleaned up (a folder, a process): a signal
    waits until it is recorded, and is raised right after."""
    state = _interrupts
    state.held += 1
    try:
        yield
    finally:
        state.held -= 1
    state.deliver()


# --------------------------------------------------------------------------------------------- paths


def default_out_dir(freeze, reports_root: Path = Path("reports")) -> Path:
    return reports_root / f"{freeze.manifest['study']}-{freeze.manifest['freeze_id']}"


def manifest_of(freeze_dir: Path) -> dict | None:
    """The manifest read as ``read_freeze`` reads it, or None when that is not possible."""
    try:
        manifest = files.load_json(files.read_file(Path(freeze_dir), "manifest.json", files.MANIFEST_LIMIT)
                                   .decode("utf-8-sig"))
    except (files.FileRefused, OSError, ValueError, TypeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _manifest_names(freeze_dir: Path) -> tuple[str, str] | None:
    """``(study, freeze_id)`` from the manifest, read with the json module only; None if not possible.

    A manifest that cannot give safe names is left to ``read_freeze`` and the manifest checks,
    which say what is wrong with it.  It is read as ``read_freeze`` reads it (``files``: a
    regular file, not through a link, never blocking, at most 1 MiB, JSON within bounds).
    """
    manifest = manifest_of(freeze_dir)
    try:
        study, freeze_id = manifest["study"], manifest["freeze_id"]
    except (TypeError, KeyError):
        return None
    if not all(isinstance(v, str) and files.NAME_RE.fullmatch(v) for v in (study, freeze_id)):
        return None
    return study, freeze_id


def output_name(freeze_dir: Path) -> str | None:
    """``<study>-<freeze_id>`` from the manifest; None if not possible (see ``_manifest_names``)."""
    names = _manifest_names(freeze_dir)
    return None if names is None else "-".join(names)


def study_of(freeze_dir: Path) -> Study | None:
    """The study configuration the manifest names; None when the manifest gives no usable name
    (validation says why).  A study without a configuration file is a usage error (exit 2)."""
    names = _manifest_names(freeze_dir)
    if names is None:
        return None
    try:
        return load_study(names[0])
    except StudyError as exc:
        raise BuildError(f"{freeze_dir}: {exc}", exit_code=2) from None


REPORT_MARKERS = ("report.html", LOG_FILE, ".fingerprint.json")


def check_out(out: Path) -> None:
    """Refuse an output path whose replacement would destroy something else than a report.

    Publishing replaces ``out`` as a whole: an existing folder is replaced only when it is
    empty or holds an earlier report (report.html, build.log or .fingerprint.json).
    """
    out = Path(out)
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise BuildError(f"--out {out}: exists and is not a folder", exit_code=2)
    if out.is_dir() and any(out.iterdir()) and not any((out / name).exists() for name in REPORT_MARKERS):
        raise BuildError(f"--out {out}: is a folder that holds no earlier report (no "
                         f"{', '.join(REPORT_MARKERS)}); a build replaces its output folder as a whole, "
                         "so name a new or empty folder", exit_code=2)


def check_out_of_freeze(freeze_dir: Path, out: Path) -> None:
    """Refuse an output inside the freeze folder (or the freeze folder itself), and a freeze
    inside the output (which a build replaces as a whole)."""
    try:
        freeze, target = Path(freeze_dir).resolve(), Path(out).resolve()
    except (OSError, RuntimeError):  # a loop of links: check_out and read_freeze say what is wrong
        return
    if target == freeze:
        raise BuildError(f"the output {out}/ is the freeze folder itself; name a folder outside the freeze "
                         "with --out", exit_code=2)
    if freeze in target.parents:
        raise BuildError(f"the output {out}/ is inside the freeze folder {freeze_dir}; a report is never written "
                         "into its freeze, name a folder outside it with --out", exit_code=2)
    if target in freeze.parents:
        raise BuildError(f"the output {out}/ holds the freeze folder {freeze_dir}, and a build replaces its "
                         "output as a whole; name a folder outside it with --out", exit_code=2)


def check_origin(freeze_dir: Path, out: Path, fp: Fingerprint) -> None:
    """Refuse to replace an output built from a freeze in another folder with other content
    (another trial's freeze with the same study and freeze_id, say); ``--force`` replaces it.

    The same folder (a corrected export, rebuilt as usual), the same content in another folder
    (a copy) and an output that does not say where it came from (built before this check) pass.
    """
    record = read_record(Path(out))
    previous = record.get("freeze_dir") if record else None
    if not isinstance(previous, str) or Path(previous) == Path(freeze_dir).resolve():
        return
    if (record.get("parts") or {}).get("freeze") == fp.parts["freeze"]:
        return
    raise BuildError(f"the output {out}/ holds the report of another freeze folder, {previous}, with other data "
                     f"than {freeze_dir}; --force replaces it, or name another --out", exit_code=2)


OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


@contextmanager
def _writing(out: Path):
    """An output location that cannot be written (read-only, no permission, full) is the
    user's to fix: exit 2 with one line naming it, instead of an internal error."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:
            raise
        hint = ("free some space there or name another --out" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                else "name a folder you can write to with --out")
        raise BuildError(f"cannot write the output {out}/ in {Path(out).parent} ({os.strerror(exc.errno)}); "
                         f"nothing was published, {hint}", exit_code=2) from None


PROBE_BYTES = 1 << 16


class _Temporary:
    """The staging folder of a build, and the parent folders it made for the output; ``remove``
    (at the end of every build, whatever happened) deletes the staging folder and those parents
    that are still empty (nothing was published)."""

    def __init__(self):
        self.staging: Path | None = None
        self.parents: list[Path] = []

    def make(self, out: Path) -> Path:
        """Made before the freeze is validated, with a write probe, so that an output location
        that is read-only, not ours or full is reported at once instead of after the whole build."""
        missing, folder = [], out.parent
        while not folder.is_dir() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            self.parents.append(folder)
        with _held():  # recorded before a signal may stop the build
            self.staging = Path(tempfile.mkdtemp(prefix=temporary_prefix(out, "building"), dir=out.parent))
            _interrupts.staging.add(self.staging)
        self.staging.chmod(0o755)  # mkdtemp makes it private; the published report is for readers
        probe = self.staging / ".probe"
        probe.write_bytes(bytes(PROBE_BYTES))
        probe.unlink()
        return self.staging

    def remove(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)  # after publish(): gone already
            _interrupts.staging.discard(self.staging)
        for folder in reversed(self.parents):
            try:
                folder.rmdir()
            except OSError:  # not empty: it holds the output now
                break


def build_date(freeze, settings: Settings) -> str | None:
    """The report date of the title block (``--build-date``), or None: the documents then carry
    no date of their own but the day the data were exported (from the results' provenance)."""
    return settings.build_date


def default_jobs() -> int:
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


# threads that may run when the worker forks: ours, and tqdm's monitor, which Great Expectations
# starts in the main process (it only sleeps and checks tqdm's bars; the worker uses no tqdm)
FORK_SAFE_THREADS = ("interrupt-watchdog", "worker-listener", "progress", "tqdm_monitor")


def fork_is_safe() -> bool:
    """Whether the worker may be forked: not on macOS (its system libraries are not fork-safe
    once initialized) and not while a thread that is not ours runs (a caller's thread may hold
    a lock that the forked child would never see released).  Otherwise one process does it all."""
    if sys.platform == "darwin":
        return False
    return all(thread is threading.main_thread() or thread.name in FORK_SAFE_THREADS
               for thread in threading.enumerate())


def quarto_executable() -> str | None:
    return shutil.which("quarto")


def effective_settings(settings: Settings, renderer: str) -> dict:
    """What the outputs depend on: the Settings, and Quarto only when it actually runs."""
    quarto = renderer == "quarto" and quarto_executable() is not None
    return {**settings.as_dict(), "renderer": "quarto" if quarto else "weasyprint"}


# --------------------------------------------------------------------------------------------- steps


class _Steps:
    """Timings of the steps (for build.log) and their progress display."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.records: list[tuple[str, str, float, str]] = []  # step, process, seconds, detail
        self._lock = threading.Lock()

    def record(self, name: str, where: str, seconds: float, detail: str = "") -> None:
        with self._lock:
            self.records.append((name, where, seconds, detail))

    @contextmanager
    def step(self, name: str, *, show: bool = True):
        info = {"detail": ""}
        if show:
            self.progress.start(name)
        t0 = time.perf_counter()
        try:
            yield info
        except BaseException:
            seconds = time.perf_counter() - t0
            if show:
                self.progress.failed(name)
            self.record(name, "main", seconds, "failed")
            raise
        seconds = time.perf_counter() - t0
        if show:
            self.progress.done(name, seconds, info["detail"])
        self.record(name, "main", seconds, info["detail"])


def _validate(freeze, steps: _Steps):
    from alliance_report.validation import format_report, prepare, validate_freeze

    with steps.step("validate") as info:
        with _importing():
            prepare()
        report = validate_freeze(freeze)
        n_failed, n_warnings = len(report.failed()), len(report.warnings())
        info["detail"] = f"{len(report.checks)} checks, {n_failed} failed, {n_warnings} warnings"
        if not report.ok:
            raise BuildError(f"the freeze {freeze.path} failed validation; no report was written\n"
                             + format_report(report), exit_code=1)
    return report


def _validate_previous(previous: Path, steps: _Steps, notes: list[str]) -> str | None:
    """Validate the previous freeze like any input; the reason it is not compared, or None.

    An invalid or unreadable previous freeze does not stop the build: the report says why it has
    no comparison (a note here, a line in the build log, the changes section of the report)."""
    from alliance_report.freeze import FreezeError, read_freeze
    from alliance_report.validation import validate_freeze

    problem = None
    with steps.step("validate previous") as info:
        try:
            report = validate_freeze(read_freeze(previous))
        except FreezeError as exc:
            problem = f"it cannot be read ({Path(exc.file).name}: {exc.reason})"
        else:
            info["detail"] = f"{len(report.checks)} checks, {len(report.failed())} failed"
            if not report.ok:
                problem = (f"it failed validation ({len(report.failed())} of {len(report.checks)} checks "
                           "failed)")
    if problem:  # the reason in the report names no folder (the open edition must not depend on paths)
        notes.append(f"the previous freeze {previous}: {problem}; the report has no comparison with it")
    return problem


def _analyse(freeze, settings: Settings) -> dict[str, dict]:
    """The results of each edition the settings ask for, and (key ``"arm_counts"``) the closed
    CONSORT counts that the open edition's guard checks against."""
    from alliance_report.analysis.consort import ConsortError
    from alliance_report.provenance import build_metadata
    from alliance_report.results import arm_counts, compute_editions

    try:
        results = compute_editions(freeze, settings, settings.editions(), build_metadata=build_metadata())
        if "open" in results:
            results["arm_counts"] = results["closed"]["consort"] if "closed" in results else arm_counts(freeze, settings)
        return results
    except ConsortError as exc:
        raise BuildError(f"{freeze.path}: {exc}; no report was written", exit_code=1) from None


def _compare(previous_dir: Path | None, freeze, settings: Settings) -> dict | None:
    """The comparison with the previous freeze (read, compared, key results), or None."""
    from alliance_report.comparison import prepare

    return None if previous_dir is None else prepare(previous_dir, freeze, settings)


def _add_changes(results: dict, comparison: dict | None, previous_problem: str | None) -> None:
    from alliance_report.comparison import add_changes

    add_changes(results, comparison, previous_problem)
    results["comparison"] = comparison if comparison and not previous_problem and "problem" not in comparison else None


def _editions(results: dict[str, dict]) -> dict[str, dict]:
    return {edition: results[edition] for edition in EDITIONS if edition in results}


def _figures(results: dict[str, dict]) -> dict[str, tuple]:
    from alliance_report.render.report import edition_figures

    return {edition: edition_figures(edition_results) for edition, edition_results in _editions(results).items()}


def _n_figures(figures: dict[str, tuple]) -> str:
    return f"{sum(len(f) for f in figures.values())} figures"


def _freeze_hashes(freeze) -> dict[str, str]:
    return {"manifest.json": freeze.manifest_sha256, **freeze.file_sha256}


# --------------------------------------------------------------------------------------------- render


@contextmanager
def _importing():
    """Import heavy libraries with Python's cyclic garbage collector off, then exempt every
    object alive (above all, what the imports made) from collection (``gc.freeze``) for the
    rest of the build.

    Why: a collection of the oldest generation scans every tracked object, and once pandas,
    Great Expectations and WeasyPrint are imported that is about 300,000 objects that live as
    long as the process.  Measured with ``gc.callbacks`` on the demo build: with Python's
    default thresholds the main process spent 1.2–1.6 s collecting (0.3 s with the imports
    frozen); with the command line's raised threshold (``cli._tune_gc``) 0.26–0.29 s in the
    main process and 0.16–0.22 s in the worker, and with the imports frozen as well 0.00 s and
    0.12 s.  ``build`` unfreezes at its end (``gc.unfreeze``), so a long-lived process
    (build-all, or ``build`` called from Python) still collects everything eventually; not
    when the caller had frozen objects itself (``gc.unfreeze`` cannot tell theirs from ours).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()


def _import_shared() -> None:
    """What both processes need (pandas, numpy, scipy.stats: ~1.5 s), imported once, before the fork."""
    import scipy.stats  # noqa: F401  (Great Expectations and statsmodels both import it)

    import alliance_report.freeze  # noqa: F401  (pandas, numpy)


def _load_pdf_writer() -> None:
    """Import WeasyPrint (about 1 s) ahead of its first use (in the worker: while the main
    process validates)."""
    import logging

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    with _importing():
        import weasyprint  # noqa: F401


def _render(results: dict[str, dict], figures: dict[str, tuple], validation: dict, date: str) -> dict:
    """Each edition's report; the open one is checked for counts by arm before anything is written."""
    from alliance_report.render.open_guard import arm_mentions
    from alliance_report.render.report import build_report

    reports = {edition: build_report(edition_results, validation, date, figures[edition])
               for edition, edition_results in _editions(results).items()}
    if "open" in reports:
        mentions = arm_mentions(reports["open"], results["arm_counts"])
        if mentions:
            raise BuildError("the open edition mentions an arm with one of its counts ("
                             + "; ".join(mentions[:5]) + "): a template or table puts data by arm into "
                             "the edition that must have none; nothing was published", exit_code=3)
    return reports


def edition_folder(staging: Path, edition: str) -> Path:
    """Where an edition goes: the closed edition at the output's root, the open one in ``open/``."""
    return staging / "open" if edition == "open" else staging


def _write(results: dict[str, dict], reports: dict, validation: dict, staging: Path) -> None:
    """Every output file but the PDFs into ``staging`` (build.log and the fingerprint come later)."""
    from alliance_report.render.report import write_report_files
    from alliance_report.results import write_results

    (staging / "validation.json").write_text(
        json.dumps(validation, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if results.get("comparison"):
        from alliance_report.changes import changes_csv

        changes = results["comparison"]["changes"]
        (staging / "changes.json").write_text(json.dumps(changes, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        (staging / "changes.csv").write_text(changes_csv(changes), encoding="utf-8")
    for edition, report in reports.items():
        folder = edition_folder(staging, edition)
        folder.mkdir(exist_ok=True)
        write_results(results[edition], folder / "results.json")
        write_report_files(report, folder)


def _write_pdf(reports: dict, staging: Path, leave: tuple[str, ...] = ()) -> list[str]:
    """Each edition's report.pdf from its report.html (but the editions in ``leave``); after
    ``_write``, whose figures/*.png the PDF embeds.  Returns the pagination problems found."""
    return [problem for edition in reports if edition not in leave
            for problem in _write_edition_pdf(staging, edition)]


def _write_edition_pdf(staging: Path, edition: str) -> list[str]:
    """One edition's report.pdf from the report.html written beside it; its pagination problems."""
    from alliance_report.render.report import edition_attachments, write_pdf

    folder = edition_folder(staging, edition)
    html = (folder / "report.html").read_text(encoding="utf-8")
    return [f"{edition} edition, {problem}"
            for problem in write_pdf(html, folder / "report.pdf", folder, edition_attachments(edition, folder))]


def _pdf_in_main(settings: Settings) -> tuple[str, ...]:
    """The editions whose PDF the main process writes while the worker writes the other's: the
    open one when both are built (the PDFs are the longest step, and the main process is idle
    after validating)."""
    return ("open",) if len(settings.editions()) > 1 else ()


WRITE_DETAIL = "report.html, report.qmd, results.json, validation.json, figures/, tables/ (and open/)"
PDF_DETAIL = "report.pdf (WeasyPrint)"


# --------------------------------------------------------------------------------------------- build


def build(freeze_dir: Path, out: Path | None = None, settings: Settings | None = None, *,
          force: bool = False, progress: Progress | None = None, jobs: int | None = None,
          renderer: str = "weasyprint", reports_root: Path = Path("reports"),
          command: str | None = None, previous: Path | None = None) -> BuildOutcome:
    """Build ``freeze_dir`` into ``out`` (default ``<reports_root>/<study>-<freeze_id>/``),
    compared with the freeze in ``previous`` when given (committee-reports.md, "Changes since
    the previous freeze").

    Raises FreezeError (unreadable input), BuildError (invalid freeze: exit code 1; an output
    that may not or cannot be written: 2), Interrupted (SIGINT or SIGTERM, under
    ``interruptible``) or, for a bug, any other exception; in every such case nothing was
    written.  ``force`` rebuilds an up-to-date output and replaces one built from another
    freeze folder with other data.
    """
    with _abortable():
        return _build_freeze(freeze_dir, out, settings, force=force, progress=progress, jobs=jobs,
                             renderer=renderer, reports_root=reports_root, command=command,
                             previous=None if previous is None else Path(previous))


def _build_freeze(freeze_dir, out, settings, *, force, progress, jobs, renderer, reports_root,
                  command, previous) -> BuildOutcome:
    settings = settings or Settings()
    progress = progress or Progress(quiet=True)
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}")
    jobs = default_jobs() if jobs is None else max(1, jobs)
    freeze_dir = Path(freeze_dir)
    steps = _Steps(progress)
    started_at = dt.datetime.now(dt.timezone.utc)
    t_start = time.perf_counter()
    notes = []
    if renderer == "quarto" and quarto_executable() is None:
        notes.append("Quarto is not installed (no quarto on PATH): report.pdf was made with WeasyPrint, "
                     "report.qmd is ready for `quarto render` elsewhere.")

    # 1. fingerprint: nothing to do when the previous output is this very build
    name = output_name(freeze_dir) if freeze_dir.is_dir() else None
    if name is not None:
        study_of(freeze_dir)  # a study without its studies/<study>.toml: a usage error, before any work
    if out is None and name is not None:
        out = reports_root / name
    if out is not None:
        check_out_of_freeze(freeze_dir, out)
        check_out(out)
        note_leftovers(out, notes)
    fp = None
    reason = "no previous output"
    if freeze_dir.is_dir():
        with steps.step("fingerprint", show=False) as info:
            fp = fingerprint(freeze_dir, effective_settings(settings, renderer), previous)
            info["detail"] = fp.digest[:16]
        if out is not None:
            if not force:
                check_origin(freeze_dir, out, fp)
            current, reason = up_to_date(Path(out), fp)
            if current and not force:
                return BuildOutcome(Path(out), None, up_to_date=True, notes=notes)
            if force:
                reason = "--force"

    worker = None
    temporary = _Temporary()
    frozen_by_caller = gc.get_freeze_count() > 0
    try:
        if out is not None:  # an output location that cannot be written: said now, not after validation
            with _writing(out):
                temporary.make(Path(out))
        processes = jobs  # what build.log says
        if jobs > 1 and fp is not None and not fork_is_safe():
            jobs = 1
            processes = "1 (forking a worker is not safe here: macOS, or other threads are running)"
        if jobs > 1 and fp is not None:
            with steps.step("imports", show=False), _importing():
                _import_shared()
            try:
                from alliance_report.worker import Worker

                with _held():  # recorded before a signal may stop the build
                    worker = Worker(freeze_dir, settings, steps, previous)
            except OSError:  # no process to spare (ulimit): one process does it all
                jobs = processes = 1
        return _build(freeze_dir, out, settings, fp, reason, steps, worker, renderer, reports_root,
                      notes, started_at, t_start, command, processes, temporary, previous)
    finally:
        with _held():  # the clean-up is not cut short by a signal
            if worker is not None:
                worker.stop()  # before the staging folder goes: the worker may still be writing into it
            temporary.remove()
            progress.close()
            if not frozen_by_caller:
                gc.unfreeze()


def _build(freeze_dir, out, settings, fp, reason, steps, worker, renderer, reports_root, notes,
           started_at, t_start, command, jobs, temporary, previous) -> BuildOutcome:
    from alliance_report.freeze import read_freeze

    with steps.step("read") as info:
        freeze = read_freeze(freeze_dir)
        info["detail"] = ", ".join(f"{name} {len(table):,} rows" for name, table in freeze.tables.items()
                                   if name in ("participants.csv", "questionnaires.csv"))
    if fp.parts["freeze"] != _freeze_hashes(freeze):
        raise BuildError(f"{freeze_dir}: the freeze changed while it was being read; build again", exit_code=1)

    validation = _validate(freeze, steps).to_dict()
    previous_problem = _validate_previous(previous, steps, notes) if previous is not None else None
    date = build_date(freeze, settings)

    if out is None:  # not reachable for a readable freeze (its manifest names the output); kept for safety
        out = default_out_dir(freeze, reports_root)
        check_out_of_freeze(freeze_dir, out)
        check_out(out)
        note_leftovers(out, notes)
    out = Path(out)
    with _writing(out):
        staging = temporary.staging or temporary.make(out)
        layout: list[str] = []  # pagination problems of the PDFs (render/pagination.py)
        if worker is not None:
            pdf_in_main = _pdf_in_main(settings)
            worker.go(validation, staging, date, previous_problem, pdf_in_main)
            if pdf_in_main:
                with steps.step("load", show=False):
                    _load_pdf_writer()
                with steps.step("wait", show=False):
                    files = worker.files_written()
                for edition in pdf_in_main if files else ():
                    with steps.step(f"pdf {edition}") as info:
                        layout += _write_edition_pdf(staging, edition)
                        info["detail"] = f"{edition}/report.pdf (WeasyPrint)"
            with steps.step("wait", show=False):
                written = worker.result()
            results, layout = written["results"], written["layout"] + layout
            if worker.hashes != _freeze_hashes(freeze):
                raise BuildError(f"{freeze_dir}: the freeze changed during the build; build again", exit_code=1)
        else:
            with steps.step("analyse"):
                results = _analyse(freeze, settings)
            if previous is not None:
                with steps.step("compare"):
                    comparison = _compare(previous, freeze, settings)
            _add_changes(results, comparison if previous is not None else None, previous_problem)
            with steps.step("figures") as info:
                figures = _figures(results)
                info["detail"] = _n_figures(figures)
            with steps.step("render"):
                reports = _render(results, figures, validation, date)
            with steps.step("write") as info:
                _write(results, reports, validation, staging)
                info["detail"] = WRITE_DETAIL
            with steps.step("load", show=False):
                _load_pdf_writer()
            with steps.step("pdf") as info:
                layout = _write_pdf(reports, staging)
                info["detail"] = PDF_DETAIL
            results = _editions(results)
        if fp.parts["settings"]["renderer"] == "quarto":
            with steps.step("quarto"):
                _quarto(staging)
        steps.record("total", "", time.perf_counter() - t_start)
        notes += [f"the PDF breaks a pagination rule ({problem}); the report is published" for problem in layout]
        _write_log(staging / LOG_FILE, freeze_dir=freeze_dir, out=out, fp=fp, reason=reason, steps=steps,
                   validation=validation, started_at=started_at, command=command, jobs=jobs,
                   renderer=renderer, previous=previous, previous_problem=previous_problem, layout=layout)
        write_record(staging, fp, freeze_dir=freeze_dir)
        _interrupts.commit()  # from here on a signal no longer stops the build: it publishes
        publish(staging, out)
    return BuildOutcome(out, results, reason=reason, notes=notes)


def _quarto(staging: Path) -> None:
    """``quarto render report.qmd`` into ``quarto/`` of the output (WeasyPrint's files stay)."""
    exe = quarto_executable()
    proc = subprocess.run([exe, "render", "report.qmd", "--output-dir", "quarto"], cwd=staging,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BuildError(f"quarto render report.qmd failed (exit code {proc.returncode}); "
                         f"nothing was published\n{tail}", exit_code=3)


def _write_log(path: Path, *, freeze_dir, out, fp: Fingerprint, reason, steps: _Steps, validation,
               started_at, command, jobs, renderer, previous=None, previous_problem=None, layout=()) -> None:
    parts = fp.parts
    env = parts["environment"]
    lines = [
        f"alliance-report {__version__} build",
        f"command:      {command or 'alliance-report build'}",
        f"started:      {started_at.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"freeze:       {Path(freeze_dir).resolve()}",
        f"previous:     {Path(previous).resolve() if previous is not None else '(none)'}"
        + (f" — not compared: {previous_problem}" if previous_problem else ""),
        f"output:       {Path(out).resolve()}",
        f"why built:    {reason}",
        "settings:     " + ", ".join(f"{k}={v}" for k, v in parts["settings"].items()),
        f"renderer:     {renderer}" + ("" if parts["settings"]["renderer"] == renderer else " (not installed: WeasyPrint)"),
        f"processes:    {jobs}",
        "",
        "inputs (SHA-256):",
        *(f"  {name:<22} {digest}" for name, digest in parts["freeze"].items()),
        f"  {'code':<22} {parts['code']['sha256']}  ({parts['code']['files']} files: alliance_report/**/*.py and *.json, "
        "report_templates/, expectations/, studies/)",
        f"  {'requirements.lock':<22} {env['requirements.lock']}" if "requirements.lock" in env else
        f"  {'installed packages':<22} {env['installed']['sha256']}  ({env['installed']['distributions']} "
        "distributions, name==version: an installed package has no requirements.lock)",
        f"  python {env['python']}; " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
        f"fingerprint:  {fp.digest}",
        "",
        "steps (seconds; the worker process runs beside the main one):",
    ]
    for name, where, seconds, detail in steps.records:
        lines.append(f"  {name:<12} {where:<7} {seconds:8.2f}" + (f"   {detail}" if detail else ""))
    v = validation
    lines += ["", f"validation:   {v['n_checks']} checks, {v['n_failed']} failed, {v['n_warnings']} warnings",
              f"layout:       {len(layout)} pagination problem{'' if len(layout) == 1 else 's'} in the PDF"
              + "".join(f"\n  {problem}" for problem in layout),
              "outcome:      built", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
