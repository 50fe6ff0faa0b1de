"""A test-only memo of Great Expectations runs, for the whole test session (each test process
has its own; conftest makes it autouse).

GE costs ~10 ms per expectation whatever the data, so the tests reuse a run when its
input — the checked frame, the expectations and the parameters — is exactly the same
(keyed by a SHA-256 of all of it).  Production code has no cache.
"""

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from alliance_report.validation.runner import GX


def _digest(frame: pd.DataFrame, expectations: list, params: dict, result_format: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([expectations, result_format], sort_keys=True, default=str).encode())
    h.update(repr(sorted((k, repr(v)) for k, v in params.items())).encode())
    h.update(json.dumps([str(c) for c in frame.columns]).encode())
    h.update(np.asarray(frame.index, dtype=np.int64).tobytes())
    for name in frame.columns:
        column = frame[name]
        h.update(str(column.dtype).encode())
        if isinstance(column.dtype, pd.CategoricalDtype):
            h.update(repr([repr(c) for c in column.cat.categories]).encode())
            h.update(column.cat.codes.to_numpy().tobytes())
        elif column.dtype == object:
            h.update(repr([repr(v) for v in column.tolist()]).encode())
        else:
            h.update(np.ascontiguousarray(column.to_numpy()).tobytes())
    return h.hexdigest()


@pytest.fixture(autouse=True, scope="session")
def memo_ge_runs():
    real_run = GX._run
    memo: dict[str, list] = {}

    def run(self, frame, expectations, params, result_format):
        key = _digest(frame, expectations, params, result_format)
        if key not in memo:
            memo[key] = real_run(self, frame, expectations, params, result_format)
        return list(memo[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GX, "_run", run)
        yield memo
