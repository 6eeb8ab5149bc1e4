"""How the package talks to S3: the client's configuration, and S3's refusals said plainly."""

from __future__ import annotations

from botocore.config import Config
from botocore.exceptions import ClientError

from ongage_export.domain.errors import StorageAccessDenied

# The S3 client the uploads are made for (clients.py builds the handlers' with it). Standard
# retry mode backs off on S3 throttling (503 SlowDown) and transient errors. Payloads unsigned:
# every part carries its CRC-32 (checked by S3) and goes over TLS, so the SHA-256 that SigV4
# would take of each part (botocore signs a part whose checksum we give ourselves) is a second
# pass over every byte for nothing.
S3_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    max_pool_connections=16,
    s3={"payload_signing_enabled": False},
)


ACCESS_ERRORS = (
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "KMS.AccessDeniedException",
)


def storage_error(error: ClientError, bucket: str) -> Exception:
    """S3 refusing access is a configuration problem, said plainly; anything else stays as is
    (botocore has already retried throttling and 5xx answers)."""
    code = error.response.get("Error", {}).get("Code", "")
    if code not in ACCESS_ERRORS:
        return error
    operation = getattr(error, "operation_name", "a request")
    return StorageAccessDenied(
        f"S3 refused {operation} on bucket {bucket} ({code}). Check the retrieve function's "
        "IAM role (s3:PutObject, GetObject, DeleteObject, AbortMultipartUpload, ListBucket) "
        "and the bucket policy, then redrive the run."
    )
