"""The ``results.json`` model: the single source of every number in the report.

:func:`compute_editions` runs the analyses on a validated freeze and returns, per edition, a
plain dict (values are JSON numbers, strings, booleans or null): the closed edition's with the
keys of ``analysis-plan.md`` and the trial conduct by arm, the open edition's with the trial
conduct, the participant flow and the baseline pooled over the arms (committee-reports.md).
Rendering reads these dicts and nothing else.
"""

from __future__ import annotations

from alliance_report.analysis.alliance import alliance_descriptives, alliance_manova, alliance_mixed
from alliance_report.analysis.baseline import baseline_characteristics
from alliance_report.analysis.conduct import trial_conduct
from alliance_report.analysis.consort import analyses_estimated, check_consort, consort_counts
from alliance_report.analysis.dataset import build_dataset
from alliance_report.analysis.dropout import dropout_description, fit_dropout_model
from alliance_report.analysis.findings import findings
from alliance_report.analysis.outcome import fit_outcome_models
from alliance_report.analysis.pooled import POOLED, participant_flow, pool_arms
from alliance_report.analysis.reliability import reliability
from alliance_report.analysis.visits import interim_state, status_counts, visit_status
from alliance_report.freeze import Freeze, typed_tables
from alliance_report.provenance import NOT_RECORDED, open_digests, provenance
from alliance_report.scoring import score_questionnaires
from alliance_report.settings import EDITIONS, Settings
from alliance_report.study import Study, load_study

SCHEMA_VERSION = 1


def compute_editions(freeze: Freeze, settings: Settings, editions: tuple[str, ...] = EDITIONS,
                     study: Study | None = None, build_metadata: dict | None = None) -> dict[str, dict]:
    """The results of each edition: ``{"closed": …, "open": …}`` (spec: committee-reports.md).

    Typed tables and scored forms are computed once; the closed results from them, the open
    results from the same tables with the treatment arms pooled (:func:`pooled.pool_arms`), so
    that the open edition cannot depend on which arm a participant is in.  ``study`` defaults
    to the configuration the manifest names (``studies/<study>.toml``).  ``build_metadata``
    (:func:`alliance_report.provenance.build_metadata`: version, commit, package versions) is
    collected by the build and copied into the provenance block; without it (results computed
    outside a build) the block says "not recorded".
    """
    manifest = freeze.manifest
    study = study or load_study(manifest["study"])
    tables = typed_tables(freeze)
    scores = score_questionnaires(tables["questionnaires"])
    common = {
        "schema_version": SCHEMA_VERSION,
        "study": manifest["study"],
        "freeze_id": manifest["freeze_id"],
        "cutoff_date": manifest["cutoff_date"],
        "simulated": freeze.simulated,
        "input_sha256": freeze.manifest_sha256,
        "settings": settings.as_dict(),
        "provenance": provenance(freeze, build_metadata or NOT_RECORDED),
        "study_configuration": study.as_dict(),
    }
    builders = {"closed": _closed_results, "open": _open_results}
    return {edition: builders[edition](tables, scores, common, settings, study) for edition in editions}


def compute_results(freeze: Freeze, settings: Settings, study: Study | None = None) -> dict:
    """The closed edition's results: every analysis of the plan (see :func:`compute_editions`).
    The public entry for scripts and notebooks (``compute_results(read_freeze(folder), Settings())``);
    the build itself calls :func:`compute_editions`."""
    return compute_editions(freeze, settings, ("closed",), study)["closed"]


def analysis_inputs(freeze: Freeze, settings: Settings, study: Study) -> tuple:
    """``(tables, data, schedule, status)`` of a freeze: its typed tables, the analysis dataset and
    the visit status at its cut-off — what every analysis starts from."""
    tables = typed_tables(freeze)
    return tables, *_dataset_and_status(tables, score_questionnaires(tables["questionnaires"]), settings, study,
                                        freeze.manifest["cutoff_date"])


def _dataset_and_status(tables: dict, scores, settings: Settings, study: Study, cutoff_date: str) -> tuple:
    """``(data, schedule, status)``: the analysis dataset and the visit status at the cut-off."""
    data = build_dataset(tables, scores, settings.dropout_threshold)
    return data, *visit_status(tables, scores, data, study, cutoff_date)


def _closed_results(tables: dict, scores, common: dict, settings: Settings, study: Study) -> dict:
    """Analysis table and visit status → every analysis of the plan, by arm."""
    data, schedule, status = _dataset_and_status(tables, scores, settings, study, common["cutoff_date"])
    alphas, alpha_n = reliability(tables["questionnaires"], data)
    results = {
        **common,
        "edition": "closed",
        "interim": interim_state(data, schedule, status),
        "visit_status": status_counts(status),
        "conduct": trial_conduct(tables, data, schedule, status, study, common["cutoff_date"], by_arm=True),
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
    results["consort"]["analysed_estimated"] = analyses_estimated(results)
    results["findings"] = findings(results)
    return results


def _open_results(tables: dict, scores, common: dict, settings: Settings, study: Study) -> dict:
    """Trial conduct, the participant flow and the baseline of the treated, from the freeze with
    the treatment arms pooled before anything is computed: nothing by arm."""
    tables = pool_arms(tables)
    data, schedule, status = _dataset_and_status(tables, scores, settings, study, common["cutoff_date"])
    consort = consort_counts(tables, data, schedule, status, (POOLED,), analysed=False)
    check_consort(consort, {})
    return {
        **_without_arm_digests(common),
        "edition": "open",
        "interim": interim_state(data, schedule, status),
        "visit_status": status_counts(status),
        "conduct": trial_conduct(tables, data, schedule, status, study, common["cutoff_date"], by_arm=False),
        "participant_flow": participant_flow(consort),
        "baseline_characteristics": baseline_characteristics(data, conditions=()),
    }


def _without_arm_digests(common: dict) -> dict:
    """The common block for the open edition: no SHA-256 that depends on the arms — of a file with
    an arm column (``provenance.open_digests``) or of the manifest, which lists it.  A digest of a few
    low-entropy cells confirms a guessed allocation list: 13 randomized, 7 treated, 2⁷ tries."""
    return {**common, "input_sha256": None,
            "provenance": {**common["provenance"], "input_files": open_digests(common["provenance"]["input_files"])}}
