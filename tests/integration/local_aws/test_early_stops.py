from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from local_aws import early_stops
from local_aws.extensions import applied

MACHINE = {"StartAt": "Linger", "States": {"Linger": {"Type": "Wait", "Seconds": 30, "End": True}}}
_PARSE = ExecutionWorker._get_evaluation_entrypoint


@pytest.fixture
def slow_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker thread takes 0.5 s to reach its environment, as on a loaded machine."""

    def parse_slowly(self: ExecutionWorker) -> Any:
        time.sleep(0.5)
        return _PARSE(self)

    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_entrypoint", parse_slowly)


def started_run() -> tuple[Any, str]:
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="m", definition=json.dumps(MACHINE), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    return sfn, sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]


def status_after_stop(sfn: Any, arn: str) -> Iterator[str]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        yield sfn.describe_execution(executionArn=arn)["status"]
        time.sleep(0.05)


def test_a_run_stopped_as_soon_as_it_started_is_aborted(aws: None, slow_start: None) -> None:
    with applied(early_stops):
        sfn, arn = started_run()
        sfn.stop_execution(executionArn=arn, error="Operator.Stop", cause="started by mistake")
        assert "ABORTED" in status_after_stop(sfn, arn)


def test_stock_moto_fails_a_stop_that_comes_before_the_first_step(
    aws: None, slow_start: None
) -> None:
    sfn, arn = started_run()
    with pytest.raises((AttributeError, ClientError)):
        sfn.stop_execution(executionArn=arn)
