"""From freeze to freeze: build-all over one simulated trial cut at three dates, and a freeze whose
locked values were edited (committee-reports.md, "Changes since the previous freeze", "The index
of all freezes")."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

import freeze_corruptions as fc
from alliance_report import DEMO_FREEZE
from alliance_report.cli import main
from alliance_report.freeze import FREEZE_FILES
from conftest import SEQUENCE_CUTOFFS as CUTOFFS


@pytest.fixture(scope="module")
def sequence(sequence_built):
    """The demo trial at three cut-offs, built by build-all (conftest.sequence_built)."""
    return sequence_built


def rows(path: Path) -> int:
    return len(pd.read_csv(path, dtype=str, keep_default_na=False))


@pytest.mark.slow
def test_each_freeze_is_compared_with_the_one_before(sequence):
    freezes, out = sequence
    order = [f"cut-{c}" for c in CUTOFFS]
    ids = [json.loads((freezes / name / "manifest.json").read_text())["freeze_id"] for name in order]
    for i, name in enumerate(order):
        changes = json.loads((out / f"BeMind-{ids[i]}" / "open" / "results.json").read_text())["changes"]
        if i == 0:
            assert changes["status"] == "no previous freeze"
            continue
        assert changes["status"] == "compared" and changes["previous"]["freeze_id"] == ids[i - 1]
        for file in FREEZE_FILES:
            counts = changes["files"][file]
            difference = rows(freezes / name / file) - rows(freezes / order[i - 1] / file)
            assert counts["added"] - counts["removed"] == difference, (name, file)
        # a freeze truncated from the same simulated trial: no data change in rows both contain
        assert changes["n_data_changes"] == 0 and changes["data_changes"] == []


@pytest.mark.slow
def test_key_results_are_those_of_each_freeze_own_report(sequence):
    """Previous and current key results, the n of each analysis included, read from the previous
    freeze's own report and this one's (built separately by build-all)."""
    freezes, out = sequence
    ids = [json.loads((freezes / f"cut-{c}" / "manifest.json").read_text())["freeze_id"] for c in CUTOFFS]
    reports = [json.loads((out / f"BeMind-{i}" / "results.json").read_text()) for i in ids]

    def keyed(r: dict) -> dict:
        manova, models = r["alliance_manova"], r["outcome_models"]
        values = {"randomized": r["consort"]["randomized"], "treated": sum(r["consort"]["treated"].values()),
                  "time_n": manova["n"], "time_wilks": manova["time"]["wilks"], "time_p": manova["time"]["p"]}
        for scale in ("hads", "mhcsf"):
            values |= {f"{scale}_n": models[scale]["n"], f"{scale}_wai_w2_b": models[scale]["terms"]["wai_w2"]["b"],
                       f"{scale}_wai_w2_p": models[scale]["terms"]["wai_w2"]["p"]}
        return values

    for before, after in zip(reports, reports[1:]):
        rows = after["changes"]["key_results"]
        assert [row["key"] for row in rows] == list(keyed(after))
        previous, expected = {row["key"]: row["previous"] for row in rows}, keyed(before)
        for key, value in expected.items():  # analysed again at the later build: equal to rounding
            assert (previous[key] is None) == (value is None), key
            assert value is None or previous[key] == pytest.approx(value, rel=1e-9), key
        assert {row["key"]: row["current"] for row in rows} == keyed(after)
    assert reports[0]["alliance_manova"]["n"] < reports[1]["alliance_manova"]["n"]


@pytest.mark.slow
def test_the_simulated_trial_is_valid_at_every_cutoff(sequence):
    """Validated by the build (validation.json): every check passes, without a warning, from early
    recruitment on; the interim freezes hold participants still waiting and still in treatment."""
    freezes, out = sequence
    for cutoff in CUTOFFS:
        validation = json.loads((out / f"BeMind-{cutoff}" / "validation.json").read_text())
        assert validation["valid"] is True, cutoff
        assert (validation["n_failed"], validation["n_warnings"], validation["n_not_checked"]) == (0, 0, 0), cutoff
        assert validation["n_checks"] == len(validation["checks"]) >= 100, cutoff
    results = json.loads((out / f"BeMind-{CUTOFFS[1]}" / "results.json").read_text())
    assert results["interim"]["is_interim"] and results["interim"]["in_treatment"] > 0
    assert results["consort"]["tau_waiting"] > 0


@pytest.mark.slow
def test_the_index_lists_every_freeze_in_cutoff_order(sequence, tmp_path):
    freezes, built = sequence
    out = shutil.copytree(built, tmp_path / "reports")  # the session's reports stay as they are
    html = (out / "index.html").read_text(encoding="utf-8")

    class Cells(HTMLParser):
        def __init__(self):
            super().__init__()
            self.text = []

        def handle_data(self, data):
            self.text.append(data)

    parser = Cells()
    parser.feed(html[html.index("<tbody"):])  # the table's rows (the header line names the range too)
    text = " ".join(parser.text)
    positions = [text.index(cutoff) for cutoff in CUTOFFS]
    assert positions == sorted(positions)
    for word in ("MBCT", "eMBCT", "TAU"):
        assert word not in html
    # a second run finds every report up to date (the outcome column says so); a third changes nothing
    assert main(["build-all", str(freezes), "--out-root", str(out), "--quiet"]) == 0
    second = (out / "index.html").read_bytes()
    assert second != html.encode("utf-8") and b"up to date" in second
    written = (out / "index.html").stat().st_mtime_ns
    assert main(["build-all", str(freezes), "--out-root", str(out), "--quiet"]) == 0
    assert (out / "index.html").read_bytes() == second  # nothing changed: byte-identical, not rewritten
    assert (out / "index.html").stat().st_mtime_ns == written


@pytest.mark.slow
def test_the_build_log_keeps_its_columns_with_the_previous_freeze(sequence):
    """"validate previous" is longer than the other steps' names: the columns stay aligned."""
    _, out = sequence
    log = (out / f"BeMind-{CUTOFFS[1]}" / "build.log").read_text(encoding="utf-8")
    steps = log[log.index("steps (seconds"):log.index("\n  total")].splitlines()[1:]
    assert any(line.startswith("  validate previous ") for line in steps)
    columns = {re.search(r" (main|worker) ", line).start() for line in steps}
    assert len(columns) == 1, steps


