"""The CONSORT flow diagram (render/consort_diagram.py): numbers, geometry, escaping, PDF."""

from __future__ import annotations

import copy
import json
import itertools
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pytest

from alliance_report.render.consort_diagram import METRICS, PT, consort_svg, measure

NS = "{http://www.w3.org/2000/svg}"

# ``consort`` objects of results.json, built by hand: a final freeze (everything has ended;
# no TAU waiting, nobody in treatment, every T1 due) and an interim one (TAU still waiting,
# people in treatment, T1 not yet due, withdrawals, one T1 overdue while in treatment).
# Per-arm values differ, so that a count drawn in the wrong column is noticed.
FINAL = {
    "assessed": 429, "excluded": 184,
    "excluded_reasons": {"HADS total below 11": 63, "not meeting inclusion criteria": 51,
                         "declined to participate": 45, "no time / travel distance": 25},
    "randomized": 245,
    "allocated": {"MBCT": 77, "eMBCT": 90, "TAU": 78},
    "rerandomized": {"MBCT": 40, "eMBCT": 33},
    "tau_waiting": 0,
    "tau_not_rerandomized": 5,
    "tau_not_rerandomized_reasons": {"withdrew from study: too burdensome": 3, "(no reason recorded)": 2},
    "treated": {"MBCT": 117, "eMBCT": 123},
    "in_treatment": {"MBCT": 0, "eMBCT": 0},
    "in_treatment_attended": {"MBCT": 0, "eMBCT": 0},
    "in_treatment_none_attended": {"MBCT": 0, "eMBCT": 0},
    "treatment_ended": {"MBCT": 117, "eMBCT": 123},
    "received_min_sessions": {"MBCT": 102, "eMBCT": 95},
    "dropout": {"MBCT": 15, "eMBCT": 28},
    "discontinued": {"MBCT": 12, "eMBCT": 21},
    "discontinued_reasons": {"did not like the intervention": 11, "physical health": 8, "too burdensome": 8,
                             "no time": 3, "personal circumstances": 3},
    "discontinued_reasons_by_arm": {
        "MBCT": {"physical health": 5, "did not like the intervention": 4, "no time": 3},
        "eMBCT": {"too burdensome": 8, "did not like the intervention": 7, "physical health": 3,
                  "personal circumstances": 3}},
    "t1_assessed": {"MBCT": 95, "eMBCT": 94},
    "lost_to_follow_up_t1": {"MBCT": 22, "eMBCT": 29},
    "t1_not_yet_due": {"MBCT": 0, "eMBCT": 0},
    "withdrawn_before_t1": {"MBCT": 0, "eMBCT": 0},
    "withdrawn_before_t1_reasons_by_arm": {"MBCT": {}, "eMBCT": {}},
    "t1_overdue_in_treatment": {"MBCT": 0, "eMBCT": 0},
    "analysed": {"dropout_model": {"MBCT": 117, "eMBCT": 123},
                 "alliance_manova": {"MBCT": 72, "eMBCT": 70},
                 "hads_model": {"MBCT": 93, "eMBCT": 91},
                 "mhcsf_model": {"MBCT": 90, "eMBCT": 89}},
    "analysed_estimated": {"dropout_model": True, "alliance_manova": True, "hads_model": True, "mhcsf_model": True},
}

