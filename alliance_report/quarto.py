"""The Quarto renderer (``--renderer quarto``): ``quarto render report.qmd`` into ``quarto/`` of
the output, after WeasyPrint's files (which stay), when the Quarto CLI is on PATH.

Without Quarto the build is the usual one (the command line says so): ``effective_settings``
records the renderer that actually runs, so the fingerprint of such a build is that of a
WeasyPrint build.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from alliance_report.errors import BuildError
from alliance_report.settings import Settings

RENDERERS = ("weasyprint", "quarto")


def quarto_executable() -> str | None:
    return shutil.which("quarto")


def effective_settings(settings: Settings, renderer: str) -> dict:
    """What the outputs depend on: the Settings, and Quarto only when it actually runs."""
    quarto = renderer == "quarto" and quarto_executable() is not None
    return {**settings.as_dict(), "renderer": "quarto" if quarto else "weasyprint"}


def render_quarto(folder: Path) -> None:
    """``quarto render report.qmd`` into ``quarto/`` of an edition's folder (WeasyPrint's files stay)."""
    exe = quarto_executable()
    proc = subprocess.run([exe, "render", "report.qmd", "--output-dir", "quarto"], cwd=folder,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BuildError(f"quarto render report.qmd failed (exit code {proc.returncode}); "
                         f"nothing was published\n{tail}", exit_code=3)
