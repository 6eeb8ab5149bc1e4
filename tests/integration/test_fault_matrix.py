"""Every fault in the matrix ends as expected, with nothing lost, duplicated or leaked."""

from __future__ import annotations

import pytest

from fault_injection.matrix import run_case
from fault_injection.matrix_cases import CASES, Case


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_fault(case: Case) -> None:
    result = run_case(case)
    assert result.ok, result.problems
    assert len(result.statuses) == (1 if case.same_name else case.runs)
    if case.reserved_concurrency:
        assert result.ongage_peak_parallel <= 10
    if case.name.startswith("Lambda throttling"):
        assert result.lambda_throttles > 0  # the limit really bit, and the retries absorbed it
