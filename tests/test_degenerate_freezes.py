"""Degenerate freezes never crash a build and never show a misleading number.

Tiny trials, a freeze cut off before anyone finished treatment, and a freeze in which one
treatment condition is empty: every model that cannot be estimated is null in
results.json with a reason, and the report says why.
"""

import json

import pytest

from alliance_report.cli import main
from alliance_report.freeze import read_freeze
from alliance_report.render.report import build_report
from alliance_report.results import compute_results
from alliance_report.results_schema import results_json
from alliance_report.settings import Settings
from alliance_report.simulation import simulate_freeze
from alliance_report.validation import validate_freeze

MODELS = ("dropout_model", "alliance_manova", "alliance_mixed")


def all_models(results):
    yield from ((name, results[name]) for name in MODELS)
    yield from results["outcome_models"].items()


@pytest.mark.parametrize("kwargs", [
    {"n_randomized": 3, "seed": 1},  # (n=9, seed=3: test_tiny_freeze_builds_end_to_end)
    {"n_randomized": 245, "seed": 1, "cutoff_date": "2014-06-01"},  # separation in the dropout model (n=14)
    {"n_randomized": 245, "seed": 4, "cutoff_date": "2014-03-01"},
])
@pytest.mark.slow
def test_degenerate_freeze_gives_nulls_with_reasons(tmp_path, kwargs):
    freeze = read_freeze(simulate_freeze(tmp_path / "freeze", **kwargs))
    validation = validate_freeze(freeze)
    assert validation.ok
    results = compute_results(freeze, Settings())
    text = results_json(results)  # strict JSON: raises on NaN or infinity
    assert_nulls_with_reasons(json.loads(text))
    report = build_report(json.loads(text), validation.to_dict(), "2014-06-02")
    assert "could not be estimated" in report.html or "Not estimable" in report.html


def assert_nulls_with_reasons(results: dict) -> None:
    degenerate = [name for name, model in all_models(results) if model["not_estimable_reason"]]
    assert degenerate, "these freezes are too small for at least one model"
    for name, model in all_models(results):
        if model["not_estimable_reason"] and name != "alliance_manova":  # MANOVA may keep "time"
            assert all(term["b"] is None for term in model["terms"].values()), name


def test_one_empty_condition(tmp_path):
    """Drop every eMBCT participant's treatment data by keeping only MBCT-treated rows."""
    freeze = read_freeze(simulate_freeze(tmp_path / "freeze", n_randomized=60, seed=2))
    participants = freeze.tables["participants.csv"]
    embct = set(participants.loc[participants["treatment"] == "eMBCT", "participant_id"])
    for name in ("sessions.csv", "questionnaires.csv", "disposition.csv"):
        table = freeze.tables[name]
        freeze.tables[name] = table.loc[~table["participant_id"].isin(embct)].reset_index(drop=True)
    keep = ~participants["participant_id"].isin(embct)
    freeze.tables["participants.csv"] = participants.loc[keep].reset_index(drop=True)
    screening = freeze.tables["screening.csv"]
    freeze.tables["screening.csv"] = screening.loc[~screening["participant_id"].isin(embct)].reset_index(drop=True)

    results = compute_results(freeze, Settings())
    assert results["consort"]["treated"]["eMBCT"] == 0
    assert results["alliance_manova"]["condition"]["f"] is None
    assert results["alliance_manova"]["not_estimable_reason"]
    for name in ("hads", "mhcsf", "hads_moderation"):
        assert results["outcome_models"][name]["not_estimable_reason"].startswith("singular design")
    assert results["dropout_model"]["terms"]["wai_w2"]["b"] is None
    results_json(results)


@pytest.mark.slow
def test_tiny_freeze_builds_end_to_end(tmp_path, capsys):
    freeze = simulate_freeze(tmp_path / "freeze", n_randomized=9, seed=3)
    assert main(["build", str(freeze), "--out", str(tmp_path / "out")]) == 0
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert_nulls_with_reasons(results)
    assert results["dropout_model"]["not_estimable_reason"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "could not be estimated" in html
    assert "Traceback" not in capsys.readouterr().err
