"""Presigned GETs against moto's server with IAM enforced, as the local AWS runs it."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.config import Config
from moto import settings
from moto.iam.models import iam_backends
from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local_aws import extensions, presigned_urls

ACCOUNT = "123456789012"
BUCKET = "exports"
KEY = "exports/list=1111/date=2030-01-02/e2e 7000001.zip"  # '=' and ' ' are encoded in links
BODY = bytes(range(256)) * 40


def user(name: str, actions: list[str]) -> dict[str, str]:
    """An IAM user allowed `actions` on everything; its key."""
    iam = iam_backends[ACCOUNT]["aws"]
    iam.create_user("us-east-1", name, path="/", tags=[])
    if actions:
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_user_policy(name, "p", json.dumps(policy))
    key = iam.create_access_key(name)
    return {"aws_access_key_id": key.access_key_id, "aws_secret_access_key": key.secret_access_key}


@pytest.fixture
def endpoint(aws: None) -> Iterator[str]:
    server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    with mock.patch.object(settings, "INITIAL_NO_AUTH_ACTION_COUNT", 0):
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()


def s3(endpoint: str, version: str = "s3v4", **credentials: str) -> Any:
    config = Config(signature_version=version)
    return boto3.client(  # type: ignore[call-overload]
        "s3", endpoint_url=endpoint, region_name="us-east-1", config=config, **credentials
    )


@pytest.fixture
def admin(endpoint: str) -> dict[str, str]:
    credentials = user("admin", ["*"])
    client = s3(endpoint, **credentials)
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key=KEY, Body=BODY)
    return credentials


def link(endpoint: str, credentials: dict[str, str], version: str = "s3v4") -> str:
    return str(
        s3(endpoint, version, **credentials).generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": KEY}, ExpiresIn=900
        )
    )


def download(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_stock_moto_answers_a_presigned_get_with_500(endpoint, admin):
    assert download(link(endpoint, admin))[0] == 500


def test_a_presigned_get_downloads_the_object_byte_identical(endpoint, admin):
    with extensions.applied(presigned_urls):
        assert download(link(endpoint, admin)) == (200, BODY)


def test_a_role_session_link_is_checked_with_the_role(endpoint, admin):
    """What the status function signs with: its role's session (X-Amz-Security-Token)."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", **admin)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    for name, actions in (("reader", ["s3:GetObject"]), ("writer", ["s3:PutObject"])):
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        policy = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
        }
        iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1", **admin)

    def session(role: str) -> dict[str, str]:
        answer = sts.assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}", RoleSessionName="link"
        )
        c = answer["Credentials"]
        return {
            "aws_access_key_id": c["AccessKeyId"],
            "aws_secret_access_key": c["SecretAccessKey"],
            "aws_session_token": c["SessionToken"],
        }

    with extensions.applied(presigned_urls):
        assert download(link(endpoint, session("reader"))) == (200, BODY)
        assert download(link(endpoint, session("reader"), version="s3")) == (200, BODY)
        status, answer = download(link(endpoint, session("writer")))
    assert status == 403 and b"AccessDenied" in answer


def test_a_link_of_a_key_without_the_permission_is_denied(endpoint, admin):
    with extensions.applied(presigned_urls):
        status, answer = download(link(endpoint, user("nobody", [])))
    assert status == 403 and b"AccessDenied" in answer


def test_a_tampered_link_is_refused(endpoint, admin):
    url = link(endpoint, admin).replace("X-Amz-Expires=900", "X-Amz-Expires=9000")
    with extensions.applied(presigned_urls):
        status, answer = download(url)
    assert status == 403 and b"SignatureDoesNotMatch" in answer


def test_a_signature_version_2_link_downloads_too(endpoint, admin):
    """What `aws s3 presign` of the AWS CLI v1 makes (AWSAccessKeyId, Signature, Expires)."""
    url = link(endpoint, admin, version="s3")
    assert "AWSAccessKeyId=" in url
    with extensions.applied(presigned_urls):
        assert download(url) == (200, BODY)
        status, answer = download(url.replace("Expires=", "Expires=1"))
    assert status == 403 and b"SignatureDoesNotMatch" in answer


def test_a_link_expires_after_its_lifetime():
    signed = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    assert not presigned_urls.expired(
        "20300102T030405Z", "900", now=signed + datetime.timedelta(seconds=900)
    )
    assert presigned_urls.expired(
        "20300102T030405Z", "900", now=signed + datetime.timedelta(seconds=901)
    )
    assert presigned_urls.expired("not a date", "900")
    assert not presigned_urls.expired_v2("1893553445", now=1893553445)
    assert presigned_urls.expired_v2("1893553445", now=1893553446)
