"""Internal consistency: Cronbach's α per instrument and timepoint (analysis plan item 3).

α = k/(k−1) · (1 − Σ s²_i / s²_total), with k items, s²_i the item variances and s²_total
the variance of the item sum, all with the n−1 denominator (Cronbach, 1951), on the forms
of treated participants with every item answered.  WAI at W2, W5, W9; HADS and MHC-SF at
each participant's own baseline (T0b for re-randomized participants, T0 otherwise) and T1.
Null when fewer than 2 complete forms, or when the total has no variance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alliance_report.analysis import samples
from alliance_report.analysis.dataset import own_baseline_timepoint
from alliance_report.design import ALLIANCE_WEEKS, POST_TREATMENT
from alliance_report.scoring import item_matrix

# the assessments whose α is reported, per instrument ("baseline": each participant's own baseline)
RELIABILITY_TIMEPOINTS = {"WAI": ALLIANCE_WEEKS, "HADS": ("baseline", POST_TREATMENT),
                          "MHCSF": ("baseline", POST_TREATMENT)}


def cronbach_alpha(items: np.ndarray) -> float | None:
    """α of a complete forms × items matrix; None with < 2 forms or no total variance."""
    n_forms, k = items.shape
    if n_forms < 2 or k < 2:
        return None
    total_variance = items.sum(axis=1).var(ddof=1)
    if total_variance == 0:
        return None
    return float(k / (k - 1) * (1 - items.var(axis=0, ddof=1).sum() / total_variance))


def _forms_at(items: pd.DataFrame, data: pd.DataFrame, timepoint: str) -> pd.DataFrame:
    """Item rows of treated participants at ``timepoint`` (own baseline for "baseline")."""
    treated = samples.treated(data)
    if timepoint == "baseline":
        wanted = pd.MultiIndex.from_arrays(
            [treated.index, own_baseline_timepoint(treated["rerandomized"])],
            names=["participant_id", "timepoint"])
    else:
        wanted = pd.MultiIndex.from_arrays(
            [treated.index, np.full(len(treated), timepoint)], names=["participant_id", "timepoint"])
    return items.loc[items.index.intersection(wanted)]


def reliability(questionnaires: pd.DataFrame, data: pd.DataFrame) -> tuple[dict, dict]:
    """α per instrument and timepoint (the ``reliability`` object of results.json) and the
    number of complete forms behind each α (``reliability_n``)."""
    alphas, counts = {}, {}
    for instrument, timepoints in RELIABILITY_TIMEPOINTS.items():
        items = item_matrix(questionnaires, instrument)
        alphas[instrument], counts[instrument] = {}, {}
        for timepoint in timepoints:
            complete = _forms_at(items, data, timepoint).dropna()
            alphas[instrument][timepoint] = cronbach_alpha(complete.to_numpy(float))
            counts[instrument][timepoint] = int(len(complete))
    return alphas, counts
