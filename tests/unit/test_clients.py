"""The handlers' S3 client: what it sends, checked on the request botocore is about to send."""

from __future__ import annotations

import base64
import contextlib
import logging
import os
import subprocess
import sys
import zlib
from pathlib import Path

import boto3
import pytest

from ongage_export.adapters import clients
from ongage_export.adapters.ongage_client import OngageClient
from ongage_export.adapters.s3_storage import S3_CONFIG
from ongage_export.domain.errors import AccountLimitReached, OngageAuthError
from ongage_export.settings import Settings


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


# --- the credentials secret: a fix or a rotation is used by the very next call -------------

SETTINGS = Settings.from_env(
    {
        "EXPORT_BUCKET": "bucket-u",
        "IDEMPOTENCY_TABLE": "table",
        "ONGAGE_SECRET_ID": "secret",
        "ONGAGE_BASE_URL": "https://api.ongage.net",
    }
)
WRONG = {"username": "demo", "password": "old", "account_code": "ACCT"}
RIGHT = {**WRONG, "password": "new"}


class _SecretStore:
    """Secrets Manager behind Powertools' cache: `cached` until a forced read sees `current`."""

    def __init__(self, cached: dict[str, str], current: dict[str, str]):
        self.cached, self.current, self.forced_reads = cached, current, 0

    def get_secret(self, name: str, *, force_fetch: bool = False, **_: object) -> object:
        if force_fetch:
            self.forced_reads += 1
            self.cached = self.current
        return self.cached


ACCOUNT = SETTINGS.account("default")


def _calls_with(store: _SecretStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Runs one Ongage call that only the RIGHT password passes; the passwords it was made with."""
    monkeypatch.setattr(clients.parameters, "get_secret", store.get_secret)
    used: list[str] = []
    # A second call counts against the account's minute (the limiter's own tests cover it).
    monkeypatch.setattr(clients, "one_more_call", lambda *_: used.append("counted"))

    def call(ongage: OngageClient) -> str:
        password = ongage.credentials.password
        used.append(password)
        if password != RIGHT["password"]:
            raise OngageAuthError("Ongage refused the credentials (401)")
        return "7000001"

    with contextlib.suppress(OngageAuthError):
        clients.calling_ongage(SETTINGS, ACCOUNT, call)
    return used


def test_a_refused_cached_secret_is_read_again_and_the_fixed_one_used_at_once(monkeypatch):
    store = _SecretStore(cached=WRONG, current=RIGHT)
    assert _calls_with(store, monkeypatch) == ["old", "counted", "new"]
    assert store.forced_reads == 1


def test_an_unchanged_secret_is_not_sent_to_ongage_twice(monkeypatch):
    store = _SecretStore(cached=WRONG, current=WRONG)
    assert _calls_with(store, monkeypatch) == ["old"]
    assert store.forced_reads == 1


def test_a_placeholder_secret_that_was_since_filled_in_is_used(monkeypatch):
    store = _SecretStore(cached={"placeholder": "set me"}, current=RIGHT)
    assert _calls_with(store, monkeypatch) == ["counted", "new"]


def test_a_second_call_the_accounts_minute_cannot_take_is_not_made(monkeypatch):
    store = _SecretStore(cached=WRONG, current=RIGHT)
    monkeypatch.setattr(clients.parameters, "get_secret", store.get_secret)
    monkeypatch.setattr(clients, "call_slots", lambda _: FullMinute())
    made: list[str] = []

    def call(ongage: OngageClient) -> str:
        made.append(ongage.credentials.password)
        raise OngageAuthError("Ongage refused the credentials (401)")

    with pytest.raises(AccountLimitReached, match="'default' made 300 calls"):
        clients.calling_ongage(SETTINGS, ACCOUNT, call)
    assert made == ["old"]


class FullMinute:
    def take_call(self, account: str, limits: object) -> int:
        return 42


def test_an_accepted_secret_is_not_read_again(monkeypatch):
    store = _SecretStore(cached=RIGHT, current=WRONG)
    assert _calls_with(store, monkeypatch) == ["new"]
    assert store.forced_reads == 0


def test_the_landing_logs_through_the_handlers_logger_without_loading_the_tracer():
    from ongage_export import observability
    from ongage_export.adapters import landing

    child = logging.getLogger(landing.logger.name)
    assert child.parent is logging.getLogger(observability.logger.name)
    assert not child.handlers  # its lines go out through the handlers' JSON handler
    # A process that only lands (the benchmarks' probe) never loads the Tracer's X-Ray SDK.
    probe = "import sys, ongage_export.adapters.landing; print(sorted(sys.modules))"
    loaded = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True, text=True, check=True, cwd=Path(landing.__file__).parents[2],
    ).stdout  # fmt: skip
    assert "ongage_export.adapters.landing" in loaded and "aws_xray_sdk" not in loaded


def test_the_status_and_announcing_functions_load_neither_the_landing_nor_the_ongage_client():
    probe = (
        "import sys, ongage_export.handlers.export_status, ongage_export.handlers.announce_run;"
        "print(sorted(sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True,
        cwd=Path(clients.__file__).parents[2],
        env={**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"},
    ).stdout  # fmt: skip
    assert "ongage_export.handlers.export_status" in loaded
    for heavy in ("ongage_export.adapters.landing", "ongage_export.adapters.ongage_client",
                  "requests"):  # fmt: skip
        assert f"'{heavy}'" not in loaded, heavy