def edit(folder: Path, file: str, change) -> None:
    path = folder / file
    records = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    records = change(records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(records[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    path.write_text(buffer.getvalue(), encoding="utf-8")


@pytest.mark.slow
def test_edited_locked_values_are_listed_flagged_and_open_without_arms(tmp_path, capsys):
    current = shutil.copytree(DEMO_FREEZE, tmp_path / "current")
    participants = list(csv.DictReader(io.StringIO((current / "participants.csv").read_text(encoding="utf-8"))))
    first, treated = participants[0], next(p for p in participants if p["allocation"] != "TAU")
    gone = participants[5]["participant_id"]

    def ages(records):
        for r in records:
            if r["participant_id"] == first["participant_id"]:
                r["age"] = str(int(r["age"]) + 1)
            if r["participant_id"] == treated["participant_id"]:  # a changed arm: its value must stay closed
                r["allocation"] = r["treatment"] = "eMBCT" if r["treatment"] == "MBCT" else "MBCT"
        return records

    def items(records):
        t0 = next(r for r in records if r["participant_id"] == first["participant_id"] and r["timepoint"] == "T0"
                  and r["value"])
        t0["value"] = str((int(t0["value"]) + 1) % 4) if t0["instrument"] == "HADS" else str((int(t0["value"]) + 1) % 6)
        edit.t0 = (t0["instrument"], t0["item"], t0["value"])
        return [r for r in records if not (r["participant_id"] == gone and r["timepoint"] == "T1")]

    edit(current, "participants.csv", ages)
    edit(current, "questionnaires.csv", items)
    fc.refresh_manifest(current)
    out = tmp_path / "out"
    assert main(["build", str(current), "--previous", str(DEMO_FREEZE), "--out", str(out), "--quiet"]) == 0
    changes = json.loads((out / "changes.json").read_text())
    listed = {(c["file"], c["key"], c["column"]): (c["previous"], c["current"]) for c in changes["data_changes"]}
    assert listed[("participants.csv", first["participant_id"], "age")] == (first["age"], str(int(first["age"]) + 1))
    assert listed[("participants.csv", treated["participant_id"], "treatment")][0] == treated["treatment"]
    instrument, item, value = edit.t0
    assert listed[("questionnaires.csv", f"{first['participant_id']}|T0|{instrument}|{item}", "value")][1] == value
    removed = [c for c in changes["data_changes"] if c["column"] is None]
    assert removed and all(c["key"].startswith(f"{gone}|T1|") for c in removed)
    csv_rows = list(csv.DictReader(io.StringIO((out / "changes.csv").read_text(encoding="utf-8"))))
    assert len(csv_rows) == len(changes["data_changes"])

    closed = json.loads((out / "results.json").read_text())["changes"]
    opened = json.loads((out / "open" / "results.json").read_text())["changes"]
    assert closed["flags"] and {f["file"] for f in closed["flags"]} >= {"participants.csv", "questionnaires.csv"}
    assert opened["n_data_changes"] == closed["n_data_changes"]
    for change in opened["data_changes"]:
        if change["column"] in ("allocation", "treatment"):
            assert change["previous"] is None and change["current"] is None
    open_text = (out / "open" / "report.html").read_text(encoding="utf-8")
    assert "Changes since freeze" in open_text and "Warnings from the comparison" in open_text
    closed_text = (out / "report.html").read_text(encoding="utf-8")
    assert "Key results, previous and current freeze" in closed_text


@pytest.mark.slow
def test_an_invalid_previous_freeze_is_reported_without_a_comparison(tmp_path, capsys):
    previous = fc.corrupt(DEMO_FREEZE, tmp_path / "previous", "age_17")
    out = tmp_path / "out"
    assert main(["build", str(DEMO_FREEZE), "--previous", str(previous), "--out", str(out), "--quiet",
                 "--edition", "open"]) == 0
    err = capsys.readouterr().err
    assert "failed validation" in err and "no comparison" in err
    changes = json.loads((out / "open" / "results.json").read_text())["changes"]
    assert changes["status"] == "not compared" and "failed validation" in changes["reason"]
    assert "previous:" in (out / "build.log").read_text() and "not compared" in (out / "build.log").read_text()
    # a previous freeze was given: changes.json says it was not compared, and why; changes.csv has no row
    written = json.loads((out / "changes.json").read_text())
    assert written == {"previous": None, "files": {}, "data_changes": [], "not_compared": changes["reason"]}
    assert (out / "changes.csv").read_text().splitlines() == ["file,key,column,previous,current"]


def test_a_corrected_re_export_is_the_previous_freeze_of_the_next_cut_off(tmp_path):
    """Two exports with the same cut-off date: the later export (a correction) is built after the
    one it corrects, and is the previous freeze of the next cut-off; the folder name does not decide."""
    from alliance_report.build_all import _previous_of, in_cutoff_order

    def freeze(folder: str, cutoff: str, exported: str) -> Path:
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "manifest.json").write_text(json.dumps(
            {"study": "BeMind", "cutoff_date": cutoff, "exported_at": exported}))
        return tmp_path / folder

    # the moment of export decides, in UTC (as text, "…T10:00:00+02:00" would sort after "…T09:00:00Z")
    corrected = freeze("a-corrected", "2015-04-01", "2015-04-02T09:00:00Z")
    first = freeze("b-first", "2015-04-01", "2015-04-02T10:00:00+02:00")
    later = freeze("c-later", "2015-07-01", "2015-07-02T09:00:00Z")
    earliest = freeze("z-earliest", "2015-01-01", "2015-01-02T09:00:00Z")
    ordered = in_cutoff_order([later, corrected, earliest, first])
    assert ordered == [earliest, first, corrected, later]
    built = [("2015-01-01", earliest), ("2015-04-01", first), ("2015-04-01", corrected)]
    assert _previous_of(built, "2015-07-01") == corrected
    assert _previous_of(built, "2015-04-01") == earliest
    assert _previous_of(built, "2015-01-01") is None
    # a time without an offset is read as UTC; a space for the T sorts by its moment too
    spaced = freeze("c-spaced", "2015-04-01", "2015-04-02 23:00")
    assert in_cutoff_order([spaced, corrected, first]) == [first, corrected, spaced]
