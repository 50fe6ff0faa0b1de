"""The CONSORT flow diagram (render/consort_diagram.py): numbers, geometry, escaping, PDF."""

from __future__ import annotations

import copy
import itertools
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

from alliance_report.render.consort_diagram import METRICS, PT, consort_svg, measure

NS = "{http://www.w3.org/2000/svg}"

# the consort object of a simulated freeze (results.json)
SAMPLE = {
    "assessed": 429,
    "excluded": 184,
    "excluded_reasons": {"HADS total below 11": 63, "not meeting inclusion criteria": 51,
                         "declined to participate": 45, "no time / travel distance": 25},
    "randomized": 245,
    "allocated": {"MBCT": 77, "eMBCT": 90, "TAU": 78},
    "rerandomized": {"MBCT": 43, "eMBCT": 35},
    "tau_not_rerandomized": 0,
    "treated": {"MBCT": 120, "eMBCT": 125},
    "in_treatment": {"MBCT": 0, "eMBCT": 0},
    "received_min_sessions": {"MBCT": 105, "eMBCT": 97},
    "dropout": {"MBCT": 15, "eMBCT": 28},
    "discontinued": 34,
    "discontinued_reasons": {"did not like the intervention": 11, "physical health": 8,
                             "too burdensome": 8, "no time": 4, "personal circumstances": 3},
    "lost_to_follow_up_t1": {"MBCT": 22, "eMBCT": 29},
    "analysed": {"dropout_model": {"MBCT": 66, "eMBCT": 69},
                 "alliance_manova": {"MBCT": 42, "eMBCT": 48},
                 "hads_model": {"MBCT": 54, "eMBCT": 57},
                 "mhcsf_model": {"MBCT": 52, "eMBCT": 57}},
}

TWELVE_REASONS = {
    "HADS total below 11": 41, "not meeting inclusion criteria": 23, "declined to participate": 19,
    "no time / travel distance": 14, "pain & fatigue <severe>": 12,
    "currently receiving psychological treatment elsewhere (psychotherapy or psychiatric care)": 11,
    "insufficient command of the Dutch language to follow the training": 10,
    "no computer or internet access at home": 9, "life expectancy shorter than 12 months": 8,
    "already took part in a mindfulness course in the past year": 7,
    "could not be reached after the screening questionnaire": 6, "other": 5,
}


def stress_case() -> dict:
    consort = copy.deepcopy(SAMPLE)
    consort["excluded_reasons"] = dict(TWELVE_REASONS)
    consort["discontinued_reasons"] = {
        "did not like the intervention": 11,
        "physical health (cancer recurrence, side effects of chemotherapy)": 8,
        "too burdensome": 8, "no time": 4, "personal circumstances": 3, "moved away": 2, "unknown": 1}
    consort["in_treatment"] = {"MBCT": 3, "eMBCT": 0}
    return consort


def extreme_case() -> dict:
    """Many long reasons and zero counts everywhere."""
    consort = copy.deepcopy(SAMPLE)

    def zero(value):
        if isinstance(value, dict):
            return {key: zero(inner) for key, inner in value.items()}
        return 0

    consort = zero(consort)
    consort["excluded_reasons"] = {
        f"reason {i}: a long free-text exclusion reason copied from the screening export, "
        f"pain & fatigue <severe> {'and more words ' * (i % 4)}": 0 for i in range(12)}
    consort["discontinued_reasons"] = {
        f"discontinued because of a long reason {i} with several words in it": 0 for i in range(9)}
    consort["discontinued_reasons"]["Averyveryverylongsinglewordwithoutanyspacesthatmustbecutsomewhere"] = 0
    return consort


# --------------------------------------------------------------------------- SVG parsing
@dataclass
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass
class Text:
    text: str
    x: float
    y: float
    size: float
    bold: bool
    transform: str | None


@dataclass
class Group:
    rect: Rect
    texts: list[Text]

    @property
    def content(self) -> str:
        """The box's text, lines joined by spaces (bullets left out)."""
        return " ".join(t.text for t in self.texts if t.text != "•")


def parse(svg: str) -> tuple[ET.Element, list[Group]]:
    root = ET.fromstring(svg)
    root_size = float(root.get("font-size"))
    groups = []
    for g in root.iter(f"{NS}g"):
        rect = g.find(f"{NS}rect")
        rect = Rect(*(float(rect.get(k)) for k in ("x", "y", "width", "height")))
        texts = [Text(t.text or "", float(t.get("x")), float(t.get("y")),
                      float(t.get("font-size", root_size)), t.get("font-weight") == "bold", t.get("transform"))
                 for t in g.iter(f"{NS}text")]
        groups.append(Group(rect, texts))
    return root, groups


