"""The optional consumer: landed ZIP -> gzip CSV per member + manifest, in constant memory."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from embedded_runtime.lambda_dispatch import LambdaContext
from ongage_export.curate import (
    MANIFEST_NAME,
    CurateSettings,
    NotAnExport,
    UnreadableExport,
    curate_export,
)
from ongage_export.handlers import curate_export as curate_handler
from ongage_export.landing import S3Landing
from ongage_export.settings import ConfigurationError
from ongage_simulator.export_body import ExportBody
from tests.integration.conftest import BUCKET

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
# Quoted newlines, commas, quotes, non-ASCII, CRLF: 3 records over 6 lines.
TRICKY_CSV = (
    "email,first_name,last_name\r\n"
    'zoe@example.com,Zoë,"Nowak\nKowalska"\r\n'
    'li@example.org,李,"Doe ""DJ"", Jr."\r\n'
    'sq@example.net,Søren,"line one\r\nline two\r\n"\r\n'
).encode()


def make_zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def land(s3: Any, data: bytes, key: str = KEY) -> None:
    s3.put_object(Bucket=BUCKET, Key=key, Body=data, Metadata=META)


def read_gzip(s3: Any, key: str) -> bytes:
    return gzip.decompress(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def keys(s3: Any) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def open_uploads(s3: Any) -> list[Any]:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_each_csv_member_becomes_gzip_csv_with_a_manifest(s3: Any) -> None:
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
    manifest = curate_export(s3, BUCKET, KEY, SETTINGS)

    files = {file["member"]: file for file in manifest["files"]}
    assert set(files) == {"Daily actives.csv", "nested/dir/Header only.CSV", "empty.csv"}
    tricky = files["Daily actives.csv"]
    assert tricky["key"] == FOLDER + "Daily-actives.csv.gz"
    assert read_gzip(s3, tricky["key"]) == TRICKY_CSV  # the member's exact bytes
    assert tricky["columns"] == ["email", "first_name", "last_name"]
    assert tricky["rows"] == 3  # records, not the 6 lines
    assert tricky["bytes_in"] == len(TRICKY_CSV)
    assert tricky["sha256"] == hashlib.sha256(TRICKY_CSV).hexdigest()
    stored = s3.head_object(Bucket=BUCKET, Key=tricky["key"])
    assert tricky["bytes_out"] == stored["ContentLength"]
    assert stored["ContentType"] == "application/gzip"
    assert (files["nested/dir/Header only.CSV"]["rows"], files["empty.csv"]["rows"]) == (0, 0)
    assert files["nested/dir/Header only.CSV"]["columns"] == ["email", "first_name"]
    assert files["empty.csv"]["columns"] == []
    assert read_gzip(s3, FOLDER + "empty.csv.gz") == b""

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


def test_a_stored_member_parses_like_the_simulator_wrote_it(s3: Any) -> None:
    """The simulator's rows: quoted newlines in names and addresses, commas, quotes, non-ASCII."""
    body = ExportBody("42", "Daily actives", fields=FIELDS, target_bytes=300_000)
    land(s3, body.read())
    (file,) = curate_export(s3, BUCKET, KEY, SETTINGS)["files"]
    data = read_gzip(s3, file["key"])
    assert data == body.read(body.data_start, body.data_end)
    records = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert file["rows"] == body.rows == len(records) - 1
    assert data.count(b"\n") > len(records)  # there really were quoted newlines
    assert file["columns"] == list(FIELDS)


def test_large_output_goes_up_in_parts_and_reprocessing_overwrites_the_same_keys(
    s3: Any,
) -> None:
    noise = hashlib.shake_256(b"seed").hexdigest(6 * 1024 * 1024).encode()  # hardly compresses
    member = b"email,blob\r\n" + b"".join(
        b"u%d@example.com,%s\r\n" % (i, noise[i * 4096 : (i + 1) * 4096]) for i in range(3000)
    )
    land(s3, make_zip({"big.csv": member}, zipfile.ZIP_STORED))
    first = curate_export(s3, BUCKET, KEY, SETTINGS)
    (file,) = first["files"]
    assert file["bytes_out"] > PART  # a multipart upload
    assert read_gzip(s3, file["key"]) == member and file["rows"] == 3000
    stored = s3.get_object(Bucket=BUCKET, Key=file["key"])["Body"].read()
    objects = keys(s3)

    again = curate_export(s3, BUCKET, KEY, SETTINGS)
    assert keys(s3) == objects  # same keys, nothing added
    assert s3.get_object(Bucket=BUCKET, Key=file["key"])["Body"].read() == stored  # same bytes
    assert {**again, "curated_at": None} == {**first, "curated_at": None}
    assert open_uploads(s3) == []


