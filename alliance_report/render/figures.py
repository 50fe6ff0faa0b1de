"""Figures of the report, drawn with matplotlib from ``results`` only (no statistics here).

``build_figures(results)`` returns the figures in report order:

1. ``alliance_trajectory``  WAI mean (95% CI) by week and condition, complete cases | all available data
2. ``sessions_attended``    distribution of sessions attended per condition, dropout threshold marked
3. ``alliance_outcome``     early alliance vs post-treatment HADS | MHC-SF, fitted lines per condition
4. ``residual_diagnostics`` residuals vs fitted of the two main outcome models

Every number drawn or written comes from ``results``; the only arithmetic here is display
arithmetic (axis limits, error-bar lengths from the CI bounds, binning of points into hexagons
when there are too many to draw).

One style for every figure: Okabe–Ito colours plus a distinct marker (and line style) per
condition, so that the figures also work in greyscale; DejaVu Sans at ≥ 8 pt; 6.3 in wide
(an A4 text column); legends above the panels, never over the data.

Decisions:

* ``svg.fonttype`` is "path": the SVG is inlined in the HTML report, which committee members
  open in their own browsers where DejaVu Sans is often not installed; glyphs as paths keep
  the figure (and its layout: right-aligned labels, the n table) identical in every viewer,
  in the WeasyPrint PDF and across machines.  Screen readers get the ``alt`` text instead.
* Large n: a panel with more than ``LARGE_N`` (2,000) points is drawn as hexagonal bins
  shaded by count (log scale, conditions pooled) instead of points; below that, points get
  a transparency and size that shrink with n.  Captions say which rendering was used.
* Not estimable: a panel whose model or data are null shows a short "Not estimable" note;
  a figure is omitted (its function returns ``None``) only when none of its panels can be
  drawn.  Per-point nulls (a WAI mean or CI) are skipped.
* Determinism / inlining: ``svg.hashsalt`` is the figure name and every id in the SVG is
  prefixed with the figure name (the glyph ids "DejaVuSans-xx" of fonttype "path" are not
  salted by matplotlib and would clash between figures inlined in one HTML page); no XML
  prolog, no date or creator metadata; PNG at 200 dpi without the Software text chunk.
"""

from __future__ import annotations

import io
import math
import re
import textwrap
from dataclasses import dataclass

import matplotlib

from alliance_report.design import (ALLIANCE_WEEK_NUMBERS, CONDITIONS, INSTRUMENT_LABELS, N_SESSIONS,
                                    OUTCOME_INSTRUMENTS)
from alliance_report.scoring import INSTRUMENTS as SCORED
from alliance_report.render.format import (ALLIANCE_WEEK_LABELS, ALLIANCE_WEEKS_TEXT, OUTCOME_NAMES, agree, count,
                                          count_above, count_range, integer, number, p_statement, percent,
                                          plain_numbers, score_range, stat)

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import patheffects  # noqa: E402
from matplotlib.colors import ListedColormap, LogNorm  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import NullFormatter, StrMethodFormatter  # noqa: E402

OKABE_ITO = {"MBCT": "#0072B2", "eMBCT": "#D55E00", "neutral": "#444444"}
# text in a condition's hue, dark enough for WCAG AA on white (≥ 4.5:1; Okabe–Ito's orange is 3.9:1)
TEXT_COLOURS = {"MBCT": "#0072B2", "eMBCT": "#A84B00", "neutral": "#444444"}

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.titlesize": 9,
    "axes.labelsize": 8.5,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8.5,
    "axes.linewidth": 0.7,
    "xtick.major.width": 0.7,
    "ytick.major.width": 0.7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#222222",
    "lines.linewidth": 1.3,
    "hatch.linewidth": 0.6,
    "svg.hashsalt": "alliance-report",  # replaced by the figure name in export_figure
    "svg.fonttype": "path",
    "figure.dpi": 100,
}

