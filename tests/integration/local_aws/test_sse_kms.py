"""S3 calls on an SSE-KMS bucket need the caller's key permission, against moto's server with
IAM enforced, as the local AWS runs it: writes GenerateDataKey (multipart also Decrypt), reads
Decrypt, HeadObject nothing; a bucket without a KMS key asks for no key permission."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import settings
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local_aws import extensions, presigned_urls, sse_kms
from tests.integration.local_aws.test_presigned_urls import s3, user

S3_ACTIONS = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload"]


@pytest.fixture
def endpoint(aws: None) -> Iterator[str]:
    server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    with (
        extensions.applied(presigned_urls, sse_kms),
        mock.patch.object(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0),
    ):
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture
def key_arn(endpoint: str) -> str:
    """The admin's bucket `sealed` (SSE-KMS under a new key) and `plain` (SSE-S3)."""
    admin = user("admin", ["*"])
    kms = boto3.client(
        "kms",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=admin["aws_access_key_id"],
        aws_secret_access_key=admin["aws_secret_access_key"],
    )
    arn = str(kms.create_key()["KeyMetadata"]["Arn"])
    client = s3(endpoint, **admin)
    for bucket in ("sealed", "plain"):
        client.create_bucket(Bucket=bucket)
    client.put_bucket_encryption(
        Bucket="sealed",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": arn,
                    }
                }
            ]
        },
    )
    client.put_object(Bucket="sealed", Key="present", Body=b"contact list")
    return arn


def multipart(client: Any, bucket: str) -> None:
    upload = client.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    part = client.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"x")
    client.complete_multipart_upload(
        Bucket=bucket, Key="big", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip


def denied(call: Any) -> bool:
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"] == "AccessDenied"
    return False


def test_key_actions_follow_what_s3_does_with_the_key():
    assert sse_kms.key_actions("PutObject", "PUT", {}, {}) == ["kms:GenerateDataKey"]
    assert sse_kms.key_actions("PutObject", "POST", {"uploads": [""]}, {}) == [
        "kms:GenerateDataKey",
        "kms:Decrypt",
    ]
    assert sse_kms.key_actions("GetObject", "GET", {}, {}) == ["kms:Decrypt"]
    assert sse_kms.key_actions("GetObject", "HEAD", {}, {}) == []
    assert sse_kms.key_actions("ListBucket", "GET", {}, {}) == []


def test_a_writer_with_its_key_actions_lands_a_multipart_object(endpoint: str, key_arn: str):
    writer = s3(endpoint, **user("writer", [*S3_ACTIONS, "kms:GenerateDataKey", "kms:Decrypt"]))
    multipart(writer, "sealed")
    assert writer.get_object(Bucket="sealed", Key="big")["Body"].read() == b"x"


def test_without_generate_data_key_no_write_lands(endpoint: str, key_arn: str):
    writer = s3(endpoint, **user("no-generate", [*S3_ACTIONS, "kms:Decrypt"]))
    assert denied(lambda: writer.put_object(Bucket="sealed", Key="new", Body=b"x"))
    assert denied(lambda: multipart(writer, "sealed"))
    multipart(writer, "plain")  # no key, no key permission asked


def test_without_decrypt_a_multipart_upload_and_a_read_are_refused(endpoint: str, key_arn: str):
    client = s3(endpoint, **user("no-decrypt", [*S3_ACTIONS, "kms:GenerateDataKey"]))
    client.put_object(Bucket="sealed", Key="single", Body=b"x")  # GenerateDataKey is enough
    assert denied(lambda: multipart(client, "sealed"))
    assert denied(lambda: client.get_object(Bucket="sealed", Key="present"))
    assert client.head_object(Bucket="sealed", Key="present")["ContentLength"] == 12


def test_a_presigned_link_needs_the_signers_decrypt(endpoint: str, key_arn: str):
    def fetch(credentials: dict[str, str]) -> int:
        url = s3(endpoint, **credentials).generate_presigned_url(
            "get_object", Params={"Bucket": "sealed", "Key": "present"}, ExpiresIn=60
        )
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as error:
            return error.code

    assert fetch(user("reader", ["s3:GetObject", "kms:Decrypt"])) == 200
    assert fetch(user("no-key-reader", ["s3:GetObject"])) == 403
