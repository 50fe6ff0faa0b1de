"""index.html of build-all: the right value in the right cell, cut-off order, escaped, self-contained,
open-safe, deterministic; the figure draws the rows' numbers; the Markdown summary has a line per freeze."""

from __future__ import annotations

import copy
import re
import xml.etree.ElementTree as ET
from functools import lru_cache

import pytest

from alliance_report.render.index_page import index_html, index_summary

SVG = "{http://www.w3.org/2000/svg}"
DASH = "\u2014"
SCRIPT_ID = "<script>alert(1)</script>"
LINK_KEYS = ("closed_html", "closed_pdf", "open_html", "open_pdf")


def _links(folder: str | None, pdf: bool = True) -> dict:
    if folder is None:
        return dict.fromkeys(LINK_KEYS)
    return {"closed_html": f"{folder}/report.html", "closed_pdf": f"{folder}/report.pdf" if pdf else None,
            "open_html": f"{folder}/open/report.html", "open_pdf": f"{folder}/open/report.pdf" if pdf else None}


# given out of cut-off order; the folders sort in the opposite order to the cut-offs and the ids in
# yet another ("<" sorts before "B"), so sorting by either puts the rows in a wrong order
ROWS = [
    {"freeze_id": "BM-2015-06", "cutoff_date": "2015-06-01", "folder": "freezes/c-june", "outcome": "up to date",
     "detail": "", "randomized": 120, "treated": 81, "pct_of_target": 100 * 120 / 245,
     "validation": {"checks": 121, "failed": 0, "warnings": 2},
     "changes": {"previous_freeze_id": "BM-2015-03", "added": 1300, "changed": 4, "removed": 1},
     "links": _links("BeMind-BM-2015-06", pdf=False)},
    {"freeze_id": "BM-2016-01", "cutoff_date": "2016-01-01", "folder": "freezes/a-jan", "outcome": "interrupted",
     "detail": "SIGINT", "randomized": None, "treated": None, "validation": None, "changes": None,
     "links": _links(None)},
    {"freeze_id": "BM-2015-03", "cutoff_date": "2015-03-01", "folder": "freezes/d-march", "outcome": "built",
     "detail": "", "randomized": 60, "treated": 42, "pct_of_target": 100 * 60 / 245,
     "validation": {"checks": 118, "failed": 0, "warnings": 0},
     "changes": None, "links": _links("BeMind-BM-2015-03")},
    {"freeze_id": SCRIPT_ID, "cutoff_date": "2015-09-01", "folder": "freezes/b-sept", "outcome": "invalid",
     "detail": "2 of 120 checks failed", "randomized": None, "treated": None,
     "validation": {"checks": 120, "failed": 2, "warnings": 0}, "changes": None, "links": _links(None)},
]
IN_ORDER = ["BM-2015-03", "BM-2015-06", SCRIPT_ID, "BM-2016-01"]


@lru_cache(maxsize=None)
def _page(target: int | None = 245, generated: str | None = None) -> str:
    return index_html(copy.deepcopy(ROWS), study="BeMind", target=target, generated=generated)


def _tree(page: str) -> ET.Element:
    return ET.fromstring(page)  # well-formed (XHTML-style) or this raises


def _text(element: ET.Element) -> str:
    return re.sub(r"\s+", " ", "".join(element.itertext())).strip()


def _body_rows(root: ET.Element) -> list[ET.Element]:
    table = root.find(".//table[@id='freezes']")
    assert table is not None
    return table.findall("./tbody/tr")


def _freeze_id(tr: ET.Element) -> str:
    return tr.find("th").text.strip()


def _cells(tr: ET.Element) -> dict[str, ET.Element]:
    """The cells of a row by their last class ("freeze", "cutoff", "randomized", "validation-checks", …)."""
    return {cell.get("class").split()[-1]: cell for cell in tr}


def test_page_is_well_formed_and_accessible():
    page = _page()
    assert page.startswith("<!DOCTYPE html>\n")
    root = _tree(page)
    assert root.tag == "html" and root.get("lang") == "en"
    metas = {m.get("name"): m.get("content") for m in root.iter("meta") if m.get("name")}
    assert "width=device-width" in metas["viewport"]
    assert root.find("./head/title").text == "BeMind: data freezes"
    assert all(th.get("scope") in ("col", "colgroup", "row") for th in root.iter("th"))
    assert all(th.get("scope") == "row" for tr in _body_rows(root) for th in tr.iter("th"))
    figure = root.find(".//figure")
    image = figure.find("./div[@role='img']")
    assert image.get("aria-label") and image.find(f"{SVG}svg") is not None
    assert _text(figure.find("figcaption")).startswith("Figure 1. Cumulative number of participants randomized")
    scroll = root.find(".//div[@class='scroll']")  # the table scrolls in its own box
    assert scroll.find("table") is not None and scroll.get("tabindex") == "0"
    assert ".scroll { overflow-x: auto" in root.find("./head/style").text
    notes = _text(root.find("./body"))
    assert "This page holds no number by arm" in notes
    assert "the closed edition (results by arm) is for the data monitoring committee only" in notes


