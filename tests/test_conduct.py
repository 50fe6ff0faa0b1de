"""Trial conduct (committee-reports.md, "Trial conduct"): numbers, tables, figures, and the open edition's
arm-free guarantee.

Every expected number is recomputed here in another way than the module does it — from the CSV files
with the ``csv`` module and plain Python, from hand-worked examples, or from the hand-written freeze of
``test_visit_status`` whose statuses are known — never from ``trial_conduct``'s own output.
"""

from __future__ import annotations

import calendar
import csv
import io
import dataclasses
import datetime as dt
import json
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import freeze_corruptions as fc  # noqa: E402
from test_visit_status import write_hand_freeze  # noqa: E402

from alliance_report import DEMO_FREEZE  # noqa: E402
from alliance_report.analysis.conduct import accrual, timeliness, trial_conduct  # noqa: E402
from alliance_report.analysis.dataset import build_dataset  # noqa: E402
from alliance_report.analysis.visits import visit_status  # noqa: E402
from alliance_report.freeze import read_freeze, typed_tables  # noqa: E402
from alliance_report.render import format as fmt  # noqa: E402
from alliance_report.render import conduct_text  # noqa: E402
from alliance_report.render.conduct_figures import (  # noqa: E402
    _accrual_text, _retention_text, accrual_figure, conduct_figures,
)
from alliance_report.render.conduct_tables import accrual_table, conduct_tables  # noqa: E402
from alliance_report.scoring import score_questionnaires  # noqa: E402
from alliance_report.settings import Settings  # noqa: E402
from alliance_report.simulation import simulate_freeze  # noqa: E402
from alliance_report.study import load_study  # noqa: E402

ARMS = ("MBCT", "eMBCT", "TAU")
EVENTS = ("discontinued_treatment", "withdrew_from_study", "lost_to_follow_up")
STATUS_KEYS = ("complete", "partial", "missing", "not_yet_due", "not_applicable", "received_before_due")
INSTRUMENTS = {"T0": ("HADS", "MHCSF"), "T0b": ("HADS", "MHCSF"), "W2": ("WAI",), "W5": ("WAI",),
               "W9": ("WAI",), "T1": ("HADS", "MHCSF"), "T2": ("HADS", "MHCSF"), "T3": ("HADS", "MHCSF")}


# ------------------------------------------------------------------------------------------ inputs

def conduct_of(folder: Path) -> tuple[dict, dict]:
    """trial_conduct on a freeze (open, closed), with its inputs built as compute_results builds them."""
    freeze = read_freeze(folder)
    study = load_study(freeze.manifest["study"])
    tables = typed_tables(freeze)
    scores = score_questionnaires(tables["questionnaires"])
    data = build_dataset(tables, scores, Settings().dropout_threshold)
    schedule, status = visit_status(tables, scores, data, study, freeze.manifest["cutoff_date"])
    return tuple(trial_conduct(tables, data, schedule, status, study, freeze.manifest["cutoff_date"], by_arm=by_arm)
                 for by_arm in (False, True))


class Case:
    def __init__(self, folder: Path):
        self.folder = folder
        self.cutoff = json.loads((folder / "manifest.json").read_text())["cutoff_date"]
        self.open, self.closed = conduct_of(folder)

    def records(self, file: str) -> list[dict[str, str]]:
        return fc.records(self.folder, file)


def swap_labels(src: Path, dst: Path) -> Path:
    """A copy of the freeze with MBCT ↔ eMBCT swapped in allocation and treatment, manifest re-signed."""
    shutil.copytree(src, dst)
    rows = fc.read_rows(dst, "participants.csv")
    swap = {"MBCT": "eMBCT", "eMBCT": "MBCT"}
    columns = [rows[0].index("allocation"), rows[0].index("treatment")]
    for row in rows[1:]:
        for column in columns:
            row[column] = swap.get(row[column], row[column])
    fc.write_rows(dst, "participants.csv", rows)
    fc.refresh_manifest(dst)
    return dst


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Case]:
    root = tmp_path_factory.mktemp("conduct")
    interim = simulate_freeze(root / "interim", cutoff_date="2015-03-01")
    hand = write_hand_freeze(root / "hand")
    return {"demo": Case(Path(DEMO_FREEZE)), "interim": Case(interim), "hand": Case(hand)}


@pytest.fixture(scope="module")
def swapped(cases, tmp_path_factory) -> dict[str, Case]:
    root = tmp_path_factory.mktemp("swapped")
    return {name: Case(swap_labels(cases[name].folder, root / name)) for name in ("demo", "interim")}


CASES = ("demo", "interim", "hand")


def strip_arms(value):
    """The dict without any by_arm key (what the closed dict adds to the open one)."""
    if isinstance(value, dict):
        return {k: strip_arms(v) for k, v in value.items() if k != "by_arm"}
    if isinstance(value, list):
        return [strip_arms(v) for v in value]
    return value


def month_range(first: str, last: str) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def arm_at_cutoff(case: Case) -> dict[str, str]:
    return {r["participant_id"]: r["treatment"] or "TAU" for r in case.records("participants.csv")}


# ------------------------------------------------------------------------------------------ accrual

@pytest.mark.parametrize("name", CASES)
def test_accrual_from_the_csv(cases, name):
    case = cases[name]
    study = load_study("BeMind")
    participants = case.records("participants.csv")
    months = Counter(p["randomized_on"][:7] for p in participants)
    first = min(study.recruitment_start.isoformat()[:7], min(months))
    expected = month_range(first, case.cutoff[:7])
    got = case.open["accrual"]
    assert [m["month"] for m in got["monthly"]] == expected
    assert [m["randomized"] for m in got["monthly"]] == [months.get(m, 0) for m in expected]
    running = 0
    for row in got["monthly"]:
        running += row["randomized"]
        assert row["cumulative"] == running
    assert got["randomized"] == len(participants) == running
    assert got["target"] == study.target_randomized == 245
    # per arm of the first randomization
    for arm in ARMS:
        mine = Counter(p["randomized_on"][:7] for p in participants if p["allocation"] == arm)
        arm_block = case.closed["accrual"]["by_arm"][arm]
        assert [m["randomized"] for m in arm_block["monthly"]] == [mine.get(m, 0) for m in expected]
        assert arm_block["randomized"] == sum(mine.values())


