"""Fixtures shared by test files: a small simulated freeze, the demo freeze and one simulated
trial at three cut-offs, each built once per test session; and a memo of Great Expectations
runs (``ge_memo``): a run is skipped only when GE already validated an identical input in this
test process (production code has no cache).

``make test`` runs the tests in two processes (pytest-xdist, ``-n auto --dist loadfile``: the
tests of a file stay in one process, so a module's fixtures are made once).  The session's
builds are made once for all of them: the first process that needs one builds it into a folder
both share, under a lock; the other waits for it and reads it."""

from __future__ import annotations

import fcntl
import shutil
import sys
from pathlib import Path
from typing import Callable

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ge_memo import memo_ge_runs  # noqa: E402,F401  (autouse: Great Expectations runs memoized for the session)

SMALL_FREEZE_ID = "small-a"
# one simulated trial (the demo's seed) cut very early, in the middle of recruitment and late
SEQUENCE_CUTOFFS = ("2014-03-01", "2015-03-01", "2016-06-01")


def small_freeze(path: Path, freeze_id: str, seed: int = 5, n: int = 60) -> Path:
    """A small simulated freeze (60 randomized by default)."""
    from alliance_report.simulation import simulate_freeze

    return simulate_freeze(path, n_randomized=n, seed=seed, freeze_id=freeze_id)


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``make(folder)`` once per test session, also when the
    session runs in several processes (the folder sits beside their temporary folders)."""
    root = tmp_path_factory.getbasetemp()
    if root.name.startswith("popen-gw"):  # a pytest-xdist worker: its parent is the session's
        root = root.parent
    folder, done = root / f"shared-{name}", root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


def _build(freeze: Path, out: Path, *options: str) -> None:
    from alliance_report.cli import main

    assert main(["build", str(freeze), "--out", str(out), "--quiet", *options]) == 0


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """One small freeze built once (two processes, the default): (freeze, out).  Tests copy what
    they change and never modify either folder."""
    def make(root: Path) -> None:
        _build(small_freeze(root / "freeze", SMALL_FREEZE_ID), root / "out")

    root = made_once(tmp_path_factory, "small-build", make)
    return root / "freeze", root / "out"


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory):
    """The demo freeze built once (both editions): its output folder.  Tests never modify it."""
    from alliance_report import DEMO_FREEZE

    return made_once(tmp_path_factory, "demo-build", lambda root: _build(DEMO_FREEZE, root / "out")) / "out"


@pytest.fixture(scope="session")
def sequence_built(tmp_path_factory):
    """The demo trial at ``SEQUENCE_CUTOFFS``, built by build-all (both editions; each freeze
    compared with the one before): (freezes folder, reports root).  Tests never modify them."""
    from alliance_report.cli import main
    from alliance_report.simulation import simulate_freeze

    def make(root: Path) -> None:
        for cutoff in SEQUENCE_CUTOFFS:
            simulate_freeze(root / "freezes" / f"cut-{cutoff}", cutoff_date=cutoff)
        assert main(["build-all", str(root / "freezes"), "--out-root", str(root / "reports"), "--quiet"]) == 0

    root = made_once(tmp_path_factory, "sequence", make)
    return root / "freezes", root / "reports"
