"""Scoring against hand-computed cases at and just beyond every missing-item limit."""

import math

import pandas as pd
import pytest

from alliance_report.scoring import score_questionnaires


def form(instrument, values, *, pid="P1", timepoint="T0", drop_rows=()):
    """Long rows of one form; ``None`` = empty value, items in ``drop_rows`` have no row."""
    return [
        {"participant_id": pid, "timepoint": timepoint, "instrument": instrument,
         "item": item, "value": value, "completed_on": "2016-01-01"}
        for item, value in enumerate(values, start=1) if item not in drop_rows
    ]


def score(instrument, values, **kwargs):
    rows = pd.DataFrame(form(instrument, values, **kwargs))
    rows["value"] = rows["value"].astype("Int64")
    scores = score_questionnaires(rows)
    return scores.loc[scores["instrument"] == instrument].iloc[0]


def missing(x):
    return x is None or (isinstance(x, float) and math.isnan(x))


# --- HADS: odd items anxiety, even items depression, prorated, <= 1 skipped per subscale
HADS_FULL = [3, 0, 2, 1, 1, 2, 0, 3, 2, 2, 1, 0, 3, 1]  # anxiety 3+2+1+0+2+1+3=12, depression 0+1+2+3+2+0+1=9


def test_hads_complete():
    s = score("HADS", HADS_FULL)
    assert s["anxiety"] == 12 and s["depression"] == 9 and s["total"] == 21


def test_hads_one_missing_per_subscale_is_prorated():
    values = list(HADS_FULL)
    values[0] = None   # item 1 (anxiety): remaining 2+1+0+2+1+3 = 9 over 6 items
    values[1] = None   # item 2 (depression): remaining 1+2+3+2+0+1 = 9 over 6 items
    s = score("HADS", values)
    assert s["anxiety"] == pytest.approx(9 / 6 * 7)
    assert s["depression"] == pytest.approx(9 / 6 * 7)
    assert s["total"] == pytest.approx(21.0)


def test_hads_two_missing_in_one_subscale_loses_it_and_the_total():
    values = list(HADS_FULL)
    values[0] = values[2] = None  # items 1 and 3, both anxiety
    s = score("HADS", values)
    assert missing(s["anxiety"]) and missing(s["total"])
    assert s["depression"] == 9


def test_hads_item_without_row_counts_as_skipped():
    s = score("HADS", HADS_FULL, drop_rows=(13,))  # item 13 (anxiety, value 3) absent
    assert s["anxiety"] == pytest.approx(9 / 6 * 7)
    s = score("HADS", HADS_FULL, drop_rows=(11, 13))
    assert missing(s["anxiety"]) and missing(s["total"])


# --- WAI: total <= 2 skipped; goal 4,6,8,11 · task 1,2,10,12 · bond 3,5,7,9 <= 1 skipped each
WAI_FULL = [4, 5, 3, 2, 4, 3, 5, 1, 2, 4, 3, 4]  # sum 40


def test_wai_complete():
    s = score("WAI", WAI_FULL)
    assert s["total"] == pytest.approx(40 / 12)
    assert s["goal"] == pytest.approx((2 + 3 + 1 + 3) / 4)
    assert s["task"] == pytest.approx((4 + 5 + 4 + 4) / 4)
    assert s["bond"] == pytest.approx((3 + 4 + 5 + 2) / 4)


def test_wai_two_skipped_in_one_subscale_keeps_total_loses_subscale():
    values = list(WAI_FULL)
    values[3] = values[5] = None   # items 4 and 6: goal
    s = score("WAI", values)
    assert s["total"] == pytest.approx((40 - 2 - 3) / 10)
    assert missing(s["goal"])
    assert s["task"] == pytest.approx(17 / 4) and s["bond"] == pytest.approx(14 / 4)


def test_wai_two_skipped_across_subscales_keeps_everything():
    values = list(WAI_FULL)
    values[0] = values[2] = None   # item 1 task, item 3 bond
    s = score("WAI", values)
    assert s["total"] == pytest.approx((40 - 4 - 3) / 10)
    assert s["task"] == pytest.approx((5 + 4 + 4) / 3)
    assert s["bond"] == pytest.approx((4 + 5 + 2) / 3)


def test_wai_three_skipped_loses_total():
    values = list(WAI_FULL)
    values[0] = values[2] = values[3] = None  # one per subscale: subscales kept, total lost
    s = score("WAI", values)
    assert missing(s["total"])
    assert s["goal"] == pytest.approx((3 + 1 + 3) / 3)


# --- MHC-SF: total <= 2 skipped; emotional 1-3, social 4-8, psychological 9-14 <= 1 each
MHC_FULL = [5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 4, 3, 2]  # sum 39


def test_mhcsf_limits():
    s = score("MHCSF", MHC_FULL)
    assert s["total"] == pytest.approx(39 / 14)
    assert s["emotional"] == pytest.approx(4.0)
    assert s["social"] == pytest.approx(6 / 5)
    assert s["psychological"] == pytest.approx(21 / 6)
    values = list(MHC_FULL)
    values[0] = values[1] = None  # two emotional items: subscale lost, total kept
    s = score("MHCSF", values)
    assert missing(s["emotional"]) and s["total"] == pytest.approx(30 / 12)
    values[13] = None  # a third skipped item: total lost
    s = score("MHCSF", values)
    assert missing(s["total"]) and s["psychological"] == pytest.approx(19 / 5)


def test_forms_are_scored_separately():
    rows = pd.DataFrame(
        form("WAI", WAI_FULL, pid="P1", timepoint="W2")
        + form("WAI", [5] * 12, pid="P1", timepoint="W5")
        + form("HADS", HADS_FULL, pid="P2", timepoint="T1")
    )
    rows["value"] = rows["value"].astype("Int64")
    scores = score_questionnaires(rows).set_index(["participant_id", "timepoint", "instrument"])
    assert scores.loc[("P1", "W2", "WAI"), "total"] == pytest.approx(40 / 12)
    assert scores.loc[("P1", "W5", "WAI"), "total"] == 5
    assert scores.loc[("P2", "T1", "HADS"), "total"] == 21
    assert len(scores) == 3
