"""Figures of the "Trial conduct" section, drawn from the ``conduct`` object of results.json only.

``conduct_figures(conduct, style)`` returns, in report order:

1. ``accrual``    cumulative randomized by month against the planned recruitment line (and the
                  projection at the rate of the last 3 complete months); with ``by_arm``, one line
                  per arm of the first randomization as well;
2. ``retention``  left: questionnaires complete as % of due per timepoint (the main instrument:
                  HADS at T0, T0b, T1–T3; WAI at weeks 2, 5, 9), bars per arm with ``by_arm``;
                  right: cumulative disposition events by month (pooled in both editions).

The style, the colours (Okabe–Ito) and the export (deterministic SVG and PNG) are those of
:mod:`alliance_report.render.figures`.  The only arithmetic here is display arithmetic: the
position of a date on the month axis and axis limits.  Without ``by_arm`` (the open edition)
nothing drawn or written depends on the arms.
"""

from __future__ import annotations

import calendar
import datetime as dt

from alliance_report.design import ALLIANCE_WEEKS, ALLOCATIONS, CONDITIONS, MAIN_INSTRUMENT, TIMEPOINTS, WAITING_LIST
from alliance_report.design import DISPOSITION_EVENTS as EVENTS
from alliance_report.render.figures import (HATCHES, LINESTYLES, MARKERS, OKABE_ITO, STYLE, WIDTH, Figure,
                                            export_figure, plt)
from alliance_report.render.format import ALLIANCE_WEEKS_TEXT, EVENT_LABELS, agree, count, integer, number, percent
# matplotlib is set up (Agg backend) by importing figures
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, MaxNLocator, StrMethodFormatter

ARMS = ALLOCATIONS
ARM_COLOURS = {**{arm: OKABE_ITO[arm] for arm in CONDITIONS}, WAITING_LIST: "#009E73"}  # Okabe–Ito bluish green
ARM_MARKERS = {**MARKERS, WAITING_LIST: "^"}
ARM_LINESTYLES = {**LINESTYLES, WAITING_LIST: "-."}
ARM_HATCHES = {**HATCHES, WAITING_LIST: "...."}
POOLED = "#000000"
TARGET = "#777777"
EVENT_STYLES = {"discontinued_treatment": ("#000000", "-"), "withdrew_from_study": ("#E69F00", "--"),
                "lost_to_follow_up": ("#CC79A7", ":")}
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PROJECTION_MONTHS = 24  # the axis reaches a projected date at most this many months after the cut-off


# ----------------------------------------------------------------------------- the month axis

class MonthAxis:
    """x = months since the first day of the first accrual month (fractional within a month)."""

    def __init__(self, first_month: str):
        self.year, self.month = (int(part) for part in first_month.split("-"))

    def month_start(self, month: str) -> float:
        year, mon = (int(part) for part in month.split("-")[:2])
        return float((year - self.year) * 12 + mon - self.month)

    def day_end(self, date: str) -> float:
        """The end of the day ``date`` (YYYY-MM-DD)."""
        day = dt.date.fromisoformat(date)
        days = calendar.monthrange(day.year, day.month)[1]
        return self.month_start(date[:7]) + day.day / days

    def day_start(self, date: str) -> float:
        day = dt.date.fromisoformat(date)
        days = calendar.monthrange(day.year, day.month)[1]
        return self.month_start(date[:7]) + (day.day - 1) / days

    def ticks(self, ax, right: float) -> None:
        """Ticks labelled with month (and year): monthly up to 8 months, quarterly up to 30, else
        yearly ticks with quarterly minor ticks."""
        months = range(0, int(right) + 1)
        labelled, minor = [], []
        for i in months:
            mon = (self.month - 1 + i) % 12
            year = self.year + (self.month - 1 + i) // 12
            if right <= 30:
                if mon % (1 if right <= 8 else 3) == 0:
                    with_year = mon == 0 or not labelled
                    labelled.append((i, f"{MONTH_NAMES[mon]}\n{year}" if with_year else MONTH_NAMES[mon]))
            elif mon == 0:
                labelled.append((i, str(year)))
            elif mon % 3 == 0:
                minor.append(i)
        ax.set_xticks([x for x, _ in labelled], [label for _, label in labelled])
        ax.xaxis.set_minor_locator(FixedLocator(minor))


