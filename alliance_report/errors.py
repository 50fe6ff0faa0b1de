"""The error a build ends with when its freeze cannot be built, and the exit codes.

It has a module of its own (below every step of the build) so that the steps, the output
checks and the worker can raise it without importing the build; ``alliance_report.build``
exports it too.
"""

from __future__ import annotations

# the exit codes of cli.md: a valid build, an invalid freeze, a usage error, an internal error
EXIT_OK, EXIT_INVALID, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM: 143


class BuildError(Exception):
    """A freeze that cannot be built; ``exit_code`` as in cli.md (1: the freeze is invalid;
    2: an output that may not or cannot be written, a study without its configuration;
    3: a report that must not be published).  A freeze that failed validation carries its
    counts, ``validation`` = {"checks", "failed", "warnings"}, for build-all's summary and index."""

    def __init__(self, message: str, exit_code: int, validation: dict[str, int] | None = None):
        super().__init__(message)
        self.exit_code = exit_code
        self.validation = validation