def test_rows_in_cutoff_order_with_their_values_in_the_right_cells():
    root = _tree(_page())
    rows = _body_rows(root)
    assert [_freeze_id(tr) for tr in rows] == IN_ORDER
    given = {row["freeze_id"]: row for row in ROWS}
    for tr in rows:
        row, cells = given[_freeze_id(tr)], _cells(tr)
        assert _text(cells["freeze"]) == f"{row['freeze_id']} {row['folder']}"
        assert _text(cells["cutoff"]) == row["cutoff_date"]
        outcome = cells["outcome-cell"]
        assert outcome.find("span[@class]").text == row["outcome"]
        assert _text(outcome) == f"{row['outcome']} {row['detail']}".strip()
        for key in ("randomized", "treated"):
            assert _text(cells[key]) == (DASH if row[key] is None else f"{row[key]:,}")
        for key in ("checks", "failed", "warnings"):
            expected = DASH if row["validation"] is None else f"{row['validation'][key]:,}"
            assert _text(cells[f"validation-{key}"]) == expected
        changes = row["changes"]
        for key in ("added", "changed", "removed"):
            assert _text(cells[f"changes-{key}"]) == (DASH if changes is None else f"{changes[key]:,}")
        assert _text(cells["changes-previous"]) == (DASH if changes is None else changes["previous_freeze_id"])
    by_id = {_freeze_id(tr): _cells(tr) for tr in rows}
    assert _text(by_id["BM-2015-06"]["changes-added"]) == "1,300"  # a thousands separator
    assert _text(by_id["BM-2015-06"]["validation-warnings"]) == "2"


def test_links_exist_exactly_when_given():
    root = _tree(_page())
    given = {row["freeze_id"]: row["links"] for row in ROWS}
    for tr in _body_rows(root):
        links = given[_freeze_id(tr)]
        cell = _cells(tr)["reports"]
        hrefs = sorted(a.get("href") for a in cell.iter("a"))
        assert hrefs == sorted(v for v in links.values() if v)
        closed, open_ = (_text(span) for span in cell.findall("span"))
        def label(edition):
            parts = [kind for kind, key in (("HTML", f"{edition}_html"), ("PDF", f"{edition}_pdf")) if links[key]]
            return f"{edition}: " + (" · ".join(parts) or DASH)
        assert (closed, open_) == (label("closed"), label("open"))
        for a in cell.iter("a"):  # a link says which freeze and edition it opens
            assert _freeze_id(tr) in a.get("aria-label")
    hostile = copy.deepcopy(ROWS[2])
    hostile["links"]["open_html"] = "javascript:alert(1)"
    hostile["links"]["closed_html"] = "My Freeze #1/report.html"
    hrefs = [a.get("href") for a in _tree(index_html([hostile], study="BeMind", target=None)).iter("a")]
    assert "javascript%3Aalert%281%29" in hrefs and "My%20Freeze%20%231/report.html" in hrefs


def test_user_strings_are_escaped():
    page = _page()
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert SCRIPT_ID in [_freeze_id(tr) for tr in _body_rows(_tree(page))]
    evil = copy.deepcopy(ROWS[2])
    evil.update(detail='"><img src=x onerror=alert(1)>', folder="</td><b>x</b>")
    page = index_html([evil], study="<i>S</i>", target=None)
    root = _tree(page)
    assert root.find(".//img") is None and root.find(".//i") is None and root.find(".//tbody//b") is None
    assert _text(root.find(".//h1")) == "<i>S</i>: data freezes"
    # a control character or a lone surrogate (JSON "\\ud800", an undecodable folder name) cannot break the page
    odd = dict(copy.deepcopy(ROWS[2]), freeze_id="x\x01\ud800y", folder="freezes/\udcff",
               links=_links("BeMind-x\udcff"))
    page = index_html([odd], study="BeMind", target=None)
    root = ET.fromstring(page.encode("utf-8"))
    assert _freeze_id(_body_rows(root)[0]) == "x\ufffd\ufffdy"
    assert "BeMind-x%FF/report.html" in [a.get("href") for a in root.iter("a")]
    assert index_summary([odd]).encode("utf-8")


def test_same_bytes_for_the_same_rows_and_no_timestamp_unless_given():
    page = _page()
    assert index_html(list(reversed(copy.deepcopy(ROWS))), study="BeMind", target=245) == page  # any order given
    assert "Generated" not in page and not re.search(r"\d\d:\d\d", page)
    stamped = _page(generated="2015-12-31 run 7")
    assert stamped.replace('<p class="meta">Generated 2015-12-31 run 7.</p>\n', "") == page


