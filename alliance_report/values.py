"""The value syntax of a freeze's text cells (``shared/spec/freeze-format.md``), in one place.

* a date is a real calendar date written ``YYYY-MM-DD``, year 1900-2199;
* an integer is written with digits only (``-?[0-9]+``);
* a number uses ``.`` as decimal mark (``-?[0-9]+(\\.[0-9]+)?``: 14 or 3.5, not 1e3);
* an integer or number with more digits than a float holds (about 308) is not one: it would read
  as infinity (or, past 4,300 digits, not convert at all);
* the manifest's ``exported_at`` is an ISO 8601 date and time.

The dates and times themselves are read by :mod:`alliance_report.dates` (no numpy or pandas: the
command line's no-change path uses them too); this module adds the column parsers.

A text that does not follow the syntax parses to None / NaT / NaN: validation's typed views
(``age__int`` ...) are empty where the cell is empty *or unparseable*, and a check on the view
then fails.  ``freeze.typed_tables`` uses the same column parsers on a freeze that passed
validation, where every non-empty cell parses.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np
import pandas as pd

from alliance_report.dates import date_time, day  # noqa: F401  (the dates of the syntax; also values.day ...)

_INT_RE = re.compile(r"-?[0-9]+")
_NUM_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_NAT = np.datetime64("NaT", "ns")


def _date(text: str) -> np.datetime64:
    parsed = day(text)
    return _NAT if parsed is None else np.datetime64(parsed, "ns")


def _integer(text: str) -> float:
    if not _INT_RE.fullmatch(text):
        return np.nan
    try:
        return float(int(text))
    except (ValueError, OverflowError):  # over 4,300 digits (int's limit) or past a float's range
        return np.nan


def _number(text: str) -> float:
    if not _NUM_RE.fullmatch(text):
        return np.nan
    number = float(text)
    return number if math.isfinite(number) else np.nan  # 400 digits would read as infinity


def _parsed(column: pd.Series, parse: Callable[[str], Any], dtype: str) -> pd.Series:
    """Apply ``parse`` once to each distinct value of a text column (categorical or of str/None);
    a missing cell stays missing."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes, distinct = column.cat.codes.to_numpy(), column.cat.categories
    else:
        codes, distinct = pd.factorize(column.to_numpy(dtype=object))
    na = _NAT if dtype.startswith("datetime") else np.nan
    parsed = np.array([parse(str(value)) for value in distinct] + [na], dtype=dtype)
    return pd.Series(parsed[codes], index=column.index)  # code -1 (missing) takes the last: na


def dates(column: pd.Series, unit: str = "ns") -> pd.Series:
    """The dates of a text column (NaT where empty or not a date), ``datetime64[unit]``."""
    return _parsed(column, _date, f"datetime64[{unit}]")


def integers(column: pd.Series) -> pd.Series:
    """The integers of a text column as float64 (NaN where empty or not an integer)."""
    return _parsed(column, _integer, "float64")


def numbers(column: pd.Series) -> pd.Series:
    """The numbers of a text column as float64 (NaN where empty or not a number)."""
    return _parsed(column, _number, "float64")
