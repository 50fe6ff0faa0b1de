"""Synthetic BeMind data freezes from a generative model of the trial.

:func:`simulate_freeze` writes a freeze in format v1 (``shared/spec/freeze-format.md``,
manifest ``simulated: true``).  Nothing in it is a stored result: every number comes from
a model of the trial, simulated participant by participant, and the analyses of the
report have to *find* the paper's pattern in it.

The model (parameters in :data:`PARAMS`, their rationale in ``benchmarks/calibrate_simulation.py``):

* **Design.**  Screening → randomization MBCT / eMBCT / TAU in the trial's proportions
  (77 / 90 / 78 of 245); every TAU participant is randomized again after a waiting period
  of about 3 months (43 → MBCT, 35 → eMBCT of 78) and fills in a second baseline ``T0b``.
  Treatment is 8 weekly sessions: MBCT groups start every 4 weeks per site, eMBCT starts
  within two weeks and each online module is completed some day in its week.
* **Latent traits.**  Distress *D* (drives HADS, anxiety and depression sub-factors) and
  well-being *M* (drives MHC-SF, emotional/social/psychological sub-factors), negatively
  correlated.  Items are ``round(level + item offset + loading × latent + noise)``
  clipped to the instrument's range — an ordinal (graded) discretization.
* **Alliance.**  WAI-SR mean-score trajectory with a random intercept and a random slope
  per participant plus occasion noise: about 3.3 at week 2 rising to 3.7 at week 9 in both
  conditions; items from the same discretization (goal/task/bond sub-factors).
* **Attendance.**  Each participant may stop treatment early (probability higher in eMBCT,
  only weakly lower with higher early alliance) and misses single sessions at random;
  dropout (< 4 attended) is *not* drawn directly.  Stoppers get ``discontinued_treatment``
  or ``withdrew_from_study`` rows (withdrawal ends all data), some completers are
  ``lost_to_follow_up``.
* **Outcome.**  Post-treatment distress regresses on the pre-treatment level (``T0b`` for
  re-randomized TAU, else ``T0``), improves with the dose of treatment, and is lower with
  higher early alliance — strongly in MBCT, barely in eMBCT (the paper's moderation).
  Well-being rises with early alliance in both conditions.  T2 and T3 keep a decaying
  share of the effect.
* **Missing data.**  A participant-level compliance trait drives which forms are
  returned (fewer for those who stopped); single skipped items (empty value, occasionally
  no row) and a few carelessly filled forms with many skipped items.

The full trial is simulated first; ``cutoff_date`` then censors it: nothing dated after the
cut-off is exported, so an interim freeze of a seed is a consistent earlier view of the final
freeze of that seed.  Ids are numbered over the complete trial before censoring (screening rows
in order of screening, participants in order of randomization, zero-padded to the complete
trial's size), so a person keeps their ids from one freeze of a seed to the next.  Output is
byte-deterministic for (seed, arguments).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from alliance_report import __version__
from alliance_report.design import ALLIANCE_WEEKS, ALLOCATIONS, CONDITIONS, INSTRUMENTS, TIMEPOINTS
from alliance_report.freeze import COLUMNS, MANIFEST
from alliance_report.study import Study, load_study, planned_dates

DEMO_SEED: int = 20140113
STUDY = "BeMind"
DEMO_CUTOFF: str = "2018-03-01"

# Design counts of the trial (Bisseling et al. 2019, Figure 1)
ALLOCATION_COUNTS = {"MBCT": 77, "eMBCT": 90, "TAU": 78}
RERANDOMIZATION_COUNTS = {"MBCT": 43, "eMBCT": 35}
SCREENED_PER_RANDOMIZED = 1.75

SITES = ("site A", "site B", "site C")
SITE_P = (0.5, 0.3, 0.2)

# Exclusions of screened, not randomized persons: (reason, eligible, share)
EXCLUSIONS = (
    ("HADS total below 11", "no", 0.38),
    ("not meeting inclusion criteria", "no", 0.22),
    ("declined to participate", "yes", 0.26),
    ("no time / travel distance", "yes", 0.14),
)

# Table 1 of the paper, treated population, per treatment condition (MBCT, eMBCT)
TABLE1 = {
    "female": (0.842, 0.872),
    "partner": (0.850, 0.800),
    "children": (0.658, 0.720),
    "high_education": (0.708, 0.648),
}
MIDDLE_SHARE_OF_NOT_HIGH = 0.7
CANCER_TYPES = ("breast", "colorectal", "prostate", "lung", "gynaecological",
                "haematological", "melanoma", "other")
CANCER_P_FEMALE = (0.74, 0.05, 0.0, 0.03, 0.06, 0.05, 0.02, 0.05)
CANCER_P_MALE = (0.0, 0.20, 0.22, 0.10, 0.0, 0.22, 0.08, 0.18)
P_PALLIATIVE = 0.14

DISCONTINUATION_REASONS = ("too burdensome", "physical health", "no time",
                           "did not like the intervention", "personal circumstances")
DISCONTINUATION_P = {"MBCT": (0.25, 0.30, 0.22, 0.10, 0.13), "eMBCT": (0.22, 0.25, 0.18, 0.23, 0.12)}
WITHDRAWAL_REASONS = ("too burdensome", "physical health", "no longer wishes to participate")
LTFU_REASONS = ("", "no response to reminders")


PARAMS = {
    # --- calendar (days); recruitment dates, waiting period and visit schedule: studies/BeMind.toml
    "waiting_spread_days": 7,            # TAU re-randomized within ± this of the planned waiting period
    "group_cycle_days": 28,              # a new MBCT group starts every 4 weeks per site
    # questionnaires completed this many days from their planned date (uniform, inclusive)
    "completion_days": {"T0": (-6, 0), "T0b": (-6, 0), "W": (0, 2), "T1": (-4, 9), "T2": (-5, 9), "T3": (-7, 14)},
    # --- distress / well-being (latent SD units)
    "rho_dm": -0.55,                     # corr(distress, well-being) at baseline
    "tau_improve": (0.15, 0.10),         # waiting-list change of distress (−) / well-being (+)
    "tau_stability": 0.75,
    "t1_improve": (0.85, 0.50),          # full-dose treatment change of distress (−) / well-being (+)
    "dose_floor": 0.35,                  # share of the improvement without any session
    "t1_stability": 0.60,
    "t1_resid": (0.60, 0.70),
    "t1_resid_corr": -0.45,
    "alliance_on_distress": {"MBCT": -0.56, "eMBCT": -0.06},   # per SD of week-2 alliance
    "alliance_on_wellbeing": 0.30,
    "followup_decay": (0.75, 0.55),      # share of T1 effects left at T2, T3
    # --- item models: level, loading, noise, sub-factor share
    "hads": (1.36, 0.47, 0.52, 0.22),
    "mhcsf": (2.60, 0.75, 0.75, 0.25),
    "wai": (0.0, 1.0, 0.62, 0.20),
    # --- alliance trajectory (WAI mean-score units)
    "wai_mean": (3.28, 3.45, 3.63),      # W2, W5, W9
    "wai_intercept_sd": 0.55,
    "wai_slope_sd": 0.42,                # SD of the W2→W9 change
    "wai_slope_corr": -0.2,
    "wai_occasion_sd": 0.20,
    "wai_embct_shift": 0.0,
    # --- attendance
    "p_stop": {"MBCT": 0.15, "eMBCT": 0.25},   # stops treatment before session 8
    "stop_on_alliance": -0.25,           # log-odds per SD of the alliance intercept
    "stop_session_p": (0.16, 0.20, 0.20, 0.16, 0.12, 0.09, 0.07),   # first missed session 1..7
    "p_attend": 0.93,                    # each session while in treatment
    "p_withdraw_of_stoppers": 0.15,
    "p_disposition_of_stoppers": 0.80,
    "p_ltfu": 0.05,
    # --- questionnaire return: logit = base + compliance (+ penalty when stopped)
    "compliance_sd": 1.0,
    "return_logit": {"T0": 6.0, "T0b": 3.3, "W2": 0.70, "W5": 2.3, "W9": 2.3,
                     "T1": 2.4, "T2": 1.6, "T3": 1.3},
    "stopped_penalty": 1.3,
    "p_instrument_skipped": 0.015,       # one instrument of a returned battery not filled in
    "p_careless_form": 0.02,
    "p_skip_item": (0.008, 0.25),        # ordinary / careless form
    "p_skip_without_row": 0.2,
}

_EPOCH = np.datetime64("1970-01-01", "D")


def _iso_date(date: str | _dt.date) -> str:
    """``YYYY-MM-DD`` of a date or an ISO date string; ValueError otherwise."""
    if isinstance(date, _dt.datetime):
        date = date.date()
    if isinstance(date, _dt.date):
        return date.isoformat()
    text = str(date)
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        try:
            return _dt.date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise ValueError(f"cutoff_date must be a date YYYY-MM-DD, got {date!r}")


def _day(date: str | _dt.date) -> int:
    return int((np.datetime64(_iso_date(date), "D") - _EPOCH).astype(np.int64))


def _date_strings(days: np.ndarray) -> np.ndarray:
    """ISO strings of integer days since 1970; negative sentinel (-1) → empty string."""
    days = np.asarray(days, dtype=np.int64)
    out = np.full(days.shape, "", dtype=object)
    ok = days >= 0
    out[ok] = np.datetime_as_string(days[ok].astype("datetime64[D]"), unit="D").astype(object)
    return out


def _split_counts(n: int, shares: dict[str, int]) -> dict[str, int]:
    """Largest-remainder rounding of n into the proportions of ``shares``."""
    keys = list(shares)
    weights = np.array([shares[k] for k in keys], dtype=float)
    raw = n * weights / weights.sum()
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return dict(zip(keys, (int(c) for c in counts)))


def _exact_binary(rng, n: int, p: float) -> np.ndarray:
    """n booleans with exactly round(p·n) True, in random order (exact-count stratum sampling)."""
    out = np.zeros(n, dtype=bool)
    out[: int(round(p * n))] = True
    return rng.permutation(out)


def _items(rng, latent: np.ndarray, n_items: int, low: int, high: int, level: float,
           loading: float, noise: float, offsets: np.ndarray) -> np.ndarray:
    """Ordinal items: round(level + offset + loading·latent + noise), clipped to [low, high]."""
    cont = level + offsets[None, :] + loading * latent + rng.normal(0.0, noise, (latent.shape[0], n_items))
    return np.clip(np.floor(cont + 0.5), low, high).astype(np.int8)


def _delay(rng: np.random.Generator, timepoint: str, size) -> np.ndarray:
    """Days from the planned date to completion (PARAMS["completion_days"])."""
    low, high = PARAMS["completion_days"][timepoint]
    return rng.integers(0, high - low + 1, size) + low


def _planned(study: Study, randomized_on, rerandomized_on, treatment_start) -> dict[str, np.ndarray]:
    """The study schedule's planned dates, as integer days since 1970."""
    def as_date(days):
        return np.where(np.asarray(days) >= 0, np.asarray(days), 0).astype("datetime64[D]")

    planned = planned_dates(study, {"randomized_on": as_date(randomized_on),
                                    "rerandomized_on": as_date(rerandomized_on),
                                    "treatment_start": as_date(treatment_start)})
    return {tp: (dates - _EPOCH).astype(np.int64) for tp, dates in planned.items()}


