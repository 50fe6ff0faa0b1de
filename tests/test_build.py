"""End to end: the console script builds the demo freeze; a broken freeze writes nothing."""

import json
import os
import shutil
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
def demo_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("build") / "demo"
    result = run("build", DEMO_FREEZE, "--out", out)
    assert result.returncode == 0, result.stderr
    return out


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


def corrupt_age(freeze: Path) -> None:
    """Set one participant's age to 17 and re-sign the manifest (a well-formed but invalid export)."""
    path = freeze / "participants.csv"
    lines = path.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    cells = lines[1].rstrip("\n").split(",")
    cells[header.index("age")] = "17"
    lines[1] = ",".join(cells) + "\n"
    path.write_text("".join(lines))
    manifest = json.loads((freeze / "manifest.json").read_text())
    manifest["files"]["participants.csv"] = sha256_bytes(path.read_bytes())
    (freeze / "manifest.json").write_text(json.dumps(manifest, indent=2))


def test_invalid_freeze_exits_1_and_leaves_the_output_untouched(tmp_path):
    freeze = tmp_path / "freeze"
    shutil.copytree(DEMO_FREEZE, freeze)
    corrupt_age(freeze)
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("previous report")

    result = run("build", freeze, "--out", out)
    assert result.returncode == 1
    assert "participants.csv" in result.stderr and "age" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert [p.name for p in out.iterdir()] == ["report.html"]
    assert (out / "report.html").read_text() == "previous report"
    assert {p.name for p in tmp_path.iterdir()} == {"freeze", "out"}  # no staging folder left behind

    fresh = tmp_path / "fresh"
    assert run("build", freeze, "--out", fresh).returncode == 1
    assert not fresh.exists()


def test_usage_errors_exit_2(tmp_path):
    result = run("build", tmp_path / "does-not-exist", "--out", tmp_path / "out")
    assert result.returncode == 2 and "does-not-exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert run("build", "--no-such-option").returncode == 2
