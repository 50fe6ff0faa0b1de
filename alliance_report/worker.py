"""The forked worker of a two-process build (see :mod:`alliance_report.build`).

After the fingerprint, the main process forks it: it reads the freeze, analyses it (and the
previous freeze, with ``--previous``), draws the figures and imports WeasyPrint while the main
process validates; on the main process's order it renders and writes every output file, the
PDF last.  When both editions are built, it sends the open edition's results to the main
process as soon as they are computed and makes only the closed edition: the main process makes
the open one once it has validated (``steps.open_in_main``).  Every step's start and end, and
the outcome, go back through a pipe; :class:`Worker` is the main process's side of it.

Whether to fork at all: two processes by default where the platform can fork and has two cores
(``default_jobs``), and only while no thread but ours runs, never on macOS (``fork_is_safe``);
otherwise one process runs every step, with byte-identical outputs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path

from alliance_report import interrupts, steps  # the steps looked up at each call (tests may replace one)
from alliance_report.errors import BuildError
from alliance_report.progress import Timings
from alliance_report.settings import Settings


def default_jobs() -> int:
    """The number of processes of a build without ``--jobs``: 2 where a worker can be forked and
    there are two cores or more, else 1."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def processes(jobs: int | None) -> int:
    """The processes of a build asked for ``--jobs``: :func:`default_jobs` without it, else 1 or 2
    (a build has two processes at most: more than 2 run as 2, and build.log says 2)."""
    return default_jobs() if jobs is None else min(2, max(1, jobs))


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


class WorkerError(RuntimeError):
    """The analysis worker process raised (a bug) or ended without a result."""


class RemoteTraceback(Exception):
    """The worker's traceback, as text, attached to the WorkerError it becomes (``__cause__``)."""

    def __init__(self, text: str):
        super().__init__(text)

    def __str__(self) -> str:
        return "\n\nin the analysis worker process:\n" + self.args[0]


def _worker_main(events, orders, parent_ends, freeze_dir: Path, settings: Settings,
                 previous_dir: Path | None = None, open_in_main: bool = False) -> None:
    """The forked worker: read, analyse, draw the figures and import WeasyPrint while the main
    process validates; then, on the main process's order (the freeze is valid; here are the
    validation results and the staging folder), render and write every output file.  With
    ``open_in_main``, the open edition's results and the comparison go to the main process
    right after the analysis, and the worker makes the closed edition only.

    Every step's start and end, and the outcome, go to the main process through ``events``.
    """
    def timed(name, function, *args, detail=lambda value: ""):
        events.send(("start", name))
        t0 = time.perf_counter()
        value = function(*args)
        events.send(("done", name, time.perf_counter() - t0, detail(value)))
        return value

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the main
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # process decides, and its terminate() ends us at once
    signal.pthread_sigmask(signal.SIG_UNBLOCK, interrupts.SIGNALS)  # blocked by the main process around the fork
    for end in parent_ends:  # the main process's ends of the pipes: without them here, an order
        end.close()          # pipe whose main process has gone reads as end-of-file
    writing = False
    try:
        from alliance_report.freeze import read_freeze

        freeze = timed("read", read_freeze, freeze_dir)
        results = timed("analyse", steps.analyse, freeze, settings)
        comparison = timed("compare", steps.compare, previous_dir, freeze, settings) if previous_dir else None
        if open_in_main:
            events.send(("open", results.pop("open"), comparison))
        figures = timed("figures", steps.draw_figures, results, detail=steps.n_figures)
        timed("load", steps.load_pdf_writer)
        # ("go", validation, staging, date, previous_problem); EOF: we are not needed
        _, validation, staging, date, previous_problem = orders.recv()
        steps.add_changes(results, comparison, previous_problem)
        writing = True
        events.send(("hashes", steps.freeze_hashes(freeze)))
        reports = timed("render", steps.render_reports, results, figures, validation, date)
        timed("write", steps.write_files, results, reports, validation, Path(staging),
              detail=lambda _: steps.write_detail(reports))
        layout = timed("pdf", steps.write_pdfs, reports, Path(staging), detail=lambda _: steps.PDF_DETAIL)
        events.send(("written", {"results": steps.editions(results), "layout": layout}))
    except EOFError:
        pass  # the main process needs nothing more (the freeze was invalid)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the main process
        error = {"type": type(exc).__name__, "message": str(exc), "traceback": traceback.format_exc()}
        if isinstance(exc, BuildError):
            error["exit_code"] = exc.exit_code
        if type(exc).__name__ == "FreezeError":
            error["freeze_error"] = (exc.file, exc.reason, bool(exc.usage))
        if writing and isinstance(exc, OSError) and exc.errno is not None:
            error["os_error"] = (exc.errno, exc.strerror, exc.filename)  # e.g. the disk is full: exit 2
        try:
            events.send(("error", error))
        except Exception:  # noqa: BLE001
            pass
    finally:
        events.close()