def _simulate_trial(rng: np.random.Generator, n_randomized: int, n_screened: int, study: Study) -> dict:
    """The complete trial, every date as integer days since 1970 (-1 = none)."""
    P = PARAMS
    n = n_randomized
    start = _day(study.recruitment_start)
    recruitment_days = (study.recruitment_end_planned - study.recruitment_start).days
    waiting = (study.waiting_period_days - P["waiting_spread_days"], study.waiting_period_days + P["waiting_spread_days"])

    # ---------------------------------------------------------------- allocation
    alloc_counts = _split_counts(n, ALLOCATION_COUNTS)
    rerand_counts = _split_counts(alloc_counts["TAU"], RERANDOMIZATION_COUNTS)
    allocation = rng.permutation(np.repeat(np.array([0, 1, 2]), [alloc_counts[k] for k in ALLOCATIONS]))
    is_tau = allocation == 2
    second = rng.permutation(np.repeat(np.array([0, 1]), [rerand_counts["MBCT"], rerand_counts["eMBCT"]]))
    treatment = allocation.copy()
    treatment[is_tau] = second                      # 0 = MBCT, 1 = eMBCT for everyone
    embct = treatment == 1

    randomized_on = start + np.sort(rng.integers(0, recruitment_days, n))
    site = rng.choice(len(SITES), size=n, p=SITE_P)
    screened_on = randomized_on - rng.integers(7, 36, n)
    t0_delay = _delay(rng, "T0", n)
    rerandomized_on = np.where(is_tau, randomized_on + rng.integers(waiting[0], waiting[1] + 1, n), -1)
    t0b_delay = _delay(rng, "T0b", n)

    # ---------------------------------------------------------------- Table 1 characteristics
    female = np.zeros(n, bool)
    partner = np.zeros(n, bool)
    children = np.zeros(n, bool)
    education = np.zeros(n, np.int8)                 # 0 low, 1 middle, 2 high
    for cond in (0, 1):
        idx = np.flatnonzero(treatment == cond)
        female[idx] = _exact_binary(rng, idx.size, TABLE1["female"][cond])
        partner[idx] = _exact_binary(rng, idx.size, TABLE1["partner"][cond])
        children[idx] = _exact_binary(rng, idx.size, TABLE1["children"][cond])
        n_high = int(round(TABLE1["high_education"][cond] * idx.size))
        n_middle = int(round(MIDDLE_SHARE_OF_NOT_HIGH * (idx.size - n_high)))
        education[idx] = rng.permutation(np.repeat(np.array([2, 1, 0], np.int8), [n_high, n_middle, idx.size - n_high - n_middle]))
    age = np.clip(np.rint(rng.normal(52.0, 10.0, n)), 24, 84).astype(int)
    u = rng.random(n)
    cancer = np.where(
        female,
        np.searchsorted(np.cumsum(CANCER_P_FEMALE), u * sum(CANCER_P_FEMALE), side="right"),
        np.searchsorted(np.cumsum(CANCER_P_MALE), u * sum(CANCER_P_MALE), side="right"),
    )
    cancer = np.minimum(cancer, len(CANCER_TYPES) - 1)
    palliative = rng.random(n) < P_PALLIATIVE
    # skewed, median ~30 months; diagnosed as an adult (never more months than since age 18)
    months = np.round(np.minimum(np.exp(rng.normal(np.log(30.0), 0.85, n)), 12.0 * (age - 18)), 1)

    # ---------------------------------------------------------------- treatment calendar
    ready = np.where(is_tau, rerandomized_on, randomized_on) + 7
    origin = start + 7 * site                       # sites start their group cycles on different Mondays
    cycle = P["group_cycle_days"]
    group_start = origin + cycle * np.ceil((ready - origin) / cycle).astype(np.int64)
    online_start = ready - 7 + rng.integers(3, 15, n)
    tx_start = np.where(embct, online_start, group_start)
    weeks = tx_start[:, None] + 7 * np.arange(8)[None, :]            # week s starts (session s planned)

    # ---------------------------------------------------------------- alliance (WAI mean-score scale)
    wai_mean = np.array(P["wai_mean"])
    z0 = rng.standard_normal(n)
    z1 = P["wai_slope_corr"] * z0 + np.sqrt(1 - P["wai_slope_corr"] ** 2) * rng.standard_normal(n)
    intercept = P["wai_intercept_sd"] * z0 + P["wai_embct_shift"] * embct
    slope = P["wai_slope_sd"] * z1                                  # deviation of the W2→W9 change
    frac = np.array([0.0, 3.0 / 7.0, 1.0])
    occasion = rng.normal(0.0, P["wai_occasion_sd"], (n, 3))
    alliance = wai_mean[None, :] + intercept[:, None] + slope[:, None] * frac[None, :] + occasion
    a2_sd = np.sqrt(P["wai_intercept_sd"] ** 2 + P["wai_occasion_sd"] ** 2)
    a2z = (alliance[:, 0] - wai_mean[0]) / a2_sd                     # standardized week-2 alliance

    # ---------------------------------------------------------------- attendance
    logit_stop = np.log(np.array([P["p_stop"]["MBCT"], P["p_stop"]["eMBCT"]]) /
                        (1 - np.array([P["p_stop"]["MBCT"], P["p_stop"]["eMBCT"]])))[treatment]
    p_stop = 1 / (1 + np.exp(-(logit_stop + P["stop_on_alliance"] * z0)))
    stops = rng.random(n) < p_stop
    sp = np.array(P["stop_session_p"])
    stop_session = np.where(stops, 1 + rng.choice(7, size=n, p=sp / sp.sum()), 9)   # first session missed for good
    attended = (rng.random((n, 8)) < P["p_attend"]) & (np.arange(1, 9)[None, :] < stop_session[:, None])
    n_attended = attended.sum(axis=1)
    # eMBCT modules are completed some day of their week; MBCT sessions on the group's day
    module_day = np.where(embct[:, None], rng.integers(0, 7, (n, 8)), 0)
    session_on = np.where(attended, weeks + module_day, -1)
    # a missed session is known at the end of its week
    session_recorded = np.where(attended, session_on, weeks + 6)

    # ---------------------------------------------------------------- disposition
    event = np.zeros(n, np.int8)                      # 0 none, 1 discontinued, 2 withdrew, 3 lost
    event_on = np.full(n, -1, np.int64)
    reason = np.zeros(n, np.int16)
    u_disp = rng.random(n)
    u_kind = rng.random(n)
    stop_week = weeks[np.arange(n), np.minimum(stop_session, 8) - 1]
    stop_event_on = stop_week + rng.integers(0, 7, n)
    has_stop_row = stops & (u_disp < P["p_disposition_of_stoppers"])
    withdrew = has_stop_row & (u_kind < P["p_withdraw_of_stoppers"])
    discontinued = has_stop_row & ~withdrew
    event[discontinued] = 1
    event[withdrew] = 2
    event_on[has_stop_row] = stop_event_on[has_stop_row]
    u_reason = rng.random(n)
    for cond, name in ((0, "MBCT"), (1, "eMBCT")):
        cdf = np.cumsum(DISCONTINUATION_P[name])
        sel = discontinued & (treatment == cond)
        reason[sel] = np.minimum(np.searchsorted(cdf, u_reason[sel] * cdf[-1], side="right"), len(cdf) - 1)
    reason[withdrew] = (u_reason[withdrew] * len(WITHDRAWAL_REASONS)).astype(np.int16)

    # ---------------------------------------------------------------- questionnaire calendar
    # the study schedule: treatment starts at the earliest attended session, else
    # (re-)randomization + the fallback; each form is completed a few days from its planned date
    first_attended = np.where(attended.any(axis=1), np.where(attended, session_on, np.iinfo(np.int64).max).min(axis=1),
                              ready - 7 + study.treatment_start_fallback_days)
    planned = _planned(study, randomized_on, rerandomized_on, first_attended)
    t0_on = planned["T0"] + t0_delay
    t0b_on = np.where(is_tau, planned["T0b"] + t0b_delay, -1)
    w_on = np.stack([planned[w] for w in ALLIANCE_WEEKS], axis=1) + _delay(rng, "W", (n, 3))
    t1_on = planned["T1"] + _delay(rng, "T1", n)
    t2_on = planned["T2"] + _delay(rng, "T2", n)
    t3_on = planned["T3"] + _delay(rng, "T3", n)
    # lost to follow-up: completers (no stop row) who stop returning questionnaires from T1, T2 or T3 on
    ltfu = ~has_stop_row & (u_disp > 1 - P["p_ltfu"])
    ltfu_from = rng.integers(0, 3, n)                              # 0: from T1, 1: from T2, 2: from T3
    fu_on = np.stack([t1_on, t2_on, t3_on], axis=1)
    event[ltfu] = 3
    event_on[ltfu] = fu_on[np.arange(n), ltfu_from][ltfu] + 42
    reason[ltfu] = (u_reason[ltfu] < 0.5).astype(np.int16)

    # ---------------------------------------------------------------- distress and well-being (latent)
    d0 = rng.standard_normal(n)
    m0 = P["rho_dm"] * d0 + np.sqrt(1 - P["rho_dm"] ** 2) * rng.standard_normal(n)
    s = P["tau_stability"]
    e_tau = rng.standard_normal((n, 2))
    d0b = -P["tau_improve"][0] + s * d0 + np.sqrt(1 - s ** 2) * e_tau[:, 0]
    m0b = P["tau_improve"][1] + s * m0 + np.sqrt(1 - s ** 2) * (
        P["rho_dm"] * e_tau[:, 0] + np.sqrt(1 - P["rho_dm"] ** 2) * e_tau[:, 1])
    d_base = np.where(is_tau, d0b, d0)
    m_base = np.where(is_tau, m0b, m0)
    dose = P["dose_floor"] + (1 - P["dose_floor"]) * n_attended / 8.0
    beta_d = np.where(embct, P["alliance_on_distress"]["eMBCT"], P["alliance_on_distress"]["MBCT"])
    beta_m = P["alliance_on_wellbeing"]
    rc = P["t1_resid_corr"]
    d_fu = np.empty((n, 3))
    m_fu = np.empty((n, 3))
    for k, decay in enumerate((1.0, *P["followup_decay"])):
        e = rng.standard_normal((n, 2))
        e_d = P["t1_resid"][0] * e[:, 0]
        e_m = P["t1_resid"][1] * (rc * e[:, 0] + np.sqrt(1 - rc ** 2) * e[:, 1])
        stab = P["t1_stability"] * (1.0 - 0.08 * k)
        d_fu[:, k] = -P["t1_improve"][0] * dose + stab * d_base + decay * beta_d * a2z + e_d
        m_fu[:, k] = P["t1_improve"][1] * dose + stab * m_base + decay * beta_m * a2z + e_m

    # ---------------------------------------------------------------- questionnaire return
    compliance = P["compliance_sd"] * rng.standard_normal(n)
    rl = P["return_logit"]
    stopped_by = lambda session: stop_session <= session          # noqa: E731  stopped before week `session`
    in_tx = {"W2": ~stopped_by(1), "W5": ~stopped_by(4), "W9": stop_session == 9}
    forms: dict[str, tuple[np.ndarray, np.ndarray]] = {}           # timepoint → (returned, date)
    u_ret = rng.random((n, len(TIMEPOINTS)))
    for j, tp in enumerate(TIMEPOINTS):
        logit = rl[tp] + compliance
        if tp in ("T1", "T2", "T3"):
            logit = logit - P["stopped_penalty"] * stops
        returned = u_ret[:, j] < 1 / (1 + np.exp(-logit))
        if tp == "T0":
            date = t0_on
        elif tp == "T0b":
            returned &= is_tau
            date = t0b_on
        elif tp in in_tx:
            returned &= in_tx[tp]
            date = w_on[:, ALLIANCE_WEEKS.index(tp)]
        else:
            k = ("T1", "T2", "T3").index(tp)
            returned &= ~(ltfu & (ltfu_from <= k))
            date = fu_on[:, k]
        forms[tp] = (returned, date)

    return dict(
        n=n, allocation=allocation, treatment=treatment, is_tau=is_tau, site=site,
        randomized_on=randomized_on, rerandomized_on=rerandomized_on, screened_on=screened_on,
        t0b_on=t0b_on, age=age, female=female, partner=partner, children=children,
        education=education, cancer=cancer, palliative=palliative, months=months,
        attended=attended, session_on=session_on, session_recorded=session_recorded,
        event=event, event_on=event_on, reason=reason, forms=forms,
        alliance=alliance, d0=d0, m0=m0, d0b=d0b, m0b=m0b, d_fu=d_fu, m_fu=m_fu,
        n_screened=n_screened, recruitment=(start, recruitment_days),
    )


