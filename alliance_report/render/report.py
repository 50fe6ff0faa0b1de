"""Render ``results`` into the report: one Jinja2 context → HTML → PDF (WeasyPrint).

Nothing here computes a statistic: the context holds formatted strings taken from
``results`` (tables and figures are functions of it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import jinja2

from alliance_report import TEMPLATES_DIR, __version__
from alliance_report.render import format as fmt
from alliance_report.render.figures import Figure, outcome_coefficients
from alliance_report.render.tables import Table, outcome_model_table

TRIAL_REGISTRATION = "NCT02138513"


@dataclass(frozen=True)
class Report:
    html: str
    tables: tuple[Table, ...]
    figures: tuple[Figure, ...]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def key_sentence(model: dict, outcome_label: str, style: str) -> str:
    """The result sentence of an Aim 3 model, e.g. "B=−0.12, t(114)=−2.66, P=.01"."""
    term = model["terms"]["wai_w2"]
    if term["b"] is None:
        return f"could not be estimated ({model['not_estimable_reason']})"
    return (f"B={fmt.number(term['b'])}, {fmt.ci(term['ci_low'], term['ci_high'], style=style)}, "
            f"{fmt.test_statistic('t', term['t'], model['df_resid'], style=style)}, "
            f"{fmt.p_statement(term['p'], style)}")


def build_report(results: dict, build_date: str) -> Report:
    style = results["settings"]["style"]
    hads = results["outcome_models"]["hads"]
    tables = (outcome_model_table(hads, "hads_model", "HADS total", style),)
    figure = outcome_coefficients(hads, "HADS total", "hads_coefficients")
    figures = (figure,) if figure else ()
    context = {
        "results": results,
        "study": results["study"],
        "freeze_id": results["freeze_id"],
        "cutoff_date": results["cutoff_date"],
        "build_date": build_date,
        "simulated": results["simulated"],
        "registration": TRIAL_REGISTRATION,
        "version": __version__,
        "css": (TEMPLATES_DIR / "report.css").read_text(encoding="utf-8"),
        "tables": tables,
        "figures": figures,
        "hads_sentence": key_sentence(hads, "HADS total", style),
        "hads_n": hads["n"],
    }
    html = _environment().get_template("report.html.j2").render(context)
    return Report(html, tables, figures)


def write_pdf(html: str, path: Path, base_url: Path) -> None:
    """The PDF from the same HTML (WeasyPrint).  Imported lazily: it is slow to import."""
    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    import weasyprint

    document = weasyprint.HTML(string=html, base_url=str(base_url)).render()
    document.write_pdf(path, pdf_identifier=b"alliance-report", uncompressed_pdf=False)


def write_report(report: Report, out: Path) -> None:
    (out / "report.html").write_text(report.html, encoding="utf-8")
    write_pdf(report.html, out / "report.pdf", out)
    (out / "figures").mkdir(exist_ok=True)
    for figure in report.figures:
        (out / "figures" / f"{figure.name}.svg").write_text(figure.svg, encoding="utf-8")
        (out / "figures" / f"{figure.name}.png").write_bytes(figure.png)
    (out / "tables").mkdir(exist_ok=True)
    for table in report.tables:
        (out / "tables" / f"{table.name}.csv").write_text(table.to_csv(), encoding="utf-8")
