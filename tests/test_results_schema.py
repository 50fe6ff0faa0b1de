"""results.json matches its schema (alliance_report/schemas/results.schema.json), in every edition
and at every stage of a trial; a results.json that does not is never published."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest

import freeze_corruptions as fc
from alliance_report import results as results_module
from alliance_report.analysis.conduct import EVENTS
from alliance_report.analysis.visits import STATUSES
from alliance_report.cli import main
from alliance_report.comparison import add_changes, prepare
from alliance_report.design import ALLOCATIONS, CONDITIONS, TIMEPOINT_INSTRUMENTS, TIMEPOINTS
from alliance_report.freeze import FREEZE_FILES, read_freeze
from alliance_report.provenance import build_metadata
from alliance_report.results import compute_editions
from alliance_report.results_schema import results_json, write_results
from alliance_report.results_schema import ResultsSchemaError, check_results, schema
from alliance_report.settings import Settings
from alliance_report.simulation import simulate_freeze

PREFIX = "the {edition} edition's results.json does not match its schema at {path}: "


def as_written(results: dict) -> dict:
    """What results.json holds: the JSON text parsed again."""
    return json.loads(results_json(results))


def editions(freeze_dir: Path, previous_dir: Path | None = None) -> dict[str, dict]:
    """Both editions' results of a freeze as the build writes them (with the ``changes`` block)."""
    settings = Settings()
    freeze = read_freeze(freeze_dir)
    results = compute_editions(freeze, settings, build_metadata=build_metadata())
    comparison = prepare(previous_dir, freeze, settings) if previous_dir else None
    add_changes(results, comparison)
    return {edition: as_written(edition_results) for edition, edition_results in results.items()}


def relabel_one_participant(folder: Path) -> str:
    """A first-round MBCT participant becomes eMBCT (allocation and treatment) and a year older:
    data changes of arm columns and of baseline data."""
    rows = fc.records(folder, "participants.csv")
    header = list(rows[0])
    row = next(r for r in rows if r["allocation"] == "MBCT" and r["treatment"] == "MBCT")
    row["allocation"] = row["treatment"] = "eMBCT"
    row["age"] = str(int(row["age"]) + 1)
    fc.write_records(folder, "participants.csv", header, rows)
    fc.refresh_manifest(folder)
    return row["participant_id"]


@pytest.fixture(scope="module")
def interim(tmp_path_factory):
    """Results of early interim freezes (nearly every model not estimable; some estimable), of a
    tiny trial, and of a freeze compared with the previous one with data changes in arm columns."""
    root = tmp_path_factory.mktemp("schema-interim")
    first = simulate_freeze(root / "2014-03-01", cutoff_date="2014-03-01")
    second = simulate_freeze(root / "2014-06-01", cutoff_date="2014-06-01")
    changed = root / "2014-06-01-changed"
    shutil.copytree(second, changed)
    relabel_one_participant(changed)
    tiny = simulate_freeze(root / "tiny", n_randomized=3, seed=1)
    return {"2014-03-01": editions(first), "2014-06-01": editions(second, first),
            "compared with data changes": editions(changed, first), "tiny": editions(tiny)}


@pytest.fixture(scope="module")
def demo(demo_built):
    return {edition: json.loads((demo_built / folder / "results.json").read_text(encoding="utf-8"))
            for edition, folder in (("closed", "."), ("open", "open"))}


def mismatch(results: dict) -> ResultsSchemaError:
    with pytest.raises(ResultsSchemaError) as caught:
        check_results(results)
    return caught.value


# ------------------------------------------------------------------------------ what matches


@pytest.mark.parametrize("edition", ["closed", "open"])
def test_the_demo_builds_results_match_the_schema(demo, edition):
    assert demo[edition]["edition"] == edition
    check_results(demo[edition])


@pytest.mark.parametrize("case", ["2014-03-01", "2014-06-01", "compared with data changes", "tiny"])
@pytest.mark.parametrize("edition", ["closed", "open"])
@pytest.mark.slow  # four simulated freezes of its own, analysed (the `interim` fixture)
def test_interim_and_tiny_freezes_results_match_the_schema(interim, case, edition):
    check_results(interim[case][edition])


