"""Load a data freeze (format v1, see ``shared/spec/freeze-format.md``) from disk.

Two steps, so that validation sees the export exactly as written:

* :func:`read_freeze` reads ``manifest.json`` and every CSV *as text* (each cell a
  string, an empty cell missing).  Anything that cannot be read at all — a folder
  that does not exist, a manifest that is not JSON (or has a key twice), a zero-byte or
  non-UTF-8 file, a semicolon- or tab-delimited export, a row with more or fewer fields
  than the header, a blank line inside a file — raises :class:`FreezeError` naming the file
  (and the row).  So does a file that is not read at all (``alliance_report.files``: a symbolic
  link, a FIFO, a directory, a file over the size limit) and one beyond the parsing bounds
  (``MAX_COLUMNS`` header names, none twice; cells of at most ``MAX_CELL_CHARS`` characters; LF
  or CRLF line endings; a manifest within ``files.JSON_MAX_DEPTH`` and ``files.JSON_MAX_DIGITS``),
  checked on the bytes before pandas parses anything.
* :func:`typed_tables` converts the validated text tables into analysis types
  (dates, integers, floats).  Call it only on a freeze that passed validation.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alliance_report import files, values

MANIFEST = "manifest.json"
# Bounds of a CSV, checked before pandas parses it (the format has 4 to 14 columns per file; its
# longest cells are free-text reasons of a sentence or two).
MAX_COLUMNS = 1_000
MAX_CELL_CHARS = 100_000
# A record longer than this (raw characters, quotes doubled) has a cell or a column too many.
MAX_RECORD_CHARS = MAX_COLUMNS * (2 * MAX_CELL_CHARS + 3)

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
    data = _read_file(Path(folder), MANIFEST, usage=True)
    try:
        manifest = files.load_json(
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
    except files.JSONLimitError as exc:
        raise FreezeError(MANIFEST, f"is not a manifest of the format: its JSON {exc} (a manifest is one "
                          "object holding a few names, dates and SHA-256 entries); restore the manifest.json "
                          "of the export", usage=True) from None
    except ValueError as exc:  # nothing else is expected from the json module; never a traceback
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


def _read_file(folder: Path, file: str, *, usage: bool = False) -> bytes:
    """The bytes of ``folder/file``, read by ``files.read_file`` (a regular file only, not through
    a link, never blocking, at most its limit)."""
    limit = files.MANIFEST_LIMIT if file == MANIFEST else files.CSV_LIMIT
    try:
        return files.read_file(folder, file, limit)
    except files.FileRefused as exc:
        raise _refused(exc, folder, usage=usage) from None


def _refused(exc: "files.FileRefused", folder: Path, *, usage: bool = False) -> FreezeError:
    if exc.kind == files.MISSING:
        if exc.name == MANIFEST:
            return FreezeError(MANIFEST, f"not found in {folder}", usage=True)
        return FreezeError(exc.name, f"is missing from the freeze folder {folder}", usage=usage)
    # a name that is not UTF-8 on disk (an unlisted CSV) is shown escaped: it cannot be printed
    name = exc.name if exc.name.isprintable() else ascii(exc.name)
    return FreezeError(name, exc.reason, usage=usage)


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
    extra field in the first data row as an index, shifting every column).  The header has at
    most ``MAX_COLUMNS`` names, none twice (pandas would rename the second "age" to "age.1"),
    kept exactly as written; no cell is longer than ``MAX_CELL_CHARS``; lines end in LF or CRLF.
    All of this is checked on the bytes before pandas parses the file.
    """
    if not data:
        raise FreezeError(file, "is empty (zero bytes; expected at least the header row)")
    text = _decode(data, file).rstrip("\r\n")
    header_end = text.find("\n")
    header_line = (text if header_end < 0 else text[:header_end]).rstrip("\r")
    if "\r" in header_line:
        raise FreezeError(file, _CR_ONLY)
    if not header_line.strip():
        raise FreezeError(file, "has no header row")
    if "," not in header_line:
        for delimiter, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
            if delimiter in header_line:
                raise FreezeError(file, f"is {name}-delimited; the format requires commas (re-save as CSV UTF-8, comma)")
    names = _header(header_line, file)
    _check_field_counts(data, text, names, file)
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""],
            quoting=csv.QUOTE_MINIMAL, skip_blank_lines=False, index_col=False,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        unclosed = _UNCLOSED_QUOTE.search(str(exc))
        if unclosed:  # pandas counts from 0 at the header: its row n is the file's row n + 1
            raise FreezeError(file, f"row {int(unclosed[1]) + 1} opens a quoted cell that is never closed (a \" "
                              "without its closing \"), so the rest of the file would be read as one cell") from None
        raise FreezeError(file, f"is not a well-formed CSV ({str(exc).strip()})") from None
    # the names as written (pandas calls an empty header field "Unnamed: 4", a column nobody wrote)
    frame.columns = names if len(names) == len(frame.columns) else [str(name) for name in frame.columns]
    # every cell as a Python str or None, independent of pandas' string backend
    return frame.astype(object).where(frame.notna(), None)


