"""The build pipeline: read → validate → analyse → render, published atomically.

Outputs are written into a temporary folder beside ``out`` and swapped in by renames only
when everything succeeded, so a failed build leaves an existing output folder as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alliance_report.analysis.consort import ConsortError
from alliance_report.freeze import Freeze, read_freeze
from alliance_report.results import compute_results, write_results
from alliance_report.settings import Settings


class BuildError(Exception):
    """A freeze that cannot be built; ``exit_code`` as in cli.md."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class BuildOutcome:
    out: Path
    results: dict


def default_out_dir(freeze: Freeze, reports_root: Path = Path("reports")) -> Path:
    return reports_root / f"{freeze.manifest['study']}-{freeze.manifest['freeze_id']}"


def build_date(freeze: Freeze, settings: Settings) -> str:
    """The one date in the documents: a setting, else the day of the manifest's exported_at."""
    return settings.build_date or str(freeze.manifest.get("exported_at", ""))[:10]


def validate(freeze: Freeze):
    """Run every check; raise BuildError (exit 1) with the readable summary on failure."""
    from alliance_report.validation import format_report, validate_freeze

    report = validate_freeze(freeze)
    if not report.ok:
        raise BuildError(f"the freeze {freeze.path} failed validation; no report was written\n"
                         + format_report(report), exit_code=1)
    return report


def publish(staging: Path, out: Path) -> None:
    """Swap the finished staging folder in for ``out`` by renames (atomic on one filesystem)."""
    if out.exists():
        retired = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, retired / out.name)
        os.replace(staging, out)
        shutil.rmtree(retired)
    else:
        os.replace(staging, out)


def build(freeze_dir: Path, out: Path | None, settings: Settings) -> BuildOutcome:
    from alliance_report.render.report import build_report, write_report

    freeze = read_freeze(freeze_dir)
    validation = validate(freeze)
    try:
        results = compute_results(freeze, settings)
    except ConsortError as exc:
        raise BuildError(f"{freeze.path}: {exc}; no report was written", exit_code=1) from None
    report = build_report(results, validation.to_dict(), build_date(freeze, settings))

    out = Path(out) if out is not None else default_out_dir(freeze)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.building-", dir=out.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the published report is for readers
    try:
        write_results(results, staging / "results.json")
        (staging / "validation.json").write_text(
            json.dumps(validation.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        write_report(report, staging)
        publish(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return BuildOutcome(out, results)
