"""The generative model of the participants: allocation, Table 1 characteristics, the treatment
calendar, the alliance trajectory, latent distress and well-being, and which questionnaires
are returned when (see the package docstring for the model; attendance and disposition are in
:mod:`.conduct`).

:func:`simulate_trial` draws the complete trial, every date as integer days since 1970 (-1 =
none).  The order of the random draws is part of the output: a seed gives the same trial only
as long as every draw is made in the same order with the same shape.
"""

from __future__ import annotations

import numpy as np

from alliance_report.design import (ALLIANCE_WEEK_NUMBERS, ALLIANCE_WEEKS, ALLOCATIONS, CONDITIONS, FOLLOW_UPS,
                                    N_SESSIONS, TIMEPOINTS, WAITING_LIST)
from alliance_report.simulation import conduct
from alliance_report.simulation.dates import completion_delay, day, planned_days
from alliance_report.simulation.parameters import (ALLOCATION_COUNTS, CANCER_P_FEMALE, CANCER_P_MALE, CANCER_TYPES,
                                                   MIDDLE_SHARE_OF_NOT_HIGH, P_PALLIATIVE, PARAMS,
                                                   RERANDOMIZATION_COUNTS, SITE_P, SITES, TABLE1)
from alliance_report.study import Study

# the model indexes conditions by their place in CONDITIONS, and the first arms of ALLOCATIONS are
# the conditions (a participant not on the waiting list is treated in the arm allocated)
assert ALLOCATIONS[: len(CONDITIONS)] == CONDITIONS
ONLINE = CONDITIONS.index("eMBCT")          # modules on any day of the week, no group cycle
TAU = ALLOCATIONS.index(WAITING_LIST)


def simulate_trial(rng: np.random.Generator, n_randomized: int, n_screened: int, study: Study) -> dict:
    """The complete trial, every date as integer days since 1970 (-1 = none)."""
    n = n_randomized
    start = day(study.recruitment_start)
    recruitment_days = (study.recruitment_end_planned - study.recruitment_start).days
    trial = dict(n=n, n_screened=n_screened, recruitment=(start, recruitment_days))
    trial.update(_allocation(rng, n))
    trial.update(_randomization_calendar(rng, trial, study))
    trial.update(_characteristics(rng, trial["treatment"]))
    trial.update(_treatment_weeks(rng, trial))
    embct = trial["treatment"] == ONLINE
    trial.update(_alliance(rng, embct))
    trial.update(conduct.attendance(rng, trial["treatment"], trial["alliance_z"], trial["weeks"]))
    trial.update(conduct.disposition(rng, trial["treatment"], trial["stops"], trial["stop_session"], trial["weeks"]))
    trial.update(_questionnaire_calendar(rng, trial, study))
    trial.update(conduct.lost_to_follow_up(rng, trial))
    trial.update(_latent_outcomes(rng, trial))
    trial["forms"] = _returned_forms(rng, trial)
    return trial


def split_counts(n: int, shares: dict[str, int]) -> dict[str, int]:
    """Largest-remainder rounding of n into the proportions of ``shares``."""
    keys = list(shares)
    weights = np.array([shares[k] for k in keys], dtype=float)
    raw = n * weights / weights.sum()
    counts = np.floor(raw).astype(int)
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[: n - counts.sum()]] += 1
    return dict(zip(keys, (int(c) for c in counts)))


def _allocation(rng: np.random.Generator, n: int) -> dict:
    """The arm (index into ALLOCATIONS) and the condition treated (index into CONDITIONS) of
    each participant: the trial's proportions, the waiting list randomized again."""
    alloc_counts = split_counts(n, ALLOCATION_COUNTS)
    rerand_counts = split_counts(alloc_counts[WAITING_LIST], RERANDOMIZATION_COUNTS)
    allocation = rng.permutation(np.repeat(np.arange(len(ALLOCATIONS)), [alloc_counts[k] for k in ALLOCATIONS]))
    is_tau = allocation == TAU
    second = rng.permutation(np.repeat(np.arange(len(CONDITIONS)), [rerand_counts[c] for c in CONDITIONS]))
    treatment = allocation.copy()
    treatment[is_tau] = second
    return dict(allocation=allocation, is_tau=is_tau, treatment=treatment)


def _randomization_calendar(rng: np.random.Generator, trial: dict, study: Study) -> dict:
    """Randomization (sorted: ids follow it), site, screening, and the waiting list's second
    randomization after the planned waiting period ± PARAMS["waiting_spread_days"]."""
    n = trial["n"]
    start, recruitment_days = trial["recruitment"]
    spread = PARAMS["waiting_spread_days"]
    waiting = (study.waiting_period_days - spread, study.waiting_period_days + spread)
    randomized_on = start + np.sort(rng.integers(0, recruitment_days, n))
    site = rng.choice(len(SITES), size=n, p=SITE_P)
    screened_on = randomized_on - rng.integers(7, 36, n)
    t0_delay = completion_delay(rng, "T0", n)
    rerandomized_on = np.where(trial["is_tau"], randomized_on + rng.integers(waiting[0], waiting[1] + 1, n), -1)
    t0b_delay = completion_delay(rng, "T0b", n)
    return dict(randomized_on=randomized_on, site=site, screened_on=screened_on, t0_delay=t0_delay,
                rerandomized_on=rerandomized_on, t0b_delay=t0b_delay)


