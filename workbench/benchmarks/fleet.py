"""A fleet's day: a thousand exports over twenty Ongage accounts, on a simulated clock.

What is real code: the limiter (`CallSlots` over an in-memory DynamoDB table that keeps the
conditional put, reading the simulated clock; `slot_wait_seconds` for every wait) and the
polling policy (`PollingPolicy.next_wait` / `after_not_ready`). What is modelled: the workload
(fleet_workload.py), the workflow's steps around them (fleet_day.py), how long Ongage takes and
its limits (fleet_ongage.py, counting on its own), a DynamoDB call's time in the Lambda. The tables:
fleet_report.py.

The day runs twice with the same seed: as planned, and without the busy account's burst. The
other accounts' exports must wait for slots exactly as long in both: accounts are held apart.
Any 429, any account over its limits, any export that did not land, or any other account's
export changed by the burst fails the section.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.cost_model import DYNAMODB_PRICES, gb_seconds, usage_cost
from benchmarks.fleet_day import (
    CALL_SECONDS,
    DOWNLOAD_BYTES_PER_SECOND,
    FUNCTIONS,
    Day,
    FleetDay,
    Run,
    SimulatedClock,
    refused_ask_transitions,
)
from benchmarks.fleet_table import CountingTable, Usage
from benchmarks.fleet_workload import (
    BUSY,
    FULL,
    SMALL,
    AccountPlan,
    FleetSize,
    fleet_accounts,
    model,
    without_burst,
)
from ongage_export.adapters.call_slots import CallSlots
from ongage_export.domain.call_limits import CallLimits
from ongage_export.domain.polling import PollingPolicy

SEED = 20261207
FULL_SIZE, SMALL_SIZE = FULL, SMALL
TABLE = "fleet"
# Modelled: one DynamoDB round trip from a Lambda in the same region, billed in its duration.
DYNAMODB_CALL_MS = 10


def simulate(accounts: Sequence[AccountPlan], seed: int) -> tuple[Day, Usage]:
    """The day with the real limiter, and what its table was asked."""
    clock, store = SimulatedClock(), CountingTable()
    slots = CallSlots(store, TABLE, clock=clock)
    day = FleetDay(accounts, slots, clock, seed=seed, meter=lambda: store.usage.calls).run()
    return day, store.usage


def run(size: FleetSize, seed: int = SEED) -> dict[str, Any]:
    started = time.monotonic()
    accounts = fleet_accounts(size)
    day, usage = simulate(accounts, seed)
    calm, _ = simulate(without_burst(accounts), seed)
    result: dict[str, Any] = {
        "seed": seed,
        "model": model(size) | day_model(),
        "rows": account_rows(accounts, day),
        "totals": totals(day),
        "burst": burst_effect(day, calm),
        "cost": limiter_cost(day, usage),
        "wall_seconds": time.monotonic() - started,
    }
    found = problems(result)
    if found:
        raise AssertionError("; ".join(found))
    return result | {"problems": found}


def day_model() -> dict[str, Any]:
    return {
        "call_seconds": list(CALL_SECONDS),
        "download_mb_s": DOWNLOAD_BYTES_PER_SECOND / 1e6,
        "default_limits": vars(CallLimits()),
        "policy": PollingPolicy(learn=False).as_dict(),
    }


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def spread(values: Sequence[float]) -> dict[str, float]:
    if not values:
        return {"median": 0.0, "p95": 0.0, "max": 0.0}
    return {
        "median": statistics.median(values),
        "p95": percentile(values, 0.95),
        "max": max(values),
    }


def end_to_end_minutes(runs: Sequence[Run]) -> list[float]:
    return [(r.landed_ms - r.plan.start_ms) / 60_000 for r in runs if r.landed_ms is not None]


def account_rows(accounts: Sequence[AccountPlan], day: Day) -> list[dict[str, Any]]:
    rows = []
    for account in accounts:
        runs = [r for r in day.runs if r.plan.account == account.name]
        calls = day.ongage.accounts[account.name]
        rows.append(
            {
                "account": account.name,
                "kind": account.kind,
                "limits": vars(account.limits),
                "exports": len(runs),
                "landed": sum(r.landed_ms is not None for r in runs),
                "calls": calls.calls,
                "peak_in_flight": calls.peak_in_flight,
                "most_in_a_minute": calls.most_in_a_minute,
                "rate_limited": calls.rate_limited,
                "refused_asks": sum(r.refused_asks for r in runs),
                "slot_wait_s": spread([r.slot_wait_seconds for r in runs]),
                "end_to_end_min": spread(end_to_end_minutes(runs)),
            }
        )
    return rows


def totals(day: Day) -> dict[str, Any]:
    accounts = day.ongage.accounts.values()
    return {
        "exports": len(day.runs),
        "landed": sum(r.landed_ms is not None for r in day.runs),
        "calls": sum(a.calls for a in accounts),
        "rate_limited": sum(a.rate_limited for a in accounts),
        "polls": sum(r.polls for r in day.runs),
        "refused_asks": sum(r.refused_asks for r in day.runs),
    }


def burst_effect(day: Day, calm: Day) -> dict[str, Any]:
    """The other accounts' exports with the busy account's burst and without it."""
    others = _by_holder(day, lambda r: r.plan.account != BUSY)
    calm_others = _by_holder(calm, lambda r: r.plan.account != BUSY)
    changed = [
        holder
        for holder, r in others.items()
        if (r.slot_wait_seconds, r.landed_ms)
        != (calm_others[holder].slot_wait_seconds, calm_others[holder].landed_ms)
    ]
    busy = [r for r in day.runs if r.plan.account == BUSY]
    calm_busy = [r for r in calm.runs if r.plan.account == BUSY]
    return {
        "other_exports": len(others),
        "changed": len(changed),
        "same_exports": sorted(others) == sorted(calm_others),
        "with": _waits(list(others.values())),
        "without": _waits(list(calm_others.values())),
        "busy_with": _waits(busy),
        "busy_without": _waits(calm_busy),
    }


def _by_holder(day: Day, keep: Callable[[Run], bool]) -> dict[str, Run]:
    return {r.plan.holder: r for r in day.runs if keep(r)}


def _waits(runs: Sequence[Run]) -> dict[str, Any]:
    return {
        "exports": len(runs),
        "slot_wait_s": spread([r.slot_wait_seconds for r in runs]),
        "end_to_end_min": spread(end_to_end_minutes(runs)),
    }


def limiter_cost(day: Day, usage: Usage) -> dict[str, Any]:
    """What the limiter adds: its DynamoDB calls (and their time in the Lambdas), and for every
    refused ask one more invocation and its transitions."""
    refused = sum(day.refused_asks.values())
    per_ask = refused_ask_transitions()
    transitions = sum(per_ask[function] * n for function, n in day.refused_asks.items())
    compute = sum(
        gb_seconds(day.dynamodb_calls[function] * DYNAMODB_CALL_MS, function)
        for function in FUNCTIONS.values()
    )
    workflow = usage_cost(transitions, refused, compute)
    dynamodb_usd = (
        usage.read_units * DYNAMODB_PRICES["per_read_request_unit"]
        + usage.write_units * DYNAMODB_PRICES["per_write_request_unit"]
    )
    exports = len(day.runs)
    whole = {
        "dynamodb_reads": usage.reads,
        "dynamodb_writes": usage.writes,
        "dynamodb_failed_writes": usage.failed_writes,
        "read_units": usage.read_units,
        "write_units": usage.write_units,
        "refused_asks": refused,
        "transitions": workflow["transitions"],
        "gb_seconds": compute,
        "dynamodb_usd": dynamodb_usd,
        "lambda_usd": workflow["lambda_usd"],
        "stepfunctions_usd": workflow["stepfunctions_usd"],
        "total_usd": dynamodb_usd + workflow["total_usd"],
    }
    return {
        "whole_day": whole,
        "per_export": {key: value / exports for key, value in whole.items()},
        "largest_item_bytes": usage.largest_item_bytes,
        "prices_per_million": {k: v * 1e6 for k, v in DYNAMODB_PRICES.items()},
        "dynamodb_call_ms": DYNAMODB_CALL_MS,
        "transitions_per_refused_ask": per_ask,
    }


def problems(result: dict[str, Any]) -> list[str]:
    burst = result["burst"]
    found = account_problems(result["rows"])
    if burst["changed"] or not burst["same_exports"]:
        found.append(f"the burst changed {burst['changed']} other accounts' exports")
    return found


def account_problems(rows: Sequence[dict[str, Any]]) -> list[str]:
    """Every account over its limits, answered 429, or with an export that did not land."""
    found = []
    for row in rows:
        name, limits = row["account"], row["limits"]
        if row["rate_limited"]:
            found.append(f"{name}: Ongage answered {row['rate_limited']} calls with 429")
        if row["peak_in_flight"] > limits["parallel_calls"]:
            found.append(f"{name}: {row['peak_in_flight']} calls in flight at once")
        if row["most_in_a_minute"] > limits["calls_per_minute"]:
            found.append(f"{name}: {row['most_in_a_minute']} calls in one minute")
        if row["landed"] != row["exports"]:
            found.append(f"{name}: {row['exports'] - row['landed']} exports did not land")
    return found