def test_target_line_rate_and_projection_worked_by_hand():
    """Target 20 from 2015-01-01 to 2015-12-31 (364 days); cut-off 2015-05-10."""
    study = dataclasses.replace(load_study("BeMind"), target_randomized=20,
                                recruitment_start=dt.date(2015, 1, 1), recruitment_end_planned=dt.date(2015, 12, 31))
    dates = ["2015-01-20",
             "2015-02-02", "2015-02-27",
             "2015-03-01", "2015-03-15", "2015-03-31",
             "2015-04-01", "2015-04-02", "2015-04-29", "2015-04-30",
             "2015-05-10"]
    block = accrual(pd.Series(pd.to_datetime(dates)), study, "2015-05-10")
    assert [m["month"] for m in block["monthly"]] == ["2015-01", "2015-02", "2015-03", "2015-04", "2015-05"]
    assert [m["randomized"] for m in block["monthly"]] == [1, 2, 3, 4, 1]
    assert [m["cumulative"] for m in block["monthly"]] == [1, 3, 6, 10, 11]
    # days from 2015-01-01 to each month end (the cut-off for May): 30, 58, 89, 119, 129
    assert [m["target_cumulative"] for m in block["monthly"]] == pytest.approx(
        [20 * 30 / 364, 20 * 58 / 364, 20 * 89 / 364, 20 * 119 / 364, 20 * 129 / 364])
    assert block["target_at_cutoff"] == pytest.approx(20 * 129 / 364)
    # last 3 complete months Feb–Apr: 9 / 3 = 3 per month; 9 to go = 3 months = 91.3125 days → 92
    assert block["rate_months"] == ["2015-02", "2015-03", "2015-04"]
    assert block["rate_last_3_months"] == 3.0
    assert block["projected_target_date"] == "2015-08-10"
    assert block["projection"] == "projected"
    assert block["pct_of_target"] == pytest.approx(55.0)
    # the cut-off (10 May) ends its month early; 11 of 20: no month reached the target
    assert block["cutoff_month_partial"] is True
    assert block["target_reached_month"] is None
    assert block["last_randomization_month"] == "2015-05"


@pytest.mark.parametrize("start, cutoff, months, rate, projected", [
    # recruitment starting mid-January: January is not a complete month → only Feb, Mar by 04-20
    ("2015-01-13", "2015-04-20", None, None, None),
    ("2015-01-13", "2015-05-01", ["2015-02", "2015-03", "2015-04"], 2.0, "2015-12-01"),
    # a cut-off on a month's last day completes that month
    ("2015-01-01", "2015-04-30", ["2015-02", "2015-03", "2015-04"], 2.0, "2015-11-30"),
    # nobody in the last 3 complete months → rate 0, no projection
    ("2015-01-01", "2015-09-15", ["2015-06", "2015-07", "2015-08"], 0.0, None),
])
def test_rate_windows(start, cutoff, months, rate, projected):
    study = dataclasses.replace(load_study("BeMind"), target_randomized=20,
                                recruitment_start=dt.date.fromisoformat(start),
                                recruitment_end_planned=dt.date(2015, 12, 31))
    # two a month from February to April (6 randomized)
    dates = [f"2015-{m:02d}-{d:02d}" for m in (2, 3, 4) for d in (10, 20)]
    block = accrual(pd.Series(pd.to_datetime(dates)), study, cutoff)
    assert block["rate_months"] == months
    assert block["rate_last_3_months"] == rate
    # 14 to go at 2 per month: 7 × 30.4375 = 213.06 days → 214 days after the cut-off
    assert block["projected_target_date"] == projected
    assert block["cutoff_month_partial"] is (cutoff != "2015-04-30")  # the last day of April completes it
    if projected:
        assert dt.date.fromisoformat(projected) == dt.date.fromisoformat(cutoff) + dt.timedelta(days=214)


def test_target_reached_and_early_randomization():
    study = dataclasses.replace(load_study("BeMind"), target_randomized=3,
                                recruitment_start=dt.date(2015, 3, 1), recruitment_end_planned=dt.date(2015, 3, 31))
    block = accrual(pd.Series(pd.to_datetime(["2015-02-20", "2015-03-02", "2015-04-01", "2015-06-05"])),
                    study, "2015-07-02")
    # months from the first randomization (before recruitment_start); the line is 0 before the start
    # and capped at the target after the planned end
    assert block["monthly"][0] == {"month": "2015-02", "randomized": 1, "cumulative": 1, "target_cumulative": 0.0}
    assert block["monthly"][1]["target_cumulative"] == 3.0
    assert block["monthly"][-1]["target_cumulative"] == 3.0
    assert block["rate_months"] == ["2015-04", "2015-05", "2015-06"]
    assert block["rate_last_3_months"] == pytest.approx(2 / 3)
    assert block["projected_target_date"] is None        # 4 ≥ 3: reached
    assert block["target_reached"] is True
    assert block["projection"] == "target_reached"
    # cumulative 1 (Feb), 2 (Mar), 3 (Apr): reached in April; the last randomization in June
    assert block["target_reached_month"] == "2015-04"
    assert block["last_randomization_month"] == "2015-06"


# start, cut-off, target: two randomized a month from February to April 2015 (6 in all)
PROJECTION_CASES = {
    "projected": ("2015-01-13", "2015-05-01", 20),
    "target reached": ("2015-01-13", "2015-05-01", 6),
    "fewer than 3 complete months": ("2015-01-13", "2015-04-20", 20),
    "nobody in the last 3 complete months": ("2015-01-01", "2015-09-15", 20),
}


