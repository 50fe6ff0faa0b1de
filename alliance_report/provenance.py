"""Where a build came from: input hashes, project version and commit, package versions."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata

from alliance_report import PACKAGES, REPO_ROOT, __version__, in_checkout
from alliance_report.design import ARM_COLUMNS
from alliance_report.freeze import Freeze


def git_commit() -> str:
    """The commit of the working tree (with "-dirty" when it has changes), or "unknown".

    Only a package run from a git checkout asks git: an installed copy (say in a virtualenv
    inside some checkout) would otherwise report the commit of whatever repository holds it."""
    if not in_checkout():
        return "unknown"
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO_ROOT,
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def build_metadata() -> dict:
    """What a build ran with: the project's version and commit, Python and the versions of the direct
    dependencies.  Build metadata, not analysis: the build collects it once and passes it to
    :func:`alliance_report.results.compute_editions`, so that computing results never runs ``git``."""
    return {
        "alliance_report": __version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "packages": {name: metadata.version(name) for name in PACKAGES},
    }


# the build metadata of results computed outside a build (tests, a notebook): nothing is looked up
NOT_RECORDED = {"alliance_report": __version__, "git_commit": "not recorded", "python": "not recorded",
                "packages": {}}


def provenance(freeze: Freeze, build: dict) -> dict:
    """The ``provenance`` block of results.json: the build's metadata (:func:`build_metadata`) and
    the freeze's input hashes and export time."""
    return {
        **build,
        "input_files": dict(sorted(freeze.file_sha256.items())),
        "manifest_exported_at": freeze.manifest.get("exported_at"),
    }


def open_digests(digests: dict[str, str]) -> dict[str, str | None]:
    """The SHA-256 of each freeze file as the open edition may show it: None for a file with an
    arm column (``design.ARM_COLUMNS``) — with a guessed allocation list, it would confirm it."""
    return {file: None if file in ARM_COLUMNS else digest for file, digest in digests.items()}
