"""``build-all``: every freeze of a folder, in cut-off order, each compared with the latest earlier
valid freeze of its study (committee-reports.md, "Changes since the previous freeze"); a freeze
that fails does not stop the others, and the summary table lists every one.
"""

from __future__ import annotations

import datetime
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from alliance_report import build as pipeline  # pipeline.build: looked up at each call (tests replace it)
from alliance_report import dates, interrupts
from alliance_report.errors import EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, EXIT_USAGE, BuildError
from alliance_report.interrupts import INTERRUPTED, Interrupted
from alliance_report.output_folder import manifest_of, output_name
from alliance_report.progress import Progress
from alliance_report.settings import Settings


OUTCOME_WORDS = {"unreadable": "invalid", "error": "failed"}  # as the summary table and the index show them


@dataclass
class FreezeOutcome:
    freeze: Path
    outcome: str  # "built" | "up to date" | "invalid" | "unreadable" | "error"
    output: Path | None
    exit_code: int
    message: str = ""
    detail: str = ""  # e.g. "2 of 120 checks failed", shown in the summary table
    previous: Path | None = None  # the freeze it was compared with
    validation: dict | None = None  # {"checks", "failed", "warnings"} of a freeze that failed validation

    @property
    def shown(self) -> str:
        """The outcome in the words of the summary table and the index: built, up to date, invalid,
        failed, interrupted, not built."""
        return OUTCOME_WORDS.get(self.outcome, self.outcome)


def find_freezes(folder: Path) -> list[Path]:
    """The freezes in ``folder``: the folder itself if it holds a manifest, else every subfolder
    (not hidden) that holds a ``manifest.json`` or a ``*.csv`` file — one without a manifest is
    reported as unreadable, not skipped."""
    folder = Path(folder)
    if (folder / "manifest.json").exists():
        return [folder]
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and ((p / "manifest.json").exists() or any(p.glob("*.csv"))))


def build_all(folder: Path, out_root: Path, settings: Settings | None = None, *, force: bool = False,
              progress: Progress | None = None, jobs: int | None = None, renderer: str = "weasyprint",
              command: str | None = None, err=None) -> list[FreezeOutcome]:
    """Build every freeze of ``folder`` into ``<out_root>/<study>-<freeze_id>/``, one after the other,
    carrying on past a freeze that fails; each failure's message (the validation summary for an
    invalid freeze) is written to ``err`` as it happens."""
    from alliance_report.freeze import FreezeError

    err = err if err is not None else sys.stderr
    progress = progress or Progress(quiet=True)
    outcomes: list[FreezeOutcome] = []
    claimed: dict[Path, Path] = {}
    freezes = in_cutoff_order(find_freezes(folder))
    built: dict[str, list[tuple[str, Path]]] = {}  # study → (cut-off, freeze) of the valid freezes so far
    for i, freeze_dir in enumerate(freezes, start=1):
        if interrupts.state.installed and interrupts.state.pending is not None:  # a signal between two freezes
            left = len(freezes) - i + 1
            stop = Interrupted(interrupts.state.pending, f"interrupted; {left} freeze(s) not built, from {freeze_dir} on")
            stop.outcomes = outcomes + _not_built(freezes[i - 1:])
            raise stop
        name = output_name(freeze_dir)
        out = Path(out_root) / (name or freeze_dir.name)
        if not progress.quiet:
            print(f"alliance-report: [{i}/{len(freezes)}] {freeze_dir} → {out}/", file=err, flush=True)
        if out in claimed:
            message = f"{freeze_dir}: has the same study and freeze_id as {claimed[out]}; not built"
            print(f"alliance-report: error: {message}", file=err, flush=True)
            outcomes.append(FreezeOutcome(freeze_dir, "error", None, EXIT_INVALID, message,
                                          detail=f"same study and freeze_id as {claimed[out]}"))
            continue
        claimed[out] = freeze_dir
        study, cutoff = _study_and_cutoff(manifest_of(freeze_dir) or {})
        previous = _previous_of(built.get(study, []), cutoff)
        try:
            result = pipeline.build(freeze_dir, out, settings, force=force, progress=progress, jobs=jobs,
                           renderer=renderer, command=command, previous=previous)
        except Interrupted as exc:  # stop here: the summary shows what was done so far
            outcomes.append(FreezeOutcome(freeze_dir, "interrupted", None, exc.exit_code,
                                          detail="nothing was published"))
            exc.message = f"{INTERRUPTED} for {freeze_dir}"
            exc.outcomes = outcomes + _not_built(freezes[i:])
            raise
        except FreezeError as exc:
            print(f"alliance-report: error: {freeze_dir}: {exc}", file=err, flush=True)
            outcomes.append(FreezeOutcome(freeze_dir, "unreadable", None, EXIT_USAGE if exc.usage else EXIT_INVALID, str(exc),
                                          detail=str(exc)))
        except BuildError as exc:
            print(f"alliance-report: {exc}", file=err, flush=True)
            counts = exc.validation
            detail = (f"{counts['failed']} of {counts['checks']} checks failed" if counts
                      else str(exc).splitlines()[0].removeprefix(f"{freeze_dir}: "))
            outcomes.append(FreezeOutcome(freeze_dir, "invalid" if exc.exit_code == EXIT_INVALID else "error", None,
                                          exc.exit_code, str(exc), detail=detail, validation=counts))
        except Exception as exc:  # noqa: BLE001 - one broken build must not stop the others
            if os.environ.get("ALLIANCE_REPORT_DEBUG"):
                traceback.print_exc(file=err)
            print(f"alliance-report: internal error building {freeze_dir}: {type(exc).__name__}: {exc}",
                  file=err, flush=True)
            outcomes.append(FreezeOutcome(freeze_dir, "error", None, EXIT_INTERNAL, f"{type(exc).__name__}: {exc}",
                                          detail=f"internal error: {type(exc).__name__}"))
        else:
            for note in result.notes:
                print(f"alliance-report: {note}", file=err, flush=True)
            outcomes.append(FreezeOutcome(freeze_dir, "up to date" if result.up_to_date else "built",
                                          result.out, EXIT_OK, previous=previous))
            if study is not None and cutoff is not None:
                built.setdefault(study, []).append((cutoff, freeze_dir))
    return outcomes


