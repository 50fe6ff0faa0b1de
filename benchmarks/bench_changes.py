"""Time the comparison of two freezes 100× the demo size (target: compare_freezes ≤ 15 s on 2 cores).

Simulates one trial twice (``simulate_freeze(n_randomized=245 × scale)``, the same seed): cut at
``--interim`` (default 2016-06-01) and at the default cut-off (the final freeze), each in a child
process so that the simulation's memory is not counted here.  Then, in this process, times
``read_freeze`` of each freeze (reported apart) and ``compare_freezes(interim, final)``: wall time
and memory — the resident set before the comparison and its peak during it (the kernel's
high-water mark, reset through /proc/self/clear_refs just before; where that is not possible, a
thread samples /proc/self/status every 5 ms).  Prints a small table and the counts; exits 1 when
the comparison takes longer than the target.

With ``--build N``, also what the comparison costs a build: ``alliance-report build`` of the final
freeze with and without ``--previous`` (the interim freeze), N alternating pairs, each a fresh
command line (``--force --quiet``); the fastest of each and their difference (target ≤ 15 s).

Usage:  .venv/bin/python benchmarks/bench_changes.py [--scale 100] [--interim DATE] [--repeat 1] [--build N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gc
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from alliance_report.freeze import read_freeze  # noqa: E402

TARGET_SECONDS = 15.0
GB = 1 << 30


def _status_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _rss() -> int | None:
    kb = _status_kb("VmRSS")
    return None if kb is None else kb * 1024


class PeakRSS:
    """``with PeakRSS() as peak: ...`` then ``peak.bytes``: the peak resident set inside the block."""

    def __enter__(self):
        self.reset = False
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux ≥ 4.0)
            self.reset = _status_kb("VmHWM") is not None
        except OSError:
            pass
        self.sampled = _rss() or 0
        self.stop = threading.Event()
        if not self.reset:
            self.thread = threading.Thread(target=self._sample, daemon=True)
            self.thread.start()
        return self

    def _sample(self):
        while not self.stop.wait(0.005):
            self.sampled = max(self.sampled, _rss() or 0)

    def __exit__(self, *exc):
        self.stop.set()
        if self.reset:
            self.bytes = _status_kb("VmHWM") * 1024
            self.how = "VmHWM after clear_refs"
        else:
            self.thread.join()
            self.bytes = max(self.sampled, _rss() or 0)
            self.how = "sampled every 5 ms"


def simulate(folder: Path, n_randomized: int, cutoff: str | None) -> None:
    """The freeze, simulated in a child process (its memory is not this process's)."""
    code = ("import sys; from alliance_report.simulation import simulate_freeze; "
            "simulate_freeze(sys.argv[1], n_randomized=int(sys.argv[2]), "
            "cutoff_date=None if sys.argv[3] == '-' else sys.argv[3])")
    subprocess.run([sys.executable, "-c", code, str(folder), str(n_randomized), cutoff or "-"],
                   check=True, cwd=REPO)


def build_seconds(freeze: Path, out: Path, previous: Path | None) -> float:
    """Wall time of one ``alliance-report build`` command line (Python's start included)."""
    command = [str(Path(sys.executable).with_name("alliance-report")), "build", str(freeze), "--out", str(out),
               "--force", "--quiet"] + (["--previous", str(previous)] if previous else [])
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=REPO)
    return time.perf_counter() - started