INTERIM = {
    "assessed": 260, "excluded": 112,
    "excluded_reasons": {"HADS total below 11": 47, "declined to participate": 38,
                         "not meeting inclusion criteria": 27},
    "randomized": 148,
    "allocated": {"MBCT": 47, "eMBCT": 52, "TAU": 49},
    "rerandomized": {"MBCT": 14, "eMBCT": 11},
    "tau_waiting": 21,
    "tau_not_rerandomized": 3,
    "tau_not_rerandomized_reasons": {"withdrew from study: too burdensome": 2, "(no reason recorded)": 1},
    "treated": {"MBCT": 61, "eMBCT": 63},
    "in_treatment": {"MBCT": 9, "eMBCT": 13},
    "in_treatment_attended": {"MBCT": 5, "eMBCT": 7},
    "in_treatment_none_attended": {"MBCT": 4, "eMBCT": 6},
    "treatment_ended": {"MBCT": 52, "eMBCT": 50},
    "received_min_sessions": {"MBCT": 44, "eMBCT": 38},
    "dropout": {"MBCT": 8, "eMBCT": 12},
    "discontinued": {"MBCT": 5, "eMBCT": 9},
    "discontinued_reasons": {"did not like the intervention": 4, "physical health": 3, "too burdensome": 3,
                             "no time": 2, "(no reason recorded)": 2},
    "discontinued_reasons_by_arm": {
        "MBCT": {"physical health": 3, "no time": 2},
        "eMBCT": {"did not like the intervention": 4, "too burdensome": 3, "(no reason recorded)": 2}},
    "t1_assessed": {"MBCT": 38, "eMBCT": 33},
    "lost_to_follow_up_t1": {"MBCT": 6, "eMBCT": 8},
    "t1_not_yet_due": {"MBCT": 13, "eMBCT": 17},
    "withdrawn_before_t1": {"MBCT": 3, "eMBCT": 5},
    "withdrawn_before_t1_reasons_by_arm": {"MBCT": {"too burdensome": 2, "moved abroad": 1},
                                           "eMBCT": {"physical health": 3, "too burdensome": 1,
                                                     "(no reason recorded)": 1}},
    "t1_overdue_in_treatment": {"MBCT": 1, "eMBCT": 0},
    "analysed": {"dropout_model": {"MBCT": 52, "eMBCT": 50},
                 "alliance_manova": {"MBCT": 30, "eMBCT": 28},
                 "hads_model": {"MBCT": 37, "eMBCT": 32},
                 "mhcsf_model": {"MBCT": 36, "eMBCT": 31}},
    "analysed_estimated": {"dropout_model": True, "alliance_manova": True, "hads_model": True, "mhcsf_model": True},
}

SAMPLES = {"final": FINAL, "interim": INTERIM}
CONDITIONS = ("MBCT", "eMBCT")
T1_PARTITION = ("t1_assessed", "lost_to_follow_up_t1", "t1_not_yet_due", "withdrawn_before_t1",
                "t1_overdue_in_treatment")

TWELVE_REASONS = {
    "HADS total below 11": 41, "not meeting inclusion criteria": 23, "declined to participate": 19,
    "no time / travel distance": 14, "pain & fatigue <severe>": 12,
    "currently receiving psychological treatment elsewhere (psychotherapy or psychiatric care)": 11,
    "insufficient command of the Dutch language to follow the training": 10,
    "no computer or internet access at home": 9, "life expectancy shorter than 12 months": 8,
    "already took part in a mindfulness course in the past year": 7,
    "could not be reached after the screening questionnaire": 6, "other": 5,
}
LONG_FREE_TEXT = ("participant wrote: the sessions came at a bad moment, right after the second course of "
                  "chemotherapy, and travelling to the hospital every week was too much on top of work")


def stress_case() -> dict:
    """The interim freeze with twelve exclusion reasons and many discontinuation reasons."""
    consort = copy.deepcopy(INTERIM)
    consort["excluded_reasons"] = dict(TWELVE_REASONS)
    consort["excluded"] = sum(TWELVE_REASONS.values())
    consort["assessed"] = consort["excluded"] + consort["randomized"]
    by_arm = {
        "MBCT": {"did not like the intervention": 1, "physical health (cancer recurrence, side effects of "
                 "chemotherapy)": 1, "too burdensome": 1, "no time": 1, LONG_FREE_TEXT: 1},
        "eMBCT": {"did not like the intervention": 2, "too burdensome": 1, "personal circumstances": 1,
                  "moved away": 1, "technical problems with the online platform": 1, "no time": 1,
                  "(no reason recorded)": 2}}
    consort["discontinued_reasons_by_arm"] = by_arm
    consort["discontinued"] = {c: sum(by_arm[c].values()) for c in CONDITIONS}
    pooled: dict[str, int] = {}
    for reasons in by_arm.values():
        for reason, n in reasons.items():
            pooled[reason] = pooled.get(reason, 0) + n
    consort["discontinued_reasons"] = pooled
    return consort


def extreme_case() -> dict:
    """Many long reasons in every list, zero counts, every optional row (n=1 in MBCT only)."""
    def zero(value):
        if isinstance(value, dict):
            return {key: zero(inner) for key, inner in value.items()}
        return 0

    consort = zero(copy.deepcopy(INTERIM))
    consort["excluded_reasons"] = {
        f"reason {i}: a long free-text exclusion reason copied from the screening export, "
        f"pain & fatigue <severe> {'and more words ' * (i % 4)}": 0 for i in range(12)}
    long_reasons = {f"discontinued because of a long reason {i} with several words in it": 0 for i in range(9)}
    long_reasons["Averyveryverylongsinglewordwithoutanyspacesthatmustbecutsomewhere"] = 0
    consort["discontinued_reasons"] = dict(long_reasons)
    consort["discontinued_reasons_by_arm"] = {"MBCT": dict(long_reasons), "eMBCT": {LONG_FREE_TEXT: 0}}
    consort["tau_not_rerandomized_reasons"] = {f"withdrew from study: {LONG_FREE_TEXT} ({i})": 0 for i in range(4)}
    consort["withdrawn_before_t1_reasons_by_arm"] = {"MBCT": {LONG_FREE_TEXT: 1}, "eMBCT": {}}
    consort["tau_waiting"] = 1
    for key in OPTIONAL:
        consort[key]["MBCT"] = 1  # in treatment: 1, of whom 1 with no session attended
    return consort


