"""EventBridge "Step Functions Execution Status Change" (FAILED, TIMED_OUT, ABORTED) -> a notice
on the topic, unless the workflow announced the run itself (ongage_export.domain.unannounced_runs).

Environment: TOPIC_ARN. An event that is not such a status change raises NotAnEndedRun (the
rule's pattern lets none through; a wrong one is a configuration mistake, made visible).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ongage_export.adapters import aws_clients
from ongage_export.domain.unannounced_runs import (
    NOTICE_SUBJECT,
    EndedRun,
    announce_unless_announced,
)
from ongage_export.observability import logger, metrics, tracer
from ongage_export.settings import AnnounceSettings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = AnnounceSettings.from_env()
    run = EndedRun.from_event(event)
    logger.append_keys(execution_arn=run.execution_arn, status=run.status)
    history = history_newest_first(aws_clients.stepfunctions_client(), run.execution_arn)

    def publish(notice: Mapping[str, Any]) -> None:
        aws_clients.sns_client().publish(
            TopicArn=settings.topic_arn,
            Subject=NOTICE_SUBJECT.format(status=run.status),
            Message=json.dumps(notice),
            MessageAttributes={"status": {"DataType": "String", "StringValue": run.status}},
        )

    announced = announce_unless_announced(run, history, publish)
    if announced:
        metrics.add_metric(name="RunsAnnouncedByEventBridge", unit=MetricUnit.Count, value=1)
    logger.info("run ended", extra={"announced_here": announced})
    return {"execution_arn": run.execution_arn, "status": run.status, "announced": announced}


def history_newest_first(stepfunctions: Any, execution_arn: str) -> Iterator[dict[str, Any]]:
    """The execution's history events, newest first, a page at a time (read only as needed)."""
    pages = stepfunctions.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, reverseOrder=True, includeExecutionData=False
    )
    for page in pages:
        yield from page["events"]
