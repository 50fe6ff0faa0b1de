"""Table 1 — baseline characteristics of the treated population (analysis plan item 2).

Per condition and overall: age mean (SD); sex, partner, children, education, cancer type
and treatment intent n (%); months since diagnosis median (IQR, linear interpolation as
R's default type 7); baseline HADS total, anxiety, depression and MHC-SF mean (SD).

Standardized difference (eMBCT − MBCT; Austin, Stat Med 2009;28:3083):
continuous d = (m₁ − m₀)/√((s₁² + s₀²)/2); a category level d = (p₁ − p₀)/√((p₁(1−p₁) + p₀(1−p₀))/2).
Paper-style tests: Student's t test (pooled variance) for continuous rows, Pearson's χ²
without continuity correction on the variable's full condition × level table.
Percentages use the participants with a known value as the denominator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from alliance_report.design import COMPARED_CONDITION, CONDITIONS, PARTICIPANT_LEVELS, REFERENCE_CONDITION
from alliance_report.analysis.samples import treated

MEDIAN_IQR = ("months_since_diagnosis",)
# variable → levels shown (a two-level variable shows its first level: female, yes, curative)
CATEGORIES = {variable: levels if len(levels) > 2 else levels[:1] for variable, levels in PARTICIPANT_LEVELS.items()}
ROW_ORDER = ("age", "sex", "partner", "children", "education", "cancer_type", "treatment_intent",
             "months_since_diagnosis", "baseline_hads", "baseline_hads_anxiety",
             "baseline_hads_depression", "baseline_mhcsf")


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def standardized_difference_continuous(x1: pd.Series, x0: pd.Series) -> float | None:
    """d = (m₁ − m₀)/√((s₁² + s₀²)/2), SDs with n − 1 (Austin, Stat Med 2009;28:3083); None with
    fewer than 2 values in a group or no variance."""
    if len(x1) < 2 or len(x0) < 2:
        return None
    pooled = np.sqrt((x1.var(ddof=1) + x0.var(ddof=1)) / 2)
    return _finite((x1.mean() - x0.mean()) / pooled) if pooled > 0 else None


def standardized_difference_proportion(p1: float, p0: float) -> float | None:
    """d = (p₁ − p₀)/√((p₁(1−p₁) + p₀(1−p₀))/2) (Austin, Stat Med 2009;28:3083); None when both
    proportions are 0 or 1."""
    pooled = np.sqrt((p1 * (1 - p1) + p0 * (1 - p0)) / 2)
    return _finite((p1 - p0) / pooled) if pooled > 0 else None


def _groups(sample: pd.DataFrame, variable: str, conditions: tuple[str, ...]) -> dict[str, pd.Series]:
    values = {c: sample.loc[sample["condition"] == c, variable].dropna() for c in conditions}
    values["overall"] = sample[variable].dropna()
    return values


def _t_test(x1: pd.Series, x0: pd.Series) -> dict:
    if len(x1) < 2 or len(x0) < 2 or (x1.var(ddof=1) == 0 and x0.var(ddof=1) == 0):
        return {"name": "t", "statistic": None, "df": None, "p": None}
    result = stats.ttest_ind(x1.astype(float), x0.astype(float), equal_var=True)
    return {"name": "t", "statistic": float(result.statistic), "df": int(len(x1) + len(x0) - 2),
            "p": float(result.pvalue)}


def _chi2_test(sample: pd.DataFrame, variable: str) -> dict:
    table = pd.crosstab(sample[variable], sample["condition"]).reindex(columns=list(CONDITIONS), fill_value=0)
    table = table.loc[table.sum(axis=1) > 0]
    if table.shape[0] < 2 or (table.sum(axis=0) == 0).any():
        return {"name": "chi2", "statistic": None, "df": None, "p": None}
    chi2, p, df, _ = stats.chi2_contingency(table.to_numpy(), correction=False)
    return {"name": "chi2", "statistic": float(chi2), "df": int(df), "p": float(p)}


def _continuous_row(sample: pd.DataFrame, variable: str, kind: str, conditions: tuple[str, ...]) -> dict:
    groups = _groups(sample, variable, conditions)
    cells = {}
    for group, values in groups.items():
        n = int(len(values))
        if kind == "mean_sd":
            cells[group] = {"n": n, "mean": float(values.mean()) if n else None,
                            "sd": float(values.std(ddof=1)) if n > 1 else None}
        else:
            cells[group] = {"n": n, "median": float(values.median()) if n else None,
                            "q1": float(values.quantile(0.25)) if n else None,
                            "q3": float(values.quantile(0.75)) if n else None}
    row = {"variable": variable, "level": None, "kind": kind, "cells": cells}
    if conditions:
        reference, compared = groups[REFERENCE_CONDITION], groups[COMPARED_CONDITION]
        row |= {"smd": standardized_difference_continuous(compared, reference), "test": _t_test(compared, reference)}
    return row


def _category_rows(sample: pd.DataFrame, variable: str, levels: tuple[str, ...],
                   conditions: tuple[str, ...]) -> list[dict]:
    groups = _groups(sample, variable, conditions)
    rows = []
    for level in levels:
        cells, shares = {}, {}
        for group, values in groups.items():
            n, total = int((values == level).sum()), int(len(values))
            shares[group] = n / total if total else None
            cells[group] = {"n": n, "denominator": total,
                            "pct": 100 * n / total if total else None}  # 100·n/N: 23 of 40 is 57.5 exactly
        row = {"variable": variable, "level": level, "kind": "n_pct", "cells": cells}
        if conditions:
            compared, reference = shares[COMPARED_CONDITION], shares[REFERENCE_CONDITION]
            row["smd"] = (standardized_difference_proportion(compared, reference)
                          if compared is not None and reference is not None else None)
            row["test"] = _chi2_test(sample, variable)
        rows.append(row)
    return rows


def baseline_characteristics(data: pd.DataFrame, conditions: tuple[str, ...] = CONDITIONS) -> dict:
    """The ``baseline_characteristics`` object of results.json (Table 1).

    ``conditions=()`` gives the overall column only, without standardized differences or tests
    (the open edition)."""
    sample = treated(data)
    counts = sample["condition"].value_counts()
    result = {"n": {c: int(counts.get(c, 0)) for c in conditions} | {"overall": int(len(sample))},
              "rows": []}
    for variable in ROW_ORDER:
        if variable in CATEGORIES:
            result["rows"].extend(_category_rows(sample, variable, CATEGORIES[variable], conditions))
        else:
            kind = "median_iqr" if variable in MEDIAN_IQR else "mean_sd"
            result["rows"].append(_continuous_row(sample, variable, kind, conditions))
    return result