def exact_binary(rng: np.random.Generator, n: int, p: float) -> np.ndarray:
    """n booleans with exactly round(p·n) True, in random order (exact-count stratum sampling)."""
    out = np.zeros(n, dtype=bool)
    out[: int(round(p * n))] = True
    return rng.permutation(out)


def _characteristics(rng: np.random.Generator, treatment: np.ndarray) -> dict:
    """Table 1: sex, partner, children and education in each condition's exact shares; age,
    cancer type (by sex), treatment intent and months since diagnosis drawn."""
    n = treatment.size
    female = np.zeros(n, bool)
    partner = np.zeros(n, bool)
    children = np.zeros(n, bool)
    education = np.zeros(n, np.int8)                 # index into EDUCATION: 0 low, 1 middle, 2 high
    for cond, name in enumerate(CONDITIONS):
        shares = TABLE1[name]
        idx = np.flatnonzero(treatment == cond)
        female[idx] = exact_binary(rng, idx.size, shares["female"])
        partner[idx] = exact_binary(rng, idx.size, shares["partner"])
        children[idx] = exact_binary(rng, idx.size, shares["children"])
        n_high = int(round(shares["high_education"] * idx.size))
        n_middle = int(round(MIDDLE_SHARE_OF_NOT_HIGH * (idx.size - n_high)))
        education[idx] = rng.permutation(np.repeat(np.array([2, 1, 0], np.int8),
                                                   [n_high, n_middle, idx.size - n_high - n_middle]))
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
    return dict(female=female, partner=partner, children=children, education=education, age=age,
                cancer=cancer, palliative=palliative, months=months)


def _treatment_weeks(rng: np.random.Generator, trial: dict) -> dict:
    """The first day of each treatment week (session s planned in week s): MBCT groups start
    every PARAMS["group_cycle_days"] per site, eMBCT within two weeks of (re-)randomization."""
    n = trial["n"]
    start = trial["recruitment"][0]
    ready = np.where(trial["is_tau"], trial["rerandomized_on"], trial["randomized_on"]) + 7
    origin = start + 7 * trial["site"]              # sites start their group cycles on different Mondays
    cycle = PARAMS["group_cycle_days"]
    group_start = origin + cycle * np.ceil((ready - origin) / cycle).astype(np.int64)
    online_start = ready - 7 + rng.integers(3, 15, n)
    tx_start = np.where(trial["treatment"] == ONLINE, online_start, group_start)
    weeks = tx_start[:, None] + 7 * np.arange(N_SESSIONS)[None, :]
    return dict(ready=ready, weeks=weeks)


def _alliance(rng: np.random.Generator, embct: np.ndarray) -> dict:
    """WAI mean score per alliance week: PARAMS["wai_mean"] + random intercept + random slope ×
    (share of the time from the first to the last alliance week) + occasion noise.

    ``alliance_z`` is the standardized random intercept (it drives stopping treatment),
    ``alliance_w2z`` the standardized first-week score, intercept SD ⊕ occasion SD (it drives
    the outcome)."""
    P = PARAMS
    n = embct.size
    wai_mean = np.array(P["wai_mean"])
    z0 = rng.standard_normal(n)
    z1 = P["wai_slope_corr"] * z0 + np.sqrt(1 - P["wai_slope_corr"] ** 2) * rng.standard_normal(n)
    intercept = P["wai_intercept_sd"] * z0 + P["wai_embct_shift"] * embct
    slope = P["wai_slope_sd"] * z1                                  # deviation of the first→last week change
    numbers = [ALLIANCE_WEEK_NUMBERS[week] for week in ALLIANCE_WEEKS]
    frac = np.array([(week - numbers[0]) / (numbers[-1] - numbers[0]) for week in numbers])
    occasion = rng.normal(0.0, P["wai_occasion_sd"], (n, len(ALLIANCE_WEEKS)))
    alliance = wai_mean[None, :] + intercept[:, None] + slope[:, None] * frac[None, :] + occasion
    a2_sd = np.sqrt(P["wai_intercept_sd"] ** 2 + P["wai_occasion_sd"] ** 2)
    a2z = (alliance[:, 0] - wai_mean[0]) / a2_sd
    return dict(alliance=alliance, alliance_z=z0, alliance_w2z=a2z)


