"""The participant-level analysis table: the derived variables of the analysis plan.

One row per randomized participant, indexed by ``participant_id``:

* ``condition`` — ``treatment`` (MBCT / eMBCT, None when never treated);
  ``condition_embct`` = 1 for eMBCT, 0 for MBCT; ``rerandomized`` for TAU participants
  treated after the second randomization.
* ``baseline_hads`` (and ``_anxiety``, ``_depression``), ``baseline_mhcsf`` — the score at
  ``T0b`` for re-randomized participants, at ``T0`` for everyone else (no fall-back).
* ``hads_t1``, ``mhcsf_t1`` — post-treatment scores; ``wai_w2``/``wai_w5``/``wai_w9``.
* ``sessions_attended`` — count of attended sessions; ``session_rows`` — count of session rows
  (attended or not); ``treatment_ended`` — all 8 session rows present or any disposition row;
  ``dropout`` — 1 when the treatment has ended with fewer than ``dropout_threshold`` sessions
  attended, 0 when ended otherwise, NaN in treatment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alliance_report.design import (BASELINE_TIMEPOINTS, CONDITION_CODE, N_SESSIONS, PARTICIPANT_LEVELS,
                                    POST_TREATMENT, WAI_COLUMNS, WAITING_LIST)
from alliance_report.scoring import scale_scores


def own_baseline_timepoint(rerandomized: pd.Series) -> np.ndarray:
    """Each participant's baseline: T0b (the second baseline) for the participants re-randomized
    after the waiting list, T0 for the others — never a fall-back to T0 (analysis plan)."""
    first, second = BASELINE_TIMEPOINTS
    return np.where(rerandomized, second, first)


def _own_baseline(scores_by_timepoint: pd.DataFrame, rerandomized: pd.Series) -> pd.Series:
    """The score at each participant's own baseline (``own_baseline_timepoint``; the columns may be absent)."""
    baselines = {tp: scores_by_timepoint.get(tp, pd.Series(dtype=float)).reindex(rerandomized.index)
                 for tp in BASELINE_TIMEPOINTS}
    first, second = BASELINE_TIMEPOINTS
    return baselines[second].where(own_baseline_timepoint(rerandomized) == second, baselines[first]).astype(float)


def _timepoint(scores_by_timepoint: pd.DataFrame, timepoint: str, index: pd.Index) -> pd.Series:
    return scores_by_timepoint.get(timepoint, pd.Series(dtype=float)).reindex(index).astype(float)


def build_dataset(tables: dict[str, pd.DataFrame], scores: pd.DataFrame,
                  dropout_threshold: int) -> pd.DataFrame:
    """Derive the analysis variables from the typed freeze tables and the scored forms."""
    participants = tables["participants"].set_index("participant_id")
    index = participants.index
    data = pd.DataFrame(index=index)
    data["allocation"] = participants["allocation"]
    data["condition"] = participants["treatment"]
    data["treated"] = participants["treatment"].notna()
    data["rerandomized"] = (participants["allocation"] == WAITING_LIST) & data["treated"]
    data["condition_embct"] = data["condition"].map(CONDITION_CODE).astype(float)  # NaN when not treated
    for key in ("age", "months_since_diagnosis"):
        data[key] = participants[key].astype(float)
    for key in PARTICIPANT_LEVELS:  # the categorical characteristics of Table 1
        data[key] = participants[key]

    rerandomized = data["rerandomized"]
    hads = {name: scale_scores(scores, "HADS", name) for name in ("total", "anxiety", "depression")}
    mhcsf = scale_scores(scores, "MHCSF")
    wai = scale_scores(scores, "WAI")
    data["baseline_hads"] = _own_baseline(hads["total"], rerandomized)
    data["baseline_hads_anxiety"] = _own_baseline(hads["anxiety"], rerandomized)
    data["baseline_hads_depression"] = _own_baseline(hads["depression"], rerandomized)
    data["baseline_mhcsf"] = _own_baseline(mhcsf, rerandomized)
    data["hads_t1"] = _timepoint(hads["total"], POST_TREATMENT, index)
    data["mhcsf_t1"] = _timepoint(mhcsf, POST_TREATMENT, index)
    for week, column in WAI_COLUMNS.items():
        data[column] = _timepoint(wai, week, index)

    sessions = tables["sessions"]
    attended = (sessions["attended"] == "yes").groupby(sessions["participant_id"]).sum()
    session_rows = sessions.groupby("participant_id").size()
    data["sessions_attended"] = attended.reindex(index).fillna(0).astype(int)
    data["session_rows"] = session_rows.reindex(index).fillna(0).astype(int)
    has_disposition = index.isin(tables["disposition"]["participant_id"])
    all_sessions = data["session_rows"].to_numpy() >= N_SESSIONS
    data["treatment_ended"] = data["treated"] & (all_sessions | has_disposition)
    data["dropout"] = np.where(
        data["treatment_ended"], (data["sessions_attended"] < dropout_threshold).astype(float), np.nan)
    return data
