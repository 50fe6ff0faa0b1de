"""One home per concept: the trial's conditions, arms, timepoints, weeks, disposition events and
instruments are defined once (``alliance_report/design.py``; the instruments' items and ranges in
``alliance_report/scoring.py``).  The Great Expectations suites are declarative JSON and cannot
import them, so this test holds them to the same facts; and no module of the package spells one of
these lists out again."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from alliance_report import EXPECTATIONS_DIR, PACKAGE_DIR
from alliance_report.design import (ALLIANCE_WEEKS, ALLOCATIONS, BASELINE_TIMEPOINTS, CONDITIONS,
                                    DISPOSITION_EVENTS, FOLLOW_UPS, INSTRUMENTS, PARTICIPANT_LEVELS, TIMEPOINT_INSTRUMENTS,
                                    TIMEPOINTS)
from alliance_report.scoring import INSTRUMENTS as SCORED


def expectations(file: str) -> list[dict]:
    return json.loads((EXPECTATIONS_DIR / f"{file}.json").read_text(encoding="utf-8"))["expectations"]


def value_set(file: str, column: str, instrument: str | list[str] | None = None) -> list:
    """The value set of the suite's in-set rule for ``column`` (under ``instrument == …`` when given)."""
    for rule in expectations(file):
        kwargs = rule["kwargs"]
        condition = kwargs.get("row_condition", {}).get("parameter")
        if rule["type"] == "expect_column_values_to_be_in_set" and kwargs["column"] == column and condition == instrument:
            return kwargs["value_set"]
    raise AssertionError(f"{file}.json has no in-set rule for {column} ({instrument})")


def between(file: str, column: str, instrument: str) -> tuple[int, int]:
    for rule in expectations(file):
        kwargs = rule["kwargs"]
        if (rule["type"] == "expect_column_values_to_be_between" and kwargs["column"] == column
                and kwargs.get("row_condition", {}).get("parameter") == instrument):
            return kwargs["min_value"], kwargs["max_value"]
    raise AssertionError(f"{file}.json has no range rule for {column} of {instrument}")


def test_the_suites_know_the_design():
    assert value_set("participants", "allocation") == list(ALLOCATIONS)
    assert value_set("participants", "treatment") == list(CONDITIONS)
    assert value_set("disposition", "event") == list(DISPOSITION_EVENTS)
    assert value_set("questionnaires", "instrument") == list(INSTRUMENTS)
    assert {instrument for tp in TIMEPOINTS for instrument in TIMEPOINT_INSTRUMENTS[tp]} == set(INSTRUMENTS)
    alliance = [tp for tp in TIMEPOINTS if "WAI" in TIMEPOINT_INSTRUMENTS[tp]]
    assert value_set("questionnaires", "timepoint", "WAI") == alliance == list(ALLIANCE_WEEKS)
    outcome = [tp for tp in TIMEPOINTS if "HADS" in TIMEPOINT_INSTRUMENTS[tp]]
    assert value_set("questionnaires", "timepoint", ["HADS", "MHCSF"]) == outcome
    assert outcome == [*BASELINE_TIMEPOINTS, *FOLLOW_UPS]
    for column, levels in PARTICIPANT_LEVELS.items():
        assert value_set("participants", column) == list(levels), column


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_the_suites_know_each_instruments_items_and_answers(instrument):
    scored = SCORED[instrument]
    assert between("questionnaires", "item__int", instrument) == (1, scored.n_items)
    assert between("questionnaires", "value__int", instrument) == (scored.low, scored.high)
    assert sorted(i for items in scored.subscales.values() for i in items) == list(scored.items)


# a list of the design written out again: the tuple literal of these names, in any order
SPELLED_OUT = {
    "conditions": set(CONDITIONS),
    "allocations": set(ALLOCATIONS),
    "alliance weeks": set(ALLIANCE_WEEKS),
    "timepoints": set(TIMEPOINTS),
    "follow-ups": set(FOLLOW_UPS),
    "disposition events": set(DISPOSITION_EVENTS),
    "instruments": set(INSTRUMENTS),
}
TUPLE_OR_LIST = re.compile(r"[(\[]\s*((?:\"[A-Za-z0-9_]+\"\s*,\s*)+\"[A-Za-z0-9_]+\")\s*,?\s*[)\]]")


def spelled_out_lists(source: str) -> list[tuple[str, str]]:
    found = []
    for match in TUPLE_OR_LIST.finditer(source):
        names = set(re.findall(r'"([A-Za-z0-9_]+)"', match.group(1)))
        found += [(concept, match.group(0)) for concept, members in SPELLED_OUT.items() if names == members]
    return found


def test_no_module_spells_out_the_design_again():
    offenders = {}
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        if path.name == "design.py":
            continue
        found = spelled_out_lists(path.read_text(encoding="utf-8"))
        if found:
            offenders[path.relative_to(PACKAGE_DIR).as_posix()] = found
    assert offenders == {}


def test_the_scan_finds_a_list_written_out_again():
    assert spelled_out_lists('EVENTS = ("discontinued_treatment", "withdrew_from_study", "lost_to_follow_up")\n') \
        == [("disposition events", '("discontinued_treatment", "withdrew_from_study", "lost_to_follow_up")')]
    assert spelled_out_lists('for week in ["W9", "W2", "W5"]:') == [("alliance weeks", '["W9", "W2", "W5"]')]
    assert spelled_out_lists('labels = ("MBCT", "eMBCT", "TAU")') == [("allocations", '("MBCT", "eMBCT", "TAU")')]
    assert spelled_out_lists('pair = ("MBCT", "TAU")') == []  # not a list of the design


def layout_names(readme: str) -> set[str]:
    """The code names (in backquotes) of the README's Layout section."""
    layout = readme[readme.index("## Layout"):]
    layout = layout[:layout.index("\n## ", 1)]
    return set(re.findall(r"`([\w/.]+)`", layout))


def test_the_readme_layout_names_every_module_and_no_other():
    """A reader finds each module of the package in the README's Layout table, under its path or
    its file name (in a row of its folder); every module the table names exists."""
    from alliance_report import REPO_ROOT

    names = layout_names((REPO_ROOT / "README.md").read_text(encoding="utf-8"))
    modules = [path for path in PACKAGE_DIR.rglob("*.py") if path.name != "__init__.py" or path.parent.name in
               ("alliance_report", "validation", "simulation")]
    unnamed = [str(path.relative_to(PACKAGE_DIR.parent)) for path in modules
               if str(path.relative_to(PACKAGE_DIR.parent)) not in names and path.name not in names]
    assert not unnamed, f"modules missing from the README's Layout: {unnamed}"
    named_files = {name.rsplit("/", 1)[-1] for name in names if name.endswith(".py")}
    assert not [name for name in named_files if not list(PACKAGE_DIR.rglob(name))]
