"""The fleet section's tables (benchmarks/fleet.py measures): the day's workload, each
account's calls and waits, whether the busy account's burst changed anyone else's exports, and
what the limiter costs per export."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from benchmarks.fleet_workload import BUSY
from benchmarks.policies import policy_text
from benchmarks.report import dollars, table


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
    prices, per_ask = cost["prices_per_million"], cost["transitions_per_refused_ask"]
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
        "(modelled); a refused ask is one more invocation and the transitions of its loop in "
        f"the ASL, {per_ask['create-export']} for CreateExport and "
        f"{per_ask['retrieve-export']} for RetrieveExport (the Task, the Choice, the Wait); "
        "Lambda and Step Functions at the cost section's prices):\n\n"
        + table(["limiter cost per export", "value"], rows)
    )
