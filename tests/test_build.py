"""End to end: the demo freeze built once (conftest.demo_built): its outputs and the numbers in them."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from alliance_report import DEMO_FREEZE
from alliance_report.freeze import sha256_bytes
from alliance_report.render import format as fmt

CLI = [sys.executable, "-m", "alliance_report"]


def run(*args, cwd=None):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})


@pytest.fixture(scope="module")
def demo_build(demo_built):
    """The demo built once per session (conftest)."""
    return demo_built


def pdf_pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout
    return [page for page in text.split("\f") if page.strip()]


def test_build_writes_the_outputs(demo_build):
    for name in ("report.html", "report.pdf", "results.json", "validation.json"):
        assert (demo_build / name).stat().st_size > 0, name
    assert list((demo_build / "tables").glob("*.csv"))
    assert list((demo_build / "figures").glob("*.svg")) and list((demo_build / "figures").glob("*.png"))
    results = json.loads((demo_build / "results.json").read_text())
    manifest_bytes = (DEMO_FREEZE / "manifest.json").read_bytes()
    assert results["input_sha256"] == sha256_bytes(manifest_bytes)
    assert results["freeze_id"] == json.loads(manifest_bytes)["freeze_id"]


def test_hads_model_numbers_in_the_pdf_are_those_of_results_json(demo_build):
    results = json.loads((demo_build / "results.json").read_text())
    model = results["outcome_models"]["hads"]
    text = " ".join(pdf_pages(demo_build / "report.pdf"))
    alliance = model["terms"]["wai_w2"]
    expected = [
        fmt.number(alliance["b"]), fmt.number(alliance["se"]), fmt.number(alliance["t"]),
        fmt.ci_range(alliance["ci_low"], alliance["ci_high"]), fmt.p_value(alliance["p"]),
        fmt.number(model["r2"], 3), f"t({model['df_resid']})", f"n={model['n']}",
    ]
    for term in model["terms"].values():
        expected += [fmt.number(term["b"]), fmt.number(term["se"])]
    for string in expected:
        assert string in text, string


def normalized_text(path: Path) -> str:
    return " ".join(" ".join(pdf_pages(path)).split())


def test_key_results_in_the_pdf_are_those_of_results_json(demo_build):
    results = json.loads((demo_build / "results.json").read_text())
    text = normalized_text(demo_build / "report.pdf")
    manova = results["alliance_manova"]
    time, condition = manova["time"], manova["condition"]
    dropout = results["dropout_model"]["terms"]["wai_w2"]
    mhcsf = results["outcome_models"]["mhcsf"]
    interaction = results["outcome_models"]["hads_moderation"]["terms"]["wai_w2_c_x_condition_embct"]
    expected = [
        f"Λ={fmt.number(time['wilks'], 3)}",
        fmt.test_statistic("F", time["f"], (time["df1"], time["df2"])),
        fmt.test_statistic("F", condition["f"], (condition["df1"], condition["df2"])),
        fmt.p_statement(condition["p"]),
        f"B={fmt.number(dropout['b'])}", fmt.p_statement(dropout["p"]),
        f"B={fmt.number(mhcsf['terms']['wai_w2']['b'])}",
        fmt.test_statistic("t", mhcsf["terms"]["wai_w2"]["t"], mhcsf["df_resid"]),
        f"B={fmt.number(interaction['b'])}",
        fmt.ci(interaction["ci_low"], interaction["ci_high"]),
        f"{results['consort']['randomized']} participants were randomized",
    ]
    for cell in results["baseline_characteristics"]["rows"][:4]:
        if cell["kind"] == "n_pct":
            mbct = cell["cells"]["MBCT"]
            expected.append(fmt.n_percent(mbct["n"], mbct["pct"], mbct["denominator"]))
    for string in expected:
        assert string in text, string


def test_consort_numbers_in_the_diagram_are_the_counts(demo_build):
    import xml.etree.ElementTree as ET

    html = (demo_build / "report.html").read_text()
    start = html.index("<svg", html.index('id="figure-consort"'))
    svg = ET.fromstring(html[start:html.index("</svg>", start) + len("</svg>")])
    text = " ".join("".join(node.itertext()) for node in svg.iter() if node.tag.endswith("text"))
    consort = json.loads((demo_build / "results.json").read_text())["consort"]
    for label, n in [("Assessed for eligibility", consort["assessed"]), ("Excluded", consort["excluded"]),
                     ("Randomized", consort["randomized"]),
                     ("Allocated to MBCT", consort["allocated"]["MBCT"]),
                     ("Allocated to TAU", consort["allocated"]["TAU"]),
                     ("Treated in eMBCT", consort["treated"]["eMBCT"])]:
        assert f"{label} (n={n})" in text, label
    for reason, n in consort["excluded_reasons"].items():
        assert f"{reason} (n={n})" in text, reason


def test_quarto_document_matches_the_results(demo_build):
    import yaml

    qmd = (demo_build / "report.qmd").read_text()
    _, front, body = qmd.split("---\n", 2)
    meta = yaml.safe_load(front)
    results = json.loads((demo_build / "results.json").read_text())
    assert results["freeze_id"] in meta["subtitle"] and "SIMULATED DATA" in meta["subtitle"]
    assert set(meta["format"]) == {"html", "pdf"}
    for figure in re.findall(r"\]\((figures/[^)]+)\)", body):
        # no extension: the SVG for HTML and the PNG for PDF (default-image-extension)
        path = demo_build / figure
        assert path.is_file() if path.suffix else path.with_suffix(".svg").is_file() and path.with_suffix(".png").is_file(), figure
    assert "figures/consort)" in body and "figures/alliance_outcome)" in body  # the CONSORT diagram has a PNG too
    hads = results["outcome_models"]["hads"]
    alliance = hads["terms"]["wai_w2"]
    for string in (fmt.number(alliance["b"]), fmt.ci(alliance["ci_low"], alliance["ci_high"]),
                   f"({hads['df_resid']})={fmt.number(alliance['t'])}",
                   f"={fmt.number(results['alliance_manova']['time']['f'])}",
                   f"{results['consort']['randomized']} participants were randomized"):
        assert string in body, string


def test_both_editions_are_written_with_their_labels_on_every_page(demo_build):
    for folder, label in ((demo_build, "CLOSED — for the data monitoring committee only"),
                          (demo_build / "open", "OPEN — no comparative data")):
        for name in ("report.html", "report.pdf", "report.qmd", "results.json"):
            assert (folder / name).stat().st_size > 0, folder / name
        pages = pdf_pages(folder / "report.pdf")
        assert all(label in page for page in pages), folder
        assert label in (folder / "report.html").read_text() and label in (folder / "report.qmd").read_text()
    assert json.loads((demo_build / "results.json").read_text())["edition"] == "closed"
    assert json.loads((demo_build / "open" / "results.json").read_text())["edition"] == "open"
    assert not (demo_build / "open" / "validation.json").exists()


def test_the_closed_pdf_has_the_trial_conduct_by_arm(demo_build):
    conduct = json.loads((demo_build / "results.json").read_text())["conduct"]
    pages = pdf_pages(demo_build / "report.pdf")
    start = next(i for i, page in enumerate(pages) if "Trial conduct" in page and "Accrual" in page)
    aims = next(i for i, page in enumerate(pages) if "Aim 1: early alliance and dropout" in page)
    assert start < aims  # before the aims
    text = " ".join(" ".join(pages[start:aims + 1]).split())
    for arm in ("MBCT", "eMBCT", "TAU"):
        assert f"{conduct['accrual']['by_arm'][arm]['randomized']}" in text
    header = re.search(r"Event Overall MBCT eMBCT TAU", text)
    assert header, "the disposition table has a column per arm"
    events = conduct["disposition"]
    row = (f"Discontinued treatment {events['discontinued_treatment']} "
           + " ".join(str(events["by_arm"][arm]["discontinued_treatment"]) for arm in ("MBCT", "eMBCT", "TAU")))
    assert row in text, row


def test_every_page_says_simulated_data(demo_build):
    pages = pdf_pages(demo_build / "report.pdf")
    assert pages
    for number, page in enumerate(pages, start=1):
        assert "SIMULATED DATA" in page, f"page {number}"
        assert f"Page {number} of {len(pages)}" in page
    assert "SIMULATED DATA" in (demo_build / "report.html").read_text()


def test_html_fetches_nothing_external(demo_build):
    html = (demo_build / "report.html").read_text()
    for marker in ('src="http', "src='http", 'href="http', "url(http", "@import"):
        assert marker not in html


def test_an_unknown_option_is_a_usage_error():
    """The process's exit code (argparse); a missing freeze folder: tests/test_validation_cli.py."""
    result = run("build", "--no-such-option")
    assert result.returncode == 2 and "--no-such-option" in result.stderr and "Traceback" not in result.stderr


