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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from embedded_runtime.runtime import EmbeddedRuntime, OngageAccount, RunResult
from fault_injection.aws_faults import environment, s3_calls, s3_fault
from fault_injection.matrix_cases import CREDENTIALS, POLLING, REQUEST, Case
from ongage_export.contract import EXPORT_PREFIX
from ongage_simulator import OngageSimulator, SimulatorConfig
from ongage_simulator.other_origin import ReceivedRequest

CREDENTIAL_HEADERS = ("X_USERNAME", "X_PASSWORD", "X_ACCOUNT_CODE")


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