_CR_ONLY = ("has CR-only line endings (a lone carriage return ends each line, as old Excel for Mac saves "
            "'CSV (Macintosh)'); re-save it with LF or CRLF line endings (Excel: 'CSV UTF-8 (comma delimited)')")
_LONE_CR = re.compile(rb"\r(?!\n)")


def _header(line: str, file: str) -> list[str]:
    """The column names of the header ``line``, exactly as written; at most MAX_COLUMNS, none
    twice.  The number of columns is counted before the line is parsed."""
    if len(line) > MAX_RECORD_CHARS:
        raise FreezeError(file, f"row 1 (the header) is {len(line):,} characters long, more than {MAX_COLUMNS:,} "
                          f"columns of at most {MAX_CELL_CHARS:,} characters each can be")
    n_columns = line.count(",") + 1
    if n_columns > MAX_COLUMNS and '"' in line:  # commas inside quoted names do not count
        n_columns = _QUOTED.sub("", line).count(",") + 1
    if n_columns > MAX_COLUMNS:
        raise FreezeError(file, f"row 1 (the header) has {n_columns:,} columns, more than the limit of "
                          f"{MAX_COLUMNS:,} (the format has 4 to 14 columns per file)")
    try:
        names = next(csv.reader([line]))
    except csv.Error as exc:
        if _FIELD_LIMIT in str(exc):
            _long_cell(file, 1, None, None)
        raise FreezeError(file, f"row 1 (the header) is not a well-formed CSV row ({exc})") from None
    seen: dict[str, int] = {}
    for column, name in enumerate(names, start=1):
        if len(name) > MAX_CELL_CHARS:
            _long_cell(file, 1, None, len(name))
        if name in seen:
            raise FreezeError(file, f"header: the column {quoted_name(name)} appears twice (columns {seen[name]} and "
                              f"{column}); every column name must be unique")
        seen[name] = column
    return names


_QUOTED = re.compile(r'"[^"]*"')  # a quoted field (an escaped quote "" splits it in two: same commas)
_FIELD_LIMIT = "field larger than field limit"  # csv.Error of the csv module (131,072 characters)


def quoted_name(name: str) -> str:
    """A column name for a message: quoted (JSON escapes), every invisible character but the space
    escaped ("age\\u00a0"), cut at 60 characters."""
    text = json.dumps(name if len(name) <= 60 else name[:60] + "…", ensure_ascii=False)
    return "".join(ch if ch.isprintable() else f"\\u{ord(ch):04x}" for ch in text)


def _long_cell(file: str, number: int, column: str | None, n_chars: int | None):
    where = f"row {number}" + (f", column {quoted_name(column)}" if column is not None else "")
    size = f"{n_chars:,} characters, " if n_chars is not None else ""
    raise FreezeError(file, f"{where}: a cell of {size}longer than the limit of {MAX_CELL_CHARS:,} characters "
                      "(a free-text cell holds a sentence or a few; was a whole document pasted into it?)")


def _check_field_counts(data: bytes, text: str, names: list[str], file: str) -> None:
    """Raise FreezeError naming the first row whose number of fields differs from the header's,
    or that has a cell longer than MAX_CELL_CHARS (or a line ending in a lone CR)."""
    n_fields = len(names)
    offset = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    end = len(data)
    while end > offset and data[end - 1] in b"\r\n":  # blank lines at the end are ignored
        end -= 1
    body = np.frombuffer(data, dtype=np.uint8, count=end - offset, offset=offset)
    if '"' in text:  # quoted fields may hold commas and line breaks: count fields record by record
        record_limit = n_fields * (2 * MAX_CELL_CHARS + 3)  # every character a doubled quote
        for _, part, line_ends, first_line in _line_chunks(data, body, offset, end):
            lengths = np.diff(line_ends, prepend=-1) - 1
            long = np.flatnonzero(lengths > 4 * record_limit)  # UTF-8: at most 4 bytes a character
            if long.size:
                raise FreezeError(file, f"line {first_line + int(long[0]):,} is {int(lengths[long[0]]):,} bytes "
                                  f"long, longer than a row of {n_fields} cells of at most {MAX_CELL_CHARS:,} "
                                  "characters can be: it has a cell longer than that limit or more fields than "
                                  "the header")
        _check_records(text, names, file, record_limit)
        return
    # no quotes: a row's fields are its commas + 1; count commas per line, vectorized, in chunks
    if b"\r" in data:
        lone = _LONE_CR.search(data, offset, end)
        if lone:
            number = data.count(b"\n", 0, lone.start()) + 1
            raise FreezeError(file, f"row {number} ends with a lone carriage return (CR): part of the file has "
                              "CR-only line endings, as old Excel for Mac saves 'CSV (Macintosh)'; re-save it with "
                              "LF or CRLF line endings (Excel: 'CSV UTF-8 (comma delimited)')")
    for start, part, line_ends, first_line in _line_chunks(data, body, offset, end):
        per_line = np.diff(np.searchsorted(np.flatnonzero(part == 44), line_ends), prepend=0)
        bad = np.flatnonzero(per_line != n_fields - 1)
        first_bad = int(bad[0]) if bad.size else len(line_ends)
        # a cell is no longer than its line: only lines longer than the limit (in bytes) are split
        lengths = np.diff(line_ends, prepend=-1) - 1
        for i in np.flatnonzero(lengths[:first_bad] > MAX_CELL_CHARS).tolist():
            line_start = offset + start + (int(line_ends[i - 1]) + 1 if i else 0)
            line = data[line_start:offset + start + int(line_ends[i])].rstrip(b"\r")
            for column, cell in enumerate(line.split(b",")):
                if len(cell) > MAX_CELL_CHARS and (n_chars := len(cell.decode("utf-8"))) > MAX_CELL_CHARS:
                    _long_cell(file, first_line + i, names[column], n_chars)
        if bad.size:
            number = first_line + first_bad
            line = text.split("\n", number)[number - 1].rstrip("\r")
            _ragged(file, number, int(per_line[first_bad]) + 1 if line else 0, n_fields)


