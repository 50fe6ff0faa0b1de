"""Figures: every figure is drawn from a results dict alone, inlines cleanly and rebuilds byte for byte."""

import copy
import re
import xml.etree.ElementTree as ET
from unittest import mock

import numpy as np
import pytest

from alliance_report.render import figures
from alliance_report.render.figures import LARGE_N, build_figures

NAMES = ("alliance_trajectory", "sessions_attended", "alliance_outcome", "residual_diagnostics")
CONDITIONS = ("MBCT", "eMBCT")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _descriptive(rng, n):
    mean, sd = float(rng.uniform(3.2, 3.9)), float(rng.uniform(0.5, 0.7))
    half = 2.0 * sd / np.sqrt(n)
    return {"n": n, "mean": mean, "sd": sd, "ci_low": mean - half, "ci_high": mean + half}


def _terms(rng, names):
    terms = {}
    for name in names:
        b, se = float(rng.normal(0, 1)), float(rng.uniform(0.1, 1))
        terms[name] = {"b": b, "se": se, "t": b / se, "p": float(rng.uniform(0, 1)),
                       "ci_low": b - 2 * se, "ci_high": b + 2 * se, "beta": None if name == "intercept" else 0.1}
    return terms


def _outcome_models(rng, n):
    """Main and moderation models of both scales with n participants (observed points, diagnostics, lines)."""
    models = {}
    for scale, (low, high) in (("hads", (0, 42)), ("mhcsf", (0, 5))):
        wai = np.round(rng.uniform(1.5, 5.0, n) * 12) / 12
        outcome = np.clip(rng.normal((low + high) / 2, (high - low) / 8, n), low, high)
        condition = rng.choice(CONDITIONS, n).tolist()
        fitted = rng.normal((low + high) / 2, (high - low) / 12, n)
        models[scale] = {
            "n": n, "df_resid": n - 4, "r2": 0.3, "adj_r2": 0.28, "not_estimable_reason": None,
            "terms": _terms(rng, ("intercept", "baseline", "wai_w2", "condition_embct")),
            "diagnostics": {"breusch_pagan_p": float(rng.uniform(0, 1)), "max_vif": 1.02,
                            "fitted": fitted.tolist(), "residuals": (outcome - fitted).tolist()},
            "observed": {"wai_w2": wai.tolist(), "outcome": outcome.tolist(), "condition": condition},
        }
        models[f"{scale}_moderation"] = {
            "n": n, "df_resid": n - 5, "r2": 0.32, "adj_r2": 0.29, "not_estimable_reason": None,
            "terms": _terms(rng, ("intercept", "baseline", "wai_w2_c", "condition_embct",
                                  "wai_w2_c_x_condition_embct")),
            "diagnostics": {"breusch_pagan_p": 0.5, "max_vif": 2.1, "fitted": [], "residuals": []},
            "simple_slopes": {c: {"b": float(rng.normal()), "se": 0.5, "t": 1.0, "p": float(rng.uniform())}
                              for c in CONDITIONS},
            "fitted_lines": {c: {"wai_w2": [1.5, 5.0], "predicted": sorted(rng.uniform(low, high, 2).tolist())}
                             for c in CONDITIONS},
        }
    return models


def make_results(seed=20190, n_outcome=110):
    rng = np.random.default_rng(seed)
    descriptives = {kind: {c: {week: _descriptive(rng, int(rng.integers(40, 95))) for week in ("W2", "W5", "W9")}
                           for c in CONDITIONS} for kind in ("complete_cases", "available")}
    dropout = {}
    for c in CONDITIONS:
        counts = rng.multinomial(120, [0.03, 0.03, 0.04, 0.04, 0.03, 0.04, 0.08, 0.26, 0.45])
        dropout[c] = {"n": 120, "dropout_n": int(counts[:4].sum()), "dropout_pct": 100 * counts[:4].sum() / 120,
                      "sessions_median": 7.0, "sessions_q1": 6.0, "sessions_q3": 8.0,
                      "sessions_distribution": {str(k): int(v) for k, v in enumerate(counts)},
                      "sessions_distribution_pct": {str(k): 100 * int(v) / 120 for k, v in enumerate(counts)}}
    # nulls the analysis writes for an empty cell (n=0) and for a single score (no SD, no CI)
    descriptives["complete_cases"]["eMBCT"]["W5"] = {"n": 0, "mean": None, "sd": None, "ci_low": None,
                                                     "ci_high": None}
    descriptives["available"]["MBCT"]["W9"].update(n=1, sd=None, ci_low=None, ci_high=None)
    return {
        "schema_version": 1,
        "settings": {"dropout_threshold": 4, "style": "jmir"},
        "alliance_descriptives": descriptives,
        "dropout_description": dropout,
        "outcome_models": _outcome_models(rng, n_outcome),
    }