def _questionnaire_calendar(rng: np.random.Generator, trial: dict, study: Study) -> dict:
    """The day each form would be completed: the study schedule's planned date (treatment starts at
    the earliest attended session, else at (re-)randomization + the fallback) + a delay."""
    n = trial["n"]
    attended, session_on = trial["attended"], trial["session_on"]
    first_attended = np.where(attended.any(axis=1),
                              np.where(attended, session_on, np.iinfo(np.int64).max).min(axis=1),
                              trial["ready"] - 7 + study.treatment_start_fallback_days)
    planned = planned_days(study, trial["randomized_on"], trial["rerandomized_on"], first_attended)
    t0_on = planned["T0"] + trial["t0_delay"]
    t0b_on = np.where(trial["is_tau"], planned["T0b"] + trial["t0b_delay"], -1)
    w_on = (np.stack([planned[w] for w in ALLIANCE_WEEKS], axis=1)
            + completion_delay(rng, "W", (n, len(ALLIANCE_WEEKS))))
    fu_on = np.stack([planned[tp] + completion_delay(rng, tp, n) for tp in FOLLOW_UPS], axis=1)
    return dict(t0_on=t0_on, t0b_on=t0b_on, w_on=w_on, fu_on=fu_on)


def _latent_outcomes(rng: np.random.Generator, trial: dict) -> dict:
    """Latent distress *d* and well-being *m* (SD units) at baseline, T0b and each follow-up.

    Baseline: corr(d, m) = rho_dm.  Waiting list: d0b = −tau_improve + s·d0 + √(1−s²)·e.
    Follow-up k (decay 1 at T1, then followup_decay): d = −t1_improve·dose + stab_k·d_base +
    decay·β_condition·z_W2 + e, dose = floor + (1 − floor)·attended / sessions, stab_k =
    t1_stability·(1 − .08k); m likewise with +t1_improve and β = alliance_on_wellbeing."""
    P = PARAMS
    n = trial["n"]
    is_tau = trial["is_tau"]
    a2z = trial["alliance_w2z"]
    d0 = rng.standard_normal(n)
    m0 = P["rho_dm"] * d0 + np.sqrt(1 - P["rho_dm"] ** 2) * rng.standard_normal(n)
    s = P["tau_stability"]
    e_tau = rng.standard_normal((n, 2))
    d0b = -P["tau_improve"][0] + s * d0 + np.sqrt(1 - s ** 2) * e_tau[:, 0]
    m0b = P["tau_improve"][1] + s * m0 + np.sqrt(1 - s ** 2) * (
        P["rho_dm"] * e_tau[:, 0] + np.sqrt(1 - P["rho_dm"] ** 2) * e_tau[:, 1])
    d_base = np.where(is_tau, d0b, d0)
    m_base = np.where(is_tau, m0b, m0)
    dose = P["dose_floor"] + (1 - P["dose_floor"]) * trial["n_attended"] / N_SESSIONS
    beta_d = np.array([P["alliance_on_distress"][c] for c in CONDITIONS])[trial["treatment"]]
    beta_m = P["alliance_on_wellbeing"]
    rc = P["t1_resid_corr"]
    d_fu = np.empty((n, len(FOLLOW_UPS)))
    m_fu = np.empty((n, len(FOLLOW_UPS)))
    for k, decay in enumerate((1.0, *P["followup_decay"])):
        e = rng.standard_normal((n, 2))
        e_d = P["t1_resid"][0] * e[:, 0]
        e_m = P["t1_resid"][1] * (rc * e[:, 0] + np.sqrt(1 - rc ** 2) * e[:, 1])
        stab = P["t1_stability"] * (1.0 - 0.08 * k)
        d_fu[:, k] = -P["t1_improve"][0] * dose + stab * d_base + decay * beta_d * a2z + e_d
        m_fu[:, k] = P["t1_improve"][1] * dose + stab * m_base + decay * beta_m * a2z + e_m
    return dict(d0=d0, m0=m0, d0b=d0b, m0b=m0b, d_fu=d_fu, m_fu=m_fu)


def _returned_forms(rng: np.random.Generator, trial: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per timepoint: (returned, completion day).  Returned with probability
    logistic(return_logit + compliance − stopped_penalty·stopped at follow-up), and only when
    the form exists for the participant: T0b on the waiting list, week w's form while still in
    treatment after session w − 1, follow-ups until lost to follow-up."""
    P = PARAMS
    n = trial["n"]
    stops, stop_session = trial["stops"], trial["stop_session"]
    ltfu, ltfu_from = trial["ltfu"], trial["ltfu_from"]
    compliance = P["compliance_sd"] * rng.standard_normal(n)
    in_tx = {week: stop_session > ALLIANCE_WEEK_NUMBERS[week] - 1 for week in ALLIANCE_WEEKS}
    forms: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    u_ret = rng.random((n, len(TIMEPOINTS)))
    for j, tp in enumerate(TIMEPOINTS):
        logit = P["return_logit"][tp] + compliance
        if tp in FOLLOW_UPS:
            logit = logit - P["stopped_penalty"] * stops
        returned = u_ret[:, j] < 1 / (1 + np.exp(-logit))
        if tp == "T0":
            date = trial["t0_on"]
        elif tp == "T0b":
            returned &= trial["is_tau"]
            date = trial["t0b_on"]
        elif tp in in_tx:
            returned &= in_tx[tp]
            date = trial["w_on"][:, ALLIANCE_WEEKS.index(tp)]
        else:
            k = FOLLOW_UPS.index(tp)
            returned &= ~(ltfu & (ltfu_from <= k))
            date = trial["fu_on"][:, k]
        forms[tp] = (returned, date)
    return forms
