"""Which ended runs the EventBridge announcer announces: those without the workflow's notice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ongage_export.domain.unannounced_runs import (
    NOTICE_STATES,
    EndedRun,
    NotAnEndedRun,
    announce_unless_announced,
)
from statemachine import ASL_FILE

ROOT = Path(__file__).resolve().parents[2]
ASL = ASL_FILE
FAILURE_CONTRACT = ROOT / "contracts" / "sns-failure.schema.json"
ARN = "arn:aws:states:us-east-1:123456789012:execution:Export:run-1"


def status_change(status: str = "FAILED", **detail: Any) -> dict[str, Any]:
    return {
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "detail": {
            "executionArn": ARN,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Export",
            "name": "run-1",
            "status": status,
            "startDate": 1,
            "stopDate": 2,
            "error": "States.Runtime",
            "cause": "An error occurred while executing the state 'X'",
            **detail,
        },
    }


def exited(name: str) -> dict[str, Any]:
    return {"type": "TaskStateExited", "stateExitedEventDetails": {"name": name, "output": "{}"}}


def entered(name: str) -> dict[str, Any]:
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}}


def announce(history: list[dict[str, Any]], event: dict[str, Any] | None = None) -> list[Any]:
    published: list[Any] = []
    run = EndedRun.from_event(event or status_change())
    announce_unless_announced(run, history, published.append)
    return published


def test_the_notice_states_are_the_workflows_sns_publish_states() -> None:
    states = json.loads(ASL.read_text())["States"]
    publishers = {n for n, s in states.items() if s.get("Resource", "").endswith(":sns:publish")}
    assert publishers == NOTICE_STATES


def test_a_failure_the_workflow_did_not_announce_is_announced_with_its_error_and_cause() -> None:
    history = [{"type": "ExecutionFailed"}, exited("Prepare"), entered("CreateExport")]

    (notice,) = announce(history)

    assert notice["status"] == "FAILED"
    assert (notice["error"], notice["cause"]) == (
        "States.Runtime", "An error occurred while executing the state 'X'",
    )  # fmt: skip
    assert notice["execution_arn"] == ARN
    assert notice["source"] == "eventbridge"
    schema = json.loads(FAILURE_CONTRACT.read_text())
    jsonschema.Draft202012Validator(schema).validate(notice)


def test_a_failure_whose_notice_publish_failed_is_announced() -> None:
    history = [{"type": "ExecutionFailed"}, {"type": "TaskFailed"}, entered("NotifyFailure")]

    assert len(announce(history)) == 1


@pytest.mark.parametrize("state", sorted(NOTICE_STATES))
def test_a_run_the_workflow_announced_is_not_announced_again(state: str) -> None:
    history = [{"type": "ExecutionFailed"}, {"type": "FailStateEntered"}, exited(state)]

    assert announce(history) == []


def test_the_history_is_read_only_up_to_the_workflows_notice() -> None:
    read: list[dict[str, Any]] = []

    def history() -> Any:
        for event in [exited("NotifyFailure"), exited("DescribeFailure"), exited("Prepare")]:
            read.append(event)
            yield event

    published = announce_unless_announced(EndedRun.from_event(status_change()), history(), print)

    assert published is False
    assert len(read) == 1


@pytest.mark.parametrize("status", ["TIMED_OUT", "ABORTED"])
def test_timed_out_and_aborted_runs_are_announced_with_their_status(status: str) -> None:
    event = status_change(status, error=None, cause=None)

    (notice,) = announce([exited("Prepare")], event)

    assert notice["status"] == status and status in notice["notice"]
    assert (notice["error"], notice["cause"]) == (status, notice["notice"])


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {"detail-type": "Object Created", "detail": {}},
        {"detail-type": "Step Functions Execution Status Change", "detail": "FAILED"},
        status_change("SUCCEEDED"),
        status_change("RUNNING"),
        status_change(executionArn=""),
    ],
)
def test_an_event_that_is_not_a_bad_end_is_refused_clearly(event: Any) -> None:
    with pytest.raises(NotAnEndedRun, match="expected"):
        EndedRun.from_event(event)
