"""S3 calls on a bucket encrypted with a KMS key need the caller's permission on that key.

In AWS, S3 uses the key on the caller's behalf: a PutObject under SSE-KMS needs
`kms:GenerateDataKey`, a multipart upload (its creation, parts, completion) and a copy also
`kms:Decrypt` (S3 reads the encrypted parts / the source), a GetObject `kms:Decrypt`; HeadObject
decrypts nothing. moto encrypts with the bucket's key but asks nothing of the caller, so a role
without its key permission would land an export here and fail in AWS. In access-control mode,
after S3's own check passes, the caller's policies are checked for those KMS actions on the
bucket's default key (every object of this stack's buckets is under it; a per-request key is
not looked at), signed and presigned requests alike, and a denial is S3's AccessDenied.
"""

from __future__ import annotations

from typing import Any

from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.iam.access_control import S3IAMRequest
from moto.s3.models import s3_backends
from moto.s3.responses import S3Response

_original = S3Response._authenticate_and_authorize_s3_action


def key_actions(action: str, method: str, query: dict[str, Any], headers: Any) -> list[str]:
    """The KMS actions S3 performs for the caller of an S3 `action` (its IAM name)."""
    if action == "GetObject" and method == "GET":
        return ["kms:Decrypt"]
    if action != "PutObject":
        return []
    multipart = "uploads" in query or "uploadId" in query
    copy = "x-amz-copy-source" in headers
    return ["kms:GenerateDataKey"] + (["kms:Decrypt"] if multipart or copy else [])


def bucket_key_arn(response: Any, bucket_name: str | None) -> str | None:
    """The ARN of the bucket's default SSE-KMS key; None when it has none."""
    if not bucket_name:
        return None
    backend = s3_backends[response.current_account][response.partition]
    bucket = backend.buckets.get(bucket_name)
    rule = ((bucket.encryption if bucket else None) or {}).get("Rule", {})
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    key = default.get("KMSMasterKeyID")
    if default.get("SSEAlgorithm") != "aws:kms" or not key:
        return None
    if key.startswith("arn:"):
        return str(key)
    return f"arn:{response.partition}:kms:{response.region}:{response.current_account}:key/{key}"


def _kms_request(kms_action: str) -> type[S3IAMRequest]:
    """An S3 request checked as `kms_action` instead of its own action."""

    class KmsRequest(S3IAMRequest):
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self._action = kms_action

    return KmsRequest


def authenticate_and_authorize_s3_action(
    self: Any, bucket_name: str | None = None, key_name: str | None = None
) -> None:
    _original(self, bucket_name=bucket_name, key_name=key_name)
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        return  # access control is off (or not yet on): nothing is checked
    key_arn = bucket_key_arn(self, bucket_name)
    if key_arn is None or key_name is None:
        return
    query = getattr(self, "querystring", {}) or {}
    for kms_action in key_actions(self._get_action(), self.method, query, self.headers):
        self._authenticate_and_authorize_action(_kms_request(kms_action), key_arn)


PATCHES = (
    (S3Response, "_authenticate_and_authorize_s3_action", authenticate_and_authorize_s3_action),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