@pytest.mark.slow  # four simulated freezes of its own, analysed (the `interim` fixture)
def test_the_interim_cases_hold_the_shapes_of_not_estimable_models(interim):
    """The cases above are worth their name: null estimates with reasons, a comparison with
    data changes of arm columns (blank in the open edition), key results with nulls."""
    early = interim["2014-03-01"]["closed"]
    assert early["dropout_model"]["not_estimable_reason"] and early["dropout_model"]["terms"]["wai_w2"]["b"] is None
    assert early["alliance_manova"]["time"]["p"] is None
    assert all(model["not_estimable_reason"] and "observed" not in model and "fitted_lines" not in model
               for model in early["outcome_models"].values())
    assert early["conduct"]["accrual"]["rate_months"] is None
    later = interim["2014-06-01"]["closed"]
    assert later["outcome_models"]["hads"]["not_estimable_reason"] is None
    assert later["outcome_models"]["hads_moderation"]["not_estimable_reason"]
    changed = interim["compared with data changes"]
    columns = {change["column"] for change in changed["closed"]["changes"]["data_changes"]}
    assert {"allocation", "treatment", "age"} <= columns
    assert any(row["previous"] is None for row in changed["closed"]["changes"]["key_results"])
    arm = [c for c in changed["open"]["changes"]["data_changes"] if c["column"] in ("allocation", "treatment")]
    assert arm and all(c["previous"] is None and c["current"] is None for c in arm)


# ------------------------------------------------------------------------------ the open edition


BY_ARM_PATHS = ["conduct.accrual", "conduct.sites[0]", "conduct.sites_total", "conduct.completeness",
                "conduct.timeliness", "conduct.disposition", "baseline_characteristics.n",
                "baseline_characteristics.rows[0].cells", "baseline_characteristics.rows[0]", "the top level"]


def _open_injections(closed: dict) -> dict:
    """Sections by arm, each taken from the closed results, and where it would go in the open ones."""
    conduct = closed["conduct"]
    return {
        "conduct.accrual": ("conduct", "accrual", "by_arm", conduct["accrual"]["by_arm"]),
        "conduct.sites[0]": ("conduct", "sites", 0, "by_arm", conduct["sites"][0]["by_arm"]),
        "conduct.sites_total": ("conduct", "sites_total", "by_arm", conduct["sites_total"]["by_arm"]),
        "conduct.completeness": ("conduct", "completeness", "by_arm", conduct["completeness"]["by_arm"]),
        "conduct.timeliness": ("conduct", "timeliness", "by_arm", conduct["timeliness"]["by_arm"]),
        "conduct.disposition": ("conduct", "disposition", "by_arm", conduct["disposition"]["by_arm"]),
        "baseline_characteristics.n": ("baseline_characteristics", "n", "MBCT", closed["baseline_characteristics"]["n"]["MBCT"]),
        "baseline_characteristics.rows[0].cells": ("baseline_characteristics", "rows", 0, "cells", "eMBCT",
                                                   closed["baseline_characteristics"]["rows"][0]["cells"]["eMBCT"]),
        "baseline_characteristics.rows[0]": ("baseline_characteristics", "rows", 0, "smd",
                                             closed["baseline_characteristics"]["rows"][0]["smd"]),
        "the top level": ("consort", closed["consort"]),
    }


def _inject(results: dict, where: tuple) -> dict:
    results = copy.deepcopy(results)
    *keys, last, value = where
    target = results
    for key in keys:
        target = target[key]
    target[last] = value
    return results


@pytest.mark.parametrize("path", BY_ARM_PATHS)
def test_the_open_edition_refuses_a_section_by_arm(demo, path):
    injections = _open_injections(demo["closed"])
    assert list(injections) == BY_ARM_PATHS
    where = injections[path]
    error = mismatch(_inject(demo["open"], where))
    assert str(error).startswith(PREFIX.format(edition="open", path=path)), str(error)


