"""What a schedule starts: one request, or a batch of them, each checked as Scheduler will send
it (`{scheduled_time}` in a name replaced by a sample time, to check names at their real
length), each problem named by its context key."""

from __future__ import annotations

from typing import Any

from ongage_export.domain.batch import BATCH_KEY, validate_batch
from ongage_export.domain.request import validate_request

SCHEDULED_TIME_TOKEN = "{scheduled_time}"
# A sample of what Scheduler puts in place of the token, to validate names at their real length.
_SAMPLE_SCHEDULED_TIME = "2030-12-31T23:59:59Z"


def _with_sample_time(request: Any) -> Any:
    if not isinstance(request, dict) or not isinstance(request.get("name"), str):
        return request
    name = request["name"].replace(SCHEDULED_TIME_TOKEN, _SAMPLE_SCHEDULED_TIME)
    return {**request, "name": name}


def scheduled_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request as Scheduler will send it: checked with a sample time in its name."""
    problems = validate_request(_with_sample_time(request))
    if problems:
        raise ValueError("; ".join(problems))
    return request


def requests_of(request: dict[str, Any] | None, batch: dict[str, Any] | None) -> list[Any]:
    """The request, or each request of the batch."""
    return [request] if request is not None else list((batch or {}).get(BATCH_KEY, []))


def start_problems(
    request: dict[str, Any] | None, batch: dict[str, Any] | None, where: str
) -> list[str]:
    """Exactly one of `request` and `batch`, and every problem of the batch, each named by its
    key under `where` (`<where>.batch.exports[2]: ...`)."""
    if request is not None and batch is not None:
        return [f"{where}: give either 'request' or 'batch', not both"]
    if batch is not None:
        return _batch_problems(batch, f"{where}.batch")
    if request is None:
        return [f"{where}.request: is required (or 'batch': {{\"{BATCH_KEY}\": [REQUEST, ...]}})"]
    return []


def _batch_problems(batch: dict[str, Any], where: str) -> list[str]:
    exports = batch.get(BATCH_KEY)
    if isinstance(exports, list):
        batch = {**batch, BATCH_KEY: [_with_sample_time(r) for r in exports]}
    return [
        f"{where}.{problem}" if problem.startswith(f"{BATCH_KEY}[") else f"{where}: {problem}"
        for problem in validate_batch(batch)
    ]
