"""The "Changes since the previous freeze" section of both editions: its sentence and tables.

A function of the edition's ``results["changes"]`` (:mod:`alliance_report.comparison`); in the
open edition the values of the data changes are already gone from it (``changes.open_changes``).
"""

from __future__ import annotations

from alliance_report.render import format as fmt
from alliance_report.render.tables import Row, Table

KEY_RESULT_LABELS = {
    "randomized": ("Randomized", 0),
    "treated": ("Treated (MBCT or eMBCT)", 0),
    "time_n": ("Aim 2, time: n (complete cases)", 0),
    "time_wilks": ("Aim 2, time: Wilks Λ", 3),
    "time_p": ("Aim 2, time: P", None),
    **{f"{scale}{key}": (f"Early alliance and {names['text']}: {symbol}", decimals)
       for scale, names in fmt.OUTCOME_NAMES.items()
       for key, symbol, decimals in (("_n", "n", 0), ("_wai_w2_b", "B", 2), ("_wai_w2_p", "P", None))},
}


BOUNDED = ("time_wilks",)  # key results that cannot exceed 1 (Wilks Λ)


def heading(changes: dict) -> str:
    previous = changes.get("previous") or {}
    return f"Changes since freeze {previous['freeze_id']}" if previous.get("freeze_id") else "Changes since the previous freeze"


def sentence(changes: dict, numbers: dict, edition: str = "closed") -> str:
    if changes["status"] == "no previous freeze":
        return "This freeze is not compared with a previous one: no earlier valid freeze of this study was given."
    if changes["status"] == "not compared":
        return f"The previous freeze is not compared with this one: {changes['reason']}."
    previous, totals = changes["previous"], changes["totals"]
    added, changed, removed = totals["added"], totals["changed"], totals["removed"]
    text = (f"Compared with freeze {previous['freeze_id']} (cut-off {previous['cutoff_date']}), {fmt.integer(added)} "
            f"{fmt.agree(added, 'row was', 'rows were')} added, {fmt.integer(changed)} changed and "
            f"{fmt.integer(removed)} removed (Table {numbers['changes_files']}). ")
    n = changes["n_data_changes"]
    if n == 0:
        return text + ("There is no data change: no row was removed and no value that was set at the previous "
                       "freeze differs now (values set for the first time, such as a re-randomization, are "
                       "ordinary updates).")
    shown, table = len(changes["data_changes"]), f"Table {numbers['changes_data']}"
    where = _changes_csv(edition)
    if n <= shown:
        listed = f"{'it is' if n == 1 else 'all are'} listed in {table} and in {where}"
    else:
        listed = (f"{shown} are listed in {table} (removed rows and changed randomization or baseline data "
                  f"first), and every one is in {where}")
    # (a sentence never starts with a numeral)
    return text + (f"There {fmt.agree(n, 'is', 'are')} {fmt.integer(n)} data {fmt.agree(n, 'change', 'changes')} — "
                   "a removed row, or a value that was set at the previous freeze and differs now — that "
                   f"{fmt.agree(n, 'needs', 'need')} a look: {listed}.")


def _changes_csv(edition: str) -> str:
    """Where the full list of data changes is, for a reader of ``edition``."""
    return "changes.csv beside this report" if edition == "closed" else "the closed edition's changes.csv"


def files_table(changes: dict) -> Table:
    rows = tuple(Row((file, *(fmt.integer(c[key]) for key in ("added", "removed", "changed", "unchanged"))))
                 for file, c in changes["files"].items())
    return Table("changes_files", f"Rows added, removed and changed since freeze {changes['previous']['freeze_id']}",
                 ("File", "Added", "Removed", "Changed", "Unchanged"), rows,
                 "Rows are matched on their keys: screening_id; participant_id; participant_id and session; "
                 "participant_id, timepoint, instrument and item; participant_id. Changed: the same key with "
                 "any other cell different, including cells filled for the first time.")


def _cell(value: str | None) -> str:
    return fmt.MISSING if value is None else (value if len(value) <= 60 else value[:59] + "…")


def data_changes_table(changes: dict, edition: str) -> Table:
    """File, key, column, and in the closed edition the previous and current values of each data change."""
    closed = edition == "closed"
    rows = tuple(Row((c["file"], c["key"], c["column"] or "(row removed)",
                      *((_cell(c["previous"]), _cell(c["current"])) if closed else ())))
                 for c in changes["data_changes"])
    footnote = ("A data change is a removed row, or a value that was not empty at the previous freeze and "
                "differs now (or is empty). "
                + ("Values as written in the files; long ones are cut (…)." if closed else
                   "Their values are not shown in this edition: they may carry the arm (allocation and treatment, "
                   "and cells that follow it, such as session dates) or outcome data."))
    more = changes["n_data_changes_not_listed"]
    if more > 0:
        footnote += (f" {fmt.integer(more)} more data {fmt.agree(more, 'change is', 'changes are')} not shown here; "
                     f"{_changes_csv(edition)} lists every one.")
    header = ("File", "Key", "Column", "Previous", "Current") if closed else ("File", "Key", "Column")
    return Table("changes_data", "Data changes since the previous freeze", header, rows, footnote,
                 text_columns=len(header))


def key_results_table(changes: dict, style: str) -> Table:
    rows = []
    for row in changes["key_results"]:
        label, decimals = KEY_RESULT_LABELS[row["key"]]
        if decimals is None:
            cells = (fmt.p_value(row["previous"], style), fmt.p_value(row["current"], style))
            label = label.replace(": P", f": {fmt.header('p', style)}")
        elif decimals == 0:
            cells = (fmt.integer(row["previous"]), fmt.integer(row["current"]))
        elif row["key"] in BOUNDED:  # APA: no leading zero
            cells = (fmt.bounded_number(row["previous"], decimals, style),
                     fmt.bounded_number(row["current"], decimals, style))
        else:
            cells = (fmt.number(row["previous"], decimals), fmt.number(row["current"], decimals))
        rows.append(Row((label, *cells)))
    return Table("changes_key_results", "Key results, previous and current freeze",
                 ("Result", f"Freeze {changes['previous']['freeze_id']}", "This freeze"), tuple(rows),
                 "The previous freeze analysed with the same code. Aim 2: repeated-measures MANOVA, time effect; "
                 "early alliance: the WAI week-2 term of each main outcome model; n: the participants each "
                 f"analysis used. {fmt.MISSING}: not estimable in that freeze (its report says why).")


def flags_table(changes: dict) -> Table:
    rows = tuple(Row((flag["file"], flag["rule"], fmt.integer(flag["n"]), ", ".join(flag["examples"])))
                 for flag in changes["flags"])
    return Table("change_warnings", "Warnings from the comparison with the previous freeze",
                 ("File", "Rule", "Rows", "Examples"), rows,
                 "Removed rows and changed baseline or randomization data since the previous freeze: legal, but "
                 "a committee should know.", text_columns=2)


def section_tables(changes: dict, edition: str, style: str) -> dict[str, Table]:
    """The tables of the section (none when nothing was compared)."""
    if changes["status"] != "compared":
        return {}
    tables = {"changes_files": files_table(changes)}
    if changes["data_changes"]:
        tables["changes_data"] = data_changes_table(changes, edition)
    if "key_results" in changes:
        tables["changes_key_results"] = key_results_table(changes, style)
    if changes["flags"]:
        tables["change_warnings"] = flags_table(changes)
    return tables
