"""Render an edition's ``results`` into its report: one Jinja2 context → HTML, PDF (WeasyPrint) and Quarto.

Nothing here computes a statistic: the context holds tables, figures and sentences that
are functions of ``results`` (and of ``validation.json`` for the validation section).  The
body of an edition (``report_templates/body.j2`` for the closed edition, ``open_body.j2`` for
the open one) is rendered twice from the same context, once with HTML markup (report.html,
from which the PDF is made) and once with Quarto markdown (report.qmd).

The open edition is rendered from the open results only (``results["edition"] == "open"``,
computed from data pooled over the arms): its context, tables and figures never see the
closed results.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from markupsafe import Markup

from alliance_report import TEMPLATES_DIR
from alliance_report.design import N_SESSIONS, OUTCOME_SCALES
from alliance_report.freeze import FREEZE_FILES
from alliance_report.render import changes_section, conduct_text, templates, text, validation_section
from alliance_report.render import format as fmt
from alliance_report.render import tables as tbl
from alliance_report.render.conduct_figures import conduct_figures
from alliance_report.render.conduct_tables import conduct_tables
from alliance_report.render.figures import Figure, build_figures
from alliance_report.render.markup import HtmlMarkup, MarkdownMarkup

STYLE_NAMES = {"jmir": "JMIR", "apa": "APA 7"}
EDITION_LABELS = {"closed": "CLOSED — for the data monitoring committee only",
                  "open": "OPEN — no comparative data"}
BODIES = {"closed": "body.j2", "open": "open_body.j2"}

CONDUCT_TABLES = ("conduct_accrual", "conduct_sites", "conduct_completeness", "conduct_timeliness",
                  "conduct_disposition")
CONDUCT_FIGURES = ("accrual", "retention")
# Order of appearance in each body: tables and figures are numbered in this order.
CHANGES_TABLES = ("changes_files", "changes_data", "changes_key_results")
TABLE_ORDER = {
    "closed": (*CONDUCT_TABLES, *CHANGES_TABLES, "table1", "dropout", "alliance_means", "manova", "mixed", "hads",
               "mhcsf", "validation_summary", "validation_findings", "change_warnings", "reliability", "provenance"),
    "open": (*CONDUCT_TABLES, *CHANGES_TABLES, "participant_flow", "table1", "validation_summary",
             "validation_findings", "change_warnings", "provenance"),
}
# tables of the CSVs only: the monthly series the conduct figures draw
CSV_ONLY = ("conduct_accrual_monthly", "conduct_disposition_monthly")
# tables of the HTML and the CSVs only (the list of every check) and of the CSVs only, after the numbered ones
UNNUMBERED = ("validation", *CSV_ONLY)
NO_PREVIOUS = {"status": "no previous freeze", "previous": None}
FIGURE_ORDER = {
    "closed": (*CONDUCT_FIGURES, "consort", "sessions_attended", "alliance_trajectory", "alliance_outcome",
               "residual_diagnostics"),
    "open": CONDUCT_FIGURES,
}


@dataclass(frozen=True)
class Report:
    html: str
    qmd: str
    tables: tuple[tbl.Table, ...]
    figures: tuple[Figure, ...]


def _environment(autoescape: bool):
    return templates.environment(TEMPLATES_DIR, autoescape)


def consort_figure(results: dict) -> Figure:
    from alliance_report.render.consort_diagram import NOT_ESTIMABLE_NOTE, consort_png, consort_svg

    c = results["consort"]
    note = "" if all(c["analysed_estimated"].values()) else NOT_ESTIMABLE_NOTE
    alt = (f"CONSORT flow diagram: {c['assessed']} assessed, {c['randomized']} randomized, "
           f"{c['treated']['MBCT']} treated in MBCT and {c['treated']['eMBCT']} in eMBCT.{note}")
    svg = consort_svg(c, dropout_threshold=results["settings"]["dropout_threshold"])
    return Figure("consort", f"Flow of participants through the trial (CONSORT).{note}", alt, svg,
                  consort_png(svg))


def edition_figures(results: dict) -> tuple[Figure, ...]:
    """Every figure of an edition: the conduct figures, and in the closed edition the CONSORT
    diagram and the figures of the aims.  None needs the validation report, so a build's worker
    draws them all while the main process validates (the CONSORT diagram's PNG alone takes
    ~0.2 s: rsvg-convert)."""
    conduct = conduct_figures(results["conduct"], results["settings"]["style"])
    return conduct if results["edition"] == "open" else (*conduct, consort_figure(results), *build_figures(results))


def sentences(results: dict) -> dict[str, str]:
    """The sentences of the closed edition's body, and the paragraphs the templates show made of several."""
    said = {
        "flow": text.flow(results), "flow_short": text.flow_short(results),
        "dropout_summary": text.dropout_summary(results), "dropout_model": text.dropout_model(results),
        "alliance_development": text.alliance_development(results),
        "alliance_abstract": text.alliance_abstract(results),
        "alliance_mixed": text.alliance_mixed(results),
        "conclusion": text.conclusion(results), "interim_notice": text.interim_notice(results),
    }
    for scale in OUTCOME_SCALES:
        name = fmt.OUTCOME_NAMES[scale]["text"]
        said[scale] = text.outcome(results, scale, name)
        said[f"{scale}_moderation"] = text.moderation(results, scale, name)
        said[f"{scale}_paragraph"] = f"{said[scale]} {said[f'{scale}_moderation']}"
    said["abstract_results"] = " ".join([said["flow_short"], said["alliance_abstract"], said["dropout_model"],
                                         *(said[f"{scale}_paragraph"] for scale in OUTCOME_SCALES)])
    return said


