"""The ``alliance-report`` console script (contract: ``shared/spec/cli.md``).

Exit codes: 0 success · 1 the freeze failed validation · 2 usage error (bad arguments,
FREEZE not a directory, unreadable manifest, an output that may not or cannot be written) ·
3 internal error (a bug: please report it; set ALLIANCE_REPORT_DEBUG=1 for the traceback) ·
130 / 143 interrupted by SIGINT / SIGTERM (nothing published).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import warnings
from pathlib import Path

from alliance_report import DEMO_FREEZE, __version__
from alliance_report.design import N_SESSIONS
from alliance_report.errors import EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, EXIT_USAGE
from alliance_report.quarto import RENDERERS
from alliance_report.settings import EDITION_CHOICES, STYLES, Settings, is_date
from alliance_report.study import StudyError

# Nothing heavy is imported here (no pandas, Great Expectations, matplotlib, WeasyPrint): a
# rebuild that finds its output up to date must finish in a fraction of a second.


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alliance-report",
        description="Validate a BeMind data freeze and build the therapeutic-alliance report.")
    parser.add_argument("--version", action="version", version=f"alliance-report {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser("build", help="validate, analyse and render a freeze")
    build.add_argument("freeze", type=Path, nargs="?", default=DEMO_FREEZE,
                       help="freeze folder (default: the demo freeze of a checkout, data/demo-freeze; an "
                            "installed copy has none)")
    build.add_argument("--out", type=Path, default=None,
                       help="output folder (default: reports/<study>-<freeze_id>/)")
    build.add_argument("--previous", type=Path, default=None, metavar="FREEZE",
                       help="the previous freeze of the study: the report lists what changed since it")
    _build_options(build)

    build_all = commands.add_parser(
        "build-all", help="build every freeze in a folder, each into its own output and compared with the valid "
                          "freeze of its study with the latest earlier cut-off; DIR/index.html lists them all, and "
                          "a summary table ends the run")
    build_all.add_argument("folder", type=Path, help="a folder of freeze folders (or one freeze)")
    build_all.add_argument("--out-root", type=Path, default=Path("reports"), metavar="DIR",
                           help="outputs go to DIR/<study>-<freeze_id>/ (default: %(default)s)")
    _build_options(build_all)

    validate = commands.add_parser("validate", help="validate a freeze only")
    validate.add_argument("freeze", type=Path, help="freeze folder (manifest.json and the five CSV files)")
    validate.add_argument("--json", type=Path, default=None, metavar="FILE",
                          help="also write every check with its outcome as JSON")

    simulate = commands.add_parser("simulate", help="write a synthetic freeze (simulated: true)")
    simulate.add_argument("--out", type=Path, required=True, metavar="DIR",
                          help="the freeze folder to write (new, empty, or a simulated freeze with --force)")
    simulate.add_argument("--seed", type=int, default=None,
                          help="random seed (default: the demo freeze's; with the other defaults, the demo "
                               "freeze byte for byte)")
    simulate.add_argument("--n-screened", type=int, default=None, metavar="N",
                          help="persons screened (default: 1.75 per randomized participant)")
    simulate.add_argument("--n-randomized", type=int, default=245, metavar="N",
                          help="participants randomized (default: %(default)s, as the demo freeze)")
    simulate.add_argument("--cutoff", default=None, metavar="YYYY-MM-DD",
                          help="cut-off date (default: the demo freeze's, when every follow-up is complete); "
                               "earlier gives an interim freeze of the same simulated trial")
    simulate.add_argument("--force", action="store_true",
                          help="replace the simulated freeze in --out (never a real one: \"simulated\": false)")
    return parser


def _report_date(text: str) -> str:
    if not is_date(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a real date written YYYY-MM-DD")
    return text


def _dropout_threshold(text: str) -> int:
    try:
        sessions = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of sessions") from None
    if not 1 <= sessions <= N_SESSIONS:
        raise argparse.ArgumentTypeError(f"must be from 1 to {N_SESSIONS} sessions, not {sessions}")
    return sessions


def _build_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--style", choices=STYLES, default=Settings.style,
                        help="reporting style of statistics (default: %(default)s)")
    parser.add_argument("--dropout-threshold", type=_dropout_threshold, default=Settings.dropout_threshold,
                        metavar="N", help=f"dropout = fewer than N of {N_SESSIONS} sessions (default: %(default)s)")
    parser.add_argument("--table1-tests", action="store_true",
                        help="add the paper-style chi-square / t-test columns to Table 1")
    parser.add_argument("--build-date", default=None, metavar="YYYY-MM-DD", type=_report_date,
                        help="the report date printed in the title block as \"Report date\" (default: none; "
                             "the title block always names the day the data were exported)")
    parser.add_argument("--edition", choices=EDITION_CHOICES, default=Settings.edition,
                        help="closed: the full report for the data monitoring committee; open: trial conduct "
                             "only, nothing by arm, in open/ of the output; both (default)")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even when the output is up to date (same freeze, code and settings), "
                             "and replace an output built from a freeze in another folder with other data")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="processes: 2 analyses while the freeze is validated, 1 runs every step in "
                             "one process; more than 2 run as 2 (default: 2 on a machine with two or more cores)")
    parser.add_argument("--renderer", choices=RENDERERS, default=RENDERERS[0],
                        help="quarto: also run `quarto render report.qmd` into quarto/ of the output, when "
                             "the Quarto CLI is installed (default: %(default)s)")


def _settings(args) -> Settings:
    try:
        return Settings(dropout_threshold=args.dropout_threshold, style=args.style,
                        table1_tests=args.table1_tests, build_date=args.build_date, edition=args.edition)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _progress(args):
    from alliance_report.progress import Progress

    return Progress(quiet=args.quiet)


def _jobs(args) -> int | None:
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    return args.jobs


def cmd_build(args) -> int:
    from alliance_report.build import build
    from alliance_report.interrupts import interruptible

    settings, progress, jobs = _settings(args), _progress(args), _jobs(args)
    with interruptible():  # SIGINT, SIGTERM: "interrupted; nothing was published", exit 130 / 143
        if args.previous is not None and not args.previous.is_dir():
            raise UsageError(f"--previous {args.previous}: is not a directory")
        outcome = build(args.freeze, args.out, settings, force=args.force, progress=progress,
                        jobs=jobs, renderer=args.renderer, command=args.command_line, previous=args.previous)
    for note in outcome.notes:
        print(f"alliance-report: {note}", file=sys.stderr)
    if outcome.up_to_date:
        print(f"{outcome.out}/ is up to date (same freeze, code and settings; --force rebuilds)")
    else:
        editions = " and ".join(f"the {e} edition" + (" in open/" if e == "open" else "") for e in outcome.results)
        changes = ", changes.json, changes.csv" if (outcome.out / "changes.json").is_file() else ""
        print(f"built {outcome.out}/ ({editions}: report.html, report.pdf, results.json; validation.json{changes}, "
              "build.log)")
    return EXIT_OK


def cmd_build_all(args) -> int:
    from alliance_report.interrupts import Interrupted, interruptible
    from alliance_report.build_all import build_all, find_freezes, summary_table

    if not args.folder.is_dir():
        raise UsageError(f"{args.folder}: is not a directory")
    if not find_freezes(args.folder):
        raise UsageError(f"{args.folder}: holds no freeze (no subfolder with a manifest.json or CSV files)")
    settings, progress, jobs = _settings(args), _progress(args), _jobs(args)
    try:
        with interruptible():  # a signal ends the current freeze's build; the table shows what was done
            outcomes = build_all(args.folder, args.out_root, settings, force=args.force, progress=progress,
                                 jobs=jobs, renderer=args.renderer, command=args.command_line)
    except Interrupted as exc:
        if exc.outcomes:
            print(summary_table(exc.outcomes))
        raise
    from alliance_report.freeze_index import write_for

    index = write_for(outcomes, args.out_root)
    print(f"alliance-report: index of the freezes: {index}", file=sys.stderr)
    print(summary_table(outcomes))
    codes = {o.exit_code for o in outcomes}
    if EXIT_INTERNAL in codes:
        return EXIT_INTERNAL
    return EXIT_INVALID if codes - {EXIT_OK} else EXIT_OK


def cmd_validate(args) -> int:
    from alliance_report.freeze import FreezeError, read_freeze
    from alliance_report.validation import format_report, validate_freeze

    if args.json is not None and not args.json.parent.is_dir():
        raise UsageError(f"--json {args.json}: the folder {args.json.parent} does not exist")
    from alliance_report.study import load_study

    try:
        freeze = read_freeze(args.freeze)
        study = load_study(str(freeze.manifest.get("study"))) if _is_name(freeze.manifest.get("study")) else None
    except (FreezeError, StudyError) as exc:  # no check could run; the file says so all the same
        if args.json is not None:
            _write_json(args.json, {"valid": False, "readable": False, "reason": str(exc), "checks": []})
        raise
    report = validate_freeze(freeze, study)
    print(format_report(report))
    if args.json is not None:
        data = report.to_dict()
        _write_json(args.json, {"valid": data.pop("valid"), "readable": True, **data})
    return EXIT_OK if report.ok else EXIT_INVALID


def _write_json(path: Path, data: dict) -> None:
    try:
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--json {path}: cannot be written ({exc.strerror or exc})") from None


def cmd_simulate(args) -> int:
    from alliance_report.simulation import DEMO_SEED, simulate_freeze

    for name in ("n_screened", "n_randomized"):
        value = getattr(args, name)
        if value is not None and value < 3:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 3")
    try:
        path = simulate_freeze(args.out, seed=DEMO_SEED if args.seed is None else args.seed,
                               n_screened=args.n_screened, n_randomized=args.n_randomized,
                               cutoff_date=args.cutoff, force=args.force)
    except ValueError as exc:  # impossible arguments, a folder it must not write into
        raise UsageError(str(exc)) from None
    except OSError as exc:  # read-only, not ours, full
        raise UsageError(f"--out {args.out}: cannot be written ({exc.strerror or exc})") from None
    print(f"wrote a simulated freeze to {path}/")
    return EXIT_OK


class UsageError(Exception):
    pass


def _is_name(value) -> bool:
    from alliance_report.files import NAME_RE

    return isinstance(value, str) and NAME_RE.fullmatch(value) is not None


COMMANDS = {"build": cmd_build, "build-all": cmd_build_all, "validate": cmd_validate,
            "simulate": cmd_simulate}


def main(argv: list[str] | None = None) -> int:
    """Run the command line; called without ``argv`` (as the console script and by ``python -m
    alliance_report``) it ends the process itself once the command is done (see ``_exit``)."""
    if argv is not None:
        return _main(list(argv))
    _tune_gc()
    code = _main(sys.argv[1:])
    _exit(code)
    return code


def _tune_gc() -> None:
    """Fewer cyclic garbage collections (as a program only, not when ``main`` is called in-process).

    The build allocates millions of objects that live until the end (the modules of Great
    Expectations, pandas frames, WeasyPrint boxes) and few reference cycles; with the default
    threshold (a collection every 700 net allocations) the collector rescans them thousands of
    times, about a fifth of the time of a build.
    """
    import gc

    threshold = os.environ.get("ALLIANCE_REPORT_GC_THRESHOLD", "50000")
    gc.set_threshold(int(threshold), 20, 100)


def _exit(code: int) -> None:
    """End the process without the interpreter's teardown.

    Tearing down the modules of Great Expectations, statsmodels, matplotlib and WeasyPrint
    (garbage-collecting their object graphs) takes 1.5–2 s after the work is done.  Every file
    is closed and published by then; only the standard streams need flushing.
    """
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _main(argv: list[str]) -> int:
    warnings.filterwarnings("ignore")
    from alliance_report.errors import BuildError
    from alliance_report.interrupts import Interrupted

    try:  # the parser too: a bug in building it is an internal error (exit 3), not a traceback
        args = _parser().parse_args(argv)  # a usage error or --help ends here (SystemExit)
        args.command_line = "alliance-report " + shlex.join(str(a) for a in argv)
        return COMMANDS[args.command](args)
    except Interrupted as exc:  # build, build-all: cleaned up already
        print(f"alliance-report: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:  # Ctrl-C in another command (validate, simulate)
        print("alliance-report: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BuildError as exc:
        print(f"alliance-report: {exc}", file=sys.stderr)
        return exc.exit_code
    except UsageError as exc:
        print(f"alliance-report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StudyError as exc:
        print(f"alliance-report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the contract is: never a traceback
        freeze_module = sys.modules.get("alliance_report.freeze")  # not imported above: it imports pandas
        if freeze_module is not None and isinstance(exc, freeze_module.FreezeError):
            print(f"alliance-report: error: {exc}", file=sys.stderr)
            return EXIT_USAGE if exc.usage else EXIT_INVALID
        if os.environ.get("ALLIANCE_REPORT_DEBUG"):
            raise
        print(f"alliance-report: internal error: {type(exc).__name__}: {exc}\n"
              "This is a bug in alliance-report, not in your freeze; set ALLIANCE_REPORT_DEBUG=1 "
              "to see the traceback and report it.", file=sys.stderr)
        return EXIT_INTERNAL