@pytest.mark.parametrize("case", PROJECTION_CASES)
def test_every_branch_of_the_projection_says_what_the_accrual_block_says(case):
    """The sentence, the table cell and the figure caption each write the branch of the block
    (``projected_target_date``, ``target_reached``, ``rate_last_3_months``)."""
    start, cutoff, target = PROJECTION_CASES[case]
    study = dataclasses.replace(load_study("BeMind"), target_randomized=target,
                                recruitment_start=dt.date.fromisoformat(start),
                                recruitment_end_planned=dt.date(2015, 12, 31))
    dates = [f"2015-{m:02d}-{d:02d}" for m in (2, 3, 4) for d in (10, 20)]
    block = accrual(pd.Series(pd.to_datetime(dates)), study, cutoff)
    assert block["target_reached"] is (case == "target reached")
    assert (block["projected_target_date"] is not None) == (case == "projected")
    assert block["projection"] == {"projected": "projected", "target reached": "target_reached",
                                   "fewer than 3 complete months": "too_few_complete_months",
                                   "nobody in the last 3 complete months": "no_recent_randomization"}[case]
    sentence = conduct_text.accrual({"cutoff_date": cutoff, "conduct": {"accrual": block}})
    cells = {row.cells[0]: row.cells[1] for row in accrual_table({"accrual": block}).rows}
    caption = accrual_figure({"accrual": block}).caption
    projected = block["projected_target_date"]
    expected = {
        "projected": (f"the target is reached around {projected}", projected,
                      f"projected to be reached around {projected}"),
        "target reached": ("The recruitment target has been reached.", "target reached",
                           "The target has been reached."),
        "fewer than 3 complete months": ("once 3 complete months of recruitment have passed",
                                         f"{fmt.MISSING} (fewer than 3 complete months)",
                                         "No rate is given before 3 complete months of recruitment."),
        "nobody in the last 3 complete months": ("Nobody was randomized in the last 3 complete months",
                                                 f"{fmt.MISSING} (no randomization in the last 3 complete months)",
                                                 "Nobody was randomized in the last 3 complete months"),
    }[case]
    assert expected[0] in sentence
    assert cells["Projected date the target is reached"] == expected[1]
    assert expected[2] in caption


# ------------------------------------------------------------------------------------------ sites, disposition

@pytest.mark.parametrize("name", CASES)
def test_sites_from_the_csv(cases, name):
    case = cases[name]
    screening = case.records("screening.csv")
    allocation = {p["participant_id"]: p["allocation"] for p in case.records("participants.csv")}
    names = sorted({row["site"] for row in screening})
    got = case.closed["sites"]
    assert [row["site"] for row in got] == names
    for row in got:
        mine = [r for r in screening if r["site"] == row["site"]]
        randomized = [r for r in mine if r["participant_id"]]
        assert row["screened"] == len(mine)
        assert row["eligible"] == sum(r["eligible"] == "yes" for r in mine)
        assert row["randomized"] == len(randomized)
        assert row["randomized_pct"] == pytest.approx(100 * len(randomized) / len(mine))
        assert row["by_arm"] == {a: {"randomized": sum(allocation[r["participant_id"]] == a for r in randomized)}
                                 for a in ARMS}
    total = case.open["sites_total"]
    assert (total["screened"], total["randomized"]) == (len(screening), sum(bool(r["participant_id"]) for r in screening))


@pytest.mark.parametrize("name", CASES)
def test_disposition_from_the_csv(cases, name):
    case = cases[name]
    rows = case.records("disposition.csv")
    arm = arm_at_cutoff(case)
    counts = Counter(r["event"] for r in rows)
    assert strip_arms(case.closed["disposition"]) == {event: counts.get(event, 0) for event in EVENTS}
    assert case.closed["disposition"]["by_arm"] == {
        a: {event: sum(r["event"] == event and arm[r["participant_id"]] == a for r in rows) for event in EVENTS}
        for a in ARMS}
    monthly = case.open["disposition_monthly"]
    assert [m["month"] for m in monthly] == [m["month"] for m in case.open["accrual"]["monthly"]]
    for row in monthly:
        for event in EVENTS:
            assert row[event] == sum(r["event"] == event and r["event_on"][:7] <= row["month"] for r in rows)
    assert {k: v for k, v in monthly[-1].items() if k != "month"} == strip_arms(case.open["disposition"])


def test_hand_freeze_counts(cases):
    c = cases["hand"].closed
    assert (c["accrual"]["randomized"], [s["site"] for s in c["sites"]]) == (11, ["site A"])
    assert {k: v for k, v in c["sites_total"].items() if k != "by_arm"} == {
        "screened": 13, "eligible": 12, "randomized": 11, "randomized_pct": pytest.approx(100 * 11 / 13)}
    # P05 withdrew (TAU, never re-randomized), P08 withdrew (eMBCT), P09 discontinued (MBCT)
    assert c["disposition"]["by_arm"] == {
        "MBCT": {"discontinued_treatment": 1, "withdrew_from_study": 0, "lost_to_follow_up": 0},
        "eMBCT": {"discontinued_treatment": 0, "withdrew_from_study": 1, "lost_to_follow_up": 0},
        "TAU": {"discontinued_treatment": 0, "withdrew_from_study": 1, "lost_to_follow_up": 0}}


# ------------------------------------------------------------------------------------------ completeness

def test_completeness_of_the_hand_freeze(cases):
    """T1 HADS from the statuses worked out in test_visit_status: complete P01 P02 P03, partial P11,
    missing P09 P10, not yet due P04 (waiting) P06 P07, not applicable P05 P08."""
    c = cases["hand"].closed["completeness"]
    assert c["T1"]["HADS"] == {"due": 6, "complete": 3, "partial": 1, "missing": 2, "not_yet_due": 3,
                               "not_applicable": 2, "received_before_due": 0, "pct_complete": 50.0}
    assert c["by_arm"]["MBCT"]["T1"]["HADS"] == {"due": 4, "complete": 2, "partial": 0, "missing": 2,
                                                 "not_yet_due": 1, "not_applicable": 0, "received_before_due": 0, "pct_complete": 50.0}
    assert c["by_arm"]["eMBCT"]["T1"]["HADS"] == {"due": 2, "complete": 1, "partial": 1, "missing": 0,
                                                  "not_yet_due": 1, "not_applicable": 1, "received_before_due": 0, "pct_complete": 50.0}
    assert c["by_arm"]["TAU"]["T1"]["HADS"] == {"due": 0, "complete": 0, "partial": 0, "missing": 0,
                                                "not_yet_due": 1, "not_applicable": 1, "received_before_due": 0, "pct_complete": None}
    # T0b: P02 complete, P03 missing (re-randomized without T0b); P04 waiting; the other 8 not applicable
    assert c["T0b"]["HADS"] == {"due": 2, "complete": 1, "partial": 0, "missing": 1, "not_yet_due": 1,
                                "not_applicable": 8, "received_before_due": 0, "pct_complete": 50.0}


