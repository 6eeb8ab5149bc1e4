"""What a polling policy costs in polls and detection latency, on a simulated clock.

Every run is `ongage_export.domain.polling.simulate`: the workflow's wait-retrieve-decide
loop with the policy's own decisions (the code the Lambda runs), so the benchmark cannot drift
from it.
"""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

from benchmarks.cost_model import Model, fixed_loop_polls, poll_loop_cost
from benchmarks.report import table
from ongage_export.domain.polling import PollingPolicy, Window, simulate

SWEEP_READY_AFTER_SECONDS = (30, 120, 300, 600, 1800, 3600, 6 * 3600)
# Quicker to notice short exports, dearer for long ones (the default until 2026-11-26).
GENTLE_POLICY = PollingPolicy(initial_seconds=30, growth=1.5)


def detection(
    policy: PollingPolicy, ready_at: float, rng: random.Random, window: Window | None = None
) -> tuple[int, float]:
    """(polls, detection latency) of one run; the latency is infinite if the run gives up."""
    run = simulate(policy, ready_at, rng, window)
    latency = math.inf if run.ready_seconds is None else run.ready_seconds - ready_at
    return run.polls, latency


def expected_polls(policy: PollingPolicy, ready_at: float, samples: int) -> dict[str, float]:
    rng = random.Random(20261126)
    outcomes = [detection(policy, ready_at, rng) for _ in range(samples)]
    polls = [p for p, _ in outcomes]
    latencies = [latency for _, latency in outcomes]
    return {
        "polls_mean": statistics.mean(polls),
        "polls_min": min(polls),
        "polls_max": max(polls),
        "latency_mean_s": statistics.mean(latencies),
        "latency_max_s": max(latencies),
        "gave_up": sum(math.isinf(x) for x in latencies) / samples,
    }


def policy_sweep(model: Model, samples: int) -> list[dict[str, Any]]:
    """The default and the gentle policy across readiness times, each against the fixed loop."""
    rows = []
    for ready_at in SWEEP_READY_AFTER_SECONDS:
        fixed_usd = poll_loop_cost(model, fixed_loop_polls(ready_at))["total_usd"]
        row: dict[str, Any] = {"ready_after_seconds": ready_at}
        for name, policy in (("default", PollingPolicy()), ("gentle", GENTLE_POLICY)):
            polls = expected_polls(policy, ready_at, samples)
            usd = poll_loop_cost(model, polls["polls_mean"])["total_usd"]
            row[name] = polls | {"total_usd": usd, "fixed_ratio": fixed_usd / usd}
        rows.append(row)
    return rows


def sweep_table(rows: list[dict[str, Any]]) -> str:
    head = ["ready after", "default: polls", "latency s", "vs fixed", "gentle: polls",
            "latency s", "vs fixed"]  # fmt: skip
    body = [
        [duration(row["ready_after_seconds"])]
        + [
            value
            for name in ("default", "gentle")
            for value in (
                f"{row[name]['polls_mean']:.1f}",
                f"{row[name]['latency_mean_s']:.0f}",
                f"{row[name]['fixed_ratio']:.1f}x",
            )
        ]
        for row in rows
    ]
    return table(head, body)


def policy_text(policy: dict[str, Any]) -> str:
    return (
        f"first wait {policy['initial_seconds']} s, x{policy['growth']:g}, cap "
        f"{policy['max_seconds']} s, jitter {policy['jitter']:g}"
    )


def duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds} s"
