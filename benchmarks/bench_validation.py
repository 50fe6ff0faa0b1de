"""Time the validation of a freeze 100× the demo size (target: validate_freeze ≤ 30 s on 2 cores).

Builds the freeze with ``alliance_report.simulation.simulate_freeze(n_randomized=245 × scale)``;
without the simulation module (or with ``--replicate``) it replicates the demo freeze (or the
tiny test freeze) ``scale`` times with renamed ids instead.  Then times, separately,
``read_freeze`` (the loader), ``validate_freeze`` (cold: includes importing Great Expectations)
and a second ``validate_freeze`` (warm), and prints the number of checks, failures and warnings.

Usage:  .venv/bin/python benchmarks/bench_validation.py [--scale 100] [--replicate] [--keep DIR] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import hashlib
import io
import json
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from alliance_report import DEMO_FREEZE  # noqa: E402
from alliance_report.freeze import FREEZE_FILES, MANIFEST, read_freeze  # noqa: E402

ID_COLUMNS = {"screening_id", "participant_id"}


def replicate_freeze(src: Path, dst: Path, scale: int) -> Path:
    """Write ``scale`` copies of every row of ``src`` into ``dst``, ids suffixed with the copy number."""
    dst.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8-sig"))
    for file in FREEZE_FILES:
        with open(src / file, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))
        header, body = rows[0], rows[1:]
        id_positions = [i for i, name in enumerate(header) if name in ID_COLUMNS]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for copy in range(scale):
            for row in body:
                row = list(row)
                for i in id_positions:
                    if row[i]:
                        row[i] = f"{row[i]}-{copy:03d}"
                writer.writerow(row)
        data = out.getvalue().encode("utf-8")
        (dst / file).write_bytes(data)
        manifest["files"][file] = hashlib.sha256(data).hexdigest()
    (dst / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return dst


def build(folder: Path, scale: int, replicate: bool) -> tuple[Path, str]:
    if not replicate:
        try:
            from alliance_report.simulation import simulate_freeze
        except ImportError:
            replicate = True
        else:
            return simulate_freeze(folder, n_randomized=245 * scale), f"simulate_freeze(n_randomized={245 * scale})"
    src = DEMO_FREEZE
    if not (src / MANIFEST).is_file():
        sys.path.insert(0, str(REPO / "tests"))
        from freeze_corruptions import write_tiny_freeze
        src = write_tiny_freeze(folder.parent / "tiny")
        scale *= 27  # the tiny freeze has 9 participants, the demo 245
    return replicate_freeze(src, folder, scale), f"{src.name} replicated ×{scale}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100, help="size relative to the demo freeze (default 100)")
    parser.add_argument("--replicate", action="store_true", help="replicate the demo freeze instead of simulating")
    parser.add_argument("--keep", type=Path, help="build the freeze in this folder and keep it (reused if present)")
    parser.add_argument("--profile", action="store_true", help="print the top of a cProfile of the warm run")
    args = parser.parse_args(argv)

    tmp = None
    if args.keep:
        folder = args.keep
    else:
        tmp = tempfile.mkdtemp(prefix="bench-validation-")
        folder = Path(tmp) / "freeze"
    try:
        t0 = time.perf_counter()
        if (folder / MANIFEST).is_file():
            how = "existing freeze"
        else:
            folder, how = build(folder, args.scale, args.replicate)
        t_build = time.perf_counter() - t0

        t0 = time.perf_counter()
        freeze = read_freeze(folder)
        t_read = time.perf_counter() - t0
        sizes = {name: len(table) for name, table in freeze.tables.items()}

        t0 = time.perf_counter()
        from alliance_report.validation import validate_freeze
        report = validate_freeze(freeze)
        t_cold = time.perf_counter() - t0

        t0 = time.perf_counter()
        if args.profile:
            profiler = cProfile.Profile()
            report = profiler.runcall(validate_freeze, freeze)
        else:
            report = validate_freeze(freeze)
        t_warm = time.perf_counter() - t0

        print(f"freeze: {folder} ({how}, built in {t_build:.1f} s)")
        print("rows: " + ", ".join(f"{name} {n:,}" for name, n in sizes.items()))
        print(f"read_freeze:              {t_read:6.1f} s")
        print(f"validate_freeze (cold):   {t_cold:6.1f} s   (includes importing Great Expectations)")
        print(f"validate_freeze (warm):   {t_warm:6.1f} s")
        print(f"checks: {len(report.checks)}, failed: {len(report.failed())}, warnings: {len(report.warnings())}")
        for check in report.failed() + report.warnings():
            print(f"  {check.status}: {check.check_id} ({check.n_failing})")
        if args.profile:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
        return 0 if t_cold <= 30 else 1
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
