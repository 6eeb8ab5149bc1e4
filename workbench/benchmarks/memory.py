"""Memory: peak RSS of the real retrieve handler's process while it lands exports of growing
size, against the naive approach (`requests.get(...).content` + `put_object`).

Each measurement runs in a fresh child process (benchmarks.probe); S3 (moto) and Ongage (the
simulator) are separate processes, restarted for every size so their memory never piles up.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from benchmarks.report import met, mib, table
from benchmarks.services import (
    MIB,
    REQUEST,
    SIMULATOR,
    aws_client,
    child_env,
    create_export,
    retrieve_url,
    run_probe,
    s3_client,
    start_moto,
    start_simulator,
)
from ongage_export.contract import METRICS_NAMESPACE, PART_SIZE_MIB, SERVICE_NAME

FULL_SIZES_MIB = (1, 256, 1024, 4096)
SMALL_SIZES_MIB = (1, 32)
# The naive approach holds the body at least twice (response + request): at 4 GiB that is
# > 8 GiB of RAM in one process, more than this shared machine should give a benchmark.
NAIVE_MAX_MIB = 1024
FLAT_GOAL_MIB = 32  # the largest export may peak at most this much above the smallest
LAMBDA_MEMORY_MIB = 256  # the smallest Lambda the handler should fit in
BUCKET = "bench-memory"
SECRET_ID = "bench/ongage-credentials"
TABLE = "bench-table"


def run(sizes_mib: tuple[int, ...], work_dir: Path) -> dict[str, Any]:
    rows = [measure_size(size, work_dir) for size in sizes_mib]
    return {"rows": rows, "summary": summarize(rows), "part_size_mib": PART_SIZE_MIB}


def measure_size(size_mib: int, work_dir: Path) -> dict[str, Any]:
    size_dir = work_dir / f"memory-{size_mib}mib"
    with ExitStack() as stack:
        moto = start_moto(stack, size_dir)
        simulator = start_simulator(stack, size_dir, export_bytes=size_mib * MIB)
        prepare_account(moto.url)
        export_id = create_export(simulator.url)
        handler = run_probe(
            "handler",
            {"export_id": export_id, "request": REQUEST},
            size_dir,
            env=handler_env(moto.url, simulator.url),
        )
        naive = None
        if size_mib <= NAIVE_MAX_MIB:
            naive = run_probe("naive", naive_spec(moto.url, simulator.url, export_id), size_dir)
        return {
            "size_mib": size_mib,
            "bytes": handler["bytes"],
            # The invocation's span inside its process (this section is about memory).
            "handler_mb_s": handler["bytes"] / handler["seconds"] / 1e6,
            "handler_cpu_s_per_gib": handler["cpu_seconds"] * 1024 * MIB / handler["bytes"],
            "handler": handler,
            "naive": naive,
            "moto_peak_rss_mib": moto.peak_rss_mib(),
        }


def prepare_account(endpoint: str) -> None:
    """The bucket, the table (the account's call slots) and the credentials secret the handler
    reads, on the moto server."""
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    aws_client("dynamodb", endpoint).create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    aws_client("secretsmanager", endpoint).create_secret(
        Name=SECRET_ID,
        SecretString=json.dumps(
            {
                "username": SIMULATOR.username,
                "password": SIMULATOR.password,
                "account_code": SIMULATOR.account_code,
            }
        ),
    )


def handler_env(endpoint: str, simulator_url: str) -> dict[str, str]:
    """The Lambda's environment as the stack sets it, with every AWS call sent to moto."""
    return child_env(
        AWS_ENDPOINT_URL=endpoint,
        EXPORT_BUCKET=BUCKET,
        IDEMPOTENCY_TABLE=TABLE,
        ONGAGE_SECRET_ID=SECRET_ID,
        ONGAGE_BASE_URL=simulator_url,
        PART_SIZE_MIB=str(PART_SIZE_MIB),
        POWERTOOLS_SERVICE_NAME=SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE=METRICS_NAMESPACE,
        POWERTOOLS_TRACE_DISABLED="true",  # no X-Ray daemon here
    )


def naive_spec(endpoint: str, simulator_url: str, export_id: str) -> dict[str, Any]:
    return {
        "url": retrieve_url(simulator_url, export_id),
        "headers": SIMULATOR.headers(),
        "endpoint": endpoint,
        "bucket": BUCKET,
        "key": f"naive/{export_id}.zip",
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    peaks = [row["handler"]["peak_rss_mib"] for row in rows]
    growth = peaks[-1] - peaks[0]
    return {
        "handler_peak_smallest_mib": peaks[0],
        "handler_peak_largest_mib": peaks[-1],
        "handler_growth_mib": growth,
        # Once the body spans several parts the pipeline is full: from there on, flat means flat.
        "handler_growth_from_second_size_mib": peaks[-1] - peaks[1] if len(peaks) > 2 else None,
        "flat_goal_mib": FLAT_GOAL_MIB,
        "flat": growth <= FLAT_GOAL_MIB,
        "handler_peak_max_mib": max(peaks),
        "lambda_memory_mib": LAMBDA_MEMORY_MIB,
        "fits_lambda": max(peaks) < LAMBDA_MEMORY_MIB,
    }


def markdown(result: dict[str, Any]) -> str:
    head = [
        "export",
        "handler peak RSS MiB",
        "handler after imports",
        "handler s (MB/s)",
        "handler CPU s per GiB",
        "landing",
        "naive peak RSS MiB",
        "naive after imports",
    ]
    rows = [_row(row) for row in result["rows"]]
    return table(head, rows) + "\n\n" + _verdict(result)


def _row(row: dict[str, Any]) -> list[str]:
    handler, naive = row["handler"], row["naive"]
    return [
        mib(row["bytes"]),
        f"{handler['peak_rss_mib']:.0f}",
        f"{handler['rss_after_imports_mib']:.0f}",
        f"{handler['seconds']:.1f} ({row['handler_mb_s']:.0f})",
        f"{row['handler_cpu_s_per_gib']:.1f}",
        handler.get("landing") or "",
        f"{naive['peak_rss_mib']:.0f}" if naive else "not run",
        f"{naive['rss_after_imports_mib']:.0f}" if naive else "",
    ]


def _verdict(result: dict[str, Any]) -> str:
    summary = result["summary"]
    sizes = [mib(row["size_mib"] * MIB) for row in result["rows"]]
    steady = summary["handler_growth_from_second_size_mib"]
    steady_text = "" if steady is None else f"; from {sizes[1]} to {sizes[-1]}: {steady:+.0f} MiB"
    return (
        f"Handler peak, {sizes[-1]} minus {sizes[0]}: {summary['handler_growth_mib']:+.0f} MiB "
        f"(goal within {summary['flat_goal_mib']} MiB: {met(summary['flat'])}){steady_text}. "
        f"Highest peak {summary['handler_peak_max_mib']:.0f} MiB (goal below "
        f"{summary['lambda_memory_mib']} MiB: {met(summary['fits_lambda'])}). The handler runs "
        f"as deployed: {result['part_size_mib']} MiB parts, 2 uploads in flight. The naive "
        f"approach is not run above {mib(NAIVE_MAX_MIB * MIB)}: it holds the body at least twice."
    )
