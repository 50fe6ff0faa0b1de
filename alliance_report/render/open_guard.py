"""A guard for future template changes: the open edition must not print a count next to an arm.

The open edition cannot hold data by arm by construction (it is rendered from results computed
on data pooled over the arms, :mod:`alliance_report.analysis.pooled`).  This check is a second,
cheap and certain line: after rendering, the visible text of the open edition (HTML text, the
Quarto source and every table cell) is searched for an arm name written with a number in the
forms a template would use — "MBCT (n=56)", "MBCT: n=56", "MBCT, n=56", "MBCT n=56",
"MBCT: 56", "56 in MBCT" — and for two numbers after both arms named together ("MBCT and
eMBCT: 56 and 63").  The build refuses to publish when it finds one.

* Any number, not only the counts by arm of the closed results: whether the open edition is
  published must not depend on the data by arm (a check against the real counts fails for a
  reason "eMBCT: 4 modules" only when an eMBCT count is 4, and so tells it).
* A phrase naming both arms ("MBCT or eMBCT (n=245)", "MBCT, eMBCT or TAU") is the pooled group,
  followed by one number; "MBCT or TAU" names one arm.
* Text of the data is not a template's: the free text the open results hold (a reason, a site
  name: "wants eMBCT: 2 children at home") is set aside before the search (``data_texts``).
"""

from __future__ import annotations

import html
import re

from alliance_report.design import CONDITIONS

_INLINE_TAG = re.compile(r"</?(?:span|em|strong|i|b|sub|sup|a)\b[^>]*>")
_TAG = re.compile(r"<[^>]+>")
_STYLE = re.compile(r"<(style|script)\b.*?</\1>", re.S)
_ARM = "|".join(re.escape(arm) for arm in sorted(CONDITIONS, key=len, reverse=True))
_ARM_WORD = re.compile(rf"\b(?:{_ARM})\b")
_JOIN = r"(?:,| or| and|/) ?"
_A, _B = (re.escape(arm) for arm in CONDITIONS)
# both arms named together, in either order, perhaps with TAU: the pooled group
_POOLED = re.compile(rf"\b(?:{_A}{_JOIN}{_B}|{_B}{_JOIN}{_A})\b(?:{_JOIN}TAU\b)?")
_PLACEHOLDER = "(pooled arms)"
# a number as the report writes it ("56", "1,523", "7.5"): a comma followed by exactly three digits is a
# thousands separator ("1,523" is one number, never 1 and 523); any other comma separates two ("56,63")
_NUMBER = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?!\d|\.\d|,\d{3}(?!\d))"
_COUNT = rf"(?:\( ?n ?= ?{_NUMBER} ?\)|[:,]? n ?= ?{_NUMBER}|: {_NUMBER})"  # "(n=56)", ": n=56", ", n=56", ": 56"
_MENTIONS = (re.compile(rf"\b(?:{_ARM})\b(?:{_JOIN}TAU\b)? ?{_COUNT}"),
             re.compile(rf"\b{_NUMBER} in (?:{_ARM})\b"),
             re.compile(rf"{re.escape(_PLACEHOLDER)}\W{{0,4}}(?:n ?= ?)?{_NUMBER} ?(?:and|,|/) ?(?:n ?= ?)?{_NUMBER}"))


def visible_text(report) -> str:
    """The text a reader of the edition sees: HTML without markup, the Quarto source, table cells."""
    page = html.unescape(_TAG.sub(" ", _INLINE_TAG.sub("", _STYLE.sub(" ", report.html))))
    cells = "\n".join(" | ".join(row.cells) for table in report.tables for row in table.rows)
    headers = "\n".join(" | ".join(table.header) for table in report.tables)
    return "\n".join((page, report.qmd, headers, cells))


def data_texts(results: dict) -> set[str]:
    """The texts of the data in the open results that name an arm (keys and values; a reason, a
    site name), whitespace as the search sees it; not an arm's name alone."""
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(key)
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value not in CONDITIONS and _ARM_WORD.search(value):
            found.add(" ".join(value.split()))
    walk(results)
    return found


def arm_mentions(report, data: set[str] = frozenset()) -> list[str]:
    """The places where the edition's text writes an arm with a number (empty: none); the texts
    of the data in ``data`` (:func:`data_texts`) set aside."""
    text = " ".join(visible_text(report).split())
    for piece in sorted(data, key=len, reverse=True):
        text = text.replace(piece, " ")
    text = _POOLED.sub(_PLACEHOLDER, text)
    found = []
    for pattern in _MENTIONS:
        for match in pattern.finditer(text):
            snippet = text[max(0, match.start() - 30):match.end() + 10]
            if snippet not in found:
                found.append(snippet)
    return found
