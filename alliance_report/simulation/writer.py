"""Writing a simulated freeze: the five CSV files and the manifest (``simulated: true``), never
into a folder that holds anything but a simulated freeze."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from alliance_report import __version__
from alliance_report.freeze import MANIFEST
from alliance_report.simulation.dates import iso_date
from alliance_report.simulation.parameters import DEMO_CUTOFF, DEMO_SEED, STUDY
from alliance_report.simulation.tables import build_tables


def simulate_freeze(out_dir, *, seed: int = DEMO_SEED, n_screened: int | None = None, n_randomized: int = 245,
                    cutoff_date: str | None = None, freeze_id: str | None = None, force: bool = False) -> Path:
    """Simulate the BeMind trial and write a freeze (format v1, ``simulated: true``) into ``out_dir``.

    ``n_screened=None`` screens 1.75 persons per randomized participant.  ``cutoff_date=None``
    is :data:`DEMO_CUTOFF`, after which every participant's follow-up is complete; an earlier
    date gives an interim freeze of the same simulated trial.  ``freeze_id`` defaults to the
    cut-off date.  Returns the freeze folder.

    ``out_dir`` must be new or empty; ``force`` replaces a simulated freeze (manifest
    ``"simulated": true``) there.  A folder holding anything else, above all a real freeze
    (``"simulated": false``, or CSV files without a manifest), is never written into:
    ValueError, before anything is written.
    """
    out = Path(out_dir)
    _check_simulation_target(out, force)
    cutoff = iso_date(DEMO_CUTOFF if cutoff_date is None else cutoff_date)
    files = build_tables(seed=seed, n_screened=n_screened, n_randomized=n_randomized, cutoff_date=cutoff)
    new = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    strays = sorted(p.name for p in out.glob("*.csv") if p.name not in files)
    if strays:
        raise ValueError(f"{out} holds other CSV files ({', '.join(strays)}); they would make the freeze invalid")
    manifest = _manifest(files, cutoff, seed, freeze_id)
    written = []
    try:
        for name, data in files.items():
            written.append(out / name)
            (out / name).write_bytes(data)
        written.append(out / MANIFEST)
        (out / MANIFEST).write_bytes((json.dumps(manifest, indent=2) + "\n").encode("utf-8"))
    except OSError:  # a full disk, say: no half-written freeze is left (a later simulate would refuse it)
        for path in written:
            path.unlink(missing_ok=True)
        if new:
            try:
                out.rmdir()
            except OSError:
                pass
        raise
    return out


def _manifest(files: dict[str, bytes], cutoff: str, seed: int, freeze_id: str | None) -> dict:
    """The manifest of the freeze: exported at 08:00 UTC the day after the cut-off."""
    exported = np.datetime64(cutoff, "D") + 1
    return {
        "format_version": 1,
        "study": STUDY,
        "freeze_id": cutoff if freeze_id is None else str(freeze_id),
        "cutoff_date": cutoff,
        "exported_at": f"{exported}T08:00:00Z",
        "source": f"simulate (alliance-report {__version__}) seed {seed}",
        "simulated": True,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
    }


def _check_simulation_target(out: Path, force: bool) -> None:
    """Refuse (ValueError) a folder that ``simulate_freeze`` must not write into (see there)."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    manifest_path = out / MANIFEST
    if manifest_path.exists() or manifest_path.is_symlink():
        simulated = None  # a FIFO, a folder, a huge file: not read, and not a simulated freeze
        try:
            if manifest_path.is_file() and manifest_path.stat().st_size <= 1 << 20:
                simulated = json.loads(manifest_path.read_bytes().decode("utf-8-sig")).get("simulated")
        except (OSError, ValueError, AttributeError):
            pass
        if simulated is not True:
            says = "says \"simulated\": false" if simulated is False else "does not say \"simulated\": true"
            raise ValueError(f"--out {out}: holds a freeze that is not simulated (its {MANIFEST} {says}); "
                             "a simulation never replaces it, name a new or empty folder")
        if not force:
            raise ValueError(f"--out {out}: holds a simulated freeze already; --force replaces it, "
                             "or name a new or empty folder")
        return
    if any(out.glob("*.csv")):
        raise ValueError(f"--out {out}: holds CSV files without a {MANIFEST} (an export?); a simulation "
                         "never writes there, name a new or empty folder")
    raise ValueError(f"--out {out}: is not empty and holds no simulated freeze; name a new or empty folder")
