"""A presigned URL (the signature in the query string) is checked as S3 checks it, then served.

moto's access-control mode reads the signature from the Authorization header only: a presigned
GET, which has none, fails with KeyError 'HTTP_AUTHORIZATION' (HTTP 500), so neither the
download link `ongage-export status` prints nor an `aws s3 presign` link works. Here a request
whose query carries a signature is checked with the identity of the key that signed it (an IAM
user's key, or a role session's with its security token): its signature, its expiry ("Request
has expired" after it), then that identity's policies for the action, as for any signed request.
Both forms S3 accepts:
- Signature Version 4 (X-Amz-Credential, what boto3 with `s3v4` and the status function make):
  over the query without X-Amz-Signature and the signed headers, payload UNSIGNED-PAYLOAD,
  valid X-Amz-Expires seconds from X-Amz-Date;
- Signature Version 2 (AWSAccessKeyId, what `aws s3 presign` of the AWS CLI v1 makes): HMAC-SHA1
  over the method, Expires, x-amz-security-token and the resource, valid until Expires.
"""

from __future__ import annotations

import datetime
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlparse, urlsplit

from botocore.auth import SIGV4_TIMESTAMP, HmacV1Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.s3.exceptions import S3ClientError

_original = ActionAuthenticatorMixin._authenticate_and_authorize_action


class RequestExpired(S3ClientError):
    def __init__(self) -> None:
        super().__init__("AccessDenied", "Request has expired")


def without_signature(query: str, name: str = "X-Amz-Signature") -> str:
    """The query as it was signed: every parameter, as sent, but the signature."""
    return "&".join(p for p in query.split("&") if not p.startswith(f"{name}="))


def expected_signature(
    credentials: Credentials, region: str, method: str, url: str, headers: dict[str, str],
    timestamp: str,
) -> str:  # fmt: skip
    """The version 4 signature S3 computes for a presigned `url` (without X-Amz-Signature)."""
    auth = S3SigV4QueryAuth(credentials, "s3", region)
    request = AWSRequest(method=method, url=url, headers=headers)
    request.context["timestamp"] = timestamp
    canonical_request = auth.canonical_request(request)
    return str(auth.signature(auth.string_to_sign(request, canonical_request), request))


def expected_v2_signature(
    credentials: Credentials, method: str, path_and_query: str, expires: str
) -> str:
    """The version 2 signature S3 computes for a presigned path and query."""
    auth = HmacV1Auth(credentials)
    token = f"x-amz-security-token:{credentials.token}\n" if credentials.token else ""
    resource = auth.canonical_resource(urlsplit(path_and_query))
    return str(auth.sign_string(f"{method.upper()}\n\n\n{expires}\n{token}{resource}"))


def expired(timestamp: str, expires: str, now: datetime.datetime | None = None) -> bool:
    """Past X-Amz-Date + X-Amz-Expires (or either unreadable)."""
    try:
        signed = datetime.datetime.strptime(timestamp, SIGV4_TIMESTAMP)
        lifetime = datetime.timedelta(seconds=int(expires))
    except ValueError:
        return True
    now = now or datetime.datetime.now(datetime.UTC)
    return now > signed.replace(tzinfo=datetime.UTC) + lifetime


def expired_v2(expires: str, now: float | None = None) -> bool:
    """Past Expires, in seconds since the epoch (or unreadable)."""
    try:
        return (now if now is not None else time.time()) > int(expires)
    except ValueError:
        return True


@dataclass(frozen=True)
class Presigned:
    """What a presigned request says: who signed it, the signature, and for how long."""

    credential: str  # as a version 4 Credential: key/date/region/service/aws4_request
    token: str | None
    signed_headers: str
    signature: str
    version: int

    @classmethod
    def of(cls, params: dict[str, str], region: str) -> Presigned:
        if "X-Amz-Credential" in params:
            return cls(
                params["X-Amz-Credential"], params.get("X-Amz-Security-Token"),
                params.get("X-Amz-SignedHeaders", "host"), params.get("X-Amz-Signature", ""), 4,
            )  # fmt: skip
        return cls(
            f"{params.get('AWSAccessKeyId', '')}/19700101/{region}/s3/aws4_request",
            params.get("x-amz-security-token"), "host", params.get("Signature", ""), 2,
        )  # fmt: skip


def _signed_headers(response: Any, names: str) -> dict[str, str]:
    wanted = set(names.lower().split(";"))
    return {k.lower(): v for k, v in response.headers.items() if k.lower() in wanted}


def _iam_request(response: Any, iam_request_cls: type, presigned: Presigned) -> Any:
    """moto's check of the signer (its key, or its session and token) and its policies; it
    reads the key, region and service from an Authorization header."""
    headers = dict(response.headers)
    headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={presigned.credential}, "
        f"SignedHeaders={presigned.signed_headers}, Signature="
    )
    if presigned.token is not None:
        headers["X-Amz-Security-Token"] = presigned.token
    return iam_request_cls(
        account_id=response.current_account, method=response.method,
        path=response.raw_path, data=response.data, body=response.raw_body,
        headers=headers, action=response._get_action(),
    )  # fmt: skip


def _signature_and_expiry(
    response: Any, presigned: Presigned, credentials: Credentials, region: str, query: str
) -> tuple[str, bool]:
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    if presigned.version == 2:
        path = f"{response.raw_path}?{without_signature(query, 'Signature')}"
        expires = params.get("Expires", "")
        return expected_v2_signature(credentials, response.method, path, expires), expired_v2(
            expires
        )
    url = f"http://{response.headers.get('Host', '')}{response.raw_path}?{without_signature(query)}"
    timestamp = params.get("X-Amz-Date", "")
    signature = expected_signature(
        credentials, region, response.method, url,
        _signed_headers(response, presigned.signed_headers), timestamp,
    )  # fmt: skip
    return signature, expired(timestamp, params.get("X-Amz-Expires", ""))


def check_presigned(response: Any, iam_request_cls: type, resource: str, query: str) -> None:
    params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
    presigned = Presigned.of(params, response.region)
    iam_request = _iam_request(response, iam_request_cls, presigned)
    credentials = iam_request._access_key.create_credentials()
    signature, is_expired = _signature_and_expiry(
        response, presigned, credentials, iam_request._region, query
    )
    if not hmac.compare_digest(signature, presigned.signature):
        iam_request._raise_signature_does_not_match()
    if is_expired:
        raise RequestExpired()
    iam_request.check_action_permitted(resource)


def authenticate_and_authorize(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    query = urlparse(self.uri).query
    enforced = ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
    presigned = "X-Amz-Credential=" in query or "AWSAccessKeyId=" in query
    if "Authorization" in self.headers or not enforced or not presigned:
        return _original(self, iam_request_cls, resource)
    check_presigned(self, iam_request_cls, resource, query)


PATCHES = (
    (ActionAuthenticatorMixin, "_authenticate_and_authorize_action", authenticate_and_authorize),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
