"""An in-memory DynamoDB table for the limiter's book (`adapters/call_slots.py`), with what
DynamoDB bills: every call counted, and sized in request units from the item's size.

It keeps DynamoDB's contract for the two conditions the adapter writes (`version = :read`,
`attribute_not_exists(id)`): a put whose condition fails changes nothing and raises
ConditionalCheckFailedException. Any other expression is refused, so a change in the adapter
shows here instead of being mis-simulated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# On-demand capacity: a strongly consistent read of up to 4 KB is one read request unit (half
# that for an eventually consistent one), a write of up to 1 KB one write request unit.
READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's size of an item of strings and numbers: each attribute's name and value in
    UTF-8 bytes, a number as one byte per two significant digits plus one."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, str]) -> int:
    ((kind, text),) = value.items()
    if kind == "S":
        return len(text.encode())
    if kind == "N":
        digits = Decimal(text).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    raise ValueError(f"no size rule for DynamoDB type {kind}")


@dataclass
class Usage:
    reads: int = 0
    writes: int = 0  # conditional puts that failed included: DynamoDB bills them too
    failed_writes: int = 0
    read_units: float = 0.0
    write_units: int = 0
    largest_item_bytes: int = 0

    @property
    def calls(self) -> int:
        return self.reads + self.writes


class CountingTable:
    """The boto3 DynamoDB client's get_item and put_item, for one table in memory."""

    class exceptions:
        class ConditionalCheckFailedException(Exception):
            pass

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}
        self.usage = Usage()

    def get_item(self, *, Key: dict[str, Any], ConsistentRead: bool = False, **_: Any):
        item = self.items.get(Key["id"]["S"])
        size = item_size(item) if item else 0
        units = max(1, math.ceil(size / READ_UNIT_BYTES))  # a missing item costs a unit too
        self.usage.reads += 1
        self.usage.read_units += units if ConsistentRead else units / 2
        return {"Item": item} if item else {}

    def put_item(
        self,
        *,
        Item: dict[str, Any],
        ConditionExpression: str,
        ExpressionAttributeValues: dict[str, Any] | None = None,
        **_: Any,
    ) -> None:
        current = self.items.get(Item["id"]["S"])
        # A put is billed on the larger of the item before and after it, met or not.
        size = max(item_size(Item), item_size(current) if current else 0)
        self.usage.writes += 1
        self.usage.write_units += max(1, math.ceil(size / WRITE_UNIT_BYTES))
        self.usage.largest_item_bytes = max(self.usage.largest_item_bytes, size)
        if not _condition_holds(ConditionExpression, ExpressionAttributeValues or {}, current):
            self.usage.failed_writes += 1
            raise self.exceptions.ConditionalCheckFailedException(ConditionExpression)
        self.items[Item["id"]["S"]] = Item


def _condition_holds(
    expression: str, values: dict[str, Any], current: dict[str, Any] | None
) -> bool:
    if expression == "attribute_not_exists(id)":
        return current is None
    if expression == "version = :read":
        return current is not None and current["version"] == values[":read"]
    raise ValueError(f"the fake table does not evaluate {expression!r}")
