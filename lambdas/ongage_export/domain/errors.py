"""The errors a run can end with. Their class names are the `ErrorEquals` names in the ASL.

Each message says what happened (with Ongage's own words when there are some) and what to do
next, because it ends up verbatim in the failure notice a data engineer reads.
"""

from __future__ import annotations


class ExportError(Exception):
    """Base of every error this package raises on purpose."""


class OngageError(ExportError):
    """Ongage answered something other than what was asked for."""

    def __init__(self, message: str, *, status: int | None = None, ongage_message: str = ""):
        self.status = status
        self.ongage_message = ongage_message
        super().__init__(message)


class OngageAuthError(OngageError):
    """401/403: wrong credentials or no API access. Retrying cannot help."""


class OngageRequestRejected(OngageError):
    """Ongage refused the create request as invalid (4xx). Retrying cannot help."""


class OngageRateLimited(OngageError):
    """429: too many calls per minute or in parallel. Retried with Ongage's back-off."""


class OngageUnavailable(OngageError):
    """5xx, connection refused or reset, timeouts: transient, retried with back-off."""


class OngageUnexpectedResponse(OngageError):
    """A 200 that is not what the API promises (JSON or HTML instead of a ZIP, an empty body)."""


class OngageExportUnusable(OngageError):
    """The create call got a 2xx, so Ongage has acted, but its answer names no usable export.

    Never retried: a second create would make a second export at Ongage for the same run.
    """


class ExportRejected(OngageError):
    """Retrieve answered 412 with words that say the export id is invalid or unknown.

    Polling cannot help: the id was never Ongage's, or Ongage no longer has the export.
    """


class OngageRedirectRefused(OngageError):
    """Ongage redirected somewhere the client will not follow (https to http, a non-http
    scheme, more redirects than allowed). A setting or a security problem: not retried."""


class DownloadInterrupted(ExportError):
    """The ZIP body stopped before its end; nothing was landed and the retrieve is retried."""


class DownloadNotResumable(ExportError):
    """The export is too large to stream within one invocation and Ongage ignored HTTP Range."""


class StorageAccessDenied(ExportError):
    """S3 refused the function's writes: a permissions or bucket-policy problem, not transient."""


class CorruptExport(ExportError):
    """The downloaded bytes are not a sound ZIP (a CRC or size mismatch, a truncated or broken
    stream); nothing was landed. Retried: a second download can bring sound bytes."""


class UnsupportedExport(ExportError):
    """What Ongage served is a valid answer this pipeline cannot verify: a body that is not a
    ZIP, an entry compressed with a method it cannot check (Deflate64...), an encrypted entry.
    Not retried: a second download would bring the same bytes; nothing was landed."""


class InvalidExportRequest(ExportError, ValueError):
    """The request breaks one or more rules; `problems` lists each, in words a user can act on."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid export request: " + "; ".join(problems))


class ConfigurationError(ExportError):
    """A required environment variable is missing or malformed (a deployment mistake)."""


class InvalidPollingPolicy(ExportError):
    """The run's `polling` overrides are out of bounds."""


class CreateInterrupted(ExportError):
    """An earlier attempt of this run's create died (its worker was killed) while it held the
    run's idempotency record: Ongage may or may not have created the export, and a second
    create could duplicate it. Not retried."""


class UnknownAccount(ExportError):
    """The request names an account this deployment is not configured for. Not retried."""


class AccountLimitReached(ExportError):
    """A call beyond the first of one invocation (a redirect to Ongage, a retry with a rotated
    secret) would exceed the account's calls per minute: nothing was asked of Ongage in its
    place; retried after a wait, like Ongage's own 429."""
