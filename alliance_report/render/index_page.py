"""``index.html`` of ``build-all`` (committee-reports.md, "The index of all freezes"), and its table as
Markdown for a CI job summary.

``index_html(rows, study=…, target=…)`` returns one self-contained page: inline CSS, the figure
as inline SVG, no script, no external URL.  It is open-safe by construction: it is given only
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
whatever order they are given in.  Every string from a row is escaped (freeze ids, details and
folders come from user data); a link is a path relative to the index, percent-encoded, so it can
never become an absolute or ``javascript:`` URL.

The figure (``freeze_index``): the cumulative number randomized at each freeze's cut-off, points
joined by a line (rows without a number or without a valid cut-off date are skipped), against a
horizontal dashed line at the target.  matplotlib is imported only when there is a point to
draw; ``index_summary`` never imports it.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from typing import NamedTuple
from urllib.parse import quote

from alliance_report.render.format import MISSING, integer, percent

FIGURE_NAME = "freeze_index"
OUTCOME_ORDER = ("built", "up to date", "invalid", "failed", "interrupted")
OUTCOME_CLASS = {"built": "ok", "up to date": "ok", "invalid": "bad", "failed": "bad", "interrupted": "warn"}
LINK_KEYS = (("closed", "closed_html", "closed_pdf"), ("open", "open_html", "open_pdf"))
VALUE_LABELS = 12  # at most this many points are labelled with their number in the figure
STUDY_COLOURS = ("#000000", "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")  # Okabe–Ito
STUDY_MARKERS = ("o", "s", "^", "D", "v", "P", "X")

CSS = """
:root { --ink: #1a1a1a; --muted: #555; --rule: #999; --accent: #0072B2; --fill: #f3f6f9;
        --ok: #00704f; --bad: #b3470b; --warn: #8a5a00; }
html { font-family: "DejaVu Sans", system-ui, Arial, sans-serif; color: var(--ink); font-size: 15px;
       line-height: 1.45; }
body { max-width: 74em; margin: 0 auto; padding: 1em; }
h1 { font-size: 1.45em; line-height: 1.25; margin: 0.2em 0 0.3em; }
h2 { font-size: 1.15em; margin-top: 1.5em; border-bottom: 1px solid var(--rule); padding-bottom: 0.15em; }
.meta { color: var(--muted); font-size: 0.9em; margin: 0.2em 0; }
.note { border-left: 4px solid var(--accent); background: var(--fill); padding: 0.35em 0.7em; font-size: 0.92em; }
.scroll { overflow-x: auto; max-width: 100%; border: 1px solid #ddd; -webkit-overflow-scrolling: touch; }
.scroll:focus { outline: 2px solid var(--accent); }
table { border-collapse: collapse; font-size: 0.86em; min-width: 100%; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: 0.4em 0.5em; }
th, td { padding: 0.3em 0.5em; text-align: right; vertical-align: top; border-bottom: 1px solid #e4e4e4; }
thead th { border-bottom: 1px solid var(--ink); vertical-align: bottom; background: #fff; }
thead th.group { text-align: center; border-bottom: 1px solid var(--rule); }
th.text, td.text, tbody th { text-align: left; }
tbody th { font-weight: bold; position: sticky; left: 0; background: #fff; z-index: 1;
           box-shadow: 1px 0 0 #e4e4e4; }
td.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
td.nowrap { white-space: nowrap; }
.small { display: block; font-weight: normal; font-size: 0.85em; color: var(--muted); overflow-wrap: anywhere; }
.outcome { font-weight: bold; }
.outcome.ok { color: var(--ok); }
.outcome.bad { color: var(--bad); }
.outcome.warn { color: var(--warn); }
a { color: var(--accent); }
.links { white-space: nowrap; }
figure { margin: 1em 0; }
figure svg { width: 100%; height: auto; display: block; max-width: 46em; }
figcaption { font-size: 0.9em; margin-top: 0.3em; }
ul.notes { font-size: 0.9em; color: var(--muted); padding-left: 1.2em; }
@media print { .scroll { overflow: visible; border: none; } table { font-size: 0.7em; } tbody th { position: static; } }
""".strip()


# ----------------------------------------------------------------------------- helpers

def _e(value) -> str:
    """Text for HTML (content and attribute values), every markup character escaped."""
    return html.escape("" if value is None else str(value), quote=True)


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
    """A relative link as an attribute value: percent-encoded (":" too, so never a scheme), escaped;
    the bytes of an undecodable file name (surrogate escapes) are percent-encoded as they are."""
    path = str(path).lstrip("/")
    try:
        return _e(quote(path, safe="/", errors="surrogateescape"))
    except UnicodeEncodeError:
        return _e(quote(path, safe="/", errors="replace"))


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
    right = max(xs) + 0.5
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
        ax.set_xlim(min(-0.1, min(xs) - 0.5), right)
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


def _figure_html(rows: list[dict], target: int | None) -> str:
    figure = accrual_by_freeze_figure(rows, target)
    if figure is None:
        return ('<p id="figure-missing">No freeze has a number of randomized participants with a cut-off date yet, '
                "so there is no figure.</p>")
    return (f'<figure id="figure-{FIGURE_NAME}" aria-labelledby="caption-{FIGURE_NAME}">'
            f'<div role="img" aria-label="{_e(figure.alt)}">{_inline_svg(figure.svg)}</div>'
            f'<figcaption id="caption-{FIGURE_NAME}">Figure 1. {_e(figure.caption)}</figcaption></figure>')


# ----------------------------------------------------------------------------- the table

def _links_cell(row: dict) -> str:
    links = row.get("links") or {}
    freeze_id = _text(row.get("freeze_id"))
    lines = []
    for edition, html_key, pdf_key in LINK_KEYS:
        parts = [f'<a href="{_href(links[key])}" aria-label="{_e(f"{edition} edition of {freeze_id}, {kind}")}">'
                 f"{kind}</a>" for key, kind in ((html_key, "HTML"), (pdf_key, "PDF")) if links.get(key)]
        lines.append(f'<span class="links {edition}">{edition}: {" · ".join(parts) if parts else MISSING}</span>')
    return "<br/>".join(lines)


def _row_html(row: dict, several_studies: bool) -> str:
    outcome = _text(row.get("outcome")) or "unknown"
    detail = _text(row.get("detail"))
    folder = _text(row.get("folder"))
    study = _text(row.get("study"))
    head = _e(_text(row.get("freeze_id")) or MISSING)
    if several_studies and study:
        head += f' <span class="small study">{_e(study)}</span>'
    if folder:
        head += f' <span class="small folder">{_e(folder)}</span>'
    outcome_cell = f'<span class="outcome {OUTCOME_CLASS.get(outcome, "warn")}">{_e(outcome)}</span>'
    if detail:
        outcome_cell += f' <span class="small detail">{_e(detail)}</span>'
    cutoff = _text(row.get("cutoff_date")) or MISSING
    cells = [f'<th scope="row" class="freeze">{head}</th>',
             f'<td class="text nowrap cutoff">{_e(cutoff)}</td>',
             f'<td class="text outcome-cell">{outcome_cell}</td>',
             f'<td class="num randomized">{_count(row.get("randomized"))}</td>',
             f'<td class="num treated">{_count(row.get("treated"))}</td>']
    cells += [f'<td class="num validation-{key}">{value}</td>'
              for key, value in zip(("checks", "failed", "warnings"), _validation(row))]
    *counts, previous = _changes(row)
    cells += [f'<td class="num changes-{key}">{value}</td>'
              for key, value in zip(("added", "changed", "removed"), counts)]
    cells.append(f'<td class="text changes-previous">{_e(previous)}</td>')
    cells.append(f'<td class="text reports">{_links_cell(row)}</td>')
    return "<tr>" + "".join(cells) + "</tr>"


def _table_html(rows: list[dict], study: str) -> str:
    several = len(_studies(rows)) > 1
    single = ("Freeze", "Cut-off", "Outcome", "Randomized", "Treated")
    text = ' class="text"'
    head1 = "".join(f'<th scope="col" rowspan="2"{text if i < 3 else ""}>{label}</th>'
                    for i, label in enumerate(single))
    head1 += ('<th scope="colgroup" colspan="3" class="group">Validation</th>'
              '<th scope="colgroup" colspan="4" class="group">Changes since the previous freeze</th>'
              '<th scope="col" rowspan="2" class="text">Reports</th>')
    head2 = "".join(f'<th scope="col">{label}</th>' for label in ("checks", "failed", "warnings", "added",
                                                                   "changed", "removed"))
    head2 += '<th scope="col" class="text">compared with</th>'
    colgroups = '<colgroup span="5"></colgroup><colgroup span="3"></colgroup><colgroup span="4"></colgroup>' \
                '<colgroup span="1"></colgroup>'
    of = f" of {_e(study)}" if study else ""
    body = "".join(_row_html(row, several) for row in rows) or \
        '<tr><td colspan="13" class="text">No freeze was found.</td></tr>'
    return (f'<div class="scroll" role="region" aria-labelledby="caption-freezes" tabindex="0">'
            f'<table id="freezes"><caption id="caption-freezes">Data freezes{of}, in cut-off order</caption>'
            f"{colgroups}<thead><tr>{head1}</tr><tr>{head2}</tr></thead><tbody>{body}</tbody></table></div>")


# ----------------------------------------------------------------------------- the page

def index_html(rows: list[dict], *, study: str, target: int | None, generated: str | None = None) -> str:
    """The text of ``<out-root>/index.html`` (see the module doc)."""
    rows = ordered(list(rows))
    study = _text(study)
    title = f"{study}: data freezes" if study else "Data freezes"
    cutoffs = sorted(row["cutoff_date"] for row in rows if _date(row.get("cutoff_date")) is not None)
    if rows:
        span = f" with cut-off dates from {_e(cutoffs[0])} to {_e(cutoffs[-1])}" if len(cutoffs) > 1 else \
            (f" with the cut-off date {_e(cutoffs[0])}" if cutoffs else "")
        count = f"{len(rows)} freeze{'s' if len(rows) != 1 else ''}{span}: {_e(_outcomes(rows))}."
    else:
        count = "No freeze was found."
    target_text = (f" The target is {_int(target):,} randomized participants." if _int(target) is not None else "")
    generated_text = f'<p class="meta">Generated {_e(_text(generated))}.</p>\n' if generated else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<meta name="generator" content="alliance-report"/>
<title>{_e(title)}</title>
<style>
{CSS}
</style>
</head>
<body>
<header>
<h1>{_e(title)}</h1>
<p class="meta">{count}{target_text}</p>
{generated_text}<p class="note" id="no-arms"><strong>No data by arm.</strong> This page holds no number by arm:
randomized and treated are totals over all arms at each cut-off, as in the open edition; validation and changes
count checks and records.</p>
</header>
<main>
<h2 id="randomized">Randomized at each freeze</h2>
{_figure_html(rows, target)}
<h2 id="table">Freezes</h2>
{_table_html(rows, study)}
<ul class="notes">
<li id="closed-note"><strong>closed</strong>: the closed edition (results by arm) is for the data monitoring
committee only (closed session); <strong>open</strong>: the open edition holds no comparative data (open session,
steering committee, sponsor).</li>
<li>Validation: checks run on the freeze, how many failed and how many gave a warning (with the warnings of
the comparison with the previous freeze: removed rows, changed baseline or randomization data).</li>
<li>Changes: records added, changed and removed since the previous valid freeze of the same study (compared
with), over all its files; {MISSING} when there is no earlier freeze to compare with.</li>
<li>Treated: randomized or re-randomized to a treatment, over all treatment arms; {MISSING} when the freeze
was not built.</li>
</ul>
</main>
</body>
</html>
"""


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
