"""CONSORT flow counts (CONSORT 2010 item 13 / 2025 item 26), analysis plan item 1.

Right at any cut-off: counts come from the freeze tables, the analysis table and the visit
status of every participant at the cut-off (:mod:`alliance_report.analysis.visits`), per arm
(treatment condition):

* TAU: re-randomized to MBCT / eMBCT, still in the waiting period, or not re-randomized
  (with the reason: the disposition event and its reason, or "(no reason recorded)");
* treatment: still in treatment at the cut-off (of them: attended ≥ 1 session, or none yet —
  the analysis plan's "treated" includes those whose course has not begun), or ended (all 8
  session rows or a disposition row) with ≥ k sessions (received) or < k (dropout); discontinued treatment
  (``discontinued_treatment`` rows) per arm with reasons;
* follow-up at T1 (HADS total), a partition of the treated participants of each arm:
  assessed (a T1 HADS score), lost to follow-up (treatment ended, T1 due, no score), withdrew
  from the study before T1 was planned, T1 not yet due, and T1 due without a score while the
  treatment is not recorded as ended;
* analysed: each count is the size of the very sample its model uses (the sample functions
  are shared with the models), so the diagram always matches the n of every table; and
  whether the model gave any estimate (:func:`analyses_estimated`: at an early interim freeze a
  sample may exist whose model cannot be estimated, and the diagram says so).

:func:`check_consort` verifies the arithmetic of every box and raises
:class:`ConsortError` on any mismatch.
"""

from __future__ import annotations

import pandas as pd

from alliance_report.analysis import samples, visits
from alliance_report.design import CONDITIONS, POST_TREATMENT, WAITING_LIST

# a disposition or screening row whose reason is empty; "(no reason recorded)" (visits.NO_REASON)
# is another case: a TAU participant overdue for re-randomization with no disposition row at all
NO_REASON_GIVEN = "(no reason given)"
# the per-arm partition of the treated participants at T1 (HADS total)
T1_PARTITION = ("t1_assessed", "lost_to_follow_up_t1", "withdrawn_before_t1", "t1_not_yet_due",
                "t1_overdue_in_treatment")


class ConsortError(Exception):
    """The CONSORT numbers do not add up: the freeze is internally inconsistent."""


def _per_condition(frame: pd.DataFrame, arms: tuple[str, ...]) -> dict[str, int]:
    counts = frame["condition"].value_counts()
    return {arm: int(counts.get(arm, 0)) for arm in arms}


