"""What Ongage's answers mean: export ids, the words of a 412, error envelopes, a ZIP's start.

Each answer that is not the expected one becomes one of the typed errors in `errors.py`, with
Ongage's own message and what to do; `ongage_client.py` decides when to ask.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from ongage_export.errors import (
    ExportRejected,
    OngageAuthError,
    OngageError,
    OngageRateLimited,
    OngageRequestRejected,
    OngageUnavailable,
    OngageUnexpectedResponse,
)

# An export id is opaque, but it goes into a URL path as one segment, unencoded: only RFC 3986
# "unreserved" characters, and not the dot segments "." and ".." (which a URL resolver removes).
EXPORT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")
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


def export_id_problem(value: Any) -> str | None:
    """Why `value` cannot be used as an export id in a URL path, or None if it can."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return f"the id is {_kind(value)}, not a string or a number"
    text = str(value)
    if text in (".", "..") or not EXPORT_ID_PATTERN.match(text):
        return (
            f"the id {text[:80]!r} is not one URL path segment (letters, digits, '-', '_', "
            "'.', '~'; 128 characters at most; not '.' or '..')"
        )
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "missing"
    names = {bool: "a boolean", float: "a fractional number", list: "an array"}
    return names.get(type(value), "an object")


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


def rejected(export_id: str, said: str) -> ExportRejected:
    return ExportRejected(
        f"Ongage answered 412 for export {export_id} with words that say it is invalid or "
        f"unknown ({said}); polling cannot make it ready. What to do: if the run was resumed "
        "(`ongage-export redrive`), check that it carried the right export id; if Ongage no "
        "longer has the export (purged or deleted), start a new run, which creates a new one",
        status=412,
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
    """The first bytes of a ZIP; an empty or foreign body is an unexpected response."""
    if not first_chunk:
        raise OngageUnexpectedResponse("Ongage answered the retrieve with an empty body")
    if not first_chunk.startswith(ZIP_MAGIC):
        raise OngageUnexpectedResponse(
            f"Ongage answered the retrieve with a body that is not a ZIP "
            f"(it starts with {first_chunk[:16]!r})"
        )
