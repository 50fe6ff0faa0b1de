"""The steps of a build, each a function of what the steps before it made (``build`` runs them in
this order, in one process or two; see :mod:`alliance_report.build`)::

    read         read the freeze as text (freeze.read_freeze)
    validate     manifest checks + Great Expectations suites; a failure ends the build (exit 1)
    analyse      the results of each edition (the analysis plan, model fitting)
    compare      with ``--previous``: the comparison with the previous freeze (validated like
                 any input, ``validate_previous``; one that is invalid is not compared)
    figures      draw the figures from the results
    render       HTML, Quarto markdown, tables (Jinja2); the open edition is checked for counts
                 by arm before anything is written
    write        results.json, validation.json, changes.json/.csv, report.html/.qmd, figures/,
                 tables/ (the open edition in ``open/``)
    pdf          report.pdf from report.html (WeasyPrint)

Every library a step needs is imported inside it, so that importing this module (the no-change
path of a build) imports no pandas, Great Expectations, statsmodels, matplotlib or WeasyPrint;
``importing`` says why those imports are then exempted from garbage collection.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from pathlib import Path

from alliance_report.errors import BuildError
from alliance_report.output_folder import edition_folder
from alliance_report.progress import Timings
from alliance_report.settings import EDITIONS, Settings


def validate(freeze, timings: Timings):
    """The validation report of the freeze (a step of its own in build.log); BuildError (exit 1,
    with the report's summary) when it failed."""
    from alliance_report.validation import format_report, prepare, validate_freeze

    with timings.step("validate") as info:
        with importing():
            prepare()
        report = validate_freeze(freeze)
        n_failed, n_warnings = len(report.failed()), len(report.warnings())
        info["detail"] = f"{len(report.checks)} checks, {n_failed} failed, {n_warnings} warnings"
        if not report.ok:
            raise BuildError(f"the freeze {freeze.path} failed validation; no report was written\n"
                             + format_report(report), exit_code=1,
                             validation={"checks": len(report.checks), "failed": n_failed, "warnings": n_warnings})
    return report


def validate_previous(previous: Path, freeze, timings: Timings, notes: list[str]) -> str | None:
    """Validate the previous freeze like any input; the reason it is not compared, or None.

    A previous freeze that is unreadable, of another study, not earlier than ``freeze`` or
    invalid does not stop the build: the report says why it has no comparison (a note here, a
    line in the build log, the changes section of the report)."""
    from alliance_report.comparison import not_comparable
    from alliance_report.freeze import FreezeError, read_freeze
    from alliance_report.validation import validate_freeze

    problem = None
    with timings.step("validate previous") as info:
        try:
            earlier = read_freeze(previous)
        except FreezeError as exc:
            problem = f"it cannot be read ({Path(exc.file).name}: {exc.reason})"
        else:
            problem = not_comparable(earlier.manifest, freeze.manifest)
        if problem is None:
            report = validate_freeze(earlier)
            info["detail"] = f"{len(report.checks)} checks, {len(report.failed())} failed"
            if not report.ok:
                problem = (f"it failed validation ({len(report.failed())} of {len(report.checks)} checks "
                           "failed)")
    if problem:  # the reason in the report names no folder (the open edition must not depend on paths)
        notes.append(f"the previous freeze {previous}: {problem}; the report has no comparison with it")
    return problem


def analyse(freeze, settings: Settings) -> dict[str, dict]:
    """The results of each edition the settings ask for."""
    from alliance_report.analysis.consort import ConsortError
    from alliance_report.provenance import build_metadata
    from alliance_report.results import compute_editions

    try:
        return compute_editions(freeze, settings, settings.editions(), build_metadata=build_metadata())
    except ConsortError as exc:
        raise BuildError(f"{freeze.path}: {exc}; no report was written", exit_code=1) from None


def compare(previous_dir: Path | None, freeze, settings: Settings) -> dict | None:
    """The comparison with the previous freeze (read, compared, key results), or None."""
    from alliance_report.comparison import prepare

    return None if previous_dir is None else prepare(previous_dir, freeze, settings)


def add_changes(results: dict, comparison: dict | None, previous_problem: str | None) -> None:
    """Each edition's ``changes`` block; ``results["comparison"]``: what the build writes to
    changes.json and changes.csv — the comparison's changes, or, for a previous freeze given but
    not compared, no changes and the reason (``"previous": null``) — or None without a previous freeze."""
    from alliance_report.comparison import add_changes as add_change_blocks

    add_change_blocks(results, comparison, previous_problem)
    if comparison is None:
        results["comparison"] = None
    elif previous_problem or "problem" in comparison:
        results["comparison"] = {"previous": None, "files": {}, "data_changes": [],
                                 "not_compared": previous_problem or comparison["problem"]}
    else:
        results["comparison"] = comparison["changes"]


def editions(results: dict[str, dict]) -> dict[str, dict]:
    """The results of each edition built, in the order of EDITIONS (without ``comparison``)."""
    return {edition: results[edition] for edition in EDITIONS if edition in results}


def draw_figures(results: dict[str, dict]) -> dict[str, tuple]:
    from alliance_report.render.report import edition_figures

    return {edition: edition_figures(edition_results) for edition, edition_results in editions(results).items()}


def n_figures(figures: dict[str, tuple]) -> str:
    return f"{sum(len(f) for f in figures.values())} figures"


def freeze_hashes(freeze) -> dict[str, str]:
    """The SHA-256 of the files read, as the fingerprint has them (to see that a freeze did not
    change while it was read, and that both processes read the same bytes)."""
    return {"manifest.json": freeze.manifest_sha256, **freeze.file_sha256}


@contextmanager
def importing():
    """Import heavy libraries with Python's cyclic garbage collector off, then exempt every
    object alive (above all, what the imports made) from collection (``gc.freeze``) for the
    rest of the build.

    Why: a collection of the oldest generation scans every tracked object, and once pandas,
    Great Expectations and WeasyPrint are imported that is about 300,000 objects that live as
    long as the process.  Measured with ``gc.callbacks`` on the demo build: with Python's
    default thresholds the main process spent 1.2–1.6 s collecting (0.3 s with the imports
    frozen); with the command line's raised threshold (``cli._tune_gc``) 0.26–0.29 s in the
    main process and 0.16–0.22 s in the worker, and with the imports frozen as well 0.00 s and
    0.12 s.  ``build`` unfreezes at its end (``gc.unfreeze``), so a long-lived process
    (build-all, or ``build`` called from Python) still collects everything eventually; not
    when the caller had frozen objects itself (``gc.unfreeze`` cannot tell theirs from ours).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.freeze()


def import_shared() -> None:
    """What both processes need (pandas, numpy, scipy.stats: ~1.5 s), imported once, before the fork."""
    import scipy.stats  # noqa: F401  (Great Expectations and statsmodels both import it)

    import alliance_report.freeze  # noqa: F401  (pandas, numpy)


def load_pdf_writer() -> None:
    """Import WeasyPrint (about 1 s) ahead of its first use (in the worker: while the main
    process validates)."""
    import logging

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    with importing():
        import weasyprint  # noqa: F401


def render_reports(results: dict[str, dict], figures: dict[str, tuple], validation: dict, date: str) -> dict:
    """Each edition's report; the open one is checked for counts by arm before anything is written."""
    from alliance_report.render.open_guard import arm_mentions, data_texts
    from alliance_report.render.report import build_report

    reports = {edition: build_report(edition_results, validation, date, figures[edition])
               for edition, edition_results in editions(results).items()}
    if "open" in reports:
        mentions = arm_mentions(reports["open"], data_texts(results["open"]))
        if mentions:
            raise BuildError("the open edition writes an arm with a number ("
                             + "; ".join(mentions[:5]) + "): a template or table puts data by arm into "
                             "the edition that must have none; nothing was published", exit_code=3)
    return reports


def write_files(results: dict[str, dict], reports: dict, validation: dict, staging: Path) -> None:
    """Every output file but the PDFs into ``staging`` (build.log and the fingerprint come later)."""
    write_build_files(results, validation, staging)
    write_edition_files(results, reports, staging)


def write_build_files(results: dict[str, dict], validation: dict, staging: Path) -> None:
    """The files of the build rather than of an edition: validation.json, changes.json and
    changes.csv (at the output's root, with the closed edition)."""
    (staging / "validation.json").write_text(
        json.dumps(validation, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    if results.get("comparison"):
        from alliance_report.changes import changes_csv

        changes = results["comparison"]
        (staging / "changes.json").write_text(json.dumps(changes, indent=2, ensure_ascii=False) + "\n",
                                             encoding="utf-8")
        (staging / "changes.csv").write_text(changes_csv(changes), encoding="utf-8")


def write_edition_files(results: dict[str, dict], reports: dict, staging: Path) -> None:
    """Each edition's results.json and report files (figures/, tables/, report.html and .qmd)
    into its folder of ``staging``."""
    from alliance_report.render.report import write_report_files
    from alliance_report.results_schema import write_results

    for edition, report in reports.items():
        folder = edition_folder(staging, edition)
        folder.mkdir(exist_ok=True)
        write_results(results[edition], folder / "results.json")
        write_report_files(report, folder)


def write_pdfs(reports: dict, staging: Path) -> list[str]:
    """Each edition's report.pdf from its report.html; after ``write_files``, whose figures/*.png
    the PDF embeds.  Returns the pagination problems found."""
    return [problem for edition in reports for problem in write_edition_pdf(staging, edition)]


def write_edition_pdf(staging: Path, edition: str) -> list[str]:
    """One edition's report.pdf from the report.html written beside it; its pagination problems."""
    from alliance_report.render.report import edition_attachments, write_pdf

    folder = edition_folder(staging, edition)
    html = (folder / "report.html").read_text(encoding="utf-8")
    return [f"{edition} edition, {problem}"
            for problem in write_pdf(html, folder / "report.pdf", folder, edition_attachments(edition, folder))]


def open_in_main(settings: Settings) -> bool:
    """Whether, in a two-process build, the main process makes the open edition (figures, render,
    files, PDF) from the results the worker sends while the worker makes the closed one: when
    both are built.  The closed edition alone keeps the worker busy until its PDF is written
    (analysis, 7 figures, a 15-page PDF), while the main process has only validated."""
    return len(settings.editions()) > 1


def write_detail(reports: dict, build_files: bool = True) -> str:
    """What the write step wrote (build.log); ``build_files``: validation.json and changes.* too
    (not the open edition made beside the worker, which writes only open/)."""
    open_files = "open/: report.html, report.qmd, results.json, figures/, tables/"
    if not build_files:
        return open_files
    if "closed" not in reports:  # the open edition alone: only the build's files at the root
        return f"validation.json; {open_files}"
    return ("report.html, report.qmd, results.json, validation.json, figures/, tables/"
            + (" (and open/)" if "open" in reports else ""))
PDF_DETAIL = "report.pdf (WeasyPrint)"