def _reason_counts(reasons: pd.Series) -> dict[str, int]:
    counts = reasons.fillna(NO_REASON_GIVEN).value_counts()
    return {str(reason): int(n) for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def _reasons_by_arm(rows: pd.DataFrame, condition: pd.Series, arms: tuple[str, ...]) -> dict[str, dict[str, int]]:
    arm = condition.reindex(rows["participant_id"]).to_numpy()
    return {c: _reason_counts(rows.loc[arm == c, "reason"]) for c in arms}


def _t1_hads(status: pd.DataFrame) -> pd.DataFrame:
    """The status rows of the post-treatment HADS, the form CONSORT's follow-up counts."""
    return status.loc[(status["timepoint"] == POST_TREATMENT) & (status["instrument"] == "HADS")]


def _t1_follow_up(treated: pd.DataFrame, status: pd.DataFrame, arms: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """The per-arm partition of the treated participants at T1, from the T1 HADS status.  No
    score counts against the follow-up only once T1 is due: a partial form returned while the
    window is still open is "not yet due", like no form."""
    t1 = _t1_hads(status).set_index("participant_id")
    t1_status = t1["status"].reindex(treated.index)
    not_yet_due = visits.awaited(t1).reindex(treated.index, fill_value=False)
    no_score_due = t1_status.isin((visits.PARTIAL, visits.MISSING)) & ~not_yet_due
    ended = treated["treatment_ended"]
    groups = {
        "t1_assessed": t1_status == visits.COMPLETE,
        "lost_to_follow_up_t1": no_score_due & ended,
        "withdrawn_before_t1": t1_status == visits.NOT_APPLICABLE,
        "t1_not_yet_due": not_yet_due,
        "t1_overdue_in_treatment": no_score_due & ~ended,
    }
    return {key: _per_condition(treated.loc[mask], arms) for key, mask in groups.items()}


def consort_counts(tables: dict[str, pd.DataFrame], data: pd.DataFrame, schedule: pd.DataFrame,
                   status: pd.DataFrame, arms: tuple[str, ...] = CONDITIONS, *, analysed: bool = True) -> dict:
    """The ``consort`` object of results.json (``schedule`` and ``status``: :func:`visits.visit_status`).

    ``arms``: the treatment conditions counted apart (the values of ``data["condition"]``); the
    open edition passes its one pooled label (:mod:`alliance_report.analysis.pooled`) and
    ``analysed=False`` (it reports no model)."""
    def per_arm(frame: pd.DataFrame) -> dict[str, int]:
        return _per_condition(frame, arms)

    screening = tables["screening"]
    not_randomized = screening.loc[screening["participant_id"].isna()]
    treated = samples.treated(data)
    ended = treated.loc[treated["treatment_ended"]]
    in_treatment = samples.in_treatment(data)
    none_attended = samples.in_treatment_none_attended(data)
    disposition = tables["disposition"]
    discontinued = disposition.loc[
        (disposition["event"] == "discontinued_treatment") & disposition["participant_id"].isin(treated.index)]
    withdrawn_before_t1 = disposition.loc[disposition["participant_id"].isin(
        _t1_hads(status).loc[lambda t1: t1["status"] == visits.NOT_APPLICABLE, "participant_id"])
        & disposition["participant_id"].isin(treated.index)]
    allocated = data["allocation"].value_counts()
    tau_state = schedule["tau_state"]
    not_rerandomized = schedule.loc[tau_state == visits.NOT_RERANDOMIZED, "tau_reason"]

    counts = {
        "assessed": int(len(screening)),
        "excluded": int(len(not_randomized)),
        "excluded_reasons": _reason_counts(not_randomized["exclusion_reason"]),
        "randomized": int(len(data)),
        "allocated": {arm: int(allocated.get(arm, 0)) for arm in (*arms, WAITING_LIST)},
        "rerandomized": per_arm(treated.loc[treated["rerandomized"]]),
        "tau_waiting": int((tau_state == visits.WAITING).sum()),
        "tau_not_rerandomized": int(len(not_rerandomized)),
        "tau_not_rerandomized_reasons": _reason_counts(not_rerandomized),
        "treated": per_arm(treated),
        "in_treatment": per_arm(in_treatment),
        "in_treatment_attended": per_arm(in_treatment.drop(none_attended.index)),
        "in_treatment_none_attended": per_arm(none_attended),
        "treatment_ended": per_arm(ended),
        "received_min_sessions": per_arm(ended.loc[ended["dropout"] == 0]),
        "dropout": per_arm(ended.loc[ended["dropout"] == 1]),
        "discontinued": per_arm(treated.loc[discontinued["participant_id"]]),
        "discontinued_reasons": _reason_counts(discontinued["reason"]),
        "discontinued_reasons_by_arm": _reasons_by_arm(discontinued, data["condition"], arms),
        **_t1_follow_up(treated, status, arms),
        "withdrawn_before_t1_reasons_by_arm": _reasons_by_arm(withdrawn_before_t1, data["condition"], arms),
    }
    if analysed:
        counts["analysed"] = {
            "dropout_model": per_arm(samples.dropout_sample(data)),
            "alliance_manova": per_arm(samples.alliance_complete_cases(data)),
            "hads_model": per_arm(samples.outcome_sample(data, "hads")),
            "mhcsf_model": per_arm(samples.outcome_sample(data, "mhcsf")),
        }
    return counts


def analyses_estimated(results: dict) -> dict[str, bool]:
    """Whether each analysis of the "analysed" counts gave an estimate: the dropout model and the
    two outcome models when they have no ``not_estimable_reason``; the MANOVA when any of its tests
    has a statistic (it may test time alone, within one condition)."""
    manova = results["alliance_manova"]
    models = results["outcome_models"]
    return {
        "dropout_model": results["dropout_model"]["not_estimable_reason"] is None,
        "alliance_manova": any(manova[test][statistic] is not None for test, statistic in
                               (("time", "wilks"), ("time_x_condition", "wilks"), ("condition", "f"))),
        "hads_model": models["hads"]["not_estimable_reason"] is None,
        "mhcsf_model": models["mhcsf"]["not_estimable_reason"] is None,
    }


def check_consort(consort: dict, model_sizes: dict[str, int | None]) -> None:
    """Raise ConsortError unless every box adds up and matches every model's n."""
    problems = []

    def expect(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

    expect(consort["assessed"] == consort["excluded"] + consort["randomized"],
           f"assessed ({consort['assessed']}) ≠ excluded ({consort['excluded']}) + randomized ({consort['randomized']})")
    expect(consort["randomized"] == sum(consort["allocated"].values()),
           f"randomized ({consort['randomized']}) ≠ sum of allocated {consort['allocated']}")
    expect(consort["allocated"]["TAU"] == sum(consort["rerandomized"].values()) + consort["tau_waiting"]
           + consort["tau_not_rerandomized"],
           "TAU allocated ≠ re-randomized + waiting period + not re-randomized")
    expect(consort["tau_not_rerandomized"] == sum(consort["tau_not_rerandomized_reasons"].values()),
           "not re-randomized ≠ sum of its reasons")
    for condition in consort["treated"]:
        def n(key: str) -> int:
            return consort[key][condition]

        expect(n("treated") == consort["allocated"][condition] + n("rerandomized"),
               f"treated {condition} ≠ allocated + re-randomized")
        expect(n("treated") == n("in_treatment") + n("treatment_ended"),
               f"treated {condition} ≠ in treatment + treatment ended")
        expect(n("in_treatment") == n("in_treatment_attended") + n("in_treatment_none_attended"),
               f"in treatment {condition} ≠ attended ≥ 1 session + no session attended yet")
        expect(n("treatment_ended") == n("dropout") + n("received_min_sessions"),
               f"dropout + completers ≠ treatment ended in {condition}")
        expect(n("discontinued") <= n("treatment_ended"),
               f"discontinued exceeds treatment ended in {condition}")
        expect(n("discontinued") == sum(consort["discontinued_reasons_by_arm"][condition].values()),
               f"discontinued {condition} ≠ sum of its reasons")
        expect(n("withdrawn_before_t1") == sum(consort["withdrawn_before_t1_reasons_by_arm"][condition].values()),
               f"withdrawn before T1 {condition} ≠ sum of its reasons")
        expect(n("treated") == sum(n(key) for key in T1_PARTITION),
               f"treated {condition} ≠ assessed + lost + withdrawn + not yet due + overdue at T1")
        for analysis, counts in consort.get("analysed", {}).items():
            expect(counts[condition] <= n("treated"), f"analysed in {analysis} exceeds treated in {condition}")
            if analysis == "hads_model":
                expect(counts[condition] <= n("t1_assessed"),
                       f"analysed in hads_model exceeds assessed at T1 in {condition}")
    expect(sum(consort["discontinued"].values()) == sum(consort["discontinued_reasons"].values()),
           "discontinued ≠ sum of its reasons")
    for analysis, n in model_sizes.items():
        if n is not None:
            expect(sum(consort["analysed"][analysis].values()) == n,
                   f"analysed in {analysis} ({sum(consort['analysed'][analysis].values())}) ≠ model n ({n})")
    if problems:
        raise ConsortError("the CONSORT counts do not add up: " + "; ".join(problems))
