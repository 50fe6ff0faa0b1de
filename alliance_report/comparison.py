"""The comparison of a freeze with the previous one of its study (committee-reports.md, "Changes
since the previous freeze").

Three steps, in the build's order:

1. :func:`prepare` (beside the analysis): read the previous freeze, compare its rows with the
   current freeze's (:func:`alliance_report.changes.compare_freezes`) and analyse it with the
   same code for the key results (randomized, treated, the time effect of Aim 2, early alliance
   in each outcome model).  A previous freeze that cannot be read, is of another study or is not
   an earlier one (its cut-off date) gives the reason instead.
2. The build validates the previous freeze (like any input); an invalid one is reported without
   the comparison.
3. :func:`add_changes` puts the ``changes`` block into each edition's results: per file the
   rows added / removed / changed / unchanged, the number of data changes and :data:`REPORTED`
   of them (the flagged ones first), the changes flagged for the validation summary; in the
   open edition without the values of the data changes and without a SHA-256 that depends on
   the arms; in the closed edition with the key results previous → current.  The full list
   goes to ``changes.json`` / ``changes.csv``.
"""

from __future__ import annotations

from pathlib import Path

from alliance_report import changes as changes_module
from alliance_report import dates
from alliance_report.design import OUTCOME_SCALES
from alliance_report.freeze import Freeze, FreezeError, read_freeze
from alliance_report.settings import Settings
from alliance_report.study import Study, StudyError, load_study

REPORTED = 20  # data changes shown in the report (all of them are in changes.csv)


def key_analyses(freeze: Freeze, settings: Settings, study: Study) -> dict:
    """The part of the closed results that the key results read (no mixed model, no figures).
    The analysis is imported here: :func:`add_changes`, which the main process runs for the open
    edition, needs none of it (statsmodels alone takes 0.3–0.4 s to import)."""
    from alliance_report.analysis.alliance import alliance_manova
    from alliance_report.analysis.consort import consort_counts
    from alliance_report.analysis.outcome import fit_outcome_model
    from alliance_report.results import analysis_inputs

    tables, data, schedule, status = analysis_inputs(freeze, settings, study)
    return {"consort": consort_counts(tables, data, schedule, status, analysed=False),
            "alliance_manova": alliance_manova(data),
            "outcome_models": {scale: fit_outcome_model(data, scale) for scale in OUTCOME_SCALES}}


def key_results(results: dict) -> dict:
    """Randomized, treated, Aim 2 time (n, Λ, P) and early alliance (n, B, P) per outcome model,
    from closed results (or :func:`key_analyses`)."""
    manova = results["alliance_manova"]
    out = {"randomized": results["consort"]["randomized"],
           "treated": sum(results["consort"]["treated"].values()),
           "time_n": manova["n"], "time_wilks": manova["time"]["wilks"], "time_p": manova["time"]["p"]}
    for scale in OUTCOME_SCALES:
        model = results["outcome_models"][scale]
        term = model["terms"]["wai_w2"]
        out[f"{scale}_n"], out[f"{scale}_wai_w2_b"], out[f"{scale}_wai_w2_p"] = model["n"], term["b"], term["p"]
    return out


def prepare(previous_dir: Path, current: Freeze, settings: Settings) -> dict:
    """Read and compare the previous freeze: ``{"freeze_id", "cutoff_date", "folder", "input_sha256",
    "changes", "key_results"}``, or ``{"folder", "problem"}`` when it cannot be read or analysed."""
    folder = str(previous_dir)
    try:
        previous = read_freeze(previous_dir)
        manifest = previous.manifest
        problem = not_comparable(manifest, current.manifest)
        if problem:
            return {"folder": folder, "problem": problem}
        study = load_study(str(manifest.get("study")))
        compared = changes_module.compare_freezes(previous, current)
        analysed = key_analyses(previous, settings, study)
    except (FreezeError, StudyError) as exc:
        return {"folder": folder, "problem": f"it cannot be read ({exc})"}
    except (KeyError, TypeError, ValueError) as exc:  # a previous freeze that is not valid
        return {"folder": folder, "problem": f"it cannot be analysed ({type(exc).__name__}: {exc})"}
    return {"freeze_id": manifest["freeze_id"], "cutoff_date": manifest["cutoff_date"], "folder": folder,
            "input_sha256": previous.manifest_sha256, "changes": compared, "key_results": key_results(analysed)}