def boxes(groups: list[Group]) -> list[Group]:
    """The flow boxes (stage labels are rotated)."""
    return [g for g in groups if not any(t.transform for t in g.texts)]


def box_with(groups: list[Group], label: str, column: str | None = None, width: float = 170) -> Group:
    found = [g for g in boxes(groups) if label in g.content]
    if column == "MBCT":
        found = [g for g in found if g.rect.x + g.rect.w / 2 < width / 2]
    elif column == "eMBCT":
        found = [g for g in found if g.rect.x + g.rect.w / 2 > width / 2]
    assert len(found) == 1, (label, column, [g.content for g in found])
    return found[0]


def numbers_in(groups: list[Group]) -> list[int]:
    return [int(n) for g in groups for t in g.texts for n in re.findall(r"\d+", t.text)]


def dict_numbers(value) -> list[int]:
    if isinstance(value, dict):
        return [n for inner in value.values() for n in dict_numbers(inner)]
    return [value]


# --------------------------------------------------------------------------- numbers
def check_numbers(consort: dict, svg: str) -> None:
    _, groups = parse(svg)

    def has(label: str, text: str, column: str | None = None) -> None:
        content = box_with(groups, label, column).content
        assert text in content, (text, content)

    has("Assessed for eligibility", f"Assessed for eligibility (n={consort['assessed']})")
    has("Excluded", f"Excluded (n={consort['excluded']})")
    for reason, n in consort["excluded_reasons"].items():
        has("Excluded", f"{' '.join(reason.split())} (n={n})")
    has("Randomized (", f"Randomized (n={consort['randomized']})")
    for arm in ("MBCT", "eMBCT", "TAU"):
        has(f"Allocated to {arm} ", f"Allocated to {arm} (n={consort['allocated'][arm]})")
    has("Re-randomized after waiting period", f"to MBCT (n={consort['rerandomized']['MBCT']})")
    has("Re-randomized after waiting period", f"to eMBCT (n={consort['rerandomized']['eMBCT']})")
    has("Re-randomized after waiting period", f"not re-randomized (n={consort['tau_not_rerandomized']})")
    has("Discontinued treatment", f"Discontinued treatment (n={consort['discontinued']})")
    for reason, n in consort["discontinued_reasons"].items():
        if " " in reason:  # (a word cut across lines is not rejoined by `content`)
            has("Discontinued treatment", f"{reason} (n={n})")
    for c in ("MBCT", "eMBCT"):
        has(f"Treated in {c} ", f"Treated in {c} (n={consort['treated'][c]})", c)
        has(f"Treated in {c} ", f"first round {consort['allocated'][c]}, "
                                f"re-randomized {consort['rerandomized'][c]}", c)
        has("Received ≥ 4 sessions", f"Received ≥ 4 sessions (n={consort['received_min_sessions'][c]})", c)
        has("Received ≥ 4 sessions", f"Dropout, < 4 sessions (n={consort['dropout'][c]})", c)
        has("Lost to follow-up at T1", f"Lost to follow-up at T1 (n={consort['lost_to_follow_up_t1'][c]})", c)
        analysed = consort["analysed"]
        for key, label in (("dropout_model", "Dropout model"), ("alliance_manova", "Alliance MANOVA"),
                           ("hads_model", "HADS model"), ("mhcsf_model", "MHC-SF model")):
            has(f"Analysed, {c}", f"{label} (n={analysed[key][c]})", c)


@pytest.mark.parametrize("make", [lambda: copy.deepcopy(SAMPLE), stress_case, extreme_case],
                         ids=["sample", "twelve-reasons", "extreme"])
def test_every_count_is_shown_at_its_label(make):
    consort = make()
    check_numbers(consort, consort_svg(consort))


def test_every_number_comes_from_the_dict():
    # distinct values, so that a computed number (a sum, a difference) would be noticed
    values = itertools.count(101, 7)
    consort = copy.deepcopy(SAMPLE)
    consort["excluded_reasons"] = {"low distress": 1, "declined": 2}  # reason texts without digits

    def renumber(value):
        if isinstance(value, dict):
            return {key: renumber(inner) for key, inner in value.items()}
        return next(values)

    consort = renumber(consort)
    svg = consort_svg(consort)
    check_numbers(consort, svg)
    allowed = set(dict_numbers(consort)) | {1, 4}  # "T1", the dropout threshold
    _, groups = parse(svg)
    assert set(numbers_in(groups)) <= allowed


