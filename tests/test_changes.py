"""What changed between two freezes (alliance_report/changes.py; committee-reports.md, "Changes since
the previous freeze"): a hand-made pair with every kind of edit and its expected changes written
out, an interim and the final freeze of one simulated trial checked against a pandas merge, the
open edition's object under an arm swap, and the edge cases of the matching."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import freeze_corruptions as fc
from alliance_report import changes as ch
from alliance_report.freeze import COLUMNS, FREEZE_FILES, Freeze, read_freeze
from alliance_report.simulation import build_tables, simulate_freeze

# ---------------------------------------------------------------------------------------------
# the hand-made pair: the tiny freeze, edited into a "previous" and a "current" freeze


def _edit(folder: Path, file: str, change) -> None:
    header = fc.read_rows(folder, file)[0]
    recs = fc.records(folder, file)
    recs = change(recs)
    fc.write_records(folder, file, header, recs)


def _set(recs, where: dict, column: str, value: str):
    hits = [r for r in recs if all(r[k] == v for k, v in where.items())]
    assert len(hits) == 1, (where, len(hits))
    hits[0][column] = value
    return recs


def _write_pair(root: Path) -> tuple[Path, Path]:
    base = fc.write_tiny_freeze(root / "tiny")
    previous, current = root / "previous", root / "current"
    shutil.copytree(base, previous)
    shutil.copytree(base, current)

    # previous: P008 (TAU) not yet re-randomized, and a participant P010 (screening S013) who is
    # gone from the current freeze
    _edit(previous, "participants.csv", lambda r: _set(_set(r, {"participant_id": "P008"}, "treatment", ""),
                                                          {"participant_id": "P008"}, "rerandomized_on", "") + [{
        "participant_id": "P010", "site": "Nijmegen", "randomized_on": "2025-02-14", "allocation": "eMBCT",
        "treatment": "eMBCT", "rerandomized_on": "", "age": "70", "sex": "female", "partner": "no",
        "children": "no", "education": "high", "cancer_type": "other", "treatment_intent": "curative",
        "months_since_diagnosis": "5"}])
    _edit(previous, "screening.csv", lambda r: r + [{
        "screening_id": "S013", "site": "Nijmegen", "screened_on": "2025-01-31", "eligible": "yes",
        "exclusion_reason": "", "participant_id": "P010"}])
    _edit(previous, "sessions.csv", lambda r: [x for x in r if x["participant_id"] != "P008"])
    _edit(previous, "questionnaires.csv",
          lambda r: [x for x in r if x["participant_id"] != "P008" or x["timepoint"] == "T0"])
    fc.edit_manifest(previous, lambda m: m.update(freeze_id="2026-10-01", cutoff_date="2026-10-01"))
    fc.refresh_manifest(previous)

    # current: locked values changed, a value blanked, cells filled for the first time, rows gone
    _edit(current, "participants.csv", lambda r: _set(_set(_set(_set(
        r, {"participant_id": "P001"}, "age", "41"),
        {"participant_id": "P002"}, "allocation", "eMBCT"),
        {"participant_id": "P002"}, "treatment", "eMBCT"),
        {"participant_id": "P003"}, "months_since_diagnosis", ""))
    _edit(current, "screening.csv", lambda r: _set(
        [x for x in r if x["screening_id"] != "S011"], {"screening_id": "S010"}, "eligible", "yes") + [{
            "screening_id": "S014", "site": "Amsterdam", "screened_on": "2026-10-20", "eligible": "no",
            "exclusion_reason": "not meeting inclusion criteria", "participant_id": ""}])
    q = {"participant_id": "P002", "timepoint": "T0", "instrument": "HADS"}

    def questionnaires(recs):
        recs = [x for x in recs
                if not (x["participant_id"] == "P006" and x["timepoint"] == "T3" and x["instrument"] == "HADS")]
        _set(recs, {**q, "item": "1"}, "value", "3")
        _set(recs, {**q, "item": "5"}, "value", "1")                        # was skipped: filled for the first time
        _set(recs, {"participant_id": "P004", "timepoint": "W5", "instrument": "WAI", "item": "3"}, "value", "")
        _set(recs, {"participant_id": "P007", "timepoint": "T0b", "instrument": "MHCSF", "item": "2"}, "value", "5")
        return recs

    _edit(current, "questionnaires.csv", questionnaires)
    _edit(current, "disposition.csv", lambda r: _set(r, {"participant_id": "P003"}, "reason", "too tiring, stopped"))
    fc.refresh_manifest(current)
    return previous, current


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    previous, current = _write_pair(tmp_path_factory.mktemp("pair"))
    return read_freeze(previous), read_freeze(current)


@pytest.fixture(scope="module")
def compared(pair):
    return ch.compare_freezes(*pair)


def change(file, key, column, previous, current):
    return {"file": file, "key": key, "column": column, "previous": previous, "current": current}


EXPECTED_FILES = {
    "screening.csv": {"added": 1, "removed": 2, "changed": 1, "unchanged": 10},
    "participants.csv": {"added": 0, "removed": 1, "changed": 4, "unchanged": 5},
    "sessions.csv": {"added": 8, "removed": 0, "changed": 0, "unchanged": 56},
    "questionnaires.csv": {"added": 148, "removed": 14, "changed": 4, "unchanged": 1034},
    "disposition.csv": {"added": 0, "removed": 0, "changed": 1, "unchanged": 2},
}
# files in the format's order; rows in the previous freeze's order; columns in the format's order
EXPECTED_DATA_CHANGES = [
    change("screening.csv", "S010", "eligible", "no", "yes"),
    change("screening.csv", "S011", None, 'S011,Groningen,2025-01-21,yes,"declined to participate, no time",', None),
    change("screening.csv", "S013", None, "S013,Nijmegen,2025-01-31,yes,,P010", None),
    change("participants.csv", "P001", "age", "40", "41"),
    change("participants.csv", "P002", "allocation", "MBCT", "eMBCT"),
    change("participants.csv", "P002", "treatment", "MBCT", "eMBCT"),
    change("participants.csv", "P003", "months_since_diagnosis", "120", None),
    change("participants.csv", "P010", None,
           "P010,Nijmegen,2025-02-14,eMBCT,eMBCT,,70,female,no,no,high,other,curative,5", None),
    change("questionnaires.csv", "P002|T0|HADS|1", "value", "2", "3"),
    change("questionnaires.csv", "P004|W5|WAI|3", "value", "2", None),
    *(change("questionnaires.csv", f"P006|T3|HADS|{item}", None, f"P006,T3,HADS,{item},{value},2026-01-18", None)
      for item, value in zip(range(1, 15), "23012301230123")),
    change("questionnaires.csv", "P007|T0b|MHCSF|2", "value", "2", "5"),
    change("disposition.csv", "P003", "reason", "too tiring", "too tiring, stopped"),
]


def test_the_pair_is_what_the_test_says(pair):
    previous, current = pair
    rows = {file: (len(previous.tables[file]), len(current.tables[file])) for file in FREEZE_FILES}
    assert rows == {"screening.csv": (13, 12), "participants.csv": (10, 9), "sessions.csv": (56, 64),
                    "questionnaires.csv": (1052, 1186), "disposition.csv": (3, 3)}


def test_counts_per_file(compared):
    assert list(compared["files"]) == list(FREEZE_FILES)
    assert compared["files"] == EXPECTED_FILES


def test_data_changes_exactly(compared):
    assert compared["data_changes"] == EXPECTED_DATA_CHANGES


def test_previous_freeze_is_named_with_the_hashes_of_its_files(pair, compared):
    previous, _ = pair
    assert compared["previous"]["freeze_id"] == "2026-10-01"
    assert compared["previous"]["cutoff_date"] == "2026-10-01"
    assert compared["previous"]["files"] == {file: fc.sha256_file(previous.path / file) for file in FREEZE_FILES}
    assert list(compared["previous"]["files"]) == list(FREEZE_FILES)
    json.dumps(compared)  # plain data


def test_no_changes_between_a_freeze_and_itself(pair):
    previous, _ = pair
    same = ch.compare_freezes(previous, previous)
    assert same["data_changes"] == []
    assert all(c == {"added": 0, "removed": 0, "changed": 0, "unchanged": len(previous.tables[f])}
               for f, c in same["files"].items())


def test_flags_name_removed_rows_and_changed_baseline_and_randomization_data(compared):
    flags = ch.flagged(compared)
    assert [(f["file"], f["n"], f["examples"]) for f in flags] == [
        ("screening.csv", 2, ["S011", "S013"]),
        ("screening.csv", 1, ["S010"]),
        ("participants.csv", 1, ["P010"]),
        ("participants.csv", 1, ["P002"]),
        ("participants.csv", 2, ["P001", "P003"]),
        ("questionnaires.csv", 14, [f"P006|T3|HADS|{item}" for item in range(1, 6)]),
        ("questionnaires.csv", 2, ["P002|T0|HADS|1", "P007|T0b|MHCSF|2"]),
    ]
    words = [f["rule"] for f in flags]
    assert all("removed" in words[i] for i in (0, 2, 5))
    assert "eligible" in words[1] and "participant_id" in words[1]
    assert "randomization" in words[3] and "allocation" in words[3]
    assert "baseline" in words[4] and "age" in words[4]
    assert "baseline" in words[6] and "T0" in words[6]
    assert set(flags[0]) == {"rule", "file", "n", "examples"}
    json.dumps(flags)
    # the open object gives the same flags
    assert ch.flagged(ch.open_changes(compared)) == flags


def test_changes_csv_round_trips(compared):
    text = ch.changes_csv(compared)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["file", "key", "column", "previous", "current"]
    assert rows[1:] == [[c["file"], c["key"], c["column"] or "", c["previous"] or "", c["current"] or ""]
                        for c in EXPECTED_DATA_CHANGES]
    # a removed row's text read back gives its cells
    assert next(csv.reader([rows[2][3]])) == ["S011", "Groningen", "2025-01-21", "yes",
                                             "declined to participate, no time", ""]


# ---------------------------------------------------------------------------------------------
# the open edition's object


def _swap_arms(folder: Path) -> None:
    swap = {"MBCT": "eMBCT", "eMBCT": "MBCT"}
    _edit(folder, "participants.csv", lambda recs: [
        {**r, "allocation": swap.get(r["allocation"], r["allocation"]),
         "treatment": swap.get(r["treatment"], r["treatment"])} for r in recs])
    fc.refresh_manifest(folder)


def test_open_changes_show_no_arm_and_are_the_same_with_the_arms_swapped(tmp_path, compared):
    previous, current = _write_pair(tmp_path)
    _swap_arms(previous)
    _swap_arms(current)
    swapped = ch.compare_freezes(read_freeze(previous), read_freeze(current))
    assert swapped != compared                                     # the closed object differs
    before = json.dumps(compared)
    opened = ch.open_changes(compared)
    assert json.dumps(compared) == before                          # not modified
    assert opened == ch.open_changes(swapped)

    for word in ("MBCT", "eMBCT", "TAU"):
        assert word not in json.dumps(opened)
    # file, key and column of each data change; no value (cells follow the arm, or are outcomes)
    assert opened["data_changes"] == [dict(c, previous=None, current=None) for c in EXPECTED_DATA_CHANGES]
    assert opened["files"] == compared["files"]
    assert opened["previous"]["files"]["participants.csv"] is None  # its hash depends on the arms
    assert {f: s for f, s in opened["previous"]["files"].items() if f != "participants.csv"} == \
        {f: s for f, s in compared["previous"]["files"].items() if f != "participants.csv"}


# ---------------------------------------------------------------------------------------------
# an interim and the final freeze of one simulated trial


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    root = tmp_path_factory.mktemp("trial")
    interim = simulate_freeze(root / "interim", seed=5, n_randomized=200, cutoff_date="2015-03-01")
    final = simulate_freeze(root / "final", seed=5, n_randomized=200)
    return interim, final


def test_interim_to_final_has_no_data_change(trial):
    interim, final = trial
    compared = ch.compare_freezes(read_freeze(interim), read_freeze(final))
    assert compared["data_changes"] == [] and ch.flagged(compared) == []
    for file in FREEZE_FILES:
        before = pd.read_csv(interim / file, dtype=str, keep_default_na=False)
        after = pd.read_csv(final / file, dtype=str, keep_default_na=False)
        counts = compared["files"][file]
        assert counts["added"] - counts["removed"] == len(after) - len(before), file
        assert counts["removed"] == 0, file                        # the simulation censors one trial
        # independently: an inner merge on the key; every differing cell was empty at the interim
        keys = list(ch.KEYS[file])
        merged = before.merge(after, on=keys, how="inner", suffixes=("_then", "_now"), validate="one_to_one")
        others = [c for c in COLUMNS[file] if c not in keys]
        differs = pd.DataFrame({c: merged[f"{c}_then"] != merged[f"{c}_now"] for c in others})
        filled = pd.DataFrame({c: merged[f"{c}_then"] == "" for c in others})
        assert not (differs & ~filled).any().any(), file
        assert counts["changed"] == int(differs.any(axis=1).sum()), file
        assert counts["unchanged"] == len(merged) - counts["changed"], file
        assert counts["added"] == len(after) - len(merged), file
    # the re-randomizations after the interim cut-off: treatment and rerandomized_on filled
    assert compared["files"]["participants.csv"]["changed"] > 0
    assert all(c["changed"] == 0 for f, c in compared["files"].items() if f != "participants.csv")


def test_simulated_ids_are_those_of_the_complete_trial():
    """The width of the ids is that of the complete trial: an interim freeze of a trial of 10,000
    (fewer than 10,000 randomized by then) numbers P00001, as the final freeze does."""
    tables = build_tables(seed=5, n_randomized=10_000, n_screened=10_000, cutoff_date="2014-03-01")
    participants = pd.read_csv(io.BytesIO(tables["participants.csv"]), dtype=str)
    screening = pd.read_csv(io.BytesIO(tables["screening.csv"]), dtype=str)
    assert 0 < len(participants) < 9_999
    assert participants["participant_id"].tolist() == [f"P{i:05d}" for i in range(1, len(participants) + 1)]
    assert screening["screening_id"].str.fullmatch(r"S\d{5}").all()


# ---------------------------------------------------------------------------------------------
# matching: exact text, keys, errors


def _freeze(tables: dict[str, list[dict]], freeze_id: str = "a") -> Freeze:
    frames = {}
    for file in FREEZE_FILES:
        frame = pd.DataFrame(tables.get(file, []), columns=list(COLUMNS[file]), dtype=object)
        frames[file] = frame.astype(object).where(frame.notna(), None)
    return Freeze(Path(freeze_id), {"freeze_id": freeze_id, "cutoff_date": "2020-01-01"}, "0" * 64,
                  {file: "0" * 64 for file in FREEZE_FILES}, frames)


def _person(pid: str, **cells) -> dict:
    row = dict.fromkeys(COLUMNS["participants.csv"])
    row.update(participant_id=pid, site="A", randomized_on="2020-01-01", allocation="TAU", age="50", **cells)
    return row


def test_cells_are_compared_as_text_and_keys_exactly():
    before = _freeze({"participants.csv": [_person("P1", months_since_diagnosis="3"), _person("P2"),
                                           _person("P3", sex="female")]})
    after = _freeze({"participants.csv": [_person(" P2"), _person("P3", sex=np.nan),
                                          _person("P1", months_since_diagnosis="3.0")]}, "b")
    compared = ch.compare_freezes(before, after)
    assert compared["files"]["participants.csv"] == {"added": 1, "removed": 1, "changed": 2, "unchanged": 0}
    assert compared["data_changes"] == [
        change("participants.csv", "P1", "months_since_diagnosis", "3", "3.0"),
        change("participants.csv", "P2", None, "P2,A,2020-01-01,TAU,,,50,,,,,,,", None),
        change("participants.csv", "P3", "sex", "female", None),          # NaN is an empty cell
    ]


def test_a_key_twice_or_a_missing_column_is_a_value_error():
    one = _freeze({"participants.csv": [_person("P1")]})
    twice = _freeze({"participants.csv": [_person("P1"), _person("P1")]})
    with pytest.raises(ValueError, match="participants.csv of the current freeze has a key"):
        ch.compare_freezes(one, twice)
    broken = _freeze({"participants.csv": [_person("P1")]})
    broken.tables["participants.csv"] = broken.tables["participants.csv"].drop(columns="age")
    with pytest.raises(ValueError, match="participants.csv of the previous freeze has no column 'age'"):
        ch.compare_freezes(broken, one)


def test_key_codes_do_not_overflow():
    """Five key columns of 65,535 distinct values each (65,536 codes with the empty cell): their
    mixed-radix product is 2**80, so without renumbering on the way the first column would vanish
    modulo 2**64 and keys that differ only there would match.  (The format's keys have at most
    four columns; _key_codes takes any number.)"""
    rng = np.random.default_rng(1)
    n = 65_535
    prev = [np.array([f"{c}{v}" for v in rng.permutation(n)], dtype=object) for c in "abcde"]
    cur = [np.roll(prev[0], 1), *prev[1:]]                             # every key differs in column a
    prev_code, cur_code, size = ch._key_codes(prev, cur)
    assert prev_code.max() < size and cur_code.max() < size and size <= 4 * (2 * n) + 16
    assert np.intersect1d(prev_code, cur_code).size == 0
    assert np.unique(prev_code).size == n
    # and the codes match exactly the tuples: cur = prev's rows 0..99 again, then 100 new ones
    cur = [np.concatenate([col[:100], np.roll(col, 1)[:100] if i == 0 else col[100:200]]) for i, col in enumerate(prev)]
    prev_code, cur_code, _ = ch._key_codes(prev, cur)
    position = {code: i for i, code in enumerate(prev_code.tolist())}
    assert [position.get(code, -1) for code in cur_code.tolist()] == list(range(100)) + [-1] * 100


# ------------------------------------------------------------------ which freeze may be the previous one


def test_a_previous_freeze_that_is_not_earlier_is_not_compared(trial, tmp_path):
    """The previous freeze must be an earlier one: given the later freeze, the comparison is
    refused with the reason (it gave thousands of 'removed' rows).  With the same cut-off date the
    earlier export may be compared with a later one (a corrected re-export), not the reverse."""
    from alliance_report.comparison import prepare
    from alliance_report.settings import Settings

    interim, final = trial
    later = prepare(final, read_freeze(interim), Settings())
    assert later == {"folder": str(final), "problem": "its cut-off date (2018-03-01) is after this freeze's "
                                                       "(2015-03-01); the previous freeze must be an earlier one"}
    assert "problem" not in prepare(interim, read_freeze(final), Settings())
    exported = json.loads((interim / "manifest.json").read_text())["exported_at"]
    re_export = tmp_path / "re-export"
    shutil.copytree(interim, re_export)
    fc.edit_manifest(re_export, lambda m: m.update(freeze_id="re-export", exported_at="2015-04-30T12:00:00Z"))
    fc.refresh_manifest(re_export)
    assert "problem" not in prepare(interim, read_freeze(re_export), Settings())  # the export it corrects
    assert "problem" not in prepare(interim, read_freeze(interim), Settings())    # itself: no change
    assert prepare(re_export, read_freeze(interim), Settings())["problem"] == (
        f"it has the same cut-off date (2015-03-01) and was exported after this freeze (2015-04-30T12:00:00Z, "
        f"this freeze {exported}); the previous freeze must be an earlier one")
    # moments in UTC: an offset is converted, a time without one is UTC (the two used to be incomparable)
    fc.edit_manifest(re_export, lambda m: m.update(exported_at="2015-04-30 12:00"))
    fc.refresh_manifest(re_export)
    assert "problem" in prepare(re_export, read_freeze(interim), Settings())
    fc.edit_manifest(re_export, lambda m: m.update(exported_at=exported[:10] + "T00:00:00+14:00"))  # before it
    fc.refresh_manifest(re_export)
    assert "problem" not in prepare(re_export, read_freeze(interim), Settings())


def test_a_freeze_of_another_study_is_named_as_such(trial, tmp_path):
    """Another study is the reason, also when no study file of that name exists (the study file
    was looked up first, and the reason read 'it cannot be read … add the file')."""
    from alliance_report.comparison import prepare
    from alliance_report.settings import Settings

    interim, final = trial
    other = tmp_path / "other"
    shutil.copytree(interim, other)
    fc.edit_manifest(other, lambda m: m.update(study="OtherStudy"))
    fc.refresh_manifest(other)
    assert prepare(other, read_freeze(final), Settings())["problem"] == "it is a freeze of another study (OtherStudy)"


def test_the_report_lists_the_flagged_data_changes_first(compared):
    """Removed rows and changed randomization or baseline data come before the other data changes
    (a W5 item, a disposition reason), each group in the list's order."""
    unflagged = [c for c in EXPECTED_DATA_CHANGES if (c["file"], c["key"]) in
                 {("questionnaires.csv", "P004|W5|WAI|3"), ("disposition.csv", "P003")}]
    flagged = [c for c in EXPECTED_DATA_CHANGES if c not in unflagged]
    assert len(unflagged) == 2
    assert ch.reported_first(compared["data_changes"], 100) == flagged + unflagged
    assert ch.reported_first(compared["data_changes"], 3) == flagged[:3]