def randomized_axis(ax) -> None:
    """The y axis of a number of participants randomized: whole numbers with thousands separators,
    a light grid behind the data."""
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.yaxis.grid(True, color="#dddddd", linewidth=0.5)
    ax.set_axisbelow(True)
    ax.set_ylabel("Participants randomized")


def _cumulative_points(axis: MonthAxis, monthly: list[dict], cutoff: str, key: str = "cumulative"):
    """(x, y): 0 at the start of the first month, then the value at each month end (the cut-off for the last)."""
    xs, ys = [0.0], [0.0]
    for i, month in enumerate(monthly):
        last = i == len(monthly) - 1
        xs.append(axis.day_end(cutoff) if last else axis.month_start(month["month"]) + 1.0)
        ys.append(month[key])
    return xs, ys


# ----------------------------------------------------------------------------- 1 accrual

def accrual_figure(conduct: dict, style: str = "jmir") -> Figure | None:
    accrual = conduct.get("accrual") or {}
    monthly = accrual.get("monthly") or []
    if not monthly:
        return None
    arms = accrual.get("by_arm")
    cutoff, target = accrual["cutoff_date"], accrual["target"]
    axis = MonthAxis(monthly[0]["month"])
    x_cut = axis.day_end(cutoff)
    x_start, x_end = axis.day_start(accrual["recruitment_start"]), axis.day_end(accrual["recruitment_end_planned"])
    projected = accrual.get("projected_target_date")
    x_projected = axis.day_end(projected) if projected else None
    right = max(x_cut, x_end)
    if x_projected is not None:
        right = max(right, min(x_projected, x_cut + PROJECTION_MONTHS))
    right += 0.5
    markers = len(monthly) <= 40

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 3.3), layout="constrained")
        ax.plot([0.0, x_start, x_end, max(right, x_end)], [0, 0, target, target], color=TARGET,
                linestyle="--", linewidth=1.2, zorder=2)
        handles = [Line2D([], [], color=POOLED, marker="o" if markers else None, markersize=3.5,
                          label="Randomized (cumulative)"),
                   Line2D([], [], color=TARGET, linestyle="--", label=f"Target line (target {integer(target)})")]
        if x_projected is not None:
            ax.plot([x_cut, x_projected], [accrual["randomized"], target], color=POOLED, linestyle=":",
                    linewidth=1.2, zorder=2)
            handles.append(Line2D([], [], color=POOLED, linestyle=":", label="Projection at the recent rate"))
        xs, ys = _cumulative_points(axis, monthly, cutoff)
        ax.plot(xs, ys, color=POOLED, marker="o" if markers else None, markersize=3.5, linewidth=1.6, zorder=4)
        if arms:
            for arm in ARMS:
                axs, ays = _cumulative_points(axis, arms[arm]["monthly"], cutoff)
                ax.plot(axs, ays, color=ARM_COLOURS[arm], linestyle=ARM_LINESTYLES[arm],
                        marker=ARM_MARKERS[arm] if markers else None, markersize=3, zorder=3)
                handles.append(Line2D([], [], color=ARM_COLOURS[arm], linestyle=ARM_LINESTYLES[arm],
                                      marker=ARM_MARKERS[arm] if markers else None, markersize=3,
                                      label=f"{arm} ({count('n', arms[arm]['randomized'], style)})"))
        ax.axvline(x_cut, color=OKABE_ITO["neutral"], linewidth=0.8, linestyle="-", zorder=1)
        top = max(target, accrual["randomized"]) * 1.15  # headroom for the cut-off label above the data
        early = x_cut < right / 2  # the label on the side of the cut-off line with room
        ax.text(x_cut, top, f" cut-off {cutoff}" if early else f"cut-off {cutoff} ", ha="left" if early else "right",
                va="top", fontsize=8, color=OKABE_ITO["neutral"])
        ax.set_xlim(0, right)
        ax.set_ylim(0, top)
        axis.ticks(ax, right)
        randomized_axis(ax)
        fig.legend(handles=handles, loc="outside upper center", ncol=3 if len(handles) > 4 else len(handles),
                   frameon=False, handlelength=2.6, columnspacing=1.6)

    return export_figure(fig, "accrual", *_accrual_text(accrual))