def build_cost(folders: dict, pairs: int, root: Path) -> tuple[float, float]:
    """Fastest build of the final freeze without and with the comparison, ``pairs`` alternating pairs."""
    without, with_previous = [], []
    for i in range(pairs):
        for previous, times in ((None, without), (folders["interim"], with_previous))[:: 1 if i % 2 == 0 else -1]:
            times.append(build_seconds(folders["final"], root / "out", previous))
    print("builds without --previous: " + ", ".join(f"{t:.1f}" for t in without) + " s; with: "
          + ", ".join(f"{t:.1f}" for t in with_previous) + " s")
    return min(without), min(with_previous)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--interim", default="2016-06-01", help="cut-off of the earlier freeze")
    parser.add_argument("--repeat", type=int, default=1, help="comparisons to time (the fastest is reported)")
    parser.add_argument("--keep", type=Path, help="keep (or reuse) the freezes in this folder")
    parser.add_argument("--build", type=int, default=0, metavar="N",
                        help="also time N alternating pairs of builds without and with --previous")
    args = parser.parse_args(argv)

    root = args.keep or Path(tempfile.mkdtemp(prefix="bench-changes-"))
    n_randomized = 245 * args.scale
    folders = {"interim": root / f"x{args.scale}-{args.interim}", "final": root / f"x{args.scale}-final"}
    try:
        for name, folder in folders.items():
            if not (folder / "manifest.json").exists():
                started = time.perf_counter()
                simulate(folder, n_randomized, args.interim if name == "interim" else None)
                print(f"simulated the {name} freeze ({n_randomized:,} randomized) in "
                      f"{time.perf_counter() - started:.1f} s: {folder}", flush=True)

        rows = []
        freezes = {}
        for name, folder in folders.items():
            started = time.perf_counter()
            freezes[name] = read_freeze(folder)
            rows.append((f"read_freeze, {name} ({freezes[name].manifest['cutoff_date']})",
                         time.perf_counter() - started, None))
        n_questionnaires = {name: len(f.tables["questionnaires.csv"]) for name, f in freezes.items()}
        gc.collect()

        from alliance_report.changes import compare_freezes

        before = _rss()
        times, peaks = [], []
        for _ in range(args.repeat):
            with PeakRSS() as sampler:
                started = time.perf_counter()
                changes = compare_freezes(freezes["interim"], freezes["final"])
                times.append(time.perf_counter() - started)
            peaks.append(sampler.bytes)
            if args.repeat > 1:
                del changes
                gc.collect()
                changes = None
        if changes is None:
            changes = compare_freezes(freezes["interim"], freezes["final"])
        rows.append(("compare_freezes (interim → final)", min(times), max(peaks)))

        print()
        print(f"{'step':<44} {'seconds':>8} {'peak RSS':>10}")
        print(f"{'-' * 44} {'-' * 8} {'-' * 10}")
        for step, seconds, peak in rows:
            print(f"{step:<44} {seconds:>8.2f} {'' if peak is None else f'{peak / GB:.2f} GB':>10}")
        whole = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"\nquestionnaire rows: interim {n_questionnaires['interim']:,}, final {n_questionnaires['final']:,}; "
              f"RSS before the comparison {before / GB:.2f} GB, peak during it {max(peaks) / GB:.2f} GB "
              f"({sampler.how}); peak of the whole process {whole / GB:.2f} GB")
        if args.repeat > 1:
            print("comparison times: " + ", ".join(f"{t:.2f}" for t in times) + " s")
        print(f"{'file':<20} {'added':>10} {'removed':>8} {'changed':>8} {'unchanged':>10}")
        for file, c in changes["files"].items():
            print(f"{file:<20} {c['added']:>10,} {c['removed']:>8,} {c['changed']:>8,} {c['unchanged']:>10,}")
        print(f"data changes: {len(changes['data_changes'])}")
        met = min(times) <= TARGET_SECONDS
        print(f"\ncompare_freezes {min(times):.2f} s, target ≤ {TARGET_SECONDS:.0f} s: {'met' if met else 'MISSED'}")
        if args.build:
            del freezes, changes
            gc.collect()
            without, with_previous = build_cost(folders, args.build, root)
            extra = with_previous - without
            print(f"build of the final freeze: {without:.1f} s without --previous, {with_previous:.1f} s with it: "
                  f"the comparison adds {extra:.1f} s, target ≤ {TARGET_SECONDS:.0f} s: "
                  f"{'met' if extra <= TARGET_SECONDS else 'MISSED'}")
            met = met and extra <= TARGET_SECONDS
        return 0 if met else 1
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
