"""The Quarto source of both editions (``report.qmd``, ``open/report.qmd``), read by pandoc itself
(pypandoc-binary): it parses without an error or a warning, holds every table and figure the build
wrote, numbered by Quarto alone (cross-reference ids, no "Table N." in the caption) in the order of
the HTML's numbers, its "Table N"/"Figure N" in the running text are cross-references that resolve,
its statistical symbols are in italics ("*P*<.001" as well as "*P*=.93"), and PDF formats get the
PNG of a figure, HTML its SVG (``default-image-extension``), so that PDF needs no rsvg-convert.
"""

from __future__ import annotations

import json
import re
import subprocess
from types import SimpleNamespace

import pypandoc
import pytest
import yaml

from alliance_report.render.markup import STAT_SYMBOL, MarkdownMarkup

EDITIONS = {"closed": ".", "open": "open"}
# a caption that numbers itself ("Table 1. …"): Quarto adds the number
NUMBER_IN_CAPTION = re.compile(r"^\s*(Table|Figure)\s*\d")
# a reference left as text ("Table 3", "Figures 1")
LITERAL_REFERENCE = re.compile(r"\b(Table|Figure)s? \d")


def parse(markdown: str) -> dict:
    """The pandoc AST (JSON) of Quarto markdown; any pandoc error or warning fails the test."""
    proc = subprocess.run([pypandoc.get_pandoc_path(), "--fail-if-warnings", "--from", "markdown", "--to", "json"],
                          input=markdown.encode("utf-8"), capture_output=True, check=False)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr.decode("utf-8", "replace")
    return json.loads(proc.stdout)


def elements(node, kind: str) -> list[dict]:
    """Every pandoc element of type ``kind`` under ``node``, in document order."""
    found = []
    if isinstance(node, dict):
        if node.get("t") == kind:
            found.append(node)
        for value in node.values():
            found += elements(value, kind)
    elif isinstance(node, list):
        for item in node:
            found += elements(item, kind)
    return found


def inline_text(inlines: list) -> str:
    """The text of a list of inlines (or Plain/Para blocks), emphasised parts between \\x01 and \\x02."""
    parts = []
    for node in inlines:
        kind, content = node["t"], node.get("c")
        if kind == "Str":
            parts.append(content)
        elif kind in ("Space", "SoftBreak", "LineBreak"):
            parts.append(" ")
        elif kind == "Emph":
            parts.append("\x01" + inline_text(content) + "\x02")
        elif kind in ("Plain", "Para", "Strong", "Underline", "Strikeout", "Superscript", "Subscript", "SmallCaps"):
            parts.append(inline_text(content))
        elif kind in ("Span", "Link", "Quoted", "Cite"):
            parts.append(inline_text(content[1]))
        elif kind in ("Code", "Math", "RawInline"):
            parts.append(content[-1])
    return "".join(parts)


def crossref_id(prefix: str, name: str) -> str:
    return f"{prefix}-{name.replace('_', '-')}"


def html_numbers(html: str) -> tuple[dict[str, int], dict[str, int]]:
    """Table and figure numbers of the HTML report by name (tables/NAME.csv, figures/NAME.svg)."""
    tables = re.findall(r'<table id="table-([\w-]+)"><caption>Table (\d+)\. ', html)
    figures = re.findall(r'<figure id="figure-([\w-]+)"[^>]*>.*?<figcaption>Figure (\d+)\. ', html, re.S)
    return {name: int(n) for name, n in tables}, {name: int(n) for name, n in figures}


def html_unnumbered_tables(html: str) -> set[str]:
    """The tables the HTML shows without a number (the list of every check): not in the .qmd."""
    return set(re.findall(r'<table id="table-([\w-]+)"><caption>(?!Table \d)', html))


def running_text(blocks: list) -> list[str]:
    """The text of the paragraphs written by the markup's ``paragraph``/``labelled`` (not the
    footnote that follows each table, which is not running text in the HTML either)."""
    texts, previous = [], None
    for block in blocks:
        if block["t"] == "Para" and previous != "Table":
            texts.append(inline_text(block["c"]))
        elif block["t"] in ("Div", "BlockQuote"):
            texts += running_text(block["c"][-1])
        previous = block["t"]
    return texts


@pytest.fixture(scope="module", params=list(EDITIONS))
def edition(request, demo_pair):
    """(folder, front matter, AST) of the closed and of the open edition's report.qmd."""
    folder = demo_pair[1] / EDITIONS[request.param]
    qmd = (folder / "report.qmd").read_text(encoding="utf-8")
    return folder, yaml.safe_load(qmd.split("---\n", 2)[1]), parse(qmd)


def test_every_table_and_figure_is_there_with_a_unique_cross_reference_id(edition):
    folder, _, ast = edition
    table_ids = [table["c"][0][0] for table in elements(ast["blocks"], "Table")]
    figure_ids = [figure["c"][0][0] for figure in elements(ast["blocks"], "Figure")]
    csv, svg = sorted((folder / "tables").glob("*.csv")), sorted((folder / "figures").glob("*.svg"))
    unnumbered = html_unnumbered_tables((folder / "report.html").read_text(encoding="utf-8"))
    assert csv and len(unnumbered) < len(csv)
    csv_only = {"conduct_accrual_monthly", "conduct_disposition_monthly"}  # the figures' series: CSV files only
    assert csv_only <= {path.stem for path in csv} and not csv_only & set(unnumbered)
    assert sorted(table_ids) == sorted(crossref_id("tbl", path.stem) for path in csv
                                       if path.stem not in unnumbered and path.stem not in csv_only)
    assert sorted(figure_ids) == sorted(crossref_id("fig", path.stem) for path in svg)


