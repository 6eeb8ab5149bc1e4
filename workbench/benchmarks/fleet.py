"""A fleet's day: a thousand exports over twenty Ongage accounts, on a simulated clock.

What is real code: the limiter (`CallSlots` over an in-memory DynamoDB table that keeps the
conditional put, reading the simulated clock; `slot_wait_seconds` for every wait) and the
polling policy (`PollingPolicy.next_wait` / `after_not_ready`). What is modelled: the workload
(fleet_workload.py), the workflow's steps around them (fleet_day.py), how long Ongage takes and
its limits (fleet_ongage.py, counting on its own), a DynamoDB call's time in the Lambda.

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
from benchmarks.policies import policy_text
from benchmarks.report import dollars, table
from ongage_export.adapters.call_slots import CallSlots
from ongage_export.domain.call_limits import CallLimits
from ongage_export.domain.polling import PollingPolicy

SEED = 20261207
FULL_SIZE, SMALL_SIZE = FULL, SMALL
TABLE = "fleet"
# Modelled: one DynamoDB round trip from a Lambda in the same region, billed in its duration.
DYNAMODB_CALL_MS = 10
# A refused ask: the Task's invocation and the Wait state after it (statemachine/export.asl.json).
TRANSITIONS_PER_REFUSED_ASK = 2


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
        "transitions_per_refused_ask": TRANSITIONS_PER_REFUSED_ASK,
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
    compute = sum(
        gb_seconds(day.dynamodb_calls[function] * DYNAMODB_CALL_MS, function)
        for function in FUNCTIONS.values()
    )
    workflow = usage_cost(TRANSITIONS_PER_REFUSED_ASK * refused, refused, compute)
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


def markdown(result: dict[str, Any]) -> str:
    return "\n\n".join(
        [
            _workload_text(result),
            _account_table(result["rows"]),
            _burst_text(result),
            _cost_table(result["cost"]),
        ]
    )


def _workload_text(result: dict[str, Any]) -> str:
    m, t = result["model"], result["totals"]
    hours = ", ".join(str(hour) for hour in m["batch_hours"])
    sizes = m["size_median_mib"]
    limits = m["default_limits"]
    return (
        f"A simulated day (seed {result['seed']}) of {m['exports']} exports over "
        f"{m['accounts']} accounts: `{BUSY}` starts {m['burst']} together at {m['burst_hour']} "
        f"a.m. and {m['busy_spread']} more through the day; {m['mid_accounts']} mid-size "
        f"accounts a nightly batch of {m['mid_batch']} each (at {hours} a.m.) and "
        f"{m['mid_spread']} more each; {m['small_accounts']} small accounts "
        f"{m['small_exports']} between them, at random times. Every account has Ongage's "
        f"defaults ({limits['parallel_calls']} parallel calls, {limits['calls_per_minute']} a "
        f"minute) but `{m['narrow_account']}`: {m['narrow_parallel_calls']} parallel calls. "
        f"Ongage builds an export in a log-normal time (median {m['ready_median_s']} s, "
        f"sigma {m['ready_sigma']:.1f}, within {m['ready_range_s'][0]}-{m['ready_range_s'][1]} "
        f"s); bodies are log-normal (median {sizes['busy']} / {sizes['mid']} / "
        f"{sizes['small']} MiB for the busy / mid-size / small accounts, sigma "
        f"{m['size_sigma']:.1f}, at most {m['size_cap_mib']} MiB) downloaded at "
        f"{m['download_mb_s']:.0f} MB/s, holding their slot throughout; a create or a "
        f"not-ready poll takes {m['call_seconds'][0]:.1f}-{m['call_seconds'][1]:.1f} s. Polling: "
        f"{policy_text(m['policy'])}, no history. {t['landed']} of {t['exports']} landed after "
        f"{t['polls']} polls and {t['calls']} Ongage calls, {t['rate_limited']} of them "
        f"rate-limited; {t['refused_asks']} asks for a slot were refused. Simulated in "
        f"{result['wall_seconds']:.1f} s of wall time."
    )


def _account_table(rows: Sequence[dict[str, Any]]) -> str:
    head = ["account", "parallel / a minute", "exports", "peak in flight", "busiest minute",
            "429s", "refused asks", "slot wait s: median / p95 / max",
            "end to end min: median / p95"]  # fmt: skip
    return table(head, [_account_cells(row) for row in rows])


def _account_cells(row: dict[str, Any]) -> list[Any]:
    limits, wait, whole = row["limits"], row["slot_wait_s"], row["end_to_end_min"]
    return [
        f"`{row['account']}`",
        f"{limits['parallel_calls']} / {limits['calls_per_minute']}",
        row["exports"],
        row["peak_in_flight"],
        row["most_in_a_minute"],
        row["rate_limited"],
        row["refused_asks"],
        f"{wait['median']:.0f} / {wait['p95']:.0f} / {wait['max']:.0f}",
        f"{whole['median']:.1f} / {whole['p95']:.1f}",
    ]


def _burst_text(result: dict[str, Any]) -> str:
    burst = result["burst"]
    rows = []
    for label, with_, without in (
        (f"the other accounts' {burst['other_exports']} exports", "with", "without"),
        (f"`{BUSY}`'s own", "busy_with", "busy_without"),
    ):
        for measure, name, unit, digits in (
            ("slot_wait_s", "slot wait", "s", 0),
            ("end_to_end_min", "end to end", "min", 1),
        ):
            rows.append(
                [f"{label}: {name}, {unit} (median / p95 / max)",
                 _spread_cells(burst[with_][measure], digits),
                 _spread_cells(burst[without][measure], digits)]
            )  # fmt: skip
    return (
        f"Does a busy account delay a quiet one? The same day without `{BUSY}`'s burst: of the "
        f"other accounts' {burst['other_exports']} exports, {burst['changed']} waited for a "
        "slot or landed at another time.\n\n" + table(["", "with the burst", "without it"], rows)
    )


def _spread_cells(figure: dict[str, float], digits: int) -> str:
    return " / ".join(f"{figure[k]:.{digits}f}" for k in ("median", "p95", "max"))


def _cost_table(cost: dict[str, Any]) -> str:
    each = cost["per_export"]
    prices = cost["prices_per_million"]
    rows = [
        ["DynamoDB calls: reads / writes (conditional puts that lost)",
         f"{each['dynamodb_reads']:.1f} / {each['dynamodb_writes']:.1f} "
         f"({each['dynamodb_failed_writes']:.1f})"],
        ["DynamoDB request units: read / write",
         f"{each['read_units']:.1f} / {each['write_units']:.1f}"],
        ["refused asks: Lambda invocations / state transitions",
         f"{each['refused_asks']:.2f} / {each['transitions']:.2f}"],
        ["Lambda GB-s for the limiter's DynamoDB calls", f"{each['gb_seconds']:.4f}"],
        ["DynamoDB / Lambda / Step Functions", f"{dollars(each['dynamodb_usd'])} / "
         f"{dollars(each['lambda_usd'])} / {dollars(each['stepfunctions_usd'])}"],
        ["the limiter, per export", dollars(each["total_usd"])],
    ]  # fmt: skip
    return (
        "What the limiter costs, per export (a take is a consistent read and, granted, a "
        "conditional put; a release the same; the largest book item was "
        f"{cost['largest_item_bytes']} bytes; DynamoDB on-demand at "
        f"${prices['per_read_request_unit']:.3f} per million read and "
        f"${prices['per_write_request_unit']:.3f} per million write request units; each "
        f"DynamoDB call adds {cost['dynamodb_call_ms']} ms to its Lambda's billed time "
        "(modelled); Lambda and Step Functions at the cost section's prices):\n\n"
        + table(["limiter cost per export", "value"], rows)
    )
