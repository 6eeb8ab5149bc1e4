"""A small client for Ongage's export API: create an export, retrieve it as a stream.

Every call to Ongage's origin carries the three auth headers (and nothing else does: see
`ongage_session.py`) and connect/read timeouts; every failure becomes one of the typed errors
in `errors.py` carrying Ongage's own message. Credentials live only in the session: they never
reach a message, a repr or a log line.

Two decisions live here and nowhere else:
- a create answered 2xx means Ongage has acted: its answer yields a usable export id or the
  run stops (`OngageExportUnusable`), never a second create (`create_export`);
- a retrieve's 412 means "not finished" unless Ongage's words say the export is invalid or
  unknown (`ongage_answers.is_rejection`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from urllib3.exceptions import ReadTimeoutError

from ongage_export.adapters.ongage_answers import (
    MAX_ERROR_BODY,
    error_for,
    export_id_in,
    is_rejection,
    ongage_message,
    rejected,
    require_zip_content,
    unknown_export,
    untrusted_origin_refused,
)
from ongage_export.adapters.ongage_session import MAX_REDIRECTS, OngageSession
from ongage_export.domain.errors import (
    DownloadInterrupted,
    ExportRejected,
    OngageAuthError,
    OngageError,
    OngageExportUnusable,
    OngageRedirectRefused,
    OngageUnavailable,
)
from ongage_export.domain.export_id import export_id_problem
from ongage_export.domain.ports import NotReady
from ongage_export.domain.request import ExportRequest

MAX_QUOTED_BODY = 300  # characters of an unusable answer quoted in a failure notice
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


class ExportDownload:
    """An open 200 (or 206) retrieve response; read it with `chunks()`, then `close()`."""

    def __init__(self, response: requests.Response, read_timeout: float | None = None):
        self._response = response
        self._read_timeout = read_timeout
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
            raise DownloadInterrupted(self._broke_because(error)) from None
        if self.declared_size is not None and self.bytes_read != self.declared_size:
            raise DownloadInterrupted(
                f"the export download ended after {self.bytes_read} of the "
                f"{self.declared_size} bytes Ongage declared; it will be retried"
            )

    def _broke_because(self, error: Exception) -> str:
        # requests reports a read timeout mid-body as a ConnectionError wrapping urllib3's.
        if any(isinstance(arg, ReadTimeoutError) for arg in error.args):
            return (
                f"the export download stalled after {self.bytes_read} bytes: nothing arrived "
                f"for {self._read_timeout:g} s (the read timeout); it will be retried"
            )
        return (
            f"the export download broke after {self.bytes_read} bytes "
            f"({type(error).__name__}); it will be retried"
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
        session: OngageSession | None = None,
        trusted_origins: Iterable[str] = (),
        before_redirected_call: Callable[[], None] = lambda: None,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self._credentials = credentials
        # Never a plain requests.Session: it would carry the credentials across redirects.
        self._session = session or OngageSession(
            self.base_url, credentials.headers(), trusted_origins, before_redirected_call
        )

    @property
    def credentials(self) -> OngageCredentials:
        return self._credentials

    def create_export(self, request: ExportRequest) -> str:
        """POST /api/export; returns the new export's id.

        Only answers that show nothing was created (no connection, 429, 5xx) are retryable
        errors; any 2xx is final: its id, or OngageExportUnusable.
        """
        url = self._url("api/export", request.list_id)
        response = self._call("POST", url, json=request.body, stream=True)
        with response:
            if not 200 <= response.status_code < 300:
                raise error_for(response, action="create the export", creating=True)
            try:
                body = _read_at_most(response, MAX_ERROR_BODY)
            except (requests.RequestException, OSError):
                body = b""  # the 2xx broke off mid-body: Ongage has acted all the same
        return self._created_export_id(response.status_code, body, request.name)

    def _created_export_id(self, status: int, body: bytes, name: str) -> str:
        problem, export_id = export_id_in(body)
        if problem is None:
            return export_id
        raise OngageExportUnusable(
            f"Ongage answered the create call with {status}, so it may have created an "
            f"export, but {problem}. The run stops here rather than create a second export. "
            f"Ongage's answer: {self._quote(body)}. What to do: look for an export named "
            f"{name!r} in Ongage, report the answer to Ongage, and start a new run once "
            "creates answer with an export id",
            status=status,
        )

    def _quote(self, body: bytes) -> str:
        """Ongage's answer for a notice: trimmed, one line, with no credential in it."""
        text = body.decode("utf-8", "replace")
        for secret in self._credentials.headers().values():
            text = text.replace(secret, "***")
        text = re.sub(r"\s+", " ", "".join(ch if ch.isprintable() else " " for ch in text))
        text = text.strip()
        if not text:
            return "(an empty body)"
        return repr(text[:MAX_QUOTED_BODY] + ("..." if len(text) > MAX_QUOTED_BODY else ""))

    def retrieve(
        self, export_id: str, list_id: int | None, *, start: int = 0
    ) -> NotReady | ExportDownload:
        """GET .../retrieve: NotReady on a 412 that may mean "not finished", ExportRejected on
        one that says the export is invalid or unknown, else the open streaming response."""
        problem = export_id_problem(export_id)
        if problem:  # never let an id steer the URL: refused, not percent-encoded
            raise ExportRejected(f"export id refused before calling Ongage: {problem}")
        path = f"api/export/{export_id}/retrieve"
        headers = {"Range": f"bytes={start}-"} if start else {}
        response = self._call("GET", self._url(path, list_id), stream=True, headers=headers)
        if response.status_code == 412:
            with response:
                said = ongage_message(response)
            if is_rejection(said):
                raise rejected(export_id, said)
            return NotReady(said or "export is not finished yet")
        if response.status_code not in (200, 206):
            with response:
                raise self._retrieve_error(response, export_id)
        require_zip_content(response)
        return ExportDownload(response, read_timeout=self.timeout[1])

    def _retrieve_error(self, response: requests.Response, export_id: str) -> OngageError:
        """A 404 says the export does not exist (ends the run); a refusal from an origin that
        got no credentials says which setting would send them; else `error_for`'s error."""
        status = response.status_code
        if status == 404:
            return unknown_export(export_id, ongage_message(response))
        if status in (401, 403) and not self._session.trusts(response.url):
            return untrusted_origin_refused(response)
        return error_for(response, action="retrieve the export", creating=False)

    def _url(self, path: str, list_id: int | None) -> str:
        prefix = f"/{list_id}" if list_id is not None else ""
        return f"{self.base_url}{prefix}/{path}"

    def _call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.TooManyRedirects:
            raise OngageRedirectRefused(
                f"Ongage redirected more than {MAX_REDIRECTS} times ({method} {_path(url)}); "
                "the client stopped following. Report the redirect chain to Ongage"
            ) from None
        except requests.Timeout:
            raise OngageUnavailable(
                f"Ongage did not answer within {self.timeout[1]:g} s ({method} {_path(url)})"
            ) from None
        except requests.RequestException as error:
            raise OngageUnavailable(
                f"could not reach Ongage ({type(error).__name__} on {method} {_path(url)})"
            ) from None


def _path(url: str) -> str:
    """The URL's path only, for messages: no host, and no query (a signed link's signature)."""
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]


def _read_at_most(response: requests.Response, limit: int) -> bytes:
    """The body's first `limit` bytes: an answer that is not what it should be may be huge."""
    body = bytearray()
    for chunk in response.iter_content(chunk_size=16 * 1024):
        body += chunk
        if len(body) >= limit:
            break
    return bytes(body[:limit])
