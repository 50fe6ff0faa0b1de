"""Synthetic BeMind data freezes from a generative model of the trial.

:func:`simulate_freeze` writes a freeze in format v1 (``shared/spec/freeze-format.md``,
manifest ``simulated: true``).  Nothing in it is a stored result: every number comes from
a model of the trial, simulated participant by participant, and the analyses of the
report have to *find* the paper's pattern in it.

The model (parameters in :data:`.parameters.PARAMS`, their rationale in
``benchmarks/calibrate_simulation.py``; conditions, arms, weeks, timepoints and instruments
are those of :mod:`alliance_report.design` and :mod:`alliance_report.scoring`):

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

The full trial is simulated first; ``cutoff_date`` then censors it (:mod:`.tables`): an
interim freeze of a seed is a consistent earlier view of the final freeze of that seed, with
the same ids.  Output is byte-deterministic for (seed, arguments).

Modules: :mod:`.parameters` (the numbers), :mod:`.dates`, :mod:`.model` (participants,
alliance, outcomes, returned forms), :mod:`.conduct` (attendance, disposition, screening),
:mod:`.items` (questionnaire items), :mod:`.tables` (censoring, the CSV files),
:mod:`.writer` (the freeze folder and its manifest); ``python -m alliance_report.simulation
DIR`` regenerates the demo freeze.
"""

from alliance_report.simulation.parameters import DEMO_CUTOFF, DEMO_SEED, PARAMS, STUDY
from alliance_report.simulation.tables import build_tables
from alliance_report.simulation.writer import simulate_freeze

__all__ = ["DEMO_CUTOFF", "DEMO_SEED", "PARAMS", "STUDY", "build_tables", "simulate_freeze"]