def test_the_closed_results_labelled_open_fail(demo):
    labelled = dict(demo["closed"], edition="open")
    assert "does not match its schema" in str(mismatch(labelled))


@pytest.mark.slow  # four simulated freezes of its own, analysed (the `interim` fixture)
def test_the_open_edition_refuses_a_value_of_a_data_change(interim):
    """Any value: not only an arm column's (session dates follow the arm, item values are outcomes)."""
    opened = interim["compared with data changes"]["open"]
    index = next(i for i, c in enumerate(opened["changes"]["data_changes"]) if c["column"] == "allocation")
    for column, key, value in (("allocation", "previous", "MBCT"), ("allocation", "current", "eMBCT"),
                               ("session_on", "previous", "2014-04-14"), (None, "previous", "P0016,1,yes,2014-04-14")):
        results = copy.deepcopy(opened)
        results["changes"]["data_changes"][index] |= {"file": "sessions.csv", "column": column, key: value}
        error = mismatch(results)
        assert str(error).startswith(PREFIX.format(edition="open", path=f"changes.data_changes[{index}].{key}"))


@pytest.mark.parametrize("keys", [("input_sha256",), ("provenance", "input_files", "participants.csv"),
                                  ("changes", "previous", "input_sha256")])
@pytest.mark.slow  # four simulated freezes of its own, analysed (the `interim` fixture)
def test_the_open_edition_refuses_a_digest_that_depends_on_the_arms(interim, keys):
    """The SHA-256 of participants.csv, and of a manifest (which lists it), would confirm a guessed
    allocation list: null in the open edition; the closed edition needs them."""
    *parents, last = keys

    def holder(results):
        for key in parents:
            results = results[key]
        return results
    closed, opened = (copy.deepcopy(interim["compared with data changes"][e]) for e in ("closed", "open"))
    assert holder(opened)[last] is None and holder(closed)[last] is not None
    holder(opened)[last], holder(closed)[last] = holder(closed)[last], None
    path = ".".join(keys)
    assert str(mismatch(opened)).startswith(PREFIX.format(edition="open", path=path))
    assert str(mismatch(closed)).startswith(PREFIX.format(edition="closed", path=path))


def test_the_closed_edition_needs_its_sections_by_arm(demo):
    results = copy.deepcopy(demo["closed"])
    del results["conduct"]["timeliness"]["by_arm"]
    error = mismatch(results)
    assert str(error).startswith(PREFIX.format(edition="closed", path="conduct.timeliness") + "'by_arm' is a required")


# ------------------------------------------------------------------------------ mismatches name their key


def _remove(results, keys):
    *parents, last = keys
    for key in parents:
        results = results[key]
    del results[last]


def _set(value):
    def change(results, keys):
        *parents, last = keys
        for key in parents:
            results = results[key]
        results[last] = value
    return change


def _rename(new):
    def change(results, keys):
        *parents, last = keys
        for key in parents:
            results = results[key]
        results[new] = results.pop(last)
    return change


@pytest.mark.parametrize("keys, change, path, message", [
    (("alliance_manova", "time", "wilks"), _remove, "alliance_manova.time", "'wilks' is a required property"),
    (("findings",), _remove, "the top level", "'findings' is a required property"),
    (("dropout_model", "terms", "wai_w2", "b"), _set("-0.61"), "dropout_model.terms.wai_w2.b",
     "'-0.61' is not of type 'number', 'null'"),
    (("outcome_models", "hads", "terms", "wai_w2", "p"), _set(1.5), "outcome_models.hads.terms.wai_w2.p",
     "1.5 is greater than the maximum of 1"),
    (("alliance_mixed", "terms", "week", "p"), _set(-0.01), "alliance_mixed.terms.week.p",
     "-0.01 is less than the minimum of 0"),
    (("consort", "randomized"), _set(245.0), "consort.randomized", "245.0 is not of type 'integer'"),
    (("conduct", "sites", 1, "screened"), _set(-1), "conduct.sites[1].screened", "-1 is less than the minimum of 0"),
    (("conduct", "accrual", "rate_last_3_months"), _rename("rate"), "conduct.accrual", ""),
    (("outcome_models", "hads", "observed", "wai_w2", 3), _set("3.5"), "outcome_models.hads.observed.wai_w2[3]",
     "'3.5' is not of type 'number'"),
    (("outcome_models", "mhcsf", "diagnostics", "fitted", 0), _set(None), "outcome_models.mhcsf.diagnostics.fitted[0]",
     "None is not of type 'number'"),
    (("outcome_models", "hads", "observed", "condition", 5), _set("TAU"), "outcome_models.hads.observed.condition[5]",
     "'TAU' is not one of ['MBCT', 'eMBCT']"),
])
def test_a_mismatch_names_its_key_path(demo, keys, change, path, message):
    results = copy.deepcopy(demo["closed"])
    change(results, keys)
    error = mismatch(results)
    assert str(error).startswith(PREFIX.format(edition="closed", path=path) + message), str(error)
    assert error.path == path


