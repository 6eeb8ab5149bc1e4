"""How long earlier runs of the same export took to become ready, kept in DynamoDB.

One item per export shape (`domain.create.history_key`: runs that share the list and what is
exported), in the stack's idempotency table under its own key prefix: `id` = the key, `runs` =
the last HISTORY_LIMIT runs as JSON `[[not_ready_seconds, ready_seconds], ...]` (oldest first;
ready_seconds null for a run that gave up), and the table's TTL attribute, so a shape that stops
being exported is forgotten. Only those numbers are stored: no contact data, no credential, not
even the request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from ongage_export.domain.polling import Readiness

HISTORY_LIMIT = 10
RETENTION = timedelta(days=90)
TTL_ATTRIBUTE = "expiration"  # the table's TTL attribute (Powertools idempotency's default)


def appended(runs: Sequence[Readiness], run: Readiness) -> list[Readiness]:
    """`runs` with `run` last, the oldest dropped beyond HISTORY_LIMIT."""
    return [*runs, run][-HISTORY_LIMIT:]


def encode_runs(runs: Sequence[Readiness]) -> str:
    return json.dumps([[run.not_ready_seconds, run.ready_seconds] for run in runs])


def decode_runs(text: str) -> list[Readiness]:
    """The stored runs; anything unreadable counts as no history (the default policy)."""
    try:
        pairs = json.loads(text)
        return [Readiness(float(low), None if high is None else float(high)) for low, high in pairs]
    except (TypeError, ValueError):
        return []


class DynamoReadinessHistory:
    """The history in a DynamoDB table with a string partition key `id` (boto3 client)."""

    def __init__(self, dynamodb: Any, table_name: str):
        self.dynamodb = dynamodb
        self.table_name = table_name

    def load(self, key: str) -> list[Readiness]:
        item = self.dynamodb.get_item(
            TableName=self.table_name, Key={"id": {"S": key}}, ConsistentRead=True
        ).get("Item")
        return decode_runs(item["runs"]["S"]) if item and "runs" in item else []

    def record(self, key: str, run: Readiness, now: datetime) -> None:
        # Read, append, write: two runs of one shape finishing at the same moment may keep one
        # observation instead of both, which the next runs make up for.
        runs = appended(self.load(key), run)
        expires = int((now + RETENTION).timestamp())
        self.dynamodb.put_item(
            TableName=self.table_name,
            Item={
                "id": {"S": key},
                "runs": {"S": encode_runs(runs)},
                TTL_ATTRIBUTE: {"N": str(expires)},
            },
        )
