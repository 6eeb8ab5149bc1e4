"""A presigned URL (SigV4 in the query string) is checked as S3 checks it, then served.

moto's access-control mode reads the signature from the Authorization header only: a presigned
GET, which has none, fails with KeyError 'HTTP_AUTHORIZATION' (HTTP 500), so neither the
download link `ongage-export status` prints nor an `aws s3 presign` link works. Here a request
whose query names X-Amz-Credential is checked with the identity of the key that signed it (an
IAM user's key, or a role session's with its X-Amz-Security-Token): its signature (over the
query without X-Amz-Signature and the signed headers, payload UNSIGNED-PAYLOAD), its expiry
(X-Amz-Date + X-Amz-Expires: "Request has expired" after it), then that identity's policies
for the action, as for any signed request. A Signature Version 2 link (AWSAccessKeyId=) is
refused with a message saying to sign with version 4, which AWS requires in most regions.
"""

from __future__ import annotations

import datetime
import hmac
from typing import Any
from urllib.parse import parse_qs, urlparse

from botocore.auth import SIGV4_TIMESTAMP, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.s3.exceptions import S3ClientError

_original = ActionAuthenticatorMixin._authenticate_and_authorize_action


class RequestExpired(S3ClientError):
    def __init__(self) -> None:
        super().__init__("AccessDenied", "Request has expired")


class SignatureVersion2(S3ClientError):
    def __init__(self) -> None:
        super().__init__(
            "AccessDenied",
            "this local AWS checks presigned URLs of Signature Version 4 only: presign with "
            "`signature_version='s3v4'` (boto3 Config) or the AWS CLI v2",
        )


def without_signature(query: str) -> str:
    """The query as it was signed: every parameter, as sent, but X-Amz-Signature."""
    return "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))


def expected_signature(
    credentials: Credentials, region: str, method: str, url: str, headers: dict[str, str],
    timestamp: str,
) -> str:  # fmt: skip
    """The signature S3 computes for a presigned `url` (without its X-Amz-Signature)."""
    auth = S3SigV4QueryAuth(credentials, "s3", region)
    request = AWSRequest(method=method, url=url, headers=headers)
    request.context["timestamp"] = timestamp
    canonical_request = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical_request), request))


def expired(timestamp: str, expires: str, now: datetime.datetime | None = None) -> bool:
    """Past X-Amz-Date + X-Amz-Expires (or either unreadable)."""
    try:
        signed = datetime.datetime.strptime(timestamp, SIGV4_TIMESTAMP)
        lifetime = datetime.timedelta(seconds=int(expires))
    except ValueError:
        return True
    now = now or datetime.datetime.now(datetime.UTC)
    return now > signed.replace(tzinfo=datetime.UTC) + lifetime


def _signed_headers(response: Any, names: str) -> dict[str, str]:
    wanted = set(names.lower().split(";"))
    return {k.lower(): v for k, v in response.headers.items() if k.lower() in wanted}


def check_presigned(response: Any, iam_request_cls: type, resource: str, query: str) -> None:
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    # moto's request reads the key, region and service from an Authorization header.
    headers = dict(response.headers)
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={params['X-Amz-Credential']}, "
        f"SignedHeaders={params.get('X-Amz-SignedHeaders', 'host')}, Signature="
    )
    if "X-Amz-Security-Token" in params:
        headers["X-Amz-Security-Token"] = params["X-Amz-Security-Token"]
    iam_request = iam_request_cls(
        account_id=response.current_account, method=response.method,
        path=response.raw_path, data=response.data, body=response.raw_body,
        headers=headers, action=response._get_action(),
    )  # fmt: skip
    url = f"http://{response.headers.get('Host', '')}{response.raw_path}?{without_signature(query)}"
    signature = expected_signature(
        iam_request._access_key.create_credentials(), iam_request._region, response.method, url,
        _signed_headers(response, params.get("X-Amz-SignedHeaders", "host")),
        params.get("X-Amz-Date", ""),
    )  # fmt: skip
    if not hmac.compare_digest(signature, params.get("X-Amz-Signature", "")):
        iam_request._raise_signature_does_not_match()
    if expired(params.get("X-Amz-Date", ""), params.get("X-Amz-Expires", "0")):
        raise RequestExpired()
    iam_request.check_action_permitted(resource)


def authenticate_and_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    query = urlparse(self.uri).query
    enforced = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
    if "Authorization" in self.headers or not enforced:
        return _original(self, iam_request_cls, resource)
    if "X-Amz-Credential=" in query:
        return check_presigned(self, iam_request_cls, resource, query)
    if "AWSAccessKeyId=" in query:
        raise SignatureVersion2()
    return _original(self, iam_request_cls, resource)


PATCHES = (
    (ActionAuthenticatorMixin, "_authenticate_and_authorize_action", authenticate_and_authorize),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
