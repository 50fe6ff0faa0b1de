"""The pagination rules of the PDF, checked on WeasyPrint's laid-out pages (not by eye).

:func:`problems` walks the page boxes of a rendered ``weasyprint.Document`` and returns one
sentence per broken rule:

* a heading never ends a page (it is kept with the block that follows it);
* a table's caption stays with the table's first rows, and its footnote with its last rows (a
  page never begins with a table's footnote);
* a table split across pages repeats its header on every page;
* no page carries fewer than 3 rows of a table that is split (or all its rows, if fewer);
* a table row never ends a page apart from the rows that belong to it (class ``keep-next``: its
  parts, its reasons, the other rows of its group; ``markup._belongs_to``);
* no content runs outside the text block (the page's content box, ½ px tolerance);
* no line ends inside a file or column name (``names``: e.g. "questionnaires.csv").

The stylesheet makes these rules hold (``report_templates/report.css``, ``@media print``); this
module is how the build and the tests know that they did.
"""

from __future__ import annotations

from weasyprint.formatting_structure import boxes

HEADINGS = ("h1", "h2", "h3", "h4")
MIN_ROWS = 3
TOLERANCE = 0.5  # px: rounding of WeasyPrint's layout


def _flow(page_box):
    """The boxes of the page body in document order (the running headers and footers left out)."""
    for child in page_box.children:
        if isinstance(child, boxes.MarginBox):
            continue
        yield child
        if isinstance(child, boxes.ParentBox):
            yield from child.descendants()


def _table_id(box) -> str | None:
    element = getattr(box, "element", None)
    return element.get("id") if element is not None else None


def _is_content(box) -> bool:
    """A heading, caption, paragraph, figure or table row: what a page's first or last block is."""
    return ((box.element_tag in (*HEADINGS, "p", "figure") and isinstance(box, boxes.BlockBox))
            or isinstance(box, (boxes.TableCaptionBox, boxes.TableRowBox)))


def _first_content(page_boxes) -> object | None:
    return next((box for box in page_boxes if _is_content(box)), None)


def _last_content(page_boxes) -> object | None:
    """The last heading, caption, paragraph, figure or table row of the page."""
    last = None
    for box in page_boxes:
        if _is_content(box):
            last = box
    return last


def _lines_per_block(page_boxes) -> list[list[str]]:
    """The text of each line, per block that holds lines (a paragraph, a table cell)."""
    blocks = []
    for box in page_boxes:
        if isinstance(box, boxes.ParentBox) and not isinstance(box, boxes.LineBox):
            lines = ["".join(child.text for child in line.descendants() if isinstance(child, boxes.TextBox))
                     for line in box.children if isinstance(line, boxes.LineBox)]
            if lines:
                blocks.append(lines)
    return blocks


def _continues(text: str) -> bool:
    """Whether a line ends inside a word (no space at its end)."""
    return bool(text) and not text.endswith((" ", "\u00a0"))


def _broken_names(lines: list[str], names: tuple[str, ...]) -> list[str]:
    """Names cut at line ends in one block: the end of one line, the start of the next, and of the
    lines after it while each holds a single piece of the word ("questi" / "onnair" / "es.csv")."""
    found = []
    for i, text in enumerate(lines[:-1]):
        one_piece = len(text.split()) == 1
        if not _continues(text) or (one_piece and i > 0 and _continues(lines[i - 1])):
            continue  # no word cut here, or this line is the middle of a word cut before it
        pieces = [text.split()[-1]]
        for next_text in lines[i + 1:]:
            if not next_text.strip():
                break
            pieces.append(next_text.split()[0])
            if len(next_text.split()) > 1 or not _continues(next_text):
                break
        for name in names:
            if name in "".join(pieces) and not any(name in piece for piece in pieces):
                count = "two" if len(pieces) == 2 else str(len(pieces))
                found.append(f"“{name}” is broken over {count} lines (“{'” / “'.join(pieces)}”)")
    return found


def problems(document, names: tuple[str, ...] = ()) -> list[str]:
    """Every broken pagination rule of ``document`` (a rendered ``weasyprint.Document``)."""
    found: list[str] = []
    rows_per_page: dict[str, list[tuple[int, int, bool]]] = {}  # table id → (page, tbody rows, header)
    captions: dict[str, int] = {}
    for number, page in enumerate(document.pages, start=1):
        page_box = page._page_box
        body = list(_flow(page_box))
        right = page_box.content_box_x() + page_box.width + TOLERANCE
        last = _last_content(body)
        if last is not None and last.element_tag in HEADINGS and number < len(document.pages):
            found.append(f"page {number} ends with the heading “{_text(last)}”")
        if isinstance(last, boxes.TableCaptionBox) and number < len(document.pages):
            found.append(f"page {number} ends with the caption “{_text(last)[:60]}”")
        if isinstance(last, boxes.TableRowBox) and "keep-next" in (last.element.get("class") or "").split():
            found.append(f"page {number} ends with the row “{_text(last)[:40]}”, apart from the rows under it")
        first = _first_content(body)
        if first is not None and first.element_tag == "p" and "footnote" in (first.element.get("class") or "").split():
            found.append(f"page {number} begins with a table's footnote (“{_text(first)[:40]}”), "
                         "apart from its rows")
        for box in body:
            if getattr(box, "is_table_wrapper", False) and _table_id(box):
                if any(isinstance(child, boxes.TableCaptionBox) for child in box.children):
                    captions.setdefault(_table_id(box), number)
            if isinstance(box, boxes.TableBox) and _table_id(box):
                groups = [g for g in box.children if isinstance(g, boxes.TableRowGroupBox)]
                n_rows = sum(len(g.children) for g in groups if not g.is_header and not g.is_footer)
                has_header = any(g.is_header for g in groups)
                rows_per_page.setdefault(_table_id(box), []).append((number, n_rows, has_header))
            if isinstance(box, (boxes.TextBox, boxes.ReplacedBox)) and box.position_x + box.margin_width() > right:
                found.append(f"page {number}: “{_text(box)[:40]}” runs {box.position_x + box.margin_width() - right:.0f}"
                             " px past the right edge of the text block")
        found += [f"page {number}: {message}"
                  for lines in _lines_per_block(body) for message in _broken_names(lines, names)]
    for table, pages in rows_per_page.items():
        total = sum(n for _, n, _ in pages)
        caption_page = captions.get(table)
        if caption_page is not None and not any(p == caption_page and n > 0 for p, n, _ in pages):
            found.append(f"the caption of {table} is on page {caption_page} without any of its rows")
        if len(pages) < 2:
            continue
        for page_number, n, has_header in pages:
            if n < min(MIN_ROWS, total):
                found.append(f"{table}: page {page_number} carries {n} of its {total} rows")
            if not has_header:
                found.append(f"{table}: page {page_number} does not repeat the table's header")
    return found


def _text(box) -> str:
    if isinstance(box, boxes.TextBox):
        return box.text
    if isinstance(box, boxes.ParentBox):
        return " ".join(child.text for child in box.descendants() if isinstance(child, boxes.TextBox)).strip()
    return ""
