"""The limiter's book in DynamoDB (moto): conditional writes hold the limits across writers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ongage_export.adapters.call_slots import CallSlots
from ongage_export.domain.call_limits import CallLimits

TABLE = "limits"
LIMITS = CallLimits(parallel_calls=3, calls_per_minute=1000)


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_accounts_are_held_apart_and_a_released_slot_is_taken_by_the_next(dynamodb: Any) -> None:
    slots = CallSlots(dynamodb, TABLE, clock=Clock())
    for holder in ("a", "b", "c"):
        assert slots.take("brand-eu", holder, LIMITS, lease_seconds=90) == 0
    assert slots.take("brand-eu", "d", LIMITS, lease_seconds=90) > 0
    assert slots.take("brand-us", "d", LIMITS, lease_seconds=90) == 0  # another account's slots
    slots.release("brand-eu", "a")
    assert slots.take("brand-eu", "d", LIMITS, lease_seconds=90) == 0


def test_a_slot_held_by_a_crashed_run_is_free_after_its_lease(dynamodb: Any) -> None:
    clock = Clock()
    slots = CallSlots(dynamodb, TABLE, clock=clock)
    for holder in ("crashed-1", "crashed-2", "crashed-3"):
        slots.take("default", holder, LIMITS, lease_seconds=90)  # never released
    assert slots.take("default", "next", LIMITS, lease_seconds=90) > 0
    clock.now += 90
    assert slots.take("default", "next", LIMITS, lease_seconds=90) == 0


def test_the_minutes_calls_include_extra_calls_under_a_held_slot(dynamodb: Any) -> None:
    slots = CallSlots(dynamodb, TABLE, clock=Clock())
    limits = CallLimits(parallel_calls=10, calls_per_minute=2)
    assert slots.take("default", "run", limits, lease_seconds=90) == 0
    assert slots.take_call("default", limits) == 0  # e.g. a redirect hop
    assert slots.take_call("default", limits) == 60


class LockedFakeDynamoDB:
    """DynamoDB's contract for one item: a put whose condition fails changes nothing.
    (moto does not make check-and-put atomic across threads; DynamoDB does.)"""

    class exceptions:
        class ConditionalCheckFailedException(Exception):
            pass

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.conflicts = 0
        self.before_put: list[Any] = []  # callables run once, between a read and its put

    def get_item(self, *, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        with self.lock:
            item = self.items.get(Key["id"]["S"])
        return {"Item": item} if item else {}

    def put_item(self, *, Item: dict[str, Any], ConditionExpression: str, **kw: Any) -> None:
        while self.before_put:
            self.before_put.pop()()
        with self.lock:
            current = self.items.get(Item["id"]["S"])
            if ConditionExpression.startswith("attribute_not_exists"):
                ok = current is None
            else:
                ok = (
                    current is not None
                    and current["version"] == kw["ExpressionAttributeValues"][":read"]
                )
            if not ok:
                self.conflicts += 1
                raise self.exceptions.ConditionalCheckFailedException()
            self.items[Item["id"]["S"]] = Item


def test_racing_runs_never_hold_more_slots_than_the_limit() -> None:
    table = LockedFakeDynamoDB()
    slots = CallSlots(table, TABLE)
    held, peak, lock = set(), 0, threading.Lock()

    def run(name: str) -> None:
        nonlocal peak
        for _ in range(30):
            if slots.take("default", name, LIMITS, lease_seconds=90) == 0:
                with lock:
                    held.add(name)
                    peak = max(peak, len(held))
                with lock:
                    held.discard(name)
                slots.release("default", name)

    threads = [threading.Thread(target=run, args=(f"run-{i}",)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 1 <= peak <= LIMITS.parallel_calls


def test_of_two_runs_that_read_the_last_free_slot_at_once_only_one_takes_it() -> None:
    table = LockedFakeDynamoDB()
    slots = CallSlots(table, TABLE)
    limits = CallLimits(parallel_calls=1, calls_per_minute=1000)
    rival: list[int] = []
    # "late" has read the empty book when "early" takes the slot and writes first.
    table.before_put.append(lambda: rival.append(slots.take("default", "early", limits, 90)))
    late = slots.take("default", "late", limits, lease_seconds=90)
    assert rival == [0] and late > 0 and table.conflicts == 1