def _accrual_text(accrual: dict) -> tuple[str, str]:
    """The accrual figure's caption and text alternative."""
    cutoff, target, projected = accrual["cutoff_date"], accrual["target"], accrual.get("projected_target_date")
    arms, monthly = accrual.get("by_arm"), accrual["monthly"]
    pct = percent(accrual.get("pct_of_target"), target)
    rate = accrual.get("rate_last_3_months")
    window = accrual["rate_window_months"]
    projection = {
        "projected": (f"At the rate of the last {window} complete months ({number(rate, 1)} per month) the target "
                      f"is projected to be reached around {projected} (dotted line)."),
        "target_reached": "The target has been reached.",
        "too_few_complete_months": f"No rate is given before {window} complete months of recruitment.",
        "no_recent_randomization": f"Nobody was randomized in the last {window} complete months: no date can be "
                                   "projected.",
    }[accrual["projection"]]
    by_arm = (" Coloured lines: cumulative randomized per arm of the first randomization ("
              + ", ".join(f"{arm} {integer(arms[arm]['randomized'])}" for arm in ARMS) + ")." if arms else "")
    caption = (f"Accrual: cumulative number of randomized participants by month up to the cut-off {cutoff}, "
               f"{integer(accrual['randomized'])} of the target of {integer(target)} ({pct}%), against the planned "
               f"recruitment line (dashed) from 0 at {accrual['recruitment_start']} to {integer(target)} at "
               f"{accrual['recruitment_end_planned']}, which stood at {number(accrual['target_at_cutoff'], 0)} on "
               f"the cut-off date. {projection}{by_arm}")
    alt = (f"Line chart of the cumulative number of randomized participants per month from {monthly[0]['month']} "
           f"to {monthly[-1]['month']}, with a dashed planned recruitment line rising linearly to the target of "
           f"{integer(target)} participants at {accrual['recruitment_end_planned']} and a vertical line at the cut-off "
           f"{cutoff}. At the cut-off, {integer(accrual['randomized'])} "
           f"{agree(accrual['randomized'], 'participant', 'participants')} had been randomized ({pct}% of the "
           f"target of {integer(target)}); the planned line stood at {number(accrual['target_at_cutoff'], 0)}. "
           f"{projection}{by_arm}")
    return caption, alt


# ----------------------------------------------------------------------------- 2 retention

def _completeness_cell(completeness: dict, timepoint: str) -> dict:
    return (completeness.get(timepoint) or {}).get(MAIN_INSTRUMENT[timepoint]) or {}


def _pct_text(cell: dict) -> str:
    return f"{percent(cell.get('pct_complete'), cell.get('due') or 0)}%" if cell.get("due") else "none due"


