"""Publishing a build: the staging folder replaces the output in one step, and leftovers of
builds that were killed are cleaned up (the README, "Atomic publishing").

The staging folder is written beside the output (``.<name>.building-<host>-<pid>-…``); it
replaces the output by an atomic exchange on Linux (``renameat2``), elsewhere by moving the
previous output aside into ``.<name>.old-…`` first.  A later build of the same output on the same
host removes the folders of processes that no longer run (and moves an ``old`` one back when
the output is missing).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import socket
import sys
import tempfile
from pathlib import Path


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0


def host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "host"


def temporary_prefix(out: Path, kind: str) -> str:
    """``.<name>.building-<host>-<pid>-`` (staging) or ``.<name>.old-<host>-<pid>-`` (the
    previous output on its way out): hidden, beside the output, named after the process that
    owns it (mkdtemp adds 8 random characters)."""
    return f".{out.name}.{kind}-{host()}-{os.getpid()}-"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):  # another user's process; a name we did not make
        return True
    return True


def remove_leftovers(out: Path) -> tuple[list[Path], Path | None]:
    """Clean up after a build of ``out`` that was killed outright (SIGKILL, a power cut).

    A build removes its temporary folders itself, even when it fails or is interrupted, so a
    folder is left behind only when its process died.  Deleted: the folders of this host
    whose process no longer runs.  Kept: those of a build still running and those made on
    another host (a shared reports folder), whose processes cannot be checked from here.
    When the build died between moving the previous output aside and moving the new one in,
    ``out`` is missing and the ``.old-`` folder holds the previous output: it is moved back.

    Returns the folders deleted and, if it was restored, the output.
    """
    pattern = re.compile(rf"\.{re.escape(out.name)}\.(building|old)-{re.escape(host())}-(\d+)-[a-z0-9_]{{8}}")
    removed, restored = [], None
    if not out.parent.is_dir():
        return removed, restored
    for path in sorted(out.parent.iterdir()):
        match = pattern.fullmatch(path.name)
        if not match or not path.is_dir() or path.is_symlink() or _running(int(match[2])):
            continue
        previous = path / out.name
        if match[1] == "old" and not os.path.lexists(out) and previous.is_dir():
            os.replace(previous, out)
            restored = out
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed, restored


def note_leftovers(out: Path, notes: list[str]) -> None:
    removed, restored = remove_leftovers(Path(out))
    if restored:
        notes.append(f"{out} was missing after a build that was killed; the previous output was restored")
    if removed:
        notes.append(f"removed {len(removed)} temporary folder(s) left beside {out} by a build that was "
                     f"killed: {', '.join(p.name for p in removed)}")


def publish(staging: Path, out: Path) -> None:
    """Swap the finished staging folder in for ``out`` by renames (atomic on one filesystem).

    An existing ``out`` is exchanged with the staging folder in one step where the kernel
    supports it (a reader sees the old report or the new one, never neither), else renamed
    aside first; the previous output is then deleted.
    """
    if out.exists():
        if _exchange(staging, out):
            shutil.rmtree(staging)  # now holds the previous output
            return
        retired = Path(tempfile.mkdtemp(prefix=temporary_prefix(out, "old"), dir=out.parent))
        os.replace(out, retired / out.name)
        try:
            os.replace(staging, out)
        except OSError:
            os.replace(retired / out.name, out)  # the previous output back where it was
            shutil.rmtree(retired, ignore_errors=True)
            raise
        shutil.rmtree(retired)
    else:
        os.replace(staging, out)
