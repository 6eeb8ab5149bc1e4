"""The optional consumer: EventBridge S3 "Object Created" for exports/ -> curated gzip CSV.

Environment: EXPORT_BUCKET, CURATED_PREFIX (default `curated/`), EXPORT_PREFIX, PART_SIZE_MIB.
Objects that are not exports of this stack are skipped, not failed; an unreadable export raises,
so the asynchronous invocation is retried and then lands in the function's failure destination.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import (
    S3EventBridgeNotificationEvent,
    event_source,
)
from aws_lambda_powertools.utilities.typing import LambdaContext

from ongage_export import clients
from ongage_export.curate import MANIFEST_NAME, NotAnExport, curate_export
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
    try:
        manifest = curate_export(clients.s3_client(), bucket, key, settings)
    except NotAnExport as reason:
        metrics.add_metric(name="CurationsSkipped", unit=MetricUnit.Count, value=1)
        logger.warning("not an export of this stack: skipped", extra={"reason": str(reason)})
        return {"status": "SKIPPED", "bucket": bucket, "key": key, "reason": str(reason)}
    metrics.add_metric(name="ExportsCurated", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="RowsCurated", unit=MetricUnit.Count, value=manifest["rows"])
    logger.info("export curated", extra={"prefix": manifest["prefix"], "rows": manifest["rows"]})
    return {
        "status": "CURATED",
        "bucket": bucket,
        "key": key,
        "manifest_key": manifest["prefix"] + MANIFEST_NAME,
        "files": [file["key"] for file in manifest["files"]],
        "rows": manifest["rows"],
    }
