"""How fast, and in how much memory, is a hostile freeze refused?

Each case is a copy of the demo freeze with one hostile file, built with the console script
(``.venv/bin/alliance-report build FREEZE --out DIR --quiet``, Python's start included), one at
a time:

* a 20 MB free-text cell: the ``reason`` of a withdrawal in disposition.csv, 20,000,000
  characters (the manifest re-signed: the file's hash matches);
* a 200,000-column header: questionnaires.csv holding only its header row (which the format
  allows), of 200,000 column names (re-signed);
* a /dev/zero symlink: questionnaires.csv a symbolic link to /dev/zero;

and, for reference, a freeze without manifest.json (the shortest refusal: the start of Python
and of the build).  Measured: the wall time until the process ended with the clear error, and
its peak memory — the largest resident set size (``ru_maxrss`` from ``os.wait4``) of the build
process and of its worker process (a figure per process, not a sum).  Each case runs
``--repeat`` times (default 3); the table shows the fastest time and the largest peak.

Targets: every case refused (exit 1, one line naming the file) within 10 s and 1 GB.  The
exit code is 1 when a target is missed.

Usage:  .venv/bin/python benchmarks/bench_hostile.py [--repeat 3] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo-freeze"
SCRIPT = Path(sys.executable).parent / "alliance-report"
MB = 1 << 20
TARGET_SECONDS = 10.0
TARGET_BYTES = 1 << 30


def _resign(folder: Path) -> None:
    """The manifest's SHA-256 entries recomputed (so the hostile file's hash matches)."""
    import hashlib

    path = folder / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
                         for name in manifest["files"]}
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def huge_cell(folder: Path) -> None:
    path = folder / "disposition.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    row = next(i for i, line in enumerate(lines) if ",withdrew_from_study," in line)
    cells = lines[row].split(",")[:len(header) - 1]
    lines[row] = ",".join(cells + ["x" * 20_000_000])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _resign(folder)


def wide_header(folder: Path) -> None:
    (folder / "questionnaires.csv").write_text(",".join(f"column_{i}" for i in range(200_000)) + "\n",
                                               encoding="utf-8")
    _resign(folder)


def dev_zero(folder: Path) -> None:
    (folder / "questionnaires.csv").unlink()
    (folder / "questionnaires.csv").symlink_to("/dev/zero")


def no_manifest(folder: Path) -> None:
    (folder / "manifest.json").unlink()


CASES = (  # label, edit, the file named in the message, expected exit code
    ("20 MB free-text cell", huge_cell, "disposition.csv", 1),
    ("200,000-column header", wide_header, "questionnaires.csv", 1),
    ("/dev/zero symlink", dev_zero, "questionnaires.csv", 1),
    ("reference: no manifest.json", no_manifest, "manifest.json", 2),
)


def run(freeze: Path, out: Path, timeout: float = 120.0) -> tuple[float, int, int, str]:
    """Seconds, peak RSS in bytes (largest of the build's processes), exit code, stderr."""
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(SCRIPT), "build", str(freeze), "--out", str(out), "--quiet"],
                                stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
        deadline = t0 + timeout
        while True:  # wait4 gives the rusage of this child (and of the worker it waited for)
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.005)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return seconds, usage.ru_maxrss * 1024, proc.returncode, err.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, default=None, help="write the freezes here and keep them")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-hostile-")) if args.keep is None else args.keep
    root.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.2f}; {os.cpu_count()} cores; {args.repeat} runs per case; "
          f"fastest time, largest peak\n", flush=True)
    rows, ok = [], True
    try:
        for number, (label, edit, file, expected) in enumerate(CASES, start=1):
            freeze = root / f"case-{number}"
            if freeze.exists():
                shutil.rmtree(freeze)
            shutil.copytree(DEMO, freeze)
            edit(freeze)
            times, peaks, message = [], [], ""
            for i in range(args.repeat):
                out = root / f"out-{i}"
                seconds, peak, code, stderr = run(freeze, out)
                lines = stderr.strip().splitlines()
                refused = (code == expected and len(lines) == 1
                           and lines[0].startswith(f"alliance-report: error: {file}: ") and not out.exists())
                if not refused:
                    ok = False
                    print(f"{label}: not refused as expected (exit {code}):\n{stderr[-2000:]}", file=sys.stderr)
                times.append(seconds)
                peaks.append(peak)
                message = lines[0] if lines else ""
            met = min(times) <= TARGET_SECONDS and max(peaks) <= TARGET_BYTES
            ok = ok and (met or label.startswith("reference"))
            rows.append((label, min(times), max(peaks), "" if label.startswith("reference") else
                         ("met" if met else "MISSED"), message))
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{'case':<30} {'seconds':>8} {'peak memory':>12}  {'target ≤ 10 s, ≤ 1 GB':<21}")
    print(f"{'-' * 30} {'-' * 8} {'-' * 12}  {'-' * 21}")
    for label, seconds, peak, outcome, _ in rows:
        print(f"{label:<30} {seconds:>8.2f} {peak / MB:>9.0f} MB  {outcome:<21}")
    print()
    for label, *_, message in rows:
        print(f"{label}:\n  {message}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
