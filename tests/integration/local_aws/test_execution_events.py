"""Step Functions sends one "Execution Status Change" event, shaped as AWS documents it, when a
Standard execution ends; the default bus's rules whose pattern matches get it (here an SNS
target, read through an SQS subscription), after the execution's history is final."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from local_aws import early_stops, eventbridge_delivery, execution_events, extensions
from tests.integration.local_aws.conftest import ACCOUNT, REGION
from tests.integration.local_aws.test_eventbridge_delivery import topic_with_queue

DEFINITION = {
    "StartAt": "Route",
    "States": {
        "Route": {
            "Type": "Choice",
            "Choices": [{"Variable": "$.fail", "IsPresent": True, "Next": "Broken"}],
            "Default": "Linger",
        },
        "Broken": {"Type": "Fail", "Error": "Custom.Broken", "Cause": "asked to fail"},
        "Linger": {"Type": "Wait", "Seconds": 30, "End": True},
    },
}


@pytest.fixture
def machine(aws: None) -> Iterator[str]:
    with extensions.applied(execution_events, early_stops):
        arn = boto3.client("stepfunctions").create_state_machine(
            name="export",
            definition=json.dumps(DEFINITION),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/states",
        )["stateMachineArn"]
        yield str(arn)


def watch(machine: str, statuses: list[str]) -> str:
    """A rule on `machine`'s status changes to an SNS topic; the queue subscribed to it."""
    topic, queue = topic_with_queue()
    pattern = {
        "source": ["aws.states"],
        "detail-type": [execution_events.DETAIL_TYPE],
        "detail": {"status": statuses, "stateMachineArn": [machine]},
    }
    events = boto3.client("events")
    events.put_rule(Name="ended", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="ended", Targets=[{"Id": "notices", "Arn": topic}])
    return queue


def ended(arn: str) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + 30
    while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running"
        time.sleep(0.05)
    assert eventbridge_delivery.deliveries.wait(30)
    return dict(sfn.describe_execution(executionArn=arn))


def received(queue: str) -> list[dict[str, Any]]:
    answer = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


def test_a_failed_execution_sends_its_status_change_with_error_and_cause(machine: str) -> None:
    queue = watch(machine, ["FAILED", "ABORTED"])
    sfn = boto3.client("stepfunctions")

    arn = sfn.start_execution(stateMachineArn=machine, name="run-1", input='{"fail": 1}')[
        "executionArn"
    ]
    described = ended(arn)

    (event,) = received(queue)
    assert (event["source"], event["detail-type"]) == ("aws.states", execution_events.DETAIL_TYPE)
    assert (event["account"], event["region"], event["resources"]) == (ACCOUNT, REGION, [arn])
    detail = event["detail"]
    assert detail["status"] == described["status"] == "FAILED"
    assert (detail["error"], detail["cause"]) == ("Custom.Broken", "asked to fail")
    assert (detail["executionArn"], detail["stateMachineArn"], detail["name"]) == (
        arn, machine, "run-1",
    )  # fmt: skip
    assert json.loads(detail["input"]) == {"fail": 1}
    assert detail["startDate"] <= detail["stopDate"]
    # The history is final when the event is sent: a target reading it sees the end.
    history = sfn.get_execution_history(executionArn=arn)["events"]
    assert history[-1]["type"] == "ExecutionFailed"


def test_a_stopped_execution_sends_aborted_and_an_unmatched_status_goes_nowhere(
    machine: str,
) -> None:
    queue = watch(machine, ["ABORTED"])
    sfn = boto3.client("stepfunctions")
    failed = sfn.start_execution(stateMachineArn=machine, name="failed", input='{"fail": 1}')[
        "executionArn"
    ]
    ended(failed)
    assert received(queue) == []  # FAILED is not in this rule's pattern

    arn = sfn.start_execution(stateMachineArn=machine, name="stopped", input="{}")["executionArn"]
    sfn.stop_execution(executionArn=arn, error="Operator.Stop", cause="by hand")
    ended(arn)

    (event,) = received(queue)
    assert (event["detail"]["status"], event["detail"]["executionArn"]) == ("ABORTED", arn)


def test_without_the_extension_moto_sends_no_status_change(aws: None) -> None:
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="plain", definition=json.dumps(DEFINITION), roleArn=f"arn:aws:iam::{ACCOUNT}:role/s"
    )["stateMachineArn"]
    queue = watch(machine, ["FAILED"])

    ended(
        sfn.start_execution(stateMachineArn=machine, name="r", input='{"fail": 1}')["executionArn"]
    )

    assert received(queue) == []
