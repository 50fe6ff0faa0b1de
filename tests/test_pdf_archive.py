"""The PDF is an archival PDF/A-3a: its XMP identification, tags (structure tree, /Lang), the outline
from the headings, dates from the freeze, and its attachments (the closed edition's JSON files; the
open edition's results.json only).  Read with poppler (pdfinfo, pdfdetach, pdftohtml) and by
inflating the PDF's streams; on the shared demo build (``demo_pair``), nothing is rebuilt."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from alliance_report.render.report import edition_attachments

XMP = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "pdfaid": "http://www.aiim.org/pdfa/ns/id/",
       "xmp": "http://ns.adobe.com/xap/1.0/"}
CLOSED_FILES = ("results.json", "validation.json")


def run(*command) -> str:
    return subprocess.run([*map(str, command)], capture_output=True, text=True, check=True).stdout


def inflated(pdf: Path) -> bytes:
    """The PDF with each of its Flate streams (object streams included) inflated after it."""
    data = pdf.read_bytes()
    parts = [data]
    view = memoryview(data)
    for match in re.finditer(rb"stream\r?\n", data):
        try:
            parts.append(zlib.decompressobj().decompress(view[match.end():]))
        except zlib.error:
            pass
    return b"\n".join(parts)


def info(pdf: Path) -> dict[str, str]:
    return dict(line.split(":", 1) for line in run("pdfinfo", "-isodates", pdf).splitlines() if ":" in line)


def attachments(pdf: Path) -> list[str]:
    lines = run("pdfdetach", "-list", pdf).splitlines()
    assert lines[0] == f"{len(lines) - 1} embedded files"
    return [line.split(": ", 1)[1] for line in lines[1:]]


@pytest.fixture(scope="module")
def editions(demo_pair):
    """(folder, pdf) of the closed and the open edition of the shared demo build."""
    _, out = demo_pair
    return {"closed": (out, out / "report.pdf"), "open": (out / "open", out / "open" / "report.pdf")}


@pytest.fixture(scope="module")
def exported_at(demo_pair) -> str:
    freeze, _ = demo_pair
    return json.loads((freeze / "manifest.json").read_text(encoding="utf-8"))["exported_at"]


@pytest.mark.parametrize("edition", ["closed", "open"])
def test_the_pdf_says_it_is_pdf_a_3a_with_the_freeze_dates(editions, exported_at, edition):
    _, pdf = editions[edition]
    xmp = run("pdfinfo", "-meta", pdf)
    rdf = ET.fromstring(xmp[xmp.index("<x:xmpmeta"):xmp.index("</x:xmpmeta>") + len("</x:xmpmeta>")])
    values = {}
    for description in rdf.iter(f"{{{XMP['rdf']}}}Description"):
        values |= description.attrib | {child.tag: child.text for child in description}
    assert values[f"{{{XMP['pdfaid']}}}part"] == "3"
    assert values[f"{{{XMP['pdfaid']}}}conformance"] == "A"
    # every date in the PDF is the manifest's export time: XMP, info dictionary, attachments
    assert values[f"{{{XMP['xmp']}}}CreateDate"] == values[f"{{{XMP['xmp']}}}ModifyDate"] == exported_at
    meta = info(pdf)
    assert meta["CreationDate"].strip() == meta["ModDate"].strip() == exported_at
    pdf_date = "D:" + re.sub(r"[-T:Z]", "", exported_at) + "Z"
    dates = re.findall(rb"/(?:CreationDate|ModDate) \((D:[^)]*)\)", inflated(pdf))
    assert dates and set(dates) == {pdf_date.encode()}


@pytest.mark.parametrize("edition", ["closed", "open"])
def test_the_pdf_is_tagged_with_its_language(editions, edition):
    folder, pdf = editions[edition]
    assert info(pdf)["Tagged"].strip() == "yes"
    data = inflated(pdf)
    assert b"/StructTreeRoot" in data and b"/MarkInfo <</Marked true>>" in data
    assert re.search(rb"/Lang \(en\)", data)
    structure = run("pdfinfo", "-struct", pdf)  # -struct-text lists the text too, but takes ~1 min here
    assert structure.startswith("Document")
    tags = re.findall(r"^\s*([A-Za-z0-9]+)", structure, re.M)
    assert {"H1", "H2", "H3", "P", "Table", "THead", "TH", "TD", "Caption", "Figure"} <= set(tags)
    levels = [level for level, _ in headings(folder)]  # the h2 and h3 of <main> (their text: the outline)
    assert (tags.count("H2"), tags.count("H3")) == (levels.count(1), levels.count(2))
    # every figure has an alternate text (the PNG figures' from their <figure aria-label>)
    figures = [element for element in data.split(b"/Type /StructElem") if element.startswith(b"/S /Figure")]
    assert len(figures) == (folder / "report.html").read_text(encoding="utf-8").count('<figure id="figure-')
    assert all(b"/Alt " in figure for figure in figures)


class _Headings(HTMLParser):
    """The (level, text) of the h2 and h3 headings of <main>: level 1 and 2 of the outline (report.css)."""

    def __init__(self):
        super().__init__()
        self.in_main, self.heading, self.headings = False, None, []

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self.in_main = True
        elif self.in_main and tag in ("h2", "h3"):
            self.heading = [int(tag[1]) - 1, ""]

    def handle_endtag(self, tag):
        if tag == "main":
            self.in_main = False
        elif self.heading is not None and tag in ("h2", "h3"):
            self.headings.append((self.heading[0], " ".join(self.heading[1].split())))
            self.heading = None

    def handle_data(self, data):
        if self.heading is not None:
            self.heading[1] += data


def headings(folder: Path) -> list[tuple[int, str]]:
    parser = _Headings()
    parser.feed((folder / "report.html").read_text(encoding="utf-8"))
    return parser.headings


def outline(pdf: Path) -> list[tuple[int, str]]:
    xml = run("pdftohtml", "-xml", "-stdout", "-i", "-q", "-f", "1", "-l", "1", pdf)
    assert "<outline>" in xml, "the PDF has no outline"
    root = ET.fromstring(xml[xml.index("<outline>"):xml.rindex("</outline>") + len("</outline>")])

    def walk(element, level):
        for child in element:
            if child.tag == "item":
                yield level, " ".join("".join(child.itertext()).split())
            elif child.tag == "outline":
                yield from walk(child, level + 1)

    return list(walk(root, 1))


@pytest.mark.parametrize("edition", ["closed", "open"])
def test_the_outline_has_the_section_headings(editions, edition):
    folder, pdf = editions[edition]
    expected = headings(folder)
    assert len(expected) > 5 and (2, "Provenance") in expected
    assert outline(pdf) == expected


def test_the_closed_pdf_embeds_the_closed_json_files(editions, demo_pair, tmp_path):
    folder, pdf = editions["closed"]
    assert not (folder / "changes.json").exists()  # the shared build had no previous freeze
    assert attachments(pdf) == list(CLOSED_FILES)
    run("pdfdetach", "-saveall", "-o", tmp_path, pdf)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(CLOSED_FILES)
    for name in CLOSED_FILES:
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name
    data = inflated(pdf)
    assert data.count(b"/Subtype /application#2fjson") == len(CLOSED_FILES)  # the MIME type
    assert data.count(b"/AFRelationship /Data") == len(CLOSED_FILES)
    associated = re.search(rb"/AF \[([^]]*)\]", data).group(1).split(b" R")
    associated = [reference.strip() for reference in associated if reference.strip()]
    assert len(associated) == len(set(associated)) == len(CLOSED_FILES)  # each once in the catalog's /AF
    descriptions = re.findall(rb"/Desc \(([^)]*)", data)
    assert len(descriptions) == len(CLOSED_FILES) and all(len(d) > 20 for d in descriptions)


def test_the_open_pdf_embeds_only_its_results(editions, tmp_path):
    folder, pdf = editions["open"]
    assert attachments(pdf) == ["results.json"]
    run("pdfdetach", "-saveall", "-o", tmp_path, pdf)
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]
    assert (tmp_path / "results.json").read_bytes() == (folder / "results.json").read_bytes()
    assert json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))["edition"] == "open"
    data = inflated(pdf)
    assert data.count(b"/Type /Filespec") == 1 and data.count(b"/AFRelationship /Data") == 1


def test_changes_json_goes_into_the_closed_pdf_only(tmp_path):
    (tmp_path / "open").mkdir()
    for name in ("results.json", "validation.json", "changes.json", "open/results.json"):
        (tmp_path / name).write_text("{}\n", encoding="utf-8")
    closed = edition_attachments("closed", tmp_path)
    assert [(a.path.name, a.relationship) for a in closed] == [
        ("changes.json", "Supplement"), ("results.json", "Data"), ("validation.json", "Data")]  # sorted
    assert [a.path for a in edition_attachments("open", tmp_path / "open")] == [tmp_path / "open" / "results.json"]
    assert all(a.description for a in closed)


@pytest.mark.real_renders
def test_the_pdf_does_not_depend_on_the_clock_or_the_files_dates(editions, tmp_path):
    """The open PDF again, elsewhere, later, from a results.json with another modification time:
    the same bytes (the XMP, info and attachment dates come from the report's dcterms metas)."""
    import os
    import shutil

    from alliance_report.render.report import write_pdf

    folder, pdf = editions["open"]
    copy = shutil.copytree(folder, tmp_path / "elsewhere")
    os.utime(copy / "results.json", (978_307_200, 978_307_200))  # 2001-01-01
    write_pdf((copy / "report.html").read_text(encoding="utf-8"), copy / "again.pdf", copy,
              edition_attachments("open", copy))
    assert (copy / "again.pdf").read_bytes() == pdf.read_bytes()
