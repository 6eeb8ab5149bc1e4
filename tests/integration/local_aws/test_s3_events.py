"""S3 sends one "Object Created" event, as AWS shapes it, for each object written to a bucket
whose template turns EventBridge notifications on; the rule whose pattern matches hands it to
its Lambda target (when the function's policy lets EventBridge invoke it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.s3.models import s3_backends

from local_aws import eventbridge_delivery, extensions, s3_events
from local_aws.lambda_executor import backend_invoke
from tests.integration.local_aws import event_stack
from tests.integration.local_aws.conftest import ACCOUNT
from tests.integration.test_contracts import validator

KEY = "exports/list=1111/date=2026-12-05/Daily-actives-7000001.zip"


class Invocations:
    """Stands in for the Lambda executor: records each invocation, answers its event's key."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __call__(self, function: Any, body: Any, response_headers: dict[str, str]) -> bytes:
        event = json.loads(body)
        self.events.append(event)
        return json.dumps({"seen": event["detail"]["object"]["key"]}).encode()


@pytest.fixture
def invocations(aws: None) -> Iterator[Invocations]:
    recorder = Invocations()
    with (
        mock_aws(config={"lambda": {"use_docker": False}}),
        extensions.applied(s3_events),
        mock.patch.object(LambdaSimpleBackend, "invoke", backend_invoke(recorder)),
    ):
        yield recorder


def deploy(**options: bool) -> dict[str, str]:
    return event_stack.create(
        boto3.client("cloudformation"), "events", event_stack.template(**options)
    )


def land_by_multipart_upload(bucket: str, key: str, body: bytes) -> None:
    s3 = boto3.client("s3")
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=1, Body=body)
    s3.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip


def delivered_to(function_arn: str, count: int) -> list[eventbridge_delivery.Delivery]:
    assert eventbridge_delivery.deliveries.wait(timeout=30)
    found = eventbridge_delivery.deliveries.to(function_arn)
    assert len(found) == count, found
    return found


def test_each_object_created_under_the_prefix_reaches_the_rules_function_once(invocations):
    stack = deploy()
    s3 = boto3.client("s3")

    land_by_multipart_upload(stack["Bucket"], KEY, b"PK\x05\x06" + bytes(18))
    s3.put_object(Bucket=stack["Bucket"], Key="staging/other.zip", Body=b"x")  # not matched
    s3.copy_object(
        Bucket=stack["Bucket"], Key=KEY.replace("7000001", "7000002"),
        CopySource={"Bucket": stack["Bucket"], "Key": KEY},
    )  # fmt: skip

    multipart, copied = delivered_to(stack["FunctionArn"], 2)
    assert [d.outcome for d in (multipart, copied)] == ["DELIVERED", "DELIVERED"]
    assert [e["detail"]["reason"] for e in invocations.events] == [
        "CompleteMultipartUpload",  # one event for the upload, not a Put besides
        "CopyObject",
    ]
    event = invocations.events[0]
    validator("s3-object-created").validate(event)  # the shape consumers rely on
    assert event["detail"]["object"]["key"] == KEY.replace("=", "%3D")  # URL-encoded, as S3
    head = s3.head_object(Bucket=stack["Bucket"], Key=KEY)
    assert event["detail"]["object"]["size"] == head["ContentLength"]
    assert event["detail"]["object"]["etag"] == head["ETag"].strip('"')
    assert event["resources"] == [f"arn:aws:s3:::{stack['Bucket']}"]
    assert event["account"] == ACCOUNT and event["time"].endswith("Z")
    assert multipart.answer == {"seen": event["detail"]["object"]["key"]}


def test_a_put_object_is_one_put_object_event(invocations):
    stack = deploy()
    boto3.client("s3").put_object(Bucket=stack["Bucket"], Key=KEY, Body=b"zip")
    delivered_to(stack["FunctionArn"], 1)
    assert [e["detail"]["reason"] for e in invocations.events] == ["PutObject"]


def test_without_the_permission_eventbridge_may_not_invoke_the_function(invocations):
    stack = deploy(permission=False)
    boto3.client("s3").put_object(Bucket=stack["Bucket"], Key=KEY, Body=b"zip")
    (denied,) = delivered_to(stack["FunctionArn"], 1)
    assert denied.outcome == "DENIED" and invocations.events == []


def test_a_bucket_without_eventbridge_notifications_sends_nothing(invocations):
    stack = deploy()
    bucket = s3_backends[ACCOUNT]["aws"].get_bucket(stack["Bucket"])
    s3_events.enable_event_bridge(bucket, {"NotificationConfiguration": {}})
    boto3.client("s3").put_object(Bucket=stack["Bucket"], Key=KEY, Body=b"zip")
    delivered_to(stack["FunctionArn"], 0)


def test_stock_moto_ignores_the_templates_eventbridge_setting(aws):
    with mock_aws(config={"lambda": {"use_docker": False}}):
        stack = deploy()
        bucket = s3_backends[ACCOUNT]["aws"].get_bucket(stack["Bucket"])
        assert bucket.notification_configuration is None
