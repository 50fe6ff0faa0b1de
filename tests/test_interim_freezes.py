"""One simulated trial cut at 2014-06-01, 2015-03-01, 2016-06-01 and at the demo's final cut-off.

At every cut-off: each CONSORT box closes; nobody whose T1 is not yet due is lost to follow-up
(the planned T1 date is recomputed here from the CSV files with pandas: earliest attended
session, else (re-)randomization + 14 days, + 63 days; due once + 30 days ≤ cut-off); and every
finding sentence agrees with the P value of its table (decided here by P < .05).
"""

from __future__ import annotations

import pandas as pd
import pytest

from alliance_report import DEMO_FREEZE
from alliance_report.freeze import read_freeze
from alliance_report.render import format as fmt
from alliance_report.render import tables, text
from alliance_report.results import compute_results
from alliance_report.settings import Settings
from alliance_report.simulation import simulate_freeze

CUTOFFS = ("2014-06-01", "2015-03-01", "2016-06-01", "2018-03-01")
ARMS = ("MBCT", "eMBCT")


@pytest.fixture(scope="module")
def freezes(tmp_path_factory):
    root = tmp_path_factory.mktemp("interim")
    paths = {cutoff: simulate_freeze(root / cutoff, cutoff_date=cutoff) for cutoff in CUTOFFS[:-1]}
    paths[CUTOFFS[-1]] = DEMO_FREEZE   # the same simulated trial (demo seed) at its final cut-off
    return paths


@pytest.fixture(scope="module")
def results(freezes):
    return {cutoff: compute_results(read_freeze(path), Settings()) for cutoff, path in freezes.items()}


def csv(path, name):
    return pd.read_csv(path / name, dtype=str, keep_default_na=False)


def hads_t1_scorable(questionnaires: pd.DataFrame) -> set[str]:
    """Participants with a T1 HADS total: ≤ 1 of the 7 odd and ≤ 1 of the 7 even items skipped."""
    rows = questionnaires[(questionnaires["timepoint"] == "T1") & (questionnaires["instrument"] == "HADS")
                          & (questionnaires["value"] != "")]
    odd = rows["item"].astype(int) % 2 == 1
    answered = rows.groupby([rows["participant_id"], odd]).size().unstack(fill_value=0)
    return set(answered.index[(answered.get(True, 0) >= 6) & (answered.get(False, 0) >= 6)])


def reference_follow_up(path, cutoff: str) -> pd.DataFrame:
    """Per treated participant: arm, planned T1, treatment ended, withdrawn before T1, T1 score."""
    participants = csv(path, "participants.csv").set_index("participant_id")
    treated = participants[participants["treatment"] != ""].copy()
    sessions = csv(path, "sessions.csv")
    disposition = csv(path, "disposition.csv").set_index("participant_id")
    first = pd.to_datetime(sessions[sessions["attended"] == "yes"].groupby("participant_id")["session_on"].min())
    started = pd.to_datetime(treated["rerandomized_on"].where(treated["allocation"] == "TAU", treated["randomized_on"]))
    start = first.reindex(treated.index).fillna(started + pd.Timedelta(days=14))
    treated["planned_t1"] = start + pd.Timedelta(days=63)
    rows_per = sessions.groupby("participant_id").size().reindex(treated.index, fill_value=0)
    treated["ended"] = (rows_per >= 8) | treated.index.isin(disposition.index)
    withdrew = disposition[disposition["event"] == "withdrew_from_study"]["event_on"].reindex(treated.index)
    treated["withdrawn_before_t1"] = pd.to_datetime(withdrew) < treated["planned_t1"]
    treated["t1_due"] = treated["planned_t1"] + pd.Timedelta(days=30) <= pd.Timestamp(cutoff)
    treated["t1_score"] = treated.index.isin(hads_t1_scorable(csv(path, "questionnaires.csv")))
    return treated


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_nobody_is_lost_before_t1_is_due(freezes, results, cutoff):
    reference = reference_follow_up(freezes[cutoff], cutoff)
    lost = reference[reference["ended"] & reference["t1_due"] & ~reference["withdrawn_before_t1"]
                     & ~reference["t1_score"]]
    assert (lost["planned_t1"] + pd.Timedelta(days=30) <= pd.Timestamp(cutoff)).all()
    consort = results[cutoff]["consort"]
    for arm in ARMS:
        assert consort["lost_to_follow_up_t1"][arm] == int((lost["treatment"] == arm).sum()), arm
        not_due = reference[~reference["t1_due"] & ~reference["t1_score"] & ~reference["withdrawn_before_t1"]]
        assert consort["t1_not_yet_due"][arm] == int((not_due["treatment"] == arm).sum()), arm
        assert consort["t1_assessed"][arm] == int((reference["t1_score"] & (reference["treatment"] == arm)).sum())


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_every_box_closes(results, cutoff):
    c = results[cutoff]["consort"]
    assert c["assessed"] == c["excluded"] + c["randomized"] == sum(c["excluded_reasons"].values()) + c["randomized"]
    assert c["randomized"] == sum(c["allocated"].values())
    assert c["allocated"]["TAU"] == sum(c["rerandomized"].values()) + c["tau_waiting"] + c["tau_not_rerandomized"]
    for arm in ARMS:
        treated = c["treated"][arm]
        assert treated == c["allocated"][arm] + c["rerandomized"][arm]
        assert treated == c["in_treatment"][arm] + c["received_min_sessions"][arm] + c["dropout"][arm]
        assert treated == (c["t1_assessed"][arm] + c["lost_to_follow_up_t1"][arm] + c["t1_not_yet_due"][arm]
                           + c["withdrawn_before_t1"][arm] + c["t1_overdue_in_treatment"][arm])
        assert c["discontinued"][arm] == sum(c["discontinued_reasons_by_arm"][arm].values())
    results_ = results[cutoff]
    assert sum(c["analysed"]["hads_model"].values()) == results_["outcome_models"]["hads"]["n"]
    assert sum(c["analysed"]["alliance_manova"].values()) == results_["alliance_manova"]["n"]