MAKERS = {"final": lambda: copy.deepcopy(FINAL), "interim": lambda: copy.deepcopy(INTERIM),
          "stress": stress_case, "extreme": extreme_case}


def test_the_samples_add_up():
    """The hand-built samples obey the arithmetic of the real dict (analysis/consort.py)."""
    for consort in (FINAL, INTERIM, stress_case()):
        assert consort["assessed"] == consort["excluded"] + consort["randomized"]
        assert consort["excluded"] == sum(consort["excluded_reasons"].values())
        assert consort["randomized"] == sum(consort["allocated"].values())
        assert consort["allocated"]["TAU"] == (sum(consort["rerandomized"].values()) + consort["tau_waiting"]
                                               + consort["tau_not_rerandomized"])
        assert consort["tau_not_rerandomized"] == sum(consort["tau_not_rerandomized_reasons"].values())
        pooled = sum(consort["discontinued_reasons"].values())
        assert pooled == sum(consort["discontinued"].values())
        for c in CONDITIONS:
            def n(key):
                return consort[key][c]

            assert n("treated") == consort["allocated"][c] + n("rerandomized")
            assert n("treated") == n("in_treatment") + n("treatment_ended")
            assert n("in_treatment") == n("in_treatment_attended") + n("in_treatment_none_attended")
            assert n("treatment_ended") == n("received_min_sessions") + n("dropout")
            assert n("discontinued") <= n("treatment_ended")
            assert n("discontinued") == sum(consort["discontinued_reasons_by_arm"][c].values())
            assert n("withdrawn_before_t1") == sum(consort["withdrawn_before_t1_reasons_by_arm"][c].values())
            assert n("treated") == sum(n(key) for key in T1_PARTITION)
            assert consort["analysed"]["hads_model"][c] <= n("t1_assessed")
    # the final freeze has ended everything, the interim one has every optional row
    assert FINAL["tau_waiting"] == 0
    for key in OPTIONAL:
        assert sum(FINAL[key].values()) == 0 and sum(INTERIM[key].values()) > 0
    assert INTERIM["tau_waiting"] > 0 and INTERIM["tau_not_rerandomized"] > 0


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


def column_of(groups: list[Group]):
    """A function: x of a <text> → "MBCT", "TAU" or "eMBCT", from the x ranges of the
    "Allocated to …" boxes (the three columns)."""
    ranges = {}
    for arm in ("MBCT", "TAU", "eMBCT"):
        (box,) = [g for g in boxes(groups) if g.content.startswith(f"Allocated to {arm} ")]
        ranges[arm] = (box.rect.x, box.rect.right)

    def column(x: float) -> str:
        (arm,) = [arm for arm, (left, right) in ranges.items() if left < x < right]
        return arm

    return column


def by_column(groups: list[Group]) -> dict[str, list[Group]]:
    """The flow boxes from the allocation row down, per column, top to bottom, by the x of
    their <text> elements (every text of a box lies in one column)."""
    column = column_of(groups)
    top = min(g.rect.y for g in boxes(groups) if g.content.startswith("Allocated to "))
    out: dict[str, list[Group]] = {"MBCT": [], "TAU": [], "eMBCT": []}
    for g in sorted(boxes(groups), key=lambda g: g.rect.y):
        if g.rect.y >= top:
            (arm,) = {column(t.x) for t in g.texts}
            out[arm].append(g)
    return out


def box_with(groups: list[Group], label: str, column: str | None = None) -> Group:
    found = [g for g in (by_column(groups)[column] if column else boxes(groups)) if label in g.content]
    assert len(found) == 1, (label, column, [g.content for g in found])
    return found[0]


def numbers_in(groups: list[Group]) -> list[int]:
    return [int(n) for g in groups for t in g.texts for n in re.findall(r"\d+", t.text)]


def dict_numbers(value) -> list[int]:
    if isinstance(value, dict):
        return [n for inner in value.values() for n in dict_numbers(inner)]
    return [value]


