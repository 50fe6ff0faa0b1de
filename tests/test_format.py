"""Golden strings for the statistics formatter (JMIR default, APA 7 switch)."""

import pytest

from alliance_report.render import format as fmt


@pytest.mark.parametrize("p, jmir, apa", [
    (0.2134, "P=.21", "p = .213"),
    (0.0104, "P=.01", "p = .010"),
    (0.0496, "P=.0496", "p = .0496"),
    (0.00512, "P=.005", "p = .005"),
    (0.001, "P=.001", "p = .001"),
    (0.000999, "P<.001", "p < .001"),
    (1e-12, "P<.001", "p < .001"),
    (0.74, "P=.74", "p = .740"),
    (0.9999, "P>.99", "p > .99"),
])
def test_p_statement(p, jmir, apa):
    assert fmt.p_statement(p) == jmir
    assert fmt.p_statement(p, "apa") == apa


def test_p_never_prints_zero():
    assert fmt.p_value(0.0) == "<.001"
    assert ".000" not in fmt.p_statement(0.0004)


def test_test_statistics():
    assert fmt.test_statistic("F", 16.4567, (2, 90)) == "F(2,90)=16.46"
    assert fmt.test_statistic("t", -2.656, 114) == "t(114)=\u22122.66"
    assert fmt.test_statistic("t", -2.656, 114, style="apa") == "t(114) = \u22122.66"
    assert fmt.test_statistic("F", 0.114, (1, 91), decimals=3, style="apa") == "F(1, 91) = 0.114"


def test_numbers_keep_leading_zero_and_use_minus_sign():
    assert fmt.number(0.7321, 3) == "0.732"
    assert fmt.number(-0.39) == "\u22120.39"
    assert fmt.number(-0.001) == "0.00"  # no negative zero
    assert fmt.number(None) == "\u2014"


def test_confidence_intervals():
    assert fmt.ci(-0.213, -0.031) == "95% CI \u22120.21 to \u22120.03"
    assert fmt.ci(-0.213, -0.031, style="apa") == "95% CI [\u22120.21, \u22120.03]"
    assert fmt.ci_range(0.5, 1.26, decimals=1) == "0.5 to 1.3"


def test_percent_decimals_depend_on_n():
    assert fmt.percent(100 * 101 / 120, 120) == "84.2"
    assert fmt.percent(100 * 40 / 93, 93) == "43"
    assert fmt.percent(None, 0) == "\u2014"
    assert fmt.n_percent(101, 100 * 101 / 120, 120) == "101 (84.2)"


def test_descriptive_cells():
    assert fmt.mean_sd(3.4567, 0.61234) == "3.46 (0.61)"
    assert fmt.median_iqr(30, 18.24, 44.56) == "30.0 (18.2\u201344.6)"
    assert fmt.mean_sd(None, None) == "\u2014"
    assert fmt.mean_sd(3.0, None) == "3.00 (\u2014)"


@pytest.mark.parametrize("value, decimals, expected", [
    # ties round away from zero, as SPSS and readers do (Python's own format rounds 32.5 to "32")
    (27.5, 0, "28"), (32.5, 0, "33"), (2.5, 0, "3"), (-2.5, 0, "−3"), (7.25, 1, "7.3"), (0.125, 2, "0.13"),
    # the decimal value as printed is rounded: 0.1 + 0.2 prints 0.30000000000000004
    # and 1.005 (1.00499999999999989… in binary) prints as 1.005, a tie: 1.01, as a reader would round it
    (0.1 + 0.2, 1, "0.3"), (1.005, 2, "1.01"),
    (-0.0004, 3, "0.000"),  # no negative zero
])
def test_numbers_round_half_away_from_zero(value, decimals, expected):
    assert fmt.number(value, decimals) == expected


def test_percentages_round_half_away_from_zero():
    assert (fmt.percent(27.5, 40), fmt.percent(32.5, 40), fmt.percent(2.5, 40)) == ("28", "33", "3")
    assert fmt.percent(12.25, 400) == "12.3"


def test_counts_have_thousands_separators():
    assert fmt.plural(24500, "participant", "participants") == "24,500 participants"
    assert fmt.plural(1, "participant", "participants") == "1 participant"
    assert (fmt.count("n", 24500), fmt.count("n", 24500, "apa"), fmt.count("n", None)) == ("n=24,500", "n = 24,500",
                                                                                          "n=" + fmt.MISSING)


def test_bounded_statistics_drop_the_leading_zero_in_apa_only():
    assert (fmt.bounded_number(0.6134), fmt.bounded_number(0.6134, 3, "apa")) == ("0.613", ".613")
    assert fmt.bounded_number(-0.0141, 3, "apa") == "−.014"
    # only a leading zero: a Cronbach α of a handful of forms can be far below −1
    assert (fmt.bounded_number(-150.55, 2, "apa"), fmt.bounded_number(-10.5, 2, "apa")) == ("−150.55", "−10.50")
    assert fmt.bounded_number(None, 3, "apa") == fmt.MISSING
    assert fmt.stat("R²", 0.177, 3, "apa", bounded=True) == "R² = .177"


def test_alpha_is_printed_as_given():
    assert (fmt.alpha(0.05), fmt.alpha(0.05, "apa"), fmt.alpha(0.025, "apa")) == ("α=.05", "α = .05", "α = .025")


@pytest.mark.parametrize("items, expected", [
    ([], ""), (["a"], "a"), (["a", "b"], "a and b"), (["a", "", "b", "c"], "a, b and c"), ([2, 5, 9], "2, 5 and 9"),
])
def test_listing(items, expected):
    assert fmt.listing(items) == expected
    assert fmt.listing(["x", "y"], "or") == "x or y"


def test_any_magnitude_is_printed():
    """An odds ratio of a nearly separated fit can be astronomically large: printed, not an error."""
    assert fmt.number(2.7e26) == "270000000000000000000000000.00"
    huge = fmt.number(2.6e118)
    assert huge.startswith("26") and huge.endswith(".00") and len(huge) == 119 + 3
    assert fmt.number(float("inf")) == "inf" and fmt.number(float("nan")) == "nan"


def test_p_values_round_half_away_from_zero_too():
    assert (fmt.p_value(0.345), fmt.p_value(0.125, "apa")) == (".35", ".125")


@pytest.mark.parametrize("values, shown", [
    ((8, 7, 8), ("8", "7", "8")),
    ((8.0, 7.25, 8.0), ("8.0", "7.3", "8.0")),
    ((None, 2.5, 3), ("—", "2.5", "3.0")),
    ((None, 2, 3), ("—", "2", "3")),
])
def test_plain_numbers_share_one_number_of_decimals(values, shown):
    assert fmt.plain_numbers(*values) == shown
