"""The fault matrix's cases (matrix.py runs and checks them): each breaks Ongage, S3 or Lambda one
way and says how the runs must end.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ongage_export.contract import EXPORT_PREFIX
from ongage_export.settings import Settings
from ongage_simulator import Credentials, Fault, OngageSimulator

CREDENTIALS = Credentials("fault-user", "s3cr3t-Pa55word-never-logged", "ACCT7SECRET")


REQUEST = {
    "name": "Fault matrix",
    "list_id": 2222,
    "segment_id": [1],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "status": ["active"],
}


SUPPRESSION_REQUEST = {**{k: v for k, v in REQUEST.items() if k != "segment_id"},
                       "name": "Fault matrix suppression list"}  # fmt: skip


POLLING = {"initial_seconds": 1, "growth": 1.0, "max_seconds": 1, "jitter": 0.0,
           "deadline_seconds": 20}  # fmt: skip


Arrange = Callable[[OngageSimulator], None]


@dataclass(frozen=True)
class Case:
    name: str
    expect: Literal["landed", "failed"]
    arrange: Arrange = lambda sim: None
    error: str | None = None  # the error a failed run must end with
    runs: int = 1
    export_bytes: int = 200_000
    s3_fault: tuple[str, int, int | None] | None = None  # (operation, status, times)
    reserved_concurrency: dict[str, int] = field(default_factory=dict)
    same_name: bool = False  # every run started under one idempotency key
    polling: dict[str, Any] = field(default_factory=dict)
    # Retry intervals shrunk for speed; contention cases keep more of them, so that throttled
    # invocations spread out over time as they would on AWS.
    retry_time_scale: float = 0.02
    exports_per_run: int = 1  # what Ongage must have created, per run (never more)
    create_calls: int | None = None  # POST /api/export calls the case must make in all
    max_retrieves: int | None = None  # a run that must end promptly: at most this many
    via_other_origin: bool = False  # the ZIP must come from the redirect's other origin
    request: dict[str, Any] | None = None  # instead of REQUEST
    resume_export_id: str | None = None  # the run resumes this export (no create call)
    lambda_env: dict[str, str] = field(default_factory=dict)  # for the functions, this case
    # A key prefix where multipart uploads must have been started and every one aborted.
    aborted_at: str | None = None
    downloads: int | None = None  # export bodies served per run: exactly this many
    trust_second_host: bool = False  # the run trusts the simulator's second Ongage host
    cause_contains: str | None = None  # words the failure notice's cause must hold


def inject(fault: Fault, **params: Any) -> Arrange:
    def arrange(sim: OngageSimulator) -> None:
        sim.inject(fault, **params)

    return arrange


def together(*arranges: Arrange) -> Arrange:
    def arrange(sim: OngageSimulator) -> None:
        for each in arranges:
            each(sim)

    return arrange


def setting(name: str, value: Any) -> Arrange:
    return lambda sim: setattr(sim.config, name, value)


CASES: tuple[Case, ...] = (
    Case("412 forever (never ready)", "failed", inject(Fault.NEVER_READY, times=None),
         error="ExportNotReady", polling={"deadline_seconds": 3}),
    Case("401 wrong credentials", "failed",
         setting("credentials", Credentials("fault-user", "rotated", "ACCT7SECRET")),
         error="OngageAuthError", exports_per_run=0),
    Case("403 no API access", "failed", inject(Fault.FORBIDDEN, times=None),
         error="OngageAuthError", exports_per_run=0),
    Case("412 on create (invalid data)", "failed", inject(Fault.CREATE_REJECTED, times=None),
         error="OngageRequestRejected", exports_per_run=0),
    Case("412 on create (unknown list)", "failed", setting("known_list_ids", frozenset({1})),
         error="OngageRequestRejected", exports_per_run=0),
    Case("429 burst on create", "landed", inject(Fault.RATE_LIMITED, times=3, endpoint="create"),
         create_calls=4),
    Case("429 burst on retrieve", "landed",
         inject(Fault.RATE_LIMITED, times=3, endpoint="retrieve")),
    Case("5xx burst (503) on create", "landed",
         inject(Fault.SERVER_ERROR, times=3, endpoint="create"), create_calls=4),
    Case("5xx burst (502, HTML) on retrieve", "landed",
         inject(Fault.SERVER_ERROR, times=3, status=502, html=True, endpoint="retrieve")),
    Case("connection reset at 0% of body", "landed", inject(Fault.DROP_CONNECTION, at=0.0)),
    Case("connection reset at 50% of body", "landed", inject(Fault.DROP_CONNECTION, at=0.5),
         export_bytes=12 * 1024 * 1024),
    Case("connection reset at 99% of body", "landed", inject(Fault.DROP_CONNECTION, at=0.99),
         export_bytes=12 * 1024 * 1024),
    Case("truncated body (short of Content-Length)", "landed", inject(Fault.TRUNCATE, at=0.7)),
    Case("slow trickle", "landed", inject(Fault.SLOW_TRICKLE, bytes_per_second=256 * 1024)),
    Case("corrupt ZIP once", "landed", inject(Fault.CORRUPT_ZIP)),
    Case("corrupt ZIP always", "failed", inject(Fault.CORRUPT_ZIP, times=None),
         error="CorruptExport", downloads=3),  # retried twice: a new download may be sound
    Case("corrupt ZIP, caught by the single pass after parts are up", "failed",
         inject(Fault.CORRUPT_ZIP, times=None), error="CorruptExport",
         export_bytes=12 * 1024 * 1024, aborted_at=EXPORT_PREFIX),
    Case("Deflate64 entry (method 9)", "failed", setting("archive", "deflate64"),
         error="UnsupportedExport", downloads=1, cause_contains="Deflate64 (method 9)"),
    Case("encrypted entry (ZipCrypto)", "failed", setting("archive", "zipcrypto"),
         error="UnsupportedExport", downloads=1, cause_contains="is encrypted (ZipCrypto)"),
    Case("200 with a body that is not a ZIP", "failed", setting("archive", "not_zip"),
         error="UnsupportedExport", downloads=1, cause_contains="not a ZIP"),
    Case("BZip2 entries (method 12)", "landed", setting("archive", "bzip2"), downloads=1),
    Case("LZMA entries (method 14)", "landed", setting("archive", "lzma"), downloads=1),
    Case("Deflate entries (method 8)", "landed", setting("archive", "deflate"), downloads=1),
    Case("404 on retrieve (unknown or purged export)", "failed",
         together(setting("unknown_export_status", 404), inject(Fault.EXPORT_PURGED)),
         error="ExportRejected", max_retrieves=1,
         cause_contains="404"),
    Case("redirect to a trusted second Ongage host that needs the credentials", "landed",
         inject(Fault.REDIRECT, times=None, redirect_to="second_host"), trust_second_host=True),
    Case("redirect to an untrusted second Ongage host that needs the credentials", "failed",
         inject(Fault.REDIRECT, times=None, redirect_to="second_host"),
         error="OngageAuthError", cause_contains="ongage_trusted_origins"),
    Case("200 with JSON error body", "failed", inject(Fault.JSON_ERROR_ON_200, times=None),
         error="OngageUnexpectedResponse"),
    Case("200 with empty body", "failed", inject(Fault.EMPTY_200, times=None),
         error="OngageUnexpectedResponse"),
    Case("retrieve redirected to another origin (302)", "landed",
         inject(Fault.REDIRECT, times=None), via_other_origin=True),
    Case("retrieve redirected to another origin (307), reset mid-body", "landed",
         together(inject(Fault.REDIRECT, times=None, redirect_status=307),
                  inject(Fault.DROP_CONNECTION, at=0.5)),
         via_other_origin=True, export_bytes=12 * 1024 * 1024),
    Case("retrieve redirected within Ongage's origin", "landed",
         inject(Fault.REDIRECT, times=None, redirect_to="same_origin")),
    Case("redirect loop (more than 5 hops)", "failed",
         inject(Fault.REDIRECT, times=None, redirect_to="loop"), error="OngageRedirectRefused"),
    Case("200 on create, id with '/'", "failed", inject(Fault.UNUSABLE_ID, id_value="7/../8"),
         error="OngageExportUnusable", create_calls=1),
    Case("200 on create, id '..'", "failed", inject(Fault.UNUSABLE_ID, id_value=".."),
         error="OngageExportUnusable", create_calls=1),
    Case("200 on create, id with '?'", "failed",
         inject(Fault.UNUSABLE_ID, id_value="7000001?list_id=1"),
         error="OngageExportUnusable", create_calls=1),
    Case("200 on create, no id", "failed", inject(Fault.UNUSABLE_ID, id_value=None),
         error="OngageExportUnusable", create_calls=1),
    Case("200 on create, HTML instead of the envelope", "failed",
         inject(Fault.HTML_ON_200, endpoint="create"),
         error="OngageExportUnusable", create_calls=1),
    Case("200 on create, error envelope", "failed",
         inject(Fault.JSON_ERROR_ON_200, endpoint="create"),
         error="OngageExportUnusable", create_calls=1),
    Case("412 'Export not found' (purged while polling)", "failed",
         inject(Fault.EXPORT_PURGED), error="ExportRejected", max_retrieves=1),
    Case("412 for an unknown id (resumed with a crafted id)", "failed",
         resume_export_id="9999999", error="ExportRejected", exports_per_run=0,
         max_retrieves=1),
    Case("412 'Invalid data or export is not finished yet' x3, then ready", "landed",
         inject(Fault.NEVER_READY, times=3, message="Invalid data or export is not finished yet")),
    Case("412 with an unrecognised message x3, then ready", "landed",
         inject(Fault.NEVER_READY, times=3, message="Please hold the line")),
    Case("suppression-list export (list_id, no segment or mailing)", "landed",
         request=SUPPRESSION_REQUEST),
    Case("body stalls (socket open) past the 2 s read timeout", "landed",
         inject(Fault.STALL, at=0.5, stall_seconds=600),
         lambda_env=Settings.environment(ongage_read_timeout_seconds=2),
         export_bytes=2 * 1024 * 1024),
    Case("S3 throttling (503 SlowDown on UploadPart)", "landed",
         s3_fault=("UploadPart", 503, 3)),
    Case("S3 access denied", "failed", s3_fault=("CreateMultipartUpload", 403, None),
         error="StorageAccessDenied"),
    Case("Lambda throttling (reserved concurrency 1)", "landed", runs=4,
         reserved_concurrency={"retrieve-export": 1, "create-export": 1}),
    Case("duplicate start (same idempotency key)", "landed", runs=3, same_name=True),
    Case("30 concurrent runs, 10 parallel / 300 per minute", "landed", runs=30,
         export_bytes=64 * 1024, retry_time_scale=0.25, polling={"deadline_seconds": 300},
         reserved_concurrency={"create-export": 5, "retrieve-export": 5}),
)  # fmt: skip
