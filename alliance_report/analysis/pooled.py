"""The open edition's inputs: the freeze with the two treatment arms pooled at the very start.

Spec: ``committee-reports.md``, "Editions".  The open edition is rendered from
``open/results.json`` only, and that is computed here from data pooled over the arms — by
construction, not by deleting sections from the closed results: :func:`pool_arms` replaces
the values MBCT and eMBCT of participants.csv's ``allocation`` and ``treatment`` by one label,
:data:`POOLED`, *before* the analysis table, the visit status and every count are computed.
Nothing downstream can then tell the arms apart: a freeze whose MBCT and eMBCT labels are
swapped, or reassigned at random among the treated, gives the same open results.

TAU keeps its label.  The waiting list and the re-randomization after it are part of the
trial's conduct (T0b, the waiting period), and are the same whichever treatment arm a
participant was later given; the leak test of the spec relabels MBCT and eMBCT only.
"""

from __future__ import annotations

import pandas as pd

from alliance_report.design import ARM_COLUMNS, CONDITIONS

POOLED = "MBCT or eMBCT"


def pool_arms(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The typed freeze tables with MBCT and eMBCT replaced by :data:`POOLED` in ``allocation``
    and ``treatment`` (a copy; the other tables are shared, they hold no arm)."""
    participants = tables["participants"].copy()
    for column in ARM_COLUMNS["participants.csv"]:
        participants[column] = participants[column].where(~participants[column].isin(CONDITIONS), POOLED)
    return {**tables, "participants": participants}


def participant_flow(consort: dict) -> dict:
    """The pooled CONSORT counts (``consort_counts`` on pooled tables) as plain numbers: every
    per-arm dict of the one pooled arm becomes its value; the first randomization splits into
    ``first_round`` (MBCT or eMBCT) and ``waiting_list`` (TAU)."""
    flow = {}
    for key, value in consort.items():
        if key == "allocated":
            flow["first_round"] = value[POOLED]
            flow["waiting_list"] = sum(n for arm, n in value.items() if arm != POOLED)
        elif isinstance(value, dict) and set(value) == {POOLED}:
            flow[key.removesuffix("_by_arm")] = value[POOLED]
        else:
            flow[key] = value
    return flow
