"""The ``alliance-report`` console script (contract: ``shared/spec/cli.md``).

Exit codes: 0 success · 1 the freeze failed validation · 2 usage error (bad arguments,
FREEZE not a directory, unreadable manifest) · 3 internal error (a bug: please report it;
set ALLIANCE_REPORT_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path

from alliance_report import DEMO_FREEZE, __version__
from alliance_report.freeze import FreezeError
from alliance_report.settings import Settings

EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alliance-report",
        description="Validate a BeMind data freeze and build the therapeutic-alliance report.")
    parser.add_argument("--version", action="version", version=f"alliance-report {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="validate, analyse and render a freeze")
    build.add_argument("freeze", type=Path, nargs="?", default=DEMO_FREEZE,
                       help="freeze folder (default: the embedded demo freeze)")
    build.add_argument("--out", type=Path, default=None,
                       help="output folder (default: reports/<study>-<freeze_id>/)")
    build.add_argument("--style", choices=("jmir", "apa"), default=Settings.style,
                       help="reporting style of statistics (default: %(default)s)")
    build.add_argument("--dropout-threshold", type=int, default=Settings.dropout_threshold,
                       metavar="N", help="dropout = fewer than N of 8 sessions (default: %(default)s)")
    build.add_argument("--table1-tests", action="store_true",
                       help="add the paper-style chi-square / t-test columns to Table 1")
    build.add_argument("--build-date", default=None, metavar="YYYY-MM-DD",
                       help="date printed as the build date (default: the day of the manifest's exported_at)")

    validate = commands.add_parser("validate", help="validate a freeze only")
    validate.add_argument("freeze", type=Path)
    validate.add_argument("--json", type=Path, default=None, metavar="FILE",
                          help="also write every check with its outcome as JSON")

    simulate = commands.add_parser("simulate", help="write a synthetic freeze (simulated: true)")
    simulate.add_argument("--out", type=Path, required=True)
    simulate.add_argument("--seed", type=int, default=None)
    simulate.add_argument("--n-screened", type=int, default=None)
    simulate.add_argument("--n-randomized", type=int, default=245)
    simulate.add_argument("--cutoff", default=None, metavar="YYYY-MM-DD",
                          help="cut-off date; earlier than the default gives an interim freeze")
    return parser


def _settings(args) -> Settings:
    try:
        return Settings(dropout_threshold=args.dropout_threshold, style=args.style,
                        table1_tests=args.table1_tests, build_date=args.build_date)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_build(args) -> int:
    from alliance_report.build import build

    outcome = build(args.freeze, args.out, _settings(args))
    print(f"built {outcome.out}/ (report.html, report.pdf, results.json, validation.json)")
    return EXIT_OK


def cmd_validate(args) -> int:
    from alliance_report.freeze import read_freeze
    from alliance_report.validation import format_report, validate_freeze

    report = validate_freeze(read_freeze(args.freeze))
    if args.json is not None:
        args.json.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
                             encoding="utf-8")
    print(format_report(report))
    return EXIT_OK if report.ok else EXIT_INVALID


def cmd_simulate(args) -> int:
    from alliance_report.simulate import DEMO_SEED, simulate_freeze

    for name in ("n_screened", "n_randomized"):
        value = getattr(args, name)
        if value is not None and value < 3:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 3")
    try:
        path = simulate_freeze(args.out, seed=DEMO_SEED if args.seed is None else args.seed,
                               n_screened=args.n_screened, n_randomized=args.n_randomized,
                               cutoff_date=args.cutoff)
    except ValueError as exc:  # simulate_freeze rejects impossible arguments with ValueError
        raise UsageError(str(exc)) from None
    print(f"wrote a simulated freeze to {path}/")
    return EXIT_OK


class UsageError(Exception):
    pass


COMMANDS = {"build": cmd_build, "validate": cmd_validate, "simulate": cmd_simulate}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    warnings.filterwarnings("ignore")
    from alliance_report.build import BuildError

    try:
        return COMMANDS[args.command](args)
    except FreezeError as exc:
        print(f"alliance-report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if exc.usage else EXIT_INVALID
    except BuildError as exc:
        print(f"alliance-report: {exc}", file=sys.stderr)
        return exc.exit_code
    except UsageError as exc:
        print(f"alliance-report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the contract is: never a traceback
        if os.environ.get("ALLIANCE_REPORT_DEBUG"):
            raise
        print(f"alliance-report: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in alliance-report, not in your freeze; set ALLIANCE_REPORT_DEBUG=1 "
              "to see the traceback and report it.", file=sys.stderr)
        return EXIT_INTERNAL
