"""Step Functions behind the run status: an unknown execution is None, anything else is raised;
the latest job is the newest one any state carried."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from ongage_export.adapters.step_functions import StepFunctionsRuns, latest_progress

ARN = "arn:aws:states:eu-west-1:123456789012:execution:Export:run-1"


class FakeSfn:
    def __init__(self, code: str | None = None, events: list[dict[str, Any]] | None = None):
        self.code, self.events = code, events or []

    def describe_execution(self, *, executionArn: str) -> dict[str, Any]:
        if self.code:
            raise ClientError({"Error": {"Code": self.code, "Message": "m"}}, "DescribeExecution")
        return {"executionArn": executionArn, "status": "RUNNING"}

    def get_paginator(self, name: str) -> FakeSfn:
        assert name == "get_execution_history"
        return self

    def paginate(self, **_: Any) -> list[dict[str, Any]]:
        return [{"events": self.events[:2]}, {"events": self.events[2:]}]


@pytest.mark.parametrize("code", ["ExecutionDoesNotExist", "InvalidArn"])
def test_an_unknown_execution_is_none(code: str) -> None:
    assert StepFunctionsRuns(FakeSfn(code)).describe(ARN) is None


def test_other_errors_are_raised_and_a_known_execution_is_described() -> None:
    with pytest.raises(ClientError):
        StepFunctionsRuns(FakeSfn("AccessDeniedException")).describe(ARN)
    assert StepFunctionsRuns(FakeSfn()).describe(ARN) == {"executionArn": ARN, "status": "RUNNING"}


def test_the_latest_progress_is_the_last_state_entered_and_the_newest_job() -> None:
    def entered(name: str, job: int | None) -> dict[str, Any]:
        carried = json.dumps({"job": {"polls": job}} if job is not None else {})
        return {"stateEnteredEventDetails": {"name": name, "input": carried}}

    exited = {"stateExitedEventDetails": {"output": json.dumps({"job": {"polls": 2}})}}
    events = [entered("CreateExport", None), entered("WaitForExport", 1), exited,
              entered("RetrieveExport", None)]  # fmt: skip
    assert latest_progress(FakeSfn(events=events), ARN) == ("RetrieveExport", {"polls": 2})