def test_write_results_writes_nothing_that_does_not_match(demo, tmp_path):
    results = copy.deepcopy(demo["open"])
    results["participant_flow"]["treated"] = "245"
    with pytest.raises(ResultsSchemaError, match="at participant_flow.treated: '245' is not of type 'integer'"):
        write_results(results, tmp_path / "results.json")
    assert not (tmp_path / "results.json").exists()
    write_results(demo["open"], tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text(encoding="utf-8")) == demo["open"]


# ------------------------------------------------------------------------------ one home per concept


def test_the_schema_names_the_design_of_design_py():
    """The schema is a JSON file: it repeats the trial's timepoints, instruments, arms, statuses,
    events and files; this test keeps them equal to their home in the code."""
    defs = schema()["$defs"]

    def instruments(block: dict, timepoint: str) -> list[str]:
        return defs[block["properties"][timepoint]["$ref"].split("/")[-1]]["required"]

    for block in ("visit_status", "completeness_fields"):
        assert defs[block]["required"] == list(TIMEPOINTS)
        assert {tp: instruments(defs[block], tp) for tp in TIMEPOINTS} == {
            tp: list(names) for tp, names in TIMEPOINT_INSTRUMENTS.items()}
    assert defs["timeliness_fields"]["required"] == list(TIMEPOINTS)
    assert defs["study_configuration"]["properties"]["schedule"]["required"] == list(TIMEPOINTS)
    assert defs["allocation_counts"]["required"] == list(ALLOCATIONS)
    assert defs["accrual_by_arm"]["required"] == list(ALLOCATIONS)
    assert defs["condition_counts"]["required"] == list(CONDITIONS)
    assert defs["condition"]["enum"] == list(CONDITIONS)
    assert defs["status_cell"]["required"] == list(STATUSES)
    assert defs["event_count_fields"]["required"] == list(EVENTS)
    assert defs["freeze_file"]["enum"] == list(FREEZE_FILES)


# ------------------------------------------------------------------------------ a build


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("jobs", [pytest.param("1", marks=pytest.mark.slow), "2"])
def test_a_build_whose_results_do_not_match_publishes_nothing(demo_pair, tmp_path, monkeypatch, capsys, jobs):
    """A bug that drops a key of the analysis: exit 3 (internal error) naming the key, and the
    previous output untouched — with one process and with the forked worker."""
    freeze, out = demo_pair
    target = tmp_path / "out"
    shutil.copytree(out, target)
    before, around = snapshot(target), sorted(p.name for p in tmp_path.iterdir())
    mixed = results_module.alliance_mixed

    def without_variance_components(data):
        model = mixed(data)
        del model["variance_components"]
        return model

    monkeypatch.setattr(results_module, "alliance_mixed", without_variance_components)
    monkeypatch.delenv("ALLIANCE_REPORT_DEBUG", raising=False)
    code = main(["build", str(freeze), "--out", str(target), "--force", "--quiet", "--jobs", jobs])
    err = capsys.readouterr().err
    assert code == 3, err
    assert ("internal error" in err and "the closed edition's results.json does not match its schema at "
            "alliance_mixed: 'variance_components' is a required property" in err), err
    assert snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == around
