"""The stack's SNS notices read back through an SQS queue subscribed to its topic: how the
embedded runtime and the e2e suite see what a subscriber would receive."""

from __future__ import annotations

import json
from typing import Any


def subscribe_queue(sqs: Any, sns: Any, topic_arn: str, queue_url: str) -> None:
    """Deliver the topic's notices to the queue as well."""
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=arn["Attributes"]["QueueArn"])


def notice(body: str) -> dict[str, Any]:
    """One SNS envelope as delivered to SQS: subject, the JSON message, its attributes."""
    envelope = json.loads(body)
    return {
        "subject": envelope.get("Subject"),
        "message": json.loads(envelope["Message"]),
        "attributes": {k: v["Value"] for k, v in envelope.get("MessageAttributes", {}).items()},
    }


def drain(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every notice waiting in the queue, removed from it."""
    received: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages", [])
        if not batch:
            return received
        for message in batch:
            received.append(notice(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