def _study_and_cutoff(manifest: dict) -> tuple[str | None, str | None]:
    """The manifest's study and cut-off date, each None when it is not text."""
    study, cutoff = manifest.get("study"), manifest.get("cutoff_date")
    return (study if isinstance(study, str) else None), (cutoff if isinstance(cutoff, str) else None)


def _not_built(freezes: list[Path]) -> list[FreezeOutcome]:
    """The rows of the freezes an interruption left out, so that the summary lists every freeze."""
    return [FreezeOutcome(freeze_dir, "not built", None, EXIT_INVALID, detail="interrupted before it") for freeze_dir in freezes]


def in_cutoff_order(freezes: list[Path]) -> list[Path]:
    """The freezes ordered by study and cut-off date, then moment of export (``exported_at`` in
    UTC, ``dates.instant``: a re-export after a correction comes after the export it corrects;
    one without a readable time first), then folder; unreadable manifests last."""
    def key(freeze_dir: Path):
        manifest = manifest_of(freeze_dir) or {}
        study, cutoff = _study_and_cutoff(manifest)
        exported = dates.instant(manifest.get("exported_at"))
        return (study is None or cutoff is None, study or "", cutoff or "",
                exported is not None, exported or EPOCH, str(freeze_dir))
    return sorted(freezes, key=key)


EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)  # the sort key of an unreadable time


def _previous_of(valid: list[tuple[str, Path]], cutoff: str | None) -> Path | None:
    """The valid freeze of the same study with the latest cut-off before ``cutoff``: the last such
    of ``valid``, which is in build order (:func:`in_cutoff_order`), so that of two exports with
    the same cut-off date the later export (a corrected one) is the previous freeze."""
    earlier = [f for c, f in valid if cutoff is not None and c < cutoff]
    return earlier[-1] if earlier else None


def summary_table(outcomes: list[FreezeOutcome]) -> str:
    rows = [("freeze", "outcome", "output")]
    for o in outcomes:
        rows.append((str(o.freeze), o.shown + (f" ({o.detail})" if o.detail else ""),
                     f"{o.output}/" if o.output else "—"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows]
    lines.insert(1, f"{'-' * widths[0]}  {'-' * widths[1]}  {'-' * max(len(r[2]) for r in rows)}")
    failed = sum(1 for o in outcomes if o.exit_code)
    lines.append(f"{len(outcomes)} {'freeze' if len(outcomes) == 1 else 'freezes'}: {len(outcomes) - failed} ok, "
                 f"{failed} not published")
    return "\n".join(lines)
