"""Step 2, repeated: retrieve the export; land it in S3 when ready, else say how long to wait.

When the run has landed or given up, how long Ongage took is added to the readiness history of
this export (readiness_history.py), for the next runs' polling to learn from.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from ongage_export.adapters import clients
from ongage_export.domain.job import Job
from ongage_export.domain.retrieve import poll_job, readiness_of, utc_now, waiting_for_slot
from ongage_export.observability import logger, metrics, tracer
from ongage_export.settings import Settings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings.from_env()
    job = Job.model_validate(event["job"])
    logger.append_keys(execution_arn=job.execution_arn, export_id=job.export_id)
    account = settings.account(job.account)
    try:
        with clients.holding_slot(settings, account, job.execution_arn):
            job = clients.calling_ongage(
                settings,
                account,
                lambda ongage: poll_job(
                    job,
                    settings=settings,
                    client=ongage,
                    landing=clients.s3_landing(settings),
                    time_left=lambda: context.get_remaining_time_in_millis() / 1000,
                ),
            )
    except clients.NoFreeSlot as refused:
        job = waiting_for_slot(job, refused.seconds)
        logger.info(
            "no free slot of the account's calls",
            extra={"account": account.name, "next_wait_seconds": job.next_wait_seconds},
        )
        metrics.add_metric(name="SlotWaits", unit=MetricUnit.Count, value=1)
        return job.state()
    if job.landed:
        landed = job.landed
        metrics.add_metric(name="ExportsLanded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="BytesLanded", unit=MetricUnit.Bytes, value=landed["bytes"])
        logger.info("export landed", extra={"key": landed["key"], "bytes": landed["bytes"]})
    elif job.download:
        logger.info("landing continues in the next invocation", extra=job.download.as_dict())
    elif job.give_up:
        logger.warning("export never became ready", extra={"reason": job.give_up})
    else:
        metrics.add_metric(name="PollsNotReady", unit=MetricUnit.Count, value=1)
        logger.info("export not ready", extra={"next_wait_seconds": job.next_wait_seconds})
    _record_readiness(settings, job)
    return job.state()


def _record_readiness(settings: Settings, job: Job) -> None:
    """Adds a finished run to its export's history; a failure only costs the next runs' lesson."""
    readiness = readiness_of(job)
    if job.history_key is None or readiness is None:
        return
    try:
        clients.readiness_history(settings).record(job.history_key, readiness, utc_now())
    except (BotoCoreError, ClientError) as error:
        logger.warning("readiness not recorded", extra={"error": str(error)})
