"""The AnnounceRun handler against Step Functions' real history of ended runs (embedded AWS):
a failure without the workflow's notice state is announced on the topic with the execution's
error and cause; one whose notice state completed is not announced again."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from embedded_runtime import notices
from local_aws.lambda_bootstrap import LambdaContext
from ongage_export.adapters import aws_clients
from ongage_export.domain.unannounced_runs import NotAnEndedRun
from ongage_export.handlers import announce_run

REGION = "us-east-1"
BROKEN = {"Type": "Fail", "Error": "Test.Unreadable", "Cause": "the first state could not read"}


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An account with the topic (a queue subscribed to it); yields the queue's URL."""
    for name, value in {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        aws_clients.stepfunctions_client.cache_clear()
        aws_clients.sns_client.cache_clear()
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topic = sns.create_topic(Name="notices")["TopicArn"]
        queue = sqs.create_queue(QueueName="notices")["QueueUrl"]
        notices.subscribe_queue(sqs, sns, topic, queue)
        monkeypatch.setenv("TOPIC_ARN", topic)
        yield queue
    aws_clients.stepfunctions_client.cache_clear()
    aws_clients.sns_client.cache_clear()


def ended_run(states: dict[str, Any], start_at: str) -> dict[str, Any]:
    """Run a machine of `states` to its end; the status-change event Step Functions sends."""
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="export", roleArn="arn:aws:iam::123456789012:role/states",
        definition=json.dumps({"StartAt": start_at, "States": states}),
    )["stateMachineArn"]  # fmt: skip
    arn = sfn.start_execution(stateMachineArn=machine, name="run-1", input="{}")["executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.05)
    detail = {key: described.get(key) for key in ("executionArn", "stateMachineArn", "name",
                                                  "status", "error", "cause")}  # fmt: skip
    return {"detail-type": "Step Functions Execution Status Change", "detail": detail}


def context() -> LambdaContext:
    return LambdaContext("announce", 256, 60, "req-1", "arn:aws:lambda:us-east-1:1:function:a")


def test_a_failure_without_the_workflows_notice_is_announced(account: str) -> None:
    event = ended_run({"Broken": BROKEN}, "Broken")

    answer = announce_run.handler(event, context())

    (notice,) = notices.drain(boto3.client("sqs"), account)
    assert answer["announced"] is True
    assert notice["subject"] == "Ongage export FAILED"
    assert notice["attributes"] == {"status": "FAILED"}
    message = notice["message"]
    assert (message["status"], message["error"], message["cause"]) == (
        "FAILED", "Test.Unreadable", "the first state could not read",
    )  # fmt: skip
    assert message["execution_arn"] == event["detail"]["executionArn"]


def test_a_failure_the_workflow_announced_is_not_announced_again(account: str) -> None:
    states = {"NotifyFailure": {"Type": "Pass", "Next": "Broken"}, "Broken": BROKEN}
    event = ended_run(states, "NotifyFailure")

    answer = announce_run.handler(event, context())

    assert answer["announced"] is False
    assert notices.drain(boto3.client("sqs"), account) == []


def test_an_event_that_is_no_ended_run_is_refused(account: str) -> None:
    with pytest.raises(NotAnEndedRun):
        announce_run.handler({"detail-type": "Object Created", "detail": {}}, context())
    assert notices.drain(boto3.client("sqs"), account) == []
