"""The schema of ``results.json`` (``alliance_report/schemas/results.schema.json``), its check, and
the writing of the file (:func:`write_results`: deterministic JSON text, checked before it is written).

The schema (JSON Schema draft 2020-12) says which keys each edition's ``results.json`` has and
what each value is: every object has a fixed set of keys, all required (a renamed, missing or
extra key fails); estimates are numbers, or null when not estimable; P values lie in [0, 1],
percentages in [0, 100], counts are whole numbers ≥ 0.  One schema serves both editions: the
value of ``edition`` selects the closed rules (every analysis, trial conduct ``by_arm``) or the
open ones (pooled: no ``by_arm``, no arm column in Table 1, no model, no key result), so an
open ``results.json`` holding a section by arm fails.

:func:`check_results` runs on the very text :func:`write_results` writes.  Nothing here imports the
analysis: the main process writes the open edition's file without statsmodels.  A mismatch is a bug of the tool, not of the freeze: :class:`ResultsSchemaError` is an
internal error (exit 3), and the build publishes nothing (the previous output stays as it was).

One deviation from the JSON Schema standard, on purpose: ``"integer"`` means a JSON number
written without a fraction (``3``, not ``3.0``), so that a count that became a float on its way
through pandas fails here instead of being printed as "3.0".  A standard validator accepts a
little more than this module does, never less.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

SCHEMA_FILE = Path(__file__).resolve().parent / "schemas" / "results.schema.json"
MESSAGE_LIMIT = 300  # characters of the validator's message (it may quote a large value)


class ResultsSchemaError(Exception):
    """A ``results.json`` that does not match its schema (a bug of the tool: exit 3)."""

    def __init__(self, message: str, path: str):
        super().__init__(message)
        self.path = path


def schema() -> dict:
    """The schema, as a dict (a new copy each call)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def _is_whole(checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _plain_element(items: dict):
    """A quick test that an array element certainly matches ``items``, for the two element
    schemas of long arrays (numbers; a condition name); None for any other schema."""
    if items == {"type": "number"}:
        return lambda x: isinstance(x, (int, float)) and not isinstance(x, bool)
    if list(items) == ["enum"] and all(isinstance(value, str) for value in items["enum"]):
        names = frozenset(items["enum"])
        return lambda x: isinstance(x, str) and x in names
    return None


def _fast_items(standard):
    """jsonschema's ``items`` keyword, but an array of plain elements (above) is descended into
    only at the elements that fail the quick test, so the errors are the standard ones.

    Why: the diagnostics and observed points of a 100× freeze are ~150,000 numbers; descending
    into each took 6 s, the quick test takes milliseconds."""
    def items(validator, items, instance, schema):
        quick = _plain_element(items) if isinstance(items, dict) and isinstance(instance, list) else None
        if quick is None or "prefixItems" in schema:
            yield from standard(validator, items, instance, schema)
            return
        for index, item in enumerate(instance):
            if not quick(item):
                yield from validator.descend(item, items, path=index)
    return items


@functools.lru_cache(maxsize=1)
def _validator():
    import jsonschema

    base = jsonschema.Draft202012Validator
    strict = jsonschema.validators.extend(base, validators={"items": _fast_items(base.VALIDATORS["items"])},
                                          type_checker=base.TYPE_CHECKER.redefine("integer", _is_whole))
    return strict(schema())


def key_path(parts) -> str:
    """``conduct.sites[0].by_arm`` from the parts of a JSON path ("the top level" for none)."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the top level"


def check_results(results: dict) -> None:
    """Raise :class:`ResultsSchemaError` naming the first failing key path unless ``results``
    (as parsed from the JSON text, so that a count written ``3.0`` is a float) matches the schema.

    The error shown is jsonschema's ``best_match`` (the deepest, most specific one); how many
    more there are is said too."""
    from jsonschema.exceptions import best_match

    errors = list(_validator().iter_errors(results))
    if not errors:
        return
    error = best_match(errors)
    path = key_path(error.absolute_path)
    message = error.message if len(error.message) <= MESSAGE_LIMIT else error.message[:MESSAGE_LIMIT] + " …"
    more = f" (and {len(errors) - 1} more mismatch{'es' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
    edition = results.get("edition") if isinstance(results, dict) else None
    which = f"the {edition} edition's results.json" if edition in ("closed", "open") else "results.json"
    raise ResultsSchemaError(f"{which} does not match its schema at {path}: {message}{more} "
                             f"(schema: alliance_report/schemas/{SCHEMA_FILE.name})", path)


def _clean(value):
    """NaN/inf are not JSON: they become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def results_json(results: dict) -> str:
    """Deterministic JSON text (stable key order as built, full float precision)."""
    return json.dumps(_clean(results), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_results(results: dict, path: Path) -> None:
    """Write ``results.json`` once its text matches the schema;
    otherwise raise ``ResultsSchemaError`` (a bug: exit 3) and write nothing."""
    text = results_json(results)
    check_results(json.loads(text))
    path.write_text(text, encoding="utf-8")
