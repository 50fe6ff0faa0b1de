"""The checks of ``manifest.json`` and of the freeze folder (listed files, SHA-256), in plain
Python, and the suite parameters taken from the manifest (``cutoff_date``)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from .. import values
from ..files import NAME_RE
from ..freeze import COLUMNS, FREEZE_FILES, MANIFEST, Freeze
from .report import FAILED, MAX_EXAMPLES, PASSED, WARNING, CheckResult, Missing

_REQUIRED_KEYS = ("format_version", "study", "freeze_id", "cutoff_date", "exported_at", "simulated", "files")
_KNOWN_KEYS = frozenset(_REQUIRED_KEYS) | {"source"}
_SHA_RE = re.compile(r"[0-9a-fA-F]{64}")


def manifest_checks(freeze: Freeze) -> list[CheckResult]:
    m = freeze.manifest
    out: list[CheckResult] = []

    def check(check_id, rule, problems, columns=(), *, file=MANIFEST, severity=FAILED):
        problems = list(problems)
        out.append(CheckResult(
            check_id, file, tuple(columns), rule, severity if problems else PASSED, len(problems),
            tuple(problems[:MAX_EXAMPLES]),
        ))

    present = [k for k in _REQUIRED_KEYS if k in m]
    check("manifest.required_keys", "manifest.json must contain " + ", ".join(_REQUIRED_KEYS),
          [f"missing key {k}" for k in _REQUIRED_KEYS if k not in present])
    version = m.get("format_version")
    check("manifest.format_version", "format_version must be 1 (this tool reads format version 1 only)",
          [] if type(version) is int and version == 1 else [_found(version)], ["format_version"])
    for key in ("study", "freeze_id"):
        value = m.get(key)
        ok = isinstance(value, str) and NAME_RE.fullmatch(value) is not None
        check(f"manifest.{key}",
              f"{key} must be a non-empty name of letters, digits, '.', '_' or '-' (it names the report folder)",
              [] if ok else [_found(value)], [key])
    cutoff = m.get("cutoff_date")
    cutoff_day = values.day(cutoff)
    check("manifest.cutoff_date", "cutoff_date must be a real calendar date written YYYY-MM-DD (year 1900-2199)",
          [] if cutoff_day is not None else [_found(cutoff)], ["cutoff_date"])
    exported = m.get("exported_at")
    exported_at = values.date_time(exported)
    check("manifest.exported_at", "exported_at must be an ISO 8601 date and time, e.g. 2026-11-02T08:15:00Z",
          [] if exported_at is not None else [_found(exported)], ["exported_at"])
    simulated = m.get("simulated")
    check("manifest.simulated", "simulated must be true or false (a JSON boolean, not text)",
          [] if isinstance(simulated, bool) else [_found(simulated)], ["simulated"])
    if "source" in m:
        source = m["source"]
        check("manifest.source", "source, when present, must be text",
              [] if isinstance(source, str) else [_found(source)], ["source"])

    files = m.get("files")
    files_ok = isinstance(files, dict)
    bad_entries = [] if files_ok else [f"found {type(files).__name__}"]
    if files_ok:
        bad_entries = [f"{name}: {value!r}" for name, value in files.items()
                       if not (isinstance(value, str) and _SHA_RE.fullmatch(value))]
    check("manifest.files", "files must map each CSV file name to the SHA-256 of its bytes (64 hex digits)",
          bad_entries, ["files"])
    listed = files if files_ok else {}
    check("manifest.files.lists_every_csv", "files must list every CSV of the format: " + ", ".join(FREEZE_FILES),
          [f"{f} not listed" for f in FREEZE_FILES if f not in listed], ["files"])
    check("manifest.files.no_unknown_entries", "files must list only the CSVs of the format: " + ", ".join(FREEZE_FILES),
          [f"{f} is not a file of the format" for f in listed if f not in COLUMNS], ["files"])
    check("manifest.files.no_unlisted_csv",
          "the freeze folder must not hold CSV files other than the format's (an unlisted CSV means an edited export)",
          [f"file {name}" for name in _unlisted_csvs(freeze)])
    for file in FREEZE_FILES:
        expected = listed.get(file)
        actual = freeze.file_sha256.get(file)
        if expected is None:
            problems = [f"{file} is not listed in manifest.json, its SHA-256 cannot be compared"]
        elif actual is None:
            problems = [f"{file} was not read"]
        elif not isinstance(expected, str) or expected.lower() != actual:
            problems = [f"{file} has SHA-256 {actual[:12]}…, manifest.json says {str(expected)[:12]}…"]
        else:
            problems = []
        check(f"manifest.sha256.{file.removesuffix('.csv')}",
              f"the SHA-256 of {file} must equal its entry in manifest.json files; a mismatch means the "
              "file was changed after the freeze: restore the exported file or export a new freeze "
              "(do not edit the hash)", problems, file=file)

    # warnings
    check("manifest.unknown_keys", "manifest.json has keys that the format does not define (ignored)",
          [f"key {k}" for k in m if k not in _KNOWN_KEYS], severity=WARNING)
    late = []
    if cutoff_day is not None and exported_at is not None and exported_at.date() < cutoff_day:
        late = [f"exported_at {exported} is before cutoff_date {cutoff}"]
    check("manifest.exported_after_cutoff", "exported_at is expected on or after cutoff_date", late,
          ["exported_at", "cutoff_date"], severity=WARNING)
    check("manifest.study_is_bemind", "study is expected to be BeMind (this tool is built for the BeMind trial)",
          [] if m.get("study") == "BeMind" else [f"found {m.get('study')!r}"], ["study"], severity=WARNING)
    check("manifest.no_other_files", "the freeze folder holds files that are not part of the format (ignored)",
          [f"file {name}" for name in _other_files(freeze)], severity=WARNING)
    return out


def _unlisted_csvs(freeze: Freeze) -> list[str]:
    names = set(freeze.unlisted_csvs)
    folder = Path(freeze.path)
    if folder.is_dir():  # also *.CSV etc., which the loader's glob does not see
        names |= {p.name for p in folder.iterdir() if p.suffix.lower() == ".csv" and p.name not in COLUMNS}
    return sorted(names)


def _other_files(freeze: Freeze) -> list[str]:
    folder = Path(freeze.path)
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.name not in COLUMNS and p.name != MANIFEST and p.suffix.lower() != ".csv"
                  and not p.name.startswith("."))


def parameters(freeze: Freeze) -> tuple[dict, dict[str, str]]:
    """Suite parameters, and for each one that cannot be given the reason."""
    params: dict[str, Any] = {}
    missing: dict[str, str] = {}
    cutoff = values.day(freeze.manifest.get("cutoff_date"))
    if cutoff is None:
        missing["cutoff_date"] = Missing("manifest.json cutoff_date is missing or not a date YYYY-MM-DD")
    else:
        params["cutoff_date"] = pd.Timestamp(cutoff)
    return params, missing


def _found(value) -> str:
    """The offending manifest value in words a data manager reads ("missing", not None)."""
    return "the key is missing" if value is None else f"found {json.dumps(value, ensure_ascii=False, default=str)}"

