"""On the local AWS itself (`python -m local_aws`, IAM enforced, functions in worker processes):
an object landed under exports/ in a bucket whose template turns EventBridge on reaches the
function through the template's own rule, which runs with its role and writes back to S3.

The same path as the curated consumer's on the real stack, whose 200 MB bundle (pyarrow) is
left to `make e2e`-scale runs: see README, "Query your exports"."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from local_aws.deployment import LocalAwsProcess
from tests.integration.local_aws import event_stack

KEY = "exports/list=1111/date=2026-12-05/Daily-actives-7000001.zip"
WAIT_SECONDS = 60  # how long the test waits for the function's write before failing


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("local-aws")
    process = LocalAwsProcess(state, log=(state / "server.log").open("w"))
    try:
        yield {"environment": process.start(), "state": state}
    finally:
        process.stop()


def client(endpoint: dict[str, Any], service: str) -> Any:
    env = endpoint["environment"]
    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=env["AWS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip


def wait_for_object(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        except s3.exceptions.NoSuchKey:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_a_landed_export_reaches_the_templates_function_through_its_rule(endpoint):
    stack = event_stack.create(
        client(endpoint, "cloudformation"), "events", event_stack.template(write_seen=True)
    )
    s3 = client(endpoint, "s3")
    upload = s3.create_multipart_upload(Bucket=stack["Bucket"], Key=KEY)["UploadId"]
    part = s3.upload_part(
        Bucket=stack["Bucket"], Key=KEY, UploadId=upload, PartNumber=1, Body=b"zip"
    )
    s3.complete_multipart_upload(
        Bucket=stack["Bucket"], Key=KEY, UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip

    event = wait_for_object(s3, stack["Bucket"], f"seen/{KEY}")

    assert event["source"] == "aws.s3" and event["detail-type"] == "Object Created"
    assert event["detail"]["reason"] == "CompleteMultipartUpload"
    assert event["detail"]["bucket"]["name"] == stack["Bucket"]
    function = stack["FunctionArn"].rsplit(":", 1)[-1]
    log = Path(endpoint["state"]) / "logs" / f"{function}.log"
    assert log.exists()  # it ran in the executor's worker, as the function
    listed = s3.list_objects_v2(Bucket=stack["Bucket"], Prefix="seen/")["Contents"]
    assert [o["Key"] for o in listed] == [f"seen/{KEY}"]  # once: no second event for the Put
