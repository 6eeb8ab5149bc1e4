"""The one view of a run that the API and the CLI show."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from ongage_export.domain.run_status import (
    NotAnExecution,
    execution_arn,
    landed_location,
    status_view,
)

MACHINE = "arn:aws:states:eu-west-1:123456789012:stateMachine:Export"
EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:Export:abc_1-2"


def test_an_id_or_an_arn_of_this_machine_names_an_execution():
    assert execution_arn("abc_1-2", MACHINE) == EXECUTION
    assert execution_arn(EXECUTION, MACHINE) == EXECUTION


@pytest.mark.parametrize(
    ("execution_id", "says"),
    [
        ("a/b", "idempotency_key"),
        ("", "idempotency_key"),
        ("x" * 81, "80 at most"),
        ("arn:aws:states:eu-west-1:123456789012:execution:Other:abc", "not an execution of"),
        (EXECUTION + ":extra", "idempotency_key"),
    ],
)
def test_anything_else_is_refused_with_what_an_id_is(execution_id, says):
    with pytest.raises(NotAnExecution, match=says):
        execution_arn(execution_id, MACHINE)


def test_a_landed_run_shows_its_result_and_times_as_iso_text():
    started = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    result = {"bucket": "b", "key": "exports/x.zip"}
    view = status_view(
        {"name": "abc_1-2", "executionArn": EXECUTION, "status": "SUCCEEDED",
         "startDate": started, "output": json.dumps(result)}
    )  # fmt: skip
    assert view["result"] == result
    assert view["started_at"] == "2026-12-01T10:00:00+00:00"
    assert "error" not in view


def test_a_failed_run_shows_its_error_and_cause_and_a_running_one_neither():
    failed = {
        "name": "a",
        "executionArn": EXECUTION,
        "status": "FAILED",
        "error": "E",
        "cause": "C",
    }
    assert (status_view(failed)["error"], status_view(failed)["cause"]) == ("E", "C")
    running = status_view({**failed, "status": "RUNNING"})
    assert "error" not in running and "result" not in running


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"bucket": "b", "key": "exports/list=1/x.zip"}, ("b", "exports/list=1/x.zip")),
        ({"bucket": "other", "key": "exports/x.zip"}, ("", "")),
        ({"bucket": "b", "key": "incoming/x"}, ("", "")),
        ({"bucket": "b"}, ("", "")),
        ("landed", ("", "")),
    ],
)
def test_a_link_is_only_for_an_object_of_the_bucket_under_the_prefix(result, expected):
    assert landed_location(result, "b", "exports/") == expected
