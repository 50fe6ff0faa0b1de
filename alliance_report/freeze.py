"""Load a data freeze (format v1, see ``shared/spec/freeze-format.md``) from disk.

Two steps, so that validation sees the export exactly as written:

* :func:`read_freeze` reads ``manifest.json`` and every CSV *as text* (each cell a
  string, an empty cell missing).  Anything that cannot be read at all — a folder
  that does not exist, a manifest that is not JSON (or has a key twice), a zero-byte or
  non-UTF-8 file, a semicolon- or tab-delimited export, a row with more or fewer fields
  than the header, a blank line inside a file — raises :class:`FreezeError` naming the file
  (and the row).
* :func:`typed_tables` converts the validated text tables into analysis types
  (dates, integers, floats).  Call it only on a freeze that passed validation.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

MANIFEST = "manifest.json"

# Column order exactly as in freeze-format.md, per file.
COLUMNS: dict[str, tuple[str, ...]] = {
    "screening.csv": (
        "screening_id", "site", "screened_on", "eligible", "exclusion_reason", "participant_id",
    ),
    "participants.csv": (
        "participant_id", "site", "randomized_on", "allocation", "treatment", "rerandomized_on",
        "age", "sex", "partner", "children", "education", "cancer_type", "treatment_intent",
        "months_since_diagnosis",
    ),
    "sessions.csv": ("participant_id", "session", "attended", "session_on"),
    "questionnaires.csv": ("participant_id", "timepoint", "instrument", "item", "value", "completed_on"),
    "disposition.csv": ("participant_id", "event", "event_on", "reason"),
}
FREEZE_FILES: tuple[str, ...] = tuple(COLUMNS)

DATE_COLUMNS: dict[str, tuple[str, ...]] = {
    "screening.csv": ("screened_on",),
    "participants.csv": ("randomized_on", "rerandomized_on"),
    "sessions.csv": ("session_on",),
    "questionnaires.csv": ("completed_on",),
    "disposition.csv": ("event_on",),
}
INTEGER_COLUMNS: dict[str, tuple[str, ...]] = {
    "participants.csv": ("age",),
    "sessions.csv": ("session",),
    "questionnaires.csv": ("item", "value"),
}
FLOAT_COLUMNS: dict[str, tuple[str, ...]] = {
    "participants.csv": ("months_since_diagnosis",),
}


class FreezeError(Exception):
    """The freeze cannot be read.  ``usage`` marks errors that are exit code 2 in cli.md."""

    def __init__(self, file: str, reason: str, *, usage: bool = False):
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason
        self.usage = usage


@dataclass(frozen=True)
class Freeze:
    """A freeze as read from disk: the manifest and one all-text DataFrame per CSV."""

    path: Path
    manifest: dict
    manifest_sha256: str
    file_sha256: dict[str, str]
    tables: dict[str, pd.DataFrame] = field(repr=False)
    unlisted_csvs: tuple[str, ...] = ()

    @property
    def simulated(self) -> bool:
        return self.manifest.get("simulated") is True


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_manifest(folder: Path) -> tuple[dict, str]:
    """Return the parsed manifest and the SHA-256 of its bytes."""
    path = folder / MANIFEST
    if not path.is_file():
        raise FreezeError(MANIFEST, f"not found in {folder}", usage=True)
    data = _read_bytes(path, MANIFEST, usage=True)
    try:
        manifest = json.loads(
            _decode(data, MANIFEST, usage=True),
            object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constants,
        )
    except json.JSONDecodeError as exc:
        raise FreezeError(
            MANIFEST, f"is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}. Look at that "
            "place and just before it for a trailing comma, a missing comma or quote, or a stray character; "
            "better, restore the manifest.json of the export", usage=True) from None
    except _ManifestSyntaxError as exc:
        raise FreezeError(MANIFEST, f"is not valid JSON ({exc})", usage=True) from None
    if not isinstance(manifest, dict):
        raise FreezeError(MANIFEST, "must hold a JSON object", usage=True)
    return manifest, sha256_bytes(data)


class _ManifestSyntaxError(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, object]]) -> dict:
    """A key given twice makes the manifest ambiguous (json.loads would keep the last one)."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            raise _ManifestSyntaxError(f"the key {key!r} appears twice in one object")
        out[key] = value
    return out


def _no_constants(name: str):
    raise _ManifestSyntaxError(f"{name} is not a JSON value")


def _read_bytes(path: Path, file: str, *, usage: bool = False) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise FreezeError(file, f"cannot be read ({exc.strerror or exc})", usage=usage) from None


def _decode(data: bytes, file: str, *, usage: bool = False) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise FreezeError(
            file, f"is not UTF-8 (first bad byte 0x{data[exc.start]:02x} on line {line}; the file was "
            "probably re-saved by a spreadsheet in another encoding); re-export it as UTF-8 "
            "(Excel: 'CSV UTF-8 (comma delimited)')", usage=usage,
        ) from None
    return text.removeprefix("\ufeff")