def _questionnaire_rows(rng: np.random.Generator, trial: dict) -> dict[str, np.ndarray]:
    """Item rows of every administered form (before censoring), in the file's row order."""
    P = PARAMS
    n = trial["n"]
    forms = trial["forms"]
    # latent per (timepoint, instrument)
    distress = {"T0": trial["d0"], "T0b": trial["d0b"], "T1": trial["d_fu"][:, 0],
                "T2": trial["d_fu"][:, 1], "T3": trial["d_fu"][:, 2]}
    wellbeing = {"T0": trial["m0"], "T0b": trial["m0b"], "T1": trial["m_fu"][:, 0],
                 "T2": trial["m_fu"][:, 1], "T3": trial["m_fu"][:, 2]}
    offsets = {
        "WAI": np.array([0.15, 0.05, 0.25, -0.20, 0.20, -0.10, 0.30, -0.25, 0.10, 0.0, -0.30, -0.20]),
        "HADS": np.array([0.30, -0.35, 0.10, -0.20, 0.35, 0.05, -0.25, 0.25, -0.05, 0.00, 0.20, -0.30, -0.10, 0.0]),
        "MHCSF": np.array([0.20, 0.10, -0.10, -0.40, -0.30, 0.10, -0.20, -0.50, 0.30, 0.20, 0.25, 0.15, 0.10, 0.10]),
    }
    subscale_of = {
        "WAI": np.array([1, 1, 2, 0, 2, 0, 2, 0, 2, 1, 0, 1]),     # goal 0, task 1, bond 2
        "HADS": np.arange(14) % 2,                                   # anxiety 0, depression 1
        "MHCSF": np.array([0] * 3 + [1] * 5 + [2] * 6),
    }
    spec = {"WAI": (12, 1, 5, P["wai"]), "HADS": (14, 0, 3, P["hads"]), "MHCSF": (14, 0, 5, P["mhcsf"])}

    # a battery returned at T0/T0b/T1-T3 holds both HADS and MHC-SF, except the odd skipped instrument
    skip_instrument = rng.random((n, len(TIMEPOINTS), len(INSTRUMENTS))) < P["p_instrument_skipped"]
    skip_instrument[:, 0, 1] = False                                 # baseline HADS is the inclusion measure

    blocks = []
    for j, tp in enumerate(TIMEPOINTS):
        returned, date = forms[tp]
        for k, inst in enumerate(INSTRUMENTS):
            if (inst == "WAI") != (tp in ALLIANCE_WEEKS):
                continue
            n_items, low, high, (level, loading, noise, sub_share) = spec[inst]
            # the latent of each item = √(1−s)·common + √s·sub-factor (drawn for everyone: seed-stable)
            sub = rng.standard_normal((n, 3))[:, subscale_of[inst]]
            if inst == "WAI":
                common = trial["alliance"][:, ALLIANCE_WEEKS.index(tp)]
                latent = common[:, None] + 0.35 * np.sqrt(sub_share) * sub
                level_eff = 0.0
            else:
                common = distress[tp] if inst == "HADS" else wellbeing[tp]
                latent = np.sqrt(1 - sub_share) * common[:, None] + np.sqrt(sub_share) * sub
                level_eff = level
            values = _items(rng, latent, n_items, low, high, level_eff, loading, noise, offsets[inst])
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