def _line_chunks(data: bytes, body: np.ndarray, offset: int, end: int):
    """``body`` (the bytes of ``data`` from ``offset`` to ``end``) in chunks of about 8 MB that end
    after a complete line: (start in body, the chunk, the positions of its line ends in the chunk,
    the number of its first line)."""
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
        yield start, part, line_ends, first_line
        first_line += len(line_ends)
        start = stop


_UNCLOSED_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")  # pandas' C parser


class _RecordTooLong(Exception):
    pass


def _check_records(text: str, names: list[str], file: str, record_limit: int) -> None:
    """The quoted-CSV check, record by record with the csv module: the number of fields, the
    length of the cells, and of each record (counted as its lines are read, so that no record
    longer than ``record_limit`` characters is ever assembled)."""
    n_fields = len(names)
    fed = 0  # characters of the record being read

    def lines():
        nonlocal fed
        for line in io.StringIO(text, newline=""):
            fed += len(line)
            if fed > record_limit:
                raise _RecordTooLong
            yield line

    number = 0
    try:
        for number, row in enumerate(csv.reader(lines()), start=1):
            if len(row) != n_fields:
                _ragged(file, number, len(row), n_fields)
            if fed > MAX_CELL_CHARS:  # only a long record can hold a long cell
                for column, cell in enumerate(row):
                    if len(cell) > MAX_CELL_CHARS:
                        _long_cell(file, number, names[column], len(cell))
            fed = 0
    except _RecordTooLong:
        raise FreezeError(file, f"row {number + 1} is longer than {record_limit:,} characters, longer than a row "
                          f"of {n_fields} cells of at most {MAX_CELL_CHARS:,} characters can be: it has a cell "
                          "longer than that limit or more fields than the header") from None
    except csv.Error as exc:
        if _FIELD_LIMIT in str(exc):
            _long_cell(file, number + 1, None, None)
        raise FreezeError(file, f"is not a well-formed CSV ({exc})") from None


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
        data = _read_file(folder, file)
        file_sha[file] = sha256_bytes(data)
        tables[file] = read_csv_text(data, file)
        del data
    # an unlisted CSV fails validation; it is hashed (in chunks, bounded, not through a link) for
    # the fingerprint and the build log, and one that is not a regular file is refused here
    unlisted = tuple(name for name in files.csv_names(folder) if name not in COLUMNS)
    for name in unlisted:
        try:
            file_sha[name] = files.sha256_file(folder, name, files.CSV_LIMIT)
        except files.FileRefused as exc:
            raise _refused(exc, folder) from None
    return Freeze(folder, manifest, manifest_sha, file_sha, tables, unlisted)


def typed_tables(freeze: Freeze) -> dict[str, pd.DataFrame]:
    """Convert the text tables of a *validated* freeze into analysis types.

    Dates become ``datetime64[us]``, integer columns nullable ``Int64``, float columns
    ``float64`` (parsed by ``alliance_report.values``, as validation parses them); category and
    id columns stay ``str`` (missing = ``None``).
    """
    typed = {}
    for file, frame in freeze.tables.items():
        out = frame.copy()
        for column in DATE_COLUMNS.get(file, ()):
            out[column] = values.dates(out[column], unit="us")
        for column in INTEGER_COLUMNS.get(file, ()):
            out[column] = values.integers(out[column]).astype("Int64")
        for column in FLOAT_COLUMNS.get(file, ()):
            out[column] = values.numbers(out[column])
        typed[file.removesuffix(".csv")] = out
    return typed
