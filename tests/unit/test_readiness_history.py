"""The readiness history: its key, its bound, its DynamoDB item (a fake client, no moto)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ongage_export.adapters.readiness_history import (
    HISTORY_LIMIT,
    DynamoReadinessHistory,
    decode_runs,
)
from ongage_export.domain.create import history_key
from ongage_export.domain.polling import Readiness
from ongage_export.domain.request import parse_request

BASE = {"name": "daily-2026-11-26", "list_id": 1, "segment_id": [2, 1], "date_format": "mm/dd/yyyy",
        "file_format": "csv", "status": ["active", "opened"]}  # fmt: skip
NOW = datetime(2026, 11, 26, tzinfo=UTC)


class FakeDynamoDB:
    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def get_item(self, *, TableName: str, Key: dict[str, Any], **_: Any) -> dict[str, Any]:
        item = self.items.get(Key["id"]["S"])
        return {"Item": item} if item else {}

    def put_item(self, *, TableName: str, Item: dict[str, Any]) -> None:
        self.items[Item["id"]["S"]] = Item


def key_of(**changes: Any) -> str:
    return history_key(parse_request({**BASE, **changes}).work_shape())


def test_runs_of_the_same_export_share_a_key_whatever_their_name_or_order() -> None:
    assert key_of() == key_of(name="daily-2026-11-27", segment_id=[1, 2])
    assert key_of() == key_of(status=["opened", "active"], date_format="dd/mm/yyyy")


def test_a_different_export_has_another_key() -> None:
    keys = {key_of(), key_of(list_id=9), key_of(segment_id=[3]), key_of(status=["active"]),
            key_of(fields_selected=["email"])}  # fmt: skip
    assert len(keys) == 5
    assert all(key.startswith("readiness#") and "daily" not in key for key in keys)


def test_history_keeps_the_last_runs_with_a_ttl_and_nothing_else() -> None:
    dynamodb = FakeDynamoDB()
    history = DynamoReadinessHistory(dynamodb, "table")
    for run in range(HISTORY_LIMIT + 2):
        history.record("readiness#k", Readiness(run, run + 1.5), NOW)
    history.record("readiness#k", Readiness(99, None), NOW)
    runs = history.load("readiness#k")
    assert len(runs) == HISTORY_LIMIT and runs[-1] == Readiness(99, None)
    assert runs[0] == Readiness(3, 4.5)
    (item,) = dynamodb.items.values()
    assert set(item) == {"id", "runs", "expiration"}
    assert int(item["expiration"]["N"]) > NOW.timestamp() + 30 * 86400
    assert json.loads(item["runs"]["S"])[-1] == [99, None]


def test_no_or_unreadable_history_is_no_history() -> None:
    assert DynamoReadinessHistory(FakeDynamoDB(), "table").load("readiness#none") == []
    assert decode_runs("not json") == [] and decode_runs('[["a", 1]]') == []
