"""EventBridge delivery of a service's event to the default bus's rules: pattern, state,
target; shown with a Step Functions "Execution Status Change" event (what a Step Functions
source would deliver the same way) and an SNS target."""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3

from local_aws import eventbridge_delivery
from tests.integration.local_aws.conftest import ACCOUNT, REGION

MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:export"
# A rule that renders its SNS message with an input transformer (not delivered here).
TRANSFORMER = {
    "InputPathsMap": {"status": "$.detail.status", "arn": "$.detail.executionArn"},
    "InputTemplate": '{"status":<status>,"execution_arn":<arn>,"source":"eventbridge"}',
}


def status_change(status: str) -> dict:
    detail = {"status": status, "executionArn": f"{MACHINE}:run-1", "stateMachineArn": MACHINE}
    return eventbridge_delivery.service_event(
        "aws.states", "Step Functions Execution Status Change", detail,
        resources=[f"{MACHINE}:run-1"], account_id=ACCOUNT, region=REGION,
    )  # fmt: skip


def topic_with_queue() -> tuple[str, str]:
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="notices")["TopicArn"]
    queue = sqs.create_queue(QueueName="notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )  # fmt: skip
    return topic, queue


def rule(topic: str, state: str = "ENABLED", **target: object) -> str:
    pattern = {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["TIMED_OUT", "ABORTED"], "stateMachineArn": [MACHINE]},
    }
    events = boto3.client("events")
    events.put_rule(Name="ended-badly", EventPattern=json.dumps(pattern), State=state)
    events.put_targets(Rule="ended-badly", Targets=[{"Id": "t", "Arn": topic, **target}])
    return str(events.describe_rule(Name="ended-badly")["Arn"])


def test_a_matching_event_reaches_an_sns_target(aws):
    topic, queue = topic_with_queue()
    rule(topic)

    assert eventbridge_delivery.deliver(status_change("SUCCEEDED")) == []  # not matched
    (delivery,) = eventbridge_delivery.deliver(status_change("TIMED_OUT"))

    assert eventbridge_delivery.deliveries.wait(timeout=30)
    assert delivery.outcome == "DELIVERED"
    (message,) = boto3.client("sqs").receive_message(QueueUrl=queue)["Messages"]
    assert json.loads(message["Body"]) == delivery.event
    assert delivery.event["detail"]["status"] == "TIMED_OUT"


def test_a_target_whose_input_is_transformed_is_not_sent_the_raw_event(aws):
    topic, queue = topic_with_queue()
    rule(topic, InputTransformer=TRANSFORMER)
    (delivery,) = eventbridge_delivery.deliver(status_change("ABORTED"))
    assert eventbridge_delivery.deliveries.wait(timeout=30)
    assert delivery.outcome == "UNSUPPORTED"
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=queue)


def test_a_disabled_rule_gets_nothing(aws):
    topic, _ = topic_with_queue()
    rule(topic, state="DISABLED")
    assert eventbridge_delivery.deliver(status_change("ABORTED")) == []


def test_a_target_of_a_service_not_delivered_here_is_recorded_as_such(aws):
    delivery = eventbridge_delivery.Delivery(
        "rule", f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/s", {}
    )
    eventbridge_delivery.send(delivery)
    assert delivery.outcome == "UNSUPPORTED"


def test_only_a_statement_for_eventbridge_and_this_rule_lets_it_invoke():
    rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/landed"
    allowed = {
        "Effect": "Allow", "Action": "lambda:InvokeFunction",
        "Principal": {"Service": "events.amazonaws.com"},
        "Condition": {"ArnLike": {"AWS:SourceArn": rule_arn}},
    }  # fmt: skip
    assert eventbridge_delivery.allows_rule([allowed], rule_arn)
    assert not eventbridge_delivery.allows_rule([allowed], rule_arn + "-other")
    assert not eventbridge_delivery.allows_rule(
        [{**allowed, "Principal": {"Service": "apigateway.amazonaws.com"}}], rule_arn
    )
    assert not eventbridge_delivery.allows_rule([], rule_arn)


def test_a_rule_that_cannot_be_evaluated_takes_nothing_and_fails_no_source():
    def broken(event: dict) -> bool:
        raise KeyError("numeric")

    rule_ = SimpleNamespace(
        state="ENABLED", arn="rule", event_pattern=SimpleNamespace(matches_event=broken)
    )
    assert eventbridge_delivery._matches(rule_, status_change("ABORTED")) is False