def test_self_contained_and_open_safe():
    page = _page()
    root = _tree(page)
    references = [value for element in root.iter() for name, value in element.attrib.items()
                  if name in ("src", "href") or name.endswith("}href")]
    references += re.findall(r"url\(([^)]*)\)", page)
    assert references
    for reference in references:
        assert not re.match(r"\s*['\"]?(?:[a-z][a-z0-9+.-]*:|//)", reference, re.I), reference
        assert "http" not in reference
    assert root.find(".//script") is None and root.find(".//link") is None and root.find(".//img") is None
    assert "@import" not in page and "<metadata" not in page
    assert not re.search(r"\b(?:MBCT|eMBCT|TAU)\b", page)
    assert not re.search(r"\b(?:MBCT|eMBCT|TAU)\b", index_summary(ROWS))


def _line_vertices(root: ET.Element, gid: str) -> list[tuple[float, float]]:
    group = next(g for g in root.iter(f"{SVG}g") if g.get("id") == f"freeze_index-{gid}")
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", group.find(f"{SVG}path").get("d"))]
    return list(zip(numbers[::2], numbers[1::2]))


def test_figure_draws_the_rows_numbers_against_the_target():
    root = _tree(_page())
    alt = root.find(".//figure/div[@role='img']").get("aria-label")
    values = re.search(r"Values: (.*?)\.(?: |$)", alt).group(1)
    drawn = [(m[0], m[1], int(m[2].replace(",", ""))) for m in
             re.findall(r"(\S+) \(cut-off (\d{4}-\d\d-\d\d)\): ([\d,]+)", values)]
    expected = [(r["freeze_id"], r["cutoff_date"], r["randomized"])
                for r in sorted(ROWS, key=lambda r: r["cutoff_date"]) if r["randomized"] is not None]
    assert drawn == expected
    caption = _text(root.find(".//figcaption"))
    assert "target of 245" in caption and "2 freezes without a number" in caption
    assert "120 had been randomized (49.0% of the target of 245)" in caption
    # the path data: one vertex per number, left to right, and higher for more participants
    vertices = _line_vertices(root, "randomized-0")
    assert len(vertices) == 2 and vertices[0][0] < vertices[1][0] and vertices[0][1] > vertices[1][1]


@pytest.mark.parametrize("pct_of_target, words", [
    (48.97959183673469, "120 had been randomized (49.0% of the target of 245)."),
    (50.0, "120 had been randomized (50.0% of the target of 245)."),  # as given: not recomputed from 120 / 245
    (None, "120 had been randomized."),
    (True, "120 had been randomized."),
])
def test_the_percentage_of_the_target_is_the_rows(pct_of_target, words):
    rows = copy.deepcopy(ROWS)
    rows[0]["pct_of_target"] = pct_of_target
    caption = _text(_tree(index_html(rows, study="BeMind", target=245)).find(".//figcaption"))
    assert words in caption


def test_figure_geometry_is_linear_in_the_numbers():
    rows = [dict(copy.deepcopy(ROWS[2]), freeze_id=f"F{i}", cutoff_date=cutoff, randomized=n, folder=f"f{i}")
            for i, (cutoff, n) in enumerate((("2014-01-31", 10), ("2014-05-15", 25), ("2014-11-30", 70)))]
    root = _tree(index_html(rows, study="BeMind", target=100))
    vertices = _line_vertices(root, "randomized-0")
    target_y = _line_vertices(root, "target")[0][1]
    (x0, y0), (_, y1) = vertices[0], vertices[-1]
    scale = (y1 - y0) / (70 - 10)
    for (_, y), n in zip(vertices, (10, 25, 70)):
        assert y == pytest.approx(y0 + scale * (n - 10), abs=0.01)
    assert target_y == pytest.approx(y0 + scale * (100 - 10), abs=0.01)
    # x: days between cut-offs (a month axis; within 2% of the calendar span)
    xs = [x for x, _ in vertices]
    assert (xs[1] - xs[0]) / (xs[2] - xs[0]) == pytest.approx(104 / 303, rel=0.02)


def test_no_figure_without_a_number_and_no_target_line_without_a_target():
    page = index_html([r for r in copy.deepcopy(ROWS) if r["randomized"] is None], study="BeMind", target=245)
    root = _tree(page)
    assert "<svg" not in page and root.find(".//figure") is None
    assert "so there is no figure" in _text(root.find(".//p[@id='figure-missing']"))
    assert len(_body_rows(root)) == 2
    untargeted = _tree(_page(target=None))
    assert not any(g.get("id") == "freeze_index-target" for g in untargeted.iter(f"{SVG}g"))
    assert "without a target line" in _text(untargeted.find(".//figcaption"))
    empty = _tree(index_html([], study="", target=None))
    assert _text(empty.find(".//h1")) == "Data freezes" and "No freeze was found." in _text(empty)