def test_the_abstract_reports_both_outcomes_with_their_moderation(demo_build):
    """The abstract's Results name each outcome's association and its moderation by condition, for
    HADS and for MHC-SF alike (the MHC-SF moderation was missing: a significant interaction would
    have left "on average over the two conditions" unexplained)."""
    import html as html_module

    from alliance_report.render import text

    results = json.loads((demo_build / "results.json").read_text())
    page = (demo_build / "report.html").read_text()
    paragraph = re.search(r"<p><strong>Results:</strong>(.*?)</p>", page, re.S).group(1)
    abstract = html_module.unescape(re.sub(r"<[^>]+>", "", paragraph))
    expected = [text.outcome(results, "hads", "HADS total"), text.moderation(results, "hads", "HADS total"),
                text.outcome(results, "mhcsf", "MHC-SF"), text.moderation(results, "mhcsf", "MHC-SF")]
    positions = [abstract.find(sentence) for sentence in expected]
    assert -1 not in positions, (positions, abstract)
    assert positions == sorted(positions)


def test_each_edition_describes_itself_in_its_metadata(demo_build):
    """The HTML's description (the PDF's Subject): the open edition has no analysis of the alliance."""
    def description(folder):
        return re.search(r'<meta name="description" content="([^"]*)"', (folder / "report.html").read_text()).group(1)
    assert description(demo_build).startswith("Secondary analysis of the therapeutic alliance in the BeMind trial")
    assert description(demo_build / "open") == ("Trial conduct of the BeMind trial, pooled over the treatment arms, "
                                                "data freeze 2018-03-01 (SIMULATED DATA)")