# --------------------------------------------------------------------------- numbers
OPTIONAL = {  # key → label of its row, drawn (in both arms) exactly when some arm has n > 0
    "in_treatment": "Still in treatment at cut-off",
    "in_treatment_none_attended": "no session attended yet",  # drawn only under "Still in treatment"
    "t1_not_yet_due": "T1 not yet due",
    "withdrawn_before_t1": "withdrew from study before T1",
    "t1_overdue_in_treatment": "T1 due, treatment not recorded as ended",
}


COLUMN_BOXES = ("allocated", "treated", "treatment", "discontinued", "follow_up", "analysis")


def shown(reason: str) -> str:
    """A reason as drawn: a placeholder such as "(no reason recorded)" without its parentheses."""
    return reason[1:-1] if reason.startswith("(") and reason.endswith(")") else reason


def expected(consort: dict, k: int = 4) -> list[tuple[str | None, str, str]]:
    """(column, box, text) of every count that the diagram draws, written independently of
    the module.  Boxes: "assessed", "excluded", "randomized" (column None: the enrollment
    spine moves), "allocated", "tau", and the boxes of the treatment columns, COLUMN_BOXES."""
    out: list[tuple[str | None, str, str]] = [
        (None, "assessed", f"Assessed for eligibility (n={consort['assessed']})"),
        (None, "excluded", f"Excluded (n={consort['excluded']})"),
        (None, "randomized", f"Randomized (n={consort['randomized']})"),
    ]
    out += [(None, "excluded", f"{' '.join(shown(reason).split())} (n={n})")
            for reason, n in consort["excluded_reasons"].items()]
    out += [(arm, "allocated", f"Allocated to {arm} (n={consort['allocated'][arm]})")
            for arm in ("MBCT", "TAU", "eMBCT")]
    out += [("TAU", "tau", f"to {c} (n={consort['rerandomized'][c]})") for c in CONDITIONS]
    if consort["tau_waiting"] > 0:
        out.append(("TAU", "tau", f"Waiting period still running (n={consort['tau_waiting']})"))
    out.append(("TAU", "tau", f"Not re-randomized (n={consort['tau_not_rerandomized']})"))
    out += [("TAU", "tau", f"{shown(reason)} (n={n})") for reason, n in consort["tau_not_rerandomized_reasons"].items()]
    for c in CONDITIONS:
        def n(key):
            return consort[key][c]

        out += [(c, "treated", f"Treated in {c} (n={n('treated')})"),
                (c, "treated", f"first round {consort['allocated'][c]}, re-randomized {n('rerandomized')}"),
                (c, "treatment", f"Treatment ended (n={n('treatment_ended')})"),
                (c, "treatment", f"received ≥ {k} sessions (n={n('received_min_sessions')})"),
                (c, "treatment", f"dropout, < {k} sessions (n={n('dropout')})"),
                (c, "discontinued", f"Discontinued treatment (n={n('discontinued')})"),
                (c, "follow_up", f"assessed (n={n('t1_assessed')})"),
                (c, "follow_up", f"lost to follow-up: T1 due, no HADS score (n={n('lost_to_follow_up_t1')})")]
        out += [(c, "discontinued", f"{shown(reason)} (n={count})")
                for reason, count in consort["discontinued_reasons_by_arm"][c].items()]
        for key, label in OPTIONAL.items():
            if any(consort[key][arm] > 0 for arm in CONDITIONS):
                out.append((c, "treatment" if key.startswith("in_treatment") else "follow_up",
                            f"{label} (n={n(key)})"))
        if any(consort["in_treatment_none_attended"][arm] > 0 for arm in CONDITIONS):  # the other part
            out.append((c, "treatment", f"attended ≥ 1 session (n={n('in_treatment_attended')})"))
        if any(consort["withdrawn_before_t1"][arm] > 0 for arm in CONDITIONS):
            out += [(c, "follow_up", f"{shown(reason)} (n={count})")
                    for reason, count in consort["withdrawn_before_t1_reasons_by_arm"][c].items()]
        for key, label in (("dropout_model", "Dropout model"), ("alliance_manova", "Alliance MANOVA"),
                           ("hads_model", "HADS model"), ("mhcsf_model", "MHC-SF model")):
            out.append((c, "analysis", f"{label} (n={consort['analysed'][key][c]})"))
    return out