def _numbered(edition: str, tables: dict, figures: dict) -> dict[str, int]:
    """Table and figure numbers in order of appearance (figures that could not be drawn are skipped)."""
    present_tables = [role for role in TABLE_ORDER[edition] if role in tables]
    numbers = {role: i for i, role in enumerate(present_tables, start=1)}
    present = [name for name in FIGURE_ORDER[edition] if figures.get(name)]
    return numbers | {name: i for i, name in enumerate(present, start=1)}


def _common_context(results: dict, build_date: str) -> dict:
    study = results["study_configuration"]
    return {
        "edition": results["edition"], "edition_label": EDITION_LABELS[results["edition"]],
        "body_template": BODIES[results["edition"]],
        "title": study["title"], "study": results["study"], "freeze_id": results["freeze_id"],
        "cutoff_date": results["cutoff_date"], "report_date": build_date,
        "exported_date": str(results["provenance"]["manifest_exported_at"] or "")[:10] or None,
        "simulated": results["simulated"], "registration": study["registration"],
        "window_days": conduct_text.window_days(study),
        "input_sha256": results["input_sha256"], "settings": results["settings"],
        "style_name": STYLE_NAMES[results["settings"]["style"]],
        "provenance": results["provenance"], "version": results["provenance"]["alliance_report"],
        "conduct_text": conduct_text.conduct(results),
        "keywords": f"{results['study']}, {study['registration']}, therapeutic alliance, MBCT, eMBCT, "
                    f"data freeze {results['freeze_id']}",
    }


def context(results: dict, validation: dict, build_date: str,
            drawn: tuple[Figure, ...] | None = None) -> tuple[dict, dict, dict]:
    """The template context of an edition, its tables and its figures (``drawn``: the figures of
    :func:`edition_figures`, when already drawn)."""
    edition = results["edition"]
    style = results["settings"]["style"]
    drawn = edition_figures(results) if drawn is None else drawn
    figures = {figure.name: figure for figure in drawn}
    tables = {f"conduct_{role}": table for role, table in conduct_tables(results["conduct"]).items()}
    tables["provenance"] = tbl.provenance_table(results)
    ctx = _common_context(results, build_date)
    if edition == "open":
        tables["participant_flow"] = tbl.participant_flow_table(results["participant_flow"],
                                                                results["settings"]["dropout_threshold"])
        tables["table1"] = tbl.table1(results)
        ctx |= {"text": conduct_text.sentences(results)}
    else:
        tables |= tbl.build_tables(results)
        ctx |= {"text": sentences(results), "measures": text.measures(), "analyses": text.analyses(results),
                "design": {"n_sessions": N_SESSIONS, "alliance_weeks": fmt.ALLIANCE_WEEKS_TEXT,
                           "alpha": fmt.alpha(results["findings"]["alpha"], style)}}
    tables |= validation_section.section_tables(validation, edition)
    changes = results.get("changes", NO_PREVIOUS)
    tables |= changes_section.section_tables(changes, edition, style)
    numbers = _numbered(edition, tables, figures)
    ctx |= {"tables": tables, "figures": {name: figures.get(name) for name in FIGURE_ORDER[edition]},
            "numbers": numbers,
            "changes": {"heading": changes_section.heading(changes), "text": changes_section.sentence(changes, numbers, edition)},
            "validation_text": validation_section.sentence(validation, numbers, edition, changes.get("flags") or [])}
    return ctx, tables, figures


