"""The optional consumer on the embedded runtime: a real run lands an export from the simulator,
then the curate handler gets the EventBridge event S3 would send for it."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from typing import Any

import pytest

from embedded_runtime.lambda_dispatch import LambdaContext
from embedded_runtime.runtime import EmbeddedRuntime
from ongage_export.handlers import curate_export
from ongage_simulator import OngageSimulator
from tests.conftest import FAST_POLLING, REQUEST
from tests.integration.test_contracts import object_created_event, validator

# last_name and the custom field hold quoted newlines, commas and quotes; first names non-ASCII.
FIELDS = ["email", "first_name", "last_name", "ocx_contact_id", "address"]


@pytest.fixture(autouse=True)
def quick_exports(simulator: OngageSimulator) -> None:
    simulator.config.ready_after_retrieves = 1


def land_export(runtime: EmbeddedRuntime) -> dict[str, Any]:
    request = {**REQUEST, "fields_selected": FIELDS}
    result = runtime.run({"request": request, "polling": FAST_POLLING}, timeout=120)
    assert result.status == "SUCCEEDED", result.cause
    return result.output or {}


def curate(runtime: EmbeddedRuntime, key: str) -> dict[str, Any]:
    context = LambdaContext(
        "curate-export", 1024, 900, "req-1", "arn:aws:lambda:us-east-1:123456789012:function:c"
    )
    return curate_export.handler(object_created_event(runtime, key), context)


def read(runtime: EmbeddedRuntime, key: str) -> bytes:
    return runtime.client("s3").get_object(Bucket=runtime.bucket, Key=key)["Body"].read()


def the_csv_member(runtime: EmbeddedRuntime, key: str) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(read(runtime, key))) as archive:
        (member,) = archive.namelist()
        return member, archive.read(member)


def test_a_landed_export_is_curated_to_gzip_csv_with_a_true_manifest(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.export_bytes = 3 * 1024 * 1024
    landed = land_export(runtime)
    member, data = the_csv_member(runtime, landed["key"])

    result = curate(runtime, landed["key"])

    assert result["status"] == "CURATED"
    (curated_key,) = result["files"]
    assert curated_key.startswith("curated/list=1111/date=")
    assert gzip.decompress(read(runtime, curated_key)) == data  # exactly the member's bytes
    manifest = json.loads(read(runtime, result["manifest_key"]))
    validator("curated-manifest").validate(manifest)
    (file,) = manifest["files"]
    records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    expected = simulator.expected_body(landed["export_id"])
    assert file["rows"] == len(records) - 1 == expected.rows == result["rows"]
    assert data.count(b"\n") > len(records)  # quoted newlines were there to trip a line count
    assert file["columns"] == FIELDS
    assert (file["member"], file["bytes_in"]) == (member, len(data))
    assert file["bytes_out"] == len(read(runtime, curated_key)) < len(data)
    # A single-pass object has no sha256 in its metadata (S3 fixes metadata at the upload's
    # creation), so the manifest has none either: its contract says null.
    assert landed["landing"] == "single-pass" and manifest["source"]["sha256"] is None
    assert manifest["source"]["key"] == landed["key"]
    assert manifest["source"]["export_id"] == landed["export_id"]
    assert manifest["source"]["request_name"] == REQUEST["name"]  # non-ASCII, decoded
    fields = [field for record in records[1:] for field in record]
    assert any("\n" in field for field in fields) and not all(field.isascii() for field in fields)

    # Re-delivery of the same event (EventBridge is at-least-once): same keys, same bytes.
    objects, curated = runtime.object_keys(), read(runtime, curated_key)
    assert curate(runtime, landed["key"])["files"] == [curated_key]
    assert runtime.object_keys() == objects and read(runtime, curated_key) == curated
    assert runtime.open_uploads() == []


def test_an_empty_export_gives_a_header_only_file_and_zero_rows(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.export_bytes = 0
    landed = land_export(runtime)
    _, data = the_csv_member(runtime, landed["key"])
    assert data == (",".join(FIELDS) + "\r\n").encode()

    result = curate(runtime, landed["key"])

    (curated_key,) = result["files"]
    assert gzip.decompress(read(runtime, curated_key)) == data
    manifest = json.loads(read(runtime, result["manifest_key"]))
    validator("curated-manifest").validate(manifest)
    assert manifest["rows"] == manifest["files"][0]["rows"] == result["rows"] == 0
    assert manifest["files"][0]["columns"] == FIELDS


def test_objects_that_are_not_exports_are_skipped(runtime: EmbeddedRuntime) -> None:
    runtime.client("s3").put_object(Bucket=runtime.bucket, Key="exports/notes.txt", Body=b"x")
    assert curate(runtime, "exports/notes.txt")["status"] == "SKIPPED"
    assert runtime.object_keys() == ["exports/notes.txt"]