class Worker:
    """The forked worker process and the listener thread that receives its events."""

    SHOWN = ("analyse", "compare", "figures", "render", "write", "pdf")  # read: the main process reads too; load: silent

    def __init__(self, freeze_dir: Path, settings: Settings, timings: Timings, previous_dir: Path | None = None):
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        self.timings = timings
        self.open_in_main = steps.open_in_main(settings)
        self.events, child_events = ctx.Pipe(duplex=False)
        child_orders, self.orders = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker_main,
                                   args=(child_events, child_orders, (self.events, self.orders), freeze_dir, settings,
                                         previous_dir, self.open_in_main),
                                   name="alliance-report-worker", daemon=True)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, interrupts.SIGNALS)  # until the worker has its own handlers
        try:
            with timings.progress.paused():  # no thread of ours runs while the process forks
                self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        interrupts.state.workers.add(self.process.pid)
        child_events.close()
        child_orders.close()
        self.message = None  # ("written", payload) or ("error", info)
        self.hashes = None
        self.finished = threading.Event()
        self.open = None  # with open_in_main: (the open edition's results, the comparison)
        self.open_sent = threading.Event()  # the open edition's results are here (or the worker has ended)
        self._running: set[str] = set()
        self.listener = threading.Thread(target=self._listen, name="worker-listener", daemon=True)
        self.listener.start()

    def _listen(self) -> None:
        try:
            while True:
                try:
                    message = self.events.recv()
                except (EOFError, OSError):
                    break
                kind = message[0]
                if kind == "start":
                    self._running.add(message[1])
                    if message[1] in self.SHOWN:
                        self.timings.progress.start(message[1])
                elif kind == "done":
                    name, seconds, detail = message[1:]
                    self._running.discard(name)
                    self.timings.record(name, "worker", seconds, detail)
                    if name in self.SHOWN:
                        self.timings.progress.done(name, seconds, detail)
                elif kind == "hashes":
                    self.hashes = message[1]
                elif kind == "open":
                    self.open = message[1:]
                    self.open_sent.set()
                else:
                    if kind == "error":
                        for name in self._running & set(self.SHOWN):
                            self.timings.progress.failed(name)
                    self.message = message
                    break
        finally:
            self.finished.set()
            self.open_sent.set()

    def go(self, validation: dict, staging: Path, date: str, previous_problem: str | None = None) -> None:
        """The freeze is valid: render and write into ``staging`` (``previous_problem``: why the
        previous freeze is not compared, e.g. it failed validation)."""
        try:
            self.orders.send(("go", validation, str(staging), date, previous_problem))
        except OSError:
            pass  # the worker has ended already; result() says why

    def open_results(self) -> tuple[dict, dict | None] | None:
        """With ``open_in_main``: wait for (the open edition's results, the comparison); None if
        the worker ended before sending them (``result`` says why)."""
        self.open_sent.wait()
        return self.open

    def result(self) -> dict:
        """Wait for the worker to have written every file; raise what it raised."""
        self.finished.wait()
        self.process.join()
        if self.message is None:
            raise WorkerError(f"the worker process ended without a result (exit code {self.process.exitcode})")
        kind, payload = self.message
        if kind == "written":
            return payload
        if "freeze_error" in payload:
            from alliance_report.freeze import FreezeError

            file, reason, usage = payload["freeze_error"]
            raise FreezeError(file, reason, usage=usage)
        if "exit_code" in payload:
            raise BuildError(payload["message"], payload["exit_code"])
        if "os_error" in payload:  # writing the output failed (the caller says whether that is the user's)
            raise OSError(*payload["os_error"])
        raise WorkerError(f"{payload['type']}: {payload['message']}") from RemoteTraceback(payload["traceback"])

    def stop(self) -> None:
        """Stop the worker (when its work is not needed any more) and the listener; idempotent."""
        self.orders.close()
        if self.process.is_alive():
            self.process.terminate()
        self.process.join()
        interrupts.state.workers.discard(self.process.pid)
        self.listener.join(timeout=5)
        self.events.close()
