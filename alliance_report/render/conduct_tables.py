"""Tables of the "Trial conduct" section, from the ``conduct`` object of results.json only.

``conduct_tables(conduct)`` returns, by role, the tables ``accrual``, ``sites``,
``completeness``, ``timeliness`` and ``disposition`` (written to ``tables/conduct_<role>.csv``),
and the monthly series behind the figures, ``accrual_monthly`` and ``disposition_monthly`` (cumulative)
(CSV files only: the report shows them as figures).
Pooled when ``conduct`` has no ``by_arm`` (the open edition); the closed edition's dict has
``by_arm`` beside each pooled block and its tables add the arms (MBCT, eMBCT, TAU).  Every
number is formatted by :mod:`alliance_report.render.format`; nothing is computed here.
"""

from __future__ import annotations

from alliance_report.design import (ALLOCATIONS, DISPOSITION_EVENTS as EVENTS, INSTRUMENT_LABELS, INSTRUMENTS,
                                    TIMEPOINT_INSTRUMENTS, TIMEPOINTS)
from alliance_report.render import format as fmt
from alliance_report.render.tables import Row, Table, abbreviations

ARMS = ALLOCATIONS  # MBCT, eMBCT, TAU
# the events' labels in the conduct tables and figures
MONTHS_SHOWN = 12
ARM_AT_CUTOFF = ("By arm: the treatment condition of treated participants (re-randomized TAU participants "
                 "in the condition they were re-randomized to), TAU for TAU participants not (yet) "
                 "re-randomized.")
ABBREVIATIONS = abbreviations("MBCT", "eMBCT", "TAU", "WAI", "HADS", "MHC-SF")


def _pct(pct: float | None, denominator: int | None) -> str:
    return fmt.percent(pct, denominator or 0)


def _days(value: float | None) -> str:
    return fmt.number(value, 1)


def _arms(block: dict) -> dict | None:
    return block.get("by_arm") if isinstance(block, dict) else None


# ----------------------------------------------------------------------------- accrual

def _projection(accrual: dict) -> str:
    window = accrual["rate_window_months"]
    return {"projected": accrual["projected_target_date"], "target_reached": "target reached",
            "too_few_complete_months": f"{fmt.MISSING} (fewer than {window} complete months)",
            "no_recent_randomization": f"{fmt.MISSING} (no randomization in the last {window} complete months)",
            }[accrual["projection"]]


def accrual_table(conduct: dict) -> Table:
    accrual = conduct["accrual"]
    arms = _arms(accrual)
    blank = ("",) * (len(ARMS) if arms else 0)
    months = accrual["rate_months"]
    rate_label = (f"Randomized per month, last {accrual['rate_window_months']} complete months"
                  + (f" ({months[0]} to {months[-1]})" if months else ""))
    rows = [
        Row(("Randomized", fmt.integer(accrual["randomized"]),
             *((fmt.integer(arms[a]["randomized"]) for a in ARMS) if arms else ()))),
    ]
    if arms:
        rows.append(Row(("Randomized, % of all randomized", "",
                         *(_pct(arms[a]["pct_of_randomized"], accrual["randomized"]) for a in ARMS))))
    rows += [
        Row(("Target", fmt.integer(accrual["target"]), *blank)),
        Row(("Randomized, % of target", _pct(accrual["pct_of_target"], accrual["target"]), *blank)),
        Row(("Planned by the cut-off (target line)", fmt.number(accrual["target_at_cutoff"], 0), *blank)),
        Row((rate_label, fmt.number(accrual["rate_last_3_months"], 1), *blank)),
        Row(("Projected date the target is reached", _projection(accrual), *blank)),
    ]
    end = _last_month_shown(accrual)
    shown = range(max(0, end + 1 - MONTHS_SHOWN), end + 1)
    rows.append(Row((f"Randomized per month, {_months_label(accrual, len(shown))}", "", *blank), group=True))
    for i in shown:
        month = accrual["monthly"][i]
        rows.append(Row((_month_label(accrual, i), fmt.integer(month["randomized"]),
                         *((fmt.integer(arms[a]["monthly"][i]["randomized"]) for a in ARMS) if arms else ())),
                        indent=True))
    header = ("", "Overall", *ARMS) if arms else ("", "Value")
    footnote = (f"Randomized participants at the cut-off {accrual['cutoff_date']}. The target line runs "
                f"linearly from 0 at the start of recruitment ({accrual['recruitment_start']}) to the target "
                f"of {fmt.integer(accrual['target'])} at its planned end ({accrual['recruitment_end_planned']}). "
                "Complete months lie wholly between the start of recruitment and the cut-off; the projected "
                f"date assumes the rate of the last {accrual['rate_window_months']} complete months (a month = "
                "365.25/12 days)."
                + (" By arm: the first randomization (allocation). " + ABBREVIATIONS if arms else ""))
    return Table("conduct_accrual", "Accrual: randomized participants against the target", header,
                 tuple(rows), footnote)