def test_the_interim_freezes_are_interim_and_the_final_is_not(results):
    assert [results[c]["interim"]["is_interim"] for c in CUTOFFS] == [True, True, True, False]
    assert results["2014-06-01"]["consort"]["tau_waiting"] > 0


def test_losses_only_grow_as_the_trial_goes_on(results):
    for arm in ARMS:
        lost = [results[c]["consort"]["lost_to_follow_up_t1"][arm] for c in CUTOFFS]
        assert lost == sorted(lost), (arm, lost)


def significant(p):
    return p is not None and p < 0.05


@pytest.mark.parametrize("cutoff", CUTOFFS)
def test_sentences_agree_with_the_tables(results, cutoff):
    r = results[cutoff]
    table = tables.build_tables(r)
    # Aim 1: the dropout sentence and Table "dropout"
    dropout = r["dropout_model"]
    sentence = text.dropout_model(r)
    if dropout["not_estimable_reason"]:
        assert "could not be estimated" in sentence
    else:
        term = dropout["terms"]["wai_w2"]
        row = next(row for row in table["dropout"].rows if row.cells[0].startswith("Early alliance"))
        assert row.cells[5] in sentence and row.cells[7] in sentence     # P and the OR's CI
        assert sentence.startswith("There was no evidence") != significant(term["p"])
    # Aim 2: MANOVA time
    manova = r["alliance_manova"]
    sentence = text.alliance_development(r)
    if manova["time"]["p"] is not None:
        assert fmt.p_value(manova["time"]["p"]) in table["manova"].rows[0].cells[4]
        assert fmt.p_statement(manova["time"]["p"]) in sentence
        assert ("no evidence that the working alliance changed" in sentence) != significant(manova["time"]["p"])
    # Aim 2: the mixed model states disagreement on the side of α
    mixed = r["alliance_mixed"]
    if not mixed["not_estimable_reason"] and manova["time"]["p"] is not None:
        week = mixed["contrasts"]["week_average"]
        differs = significant(manova["time"]["p"]) != significant(week["p"])
        assert ("On time, the MANOVA" in text.alliance_mixed(r)) == differs
    # Aim 3
    for scale, label in (("hads", "HADS total"), ("mhcsf", "MHC-SF")):
        model = r["outcome_models"][scale]
        sentence = text.outcome(r, scale, label)
        if model["not_estimable_reason"]:
            assert "could not be estimated" in sentence
            continue
        p = model["terms"]["wai_w2"]["p"]
        assert fmt.p_statement(p) in sentence
        assert sentence.startswith("There was no evidence") != significant(p)
        interaction = r["outcome_models"][f"{scale}_moderation"]["terms"]["wai_w2_c_x_condition_embct"]["p"]
        moderation = text.moderation(r, scale, label)
        if interaction is not None:
            assert moderation.startswith("There was no evidence") != significant(interaction)
    # the conclusion and the interim notice
    assert bool(text.interim_notice(r)) == r["interim"]["is_interim"]
    assert "similarly in both conditions" not in text.conclusion(r)
