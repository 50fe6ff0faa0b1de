"""Questionnaire items of the simulated forms: an ordinal (graded) discretization of the latent
traits, with skipped instruments, skipped items and a few carelessly filled forms.

Item counts, ranges and subscales are those of :data:`alliance_report.scoring.INSTRUMENTS`;
which instrument is filled in at which timepoint is :data:`alliance_report.design.TIMEPOINT_INSTRUMENTS`.
"""

from __future__ import annotations

import numpy as np

from alliance_report import scoring
from alliance_report.design import ALLIANCE_WEEKS, FOLLOW_UPS, INSTRUMENTS, TIMEPOINT_INSTRUMENTS, TIMEPOINTS
from alliance_report.simulation.parameters import PARAMS

# the offset of each item from its instrument's level (item 1 first)
ITEM_OFFSETS = {
    "WAI": np.array([0.15, 0.05, 0.25, -0.20, 0.20, -0.10, 0.30, -0.25, 0.10, 0.0, -0.30, -0.20]),
    "HADS": np.array([0.30, -0.35, 0.10, -0.20, 0.35, 0.05, -0.25, 0.25, -0.05, 0.00, 0.20, -0.30, -0.10, 0.0]),
    "MHCSF": np.array([0.20, 0.10, -0.10, -0.40, -0.30, 0.10, -0.20, -0.50, 0.30, 0.20, 0.25, 0.15, 0.10, 0.10]),
}
# sub-factor normals drawn per form: as many as the largest number of subscales, for every
# instrument alike (a form of any instrument takes the same share of the random stream)
N_SUBFACTOR_DRAWS = max(len(scale.subscales) for scale in scoring.INSTRUMENTS.values())
# the alliance latent is the WAI mean score itself: its sub-factors add this share of their SD
WAI_SUBFACTOR_SCALE = 0.35


def subscale_index(instrument: scoring.Instrument) -> np.ndarray:
    """Per item (item 1 first): the place of its subscale in ``instrument.subscales``."""
    of_item = {item: k for k, items in enumerate(instrument.subscales.values()) for item in items}
    return np.array([of_item[item] for item in instrument.items])


def ordinal_items(rng: np.random.Generator, latent: np.ndarray, instrument: scoring.Instrument, level: float,
                  loading: float, noise: float, offsets: np.ndarray) -> np.ndarray:
    """Ordinal items: round(level + offset + loading·latent + N(0, noise²)), clipped to the
    instrument's range [low, high]."""
    cont = level + offsets[None, :] + loading * latent + rng.normal(0.0, noise, (latent.shape[0], instrument.n_items))
    return np.clip(np.floor(cont + 0.5), instrument.low, instrument.high).astype(np.int8)


def questionnaire_rows(rng: np.random.Generator, trial: dict) -> dict[str, np.ndarray]:
    """Item rows of every administered form (before censoring), in the file's row order.

    Columns: ``pid`` (participant index), ``tp`` (index into TIMEPOINTS), ``inst`` (index into
    INSTRUMENTS), ``item``, ``value`` (-1: skipped, an empty value), ``date`` (days since 1970)."""
    P = PARAMS
    n = trial["n"]
    forms = trial["forms"]
    distress = {"T0": trial["d0"], "T0b": trial["d0b"], **{tp: trial["d_fu"][:, k] for k, tp in enumerate(FOLLOW_UPS)}}
    wellbeing = {"T0": trial["m0"], "T0b": trial["m0b"], **{tp: trial["m_fu"][:, k] for k, tp in enumerate(FOLLOW_UPS)}}

    # a battery returned at T0/T0b/T1-T3 holds both HADS and MHC-SF, except the odd skipped instrument
    skip_instrument = rng.random((n, len(TIMEPOINTS), len(INSTRUMENTS))) < P["p_instrument_skipped"]
    skip_instrument[:, TIMEPOINTS.index("T0"), INSTRUMENTS.index("HADS")] = False   # the inclusion measure

    blocks = []
    for j, tp in enumerate(TIMEPOINTS):
        returned, date = forms[tp]
        for k, inst in enumerate(INSTRUMENTS):
            if inst not in TIMEPOINT_INSTRUMENTS[tp]:
                continue
            instrument = scoring.INSTRUMENTS[inst]
            n_items = instrument.n_items
            level, loading, noise, sub_share = P["items"][inst]
            # the latent of each item = √(1−s)·common + √s·sub-factor (drawn for everyone: seed-stable)
            sub = rng.standard_normal((n, N_SUBFACTOR_DRAWS))[:, subscale_index(instrument)]
            if inst == "WAI":
                common = trial["alliance"][:, ALLIANCE_WEEKS.index(tp)]
                latent = common[:, None] + WAI_SUBFACTOR_SCALE * np.sqrt(sub_share) * sub
                level_eff = 0.0
            else:
                common = distress[tp] if inst == "HADS" else wellbeing[tp]
                latent = np.sqrt(1 - sub_share) * common[:, None] + np.sqrt(sub_share) * sub
                level_eff = level
            values = ordinal_items(rng, latent, instrument, level_eff, loading, noise, ITEM_OFFSETS[inst])
            careless = rng.random(n) < P["p_careless_form"]
            p_skip = np.where(careless, P["p_skip_item"][1], P["p_skip_item"][0])
            skipped = rng.random((n, n_items)) < p_skip[:, None]
            no_row = skipped & (rng.random((n, n_items)) < P["p_skip_without_row"])
            keep_form = returned & ~skip_instrument[:, j, k]
            pid = np.repeat(np.flatnonzero(keep_form), n_items)
            item = np.tile(np.arange(1, n_items + 1), int(keep_form.sum()))
            val = np.where(skipped[keep_form], -1, values[keep_form]).ravel()
            keep_row = ~no_row[keep_form].ravel()
            blocks.append(dict(
                pid=pid[keep_row], tp=np.full(keep_row.sum(), j, np.int8), inst=np.full(keep_row.sum(), k, np.int8),
                item=item[keep_row].astype(np.int8), value=val[keep_row].astype(np.int8),
                date=np.repeat(date[keep_form], n_items)[keep_row],
            ))
    rows = {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0]}
    order = np.argsort(rows["pid"], kind="stable")                  # blocks are in (timepoint, instrument, item) order
    return {key: v[order] for key, v in rows.items()}
