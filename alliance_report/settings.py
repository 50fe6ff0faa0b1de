"""Every user-facing option of a build, in one typed object with documented defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from alliance_report.dates import calendar_date
from alliance_report.design import N_SESSIONS

# the editions of the report (committee-reports.md, "Editions"), in the order they are built
EDITIONS = ("closed", "open")
EDITION_CHOICES = ("both", *EDITIONS)
# the reporting styles of statistics (render/format.py writes each)
STYLES = ("jmir", "apa")


def is_date(text: str) -> bool:
    """True for a real calendar date written ``YYYY-MM-DD`` (not "2026-13-01", "2026-02-30",
    "20260101"), as a freeze writes its dates (:func:`alliance_report.dates.calendar_date`)."""
    return calendar_date(text) is not None


@dataclass(frozen=True)
class Settings:
    """Options of a build (documented in the README, "Settings").

    dropout_threshold: a participant whose treatment has ended with fewer than this many
        attended sessions (of design.N_SESSIONS, 8) is a dropout (analysis plan: 4).
    style: reporting style of statistics, ``"jmir"`` (default) or ``"apa"``.
    table1_tests: add the paper-style χ²/t-test columns to Table 1.
    build_date: the report date printed in the title block ("Report date"), a real date
        ``YYYY-MM-DD``; ``None`` (default) prints none, so that rebuilding a freeze gives
        identical bytes.  The title block always names the day the data were exported (the
        manifest's ``exported_at``) as "Data exported".
    edition: which editions a build writes: ``"both"`` (default), ``"closed"`` (the full report,
        for the data monitoring committee) or ``"open"`` (trial conduct only, nothing by arm).
    """

    dropout_threshold: int = 4
    style: str = "jmir"
    table1_tests: bool = False
    build_date: str | None = None
    edition: str = "both"

    def __post_init__(self) -> None:
        if not 1 <= self.dropout_threshold <= N_SESSIONS:
            raise ValueError(f"dropout_threshold must be between 1 and {N_SESSIONS} sessions")
        if self.style not in STYLES:
            raise ValueError(f"style must be {' or '.join(repr(style) for style in STYLES)}")
        if self.build_date is not None and not is_date(self.build_date):
            raise ValueError(f"build_date must be a real date YYYY-MM-DD, not {self.build_date!r}")
        if self.edition not in EDITION_CHOICES:
            raise ValueError(f"edition must be one of {', '.join(EDITION_CHOICES)}")

    def editions(self) -> tuple[str, ...]:
        """The editions to build, in building order."""
        return EDITIONS if self.edition == "both" else (self.edition,)

    def as_dict(self) -> dict:
        return asdict(self)
