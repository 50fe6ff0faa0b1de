"""``build.log``: how and from what a build was made, for a reader of the output.

Written into the staging folder last (before ``.fingerprint.json``), so it is published with the
report: the command, the freeze and the previous freeze, the output and why it was built, the
settings, the renderer and the number of processes, the SHA-256 of every input and the
fingerprint, each step's seconds and in which process it ran, the validation summary and the
PDF's pagination problems.
"""

from __future__ import annotations

from pathlib import Path

from alliance_report import __version__
from alliance_report.fingerprint import Fingerprint
from alliance_report.progress import Timings

LOG_FILE = "build.log"


def write_log(path: Path, *, freeze_dir, out, fp: Fingerprint, reason, timings: Timings, validation,
               started_at, command, processes, renderer, previous=None, previous_problem=None, layout=()) -> None:
    """Write build.log to ``path``: one ``name: value`` line each for the build's facts, then the
    inputs' SHA-256, the steps (name, process, seconds, detail) and the outcome."""
    parts = fp.parts
    env = parts["environment"]
    lines = [
        f"alliance-report {__version__} build",
        f"command:      {command or 'alliance-report build'}",
        f"started:      {started_at.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"freeze:       {Path(freeze_dir).resolve()}",
        f"previous:     {Path(previous).resolve() if previous is not None else '(none)'}"
        + (f" — not compared: {previous_problem}" if previous_problem else ""),
        f"output:       {Path(out).resolve()}",
        f"why built:    {reason}",
        "settings:     " + ", ".join(f"{k}={v}" for k, v in parts["settings"].items()),
        f"renderer:     {renderer}" + ("" if parts["settings"]["renderer"] == renderer else " (not installed: WeasyPrint)"),
        f"processes:    {processes}",
        "",
        "inputs (SHA-256):",
        *(f"  {name:<22} {digest}" for name, digest in parts["freeze"].items()),
        f"  {'code':<22} {parts['code']['sha256']}  ({parts['code']['files']} files: alliance_report/**/*.py and *.json, "
        "report_templates/, expectations/, studies/)",
        f"  {'requirements.lock':<22} {env['requirements.lock']}" if "requirements.lock" in env else
        f"  {'installed packages':<22} {env['installed']['sha256']}  ({env['installed']['distributions']} "
        "distributions, name==version: an installed package has no requirements.lock)",
        f"  python {env['python']}; " + ", ".join(f"{k} {v}" for k, v in env["packages"].items()),
        f"fingerprint:  {fp.digest}",
        "",
        "steps (seconds; the worker process runs beside the main one):",
    ]
    width = max([12, *(len(name) for name, *_ in timings.records)])  # "validate previous" is longer
    for name, where, seconds, detail in timings.records:
        lines.append(f"  {name:<{width}} {where:<7} {seconds:8.2f}" + (f"   {detail}" if detail else ""))
    v = validation
    lines += ["", f"validation:   {v['n_checks']} checks, {v['n_failed']} failed, {v['n_warnings']} warnings",
              f"layout:       {len(layout)} pagination problem{'' if len(layout) == 1 else 's'} in the PDF"
              + "".join(f"\n  {problem}" for problem in layout),
              "outcome:      built", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