def test_markdown_summary_has_one_line_per_freeze_in_cutoff_order():
    summary = index_summary(copy.deepcopy(ROWS))
    lines = summary.rstrip("\n").split("\n")
    assert len(lines) == 2 + len(ROWS)
    assert lines[0].startswith("| Freeze | Cut-off | Outcome | Randomized | Treated | Validation")
    cells = [re.split(r"(?<!\\)\|", line)[1:-1] for line in lines[2:]]
    assert all(len(row) == 7 for row in cells)
    assert [row[1].strip() for row in cells] == ["2015-03-01", "2015-06-01", "2015-09-01", "2016-01-01"]
    assert [c.strip() for c in cells[1]] == ["BM-2015-06", "2015-06-01", "up to date", "120", "81", "121 / 0 / 2",
                                             "1,300 / 4 / 1 vs BM-2015-03"]
    assert [c.strip() for c in cells[2][2:]] == [r"invalid \(2 of 120 checks failed\)", DASH, DASH, "120 / 2 / 0", DASH]
    assert "<script>" not in summary and r"\<script\>" in summary
    piped = dict(copy.deepcopy(ROWS[0]), freeze_id="a|b\nc")
    assert len(re.split(r"(?<!\\)\|", index_summary([piped]).split("\n")[2])) == 9  # still 7 cells on one line


def test_a_row_counts_the_warnings_of_the_checks_and_of_the_comparison(tmp_path):
    """The index's warnings are the report's: validation.json's warnings plus the comparison's
    (changes.flags: removed rows, changed baseline or randomization data); it showed 0 beside a
    report that listed 4."""
    import json
    from pathlib import Path

    from alliance_report.build_all import FreezeOutcome
    from alliance_report.freeze_index import index_row

    out = tmp_path / "reports" / "BeMind-f2"
    (out / "open").mkdir(parents=True)
    changes = {"status": "compared", "previous": {"freeze_id": "f1"},
               "totals": {"added": 5, "changed": 2, "removed": 1}, "flags": [{"kind": "removed"}] * 3}
    results = {"participant_flow": {"randomized": 40, "treated": 20},
               "conduct": {"accrual": {"pct_of_target": 16.3}}, "changes": changes}
    (out / "open" / "results.json").write_text(json.dumps(results))
    (out / "validation.json").write_text(json.dumps({"n_checks": 120, "n_failed": 0, "n_warnings": 2}))
    manifest = {"freeze_id": "f2", "cutoff_date": "2014-06-01", "study": "BeMind"}
    row = index_row(FreezeOutcome(Path("freezes/f2"), "built", out, 0), manifest, tmp_path / "reports")
    assert row["validation"] == {"checks": 120, "failed": 0, "warnings": 5}
    assert row["changes"] == {"previous_freeze_id": "f1", "added": 5, "changed": 2, "removed": 1}
    results["changes"] = {"status": "no previous freeze", "previous": None}
    (out / "open" / "results.json").write_text(json.dumps(results))
    row = index_row(FreezeOutcome(Path("freezes/f2"), "built", out, 0), manifest, tmp_path / "reports")
    assert row["validation"]["warnings"] == 2 and row["changes"] is None


@pytest.mark.parametrize("cutoffs", [("2015-03-01", "2018-03-01"), ("2014-03-01", "2014-06-01", "2016-06-01")])
def test_the_value_labels_stay_inside_the_axes(cutoffs, monkeypatch):
    """The first and last points' numbers are drawn clear of the y axis and of the right edge
    (the first label crossed the y axis when the freezes spanned years: half a month of room)."""
    import alliance_report.render.figures as figures
    from alliance_report.render.index_page import accrual_by_freeze_figure

    drawn = {}

    def keep(fig, *args):
        fig.canvas.draw()
        ax = fig.axes[0]
        axes_box = ax.get_window_extent()
        drawn["labels"] = [(text.get_text(), text.get_window_extent(), axes_box) for text in ax.texts]

    monkeypatch.setattr(figures, "export_figure", keep)
    rows = [dict(cutoff_date=cutoff, randomized=100 + 40 * i, study="BeMind", freeze_id=cutoff, pct_of_target=None)
            for i, cutoff in enumerate(cutoffs)]
    accrual_by_freeze_figure(rows, 245)
    assert [text for text, _, _ in drawn["labels"]] == [str(100 + 40 * i) for i in range(len(cutoffs))]
    for text, label, axes_box in drawn["labels"]:
        assert axes_box.x0 + 2 < label.x0 and label.x1 < axes_box.x1 - 2, text
