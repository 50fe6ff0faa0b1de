"""``index.html`` at the root of ``build-all``'s output: one row per freeze (committee-reports.md,
"The index of all freezes").

The rows are read from what each build published — the open edition's ``results.json`` (or the
closed one's arm-free totals when only that edition was built), ``validation.json`` — and from
the build-all outcomes, so that the index holds nothing by arm.  The page is written only when
its bytes change (an unchanged run leaves it byte-identical, and untouched).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

INDEX = "index.html"
SUMMARY = "index.md"


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _link(out: Path, root: Path, relative: str) -> str | None:
    return (out.relative_to(root) / relative).as_posix() if (out / relative).is_file() else None


def _totals(out: Path) -> tuple[int | None, int | None, float | None, dict | None, int]:
    """Randomized and treated (arm-free), randomized as % of the target (the trial conduct's
    ``pct_of_target``), the change counts and the warnings of the comparison (``changes.flags``),
    from the published results."""
    open_results, closed = _json(out / "open" / "results.json"), _json(out / "results.json")
    if open_results:
        flow = open_results["participant_flow"]
        randomized, treated, changes = flow["randomized"], flow["treated"], open_results.get("changes")
    elif closed:
        randomized, treated = closed["consort"]["randomized"], sum(closed["consort"]["treated"].values())
        changes = closed.get("changes")
    else:
        return None, None, None, None, 0
    pct_of_target = (open_results or closed)["conduct"]["accrual"]["pct_of_target"]
    counts = None
    if changes and changes.get("status") == "compared":
        counts = {"previous_freeze_id": changes["previous"]["freeze_id"],
                  **{key: changes["totals"][key] for key in ("added", "changed", "removed")}}
    return randomized, treated, pct_of_target, counts, len((changes or {}).get("flags") or [])


def index_row(outcome, manifest: dict | None, out_root: Path) -> dict:
    """One row of the index from a build-all outcome (``build_all.FreezeOutcome``) and the freeze's manifest."""
    manifest = manifest or {}
    row = {"freeze_id": str(manifest.get("freeze_id") or Path(outcome.freeze).name),
           "cutoff_date": manifest.get("cutoff_date") if isinstance(manifest.get("cutoff_date"), str) else None,
           "folder": Path(outcome.freeze).name,  # no absolute path: the page is shared and must not vary by machine
           "study": manifest.get("study") if isinstance(manifest.get("study"), str) else None,
           "outcome": outcome.shown,
           "detail": outcome.detail, "randomized": None, "treated": None, "pct_of_target": None,
           "validation": outcome.validation, "changes": None,
           "links": dict.fromkeys(("closed_html", "closed_pdf", "open_html", "open_pdf"))}
    out = outcome.output
    if out is None or not Path(out).is_dir():
        return row
    out, root = Path(out), Path(out_root)
    row["randomized"], row["treated"], row["pct_of_target"], row["changes"], comparison_warnings = _totals(out)
    validation = _json(out / "validation.json")
    if validation:  # warnings: of the checks, and of the comparison with the previous freeze (as the report's)
        row["validation"] = {"checks": validation["n_checks"], "failed": validation["n_failed"],
                             "warnings": validation["n_warnings"] + comparison_warnings}
    row["links"] = {"closed_html": _link(out, root, "report.html"), "closed_pdf": _link(out, root, "report.pdf"),
                    "open_html": _link(out, root, "open/report.html"), "open_pdf": _link(out, root, "open/report.pdf")}
    return row


def _write_if_changed(path: Path, text: str) -> bool:
    data = text.encode("utf-8")
    if path.is_file() and path.read_bytes() == data:
        return False
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def write_index(out_root: Path, rows: list[dict], *, study: str, target: int | None) -> Path:
    """Write ``index.html`` (and its table as Markdown, ``index.md``, for a CI job summary) into
    ``out_root`` when their content changed; returns the index's path."""
    from alliance_report.render.index_page import index_html, index_summary

    out_root = Path(out_root)
    out_root.mkdir(parents=True, exist_ok=True)
    _write_if_changed(out_root / INDEX, index_html(rows, study=study, target=target))
    _write_if_changed(out_root / SUMMARY, index_summary(rows))
    return out_root / INDEX


def write_for(outcomes: list, out_root: Path) -> Path:
    """The index of a build-all run (its outcomes, in cut-off order) into ``out_root``."""
    from alliance_report.output_folder import manifest_of
    from alliance_report.study import StudyError, load_study

    manifests = [manifest_of(outcome.freeze) for outcome in outcomes]
    rows = [index_row(outcome, manifest, out_root) for outcome, manifest in zip(outcomes, manifests)]
    studies = [m["study"] for m in manifests if m and isinstance(m.get("study"), str)]
    study = studies[0] if studies else ""
    try:
        target = load_study(study).target_randomized if study and len(set(studies)) == 1 else None
    except StudyError:
        target = None
    return write_index(out_root, rows, study=study, target=target)
