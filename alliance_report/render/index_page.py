"""``index.html`` of ``build-all`` (committee-reports.md, "The index of all freezes"), and its table as
Markdown for a CI job summary.

``index_html(rows, study=…, target=…)`` returns one self-contained page (``report_templates/
index.html.j2`` with ``index.css`` inlined; Jinja's autoescape escapes every value): the figure as
inline SVG, no script, no external URL.  It is open-safe by construction: it is given only
arm-free numbers (randomized and treated pooled over the arms, randomized as % of the target,
validation totals, change counts) and writes nothing else; it computes none of them.  The same
rows give the same bytes (no timestamp unless ``generated`` is passed; the figure is drawn like
every figure of the report, see :mod:`figures`).

A row, one per freeze::

    {"freeze_id": str, "cutoff_date": str | None, "folder": str,
     "outcome": "built" | "up to date" | "invalid" | "failed" | "interrupted", "detail": str,
     "randomized": int | None, "treated": int | None,
     "pct_of_target": float | None,     # randomized as % of the target (results: conduct.accrual)
     "validation": {"checks": int, "failed": int, "warnings": int} | None,
     "changes": {"previous_freeze_id": str | None, "added": int, "changed": int, "removed": int} | None,
     "links": {"closed_html": str | None, "closed_pdf": str | None,
               "open_html": str | None, "open_pdf": str | None},
     "study": str}                       # optional: only when the rows are of more than one study

The rows are shown in cut-off order (then freeze id, then folder; rows without a cut-off last),
whatever order they are given in.  Every string from a row is escaped by the template (freeze ids,
details and folders come from user data); a link is a path relative to the index, percent-encoded,
so it can never become an absolute or ``javascript:`` URL.

The figure (``freeze_index``): the cumulative number randomized at each freeze's cut-off, points
joined by a line (rows without a number or without a valid cut-off date are skipped), against a
horizontal dashed line at the target.  matplotlib is imported only when there is a point to
draw; ``index_summary`` never imports it.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import NamedTuple
from urllib.parse import quote

from markupsafe import Markup

from alliance_report import TEMPLATES_DIR
from alliance_report.render.format import MISSING, integer, percent
from alliance_report.render.templates import environment

FIGURE_NAME = "freeze_index"
OUTCOME_ORDER = ("built", "up to date", "invalid", "failed", "interrupted")
OUTCOME_CLASS = {"built": "ok", "up to date": "ok", "invalid": "bad", "failed": "bad", "interrupted": "warn"}
LINK_KEYS = (("closed", "closed_html", "closed_pdf"), ("open", "open_html", "open_pdf"))
VALUE_LABELS = 12  # at most this many points are labelled with their number in the figure
STUDY_COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")  # Okabe–Ito
STUDY_MARKERS = ("o", "s", "^", "D", "v", "P", "X")



# ----------------------------------------------------------------------------- helpers

def _int(value) -> int | None:
    """A count, or None for anything that is not a whole number (a bool is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def _count(value) -> str:
    return integer(_int(value))


def _date(text) -> dt.date | None:
    if not isinstance(text, str):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")  # not in XML / not UTF-8


def _text(value) -> str:
    """A user string on one line (a newline or tab in a detail or an id becomes a space); a control
    character or a lone surrogate (a JSON "\\ud800", an undecodable file name) becomes U+FFFD."""
    text = _UNWRITABLE.sub("\ufffd", "" if value is None else str(value))
    return re.sub(r"\s+", " ", text).strip()


def ordered(rows: list[dict]) -> list[dict]:
    """The rows in cut-off order, then freeze id, then folder; rows without a cut-off last."""
    def key(row: dict):
        cutoff = row.get("cutoff_date") if isinstance(row.get("cutoff_date"), str) else None
        return (cutoff is None, cutoff or "", _text(row.get("freeze_id")), _text(row.get("folder")))
    return sorted(rows, key=key)


def _studies(rows: list[dict]) -> list[str]:
    return sorted({_text(row["study"]) for row in rows if row.get("study")})


def _outcomes(rows: list[dict]) -> str:
    """ "3 built, 1 invalid" in a fixed order (any other outcome after, alphabetically)."""
    counts: dict[str, int] = {}
    for row in rows:
        outcome = _text(row.get("outcome")) or "unknown"
        counts[outcome] = counts.get(outcome, 0) + 1
    names = [o for o in OUTCOME_ORDER if o in counts] + sorted(set(counts) - set(OUTCOME_ORDER))
    return ", ".join(f"{counts[o]} {o}" for o in names)


def _validation(row: dict) -> tuple[str, str, str]:
    validation = row.get("validation") or {}
    return tuple(_count(validation.get(key)) for key in ("checks", "failed", "warnings"))


def _changes(row: dict) -> tuple[str, str, str, str]:
    changes = row.get("changes")
    if not changes:
        return (MISSING,) * 4
    previous = _text(changes.get("previous_freeze_id")) or MISSING
    return (*(_count(changes.get(key)) for key in ("added", "changed", "removed")), previous)


def _href(path: str) -> str:
    """A relative link: percent-encoded (":" too, so never a scheme; the template escapes it as an
    attribute value); the bytes of an undecodable file name (surrogate escapes) are percent-encoded
    as they are."""
    path = str(path).lstrip("/")
    try:
        return quote(path, safe="/", errors="surrogateescape")
    except UnicodeEncodeError:
        return quote(path, safe="/", errors="replace")


# ----------------------------------------------------------------------------- the figure

class _Point(NamedTuple):
    freeze_id: str
    cutoff: dt.date
    randomized: int
    study: str
    pct_of_target: float | None


def _percentage(value) -> float | None:
    """A percentage from a row, or None for anything that is not a finite number (a bool is not one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _points(rows: list[dict]) -> list[_Point]:
    """The point of every row that has a number and a valid cut-off."""
    points = []
    for row in rows:
        cutoff, randomized = _date(row.get("cutoff_date")), _int(row.get("randomized"))
        if cutoff is not None and randomized is not None:
            points.append(_Point(_text(row.get("freeze_id")), cutoff, randomized, _text(row.get("study")),
                                 _percentage(row.get("pct_of_target"))))
    return points


def _value_list(points: list[_Point]) -> str:
    return "; ".join(f"{p.freeze_id} (cut-off {p.cutoff.isoformat()}): {p.randomized:,}" for p in points)


def accrual_by_freeze_figure(rows: list[dict], target: int | None):
    """The figure (``figures.Figure``) or None when no row has a number with a valid cut-off date."""
    points = _points(ordered(rows))
    if not points:
        return None
    from alliance_report.render.conduct_figures import POOLED, TARGET, MonthAxis, randomized_axis
    from alliance_report.render.figures import STYLE, WIDTH, export_figure, white_outline, plt
    from matplotlib.lines import Line2D

    target = _int(target)
    first = min(p.cutoff for p in points)
    axis = MonthAxis(first.isoformat()[:7])
    xs = [axis.day_end(p.cutoff.isoformat()) for p in points]
    # room beside the first and last points for their value labels (half a month or 4 % of the span)
    pad = max(0.5, 0.04 * (max(xs) - min(xs)))
    right = max(xs) + pad
    top = max([p.randomized for p in points] + [target or 0, 1]) * 1.15
    studies = sorted({p.study for p in points})
    several = len(studies) > 1

    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(WIDTH, 3.0), layout="constrained")
        handles = []
        if target is not None:
            ax.axhline(target, color=TARGET, linestyle="--", linewidth=1.2, zorder=2, gid="target")
            handles.append(Line2D([], [], color=TARGET, linestyle="--", label=f"Target ({target:,})"))
        for k, study in enumerate(studies):
            series = [(x, p) for x, p in zip(xs, points) if p.study == study]
            colour = STUDY_COLOURS[k % len(STUDY_COLOURS)] if several else POOLED
            marker = STUDY_MARKERS[k % len(STUDY_MARKERS)] if several else "o"
            ax.plot([x for x, _ in series], [p.randomized for _, p in series], color=colour, marker=marker,
                    markersize=4.5, linewidth=1.6, zorder=4, gid=f"randomized-{k}")
            shown = study.replace("$", "\\$")  # every "$" escaped: plain text, never mathtext
            label = "Randomized at the cut-off of each freeze" + (f" ({shown})" if several else "")
            handles.insert(k, Line2D([], [], color=colour, marker=marker, markersize=4.5, label=label))
            if len(points) <= VALUE_LABELS:
                for x, p in series:
                    ax.annotate(f"{p.randomized:,}", (x, p.randomized), xytext=(0, 5), textcoords="offset points",
                                ha="center", va="bottom", fontsize=7.5, color=colour,
                                path_effects=white_outline(2.5), zorder=5)
        ax.set_xlim(min(-0.1, min(xs) - pad), right)
        ax.set_ylim(0, top)
        axis.ticks(ax, right)
        randomized_axis(ax)
        ax.set_xlabel("Cut-off date")
        fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 2), frameon=False,
                   handlelength=2.6, columnspacing=1.6)

    skipped = len(rows) - len(points)
    latest = []
    for study in studies:
        last = max((p for p in points if p.study == study), key=lambda p: p.cutoff)
        of_target = ""
        if target and not several and last.pct_of_target is not None:
            of_target = f" ({percent(last.pct_of_target, target)}% of the target of {target:,})"
        latest.append(f"{f'{study}: ' if several else ''}{last.cutoff.isoformat()} (freeze {last.freeze_id}), "
                      f"{last.randomized:,} had been randomized{of_target}")
    target_text = (f"against the target of {target:,} participants (dashed line)" if target is not None
                   else "without a target line (none was given)")
    skipped_text = (f" {skipped} freeze{'s' if skipped != 1 else ''} without a number or a cut-off date "
                    f"{'are' if skipped != 1 else 'is'} not drawn." if skipped else "")
    studies_text = f" One line per study ({', '.join(studies)})." if several else ""
    caption = (f"Cumulative number of participants randomized at the cut-off of each freeze "
               f"({len(points)} freeze{'s' if len(points) != 1 else ''}), {target_text}, over all arms. "
               f"At the latest cut-off{' of each study' if several else ''}, {'; '.join(latest)}."
               f"{studies_text}{skipped_text}")
    alt = (f"Line chart of the cumulative number of participants randomized (y axis) at each freeze's cut-off "
           f"date (x axis), {target_text}. Values: {_value_list(points)}.{studies_text}{skipped_text}")
    return export_figure(fig, FIGURE_NAME, caption, alt)


_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_COMMENT = re.compile(r"\s*<!--.*?-->", re.S)  # matplotlib escapes "--" inside its comments


def _inline_svg(svg: str) -> str:
    """The SVG without its RDF metadata and text comments (identifier URLs and bytes a page does not need)."""
    return _COMMENT.sub("", _METADATA.sub("", svg, count=1))


def _figure(rows: list[dict], target: int | None) -> dict | None:
    figure = accrual_by_freeze_figure(rows, target)
    if figure is None:
        return None
    return {"name": FIGURE_NAME, "alt": figure.alt, "caption": figure.caption,
            "svg": Markup(_inline_svg(figure.svg))}


# ----------------------------------------------------------------------------- the table

def _row(row: dict, several_studies: bool) -> dict:
    """A row of the table as the template writes it: plain strings (escaped by the template)."""
    outcome = _text(row.get("outcome")) or "unknown"
    links = row.get("links") or {}
    *changes, previous = _changes(row)
    return {
        "freeze_id": _text(row.get("freeze_id")) or MISSING,
        "study": _text(row.get("study")) if several_studies else "",
        "folder": _text(row.get("folder")),
        "cutoff": _text(row.get("cutoff_date")) or MISSING,
        "outcome": outcome, "outcome_class": OUTCOME_CLASS.get(outcome, "warn"), "detail": _text(row.get("detail")),
        "randomized": _count(row.get("randomized")), "treated": _count(row.get("treated")),
        "counts": [*zip(("validation-checks", "validation-failed", "validation-warnings"), _validation(row)),
                   *zip(("changes-added", "changes-changed", "changes-removed"), changes)],
        "previous": previous,
        "editions": [(edition, [(kind, _href(links[key])) for key, kind in ((html_key, "HTML"), (pdf_key, "PDF"))
                                if links.get(key)])
                     for edition, html_key, pdf_key in LINK_KEYS],
    }


# ----------------------------------------------------------------------------- the page

def index_html(rows: list[dict], *, study: str, target: int | None, generated: str | None = None) -> str:
    """The text of ``<out-root>/index.html`` (see the module doc; report_templates/index.html.j2)."""
    rows = ordered(list(rows))
    study = _text(study)
    cutoffs = sorted(row["cutoff_date"] for row in rows if _date(row.get("cutoff_date")) is not None)
    if rows:
        span = f" with cut-off dates from {cutoffs[0]} to {cutoffs[-1]}" if len(cutoffs) > 1 else \
            (f" with the cut-off date {cutoffs[0]}" if cutoffs else "")
        summary = f"{len(rows)} freeze{'s' if len(rows) != 1 else ''}{span}: {_outcomes(rows)}."
    else:
        summary = "No freeze was found."
    if _int(target) is not None:
        summary += f" The target is {_int(target):,} randomized participants."
    several = len(_studies(rows)) > 1
    return environment(TEMPLATES_DIR, autoescape=True).get_template("index.html.j2").render(
        title=f"{study}: data freezes" if study else "Data freezes", study=study, summary=summary,
        generated=_text(generated) if generated else "", figure=_figure(rows, target),
        rows=[_row(row, several) for row in rows], missing=MISSING)


# ----------------------------------------------------------------------------- Markdown

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|&~])")


def _md(value) -> str:
    """A user string in a Markdown table cell: one line, every Markdown and HTML character escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _text(value))


def index_summary(rows: list[dict]) -> str:
    """The index's table as GitHub Markdown (a job summary): one line per freeze after the header."""
    lines = ["| Freeze | Cut-off | Outcome | Randomized | Treated | Validation (checks / failed / warnings) "
             "| Changes (added / changed / removed) |",
             "|---|---|---|---:|---:|---|---|"]
    for row in ordered(list(rows)):
        outcome = _md(_text(row.get("outcome")) or "unknown")
        if _text(row.get("detail")):
            outcome += f" \\({_md(row.get('detail'))}\\)"
        validation = " / ".join(_validation(row)) if row.get("validation") else MISSING
        *counts, previous = _changes(row)
        changes = (f"{' / '.join(counts)} vs {_md(previous)}" if row.get("changes") else MISSING)
        cells = [_md(row.get("freeze_id")) or MISSING, _md(row.get("cutoff_date")) or MISSING, outcome,
                 _count(row.get("randomized")), _count(row.get("treated")), validation, changes]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = ["index_html", "index_summary", "accrual_by_freeze_figure", "ordered"]