def _hads_complete(values: dict[int, str]) -> bool:
    """≤ 1 item skipped (no row or empty value) in each HADS subscale."""
    return all(sum(not values.get(item) for item in range(first, 15, 2)) <= 1 for first in (1, 2))


def _independent_status(case: Case, timepoint: str) -> Counter:
    """Status counts of HADS at T0 or T1 from the CSV files and the schedule's rules, by hand."""
    day = dt.date.fromisoformat
    cutoff = day(case.cutoff)
    participants = case.records("participants.csv")
    attended = {}
    for s in case.records("sessions.csv"):
        if s["attended"] == "yes":
            attended[s["participant_id"]] = min(attended.get(s["participant_id"], s["session_on"]), s["session_on"])
    disposition = {r["participant_id"]: r for r in case.records("disposition.csv")}
    forms: dict[str, dict[int, str]] = {}
    for q in case.records("questionnaires.csv"):
        if q["timepoint"] == timepoint and q["instrument"] == "HADS":
            forms.setdefault(q["participant_id"], {})[int(q["item"])] = q["value"]
    counts = Counter()
    for p in participants:
        pid, treated = p["participant_id"], bool(p["treatment"])
        event = disposition.get(pid, {})
        if timepoint == "T0":
            planned = day(p["randomized_on"])
        elif treated:
            started_by = p["rerandomized_on"] or p["randomized_on"]
            start = day(attended[pid]) if pid in attended else day(started_by) + dt.timedelta(days=14)
            planned = start + dt.timedelta(days=63)
        else:
            planned = None
        withdrew_before = (event.get("event") == "withdrew_from_study" and planned is not None
                           and day(event["event_on"]) < planned)
        if pid in forms and (planned is None or planned + dt.timedelta(days=30) > cutoff or withdrew_before):
            counts["received_before_due"] += 1  # there, but not due: its window is still open, or withdrawn
        elif pid in forms:
            counts["complete" if _hads_complete(forms[pid]) else "partial"] += 1
        elif planned is None:
            waiting = (p["allocation"] == "TAU" and not event
                       and cutoff < day(p["randomized_on"]) + dt.timedelta(days=91 + 30))
            counts["not_yet_due" if waiting else "not_applicable"] += 1
        elif withdrew_before:
            counts["not_applicable"] += 1
        elif planned + dt.timedelta(days=30) <= cutoff:
            counts["missing"] += 1
        else:
            counts["not_yet_due"] += 1
    return counts


@pytest.mark.parametrize("name", ("interim", "demo"))
@pytest.mark.parametrize("timepoint", ("T0", "T1"))
def test_completeness_recomputed_from_the_csv(cases, name, timepoint):
    counts = _independent_status(cases[name], timepoint)
    got = cases[name].open["completeness"][timepoint]["HADS"]
    assert {key: got[key] for key in STATUS_KEYS} == {key: counts.get(key, 0) for key in STATUS_KEYS}
    due = counts["complete"] + counts["partial"] + counts["missing"]
    assert got["due"] == due
    assert got["pct_complete"] == pytest.approx(100 * counts["complete"] / due)
    if (name, timepoint) == ("interim", "T1"):  # forms returned while their window is open: not in the %
        assert counts["received_before_due"] > 0


# ------------------------------------------------------------------------------------------ timeliness

def test_timeliness_of_the_hand_freeze(cases):
    t = cases["hand"].closed["timeliness"]
    forms = {(q["participant_id"], q["timepoint"], q["instrument"]): dt.date.fromisoformat(q["completed_on"])
             for q in cases["hand"].records("questionnaires.csv")}
    # T1 planned: P01 03-16, P02 02-09, P03 03-16, P11 12-15 (done 03-18, 02-10, 03-17, 12-16; both forms)
    planned_t1 = {"P01": "2015-03-16", "P02": "2015-02-09", "P03": "2015-03-16", "P11": "2014-12-15"}
    t1 = [(done - dt.date.fromisoformat(planned_t1[pid])).days for (pid, tp, _), done in forms.items() if tp == "T1"]
    assert sorted(t1) == [1, 1, 1, 1, 1, 1, 2, 2]  # each form counts: HADS and MHC-SF of each participant
    assert t["T1"] == {"n": 8, "median_days": float(np.percentile(t1, 50)), "q1_days": float(np.percentile(t1, 25)),
                       "q3_days": float(np.percentile(t1, 75))}
    # T0: completed 1–3 days before randomization (P01 … P11), HADS and MHC-SF each
    t0 = [-3, -3, -1, -2, -2, -3, -2, -3, -3, -2, -3] * 2
    n_t0 = sum(1 for (_, tp, _) in forms if tp == "T0")
    assert n_t0 == 22 and t["T0"] == {"n": 22, "median_days": float(np.percentile(t0, 50)),
                                      "q1_days": float(np.percentile(t0, 25)), "q3_days": float(np.percentile(t0, 75))}
    assert t["by_arm"]["MBCT"]["T1"]["n"] == 4 and t["by_arm"]["MBCT"]["T1"]["median_days"] == 1.5   # P01, P03
    assert t["by_arm"]["TAU"]["T0"] == {"n": 4, "median_days": -2.0, "q1_days": -2.0, "q3_days": -2.0}  # P04, P05
    assert t["T0b"] == {"n": 2, "median_days": -3.0, "q1_days": -3.0, "q3_days": -3.0}                  # P02
    assert t["W2"]["median_days"] == 0.0 and t["W2"]["n"] == 9                                           # on the day
    assert t["T3"] == {"n": 0, "median_days": None, "q1_days": None, "q3_days": None}


