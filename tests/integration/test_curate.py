"""The optional consumer on moto S3: landed ZIP -> Parquet per member + manifest, uploads
aborted on failure, the schema_changed notice on SNS with the request read from Step Functions."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tracemalloc
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from local_aws.lambda_bootstrap import LambdaContext
from ongage_export.adapters import aws_clients
from ongage_export.adapters.multipart import MultipartUploader
from ongage_export.consumer.curate import (
    MANIFEST_NAME,
    ExportRequest,
    NotAnExport,
    UnreadableExport,
    curate_export,
)
from ongage_export.handlers import curate_export as curate_handler
from ongage_export.settings import CurateSettings
from ongage_simulator.export_body import ExportBody

BUCKET = "exports"
REGION = "us-east-1"
KEY = "exports/list=1111/date=2026-01-02/Daily-actives-42.zip"
FOLDER = "curated/list=1111/date=2026-01-02/Daily-actives-42/"
META = {
    "export-id": "42",
    "list-id": "1111",
    "request-name": "Daily actives %2F Zo%C3%AB",
    "execution-id": "run-1",
    "sha256": "ab" * 32,
}
PART = 5 * 1024 * 1024
SETTINGS = CurateSettings(export_bucket=BUCKET, part_size_mib=PART // (1024 * 1024))
FIELDS = ("email", "first_name", "last_name", "ocx_contact_id", "ocx_created_date", "address")
# Quoted newlines, commas, quotes, non-ASCII, CRLF: 3 records over 6 lines.
TRICKY_CSV = (
    "email,first_name,last_name\r\n"
    'zoe@example.com,Zoë,"Nowak\nKowalska"\r\n'
    'li@example.org,李,"Doe ""DJ"", Jr."\r\n'
    'sq@example.net,Søren,"line one\r\nline two\r\n"\r\n'
).encode()
TRICKY_ROWS = [
    {"email": "zoe@example.com", "first_name": "Zoë", "last_name": "Nowak\nKowalska"},
    {"email": "li@example.org", "first_name": "李", "last_name": 'Doe "DJ", Jr.'},
    {"email": "sq@example.net", "first_name": "Søren", "last_name": "line one\r\nline two\r\n"},
]


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An empty moto account with the export bucket."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        yield client


def land(s3: Any, data: bytes, key: str = KEY, metadata: dict[str, str] = META) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, Metadata=metadata)


def read_table(s3: Any, key: str) -> list[dict[str, Any]]:
    data = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    rows: list[dict[str, Any]] = pq.read_table(io.BytesIO(data)).to_pylist()
    return rows


def keys(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def open_uploads(s3: Any) -> list[Any]:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_each_csv_member_becomes_parquet_with_a_manifest(s3: Any) -> None:
    header_only = b"email,first_name\r\n"
    land(
        s3,
        make_zip(
            {
                "Daily actives.csv": TRICKY_CSV,
                "nested/dir/Header only.CSV": header_only,
                "readme.txt": b"not data",
                "empty.csv": b"",
            }
        ),
    )
    manifest = curate_export(s3, BUCKET, KEY, SETTINGS).manifest

    files = {file["member"]: file for file in manifest["files"]}
    assert set(files) == {"Daily actives.csv", "nested/dir/Header only.CSV", "empty.csv"}
    tricky = files["Daily actives.csv"]
    assert tricky["key"] == FOLDER + "Daily-actives.parquet"
    assert read_table(s3, tricky["key"]) == TRICKY_ROWS
    assert tricky["columns"] == ["email", "first_name", "last_name"]
    assert tricky["rows"] == 3  # records, not the 6 lines
    assert tricky["bytes_in"] == len(TRICKY_CSV)
    assert tricky["sha256"] == hashlib.sha256(TRICKY_CSV).hexdigest()
    stored = s3.head_object(Bucket=BUCKET, Key=tricky["key"])
    assert tricky["bytes_out"] == stored["ContentLength"]
    assert stored["ContentType"] == "application/vnd.apache.parquet"
    header = files["nested/dir/Header only.CSV"]
    assert (header["rows"], header["columns"]) == (0, ["email", "first_name"])
    assert read_table(s3, header["key"]) == []
    assert files["empty.csv"] == {**files["empty.csv"], "key": None, "columns": [], "rows": 0}

    assert manifest["rows"] == 3
    assert manifest["partition"] == {"list": "1111", "date": "2026-01-02"}
    assert manifest["prefix"] == FOLDER
    assert manifest["source"] == {
        "bucket": BUCKET,
        "key": KEY,
        "s3_uri": f"s3://{BUCKET}/{KEY}",
        "bytes": s3.head_object(Bucket=BUCKET, Key=KEY)["ContentLength"],
        "sha256": META["sha256"],
        "export_id": "42",
        "list_id": "1111",
        "request_name": "Daily actives / Zoë",
        "execution_id": "run-1",
    }
    published = json.loads(s3.get_object(Bucket=BUCKET, Key=FOLDER + MANIFEST_NAME)["Body"].read())
    assert published == manifest
    assert open_uploads(s3) == []


def test_the_simulators_rows_come_back_with_typed_system_fields(s3: Any) -> None:
    """Quoted newlines in names and addresses, commas, quotes, non-ASCII; dates in dd-mm-yy."""
    body = ExportBody("42", "Daily actives", fields=FIELDS, target_bytes=300_000)
    body_csv = body.read(body.data_start, body.data_end)
    land(s3, body.read())
    request = ExportRequest(date_format="mm/dd/yyyy")
    (file,) = curate_export(s3, BUCKET, KEY, SETTINGS, lambda _: request).manifest["files"]
    rows = read_table(s3, file["key"])
    expected = list(csv.DictReader(io.StringIO(body_csv.decode(), newline="")))
    assert file["rows"] == body.rows == len(rows) == len(expected)
    assert body_csv.count(b"\n") > len(rows) + 1  # there really were quoted newlines
    for got, want in zip(rows, expected, strict=True):
        assert got["ocx_contact_id"] == int(want["ocx_contact_id"])
        assert got["ocx_created_date"] == datetime.strptime(want["ocx_created_date"], "%m/%d/%Y")
        assert {k: got[k] for k in ("email", "first_name", "last_name", "address")} == {
            k: want[k] for k in ("email", "first_name", "last_name", "address")
        }
    assert file["unparseable"] == {"ocx_contact_id": 0, "ocx_created_date": 0}


def test_large_output_goes_up_in_parts_and_reprocessing_overwrites_the_same_keys(
    s3: Any,
) -> None:
    noise = hashlib.shake_256(b"seed").hexdigest(6 * 1024 * 1024).encode()  # hardly compresses
    member = b"email,blob\r\n" + b"".join(
        b"u%d@example.com,%s\r\n" % (i, noise[i * 4096 : (i + 1) * 4096]) for i in range(3000)
    )
    land(s3, make_zip({"big.csv": member}, zipfile.ZIP_STORED))
    first = curate_export(s3, BUCKET, KEY, SETTINGS).manifest
    (file,) = first["files"]
    assert file["bytes_out"] > PART  # a multipart upload
    rows = read_table(s3, file["key"])
    assert len(rows) == file["rows"] == 3000 and rows[2999]["email"] == "u2999@example.com"
    stored = s3.get_object(Bucket=BUCKET, Key=file["key"])["Body"].read()
    objects = keys(s3)

    again = curate_export(s3, BUCKET, KEY, SETTINGS).manifest
    assert keys(s3) == objects  # same keys, nothing added
    assert s3.get_object(Bucket=BUCKET, Key=file["key"])["Body"].read() == stored  # same bytes
    assert {**again, "curated_at": None} == {**first, "curated_at": None}
    assert open_uploads(s3) == []


def test_two_members_with_one_name_keep_two_keys(s3: Any) -> None:
    land(s3, make_zip({"a/x.csv": b"h\r\n1\r\n", "b/x.csv": b"h\r\n2\r\n3\r\n"}))
    files = curate_export(s3, BUCKET, KEY, SETTINGS).manifest["files"]
    assert [(f["key"], f["rows"]) for f in files] == [
        (FOLDER + "x.parquet", 1),
        (FOLDER + "x-2.parquet", 2),
    ]


def test_a_corrupt_member_fails_and_leaves_no_upload_or_manifest(s3: Any) -> None:
    data = bytearray(make_zip({"x.csv": b"email\r\n" + b"a@example.com\r\n" * 500_000}, 0))
    data[len(data) // 2] ^= 0xFF  # inside the stored member: its CRC-32 no longer matches
    land(s3, bytes(data))
    with pytest.raises(UnreadableExport, match=r"x\.csv"):
        curate_export(s3, BUCKET, KEY, SETTINGS)
    assert open_uploads(s3) == []
    assert not any(key.endswith(MANIFEST_NAME) for key in keys(s3))


def test_a_member_that_is_not_utf8_says_so(s3: Any) -> None:
    land(s3, make_zip({"x.csv": b"email,name\r\na@example.com,Zo\xeb\r\n"}))
    with pytest.raises(UnreadableExport, match=r"'x\.csv' cannot be read as UTF-8 CSV"):
        curate_export(s3, BUCKET, KEY, SETTINGS)
    assert open_uploads(s3) == []


def test_what_is_not_a_zip_is_reported(s3: Any) -> None:
    land(s3, b"<html>not a zip</html>")
    with pytest.raises(UnreadableExport, match="not a readable ZIP"):
        curate_export(s3, BUCKET, KEY, SETTINGS)


@pytest.mark.parametrize(
    ("bucket", "key"),
    [
        ("other-bucket", KEY),
        (BUCKET, "incoming/run/x.zip"),
        (BUCKET, "exports/list=1/x.zip"),
        (BUCKET, "exports/list=1/date=2026-01-02/x.csv"),
        (BUCKET, FOLDER + "x.parquet"),
    ],
)
def test_objects_the_workflow_did_not_land_are_not_exports(s3: Any, bucket: str, key: str) -> None:
    with pytest.raises(NotAnExport):
        curate_export(s3, bucket, key, SETTINGS)  # refused before any S3 call


def test_a_failing_stream_aborts_its_multipart_upload(s3: Any) -> None:
    def breaks() -> Iterator[bytes]:
        yield os.urandom(PART + 1)
        yield os.urandom(PART + 1)
        raise zipfile.BadZipFile("Bad CRC-32")

    with pytest.raises(zipfile.BadZipFile):
        MultipartUploader(s3, BUCKET, part_size=PART).upload_stream(
            breaks(), "curated/x.parquet", check_start=None
        )
    assert open_uploads(s3) == [] and keys(s3) == []


# -- the handler: request from Step Functions, schema_changed on SNS ----------------------------


def object_created(bucket: str, key: str, size: int) -> dict[str, Any]:
    """An EventBridge event as S3 sends it (the key URL-encoded, as S3 notifications do)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-02T03:04:05Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key.replace("=", "%3D"),
                "size": size,
                "etag": "b1946ac92492d2347c6235b4d2611184",
                "sequencer": "617f08299329d189",
            },
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "CompleteMultipartUpload",
        },
    }


