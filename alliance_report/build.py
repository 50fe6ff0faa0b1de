"""One build of a freeze: fingerprint → read → validate → analyse → render → write → publish.

The orchestration only; each concern has its module:

    fingerprint     is the output up to date?  (fingerprint.py: the freeze, the code, the
                    settings and the pinned environment; ``force`` rebuilds)
    output          where the build writes and whether it may, the staging folder (output_folder.py)
    steps           read, validate, analyse, compare, figures, render, write, pdf (steps.py)
    quarto          ``quarto render`` (renderer "quarto" only, when the Quarto CLI is on PATH; quarto.py)
    log             build.log, each step timed (build_log.py; the timings: progress.py)
    publish         .fingerprint.json, then the staging folder is swapped in (publish.py)
    signals         SIGINT, SIGTERM end a build that has not begun to publish (interrupts.py)

Two processes (``jobs=2``, the default on a machine with two or more cores): after the
fingerprint, a worker process is forked (worker.py).  It reads the freeze itself, analyses it,
draws the figures and imports WeasyPrint while the main process reads the freeze and validates
it (Great Expectations, the longest step of a small freeze).  When the freeze is valid, the main
process hands the worker the validation results and the staging folder, and the worker renders
and writes every output file; when both editions are built, the worker sends the open edition's
results as soon as it has them and makes only the closed edition, while the main process makes
the open one (figures, render, files, PDF) once it has validated.  The main process then writes
build.log and publishes.  When the freeze is invalid the worker is
stopped and nothing is written.  The worker's work is kept only when both processes read the
same bytes.  ``jobs=1`` runs every step in one process, in the order above; the outputs are
byte-identical either way.

Whatever ends a build before it publishes (an invalid freeze, an output that cannot be written,
a signal, a bug), the ``finally`` of ``_build_freeze`` stops the worker and removes the staging
folder: an existing output is left as it was.  The no-change path (fingerprint and comparison)
imports no heavy library (no pandas, Great Expectations, statsmodels, matplotlib or
WeasyPrint): it takes a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import gc
import time
from dataclasses import dataclass, field
from pathlib import Path

from alliance_report import interrupts, steps  # the steps looked up at each call (tests may replace one)
from alliance_report.build_log import LOG_FILE, write_log
from alliance_report.errors import BuildError
from alliance_report.fingerprint import Fingerprint, fingerprint, up_to_date, write_record
from alliance_report.interrupts import INTERRUPTED, Interrupted, interruptible
from alliance_report.output_folder import (StagingFolder, check_origin, check_out, check_out_of_freeze,
                                           edition_folder, output_name, study_of, writing)
from alliance_report.progress import Progress, Timings
from alliance_report.publish import note_leftovers, publish
from alliance_report.quarto import RENDERERS, effective_settings, quarto_executable, render_quarto
from alliance_report.settings import Settings
from alliance_report.worker import Worker, fork_is_safe, processes

__all__ = ["INTERRUPTED", "BuildError", "BuildOutcome", "Interrupted", "build", "interruptible"]

NOT_FORKED = "1 (forking a worker is not safe here: macOS, or other threads are running)"


@dataclass
class BuildOutcome:
    out: Path
    results: dict | None  # per edition ({"closed": …, "open": …}); None when the output was up to date
    up_to_date: bool = False
    reason: str = ""  # why it was built ("no previous output", "changed: freeze (...)", "--force")
    notes: list[str] = field(default_factory=list)  # one-line remarks for the user (e.g. Quarto missing)


@dataclass
class BuildJob:
    """One build as ``_build_freeze`` prepares it for ``_build``."""

    freeze_dir: Path
    out: Path | None  # None only when the manifest names no output (the freeze is then unreadable)
    settings: Settings
    renderer: str
    reports_root: Path
    command: str | None  # the command line, for build.log
    previous: Path | None  # the previous freeze to compare with
    timings: Timings
    notes: list[str] = field(default_factory=list)
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    t_start: float = field(default_factory=time.perf_counter)
    fp: Fingerprint | None = None  # None when the freeze is not a folder
    reason: str = "no previous output"  # why it is built
    processes: int | str = 1  # what build.log says
    staging: StagingFolder = field(default_factory=StagingFolder)
    worker: Worker | None = None


def build(freeze_dir: Path, out: Path | None = None, settings: Settings | None = None, *,
          force: bool = False, progress: Progress | None = None, jobs: int | None = None,
          renderer: str = "weasyprint", reports_root: Path = Path("reports"),
          command: str | None = None, previous: Path | None = None) -> BuildOutcome:
    """Build ``freeze_dir`` into ``out`` (default ``<reports_root>/<study>-<freeze_id>/``),
    compared with the freeze in ``previous`` when given (committee-reports.md, "Changes since
    the previous freeze").

    Raises FreezeError (unreadable input), BuildError (invalid freeze: exit code 1; an output
    that may not or cannot be written: 2), Interrupted (SIGINT or SIGTERM, under
    ``interruptible``) or, for a bug, any other exception; in every such case nothing was
    written.  ``force`` rebuilds an up-to-date output and replaces one built from another
    freeze folder with other data.
    """
    with interrupts.abortable():
        return _build_freeze(freeze_dir, out, settings, force=force, progress=progress, jobs=jobs,
                             renderer=renderer, reports_root=reports_root, command=command,
                             previous=None if previous is None else Path(previous))


def _build_freeze(freeze_dir, out, settings, *, force, progress, jobs, renderer, reports_root,
                  command, previous) -> BuildOutcome:
    """Everything that may end the build before any work (a usage error, an up-to-date output),
    then ``_build`` with the staging folder and the worker, both removed whatever happens."""
    settings = settings or Settings()
    progress = progress or Progress(quiet=True)
    if renderer not in RENDERERS:
        raise ValueError(f"renderer must be one of {', '.join(RENDERERS)}")
    jobs = processes(jobs)
    job = BuildJob(Path(freeze_dir), out, settings, renderer, reports_root, command, previous, Timings(progress))
    if renderer == "quarto" and quarto_executable() is None:
        job.notes.append("Quarto is not installed (no quarto on PATH): report.pdf was made with WeasyPrint, "
                         "report.qmd is ready for `quarto render` elsewhere.")
    job.out = _output(job.freeze_dir, out, reports_root, job.notes)
    if job.freeze_dir.is_dir() and _up_to_date(job, force):
        return BuildOutcome(Path(job.out), None, up_to_date=True, notes=job.notes)

    frozen_by_caller = gc.get_freeze_count() > 0
    try:
        if job.out is not None:  # an output location that cannot be written: said now, not after validation
            with writing(job.out, any_error=True):
                job.staging.make(Path(job.out))
        _start_worker(job, jobs)
        return _build(job)
    finally:
        with interrupts.held():  # the clean-up is not cut short by a signal
            if job.worker is not None:
                job.worker.stop()  # before the staging folder goes: the worker may still be writing into it
            job.staging.remove()
            progress.close()
            if not frozen_by_caller:
                gc.unfreeze()


def _output(freeze_dir: Path, out: Path | None, reports_root: Path, notes: list[str]) -> Path | None:
    """The output folder (named from the manifest unless given), checked before any work; the
    leftovers of killed builds beside it are cleaned up."""
    name = output_name(freeze_dir) if freeze_dir.is_dir() else None
    if name is not None:
        study_of(freeze_dir)  # a study without its studies/<study>.toml: a usage error, before any work
    if out is None and name is not None:
        out = reports_root / name
    if out is not None:
        check_out_of_freeze(freeze_dir, out)
        check_out(out)
        note_leftovers(out, notes)
    return out


def _up_to_date(job: BuildJob, force: bool) -> bool:
    """Fingerprint the build; whether the output already holds this very build (never with
    ``force``).  Sets ``job.fp`` and ``job.reason``."""
    with job.timings.step("fingerprint", show=False) as info:
        job.fp = fingerprint(job.freeze_dir, effective_settings(job.settings, job.renderer), job.previous)
        info["detail"] = job.fp.digest[:16]
    if job.out is None:
        return False
    if not force:
        check_origin(job.freeze_dir, job.out, job.fp)
    current, job.reason = up_to_date(Path(job.out), job.fp)
    if force:
        job.reason = "--force"
    return current and not force


def _start_worker(job: BuildJob, jobs: int) -> None:
    """Fork the worker when two processes are asked for and forking is safe here; without a
    process to spare (ulimit), one process does it all.  ``job.processes`` says which."""
    job.processes = jobs
    if jobs == 1 or job.fp is None:
        return
    if not fork_is_safe():
        job.processes = NOT_FORKED
        return
    with job.timings.step("imports", show=False), steps.importing():
        steps.import_shared()
    try:
        with interrupts.held():  # recorded before a signal may stop the build
            job.worker = Worker(job.freeze_dir, job.settings, job.timings, job.previous)
    except OSError:
        job.processes = 1


def _build(job: BuildJob) -> BuildOutcome:
    """Read and validate the freeze (and the previous one), have every output file written into
    the staging folder (by the worker, or here), then build.log and the fingerprint; publish."""
    freeze = _read(job)
    validation = steps.validate(freeze, job.timings).to_dict()
    previous_problem = (steps.validate_previous(job.previous, freeze, job.timings, job.notes)
                        if job.previous is not None else None)
    date = job.settings.build_date  # the report date of the title block (--build-date), or None

    if job.out is None:  # a valid manifest names the output: it was unreadable when the build began
        raise BuildError(f"{job.freeze_dir}: the manifest changed during the build; build again", exit_code=1)
    out = Path(job.out)
    with writing(out):
        staging = job.staging.path  # made with the output's write probe, before any work
        if job.worker is not None:
            results, layout = _outputs_by_worker(job, freeze, validation, staging, date, previous_problem)
        else:
            results, layout = _outputs_here(job, freeze, validation, staging, date, previous_problem)
        if job.fp.parts["settings"]["renderer"] == "quarto":
            with job.timings.step("quarto"):
                for edition in results:  # each edition's report.qmd, in its own folder
                    render_quarto(edition_folder(staging, edition))
        job.timings.record("total", "", time.perf_counter() - job.t_start)
        job.notes += [f"the PDF breaks a pagination rule ({problem}); the report is published" for problem in layout]
        write_log(staging / LOG_FILE, freeze_dir=job.freeze_dir, out=out, fp=job.fp, reason=job.reason,
                  timings=job.timings, validation=validation, started_at=job.started_at, command=job.command,
                  processes=job.processes, renderer=job.renderer, previous=job.previous,
                  previous_problem=previous_problem, layout=layout)
        write_record(staging, job.fp, freeze_dir=job.freeze_dir)
        interrupts.state.commit()  # from here on a signal no longer stops the build: it publishes
        publish(staging, out)
    return BuildOutcome(out, results, reason=job.reason, notes=job.notes)


def _read(job: BuildJob):
    """The freeze, read as text; BuildError when it is not the freeze that was fingerprinted."""
    from alliance_report.freeze import read_freeze

    with job.timings.step("read") as info:
        freeze = read_freeze(job.freeze_dir)
        info["detail"] = ", ".join(f"{name} {len(table):,} rows" for name, table in freeze.tables.items()
                                   if name in ("participants.csv", "questionnaires.csv"))
    if job.fp.parts["freeze"] != steps.freeze_hashes(freeze):
        raise BuildError(f"{job.freeze_dir}: the freeze changed while it was being read; build again", exit_code=1)
    return freeze


def _outputs_by_worker(job: BuildJob, freeze, validation: dict, staging: Path, date: str | None,
                       previous_problem: str | None) -> tuple[dict, list[str]]:
    """The worker renders and writes every file (with ``steps.open_in_main``: the closed edition's)
    while the main process makes the open edition; each edition's results and the PDFs'
    pagination problems."""
    worker, timings = job.worker, job.timings
    worker.go(validation, staging, date, previous_problem)
    opened, layout = {}, []
    if worker.open_in_main:
        with timings.step("wait", show=False):
            sent = worker.open_results()
        if sent is not None:  # else the worker ended first: result() raises what it raised
            opened = {"open": sent[0]}
            layout = _open_edition_here(job, opened, sent[1], validation, staging, date, previous_problem)
    with timings.step("wait", show=False):
        written = worker.result()
    if worker.hashes != steps.freeze_hashes(freeze):
        raise BuildError(f"{job.freeze_dir}: the freeze changed during the build; build again", exit_code=1)
    return steps.editions(written["results"] | opened), written["layout"] + layout


def _open_edition_here(job: BuildJob, results: dict, comparison: dict | None, validation: dict, staging: Path,
                       date: str | None, previous_problem: str | None) -> list[str]:
    """The open edition made in the main process while the worker makes the closed one (its
    figures, report, files and PDF); its PDF's pagination problems."""
    steps.add_changes(results, comparison, previous_problem)
    return _editions_made(job, results, validation, staging, date, beside_worker=True)


def _outputs_here(job: BuildJob, freeze, validation: dict, staging: Path, date: str | None,
                  previous_problem: str | None) -> tuple[dict, list[str]]:
    """One process: every step after validation, in order; each edition's results and the
    PDFs' pagination problems."""
    timings = job.timings
    with timings.step("analyse"):
        results = steps.analyse(freeze, job.settings)
    comparison = None
    if job.previous is not None:
        with timings.step("compare"):
            comparison = steps.compare(job.previous, freeze, job.settings)
    steps.add_changes(results, comparison, previous_problem)
    return steps.editions(results), _editions_made(job, results, validation, staging, date)


def _editions_made(job: BuildJob, results: dict, validation: dict, staging: Path, date: str | None,
                   beside_worker: bool = False) -> list[str]:
    """Figures, report, files and PDF of each edition in ``results``; the PDFs' pagination problems.
    ``beside_worker``: the open edition, made by the main process while the worker makes the closed
    one and writes the build's own files (validation.json, changes.*): steps named "… open"."""
    timings, suffix = job.timings, " open" if beside_worker else ""
    with timings.step(f"figures{suffix}") as info:
        figures = steps.draw_figures(results)
        info["detail"] = steps.n_figures(figures)
    with timings.step(f"render{suffix}"):
        reports = steps.render_reports(results, figures, validation, date)
    with timings.step(f"write{suffix}") as info:
        if beside_worker:
            steps.write_edition_files(results, reports, staging)
        else:
            steps.write_files(results, reports, validation, staging)
        info["detail"] = steps.write_detail(reports, build_files=not beside_worker)
    with timings.step("load", show=False):
        steps.load_pdf_writer()
    with timings.step(f"pdf{suffix}") as info:
        layout = steps.write_pdfs(reports, staging)
        info["detail"] = "open/report.pdf (WeasyPrint)" if beside_worker else steps.PDF_DETAIL
    return layout
