"""The simulated freeze: the committed demo freeze is the model's output, the seed and the trial's
proportions are used, and the demo resembles the published trial as the tool itself analyses it.

That a simulated freeze follows freeze-format.md is checked by the tool's own validation suite,
not by a second reading of the format here: tests/test_validation_cli.py (the demo and other
seeds) and tests/test_freeze_sequence.py (one trial at three cut-offs).  That an interim freeze
is an earlier view of the same trial (no data change between cut-offs) is checked by the tool's
comparison of freezes, in tests/test_freeze_sequence.py.
"""

from __future__ import annotations

import json

import pytest

from alliance_report import DEMO_FREEZE
from alliance_report.freeze import COLUMNS
from alliance_report.simulation import DEMO_SEED, simulate_freeze
from alliance_report.simulation.model import split_counts
from alliance_report.simulation.parameters import ALLOCATION_COUNTS, RERANDOMIZATION_COUNTS
from alliance_report.simulation.tables import csv_bytes

FILES = ("manifest.json", *COLUMNS)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return simulate_freeze(tmp_path_factory.mktemp("demo") / "freeze", seed=DEMO_SEED)


def test_committed_demo_freeze_is_the_model_output(demo):
    for name in FILES:
        assert (DEMO_FREEZE / name).read_bytes() == (demo / name).read_bytes(), (
            f"data/demo-freeze/{name} differs from simulate_freeze(seed=DEMO_SEED); "
            "regenerate with: .venv/bin/python -m alliance_report.simulation data/demo-freeze")
    assert sorted(p.name for p in DEMO_FREEZE.iterdir()) == sorted(FILES)


def test_another_seed_is_another_trial(tmp_path, demo):
    other = simulate_freeze(tmp_path / "other", seed=DEMO_SEED + 1)
    for name in COLUMNS:
        assert (other / name).read_bytes() != (demo / name).read_bytes(), name


def test_the_trial_proportions_are_kept_at_any_size():
    """Largest-remainder rounding: 60 × (77, 90, 78) / 245 = (18.86, 22.04, 19.10) and the 19 of
    TAU × (43, 35) / 78 = (10.47, 8.53); the counts always add up to n."""
    assert split_counts(60, ALLOCATION_COUNTS) == {"MBCT": 19, "eMBCT": 22, "TAU": 19}
    assert split_counts(19, RERANDOMIZATION_COUNTS) == {"MBCT": 10, "eMBCT": 9}
    assert split_counts(245, ALLOCATION_COUNTS) == ALLOCATION_COUNTS
    for n in range(0, 400):
        counts = split_counts(n, ALLOCATION_COUNTS)
        assert sum(counts.values()) == n
        assert all(abs(counts[arm] - n * share / 245) < 1 for arm, share in ALLOCATION_COUNTS.items()), n


# The published trial (Bisseling et al. 2019; benchmarks/calibrate_simulation.py prints the same
# figures): the design counts and Table 1 are the paper's by design of the model; the samples,
# the tests and the estimates below come out of the analysis of simulated answers and are
# checked with a tolerance.  The paper's B for HADS, -.12 per point of the WAI sum score, is
# -1.44 per point of the mean score the tool uses (README, "The demo freeze").
PAPER_TABLE1 = {("sex", "female"): (84.2, 87.2), ("partner", "yes"): (85.0, 80.0),
                ("children", "yes"): (65.8, 72.0), ("education", "high"): (70.8, 64.8)}