def not_estimable(model: dict, reason: str) -> dict:
    """What the analysis writes for a model it cannot fit: null estimates, no points or lines."""
    model = copy.deepcopy(model)
    model.update(df_resid=None, r2=None, adj_r2=None, not_estimable_reason=reason)
    model["terms"] = {term: dict.fromkeys(values) for term, values in model["terms"].items()}
    model["diagnostics"] = dict.fromkeys(["breusch_pagan_p", "max_vif", "fitted", "residuals"])
    model.pop("observed", None)
    model.pop("fitted_lines", None)
    if "simple_slopes" in model:
        model["simple_slopes"] = {c: dict.fromkeys(["b", "se", "t", "p"]) for c in CONDITIONS}
    return model


@pytest.fixture(scope="module")
def results():
    return make_results()


@pytest.fixture(scope="module")
def drawn(results):
    return build_figures(results)


def test_every_figure_in_report_order(drawn):
    assert tuple(f.name for f in drawn) == NAMES


def test_svg_is_inlinable_xml(drawn):
    for figure in drawn:
        assert figure.svg.startswith("<svg"), figure.name
        assert "<?xml" not in figure.svg and "<!DOCTYPE" not in figure.svg
        root = ET.fromstring(figure.svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        assert "dc:date" not in figure.svg and "Matplotlib v" not in figure.svg  # no date / creator metadata


def test_ids_unique_across_figures_and_references_resolve(drawn):
    seen = {}
    for figure in drawn:
        ids = re.findall(r'\bid="([^"]+)"', figure.svg)
        assert len(ids) == len(set(ids)), figure.name
        for i in ids:
            assert i not in seen, f"id {i} of {figure.name} also in {seen.get(i)}"
            seen[i] = figure.name
        references = re.findall(r'(?:href="#|url\(#)([^")]+)', figure.svg)
        assert references, figure.name
        assert set(references) <= set(ids), figure.name


@pytest.mark.slow
def test_byte_identical_rebuild(results, drawn):
    again = build_figures(copy.deepcopy(results))
    for first, second in zip(drawn, again, strict=True):
        assert first.svg == second.svg, first.name
        assert first.png == second.png, first.name
        assert (first.caption, first.alt) == (second.caption, second.alt)


def test_png_and_texts(drawn, results):
    for figure in drawn:
        assert figure.png.startswith(PNG_SIGNATURE), figure.name
        assert b"tEXtSoftware" not in figure.png
        assert len(figure.alt) > 80 and len(figure.caption) > 80, figure.name
        assert "n=" in figure.caption, figure.name
        assert "{" not in figure.alt + figure.caption and "None" not in figure.alt + figure.caption
    outcome = dict((f.name, f) for f in drawn)["alliance_outcome"]
    assert "Points are participants" in outcome.caption  # n=110: points, not bins
    trajectory = dict((f.name, f) for f in drawn)["alliance_trajectory"]
    assert "not available at week 5" in trajectory.alt  # a null mean is skipped, not drawn
    assert "P=" in outcome.alt or "P<" in outcome.alt or "P>" in outcome.alt  # via p_statement


def test_the_alliance_axis_holds_every_mean_and_interval_within_the_scale():
    # a mean of 3.5833 (n=1, no CI) just above a quarter step: the top is 3.75, not 3.5 (hand-worked:
    # 3.5833 + 0.15 = 3.7333, up to the next quarter); the bottom 3.2 - 0.15 = 3.05, down to 3.0
    assert figures.wai_axis([3.5833, 3.2]) == (3.0, 3.75)
    assert figures.wai_axis([3.0, 3.5]) == (2.75, 3.75)  # 3.65 up to 3.75; 2.85 down to 2.75
    assert figures.wai_axis([3.6, 3.35]) == (3.0, 3.75)  # 3.75 is a quarter step: not widened to 4.0
    assert figures.wai_axis([-1.07, 7.40, 3.1]) == (1.0, 5.0)  # never beyond the scale


def trajectory_with(results, **cells) -> str:
    """The trajectory's caption with the given cells of the complete cases, every other cell
    within 3–4."""
    changed = copy.deepcopy(results)
    for kind in ("complete_cases", "available"):
        for c in CONDITIONS:
            for week in ("W2", "W5", "W9"):
                changed["alliance_descriptives"][kind][c][week] = {"n": 40, "mean": 3.5, "sd": 0.6,
                                                                   "ci_low": 3.3, "ci_high": 3.7}
    for week, cell in cells.items():
        changed["alliance_descriptives"]["complete_cases"]["eMBCT"][week] = cell
    # the caption only: the figure is neither drawn nor exported (its drawing has tests of its own)
    with mock.patch.object(figures, "_draw_alliance_trajectory", lambda *args: None), \
            mock.patch.object(figures, "export_figure", lambda fig, name, caption, alt: figures.Figure(
                name, caption, alt, "", b"")):
        return figures.alliance_trajectory(changed).caption


def test_the_trajectory_caption_says_where_the_axis_starts_and_what_it_cuts(results):
    within = trajectory_with(results)
    assert "the y axis does not start at 1." in within and "cut" not in within
    whole = trajectory_with(results, W2={"n": 2, "mean": 1.3, "sd": 0.4, "ci_low": 1.05, "ci_high": 4.9})
    assert "does not start at 1" not in whole and "cut" not in whole
    cut = trajectory_with(results, W2={"n": 2, "mean": 3.2, "sd": 0.9, "ci_low": -1.07, "ci_high": 7.40})
    assert "does not start at 1" not in cut
    assert "legibility; error bars that reach beyond the scale (1–5) are cut at its ends." in cut
    high = trajectory_with(results, W9={"n": 3, "mean": 4.1, "sd": 0.9, "ci_low": 2.5, "ci_high": 6.38})
    assert "the y axis does not start at 1; error bars that reach beyond the scale (1–5) are cut" in high


def test_dropout_threshold_from_settings(results):
    changed = copy.deepcopy(results)
    changed["settings"]["dropout_threshold"] = 3
    caption = figures.sessions_attended(changed).caption
    assert "fewer than 3 of 8 sessions" in caption


def test_session_bars_are_the_percentages_of_the_results(results, monkeypatch):
    """The bars are drawn at the analysis's percentages (``sessions_distribution_pct``), as given:
    percentages that do not follow from the counts are drawn as they are, so nothing is recomputed."""
    changed = copy.deepcopy(results)
    changed["dropout_description"]["eMBCT"]["sessions_distribution_pct"] = {
        str(k): 10.0 + k for k in range(9)}
    drawn = []
    bar = figures.plt.Axes.bar

    def recording(ax, x, height, *args, **kwargs):
        drawn.append(list(height))
        return bar(ax, x, height, *args, **kwargs)

    monkeypatch.setattr(figures.plt.Axes, "bar", recording)
    figures.sessions_attended(changed)
    description = changed["dropout_description"]
    assert drawn == [[description[c]["sessions_distribution_pct"][str(k)] for k in range(9)] for c in CONDITIONS]
    assert drawn[1] == [10.0 + k for k in range(9)]


def test_not_estimable_models_do_not_crash(results):
    broken = copy.deepcopy(results)
    models = broken["outcome_models"]
    models["hads"] = not_estimable(models["hads"], "too few cases for 4 parameters")
    models["hads_moderation"] = not_estimable(models["hads_moderation"], "too few cases for 5 parameters")
    models["mhcsf_moderation"] = not_estimable(models["mhcsf_moderation"], "singular design")
    outcome = figures.alliance_outcome(broken)
    residuals = figures.residual_diagnostics(broken)
    assert outcome is not None and residuals is not None
    assert "HADS model could not be estimated" in outcome.caption
    assert "Fitted lines of the MHC-SF moderation model could not be estimated" in outcome.caption
    models["hads"] = results["outcome_models"]["hads"]
    models["hads_moderation"] = not_estimable(models["hads_moderation"], "singular design")
    lines = figures.alliance_outcome(broken).caption
    assert "Fitted lines of the HADS and MHC-SF moderation models could not be estimated." in lines

    assert "too few cases" in outcome.alt and "too few cases" in residuals.alt
    for figure in (outcome, residuals):
        ET.fromstring(figure.svg)


def test_figures_without_anything_to_draw_are_omitted(results):
    empty = copy.deepcopy(results)
    models = empty["outcome_models"]
    for key in list(models):
        models[key] = not_estimable(models[key], "too few cases")
    for kind in empty["alliance_descriptives"].values():
        for condition in kind.values():
            for week in condition:
                condition[week] = dict.fromkeys(["n", "mean", "sd", "ci_low", "ci_high"])
    assert figures.alliance_outcome(empty) is None
    assert figures.residual_diagnostics(empty) is None
    assert figures.alliance_trajectory(empty) is None
    assert build_figures({}) == ()


@pytest.mark.slow
def test_large_n_switches_to_bins_and_stays_small():
    n = 30_000
    assert n > LARGE_N
    results = {"settings": {"dropout_threshold": 4, "style": "jmir"},
               "outcome_models": _outcome_models(np.random.default_rng(7), n)}
    for build in (figures.alliance_outcome, figures.residual_diagnostics):
        figure = build(results)
        assert "hexagonal bin" in figure.caption and "n=30,000" in figure.caption
        assert "Points are participants" not in figure.caption
        assert len(figure.svg.encode()) < 1_500_000, (figure.name, len(figure.svg))
        assert figure.svg.count("<use") < 2_000  # no per-point markers
        ET.fromstring(figure.svg)


def test_text_colours_of_the_figures_meet_wcag_aa_on_white():
    """WCAG 2.x contrast ratio (relative luminance of sRGB), written out here: ≥ 4.5:1 for text."""
    from alliance_report.render.figures import TEXT_COLOURS

    def luminance(hex_colour: str) -> float:
        channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    for name, colour in TEXT_COLOURS.items():
        assert (1.0 + 0.05) / (luminance(colour) + 0.05) >= 4.5, (name, colour)
    assert (1.05 / (luminance("#D55E00") + 0.05)) < 4.5  # the line colour of eMBCT would not do for text


def test_the_trajectory_count_rows_of_the_two_panels_do_not_run_together(results):
    """Under the panels, the right panel's "n MBCT" label keeps a clear gap from the left panel's
    week-9 counts (they read "42 n MBCT 66" with the panels close together)."""
    captured = {}

    def keep(fig, name, caption, alt):
        fig.canvas.draw()
        captured["texts"] = [(ax, [(t.get_text(), t.get_window_extent()) for t in ax.texts]) for ax in fig.axes]
        return figures.Figure(name, caption, alt, "", b"")

    with mock.patch.object(figures, "export_figure", keep):
        figures.alliance_trajectory(results)
    (_, left), (_, right) = captured["texts"]
    left_counts_end = max(box.x1 for text, box in left if not text.startswith("n "))
    right_label_start = min(box.x0 for text, box in right if text.startswith("n "))
    # apart by three quarters of the width of such a label at least (it was about half of it)
    label_width = max(box.width for text, box in right if text.startswith("n "))
    assert right_label_start - left_counts_end > 0.75 * label_width
