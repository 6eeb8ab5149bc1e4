"""Step 2, repeated: retrieve the export; land it in S3 when ready, else say how long to wait."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ongage_export import clients
from ongage_export.exports import poll_job
from ongage_export.observability import logger, metrics, tracer
from ongage_export.settings import Settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    job = event["job"]
    logger.append_keys(execution_id=job["execution_id"], export_id=job["export_id"])
    job = poll_job(
        job,
        settings=settings,
        client=clients.ongage_client(settings),
        landing=clients.s3_landing(settings),
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    if job["landed"]:
        landed = job["landed"]
        metrics.add_metric(name="ExportsLanded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="BytesLanded", unit=MetricUnit.Bytes, value=landed["bytes"])
        logger.info("export landed", extra={"key": landed["key"], "bytes": landed["bytes"]})
    elif job["download"]:
        logger.info("landing continues in the next invocation", extra=job["download"])
    elif job["give_up"]:
        logger.warning("export never became ready", extra={"reason": job["give_up"]})
    else:
        metrics.add_metric(name="PollsNotReady", unit=MetricUnit.Count, value=1)
        logger.info("export not ready", extra={"next_wait_seconds": job["next_wait_seconds"]})
    return job
