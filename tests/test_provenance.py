"""Provenance is build metadata: the build collects it (git commit, versions) once and passes it in;
computing results runs no ``git`` (no subprocess at all) and copies what it is given."""

from __future__ import annotations

import subprocess

import pytest

from alliance_report import DEMO_FREEZE, PACKAGES
from alliance_report import provenance as prov
from alliance_report.freeze import read_freeze
from alliance_report.results import compute_editions
from alliance_report.settings import Settings

GIVEN = {"alliance_report": "9.9.9", "git_commit": "abcdef123456", "python": "3.11.0",
         "packages": {"numpy": "1.0"}}
KEYS = ["alliance_report", "git_commit", "python", "packages", "input_files", "manifest_exported_at"]


@pytest.fixture(scope="module")
def freeze():
    return read_freeze(DEMO_FREEZE)


@pytest.fixture
def no_subprocess(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"a subprocess was run while computing results: {args}")
    monkeypatch.setattr(subprocess, "run", refuse)


@pytest.mark.parametrize("given, expected", [(GIVEN, GIVEN), (None, prov.NOT_RECORDED)])
def test_results_copy_the_build_metadata_and_run_no_git(freeze, no_subprocess, given, expected):
    block = compute_editions(freeze, Settings(), ("open",), build_metadata=given)["open"]["provenance"]
    assert list(block) == KEYS  # the order of results.json
    assert {key: block[key] for key in expected} == expected
    # the open edition: no digest of participants.csv (it would confirm a guessed allocation)
    assert block["input_files"] == dict(sorted(freeze.file_sha256.items())) | {"participants.csv": None}
    assert block["manifest_exported_at"] == freeze.manifest["exported_at"]
    closed = compute_editions(freeze, Settings(), ("closed",), build_metadata=given)["closed"]
    assert closed["provenance"]["input_files"] == dict(sorted(freeze.file_sha256.items()))


def test_build_metadata_holds_the_commit_and_every_direct_dependency(monkeypatch):
    monkeypatch.setattr(prov, "git_commit", lambda: "0123456789ab")
    metadata = prov.build_metadata()
    assert metadata["git_commit"] == "0123456789ab"
    assert list(metadata["packages"]) == list(PACKAGES) and all(metadata["packages"].values())


def test_the_provenance_names_every_direct_dependency():
    """PACKAGES (the versions in provenance, build.log and the fingerprint) are pyproject's dependencies."""
    import tomllib

    from alliance_report import REPO_ROOT

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pinned = {requirement.split("==")[0].lower().replace("_", "-") for requirement in project["dependencies"]}
    assert set(PACKAGES) == pinned