def read_csv_text(data: bytes, file: str) -> pd.DataFrame:
    """Parse one CSV of the freeze into an all-text DataFrame (empty cell = missing).

    Blank lines at the end of the file are ignored; any other row must have exactly as many
    fields as the header (pandas would silently pad a short row with empty cells, and take an
    extra field in the first data row as an index, shifting every column).
    """
    if not data:
        raise FreezeError(file, "is empty (zero bytes; expected at least the header row)")
    text = _decode(data, file).rstrip("\r\n")
    header_end = text.find("\n")
    header_line = (text if header_end < 0 else text[:header_end]).rstrip("\r")
    if not header_line.strip():
        raise FreezeError(file, "has no header row")
    if "," not in header_line:
        for delimiter, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in header_line:
                raise FreezeError(file, f"is {name}-delimited; the format requires commas (re-save as CSV UTF-8, comma)")
    n_fields = len(next(csv.reader([header_line])))
    _check_field_counts(data, text, n_fields, file)
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""],
            quoting=csv.QUOTE_MINIMAL, skip_blank_lines=False, index_col=False,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise FreezeError(file, f"is not a well-formed CSV ({str(exc).strip()})") from None
    frame.columns = [str(name) for name in frame.columns]
    # every cell as a Python str or None, independent of pandas' string backend
    return frame.astype(object).where(frame.notna(), None)


def _check_field_counts(data: bytes, text: str, n_fields: int, file: str) -> None:
    """Raise FreezeError naming the first row whose number of fields differs from the header's."""
    if '"' in text:  # quoted fields may hold commas and line breaks: count fields record by record
        try:
            for number, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
                if len(row) != n_fields:
                    _ragged(file, number, len(row), n_fields)
        except csv.Error as exc:
            raise FreezeError(file, f"is not a well-formed CSV ({exc})") from None
        return
    # no quotes: a row's fields are its commas + 1; count commas per line, vectorized, in chunks
    offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = len(data)
    while end > offset and data[end - 1] in b"\r\n":  # blank lines at the end are ignored
        end -= 1
    body = np.frombuffer(data, dtype=np.uint8, count=end - offset, offset=offset)
    start, first_line, chunk = 0, 1, 1 << 23
    while start < len(body):
        stop = min(len(body), start + chunk)
        if stop < len(body):  # end the chunk after a complete line
            newline = data.find(b"\n", offset + stop, end)
            stop = len(body) if newline < 0 else newline - offset + 1
        part = body[start:stop]
        line_ends = np.flatnonzero(part == 10)
        if stop == len(body):
            line_ends = np.append(line_ends, len(part))  # the last line has no line break
        per_line = np.diff(np.searchsorted(np.flatnonzero(part == 44), line_ends), prepend=0)
        bad = np.flatnonzero(per_line != n_fields - 1)
        if bad.size:
            number = first_line + int(bad[0])
            line = text.split("\n", number)[number - 1].rstrip("\r")
            _ragged(file, number, int(per_line[bad[0]]) + 1 if line else 0, n_fields)
        first_line += len(line_ends)
        start = stop


def _ragged(file: str, number: int, found: int, expected: int):
    if found == 0:
        raise FreezeError(file, f"row {number} is empty (a blank line inside the file)")
    raise FreezeError(
        file, f"row {number} has {found} field{'s' if found != 1 else ''}, the header has {expected} "
        "(every row needs one value per column; an empty cell is nothing between two commas)",
    )


def read_freeze(folder: str | Path) -> Freeze:
    """Read the manifest and every CSV of ``folder`` as text.  Raises :class:`FreezeError`."""
    folder = Path(folder)
    if not folder.exists():
        raise FreezeError(str(folder), "does not exist", usage=True)
    if not folder.is_dir():
        raise FreezeError(str(folder), "is not a directory", usage=True)
    manifest, manifest_sha = read_manifest(folder)
    file_sha: dict[str, str] = {}
    tables: dict[str, pd.DataFrame] = {}
    for file in FREEZE_FILES:
        path = folder / file
        if not path.is_file():
            raise FreezeError(file, f"is missing from the freeze folder {folder}")
        data = _read_bytes(path, file)
        file_sha[file] = sha256_bytes(data)
        tables[file] = read_csv_text(data, file)
    unlisted = tuple(sorted(p.name for p in folder.glob("*.csv") if p.name not in COLUMNS))
    for name in unlisted:
        file_sha[name] = sha256_bytes(_read_bytes(folder / name, name))
    return Freeze(folder, manifest, manifest_sha, file_sha, tables, unlisted)


def typed_tables(freeze: Freeze) -> dict[str, pd.DataFrame]:
    """Convert the text tables of a *validated* freeze into analysis types.

    Dates become ``datetime64``, integer columns nullable ``Int64``, float columns
    ``float64``; category and id columns stay ``str`` (missing = ``None``).
    """
    typed = {}
    for file, frame in freeze.tables.items():
        out = frame.copy()
        for column in DATE_COLUMNS.get(file, ()):
            out[column] = pd.to_datetime(out[column], format="%Y-%m-%d")
        for column in INTEGER_COLUMNS.get(file, ()):
            out[column] = pd.to_numeric(out[column]).astype("Int64")
        for column in FLOAT_COLUMNS.get(file, ()):
            out[column] = pd.to_numeric(out[column]).astype("float64")
        typed[file.removesuffix(".csv")] = out
    return typed