def _screening(rng: np.random.Generator, trial: dict) -> dict[str, np.ndarray]:
    """Screening rows of the randomized and of the excluded persons (before censoring)."""
    n = trial["n"]
    n_excluded = trial["n_screened"] - n
    shares = np.array([e[2] for e in EXCLUSIONS])
    reason_idx = rng.choice(len(EXCLUSIONS), size=n_excluded, p=shares / shares.sum())
    start, recruitment_days = trial["recruitment"]
    ex_screened_on = start - 21 + rng.integers(0, recruitment_days + 21, n_excluded)
    ex_site = rng.choice(len(SITES), size=n_excluded, p=SITE_P)
    screened_on = np.concatenate([trial["screened_on"], ex_screened_on])
    site = np.concatenate([trial["site"], ex_site])
    participant = np.concatenate([np.arange(n), np.full(n_excluded, -1)])
    reason = np.concatenate([np.full(n, -1), reason_idx])
    tie = rng.random(screened_on.size)
    order = np.lexsort((tie, screened_on))
    return dict(screened_on=screened_on[order], site=site[order], participant=participant[order], reason=reason[order])


def _as_str_list(column) -> list[str]:
    """The cells of a column as Python strings (object columns hold ``str`` already)."""
    values = np.asarray(column)
    if values.dtype == object:
        return values.tolist()
    return [str(v) for v in values.tolist()]


