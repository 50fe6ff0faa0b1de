"""The CONSORT 2010 flow diagram of the trial, adapted to its two-stage design, as inline SVG.

Drawn from the ``consort`` object of results.json only (:mod:`alliance_report.analysis.consort`,
always complete: a missing key raises KeyError): every number in the diagram is a value of
that dict (the "first round" count of a treatment column is ``allocated``).  The flow is
right at any interim cut-off: TAU participants still waiting, participants still in
treatment and T1 assessments not yet due have rows of their own.  Counts are written "(n=41)", as
in the CONSORT template, in either reporting style; an analysis whose model gave no estimate
is marked "not estimable" after its count (``consort["analysed_estimated"]``).

Layout (columns MBCT | TAU | eMBCT, so that the re-randomization of TAU feeds both
treatment columns without crossing lines; stage labels in rounded bands on the left)::

    Enrollment            Assessed for eligibility
                                     ├──────► Excluded (n) + reasons
                                 Randomized
                   ┌─────────────────┼─────────────────┐
    Allocation   Allocated MBCT   Allocated TAU   Allocated eMBCT
                   │                 │                 │
                   │    ┌─ Re-randomized after ──┐     │
                   │    │  waiting: to MBCT,     │     │
                   │    │  to eMBCT; [Waiting];  │     │
                   ▼    ▼  Not re-randomized     ▼     ▼
    Treatment    Treated in MBCT                 Treated in eMBCT
                 [Still in treatment]            [Still in treatment]
                 Treatment ended: ≥ k / < k      Treatment ended: ≥ k / < k
    Follow-up    Discontinued + reasons          Discontinued + reasons
                 Follow-up at T1: assessed,      Follow-up at T1: assessed,
                 lost, [not yet due], [due in    lost, [not yet due], [due in
                 treatment], [withdrew + why]    treatment], [withdrew + why]
    Analysis     Analysed: 4 samples             Analysed: 4 samples

Rows in brackets are drawn only when their count is above zero in some arm, and then in
both arms.  The column boxes share one width and the boxes of a row one height; the items
of the two arms' boxes line up (an item that wraps, or a reason list that is longer, in one
arm gets blank lines in the other), which is why the withdrawals with their reasons close
the T1 box.  When the list of exclusion reasons is long, the Assessed/Randomized spine moves
to the MBCT column so that the "Excluded" box can use the full width to its right.

Plain SVG only (rect, path, text), for WeasyPrint and browsers alike: no markers, no
foreignObject, no CSS.  One user unit is one millimetre when the SVG is printed
``width_mm`` wide, so the font sizes are the printed sizes (body 7.5 pt).  Boxes are sized
to their text, measured with the DejaVu Sans metrics shipped with matplotlib (FreeType
advances, the font WeasyPrint uses), and long lines are wrapped to the box width; boxes
that carry a list (exclusion, non-re-randomization, discontinuation and withdrawal reasons)
grow downwards and the diagram grows with them.  A reason is free text from the export: one
longer than ``REASON_DISPLAY_LIMIT`` characters is cut there with "…" before it is measured and
wrapped, so that the layout's cost does not grow with the text (results.json keeps the full
text).  The output is deterministic: same dict, same string.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
from matplotlib.ft2font import FT2Font, LoadFlags

from alliance_report.design import CONDITIONS, WAITING_LIST
from alliance_report.render import format as fmt
from alliance_report.settings import Settings

__all__ = ["consort_svg", "measure", "TextMetrics", "METRICS", "NOT_ESTIMABLE_NOTE"]

FONT_FAMILY = "DejaVu Sans, sans-serif"
PT = 25.4 / 72  # one point in millimetres

ANALYSES = (  # key of consort["analysed"], label in the diagram
    ("dropout_model", "Dropout model"),
    ("alliance_manova", "Alliance MANOVA"),
    ("hads_model", "HADS model"),
    ("mhcsf_model", "MHC-SF model"),
)
NOT_ESTIMABLE = "not estimable"  # after an analysis whose model gave no estimate (consort["analysed_estimated"])
NOT_ESTIMABLE_NOTE = (" An analysis marked “not estimable” has a sample at this cut-off, but its model "
                      "could not be estimated; the Results give the reason.")

# Style: black lines, light fills (readable in grey-scale and for colour-blind readers).
BOX_FILL = "#f4f4f4"
SIDE_FILL = "#ffffff"
STAGE_FILL = "#dce8f5"
STROKE = "#000000"
LINE_WIDTH = 0.3  # mm (0.85 pt)
ARROW_LENGTH = 1.8
ARROW_HALF_WIDTH = 0.75
# A reason (exclusion, not re-randomized, discontinuation, withdrawal) is drawn with at most this
# many characters: about four lines of a column box.  Long enough for every reason of a real
# export (and for "withdrew from study: " + a long reason); a longer text is cut with "…".
REASON_DISPLAY_LIMIT = 200


@dataclass(frozen=True)
class TextMetrics:
    """Sizes in millimetres (one SVG user unit)."""

    font_size: float = 7.5 * PT
    label_size: float = 8.0 * PT
    line_height: float = 1.25  # in em
    ascent: float = 0.80  # ink above the baseline, in em (capitals 0.73, parentheses 0.76)
    descent: float = 0.24  # ink below the baseline, in em (descenders 0.236)
    pad_x: float = 1.8
    pad_y: float = 1.2
    bullet_indent: float = 2.4  # hanging indent of list items

    @property
    def line_step(self) -> float:
        return self.line_height * self.font_size


METRICS = TextMetrics()


# --------------------------------------------------------------------------- text metrics
@functools.lru_cache(maxsize=2)
def _font(bold: bool) -> FT2Font:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return FT2Font(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name))


@functools.lru_cache(maxsize=4096)
def _advance_em(char: str, bold: bool) -> float:
    """Horizontal advance of one character in em (unhinted FreeType metrics)."""
    font = _font(bold)
    if font.get_char_index(ord(char)) == 0:
        return 1.0  # not in DejaVu Sans: a fallback font draws it; assume a full em
    font.set_size(1000, 72)
    glyph = font.load_char(ord(char), flags=LoadFlags.NO_HINTING)
    return glyph.linearHoriAdvance / 65536 / 1000


def measure(text: str, size: float, bold: bool = False) -> float:
    """Width of ``text`` set in DejaVu Sans at ``size`` (same unit as the result).

    Kerning is ignored, which can only overestimate the width that WeasyPrint draws.
    """
    return sum(_advance_em(char, bold) for char in text) * size


# --------------------------------------------------------------------------- text helpers
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _clean(text: object) -> str:
    """A one-line string without characters XML cannot hold."""
    return " ".join(_INVALID_XML.sub("", str(text)).split())


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _break_word(word: str, width: float, size: float, bold: bool) -> list[str]:
    pieces, current = [], ""
    for char in word:
        if current and measure(current + char, size, bold) > width:
            pieces.append(current)
            current = char
        else:
            current += char
    return pieces + [current] if current else pieces


def _wrap(words: list[str], width: float, size: float, bold: bool) -> list[str]:
    """Greedy word wrap to ``width``; a word wider than the line is cut."""
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if measure(candidate, size, bold) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        if measure(word, size, bold) <= width:
            current = word
        elif " " in word:  # a last word with its count, too wide together: the count moves on
            *full, current = _wrap(word.split(" "), width, size, bold)
            lines.extend(full)
        else:
            *full, current = _break_word(word, width, size, bold)
            lines.extend(full)
    if current or not lines:
        lines.append(current)
    return lines


MARKERS = {1: "•", 2: "◦"}  # list item, sub-item


@dataclass(frozen=True)
class Item:
    """One logical line of a box: a heading (level 0) or a list item (wrapped on layout)."""

    text: str
    count: int | None = None  # appended as "(n=…)", kept on the same line as the last word
    level: int = 0  # 0 heading, 1 list item, 2 sub-item
    bold: bool = False
    note: str = ""  # after the count: "Dropout model (n=3), not estimable"

    def words(self) -> list[str]:
        words = _clean(self.text).split() or [""]
        if self.count is not None:
            words[-1] = f"{words[-1]} (n={fmt.integer(self.count)})".strip()
        if self.note:
            words[-1] += ","
            words += self.note.split()
        return words


def _bullet(text: str, count: int | None = None, note: str = "") -> Item:
    return Item(text, count, level=1, note=note)


@dataclass(frozen=True)
class Line:
    text: str  # "" for a blank line (nothing drawn)
    dx: float  # offset from the box's left text edge
    bold: bool
    advance: bool = True  # False for a marker: the item's first line shares its baseline


BLANK = Line("", 0.0, False)


def _lay_out(items: list[Item], width: float, m: TextMetrics) -> list[Line]:
    lines: list[Line] = []
    for item in items:
        indent = item.level * m.bullet_indent
        wrapped = _wrap(item.words(), width - indent, m.font_size, item.bold)
        for index, text in enumerate(wrapped):
            if item.level and index == 0:
                lines.append(Line(MARKERS[item.level], indent - m.bullet_indent, False, advance=False))
            lines.append(Line(text, indent, item.bold))
    return lines


def _natural_width(items: list[Item], m: TextMetrics) -> float:
    """Inner width at which no item wraps."""
    return max(measure(" ".join(item.words()), m.font_size, item.bold) + item.level * m.bullet_indent
               for item in items)


# --------------------------------------------------------------------------- boxes
@dataclass
class Box:
    """A box of text.  ``blocks``: its items in groups that line up across a row of boxes
    (each an Item or a list of Items, possibly empty, e.g. a list of reasons)."""

    blocks: list
    x: float = 0.0
    y: float = 0.0
    w: float = 0.0
    h: float = 0.0
    fill: str = BOX_FILL
    lines: list[Line] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.blocks = [block if isinstance(block, list) else [block] for block in self.blocks]

    @property
    def items(self) -> list[Item]:
        return [item for block in self.blocks for item in block]

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


def _text_lines(lines: list[Line]) -> int:
    return sum(1 for line in lines if line.advance)


def _set_width(boxes: list[Box], inner: float, m: TextMetrics) -> None:
    """Wrap the items of ``boxes`` (one row) to ``inner`` (text width) and size the boxes
    around them; block i starts on the same line in every box (blank lines fill up)."""
    laid = [[_lay_out(block, inner, m) for block in box.blocks] for box in boxes]
    n_blocks = {len(blocks) for blocks in laid}
    assert len(n_blocks) == 1, "the boxes of a row need parallel blocks"
    heights = [max(_text_lines(blocks[i]) for blocks in laid) for i in range(n_blocks.pop())]
    for box, blocks in zip(boxes, laid):
        box.lines = [line for block, height in zip(blocks, heights)
                     for line in block + [BLANK] * (height - _text_lines(block))]
        while box.lines and box.lines[-1] is BLANK:  # the row's common height is set later
            box.lines.pop()
        box.w = inner + 2 * m.pad_x
        box.h = _box_height(_text_lines(box.lines), m)


def _fit(box: Box, max_width: float, m: TextMetrics) -> None:
    """Size ``box`` to its text, at most ``max_width`` wide (longer lines wrap)."""
    _set_width([box], min(_natural_width(box.items, m), max_width - 2 * m.pad_x), m)


def _same_height(boxes) -> None:
    height = max(box.h for box in boxes)
    for box in boxes:
        box.h = height


def _box_height(n_lines: int, m: TextMetrics) -> float:
    return 2 * m.pad_y + (m.ascent + m.descent) * m.font_size + (n_lines - 1) * m.line_step


def _first_baseline(box: Box, m: TextMetrics) -> float:
    return box.y + m.pad_y + m.ascent * m.font_size


# --------------------------------------------------------------------------- drawing
class _Canvas:
    def __init__(self, m: TextMetrics) -> None:
        self.m = m
        self.parts: list[str] = []

    def box(self, box: Box) -> None:
        m = self.m
        # edges rounded as the end points of the lines that meet them are
        x, y, right, bottom = (round(v, 2) for v in (box.x, box.y, box.right, box.bottom))
        out = ["<g>", f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(right - x)}" '
               f'height="{_num(bottom - y)}" fill="{box.fill}" stroke="{STROKE}" '
               f'stroke-width="{_num(LINE_WIDTH)}"/>']
        baseline = _first_baseline(box, m)
        for line in box.lines:
            if not line.text:  # a blank line
                baseline += m.line_step
                continue
            weight = ' font-weight="bold"' if line.bold else ""
            out.append(f'<text x="{_num(box.x + m.pad_x + line.dx)}" y="{_num(baseline)}"{weight}>'
                       f"{_xml(line.text)}</text>")
            if line.advance:
                baseline += m.line_step
        out.append("</g>")
        self.parts.append("".join(out))

    def stage(self, name: str, x: float, y: float, w: float, h: float) -> None:
        m = self.m
        width = measure(name, m.label_size, bold=True)
        cx, cy = x + w / 2, y + h / 2
        baseline = cy + (m.ascent - m.descent) / 2 * m.label_size
        self.parts.append(
            f'<g><rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" rx="1.5" '
            f'fill="{STAGE_FILL}" stroke="{STROKE}" stroke-width="{_num(LINE_WIDTH)}"/>'
            f'<text x="{_num(cx - width / 2)}" y="{_num(baseline)}" font-size="{_num(m.label_size)}" '
            f'font-weight="bold" transform="rotate(-90 {_num(cx)} {_num(cy)})">{_xml(name)}</text></g>')

    def line(self, *points: tuple[float, float], arrow: bool = True) -> None:
        """A polyline; with ``arrow`` a filled arrowhead at its last point (axis-parallel last leg)."""
        if arrow:
            (x0, y0), (x1, y1) = points[-2], points[-1]
            dx, dy = (x1 > x0) - (x1 < x0), (y1 > y0) - (y1 < y0)
            base = (x1 - dx * ARROW_LENGTH, y1 - dy * ARROW_LENGTH)
            points = (*points[:-1], base)
        d = " ".join(f"{'M' if i == 0 else 'L'}{_num(px)} {_num(py)}" for i, (px, py) in enumerate(points))
        self.parts.append(f'<path d="{d}" fill="none" stroke="{STROKE}" stroke-width="{_num(LINE_WIDTH)}"/>')
        if arrow:
            bx, by = base
            px, py = -dy * ARROW_HALF_WIDTH, dx * ARROW_HALF_WIDTH
            self.parts.append(
                f'<path d="M{_num(x1)} {_num(y1)} L{_num(bx + px)} {_num(by + py)} '
                f'L{_num(bx - px)} {_num(by - py)} Z" fill="{STROKE}" stroke="none"/>')


# --------------------------------------------------------------------------- diagram
def _reason_items(reasons: dict[str, int], level: int = 1) -> list[Item]:
    return [Item(_shorten(fmt.reason(reason)), n, level=level) for reason, n in reasons.items()]


def _shorten(text: object, limit: int = REASON_DISPLAY_LIMIT) -> str:
    """``text`` as one line of at most ``limit`` characters; a longer one is cut, at a space when
    one is near the end, and ends in "…".  Only the first ``8 * limit`` characters are looked
    at (a longer text is cut), so the cost is bounded whatever the length of the text."""
    raw = str(text)
    window = 8 * limit
    line = _clean(raw[:window])
    if len(line) <= limit and len(raw) <= window:
        return line
    cut = line[:limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 3 // 4:  # end at a word when that loses little
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def _boxes(consort: dict, k: int) -> dict:
    """The boxes of the diagram with their text (unplaced): single boxes, and rows of
    boxes per column (dicts column → Box)."""
    per_arm = {key: consort[key] for key in (
        "allocated", "rerandomized", "treated", "in_treatment", "in_treatment_attended", "in_treatment_none_attended",
        "treatment_ended", "received_min_sessions",
        "dropout", "discontinued", "t1_assessed", "lost_to_follow_up_t1", "t1_not_yet_due",
        "withdrawn_before_t1", "t1_overdue_in_treatment")}

    def shown(key: str) -> bool:  # an optional row: drawn in both arms when either has one
        return any(per_arm[key][c] > 0 for c in CONDITIONS)

    tau = [Item("Re-randomized after waiting period"),
           _bullet("to MBCT", per_arm["rerandomized"]["MBCT"]),
           _bullet("to eMBCT", per_arm["rerandomized"]["eMBCT"])]
    if consort["tau_waiting"] > 0:
        tau.append(Item("Waiting period still running", consort["tau_waiting"]))
    tau.append(Item("Not re-randomized", consort["tau_not_rerandomized"]))
    tau += _reason_items(consort["tau_not_rerandomized_reasons"])

    def treatment(c: str) -> list:
        blocks = []
        if shown("in_treatment"):
            blocks.append(Item("Still in treatment at cut-off", per_arm["in_treatment"][c]))
            if shown("in_treatment_none_attended"):
                blocks += [_bullet("attended ≥ 1 session", per_arm["in_treatment_attended"][c]),
                           _bullet("no session attended yet", per_arm["in_treatment_none_attended"][c])]
        return blocks + [Item("Treatment ended", per_arm["treatment_ended"][c]),
                         _bullet(f"received ≥ {k} sessions", per_arm["received_min_sessions"][c]),
                         _bullet(f"dropout, < {k} sessions", per_arm["dropout"][c])]

    def follow_up(c: str) -> list:
        blocks = [Item("Follow-up at T1"),
                  _bullet("assessed", per_arm["t1_assessed"][c]),
                  _bullet("lost to follow-up: T1 due, no HADS score", per_arm["lost_to_follow_up_t1"][c])]
        if shown("t1_not_yet_due"):
            blocks.append(_bullet("T1 not yet due", per_arm["t1_not_yet_due"][c]))
        if shown("t1_overdue_in_treatment"):
            blocks.append(_bullet("T1 due, treatment not recorded as ended", per_arm["t1_overdue_in_treatment"][c]))
        if shown("withdrawn_before_t1"):  # last: its reasons differ in number between the arms
            blocks.append(_bullet("withdrew from study before T1", per_arm["withdrawn_before_t1"][c]))
            blocks.append(_reason_items(consort["withdrawn_before_t1_reasons_by_arm"][c], level=2))
        return blocks

    return {
        "assessed": Box([Item("Assessed for eligibility", consort["assessed"])]),
        "excluded": Box([Item("Excluded", consort["excluded"])] + _reason_items(consort["excluded_reasons"]),
                        fill=SIDE_FILL),
        "randomized": Box([Item("Randomized", consort["randomized"])]),
        "allocated": {arm: Box([Item(f"Allocated to {arm}", per_arm["allocated"][arm])])
                      for arm in (CONDITIONS[0], WAITING_LIST, CONDITIONS[1])},  # the waiting list in the middle column
        "tau": Box(tau, fill=SIDE_FILL),
        "treated": {c: Box([Item(f"Treated in {c}", per_arm["treated"][c]),
                            Item(f"first round {per_arm['allocated'][c]}, "
                                 f"re-randomized {per_arm['rerandomized'][c]}")]) for c in CONDITIONS},
        "treatment": {c: Box(treatment(c)) for c in CONDITIONS},
        "discontinued": {c: Box([Item("Discontinued treatment", per_arm["discontinued"][c]),
                                 _reason_items(consort["discontinued_reasons_by_arm"][c])]) for c in CONDITIONS},
        "follow_up": {c: Box(follow_up(c)) for c in CONDITIONS},
        "analysis": {c: Box([Item(f"Analysed, {c}")]
                            + [_bullet(label, consort["analysed"][key][c],
                                       "" if consort["analysed_estimated"][key] else NOT_ESTIMABLE)
                               for key, label in ANALYSES])
                     for c in CONDITIONS},
    }


def consort_svg(consort: dict, *, width_mm: float = 170, dropout_threshold: int = Settings.dropout_threshold,
                metrics: TextMetrics = METRICS) -> str:
    """The CONSORT flow diagram of ``consort`` (results.json) as a standalone ``<svg>`` element.

    ``width_mm`` is the printed width (the SVG has ``width="100%"`` and a viewBox in mm, so
    the fonts print at their nominal size when the figure is ``width_mm`` wide);
    ``dropout_threshold`` is the session threshold of the dropout definition (a setting).
    """
    m = metrics
    gap = 5.0  # vertical distance between consecutive boxes (arrow length)
    side_gap = 6.0  # horizontal distance from a vertical flow line to a side box
    col_gap = 4.0
    label_w = 6.0
    x0, x1 = 0.5 + label_w + 3.0, width_mm - 0.5
    col_w = (x1 - x0 - 2 * col_gap) / 3
    centres = {"MBCT": x0 + col_w / 2, "TAU": x0 + 1.5 * col_w + col_gap, "eMBCT": x1 - col_w / 2}
    centre = centres["TAU"]

    b = _boxes(consort, dropout_threshold)
    assessed, excluded, randomized, allocated, tau = (b[key] for key in (
        "assessed", "excluded", "randomized", "allocated", "tau"))
    stage_rows = {"Treatment": [b["treated"], b["treatment"]],
                  "Follow-up": [b["discontinued"], b["follow_up"]],
                  "Analysis": [b["analysis"]]}

    # ---- sizes: the boxes of the three columns share one width, the boxes of a row one height
    rows = [allocated] + [row for rows_ in stage_rows.values() for row in rows_]
    inner = min(max(_natural_width(box.items, m) for row in rows for box in row.values()), col_w - 2 * m.pad_x)
    for row in rows:
        _set_width(list(row.values()), inner, m)
        _same_height(row.values())
    for box in (assessed, randomized, tau):
        _fit(box, col_w, m)
    # Enrollment spine in the centre; a long list of exclusion reasons moves it to the left
    # column so that the "Excluded" box can be wider (and the diagram less tall).
    spine = centre
    _fit(excluded, x1 - (spine + side_gap), m)
    if excluded.h > 45.0:
        spine = centres["MBCT"]
        _fit(excluded, x1 - (spine + side_gap), m)

    canvas = _Canvas(m)
    stages: list[tuple[str, float, float]] = []  # name, top and bottom of its label band

    def label_height(name: str) -> float:
        return measure(name, m.label_size, bold=True) + 4.0

    def branch_y(box: Box) -> float:
        """Where a side arrow meets ``box``: its middle, or its first line when it is tall."""
        return box.y + min(box.h / 2, m.pad_y + (m.ascent - 0.3) * m.font_size)

    def place_row(boxes: dict[str, Box], top: float) -> None:
        for column, box in boxes.items():
            box.x, box.y = centres[column] - box.w / 2, top

    # ---- Enrollment
    top = 1.0 + max(0.0, label_height("Enrollment")
                    - (max(excluded.h + gap, 2 * gap) + assessed.h + gap + randomized.h)) / 2
    assessed.x, assessed.y = spine - assessed.w / 2, top
    excluded.x = min(max(centres["eMBCT"] - col_w / 2, spine + side_gap), x1 - excluded.w)
    excluded.y = assessed.bottom + gap
    randomized.x = spine - randomized.w / 2
    randomized.y = max(excluded.bottom + gap, assessed.bottom + 2 * gap)
    stages.append(("Enrollment", 1.0, max(randomized.bottom, 1.0 + label_height("Enrollment"))))
    canvas.line((spine, assessed.bottom), (spine, randomized.y))
    canvas.line((spine, branch_y(excluded)), (excluded.x, branch_y(excluded)))
    for box in (assessed, excluded, randomized):
        canvas.box(box)

    # ---- Allocation
    split_y = stages[-1][2] + gap / 2 + 1.0
    place_row(allocated, split_y + gap)
    tau.x, tau.y = centre - tau.w / 2, allocated["TAU"].bottom + gap
    canvas.line((spine, randomized.bottom), (spine, split_y), arrow=False)
    canvas.line((centres["MBCT"], split_y), (centres["eMBCT"], split_y), arrow=False)
    for arm, box in allocated.items():
        canvas.line((centres[arm], split_y), (centres[arm], box.y))
    canvas.line((centre, allocated["TAU"].bottom), (centre, tau.y))
    stages.append(("Allocation", allocated["TAU"].y, tau.bottom))
    for box in (*allocated.values(), tau):
        canvas.box(box)

    # ---- Treatment, Follow-up, Analysis: rows of column boxes, each stage band at least
    # as tall as its label (the rows centred in it)
    above = {c: allocated[c] for c in CONDITIONS}
    for name, rows_ in stage_rows.items():
        height = sum(row["MBCT"].h for row in rows_) + gap * (len(rows_) - 1)
        band = max(height, label_height(name))
        band_top = stages[-1][2] + gap
        y = band_top + (band - height) / 2
        for row in rows_:
            place_row(row, y)
            for c in CONDITIONS:
                canvas.line((centres[c], above[c].bottom), (centres[c], row[c].y))
                canvas.box(row[c])
            above = row
            y += row["MBCT"].h + gap
        stages.append((name, band_top, band_top + band))

    # re-randomized participants join the treatment columns: from the sides of the TAU box
    # into the inner half of each "Treated" box (the first-round arrow enters at the column centre)
    treated = b["treated"]
    y = branch_y(tau)
    for c, side in (("MBCT", tau.x), ("eMBCT", tau.right)):
        x = centres[c] + (1 if c == "MBCT" else -1) * max(treated[c].w / 4, 4.0)
        canvas.line((side, y), (x, y), (x, treated[c].y))

    for name, band_top, band_bottom in stages:
        canvas.stage(name, 0.5, band_top, label_w, band_bottom - band_top)

    height = stages[-1][2] + 1.0
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_num(width_mm)} {_num(height)}" '
            f'width="100%" role="img" aria-label="CONSORT flow diagram" '
            f'font-family="{FONT_FAMILY}" font-size="{_num(m.font_size)}" fill="#000000">'
            "<title>CONSORT flow diagram</title>" + "".join(canvas.parts) + "</svg>")


PNG_DPI = 200  # as the matplotlib figures' PNGs
_VIEW_BOX = re.compile(r'viewBox="0 0 ([\d.]+) ([\d.]+)"')


def consort_png(svg: str) -> bytes | None:
    """The diagram as a PNG at :data:`PNG_DPI` on white, for Quarto's PDF output (which would
    otherwise need ``rsvg-convert`` itself to use the SVG): librsvg's ``rsvg-convert`` draws the
    SVG, its text in the fonts the report uses (pango, as WeasyPrint).  None where
    ``rsvg-convert`` is not installed (the ``.qmd`` then keeps the SVG).  The report's own PDF
    keeps the vector diagram, whose text stays searchable.

    ``rsvg-convert`` writes no resolution into the PNG: Pillow adds it (the pHYs chunk, as the
    matplotlib PNGs have), so that pandoc and LaTeX size the image at 170 mm, not at 72 dpi.
    ``rsvg-convert`` takes ~0.2 s, Pillow ~0.1 s; WeasyPrint with poppler's ``pdftoppm``, used
    before, ~0.9 s."""
    import io
    import shutil
    import subprocess

    from PIL import Image

    rsvg = shutil.which("rsvg-convert")
    size = _VIEW_BOX.search(svg)
    if rsvg is None or size is None:
        return None
    width_px = round(float(size.group(1)) / 25.4 * PNG_DPI)  # millimetres: one SVG user unit is 1 mm
    drawn = subprocess.run([rsvg, "--format", "png", "--width", str(width_px), "--keep-aspect-ratio",
                            "--background-color", "white"],
                           input=svg.encode("utf-8"), check=True, capture_output=True).stdout
    png = io.BytesIO()
    Image.open(io.BytesIO(drawn)).save(png, format="PNG", dpi=(PNG_DPI, PNG_DPI), compress_level=3)
    return png.getvalue()
