"""The two editions of a build, and the leak test of the open edition (committee-reports.md, "Editions").

The leak test: relabel the arms of a freeze — swap MBCT ↔ eMBCT in ``allocation`` and
``treatment``, or reassign the treated condition at random among the treated (``allocation``
following ``treatment`` outside TAU) —, re-sign the manifest and build again. The open edition
must be the same: its figures byte for byte, its HTML, ``.qmd``, ``results.json``, tables and
PDF text (and page count) identical once every 64-hex-digit SHA-256 is masked; the closed
editions must differ. Run on the demo and on an interim freeze, through the build's own steps
(validation, analysis, figures, rendering with the guard, writing, PDF).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import freeze_corruptions as fc
from alliance_report import DEMO_FREEZE, TEMPLATES_DIR, provenance, steps
from alliance_report.errors import BuildError
from alliance_report.freeze import read_freeze
from alliance_report.render import report as report_module
from alliance_report.render.open_guard import arm_mentions
from alliance_report.settings import Settings
from alliance_report.simulation import simulate_freeze
from alliance_report.validation import validate_freeze

SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
BUILD_DATE = "2026-11-30"


def relabel(src: Path, dst: Path, how: str, seed: int = 1) -> Path:
    """A copy of the freeze with its arms relabelled (``swap`` or ``random``: each treated
    participant's arm drawn from a hash of ``seed`` and their id, so that a participant gets the
    same arm in every freeze of the trial), manifest re-signed."""
    shutil.copytree(src, dst)
    path = dst / "participants.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    for row in rows:
        if how == "swap":
            for column in ("allocation", "treatment"):
                row[column] = {"MBCT": "eMBCT", "eMBCT": "MBCT"}.get(row[column], row[column])
        elif row["treatment"]:
            draw = hashlib.sha256(f"{seed}:{row['participant_id']}".encode()).digest()[0]
            row["treatment"] = ("MBCT", "eMBCT")[draw % 2]
            if row["allocation"] != "TAU":
                row["allocation"] = row["treatment"]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    fc.refresh_manifest(dst)
    return dst


def closed_counts(freeze) -> dict:
    """The CONSORT counts by arm of the closed edition (without the models)."""
    from alliance_report.analysis.consort import consort_counts
    from alliance_report.results import analysis_inputs
    from alliance_report.study import load_study

    tables, data, schedule, status = analysis_inputs(freeze, Settings(), load_study(freeze.manifest["study"]))
    return consort_counts(tables, data, schedule, status, analysed=False)


def build_open_edition(freeze_dir: Path, out: Path, previous: Path | None = None, pdf: bool = True) -> dict:
    """The build's steps for the open edition into ``out/open`` (compared with ``previous`` when
    given; without its PDF with ``pdf=False``); returns the closed edition's CONSORT counts by arm."""
    freeze = read_freeze(freeze_dir)
    report = validate_freeze(freeze)
    assert report.ok
    validation = report.to_dict()
    results = steps.analyse(freeze, Settings(edition="open"))
    if previous is not None:
        assert validate_freeze(read_freeze(previous)).ok
    comparison = steps.compare(previous, freeze, Settings(edition="open"))  # None without a previous freeze
    steps.add_changes(results, comparison, None)
    figures = steps.draw_figures(results)
    reports = steps.render_reports(results, figures, validation, BUILD_DATE)
    out.mkdir(parents=True)
    steps.write_files(results, reports, validation, out)
    if pdf:
        steps.write_pdfs(reports, out)
    return closed_counts(freeze)


def masked(data: bytes) -> str:
    return SHA256.sub("<sha256>", data.decode("utf-8"))


def pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True,
                          check=True).stdout


def open_edition(out: Path) -> dict[str, object]:
    """Everything of ``out/open`` as it is compared: figures as bytes, text files masked, PDF text."""
    folder = out / "open"
    files = {}
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.suffix in (".png", ".svg"):
            files[name] = path.read_bytes()
        elif path.suffix == ".pdf":
            text = pdf_text(path)
            files[name] = (SHA256.sub("<sha256>", text), text.count("\f"))
        elif path.is_file():
            files[name] = masked(path.read_bytes())
    return files


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """``variants(name, how)``: (closed results, open edition) of the demo, or of an interim freeze
    compared with a previous freeze of its trial, as given, swapped or randomly reassigned (the
    previous freeze relabelled the same way); each built once, when first asked for."""
    root = tmp_path_factory.mktemp("leak")
    sources = {"demo": lambda: (DEMO_FREEZE, None),
               "interim": lambda: (simulate_freeze(root / "interim", seed=3, cutoff_date="2015-03-01"),
                                   simulate_freeze(root / "earlier", seed=3, cutoff_date="2014-09-01"))}
    freezes, built = {}, {}
    # the commit as it is now for every build: a file edited during the test run must not
    # turn "abc" into "abc-dirty" between two variants
    commit = provenance.git_commit()

    def get(name: str, how: str):
        if (name, how) not in built:
            if name not in freezes:
                freezes[name] = sources[name]()
            source, earlier = freezes[name]
            label = how.replace(" ", "-")
            freeze = source if how == "as given" else relabel(source, root / f"{name}-{label}", how)
            previous = (earlier if how == "as given" or earlier is None
                        else relabel(earlier, root / f"{name}-earlier-{label}", how))
            out = root / f"out-{name}-{label}"
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(provenance, "git_commit", lambda commit=commit: commit)
                built[(name, how)] = (build_open_edition(freeze, out, previous), open_edition(out))
        return built[(name, how)]
    return get


