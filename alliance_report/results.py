"""The ``results.json`` model: the single source of every number in the report.

:func:`compute_results` runs the analyses on a validated freeze and returns a plain dict
with the keys of ``analysis-plan.md`` (values are JSON numbers, strings, booleans or null).
Rendering reads this dict and nothing else.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from alliance_report.analysis.alliance import alliance_descriptives, alliance_manova, alliance_mixed
from alliance_report.analysis.baseline import baseline_characteristics
from alliance_report.analysis.consort import check_consort, consort_counts
from alliance_report.analysis.dataset import build_dataset
from alliance_report.analysis.dropout import dropout_description, fit_dropout_model
from alliance_report.analysis.findings import findings
from alliance_report.analysis.outcome import fit_outcome_models
from alliance_report.analysis.reliability import reliability
from alliance_report.analysis.visits import interim_state, status_counts, visit_status
from alliance_report.freeze import Freeze, typed_tables
from alliance_report.provenance import provenance
from alliance_report.scoring import score_questionnaires
from alliance_report.settings import Settings
from alliance_report.study import Study, load_study

SCHEMA_VERSION = 1


def compute_results(freeze: Freeze, settings: Settings, study: Study | None = None) -> dict:
    """Typed tables → scored forms → analysis table and visit status → every analysis of the plan.

    ``study`` defaults to the configuration the manifest names (``studies/<study>.toml``).
    """
    manifest = freeze.manifest
    study = study or load_study(manifest["study"])
    tables = typed_tables(freeze)
    scores = score_questionnaires(tables["questionnaires"])
    data = build_dataset(tables, scores, settings.dropout_threshold)
    schedule, status = visit_status(tables, scores, data, study, manifest["cutoff_date"])
    alphas, alpha_n = reliability(tables["questionnaires"], data)
    results = {
        "schema_version": SCHEMA_VERSION,
        "study": manifest["study"],
        "freeze_id": manifest["freeze_id"],
        "cutoff_date": manifest["cutoff_date"],
        "simulated": freeze.simulated,
        "input_sha256": freeze.manifest_sha256,
        "settings": settings.as_dict(),
        "provenance": provenance(freeze),
        "study_configuration": study.as_dict(),
        "interim": interim_state(data, schedule, status),
        "visit_status": status_counts(status),
        "consort": consort_counts(tables, data, schedule, status),
        "baseline_characteristics": baseline_characteristics(data),
        "reliability": alphas,
        "reliability_n": alpha_n,
        "alliance_descriptives": alliance_descriptives(data),
        "dropout_model": fit_dropout_model(data),
        "dropout_description": dropout_description(data),
        "alliance_manova": alliance_manova(data),
        "alliance_mixed": alliance_mixed(data),
        "outcome_models": fit_outcome_models(data),
    }
    models = results["outcome_models"]
    check_consort(results["consort"], {
        "dropout_model": results["dropout_model"]["n"],
        "alliance_manova": results["alliance_manova"]["n"],
        "hads_model": models["hads"]["n"],
        "mhcsf_model": models["mhcsf"]["n"],
    })
    results["findings"] = findings(results)
    return results


def _clean(value):
    """NaN/inf are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def results_json(results: dict) -> str:
    """Deterministic JSON text (stable key order as built, full float precision)."""
    return json.dumps(_clean(results), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_results(results: dict, path: Path) -> None:
    path.write_text(results_json(results), encoding="utf-8")
