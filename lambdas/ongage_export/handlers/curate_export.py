"""The optional consumer: EventBridge S3 "Object Created" for exports/ -> curated Parquet.

Environment: EXPORT_BUCKET, CURATED_PREFIX (default `curated/`), EXPORT_PREFIX, PART_SIZE_MIB,
TOPIC_ARN (schema_changed notices), STATE_MACHINE_ARN (the executions holding the requests).
Objects that are not exports of this stack are skipped, not failed; an unreadable export raises,
so the asynchronous invocation is retried and then lands in the function's failure destination.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import (
    S3EventBridgeNotificationEvent,
    event_source,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from ongage_export.adapters import aws_clients
from ongage_export.consumer.curate import (
    MANIFEST_NAME,
    ExportRequest,
    NotAnExport,
    curate_export,
    record_columns,
    request_of,
)
from ongage_export.consumer.manifest import SCHEMA_CHANGED
from ongage_export.observability import logger, metrics, tracer
from ongage_export.settings import CurateSettings


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=S3EventBridgeNotificationEvent)
def handler(event: S3EventBridgeNotificationEvent, context: LambdaContext) -> dict[str, Any]:
    settings = CurateSettings.from_env()
    # Powertools URL-decodes the key (S3 notifications encode it); export keys hold no '+'/'%'.
    bucket, key = event.detail.bucket.name, event.detail.object.key
    logger.append_keys(bucket=bucket, key=key)
    s3 = aws_clients.s3_client()

    def request_for(metadata: Mapping[str, str]) -> ExportRequest:
        return request_of(aws_clients.stepfunctions_client(), settings.state_machine_arn, metadata)

    try:
        curated = curate_export(s3, bucket, key, settings, request_for)
    except NotAnExport as reason:
        metrics.add_metric(name="CurationsSkipped", unit=MetricUnit.Count, value=1)
        logger.warning("not an export of this stack: skipped", extra={"reason": str(reason)})
        return {"status": "SKIPPED", "bucket": bucket, "key": key, "reason": str(reason)}
    manifest = curated.manifest
    if curated.schema_changed is not None and settings.topic_arn:
        publish_schema_changed(settings.topic_arn, curated.schema_changed)
    record_columns(s3, settings, manifest)
    metrics.add_metric(name="ExportsCurated", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RowsCurated", unit=MetricUnit.Count, value=manifest["rows"])
    logger.info("export curated", extra={"prefix": manifest["prefix"], "rows": manifest["rows"]})
    return {
        "status": "CURATED",
        "bucket": bucket,
        "key": key,
        "manifest_key": manifest["prefix"] + MANIFEST_NAME,
        "files": [file["key"] for file in manifest["files"] if file["key"]],
        "rows": manifest["rows"],
        "schema_changed": curated.schema_changed is not None,
    }


def publish_schema_changed(topic_arn: str, notice: Mapping[str, Any]) -> None:
    """On the stack's topic, with the `status` and `list_id` attributes subscribers filter on."""
    metrics.add_metric(name="SchemaChanges", unit=MetricUnit.Count, value=1)
    logger.warning("export columns changed", extra={"notice": notice})
    aws_clients.sns_client().publish(
        TopicArn=topic_arn,
        Subject="Ongage export columns changed",
        Message=json.dumps(notice, ensure_ascii=False),
        MessageAttributes={
            "status": {"DataType": "String", "StringValue": SCHEMA_CHANGED},
            "list_id": {"DataType": "String", "StringValue": str(notice["list_id"])},
        },
    )
