"""Where a build writes, and whether it may: the output folder named from the manifest, the checks
that refuse an output whose replacement would destroy something else, and the staging folder.

Outputs are written into a staging folder beside ``out`` and swapped in by a rename
(:mod:`alliance_report.publish`) only when everything succeeded, so a reader never sees a
half-written report and a failed build leaves an existing output folder as it was.  The staging
folder is made, with a write probe, before the freeze is validated: an output location that is
read-only, not ours or full is a usage error (exit 2) found at once, and one that fails later (the
disk fills up) is one too (``writing``).  The closed edition goes at the output's root, the open
one into ``open/`` (``edition_folder``).
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from alliance_report import files, interrupts
from alliance_report.build_log import LOG_FILE
from alliance_report.errors import BuildError
from alliance_report.fingerprint import Fingerprint, read_record
from alliance_report.publish import temporary_prefix
from alliance_report.study import Study, StudyError, load_study


def manifest_of(freeze_dir: Path) -> dict | None:
    """The manifest read as ``read_freeze`` reads it, or None when that is not possible."""
    try:
        manifest = files.load_json(files.read_file(Path(freeze_dir), "manifest.json", files.MANIFEST_LIMIT)
                                   .decode("utf-8-sig"))
    except (files.FileRefused, OSError, ValueError, TypeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _manifest_names(freeze_dir: Path) -> tuple[str, str] | None:
    """``(study, freeze_id)`` from the manifest, read with the json module only; None if not possible.

    A manifest that cannot give safe names is left to ``read_freeze`` and the manifest checks,
    which say what is wrong with it.  It is read as ``read_freeze`` reads it (``files``: a
    regular file, not through a link, never blocking, at most 1 MiB, JSON within bounds).
    """
    manifest = manifest_of(freeze_dir)
    try:
        study, freeze_id = manifest["study"], manifest["freeze_id"]
    except (TypeError, KeyError):
        return None
    if not all(isinstance(v, str) and files.NAME_RE.fullmatch(v) for v in (study, freeze_id)):
        return None
    return study, freeze_id


def output_name(freeze_dir: Path) -> str | None:
    """``<study>-<freeze_id>`` from the manifest; None if not possible (see ``_manifest_names``)."""
    names = _manifest_names(freeze_dir)
    return None if names is None else "-".join(names)


def study_of(freeze_dir: Path) -> Study | None:
    """The study configuration the manifest names; None when the manifest gives no usable name
    (validation says why).  A study without a configuration file is a usage error (exit 2)."""
    names = _manifest_names(freeze_dir)
    if names is None:
        return None
    try:
        return load_study(names[0])
    except StudyError as exc:
        raise BuildError(f"{freeze_dir}: {exc}", exit_code=2) from None


REPORT_MARKERS = ("report.html", LOG_FILE, ".fingerprint.json")


def check_out(out: Path) -> None:
    """Refuse an output path whose replacement would destroy something else than a report.

    Publishing replaces ``out`` as a whole: an existing folder is replaced only when it is
    empty or holds an earlier report (report.html, build.log or .fingerprint.json).
    """
    out = Path(out)
    if out.is_symlink():
        raise BuildError(f"--out {out}: is a symbolic link (to {os.readlink(out)}); a build replaces its output "
                         "folder as a whole, never through a link, so name the folder itself", exit_code=2)
    if out.exists() and not out.is_dir():
        raise BuildError(f"--out {out}: exists and is not a folder", exit_code=2)
    if out.is_dir() and any(out.iterdir()) and not any((out / name).exists() for name in REPORT_MARKERS):
        raise BuildError(f"--out {out}: is a folder that holds no earlier report (no "
                         f"{', '.join(REPORT_MARKERS)}); a build replaces its output folder as a whole, "
                         "so name a new or empty folder", exit_code=2)


def check_out_of_freeze(freeze_dir: Path, out: Path) -> None:
    """Refuse an output inside the freeze folder (or the freeze folder itself), and a freeze
    inside the output (which a build replaces as a whole)."""
    try:
        freeze, target = Path(freeze_dir).resolve(), Path(out).resolve()
    except (OSError, RuntimeError):  # a loop of links: check_out and read_freeze say what is wrong
        return
    if target == freeze:
        raise BuildError(f"the output {out}/ is the freeze folder itself; name a folder outside the freeze "
                         "with --out", exit_code=2)
    if freeze in target.parents:
        raise BuildError(f"the output {out}/ is inside the freeze folder {freeze_dir}; a report is never written "
                         "into its freeze, name a folder outside it with --out", exit_code=2)
    if target in freeze.parents:
        raise BuildError(f"the output {out}/ holds the freeze folder {freeze_dir}, and a build replaces its "
                         "output as a whole; name a folder outside it with --out", exit_code=2)


def check_origin(freeze_dir: Path, out: Path, fp: Fingerprint) -> None:
    """Refuse to replace an output built from a freeze in another folder with other content
    (another trial's freeze with the same study and freeze_id, say); ``--force`` replaces it.

    The same folder (a corrected export, rebuilt as usual), the same content in another folder
    (a copy) and an output that does not say where it came from (built before this check) pass.
    """
    record = read_record(Path(out))
    previous = record.get("freeze_dir") if record else None
    if not isinstance(previous, str) or Path(previous) == Path(freeze_dir).resolve():
        return
    if (record.get("parts") or {}).get("freeze") == fp.parts["freeze"]:
        return
    raise BuildError(f"the output {out}/ holds the report of another freeze folder, {previous}, with other data "
                     f"than {freeze_dir}; --force replaces it, or name another --out", exit_code=2)


OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})


@contextmanager
def writing(out: Path, any_error: bool = False):
    """An output location that cannot be written (read-only, no permission, full) is the
    user's to fix: exit 2 with one line naming it, instead of an internal error.  ``any_error``:
    every OSError is (making the staging folder and its probe, where a location such as /proc
    refuses a folder with "no such file")."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS and not (any_error and exc.errno is not None):
            raise
        hint = ("free some space there or name another --out" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
                else "name a folder you can write to with --out")
        raise BuildError(f"cannot write the output {out}/ in {Path(out).parent} ({os.strerror(exc.errno)}); "
                         f"nothing was published, {hint}", exit_code=2) from None


PROBE_BYTES = 1 << 16


class StagingFolder:
    """The staging folder of a build, and the parent folders it made for the output; ``remove``
    (at the end of every build, whatever happened) deletes the staging folder and those parents
    that are still empty (nothing was published)."""

    def __init__(self):
        self.path: Path | None = None
        self.parents: list[Path] = []

    def make(self, out: Path) -> Path:
        """Made before the freeze is validated, with a write probe, so that an output location
        that is read-only, not ours or full is reported at once instead of after the whole build."""
        missing, folder = [], out.parent
        while not folder.is_dir() and folder != folder.parent:
            missing.append(folder)
            folder = folder.parent
        for folder in reversed(missing):
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            self.parents.append(folder)
        with interrupts.held():  # recorded before a signal may stop the build
            self.path = Path(tempfile.mkdtemp(prefix=temporary_prefix(out, "building"), dir=out.parent))
            interrupts.state.staging.add(self.path)
        self.path.chmod(0o755)  # mkdtemp makes it private; the published report is for readers
        probe = self.path / ".probe"
        probe.write_bytes(bytes(PROBE_BYTES))
        probe.unlink()
        return self.path

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)  # after publish(): gone already
            interrupts.state.staging.discard(self.path)
        for folder in reversed(self.parents):
            try:
                folder.rmdir()
            except OSError:  # not empty: it holds the output now
                break


def edition_folder(staging: Path, edition: str) -> Path:
    """Where an edition goes: the closed edition at the output's root, the open one in ``open/``."""
    return staging / "open" if edition == "open" else staging
