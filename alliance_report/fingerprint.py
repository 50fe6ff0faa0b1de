"""Is a published report up to date?  A content hash of everything a build depends on.

The fingerprint of a build is the SHA-256 of four parts:

* ``freeze``: the SHA-256 of ``manifest.json`` and of every ``*.csv`` in the freeze folder
  (exactly the files ``read_freeze`` reads), read as ``read_freeze`` reads them
  (``alliance_report.files``: regular files only, never through a link, never blocking, at most
  the size limit); an entry that is not read (a link, a FIFO, a directory, too large) stands in
  the fingerprint as ``"not read: <why>"``, and ``read_freeze`` then refuses the freeze;
* ``code``: the SHA-256 of every ``.py`` and ``.json`` file of the package (the modules and
  the schema of results.json), every file in ``report_templates/``, ``expectations/`` and ``studies/`` (path and bytes; the same paths,
  so the same hash, whether the package runs from a checkout or is installed);
* ``settings``: every build setting (``Settings``) and the renderer;
* ``environment``: the Python version, the bytes of ``requirements.lock`` and the installed
  versions of the direct dependencies.  An installed package has no ``requirements.lock``: in
  its place stand the name and version of every installed distribution (the resolved set the
  lock would pin).

File times play no part.  A build stores its fingerprint, and the SHA-256 of every file it
published, in ``<out>/.fingerprint.json``; a later build with the same fingerprint whose
published files are all still there, unchanged, has nothing to do.

This module imports only the standard library (and ``alliance_report.settings``), so that
the no-change path of ``alliance-report build`` never imports pandas, Great Expectations,
statsmodels, matplotlib or WeasyPrint.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from alliance_report import (EXPECTATIONS_DIR, PACKAGE_DIR, PACKAGES, REPO_ROOT, STUDIES_DIR, TEMPLATES_DIR,
                             __version__, files)

FINGERPRINT_FILE = ".fingerprint.json"
FORMAT = 1
LOCK_FILE = REPO_ROOT / "requirements.lock"
CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def freeze_files(folder: Path) -> list[Path]:
    """The files of a freeze that a build reads: ``manifest.json`` and every ``*.csv`` — every
    such entry of the folder, whatever it is (listing them opens and follows nothing)."""
    folder = Path(folder)
    manifest = [folder / "manifest.json"] if files.present(folder, "manifest.json") else []
    try:
        names = files.csv_names(folder)
    except OSError:  # a folder that cannot be listed: read_freeze says so
        names = []
    return manifest + [folder / name for name in names]


def freeze_hashes(folder: Path) -> dict[str, str]:
    """SHA-256 of each of ``freeze_files``, or ``"not read: <why>"`` for one that is not a regular
    file, is a link or is over the size limit (``alliance_report.files``)."""
    hashes = {}
    for path in freeze_files(folder):
        limit = files.MANIFEST_LIMIT if path.name == "manifest.json" else files.CSV_LIMIT
        try:
            hashes[path.name] = files.sha256_file(path.parent, path.name, limit)
        except files.FileRefused as exc:
            hashes[path.name] = f"not read: {exc.reason}"
    return hashes


def code_files() -> dict[PurePosixPath, Path]:
    """Every file of the code hash, by the name it is hashed under: ``alliance_report/.../*.py``
    and ``*.json``, and ``<data folder>/...`` — the same names in a checkout (data folders beside the package)
    and in an installed package (data folders inside it).  Sorted part by part."""
    data_dirs = (TEMPLATES_DIR, EXPECTATIONS_DIR, STUDIES_DIR)
    named = {}
    for path in PACKAGE_DIR.rglob("*"):
        if path.suffix in (".py", ".json") and not any(folder in path.parents for folder in data_dirs):
            named[PurePosixPath(PACKAGE_DIR.name, *path.relative_to(PACKAGE_DIR).parts)] = path
    for folder in data_dirs:
        for path in folder.rglob("*"):
            if path.is_file():
                named[PurePosixPath(folder.name, *path.relative_to(folder).parts)] = path
    return {name: path for name, path in sorted(named.items()) if "__pycache__" not in name.parts}


def code_hash() -> tuple[str, int]:
    """One SHA-256 over the name and bytes of every code file; and their number."""
    digest = hashlib.sha256()
    named = code_files()
    for name, path in named.items():
        digest.update(name.as_posix().encode() + b"\0")
        digest.update(file_sha256(path).encode() + b"\n")
    return digest.hexdigest(), len(named)


def environment() -> dict:
    """The Python version, the versions of the direct dependencies, and the SHA-256 of
    ``requirements.lock`` — or, where there is none (an installed package), ``installed``: the
    SHA-256 and number of the ``name==version`` lines of every installed distribution."""
    from importlib import metadata

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    env = {"python": platform.python_version(), "alliance_report": __version__}
    if LOCK_FILE.is_file():
        env["requirements.lock"] = file_sha256(LOCK_FILE)
    else:
        env["installed"] = installed_distributions()
    env["packages"] = versions
    return env


def installed_distributions() -> dict:
    """SHA-256 and number of the sorted, distinct ``name==version`` of every distribution
    importable now (names lower case, ``_`` as ``-``)."""
    from importlib import metadata

    lines = sorted({f"{(dist.metadata['Name'] or '').lower().replace('_', '-')}=={dist.version}"
                    for dist in metadata.distributions()})
    return {"sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest(), "distributions": len(lines)}


@dataclass(frozen=True)
class Fingerprint:
    parts: dict

    @property
    def digest(self) -> str:
        text = json.dumps(self.parts, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(freeze_dir: Path, settings: dict, previous_dir: Path | None = None) -> Fingerprint:
    """The fingerprint of building ``freeze_dir`` with ``settings`` (a plain dict) now, compared
    with the freeze in ``previous_dir`` (its files are an input like the freeze's)."""
    code, n_files = code_hash()
    return Fingerprint({
        "format": FORMAT,
        "freeze": freeze_hashes(freeze_dir),
        "previous": None if previous_dir is None else freeze_hashes(previous_dir),
        "code": {"sha256": code, "files": n_files},
        "settings": dict(sorted(settings.items())),
        "environment": environment(),
    })


def output_hashes(out: Path) -> dict[str, str]:
    """SHA-256 of every published file of ``out`` (relative paths), the fingerprint file excepted."""
    out = Path(out)
    hashes = {}
    for root, dirs, files in os.walk(out):
        dirs.sort()
        for name in sorted(files):
            path = Path(root) / name
            rel = path.relative_to(out).as_posix()
            if rel != FINGERPRINT_FILE:
                hashes[rel] = file_sha256(path)
    return hashes


def write_record(out: Path, fp: Fingerprint, freeze_dir: Path | None = None) -> None:
    """Store the fingerprint and the hashes of the files in ``out`` (call last, before publishing),
    and the resolved path of the freeze folder it was built from (``freeze_dir``: not part of the
    fingerprint, so that a copy of a freeze is the same build; a build refuses to replace the
    report of a freeze in another folder with other data without ``--force``)."""
    record = {"fingerprint": fp.digest, "parts": fp.parts, "outputs": output_hashes(out)}
    if freeze_dir is not None:
        record["freeze_dir"] = str(Path(freeze_dir).resolve())
    (Path(out) / FINGERPRINT_FILE).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n",
                                              encoding="utf-8")


def read_record(out: Path) -> dict | None:
    try:
        record = json.loads((Path(out) / FINGERPRINT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def up_to_date(out: Path, fp: Fingerprint) -> tuple[bool, str]:
    """Whether ``out`` was built with fingerprint ``fp`` and still holds exactly what was published.

    Returns (True, "") or (False, why not).
    """
    out = Path(out)
    if not out.is_dir():
        return False, "no previous output"
    record = read_record(out)
    if record is None:
        return False, f"no {FINGERPRINT_FILE} in the previous output"
    if record.get("fingerprint") != fp.digest:
        return False, "changed: " + ", ".join(changed_parts(record.get("parts") or {}, fp.parts))
    outputs = record.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        return False, "the previous output lists no files"
    for rel, digest in outputs.items():
        path = out / rel
        if not path.is_file() or file_sha256(path) != digest:
            return False, f"the published file {rel} is missing or was modified"
    return True, ""


def changed_parts(old: dict, new: dict) -> list[str]:
    """Which parts of the fingerprint differ (for the build log and the message)."""
    names = []
    for part in ("freeze", "previous", "code", "settings", "environment"):
        if old.get(part) != new.get(part):
            if part == "freeze" and isinstance(old.get(part), dict) and isinstance(new.get(part), dict):
                files = sorted(set(old[part]) | set(new[part]))
                names.append("freeze (" + ", ".join(f for f in files if old[part].get(f) != new[part].get(f)) + ")")
            else:
                names.append(part)
    return names or ["format"]
