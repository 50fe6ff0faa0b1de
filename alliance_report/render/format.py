"""The one statistics formatter of the report (JMIR style by default, APA 7 as a switch).

Every "B=", "Wilks Λ=", "P=", "95% CI" and statistics column header of the report is written
here, so that the reporting style changes in this module only.

JMIR: capital *P* without leading zero, floor P<.001 (never P=.000), 2 decimals from .01 up
and 3 below; other statistics keep the zero (Λ=0.732); no spaces around "="; a true minus
sign; "95% CI a to b".  APA 7: italic p with 3 decimals, floor p<.001; spaces around "=";
no leading zero for statistics that cannot exceed 1 (Λ, partial η², R²); "95% CI [a, b]".
A missing value (not estimable) is shown as an em dash.  Numbers are rounded half away from
zero, as SPSS and most readers do (27.5 % → "28", 32.5 % → "33"; Python's own formatting rounds
half to even): the decimal value as Python prints it (``repr``) is rounded, so 0.1 + 0.2 is .3.

**P at a threshold.**  A P value is never printed on the other side of .05, .01 or .001 than
its exact value: where rounding would do so (P=.0496 → ".05"), one more decimal is printed at a
time, up to 4 (".0496"); if that is still not enough (P=.04996), the bound is printed
("P<.05").  The same rule in both styles (APA: p = .0496, p < .05).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal

from alliance_report.design import ALLIANCE_WEEK_NUMBERS, ANALYSED_TIMEPOINTS, FOLLOW_UPS

MINUS = "\u2212"
MISSING = "\u2014"
P_THRESHOLDS = (0.05, 0.01, 0.001)
P_MAX_DECIMALS = 4

# column headers of the statistics tables, per style
_HEADERS = {
    "b": "B", "se": "SE", "ci": "95% CI", "z": "z", "t": "t", "f": "F", "df": "df",
    "or": "OR", "or_ci": "OR 95% CI", "beta": "β", "wilks": "Wilks Λ", "partial_eta_sq": "Partial η²",
    "r2": "R²", "b_se": "B (SE)", "p": "P",
}
_APA_HEADERS = {"p": "p"}


def header(key: str, style: str = "jmir") -> str:
    """The column header of a statistic: "B", "SE", "95% CI", "P" (JMIR) or "p" (APA)…"""
    return (_APA_HEADERS.get(key) if style == "apa" else None) or _HEADERS[key]


def number(value: float | None, decimals: int = 2) -> str:
    """Fixed decimals, true minus sign; no negative zero."""
    if value is None:
        return MISSING
    text = _half_away_from_zero(value, decimals)
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def _half_away_from_zero(value: float, decimals: int) -> str:
    """``value`` with ``decimals`` decimals, a tie rounded away from zero ("2.5" → "3"); any
    magnitude (an odds ratio of 1e118 keeps its digits: the precision follows the exponent)."""
    exact = Decimal(repr(float(value)))
    if not exact.is_finite():
        return f"{value:.{decimals}f}"
    context = Context(prec=max(28, exact.adjusted() + decimals + 2), rounding=ROUND_HALF_UP)
    return f"{exact.quantize(Decimal(1).scaleb(-decimals), context=context):.{decimals}f}"


def reason(key: str) -> str:
    """A reason of a count as the report shows it: its key in results.json, without the parentheses
    of a placeholder ("(no reason recorded)" → "no reason recorded", so that "(n=2)" can follow)."""
    text = str(key)
    return text[1:-1] if text.startswith("(") and text.endswith(")") else text


def plural(n: int, one: str, many: str) -> str:
    """"1 participant", "3 participants", "24,500 participants" (the count, then the word that
    agrees with it)."""
    return f"{integer(n)} {agree(n, one, many)}"


def listing(items, conjunction: str = "and") -> str:
    """"2, 5 and 9": the items (empty ones left out) joined as in a sentence; "" for none."""
    items = [str(item) for item in items if item != ""]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def agree(n: int, one: str, many: str) -> str:
    """The word that agrees with the count ``n``: ``one`` for 1, ``many`` otherwise ("was"/"were")."""
    return one if n == 1 else many


def plain_numbers(*values: float | None, decimals: int = 1) -> tuple[str, ...]:
    """Numbers that are often whole (sessions attended: their median and quartiles fall halfway or
    a quarter between two counts), written with one number of decimals so that they read as one
    set: none when every one is whole ("8", "7", "8"), else ``decimals`` ("8.0", "7.3", "8.0"
    for 8, 7.25, 8); an em dash for a missing one."""
    shown = [float(v) for v in values if v is not None]
    places = 0 if all(v.is_integer() for v in shown) else decimals
    return tuple(MISSING if v is None else number(v, places) for v in values)


def _same_side(p: float, shown: float) -> bool:
    return all((p < threshold) == (shown < threshold) for threshold in P_THRESHOLDS)


def p_value(p: float | None, style: str = "jmir") -> str:
    """The P value alone (no "P=" prefix): ".21", "<.001", ".0496", "<.05" (see the module doc)."""
    if p is None:
        return MISSING
    if p < 0.001:
        return "<.001"
    decimals = 3 if style == "apa" else (2 if p >= 0.01 else 3)
    for places in range(decimals, P_MAX_DECIMALS + 1):
        text = _half_away_from_zero(p, places)
        if _same_side(p, float(text)):
            break
    else:
        bound = min(t for t in P_THRESHOLDS if p < t)
        return "<" + f"{bound:g}".removeprefix("0")
    if float(text) >= 1.0:
        return ">.99"
    return text.removeprefix("0")


def p_statement(p: float | None, style: str = "jmir") -> str:
    """"P=.21" / "P<.001" (JMIR) or "p = .210" / "p < .001" (APA)."""
    if p is None:
        return f"P={MISSING}" if style == "jmir" else f"p = {MISSING}"
    value = p_value(p, style)
    relation = value[0] if value[0] in "<>" else "="
    value = value.lstrip("<>")
    if style == "apa":
        return f"p {relation} {value}"
    return f"P{relation}{value}"


def _equals(symbol: str, value: str, style: str, relation: str = "=") -> str:
    """"n=41" (JMIR) or "n = 41" (APA: spaces around the relation)."""
    return f"{symbol} {relation} {value}" if style == "apa" else f"{symbol}{relation}{value}"


def stat(symbol: str, value: float | None, decimals: int = 2, style: str = "jmir", *,
         bounded: bool = False) -> str:
    """"B=−1.96", "OR=0.61", "Wilks Λ=0.732" (JMIR) or "B = −1.96", "Wilks Λ = .732" (APA).

    ``bounded``: the statistic cannot exceed 1 in absolute value (Λ, partial η², R²), so APA
    drops the leading zero."""
    return _equals(symbol, bounded_number(value, decimals, style) if bounded else number(value, decimals), style)


def bounded_number(value: float | None, decimals: int = 3, style: str = "jmir") -> str:
    """A statistic that cannot exceed 1 in absolute value (Λ, partial η², R², Cronbach α):
    "0.732" (JMIR), ".732" (APA: no leading zero), "−.014"."""
    text = number(value, decimals)
    if style != "apa" or value is None:
        return text
    return re.sub(rf"^({MINUS}?)0\.", r"\1.", text)  # the leading zero only: "−0.014" → "−.014"


def alpha(value: float, style: str = "jmir") -> str:
    """The significance level as given, without a leading zero: "α=.05" (JMIR), "α = .025" (APA)."""
    return _equals("α", f"{value:g}".removeprefix("0"), style)


def integer(value: int | None) -> str:
    """A whole number with thousands separators ("24,500"); an em dash when missing."""
    return MISSING if value is None else f"{int(value):,}"


def count(symbol: str, value: int | None, style: str = "jmir") -> str:
    """"n=93" (JMIR) or "n = 93" (APA); "n=24,500" with thousands separators."""
    return _equals(symbol, integer(value), style)


def count_range(symbol: str, low: int | None, high: int | None, style: str = "jmir", joiner: str = "–") -> str:
    """"n=3–5" (JMIR) or "n = 3–5" (APA); ``joiner`` " to " for a text read aloud."""
    return _equals(symbol, f"{integer(low)}{joiner}{integer(high)}", style)


def count_above(symbol: str, value: int, style: str = "jmir") -> str:
    """"n>2,000" (JMIR) or "n > 2,000" (APA)."""
    return _equals(symbol, integer(value), style, relation=">")


def ci(low: float | None, high: float | None, decimals: int = 2, style: str = "jmir") -> str:
    """"95% CI −0.21 to −0.03" (JMIR) or "95% CI [−0.21, −0.03]" (APA)."""
    return f"95% CI {ci_range(low, high, decimals, style)}"


def ci_range(low: float | None, high: float | None, decimals: int = 2, style: str = "jmir") -> str:
    """The interval alone, for a table cell: "−0.21 to −0.03" or "[−0.21, −0.03]"."""
    if style == "apa":
        return f"[{number(low, decimals)}, {number(high, decimals)}]"
    return f"{number(low, decimals)} to {number(high, decimals)}"


def test_statistic(name: str, value: float | None, df: tuple[int, ...] | int | None = None,
                   decimals: int = 2, style: str = "jmir") -> str:
    """"t(114)=−2.66", "F(2,90)=16.46" (JMIR) or "t(114) = −2.66" (APA)."""
    if isinstance(df, int):
        df = (df,)
    dfs = f"({','.join(str(d) for d in df)})" if df else ""
    if style == "apa":
        dfs = dfs.replace(",", ", ")
    return _equals(f"{name}{dfs}", number(value, decimals), style)


def degrees_of_freedom(df: tuple[int | None, ...]) -> str:
    """A df table cell: "2, 87"; an em dash when unknown."""
    return MISSING if any(d is None for d in df) else ", ".join(str(d) for d in df)


def percent(pct: float | None, denominator: int) -> str:
    """A percentage with 1 decimal when its denominator is ≥ 100, none below."""
    if pct is None or denominator == 0:
        return MISSING
    return _half_away_from_zero(pct, 1 if denominator >= 100 else 0)


def n_percent(n: int, pct: float | None, denominator: int) -> str:
    """"101 (84.2)", "1,817 (85.7)" — a count with its percentage."""
    return f"{integer(n)} ({percent(pct, denominator)})"


def mean_sd(mean: float | None, sd: float | None, decimals: int = 2) -> str:
    """"3.45 (0.61)"; a lone em dash without a mean."""
    if mean is None:
        return MISSING
    return f"{number(mean, decimals)} ({number(sd, decimals)})"


def median_iqr(median: float | None, q1: float | None, q3: float | None, decimals: int = 1) -> str:
    """"30.0 (18.2–44.5)"; a lone em dash without a median."""
    if median is None:
        return MISSING
    return f"{number(median, decimals)} ({number(q1, decimals)}\u2013{number(q3, decimals)})"


# ----------------------------------------------------------------------------- the design in words
# (the facts are defined once, in design.py; these are how the report's sentences name them)
ALLIANCE_WEEKS_TEXT = listing(ALLIANCE_WEEK_NUMBERS.values())  # "2, 5 and 9"
ALLIANCE_WEEK_LABELS = {week: f"Week {number}" for week, number in ALLIANCE_WEEK_NUMBERS.items()}  # "W2": "Week 2"
# each timepoint in a table's row label (T2 and T3: 3 and 9 months after treatment, freeze-format.md)
TIMEPOINT_LABELS = {"T0": "T0 baseline", "T0b": "T0b second baseline", **ALLIANCE_WEEK_LABELS,
                    "T1": "T1 post-treatment", "T2": "T2 3 months", "T3": "T3 9 months"}
# each outcome of Aim 3 (design.OUTCOME_SCALES) as the report names it: in sentences, in its table's
# caption, in figures, and the construct it measures (its short name: its instrument's label,
# design.INSTRUMENT_LABELS)
OUTCOME_NAMES: dict[str, dict[str, str]] = {
    "hads": {"text": "HADS total", "table": "HADS total", "figure": "HADS total", "construct": "distress"},
    "mhcsf": {"text": "MHC-SF", "table": "MHC-SF mean score", "figure": "MHC-SF mean",
              "construct": "mental well-being"},
}
# each disposition event (design.DISPOSITION_EVENTS) as a table row or a legend names it
EVENT_LABELS = {"discontinued_treatment": "Discontinued treatment", "withdrew_from_study": "Withdrew from the study",
                "lost_to_follow_up": "Lost to follow-up"}
ANALYSED_FOLLOW_UPS = " or ".join(t for t in FOLLOW_UPS if t in ANALYSED_TIMEPOINTS)  # "T1"
UNANALYSED_FOLLOW_UPS = " or ".join(t for t in FOLLOW_UPS if t not in ANALYSED_TIMEPOINTS)  # "T2 or T3"


def score_range(instrument) -> str:
    """"0–42": the range of an instrument's total score (a scoring.Instrument's ``score_range``)."""
    return "{}–{}".format(*instrument.score_range)
