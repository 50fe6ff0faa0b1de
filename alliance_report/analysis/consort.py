"""CONSORT flow counts (CONSORT 2010 item 13 / 2025 item 26), analysis plan item 1.

Counts come from the freeze tables and the analysis table; each "analysed" count is the
size of the very sample its model uses (the sample functions are shared with the models),
so the diagram always matches the n of every table.  :func:`check_consort` verifies the
arithmetic and raises :class:`ConsortError` on any mismatch.
"""

from __future__ import annotations

import pandas as pd

from alliance_report.analysis.dataset import CONDITIONS
from alliance_report.analysis.samples import alliance_complete_cases, dropout_sample, outcome_sample

ALLOCATIONS = ("MBCT", "eMBCT", "TAU")


class ConsortError(Exception):
    """The CONSORT numbers do not add up: the freeze is internally inconsistent."""


def _per_condition(frame: pd.DataFrame) -> dict[str, int]:
    counts = frame["condition"].value_counts()
    return {condition: int(counts.get(condition, 0)) for condition in CONDITIONS}


def _reason_counts(reasons: pd.Series) -> dict[str, int]:
    counts = reasons.fillna("(no reason given)").value_counts()
    return {str(reason): int(n) for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))}


def consort_counts(tables: dict[str, pd.DataFrame], data: pd.DataFrame) -> dict:
    """The ``consort`` object of results.json."""
    screening = tables["screening"]
    not_randomized = screening.loc[screening["participant_id"].isna()]
    treated = data.loc[data["treated"]]
    ended = treated.loc[treated["treatment_ended"]]
    disposition = tables["disposition"]
    discontinued = disposition.loc[
        (disposition["event"] == "discontinued_treatment")
        & disposition["participant_id"].isin(treated.index)]
    allocated = data["allocation"].value_counts()
    rerandomized = treated.loc[treated["rerandomized"]]

    return {
        "assessed": int(len(screening)),
        "excluded": int(len(not_randomized)),
        "excluded_reasons": _reason_counts(not_randomized["exclusion_reason"]),
        "randomized": int(len(data)),
        "allocated": {arm: int(allocated.get(arm, 0)) for arm in ALLOCATIONS},
        "rerandomized": _per_condition(rerandomized),
        "tau_not_rerandomized": int(((data["allocation"] == "TAU") & ~data["treated"]).sum()),
        "treated": _per_condition(treated),
        "in_treatment": _per_condition(treated.loc[~treated["treatment_ended"]]),
        "received_min_sessions": _per_condition(ended.loc[ended["dropout"] == 0]),
        "dropout": _per_condition(ended.loc[ended["dropout"] == 1]),
        "discontinued": int(len(discontinued)),
        "discontinued_reasons": _reason_counts(discontinued["reason"]),
        "lost_to_follow_up_t1": _per_condition(ended.loc[ended["hads_t1"].isna()]),
        "analysed": {
            "dropout_model": _per_condition(dropout_sample(data)),
            "alliance_manova": _per_condition(alliance_complete_cases(data)),
            "hads_model": _per_condition(outcome_sample(data, "hads")),
            "mhcsf_model": _per_condition(outcome_sample(data, "mhcsf")),
        },
    }


def check_consort(consort: dict, model_sizes: dict[str, int | None]) -> None:
    """Raise ConsortError unless the flow adds up and matches every model's n."""
    problems = []

    def expect(condition: bool, message: str) -> None:
        if not condition:
            problems.append(message)

    expect(consort["assessed"] == consort["excluded"] + consort["randomized"],
           f"assessed ({consort['assessed']}) ≠ excluded ({consort['excluded']}) + randomized ({consort['randomized']})")
    expect(consort["randomized"] == sum(consort["allocated"].values()),
           f"randomized ({consort['randomized']}) ≠ sum of allocated {consort['allocated']}")
    expect(consort["allocated"]["TAU"] == sum(consort["rerandomized"].values()) + consort["tau_not_rerandomized"],
           "TAU allocated ≠ re-randomized + not re-randomized")
    for condition in CONDITIONS:
        first_round = consort["allocated"][condition]
        expect(consort["treated"][condition] == first_round + consort["rerandomized"][condition],
               f"treated {condition} ≠ allocated + re-randomized")
        ended = consort["treated"][condition] - consort["in_treatment"][condition]
        expect(consort["dropout"][condition] + consort["received_min_sessions"][condition] == ended,
               f"dropout + completers ≠ treatment ended in {condition}")
        for analysis, counts in consort["analysed"].items():
            expect(counts[condition] <= consort["treated"][condition],
                   f"analysed in {analysis} exceeds treated in {condition}")
    for analysis, n in model_sizes.items():
        if n is not None:
            expect(sum(consort["analysed"][analysis].values()) == n,
                   f"analysed in {analysis} ({sum(consort['analysed'][analysis].values())}) ≠ model n ({n})")
    if problems:
        raise ConsortError("the CONSORT counts do not add up: " + "; ".join(problems))
