"""The pagination rules of the PDF (render/pagination.py): each rule breaks on a hand-made page
that breaks it, and none breaks in the reports of the demo, an interim and a very early freeze."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import weasyprint

from alliance_report.cli import main
from alliance_report.freeze import FREEZE_FILES
from alliance_report.render.pagination import problems

NAMES = (*FREEZE_FILES, "manifest.json")
PAGE = "@page { size: 120mm 80mm; margin: 10mm; } body { margin: 0; font: 10pt/14pt 'DejaVu Sans'; } p { margin: 0; }"


def laid_out(body: str, css: str = ""):
    return weasyprint.HTML(string=f"<html lang='en'><style>{PAGE}{css}</style><body>{body}</body></html>").render()


def filler(lines: int) -> str:
    return "".join(f"<p>line {i}</p>" for i in range(lines))


def table(rows: int, head: bool = True, caption: str = "Table 1. A table") -> str:
    thead = "<thead><tr><th>Name</th><th>n</th></tr></thead>" if head else ""
    body = "".join(f"<tr><td>row {i}</td><td>{i}</td></tr>" for i in range(rows))
    return f'<table id="table-t"><caption>{caption}</caption>{thead}<tbody>{body}</tbody></table>'


def test_a_heading_at_the_bottom_of_a_page():
    # 12 lines fit a page: the heading is the 12th
    doc = laid_out(filler(11) + "<h2>Results</h2>" + filler(3), "h2 { margin: 0; font-size: 10pt; break-after: auto; }")
    assert problems(doc) == ["page 1 ends with the heading “Results”"]
    kept = laid_out(filler(11) + "<h2>Results</h2>" + filler(3), "h2 { margin: 0; font-size: 10pt; break-after: avoid; }")
    assert problems(kept) == []


def test_a_caption_without_its_rows():
    doc = laid_out(filler(9) + table(3), "caption { break-after: auto; }")
    assert problems(doc) == ["page 1 ends with the caption “Table 1. A table”",
                             "the caption of table-t is on page 1 without any of its rows"]
    assert problems(laid_out(filler(9) + table(3), "caption { break-after: avoid; }")) == []


def test_a_footnote_apart_from_its_table():
    """The table fills the page to its last row; its footnote would begin the next page."""
    tight = "table { border-collapse: collapse; } td, th, caption { padding: 0; line-height: 14pt; }"
    page = filler(1) + table(8) + '<p class="footnote">A footnote.</p>' + filler(2)
    assert problems(laid_out(page, tight)) == ["page 2 begins with a table's footnote (“A footnote.”), apart from its rows"]
    # report.css: the footnote goes with the last rows, and the last 3 rows stay together
    kept = ".footnote { break-before: avoid; } tbody tr:nth-last-child(-n+2) { break-before: avoid; }"
    assert problems(laid_out(page, tight + kept)) == []


def test_a_split_table_that_does_not_repeat_its_header_or_leaves_one_row():
    doc = laid_out(filler(4) + table(8), "thead { display: table-row-group; }")  # a header that is not repeated
    assert "table-t: page 2 does not repeat the table's header" in problems(doc)
    assert problems(laid_out(filler(4) + table(8))) == []
    orphan = laid_out(filler(6) + table(8))
    assert problems(orphan) == ["table-t: page 1 carries 2 of its 8 rows"]
    kept = ("caption { break-after: avoid; } tbody tr:nth-child(-n+2) { break-after: avoid; } "
            "tbody tr:nth-last-child(-n+2) { break-before: avoid; }")
    assert problems(laid_out(filler(6) + table(8), kept)) == []


def report_table(header: tuple[str, ...], rows: list[tuple[str, ...]], text_columns: int = 1) -> str:
    """A table as the report writes it (render/markup.py)."""
    from alliance_report.render.markup import HtmlMarkup
    from alliance_report.render.tables import Row, Table

    return str(HtmlMarkup().table(Table("t", "A table", header, tuple(Row(r) for r in rows), "", text_columns=text_columns), 1))


def report_css() -> str:
    from alliance_report import TEMPLATES_DIR

    return (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")


LONG_WORD_RULE = "th.long, td.long { overflow-wrap: anywhere; }"


def test_a_long_word_in_a_table_cell_breaks_instead_of_leaving_the_page():
    """A reason or site name typed as one long token (a URL) wraps inside its column (report.css)."""
    css = report_css()
    assert LONG_WORD_RULE in css
    body = report_table(("Reason", "n"), [("https://example.org/" + "x" * 180, "12")])
    assert problems(laid_out(body, css)) == []
    assert any("past the right edge of the text block" in f for f in problems(laid_out(body, css.replace(LONG_WORD_RULE, ""))))


def test_short_names_are_not_broken_beside_a_long_column():
    """File names, column names and dates never break inside a word, also beside a column of long
    text (a removed row's cells): a column that may break anywhere was squeezed to a few letters
    ("questionnaires.c" / "sv", "2014-04-1" / "0")."""
    removed_row = "P0116,site A,2014-12-22,,,38,female,no,no,high,breast,curative,12 " * 3
    body = report_table(("File", "Key", "Column", "Previous", "Current"), [
        ("questionnaires.csv", "P0116|T0|HADS|1", "(row removed)", removed_row, "—"),
        ("participants.csv", "P0001", "rerandomized_on", "2014-04-09", "2014-04-10")], text_columns=5)
    css = report_css()
    assert problems(laid_out(body, css), NAMES) == []
    words = " ".join(page_text(laid_out(body, css)).split())
    assert "rerandomized_on" in words and "2014-04-10" in words
    squeezed = css.replace(LONG_WORD_RULE, "td:first-child, tbody th, td.text { overflow-wrap: anywhere; }")
    assert any("“questionnaires.csv” is broken" in f for f in problems(laid_out(body, squeezed), NAMES))


def page_text(document) -> str:
    """The text of the laid-out boxes, in order (each box's text once)."""
    texts = []

    def walk(box):
        if hasattr(box, "text"):
            texts.append(box.text)
        for child in getattr(box, "children", ()):
            walk(child)
    for page in document.pages:
        walk(page._page_box)
    return " ".join(texts)


def test_content_past_the_right_edge_and_a_name_broken_over_two_lines():
    wide = laid_out("<p style='white-space: nowrap'>" + "word " * 40 + "</p>")
    assert any("past the right edge of the text block" in f for f in problems(wide))
    broken = laid_out("<p style='width: 30mm; overflow-wrap: anywhere'>questionnaires.csv+participants.csv</p>")
    assert any("“questionnaires.csv” is broken over two lines" in f or "“participants.csv” is broken" in f
               for f in problems(broken, NAMES))
    assert problems(laid_out("<p style='width: 30mm'>questionnaires.csv + participants.csv</p>"), NAMES) == []


def sequence_out(sequence_built, cutoff: str) -> Path:
    """The output of the session's freeze cut at ``cutoff`` (conftest.sequence_built)."""
    freezes, reports = sequence_built
    freeze_id = json.loads((freezes / f"cut-{cutoff}" / "manifest.json").read_text())["freeze_id"]
    return reports / f"BeMind-{freeze_id}"


@pytest.mark.parametrize("which", ["demo", *(pytest.param(which, marks=pytest.mark.slow)
                                             for which in ("interim", "early", "small"))])
def test_the_reports_keep_every_rule(which, request):
    """The build checks the laid-out pages of both PDFs (render/report.write_pdf) and logs what it found."""
    out = {"demo": lambda: request.getfixturevalue("demo_built"), "small": lambda: request.getfixturevalue("built")[1],
           "early": lambda: sequence_out(request.getfixturevalue("sequence_built"), "2014-03-01"),
           "interim": lambda: sequence_out(request.getfixturevalue("sequence_built"), "2015-03-01")}[which]()
    log = (out / "build.log").read_text(encoding="utf-8")
    assert "\nlayout:       0 pagination problems in the PDF\noutcome:      built" in log
    assert (out / "report.pdf").is_file() and (out / "open" / "report.pdf").is_file()


@pytest.mark.slow
@pytest.mark.real_renders
def test_a_broken_rule_is_reported_and_the_report_still_published(built, tmp_path, monkeypatch, capsys):
    from alliance_report.render import pagination

    freeze, _ = built
    monkeypatch.setattr(pagination, "problems", lambda document, names=(): ["page 2 ends with the heading “Methods”"])
    out = tmp_path / "out"
    assert main(["build", str(freeze), "--out", str(out), "--jobs", "1", "--edition", "open"]) == 0
    log = (out / "build.log").read_text(encoding="utf-8")
    assert "layout:       1 pagination problem in the PDF\n  open edition, page 2 ends with the heading “Methods”" in log
    assert ("alliance-report: the PDF breaks a pagination rule (open edition, page 2 ends with the heading "
            "“Methods”); the report is published") in capsys.readouterr().err


@pytest.mark.parametrize("text, unbroken", [
    ("(Wilks Λ = .613, partial η² = .061)", ["Wilks Λ = .613", "partial η² = .061"]),  # APA: no leading zero
    ("adjusted R² = −.264", ["adjusted R² = −.264"]),
    ("B=−1.87, 95% CI −3.45 to −0.29", ["95% CI −3.45 to −0.29"]), ("95% CI [−1.89, 2.49]", ["95% CI [−1.89, 2.49]"]),
    ("tested two-sided at α = .05", ["α = .05"]),
    ("β=−0.18; OR=0.61; n=24,500", ["β=−0.18", "OR=0.61", "<em>n</em>=24,500"]),
    ("t(106)=−5.05, P&lt;.001", ["<em>t</em>(106)=−5.05", "<em>P</em>&lt;.001"]),
])
def test_a_statistic_is_never_broken_over_two_lines(text, unbroken):
    """Every "symbol = value" of the running text is in a <span class="stat"> (white-space: nowrap):
    an APA value such as ".061" would otherwise break after its "."."""
    from markupsafe import Markup

    from alliance_report.render.markup import HtmlMarkup

    marked = str(HtmlMarkup().stats(Markup(text)))
    assert [f'<span class="stat">{piece}</span>' in marked for piece in unbroken] == [True] * len(unbroken)


@pytest.mark.parametrize("kept", [False, True])
def test_a_row_is_kept_with_the_rows_under_it(kept):
    """A row followed by its parts (markup: class keep-next) never ends a page: with report.css's
    rule the row goes to the next page with them; without it, the check reports the split."""
    from alliance_report.render.markup import HtmlMarkup
    from alliance_report.render.tables import Row, Table

    # after 3 lines of text, the first page holds 4 rows: the 4th is a parent whose parts follow
    rows = (Row(("a", "1")), Row(("b", "2")), Row(("c", "3")), Row(("parent", "4")),
            Row(("part one", "2"), indent=1), Row(("part two", "2"), indent=1), Row(("d", "5")), Row(("e", "6")))
    html = str(HtmlMarkup().table(Table("t", "A table", ("Name", "n"), rows, "A footnote."), 1))
    assert html.count('class="keep-next"') == 2  # "parent" and "part one"
    css = "thead { display: table-header-group; } tr.keep-next { break-after: avoid; }" if kept else \
        "thead { display: table-header-group; }"
    found = problems(laid_out(filler(3) + html, css))
    assert any("ends with the row “parent" in problem for problem in found) is not kept, found


def test_statistics_in_table_notes_and_figure_captions_are_never_broken():
    """Notes and captions are marked like the running text: "adjusted R² = ." / "253" was seen at
    a line end of an APA table note."""
    from types import SimpleNamespace

    from alliance_report.render.markup import HtmlMarkup
    from alliance_report.render.tables import Row, Table

    note = "Main model: adjusted R² = .253, n = 182."
    table = str(HtmlMarkup().table(Table("t", "A table", ("Name", "n"), (Row(("a", "1")),), note), 1))
    assert '<span class="stat">adjusted R² = .253</span>' in table
    figure = SimpleNamespace(name="f", alt="A figure", svg="<svg></svg>", caption=note)
    assert '<span class="stat">adjusted R² = .253</span>' in str(HtmlMarkup().figure(figure, 1))
