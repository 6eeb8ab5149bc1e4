"""The cost model of one export: Step Functions transitions and Lambda time, at AWS list prices.

`fit` turns the measured runs (benchmarks/cost.py) into per-export usage; the rest prices a
number of polls, a fixed-interval loop or a Lambda that sleeps between polls.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any

# AWS list prices (us-east-1); free tiers ignored. S3 requests, SNS and data transfer are left
# out: every approach compared here pays the same for them.
PRICES = {
    "stepfunctions_standard_per_transition": 0.025 / 1000,
    "lambda_per_gb_second": 0.0000166667,
    "lambda_per_request": 0.20 / 1_000_000,
}
# Memory as infra/functions.py deploys the functions (the retrieve one streams GBs).
MEMORY_MB = {"create-export": 256, "retrieve-export": 1024}
FIXED_POLL_SECONDS = 30
LAMBDA_MAX_SECONDS = 900
SLEEPER_TRANSITIONS_PER_INVOCATION = 2  # Task + Choice around each 15-minute invocation
# The landing's own S3 requests (left out of the comparison: the same for every approach that
# lands through multipart) at S3 Standard list prices, to put the polling cost in proportion.
S3_PRICES = {"put_class_per_request": 0.005 / 1000, "get_class_per_request": 0.0004 / 1000}
# DynamoDB on-demand (us-east-1, since the price cut of November 2024), for the limiter's book:
# per read request unit (a strongly consistent read of 4 KB) and write request unit (1 KB).
DYNAMODB_PRICES = {"per_read_request_unit": 0.125 / 1_000_000,
                   "per_write_request_unit": 0.625 / 1_000_000}  # fmt: skip
COPY_PART_MIB = 512  # landing.py's UploadPartCopy part size
VERIFY_READ_MIB = 8  # landing.py's ranged-read buffer for the ZIP check


@dataclass(frozen=True)
class Model:
    """Per-export usage, fitted from the measured runs."""

    fixed_transitions: float
    transitions_per_poll: float
    create_ms: float
    not_ready_ms: float
    landed_ms: float


def fit(runs: list[dict[str, Any]]) -> Model:
    first, last = runs[0], runs[-1]
    polls = [run["not_ready_polls"] + 1 for run in (first, last)]
    per_poll = (last["transitions"] - first["transitions"]) / (polls[1] - polls[0])
    calls = [call for run in runs for call in run["invocations"]]

    def billed_ms(outcome: str) -> float:
        # Lambda bills each invocation's duration rounded up to the millisecond; the median
        # keeps one slow call (the machine is shared) from standing for all of them.
        return statistics.median(
            math.ceil(c["milliseconds"]) for c in calls if c["outcome"] == outcome
        )

    return Model(
        fixed_transitions=first["transitions"] - per_poll * polls[0],
        transitions_per_poll=per_poll,
        create_ms=billed_ms("create"),
        not_ready_ms=billed_ms("not-ready"),
        landed_ms=billed_ms("landed"),
    )


def usage_cost(transitions: float, invocations: float, gb_seconds: float) -> dict[str, float]:
    sfn = transitions * PRICES["stepfunctions_standard_per_transition"]
    compute = gb_seconds * PRICES["lambda_per_gb_second"]
    requests = invocations * PRICES["lambda_per_request"]
    return {
        "transitions": transitions,
        "invocations": invocations,
        "gb_seconds": gb_seconds,
        "stepfunctions_usd": sfn,
        "lambda_usd": compute + requests,
        "total_usd": sfn + compute + requests,
    }


def gb_seconds(milliseconds: float, function: str) -> float:
    return milliseconds / 1000 * MEMORY_MB[function] / 1024


def poll_loop_cost(model: Model, polls: float) -> dict[str, float]:
    """Our workflow (or a fixed-interval one): Wait states between short retrieve calls."""
    compute = gb_seconds(model.create_ms, "create-export") + gb_seconds(
        (polls - 1) * model.not_ready_ms + model.landed_ms, "retrieve-export"
    )
    transitions = model.fixed_transitions + model.transitions_per_poll * polls
    return usage_cost(transitions, 1 + polls, compute)


def sleeper_cost(model: Model, ready_at: float) -> dict[str, Any]:
    """A Lambda that polls every 30 s and sleeps in between: billed for all of it, re-invoked by
    the workflow every 15 minutes (the Lambda maximum)."""
    detected = fixed_loop_polls(ready_at) * FIXED_POLL_SECONDS
    invocations = math.ceil(detected / LAMBDA_MAX_SECONDS)
    compute = gb_seconds(model.create_ms, "create-export") + gb_seconds(
        detected * 1000 + model.landed_ms, "retrieve-export"
    )
    transitions = model.fixed_transitions + SLEEPER_TRANSITIONS_PER_INVOCATION * invocations
    return usage_cost(transitions, 1 + invocations, compute) | {"latency_max_s": FIXED_POLL_SECONDS}


def fixed_loop_polls(ready_at: float) -> int:
    return max(1, math.ceil(ready_at / FIXED_POLL_SECONDS))


def s3_requests_per_gib(part_mib: int, landing: str) -> dict[str, Any]:
    """The landing's S3 requests for one GiB. Single pass: parts, create, complete, the list of
    leftover uploads and of parts; GET-class: the HEAD that looks for an earlier landing.
    Staged adds the copy (create, copy parts, complete) and the verification's ranged reads."""
    puts = 1024 / part_mib + 4
    gets = 1.0
    if landing == "staged":
        puts += 1024 / COPY_PART_MIB + 2
        gets += 1024 / VERIFY_READ_MIB + 1
    usd = puts * S3_PRICES["put_class_per_request"] + gets * S3_PRICES["get_class_per_request"]
    return {"part_size_mib": part_mib, "landing": landing, "put_requests": puts,
            "get_requests": gets, "usd": usd}  # fmt: skip
