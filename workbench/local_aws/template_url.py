"""CloudFormation reads a template from an S3 URL on the local endpoint itself.

The CDK CLI uploads the template to the bootstrap bucket and passes a path-style URL on the
endpoint it talks to (`http://127.0.0.1:PORT/<bucket>/<key>`); moto only parses path-style URLs
on `localhost` or `s3*.amazonaws.com`, and otherwise takes the first label of the host ("127")
for the bucket name.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from moto.cloudformation import responses, utils

_original = utils.get_stack_from_s3_url


def bucket_and_key(template_url: str) -> tuple[str, str] | None:
    """(bucket, key) of a path-style URL on a loopback host; None for any other URL."""
    parts = urlparse(template_url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return None
    bucket, _, key = parts.path.lstrip("/").partition("/")
    return bucket, key


def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
    located = bucket_and_key(template_url)
    if located is None:
        return _original(template_url, account_id=account_id, partition=partition)
    from moto.s3.models import s3_backends

    key: Any = s3_backends[account_id][partition].get_object(*located)
    return str(key.value.decode("utf-8"))


def install() -> None:
    responses.get_stack_from_s3_url = get_stack_from_s3_url  # type: ignore[assignment]
