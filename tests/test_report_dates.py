"""The dates of the title block (issue "A report people can read anywhere"): ``--build-date``
accepts only a real YYYY-MM-DD, and the title block names what each date is."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from alliance_report.cli import main
from alliance_report.render.report import build_report
from alliance_report.settings import Settings, is_date


@pytest.mark.parametrize("text", ["next tuesday", "2026-13-01", "2026-02-30", "20260101", "2026-1-01",
                                  " 2026-01-01", "2026-01-01T00:00", ""])
def test_a_date_that_is_not_a_real_yyyy_mm_dd_is_refused(text, tmp_path, capsys):
    assert not is_date(text)
    with pytest.raises(ValueError, match="build_date must be a real date"):
        Settings(build_date=text)
    with pytest.raises(SystemExit) as stop:
        main(["build", str(tmp_path), "--out", str(tmp_path / "out"), "--build-date", text])
    assert stop.value.code == 2
    assert f"argument --build-date: {text!r} is not a real date written YYYY-MM-DD" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("text", ["2026-12-01", "2024-02-29", "0001-01-01"])
def test_real_dates_are_accepted(text):
    assert is_date(text) and Settings(build_date=text).build_date == text


class TitleBlock(HTMLParser):
    """The (header, cell) pairs of the title block's table."""

    def __init__(self):
        super().__init__()
        self.inside, self.cells, self.current = False, [], None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("class", "meta-table") in attrs:
            self.inside = True
        elif self.inside and tag in ("th", "td"):
            self.current = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("th", "td") and self.current is not None:
            self.cells.append(self.current.strip())
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current += data


def title_block(html: str) -> dict[str, str]:
    parser = TitleBlock()
    parser.feed(html)
    return dict(zip(parser.cells[::2], parser.cells[1::2]))


def test_the_title_block_names_the_export_day_and_a_report_date_only_when_given(demo_pair):
    freeze, out = demo_pair
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    validation = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    manifest = json.loads((freeze / "manifest.json").read_text(encoding="utf-8"))
    exported = manifest["exported_at"][:10]

    published = title_block((out / "report.html").read_text(encoding="utf-8"))
    assert published["Data exported"] == exported and "Report date" not in published and "Built" not in published
    assert published["Cut-off date"] == manifest["cutoff_date"]
    qmd = (out / "report.qmd").read_text(encoding="utf-8")
    assert f"data exported {exported}" in qmd and "report date" not in qmd and "\ndate:" not in qmd

    dated = build_report(results, validation, "2026-12-01")
    assert title_block(dated.html)["Report date"] == "2026-12-01"
    assert title_block(dated.html)["Data exported"] == exported
    assert f"data exported {exported} · report date 2026-12-01" in dated.qmd and '\ndate: "2026-12-01"' in dated.qmd
