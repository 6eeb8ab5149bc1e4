from __future__ import annotations

from unittest import mock

import boto3
import pytest
from moto.s3.models import FakeBucket

from local_aws import secure_transport

# What CDK's enforce_ssl adds to a bucket policy.
DENY_INSECURE = {
    "Effect": "Deny", "Principal": {"AWS": "*"}, "Action": "s3:*", "Resource": "*",
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}  # fmt: skip
DENY_OLD_TLS = {**DENY_INSECURE, "Condition": {"NumericLessThan": {"s3:TlsVersion": 1.2}}}
ALLOW_LOGGING = {
    "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"},
    "Action": "s3:PutObject", "Resource": "*",
    "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
}  # fmt: skip


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (DENY_INSECURE, None),
        (DENY_OLD_TLS, None),
        ({**DENY_INSECURE, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, "applies"),
        (ALLOW_LOGGING, "unchanged"),
    ],
)
def test_tls_conditions_are_decided_as_for_a_tls12_request(statement, expected):
    resolved = secure_transport.resolve_statement(statement)
    if expected is None:
        assert resolved is None
    elif expected == "applies":
        assert resolved is not None and "Condition" not in resolved
    else:
        assert resolved == statement


def put_enforce_ssl_policy() -> None:
    import json

    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="exports")
    s3.put_bucket_policy(
        Bucket="exports",
        Policy=json.dumps({"Version": "2012-10-17", "Statement": [DENY_INSECURE, DENY_OLD_TLS]}),
    )


def test_an_enforce_ssl_bucket_accepts_sdk_calls(aws):
    put_enforce_ssl_policy()
    with mock.patch.object(FakeBucket, "get_permission", secure_transport.get_permission):
        boto3.client("s3").put_object(Bucket="exports", Key="k", Body=b"x")
        assert boto3.client("s3").get_object(Bucket="exports", Key="k")["Body"].read() == b"x"


def test_stock_moto_still_denies_every_call_to_an_enforce_ssl_bucket(aws):
    put_enforce_ssl_policy()
    with pytest.raises(Exception, match=r"403|AccessDenied|Forbidden"):
        boto3.client("s3").put_object(Bucket="exports", Key="k", Body=b"x")