def test_dropout_threshold_is_a_setting():
    _, groups = parse(consort_svg(SAMPLE, dropout_threshold=3))
    assert "Received ≥ 3 sessions (n=105)" in box_with(groups, "Received", "MBCT").content
    assert "Dropout, < 3 sessions (n=15)" in box_with(groups, "Received", "MBCT").content


def test_still_in_treatment_only_when_someone_is():
    _, groups = parse(consort_svg(SAMPLE))
    assert not any("Still in treatment" in g.content for g in groups)
    _, groups = parse(consort_svg(stress_case()))
    assert "Still in treatment at cut-off (n=3)" in box_with(groups, "Still in treatment", "MBCT").content
    assert "Still in treatment at cut-off (n=0)" in box_with(groups, "Still in treatment", "eMBCT").content


def test_older_results_without_the_optional_counts_still_render():
    consort = {k: v for k, v in SAMPLE.items() if k not in ("in_treatment", "received_min_sessions", "discontinued")}
    _, groups = parse(consort_svg(consort))
    assert "Discontinued treatment" in box_with(groups, "Discontinued").content
    assert not any("Received" in g.content for g in groups)


# --------------------------------------------------------------------------- text and XML
def test_reasons_are_escaped_for_xml():
    consort = copy.deepcopy(SAMPLE)
    consort["excluded_reasons"] = {"pain & fatigue <severe>": 7, 'quote " and \x07bell': 2}
    consort["discontinued_reasons"] = {"A&B <i>": 1}
    svg = consort_svg(consort)
    assert "pain &amp; fatigue &lt;severe&gt;" in svg
    assert "<severe>" not in svg and "<i>" not in svg
    _, groups = parse(svg)  # well-formed
    assert "pain & fatigue <severe> (n=7)" in box_with(groups, "Excluded").content
    assert 'quote " and bell (n=2)' in box_with(groups, "Excluded").content
    assert "A&B <i> (n=1)" in box_with(groups, "Discontinued").content


def test_plain_standalone_svg():
    svg = consort_svg(SAMPLE)
    assert svg.startswith("<svg ") and svg.endswith("</svg>")
    root, _ = parse(svg)
    assert root.get("width") == "100%"
    assert root.get("viewBox").split()[:3] == ["0", "0", "170"]
    for forbidden in ("foreignObject", "marker", "class=", "style=", "<?xml", "<image", "@font-face"):
        assert forbidden not in svg
    assert "DejaVu Sans" in root.get("font-family")


def test_deterministic():
    assert consort_svg(SAMPLE) == consort_svg(copy.deepcopy(SAMPLE))
    assert consort_svg(stress_case()) == consort_svg(stress_case())


@pytest.mark.parametrize("width_mm", [170, 120])
def test_fonts_print_at_least_7_pt(width_mm):
    root, groups = parse(consort_svg(SAMPLE, width_mm=width_mm))
    user_units_per_mm = float(root.get("viewBox").split()[2]) / width_mm
    sizes = {t.size for g in groups for t in g.texts}
    assert min(sizes) / user_units_per_mm >= 7 * PT - 1e-9


def test_lists_grow_the_box_and_the_diagram():
    def height(svg):
        return float(ET.fromstring(svg).get("viewBox").split()[3])

    _, sample = parse(consort_svg(SAMPLE))
    _, stress = parse(consort_svg(stress_case()))
    assert box_with(stress, "Excluded").rect.h > box_with(sample, "Excluded").rect.h
    assert height(consort_svg(extreme_case())) > height(consort_svg(stress_case())) > height(consort_svg(SAMPLE))


# --------------------------------------------------------------------------- geometry
def text_extent(t: Text) -> tuple[float, float, float, float]:
    """x0, y0, x1, y1 of the text's ink, with the module's own measured widths."""
    width = measure(t.text, t.size, t.bold)
    x0, x1 = t.x, t.x + width
    y0, y1 = t.y - METRICS.ascent * t.size, t.y + METRICS.descent * t.size
    if t.transform:
        angle, cx, cy = map(float, re.fullmatch(r"rotate\((\S+) (\S+) (\S+)\)", t.transform).groups())
        assert angle == -90
        # rotation by −90° about (cx, cy): (x, y) → (cx + (y − cy), cy − (x − cx))
        xs = [cx + (y - cy) for y in (y0, y1)]
        ys = [cy - (x - cx) for x in (x0, x1)]
        return min(xs), min(ys), max(xs), max(ys)
    return x0, y0, x1, y1


