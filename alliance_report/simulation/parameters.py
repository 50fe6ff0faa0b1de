"""The numbers of the simulated BeMind trial: the demo's seed and cut-off, the design counts of
the paper, the population it recruits from, and the model parameters :data:`PARAMS` (their
rationale in ``benchmarks/calibrate_simulation.py``).

Conditions, arms, timepoints and instruments are those of :mod:`alliance_report.design`; the
dictionaries here are keyed by their names.
"""

from __future__ import annotations

from alliance_report.design import DISPOSITION_EVENTS, PARTICIPANT_LEVELS

DEMO_SEED: int = 20140113
STUDY = "BeMind"
DEMO_CUTOFF: str = "2018-03-01"

# Design counts of the trial (Bisseling et al. 2019, Figure 1), per arm of design.ALLOCATIONS
# and per condition of design.CONDITIONS (the second randomization of the waiting list)
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

# Table 1 of the paper, treated population, per treatment condition
TABLE1 = {
    "MBCT": {"female": 0.842, "partner": 0.850, "children": 0.658, "high_education": 0.708},
    "eMBCT": {"female": 0.872, "partner": 0.800, "children": 0.720, "high_education": 0.648},
}
MIDDLE_SHARE_OF_NOT_HIGH = 0.7
EDUCATION = PARTICIPANT_LEVELS["education"]       # the model codes them 0, 1, 2: low, middle, high
CANCER_TYPES = PARTICIPANT_LEVELS["cancer_type"]  # in this order: the probabilities below
CANCER_P_FEMALE = (0.74, 0.05, 0.0, 0.03, 0.06, 0.05, 0.02, 0.05)
CANCER_P_MALE = (0.0, 0.20, 0.22, 0.10, 0.0, 0.22, 0.08, 0.18)
P_PALLIATIVE = 0.14

# disposition events; the model codes them by their index (0: no event)
EVENTS = ("", *DISPOSITION_EVENTS)
DISCONTINUED, WITHDREW, LOST = 1, 2, 3
DISCONTINUATION_REASONS = ("too burdensome", "physical health", "no time",
                           "did not like the intervention", "personal circumstances")
DISCONTINUATION_P = {"MBCT": (0.25, 0.30, 0.22, 0.10, 0.13), "eMBCT": (0.22, 0.25, 0.18, 0.23, 0.12)}
WITHDRAWAL_REASONS = ("too burdensome", "physical health", "no longer wishes to participate")
LTFU_REASONS = ("", "no response to reminders")


PARAMS = {
    # --- calendar (days); recruitment dates, waiting period and visit schedule: studies/BeMind.toml
    "waiting_spread_days": 7,            # TAU re-randomized within ± this of the planned waiting period
    "group_cycle_days": 28,              # a new MBCT group starts every 4 weeks per site
    # questionnaires completed this many days from their planned date (uniform, inclusive);
    # "W": every alliance week
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
    # --- item models per instrument: level, loading, noise, sub-factor share
    "items": {
        "WAI": (0.0, 1.0, 0.62, 0.20),
        "HADS": (1.36, 0.47, 0.52, 0.22),
        "MHCSF": (2.60, 0.75, 0.75, 0.25),
    },
    # --- alliance trajectory (WAI mean-score units)
    "wai_mean": (3.28, 3.45, 3.63),      # per alliance week (W2, W5, W9)
    "wai_intercept_sd": 0.55,
    "wai_slope_sd": 0.42,                # SD of the change from the first to the last alliance week
    "wai_slope_corr": -0.2,
    "wai_occasion_sd": 0.20,
    "wai_embct_shift": 0.0,
    # --- attendance
    "p_stop": {"MBCT": 0.15, "eMBCT": 0.25},   # stops treatment before the last session
    "stop_on_alliance": -0.25,           # log-odds per SD of the alliance intercept
    "stop_session_p": (0.16, 0.20, 0.20, 0.16, 0.12, 0.09, 0.07),   # first missed session 1..7
    "p_attend": 0.93,                    # each session while in treatment
    "p_withdraw_of_stoppers": 0.15,
    "p_disposition_of_stoppers": 0.80,
    "p_ltfu": 0.05,
    # --- questionnaire return: logit = base + compliance (+ penalty when stopped), per timepoint
    "compliance_sd": 1.0,
    "return_logit": {"T0": 6.0, "T0b": 3.3, "W2": 0.70, "W5": 2.3, "W9": 2.3,
                     "T1": 2.4, "T2": 1.6, "T3": 1.3},
    "stopped_penalty": 1.3,
    "p_instrument_skipped": 0.015,       # one instrument of a returned battery not filled in
    "p_careless_form": 0.02,
    "p_skip_item": (0.008, 0.25),        # ordinary / careless form
    "p_skip_without_row": 0.2,
}
