"""Progress of a build on stderr, and the timings of its steps (``Timings``, for build.log).

* On a terminal: one status line, redrawn ten times a second, with a spinner and the elapsed
  time of every running step (steps may run at the same time in two processes), and one
  permanent line per finished step.
* Otherwise (a log file, CI, a pipe): exactly one line per finished step,
  ``alliance-report: <step>[: <detail>] (<seconds> s)``, and nothing for a step that failed
  (the error message says what went wrong).
* ``quiet``: nothing at all.

Thread-safe: worker-process events are reported from a listener thread of the main process.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
ASCII_SPINNER = "|/-\\"
TICK = 0.1


def is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class Progress:
    def __init__(self, stream=None, *, quiet: bool = False, terminal: bool | None = None,
                 prefix: str = "alliance-report"):
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.terminal = is_terminal(self.stream) if terminal is None else terminal
        self.prefix = prefix
        self._running: dict[str, float] = {}  # step -> start time
        self._lock = threading.RLock()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._frame = 0
        encoding = (getattr(self.stream, "encoding", None) or "").lower().replace("-", "")
        self._spinner = SPINNER if encoding == "utf8" else ASCII_SPINNER
        self._tick_mark = "✓" if encoding == "utf8" else "ok"

    # ------------------------------------------------------------------ events

    def start(self, step: str) -> None:
        with self._lock:
            self._running[step] = time.perf_counter()
            if self.terminal and not self.quiet:
                self._ensure_ticker()
                self._draw()

    def done(self, step: str, seconds: float, detail: str = "") -> None:
        with self._lock:
            self._running.pop(step, None)
            if self.quiet:
                return
            if self.terminal:
                mark = self._tick_mark
                text = f"  {mark} {step:<9} {detail + '  ' if detail else ''}{seconds:.1f} s"
                self._write("\r\x1b[K" + text + "\n")
                self._draw()
            else:
                self._write(f"{self.prefix}: {step}{': ' + detail if detail else ''} ({seconds:.1f} s)\n")

    def failed(self, step: str) -> None:
        """A step that raised: no line (the error message follows), the status line cleared."""
        with self._lock:
            self._running.pop(step, None)
            if self.terminal and not self.quiet:
                self._write("\r\x1b[K")
                self._draw()

    # ------------------------------------------------------------------ terminal status line

    def _status(self) -> str:
        now = time.perf_counter()
        spin = self._spinner[self._frame % len(self._spinner)]
        steps = " · ".join(f"{step} {now - t0:.1f} s" for step, t0 in self._running.items())
        return f"{spin} {steps}" if steps else ""

    def _draw(self) -> None:
        if self.terminal and not self.quiet:
            self._write("\r\x1b[K" + self._status())

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _ensure_ticker(self) -> None:
        if self._ticker is None or not self._ticker.is_alive():
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(TICK):
            with self._lock:
                self._frame += 1
                if self._running:
                    self._draw()

    def _halt_ticker(self) -> None:
        ticker = self._ticker
        if ticker is not None:
            self._stop.set()
            ticker.join()
            self._ticker = None

    @contextmanager
    def paused(self):
        """No progress thread while the block runs (fork a worker process inside it)."""
        self._halt_ticker()  # without the lock: the ticker takes it to finish its last frame
        try:
            yield
        finally:
            with self._lock:
                if self._running and self.terminal and not self.quiet:
                    self._ensure_ticker()

    def close(self) -> None:
        self._halt_ticker()
        with self._lock:
            self._running.clear()
            if self.terminal and not self.quiet:
                self._write("\r\x1b[K")


class Timings:
    """The seconds of each step of a build, in the process that ran it (for build.log), and their
    progress display; the worker's steps are recorded by the main process's listener thread."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.records: list[tuple[str, str, float, str]] = []  # step, process, seconds, detail
        self._lock = threading.Lock()

    def record(self, name: str, where: str, seconds: float, detail: str = "") -> None:
        with self._lock:
            self.records.append((name, where, seconds, detail))

    @contextmanager
    def step(self, name: str, *, show: bool = True):
        """Time the block as step ``name`` of the main process (on the progress display unless
        ``show`` is false); the block may set ``info["detail"]``, the step's note in build.log."""
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