def not_comparable(previous: dict, current: dict) -> str | None:
    """Why a freeze (its manifest ``previous``) cannot be the previous freeze of ``current``: it is
    of another study, or not an earlier one; None when it can be, or when a manifest does not say
    (its validation fails and says why)."""
    studies = previous.get("study"), current.get("study")
    if not all(isinstance(study, str) for study in studies):
        return None
    if studies[0] != studies[1]:
        return f"it is a freeze of another study ({previous.get('study')})"
    return _not_earlier(previous, current)


def _not_earlier(previous: dict, current: dict) -> str | None:
    """Why the freeze given as previous is not an earlier one: its cut-off date is later, or it is
    the same and the freeze was exported later (a corrected re-export of the same cut-off may be
    compared with the export it corrects, not the other way round; the moments of export in UTC,
    as build-all orders them).  None when it is earlier, or when a date cannot be read (validation
    says so)."""
    then, now = dates.day(previous.get("cutoff_date")), dates.day(current.get("cutoff_date"))
    if then is None or now is None or then < now:
        return None
    if then > now:
        return (f"its cut-off date ({then.isoformat()}) is after this freeze's ({now.isoformat()}); "
                "the previous freeze must be an earlier one")
    exported_then, exported_now = (dates.instant(m.get("exported_at")) for m in (previous, current))
    if exported_then is None or exported_now is None or exported_then <= exported_now:
        return None
    return (f"it has the same cut-off date ({then.isoformat()}) and was exported after this freeze "
            f"({previous['exported_at']}, this freeze {current['exported_at']}); the previous freeze must be an "
            "earlier one")


def _block(changes: dict) -> dict:
    totals = {key: sum(counts[key] for counts in changes["files"].values())
              for key in ("added", "removed", "changed", "unchanged")}
    listed = changes_module.reported_first(changes["data_changes"], REPORTED)
    return {"files": changes["files"], "totals": totals, "n_data_changes": len(changes["data_changes"]),
            "n_data_changes_not_listed": len(changes["data_changes"]) - len(listed), "data_changes": listed,
            "flags": changes_module.flagged(changes)}


def add_changes(results: dict[str, dict], comparison: dict | None, problem: str | None = None) -> None:
    """Put the ``changes`` block into each edition's results (in place).

    ``comparison``: :func:`prepare`'s result, None without a previous freeze; ``problem``: why a
    previous freeze that was read is not compared (it failed validation)."""
    for edition, edition_results in results.items():
        if edition not in ("closed", "open"):
            continue
        problem_here = problem or (comparison or {}).get("problem")
        if comparison is None:
            block = {"status": "no previous freeze", "previous": None}
        elif problem_here:  # (no folder path: the open edition must not depend on where freezes lie)
            block = {"status": "not compared", "previous": None, "reason": problem_here}
        else:
            full = comparison["changes"] if edition == "closed" else changes_module.open_changes(comparison["changes"])
            previous = {key: comparison[key] for key in ("freeze_id", "cutoff_date", "input_sha256")}
            if edition == "open":  # the manifest lists the SHA-256 of participants.csv: it depends on the arms
                previous["input_sha256"] = None
            block = {"status": "compared", "previous": previous, **_block(full)}
            if edition == "closed":
                current = key_results(edition_results)
                block["key_results"] = [{"key": key, "previous": comparison["key_results"][key],
                                         "current": current[key]} for key in current]
        edition_results["changes"] = block