def test_timeliness_counts_each_form():
    """committee-reports.md: days from the planned date to completed_on, which each form has: a
    questionnaire returned late counts as late beside an early one of the same timepoint (it took
    the earliest of the timepoint, which hid the late one).  Rows interleaved and unsorted."""
    rows = [("A", "T1", "HADS", "2015-03-05"), ("A", "T1", "MHCSF", "2015-03-03"), ("B", "T1", "HADS", "2015-03-01"),
            ("A", "T1", "HADS", "2015-03-05"), ("B", "T1", "MHCSF", "2015-03-09"), ("C", "T1", "MHCSF", "2015-02-20"),
            ("A", "T0", "HADS", "2014-12-30")]
    questionnaires = pd.DataFrame(rows, columns=["participant_id", "timepoint", "instrument", "completed_on"])
    questionnaires["completed_on"] = pd.to_datetime(questionnaires["completed_on"])
    schedule = pd.DataFrame(index=pd.Index(["A", "B", "C"], name="participant_id"))
    for tp in INSTRUMENTS:
        schedule[f"planned_{tp}"] = pd.to_datetime(["2015-01-01", "2015-01-01", "2015-01-01"])
    schedule["planned_T1"] = pd.to_datetime(["2015-03-01", "2015-03-02", "2015-02-25"])
    arm = pd.Series(["MBCT", "MBCT", "TAU"], index=schedule.index)
    t = timeliness(questionnaires, schedule, arm)
    # A: HADS 03-05 − 03-01 = 4, MHC-SF 2; B: HADS −1, MHC-SF 03-09 − 03-02 = 7; C: 02-20 − 02-25 = −5
    days = [4, 2, -1, 7, -5]
    assert t["T1"] == {"n": 5, "median_days": 2.0, "q1_days": float(np.percentile(days, 25)),
                       "q3_days": float(np.percentile(days, 75))}
    assert (t["T1"]["q1_days"], t["T1"]["q3_days"]) == (-1.0, 4.0)
    assert t["T0"] == {"n": 1, "median_days": -2.0, "q1_days": -2.0, "q3_days": -2.0}
    assert t["by_arm"]["MBCT"]["T1"] == {"n": 4, "median_days": 3.0, "q1_days": 1.25, "q3_days": 4.75}
    assert t["by_arm"]["TAU"]["T1"]["median_days"] == -5.0


@pytest.mark.parametrize("name", ("demo", "interim"))
def test_timeliness_n_is_the_forms_there(cases, name):
    present = Counter(tp for _, tp, _ in {(q["participant_id"], q["timepoint"], q["instrument"])
                                          for q in cases[name].records("questionnaires.csv")})
    for tp in INSTRUMENTS:
        assert cases[name].open["timeliness"][tp]["n"] == present.get(tp, 0)


# ------------------------------------------------------------------------------------------ by arm, the open dict

@pytest.mark.parametrize("name", CASES)
def test_arm_blocks_add_up_to_the_pooled_ones(cases, name):
    c = cases[name].closed
    arms = c["accrual"]["by_arm"]
    assert sum(arms[a]["randomized"] for a in ARMS) == c["accrual"]["randomized"]
    assert sum(arms[a]["pct_of_randomized"] for a in ARMS) == pytest.approx(100)
    for i, month in enumerate(c["accrual"]["monthly"]):
        for key in ("randomized", "cumulative"):
            assert sum(arms[a]["monthly"][i][key] for a in ARMS) == month[key]
    for row in [*c["sites"], c["sites_total"]]:
        assert sum(row["by_arm"][a]["randomized"] for a in ARMS) == row["randomized"]
    for tp, instruments in INSTRUMENTS.items():
        for instrument in instruments:
            for key in ("due", *STATUS_KEYS):
                assert (sum(c["completeness"]["by_arm"][a][tp][instrument][key] for a in ARMS)
                        == c["completeness"][tp][instrument][key])
        assert sum(c["timeliness"]["by_arm"][a][tp]["n"] for a in ARMS) == c["timeliness"][tp]["n"]
    for event in EVENTS:
        assert sum(c["disposition"]["by_arm"][a][event] for a in ARMS) == c["disposition"][event]


@pytest.mark.parametrize("name", CASES)
def test_the_closed_dict_is_the_open_one_plus_arms(cases, name):
    assert strip_arms(cases[name].closed) == cases[name].open
    assert "by_arm" not in json.dumps(cases[name].open)


def _plain_json(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain_json(v) for v in value)
    if type(value) is float:
        return np.isfinite(value)
    return value is None or type(value) in (int, str, bool)


@pytest.mark.parametrize("name", CASES)
def test_plain_json(cases, name):
    for conduct in (cases[name].open, cases[name].closed):
        assert _plain_json(conduct)
        json.dumps(conduct, allow_nan=False)
    assert cases["hand"].closed["timeliness"]["T3"]["median_days"] is None   # no forms → null, not NaN


@pytest.mark.parametrize("name", ("demo", "interim"))
def test_open_dict_is_the_same_after_swapping_the_conditions(cases, swapped, name):
    original, relabelled = cases[name], swapped[name]
    assert relabelled.open == original.open
    text = json.dumps(original.open)
    assert "MBCT" not in text and "TAU" not in text            # "MBCT" covers "eMBCT"
    # … while the closed dict follows the labels
    assert relabelled.closed != original.closed
    for block in ("disposition", "completeness", "timeliness"):
        assert relabelled.closed[block]["by_arm"]["MBCT"] == original.closed[block]["by_arm"]["eMBCT"]
    assert relabelled.closed["accrual"]["by_arm"]["TAU"] == original.closed["accrual"]["by_arm"]["TAU"]


# ------------------------------------------------------------------------------------------ tables

def _n(value) -> str:
    return fmt.number(value, 0)


