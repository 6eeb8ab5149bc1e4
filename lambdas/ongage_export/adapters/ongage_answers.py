"""What Ongage's answers mean: export ids, the words of a 412, error envelopes, a ZIP's start.

Each answer that is not the expected one becomes one of the typed errors in `errors.py`, with
Ongage's own message and what to do; `ongage_client.py` decides when to ask.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import requests

from ongage_export.adapters.zip_format import LOCAL_HEADER, unsupported_entry
from ongage_export.domain.errors import (
    ExportRejected,
    OngageAuthError,
    OngageError,
    OngageRateLimited,
    OngageRequestRejected,
    OngageUnavailable,
    OngageUnexpectedResponse,
    UnsupportedExport,
)
from ongage_export.domain.export_id import export_id_problem

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or an empty archive
MAX_ERROR_BODY = 64 * 1024

# Ongage documents retrieve's 412 as "Invalid data or export is not finished yet". A message
# that says the export is invalid or unknown ends the run; one that says "not finished" (even
# beside "invalid", as the documented sentence does), says nothing, or says something else
# keeps polling: a wrong "rejected" would fail a good run, a wrong "not finished" only waits
# until the deadline.
REJECTED_412 = re.compile(
    r"\b(invalid|unknown|not found|does ?n[o']t exist|no such|no export|deleted|expired)\b",
    re.IGNORECASE,
)
NOT_FINISHED_412 = re.compile(
    r"\b(not (yet )?(finished|ready|complete|completed|done)|in progress|processing|pending)\b",
    re.IGNORECASE,
)


def export_id_in(body: bytes) -> tuple[str | None, str]:
    """(problem, id) read from a 2xx create answer; problem is None when the id is usable."""
    try:
        document = json.loads(body)
    except ValueError:
        return "its body is not JSON", ""
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        return "its body is not Ongage's {metadata, payload} envelope", ""
    metadata = document.get("metadata")
    if isinstance(metadata, dict) and metadata.get("error"):
        return f"its envelope reports an error ({message_of(document) or 'no message'})", ""
    export_id = document["payload"].get("id")
    problem = export_id_problem(export_id)
    if problem:
        return f"its payload.id is unusable: {problem}", ""
    return None, str(export_id)


def is_rejection(message: str) -> bool:
    """Whether a retrieve's 412 message says the export is invalid or unknown (see REJECTED_412)."""
    return bool(REJECTED_412.search(message)) and not NOT_FINISHED_412.search(message)


_START_AGAIN = (
    "What to do: if the run was resumed (`ongage-export redrive`), check that it carried the "
    "right export id; if Ongage no longer has the export (purged or deleted), start a new run, "
    "which creates a new one"
)


def rejected(export_id: str, said: str) -> ExportRejected:
    return ExportRejected(
        f"Ongage answered 412 for export {export_id} with words that say it is invalid or "
        f"unknown ({said}); polling cannot make it ready. " + _START_AGAIN,
        status=412,
        ongage_message=said,
    )


def unknown_export(export_id: str, said: str) -> ExportRejected:
    """Retrieve answered 404: Ongage does not know the export (never, or no longer)."""
    quoted = f" ({said})" if said else ""
    return ExportRejected(
        f"Ongage answered 404 for export {export_id}{quoted}: it does not know the export (an "
        "unknown id, or an export it purged); polling cannot make it ready. " + _START_AGAIN,
        status=404,
        ongage_message=said,
    )


def untrusted_origin_refused(response: requests.Response) -> OngageAuthError:
    """A 401/403 from an origin a redirect led to, which got no credentials: not trusted."""
    parts = urlsplit(response.url)
    origin = f"{parts.scheme}://{parts.netloc}"  # never the path or query (a signature)
    said = ongage_message(response)
    quoted = f": {said}" if said else ""
    return OngageAuthError(
        f"Ongage redirected the retrieve to {origin}, which answered {response.status_code}"
        f"{quoted}. The credentials were not sent there: {origin} is not a trusted origin. "
        f"What to do: if {origin} is Ongage's (as https://connect.ongage.net is), add it to "
        "ongage_trusted_origins in cdk.json and deploy (for `ongage-export run`: "
        f"--ongage-trusted-origin {origin}); if it is not, report the redirect to Ongage",
        status=response.status_code,
        ongage_message=said,
    )


def error_for(response: requests.Response, *, action: str, creating: bool) -> OngageError:
    status = response.status_code
    said = ongage_message(response)
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


def ongage_message(response: requests.Response) -> str:
    """Ongage's own error message from the envelope, if the body has one."""
    try:
        return message_of(response.json())
    except ValueError:
        return ""


def message_of(body: Any) -> str:
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict):
        return ""
    message = str(payload.get("message") or "")
    errors = payload.get("errors")
    if isinstance(errors, list) and errors:
        message = f"{message} ({'; '.join(str(e) for e in errors[:10])})".strip()
    return message[:1000]


def require_zip_content(response: requests.Response) -> None:
    """Reject a 200 that announces JSON or HTML (Ongage's errors sometimes come as 200)."""
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type in ("application/json", "text/html", "text/plain"):
        with response:
            body = response.raw.read(MAX_ERROR_BODY, decode_content=True)
        said = ""
        if content_type == "application/json":
            try:
                said = message_of(json.loads(body))
            except ValueError:
                said = ""
        raise OngageUnexpectedResponse(
            f"Ongage answered the retrieve with {content_type} instead of a ZIP"
            + (f": {said}" if said else ""),
            status=response.status_code,
            ongage_message=said,
        )


def check_zip_start(first_chunk: bytes) -> None:
    """The first bytes of a ZIP, and its first entry one this pipeline can verify (so a 5 GB
    download is not needed to learn that); an empty body is an unexpected response, retried,
    and a foreign one a final UnsupportedExport."""
    if not first_chunk:
        raise OngageUnexpectedResponse("Ongage answered the retrieve with an empty body")
    if not first_chunk.startswith(ZIP_MAGIC):
        raise UnsupportedExport(
            f"Ongage answered the retrieve with a body that is not a ZIP (it starts with "
            f"{first_chunk[:16]!r}). The same bytes would come again: not retried, and nothing "
            "was landed. What to do: report it to Ongage with the export id (the notice's "
            "export_id), then start a new run"
        )
    if first_chunk.startswith(ZIP_MAGIC[0]) and len(first_chunk) >= LOCAL_HEADER.size:
        fields = LOCAL_HEADER.unpack_from(first_chunk)
        flags, method, name_length = fields[2], fields[3], fields[9]
        name = first_chunk[LOCAL_HEADER.size : LOCAL_HEADER.size + name_length]
        refusal = unsupported_entry(name, flags, method)
        if refusal is not None:
            raise refusal
