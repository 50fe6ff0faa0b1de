"""Scoring of the three instruments exactly as ``freeze-format.md`` specifies.

* WAI-SR (12 items, 1–5): total = mean of the answered items, missing when more than 2
  items are skipped; subscales goal/task/bond = mean of their answered items, missing when
  more than 1 of their items is skipped.
* HADS (14 items, 0–3): anxiety (odd items) and depression (even items) are prorated
  sums — mean of the answered items × 7 — missing when more than 1 of their 7 items is
  skipped; total = anxiety + depression, missing when either subscale is missing.
* MHC-SF (14 items, 0–5): like the WAI (total: ≤ 2 skipped; subscales emotional 1–3,
  social 4–8, psychological 9–14: ≤ 1 skipped each).

An item without a row counts as skipped, like a row with an empty value.  The limits for
the total and for each subscale apply independently.  Scores are never rounded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FORM_KEYS = ["participant_id", "timepoint", "instrument"]


@dataclass(frozen=True)
class Instrument:
    name: str
    n_items: int
    low: int
    high: int
    subscales: dict[str, tuple[int, ...]]
    subscale_max_missing: int
    # None: the total is the sum of the prorated subscales (HADS); else the mean of all
    # answered items with at most this many skipped.
    total_max_missing: int | None

    @property
    def items(self) -> tuple[int, ...]:
        return tuple(range(1, self.n_items + 1))

    @property
    def score_range(self) -> tuple[int, int]:
        """The range of the total score: the item range for a mean (WAI, MHC-SF), n_items times
        it for a sum of prorated subscales (HADS: 0–42)."""
        if self.total_max_missing is None:
            return self.low * self.n_items, self.high * self.n_items
        return self.low, self.high


INSTRUMENTS: dict[str, Instrument] = {
    "WAI": Instrument(
        "WAI", 12, 1, 5,
        {"goal": (4, 6, 8, 11), "task": (1, 2, 10, 12), "bond": (3, 5, 7, 9)},
        subscale_max_missing=1, total_max_missing=2,
    ),
    "HADS": Instrument(
        "HADS", 14, 0, 3,
        {"anxiety": tuple(range(1, 14, 2)), "depression": tuple(range(2, 15, 2))},
        subscale_max_missing=1, total_max_missing=None,
    ),
    "MHCSF": Instrument(
        "MHCSF", 14, 0, 5,
        {"emotional": (1, 2, 3), "social": (4, 5, 6, 7, 8), "psychological": (9, 10, 11, 12, 13, 14)},
        subscale_max_missing=1, total_max_missing=2,
    ),
}

SCORE_COLUMNS = ["total"] + [name for inst in INSTRUMENTS.values() for name in inst.subscales]


def item_matrix(questionnaires: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """Items of one instrument as a wide float matrix: one row per form, columns 1..n.

    The index is (participant_id, timepoint); a skipped item — empty value or no row — is NaN.
    """
    spec = INSTRUMENTS[instrument]
    rows = questionnaires.loc[questionnaires["instrument"] == instrument]
    values = pd.to_numeric(rows["value"]).astype("float64")
    wide = (
        pd.Series(values.to_numpy(), index=pd.MultiIndex.from_arrays(
            [rows["participant_id"].to_numpy(), rows["timepoint"].to_numpy(),
             rows["item"].astype("int64").to_numpy()],
            names=["participant_id", "timepoint", "item"]))
        .unstack("item")
    )
    return wide.reindex(columns=list(spec.items)).sort_index()


def _limited_mean(items: np.ndarray, max_missing: int) -> np.ndarray:
    """Row mean of the answered items; NaN where more than ``max_missing`` are skipped."""
    answered = ~np.isnan(items)
    n_answered = answered.sum(axis=1)
    total = np.where(answered, items, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n_answered
    return np.where(items.shape[1] - n_answered <= max_missing, mean, np.nan)


def score_matrix(items: pd.DataFrame, instrument: str) -> pd.DataFrame:
    """Total and subscale scores of each form (row) of an item matrix of ``instrument``."""
    spec = INSTRUMENTS[instrument]
    scores = pd.DataFrame(index=items.index)
    for name, subscale_items in spec.subscales.items():
        mean = _limited_mean(items[list(subscale_items)].to_numpy(float), spec.subscale_max_missing)
        # HADS subscales are prorated sums over 7 items; the others are means
        scores[name] = mean * len(subscale_items) if spec.total_max_missing is None else mean
    if spec.total_max_missing is None:
        scores["total"] = scores[list(spec.subscales)].sum(axis=1, skipna=False)
    else:
        scores["total"] = _limited_mean(items.to_numpy(float), spec.total_max_missing)
    return scores[["total", *spec.subscales]]


def score_questionnaires(questionnaires: pd.DataFrame) -> pd.DataFrame:
    """Score every form in ``questionnaires`` (the typed long table of the freeze).

    Returns one row per (participant_id, timepoint, instrument) with ``total`` and the
    subscale columns of :data:`SCORE_COLUMNS` (NaN where a score is missing or does not
    belong to the instrument).
    """
    parts = []
    for instrument in INSTRUMENTS:
        scored = score_matrix(item_matrix(questionnaires, instrument), instrument)
        scored = scored.reset_index()
        scored.insert(2, "instrument", instrument)
        parts.append(scored)
    scores = pd.concat(parts, ignore_index=True)
    return scores.reindex(columns=FORM_KEYS + SCORE_COLUMNS)


def scale_scores(scores: pd.DataFrame, instrument: str, score: str = "total") -> pd.DataFrame:
    """One score of one instrument as a participant × timepoint table (NaN = missing)."""
    rows = scores.loc[scores["instrument"] == instrument]
    return rows.pivot(index="participant_id", columns="timepoint", values=score)