def retention_figure(conduct: dict) -> Figure | None:
    completeness = conduct.get("completeness") or {}
    monthly = conduct.get("disposition_monthly") or []
    accrual = conduct.get("accrual") or {}
    if not completeness and not monthly:
        return None
    arms = completeness.get("by_arm")
    disposition = conduct.get("disposition") or {}

    with plt.rc_context(STYLE):
        fig, (left, right) = plt.subplots(1, 2, figsize=(WIDTH, 3.3), layout="constrained",
                                          gridspec_kw={"width_ratios": (1.5, 1)})
        left.set_title("Questionnaires complete, % of due", loc="left")
        positions = range(len(TIMEPOINTS))
        if arms:
            # bars for the arms with any form due (TAU has none once everyone is re-randomized)
            shown = [arm for arm in ARMS if any(_completeness_cell(arms[arm], tp).get("due") for tp in TIMEPOINTS)]
            width = 0.8 / max(len(shown), 1)
            for k, arm in enumerate(shown):
                xs, heights = [], []
                for i, tp in enumerate(TIMEPOINTS):
                    cell = _completeness_cell(arms[arm], tp)
                    if cell.get("due") and cell.get("pct_complete") is not None:
                        xs.append(i + (k - (len(shown) - 1) / 2) * width)
                        heights.append(cell["pct_complete"])
                left.bar(xs, heights, width=width, color=ARM_COLOURS[arm], edgecolor="white", linewidth=0.5,
                         hatch=ARM_HATCHES[arm], zorder=3)
            if shown:
                fig.legend(handles=[Patch(facecolor=ARM_COLOURS[a], edgecolor="white", hatch=ARM_HATCHES[a],
                                          label=a) for a in shown],
                           loc="outside upper center", ncol=len(shown), frameon=False)
        else:
            for i, tp in enumerate(TIMEPOINTS):
                cell = _completeness_cell(completeness, tp)
                if cell.get("due") and cell.get("pct_complete") is not None:
                    left.bar(i, cell["pct_complete"], width=0.62, color=OKABE_ITO["neutral"], zorder=3)
                    left.text(i, cell["pct_complete"] + 1.5, percent(cell["pct_complete"], cell["due"]),
                              ha="center", va="bottom", fontsize=7.5)
        dues = [_completeness_cell(completeness, tp).get("due", 0) for tp in TIMEPOINTS]
        left.set_xticks(list(positions), [f"{tp}\n{integer(due)}" for tp, due in zip(TIMEPOINTS, dues)],
                        fontsize=7 if max(dues) >= 10_000 else 8)  # "24,500" fits under its bars
        left.annotate("due", xy=(0, 0), xycoords="axes fraction", xytext=(-4, -15), textcoords="offset points",
                      ha="right", va="top", fontsize=8)
        left.set_xlim(-0.6, len(TIMEPOINTS) - 0.4)
        left.set_ylim(0, 112)
        left.set_yticks(range(0, 101, 20))
        left.set_ylabel("Complete (%)")
        left.yaxis.grid(True, color="#dddddd", linewidth=0.5)
        left.set_axisbelow(True)

        right.set_title("Disposition events (cumulative)", loc="left")
        if monthly:
            axis = MonthAxis(monthly[0]["month"])
            cutoff = accrual.get("cutoff_date") or f"{monthly[-1]['month']}-01"
            top = 0
            for event in EVENTS:
                xs, ys = _cumulative_points(axis, monthly, cutoff, event)
                colour, style = EVENT_STYLES[event]
                right.plot(xs, ys, color=colour, linestyle=style, linewidth=1.4,
                           label=f"{EVENT_LABELS[event]} ({integer(disposition.get(event))})")
                top = max(top, *ys)
            right.set_xlim(0, axis.day_end(cutoff))
            axis.ticks(right, axis.day_end(cutoff))
            right.set_ylim(0, max(top * 1.6, 1))  # headroom: the legend sits above the lines
            right.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
            right.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
            right.legend(loc="upper left", frameon=False, fontsize=7.5, handlelength=2.4)
        right.set_ylabel("Participants")
        right.yaxis.grid(True, color="#dddddd", linewidth=0.5)
        right.set_axisbelow(True)

    return export_figure(fig, "retention", *_retention_text(completeness, disposition))


def _retention_text(completeness: dict, disposition: dict) -> tuple[str, str]:
    """The retention figure's caption and text alternative."""
    arms = completeness.get("by_arm")

    def series(block: dict) -> str:
        return ", ".join(f"{tp} {_pct_text(_completeness_cell(block, tp))}" for tp in TIMEPOINTS)

    events = ", ".join(f"{integer(disposition.get(event))} {EVENT_LABELS[event].lower()}" for event in EVENTS)
    main = ("the main questionnaire of each timepoint: HADS at T0, T0b and T1–T3, the WAI at weeks "
            f"{ALLIANCE_WEEKS_TEXT} ({', '.join(ALLIANCE_WEEKS)})")
    by_arm = (" Bars per arm at the cut-off (the treatment condition of treated participants, TAU for TAU "
              "participants not yet re-randomized; an arm without forms due has no bar); the number due under "
              "each timepoint is over all arms." if arms else "")
    caption = (f"Retention. Left: questionnaires complete as a percentage of those due at the cut-off, for {main}; "
               f"the number due is given under each timepoint.{by_arm} Right: cumulative number of participants "
               f"with each disposition event by month up to the cut-off ({events}).")
    alt = (f"Two-panel chart. Left: bar chart of questionnaires complete as a percentage of due per timepoint "
           f"({main}): {series(completeness)}."
           + ("".join(f" {arm}: {series(arms[arm])}." for arm in ARMS) if arms else "")
           + f" Right: line chart of cumulative disposition events by month; at the cut-off {events}.")
    return caption, alt


def conduct_figures(conduct: dict, style: str = "jmir") -> tuple[Figure, ...]:
    """The figures of the "Trial conduct" section, in report order (one with nothing to draw is left
    out); ``style``: the reporting style of its counts (Settings.style)."""
    return tuple(figure for figure in (accrual_figure(conduct, style), retention_figure(conduct))
                 if figure is not None)


__all__ = ["conduct_figures", "accrual_figure", "retention_figure"]
