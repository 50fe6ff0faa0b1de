"""Tables of the report: each a function of ``results`` that returns formatted cells.

A :class:`Table` holds display strings only; the same object is rendered into the HTML
and written to ``tables/<name>.csv``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from alliance_report.render import format as fmt

TERM_LABELS = {
    "intercept": "Intercept",
    "baseline": "Baseline score",
    "wai_w2": "Early alliance (WAI week 2)",
    "wai_w2_c": "Early alliance, centred",
    "condition_embct": "Condition (eMBCT vs MBCT)",
    "wai_w2_c_x_condition_embct": "Early alliance × condition",
}


@dataclass(frozen=True)
class Table:
    name: str
    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    footnote: str

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buffer.getvalue()


def outcome_model_table(model: dict, name: str, outcome_label: str, style: str) -> Table:
    """B, SE, 95% CI, β, t and P per term of one Aim 3 model."""
    df = model["df_resid"]
    header = ("Predictor", "B", "SE", "95% CI", "β", f"t({df})" if df is not None else "t", "P")
    rows = []
    for key, term in model["terms"].items():
        rows.append((
            TERM_LABELS[key], fmt.number(term["b"]), fmt.number(term["se"]),
            fmt.ci_range(term["ci_low"], term["ci_high"], style=style),
            fmt.number(term["beta"]) if key != "intercept" else "",
            fmt.number(term["t"]), fmt.p_value(term["p"], style),
        ))
    fit = (f"n={model['n']}; R²={fmt.number(model['r2'], 3)}; adjusted R²={fmt.number(model['adj_r2'], 3)}."
           if model["r2"] is not None else
           f"n={model['n']}; the model could not be estimated: {model['not_estimable_reason']}.")
    footnote = (f"Ordinary least squares; outcome: post-treatment {outcome_label}. {fit} "
                "B: unstandardized coefficient; SE: standard error; β: standardized coefficient; "
                "WAI: Working Alliance Inventory–Short Revised (mean score 1–5).")
    return Table(name, f"Early alliance and post-treatment {outcome_label}", header, tuple(rows), footnote)