def _csv_bytes(columns: dict[str, np.ndarray], file: str) -> bytes:
    """CSV text of the columns of ``file`` in the order of :data:`COLUMNS`, "\n" line endings.

    A plain join is several times faster than ``DataFrame.to_csv`` for millions of rows; it is
    used when no field needs RFC 4180 quoting (checked on the text), else pandas quotes.
    """
    names = COLUMNS[file]
    fields = [_as_str_list(columns[name]) for name in names]
    n_rows = len(fields[0])
    text = "\n".join([",".join(names), *map(",".join, zip(*fields))]) + "\n"
    if (text.count(",") == (n_rows + 1) * (len(names) - 1) and text.count("\n") == n_rows + 1
            and '"' not in text and "\r" not in text):
        return text.encode("utf-8")
    buffer = io.StringIO()
    pd.DataFrame(dict(zip(names, fields))).to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue().encode("utf-8")


def _id_strings(prefix: str, count: int, width_of: int | None = None) -> np.ndarray:
    """``prefix`` + 1..count, zero-padded to at least 4 digits and to the digits of ``width_of``
    (default ``count``): the size of the complete trial, so that censoring keeps every id."""
    width = max(4, len(str(count if width_of is None else width_of)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, count + 1)], dtype=object)


def _lookup(table, index: np.ndarray) -> np.ndarray:
    return np.asarray(table, dtype=object)[index]


