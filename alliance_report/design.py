"""The fixed facts of the trial design that every module shares (freeze-format.md, analysis-plan.md).

Conditions, arms, timepoints and which instrument is administered at which timepoint are
defined here once; the study's calendar (when a timepoint is due) is in ``studies/<study>.toml``
(:mod:`alliance_report.study`).
"""

from __future__ import annotations

# treatment conditions (column `treatment`); the alliance analysis compares these two
CONDITIONS: tuple[str, ...] = ("MBCT", "eMBCT")
# the analyses' 0/1 code of the condition (``condition_embct``): MBCT is the reference (0), so a
# condition term or contrast is eMBCT − MBCT
REFERENCE_CONDITION, COMPARED_CONDITION = CONDITIONS
CONDITION_CODE: dict[str, float] = {REFERENCE_CONDITION: 0.0, COMPARED_CONDITION: 1.0}
# first randomization (column `allocation`)
ALLOCATIONS: tuple[str, ...] = ("MBCT", "eMBCT", "TAU")
WAITING_LIST = "TAU"
# the columns that carry a participant's treatment arm, per file (the open edition has none of them)
ARM_COLUMNS: dict[str, tuple[str, ...]] = {"participants.csv": ("allocation", "treatment")}
N_SESSIONS = 8

TIMEPOINTS: tuple[str, ...] = ("T0", "T0b", "W2", "W5", "W9", "T1", "T2", "T3")
# baseline (T0) and, for the waiting list re-randomized after it, the second baseline (T0b)
BASELINE_TIMEPOINTS: tuple[str, ...] = ("T0", "T0b")
ALLIANCE_WEEKS: tuple[str, ...] = ("W2", "W5", "W9")
# the week of treatment of each alliance timepoint ("W2" → 2)
ALLIANCE_WEEK_NUMBERS: dict[str, int] = {week: int(week[1:]) for week in ALLIANCE_WEEKS}
# the mean of the alliance weeks (16/3): where the mixed model's condition contrast is taken
MEAN_ALLIANCE_WEEK: float = sum(ALLIANCE_WEEK_NUMBERS.values()) / len(ALLIANCE_WEEK_NUMBERS)
# the analysis table's WAI total of each alliance week ("W2" → "wai_w2")
WAI_COLUMNS: dict[str, str] = {week: f"wai_{week.lower()}" for week in ALLIANCE_WEEKS}
FOLLOW_UPS: tuple[str, ...] = ("T1", "T2", "T3")
# the post-treatment follow-up: the outcomes of Aim 3 and CONSORT's follow-up box
POST_TREATMENT = FOLLOW_UPS[0]
# the timepoints the analyses use: baseline, the alliance weeks and the post-treatment follow-up
# (T2 and T3 are collected, and counted in the trial conduct, but no analysis of the plan uses them)
ANALYSED_TIMEPOINTS: tuple[str, ...] = (*BASELINE_TIMEPOINTS, *ALLIANCE_WEEKS, POST_TREATMENT)
# the levels of the categorical columns of participants.csv (freeze-format.md), in the order Table 1
# lists them; Table 1 shows the first level of a two-level column (female, yes, curative)
PARTICIPANT_LEVELS: dict[str, tuple[str, ...]] = {
    "sex": ("female", "male"),
    "partner": ("yes", "no"),
    "children": ("yes", "no"),
    "education": ("low", "middle", "high"),
    "cancer_type": ("breast", "colorectal", "prostate", "lung", "gynaecological", "haematological", "melanoma",
                    "other"),
    "treatment_intent": ("curative", "palliative"),
}
# the events of disposition.csv (column `event`), in the order the report lists them
DISPOSITION_EVENTS: tuple[str, ...] = ("discontinued_treatment", "withdrew_from_study", "lost_to_follow_up")
# each event in words (CONSORT's reason keys: "withdrew from study: moved")
DISPOSITION_EVENT_WORDS: dict[str, str] = dict(zip(DISPOSITION_EVENTS, ("discontinued treatment", "withdrew from study",
                                                                       "lost to follow-up")))
INSTRUMENTS: tuple[str, ...] = ("WAI", "HADS", "MHCSF")
# each instrument's abbreviation and name (its items, ranges and scoring: scoring.INSTRUMENTS)
INSTRUMENT_TITLES: dict[str, tuple[str, str]] = {
    "WAI": ("WAI-SR", "Working Alliance Inventory–Short Revised"),
    "HADS": ("HADS", "Hospital Anxiety and Depression Scale"),
    "MHCSF": ("MHC-SF", "Mental Health Continuum–Short Form"),
}
# each instrument as the tables name it (their footnotes write the names out: "WAI: Working Alliance
# Inventory–Short Revised"); the Methods introduce the WAI-SR by its own abbreviation
INSTRUMENT_LABELS: dict[str, str] = {"WAI": "WAI", "HADS": "HADS", "MHCSF": "MHC-SF"}
# the outcomes of Aim 3, as results.json names their models (outcome_models.<scale>, .<scale>_moderation)
OUTCOME_SCALES: tuple[str, ...] = ("hads", "mhcsf")
OUTCOME_INSTRUMENTS: dict[str, str] = {"hads": "HADS", "mhcsf": "MHCSF"}  # the instrument of each outcome
# the instruments of each timepoint (an instrument at another timepoint is a validation error)
TIMEPOINT_INSTRUMENTS: dict[str, tuple[str, ...]] = {
    tp: ("WAI",) if tp in ALLIANCE_WEEKS else ("HADS", "MHCSF") for tp in TIMEPOINTS
}
# the main questionnaire of each timepoint (the first of its instruments): the retention figure's
MAIN_INSTRUMENT: dict[str, str] = {tp: instruments[0] for tp, instruments in TIMEPOINT_INSTRUMENTS.items()}
