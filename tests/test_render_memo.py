"""The test-only memo of figures and PDFs (tests/render_memo.py): it returns what the real
functions return, and its key changes with every part of their input."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from alliance_report.render.report import PdfAttachment
from render_memo import REAL, DiskMemo, figures_key, memoized, pdf_key

pytestmark = pytest.mark.slow  # conftest: runs in `make test-slow`, not `make test`

PAGE = ('<!DOCTYPE html><html lang="en"><head><meta name="dcterms.modified" content="2018-03-02T09:00:00Z">'
        '<title>t</title></head><body><h1>Memo</h1>'
        '<figure id="figure-accrual" aria-label="a"><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<rect width="10" height="10"/></svg></figure></body></html>')


@pytest.fixture
def folder(tmp_path, built) -> Path:
    """A folder holding a figure's PNG (inlined into the PDF) and a results.json to attach."""
    _, out = built
    folder = tmp_path / "pdf"
    (folder / "figures").mkdir(parents=True)
    shutil.copy(out / "open" / "figures" / "accrual.png", folder / "figures" / "accrual.png")
    shutil.copy(out / "open" / "results.json", folder / "results.json")
    return folder


def attachments(folder: Path, description: str = "results") -> tuple:
    return (PdfAttachment(folder / "results.json", description),)


def test_the_memo_returns_what_the_real_functions_return(built, folder, tmp_path):
    """Also the proof that the memo's figures key holds every key the figures read: on a miss
    the memo draws from that part of the results only, and must still draw what the real
    function draws from all of them (the open edition, and the closed one with every figure)."""
    _, out = built
    functions = memoized(DiskMemo(tmp_path / "memo"))
    for n, edition in enumerate(("open/results.json", "results.json"), start=1):
        results = json.loads((out / edition).read_text(encoding="utf-8"))
        real = REAL["edition_figures"](copy.deepcopy(results))
        assert functions["edition_figures"](results) == real, edition  # drawn: a miss
        assert functions["edition_figures"](results) == real, edition  # read: a hit
        assert len(list((tmp_path / "memo").glob("figures-*"))) == n

    problems = REAL["write_pdf"](PAGE, tmp_path / "real.pdf", folder, attachments(folder))
    for name in ("miss.pdf", "hit.pdf"):
        assert functions["write_pdf"](PAGE, tmp_path / name, folder, attachments(folder)) == problems
        assert (tmp_path / name).read_bytes() == (tmp_path / "real.pdf").read_bytes(), name
    assert len(list((tmp_path / "memo").glob("pdf-*"))) == 1


def test_the_keys_change_with_every_part_of_the_input(built, folder):
    _, out = built
    results = json.loads((out / "open" / "results.json").read_text(encoding="utf-8"))
    changed = copy.deepcopy(results)
    changed["conduct"]["accrual"]["target"] += 1
    assert figures_key(changed) != figures_key(results)

    key = pdf_key(PAGE, folder, attachments(folder))
    assert pdf_key(PAGE.replace("Memo", "Memo."), folder, attachments(folder)) != key
    assert pdf_key(PAGE, folder, attachments(folder, "other")) != key
    png = folder / "figures" / "accrual.png"
    png.write_bytes(png.read_bytes() + b"\0")  # the figure inlined into the PDF
    with_new_png = pdf_key(PAGE, folder, attachments(folder))
    assert with_new_png != key
    (folder / "results.json").write_text("{}\n", encoding="utf-8")  # the attachment's bytes
    assert pdf_key(PAGE, folder, attachments(folder)) != with_new_png
