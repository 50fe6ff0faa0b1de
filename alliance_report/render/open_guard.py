"""A guard for future template changes: the open edition must not print a count next to an arm.

The open edition cannot hold data by arm by construction (it is rendered from results computed
on data pooled over the arms, :mod:`alliance_report.analysis.pooled`).  This check is a second,
cheap and certain line: after rendering, the visible text of the open edition (HTML text, the
Quarto source and every table cell) is searched for an arm name written with one of that arm's
CONSORT counts in the forms a template would use — "MBCT (n=56)", "MBCT: n=56", "MBCT, n=56",
"MBCT n=56", "MBCT: 56", "56 in MBCT".  The build refuses to publish when it finds one.
"""

from __future__ import annotations

import html
import re

from alliance_report.design import CONDITIONS

_INLINE_TAG = re.compile(r"</?(?:span|em|strong|i|b|sub|sup|a)\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")
_STYLE = re.compile(r"<(style|script)\b.*?</\1>", re.S)


def _arm_counts(consort: dict) -> set[tuple[str, int]]:
    """Every (arm, count) of the per-arm dicts of the closed CONSORT counts, at any depth."""
    pairs: set[tuple[str, int]] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in CONDITIONS and isinstance(item, int) and not isinstance(item, bool):
                    pairs.add((key, item))
                else:
                    walk(item)

    walk(consort)
    return pairs


def visible_text(report) -> str:
    """The text a reader of the edition sees: HTML without markup, the Quarto source, table cells."""
    page = html.unescape(_TAG.sub(" ", _INLINE_TAG.sub("", _STYLE.sub(" ", report.html))))
    cells = "\n".join(" | ".join(row.cells) for table in report.tables for row in table.rows)
    headers = "\n".join(" | ".join(table.header) for table in report.tables)
    return "\n".join((page, report.qmd, headers, cells))


def arm_mentions(report, consort: dict) -> list[str]:
    """The places where the edition's text writes an arm with one of its counts (empty: none)."""
    text = " ".join(visible_text(report).split())
    found = []
    for arm, count in sorted(_arm_counts(consort)):
        a, c = re.escape(arm), count
        patterns = (rf"\b{a}\b ?(?:\( ?n ?= ?{c} ?\)|[:,]? n ?= ?{c}\b|: {c}\b)", rf"\b{c} in {a}\b")
        for pattern in patterns:
            for match in re.finditer(pattern, text):
                snippet = text[max(0, match.start() - 30):match.end() + 10]
                if snippet not in found:
                    found.append(snippet)
    return found