# in `make test` the demo swapped; `make test-slow` runs the rest
@pytest.mark.parametrize("name, how", [("demo", "swap"), *(pytest.param(*case, marks=pytest.mark.slow) for case in
                                       (("demo", "random"), ("interim", "swap"), ("interim", "random")))])
def test_the_open_edition_does_not_change_when_the_arms_are_relabelled(variants, name, how):
    closed, edition = variants(name, "as given")
    closed_relabelled, edition_relabelled = variants(name, how)
    assert edition.keys() == edition_relabelled.keys()
    assert {"report.html", "report.qmd", "report.pdf", "results.json"} <= set(edition)
    assert any(key.startswith("figures/") for key in edition) and any(key.startswith("tables/") for key in edition)
    for key in edition:
        assert edition[key] == edition_relabelled[key], key
    assert closed != closed_relabelled  # the closed editions differ (their counts by arm)
    if name == "interim":  # compared with the previous freeze: the changes section is checked too
        changes = edition["results.json"]
        assert '"status": "compared"' in changes


def test_the_open_edition_has_no_comparison_and_no_count_by_arm(variants):
    closed, edition = variants("demo", "as given")
    text, pages = edition["report.pdf"]
    for word in ("Wilks", "odds ratio", "Aim 1", "MANOVA", "SMD", "simple slope", "eMBCT −"):
        assert word not in text, word
    assert "OPEN — no comparative data" in text and text.count("OPEN — no comparative data") >= pages
    for arm in ("MBCT", "eMBCT"):
        for key in ("treated", "dropout", "lost_to_follow_up_t1", "in_treatment"):
            count = closed[key][arm]
            assert not re.search(rf"\b{arm}\b \(n={count}\)|\b{count} in {arm}\b", text)
    assert "by_arm" not in edition["results.json"] and '"MBCT"' not in edition["results.json"]
    # no SHA-256 that depends on the arms (with a guessed allocation list it would confirm it)
    flat = " ".join(text.split())
    assert "The SHA-256 of the manifest and of participants.csv, which holds the allocation, are withheld" in flat
    assert '"input_sha256": null' in edition["results.json"] and '"participants.csv": null' in edition["results.json"]


def leaking_template(tmp_path: Path, monkeypatch) -> None:
    """A future template change that puts a count by arm into the open edition: the open results
    get the number of participants treated in MBCT (from the unpooled tables) and the open body
    prints it."""
    from alliance_report import results as results_module

    real = results_module._open_results

    def open_results_with_a_leak(tables, *args):
        results = real(tables, *args)
        results["leak"] = int((tables["participants"]["treatment"] == "MBCT").sum())
        return results

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, templates)
    body = templates / "open_body.j2"
    body.write_text(body.read_text(encoding="utf-8").replace(
        '{{ m.paragraph(text.flow) }}', '{{ m.paragraph(text.flow ~ " Treated in MBCT (n=" ~ leak ~ ").") }}'),
        encoding="utf-8")
    real_context = report_module._common_context
    monkeypatch.setattr(results_module, "_open_results", open_results_with_a_leak)
    monkeypatch.setattr(report_module, "TEMPLATES_DIR", templates)
    monkeypatch.setattr(report_module, "_common_context",
                        lambda results, date: real_context(results, date) | {"leak": results.get("leak")})


def test_a_leaking_template_is_refused_by_the_build(tmp_path, monkeypatch):
    leaking_template(tmp_path, monkeypatch)
    with pytest.raises(BuildError) as error:
        build_open_edition(DEMO_FREEZE, tmp_path / "out")
    assert error.value.exit_code == 3
    assert "the open edition writes an arm with a number" in str(error.value)
    assert "Treated in MBCT (n=" in str(error.value)
    assert not (tmp_path / "out" / "open").exists()


def test_a_two_process_build_refuses_the_open_edition_its_main_process_made(demo_pair, tmp_path, monkeypatch, capsys):
    """Both editions in two processes: the main process makes the open edition while the worker
    makes the closed one (steps.open_in_main); the guard there stops the whole build, the worker
    included, and nothing is published."""
    from alliance_report.cli import main

    leaking_template(tmp_path, monkeypatch)
    freeze, _ = demo_pair
    out = tmp_path / "out"
    assert main(["build", str(freeze), "--out", str(out), "--jobs", "2"]) == 3
    err = capsys.readouterr().err
    assert re.search(r"^alliance-report: figures open: 2 figures", err, re.M)  # made in the main process
    assert "the open edition writes an arm with a number" in err and "Treated in MBCT (n=" in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["templates"]