def test_the_demo_resembles_the_published_trial(demo_built):
    r = json.loads((demo_built / "results.json").read_text())
    consort = r["consort"]
    assert (consort["randomized"], consort["allocated"], consort["rerandomized"]) == (
        245, {"MBCT": 77, "eMBCT": 90, "TAU": 78}, {"MBCT": 43, "eMBCT": 35})
    assert not r["interim"]["is_interim"] and consort["in_treatment"] == {"MBCT": 0, "eMBCT": 0}
    rows = {(row["variable"], row["level"]): row["cells"] for row in r["baseline_characteristics"]["rows"]}
    for key, (mbct, embct) in PAPER_TABLE1.items():
        assert (round(rows[key]["MBCT"]["pct"], 1), round(rows[key]["eMBCT"]["pct"], 1)) == (mbct, embct), key
    assert 17 <= rows[("baseline_hads", None)]["overall"]["mean"] <= 21  # the model's target: about 19

    manova = r["alliance_manova"]  # paper: n=93, time Λ=.732 P<.001, condition P=.74, time×condition P>.05
    assert abs(manova["n"] - 93) <= 9
    assert manova["time"]["p"] < 0.001 and abs(manova["time"]["wilks"] - 0.732) <= 0.15
    assert manova["condition"]["p"] > 0.05 and manova["time_x_condition"]["p"] > 0.05
    means = r["alliance_descriptives"]["available"]  # about 3.3 at week 2, rising to 3.7 at week 9
    for arm in ("MBCT", "eMBCT"):
        weeks = [means[arm][week]["mean"] for week in ("W2", "W5", "W9")]
        assert weeks == sorted(weeks) and 3.1 <= weeks[0] <= 3.6 and 3.5 <= weeks[2] <= 3.9, (arm, weeks)

    dropout = r["dropout_model"]["terms"]["wai_w2"]  # paper: B=-.39, P=.21
    assert dropout["b"] < 0 and dropout["p"] > 0.05
    models = r["outcome_models"]  # paper: HADS n=118 P=.01, MHC-SF n=117 P=.01, moderation P=.03
    hads, mhcsf = models["hads"], models["mhcsf"]
    assert abs(hads["n"] - 118) <= 12 and abs(mhcsf["n"] - 117) <= 12
    assert -2 * 1.44 <= hads["terms"]["wai_w2"]["b"] <= -1.44 / 2 and hads["terms"]["wai_w2"]["p"] < 0.05
    assert mhcsf["terms"]["wai_w2"]["b"] > 0 and mhcsf["terms"]["wai_w2"]["p"] < 0.05
    interaction = models["hads_moderation"]["terms"]["wai_w2_c_x_condition_embct"]
    assert interaction["b"] > 0 and interaction["p"] < 0.05
    alpha = r["reliability"]  # the model's targets: WAI about .89-.91, HADS .86, MHC-SF .87
    assert all(0.84 <= a <= 0.96 for a in alpha["WAI"].values()), alpha
    assert all(0.80 <= a <= 0.93 for scale in ("HADS", "MHCSF") for a in alpha[scale].values()), alpha


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        simulate_freeze(tmp_path / "a", n_randomized=100, n_screened=50)
    with pytest.raises(ValueError):
        simulate_freeze(tmp_path / "b", cutoff_date="2013-01-01")    # nobody randomized yet
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        simulate_freeze(tmp_path / "b", cutoff_date="1 March 2018")
    with pytest.raises(ValueError):
        simulate_freeze(tmp_path / "b", seed=None)
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "extra.csv").write_text("x\n")
    with pytest.raises(ValueError):
        simulate_freeze(tmp_path / "c", n_randomized=30)


def test_csv_writer_quotes_when_needed():
    plain = csv_bytes({"participant_id": ["P1"], "event": ["lost_to_follow_up"], "event_on": ["2015-01-01"],
                        "reason": [""]}, "disposition.csv")
    assert plain == b"participant_id,event,event_on,reason\nP1,lost_to_follow_up,2015-01-01,\n"
    quoted = csv_bytes({"participant_id": ["P1"], "event": ["withdrew_from_study"], "event_on": ["2015-01-01"],
                         "reason": ['moved, "abroad"']}, "disposition.csv")
    assert quoted.endswith(b'P1,withdrew_from_study,2015-01-01,"moved, ""abroad"""\n')
