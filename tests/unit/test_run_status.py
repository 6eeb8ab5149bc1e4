"""The one view of a run that the API and the CLI show."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from ongage_export.domain.run_status import (
    NotAnExecution,
    UnknownRun,
    execution_arn,
    landed_location,
    run_status,
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


class FakeExecutions:
    def __init__(self, *known: Mapping[str, Any]) -> None:
        self.known = {execution["executionArn"]: execution for execution in known}

    def describe(self, execution_arn: str) -> Mapping[str, Any] | None:
        return self.known.get(execution_arn)


class FakeSigner:
    def generate_presigned_url(
        self, ClientMethod: str, Params: Mapping[str, Any], ExpiresIn: int
    ) -> str:
        return f"https://signed/{Params['Bucket']}/{Params['Key']}?expires={ExpiresIn}"


def _landed(bucket: str, key: str) -> dict[str, Any]:
    return {"executionArn": EXECUTION, "name": "abc_1-2", "status": "SUCCEEDED",
            "output": json.dumps({"bucket": bucket, "key": key, "export_id": 7})}  # fmt: skip


def test_the_run_status_of_a_landed_export_links_it_within_the_bucket_given():
    signer = FakeSigner()
    view = run_status(FakeExecutions(_landed("b", "exports/x.zip")), EXECUTION,
                      signer=signer, link_seconds=600, bucket="b", prefix="exports/")  # fmt: skip
    assert view["download_url"] == "https://signed/b/exports/x.zip?expires=600"
    assert (view["location"], view["export_id"]) == ("s3://b/exports/x.zip", "7")
    elsewhere = run_status(FakeExecutions(_landed("other", "exports/x.zip")), EXECUTION,
                           signer=signer, link_seconds=600, bucket="b")  # fmt: skip
    assert "download_url" not in elsewhere and elsewhere["status"] == "SUCCEEDED"


def test_the_run_status_of_an_unknown_run_says_so_by_its_id():
    with pytest.raises(UnknownRun, match="no run 'abc_1-2' on this stack"):
        run_status(FakeExecutions(), EXECUTION, signer=FakeSigner(), link_seconds=600)
