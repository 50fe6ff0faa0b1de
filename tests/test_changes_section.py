"""Every branch of the "Changes since the previous freeze" section's sentence and tables
(render/changes_section.py), on hand-written ``changes`` blocks."""

from __future__ import annotations

import pytest

from alliance_report.render import changes_section as cs

NUMBERS = {"changes_files": 9, "changes_data": 10}
PREVIOUS = {"freeze_id": "2016-06-01", "cutoff_date": "2016-06-01", "input_sha256": "0" * 64}


def counts(added=0, removed=0, changed=0, unchanged=0):
    return {"added": added, "removed": removed, "changed": changed, "unchanged": unchanged}


def block(data_changes, n=None, flags=(), **extra):
    files = {"participants.csv": counts(added=3, changed=2, unchanged=10),
             "questionnaires.csv": counts(added=40, removed=4, unchanged=100)}
    totals = {key: sum(f[key] for f in files.values()) for key in ("added", "removed", "changed", "unchanged")}
    return {"status": "compared", "previous": PREVIOUS, "files": files, "totals": totals,
            "n_data_changes": len(data_changes) if n is None else n,
            "n_data_changes_not_listed": 0 if n is None else n - len(data_changes), "data_changes": list(data_changes),
            "flags": list(flags), **extra}


AGE = {"file": "participants.csv", "key": "P001", "column": "age", "previous": "51", "current": "52"}
ARM = {"file": "participants.csv", "key": "P002", "column": "treatment", "previous": None, "current": None}


def test_no_previous_freeze():
    changes = {"status": "no previous freeze", "previous": None}
    assert cs.heading(changes) == "Changes since the previous freeze"
    assert cs.sentence(changes, NUMBERS) == ("This freeze is not compared with a previous one: no earlier valid "
                                                 "freeze of this study was given.")
    assert cs.section_tables(changes, "closed", "jmir") == {}


def test_a_previous_freeze_that_is_not_compared_gives_the_reason():
    changes = {"status": "not compared", "previous": None, "reason": "it failed validation (2 of 120 checks failed)"}
    assert cs.sentence(changes, NUMBERS) == ("The previous freeze is not compared with this one: it failed "
                                             "validation (2 of 120 checks failed).")
    assert cs.section_tables(changes, "open", "jmir") == {}


def test_no_data_change():
    changes = block([])
    text = cs.sentence(changes, NUMBERS)
    assert cs.heading(changes) == "Changes since freeze 2016-06-01"
    assert text.startswith("Compared with freeze 2016-06-01 (cut-off 2016-06-01), 43 rows were added, "
                           "2 changed and 4 removed (Table 9). There is no data change")
    assert list(cs.section_tables(changes, "closed", "jmir")) == ["changes_files"]


def test_one_data_change_in_each_edition():
    changes = block([AGE])
    assert cs.sentence(changes, NUMBERS, "closed").endswith(
        "There is 1 data change — a removed row, or a value that was set at the previous freeze and differs now — "
        "that needs a look: it is listed in Table 10 and in changes.csv beside this report.")
    assert cs.sentence(changes, NUMBERS, "open").endswith("in the closed edition's changes.csv.")


def test_all_data_changes_listed_and_only_the_first_of_many():
    assert "There are 3 data changes — " in cs.sentence(block([AGE] * 3), NUMBERS)
    assert cs.sentence(block([AGE] * 3), NUMBERS).endswith(
        "need a look: all are listed in Table 10 and in changes.csv beside this report.")
    many = block([AGE] * 20, n=523)
    assert "523 data changes" in cs.sentence(many, NUMBERS)
    assert cs.sentence(many, NUMBERS).endswith(
        "20 are listed in Table 10 (removed rows and changed randomization or baseline data first), and every "
        "one is in changes.csv beside this report.")
    footnote = cs.section_tables(many, "closed", "jmir")["changes_data"].footnote
    assert footnote.endswith("503 more data changes are not shown here; changes.csv beside this report lists every one.")
    open_footnote = cs.section_tables(block([AGE] * 20, n=21), "open", "jmir")["changes_data"].footnote
    assert open_footnote.endswith("1 more data change is not shown here; the closed edition's changes.csv lists every one.")
    assert "503 more" not in cs.section_tables(block([AGE] * 3), "closed", "jmir")["changes_data"].footnote