MARKERS = {"MBCT": "o", "eMBCT": "s"}
LINESTYLES = {"MBCT": "-", "eMBCT": "--"}
HATCHES = {"MBCT": "", "eMBCT": "////"}
WEEKS = tuple(ALLIANCE_WEEK_NUMBERS.items())  # ("W2", 2), …: the week and its number
WIDTH = 6.3  # inches: an A4 text column
LARGE_N = 2000  # above this many points a panel is drawn as hexagonal bins
SCALES = {  # the outcomes of Aim 3, as the figures name them
    scale: {"short": INSTRUMENT_LABELS[OUTCOME_INSTRUMENTS[scale]], "label": names["figure"],
            "axis": f"Post-treatment {names['figure']} ({score_range(SCORED[OUTCOME_INSTRUMENTS[scale]])})"}
    for scale, names in OUTCOME_NAMES.items()
}
DENSITY_CMAP = ListedColormap(plt.get_cmap("Greys")(
    [0.18 + 0.72 * i / 255 for i in range(256)]), name="alliance_greys")


@dataclass(frozen=True)
class Figure:
    name: str
    caption: str
    alt: str
    svg: str
    png: bytes


_ID = re.compile(r'\bid="([^"]+)"')


def _prefix_ids(svg: str, prefix: str) -> str:
    """Make every id (and every reference to it) unique to this figure."""
    ids = set(_ID.findall(svg))
    if not ids:
        return svg

    def ref(match: re.Match) -> str:
        target = match.group(2)
        return f"{match.group(1)}{prefix}-{target}" if target in ids else match.group(0)

    svg = _ID.sub(lambda m: f'id="{prefix}-{m.group(1)}"', svg)
    return re.sub(r'(href="#|url\(#)([^")]+)', ref, svg)


