"""Every user-facing option of a build, in one typed object with documented defaults."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Settings:
    """Options of a build (documented in the README, "Settings").

    dropout_threshold: a participant whose treatment has ended with fewer than this many
        attended sessions (of 8) is a dropout (analysis plan: 4).
    style: reporting style of statistics, ``"jmir"`` (default) or ``"apa"``.
    table1_tests: add the paper-style χ²/t-test columns to Table 1.
    build_date: the date printed as "built on" in the report; ``None`` takes the date of the
        manifest's ``exported_at`` so that rebuilding a freeze gives identical bytes.
    """

    dropout_threshold: int = 4
    style: str = "jmir"
    table1_tests: bool = False
    build_date: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.dropout_threshold <= 8:
            raise ValueError("dropout_threshold must be between 1 and 8 sessions")
        if self.style not in ("jmir", "apa"):
            raise ValueError("style must be 'jmir' or 'apa'")

    def as_dict(self) -> dict:
        return asdict(self)
