"""A guard for future template changes: the open edition must not print a count next to an arm.

The open edition cannot hold data by arm by construction (it is rendered from results computed
on data pooled over the arms, :mod:`alliance_report.analysis.pooled`).  This check is a second,
cheap and certain line: after rendering, the visible text of the open edition (HTML text, the
Quarto source and every table cell) is searched for an arm name written with a number in the
forms a template would use — "MBCT (n=56)", "MBCT: n=56", "MBCT, n=56", "MBCT n=56",
"MBCT: 56", "56 in MBCT" — after the pooled phrases ("MBCT or eMBCT", "MBCT, eMBCT or TAU",
"MBCT and eMBCT", "MBCT/eMBCT") are set aside.  The build refuses to publish when it finds one.

Any number, not only the counts by arm of the closed results: whether the open edition is
published must not depend on the data by arm (a check against the real counts fails for
"eMBCT: 4 modules" in a free-text reason only when an eMBCT count is 4, and so tells it).
"""

from __future__ import annotations

import html
import re

from alliance_report.design import CONDITIONS

_INLINE_TAG = re.compile(r"</?(?:span|em|strong|i|b|sub|sup|a)\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")
_STYLE = re.compile(r"<(style|script)\b.*?</\1>", re.S)
_ARM = "|".join(re.escape(arm) for arm in sorted(CONDITIONS, key=len, reverse=True))
# two or more arms named together: a pooled group, not an arm ("MBCT or eMBCT", "MBCT, eMBCT or TAU")
_POOLED = re.compile(rf"\b(?:{_ARM})(?:(?:,| or| and|/) ?(?:{_ARM}|TAU)\b)+")
_NUMBER = r"\d[\d,]*(?:\.\d+)?"
_MENTIONS = (re.compile(rf"\b(?:{_ARM})\b ?(?:\( ?n ?= ?{_NUMBER} ?\)|[:,]? n ?= ?{_NUMBER}|: {_NUMBER})"),
             re.compile(rf"\b{_NUMBER} in (?:{_ARM})\b"))


def visible_text(report) -> str:
    """The text a reader of the edition sees: HTML without markup, the Quarto source, table cells."""
    page = html.unescape(_TAG.sub(" ", _INLINE_TAG.sub("", _STYLE.sub(" ", report.html))))
    cells = "\n".join(" | ".join(row.cells) for table in report.tables for row in table.rows)
    headers = "\n".join(" | ".join(table.header) for table in report.tables)
    return "\n".join((page, report.qmd, headers, cells))


def arm_mentions(report) -> list[str]:
    """The places where the edition's text writes an arm with a number (empty: none)."""
    text = _POOLED.sub("(pooled arms)", " ".join(visible_text(report).split()))
    found = []
    for pattern in _MENTIONS:
        for match in pattern.finditer(text):
            snippet = text[max(0, match.start() - 30):match.end() + 10]
            if snippet not in found:
                found.append(snippet)
    return found