def export_figure(fig, name: str, caption: str, alt: str) -> Figure:
    svg_buffer, png_buffer = io.StringIO(), io.BytesIO()
    with plt.rc_context({**STYLE, "svg.hashsalt": name}):
        # the PNG's draw lays the figure out (constrained layout at the PNG's resolution); the
        # SVG keeps that layout, so both are the same figure and it is laid out only once
        fig.savefig(png_buffer, format="png", dpi=200, metadata={"Software": None},
                    pil_kwargs={"compress_level": 3})  # 6% larger than level 6, half the time
        fig.set_layout_engine("none")
        fig.savefig(svg_buffer, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = svg_buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined in HTML
    return Figure(name, caption, alt, _prefix_ids(svg, name), png_buffer.getvalue())


# ----------------------------------------------------------------------------- helpers

def _style(results: dict) -> str:
    """The reporting style of the numbers in captions and labels (Settings.style: jmir | apa)."""
    return _get(results, "settings", "style") or "jmir"


def _get(mapping, *keys):
    """mapping[k1][k2]… or None when any level is missing or null."""
    for key in keys:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(key)
    return mapping




def _condition_handles(markers: bool = True) -> list:
    return [Line2D([], [], color=OKABE_ITO[c], marker=MARKERS[c] if markers else None,
                   linestyle=LINESTYLES[c], markersize=5, label=c) for c in CONDITIONS]


def _italic_p(statement: str) -> str:
    """The P of a p_statement() in italics (mathtext) for text drawn in a figure."""
    if statement[:1] in ("P", "p"):
        return f"$\\mathit{{{statement[0]}}}$" + statement[1:]
    return statement


def _top_legend(fig, handles: list) -> None:
    fig.legend(handles=handles, loc="outside upper center", ncol=len(handles), frameon=False,
               handlelength=2.6, columnspacing=2.0)


def _not_estimable(ax, title: str, reason: str | None) -> None:
    ax.set_title(title, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    text = "Not estimable"
    if reason:
        text += "\n" + textwrap.fill(f"({reason})", 44)
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center",
            color=OKABE_ITO["neutral"], fontsize=8.5)


def _pairs(xs, ys, groups=None) -> tuple[list, list, list]:
    """Aligned values with any null dropped (a malformed list never crashes a figure)."""
    xs, ys = list(xs or []), list(ys or [])
    groups = list(groups) if groups is not None else [None] * len(xs)
    keep = [(x, y, g) for x, y, g in zip(xs, ys, groups) if x is not None and y is not None]
    return [k[0] for k in keep], [k[1] for k in keep], [k[2] for k in keep]


def _point_style(n: int) -> dict:
    """Transparency and marker area that shrink with n, so that a few thousand points stay legible."""
    alpha = min(0.8, max(0.15, 8.0 / max(n, 1) ** 0.5))
    size = min(16.0, max(4.0, 16.0 * (150.0 / max(n, 1)) ** 0.5))
    return {"alpha": alpha, "s": size, "linewidths": 0}


def _density(ax, x: list, y: list):
    """Hexagonal bins shaded by the number of points (log scale): the large-n rendering."""
    # 24 × 13 hexagons are about regular in a 2.5 × 2.3 in panel and at least two data steps wide for
    # WAI means (steps of 1/12) and integer HADS totals, so a discrete grid leaves no empty holes
    return ax.hexbin(x, y, gridsize=(24, 13), mincnt=1, cmap=DENSITY_CMAP, norm=LogNorm(),
                     linewidths=0.2, edgecolors="face")


def _count_colorbar(fig, mappable, axes) -> None:
    bar = fig.colorbar(mappable, ax=axes, shrink=0.85, pad=0.02, aspect=30)
    bar.set_label("Participants per bin (log scale)")
    bar.outline.set_linewidth(0.5)
    bar.ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    bar.ax.yaxis.set_minor_formatter(NullFormatter())


def white_outline(width: float = 3.0) -> list:
    return [patheffects.Stroke(linewidth=width, foreground="white"), patheffects.Normal()]


# ----------------------------------------------------------------------------- 1 trajectory

TRAJECTORY_PANELS = (("complete_cases", "Complete cases"), ("available", "All available data"))
WAI_SCALE = tuple(float(end) for end in SCORED["WAI"].score_range)  # the WAI mean item score
WAI_RANGE = "{:g}–{:g}".format(*WAI_SCALE)  # "1–5"


def wai_axis(values: list[float]) -> tuple[float, float]:
    """The y axis of the alliance trajectory: every mean and CI bound with 0.15 to spare, widened
    to quarter steps (display arithmetic) and kept within the scale, 1–5."""
    low = max(WAI_SCALE[0], math.floor(round((min(values) - 0.15) * 4, 9)) / 4)
    high = min(WAI_SCALE[1], math.ceil(round((max(values) + 0.15) * 4, 9)) / 4)
    return low, high


def _trajectory_axis_note(values: list[float], low: float) -> str:
    """What the caption says of the y axis: where it starts, and error bars cut at the scale's ends."""
    notes = ["the y axis does not start at 1"] if low > WAI_SCALE[0] else []
    if min(values) < WAI_SCALE[0] or max(values) > WAI_SCALE[1]:
        notes.append(f"error bars that reach beyond the scale ({WAI_RANGE}) are cut at its ends")
    return "; ".join(notes)


def alliance_trajectory(results: dict) -> Figure | None:
    """WAI mean with 95% CI by week (2, 5, 9) per condition, complete cases | all available data."""
    descriptives, style = results.get("alliance_descriptives") or {}, _style(results)
    cells = {(kind, c, week): _get(descriptives, kind, c, week) or {}
             for kind, _ in TRAJECTORY_PANELS for c in CONDITIONS for week, _ in WEEKS}
    drawable = [cell for cell in cells.values() if cell.get("mean") is not None]
    if not drawable:
        return None
    limits = [v for cell in drawable for v in (cell.get("ci_low"), cell.get("ci_high"), cell["mean"])
              if v is not None]
    low, high = wai_axis(limits)
    fig = _draw_alliance_trajectory(cells, low, high)
    return export_figure(fig, "alliance_trajectory", _trajectory_caption(cells, limits, low, style),
                         _trajectory_alt(cells, style))


def _draw_alliance_trajectory(cells: dict, low: float, high: float):
    dodge = {"MBCT": -0.14, "eMBCT": 0.14}
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.25), sharey=True, layout="constrained")
        for ax, (kind, title) in zip(axes, TRAJECTORY_PANELS):
            ax.set_title(title, loc="left")
            for c in CONDITIONS:
                line_x, line_y, xs, ys, lower, upper = [], [], [], [], [], []
                for week, x in WEEKS:
                    cell = cells[(kind, c, week)]
                    mean = cell.get("mean")
                    line_x.append(x + dodge[c])
                    line_y.append(float("nan") if mean is None else mean)  # a missing week breaks the line
                    if mean is None:
                        continue
                    xs.append(x + dodge[c])
                    ys.append(mean)
                    has_ci = cell.get("ci_low") is not None and cell.get("ci_high") is not None
                    lower.append(mean - cell["ci_low"] if has_ci else 0.0)
                    upper.append(cell["ci_high"] - mean if has_ci else 0.0)
                if xs:
                    ax.plot(line_x, line_y, color=OKABE_ITO[c], linestyle=LINESTYLES[c], zorder=2)
                    ax.errorbar(xs, ys, yerr=[lower, upper], color=OKABE_ITO[c], marker=MARKERS[c],
                                linestyle="none", markersize=5, capsize=2.5, elinewidth=0.9,
                                capthick=0.9, markeredgecolor="white", markeredgewidth=0.5, zorder=3)
            weeks = [x for _, x in WEEKS]
            ax.set_xticks(weeks, [ALLIANCE_WEEK_LABELS[week] for week, _ in WEEKS])
            ax.set_xlim(min(weeks) - 0.8, max(weeks) + 0.8)
            ax.set_ylim(low, high)
            ax.yaxis.grid(True, color="#dddddd", linewidth=0.5)
            ax.set_axisbelow(True)
            # n per condition and week, as a small table under the axis
            for row, c in enumerate(CONDITIONS):
                y = -0.17 - 0.075 * row
                ax.annotate(f"n {c}", xy=(0.0, y), xycoords="axes fraction", ha="right", va="top",
                            fontsize=8, color=TEXT_COLOURS[c], annotation_clip=False)
                for week, x in WEEKS:
                    ax.annotate(integer(cells[(kind, c, week)].get("n")), xy=(x, y),
                                xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8,
                                color=TEXT_COLOURS[c], annotation_clip=False)
        axes[0].set_ylabel(f"WAI mean score ({WAI_RANGE})")
        _top_legend(fig, _condition_handles())
        # room between the panels for the right one's "n MBCT" labels beside the left one's counts
        fig.get_layout_engine().set(h_pad=0.04, w_pad=0.06, wspace=0.12)
    return fig


