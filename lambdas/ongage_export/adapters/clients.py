"""What the Ongage-calling handlers use: the Ongage client on an account's secret, the slots of
the account's calls, the S3 landing and the readiness history, built from Settings (the AWS
clients themselves are in aws_clients.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from aws_lambda_powertools.utilities import parameters

from ongage_export.adapters.aws_clients import dynamodb_client, s3_client
from ongage_export.adapters.call_slots import CallSlots
from ongage_export.adapters.landing import S3Landing
from ongage_export.adapters.ongage_client import OngageClient, OngageCredentials
from ongage_export.adapters.readiness_history import DynamoReadinessHistory
from ongage_export.domain.accounts import Account
from ongage_export.domain.errors import AccountLimitReached, OngageAuthError
from ongage_export.settings import ONGAGE_CONNECT_TIMEOUT_SECONDS, Settings

SECRET_CACHE_SECONDS = 300
T = TypeVar("T")


def ongage_secret(account: Account, *, fresh: bool = False) -> object:
    """The account's credentials secret: cached for SECRET_CACHE_SECONDS, or read again with
    `fresh`."""
    return parameters.get_secret(
        account.secret_id,
        transform="json",
        max_age=SECRET_CACHE_SECONDS,
        force_fetch=fresh,
    )


def ongage_client(settings: Settings, account: Account, secret: object) -> OngageClient:
    """A client for the configured Ongage URL with the credentials in `secret`; a redirect it
    follows with them counts as one more call of `account`."""
    credentials = OngageCredentials.from_secret(secret if isinstance(secret, dict) else {})
    return OngageClient(
        settings.ongage_base_url,
        credentials,
        connect_timeout=ONGAGE_CONNECT_TIMEOUT_SECONDS,
        read_timeout=settings.ongage_read_timeout_seconds,
        trusted_origins=settings.ongage_trusted_origins.split(),
        before_redirected_call=lambda: one_more_call(settings, account),
    )


def calling_ongage(settings: Settings, account: Account, call: Callable[[OngageClient], T]) -> T:
    """`call` with a client on the account's cached secret. If Ongage (or the secret's shape)
    refuses it, the secret is read again and, when it changed, `call` runs once more: a fixed
    or rotated secret is used by the very next call, not once the cache expires. A refusal is
    final at Ongage (nothing was created or downloaded), so calling again is safe."""
    used = ongage_secret(account)
    try:
        return call(ongage_client(settings, account, used))
    except OngageAuthError:
        fresh = ongage_secret(account, fresh=True)
        if fresh == used:
            raise
        one_more_call(settings, account)
        return call(ongage_client(settings, account, fresh))


class NoFreeSlot(Exception):
    """Every slot of the account's calls is held, or its minute is full: nothing was called.
    Never leaves the function: the handler answers with the wait instead."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        super().__init__(f"no free slot for {seconds} s")


def call_slots(settings: Settings) -> CallSlots:
    # The idempotency table holds the accounts' books too, under keys of their own.
    return CallSlots(dynamodb_client(), settings.idempotency_table)


@contextmanager
def holding_slot(settings: Settings, account: Account, holder: str) -> Iterator[None]:
    """One slot of `account`'s calls for `holder`'s Ongage call, released however it ends; a
    crash leaves it to its lease. NoFreeSlot when there is none now."""
    slots = call_slots(settings)
    seconds = slots.take(account.name, holder, account.limits, settings.call_lease_seconds)
    if seconds:
        raise NoFreeSlot(seconds)
    try:
        yield
    finally:
        slots.release(account.name, holder)


def one_more_call(settings: Settings, account: Account) -> None:
    """Count a second call under a held slot against the account's minute, or refuse it."""
    seconds = call_slots(settings).take_call(account.name, account.limits)
    if seconds:
        raise AccountLimitReached(
            f"the account {account.name!r} made {account.limits.calls_per_minute} calls in the "
            f"last minute, its limit; this call waits about {seconds} s and is retried"
        )


def readiness_history(settings: Settings) -> DynamoReadinessHistory:
    # The idempotency table holds the history too, under keys of its own (readiness_history.py).
    return DynamoReadinessHistory(dynamodb_client(), settings.idempotency_table)


def s3_landing(settings: Settings) -> S3Landing:
    return S3Landing(
        s3_client(),
        settings.export_bucket,
        part_size=settings.part_size_bytes,
        upload_concurrency=settings.upload_concurrency,
    )
