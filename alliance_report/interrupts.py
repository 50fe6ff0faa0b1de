"""SIGINT and SIGTERM during a build: stop it cleanly before it publishes, never during.

Under ``interruptible`` (the command line's build and build-all), SIGINT and SIGTERM end a build
that has not begun to publish with ``Interrupted`` (exit 130 / 143): on its way up, the
``finally`` blocks of the build stop the worker process and remove the staging folder, so that
nothing was published and an existing output is as it was.  A signal that comes while something
that must be cleaned up is being made (``held``), while the output is being swapped in
(``state.commit()``) or between two freezes of build-all waits until the build may stop, or
until the next freeze.  Outside ``interruptible`` (``build`` called from Python) the handlers
are Python's own.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

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


class Interrupts:
    """What ``interruptible`` (the command line's build and build-all) does with SIGINT and SIGTERM.

    Inside a build that has not begun publishing (``abortable``) a signal raises Interrupted at
    once.  Anywhere else it waits in ``pending``: outside a build (between the freezes of
    build-all, which then stops before the next one), while the staging folder or the worker
    process is being made (``held``: raised as soon as it is recorded, so that it is cleaned
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


state = Interrupts()


@contextmanager
def interruptible():
    """SIGINT and SIGTERM end ``build`` and ``build_all`` cleanly (see ``Interrupts``) while the
    block runs; the previous handlers come back after it.  Main thread only."""
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
def abortable():
    """A build: a signal raises Interrupted until ``state.commit()``."""
    if not state.installed:
        yield
        return
    state.held -= 1
    level = state.held
    try:
        state.deliver()
        yield
    finally:
        state.held = max(state.held, level + 1)  # as before, whether or not commit() held it already


@contextmanager
def held():
    """Make something that must be recorded to be cleaned up (a folder, a process): a signal
    waits until it is recorded, and is raised right after."""
    state.held += 1
    try:
        yield
    finally:
        state.held -= 1
    state.deliver()
