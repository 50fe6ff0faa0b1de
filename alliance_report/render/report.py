"""Render ``results`` into the report: one Jinja2 context → HTML, PDF (WeasyPrint) and Quarto.

Nothing here computes a statistic: the context holds tables, figures and sentences that
are functions of ``results`` (and of ``validation.json`` for the appendix).  The article
body (``report_templates/body.j2``) is rendered twice from the same context, once with
HTML markup (report.html, from which the PDF is made) and once with Quarto markdown
(report.qmd).
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from alliance_report import TEMPLATES_DIR
from alliance_report.render import tables as tbl
from alliance_report.render import text
from alliance_report.render.figures import Figure, build_figures
from alliance_report.render.markup import HtmlMarkup, MarkdownMarkup

STYLE_NAMES = {"jmir": "JMIR", "apa": "APA 7"}

# Order of appearance in body.j2: tables and figures are numbered in this order.
TABLE_ORDER = ("table1", "dropout", "alliance_means", "manova", "mixed", "hads", "mhcsf",
               "validation", "reliability", "provenance")
FIGURE_ORDER = ("consort", "sessions_attended", "alliance_trajectory", "alliance_outcome",
                "residual_diagnostics")


@dataclass(frozen=True)
class Report:
    html: str
    qmd: str
    tables: tuple[tbl.Table, ...]
    figures: tuple[Figure, ...]


def _environment(autoescape: bool) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=autoescape,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)


def consort_figure(results: dict) -> Figure:
    from alliance_report.render.consort_diagram import consort_svg

    c = results["consort"]
    alt = (f"CONSORT flow diagram: {c['assessed']} assessed, {c['randomized']} randomized, "
           f"{c['treated']['MBCT']} treated in MBCT and {c['treated']['eMBCT']} in eMBCT.")
    return Figure("consort", "Flow of participants through the trial (CONSORT).", alt,
                  consort_svg(c, dropout_threshold=results["settings"]["dropout_threshold"]), None)


def sentences(results: dict) -> dict[str, str]:
    return {
        "flow": text.flow(results), "flow_short": text.flow_short(results),
        "dropout_summary": text.dropout_summary(results), "dropout_model": text.dropout_model(results),
        "alliance_development": text.alliance_development(results),
        "alliance_mixed": text.alliance_mixed(results),
        "hads": text.outcome(results, "hads", "HADS total"),
        "mhcsf": text.outcome(results, "mhcsf", "MHC-SF"),
        "hads_moderation": text.moderation(results, "hads", "HADS total"),
        "mhcsf_moderation": text.moderation(results, "mhcsf", "MHC-SF"),
        "conclusion": text.conclusion(results), "interim_notice": text.interim_notice(results),
    }


def validation_sentence(validation: dict) -> str:
    return (f"The freeze passed validation: {validation['n_checks']} checks were run, "
            f"{validation['n_failed']} failed and {validation['n_warnings']} gave a warning "
            "(details in validation.json beside this report).")


def _window_days(study: dict) -> str:
    """The window of the schedule: "30", or "14–30" when the timepoints differ."""
    windows = sorted({visit["window_days"] for visit in study["schedule"].values()})
    return str(windows[0]) if len(windows) == 1 else f"{windows[0]}–{windows[-1]}"


def context(results: dict, validation: dict, build_date: str) -> tuple[dict, dict, dict]:
    study = results["study_configuration"]
    tables = tbl.build_tables(results)
    tables["validation"] = tbl.validation_table(validation)
    tables["provenance"] = tbl.provenance_table(results)
    figures = {figure.name: figure for figure in build_figures(results)}
    figures["consort"] = consort_figure(results)
    numbers = {role: i for i, role in enumerate(TABLE_ORDER, start=1)}
    present = [name for name in FIGURE_ORDER if figures.get(name)]
    numbers |= {name: i for i, name in enumerate(present, start=1)}
    ctx = {
        "title": study["title"], "study": results["study"], "freeze_id": results["freeze_id"],
        "cutoff_date": results["cutoff_date"], "build_date": build_date,
        "simulated": results["simulated"], "registration": study["registration"],
        "window_days": _window_days(study),
        "input_sha256": results["input_sha256"], "settings": results["settings"],
        "style_name": STYLE_NAMES[results["settings"]["style"]],
        "provenance": results["provenance"], "version": results["provenance"]["alliance_report"],
        "text": sentences(results), "measures": text.measures(), "analyses": text.analyses(results),
        "validation_sentence": validation_sentence(validation),
        "tables": tables, "figures": {name: figures.get(name) for name in FIGURE_ORDER},
        "numbers": numbers,
        "keywords": f"{results['study']}, {study['registration']}, therapeutic alliance, MBCT, eMBCT, "
                    f"data freeze {results['freeze_id']}",
    }
    return ctx, tables, figures


HEADING = re.compile(r'<h([23]) id="([^"]+)">(.*?)</h[23]>')


def table_of_contents(body_html: str) -> list[dict]:
    """The h2/h3 headings of the rendered body, for the HTML contents list."""
    return [{"level": int(level), "anchor": anchor, "text": Markup(title).striptags()}
            for level, anchor, title in HEADING.findall(body_html)]


def build_report(results: dict, validation: dict, build_date: str) -> Report:
    ctx, tables, figures = context(results, validation, build_date)
    css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    html_env = _environment(True)
    body = Markup(html_env.get_template("body.j2").render(ctx, m=HtmlMarkup()))
    html = html_env.get_template("report.html.j2").render(
        ctx, body=body, toc=table_of_contents(body), css=css)
    qmd = _environment(False).get_template("report.qmd.j2").render(ctx, m=MarkdownMarkup())
    ordered_tables = tuple(tables[role] for role in TABLE_ORDER)
    return Report(html, qmd, ordered_tables, tuple(f for f in figures.values() if f))


# An inline figure of the HTML: <figure id="figure-NAME" ...><svg ...>...</svg>
_INLINE_FIGURE = re.compile(r'(<figure id="figure-([\w-]+)"[^>]*>)(<svg\b.*?</svg>)', re.S)


def _raster_figures(html: str, base_url: Path) -> str:
    """The HTML with every inline SVG figure that has a PNG in ``<base_url>/figures/`` as that PNG.

    Performance: WeasyPrint draws SVG in Python, and the matplotlib figures (text as glyph
    paths, hundreds of markers) cost it about as much as all the text and tables of the report
    together; their 200-dpi PNGs draw in a fraction of that.  Figures without a PNG (the
    CONSORT diagram, whose text stays searchable in the PDF) stay vector.
    """
    def swap(match: re.Match) -> str:
        png = Path(base_url) / "figures" / f"{match.group(2)}.png"
        if not png.is_file():
            return match.group(0)
        # a data URI, not the file's URL: WeasyPrint names the image after its URL, and the
        # staging folder's name must not reach the PDF (rebuilds are byte-identical)
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        return (f'{match.group(1)}<img src="data:image/png;base64,{data}" alt="" '
                'style="display: block; width: 100%; height: auto">')

    return _INLINE_FIGURE.sub(swap, html)


def write_pdf(html: str, path: Path, base_url: Path) -> None:
    """The PDF from the same HTML (WeasyPrint).  Imported lazily: it is slow to import.

    The matplotlib figures are embedded as their PNGs (``figures/<name>.png`` beside the PDF,
    when already written) instead of their inline SVGs; see ``_raster_figures``.
    """
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    import weasyprint

    document = weasyprint.HTML(string=_raster_figures(html, base_url), base_url=str(base_url)).render()
    document.write_pdf(path, pdf_identifier=b"alliance-report", uncompressed_pdf=False)


def write_report_files(report: Report, out: Path) -> None:
    """Every report file but the PDF into ``out``: figures/, report.html, report.qmd, tables/."""
    (out / "figures").mkdir(exist_ok=True)
    for figure in report.figures:
        (out / "figures" / f"{figure.name}.svg").write_text(figure.svg, encoding="utf-8")
        if figure.png is not None:
            (out / "figures" / f"{figure.name}.png").write_bytes(figure.png)
    (out / "report.html").write_text(report.html, encoding="utf-8")
    (out / "report.qmd").write_text(report.qmd, encoding="utf-8")
    (out / "tables").mkdir(exist_ok=True)
    for table in report.tables:
        (out / "tables" / f"{table.name}.csv").write_text(table.to_csv(), encoding="utf-8")
