"""S3 at constant memory: ranged reads and completed uploads give S3's bytes, in blocks."""

from __future__ import annotations

import gc
import hashlib
from contextlib import ExitStack
from unittest import mock

import boto3
import pytest
from moto.core.request import Request

from local_aws import s3_bodies, s3_streaming

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
    # Read in the process that holds the S3, as the embedded runtime copies a run's ZIP out.
    blocks = list(s3_bodies.stored_blocks("123456789012", "bucket-b", "k"))
    assert b"".join(blocks) == whole and max(map(len, blocks)) <= s3_bodies.BLOCK
    with pytest.raises(KeyError, match="s3://bucket-b/absent"):
        list(s3_bodies.stored_blocks("123456789012", "bucket-b", "absent"))

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
        s3_bodies.RangeView, "__getitem__", autospec=True,
        side_effect=lambda view, item: b"x" * (item.stop - item.start),
    ) as sliced:  # fmt: skip
        body = s3.get_object(Bucket="bucket-b", Key="k", Range="bytes=10-19")["Body"].read()
    assert body == b"x" * 10
    assert sliced.call_args.args[1] == slice(10, 20)


def test_an_answered_request_and_its_body_are_freed_without_a_garbage_collection(streaming):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="bucket-b")
    upload = s3.create_multipart_upload(Bucket="bucket-b", Key="k")["UploadId"]
    gc.collect()
    gc.disable()  # what is left now is only freed by a collection
    try:
        s3.upload_part(Bucket="bucket-b", Key="k", UploadId=upload, PartNumber=1, Body=b"x" * PART)
        left = [o for o in gc.get_objects() if isinstance(o, Request)]
    finally:
        gc.enable()
    assert left == []


def _completed_upload(s3, parts):
    s3.create_bucket(Bucket="bucket-c")
    upload = s3.create_multipart_upload(Bucket="bucket-c", Key="k", ChecksumAlgorithm="CRC32")
    listed = []
    for number, body in enumerate(parts, start=1):
        answer = s3.upload_part(
            Bucket="bucket-c", Key="k", UploadId=upload["UploadId"], PartNumber=number,
            Body=body, ChecksumAlgorithm="CRC32",
        )  # fmt: skip
        listed.append({"PartNumber": number, "ETag": answer["ETag"]})
    s3.complete_multipart_upload(
        Bucket="bucket-c", Key="k", UploadId=upload["UploadId"],
        MultipartUpload={"Parts": listed},
    )  # fmt: skip
    head = s3.head_object(Bucket="bucket-c", Key="k", ChecksumMode="ENABLED")
    return head["ETag"], head["ChecksumCRC32"]


def test_completing_an_upload_reads_no_part_back_and_gives_moto_s_checksum(aws):
    parts = [bytes([n]) * PART for n in range(2)] + [b"tail"]
    stock = _completed_upload(boto3.client("s3"), parts)
    s3 = boto3.client("s3")
    s3.delete_object(Bucket="bucket-c", Key="k")
    s3.delete_bucket(Bucket="bucket-c")
    with ExitStack() as stack:
        for owner, attribute, replacement in s3_streaming.PATCHES:
            stack.enter_context(mock.patch.object(owner, attribute, replacement))
        stack.enter_context(
            mock.patch.object(s3_bodies.RangeView, "blocks", side_effect=AssertionError)
        )
        ours = _completed_upload(s3, parts)
        body = s3.get_object(Bucket="bucket-c", Key="k")["Body"].read()
    assert ours == stock
    assert body == b"".join(parts)
