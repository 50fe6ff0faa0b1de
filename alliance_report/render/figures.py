"""Figures of the report, drawn with matplotlib from ``results`` only (no statistics here).

One style for every figure: colour-blind-safe Okabe–Ito colours, a fixed font, no
timestamps or random ids in the SVG so that a rebuild gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib

from alliance_report.render.format import ci, number

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OKABE_ITO = {"MBCT": "#0072B2", "eMBCT": "#D55E00", "neutral": "#444444"}

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "svg.hashsalt": "alliance-report",
    "svg.fonttype": "path",
}


@dataclass(frozen=True)
class Figure:
    name: str
    caption: str
    alt: str
    svg: str
    png: bytes


def _export(fig, name: str, caption: str, alt: str) -> Figure:
    svg_buffer, png_buffer = io.StringIO(), io.BytesIO()
    fig.savefig(svg_buffer, format="svg", metadata={"Date": None, "Creator": None})
    fig.savefig(png_buffer, format="png", dpi=200, metadata={"Software": None})
    plt.close(fig)
    svg = svg_buffer.getvalue()
    svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: the SVG is inlined in HTML
    return Figure(name, caption, alt, svg, png_buffer.getvalue())


def outcome_coefficients(model: dict, outcome_label: str, name: str) -> Figure | None:
    """B with 95% CI of each predictor of an Aim 3 main model (forest plot)."""
    terms = [(label, model["terms"][key]) for key, label in (
        ("baseline", "Baseline score"), ("wai_w2", "Early alliance (WAI week 2)"),
        ("condition_embct", "eMBCT vs MBCT"))]
    if any(term["b"] is None for _, term in terms):
        return None
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(6.0, 2.2))
        for row, (label, term) in enumerate(reversed(terms)):
            ax.errorbar(term["b"], row, xerr=[[term["b"] - term["ci_low"]], [term["ci_high"] - term["b"]]],
                        fmt="o", color=OKABE_ITO["MBCT"], ecolor=OKABE_ITO["neutral"], capsize=3)
        ax.axvline(0, color=OKABE_ITO["neutral"], linewidth=0.8, linestyle="--")
        ax.set_yticks(range(len(terms)), [label for label, _ in reversed(terms)])
        ax.set_xlabel(f"B (change in post-treatment {outcome_label}) with 95% CI")
        ax.set_ylim(-0.6, len(terms) - 0.4)
        fig.tight_layout()
    alliance = model["terms"]["wai_w2"]
    alt = (f"Forest plot of the regression coefficients for post-treatment {outcome_label}: "
           f"early alliance B={number(alliance['b'])} ({ci(alliance['ci_low'], alliance['ci_high'])}), "
           f"n={model['n']}.")
    caption = (f"Regression coefficients (B with 95% CI) of the model for post-treatment {outcome_label}, "
               f"adjusted for baseline and condition (n={model['n']}).")
    return _export(fig, name, caption, alt)
