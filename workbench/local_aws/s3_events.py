"""S3 sends an "Object Created" event to EventBridge for each object written to a bucket whose
EventBridge notifications are on, and a CloudFormation bucket can turn them on.

moto 5.2.5: its CloudFormation bucket ignores `NotificationConfiguration`, so a template's
`EventBridgeConfiguration: {EventBridgeEnabled: true}` does nothing; with notifications set
through the API, it sends an event of its own shape (epoch `time`, `eTag`, reason
`ObjectCreated`, the key not encoded), twice for a multipart upload (a Put from inside
CompleteMultipartUpload, then the CompleteMultipartUpload), and its delivery fails on a Lambda
target. Here the template's property turns EventBridge notifications on, and each object
created is one event as S3 sends it (the EventBridge event structure of S3's user guide: the
key URL-encoded as in every S3 notification, `reason` the API call that wrote it), delivered by
`eventbridge_delivery` to the rules whose pattern matches. S3's other events (deleted,
restored, tagged...) are left to moto, as before.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote_plus

from moto.s3 import notifications
from moto.s3.models import FakeBucket, NotificationConfiguration

from local_aws import eventbridge_delivery

# The `reason` S3 gives each way of creating an object, by moto's event name.
REASONS = {
    notifications.S3NotificationEvent.OBJECT_CREATED_PUT_EVENT: "PutObject",
    notifications.S3NotificationEvent.OBJECT_CREATED_POST_EVENT: "POST Object",
    notifications.S3NotificationEvent.OBJECT_CREATED_COPY_EVENT: "CopyObject",
    notifications.S3NotificationEvent.OBJECT_CREATED_COMPLETE_MULTIPART_UPLOAD_EVENT: (
        "CompleteMultipartUpload"
    ),
}
_MOTO_SEND = notifications._send_event_bridge_message
_MOTO_CREATE = FakeBucket.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]
_MOTO_UPDATE = FakeBucket.update_from_cloudformation_json.__func__  # type: ignore[attr-defined]


def object_created_event(account_id: str, bucket: Any, key: Any, reason: str) -> dict[str, Any]:
    obj = {
        "key": quote_plus(key.name, safe="/"),
        "size": key.size,
        "etag": key.etag.strip('"'),
        "sequencer": uuid.uuid4().hex[:16].upper(),
    }
    if key.version_id and key.version_id != "null":
        obj["version-id"] = key.version_id
    detail = {
        "version": "0",
        "bucket": {"name": bucket.name},
        "object": obj,
        "request-id": uuid.uuid4().hex[:16].upper(),
        "requester": account_id,
        "source-ip-address": "127.0.0.1",
        "reason": reason,
    }
    return eventbridge_delivery.service_event(
        "aws.s3",
        "Object Created",
        detail,
        resources=[bucket.arn],
        account_id=account_id,
        region=bucket.region_name,
    )


def send_event_bridge_message(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
    reason = REASONS.get(event_name)  # type: ignore[call-overload]
    if reason is None:
        _MOTO_SEND(account_id, bucket, event_name, key)
    # CompleteMultipartUpload writes its object with a Put: that event is the upload's own.
    elif not (reason == "PutObject" and key.multipart is not None):
        eventbridge_delivery.deliver(object_created_event(account_id, bucket, key, reason))


def enable_event_bridge(bucket: FakeBucket, properties: dict[str, Any]) -> FakeBucket:
    """The template's `NotificationConfiguration.EventBridgeConfiguration`, applied."""
    configuration = properties.get("NotificationConfiguration", {})
    enabled = configuration.get("EventBridgeConfiguration", {}).get("EventBridgeEnabled")
    if str(enabled).lower() == "true":
        if bucket.notification_configuration is None:
            bucket.notification_configuration = NotificationConfiguration()
        bucket.notification_configuration.event_bridge = {}
    elif bucket.notification_configuration is not None:
        bucket.notification_configuration.event_bridge = None
    return bucket


def create_from_cloudformation_json(
    cls: type[FakeBucket], resource_name: str, cloudformation_json: Any, *args: Any, **kwargs: Any
) -> FakeBucket:
    bucket = _MOTO_CREATE(cls, resource_name, cloudformation_json, *args, **kwargs)
    return enable_event_bridge(bucket, cloudformation_json.get("Properties", {}))


def update_from_cloudformation_json(
    cls: type[FakeBucket], original: Any, new_name: str, cloudformation_json: Any, *args: Any
) -> FakeBucket:
    bucket = _MOTO_UPDATE(cls, original, new_name, cloudformation_json, *args)
    return enable_event_bridge(bucket, cloudformation_json.get("Properties", {}))


# What install() replaces, by (owner, attribute): `extensions.applied` patches the same pairs
# for a while only.
PATCHES = (
    (notifications, "_send_event_bridge_message", send_event_bridge_message),
    (FakeBucket, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json)),
    (FakeBucket, "update_from_cloudformation_json", classmethod(update_from_cloudformation_json)),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
