"""The "Data validation" section as a committee needs it: a summary, every warning with its
examples (closed edition) or without them (open edition), the list of every check only in the
HTML (collapsed) and the CSV, and a PDF appendix of one page for a clean freeze."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess

import pytest

from alliance_report.render import validation_section as vs

NUMBERS = {"validation_summary": 12, "validation_findings": 13}


def check(file, status, columns=(), n=0, examples=(), rule="a rule"):
    return {"check_id": f"{file}.{rule}", "file": file, "columns": list(columns), "rule": rule, "status": status,
            "n_failing": n, "examples": list(examples)}


def validation(checks):
    by_file: dict[str, dict] = {}
    for c in checks:
        counts = by_file.setdefault(c["file"], {"checks": 0, "passed": 0, "failed": 0, "warning": 0, "not checked": 0})
        counts["checks"] += 1
        counts[c["status"]] += 1
    return {"valid": not any(c["status"] == "failed" for c in checks), "n_checks": len(checks),
            "n_failed": sum(c["status"] == "failed" for c in checks),
            "n_warnings": sum(c["status"] == "warning" for c in checks), "n_not_checked": 0,
            "by_file": by_file, "checks": checks}


CLEAN = validation([check("manifest.json", "passed"), check("participants.csv", "passed"),
                    check("sessions.csv", "passed"), check("questionnaires.csv+participants.csv", "passed")])
LATE = check("questionnaires.csv", "warning", ["completed_on"], 3, ['row 12: "2016-01-02"', "row 40", "row 41"],
             rule="completed at most 60 days after the planned date")
OLD = check("participants.csv", "warning", ["age"], 1, ['row 7: "94"'], rule="age at most 90")


def test_a_clean_freeze():
    text = vs.sentence(CLEAN, NUMBERS, "closed")
    assert text == ("The freeze passed validation: 4 checks were run on the manifest, the 5 data files and the rules "
                    "across them (Table 12), and none failed. No check gave a warning. The list of every check is in "
                    "the HTML report (under “All 4 checks”) and in validation.json.")
    assert vs.sentence(CLEAN, NUMBERS, "open").endswith("The list of every check is in the closed edition.")
    assert list(vs.section_tables(CLEAN, "closed")) == ["validation_summary", "validation"]
    assert list(vs.section_tables(CLEAN, "open")) == ["validation_summary"]


def test_one_warning_and_several():
    one = validation(CLEAN["checks"] + [OLD])
    assert "none failed. Of the checks, 1 gave a warning — legal but implausible values, which do not stop the " \
           "build — listed in Table 13 with up to 5 examples each." in vs.sentence(one, NUMBERS, "closed")
    two = validation(CLEAN["checks"] + [OLD, LATE])
    assert "Of the checks, 2 gave a warning" in vs.sentence(two, NUMBERS, "closed")
    for sentence in (vs.sentence(one, NUMBERS, "closed"), vs.sentence(two, NUMBERS, "open"), vs.sentence(
            CLEAN, {**NUMBERS, "change_warnings": 14}, "closed", [{"rule": "rows removed"}] * 3)):  # APA: no numeral first
        assert not any(start.isdigit() for start in re.findall(r"(?:^|[.!?] )(\S)", sentence)), sentence
    assert not vs.summary_table(two).footnote[0].isdigit()
    assert "listed in Table 13 without example values in this edition." in vs.sentence(two, NUMBERS, "open")


def test_a_failed_check_is_not_called_passed():
    failed = validation(CLEAN["checks"] + [check("sessions.csv", "failed", ["session"], 2, ["row 3"])])
    text = vs.sentence(failed, NUMBERS, "closed")
    assert text.startswith("The freeze failed validation: 5 checks") and "and 1 failed." in text
    assert vs.findings_table(failed, "closed").caption == "Failures and warnings of the data validation"


def test_the_findings_table_has_examples_only_in_the_closed_edition():
    v = validation(CLEAN["checks"] + [OLD, LATE])
    closed = vs.findings_table(v, "closed")
    assert closed.header[-1] == "Examples" and closed.caption == "Warnings of the data validation"
    assert [row.cells for row in closed.rows] == [
        ("participants.csv", "age", "age at most 90", "warning", "1", 'row 7: "94"'),
        ("questionnaires.csv", "completed_on", "completed at most 60 days after the planned date", "warning", "3",
         'row 12: "2016-01-02", row 40, row 41')]
    opened = vs.findings_table(v, "open")
    assert "Examples" not in opened.header and all(len(row.cells) == 5 for row in opened.rows)
    assert "94" not in json.dumps([row.cells for row in opened.rows])


def test_cross_file_names_break_between_files():
    rows = {row.cells[0] for row in vs.summary_table(CLEAN).rows}
    assert "questionnaires.csv + participants.csv" in rows


def pdf_pages(path):
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return text.split("\f")


@pytest.mark.parametrize("edition", ["closed", "open"])
def test_the_pdf_has_the_summary_on_one_page_and_the_html_every_check(demo_pair, edition):
    _, out = demo_pair
    folder = out if edition == "closed" else out / "open"
    validation_json = json.loads((out / "validation.json").read_text(encoding="utf-8"))
    pages = pdf_pages(folder / "report.pdf")
    text = "\f".join(pages)
    heading = re.search(r"^\s*Data validation\s*$", text, re.M).start()
    footnote = text.index(f"The {validation_json['n_checks']} checks: the manifest, the Great Expectations suites")
    section = [line for line in text[heading:footnote].split("\n") if line.strip() and "\f" not in line]
    assert len(section) < 40  # a clean freeze: the section is shorter than a page (~60 lines of text)
    caption = text.index("Data validation of the freeze, per file")
    assert text.count("\f", caption, footnote) == 0  # the summary table is not split over two pages
    assert not any("All " in page and " checks of the data validation" in page for page in pages)
    html = (folder / "report.html").read_text(encoding="utf-8")
    if edition == "closed":
        details = html[html.index('<details class="all-checks">'):html.index("</details>")]
        assert details.count("<tr>") - 1 == validation_json["n_checks"]  # a header row and one row per check
        rows = list(csv.reader(io.StringIO((folder / "tables" / "data_validation.csv").read_text(encoding="utf-8"))))
        assert len(rows) - 1 == validation_json["n_checks"]
        assert "All " not in (folder / "report.qmd").read_text(encoding="utf-8").split("Data validation")[-1][:2000]
    else:
        assert "<details" not in html and not (folder / "tables" / "data_validation.csv").exists()


def test_the_warnings_of_the_comparison_are_counted_in_the_sentence():
    """The warnings table of the comparison with the previous freeze sits in this section: the
    sentence counts it (it said "None gave a warning." above a table of 7 warnings)."""
    flags = [{"rule": "rows removed", "file": "participants.csv", "n": 1, "examples": ["P0116"]},
             {"rule": "randomization data changed", "file": "participants.csv", "n": 25, "examples": ["P0003"]}]
    numbers = {**NUMBERS, "change_warnings": 14}
    text = vs.sentence(CLEAN, numbers, "closed", flags)
    assert ("No check gave a warning. The comparison with the previous freeze gave 2 warnings — changes that are legal "
            "but that a committee should know of — listed in Table 14. The list of every check") in text
    one = vs.sentence(CLEAN, numbers, "open", flags[:1])
    assert "gave 1 warning — " in one
    assert "comparison" not in vs.sentence(CLEAN, numbers, "closed", [])