def named_boxes(consort: dict, groups: list[Group]) -> dict[tuple[str | None, str], Group]:
    """The boxes by (column, name), checking the order of the boxes in each column."""
    columns = by_column(groups)
    treatment = ("Still in treatment at cut-off" if any(consort["in_treatment"][c] > 0 for c in CONDITIONS)
                 else "Treatment ended")
    starts = {c: dict(zip(COLUMN_BOXES, (f"Allocated to {c}", f"Treated in {c}", treatment,
                                         "Discontinued treatment", "Follow-up at T1", f"Analysed, {c}")))
              for c in CONDITIONS}
    starts["TAU"] = {"allocated": "Allocated to TAU", "tau": "Re-randomized after waiting period"}
    named = {}
    for column, labels in starts.items():
        contents = [g.content for g in columns[column]]
        assert len(contents) == len(labels) and all(map(str.startswith, contents, labels.values())), \
            (column, contents)
        named.update({(column, name): g for name, g in zip(labels, columns[column])})
    top = min(g.rect.y for g in named.values())
    for name, label in (("assessed", "Assessed for eligibility"), ("excluded", "Excluded"),
                        ("randomized", "Randomized")):
        (named[None, name],) = [g for g in boxes(groups) if g.rect.y < top and g.content.startswith(label)]
    return named


def check_numbers(consort: dict, svg: str, k: int = 4) -> None:
    """Every count is drawn in its box, in its column, and no box has other counts."""
    _, groups = parse(svg)
    named = named_boxes(consort, groups)
    n_counts = dict.fromkeys(named, 0)
    for column, name, text in expected(consort, k):
        content = named[column, name].content
        if not any(len(word) > 40 for word in text.split()):  # a word cut across lines is not rejoined
            assert text in content, (column, name, text, content)
        n_counts[column, name] += text.count("(n=")
    for key, g in named.items():
        assert g.content.count("(n=") == n_counts[key], (key, g.content)


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
def test_every_count_is_shown_at_its_label_in_its_column(make):
    consort = make()
    check_numbers(consort, consort_svg(consort))
    check_numbers(consort, consort_svg(consort, width_mm=120))


@pytest.mark.parametrize("name", SAMPLES)
def test_every_number_comes_from_the_dict(name):
    # distinct values, so that a computed number (a sum, a difference) or a count of the
    # other arm would be noticed
    values = itertools.count(101, 7)
    consort = copy.deepcopy(SAMPLES[name])
    consort["excluded_reasons"] = {"low distress": 1, "declined": 2}  # reason texts without digits

    def renumber(value):
        if isinstance(value, dict):
            return {key: renumber(inner) for key, inner in value.items()}
        return next(values)

    consort = renumber(consort)
    for key in ("tau_waiting", *OPTIONAL):  # the optional rows stay hidden where the sample hides them
        if max(dict_numbers(SAMPLES[name][key])) == 0:
            consort[key] = SAMPLES[name][key]
    svg = consort_svg(consort, dropout_threshold=3)
    check_numbers(consort, svg, k=3)
    _, groups = parse(svg)
    drawn = set(numbers_in(groups))
    assert drawn <= set(dict_numbers(consort)) | {1, 3}  # "T1", the dropout threshold
    # the pooled reasons of discontinuation are kept in the dict but not drawn
    assert not drawn & set(consort["discontinued_reasons"].values())


def test_an_analysis_without_an_estimate_is_marked_in_its_box():
    """At an early cut-off a model may have a sample but no estimate (separation, too few cases):
    its line in the Analysed boxes says so; the others do not."""
    consort = copy.deepcopy(INTERIM)
    consort["analysed_estimated"]["dropout_model"] = False
    _, groups = parse(consort_svg(consort))
    for c in CONDITIONS:
        content = box_with(groups, f"Analysed, {c}", c).content
        n = consort["analysed"]["dropout_model"][c]
        assert f"Dropout model (n={n}), not estimable" in content
        assert content.count("not estimable") == 1
    _, groups = parse(consort_svg(INTERIM))
    assert "not estimable" not in box_with(groups, "Analysed, MBCT", "MBCT").content


def test_dropout_threshold_is_a_setting():
    _, groups = parse(consort_svg(FINAL, dropout_threshold=3))
    content = box_with(groups, "Treatment ended", "MBCT").content
    assert "received ≥ 3 sessions (n=102)" in content and "dropout, < 3 sessions (n=15)" in content
    assert "≥ 4" not in content and "< 4" not in content


def with_optional(key: str, counts: dict[str, int]) -> dict:
    """The final sample with one optional count set (its reasons when it has any)."""
    consort = copy.deepcopy(FINAL)
    if key == "tau_waiting":
        consort["tau_waiting"] = counts["TAU"]
        return consort
    consort[key] = dict(counts)
    if key == "in_treatment_none_attended":  # a part of those in treatment (the other part: none)
        consort["in_treatment"] = dict(counts)
    if key == "withdrawn_before_t1":
        consort["withdrawn_before_t1_reasons_by_arm"] = {
            c: ({"too burdensome": counts[c]} if counts[c] else {}) for c in CONDITIONS}
    return consort


