"""The one statistics formatter of the report (JMIR style by default, APA 7 as a switch).

JMIR: P without leading zero, floor P<.001 (never P=.000); other statistics keep the zero;
a true minus sign; "95% CI a to b".  APA 7: italic p, P with three decimals
and no leading zero, floor p<.001; "95% CI [a, b]".  A missing value (not estimable) is
shown as an em dash.
"""

from __future__ import annotations

MINUS = "\u2212"
MISSING = "\u2014"


def number(value: float | None, decimals: int = 2) -> str:
    """Fixed decimals, true minus sign; no negative zero."""
    if value is None:
        return MISSING
    text = f"{value:.{decimals}f}"
    if text.lstrip("-").strip("0.") == "":
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def p_value(p: float | None, style: str = "jmir") -> str:
    """The P value alone (no "P=" prefix): ".21", "<.001"."""
    if p is None:
        return MISSING
    if p < 0.001:
        return "<.001"
    decimals = 3 if style == "apa" else (2 if p >= 0.01 else 3)
    text = f"{p:.{decimals}f}"
    if text == "1." + "0" * decimals:
        return ">.99"
    return text.removeprefix("0")


def p_statement(p: float | None, style: str = "jmir") -> str:
    """"P=.21" / "P<.001" (JMIR) or "p = .210" / "p < .001" (APA)."""
    if p is None:
        return f"P={MISSING}" if style == "jmir" else f"p = {MISSING}"
    value = p_value(p, style)
    if style == "apa":
        relation = value[0] if value[0] in "<>" else "="
        return f"p {relation} {value.lstrip('<>')}"
    return f"P{value}" if value[0] in "<>" else f"P={value}"


def ci(low: float | None, high: float | None, decimals: int = 2, style: str = "jmir") -> str:
    """"95% CI −0.21 to −0.03" (JMIR) or "95% CI [−0.21, −0.03]" (APA)."""
    if style == "apa":
        return f"95% CI [{number(low, decimals)}, {number(high, decimals)}]"
    return f"95% CI {number(low, decimals)} to {number(high, decimals)}"


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
        return f"{name}{dfs} = {number(value, decimals)}"
    return f"{name}{dfs}={number(value, decimals)}"


def percent(pct: float | None, denominator: int) -> str:
    """A percentage with 1 decimal when its denominator is ≥ 100, none below."""
    if pct is None or denominator == 0:
        return MISSING
    return f"{pct:.{1 if denominator >= 100 else 0}f}"


def n_percent(n: int, pct: float | None, denominator: int) -> str:
    """"101 (84.2)" — a count with its percentage."""
    return f"{n} ({percent(pct, denominator)})"


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
