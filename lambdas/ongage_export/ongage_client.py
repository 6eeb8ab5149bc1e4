"""A small client for Ongage's export API: create an export, retrieve it as a stream.

Every call carries the three auth headers and connect/read timeouts; every failure becomes one
of the typed errors in `errors.py` carrying Ongage's own message. Credentials live only in the
session's headers: they never reach a message, a repr or a log line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from ongage_export.errors import (
    DownloadInterrupted,
    OngageAuthError,
    OngageError,
    OngageRateLimited,
    OngageRequestRejected,
    OngageUnavailable,
    OngageUnexpectedResponse,
)
from ongage_export.request import ExportRequest

EXPORT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive
MAX_ERROR_BODY = 64 * 1024
CONTENT_RANGE = re.compile(r"^bytes (?P<start>\d+)-\d+/(?P<total>\d+|\*)$")


@dataclass(frozen=True)
class OngageCredentials:
    username: str
    password: str = field(repr=False)
    account_code: str = field(repr=False)

    @classmethod
    def from_secret(cls, secret: dict[str, Any]) -> OngageCredentials:
        missing = [k for k in ("username", "password", "account_code") if not secret.get(k)]
        if missing:
            raise OngageAuthError(
                f"the Ongage credentials secret lacks {', '.join(missing)}: store JSON "
                '{"username": ..., "password": ..., "account_code": ...} in it'
            )
        return cls(str(secret["username"]), str(secret["password"]), str(secret["account_code"]))

    def headers(self) -> dict[str, str]:
        return {
            "X_USERNAME": self.username,
            "X_PASSWORD": self.password,
            "X_ACCOUNT_CODE": self.account_code,
        }


@dataclass(frozen=True)
class NotReady:
    """Retrieve answered 412: the export is not finished (Ongage's message says so)."""

    message: str


class ExportDownload:
    """An open 200 (or 206) retrieve response; read it with `chunks()`, then `close()`."""

    def __init__(self, response: requests.Response):
        self._response = response
        length = response.headers.get("Content-Length")
        self.declared_size: int | None = int(length) if length and length.isdigit() else None
        self.bytes_read = 0
        # Where this body starts in the export, and the export's whole size: a 206 says so in
        # Content-Range ("bytes 100-199/1000"); a 200 is the whole export.
        self.start, self.total = 0, self.declared_size
        content_range = CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if response.status_code == 206 and content_range:
            self.start = int(content_range["start"])
            self.total = int(content_range["total"]) if content_range["total"] != "*" else None

    def chunks(self, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The body, chunk by chunk; raises DownloadInterrupted if it breaks or falls short."""
        try:
            for chunk in self._response.iter_content(chunk_size=chunk_size):
                self.bytes_read += len(chunk)
                yield chunk
        except (requests.RequestException, OSError) as error:
            raise DownloadInterrupted(
                f"the export download broke after {self.bytes_read} bytes "
                f"({type(error).__name__}); it will be retried from the start"
            ) from None
        if self.declared_size is not None and self.bytes_read != self.declared_size:
            raise DownloadInterrupted(
                f"the export download ended after {self.bytes_read} of the "
                f"{self.declared_size} bytes Ongage declared; it will be retried"
            )

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> ExportDownload:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class OngageClient:
    def __init__(
        self,
        base_url: str,
        credentials: OngageCredentials,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        session: requests.Session | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self._session = session or requests.Session()
        self._session.headers.update(credentials.headers())

    def create_export(self, request: ExportRequest) -> str:
        """POST /api/export; returns the new export's id."""
        response = self._call("POST", self._url("api/export", request.list_id), json=request.body)
        with response:
            if response.status_code != 200:
                raise _error_for(response, action="create the export", creating=True)
            payload = _envelope_payload(response)
        export_id = str(payload.get("id", "")) if isinstance(payload, dict) else ""
        if not EXPORT_ID_PATTERN.match(export_id):
            raise OngageUnexpectedResponse(
                f"Ongage created an export but its id {export_id[:80]!r} is missing or malformed"
            )
        return export_id

    def retrieve(
        self, export_id: str, list_id: int | None, *, start: int = 0
    ) -> NotReady | ExportDownload:
        """GET .../retrieve: NotReady on 412, else the open streaming response."""
        path = f"api/export/{export_id}/retrieve"
        headers = {"Range": f"bytes={start}-"} if start else {}
        response = self._call("GET", self._url(path, list_id), stream=True, headers=headers)
        if response.status_code == 412:
            with response:
                return NotReady(_ongage_message(response) or "export is not finished yet")
        if response.status_code not in (200, 206):
            with response:
                raise _error_for(response, action="retrieve the export", creating=False)
        _require_zip_content(response)
        return ExportDownload(response)

    def _url(self, path: str, list_id: int | None) -> str:
        prefix = f"/{list_id}" if list_id is not None else ""
        return f"{self.base_url}{prefix}/{path}"

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.Timeout:
            raise OngageUnavailable(
                f"Ongage did not answer within {self.timeout[1]:g} s ({method} {_path(url)})"
            ) from None
        except requests.RequestException as error:
            raise OngageUnavailable(
                f"could not reach Ongage ({type(error).__name__} on {method} {_path(url)})"
            ) from None


def _path(url: str) -> str:
    """The URL without scheme and host, for messages (never includes credentials anyway)."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]


def _error_for(response: requests.Response, *, action: str, creating: bool) -> OngageError:
    status = response.status_code
    said = _ongage_message(response)
    quoted = f": {said}" if said else ""
    if status in (401, 403):
        return OngageAuthError(
            f"Ongage refused the credentials ({status}{quoted}). Check the username, password "
            "and account code in the credentials secret, and that the account has API access",
            status=status,
            ongage_message=said,
        )
    if status == 429:
        return OngageRateLimited(
            f"Ongage rate limit hit ({status}{quoted}); retrying with back-off",
            status=status,
            ongage_message=said,
        )
    if status >= 500:
        return OngageUnavailable(
            f"Ongage failed to {action} ({status}{quoted}); retrying",
            status=status,
            ongage_message=said,
        )
    if creating:
        return OngageRequestRejected(
            f"Ongage rejected the export request ({status}{quoted}). Fix the request "
            "(list id, segment or mailing ids, fields) and start a new run",
            status=status,
            ongage_message=said,
        )
    return OngageUnexpectedResponse(
        f"Ongage answered {status} when asked to {action}{quoted}",
        status=status,
        ongage_message=said,
    )


def _envelope_payload(response: requests.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        raise OngageUnexpectedResponse(
            f"Ongage answered {response.status_code} with a body that is not JSON"
        ) from None
    if not isinstance(body, dict) or body.get("metadata", {}).get("error"):
        raise OngageUnexpectedResponse(
            f"Ongage reported an error in a {response.status_code} answer: "
            f"{_message_of(body) or 'no message'}"
        )
    return body.get("payload")


def _ongage_message(response: requests.Response) -> str:
    """Ongage's own error message from the envelope, if the body has one."""
    try:
        return _message_of(response.json())
    except ValueError:
        return ""


def _message_of(body: Any) -> str:
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict):
        return ""
    message = str(payload.get("message") or "")
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        message = f"{message} ({'; '.join(str(e) for e in errors[:10])})".strip()
    return message[:1000]


def _require_zip_content(response: requests.Response) -> None:
    """Reject a 200 that announces JSON or HTML (Ongage's errors sometimes come as 200)."""
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type in ("application/json", "text/html", "text/plain"):
        with response:
            body = response.raw.read(MAX_ERROR_BODY, decode_content=True)
        said = ""
        if content_type == "application/json":
            try:
                said = _message_of(json.loads(body))
            except ValueError:
                said = ""
        raise OngageUnexpectedResponse(
            f"Ongage answered the retrieve with {content_type} instead of a ZIP"
            + (f": {said}" if said else ""),
            status=response.status_code,
            ongage_message=said,
        )


def check_zip_start(first_chunk: bytes) -> None:
    """The first bytes of a ZIP; an empty or foreign body is an unexpected response."""
    if not first_chunk:
        raise OngageUnexpectedResponse("Ongage answered the retrieve with an empty body")
    if not first_chunk.startswith(ZIP_MAGIC):
        raise OngageUnexpectedResponse(
            f"Ongage answered the retrieve with a body that is not a ZIP "
            f"(it starts with {first_chunk[:16]!r})"
        )