@pytest.mark.parametrize("key", OPTIONAL)
@pytest.mark.parametrize("counts", [{"MBCT": 0, "eMBCT": 0}, {"MBCT": 2, "eMBCT": 0}, {"MBCT": 0, "eMBCT": 5}],
                         ids=["none", "MBCT", "eMBCT"])
def test_optional_rows_exactly_when_counted_and_in_both_arms(key, counts):
    consort = with_optional(key, counts)
    _, groups = parse(consort_svg(consort))
    columns = by_column(groups)
    label = OPTIONAL[key]
    for c in CONDITIONS:
        texts = " ".join(g.content for g in columns[c])
        if any(counts.values()):
            assert texts.count(label) == 1 and f"{label} (n={counts[c]})" in texts, (c, texts)
        else:
            assert label not in texts
    if key == "withdrawn_before_t1":  # the reasons are those of the arm
        for c in CONDITIONS:
            assert ("too burdensome" in box_with(groups, "Follow-up at T1", c).content) == (counts[c] > 0)
    check_numbers(consort, consort_svg(consort))


@pytest.mark.parametrize("waiting", [0, 4])
def test_waiting_tau_only_when_someone_waits(waiting):
    consort = with_optional("tau_waiting", {"TAU": waiting})
    _, groups = parse(consort_svg(consort))
    tau = box_with(groups, "Re-randomized after waiting period", "TAU").content
    assert ("Waiting period still running" in tau) == (waiting > 0)
    assert f"Not re-randomized (n={consort['tau_not_rerandomized']})" in tau  # always
    check_numbers(consort, consort_svg(consort))


def test_not_rerandomized_without_reasons():
    consort = copy.deepcopy(FINAL)
    consort["tau_not_rerandomized"], consort["tau_not_rerandomized_reasons"] = 0, {}
    consort["rerandomized"] = {"MBCT": 40, "eMBCT": 38}
    _, groups = parse(consort_svg(consort))
    tau = box_with(groups, "Re-randomized after waiting period", "TAU").content
    assert tau.endswith("Not re-randomized (n=0)")


def test_the_items_of_the_two_arms_line_up():
    """Same rows in both columns: every item starts at the same height in MBCT and eMBCT,
    although reason lists differ in length and counts wrap differently."""
    for consort in (INTERIM, stress_case(), extreme_case()):
        for width in (170, 120):
            _, groups = parse(consort_svg(consort, width_mm=width))
            columns = by_column(groups)
            for mbct, embct in zip(columns["MBCT"], columns["eMBCT"], strict=True):
                assert (mbct.rect.y, mbct.rect.h, mbct.rect.w) == (embct.rect.y, embct.rect.h, embct.rect.w)
                for label in ("Still in treatment", "Treatment ended", "received ≥", "dropout, <",
                              "Discontinued treatment", "Follow-up at T1", "assessed", "lost to follow-up",
                              "T1 not yet due", "T1 due, treatment", "withdrew from study", "Dropout model",
                              "Alliance MANOVA", "HADS model", "MHC-SF model"):
                    ys = [[t.y for t in g.texts if t.text.startswith(label)] for g in (mbct, embct)]
                    assert ys[0] == ys[1], (label, width, ys)


def test_a_missing_key_is_an_error():
    for key in ("tau_waiting", "treatment_ended", "discontinued_reasons_by_arm", "t1_not_yet_due"):
        consort = {k: v for k, v in FINAL.items() if k != key}
        with pytest.raises(KeyError):
            consort_svg(consort)


# --------------------------------------------------------------------------- text and XML
def test_reasons_are_escaped_for_xml():
    consort = copy.deepcopy(INTERIM)
    consort["excluded_reasons"] = {"pain & fatigue <severe>": 7, 'quote " and \x07bell': 2}
    consort["discontinued_reasons_by_arm"]["eMBCT"] = {"A&B <i>": 1}
    consort["withdrawn_before_t1_reasons_by_arm"]["MBCT"] = {"C&D <b>": 3}
    consort["tau_not_rerandomized_reasons"] = {"E&F <u>": 3}
    svg = consort_svg(consort)
    assert "pain &amp; fatigue &lt;severe&gt;" in svg
    for tag in ("<severe>", "<i>", "<b>", "<u>"):
        assert tag not in svg
    _, groups = parse(svg)  # well-formed
    assert "pain & fatigue <severe> (n=7)" in box_with(groups, "Excluded").content
    assert 'quote " and bell (n=2)' in box_with(groups, "Excluded").content
    assert "A&B <i> (n=1)" in box_with(groups, "Discontinued", "eMBCT").content
    assert "C&D <b> (n=3)" in box_with(groups, "Follow-up at T1", "MBCT").content
    assert "E&F <u> (n=3)" in box_with(groups, "Not re-randomized", "TAU").content