def _trajectory_alt(cells: dict, style: str) -> str:
    def series(kind: str, c: str) -> str:
        parts = [f"{number(mean) if mean is not None else 'not available'} at week {x}"
                 for week, x in WEEKS for mean in [cells[(kind, c, week)].get("mean")]]
        ns = sorted({cells[(kind, c, week)].get("n") for week, _ in WEEKS}, key=lambda v: (v is None, v))
        n_text = (count("n", ns[0], style) if len(ns) == 1
                  else count_range("n", ns[0], ns[-1], style, " to ") if None not in ns else "n varies")
        return f"{c} {', '.join(parts)} ({n_text})"

    return (f"Two-panel line chart of the mean Working Alliance Inventory score (scale {WAI_SCALE[0]:g} to "
            f"{WAI_SCALE[1]:g}) with 95% "
            f"confidence intervals at weeks {ALLIANCE_WEEKS_TEXT} of treatment, for MBCT (blue circles, solid line) "
            "and eMBCT (orange squares, dashed line). "
            + " ".join(f"{title}: {series(kind, 'MBCT')}; {series(kind, 'eMBCT')}."
                       for kind, title in TRAJECTORY_PANELS))


def _trajectory_caption(cells: dict, limits: list[float], low: float, style: str) -> str:
    def n_range(kind: str, c: str) -> str:
        ns = [cells[(kind, c, week)].get("n") for week, _ in WEEKS]
        ns = sorted(v for v in ns if v is not None)
        if not ns:
            return f"{c} {count('n', None, style)}"
        return f"{c} {count('n', ns[0], style) if ns[0] == ns[-1] else count_range('n', ns[0], ns[-1], style)}"

    axis_note = _trajectory_axis_note(limits, low)
    return ("Early, mid and late therapeutic alliance (Working Alliance Inventory, WAI, mean item score "
            f"{WAI_RANGE}) at weeks {ALLIANCE_WEEKS_TEXT} of treatment by condition, for participants with all three "
            "measurements (complete cases, left) and for every treated participant with a score at that "
            "week (all available data, right). Conditions are offset slightly on the time axis for "
            f"legibility{'; ' + axis_note if axis_note else ''}. Error bars are 95% CIs of the mean; n per "
            "condition and week is given below each panel (complete cases "
            f"{n_range('complete_cases', 'MBCT')}, {n_range('complete_cases', 'eMBCT')}; "
            f"all available data {n_range('available', 'MBCT')}, {n_range('available', 'eMBCT')}).")


