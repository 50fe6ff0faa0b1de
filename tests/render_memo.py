"""A test-only memo of the two slowest steps of a build — drawing an edition's figures and
writing a PDF — for the whole test session and every test process (conftest makes it autouse).

Both are pure functions of their input, and most of the suite's builds give them the same input
again (the same small freeze built into another folder, with other options, interrupted or
failing later): a matplotlib figure set costs ~1.5 s and a PDF ~2 s each time.  The memo keys
each call by a SHA-256 of its *complete* input and stores the output on disk, beside the
session's temporary folders, so that a build's forked worker and both pytest-xdist processes
share it:

- figures: ``edition_figures(results)`` — the part of the edition's results the figures read
  (``FIGURE_INPUTS``; not the freeze's id, digests, provenance or changes, which differ between
  builds of the same data).  A miss draws from that part only, so a figure that came to read
  another key would draw differently from the real function, and ``test_render_memo`` (which
  compares the two on a closed and an open edition) would fail;
- PDF: ``write_pdf(html, path, base_url, attachments)`` — the HTML as WeasyPrint receives it
  (every figure's PNG inlined by ``_raster_figures``, the CSS inlined by the template) and each
  attachment's name, description, relationship and bytes.  The output folder is not part of
  the key: ``test_one_process_and_two_give_identical_outputs`` shows that the PDF's bytes do not
  depend on it.

A test that checks the functions themselves — that they are deterministic, do not read the
clock, or what they return when something inside them is patched — is marked
``@pytest.mark.real_renders`` and runs them for real.  Production code has no cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from contextlib import contextmanager
from pathlib import Path

import pytest

from alliance_report.render import report

REAL = {"edition_figures": report.edition_figures, "write_pdf": report.write_pdf}


class DiskMemo:
    """Values by key in a folder; written atomically (a reader never sees half a file)."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def get(self, key: str):
        try:
            return pickle.loads((self.folder / key).read_bytes())
        except FileNotFoundError:
            return None

    def put(self, key: str, value) -> None:
        partial = self.folder / f".{key}.{os.getpid()}"
        partial.write_bytes(pickle.dumps(value))
        os.replace(partial, self.folder / key)


# what ``edition_figures`` reads of the results (report.edition_figures, render/figures.py,
# render/conduct_figures.py, report.consort_figure)
FIGURE_INPUTS = ("edition", "conduct", "consort", "alliance_descriptives", "dropout_description", "outcome_models")
FIGURE_SETTINGS = ("dropout_threshold", "style")


def figure_input(results: dict) -> dict:
    """The part of ``results`` that the figures read."""
    part = {key: results[key] for key in FIGURE_INPUTS if key in results}
    part["settings"] = {key: results["settings"][key] for key in FIGURE_SETTINGS if key in results.get("settings", {})}
    return part


def figures_key(results: dict) -> str:
    text = json.dumps(figure_input(results), sort_keys=True, ensure_ascii=False, default=repr)
    return "figures-" + hashlib.sha256(text.encode()).hexdigest()


def pdf_key(html: str, base_url: Path, attachments) -> str:
    digest = hashlib.sha256(report._raster_figures(html, base_url).encode())
    for attachment in attachments:
        digest.update(repr((attachment.path.name, attachment.description, attachment.relationship)).encode())
        digest.update(hashlib.sha256(Path(attachment.path).read_bytes()).digest())
    return "pdf-" + digest.hexdigest()


def memoized(memo: DiskMemo):
    """The memoized ``edition_figures`` and ``write_pdf``."""
    def edition_figures(results: dict):
        key = figures_key(results)
        figures = memo.get(key)
        if figures is None:
            figures = REAL["edition_figures"](figure_input(results))
            memo.put(key, figures)
        return figures

    def write_pdf(html: str, path: Path, base_url: Path, attachments=()) -> list[str]:
        key = pdf_key(html, base_url, attachments)
        stored = memo.get(key)
        if stored is None:
            problems = REAL["write_pdf"](html, path, base_url, attachments)
            memo.put(key, (Path(path).read_bytes(), problems))
            return problems
        pdf, problems = stored
        Path(path).write_bytes(pdf)
        return list(problems)

    return {"edition_figures": edition_figures, "write_pdf": write_pdf}


@contextmanager
def memoized_renders(folder: Path):
    """``edition_figures`` and ``write_pdf`` memoized in ``folder`` while the context lasts."""
    with pytest.MonkeyPatch.context() as patch:
        for name, function in memoized(DiskMemo(folder)).items():
            patch.setattr(report, name, function)
        yield


@pytest.fixture(autouse=True)
def real_renders(request):
    """The real ``edition_figures`` and ``write_pdf`` for a test marked ``real_renders``."""
    if request.node.get_closest_marker("real_renders") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        for name, function in REAL.items():
            patch.setattr(report, name, function)
        yield
