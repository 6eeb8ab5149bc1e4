"""Scale: many exports started together on the embedded runtime against one simulator.

Ongage allows 10 API calls in flight and 300 a minute per account (the simulator enforces
both). The stack holds those limits itself: each Ongage call takes a slot of the account's call
book (ongage_export.domain.call_limits) and a refused call waits in a native Wait state, with no
reserved concurrency; the functions run as the deployed template says. Measured: time until
every run finished, how many landed, the simulator's peak concurrency (must stay <= 10), 429s,
and how often Lambda throttled.

Retry intervals are NOT scaled down here: spreading a burst is what the waits and retries do,
and shrinking them would turn waits into failures that production never sees.
"""

from __future__ import annotations

import io
import json
import statistics
import time
from collections import Counter
from contextlib import ExitStack
from typing import Any

from benchmarks.history import HistoryCounts, count_history, execution_history
from benchmarks.report import table
from benchmarks.services import REQUEST
from embedded_runtime.runtime import EmbeddedRuntime, OngageAccount, RunResult
from ongage_export.domain.call_limits import DEFAULT_CALLS_PER_MINUTE, DEFAULT_PARALLEL_CALLS
from ongage_simulator import Credentials, OngageSimulator, SimulatorConfig
from statemachine import ASL_FILE

ASL_PATH = ASL_FILE

ONGAGE_MAX_PARALLEL = DEFAULT_PARALLEL_CALLS  # Ongage's documented defaults (ONGAGE.md)
ONGAGE_RATE_PER_MINUTE = DEFAULT_CALLS_PER_MINUTE
POLLING = {"initial_seconds": 1, "max_seconds": 5}
EXPORT_BYTES = 64 * 1024
DEADLINE_SECONDS = 600  # for the whole burst
FULL_EXECUTIONS = 100
SMALL_EXECUTIONS = 10


def run(executions: int) -> dict[str, Any]:
    creds = Credentials.demo()
    config = SimulatorConfig(
        credentials=creds,
        ready_after_retrieves=1,  # one 412, then the export: every run polls once
        export_bytes=EXPORT_BYTES,
        max_parallel=ONGAGE_MAX_PARALLEL,
        rate_limit_per_minute=ONGAGE_RATE_PER_MINUTE,
    )
    with ExitStack() as stack:
        simulator = stack.enter_context(OngageSimulator(config))
        account = OngageAccount(simulator.url, creds.username, creds.password, creds.account_code)
        runtime = stack.enter_context(
            EmbeddedRuntime(
                account,
                log_stream=io.StringIO(),
                part_size_mib=5,
            )
        )
        started = time.monotonic()
        arns = [runtime.start({"request": REQUEST, "polling": POLLING}) for _ in range(executions)]
        start_seconds = time.monotonic() - started
        results = wait_all(runtime, arns, started + DEADLINE_SECONDS)
        wall = time.monotonic() - started
        histories = [history_of(runtime, arn) for arn in arns]
        return summarize(results, wall, start_seconds, runtime, simulator) | {
            "retries": retry_summary(histories),
            "executions": executions,
            "ongage_limits": {
                "max_parallel": ONGAGE_MAX_PARALLEL,
                "rate_per_minute": ONGAGE_RATE_PER_MINUTE,
            },
            "polling": POLLING,
        }


def history_of(runtime: EmbeddedRuntime, arn: str) -> HistoryCounts:
    return count_history(execution_history(runtime.client("stepfunctions"), arn))


def retry_summary(histories: list[HistoryCounts]) -> dict[str, Any]:
    """How close the burst came to the retry budget on Lambda throttling."""
    return {
        "throttle_retry_budget": throttle_retry_budget(),
        "task_retries": sum(h.retries for h in histories),
        "most_retries_in_one_step": max((h.most_retries_in_one_step for h in histories), default=0),
        "most_throttles_in_one_step": max(
            (h.most_throttles_in_one_step for h in histories), default=0
        ),
        "billed_transitions_per_export": statistics.mean(h.billed_transitions for h in histories),
        "retry_transitions_per_export": statistics.mean(h.retries for h in histories),
    }