# ----------------------------------------------------------------------------- 2 sessions

def sessions_attended(results: dict) -> Figure | None:
    """Percentage of participants per number of sessions attended (0–8), per condition
    (``dropout_description[c].sessions_distribution_pct``)."""
    description, style = results.get("dropout_description") or {}, _style(results)
    threshold = _get(results, "settings", "dropout_threshold")
    groups = {}  # condition → {sessions: % of the condition}
    for c in CONDITIONS:
        percentages = _get(description, c, "sessions_distribution_pct") or {}
        if _get(description, c, "n"):
            groups[c] = {int(k): v or 0.0 for k, v in percentages.items()}
    if not groups:
        return None
    sessions = sorted({k for percentages in groups.values() for k in percentages} | set(range(N_SESSIONS + 1)))
    width = 0.38
    offsets = {"MBCT": -width / 2, "eMBCT": width / 2}

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 3.0), layout="constrained")
        top = 0.0
        for c in CONDITIONS:
            if c not in groups:
                continue
            heights = [groups[c].get(k, 0.0) for k in sessions]
            top = max(top, *heights)
            ax.bar([k + offsets[c] for k in sessions], heights, width=width, color=OKABE_ITO[c],
                   edgecolor="white", linewidth=0.6, hatch=HATCHES[c], zorder=3)
        top = top * 1.12 if top else 10.0
        if threshold is not None:
            ax.axvspan(-0.6, threshold - 0.5, color="#eeeeee", zorder=0, linewidth=0)
            ax.axvline(threshold - 0.5, color=OKABE_ITO["neutral"], linestyle=":", linewidth=1.0, zorder=2)
            ax.text(threshold - 0.62, top * 0.97, f"Dropout\n(<{threshold} sessions)", ha="right", va="top",
                    fontsize=8, color=OKABE_ITO["neutral"])
        ax.set_xlim(-0.6, sessions[-1] + 0.6)
        ax.set_ylim(0, top)
        ax.set_xticks(sessions)
        ax.set_xlabel(f"Sessions attended (of {N_SESSIONS})")
        ax.set_ylabel("Participants (%)")
        ax.yaxis.grid(True, color="#dddddd", linewidth=0.5)
        handles = [Patch(facecolor=OKABE_ITO[c], edgecolor="white", hatch=HATCHES[c],
                         label=f"{c} ({count('n', _get(description, c, 'n'), style)})") for c in CONDITIONS]
        _top_legend(fig, handles)

    def dropout_text(c: str) -> str:
        n, events = _get(description, c, "n"), _get(description, c, "dropout_n")
        if not n or events is None:
            return f"{c} not available"
        return f"{c} {integer(events)} of {integer(n)} ({percent(_get(description, c, 'dropout_pct'), n)}%)"

    def summary(c: str) -> str:
        d = description.get(c) or {}
        if not d.get("n"):
            return f"{c}: no participants whose treatment had ended"
        median, q1, q3 = plain_numbers(d.get("sessions_median"), d.get("sessions_q1"), d.get("sessions_q3"))
        return f"{c}: median {median} sessions (IQR {q1} to {q3})"

    rule = f"fewer than {threshold} of {N_SESSIONS} sessions" if threshold is not None else "threshold not set"
    alt = (f"Grouped bar chart of the percentage of participants attending 0 to {N_SESSIONS} treatment sessions, "
           "MBCT as plain blue bars and eMBCT as hatched orange bars, with the dropout range "
           f"({rule}) shaded. {summary('MBCT')}; {summary('eMBCT')}. "
           f"Dropout: {dropout_text('MBCT')}; {dropout_text('eMBCT')}.")
    caption = (f"Number of the {N_SESSIONS} treatment sessions attended, per condition, in treated participants whose "
               f"treatment had ended. The shaded area marks dropout ({rule}): {dropout_text('MBCT')}, "
               f"{dropout_text('eMBCT')}. Bars are percentages of each condition; "
               f"{count('n', _get(description, 'MBCT', 'n'), style)} (MBCT) and "
               f"{count('n', _get(description, 'eMBCT', 'n'), style)} (eMBCT).")
    return export_figure(fig, "sessions_attended", caption, alt)


