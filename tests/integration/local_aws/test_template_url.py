from __future__ import annotations

from unittest import mock

import boto3
import pytest
from moto.cloudformation import responses

from local_aws import template_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:4566/cdk-assets/abc.json", ("cdk-assets", "abc.json")),
        ("http://localhost:4566/bucket/folder/t.json", ("bucket", "folder/t.json")),
        ("https://s3.us-east-1.amazonaws.com/bucket/t.json", None),
        ("https://bucket.s3.amazonaws.com/t.json", None),
    ],
)
def test_loopback_urls_are_read_path_style(url, expected):
    assert template_url.bucket_and_key(url) == expected


def test_a_template_url_on_the_endpoint_is_read_from_its_bucket(aws):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="cdk-assets")
    s3.put_object(Bucket="cdk-assets", Key="t.json", Body=b'{"Resources": {}}')
    with mock.patch.object(responses, "get_stack_from_s3_url", template_url.get_stack_from_s3_url):
        body = responses.get_stack_from_s3_url(
            "http://127.0.0.1:4566/cdk-assets/t.json", account_id="123456789012", partition="aws"
        )
    assert body == '{"Resources": {}}'


def test_stock_moto_still_reads_the_host_as_a_bucket(aws):
    boto3.client("s3").create_bucket(Bucket="cdk-assets")
    with pytest.raises(Exception, match="bucket does not exist"):
        template_url._original(
            "http://127.0.0.1:4566/cdk-assets/t.json", account_id="123456789012", partition="aws"
        )
