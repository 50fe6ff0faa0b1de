"""The populations of the analysis plan, as row selections of the analysis table.

Every model and every CONSORT "analysed" count takes its sample from here, so that the
two always agree.
"""

from __future__ import annotations

import pandas as pd

from alliance_report.design import WAI_COLUMNS


def treated(data: pd.DataFrame) -> pd.DataFrame:
    """`treatment` set (MBCT or eMBCT)."""
    return data.loc[data["treated"]]


def in_treatment(data: pd.DataFrame) -> pd.DataFrame:
    """Treated, treatment not ended at the cut-off (analysis plan: "in treatment")."""
    selection = treated(data)
    return selection.loc[~selection["treatment_ended"]]


def in_treatment_none_attended(data: pd.DataFrame) -> pd.DataFrame:
    """In treatment, and no session attended by the cut-off: counted "in treatment" by the
    analysis plan although they have not received any of it yet (their course starts after the
    cut-off, or its sessions so far were missed)."""
    selection = in_treatment(data)
    return selection.loc[selection["sessions_attended"] == 0]


def early_alliance(data: pd.DataFrame) -> pd.DataFrame:
    """Treated with a WAI total at week 2."""
    return treated(data).dropna(subset=["wai_w2"])


def alliance_complete_cases(data: pd.DataFrame) -> pd.DataFrame:
    """Treated with WAI totals at weeks 2, 5 and 9."""
    return treated(data).dropna(subset=list(WAI_COLUMNS.values()))


def dropout_sample(data: pd.DataFrame) -> pd.DataFrame:
    """Early-alliance participants whose treatment has ended (Aim 1)."""
    sample = early_alliance(data)
    return sample.loc[sample["treatment_ended"]]


def outcome_sample(data: pd.DataFrame, scale: str) -> pd.DataFrame:
    """Early-alliance participants with a baseline and a T1 score of ``scale`` (Aim 3)."""
    return early_alliance(data).dropna(subset=[f"baseline_{scale}", f"{scale}_t1"])