# ----------------------------------------------------------------------------- 3 alliance-outcome

def _model(results: dict, key: str) -> dict:
    return _get(results, "outcome_models", key) or {}


def _reason(model: dict) -> str | None:
    return model.get("not_estimable_reason") or ("no data" if not model else None)


def alliance_outcome(results: dict) -> Figure | None:
    """Early alliance vs post-treatment HADS | MHC-SF, points and fitted line per condition."""
    panels = {}
    for scale in SCALES:
        observed = _model(results, scale).get("observed") or {}
        panels[scale] = _pairs(observed.get("wai_w2"), observed.get("outcome"), observed.get("condition"))
    if not any(x for x, _, _ in panels.values()):
        return None
    large = {scale: len(x) > LARGE_N for scale, (x, _, _) in panels.items()}
    fig, no_lines = _draw_alliance_outcome(results, panels, large)
    return export_figure(fig, "alliance_outcome", _alliance_outcome_caption(results, panels, large, no_lines),
                         _alliance_outcome_alt(results, panels, large))


def _draw_alliance_outcome(results: dict, panels: dict, large: dict) -> tuple:
    """The two panels; (the figure, the short names of the scales whose fitted lines are missing)."""
    no_lines = []
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.2), layout="constrained")
        density = None
        for ax, (scale, meta) in zip(axes, SCALES.items()):
            x, y, g = panels[scale]
            if not x:
                _not_estimable(ax, meta["label"], _reason(_model(results, scale)))
                continue
            ax.set_title(meta["label"], loc="left")
            if large[scale]:
                density = _density(ax, x, y)
            else:
                points = _point_style(len(x))
                for c in CONDITIONS:
                    xs = [xi for xi, gi in zip(x, g) if gi == c]
                    ys = [yi for yi, gi in zip(y, g) if gi == c]
                    if xs:
                        ax.scatter(xs, ys, color=OKABE_ITO[c], marker=MARKERS[c], zorder=2, **points)
            lines = _model(results, f"{scale}_moderation").get("fitted_lines") or {}
            drawn = False
            for c in CONDITIONS:
                lx, ly, _ = _pairs(_get(lines, c, "wai_w2"), _get(lines, c, "predicted"))
                if len(lx) == 2:
                    ax.plot(lx, ly, color=OKABE_ITO[c], linestyle=LINESTYLES[c], linewidth=1.8, zorder=4,
                            path_effects=white_outline(3.6))
                    drawn = True
            if not drawn:
                no_lines.append(meta["short"])
                ax.set_title(f"{meta['label']} (fitted lines not estimable)", loc="left")
            ax.set_xlabel("Early alliance (WAI week 2)")
            ax.set_ylabel(meta["axis"])
        if density is not None:
            _count_colorbar(fig, density, axes)
        # markers in the legend only when some panel shows points
        _top_legend(fig, _condition_handles(markers=not all(large[s] or not panels[s][0] for s in SCALES)))
    return fig, no_lines