def test_a_later_freeze_given_as_previous_is_noted_for_the_log_and_stderr(trial):
    """The build's check of the previous freeze names the reason like that of an invalid one (a
    note for stderr, the 'previous:' line of build.log, the report): before, only the report did."""
    import io

    from alliance_report import steps
    from alliance_report.progress import Progress, Timings

    interim, final = trial
    notes: list[str] = []
    problem = steps.validate_previous(final, read_freeze(interim), Timings(Progress(io.StringIO(), quiet=True)), notes)
    assert problem == ("its cut-off date (2018-03-01) is after this freeze's (2015-03-01); the previous freeze "
                       "must be an earlier one")
    assert notes == [f"the previous freeze {final}: {problem}; the report has no comparison with it"]
    assert steps.validate_previous(interim, read_freeze(final), Timings(Progress(io.StringIO(), quiet=True)), []) is None


def test_a_previous_freeze_whose_manifest_names_no_study_is_reported_as_invalid(trial, tmp_path):
    """A manifest without a readable study is no 'freeze of another study (None)': its validation
    fails, and that is the reason given."""
    import io

    from alliance_report import steps
    from alliance_report.progress import Progress, Timings

    interim, final = trial
    broken = tmp_path / "no-study"
    shutil.copytree(interim, broken)
    fc.edit_manifest(broken, lambda m: m.pop("study"))
    problem = steps.validate_previous(broken, read_freeze(final), Timings(Progress(io.StringIO(), quiet=True)), [])
    assert problem.startswith("it failed validation (")


@pytest.mark.parametrize("n_changes, listed", [(5, 5), (20, 20), (23, 20)])
def test_the_changes_block_counts_the_data_changes_it_does_not_list(n_changes, listed):
    """results.json's changes block lists at most 20 data changes and says how many it leaves out
    (the report's footnote prints that count; changes.csv lists them all)."""
    from alliance_report.comparison import add_changes

    data_changes = [{"file": "questionnaires.csv", "key": f"P{i:03d}|W5|WAI|3", "column": "value",
                     "previous": "2", "current": "3"} for i in range(n_changes)]
    unchanged = {"added": 0, "removed": 0, "changed": 0, "unchanged": 1}
    files = {file: dict(unchanged) for file in FREEZE_FILES}
    files["questionnaires.csv"]["changed"] = n_changes
    comparison = {"freeze_id": "earlier", "cutoff_date": "2015-01-01", "input_sha256": "0" * 64,
                  "changes": {"previous": None, "files": files, "data_changes": data_changes}}
    results = {"open": {}}
    add_changes(results, comparison)
    block = results["open"]["changes"]
    assert block["n_data_changes"] == n_changes and len(block["data_changes"]) == listed
    assert block["n_data_changes_not_listed"] == n_changes - listed
