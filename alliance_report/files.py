"""Read the files of a freeze folder: bounded, never through a link, never blocking.

Every path that reads a file of a freeze goes through :func:`read_file` or :func:`sha256_file`:
``read_freeze`` and ``read_manifest`` (freeze.py), the fingerprint (fingerprint.py) and the
output name taken from the manifest (``output_folder._manifest_names``).  A file is read only when it
is a regular file directly inside the folder:

1. ``os.lstat`` of the name, relative to a descriptor of the folder (so the name cannot point
   out of it): a symbolic link, a FIFO, a directory, a device or a socket is refused without
   being opened;
2. ``open`` with ``O_NOFOLLOW | O_NONBLOCK``: a link swapped in after the lstat fails to open,
   a FIFO swapped in opens at once instead of waiting for a writer;
3. ``fstat`` of the descriptor: still a regular file, and the very file the lstat saw;
4. at most ``limit + 1`` bytes are read: a file over the limit is refused, also one that grows
   while it is read.

Anything else raises :class:`FileRefused`, whose ``reason`` completes a sentence that starts
with the file's name ("sessions.csv: is a symbolic link (to /elsewhere/x.csv); ...").

:func:`load_json` parses JSON within bounds (nesting, digits of a number, lone surrogates), so
that no manifest, whatever its shape, ends in a RecursionError or a ValueError of Python's
int-string conversion.

Standard library only: the fingerprint imports this module on the no-change path of a build,
which must not import pandas.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import stat
import re
from pathlib import Path

MIB = 1 << 20
# a study or freeze_id of the manifest: safe as a folder name (freeze-format.md)
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# The largest files read.  The 100x demo freeze (24,500 randomized, 2.95 million questionnaire
# rows) has a questionnaires.csv of ~100 MB and a manifest.json of ~700 bytes: the limits leave
# 20x and 1,500x headroom, so that a real export never reaches them.
CSV_LIMIT = 2048 * MIB
MANIFEST_LIMIT = 1 * MIB
# JSON of the manifest: it nests two levels deep and holds one small integer (format_version).
JSON_MAX_DEPTH = 32
JSON_MAX_DIGITS = 50

HASH_CHUNK = MIB
_READ_MAX = 1 << 30  # one read() asks for at most this (Linux returns at most 2 GiB - 4 KiB per call)
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

MISSING, LINK, SPECIAL, TOO_LARGE, UNREADABLE, CHANGED = (
    "missing", "link", "special", "too large", "unreadable", "changed")


class FileRefused(Exception):
    """A file of the freeze that is not read.  ``kind``: one of MISSING, LINK, SPECIAL,
    TOO_LARGE, UNREADABLE, CHANGED; ``reason`` follows the file's name in a message."""

    def __init__(self, name: str, kind: str, reason: str):
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.kind = kind
        self.reason = reason


def limit_text(limit: int) -> str:
    return f"{limit / MIB:,.0f} MB" if limit >= MIB else f"{limit:,} bytes"


def csv_names(folder: str | Path) -> list[str]:
    """The names of the folder's entries ending in ``.csv``, whatever they are (nothing is opened
    or followed), sorted."""
    with os.scandir(folder) as entries:
        return sorted(entry.name for entry in entries if entry.name.endswith(".csv"))


def present(folder: str | Path, name: str) -> bool:
    """Whether the folder has an entry ``name`` of any kind (a dangling link counts)."""
    try:
        os.lstat(Path(folder) / _plain(name))
    except OSError:
        return False
    return True


def read_file(folder: str | Path, name: str, limit: int) -> bytes:
    """The bytes of the regular file ``name`` directly in ``folder``, at most ``limit`` of them.
    Raises :class:`FileRefused`."""
    with _opened(folder, name, limit) as (fd, st):
        chunks, total = [], 0
        while True:
            # the size fstat gave, and a little more (a file that grew); never more than limit + 1
            want = min(limit + 1 - total, _READ_MAX, max(st.st_size - total, 0) + (1 << 16))
            if want <= 0:
                break
            chunk = _read(fd, want, name)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise FileRefused(name, TOO_LARGE, _too_large(limit, None))
        return b"".join(chunks)  # one chunk (the usual case): no copy


def sha256_file(folder: str | Path, name: str, limit: int) -> str:
    """The SHA-256 of the regular file ``name`` directly in ``folder`` (read in chunks, at most
    ``limit`` bytes).  Raises :class:`FileRefused`."""
    with _opened(folder, name, limit) as (fd, _):
        digest, total = hashlib.sha256(), 0
        while chunk := _read(fd, min(HASH_CHUNK, limit + 1 - total), name):
            total += len(chunk)
            if total > limit:
                raise FileRefused(name, TOO_LARGE, _too_large(limit, None))
            digest.update(chunk)
        return digest.hexdigest()


