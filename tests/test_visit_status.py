"""A hand-written freeze at an interim cut-off: derived variables, visit status and CONSORT by hand.

Eleven participants (cut-off 2015-06-30), each chosen to hit one rule of the analysis plan or of
the study's visit schedule (studies/BeMind.toml: T0 at randomization, T0b at re-randomization,
W2/W5/W9/T1 at treatment start + 7/28/56/63 days, T2/T3 at T1 + 91/273, every window 30 days;
treatment start = earliest attended session; TAU waiting period 91 + 30 days).  Every expected
value below is worked out by hand from the rows, not from the package.

======  ==========================================================================================
P01     MBCT, 8 sessions from 2015-01-12, T1 done; T2 planned 2015-06-15, due 07-15: not yet due
P02     TAU → eMBCT (re-randomized 2014-12-01): T0 HADS 28, T0b HADS 14 → baseline 14 (T0b)
P03     TAU → MBCT with T0 but no T0b: no baseline (no fall-back to T0)
P04     TAU randomized 2015-05-01, no disposition: waiting period still running
P05     TAU, withdrew 2015-01-10 before re-randomization: not re-randomized, with the reason
P06     eMBCT, 5 sessions so far: in treatment; W5 done early (complete); T1 planned 07-27
P07     MBCT, all 8 sessions by 2015-05-25, T1 planned 06-08 + 30 > cut-off: not yet due, not lost
P08     eMBCT, 2 sessions, withdrew 2014-12-20: treatment ended by the disposition row
        (dropout); T1 (planned 2015-02-09) not applicable: withdrawn before T1
P09     MBCT, 5 session rows (3 attended) + discontinued_treatment: ended by disposition,
        dropout; T1 due 2015-01-14, no rows: lost to follow-up
P10     MBCT, 6 session rows, no disposition: still in treatment; T1 due without a score:
        overdue, not lost
P11     eMBCT, 8 sessions, T1 HADS with 3 anxiety items skipped (no score): partial → lost
======  ==========================================================================================
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import freeze_corruptions as fc  # noqa: E402

from alliance_report.analysis import visits  # noqa: E402
from alliance_report.analysis.consort import check_consort  # noqa: E402
from alliance_report.freeze import COLUMNS, read_freeze  # noqa: E402
from alliance_report.results import compute_results  # noqa: E402
from alliance_report.settings import Settings  # noqa: E402

CUTOFF = "2015-06-30"
ITEMS = {"WAI": 12, "HADS": 14, "MHCSF": 14}
# every item of a form gets this value: WAI mean 3, MHC-SF mean 2, HADS total = 14 × value
VALUE = {"WAI": 3, "MHCSF": 2}


def day(text: str, days: int = 0) -> str:
    return (dt.date.fromisoformat(text) + dt.timedelta(days=days)).isoformat()


class HandFreeze:
    def __init__(self):
        self.rows = {file: [] for file in COLUMNS}

    def participant(self, pid, allocation, randomized_on, treatment="", rerandomized_on=""):
        self.rows["screening.csv"].append(dict(
            screening_id=f"S{pid}", site="site A", screened_on=day(randomized_on, -14), eligible="yes",
            participant_id=pid))
        self.rows["participants.csv"].append(dict(
            participant_id=pid, site="site A", randomized_on=randomized_on, allocation=allocation,
            treatment=treatment, rerandomized_on=rerandomized_on, age="50", sex="female", partner="yes",
            children="no", education="high", cancer_type="breast", treatment_intent="curative",
            months_since_diagnosis="24.0"))

    def sessions(self, pid, first_on, attended: str):
        """One row per character of ``attended`` ("y"/"n"), weekly from ``first_on``."""
        for i, mark in enumerate(attended, start=1):
            self.rows["sessions.csv"].append(dict(
                participant_id=pid, session=str(i), attended="yes" if mark == "y" else "no",
                session_on=day(first_on, 7 * (i - 1)) if mark == "y" else ""))

    def form(self, pid, timepoint, instrument, completed_on, value=None, skip=()):
        value = VALUE.get(instrument, 1) if value is None else value
        for item in range(1, ITEMS[instrument] + 1):
            self.rows["questionnaires.csv"].append(dict(
                participant_id=pid, timepoint=timepoint, instrument=instrument, item=str(item),
                value="" if item in skip else str(value), completed_on=completed_on))

    def battery(self, pid, timepoint, completed_on, hads=1, **kwargs):
        self.form(pid, timepoint, "HADS", completed_on, hads, **kwargs)
        self.form(pid, timepoint, "MHCSF", completed_on)

    def alliance(self, pid, start, weeks=("W2", "W5", "W9")):
        for week in weeks:
            self.form(pid, week, "WAI", day(start, {"W2": 7, "W5": 28, "W9": 56}[week]))

    def disposition(self, pid, event, event_on, reason):
        self.rows["disposition.csv"].append(dict(participant_id=pid, event=event, event_on=event_on, reason=reason))

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        self.rows["screening.csv"] += [
            dict(screening_id="SX1", site="site A", screened_on="2014-10-01", eligible="no",
                 exclusion_reason="HADS total below 11"),
            dict(screening_id="SX2", site="site A", screened_on="2015-02-01", eligible="yes",
                 exclusion_reason="declined to participate")]
        for file, header in COLUMNS.items():
            fc.write_records(folder, file, list(header), self.rows[file])
        fc.write_manifest(folder, freeze_id=CUTOFF, cutoff_date=CUTOFF, exported_at="2015-07-01T08:00:00Z")
        return folder


def write_hand_freeze(folder: Path) -> Path:
    f = HandFreeze()
    f.participant("P01", "MBCT", "2015-01-05", "MBCT")
    f.battery("P01", "T0", "2015-01-02")
    f.sessions("P01", "2015-01-12", "yyyyyyyy")
    f.alliance("P01", "2015-01-12")
    f.battery("P01", "T1", "2015-03-18")

    f.participant("P02", "TAU", "2014-09-01", "eMBCT", "2014-12-01")
    f.battery("P02", "T0", "2014-08-29", hads=2)
    f.battery("P02", "T0b", "2014-11-28", hads=1)
    f.sessions("P02", "2014-12-08", "yyyyyyyy")
    f.alliance("P02", "2014-12-08")
    f.battery("P02", "T1", "2015-02-10")

    f.participant("P03", "TAU", "2014-10-01", "MBCT", "2015-01-05")
    f.battery("P03", "T0", "2014-09-30", hads=2)
    f.sessions("P03", "2015-01-12", "yyyyyyyy")
    f.alliance("P03", "2015-01-12")
    f.battery("P03", "T1", "2015-03-17")

    f.participant("P04", "TAU", "2015-05-01")
    f.battery("P04", "T0", "2015-04-29")

    f.participant("P05", "TAU", "2014-11-03")
    f.battery("P05", "T0", "2014-11-01")
    f.disposition("P05", "withdrew_from_study", "2015-01-10", "moved abroad")

    f.participant("P06", "eMBCT", "2015-05-18", "eMBCT")
    f.battery("P06", "T0", "2015-05-15")
    f.sessions("P06", "2015-05-25", "yyyyy")
    f.alliance("P06", "2015-05-25", weeks=("W2", "W5"))

    f.participant("P07", "MBCT", "2015-03-30", "MBCT")
    f.battery("P07", "T0", "2015-03-28")
    f.sessions("P07", "2015-04-06", "yyyyyyyy")
    f.alliance("P07", "2015-04-06")

    f.participant("P08", "eMBCT", "2014-12-01", "eMBCT")
    f.battery("P08", "T0", "2014-11-28")
    f.sessions("P08", "2014-12-08", "yy")
    f.alliance("P08", "2014-12-08", weeks=("W2",))
    f.disposition("P08", "withdrew_from_study", "2014-12-20", "too burdensome")

    f.participant("P09", "MBCT", "2014-10-06", "MBCT")
    f.battery("P09", "T0", "2014-10-03")
    f.sessions("P09", "2014-10-13", "yynyn")
    f.alliance("P09", "2014-10-13", weeks=("W2",))
    f.disposition("P09", "discontinued_treatment", "2014-11-12", "no time")

    f.participant("P10", "MBCT", "2014-09-01", "MBCT")
    f.battery("P10", "T0", "2014-08-30")
    f.sessions("P10", "2014-09-08", "yyyyyy")
    f.alliance("P10", "2014-09-08", weeks=("W2", "W5"))

    f.participant("P11", "eMBCT", "2014-10-06", "eMBCT")
    f.battery("P11", "T0", "2014-10-03")
    f.sessions("P11", "2014-10-13", "yyyyyyyy")
    f.alliance("P11", "2014-10-13")
    f.battery("P11", "T1", "2014-12-16", skip=(1, 3, 5))
    return f.write(folder)


@pytest.fixture(scope="module")
def hand(tmp_path_factory):
    folder = write_hand_freeze(tmp_path_factory.mktemp("hand") / "freeze")
    return compute_results(read_freeze(folder), Settings()), folder


@pytest.fixture(scope="module")
def derived(hand):
    """The analysis table and the status table of the hand freeze (as compute_results builds them)."""
    from alliance_report.analysis.dataset import build_dataset
    from alliance_report.freeze import typed_tables
    from alliance_report.scoring import score_questionnaires
    from alliance_report.study import load_study

    tables = typed_tables(read_freeze(hand[1]))
    scores = score_questionnaires(tables["questionnaires"])
    data = build_dataset(tables, scores, 4)
    schedule, status = visits.visit_status(tables, scores, data, load_study("BeMind"), CUTOFF)
    return data, schedule, status.set_index(["participant_id", "timepoint", "instrument"])["status"]


def test_the_hand_freeze_is_valid(hand):
    from alliance_report.validation import format_report, validate_freeze

    report = validate_freeze(read_freeze(hand[1]))
    assert report.ok and not report.warnings(), format_report(report)


def test_derived_variables(derived):
    data = derived[0]
    # own baseline: T0b for the re-randomized (P02: 14 × 1, not T0's 28); none without T0b (P03)
    assert data.loc["P02", "baseline_hads"] == 14.0
    assert np.isnan(data.loc["P03", "baseline_hads"])
    assert data.loc["P01", "baseline_hads"] == 14.0
    # treatment ended: all 8 rows (P01, P07, P11) or a disposition row (P08: 2 rows, P09: 5 rows)
    ended = data.index[data["treatment_ended"]].tolist()
    assert ended == ["P01", "P02", "P03", "P07", "P08", "P09", "P11"]
    assert data.loc[["P08", "P09", "P01"], "sessions_attended"].tolist() == [2, 3, 8]
    assert data.loc[["P08", "P09", "P01"], "dropout"].tolist() == [1.0, 1.0, 0.0]
    assert np.isnan(data.loc["P06", "dropout"]) and np.isnan(data.loc["P10", "dropout"])


@pytest.mark.parametrize("pid, timepoint, instrument, expected", [
    ("P01", "T0b", "HADS", "not applicable"),       # not TAU
    ("P01", "T1", "HADS", "complete"),
    ("P01", "T2", "HADS", "not yet due"),           # planned 2015-06-15, due 07-15
    ("P02", "T2", "MHCSF", "missing"),              # T1 planned 2015-02-09 → T2 05-11, due 06-10
    ("P02", "T3", "HADS", "not yet due"),
    ("P03", "T0b", "HADS", "missing"),              # re-randomized 2015-01-05 without T0b
    ("P04", "T0b", "HADS", "not yet due"),          # waiting period
    ("P04", "W2", "WAI", "not yet due"),
    ("P05", "T0b", "HADS", "not applicable"),       # not re-randomized
    ("P05", "W2", "WAI", "not applicable"),
    ("P06", "W5", "WAI", "complete"),               # done before its window closed
    ("P06", "W9", "WAI", "not yet due"),            # planned 2015-07-20
    ("P06", "T1", "HADS", "not yet due"),
    ("P07", "T1", "HADS", "not yet due"),           # planned 2015-06-08, due 07-08
    ("P08", "W5", "WAI", "not applicable"),         # withdrew 2014-12-20, W5 planned 2015-01-05
    ("P08", "T1", "HADS", "not applicable"),
    ("P09", "W5", "WAI", "missing"),                # discontinued, still due
    ("P09", "T1", "HADS", "missing"),
    ("P10", "T1", "HADS", "missing"),               # planned 2014-11-10
    ("P11", "T1", "HADS", "partial"),               # 3 anxiety items skipped
    ("P11", "T1", "MHCSF", "complete"),
])
def test_visit_status(derived, pid, timepoint, instrument, expected):
    assert derived[2][(pid, timepoint, instrument)] == expected


def test_treatment_start_and_planned_dates(derived):
    schedule = derived[1]
    assert str(schedule.loc["P09", "treatment_start"])[:10] == "2014-10-13"   # earliest attended session
    assert str(schedule.loc["P01", "planned_T1"])[:10] == "2015-03-16"        # start + 63
    assert str(schedule.loc["P01", "planned_T3"])[:10] == "2015-12-14"        # T1 + 273
    assert str(schedule.loc["P02", "planned_T0b"])[:10] == "2014-12-01"
    assert pd.isna(schedule.loc["P04", "treatment_start"])
    assert schedule.loc["P04", "tau_state"] == "waiting"
    assert schedule.loc["P05", "tau_reason"] == "withdrew from study: moved abroad"


def test_consort_counts_by_hand(hand):
    c = hand[0]["consort"]
    arms = lambda mbct, embct: {"MBCT": mbct, "eMBCT": embct}  # noqa: E731
    assert (c["assessed"], c["excluded"], c["randomized"]) == (13, 2, 11)
    assert c["allocated"] == {"MBCT": 4, "eMBCT": 3, "TAU": 4}
    assert c["rerandomized"] == arms(1, 1)
    assert (c["tau_waiting"], c["tau_not_rerandomized"]) == (1, 1)
    assert c["tau_not_rerandomized_reasons"] == {"withdrew from study: moved abroad": 1}
    assert c["treated"] == arms(5, 4)
    assert c["in_treatment"] == arms(1, 1)                     # P10, P06
    assert c["in_treatment_attended"] == arms(1, 1)            # both have attended sessions
    assert c["in_treatment_none_attended"] == arms(0, 0)
    assert c["treatment_ended"] == arms(4, 3)
    assert c["dropout"] == arms(1, 1)                          # P09, P08
    assert c["received_min_sessions"] == arms(3, 2)
    assert c["discontinued"] == arms(1, 0)
    assert c["discontinued_reasons_by_arm"] == {"MBCT": {"no time": 1}, "eMBCT": {}}
    assert c["t1_assessed"] == arms(2, 1)                      # P01, P03 | P02
    assert c["lost_to_follow_up_t1"] == arms(1, 1)             # P09 | P11 (partial)
    assert c["t1_not_yet_due"] == arms(1, 1)                   # P07 | P06
    assert c["withdrawn_before_t1"] == arms(0, 1)              # P08
    assert c["withdrawn_before_t1_reasons_by_arm"] == {"MBCT": {}, "eMBCT": {"too burdensome": 1}}
    assert c["t1_overdue_in_treatment"] == arms(1, 0)          # P10
    assert c["analysed"]["hads_model"] == arms(1, 1)           # P01 | P02 (P03 has no baseline)
    assert c["analysed"]["dropout_model"] == arms(4, 3)        # ended with W2
    assert c["analysed"]["alliance_manova"] == arms(3, 2)      # P01, P03, P07 | P02, P11
    # every WAI form has the same value (VALUE), so W2 is constant (the dropout design is singular)
    # and so is the change over the weeks (the MANOVA's E is singular); the outcome models have 2
    # and 3 cases for their 4 coefficients: samples without an estimate, as the diagram will say
    assert c["analysed"]["mhcsf_model"] == arms(1, 2)
    assert c["analysed_estimated"] == dict.fromkeys(("dropout_model", "alliance_manova", "hads_model",
                                                    "mhcsf_model"), False)
    check_consort(c, {})


def test_interim_state_by_hand(hand):
    # awaiting follow-up: ended with T1, T2 or T3 not yet due — P01 (T2), P02 (T3), P03 (T2),
    # P07 (T1), P09 (T3: T1 planned 2014-12-15 → T3 2015-09-14), P11 (T3); P08 withdrew.
    # Of them only P07 awaits T1, the follow-up the analyses use
    assert hand[0]["interim"] == {"is_interim": True, "waiting_period": 1, "in_treatment": 2,
                                  "in_treatment_none_attended": 0, "awaiting_follow_up": 6, "awaiting_analysed_follow_up": 1,
                                  "analysed_data_complete": False}


@pytest.mark.parametrize("p10_attended, none_attended", [(1, {"MBCT": 0, "eMBCT": 1}), (0, {"MBCT": 1, "eMBCT": 1})])
def test_in_treatment_who_attended_no_session(tmp_path, p10_attended, none_attended):
    """In treatment (treated, no disposition row, fewer than 8 session rows) and no session
    attended: P06, whose rows are removed (the course has not begun), and P10 once none of its six
    rows is attended (sessions held, all missed); with one of them attended, P10 has attended."""
    folder = write_hand_freeze(tmp_path / "freeze")
    header, *rows = fc.read_rows(folder, "sessions.csv")
    pid, attended, session_on = (header.index(name) for name in ("participant_id", "attended", "session_on"))
    rows = [row for row in rows if row[pid] != "P06"]
    for row in [row for row in rows if row[pid] == "P10"][p10_attended:]:
        row[attended], row[session_on] = "no", ""
    fc.write_rows(folder, "sessions.csv", [header, *rows])
    fc.refresh_manifest(folder)
    results = compute_results(read_freeze(folder), Settings())
    consort = results["consort"]
    assert consort["in_treatment"] == {"MBCT": 1, "eMBCT": 1}              # P10 | P06
    assert consort["in_treatment_none_attended"] == none_attended
    assert consort["in_treatment_attended"] == {c: 1 - none_attended[c] for c in ("MBCT", "eMBCT")}
    assert results["interim"]["in_treatment_none_attended"] == sum(none_attended.values())
    check_consort(consort, {})


def test_each_broken_box_is_caught(hand):
    from alliance_report.analysis.consort import ConsortError

    for key, arm in (("lost_to_follow_up_t1", "MBCT"), ("tau_waiting", None), ("discontinued", "eMBCT"),
                     ("t1_not_yet_due", "eMBCT"), ("treatment_ended", "MBCT")):
        broken = {k: (dict(v) if isinstance(v, dict) else v) for k, v in hand[0]["consort"].items()}
        if arm is None:
            broken[key] += 1
        else:
            broken[key][arm] += 1
        with pytest.raises(ConsortError):
            check_consort(broken, {})


def test_a_partial_t1_form_counts_as_lost_only_once_t1_is_due():
    """A T1 form returned incomplete while its window is still open is "not yet due", like no form
    (the window may still bring a scorable form); once the window has closed it is lost to
    follow-up (treatment ended) or overdue (still in treatment).  It was lost at once."""
    from alliance_report.analysis.consort import _t1_follow_up

    ids = ["closed-ended", "open-ended", "open-in-treatment", "closed-in-treatment", "missing", "complete-early"]
    treated = pd.DataFrame({"condition": ["MBCT", "eMBCT", "eMBCT", "MBCT", "eMBCT", "MBCT"],
                            "treatment_ended": [True, True, False, False, True, True]}, index=ids)
    status = pd.DataFrame({"participant_id": ids, "timepoint": "T1", "instrument": "HADS",
                           "status": ["partial", "partial", "partial", "partial", "missing", "complete"],
                           "window_closed": [True, False, False, True, True, False]})
    groups = _t1_follow_up(treated, status, ("MBCT", "eMBCT"))
    assert groups["lost_to_follow_up_t1"] == {"MBCT": 1, "eMBCT": 1}      # closed-ended | missing
    assert groups["t1_not_yet_due"] == {"MBCT": 0, "eMBCT": 2}            # open-ended, open-in-treatment
    assert groups["t1_overdue_in_treatment"] == {"MBCT": 1, "eMBCT": 0}   # closed-in-treatment
    assert groups["t1_assessed"] == {"MBCT": 1, "eMBCT": 0}               # a complete form counts when it comes


def test_a_partial_follow_up_form_in_its_window_is_awaited_like_no_form():
    """The interim notice counts, as the CONSORT counts do, a follow-up form returned incomplete
    while its window is open as still to come; once the window has closed it is not awaited."""
    ids = ["partial-open", "partial-closed", "complete-early", "not-due"]
    data = pd.DataFrame({"treated": True, "treatment_ended": True, "sessions_attended": 8}, index=ids)
    schedule = pd.DataFrame({"tau_state": ""}, index=ids)
    status = pd.DataFrame({"participant_id": ids, "timepoint": "T2", "instrument": "HADS",
                           "status": ["partial", "partial", "complete", "not yet due"],
                           "window_closed": [False, True, False, False]})
    state = visits.interim_state(data, schedule, status)
    assert state["awaiting_follow_up"] == 2 and state["is_interim"]  # partial-open, not-due
    assert state["analysed_data_complete"]  # T2 only: no analysis uses it
    assert state["awaiting_analysed_follow_up"] == 0


def test_the_analysed_data_are_complete_only_when_no_analysed_form_can_still_come():
    """Nobody waiting or in treatment, and no form of baseline, W2/W5/W9 or T1 still to come
    (no form or a partial one in its open window); forms of T2/T3 and closed windows do not count."""
    ids = ["a", "b"]
    data = pd.DataFrame({"treated": True, "treatment_ended": True, "sessions_attended": 8}, index=ids)
    schedule = pd.DataFrame({"tau_state": ""}, index=ids)

    def state(timepoints, statuses, window_closed, data=data, schedule=schedule):
        status = pd.DataFrame({"participant_id": ids, "timepoint": timepoints, "instrument": "HADS",
                               "status": statuses, "window_closed": window_closed})
        return visits.interim_state(data, schedule, status)["analysed_data_complete"]

    assert state(["T2", "T3"], ["not yet due", "partial"], [False, False])
    assert state(["T1", "T1"], ["partial", "missing"], [True, True])       # windows closed: nothing to come
    assert not state(["T1", "T3"], ["not yet due", "complete"], [False, True])
    assert not state(["T1", "T3"], ["partial", "complete"], [False, True])  # a scorable T1 may follow
    assert not state(["W9", "T3"], ["not yet due", "complete"], [False, True])
    in_treatment = pd.DataFrame({"treated": True, "treatment_ended": [True, False], "sessions_attended": [8, 3]},
                                index=ids)
    assert not state(["T3", "T3"], ["complete", "complete"], [True, True], data=in_treatment)
    waiting = pd.DataFrame({"tau_state": ["", visits.WAITING]}, index=ids)
    assert not state(["T3", "T3"], ["complete", "complete"], [True, True], schedule=waiting)
