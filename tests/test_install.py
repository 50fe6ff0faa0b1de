"""A regular (non-editable) install: the wheel ships the templates, expectations and study files
as package data, and the installed copy builds the demo from outside any checkout.

The project is installed with ``pip install --target`` from a copy of its sources (pip builds in
the source folder: a copy keeps the checkout clean), offline: no index, no build isolation, so
the build backend is the venv's setuptools, which must be the version pinned in pyproject.toml.
The target lies inside a git repository of its own, as an install in a virtualenv inside some
checkout would: the installed copy must not report that repository's commit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

from alliance_report import DATA_FOLDERS, DEMO_FREEZE, PACKAGE_DIR, REPO_ROOT

pytestmark = pytest.mark.slow  # conftest: runs in `make test-slow`, not `make test`

SOURCES = ("pyproject.toml", "README.md", PACKAGE_DIR.name, *DATA_FOLDERS)
TIMEOUT = 300


def _git(*args: str, cwd: Path) -> None:
    config = ("-c", "user.name=test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false")
    subprocess.run(["git", *config, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts}


def _installed_env(target: Path) -> dict[str, str]:
    """The environment that imports the installed copy: only the target on PYTHONPATH."""
    return {**os.environ, "PYTHONPATH": str(target), "PYTHONWARNINGS": "ignore"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The project installed (not editable) into ``<repo>/site``, where ``<repo>`` is a git
    repository with one commit; returns the target folder."""
    backend = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    assert backend == [f"setuptools=={metadata.version('setuptools')}"], (
        f"the venv's setuptools {metadata.version('setuptools')} is not the build backend {backend}: run make venv")
    repo = tmp_path_factory.mktemp("install-repo")
    _git("init", "-q", cwd=repo)
    _git("commit", "-q", "--allow-empty", "-m", "a repository around the install", cwd=repo)
    source = tmp_path_factory.mktemp("install-source")
    for name in SOURCES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO_ROOT / name, source / name)
    target = repo / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                          "--no-build-isolation", "--no-cache-dir", "--no-compile", "--target", str(target),
                          str(source)], capture_output=True, text=True, timeout=TIMEOUT)
    assert pip.returncode == 0, pip.stderr
    return target


def test_the_wheel_ships_the_data_folders_and_every_subpackage(installed):
    package = installed / PACKAGE_DIR.name
    for name in DATA_FOLDERS:
        assert _files(package / name) == _files(REPO_ROOT / name), name
        assert not (installed / name).exists(), f"{name}/ installed as a top-level folder"
    subpackages = {p.parent.relative_to(PACKAGE_DIR) for p in PACKAGE_DIR.rglob("__init__.py")}
    assert {p.parent.relative_to(package) for p in package.rglob("__init__.py")} == subpackages
    assert {p.relative_to(package) for p in package.rglob("*.py")} == {
        p.relative_to(PACKAGE_DIR) for p in PACKAGE_DIR.rglob("*.py")}


def test_the_installed_copy_finds_everything_inside_itself(installed, tmp_path):
    probe = ("import json, alliance_report as a, alliance_report.provenance as p; print(json.dumps({"
             "'file': a.__file__, 'templates': str(a.TEMPLATES_DIR), 'expectations': str(a.EXPECTATIONS_DIR), "
             "'studies': str(a.STUDIES_DIR), 'in_checkout': a.in_checkout(), 'commit': p.git_commit()}))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path,
                         env=_installed_env(installed), timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr
    found = json.loads(run.stdout)
    package = installed.resolve() / PACKAGE_DIR.name
    assert Path(found["file"]) == package / "__init__.py"
    assert [Path(found[key]) for key in ("templates", "expectations", "studies")] == [
        package / name for name in DATA_FOLDERS]
    assert found["in_checkout"] is False and found["commit"] == "unknown"


def test_the_installed_copy_builds_the_demo_like_the_checkout(installed, demo_built, tmp_path):
    out = tmp_path / "out"
    build = subprocess.run([sys.executable, "-m", "alliance_report", "build", str(DEMO_FREEZE), "--out", str(out),
                            "--quiet"], capture_output=True, text=True, cwd=tmp_path,
                           env=_installed_env(installed), timeout=TIMEOUT)
    assert build.returncode == 0, build.stderr
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    expected = json.loads((demo_built / "results.json").read_text(encoding="utf-8"))
    provenance, expected_provenance = results.pop("provenance"), expected.pop("provenance")
    assert results == expected
    assert provenance["git_commit"] == "unknown"
    assert {k: v for k, v in provenance.items() if k != "git_commit"} == {
        k: v for k, v in expected_provenance.items() if k != "git_commit"}

    parts = json.loads((out / ".fingerprint.json").read_text())["parts"]
    expected_parts = json.loads((demo_built / ".fingerprint.json").read_text())["parts"]
    assert parts["code"] == expected_parts["code"]  # the same files under the same names
    assert "requirements.lock" not in parts["environment"] and parts["environment"]["installed"]["distributions"] > 30
    log = (out / "build.log").read_text(encoding="utf-8")
    assert "installed packages" in log and "an installed package has no requirements.lock" in log
