"""The "Data validation" section of both editions: its sentence and tables, from ``validation.json``.

What a committee needs of the validation (the freeze of a report always passed it): how many
checks ran and on what, then every warning (and failure) with its examples.  The list of every
check is kept for the HTML (collapsed) and ``tables/data_validation.csv``; the PDF leaves it out.
The open edition shows the warnings without their examples: an example is a row or a cell of
the data and may name a participant's arm.
"""

from __future__ import annotations

from alliance_report.freeze import FREEZE_FILES
from alliance_report.render import format as fmt
from alliance_report.render.tables import Row, Table

FINDINGS = ("failed", "warning")  # the outcomes the report lists one by one


def _file(name: str) -> str:
    """A cross-file check's files with spaces around "+", so that a line breaks between names."""
    return " + ".join(name.split("+"))


def findings(validation: dict) -> list[dict]:
    return [check for check in validation["checks"] if check["status"] in FINDINGS]


def sentence(validation: dict, numbers: dict, edition: str, comparison_flags: list[dict] = ()) -> str:
    """One paragraph: the checks run, failed and warned, the warnings of the comparison with the
    previous freeze (``changes.flags``), where the counts and the findings are."""
    n_failed = validation["n_failed"]  # 0 in every report: an invalid freeze is not reported
    text = (f"The freeze {'passed' if n_failed == 0 else 'failed'} validation: {validation['n_checks']} checks "
            f"were run on the manifest, the {len(FREEZE_FILES)} data files and the rules across them (Table "
            f"{numbers['validation_summary']}), and {'none' if n_failed == 0 else n_failed} failed. ")
    n_warnings = validation["n_warnings"]
    if n_warnings == 0:
        text += "No check gave a warning."
    else:
        examples = "with up to 5 examples each" if edition == "closed" else "without example values in this edition"
        text += (f"Of the checks, {n_warnings} gave a warning — legal but implausible values, which "
                 f"do not stop the build — listed in Table {numbers['validation_findings']} {examples}.")
    if comparison_flags:  # (their rows are not added up: one row may be in two of them)
        warnings = fmt.plural(len(comparison_flags), "warning", "warnings")
        text += (f" The comparison with the previous freeze gave {warnings} — changes that are legal but that a "
                 "committee should know of — listed in Table "
                 f"{numbers['change_warnings']}.")
    where = (f"the HTML report (under “All {validation['n_checks']} checks”) and in validation.json"
             if edition == "closed" else "the closed edition")
    return text + f" The list of every check is in {where}."


def summary_table(validation: dict) -> Table:
    """Per file: checks run and their outcomes (validation.json ``by_file``)."""
    rows = tuple(Row((_file(file), str(c["checks"]), str(c.get("passed", 0)), str(c.get("failed", 0)),
                      str(c.get("warning", 0)), str(c.get("not checked", 0))))
                 for file, c in validation["by_file"].items())
    footnote = (f"The {validation['n_checks']} checks: the manifest, the Great Expectations suites of each file "
                "(expectations/) and the rules across files (a + b).")
    return Table("validation_summary", "Data validation of the freeze, per file",
                 ("File", "Checks", "Passed", "Failed", "Warnings", "Not checked"), rows, footnote)


def findings_table(validation: dict, edition: str) -> Table:
    """Every warning and failure: file, columns, rule, rows, and (closed edition) the examples."""
    with_examples = edition == "closed"
    rows = []
    for check in findings(validation):
        cells = (_file(check["file"]), ", ".join(check["columns"]) or "—", check["rule"], check["status"],
                 str(check["n_failing"]) if check["n_failing"] else "—")
        rows.append(Row(cells + ((", ".join(check["examples"]) or "—",) if with_examples else ())))
    header = ("File", "Column(s)", "Rule", "Outcome", "Rows") + (("Examples",) if with_examples else ())
    footnote = ("Rows: how many rows break the rule. Examples: up to 5, as row numbers of the file (the header "
                "is row 1), cells or participant ids." if with_examples else
                "Rows: how many rows break the rule. The examples are in the closed edition only.")
    caption = ("Warnings of the data validation" if validation["n_failed"] == 0
               else "Failures and warnings of the data validation")
    return Table("validation_findings", caption, header, tuple(rows), footnote, text_columns=4)


def checks_table(validation: dict) -> Table:
    """Every check run on the freeze with its outcome (validation.json): HTML and CSV only."""
    rows = tuple(
        Row((_file(check["file"]), ", ".join(check["columns"]) or "—", check["rule"], check["status"],
             str(check["n_failing"]) if check["n_failing"] else ""))
        for check in validation["checks"])
    footnote = (f"The {validation['n_checks']} checks: the manifest, the Great Expectations suites of each file "
                "(expectations/) and the rules across files. Warnings flag legal but implausible values; "
                "they do not stop the build.")
    return Table("data_validation", f"All {validation['n_checks']} checks of the data validation",
                 ("File", "Column(s)", "Rule", "Outcome", "Rows"), rows, footnote, text_columns=4)


def section_tables(validation: dict, edition: str) -> dict[str, Table]:
    """The section's tables by role: the summary, the findings (when any), and in the closed
    edition the list of every check (``"validation"``, unnumbered, not in the PDF)."""
    tables = {"validation_summary": summary_table(validation)}
    if findings(validation):
        tables["validation_findings"] = findings_table(validation, edition)
    if edition == "closed":
        tables["validation"] = checks_table(validation)
    return tables