def _alliance_outcome_alt(results: dict, panels: dict, large: dict) -> str:
    style = _style(results)

    def slopes(scale: str) -> str:
        model = _model(results, f"{scale}_moderation")
        slope = model.get("simple_slopes") or {}
        if model.get("not_estimable_reason") or not slope:
            return "fitted lines not estimable"
        return "; ".join(f"{c} slope {stat('B', _get(slope, c, 'b'), style=style)} "
                         f"({p_statement(_get(slope, c, 'p'), style)})"
                         for c in CONDITIONS)

    def panel_alt(scale: str) -> str:
        meta = SCALES[scale]
        x, _, _ = panels[scale]
        if not x:
            return f"{meta['label']}: not estimable ({_reason(_model(results, scale))})"
        shown = "hexagonal bins shaded by count" if large[scale] else "points per participant"
        return f"{meta['label']} ({shown}, {count('n', _model(results, scale).get('n'), style)}): {slopes(scale)}"

    return ("Two-panel chart of post-treatment outcome against early alliance (WAI score at week 2), with "
            "a fitted line per condition (MBCT blue solid, eMBCT orange dashed). "
            + ". ".join(panel_alt(scale) for scale in SCALES) + ".")


def _alliance_outcome_caption(results: dict, panels: dict, large: dict, no_lines: list[str]) -> str:
    style = _style(results)
    how = []
    if any(large[s] for s in SCALES if panels[s][0]):
        which = " and ".join(SCALES[s]["short"] for s in SCALES if large[s] and panels[s][0])
        how.append(f"Because {count_above('n', LARGE_N, style)}, the {which} panel{'s' if which.count(' and ') else ''} show"
                   f"{'' if which.count(' and ') else 's'} the number of participants per hexagonal bin "
                   "(both conditions pooled, log scale) instead of individual points.")
    if any(not large[s] for s in SCALES if panels[s][0]):
        how.append("Points are participants (transparency increases with n).")
    not_drawn = [SCALES[s]["short"] for s in SCALES if not panels[s][0]]
    if not_drawn:
        how.append(f"The {' and '.join(not_drawn)} {agree(len(not_drawn), 'model', 'models')} could not be "
                   "estimated.")
    if no_lines:
        models = agree(len(no_lines), "model", "models")
        how.append(f"Fitted lines of the {' and '.join(no_lines)} moderation {models} could not be estimated.")
    ns = " and ".join(f"{count('n', _model(results, s).get('n'), style)} ({SCALES[s]['short']})" for s in SCALES)
    if len(no_lines) + sum(not panels[s][0] for s in SCALES) < len(SCALES):
        how.append("Lines are the values predicted by the moderation model (alliance × condition) per "
                   f"condition at the mean baseline score, over each condition's observed alliance range; {ns}.")
    else:
        how.append(f"Model samples: {ns}.")
    return ("Early alliance (WAI at week 2) and post-treatment outcome: HADS total (left; higher is more "
            "distress) and MHC-SF mean (right; higher is more well-being). " + " ".join(how))


# ----------------------------------------------------------------------------- 4 residuals