def _last_month_shown(accrual: dict) -> int:
    """The index of the last month of the accrual table: once the target is reached, the month
    of the last randomization (recruitment may go on past the target; the months after it hold
    none), else the cut-off month."""
    if accrual["target_reached"]:
        months = [month["month"] for month in accrual["monthly"]]
        return months.index(accrual["last_randomization_month"])
    return len(accrual["monthly"]) - 1


def _months_label(accrual: dict, n_months: int) -> str:
    last = f"the last {n_months} months" if n_months > 1 else "the month"
    if accrual["target_reached"]:
        target, month = accrual["target_reached_month"], accrual["last_randomization_month"]
        if month == target:
            return f"{last} to the target, reached in {target}"
        return f"{last} to the last randomization, in {month} (the target was reached in {target})"
    return f"{last} to the cut-off" if n_months > 1 else "the cut-off month"


def _month_label(accrual: dict, i: int) -> str:
    """"2014-06", or "2014-06 (to 2014-06-01)" for a cut-off month that ends before the month does."""
    month = accrual["monthly"][i]["month"]
    is_last = i == len(accrual["monthly"]) - 1
    return f"{month} (to {accrual['cutoff_date']})" if is_last and accrual["cutoff_month_partial"] else month


def accrual_monthly_table(conduct: dict) -> Table:
    """Every month of recruitment to the cut-off: randomized, cumulative, the target line (CSV only)."""
    accrual = conduct["accrual"]
    arms = _arms(accrual)
    header = ("Month", "Randomized", "Cumulative", "Target line (cumulative)",
              *((f"Randomized, {a}" for a in ARMS) if arms else ()))
    rows = tuple(Row((month["month"], fmt.integer(month["randomized"]), fmt.integer(month["cumulative"]),
                      fmt.number(month["target_cumulative"], 1),
                      *((fmt.integer(arms[a]["monthly"][i]["randomized"]) for a in ARMS) if arms else ())))
                 for i, month in enumerate(accrual["monthly"]))
    footnote = (f"Randomized participants per calendar month from the start of recruitment "
                f"({accrual['recruitment_start']}) to the cut-off ({accrual['cutoff_date']}; the first and last "
                "months may be partial), cumulative, and the target line at the end of the month."
                + (" By arm: the first randomization (allocation)." if arms else ""))
    return Table("conduct_accrual_monthly", "Accrual per month", header, rows, footnote)


def disposition_monthly_table(conduct: dict) -> Table:
    """Disposition events to the end of each month, pooled (CSV only; the retention figure draws them)."""
    header = ("Month", *(f"{fmt.EVENT_LABELS[event]} (cumulative)" for event in EVENTS))
    rows = tuple(Row((month["month"], *(fmt.integer(month[event]) for event in EVENTS)))
                 for month in conduct["disposition_monthly"])
    footnote = ("Disposition events recorded up to the end of each calendar month (the last row: up to the "
                "cut-off), pooled over the arms.")
    return Table("conduct_disposition_monthly", "Disposition events, cumulative by month", header, rows, footnote)


# ----------------------------------------------------------------------------- sites

def _site_cells(row: dict, with_arms: bool) -> tuple[str, ...]:
    cells = (fmt.integer(row["screened"]), fmt.integer(row["eligible"]), fmt.integer(row["randomized"]),
             _pct(row["randomized_pct"], row["screened"]))
    if with_arms:
        cells += tuple(fmt.integer(row["by_arm"][a]["randomized"]) for a in ARMS)
    return cells


def sites_table(conduct: dict) -> Table:
    total = conduct["sites_total"]
    with_arms = "by_arm" in total
    header = ("Site", "Screened", "Eligible", "Randomized", "% of screened", *(ARMS if with_arms else ()))
    rows = [Row((row["site"], *_site_cells(row, with_arms))) for row in conduct["sites"]]
    rows.append(Row(("Total", *_site_cells(total, with_arms))))
    groups = (("", 5), ("Randomized by allocation", len(ARMS))) if with_arms else ()
    footnote = ("Persons assessed for eligibility (screening.csv) by site; randomized as a percentage of "
                "screened." + (" By arm: the first randomization (allocation). " + ABBREVIATIONS
                               if with_arms else ""))
    return Table("conduct_sites", "Screening and randomization by site", header, tuple(rows), footnote,
                 header_groups=groups)


# ----------------------------------------------------------------------------- completeness

def _arm_completeness(cell: dict) -> str:
    """"92.4 (131)": % complete (due); an em dash when nothing was due."""
    if not cell["due"]:
        return fmt.MISSING
    return f"{_pct(cell['pct_complete'], cell['due'])} ({fmt.integer(cell['due'])})"