def test_plain_standalone_svg():
    for consort in SAMPLES.values():
        svg = consort_svg(consort)
        assert svg.startswith("<svg ") and svg.endswith("</svg>")
        root, _ = parse(svg)
        assert root.get("width") == "100%"
        assert root.get("viewBox").split()[:3] == ["0", "0", "170"]
        for forbidden in ("foreignObject", "marker", "class=", "style=", "<?xml", "<image", "@font-face"):
            assert forbidden not in svg
        assert "></text>" not in svg  # the blank lines that align the arms are not drawn
        assert "DejaVu Sans" in root.get("font-family")


def test_deterministic():
    for make in MAKERS.values():
        assert consort_svg(make()) == consort_svg(make())


def test_a_100000_character_reason_is_drawn_shortened():
    """Free text of any length costs the layout the same: it is cut to REASON_DISPLAY_LIMIT with
    "…" before it is measured (a 100,000-character reason took minutes to wrap)."""
    from alliance_report.render.consort_diagram import REASON_DISPLAY_LIMIT

    words = ("the participant explained at length why " * 2_500)[:100_000]
    one_word = "x" * 100_000  # no space: cut into pieces by the word wrap, had it been drawn whole
    consort = copy.deepcopy(FINAL)
    consort["excluded_reasons"] = {words if r == "declined to participate" else r: n
                                   for r, n in FINAL["excluded_reasons"].items()}
    consort["discontinued_reasons_by_arm"]["eMBCT"] = {one_word if r == "too burdensome" else r: n
                                                       for r, n in FINAL["discontinued_reasons_by_arm"]["eMBCT"].items()}
    consort["tau_not_rerandomized_reasons"] = {f"withdrew from study: {words}": 3, "(no reason recorded)": 2}
    svg = consort_svg(consort)
    assert svg == consort_svg(copy.deepcopy(consort))  # deterministic
    assert len(svg) < len(consort_svg(FINAL)) + 3 * REASON_DISPLAY_LIMIT + 2_000  # the layout of a short text
    _, groups = parse(svg)
    excluded = box_with(groups, "Excluded").content
    assert "the participant explained at length why the participant" in excluded
    drawn = re.search(r"(the participant explained[^(]*) \(n=45\)", excluded)
    assert drawn and drawn[1].endswith("…") and len(drawn[1]) <= REASON_DISPLAY_LIMIT
    discontinued = box_with(groups, "Discontinued", "eMBCT").content.replace(" ", "")
    assert "x" * (REASON_DISPLAY_LIMIT // 2) in discontinued and "x" * REASON_DISPLAY_LIMIT not in discontinued
    assert "…(n=8)" in discontinued
    assert "withdrew from study: the participant explained" in box_with(groups, "Not re-randomized", "TAU").content


@pytest.mark.parametrize("width_mm", [170, 120])
def test_fonts_print_at_least_7_pt(width_mm):
    root, groups = parse(consort_svg(INTERIM, width_mm=width_mm))
    user_units_per_mm = float(root.get("viewBox").split()[2]) / width_mm
    sizes = {t.size for g in groups for t in g.texts}
    assert min(sizes) / user_units_per_mm >= 7 * PT - 1e-9


def test_lists_grow_the_box_and_the_diagram():
    def height(svg):
        return float(ET.fromstring(svg).get("viewBox").split()[3])

    _, interim = parse(consort_svg(INTERIM))
    _, stress = parse(consort_svg(stress_case()))
    assert box_with(stress, "Excluded").rect.h > box_with(interim, "Excluded").rect.h
    for c in CONDITIONS:
        assert (box_with(stress, "Discontinued", c).rect.h > box_with(interim, "Discontinued", c).rect.h)
    assert height(consort_svg(extreme_case())) > height(consort_svg(stress_case())) > height(consort_svg(INTERIM))
    assert height(consort_svg(INTERIM)) > height(consort_svg(FINAL))  # the optional rows


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


@pytest.mark.parametrize("make", MAKERS.values(), ids=MAKERS.keys())
@pytest.mark.parametrize("width_mm", [170, 120])
def test_no_overlaps_and_text_inside_boxes(make, width_mm):
    check_geometry(consort_svg(make(), width_mm=width_mm), width_mm)


def test_stage_labels():
    for consort in SAMPLES.values():
        root, groups = parse(consort_svg(consort))
        labels = [t.text for g in groups for t in g.texts if t.transform]
        assert labels == ["Enrollment", "Allocation", "Treatment", "Follow-up", "Analysis"]
        # each band holds its rows of the treatment columns
        bands = {t.text: g.rect for g in groups for t in g.texts if t.transform}
        for label, stage in (("Treated in MBCT", "Treatment"), ("Treatment ended", "Treatment"),
                             ("Discontinued", "Follow-up"), ("Follow-up at T1", "Follow-up"),
                             ("Analysed, MBCT", "Analysis")):
            box = box_with(groups, label, "MBCT").rect
            assert bands[stage].y - 0.02 <= box.y and box.bottom <= bands[stage].bottom + 0.02, (label, stage)


# --------------------------------------------------------------------------- through WeasyPrint
@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")
@pytest.mark.parametrize("name", ["final", "interim", "stress"])
def test_weasyprint_pdf_has_the_text_on_one_page(name, tmp_path):
    weasyprint = pytest.importorskip("weasyprint")
    consort = MAKERS[name]()
    html = ("<html><head><style>@page { size: A4; margin: 22mm 17mm 20mm 17mm } body { margin: 0 }"
            "</style></head><body><figure style='margin:0'>" + consort_svg(consort) + "</figure></body></html>")
    pdf = tmp_path / "consort.pdf"
    pdf.write_bytes(weasyprint.HTML(string=html).write_pdf())
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert re.search(rf"Randomized \(n={consort['randomized']}\)", text)
    assert f"Assessed for eligibility (n={consort['assessed']})" in text
    if "pain & fatigue <severe>" in consort["excluded_reasons"]:
        assert "pain & fatigue <severe>" in text
    for c in CONDITIONS:
        assert f"Discontinued treatment (n={consort['discontinued'][c]})" in text
    assert f"Not re-randomized (n={consort['tau_not_rerandomized']})" in text
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.MULTILINE)


