"""The consumer contract (contracts/*.schema.json) holds for what the workflow really publishes.

Real runs on the embedded runtime against the simulator: the SNS messages as subscribers receive
them, the landed object's metadata as HeadObject returns it, and an EventBridge event built from
the real landed object.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from embedded_runtime.runtime import REGION, EmbeddedRuntime, RunResult
from ongage_simulator import Fault, OngageSimulator
from tests.conftest import CREDENTIALS, FAST_POLLING, REQUEST

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
ACCOUNT = "123456789012"  # moto's account


def schema(name: str) -> dict[str, Any]:
    return json.loads((CONTRACTS / f"{name}.schema.json").read_text())


def validator(name: str, definition: str | None = None) -> Draft202012Validator:
    """A validator for contracts/<name>.schema.json, or for one of its `$defs`."""
    document = schema(name)
    if definition is not None:
        document = {**document, "$ref": f"#/$defs/{definition}"}
        for keyword in ("type", "required", "properties", "examples"):
            document.pop(keyword, None)
    return Draft202012Validator(document, format_checker=Draft202012Validator.FORMAT_CHECKER)


def object_created_event(runtime: EmbeddedRuntime, key: str) -> dict[str, Any]:
    """The EventBridge event S3 sends when `key` is created, from the real object's HEAD."""
    head = runtime.client("s3").head_object(Bucket=runtime.bucket, Key=key)
    obj: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),  # S3 notifications URL-encode keys
        "size": head["ContentLength"],
        "etag": head["ETag"].strip('"'),
        "sequencer": f"{int(datetime.now(UTC).timestamp() * 1e6):016X}",
    }
    if head.get("VersionId"):
        obj["version-id"] = head["VersionId"]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{runtime.bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": runtime.bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": ACCOUNT,
            "source-ip-address": "10.0.0.1",
            "reason": "CompleteMultipartUpload",  # both landings complete a multipart upload
        },
    }


def run(runtime: EmbeddedRuntime, request: Any = None, **polling: Any) -> RunResult:
    run_input = {"request": request or REQUEST, "polling": {**FAST_POLLING, **polling}}
    return runtime.run(run_input, timeout=120)


@pytest.fixture(autouse=True)
def quick_exports(simulator: OngageSimulator) -> None:
    simulator.config.ready_after_retrieves = 1


def test_a_landed_export_meets_the_success_event_and_metadata_contracts(
    runtime: EmbeddedRuntime,
) -> None:
    result = run(runtime)
    assert result.status == "SUCCEEDED", result.cause
    (notice,) = result.notices

    validator("sns-success").validate(notice["message"])
    assert notice["subject"] == "Ongage export landed"
    assert notice["attributes"] == {"status": "SUCCEEDED", "list_id": str(REQUEST["list_id"])}

    key = notice["message"]["key"]
    head = runtime.client("s3").head_object(Bucket=runtime.bucket, Key=key)
    validator("s3-object-created", "objectMetadata").validate(head["Metadata"])
    assert head["Metadata"]["landing"] == notice["message"]["landing"] == "single-pass"
    assert "sha256" not in head["Metadata"]  # fixed before the body streamed: in the notice
    assert head["Metadata"]["export-id"] == notice["message"]["export_id"]

    event = object_created_event(runtime, key)
    validator("s3-object-created").validate(event)
    assert event["detail"]["object"]["size"] == notice["message"]["bytes"]
    assert event["detail"]["object"]["key"].startswith("exports/")  # the pattern's prefix


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("bad credentials", "OngageAuthError"),
        ("never ready", "ExportNotReady"),
        ("invalid request", "InvalidExportRequest"),
    ],
)
def test_every_kind_of_failure_notice_meets_the_failure_contract(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, case: str, error: str
) -> None:
    if case == "bad credentials":
        simulator.config.credentials = type(CREDENTIALS)("demo", "wrong", "DEMOACCT")
        result = run(runtime)
    elif case == "never ready":
        simulator.inject(Fault.NEVER_READY, times=None)
        result = run(runtime, deadline_seconds=2)
    else:
        result = run(runtime, request={**REQUEST, "file_format": "xlsx"})
    assert result.status == "FAILED"
    (notice,) = result.notices

    validator("sns-failure").validate(notice["message"])
    assert notice["message"]["error"] == error
    assert notice["subject"] == "Ongage export FAILED"
    assert notice["attributes"]["status"] == "FAILED"
    if case == "never ready":  # the export exists: the notice says which
        assert notice["message"]["export_id"] == next(iter(simulator.exports))
        assert notice["message"]["list_id"] == REQUEST["list_id"]
        assert "What to do" in notice["message"]["cause"]
    else:  # a Lambda step failed: the cause is its error message, without the stack trace
        cause = notice["message"]["cause"]
        assert cause and not cause.startswith("{") and "stackTrace" not in cause


@pytest.mark.parametrize(
    "name",
    [
        "sns-success",
        "sns-failure",
        "sns-batch",
        "s3-object-created",
        "curated-manifest",
        "curated-schema-changed",
    ],
)
def test_the_schemas_are_valid_and_their_examples_meet_them(name: str) -> None:
    Draft202012Validator.check_schema(schema(name))
    for example in schema(name)["examples"]:
        validator(name).validate(example)


@pytest.mark.parametrize(
    ("name", "field", "value"),
    [
        ("sns-success", "status", "FAILED"),
        ("sns-success", "sha256", "not-a-digest"),
        ("sns-success", "landing", "copied"),
        ("sns-success", "key", "incoming/run/x.zip"),
        ("sns-success", "landed_at", "yesterday"),
        ("sns-failure", "error", ""),
        ("sns-failure", "export_id", 42),
        ("sns-batch", "kind", "export"),
        ("sns-batch", "exports", [{"index": 0, "account": "a", "status": "FAILED"}]),
    ],
)
def test_the_schemas_reject_what_breaks_the_contract(name: str, field: str, value: Any) -> None:
    broken = {**schema(name)["examples"][0], field: value}
    with pytest.raises(ValidationError):
        validator(name).validate(broken)
    del broken[field]
    with pytest.raises(ValidationError):
        validator(name).validate(broken)


def test_a_staged_object_without_its_digest_breaks_the_contract() -> None:
    metadata = {
        "export-id": "7000001",
        "list-id": "1111",
        "request-name": "Daily actives %2F Zo%C3%AB",
        "execution-id": "run-1",
        "landing": "staged",
    }
    with pytest.raises(ValidationError):
        validator("s3-object-created", "objectMetadata").validate(metadata)
    validator("s3-object-created", "objectMetadata").validate({**metadata, "sha256": "0" * 64})
    validator("s3-object-created", "objectMetadata").validate(
        {**metadata, "landing": "single-pass"}
    )
    with pytest.raises(ValidationError):
        validator("s3-object-created", "objectMetadata").validate({**metadata, "landing": "copied"})