def test_tables_show_the_numbers_of_the_dict(cases):
    for conduct in (cases["interim"].open, cases["interim"].closed):
        arms = "by_arm" in conduct["disposition"]
        tables = conduct_tables(conduct)
        assert {role: t.name for role, t in tables.items()} == {
            role: f"conduct_{role}" for role in ("accrual", "sites", "completeness", "timeliness", "disposition",
                                                 "accrual_monthly", "disposition_monthly")}
        for table in tables.values():
            assert all(len(row.cells) == len(table.header) for row in table.rows), table.name

        a = conduct["accrual"]
        cells = {row.cells[0].split(" (to ")[0]: row.cells[1:] for row in tables["accrual"].rows}  # "2015-03 (to …)"
        assert cells["Randomized"][0] == _n(a["randomized"]) == "128"
        assert cells["Target"][0] == "245"
        assert cells["Randomized, % of target"][0] == fmt.percent(a["pct_of_target"], 245) == "52.2"
        assert cells["Planned by the cut-off (target line)"][0] == fmt.number(a["target_at_cutoff"], 0)
        rate = [v for k, v in cells.items() if k.startswith("Randomized per month, last 3")][0]
        assert rate[0] == fmt.number(a["rate_last_3_months"], 1)
        assert cells["Projected date the target is reached"][0] == a["projected_target_date"]
        for month in a["monthly"][-12:]:
            expected = [_n(month["randomized"])]
            if arms:
                expected += [_n(m["randomized"]) for arm in ARMS
                             for m in a["by_arm"][arm]["monthly"] if m["month"] == month["month"]]
            assert list(cells[month["month"]]) == expected
        if arms:
            assert list(cells["Randomized"][1:]) == [_n(a["by_arm"][arm]["randomized"]) for arm in ARMS]

        for row, site in zip(tables["sites"].rows, [*conduct["sites"], conduct["sites_total"]]):
            expected = [site.get("site", "Total"), _n(site["screened"]), _n(site["eligible"]), _n(site["randomized"]),
                        fmt.percent(site["randomized_pct"], site["screened"])]
            expected += [_n(site["by_arm"][arm]["randomized"]) for arm in ARMS] if arms else []
            assert list(row.cells) == expected

        rows = iter(tables["completeness"].rows)
        for tp, instruments in INSTRUMENTS.items():
            for instrument in instruments:
                row, cell = next(rows), conduct["completeness"][tp][instrument]
                assert list(row.cells[2:8]) == [_n(cell["due"]), _n(cell["complete"]), _n(cell["partial"]),
                                                _n(cell["missing"]), fmt.percent(cell["pct_complete"], cell["due"]),
                                                _n(cell["received_before_due"])]
                for arm, shown in zip(ARMS, row.cells[8:]):
                    mine = conduct["completeness"]["by_arm"][arm][tp][instrument]
                    assert shown == (f"{fmt.percent(mine['pct_complete'], mine['due'])} ({mine['due']})"
                                     if mine["due"] else fmt.MISSING)

        for row, tp in zip(tables["timeliness"].rows, INSTRUMENTS):
            cell = conduct["timeliness"][tp]
            assert row.cells[1] == _n(cell["n"])
            if arms:
                for i, group in enumerate((cell, *(conduct["timeliness"]["by_arm"][arm][tp] for arm in ARMS))):
                    assert row.cells[1 + 2 * i] == _n(group["n"])
                    assert row.cells[2 + 2 * i] == (fmt.MISSING if group["median_days"] is None else
                                                    f"{fmt.number(group['median_days'], 1)} "
                                                    f"({fmt.number(group['q1_days'], 1)}, "
                                                    f"{fmt.number(group['q3_days'], 1)})")
            else:
                assert list(row.cells[2:]) == [fmt.number(cell[k], 1) for k in ("median_days", "q1_days", "q3_days")]

        for row, event in zip(tables["disposition"].rows, EVENTS):
            expected = [_n(conduct["disposition"][event])]
            expected += [_n(conduct["disposition"]["by_arm"][arm][event]) for arm in ARMS] if arms else []
            assert list(row.cells[1:]) == expected
        # the event "lost to follow-up" is not the participant flow's count at T1: the footnote says so
        assert "“lost to follow-up at T1” counts everyone" in tables["disposition"].footnote


def test_tables_are_deterministic_and_pooled_without_arms(cases):
    conduct = cases["demo"].open
    first = {role: t.to_csv() for role, t in conduct_tables(conduct).items()}
    assert first == {role: t.to_csv() for role, t in conduct_tables(json.loads(json.dumps(conduct))).items()}
    for text in first.values():
        assert "MBCT" not in text and "TAU" not in text
    closed = conduct_tables(cases["demo"].closed)
    assert closed["completeness"].header[-3:] == ARMS and closed["disposition"].header[-3:] == ARMS


# ------------------------------------------------------------------------------------------ figures

def test_figure_words_say_the_numbers(cases):
    """The captions and text alternatives, from the words' own functions (no drawing: fast)."""
    conduct = cases["interim"].open
    accrual_caption, accrual_alt = _accrual_text(conduct["accrual"])
    retention_caption, retention_alt = _retention_text(conduct["completeness"], conduct["disposition"])
    for text in (accrual_caption, accrual_alt, retention_caption, retention_alt):
        assert "MBCT" not in text and "TAU" not in text
    randomized = len(cases["interim"].records("participants.csv"))
    assert f"{randomized:,} participants had been randomized" in accrual_alt
    assert "target of 245" in accrual_alt and "target of 245" in accrual_caption
    projected = conduct["accrual"]["projected_target_date"]
    assert projected and projected in accrual_alt
    pct = conduct["completeness"]["T1"]["HADS"]["pct_complete"]
    assert f"T1 {fmt.percent(pct, conduct['completeness']['T1']['HADS']['due'])}%" in retention_alt
    disposition = Counter(r["event"] for r in cases["interim"].records("disposition.csv"))
    assert f"{disposition['discontinued_treatment']} discontinued treatment" in retention_caption

    closed_alt = _accrual_text(cases["interim"].closed["accrual"])[1]
    assert all(f"{arm} " in closed_alt for arm in ARMS)


@pytest.mark.slow
def test_figures_are_deterministic_and_carry_their_words(cases):
    conduct = cases["interim"].open
    first = conduct_figures(conduct)
    again = conduct_figures(json.loads(json.dumps(conduct)))
    assert [f.name for f in first] == ["accrual", "retention"]
    for a, b in zip(first, again):
        assert (a.svg, a.png, a.caption, a.alt) == (b.svg, b.png, b.caption, b.alt), a.name
        assert "MBCT" not in a.svg and "TAU" not in a.svg
    assert (first[0].caption, first[0].alt) == _accrual_text(conduct["accrual"])
    assert (first[1].caption, first[1].alt) == _retention_text(conduct["completeness"], conduct["disposition"])

    closed = conduct_figures(cases["interim"].closed)
    assert closed[0].svg != first[0].svg


