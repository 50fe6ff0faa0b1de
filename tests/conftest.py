"""Fixtures shared by test files: a small simulated freeze, the demo freeze and one simulated
trial at three cut-offs, each built once per test session; a memo of Great Expectations runs
(``ge_memo``): a run is skipped only when GE already validated an identical input in this test
process; and a memo of figures and PDFs (``render_memo``), keyed by their complete input and
shared by the session's processes — a test marked ``real_renders`` bypasses it.  Production code
has no cache.

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
from render_memo import memoized_renders, real_renders  # noqa: E402,F401  (real_renders: autouse, per test)

# the session's builds that `make test` never makes (its 90 s budget): the small freeze (~15 s of
# CPU) and the trial cut three times (~40 s); a test that needs one is marked slow
SLOW_BUILDS = ("built", "sequence_built")


def pytest_collection_modifyitems(config, items):
    """Refuse a test outside `make test-slow` that asks for one of ``SLOW_BUILDS`` by name."""
    unmarked = [item.nodeid for item in items
                if item.get_closest_marker("slow") is None and set(SLOW_BUILDS) & set(getattr(item, "fixturenames", ()))]
    if unmarked:
        raise pytest.UsageError("these tests use a build that only `make test-slow` makes ("
                                + ", ".join(SLOW_BUILDS) + "); mark them @pytest.mark.slow or use demo_pair: "
                                + ", ".join(unmarked[:5]))


def fast_sample(cases, fast) -> list:
    """``cases`` as parametrize values, each one not in ``fast`` marked ``slow``: ``make test`` runs
    the representative cases ``fast`` (one of each kind), ``make test-slow`` the rest of the matrix."""
    missing = set(fast) - set(cases)
    assert not missing, f"not cases: {sorted(missing)}"
    return [case if case in fast else pytest.param(case, marks=pytest.mark.slow) for case in cases]


SMALL_FREEZE_ID = "small-a"
# one simulated trial (the demo's seed) cut very early, in the middle of recruitment and late
SEQUENCE_CUTOFFS = ("2014-03-01", "2015-03-01", "2016-06-01")


def small_freeze(path: Path, freeze_id: str, seed: int = 5, n: int = 60) -> Path:
    """A small simulated freeze (60 randomized by default)."""
    from alliance_report.simulation import simulate_freeze

    return simulate_freeze(path, n_randomized=n, seed=seed, freeze_id=freeze_id)


def session_root(tmp_path_factory) -> Path:
    """The test session's temporary folder, the same in every pytest-xdist process."""
    root = tmp_path_factory.getbasetemp()
    return root.parent if root.name.startswith("popen-gw") else root  # a worker's: its parent


@pytest.fixture(autouse=True, scope="session")
def memo_renders(tmp_path_factory):
    """Figures and PDFs memoized for the session, shared by its processes (``render_memo``)."""
    with memoized_renders(session_root(tmp_path_factory) / "shared-render-memo"):
        yield


def made_once(tmp_path_factory, name: str, make: Callable[[Path], None]) -> Path:
    """The folder ``name``, filled by ``make(folder)`` once per test session, also when the
    session runs in several processes (the folder sits beside their temporary folders)."""
    root = session_root(tmp_path_factory)
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
def demo_pair(demo_built):
    """``demo_built`` as ``built`` gives its build: (freeze, out).  Tests never modify either."""
    from alliance_report import DEMO_FREEZE

    return DEMO_FREEZE, demo_built


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