def test_quarto_numbers_tables_and_figures_as_the_html_does(edition):
    """Quarto numbers in order of appearance: that order must be the one of the HTML's numbers."""
    folder, _, ast = edition
    tables, figures = html_numbers((folder / "report.html").read_text(encoding="utf-8"))
    assert [table["c"][0][0] for table in elements(ast["blocks"], "Table")] == [
        crossref_id("tbl", name) for name in sorted(tables, key=tables.get)]
    assert [figure["c"][0][0] for figure in elements(ast["blocks"], "Figure")] == [
        crossref_id("fig", name) for name in sorted(figures, key=figures.get)]
    assert sorted(tables.values()) == list(range(1, len(tables) + 1))
    assert sorted(figures.values()) == list(range(1, len(figures) + 1))


def test_captions_leave_the_number_to_quarto(edition):
    _, meta, ast = edition
    assert meta["crossref"]["title-delim"] == "."  # "Table 1. Caption", as in the HTML
    for block in elements(ast["blocks"], "Table") + elements(ast["blocks"], "Figure"):
        caption = inline_text(block["c"][1][1])
        assert caption.strip() and not NUMBER_IN_CAPTION.match(caption), (block["c"][0][0], caption)


def test_references_in_the_text_are_cross_references_that_resolve(edition):
    _, _, ast = edition
    ids = {block["c"][0][0] for block in elements(ast["blocks"], "Table") + elements(ast["blocks"], "Figure")}
    references = [citation["citationId"] for cite in elements(ast["blocks"], "Cite") for citation in cite["c"][0]]
    assert "tbl-baseline-characteristics" in references  # "Table N shows the baseline characteristics"
    assert set(references) <= ids, set(references) - ids
    for text in running_text(ast["blocks"]):
        assert not LITERAL_REFERENCE.search(text), text


def test_statistical_symbols_are_in_italics(edition):
    """STAT_SYMBOL (P, t, F, n, B, z before (, =, < or >) finds no symbol outside the emphasis of
    the running text; the closed edition has statistics before "<" (P<.001) and "=" (P=.02)."""
    folder, _, ast = edition
    texts = running_text(ast["blocks"])
    for text in texts:
        assert not STAT_SYMBOL.search(text), text
    if folder.name != "open":
        emphasised = {relation for text in texts for relation in re.findall(r"\x01[PptFnBz]\x02 ?([(=<>])", text)}
        assert {"<", "="} <= emphasised, emphasised


def test_pdf_formats_get_the_png_and_html_the_svg(edition):
    folder, meta, ast = edition
    assert meta["default-image-extension"] == "png"  # PDF, typst, docx… rendered with --to
    assert meta["format"]["html"]["default-image-extension"] == "svg"
    assert meta["format"]["pdf"]["default-image-extension"] == "png"
    for image in elements(ast["blocks"], "Image"):
        path = folder / image["c"][2][0]
        if path.suffix:  # no PNG to choose (the CONSORT diagram): the SVG everywhere
            assert path.suffix == ".svg" and path.is_file() and not path.with_suffix(".png").exists(), path
        else:
            assert path.with_suffix(".svg").is_file() and path.with_suffix(".png").is_file(), path


def test_markdown_markup_of_running_text():
    """"<" found before escaping, known numbers as cross-references, unknown ones left as text."""
    tables = {"hads": SimpleNamespace(name="hads_models"), "unnumbered": SimpleNamespace(name="x")}
    figures = {"consort": SimpleNamespace(name="consort"), "accrual": None}
    m = MarkdownMarkup().numbered(tables, figures, {"hads": 2, "consort": 1, "accrual": 3})
    ast = parse(m.paragraph("P<.001, P = .93, t(106)=−5.05 and n<5 (Table 2), in Figure 1, and Table 7; "
                            "a_b *c* <d> [e] #f stay as written."))
    text = inline_text(ast["blocks"])
    assert re.findall("\x01(.)\x02", text) == ["P", "P", "t", "n"]
    assert [c["citationId"] for cite in elements(ast, "Cite") for c in cite["c"][0]] == ["tbl-hads-models",
                                                                                          "fig-consort"]
    assert "and Table 7; a_b *c* <d> [e] #f stay as written." in text


def test_the_simulated_data_warning_is_a_callout_of_its_own(edition):
    """The small simulated freeze: a warning callout (a Div of class callout-warning), not text swallowed
    by the paragraph above it."""
    _, _, ast = edition
    callouts = [div for div in elements(ast["blocks"], "Div") if "callout-warning" in div["c"][0][1]]
    assert len(callouts) == 1
    assert inline_text(elements(callouts[0], "Para")[0]["c"]).startswith("SIMULATED DATA")
