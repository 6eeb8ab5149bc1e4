"""Learned polling on the embedded runtime: runs of the same export teach the next ones.

The simulator makes each export ready 5 seconds after its create, whatever it is asked; the
policy polls every second (the default here). After three runs, the fourth goes straight to the
learned window and polls fewer times. Real time: about 30 seconds.
"""

from __future__ import annotations

import json
from typing import Any

from embedded_runtime.runtime import EmbeddedRuntime
from ongage_simulator import OngageSimulator
from tests.conftest import REQUEST

EVERY_SECOND = {"initial_seconds": 1, "growth": 1.0, "max_seconds": 1, "jitter": 0.0,
                "deadline_seconds": 60}  # fmt: skip
READY_AFTER_SECONDS = 5.0


def polls_of(runtime: EmbeddedRuntime, day: int, **polling: Any) -> int:
    request = {**REQUEST, "name": f"daily-actives-2026-11-{day:02d}"}  # a new name every day
    result = runtime.run({"request": request, "polling": {**EVERY_SECOND, **polling}})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output is not None
    return int(result.output["polls"])


def history_items(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    dynamodb = runtime.client("dynamodb")
    (table,) = dynamodb.list_tables()["TableNames"]
    items = dynamodb.scan(TableName=table)["Items"]
    return [item for item in items if item["id"]["S"].startswith("readiness#")]


def test_three_runs_of_an_export_make_the_fourth_poll_fewer_times(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.ready_after_retrieves = 0
    simulator.config.ready_after_seconds = READY_AFTER_SECONDS

    first, second, third = (polls_of(runtime, day) for day in (1, 2, 3))
    fourth = polls_of(runtime, 4)

    assert first >= 3  # a poll about every second (plus the invocation) until ready
    assert fourth < first, (first, second, third, fourth)
    (item,) = history_items(runtime)  # one export shape, whatever the runs were named
    runs = json.loads(item["runs"]["S"])
    assert len(runs) == 4
    # ready no sooner than the simulator made it; every run saw 200 after its last 412
    assert all(not_ready < ready and ready >= READY_AFTER_SECONDS for not_ready, ready in runs), (
        runs
    )
    assert set(item) == {"id", "runs", "expiration"}  # nothing of the request, no data


def test_a_run_that_opts_out_polls_as_if_nothing_was_learned(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.ready_after_retrieves = 0
    # Ready after 5 s, as above: some 4 polls a second apart, where the learned window would
    # poll once or twice. (At 3 s, a slow invocation left room for only 2 polls.)
    simulator.config.ready_after_seconds = READY_AFTER_SECONDS
    first = polls_of(runtime, 1)
    opted_out = polls_of(runtime, 2, learn=False)
    assert opted_out >= 3 and abs(opted_out - first) <= 1
    (item,) = history_items(runtime)
    assert len(json.loads(item["runs"]["S"])) == 1  # the opted-out run recorded nothing
