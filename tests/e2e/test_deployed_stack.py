"""The deployed stack, real or local: its outputs, its API's guards, and (opt-in, real stack
only) a real export through API and CLI."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest

from ongage_cli import following, starting
from ongage_cli.deployment import Deployment
from ongage_cli.starting import signed_request

pytestmark = pytest.mark.e2e


def _url(deployment: Deployment, path: str) -> str:
    assert deployment.api_url
    return deployment.api_url.rstrip("/") + "/" + path


def _key(prefix: str) -> str:
    return f"e2e-{prefix}-{secrets.token_hex(4)}"


def test_stack_outputs_name_the_workflow_api_and_bucket(deployment):
    assert ":stateMachine:" in deployment.state_machine_arn
    assert deployment.api_url and deployment.api_url.startswith("https://")
    assert deployment.bucket


NO_API_DATA_PLANE = (
    "the local AWS does not serve API Gateway's data plane (execute-api requests); "
    "test_local_deployment.py checks the deployed methods and the status function instead"
)


def test_api_refuses_unsigned_requests(deployment, is_local):
    if is_local:
        pytest.skip(NO_API_DATA_PLANE)
    request = urllib.request.Request(_url(deployment, "exports"), data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403


def test_api_rejects_an_invalid_body_and_says_why(deployment, is_local):
    if is_local:
        pytest.skip(NO_API_DATA_PLANE)
    body = {"idempotency_key": "has space", "request": {"name": "x"}}
    status, answer = signed_request(deployment.session, "POST", _url(deployment, "exports"), body)
    assert status == 400
    assert answer["error"] == "InvalidRequest"


def test_api_answers_404_for_an_unknown_export(deployment, is_local):
    if is_local:
        pytest.skip(NO_API_DATA_PLANE)
    status, _ = signed_request(deployment.session, "GET", _url(deployment, "exports/" + _key("x")))
    assert status == 404


def _landed(deployment: Deployment, report: dict[str, Any]) -> None:
    assert report["status"] == "SUCCEEDED", report
    result = report["result"]
    head = boto3.client("s3").head_object(Bucket=result["bucket"], Key=result["key"])
    assert head["ContentLength"] == result["bytes"]
    assert result["key"].startswith("exports/")


def test_real_export_through_the_api_starts_once_and_lands(
    deployment, real_request, export_timeout
):
    key = _key("api")
    body = {"idempotency_key": key, "request": real_request}
    url = _url(deployment, "exports")
    first = signed_request(deployment.session, "POST", url, body)
    again = signed_request(deployment.session, "POST", url, body)  # a double submit
    assert first[0] == 202, first
    assert again[0] in (202, 409), again
    if again[0] == 202:
        assert again[1]["execution_arn"] == first[1]["execution_arn"]
    arn = deployment.execution_arn(key)
    report = following.wait_for(deployment, arn, timeout=export_timeout, interval=15)
    _landed(deployment, report)
    status, answer = signed_request(deployment.session, "GET", _url(deployment, f"exports/{key}"))
    assert status == 200
    with urllib.request.urlopen(answer["download_url"], timeout=60) as download:
        assert download.read(4) == b"PK\x03\x04"  # a ZIP


def test_real_export_through_the_cli(deployment, real_request, export_timeout, tmp_path):
    key = _key("cli")
    started = starting.start_execution(deployment, key, {"request": real_request})
    assert started["run_id"] == key
    arn = deployment.execution_arn(key)
    report = following.wait_for(deployment, arn, timeout=export_timeout, interval=15)
    _landed(deployment, report)
    assert (report["run_id"], report["export_id"]) == (key, report["result"]["export_id"])
    assert following.describe(deployment, arn)["download_url"].startswith("https://")
