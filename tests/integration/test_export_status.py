"""GET /exports/{id}: the status Lambda, against moto's Step Functions and S3."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import boto3
import pytest
from moto import mock_aws

from ongage_export.adapters import aws_clients
from ongage_export.handlers import export_status

REGION = "us-east-1"
BUCKET = "exports-bucket"
ROLE = "arn:aws:iam::123456789012:role/sfn"


class _Context:
    function_name = "export-status"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:export-status"
    aws_request_id = "req-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    aws_clients.stepfunctions_client.cache_clear()
    aws_clients.link_signer.cache_clear()
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield boto3.client("stepfunctions")
    aws_clients.stepfunctions_client.cache_clear()
    aws_clients.link_signer.cache_clear()


def _machine(sfn: Any, monkeypatch: pytest.MonkeyPatch, states: dict[str, Any]) -> str:
    definition = {"StartAt": "Only", "States": {"Only": states}}
    arn = sfn.create_state_machine(name="export", definition=json.dumps(definition), roleArn=ROLE)[
        "stateMachineArn"
    ]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("EXPORT_BUCKET", BUCKET)
    monkeypatch.setenv("EXPORT_PREFIX", "exports/")
    monkeypatch.setenv("DOWNLOAD_LINK_SECONDS", "600")
    return arn


def _finished(sfn: Any, arn: str, name: str) -> None:
    execution = sfn.start_execution(stateMachineArn=arn, name=name, input="{}")["executionArn"]
    for _ in range(1200):  # 60 s: executions run in threads, slow on a busy machine
        if sfn.describe_execution(executionArn=execution)["status"] != "RUNNING":
            return
        time.sleep(0.05)
    raise AssertionError("the execution did not finish")


def proxy_event(path_parameters: Any, path: str = "/exports/x") -> dict[str, Any]:
    """What API Gateway's REST proxy integration sends for GET /exports/{id}."""
    return {
        "httpMethod": "GET",
        "resource": "/exports/{id}",
        "path": path,
        "pathParameters": path_parameters,
        "headers": {},
        "queryStringParameters": None,
        "requestContext": {"stage": "v1", "httpMethod": "GET", "resourcePath": "/exports/{id}"},
        "body": None,
        "isBase64Encoded": False,
    }


def _get(execution_id: str) -> tuple[int, dict[str, Any]]:
    event = proxy_event({"id": quote(execution_id, safe=":")}, "/exports/" + quote(execution_id))
    response = export_status.handler(event, _Context())
    return response["statusCode"], json.loads(response["body"])


def test_landed_export_gets_location_and_short_lived_link(aws, monkeypatch):
    landed = {
        "status": "SUCCEEDED", "bucket": BUCKET, "key": "exports/list=1/x.zip", "bytes": 3,
        "export_id": "7000003",
    }  # fmt: skip
    arn = _machine(aws, monkeypatch, {"Type": "Pass", "Result": landed, "End": True})
    _finished(aws, arn, "key-1")

    status, body = _get("key-1")

    assert status == 200
    assert body["status"] == "SUCCEEDED"
    # Two ids, two names: our run's, and the export's at Ongage.
    assert (body["run_id"], body["export_id"]) == ("key-1", "7000003")
    assert body["result"] == landed
    assert body["location"] == f"s3://{BUCKET}/exports/list=1/x.zip"
    link = urlparse(body["download_url"])
    assert link.path.endswith("/exports/list%3D1/x.zip") or link.path.endswith(
        "/exports/list=1/x.zip"
    )
    assert parse_qs(link.query)["X-Amz-Expires"] == ["600"]
    assert body["expires_in"] == 600


def test_failed_run_reports_error_and_no_link(aws, monkeypatch):
    states = {"Type": "Fail", "Error": "ExportNotReady", "Cause": "the deadline passed"}
    arn = _machine(aws, monkeypatch, states)
    _finished(aws, arn, "key-2")

    status, body = _get("key-2")

    assert status == 200
    assert body["status"] == "FAILED"
    assert body["error"] == "ExportNotReady"
    assert "download_url" not in body


def test_full_execution_arn_is_accepted(aws, monkeypatch):
    arn = _machine(aws, monkeypatch, {"Type": "Pass", "Result": {}, "End": True})
    _finished(aws, arn, "key-3")
    execution = arn.replace(":stateMachine:", ":execution:") + ":key-3"

    status, body = _get(execution)

    assert status == 200
    assert body["run_id"] == "key-3" and "id" not in body


def test_output_outside_the_export_prefix_gets_no_link(aws, monkeypatch):
    landed = {"bucket": BUCKET, "key": "incoming/partial"}
    arn = _machine(aws, monkeypatch, {"Type": "Pass", "Result": landed, "End": True})
    _finished(aws, arn, "key-4")

    _, body = _get("key-4")

    assert "download_url" not in body


def test_unknown_execution_is_404(aws, monkeypatch):
    _machine(aws, monkeypatch, {"Type": "Pass", "End": True})

    status, body = _get("never-started")

    assert status == 404
    assert body["error"] == "NotFound"


@pytest.mark.parametrize(
    "execution_id",
    ["has space", "x" * 81, "arn:aws:states:us-east-1:1:execution:other-machine:key"],
)
def test_ids_that_are_not_executions_of_this_machine_are_400(aws, monkeypatch, execution_id):
    _machine(aws, monkeypatch, {"Type": "Pass", "End": True})

    status, _ = _get(execution_id)

    assert status == 400


@pytest.mark.parametrize(
    "path_parameters",
    [
        None,
        ["id"],
        {"id": 7},
        {"id": None},
        {"id": "x" * 100_000},  # oversized
        {"id": "%ff%fe"},  # percent-encoded bytes that are not UTF-8
        {"id": "%2e%2e%2fetc"},
    ],
)
def test_a_bad_path_parameter_is_a_400_that_says_what_an_id_is(aws, monkeypatch, path_parameters):
    _machine(aws, monkeypatch, {"Type": "Succeed"})
    response = export_status.handler(proxy_event(path_parameters), _Context())
    body = json.loads(response["body"])
    assert response["statusCode"] == 400
    assert body["error"] == "InvalidId" and "idempotency_key" in body["message"]


@pytest.mark.parametrize("event", [{}, {"pathParameters": {"id": "key-1"}}, ["GET"]])
def test_an_event_that_is_not_from_api_gateway_is_a_400(aws, monkeypatch, event):
    _machine(aws, monkeypatch, {"Type": "Succeed"})
    response = export_status.handler(event, _Context())
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"] == "NotAProxyEvent"


def test_another_route_is_a_404_that_names_the_routes(aws, monkeypatch):
    _machine(aws, monkeypatch, {"Type": "Succeed"})
    response = export_status.handler(proxy_event(None, "/elsewhere"), _Context())
    assert response["statusCode"] == 404
    assert "GET /exports/{id}" in json.loads(response["body"])["message"]