def test_two_members_with_one_name_keep_two_keys(s3: Any) -> None:
    land(s3, make_zip({"a/x.csv": b"h\r\n1\r\n", "b/x.csv": b"h\r\n2\r\n3\r\n"}))
    files = curate_export(s3, BUCKET, KEY, SETTINGS)["files"]
    assert [(f["key"], f["rows"]) for f in files] == [
        (FOLDER + "x.csv.gz", 1),
        (FOLDER + "x-2.csv.gz", 2),
    ]


def test_a_corrupt_member_fails_and_leaves_no_upload_or_manifest(s3: Any) -> None:
    data = bytearray(make_zip({"x.csv": b"email\r\n" + b"a@example.com\r\n" * 50_000}, 0))
    data[len(data) // 2] ^= 0xFF  # inside the stored member: its CRC-32 no longer matches
    land(s3, bytes(data))
    with pytest.raises(UnreadableExport, match=r"x\.csv"):
        curate_export(s3, BUCKET, KEY, SETTINGS)
    assert open_uploads(s3) == []
    assert not any(key.endswith(MANIFEST_NAME) for key in keys(s3))


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
        (BUCKET, FOLDER + "x.csv.gz"),
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
        S3Landing(s3, BUCKET, part_size=PART).stream_to_staging(
            breaks(), "curated/x.csv.gz", check_start=None
        )
    assert open_uploads(s3) == [] and keys(s3) == []


def test_settings_from_the_environment() -> None:
    assert CurateSettings.from_env({"EXPORT_BUCKET": "b"}) == CurateSettings(
        export_bucket="b", export_prefix="exports/", curated_prefix="curated/", part_size_mib=8
    )
    custom = CurateSettings.from_env(
        {"EXPORT_BUCKET": "b", "CURATED_PREFIX": "lake/ongage", "PART_SIZE_MIB": "8"}
    )
    assert (custom.curated_prefix, custom.part_size_bytes) == ("lake/ongage/", 8 * 1024 * 1024)
    for env in (
        {},
        {"EXPORT_BUCKET": "b", "CURATED_PREFIX": "exports/curated/"},
        {"EXPORT_BUCKET": "b", "PART_SIZE_MIB": "1"},
    ):
        with pytest.raises(ConfigurationError, match=r"EXPORT_BUCKET|CURATED_PREFIX|PART_SIZE_MIB"):
            CurateSettings.from_env(env)


# -- the handler -----------------------------------------------------------------------------


def object_created(bucket: str, key: str, size: int) -> dict[str, Any]:
    """An EventBridge event as S3 sends it (the key URL-encoded, as S3 notifications do)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-01-02T03:04:05Z",
        "region": "us-east-1",
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


def test_handler_curates_the_object_named_by_the_event(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_BUCKET", BUCKET)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    land(s3, make_zip({"Daily actives.csv": TRICKY_CSV}))
    result = curate_handler.handler(object_created(BUCKET, KEY, 123), context())
    assert result == {
        "status": "CURATED",
        "bucket": BUCKET,
        "key": KEY,
        "manifest_key": FOLDER + MANIFEST_NAME,
        "files": [FOLDER + "Daily-actives.csv.gz"],
        "rows": 3,
    }

    skipped = curate_handler.handler(object_created(BUCKET, FOLDER + "x.csv.gz", 1), context())
    assert skipped["status"] == "SKIPPED"


# -- constant memory -------------------------------------------------------------------------

FIELDS = ("email", "first_name", "last_name", "ocx_contact_id", "address")


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


def gunzip_sha256(path: Path) -> str:
    digest, inflate = hashlib.sha256(), zlib.decompressobj(31)
    with path.open("rb") as compressed:
        while chunk := compressed.read(1024 * 1024):
            digest.update(inflate.decompress(chunk))
    digest.update(inflate.flush())
    return digest.hexdigest()


def test_a_64_mb_export_is_curated_in_constant_memory(tmp_path: Path) -> None:
    body = ExportBody("7000001", "Big export", fields=FIELDS, target_bytes=64 * 1024 * 1024)
    body.sha256()  # generate once up front: the simulator's own CRC bookkeeping is not measured
    s3 = StreamingS3(body, tmp_path)

    tracemalloc.start()
    try:
        manifest = curate_export(s3, BUCKET, KEY, SETTINGS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB for a 64 MiB export"
    (file,) = manifest["files"]
    assert (file["bytes_in"], file["rows"]) == (body.csv_size, body.rows)
    expected = hashlib.sha256()
    for chunk in body.iter_range(body.data_start, body.data_end):
        expected.update(chunk)
    assert file["sha256"] == expected.hexdigest() == gunzip_sha256(s3.path(file["key"]))
    assert file["bytes_out"] == s3.path(file["key"]).stat().st_size > PART  # several parts