def throttle_retry_budget() -> int:
    """MaxAttempts of the workflow's retrier for Lambda throttling, read from the ASL."""
    states = json.loads(ASL_PATH.read_text())["States"]
    return min(
        retrier["MaxAttempts"]
        for state in states.values()
        for retrier in state.get("Retry", [])
        if "Lambda.TooManyRequestsException" in retrier["ErrorEquals"]
    )


def wait_all(runtime: EmbeddedRuntime, arns: list[str], deadline: float) -> list[RunResult | None]:
    """Every run's result, or None for one still running at the deadline."""
    results: list[RunResult | None] = []
    for arn in arns:
        try:
            results.append(runtime.wait(arn, timeout=max(1.0, deadline - time.monotonic())))
        except TimeoutError:
            results.append(None)
    return results


def summarize(
    results: list[RunResult | None],
    wall: float,
    start_seconds: float,
    runtime: EmbeddedRuntime,
    simulator: OngageSimulator,
) -> dict[str, Any]:
    finished = [r for r in results if r is not None]
    landed = [r for r in finished if r.status == "SUCCEEDED"]
    durations = sorted(r.output["duration_seconds"] for r in landed if r.output)
    stats = simulator.stats
    return {
        "succeeded": len(landed),
        "failed": len(finished) - len(landed),
        "still_running": len(results) - len(finished),
        "errors": dict(Counter(r.error for r in finished if r.status != "SUCCEEDED")),
        "seconds_to_all_finished": wall,
        "seconds_to_start_all": start_seconds,
        "run_seconds_median": statistics.median(durations) if durations else None,
        "run_seconds_max": durations[-1] if durations else None,
        "simulator_peak_concurrent": stats.peak_concurrent,
        "simulator_calls": stats.total_calls,
        "simulator_429": stats.rate_limited,
        "within_ongage_limit": stats.peak_concurrent <= ONGAGE_MAX_PARALLEL,
        "lambda_invocations": _by_function(runtime, runtime.executor.invocations),
        "lambda_throttled": _by_function(runtime, runtime.executor.throttled),
        "lambda_peak_concurrency": _by_function(runtime, runtime.executor.peak_concurrency),
    }


def _by_function(runtime: EmbeddedRuntime, counts: dict[str, int]) -> dict[str, int]:
    """Counts by the function's role (`create-export`), not its deployed name."""
    return {role: counts.get(name, 0) for role, name in runtime.functions.items()}


def markdown(result: dict[str, Any]) -> str:
    throttled = result["lambda_throttled"]
    limits = result["ongage_limits"]
    retries = result["retries"]
    rows = [
        ["executions started together", result["executions"]],
        ["landed / failed / still running",
         f"{result['succeeded']} / {result['failed']} / {result['still_running']}"],
        ["failures by error", ", ".join(f"{k}: {v}" for k, v in result["errors"].items()) or "-"],
        ["time until all finished", f"{result['seconds_to_all_finished']:.0f} s"],
        ["time to start them all", f"{result['seconds_to_start_all']:.0f} s"],
        ["run duration median / max",
         f"{_seconds(result['run_seconds_median'])} / {_seconds(result['run_seconds_max'])}"],
        [f"Ongage peak concurrency (limit {limits['max_parallel']})",
         result["simulator_peak_concurrent"]],
        ["Ongage calls / rate-limited answers",
         f"{result['simulator_calls']} / {result['simulator_429']}"],
        ["calls held per account (in flight / a minute)",
         f"{limits['max_parallel']} / {limits['rate_per_minute']}"],
        ["Lambda throttles (retried by the workflow)",
         ", ".join(f"{k} {v}" for k, v in throttled.items()) or "0"],
        [f"most throttled attempts of one Task step (retry budget: "
         f"{retries['throttle_retry_budget']})", retries["most_throttles_in_one_step"]],
        ["billed transitions per export (of which retries)",
         f"{retries['billed_transitions_per_export']:.1f} "
         f"({retries['retry_transitions_per_export']:.1f})"],
    ]  # fmt: skip
    return table(["scale", "value"], rows)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} s"
