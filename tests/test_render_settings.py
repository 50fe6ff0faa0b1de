"""Settings change the report in one place: Table 1 test columns, APA style, dropout threshold."""

import copy
from decimal import ROUND_HALF_UP, Decimal

import pytest

from alliance_report import DEMO_FREEZE
from alliance_report.freeze import read_freeze
from alliance_report.render import format as fmt
from alliance_report.render import tables, text
from alliance_report.results import compute_results
from alliance_report.settings import Settings


@pytest.fixture(scope="module")
def demo_results():
    return compute_results(read_freeze(DEMO_FREEZE), Settings())


def with_settings(results, **changes):
    changed = copy.deepcopy(results)
    changed["settings"].update(changes)
    return changed


def test_table1_test_columns_only_when_asked(demo_results):
    plain = tables.table1(demo_results)
    assert plain.header[-1] == "SMD"
    tested = tables.table1(with_settings(demo_results, table1_tests=True))
    assert tested.header[-2:] == ("Test", "P")
    age = next(row for row in demo_results["baseline_characteristics"]["rows"] if row["variable"] == "age")
    age_row = next(row for row in tested.rows if row.cells[0].startswith("Age"))
    assert age_row.cells[-2] == fmt.test_statistic("t", age["test"]["statistic"], age["test"]["df"])
    assert age_row.cells[-1] == fmt.p_value(age["test"]["p"])


def test_table1_footnote_says_how_each_smd_is_computed(demo_results):
    """The SMD of months since diagnosis comes from its means, though the row shows its median:
    the footnote says so; the tests' names only when their columns are there."""
    plain = tables.table1(demo_results).footnote
    assert ("SMD: standardized difference, eMBCT − MBCT: of the means over the root mean of the two variances "
            "(months since diagnosis too, though shown as median and quartiles), or of a level's proportions") in plain
    assert "Student t test" not in plain
    assert "Test: Student t test (continuous) or Pearson χ² (categorical)." in tables.table1(
        with_settings(demo_results, table1_tests=True)).footnote


def test_apa_style_changes_every_sentence(demo_results):
    apa = with_settings(demo_results, style="apa")
    hads = text.outcome(apa, "hads", "HADS total")
    term = demo_results["outcome_models"]["hads"]["terms"]["wai_w2"]
    assert fmt.p_statement(term["p"], "apa") in hads and "P=" not in hads
    assert "95% CI [" in hads
    assert "p " in text.alliance_development(apa) and "P<" not in text.alliance_development(apa)
    manova = tables.manova_table(apa)
    assert manova.rows[0].cells[4] == fmt.p_value(demo_results["alliance_manova"]["time"]["p"], "apa")
    # the tables follow the style too: no leading zero for Λ, partial η², R² and Cronbach α (APA)
    def three(x: float) -> str:  # 3 decimals, a tie away from zero (the report's rounding), by the standard library
        return str(Decimal(repr(x)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP))

    time = demo_results["alliance_manova"]["time"]
    assert manova.rows[0].cells[1] == three(time["wilks"]).removeprefix("0")
    assert manova.rows[0].cells[5] == three(time["partial_eta_sq"]).removeprefix("0")
    assert tables.manova_table(demo_results).rows[0].cells[1] == three(time["wilks"])
    hads = demo_results["outcome_models"]["hads"]
    r2_row = next(row for row in tables.outcome_table(apa, "hads", "HADS total").rows if row.cells[0].startswith("R²"))
    assert r2_row.cells[1] == f"{three(hads['r2']).removeprefix('0')} ({three(hads['adj_r2']).removeprefix('0')})"
    alphas = [row.cells[2] for row in tables.reliability_table(apa).rows]
    assert alphas and all(a.startswith(".") for a in alphas)


def test_dropout_threshold_setting_reaches_the_analysis_and_the_text():
    strict = compute_results(read_freeze(DEMO_FREEZE), Settings(dropout_threshold=6))
    default = compute_results(read_freeze(DEMO_FREEZE), Settings())
    assert sum(strict["consort"]["dropout"].values()) > sum(default["consort"]["dropout"].values())
    assert "fewer than 6 of 8 sessions" in text.dropout_summary(strict)
    assert any("< 6 sessions" in line for line in text.analyses(strict))


def test_the_open_provenance_table_withholds_the_digests_that_depend_on_the_arms(demo_results):
    """The open edition's results hold no SHA-256 of participants.csv or of the manifest: its table
    says so, cell and footnote; the closed one shows every digest."""
    closed = tables.provenance_table(demo_results)
    assert all(len(row.cells[2]) == 64 for row in closed.rows if row.cells[1] == "SHA-256")
    assert "withheld" not in closed.footnote
    opened = copy.deepcopy(demo_results)
    opened["provenance"]["input_files"]["participants.csv"] = None
    table = tables.provenance_table(opened)
    cells = {row.cells[0]: row.cells[2] for row in table.rows}
    assert cells["participants.csv"] == "withheld in the open edition" and len(cells["sessions.csv"]) == 64
    assert table.footnote.endswith(" A SHA-256 that depends on the arms is withheld.")


