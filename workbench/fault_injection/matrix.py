"""The fault-injection matrix: each case breaks Ongage, S3 or Lambda in one way, runs the real
workflow on the embedded runtime, and checks the outcome and what must never happen.

After every case: no open multipart upload, no partial, staging or duplicate object, exactly
one notice per run, no credential in any log line, notice or execution history, none at the
other origin a redirect leads to, and never more than one Ongage export per run.
`python -m fault_injection` prints the table; tests/integration/test_fault_matrix.py asserts it.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from embedded_runtime.runtime import EmbeddedRuntime, OngageAccount, RunResult
from fault_injection.aws_faults import environment, s3_calls, s3_fault
from ongage_export.contract import EXPORT_PREFIX
from ongage_export.settings import Settings
from ongage_simulator import Credentials, Fault, OngageSimulator, SimulatorConfig
from ongage_simulator.other_origin import ReceivedRequest

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
CREDENTIAL_HEADERS = ("X_USERNAME", "X_PASSWORD", "X_ACCOUNT_CODE")
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


@dataclass
class CaseResult:
    case: Case
    statuses: list[str]
    errors: list[str | None]
    landed_objects: int
    problems: list[str]
    seconds: float
    ongage_peak_parallel: int
    lambda_throttles: int
    exports_created: int = 0
    credentials_elsewhere: int = 0  # credential headers or values seen by the other origin
    downloads: int = 0  # export bodies served (by any origin)

    @property
    def ok(self) -> bool:
        return not self.problems

    def row(self) -> str:
        landed = self.statuses.count("SUCCEEDED")
        failed_ok = sum(
            status == "FAILED" and error == self.case.error
            for status, error in zip(self.statuses, self.errors, strict=True)
        )
        lost = "0" if self.ok else "; ".join(self.problems)
        runs = max(len(self.statuses), 1)
        per_run, downloads = self.exports_created / runs, self.downloads / runs
        return (f"| {self.case.name} | {len(self.statuses)} | {landed} | {failed_ok} "
                f"| {per_run:g} | {downloads:g} | {self.credentials_elsewhere} | {lost} "
                f"| {self.seconds:.1f} |")  # fmt: skip


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


def run_case(case: Case) -> CaseResult:
    config = SimulatorConfig(credentials=CREDENTIALS, ready_after_retrieves=1,
                             export_bytes=case.export_bytes)  # fmt: skip
    logs = io.StringIO()
    began = time.monotonic()
    with OngageSimulator(config) as sim:
        case.arrange(sim)
        trusted = (sim.second_host.url,) if case.trust_second_host else ()
        account = OngageAccount(sim.url, "fault-user", CREDENTIALS.password, "ACCT7SECRET",
                                trusted_origins=trusted)  # fmt: skip
        with (
            environment(case.lambda_env),
            EmbeddedRuntime(account, retry_time_scale=case.retry_time_scale, log_stream=logs,
                            part_size_mib=5,
                            reserved_concurrency=case.reserved_concurrency) as runtime,
            s3_fault(case.s3_fault),
            s3_calls() as calls,
        ):  # fmt: skip
            results = _run_all(runtime, case)
            problems = _check(case, runtime, results, logs.getvalue())
            problems += _check_ongage(case, sim, len(results))
            problems += _check_bytes(sim, results)
            problems += _check_aborted(case, calls)
            return CaseResult(
                case=case,
                statuses=[r.status for r in results],
                errors=[r.error for r in results],
                landed_objects=len(runtime.object_keys()),
                problems=problems,
                seconds=time.monotonic() - began,
                ongage_peak_parallel=sim.stats.peak_concurrent,
                lambda_throttles=sum(runtime.executor.throttled.values()),
                exports_created=sim.stats.creates,
                credentials_elsewhere=credentials_elsewhere(case, sim),
                downloads=sim.downloads,
            )


def _run_all(runtime: EmbeddedRuntime, case: Case) -> list[RunResult]:
    run_input: dict[str, Any] = {"request": case.request or REQUEST,
                                 "polling": {**POLLING, **case.polling}}  # fmt: skip
    if case.resume_export_id:
        run_input["resume"] = {"export_id": case.resume_export_id}
    names = ["same-key"] * case.runs if case.same_name else [None] * case.runs
    with ThreadPoolExecutor(max_workers=min(case.runs, 32)) as pool:
        arns = list(pool.map(lambda name: runtime.start(run_input, name), names))
    return [runtime.wait(arn, timeout=300) for arn in dict.fromkeys(arns)]


def _check(case: Case, runtime: EmbeddedRuntime, results: list[RunResult], logs: str) -> list[str]:
    problems = []
    for result in results:
        if case.expect == "landed" and result.status != "SUCCEEDED":
            problems.append(f"run failed: {result.error}: {(result.cause or '')[:200]}")
        if case.expect == "failed" and (result.status, result.error) != ("FAILED", case.error):
            problems.append(f"expected {case.error}, got {result.status} {result.error}")
        if case.cause_contains and case.cause_contains not in (result.cause or ""):
            problems.append(
                f"the cause lacks {case.cause_contains!r}: {(result.cause or '')[:300]}"
            )
        if len(result.notices) != 1:
            problems.append(f"{len(result.notices)} notices for one run")
    if case.same_name and len(results) != 1:
        problems.append(f"{len(results)} runs started for one idempotency key")
    if runtime.open_uploads():
        problems.append(f"{len(runtime.open_uploads())} multipart uploads left open")
    keys = runtime.object_keys()
    expected_objects = sum(r.status == "SUCCEEDED" for r in results)
    if len(keys) != expected_objects or any(not k.startswith(EXPORT_PREFIX) for k in keys):
        problems.append(f"objects {keys} for {expected_objects} landed runs")
    if _leaks(runtime, results, logs):
        problems.append("a credential appeared in logs, notices or execution history")
    return problems


def _check_ongage(case: Case, sim: OngageSimulator, runs: int) -> list[str]:
    """What Ongage saw: exports created, create calls, retrieves, the other origin's requests."""
    problems = []
    stats = sim.stats
    if stats.creates != case.exports_per_run * runs:
        problems.append(f"{stats.creates} Ongage exports for {runs} run(s)")
    creates = stats.calls_by_endpoint.get("create", 0)
    if case.create_calls is not None and creates != case.create_calls:
        problems.append(f"{creates} create calls, expected {case.create_calls}")
    retrieves = stats.calls_by_endpoint.get("retrieve", 0)
    if case.max_retrieves is not None and retrieves > case.max_retrieves:
        problems.append(f"{retrieves} retrieves before giving up (at most {case.max_retrieves})")
    received = sim.other_origin.received
    if credentials_elsewhere(case, sim):
        problems.append(f"{credentials_elsewhere(case, sim)} credentials reached another origin")
    if case.via_other_origin and not received:
        problems.append("the redirect's other origin served nothing")
    if case.trust_second_host and not sim.second_host.downloads:
        problems.append("the trusted second host served nothing")
    if case.downloads is not None and sim.downloads != case.downloads * runs:
        problems.append(f"{sim.downloads} downloads for {runs} run(s), expected {case.downloads}")
    return problems