def segments(root: ET.Element) -> list[tuple[float, float, float, float]]:
    out = []
    for path in root.iter(f"{NS}path"):
        if path.get("fill") != "none":
            continue
        points = [tuple(map(float, p)) for p in re.findall(r"[ML]([-\d.]+) ([-\d.]+)", path.get("d"))]
        out += [(*a, *b) for a, b in itertools.pairwise(points)]
    return out


def arrow_tips(root: ET.Element) -> list[tuple[float, float]]:
    tips = []
    for path in root.iter(f"{NS}path"):
        if path.get("fill") == "none":
            continue
        x, y = re.match(r"M([-\d.]+) ([-\d.]+)", path.get("d")).groups()
        tips.append((float(x), float(y)))
    return tips


def check_geometry(svg: str, width_mm: float = 170) -> None:
    root, groups = parse(svg)
    view_height = float(root.get("viewBox").split()[3])
    rects = [g.rect for g in groups]
    for r in rects:
        assert 0 <= r.x and r.right <= width_mm and 0 <= r.y and r.bottom <= view_height
    for a, b in itertools.combinations(rects, 2):
        apart = a.right + 0.5 <= b.x or b.right + 0.5 <= a.x or a.bottom + 0.5 <= b.y or b.bottom + 0.5 <= a.y
        assert apart, (a, b)
    for g in groups:
        assert g.texts
        for t in g.texts:
            x0, y0, x1, y1 = text_extent(t)
            r = g.rect
            assert r.x < x0 and x1 < r.right and r.y < y0 and y1 < r.bottom, (t.text, r)
    # lines never run through a box, and every arrow ends on the edge of a box
    eps = 0.011  # coordinates are written to 0.01 mm
    for x0, y0, x1, y1 in segments(root):
        assert x0 == x1 or y0 == y1  # axis-parallel
        for r in rects:
            inside = (max(x0, x1) > r.x + eps and min(x0, x1) < r.right - eps
                      and max(y0, y1) > r.y + eps and min(y0, y1) < r.bottom - eps)
            assert not inside, ((x0, y0, x1, y1), r)
    tips = arrow_tips(root)
    assert len(tips) >= 15
    for x, y in tips:
        on_edge = [r for r in rects if (r.x - 0.01 <= x <= r.right + 0.01 and r.y - 0.01 <= y <= r.bottom + 0.01
                                        and min(abs(x - r.x), abs(x - r.right), abs(y - r.y), abs(y - r.bottom)) < 0.01)]
        assert on_edge, (x, y)


@pytest.mark.parametrize("make", [lambda: copy.deepcopy(SAMPLE), stress_case, extreme_case],
                         ids=["sample", "twelve-reasons", "extreme"])
@pytest.mark.parametrize("width_mm", [170, 120])
def test_no_overlaps_and_text_inside_boxes(make, width_mm):
    check_geometry(consort_svg(make(), width_mm=width_mm), width_mm)


def test_stage_labels():
    _, groups = parse(consort_svg(SAMPLE))
    labels = [t.text for g in groups for t in g.texts if t.transform]
    assert labels == ["Enrollment", "Allocation", "Treatment", "Follow-up", "Analysis"]


# --------------------------------------------------------------------------- through WeasyPrint
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize("make", [lambda: copy.deepcopy(SAMPLE), stress_case], ids=["sample", "twelve-reasons"])
def test_weasyprint_pdf_has_the_text_on_one_page(make, tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    consort = make()
    html = ("<html><head><style>@page { size: A4; margin: 22mm 17mm 20mm 17mm } body { margin: 0 }"
            "</style></head><body><figure style='margin:0'>" + consort_svg(consort) + "</figure></body></html>")
    pdf = tmp_path / "consort.pdf"
    pdf.write_bytes(weasyprint.HTML(string=html).write_pdf())
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert re.search(rf"Randomized \(n={consort['randomized']}\)", text)
    assert f"Assessed for eligibility (n={consort['assessed']})" in text
    if "pain & fatigue <severe>" in consort["excluded_reasons"]:
        assert "pain & fatigue <severe>" in text
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE)
