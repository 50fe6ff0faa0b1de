"""Running Great Expectations: the ephemeral context (created once per process, imported lazily
because it costs seconds, with analytics and progress bars off and its logging and warnings
silenced) and one suite's run on a file's header and checked frame.

Expectations about the table's columns run on the CSV's header as read, all others on the
checked frame.  Expectations sharing a ``row_condition`` run together, in one GE run, on the rows
meeting it (filtered once, by ``condition_mask``, with GE's semantics); the others in one run per
file.  A first pass asks GE only pass/fail; failed expectations run again for counts and examples.
"""

from __future__ import annotations

import json
import logging
import os
import warnings

import numpy as np
import pandas as pd

from ..freeze import COLUMNS
from .outcomes import merge, outcome
from .report import NOT_CHECKED, UNCHECKED, CheckResult, Missing, no_column
from .suites import TABLE_TYPES, SuiteError, parameter_names, referenced_columns


class GX:
    """The ephemeral GE context and one pandas batch definition, created once per process."""

    _state: tuple | None = None

    def __init__(self):
        if GX._state is None:
            GX._state = self._create()
        self.gx, self.ExpectationConfiguration, self.batch_definition = GX._state

    @staticmethod
    def _create():
        os.environ["GX_ANALYTICS_ENABLED"] = "False"
        logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import great_expectations as gx
            from great_expectations.data_context.types.base import (
                DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
            )
            from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

            logging.getLogger("great_expectations").setLevel(logging.CRITICAL)
            config = DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            )
            context = gx.get_context(project_config=config, mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            asset = context.data_sources.add_pandas("freeze").add_dataframe_asset("table")
            batch_definition = asset.add_batch_definition_whole_dataframe("whole table")
        return gx, ExpectationConfiguration, batch_definition

    def validate(self, frame: pd.DataFrame, expectations: list[dict], params: dict) -> list:
        """Validate ``frame``; one GE result per expectation, in order.

        A first pass asks only pass/fail (cheap); the expectations that did not pass are run
        again with the "SUMMARY" result format for the count and example rows."""
        results = self._run(frame, expectations, params, {"result_format": "BOOLEAN_ONLY"})
        again = [i for i, r in enumerate(results) if r is None or not r.success]
        if again:
            detailed = self._run(frame, [expectations[i] for i in again], params,
                                 {"result_format": "SUMMARY", "partial_unexpected_count": 20})
            for i, r in zip(again, detailed):
                results[i] = r
        return results

    def _run(self, frame: pd.DataFrame, expectations: list[dict], params: dict, result_format: dict) -> list:
        if not expectations:
            return []
        # GE copies each expectation's configuration many times: keep meta minimal
        configs = [
            self.ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta={"position": i})
            for i, exp in enumerate(expectations)
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            suite = self.gx.ExpectationSuite(name="checks", expectations=[c.to_domain_obj() for c in configs])
            batch = self.batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(suite, expectation_parameters=params, result_format=result_format)
        by_position: list = [None] * len(expectations)
        for r in result.results:
            by_position[r.expectation_config.meta["position"]] = r
        return by_position


def run_suite(runner: GX, suite: dict, raw: pd.DataFrame, frame: pd.DataFrame, unavailable: dict[str, str],
              params: dict, missing_params: dict[str, str]) -> list[CheckResult]:
    """Run one suite on a file's header and on its checked frame.

    Expectations with the same row_condition run together, in one GE run, on the rows meeting it
    (filtered once here: GE would filter the whole frame again for every metric of every
    expectation, which costs more than a GE run even on small frames)."""
    file = suite["meta"]["file"]
    header = pd.DataFrame({name: pd.Series(dtype=object) for name in raw.columns})
    expectations = suite["expectations"]
    outcomes: list = [None] * len(expectations)
    groups: dict[tuple[bool, str], list[int]] = {}
    for i, exp in enumerate(expectations):
        on_header = exp["type"] in TABLE_TYPES
        reasons = _why_not_runnable(exp, file, header if on_header else frame, unavailable, missing_params)
        if reasons and all(isinstance(r, Missing) for r in reasons):  # knock-ons of a failed check
            outcomes[i] = (exp, UNCHECKED, 0, reasons)
        elif reasons:
            outcomes[i] = (exp, "error", 0, [NOT_CHECKED + "; ".join(reasons)])
        else:
            condition = json.dumps(exp["kwargs"].get("row_condition"), sort_keys=True)
            groups.setdefault((on_header, condition), []).append(i)
    _unify_pair_categories(frame, [expectations[i] for (on_header, _), idx in groups.items() if not on_header
                                   for i in idx])
    for (on_header, condition), indices in groups.items():
        target = header if on_header else _rows_meeting(frame, json.loads(condition))
        group = [dict(expectations[i], kwargs=_without_condition(expectations[i]["kwargs"])) for i in indices]
        if not on_header:  # only the columns these expectations use (GE hashes and copies the frame)
            used = {c for exp in group for c in referenced_columns(exp)}
            if "participant_id" in target.columns:
                used.add("participant_id")
            target = target[[c for c in target.columns if c in used]]
        try:
            results = runner.validate(target, group, params)
        except Exception as exc:  # noqa: BLE001 - fail closed: these checks did not run
            message = f"{NOT_CHECKED}Great Expectations failed ({type(exc).__name__}: {exc})"
            for i in indices:
                outcomes[i] = (expectations[i], "error", 0, [message])
            continue
        for i, result in zip(indices, results):
            outcomes[i] = outcome(expectations[i], result, target, frame)
    return merge(file, outcomes, params)


def _why_not_runnable(exp: dict, file: str, target: pd.DataFrame, unavailable: dict[str, str],
                      missing_params: dict[str, str]) -> list[str]:
    """Why ``exp`` cannot run on ``target`` (a column it reads is missing or was not computed, a
    parameter has no value), each reason once; empty when it can run."""
    reasons: list[str] = []
    for column in dict.fromkeys(referenced_columns(exp)):
        if column not in target.columns:
            reasons.append(unavailable.get(column) or (
                no_column(file, column) if column in COLUMNS[file] else f"{column} was not computed"))
    reasons += [missing_params[n] for n in parameter_names(exp["kwargs"]) if n in missing_params]
    return list(dict.fromkeys(reasons))


def _without_condition(kwargs: dict) -> dict:
    return {k: v for k, v in kwargs.items() if k not in ("row_condition", "condition_parser")}


def _rows_meeting(frame: pd.DataFrame, condition: dict | None) -> pd.DataFrame:
    """The rows of ``frame`` meeting a GE row_condition (same semantics as GE's pandas query)."""
    if condition is None:
        return frame
    return frame[condition_mask(frame, condition)]


def condition_mask(frame: pd.DataFrame, condition: dict) -> np.ndarray:
    kind = condition.get("type")
    if kind in ("and", "or"):
        masks = [condition_mask(frame, c) for c in condition["conditions"]]
        return np.logical_and.reduce(masks) if kind == "and" else np.logical_or.reduce(masks)
    column = frame[condition["column"]["name"]]
    if kind == "nullity":
        return (column.isna() if condition["is_null"] else column.notna()).to_numpy()
    if kind == "comparison":
        op, value = condition["operator"], condition["parameter"]
        if op == "==":
            return (column == value).to_numpy(dtype=bool)
        if op == "!=":
            return (column != value).to_numpy(dtype=bool)
        if op == "IN":
            return column.isin(value).to_numpy(dtype=bool)
        if op == "NOT_IN":
            return ~column.isin(value).to_numpy(dtype=bool)
    raise SuiteError(f"row_condition not supported by this validator: {condition}")


def _unify_pair_categories(frame: pd.DataFrame, expectations: list[dict]) -> None:
    """Categoricals compared pairwise must share their categories (pandas refuses otherwise)."""
    columns = set()
    for exp in expectations:
        kwargs = exp["kwargs"]
        if "column_A" in kwargs:
            pair = [kwargs["column_A"], kwargs["column_B"]]
            if all(isinstance(frame[c].dtype, pd.CategoricalDtype) for c in pair):
                columns.update(pair)
    if columns:
        union = pd.Index([], dtype=object)
        for c in sorted(columns):
            union = union.union(pd.Index(frame[c].cat.categories, dtype=object))
        for c in columns:
            frame[c] = frame[c].cat.set_categories(union)

