"""The Jinja2 environment of the templates (``report_templates/``): one configuration for the
report's pages and build-all's index.  Imports only Jinja2, so the index page stays light."""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2


@functools.lru_cache(maxsize=8)
def environment(templates: Path, autoescape: bool) -> jinja2.Environment:
    """One environment per template folder: its compiled templates serve every edition and every
    build of the process (Jinja reloads a template whose file changed)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates), autoescape=autoescape,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True)


__all__ = ["environment"]