# ------------------------------------------------------------------------------------------ a count of 1

@pytest.mark.parametrize("n, singular", [(1, True), (2, False)])
def test_conduct_sentences_agree_with_their_counts(demo_built, n, singular):
    results = json.loads((demo_built / "open" / "results.json").read_text(encoding="utf-8"))
    results["conduct"]["accrual"]["randomized"] = n
    results["conduct"]["disposition"] = {"discontinued_treatment": n, "withdrew_from_study": 0, "lost_to_follow_up": n}
    results["participant_flow"].update(treated=n, tau_waiting=n, tau_not_rerandomized=n, in_treatment=n,
                                       lost_to_follow_up_t1=n)
    results["interim"] = {"is_interim": True, "waiting_period": n, "in_treatment": 0, "in_treatment_none_attended": 0,
                          "awaiting_follow_up": 3, "awaiting_analysed_follow_up": 1}
    participant, was = ("participant", "was") if singular else ("participants", "were")
    assert f", {n} {participant} had been randomized," in conduct_text.accrual(results)
    disposition = conduct_text.disposition(results)
    assert disposition.startswith(f"By the cut-off date, {n} {participant} had discontinued treatment,")
    assert f"and {n} {was} recorded as lost to follow-up." in disposition
    flow = conduct_text.flow(results)
    assert f"In all, {n} {participant} {was} treated in MBCT or eMBCT" in flow
    assert not any(start.isdigit() for start in re.findall(r"(?:^|[.!?] )(\S)", flow)), flow  # no numeral first
    assert f"{n} {was} still in the waiting period" in flow and f"{n} {was} not re-randomized" in flow
    assert f"and {n} {was} still in treatment;" in flow and f"and {n} {was} lost to follow-up at T1" in flow
    assert conduct_text.interim(results).startswith(
        f"At the cut-off there {was} {n} {participant} still in their waiting period and 3 awaiting")


@pytest.mark.parametrize("edition", ["closed", "open"])
def test_tables_name_each_instrument_as_their_footnote_defines_it(demo_built, edition):
    """One label per instrument in every table ("WAI", "HADS", "MHC-SF"), each written out in the
    table's footnote (the reliability table said "WAI-SR" under a footnote defining "WAI")."""
    from alliance_report.render.tables import reliability_table

    results = json.loads((demo_built / ("open" if edition == "open" else "") / "results.json").read_text("utf-8"))
    tables = [(conduct_tables(results["conduct"])["completeness"], 1)]
    if edition == "closed":
        tables.append((reliability_table(results), 0))
    for table, column in tables:
        labels = {row.cells[column] for row in table.rows} - {""}
        assert labels == {"WAI", "HADS", "MHC-SF"}, table.name
        for label in labels:
            assert f"{label}: " in table.footnote, (table.name, label)


def test_the_open_flow_says_how_many_in_treatment_have_attended_no_session(demo_built):
    results = json.loads((demo_built / "open" / "results.json").read_text(encoding="utf-8"))
    flow = results["participant_flow"]
    flow.update(in_treatment=5, in_treatment_attended=3, in_treatment_none_attended=2)
    assert "and 5 were still in treatment (2 of them with no session attended yet); " in conduct_text.flow(results)
    flow.update(in_treatment_attended=0, in_treatment_none_attended=5)
    assert "and 5 were still in treatment (none of them with a session attended yet); " in conduct_text.flow(results)
    flow.update(in_treatment_attended=5, in_treatment_none_attended=0)
    assert "and 5 were still in treatment; " in conduct_text.flow(results)
    k = results["settings"]["dropout_threshold"]  # dropout: fewer than k sessions attended, not held
    assert f"({flow['dropout']} of them with fewer than {k} sessions attended)" in conduct_text.flow(results)


# ------------------------------------------------------------------------------ the open flow table

def flow_rows_add_up(table) -> None:
    """Every row's rows one level under it add up to it (the indentation shows what is a part of what)."""
    rows = [(int(row.indent), row.cells[0], int(row.cells[1])) for row in table.rows]
    for i, (level, label, n) in enumerate(rows):
        parts = []
        for part_level, _, part_n in rows[i + 1:]:
            if part_level <= level:
                break
            if part_level == level + 1:
                parts.append(part_n)
        assert not parts or sum(parts) == n, (label, n, parts)


@pytest.mark.parametrize("cutoff", [None, pytest.param("2015-03-01", marks=pytest.mark.slow)])
def test_the_open_flow_table_indents_the_parts_under_their_whole(demo_built, request, cutoff):
    from alliance_report.render.tables import participant_flow_table

    if cutoff is None:
        folder = demo_built / "open"
    else:
        freezes, reports = request.getfixturevalue("sequence_built")
        freeze_id = json.loads((freezes / f"cut-{cutoff}" / "manifest.json").read_text())["freeze_id"]
        folder = reports / f"BeMind-{freeze_id}" / "open"
    results = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    flow = results["participant_flow"]
    table = participant_flow_table(flow, results["settings"]["dropout_threshold"])
    flow_rows_add_up(table)
    levels = {row.cells[0].split(" (")[0]: int(row.indent) for row in table.rows}
    assert levels["Randomized"] == 0 and levels["Waiting list"] == 1
    assert levels["Re-randomized and treated after the waiting period"] == 2
    assert levels["Treatment ended"] == 1 and levels["received ≥ 4 sessions"] == 2
    if cutoff:
        assert flow["tau_waiting"] > 0  # the interim freeze has every part of the waiting list


# ------------------------------------------------------------------------------ monthly tables