def context() -> LambdaContext:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:curate"
    return LambdaContext("curate", 512, 900, "req-1", arn)


@pytest.fixture
def stack(s3: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The topic (with a queue subscribed) and a state machine whose runs hold the requests."""
    sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    topic = sns.create_topic(Name="notices")["TopicArn"]
    queue = sqs.create_queue(QueueName="subscriber")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn["Attributes"]["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    machine = sfn.create_state_machine(
        name="export",
        definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    for variable, value in {
        "EXPORT_BUCKET": BUCKET,
        "TOPIC_ARN": topic,
        "STATE_MACHINE_ARN": machine,
        "POWERTOOLS_METRICS_DISABLED": "true",
    }.items():
        monkeypatch.setenv(variable, value)
    aws_clients.sns_client.cache_clear()
    aws_clients.stepfunctions_client.cache_clear()
    return {"sqs": sqs, "queue": queue, "sfn": sfn, "machine": machine}


def run(stack: dict[str, Any], name: str, request: dict[str, Any]) -> None:
    stack["sfn"].start_execution(
        stateMachineArn=stack["machine"], name=name, input=json.dumps({"request": request})
    )


def notices(stack: dict[str, Any]) -> list[dict[str, Any]]:
    got = stack["sqs"].receive_message(
        QueueUrl=stack["queue"], MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return [
        {"body": json.loads(m["Body"]), "status": m["MessageAttributes"]["status"]["StringValue"]}
        for m in got.get("Messages", [])
    ]


def test_handler_reads_the_date_format_of_the_run_and_reports_column_drift(
    s3: Any, stack: dict[str, Any]
) -> None:
    run(stack, "run-1", {"date_format": "dd-mm-yy"})
    land(s3, make_zip({"a.csv": b"email,ocx_created_date\r\nz@x.org,31-12-25\r\n"}))
    result = curate_handler.handler(object_created(BUCKET, KEY, 123), context())
    assert result == {
        "status": "CURATED",
        "bucket": BUCKET,
        "key": KEY,
        "manifest_key": FOLDER + MANIFEST_NAME,
        "files": [FOLDER + "a.parquet"],
        "rows": 1,
        "schema_changed": False,
    }
    (row,) = read_table(s3, FOLDER + "a.parquet")
    assert row["ocx_created_date"] == datetime(2025, 12, 31)
    assert (
        curate_handler.handler(object_created(BUCKET, KEY, 123), context())["schema_changed"]
        is False
    )  # the same export again is no change
    assert notices(stack) == []

    # The next export of the same request has one field more (added to the list in Ongage).
    later = KEY.replace("Daily-actives-42", "Daily-actives-43")
    run(stack, "run-2", {"date_format": "dd-mm-yy"})
    land(
        s3,
        make_zip({"a.csv": b"email,ocx_created_date,city\r\nz@x.org,01-01-26,Ko\r\n"}),
        later,
        {**META, "execution-id": "run-2"},
    )
    assert curate_handler.handler(object_created(BUCKET, later, 123), context())["schema_changed"]
    (notice,) = notices(stack)
    assert notice["status"] == "SCHEMA_CHANGED"
    assert notice["body"]["added"] == [{"name": "city", "type": "string"}]
    assert notice["body"]["removed"] == []
    assert notice["body"]["previous"]["manifest_key"] == FOLDER + MANIFEST_NAME
    # Both versions stay readable side by side.
    assert read_table(s3, FOLDER + "a.parquet")[0]["email"] == "z@x.org"
    later_folder = FOLDER.replace("Daily-actives-42", "Daily-actives-43")
    assert read_table(s3, later_folder + "a.parquet")[0]["city"] == "Ko"


def test_handler_skips_what_is_not_an_export(s3: Any, stack: dict[str, Any]) -> None:
    skipped = curate_handler.handler(object_created(BUCKET, FOLDER + "x.parquet", 1), context())
    assert skipped["status"] == "SKIPPED"


# -- bounded memory -------------------------------------------------------------------------


class _Body:
    def __init__(self, chunks: Iterator[bytes]):
        self.chunks = chunks

    def iter_chunks(self, chunk_size: int) -> Iterator[bytes]:
        return self.chunks


class StreamingS3:
    """Just enough S3 to curate one export while holding none of it in memory: ranges of the
    source are generated on demand (the simulator's ExportBody) and parts are written to disk,
    so tracemalloc sees the consumer's memory alone (moto would read whole objects)."""

    def __init__(self, body: ExportBody, out: Path):
        self.body, self.out = body, out
        self.parts: list[dict[str, Any]] = []

    def path(self, key: str) -> Path:
        return self.out / key.replace("/", "__")

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        return {"ContentLength": self.body.size, "Metadata": META}

    def get_object(self, Bucket: str, Key: str, Range: str) -> dict[str, Any]:
        first, last = Range.removeprefix("bytes=").split("-")
        return {"Body": _Body(self.body.iter_range(int(first), int(last) + 1))}

    def create_multipart_upload(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        self.path(Key).write_bytes(b"")
        return {"UploadId": "upload-1"}

    def upload_part(self, Key: str, PartNumber: int, Body: Any, **_: Any) -> dict[str, Any]:
        data = Body.read() if hasattr(Body, "read") else Body  # boto3 takes either
        descriptor = os.open(self.path(Key), os.O_WRONLY)
        try:
            os.pwrite(descriptor, data, (PartNumber - 1) * PART)  # every part but the last: PART
        finally:
            os.close(descriptor)
        self.parts.append({"PartNumber": PartNumber, "ETag": f'"{PartNumber}"'})
        return {"ETag": f'"{PartNumber}"'}

    def list_multipart_uploads(self, **_: Any) -> dict[str, Any]:
        return {"Uploads": []}

    def get_paginator(self, operation: str) -> Any:
        assert operation == "list_parts"
        parts = sorted(self.parts, key=lambda part: part["PartNumber"])
        self.parts = []
        return type("Pages", (), {"paginate": lambda _, **kwargs: [{"Parts": parts}]})()

    def complete_multipart_upload(self, **_: Any) -> dict[str, Any]:
        return {}

    def abort_multipart_upload(self, **_: Any) -> None:
        raise AssertionError("no upload should be aborted")

    def put_object(self, Key: str, Body: bytes, **_: Any) -> None:
        self.path(Key).write_bytes(Body)

    def list_objects_v2(self, Prefix: str, **_: Any) -> dict[str, Any]:
        return {}  # no schema recorded yet


def test_a_128_mb_export_is_curated_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python's heap (tracemalloc) and Arrow's pool (a proxy that counts only this run) stay
    far below the export's size: one row group, a few parts, never the whole member."""
    body = ExportBody("7000001", "Big export", fields=FIELDS, target_bytes=128 * 1024 * 1024)
    body.sha256()  # generate once up front: the simulator's own CRC bookkeeping is not measured
    s3 = StreamingS3(body, tmp_path)
    pool = pa.proxy_memory_pool(pa.default_memory_pool())
    request = ExportRequest("mm/dd/yyyy")

    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    tracemalloc.start()
    try:
        manifest = curate_export(s3, BUCKET, KEY, SETTINGS, lambda _: request).manifest
        python_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        pa.set_memory_pool(previous)

    mib = 1024 * 1024
    assert python_peak < 64 * mib, f"Python peak {python_peak / mib:.1f} MiB"
    assert pool.max_memory() < 96 * mib, f"Arrow peak {pool.max_memory() / mib:.1f} MiB"
    (file,) = manifest["files"]
    assert (file["bytes_in"], file["rows"]) == (body.csv_size, body.rows)
    expected = hashlib.sha256()
    for chunk in body.iter_range(body.data_start, body.data_end):
        expected.update(chunk)
    assert file["sha256"] == expected.hexdigest()
    written = pq.ParquetFile(s3.path(file["key"]))
    assert written.metadata.num_rows == body.rows and written.metadata.num_row_groups > 1
    assert file["bytes_out"] == s3.path(file["key"]).stat().st_size
    assert file["unparseable"] == {"ocx_contact_id": 0, "ocx_created_date": 0}