@pytest.mark.skipif(shutil.which("rsvg-convert") is None, reason="librsvg2-bin not installed")
def test_a_png_for_quarto_while_the_report_pdf_keeps_the_vector_diagram(demo_pair):
    """Quarto's PDF output gets figures/consort.png (Quarto then needs no rsvg-convert of its own),
    drawn on white; the report's PDF keeps the diagram as vector text."""
    import struct

    _, out = demo_pair
    png = (out / "figures" / "consort.png").read_bytes()
    width, height = struct.unpack(">II", png[16:24])  # the PNG's IHDR chunk
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and width == round(170 / 25.4 * 200)  # 170 mm at 200 dpi
    assert png[25] == 2  # colour type 2, RGB: the diagram on white, no transparency
    # its resolution, for pandoc and LaTeX: the pHYs chunk, 200 dpi = 7874 pixels per metre (unit 1)
    assert png[37:41] == b"pHYs" and struct.unpack(">IIB", png[41:50]) == (7874, 7874, 1)
    assert 1.0 < height / width < 1.6
    assert "](figures/consort){#fig-consort" in (out / "report.qmd").read_text(encoding="utf-8")
    text = subprocess.run(["pdftotext", str(out / "report.pdf"), "-"], check=True, capture_output=True,
                          text=True).stdout
    assert "Assessed for eligibility" in text and "Randomized (n=" in text


def test_the_demo_analyses_all_have_estimates_and_no_note(demo_pair):
    _, out = demo_pair
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert all(results["consort"]["analysed_estimated"].values())
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "not estimable" not in html.split('id="figure-consort"')[1].split("</figure>")[0]


def test_the_caption_explains_the_mark_only_when_an_analysis_has_no_estimate():
    from alliance_report.render.consort_diagram import NOT_ESTIMABLE_NOTE
    from alliance_report.render.report import consort_figure

    results = {"consort": copy.deepcopy(INTERIM), "settings": {"dropout_threshold": 4}}
    plain = consort_figure(results)
    assert plain.caption == "Flow of participants through the trial (CONSORT)." and "not estimable" not in plain.alt
    results["consort"]["analysed_estimated"]["alliance_manova"] = False
    marked = consort_figure(results)
    assert marked.caption.endswith(NOT_ESTIMABLE_NOTE) and marked.alt.endswith(NOT_ESTIMABLE_NOTE)