def test_the_outcome_tables_give_t_and_its_residual_df(demo_results):
    """analysis-plan.md: per term B, SE, t, df, P, 95% CI, β.  t = B/SE; the residual df of OLS is
    n − 4 (intercept, baseline, early alliance, condition) and n − 5 with the interaction."""
    for scale in ("hads", "mhcsf"):
        table = tables.outcome_table(demo_results, scale, scale)
        assert table.header.count("t") == 2
        main, moderation = (demo_results["outcome_models"][key] for key in (scale, f"{scale}_moderation"))
        t_main, t_moderation = table.header.index("t"), len(table.header) - 1 - table.header[::-1].index("t")
        baseline = next(row for row in table.rows if row.cells[0] == "Baseline score")
        for column, model in ((t_main, main), (t_moderation, moderation)):
            term = model["terms"]["baseline"]
            assert abs(float(baseline.cells[column].replace("−", "-")) - term["b"] / term["se"]) < 0.006
        slope = next(row for row in table.rows if row.cells[0].endswith("MBCT") and "Simple slope" in row.cells[0])
        b_se = moderation["simple_slopes"]["MBCT"]
        assert abs(float(slope.cells[t_moderation].replace("−", "-")) - b_se["b"] / b_se["se"]) < 0.006
        assert (f"with {main['n'] - 4} (main model) and {moderation['n'] - 5} (moderation model) residual "
                "degrees of freedom") in table.footnote


def test_the_mixed_model_table_gives_its_variance_components(demo_results):
    """τ̂² and σ̂² (results.json alliance_mixed.variance_components) in the table's footnote, in the
    report's style; the boundary note holds no number of its own."""
    components = demo_results["alliance_mixed"]["variance_components"]
    footnote = tables.mixed_model_table(demo_results).footnote
    assert (f"Variance components: random intercept τ̂²={fmt.number(components['tau2'], 3)}, residual "
            f"σ̂²={fmt.number(components['sigma2'], 3)}.") in footnote
    apa = tables.mixed_model_table(with_settings(demo_results, style="apa")).footnote
    assert f"τ̂² = {fmt.number(components['tau2'], 3)}" in apa


def test_apa_style_reaches_every_figure_caption_alt_text_and_legend(demo_results, monkeypatch):
    """Every "n=" of the figures (captions, text alternatives, legend labels) becomes "n = " with
    APA, and "n>" "n > ".  The figures are laid out but not exported (no PNG or SVG: fast)."""
    import re

    from alliance_report.render import conduct_figures, figures

    drawn = []

    def keep_text(fig, name, caption, alt):
        legends = fig.legends + [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
        labels = " ".join(t.get_text() for legend in legends for t in legend.get_texts())
        figures.plt.close(fig)
        drawn.append((name, f"{caption} {alt} {labels}"))
        return figures.Figure(name, caption, alt, "", b"")

    monkeypatch.setattr(figures, "export_figure", keep_text)
    monkeypatch.setattr(conduct_figures, "export_figure", keep_text)
    texts = {}
    for style in ("jmir", "apa"):
        drawn.clear()
        results = with_settings(demo_results, style=style)
        conduct_figures.conduct_figures(results["conduct"], style)
        figures.build_figures(results)
        texts[style] = dict(drawn)
    assert texts["jmir"].keys() == texts["apa"].keys() and len(texts["apa"]) == 6
    for name, jmir in texts["jmir"].items():
        apa = texts["apa"][name]
        assert not re.search(r"\bn [=>] ", jmir), name
        assert not re.search(r"\bn[=>]", apa), (name, apa)
        assert len(re.findall(r"\bn = ", apa)) == len(re.findall(r"\bn=", jmir)), name
    counts = {name: len(re.findall(r"\bn=", jmir)) for name, jmir in texts["jmir"].items()}
    assert all(counts[name] > 0 for name in counts if name != "retention"), counts  # retention writes none


@pytest.mark.parametrize("value, message", [("0", "must be from 1 to 8 sessions, not 0"),
                                            ("9", "must be from 1 to 8 sessions, not 9"),
                                            ("four", "'four' is not a whole number of sessions")])
def test_a_dropout_threshold_out_of_range_is_a_usage_error_naming_the_option(value, message, tmp_path, capsys):
    from alliance_report.cli import main

    with pytest.raises(SystemExit) as stop:
        main(["build", str(DEMO_FREEZE), "--out", str(tmp_path / "out"), "--dropout-threshold", value])
    assert stop.value.code == 2
    assert f"argument --dropout-threshold: {message}" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