def _check_bytes(sim: OngageSimulator, results: list[RunResult]) -> list[str]:
    """Every landed export is byte for byte what Ongage served."""
    return [
        f"export {r.output['export_id']} landed with another sha256"
        for r in results
        if r.status == "SUCCEEDED"
        and r.output.get("sha256") != sim.expected_body(str(r.output["export_id"])).sha256()
    ]


def credentials_elsewhere(case: Case, sim: OngageSimulator) -> int:
    """Credentials seen by origins that must not get them: the download server always, the
    second Ongage host unless the case trusts it."""
    seen = credentials_seen(sim.other_origin.received)
    if not case.trust_second_host:
        seen += credentials_seen(sim.second_host.received)
    return seen


def credentials_seen(received: list[ReceivedRequest]) -> int:
    """Credential headers, or credential values anywhere, in what the other origin received."""
    values = (CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code)
    seen = 0
    for request in received:
        texts = [request.path, *(f"{name}: {value}" for name, value in request.headers)]
        seen += sum(name.upper() in CREDENTIAL_HEADERS for name, _ in request.headers)
        seen += sum(value in text for value in values for text in texts)
    return seen


def _check_aborted(case: Case, calls: list[tuple[str, str]]) -> list[str]:
    """Uploads were started under `case.aborted_at`, and every one was aborted, none completed."""
    if case.aborted_at is None:
        return []
    under = [(op, key) for op, key in calls if key.startswith(case.aborted_at)]
    started = {key for op, key in under if op == "CreateMultipartUpload"}
    aborted = {key for op, key in under if op == "AbortMultipartUpload"}
    problems = []
    if not started or started - aborted:
        problems.append(f"uploads started at {sorted(started)}, aborted at {sorted(aborted)}")
    if any(op == "CompleteMultipartUpload" for op, _ in under):
        problems.append(f"an upload under {case.aborted_at} was completed")
    return problems


def _leaks(runtime: EmbeddedRuntime, results: list[RunResult], logs: str) -> bool:
    sfn = runtime.client("stepfunctions")
    seen = [logs, json.dumps(runtime.notices())]
    for result in results:
        history = sfn.get_execution_history(executionArn=result.execution_arn, maxResults=1000)
        seen.append(json.dumps(history["events"], default=str))
    text = "\n".join(seen)
    return CREDENTIALS.password in text or CREDENTIALS.account_code in text


def table(results: list[CaseResult]) -> str:
    head = ["| case | runs | landed | failed as expected | exports created per run "
            "| downloads per run | credentials seen by other origins | anything lost | seconds |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    return "\n".join(head + [result.row() for result in results])