def test_data_changes_table_cells_and_the_open_footnote():
    removed = {"file": "questionnaires.csv", "key": "P003|T1|HADS|1", "column": None,
               "previous": "P003,T1,HADS,1," + "x" * 80, "current": None}
    closed = cs.section_tables(block([AGE, dict(AGE, current=None), removed]), "closed", "jmir")["changes_data"]
    cells = [row.cells for row in closed.rows]
    assert closed.header == ("File", "Key", "Column", "Previous", "Current")
    assert cells[0] == ("participants.csv", "P001", "age", "51", "52")
    assert cells[1][3:] == ("51", "—")  # a value emptied since the previous freeze
    assert cells[2][2] == "(row removed)" and len(cells[2][3]) == 60 and cells[2][3].endswith("…")
    assert "not shown in this edition" not in closed.footnote
    # the open edition: file, key and column; no value (the open results hold none either)
    hidden = [dict(c, previous=None, current=None) for c in (AGE, ARM, removed)]
    opened = cs.section_tables(block(hidden), "open", "jmir")["changes_data"]
    assert opened.header == ("File", "Key", "Column")
    assert [row.cells for row in opened.rows] == [("participants.csv", "P001", "age"),
                                                  ("participants.csv", "P002", "treatment"),
                                                  ("questionnaires.csv", "P003|T1|HADS|1", "(row removed)")]
    assert "Their values are not shown in this edition: they may carry the arm" in opened.footnote


def test_key_results_and_flags_tables():
    key_results = [{"key": "randomized", "previous": 180, "current": 245},
                   {"key": "time_wilks", "previous": 0.81234, "current": 0.7},
                   {"key": "time_p", "previous": 0.0496, "current": 0.0004}]
    flags = [{"rule": "rows removed", "file": "questionnaires.csv", "n": 4, "examples": ["P003|T1|HADS|1"]}]
    tables = cs.section_tables(block([AGE], key_results=key_results, flags=flags), "closed", "jmir")
    assert list(tables) == ["changes_files", "changes_data", "changes_key_results", "change_warnings"]
    rows = [row.cells for row in tables["changes_key_results"].rows]
    assert rows == [("Randomized", "180", "245"), ("Aim 2, time: Wilks Λ", "0.812", "0.700"),
                    ("Aim 2, time: P", ".0496", "<.001")]  # as in Table 5: Λ to 3 decimals, P at its threshold
    assert tables["changes_key_results"].header == ("Result", "Freeze 2016-06-01", "This freeze")
    assert [row.cells for row in tables["change_warnings"].rows] == [
        ("questionnaires.csv", "rows removed", "4", "P003|T1|HADS|1")]


@pytest.mark.parametrize("style", ["jmir", "apa"])
def test_key_result_p_values_follow_the_style(style):
    table = cs.key_results_table({"previous": PREVIOUS, "key_results": [
        {"key": "time_p", "previous": 0.0496, "current": 0.2}]}, style)
    expected = {"jmir": ("Aim 2, time: P", ".0496", ".20"), "apa": ("Aim 2, time: p", ".0496", ".200")}
    assert table.rows[0].cells == expected[style]  # JMIR: 2 decimals; APA 7: 3
    wilks = cs.key_results_table({"previous": PREVIOUS, "key_results": [
        {"key": "time_wilks", "previous": 0.7543, "current": 0.8041}]}, style)
    assert wilks.rows[0].cells[1:] == {"jmir": ("0.754", "0.804"), "apa": (".754", ".804")}[style]  # Λ ≤ 1


def test_large_counts_have_thousands_separators():
    changes = block([AGE] * 20, n=12345)
    changes["totals"] = {"added": 7555, "removed": 1200, "changed": 9, "unchanged": 10070}
    changes["files"]["questionnaires.csv"] = counts(added=6922, removed=1200, unchanged=10070)
    text = cs.sentence(changes, NUMBERS)
    assert "7,555 rows were added, 9 changed and 1,200 removed" in text and "12,345 data changes" in text
    tables = cs.section_tables(changes, "closed", "jmir")
    assert ("questionnaires.csv", "6,922", "1,200", "0", "10,070") in [row.cells for row in tables["changes_files"].rows]
    assert "12,325 more data changes" in tables["changes_data"].footnote
    key = cs.key_results_table({"previous": PREVIOUS, "key_results": [{"key": "randomized", "previous": 1280,
                                                                      "current": 24500}]}, "jmir")
    assert key.rows[0].cells == ("Randomized", "1,280", "24,500")


@pytest.mark.parametrize("added, words", [(1, "1 row was added"), (0, "0 rows were added"), (2, "2 rows were added")])
def test_the_count_of_added_rows_agrees_with_its_verb(added, words):
    changes = block([])
    changes["totals"] = {"added": added, "removed": 0, "changed": 1, "unchanged": 10}
    assert f"(cut-off 2016-06-01), {words}, 1 changed and 0 removed (Table 9)." in cs.sentence(changes, NUMBERS)