class _opened:
    """``with _opened(folder, name, limit) as (fd, stat_result)``: the checks 1–3 of the module
    docstring; the descriptors are closed on leaving."""

    def __init__(self, folder: str | Path, name: str, limit: int):
        self.folder, self.name, self.limit = folder, _plain(name), limit
        self.dir_fd = self.fd = None

    def __enter__(self):
        name = self.name
        try:
            self.dir_fd = os.open(self.folder, _DIR_FLAGS)
            try:
                before = os.stat(name, dir_fd=self.dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                raise FileRefused(name, MISSING, "does not exist") from None
            self._refuse_kind(before.st_mode)
            if before.st_size > self.limit:
                raise FileRefused(name, TOO_LARGE, _too_large(self.limit, before.st_size))
            try:
                self.fd = os.open(name, _OPEN_FLAGS, dir_fd=self.dir_fd)
            except FileNotFoundError:
                raise FileRefused(name, MISSING, "does not exist") from None
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.EMLINK):  # EMLINK: FreeBSD's O_NOFOLLOW error
                    raise
                swapped = True  # a link was put in its place after the lstat
            else:
                swapped = False
            if swapped:
                self._refuse_kind(stat.S_IFLNK)
            st = os.fstat(self.fd)
            self._refuse_kind(st.st_mode)
            if (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
                raise FileRefused(name, CHANGED, "was replaced while it was being read; read the freeze again")
            if st.st_size > self.limit:
                raise FileRefused(name, TOO_LARGE, _too_large(self.limit, st.st_size))
        except FileRefused:
            self._close()
            raise
        except OSError as exc:
            self._close()
            raise FileRefused(name, UNREADABLE, f"cannot be read ({exc.strerror or exc})") from None
        return self.fd, st

    def __exit__(self, *exc) -> None:
        self._close()

    def _close(self) -> None:
        for fd in (self.fd, self.dir_fd):
            if fd is not None:
                os.close(fd)
        self.fd = self.dir_fd = None

    def _refuse_kind(self, mode: int) -> None:
        if stat.S_ISREG(mode):
            return
        if stat.S_ISLNK(mode):
            raise FileRefused(self.name, LINK, f"is a symbolic link (to {self._target()}); copy the exported file "
                              "itself into the freeze folder")
        raise FileRefused(self.name, SPECIAL, f"is not a regular file ({_what(mode)}); a freeze folder holds the "
                          "exported files themselves")

    def _target(self) -> str:
        try:
            target = os.readlink(self.name, dir_fd=self.dir_fd)
        except OSError:
            return "an unknown target"
        if len(target) > 200:
            target = target[:200] + "…"
        return target if target.isprintable() else repr(target)


def _plain(name: str) -> str:
    """``name`` must be one path component (no folder, not . or ..)."""
    if not name or name in (".", "..") or "/" in name or "\0" in name or (os.altsep and os.altsep in name):
        raise FileRefused(str(name), UNREADABLE, "is not a file name inside the freeze folder")
    return name


def _read(fd: int, n: int, name: str) -> bytes:
    try:
        return os.read(fd, n)
    except BlockingIOError:  # cannot happen for a regular file; never wait
        raise FileRefused(name, SPECIAL, "is not a regular file (reading it would block)") from None
    except OSError as exc:
        raise FileRefused(name, UNREADABLE, f"cannot be read ({exc.strerror or exc})") from None


def _what(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _too_large(limit: int, size: int | None) -> str:
    found = f" ({size:,} bytes)" if size is not None else ""
    return (f"is larger than the limit of {limit_text(limit)}{found}; no export of the format comes near "
            "it: check that this is the exported file")


# --------------------------------------------------------------------------------------------- JSON


class JSONLimitError(ValueError):
    """JSON beyond the bounds this tool reads (too deep, a number with too many digits or out of
    range, a string with a lone surrogate).  The message completes "its JSON ..."."""


def load_json(text: str, **hooks):
    """``json.loads(text, **hooks)`` within bounds; raises json.JSONDecodeError (not JSON),
    JSONLimitError, or whatever a hook raises."""
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, **hooks)
    except RecursionError:
        raise JSONLimitError(f"is nested more deeply than {JSON_MAX_DEPTH} levels") from None
    _check_shape(value)
    return value


def _parse_int(digits: str) -> int:
    n = len(digits) - digits.startswith("-")
    if n > JSON_MAX_DIGITS:
        raise JSONLimitError(f"has a number with {n:,} digits (the limit is {JSON_MAX_DIGITS}): {digits[:12]}…")
    return int(digits)


def _parse_float(text: str) -> float:
    n = sum(c.isdigit() for c in text)
    if n > JSON_MAX_DIGITS:
        raise JSONLimitError(f"has a number with {n:,} digits (the limit is {JSON_MAX_DIGITS}): {text[:12]}…")
    value = float(text)
    if not math.isfinite(value):
        raise JSONLimitError(f"has a number out of range: {text}")
    return value


def _check_shape(value) -> None:
    """Nesting depth (iteratively: no recursion) and strings that UTF-8 cannot encode."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > JSON_MAX_DEPTH:
                raise JSONLimitError(f"is nested more deeply than {JSON_MAX_DEPTH} levels")
            if isinstance(item, dict):
                for key in item:
                    _check_string(key)
                stack.extend((inner, depth + 1) for inner in item.values())
            else:
                stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            _check_string(item)


def _check_string(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise JSONLimitError(f"has a string with a lone surrogate escape (\\u{ord(text[exc.start]):04x}), "
                             "which is not a character") from None