def completeness_table(conduct: dict) -> Table:
    completeness = conduct["completeness"]
    arms = _arms(completeness)
    header = ("Timepoint", "Instrument", "Due", "Complete", "Partial", "Missing", "% complete", "Before due",
              *(ARMS if arms else ()))
    rows = []
    for timepoint in TIMEPOINTS:
        for i, instrument in enumerate(TIMEPOINT_INSTRUMENTS[timepoint]):
            cell = completeness[timepoint][instrument]
            rows.append(Row((
                fmt.TIMEPOINT_LABELS[timepoint] if i == 0 else "", INSTRUMENT_LABELS[instrument],
                *(fmt.integer(cell[status]) for status in ("due", "complete", "partial", "missing")),
                _pct(cell["pct_complete"], cell["due"]), fmt.integer(cell["received_before_due"]),
                *((_arm_completeness(arms[a][timepoint][instrument]) for a in ARMS) if arms else ()))))
    groups = (("", 8), ("% complete (due) by arm", len(ARMS))) if arms else ()
    footnote = ("Questionnaires per timepoint at the cut-off. Due: the planned date plus its window has passed "
                "(and the participant had not withdrawn from the study before the planned date); complete: a "
                "scale score; partial: rows but too many items skipped for a score; missing: due without rows. "
                "% complete = complete / due. Before due: forms already there while their window is still open, "
                "not yet counted as due (and forms returned before the planned date by a participant who then "
                "withdrew, never due)."
                + (f" {ARM_AT_CUTOFF} {ABBREVIATIONS}" if arms
                   else " " + abbreviations(*(INSTRUMENT_LABELS[name] for name in INSTRUMENTS))))
    return Table("conduct_completeness", "Completeness of the questionnaires at the cut-off", header,
                 tuple(rows), footnote, header_groups=groups, text_columns=2)


# ----------------------------------------------------------------------------- timeliness

def _median_q(cell: dict) -> str:
    """"−2.0 (−4.0, 0.0)": median (Q1, Q3); an em dash without forms."""
    if cell["median_days"] is None:
        return fmt.MISSING
    return f"{_days(cell['median_days'])} ({_days(cell['q1_days'])}, {_days(cell['q3_days'])})"


def timeliness_table(conduct: dict) -> Table:
    timeliness = conduct["timeliness"]
    arms = _arms(timeliness)
    if arms:
        header = ("Timepoint", *(("Forms", "Median (Q1, Q3)") * (1 + len(ARMS))))
        rows = tuple(Row((fmt.TIMEPOINT_LABELS[tp], fmt.integer(timeliness[tp]["n"]), _median_q(timeliness[tp]),
                          *(cell for a in ARMS for cell in (fmt.integer(arms[a][tp]["n"]), _median_q(arms[a][tp])))))
                     for tp in TIMEPOINTS)
        groups = (("", 1), ("Overall", 2), *((a, 2) for a in ARMS))
    else:
        header = ("Timepoint", "Forms", "Median", "Q1", "Q3")
        rows = tuple(Row((fmt.TIMEPOINT_LABELS[tp], fmt.integer(timeliness[tp]["n"]), _days(timeliness[tp]["median_days"]),
                          _days(timeliness[tp]["q1_days"]), _days(timeliness[tp]["q3_days"])))
                     for tp in TIMEPOINTS)
        groups = ()
    footnote = ("Days from the planned date of the timepoint to the completion of each form (each "
                "questionnaire of a participant at that timepoint) that is there; negative: completed before "
                "the planned date. Q1, Q3: first and third quartile (linear interpolation)."
                + (f" {ARM_AT_CUTOFF} {ABBREVIATIONS}" if arms else ""))
    return Table("conduct_timeliness", "Timeliness of the questionnaires", header, rows, footnote,
                 header_groups=groups)


# ----------------------------------------------------------------------------- disposition

def disposition_table(conduct: dict) -> Table:
    disposition = conduct["disposition"]
    arms = _arms(disposition)
    header = ("Event", "Overall", *ARMS) if arms else ("Event", "Participants")
    rows = tuple(Row((fmt.EVENT_LABELS[event], fmt.integer(disposition[event]),
                      *((fmt.integer(arms[a][event]) for a in ARMS) if arms else ())))
                 for event in EVENTS)
    footnote = ("Participants who left treatment or the study early, by the event recorded in disposition.csv "
                "(one event per participant) up to the cut-off. Lost to follow-up here is that event; the "
                "participant flow's “lost to follow-up at T1” counts everyone whose treatment has ended and whose "
                "T1 was due without a HADS score, with or without an event."
                + (f" {ARM_AT_CUTOFF} {ABBREVIATIONS}" if arms else ""))
    return Table("conduct_disposition", "Retention: disposition events", header, rows, footnote)


def conduct_tables(conduct: dict) -> dict[str, Table]:
    """The tables of the "Trial conduct" section by role (by arm when ``conduct`` has ``by_arm``)."""
    return {
        "accrual": accrual_table(conduct),
        "sites": sites_table(conduct),
        "completeness": completeness_table(conduct),
        "timeliness": timeliness_table(conduct),
        "disposition": disposition_table(conduct),
        "accrual_monthly": accrual_monthly_table(conduct),
        "disposition_monthly": disposition_monthly_table(conduct),
    }