HEADING = re.compile(r'<h([23]) id="([^"]+)">(.*?)</h[23]>')


def table_of_contents(body_html: str) -> list[dict]:
    """The h2/h3 headings of the rendered body, for the HTML contents list."""
    return [{"level": int(level), "anchor": anchor, "text": Markup(title).striptags()}
            for level, anchor, title in HEADING.findall(body_html)]


def build_report(results: dict, validation: dict, build_date: str,
                 figures: tuple[Figure, ...] | None = None) -> Report:
    """The report of the edition of ``results`` (``figures``: already drawn, see :func:`context`)."""
    ctx, tables, figures = context(results, validation, build_date, figures)
    css = (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8")
    screen_css = (TEMPLATES_DIR / "screen.css").read_text(encoding="utf-8")  # <style media="screen">: not the PDF
    html_env = _environment(True)
    body = Markup(html_env.get_template(ctx["body_template"]).render(ctx, m=HtmlMarkup()))
    html = html_env.get_template("report.html.j2").render(
        ctx, body=body, toc=table_of_contents(body), css=css, screen_css=screen_css)
    qmd = _environment(False).get_template("report.qmd.j2").render(ctx, m=MarkdownMarkup())
    ordered_tables = tuple(tables[role] for role in (*TABLE_ORDER[results["edition"]], *UNNUMBERED) if role in tables)
    return Report(html, qmd, ordered_tables, tuple(f for f in figures.values() if f))


# An inline figure of the HTML: <figure id="figure-NAME" ...><svg ...>...</svg>
VECTOR_IN_PDF = frozenset({"consort"})
_ARIA_LABEL = re.compile(r' aria-label="([^"]*)"')
_INLINE_FIGURE = re.compile(r'(<figure id="figure-([\w-]+)"[^>]*>)(<svg\b.*?</svg>)', re.S)


def _raster_figures(html: str, base_url: Path) -> str:
    """The HTML with every inline SVG figure that has a PNG in ``<base_url>/figures/`` as that PNG.

    Performance: WeasyPrint draws SVG in Python, and the matplotlib figures (text as glyph
    paths, hundreds of markers) cost it about as much as all the text and tables of the report
    together; their 200-dpi PNGs draw in a fraction of that.  The CONSORT diagram stays vector
    (its text stays searchable in the PDF; its PNG is for Quarto), as does a figure without a PNG.
    """
    def swap(match: re.Match) -> str:
        png = Path(base_url) / "figures" / f"{match.group(2)}.png"
        if match.group(2) in VECTOR_IN_PDF or not png.is_file():
            return match.group(0)
        # a data URI, not the file's URL: WeasyPrint names the image after its URL, and the
        # staging folder's name must not reach the PDF (rebuilds are byte-identical)
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        # the tagged PDF's /Figure takes its /Alt from the image's alt (PDF/A "a" wants one):
        # the figure's aria-label, already escaped
        alt = _ARIA_LABEL.search(match.group(1))
        return (f'{match.group(1)}<img src="data:image/png;base64,{data}" alt="{alt[1] if alt else ""}" '
                'style="display: block; width: 100%; height: auto">')

    return _INLINE_FIGURE.sub(swap, html)


NAMES_NOT_TO_BREAK = (*FREEZE_FILES, "manifest.json", "validation.json", "results.json", "changes.csv")
PDF_VARIANT = "pdf/a-3a"  # archival (PDF/A-3, level A: tagged, /Lang, Unicode text), with JSON attachments
_DATE_META = re.compile(r'<meta name="dcterms\.(created|modified)" content="([^"]*)">')


@dataclass(frozen=True)
class PdfAttachment:
    """A file embedded in the PDF: its path, description and PDF/A-3 AFRelationship (ISO 32000-2,
    7.11.3: "Data" = the data the content is rendered from, "Supplement" = more of it)."""
    path: Path
    description: str
    relationship: str = "Data"


def edition_attachments(edition: str, folder: Path) -> tuple[PdfAttachment, ...]:
    """What each edition's PDF embeds: the closed one its results.json, validation.json and (when the
    build had a previous freeze) changes.json; the open one its results.json only (validation.json
    holds example values from the data and the closed results.json numbers by arm; the open
    edition's changes are inside its results.json)."""
    if edition == "open":
        return (PdfAttachment(folder / "results.json", "Results of the open edition (pooled over the arms), "
                                                       "from which this report is rendered"),)
    attachments = [
        PdfAttachment(folder / "results.json",
                      "Results of the closed edition (by arm), from which this report is rendered"),
        PdfAttachment(folder / "validation.json",
                      "Validation of the data freeze (every check, with example values), from which the "
                      "Data validation section is rendered"),
    ]
    if (folder / "changes.json").is_file():
        attachments.append(PdfAttachment(folder / "changes.json",
                                          "Every change since the previous freeze (the report shows a summary)",
                                          "Supplement"))
    return tuple(sorted(attachments, key=lambda a: a.path.name))  # a name tree's keys are sorted


def _freeze_dates(html: str) -> tuple[datetime, datetime]:
    """(created, modified) from the report's ``dcterms`` metas (the manifest's export time), in UTC
    without tzinfo, as WeasyPrint writes them with a "Z".  Never the clock: a PDF/A needs dates
    (document and attachments), and two builds of a freeze must give the same bytes."""
    dates = {}
    for name, value in _DATE_META.findall(html):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            continue
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        dates[name] = moment
    if "modified" not in dates:
        raise ValueError("the report has no dcterms.modified date (the manifest's exported_at): "
                         "the PDF/A needs one")
    return dates.get("created", dates["modified"]), dates["modified"]


def _unique_associated_files(document, pdf) -> None:
    """WeasyPrint 70 lists each attachment twice in the catalog's /AF (once from /EmbeddedFiles, once
    from its /Filespec): keep each once (a ``write_pdf`` finisher, run before the PDF is written)."""
    if "AF" in pdf.catalog:
        pdf.catalog["AF"][:] = list(dict.fromkeys(pdf.catalog["AF"]))


def write_pdf(html: str, path: Path, base_url: Path, attachments: tuple[PdfAttachment, ...] = ()) -> list[str]:
    """The PDF from the same HTML (WeasyPrint).  Imported lazily: it is slow to import.

    The matplotlib figures are embedded as their PNGs (``figures/<name>.png`` beside the PDF,
    when already written) instead of their inline SVGs; see ``_raster_figures``.

    The PDF is PDF/A-3a: tagged (structure tree, /Lang from ``<html lang>``), an outline from the
    headings (report.css), XMP metadata, and ``attachments`` embedded.  Every date in it (info,
    XMP, attachments) comes from the report's ``dcterms`` metas, so a rebuild gives the same bytes.

    Returns the pagination rules the laid-out pages break (:mod:`pagination`; none expected).
    """
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    import weasyprint

    created, modified = _freeze_dates(html)
    document = weasyprint.HTML(string=_raster_figures(html, base_url), base_url=str(base_url)).render()
    document.metadata.created = created.strftime("%Y-%m-%dT%H:%M:%SZ")  # normalized: WeasyPrint's
    document.metadata.modified = modified.strftime("%Y-%m-%dT%H:%M:%SZ")  # W3C parser is stricter
    files = [weasyprint.Attachment(filename=str(a.path), name=a.path.name, description=a.description,
                                   created=created, modified=modified, relationship=a.relationship)
             for a in attachments]  # MIME type from the name (.json: application/json)
    document.write_pdf(path, pdf_identifier=b"alliance-report", uncompressed_pdf=False,
                       pdf_variant=PDF_VARIANT, pdf_tags=True, attachments=files,
                       finisher=_unique_associated_files)
    from alliance_report.render.pagination import problems

    return problems(document, NAMES_NOT_TO_BREAK)


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