def test_a_leaking_template_fails_the_leak_test(tmp_path, monkeypatch):
    leaking_template(tmp_path, monkeypatch)
    import alliance_report.render.open_guard as guard
    from alliance_report import results_schema

    monkeypatch.setattr(guard, "arm_mentions", lambda report, data=(): [])
    # and the results.json schema, which refuses the unknown key "leak" (the developer who adds a
    # key to the open results adds it to the schema too): only the leak test is left
    monkeypatch.setattr(results_schema, "check_results", lambda results: None)
    # the leak shows in the HTML (the leak test's PDFs are checked on the real template, above)
    build_open_edition(DEMO_FREEZE, tmp_path / "given", pdf=False)
    build_open_edition(relabel(DEMO_FREEZE, tmp_path / "swapped", "swap"), tmp_path / "swap", pdf=False)
    given, swapped = (masked((tmp_path / name / "open" / "report.html").read_bytes()) for name in ("given", "swap"))
    assert given != swapped


def test_the_guard_finds_an_arm_with_a_number_in_every_form():
    """Any number, whatever the counts by arm: whether the open edition is published must not
    depend on them.  A phrase naming both arms is the pooled group (one number after it); the
    texts of the data (a reason) are not the templates'."""
    from alliance_report.render.open_guard import data_texts

    class Report:
        def __init__(self, text):
            self.html, self.qmd, self.tables = f"<p>{text}</p>", "", ()

    for text in ("Treated in MBCT (n=56)", "eMBCT: n=63", "eMBCT, n = 63", "MBCT n=18", "eMBCT: 26",
                 "56 in MBCT", "26 in eMBCT", "MBCT (n=57)", "eMBCT: 630", "eMBCT: 4 modules were enough",
                 "1,204 in eMBCT", "MBCT or TAU (n=86)", "MBCT and eMBCT: 56 and 63", "eMBCT/MBCT (n=56/63)",
                 "MBCT and eMBCT: 1,056, 1,063", "eMBCT: 1,523", "MBCT/eMBCT (n=56,63)", "MBCT and eMBCT: 56,63",
                 "MBCT and eMBCT: 1,056 and 1,063"):
        assert arm_mentions(Report(text)), text
    for text in ("Treated in MBCT or eMBCT (n=119)", "randomized to MBCT, eMBCT or TAU (n=56 screened)",
                 "56 participants in MBCT or eMBCT", "pooled over MBCT and eMBCT: 245", "TAU or eMBCT or MBCT",
                 "MBCT/eMBCT (n=245)", "MBCT consisted of 8 weekly sessions", "MBCT: mindfulness-based",
                 # a pooled count with a thousands separator is one number, not two ("1" and "523")
                 "2,500 participants were treated in MBCT or eMBCT, 1,523 of them after the first randomization",
                 "Treated after the first randomization (MBCT or eMBCT) 167 Waiting list (TAU) 78"):
        assert not arm_mentions(Report(text)), text
    reason = "wants eMBCT: 2 children at home"
    results = {"participant_flow": {"excluded_reasons": {reason: 1, "declined": 4}}, "edition": "open",
               "arms": ["MBCT", "eMBCT"]}
    assert data_texts(results) == {reason}
    report = Report(f"Not randomized: {reason} (n=1)")
    assert arm_mentions(report) and not arm_mentions(report, data_texts(results))


def test_the_write_step_names_what_each_edition_choice_writes():
    """build.log's and the progress's write line: the open edition alone puts only validation.json
    at the output's root (it said "report.html, …, figures/, tables/ (and open/)")."""
    from alliance_report import steps

    assert steps.write_detail({"closed": None, "open": None}) == (
        "report.html, report.qmd, results.json, validation.json, figures/, tables/ (and open/)")
    assert steps.write_detail({"closed": None}) == "report.html, report.qmd, results.json, validation.json, figures/, tables/"
    assert steps.write_detail({"open": None}) == (
        "validation.json; open/: report.html, report.qmd, results.json, figures/, tables/")
    assert steps.write_detail({"open": None}, build_files=False) == (
        "open/: report.html, report.qmd, results.json, figures/, tables/")


@pytest.mark.parametrize("compared", [False, True])
def test_the_built_line_lists_the_changes_files_when_a_previous_freeze_was_compared(compared, tmp_path, capsys,
                                                                                  monkeypatch):
    import alliance_report.build
    from alliance_report import DEMO_FREEZE
    from alliance_report.cli import main

    out = tmp_path / "out"
    out.mkdir()
    if compared:
        (out / "changes.json").write_text("{}")
    monkeypatch.setattr(alliance_report.build, "build", lambda *args, **kwargs: alliance_report.build.BuildOutcome(
        out=out, results={"closed": {}, "open": {}}))
    assert main(["build", str(DEMO_FREEZE), "--out", str(out), "--quiet"]) == 0
    line = capsys.readouterr().out.strip()
    assert line == (f"built {out}/ (the closed edition and the open edition in open/: report.html, report.pdf, "
                    "results.json; validation.json" + (", changes.json, changes.csv" if compared else "") + ", build.log)")