@pytest.mark.parametrize("name", ("demo", "interim"))
def test_the_accrual_table_shows_recruitment_and_the_csvs_every_month(cases, name):
    """The printed accrual table ends at the month the target was reached (after it nobody is
    recruited) or, while recruiting, at the cut-off month (marked when it ends before the month
    does); the CSV-only tables hold every month, recounted here from the CSV files."""
    from alliance_report.render.conduct_tables import conduct_tables

    case = cases[name]
    participants = case.records("participants.csv")
    months = Counter(p["randomized_on"][:7] for p in participants)
    expected = month_range(min(load_study("BeMind").recruitment_start.isoformat()[:7], min(months)), case.cutoff[:7])
    cumulative = list(np.cumsum([months.get(m, 0) for m in expected]))
    tables = conduct_tables(case.closed)

    rows = list(csv.reader(io.StringIO(tables["accrual_monthly"].to_csv())))
    assert rows[0] == ["Month", "Randomized", "Cumulative", "Target line (cumulative)",
                       "Randomized, MBCT", "Randomized, eMBCT", "Randomized, TAU"]
    assert [row[:3] for row in rows[1:]] == [[m, str(months.get(m, 0)), str(c)] for m, c in zip(expected, cumulative)]
    by_arm = [[str(sum(1 for p in participants if p["randomized_on"][:7] == m and p["allocation"] == arm))
               for arm in ARMS] for m in expected]
    assert [row[4:] for row in rows[1:]] == by_arm

    reached = next((m for m, c in zip(expected, cumulative) if c >= 245), None)
    end = max(m for m in expected if months.get(m) or m == reached) if reached else expected[-1]
    shown = expected[:expected.index(end) + 1][-12:]
    printed = tables["accrual"].rows
    group = next(i for i, row in enumerate(printed) if row.group)
    labels = [row.cells[0] for row in printed[group + 1:]]
    assert [label.split(" (")[0] for label in labels] == shown
    if name == "demo":
        assert reached == "2016-03" and printed[group].cells[0].endswith("to the target, reached in 2016-03")
    else:
        assert reached is None and labels[-1] == f"{case.cutoff[:7]} (to {case.cutoff})"  # cut on the 1st

    disposition = [r for r in case.records("disposition.csv") if r["event_on"] <= case.cutoff]
    rows = list(csv.reader(io.StringIO(tables["disposition_monthly"].to_csv())))
    assert rows[0] == ["Month", "Discontinued treatment (cumulative)", "Withdrew from the study (cumulative)",
                       "Lost to follow-up (cumulative)"]
    assert rows[1:] == [[m, *(str(sum(1 for r in disposition if r["event"] == e and r["event_on"][:7] <= m))
                              for e in EVENTS)] for m in expected]


@pytest.mark.slow  # a freeze of its own, validated and analysed
def test_a_form_returned_early_by_someone_who_then_withdrew_is_not_due(cases, tmp_path):
    """committee-reports.md: due = planned date + window ≤ cut-off and no withdrew_from_study
    before the planned date.  A T1 form returned before its planned date, then a withdrawal
    before that date: received, never due (it was counted due and complete)."""
    from alliance_report.validation import validate_freeze

    folder = tmp_path / "freeze"
    shutil.copytree(cases["interim"].folder, folder)
    case = cases["interim"]
    day = dt.date.fromisoformat
    attended = {}
    for s in case.records("sessions.csv"):
        if s["attended"] == "yes":
            attended[s["participant_id"]] = min(attended.get(s["participant_id"], s["session_on"]), s["session_on"])
    with_event = {r["participant_id"] for r in case.records("disposition.csv")}
    last = {}  # the participant's last session or form: the withdrawal comes the day after
    for s in case.records("sessions.csv"):
        last[s["participant_id"]] = max(last.get(s["participant_id"], ""), s["session_on"])
    for q in case.records("questionnaires.csv"):
        last[q["participant_id"]] = max(last.get(q["participant_id"], ""), q["completed_on"])
    early = None
    for q in case.records("questionnaires.csv"):
        pid = q["participant_id"]
        if q["timepoint"] != "T1" or q["instrument"] != "HADS" or pid in with_event or pid not in attended:
            continue
        withdrawn_on = day(last[pid]) + dt.timedelta(days=1)
        if withdrawn_on < day(attended[pid]) + dt.timedelta(days=63):  # before T1's planned date
            early = (pid, withdrawn_on)
            break
    assert early, "the interim freeze has a T1 form returned before its planned date"
    rows = fc.read_rows(folder, "disposition.csv")
    rows.append([early[0], "withdrew_from_study", early[1].isoformat(), "no longer wishes to participate"])
    fc.write_rows(folder, "disposition.csv", rows)
    fc.refresh_manifest(folder)
    assert validate_freeze(read_freeze(folder)).ok
    edited = Case(folder)
    for timepoint in ("T0", "T1"):
        counts = _independent_status(edited, timepoint)
        got = edited.open["completeness"][timepoint]["HADS"]
        assert {key: got[key] for key in STATUS_KEYS} == {key: counts.get(key, 0) for key in STATUS_KEYS}
    before, after = case.open["completeness"]["T1"]["HADS"], edited.open["completeness"]["T1"]["HADS"]
    assert after["received_before_due"] == before["received_before_due"] + 1
    assert after["due"] == before["due"] - 1 and after["complete"] + after["partial"] == before["complete"] + before["partial"] - 1


def test_the_accrual_table_goes_on_to_the_last_randomization_past_the_target(tmp_path):
    """A trial that randomizes past its target: the printed months end at the last randomization
    (they ended at the target's month and hid the later ones), and the label says both months."""
    from alliance_report.render.conduct_tables import conduct_tables

    case = Case(simulate_freeze(tmp_path / "over", n_randomized=270))
    months = Counter(p["randomized_on"][:7] for p in case.records("participants.csv"))
    ordered = sorted(months)
    cumulative = dict(zip(ordered, np.cumsum([months[m] for m in ordered])))
    reached, last = next(m for m in ordered if cumulative[m] >= 245), ordered[-1]
    assert reached < last  # randomized past the target
    printed = conduct_tables(case.open)["accrual"].rows
    group = next(i for i, row in enumerate(printed) if row.group)
    assert printed[group].cells[0] == (f"Randomized per month, the last 12 months to the last randomization, in "
                                       f"{last} (the target was reached in {reached})")
    assert printed[-1].cells == (last, str(months[last]))
    assert [row.cells[0] for row in printed[group + 1:]] == month_range(ordered[0], last)[-12:]