def build_tables(*, seed: int = DEMO_SEED, n_screened: int | None = None, n_randomized: int = 245,
                 cutoff_date: str | None = None) -> dict[str, bytes]:
    """The five CSV files of a simulated freeze as bytes (see :func:`simulate_freeze`)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError("seed must be a non-negative integer")
    if isinstance(n_randomized, bool) or not isinstance(n_randomized, (int, np.integer)) or n_randomized < 1:
        raise ValueError("n_randomized must be a positive integer")
    if n_screened is None:
        n_screened = int(round(SCREENED_PER_RANDOMIZED * n_randomized))
    if isinstance(n_screened, bool) or not isinstance(n_screened, (int, np.integer)) or n_screened < n_randomized:
        raise ValueError("n_screened must be an integer ≥ n_randomized")
    cutoff = _day(DEMO_CUTOFF if cutoff_date is None else cutoff_date)

    rng = np.random.default_rng(seed)
    trial = _simulate_trial(rng, int(n_randomized), int(n_screened), load_study(STUDY))
    qrows = _questionnaire_rows(rng, trial)
    screen = _screening(rng, trial)

    n = trial["n"]
    # ------------------------------------------------------------ censoring at the cut-off
    exists = trial["randomized_on"] <= cutoff                         # randomized by the cut-off
    if not exists.any():
        raise ValueError(f"nobody is randomized by the cut-off {cutoff_date}; choose a later date")
    rerandomized = trial["is_tau"] & (trial["rerandomized_on"] <= cutoff)
    treated = exists & (~trial["is_tau"] | rerandomized)
    # the last day with data of each participant: the cut-off, or the day of withdrawal
    last_day = np.where(trial["event"] == 2, np.minimum(trial["event_on"], cutoff), cutoff)
    # ids are numbered over the complete simulated trial and kept when it is censored, so that a
    # person has the same id in every freeze of a seed (participants: in order of randomization,
    # which is sorted, so the randomized by the cut-off are a prefix; the width of the number is
    # that of the complete trial)
    pid_new = np.cumsum(exists) - 1
    pid_str = _id_strings("P", int(exists.sum()), width_of=n)

    # participants.csv
    idx = np.flatnonzero(exists)
    conds = np.array(CONDITIONS, dtype=object)
    treatment_str = np.where(treated[idx], conds[trial["treatment"][idx]], "")
    participants = {
        "participant_id": pid_str,
        "site": _lookup(SITES, trial["site"][idx]),
        "randomized_on": _date_strings(trial["randomized_on"][idx]),
        "allocation": _lookup(ALLOCATIONS, trial["allocation"][idx]),
        "treatment": treatment_str,
        "rerandomized_on": _date_strings(np.where(rerandomized, trial["rerandomized_on"], -1)[idx]),
        "age": trial["age"][idx],
        "sex": np.where(trial["female"][idx], "female", "male"),
        "partner": np.where(trial["partner"][idx], "yes", "no"),
        "children": np.where(trial["children"][idx], "yes", "no"),
        "education": _lookup(("low", "middle", "high"), trial["education"][idx]),
        "cancer_type": _lookup(CANCER_TYPES, trial["cancer"][idx]),
        "treatment_intent": np.where(trial["palliative"][idx], "palliative", "curative"),
        "months_since_diagnosis": np.array([f"{m:.1f}" for m in trial["months"][idx]], dtype=object),
    }

    # screening.csv: persons screened by the cut-off; a person randomized after the cut-off is
    # still in the eligibility assessment and not exported (the format has no "pending" state)
    part = screen["participant"]
    is_part = part >= 0
    keep = (screen["screened_on"] <= cutoff) & np.where(is_part, exists[np.maximum(part, 0)], True)
    sidx = np.flatnonzero(keep)
    sp = part[sidx]
    reasons = np.array([e[0] for e in EXCLUSIONS] + [""], dtype=object)
    eligible = np.array([e[1] for e in EXCLUSIONS] + ["yes"], dtype=object)
    screening = {
        "screening_id": _id_strings("S", screen["screened_on"].size)[sidx],  # numbered before censoring
        "site": _lookup(SITES, screen["site"][sidx]),
        "screened_on": _date_strings(screen["screened_on"][sidx]),
        "eligible": eligible[screen["reason"][sidx]],
        "exclusion_reason": reasons[screen["reason"][sidx]],
        "participant_id": np.where(sp >= 0, pid_str[pid_new[np.maximum(sp, 0)]], ""),
    }

    # sessions.csv: a row per planned session once it is known (attended: held; missed: week over)
    recorded = trial["session_recorded"]
    srow = treated[:, None] & (recorded <= last_day[:, None])
    p_idx, s_idx = np.nonzero(srow)
    sessions = {
        "participant_id": pid_str[pid_new[p_idx]],
        "session": s_idx + 1,
        "attended": np.where(trial["attended"][p_idx, s_idx], "yes", "no"),
        "session_on": _date_strings(trial["session_on"][p_idx, s_idx]),
    }

    # disposition.csv
    d = np.flatnonzero(exists & (trial["event"] > 0) & (trial["event_on"] <= cutoff) & (treated | ~trial["is_tau"]))
    ev = trial["event"][d]
    reason_text = np.where(
        ev == 1, _lookup(DISCONTINUATION_REASONS, np.minimum(trial["reason"][d], len(DISCONTINUATION_REASONS) - 1)),
        np.where(ev == 2, _lookup(WITHDRAWAL_REASONS, np.minimum(trial["reason"][d], len(WITHDRAWAL_REASONS) - 1)),
                 _lookup(LTFU_REASONS, np.minimum(trial["reason"][d], 1))))
    disposition = {
        "participant_id": pid_str[pid_new[d]],
        "event": _lookup(("", "discontinued_treatment", "withdrew_from_study", "lost_to_follow_up"), ev),
        "event_on": _date_strings(trial["event_on"][d]),
        "reason": reason_text,
    }

    # questionnaires.csv: forms dated by the cut-off (and not after a withdrawal);
    # WAI only once treated, T0b only once re-randomized
    qp = qrows["pid"]
    tp = qrows["tp"]
    ok = exists[qp] & (qrows["date"] <= last_day[qp])
    ok &= np.where(np.isin(tp, (2, 3, 4)), treated[qp], True)
    ok &= np.where(tp == 1, rerandomized[qp], True)
    ok &= np.where(tp >= 5, treated[qp], True)
    q = {key: v[ok] for key, v in qrows.items()}
    value_str = np.array([""] + [str(v) for v in range(6)], dtype=object)
    item_str = np.array([""] + [str(v) for v in range(1, 15)], dtype=object)
    # format each distinct date once
    udates, inverse = np.unique(q["date"], return_inverse=True)
    questionnaires = {
        "participant_id": pid_str[pid_new[q["pid"]]],
        "timepoint": np.asarray(TIMEPOINTS, dtype=object)[q["tp"]],
        "instrument": np.asarray(INSTRUMENTS, dtype=object)[q["inst"]],
        "item": item_str[q["item"]],
        "value": value_str[q["value"].astype(np.int64) + 1],
        "completed_on": _date_strings(udates)[inverse] if udates.size else np.array([], dtype=object),
    }
    return {
        "screening.csv": _csv_bytes(screening, "screening.csv"),
        "participants.csv": _csv_bytes(participants, "participants.csv"),
        "sessions.csv": _csv_bytes(sessions, "sessions.csv"),
        "questionnaires.csv": _csv_bytes(questionnaires, "questionnaires.csv"),
        "disposition.csv": _csv_bytes(disposition, "disposition.csv"),
    }


def simulate_freeze(out_dir, *, seed: int = DEMO_SEED, n_screened: int | None = None, n_randomized: int = 245,
                    cutoff_date: str | None = None, freeze_id: str | None = None, force: bool = False) -> Path:
    """Simulate the BeMind trial and write a freeze (format v1, ``simulated: true``) into ``out_dir``.

    ``n_screened=None`` screens 1.75 persons per randomized participant.  ``cutoff_date=None``
    is :data:`DEMO_CUTOFF`, after which every participant's follow-up is complete; an earlier
    date gives an interim freeze of the same simulated trial.  ``freeze_id`` defaults to the
    cut-off date.  Returns the freeze folder.

    ``out_dir`` must be new or empty; ``force`` replaces a simulated freeze (manifest
    ``"simulated": true``) there.  A folder holding anything else, above all a real freeze
    (``"simulated": false``, or CSV files without a manifest), is never written into:
    ValueError, before anything is written.
    """
    out = Path(out_dir)
    _check_simulation_target(out, force)
    cutoff = _iso_date(DEMO_CUTOFF if cutoff_date is None else cutoff_date)
    files = build_tables(seed=seed, n_screened=n_screened, n_randomized=n_randomized, cutoff_date=cutoff)
    new = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    strays = sorted(p.name for p in out.glob("*.csv") if p.name not in files)
    if strays:
        raise ValueError(f"{out} holds other CSV files ({', '.join(strays)}); they would make the freeze invalid")
    exported = np.datetime64(cutoff, "D") + 1
    manifest = {
        "format_version": 1,
        "study": STUDY,
        "freeze_id": cutoff if freeze_id is None else str(freeze_id),
        "cutoff_date": cutoff,
        "exported_at": f"{exported}T08:00:00Z",
        "source": f"simulate (alliance-report {__version__}) seed {seed}",
        "simulated": True,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }
    written = []
    try:
        for name, data in files.items():
            written.append(out / name)
            (out / name).write_bytes(data)
        written.append(out / MANIFEST)
        (out / MANIFEST).write_bytes((json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    except OSError:  # a full disk, say: no half-written freeze is left (a later simulate would refuse it)
        for path in written:
            path.unlink(missing_ok=True)
        if new:
            try:
                out.rmdir()
            except OSError:
                pass
        raise
    return out


def _check_simulation_target(out: Path, force: bool) -> None:
    """Refuse (ValueError) a folder that ``simulate_freeze`` must not write into (see there)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    manifest_path = out / MANIFEST
    if manifest_path.exists() or manifest_path.is_symlink():
        simulated = None  # a FIFO, a folder, a huge file: not read, and not a simulated freeze
        try:
            if manifest_path.is_file() and manifest_path.stat().st_size <= 1 << 20:
                simulated = json.loads(manifest_path.read_bytes().decode("utf-8-sig")).get("simulated")
        except (OSError, ValueError, AttributeError):
            pass
        if simulated is not True:
            says = "says \"simulated\": false" if simulated is False else "does not say \"simulated\": true"
            raise ValueError(f"--out {out}: holds a freeze that is not simulated (its {MANIFEST} {says}); "
                             "a simulation never replaces it, name a new or empty folder")
        if not force:
            raise ValueError(f"--out {out}: holds a simulated freeze already; --force replaces it, "
                             "or name a new or empty folder")
        return
    if any(out.glob("*.csv")):
        raise ValueError(f"--out {out}: holds CSV files without a {MANIFEST} (an export?); a simulation "
                         "never writes there, name a new or empty folder")
    raise ValueError(f"--out {out}: is not empty and holds no simulated freeze; name a new or empty folder")


if __name__ == "__main__":  # regenerate the committed demo freeze: python -m alliance_report.simulate data/demo-freeze
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "data/demo-freeze"
    print(simulate_freeze(target, force=True))  # replaces a simulated freeze only
