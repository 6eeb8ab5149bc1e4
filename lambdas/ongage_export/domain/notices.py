"""What a run says about itself: the success notice, the landed object's metadata, and the
command that carries on with a run that gave up."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ongage_export.domain.job import Job
from ongage_export.domain.polling import MAX_DEADLINE_SECONDS

if TYPE_CHECKING:
    from ongage_export.adapters.landing import LandedObject


def redrive_command(job: Job) -> str:
    """The command that resumes this run with twice its deadline (as far as the bound allows).
    It names the execution ARN, which is all `ongage-export redrive` needs to find the run."""
    deadline = min(2 * job.polling.deadline_seconds, MAX_DEADLINE_SECONDS)
    return f"ongage-export redrive {job.execution_arn} --deadline {deadline}"


def object_metadata(job: Job) -> dict[str, str]:
    """S3 user metadata (ASCII only: the request name is percent-encoded)."""
    return {
        "export-id": str(job.export_id),
        "list-id": str(job.list_id if job.list_id is not None else "default"),
        "request-name": quote(job.request_name, safe=" -_."),
        "execution-id": job.execution_arn.rsplit(":", 1)[-1],
    }


def success_notice(job: Job, landed: LandedObject, now: datetime) -> dict[str, Any]:
    started = parse_timestamp(job.started_at)
    return {
        "status": "SUCCEEDED",
        "bucket": landed.bucket,
        "key": landed.key,
        "s3_uri": f"s3://{landed.bucket}/{landed.key}",
        "bytes": landed.size,
        "sha256": landed.sha256,
        "already_landed": landed.already_landed,
        "landing": landed.landing,
        "export_id": job.export_id,
        "list_id": job.list_id,
        "request": job.request,
        "polls": job.polls,
        "execution_arn": job.execution_arn,
        "started_at": started.isoformat(),
        "landed_at": now.isoformat(),
        "duration_seconds": round((now - started).total_seconds(), 3),
    }


def parse_timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
