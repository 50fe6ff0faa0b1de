"""Fixtures shared by test files: one small simulated freeze built once per test session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

SMALL_FREEZE_ID = "small-a"


def small_freeze(path: Path, freeze_id: str, seed: int = 5, n: int = 60) -> Path:
    """A small simulated freeze (60 randomized by default)."""
    from alliance_report.simulation import simulate_freeze

    return simulate_freeze(path, n_randomized=n, seed=seed, freeze_id=freeze_id)


@pytest.fixture(scope="session")
def built(tmp_path_factory):
    """One small freeze built once (two processes, the default): (freeze, out).  Tests copy what
    they change and never modify either folder."""
    from alliance_report.cli import main

    root = tmp_path_factory.mktemp("small-build")
    freeze = small_freeze(root / "freeze", SMALL_FREEZE_ID)
    out = root / "out"
    assert main(["build", str(freeze), "--out", str(out), "--quiet"]) == 0
    return freeze, out


@pytest.fixture(scope="session")
def demo_built(tmp_path_factory):
    """The demo freeze built once (both editions): its output folder.  Tests never modify it."""
    from alliance_report import DEMO_FREEZE
    from alliance_report.cli import main

    out = tmp_path_factory.mktemp("demo-build") / "out"
    assert main(["build", str(DEMO_FREEZE), "--out", str(out), "--quiet"]) == 0
    return out
