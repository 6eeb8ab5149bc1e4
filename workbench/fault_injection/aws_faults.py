"""How the fault matrix breaks AWS for one case: S3 errors, S3 calls observed, extra env.

The functions run in this process (the embedded runtime), so a botocore event handler on the
handlers' own S3 client (`aws_clients.s3_client`) sees and answers exactly their calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.awsrequest import AWSResponse, HTTPHeaders

from ongage_export.adapters import aws_clients


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Extra environment for the functions (they run in this process) during one case."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def s3_fault(spec: tuple[str, int, int | None] | None) -> Iterator[None]:
    """Answer an S3 operation with an HTTP error the next `times` calls (None: always).

    A 503 SlowDown goes through botocore's retry loop, as S3's throttling does; a 403 refuses
    the call before anything is sent, as S3 refuses a caller without permission.
    """
    if spec is None:
        yield
        return
    operation, status, times = spec
    code = {503: "SlowDown", 403: "AccessDenied"}[status]
    remaining = [times]

    def due() -> bool:
        if remaining[0] is None:
            return True
        remaining[0] -= 1
        return remaining[0] >= 0

    def refuse(**kwargs: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not due():
            return None
        parsed = {"Error": {"Code": code, "Message": "injected"},
                  "ResponseMetadata": {"HTTPStatusCode": status}}  # fmt: skip
        return AWSResponse("https://s3.amazonaws.com", status, HTTPHeaders(), _Raw(b"")), parsed

    def throttle(**kwargs: Any) -> AWSResponse | None:
        if not due():
            return None
        body = f"<Error><Code>{code}</Code><Message>injected</Message></Error>".encode()
        return AWSResponse(kwargs["request"].url, status, HTTPHeaders(), _Raw(body))

    event, handler = (
        (f"before-call.s3.{operation}", refuse)
        if status == 403
        else (f"before-send.s3.{operation}", throttle)
    )
    # botocore's hooks may answer in place of AWS; its stubs type them as returning None.
    client: Any = aws_clients.s3_client()
    client.meta.events.register_first(event, handler)
    try:
        yield
    finally:
        client.meta.events.unregister(event, handler)


@contextmanager
def s3_calls() -> Iterator[list[tuple[str, str]]]:
    """Every S3 call the Lambdas make meanwhile, as (operation, key)."""
    calls: list[tuple[str, str]] = []

    def record(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        calls.append((model.name, params.get("Key", "")))

    client = aws_clients.s3_client()
    client.meta.events.register("before-parameter-build.s3", record)
    try:
        yield calls
    finally:
        client.meta.events.unregister("before-parameter-build.s3", record)


class _Raw:
    """The smallest raw body botocore reads an error response from."""

    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **kwargs: Any) -> Iterator[bytes]:
        yield self._body
