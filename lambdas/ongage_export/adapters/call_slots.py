"""Each account's `SlotBook` (domain/call_limits.py) in the stack's DynamoDB table, shared by
every run of every workflow, whatever started it.

One item per account (`id` = `call-slots#<account>`), written only if its `version` is still
the one read (a conditional put): two invocations deciding at once cannot both take the last
slot; the one that loses reads again and decides again. The item has no TTL attribute: an
account's book lives as long as the table.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from ongage_export.domain.call_limits import (
    CallLimits,
    Decision,
    Granted,
    MustWait,
    SlotBook,
    release,
    take_call,
    take_slot,
)

KEY_PREFIX = "call-slots#"
# Conflicting writers read again; so many conflicts in a row mean a crowd: wait like a refusal.
WRITE_ATTEMPTS = 8
CROWDED_SECONDS = 1


class CallSlots:
    """`take` a slot before calling Ongage, `release` it after (boto3 DynamoDB client)."""

    def __init__(self, dynamodb: Any, table_name: str, clock: Callable[[], float] = time.time):
        self.dynamodb = dynamodb
        self.table_name = table_name
        self.clock = clock

    def take(self, account: str, holder: str, limits: CallLimits, lease_seconds: float) -> int:
        """0 when `holder` holds a slot of `account` (one call counted), else how many seconds
        to wait before asking again."""
        return self._decide(
            account, lambda book, now: take_slot(book, holder, now, limits, lease_seconds)
        )

    def take_call(self, account: str, limits: CallLimits) -> int:
        """0 when one more call under a held slot is within the minute's, else seconds to wait."""
        return self._decide(account, lambda book, now: take_call(book, now, limits))

    def release(self, account: str, holder: str) -> None:
        for _ in range(WRITE_ATTEMPTS):
            book = self._read(account)
            if holder not in book.leases or self._write(
                account, book, release(book, holder, self.clock())
            ):
                return
        # Still held: its lease expires on its own; the next decision prunes it.

    def _decide(self, account: str, decide: Callable[[SlotBook, float], Decision]) -> int:
        for _ in range(WRITE_ATTEMPTS):
            book = self._read(account)
            decision = decide(book, self.clock())
            if isinstance(decision, MustWait):
                return decision.seconds
            assert isinstance(decision, Granted)
            if self._write(account, book, decision.book):
                return 0
        return CROWDED_SECONDS

    def _read(self, account: str) -> SlotBook:
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key=_key(account), ConsistentRead=True
        ).get("Item")
        if not item:
            return SlotBook()
        return SlotBook(
            leases=json.loads(item["leases"]["S"]),
            calls=tuple(json.loads(item["calls"]["S"])),
            version=int(item["version"]["N"]),
        )

    def _write(self, account: str, read: SlotBook, book: SlotBook) -> bool:
        """Put `book` if the item is still at `read`'s version; False if someone wrote first."""
        unchanged = (
            {
                "ConditionExpression": "version = :read",
                "ExpressionAttributeValues": {":read": {"N": str(read.version)}},
            }
            if read.version
            else {"ConditionExpression": "attribute_not_exists(id)"}
        )
        try:
            self.dynamodb.put_item(
                TableName=self.table_name,
                Item={
                    **_key(account),
                    "leases": {"S": json.dumps(book.leases, separators=(",", ":"))},
                    "calls": {
                        "S": json.dumps([round(t, 3) for t in book.calls], separators=(",", ":"))
                    },
                    "version": {"N": str(book.version)},
                },
                **unchanged,
            )
        except self.dynamodb.exceptions.ConditionalCheckFailedException:
            return False
        return True


def _key(account: str) -> dict[str, Any]:
    return {"id": {"S": KEY_PREFIX + account}}
