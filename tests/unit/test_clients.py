"""The handlers' S3 client: what it sends, checked on the request botocore is about to send."""

from __future__ import annotations

import base64
import zlib

import boto3
import pytest

from ongage_export.clients import S3_CONFIG


class _Captured(Exception):
    """Stops the request once its headers are seen: nothing is sent anywhere."""


def test_a_part_goes_with_its_crc32_and_without_a_sha256_of_its_bytes():
    s3 = boto3.client(
        "s3", region_name="us-east-1", config=S3_CONFIG,
        aws_access_key_id="unit", aws_secret_access_key="unit",
    )  # fmt: skip
    seen: dict[str, bytes] = {}

    def capture(request, **_: object) -> None:
        seen.update(request.headers)
        raise _Captured

    s3.meta.events.register("before-send.s3.UploadPart", capture)
    body = b"x" * 1024
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    with pytest.raises(_Captured):
        s3.upload_part(
            Bucket="bucket-u", Key="k", UploadId="u", PartNumber=1, Body=body,
            ChecksumAlgorithm="CRC32", ChecksumCRC32=crc,
        )  # fmt: skip
    assert seen["X-Amz-Content-SHA256"] == b"UNSIGNED-PAYLOAD"
    assert seen["x-amz-checksum-crc32"] == crc.encode()