def residual_diagnostics(results: dict) -> Figure | None:
    """Residuals vs fitted values of the two main outcome models, with a zero line."""
    style = _style(results)
    panels = {}
    for scale in SCALES:
        diag = _model(results, scale).get("diagnostics") or {}
        panels[scale] = _pairs(diag.get("fitted"), diag.get("residuals"))[:2]
    if not any(x for x, _ in panels.values()):
        return None
    large = {scale: len(x) > LARGE_N for scale, (x, _) in panels.items()}

    def stats_line(scale: str, in_figure: bool = False) -> str:
        """The panel's tests: in the figure's title with an italic P (mathtext), else as plain text."""
        diag = _model(results, scale).get("diagnostics") or {}
        p = p_statement(diag.get("breusch_pagan_p"), style)
        return f"Breusch–Pagan {_italic_p(p) if in_figure else p}; max VIF {number(diag.get('max_vif'))}"

    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(WIDTH, 3.1), layout="constrained")
        density = None
        for ax, (scale, meta) in zip(axes, SCALES.items()):
            x, y = panels[scale]
            if not x:
                _not_estimable(ax, meta["label"], _reason(_model(results, scale)))
                continue
            ax.set_title(f"{meta['label']}\n{stats_line(scale, in_figure=True)}", loc="left", fontsize=8.5)
            if large[scale]:
                density = _density(ax, x, y)
            else:
                ax.scatter(x, y, color=OKABE_ITO["neutral"], marker="o", zorder=2, **_point_style(len(x)))
            # a white outline keeps the line visible over dark bins; over points it is not needed
            ax.axhline(0, color="#000000", linewidth=0.9, zorder=3,
                       path_effects=white_outline(2.4) if large[scale] else None)
            ax.set_xlabel(f"Fitted {meta['label']}")
            ax.set_ylabel("Residual")
        if density is not None:
            _count_colorbar(fig, density, axes)

    def panel_alt(scale: str) -> str:
        meta = SCALES[scale]
        if not panels[scale][0]:
            return f"{meta['label']} model: not estimable ({_reason(_model(results, scale))})"
        shown = "hexagonal bins shaded by count" if large[scale] else "one point per participant"
        return (f"{meta['label']} model ({shown}, {count('n', _model(results, scale).get('n'), style)}): "
                f"{stats_line(scale)}")

    alt = ("Two scatter plots of residuals against fitted values of the main outcome models, with a "
           "horizontal line at zero residual. " + ". ".join(panel_alt(s) for s in SCALES) + ".")
    how = []
    drawn = [s for s in SCALES if panels[s][0]]
    if any(large[s] for s in drawn):
        how.append(f"Panels with {count_above('n', LARGE_N, style)} show the number of participants per hexagonal bin (log "
                   "scale) instead of individual points.")
    if any(not large[s] for s in drawn):
        how.append("Points are participants.")
    not_drawn = [SCALES[s]["short"] for s in SCALES if not panels[s][0]]
    if not_drawn:
        how.append(f"The {' and '.join(not_drawn)} {agree(len(not_drawn), 'model', 'models')} could not be "
                   "estimated.")
    ns = " and ".join(f"{count('n', _model(results, s).get('n'), style)} ({SCALES[s]['short']})" for s in SCALES)
    caption = ("Residuals against fitted values of the main outcome models (post-treatment score on baseline "
               "score, early alliance and condition): HADS total (left) and MHC-SF mean (right); panel "
               "titles give the Breusch–Pagan test for heteroscedasticity and the largest variance "
               "inflation factor (VIF). " + " ".join(how)
               + f" The horizontal line marks a residual of zero; {ns}.")
    return export_figure(fig, "residual_diagnostics", caption, alt)


# ----------------------------------------------------------------------------- all

FIGURES = (alliance_trajectory, sessions_attended, alliance_outcome, residual_diagnostics)


def build_figures(results: dict) -> tuple[Figure, ...]:
    """Every figure of the report, in report order; a figure with nothing to draw is left out."""
    return tuple(figure for figure in (build(results) for build in FIGURES) if figure is not None)


__all__ = ["Figure", "build_figures", "alliance_trajectory", "sessions_attended", "alliance_outcome",
           "residual_diagnostics", "OKABE_ITO", "STYLE", "LARGE_N"]
