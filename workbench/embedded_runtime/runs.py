"""What the embedded runtime runs with and answers: the Ongage account it calls; a finished
execution's status, landed object or failure, as `run --json` prints it; waiting for a run and
copying its object out."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_aws.cloud_assembly import ACCOUNT_ID
from local_aws.s3_bodies import stored_blocks

COPY_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class OngageAccount:
    """Where Ongage is and who we are there (the simulator's demo account by default)."""

    url: str
    username: str
    password: str = field(repr=False)
    account_code: str = field(repr=False)
    # Origins besides `url`'s that get the credentials on a redirect (added to the stack's).
    trusted_origins: tuple[str, ...] = ()


@dataclass
class RunResult:
    """What a finished execution tells: its status, the landed object or the failure."""

    execution_arn: str
    status: str
    output: dict[str, Any]  # the execution's output; empty when it has none
    error: str | None
    cause: str  # empty when it has none
    notices: list[dict[str, Any]]

    def summary(self) -> dict[str, Any]:
        landed = self.output
        failure = next((n for n in self.notices if n["message"].get("status") == "FAILED"), None)
        notice = failure["message"] if failure else {}
        return {
            "status": self.status,
            "execution_arn": self.execution_arn,
            "export_id": landed.get("export_id", notice.get("export_id")),
            "bucket": landed.get("bucket"),
            "key": landed.get("key"),
            "bytes": landed.get("bytes"),
            "sha256": landed.get("sha256"),
            "error": self.error,
            "cause": self.cause,
        }


def is_about(notice: dict[str, Any], execution_arn: str) -> bool:
    message = notice["message"]
    return execution_arn in (message.get("execution_arn"), message.get("execution_id"))


# `finished_run` looks at a running execution every 50 ms at first, then less and less often,
# at most every 250 ms: each look costs this process ~4 ms of CPU, which the handlers running
# meanwhile need (at 20 looks a second, 0.8 CPU s of a 1 GiB run went to them).
WAIT_FIRST_POLL, WAIT_GROWTH, WAIT_LAST_POLL = 0.05, 1.5, 0.25


def finished_run(
    sfn: Any, execution_arn: str, timeout: float, notices: Callable[[], list[dict[str, Any]]]
) -> RunResult:
    """The run once it has ended (TimeoutError after `timeout` seconds), with its notices."""
    deadline = time.monotonic() + timeout
    pause = WAIT_FIRST_POLL
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_arn} still running after {timeout} s")
        time.sleep(pause)
        pause = min(pause * WAIT_GROWTH, WAIT_LAST_POLL)
    output = described.get("output")
    return RunResult(
        execution_arn=execution_arn,
        status=described["status"],
        output=(json.loads(output) if output else None) or {},
        error=described.get("error"),
        cause=described.get("cause") or "",
        notices=[n for n in notices() if is_about(n, execution_arn)],
    )


def download_object(bucket: str, key: str, destination: Path) -> Path:
    """The object copied to a file a block at a time, straight from the embedded S3's store
    (the runtime holds it in this process), not through a ranged GetObject per block: the
    copy costs the disk's write. Memory stays one COPY_BLOCK."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with destination.open("wb") as out:
        for block in stored_blocks(ACCOUNT_ID, bucket, key, COPY_BLOCK):
            out.write(block)
    return destination
