"""S3 at constant memory: ranged reads and completed uploads give S3's bytes, in blocks."""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from unittest import mock

import boto3
import pytest

from local_aws import s3_streaming

PART = 5 * 1024 * 1024


@pytest.fixture
def streaming(aws):
    with ExitStack() as stack:
        for owner, attribute, replacement in s3_streaming.PATCHES:
            stack.enter_context(mock.patch.object(owner, attribute, replacement))
        yield


def test_a_completed_upload_and_its_ranges_are_the_bytes_uploaded(streaming):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bucket-b")
    parts = [bytes([n]) * PART for n in range(3)] + [b"tail"]
    upload = s3.create_multipart_upload(Bucket="bucket-b", Key="k")["UploadId"]
    etags = [
        s3.upload_part(Bucket="bucket-b", Key="k", UploadId=upload, PartNumber=i + 1, Body=p)[
            "ETag"
        ]
        for i, p in enumerate(parts)
    ]
    s3.complete_multipart_upload(
        Bucket="bucket-b", Key="k", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]},
    )  # fmt: skip
    whole = b"".join(parts)

    got = s3.get_object(Bucket="bucket-b", Key="k")
    assert got["ContentLength"] == len(whole) and got["ETag"].endswith('-4"')
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(whole).digest()
    ranged = s3.get_object(Bucket="bucket-b", Key="k", Range=f"bytes={PART - 2}-{PART + 1}")
    assert ranged["Body"].read() == whole[PART - 2 : PART + 2]


def test_a_ranged_read_touches_only_its_range(streaming):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bucket-b")
    s3.put_object(Bucket="bucket-b", Key="k", Body=b"0123456789" * 1000)
    with mock.patch.object(
        s3_streaming.RangeView, "__getitem__", autospec=True,
        side_effect=lambda view, item: b"x" * (item.stop - item.start),
    ) as sliced:  # fmt: skip
        body = s3.get_object(Bucket="bucket-b", Key="k", Range="bytes=10-19")["Body"].read()
    assert body == b"x" * 10
    assert sliced.call_args.args[1] == slice(10, 20)
