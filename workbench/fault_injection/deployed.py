"""The chaos suite: crashes injected into the stack deployed to the local AWS, as an SRE would.

The fault matrix (matrix.py) breaks Ongage, S3 and Lambda throttling on the embedded runtime;
here the faults are crashes of the deployed stack's own processes: the RetrieveExport worker
SIGKILLed early, in the middle or late in the body (what an out-of-memory kill or a crashed
sandbox does) or while it checks the ZIP of a body staged over several invocations, the
CreateExport worker SIGKILLed while Ongage is answering its create, and many runs started at
once. Each case runs real executions of the deployed
state machine and checks what must hold whatever happened: each run landed (byte-identical)
or failed as expected, at most one Ongage export per run, no multipart upload left open, no
partial object, exactly one notice per run.

`python -m fault_injection --deployed` deploys the synthesized stack (`make synth`) into a
fresh local AWS and prints the table; tests/e2e/test_chaos.py runs a small version on the e2e
session's deployment.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from embedded_runtime import notices
from fault_injection.deployed_cases import (
    CREDENTIALS,
    FAST_POLLING,
    KILL_WATCH_SECONDS,
    REQUEST,
    RUN_TIMEOUT_SECONDS,
    DeployedCase,
    DeployedResult,
    FunctionSettings,
    Kill,
    RunOutcome,
    Target,
)
from fault_injection.processes import FunctionLog, kill_workers, wait_for
from local_aws.deployment import LocalAwsProcess, LocalDeployment, OngageSecret, deploy
from ongage_export.contract import EXPORT_PREFIX, STAGING_PREFIX
from ongage_export.domain.unannounced_runs import ENDED_BADLY
from ongage_simulator import Fault, OngageSimulator, SimulatorConfig


def run_case(target: Target, case: DeployedCase) -> DeployedResult:
    """Run `case` on `target`; what it left behind is checked once its runs have ended."""
    started = time.monotonic()
    target.simulator.clear_faults()
    if case.create_stall_seconds:
        target.simulator.inject(
            Fault.SLOW_CREATE, times=case.runs, stall_seconds=case.create_stall_seconds
        )
    if case.bytes_per_second:
        target.simulator.inject(Fault.SLOW_TRICKLE, times=case.runs * case.trickled_retrieves,
                                bytes_per_second=case.bytes_per_second)  # fmt: skip
    names = [f"chaos {uuid.uuid4().hex[:10]}" for _ in range(case.runs)]
    with configured(target, case.settings), exporting(target, case.export_bytes):
        with ThreadPoolExecutor(max_workers=min(case.runs, 16)) as pool:
            arns = list(pool.map(lambda name: start_run(target, name), names))
        problems = [] if case.kill is None else kill_in(target, case, names)
        runs = [outcome_of(target, arn, name) for arn, name in zip(arns, names, strict=True)]
    result = DeployedResult(
        case, runs, len(open_uploads(target)), len(partial_objects(target, runs)),
        time.monotonic() - started, problems,
    )  # fmt: skip
    result.problems += check(result)
    return result


@contextmanager
def configured(target: Target, settings: FunctionSettings | None) -> Iterator[None]:
    """The function with `settings` in the block (nothing changed with None)."""
    if settings is None:
        yield
        return
    lambdas = target.deployed.client("lambda")
    name = next(f["FunctionName"] for f in lambdas.list_functions()["Functions"]
                if settings.function in f["FunctionName"])  # fmt: skip
    before = lambdas.get_function_configuration(FunctionName=name)
    variables = before["Environment"]["Variables"]
    lambdas.update_function_configuration(
        FunctionName=name, Timeout=settings.timeout,
        Environment={"Variables": {**variables, **dict(settings.variables)}},
    )  # fmt: skip
    try:
        yield
    finally:
        lambdas.update_function_configuration(
            FunctionName=name, Timeout=before["Timeout"], Environment={"Variables": variables}
        )


@contextmanager
def exporting(target: Target, export_bytes: int | None) -> Iterator[None]:
    """Exports made in the block are `export_bytes` large (the target's size with None)."""
    config = target.simulator.config
    if export_bytes is not None:
        target.simulator.config = replace(config, export_bytes=export_bytes)
    try:
        yield
    finally:
        target.simulator.config = config


def start_run(target: Target, name: str) -> str:
    sfn = target.deployed.client("stepfunctions")
    run_input = {"request": {**REQUEST, "name": name}, "polling": FAST_POLLING}
    return str(
        sfn.start_execution(
            stateMachineArn=target.deployed.outputs["StateMachineArn"],
            name=name.replace(" ", "-"),
            input=json.dumps(run_input),
        )["executionArn"]
    )


def kill_in(target: Target, case: DeployedCase, names: list[str]) -> list[str]:
    assert case.kill is not None
    if case.kill.within is not None:
        return kill_within(target, case.kill.function, case.kill.within, names)
    if case.kill.function == "CreateExport":
        return kill_in_create(target, names)
    return kill_in_body(target, case.kill, case.bytes_per_second)


def kill_within(
    target: Target, function: str, within: tuple[str, str], names: list[str]
) -> list[str]:
    """SIGKILL the function's workers as soon as it has logged `within[0]` for these runs;
    a problem unless, dead, it had not logged `within[1]`."""
    log = FunctionLog(target.state_dir, function, [name.replace(" ", "-") for name in names])
    first, last = within
    if not wait_for(lambda: log.has(first), RUN_TIMEOUT_SECONDS, KILL_WATCH_SECONDS):
        return [f"{function} never logged {first!r}"]
    if not kill_workers(target.deployed.environment["AWS_ENDPOINT_URL"], function):
        return [f"no {function} worker to kill"]
    return [f"the kill missed: {function} had logged {last!r}"] if log.has(last) else []


def kill_in_create(target: Target, names: list[str]) -> list[str]:
    """Wait until Ongage has made each run's export (its answer stalled), then SIGKILL the
    CreateExport workers."""

    def made() -> bool:
        return {r.name for r in list(target.simulator.exports.values())} >= set(names)

    if not wait_for(made, RUN_TIMEOUT_SECONDS):
        return ["Ongage never got the create"]
    killed = kill_workers(target.deployed.environment["AWS_ENDPOINT_URL"], "CreateExport")
    return [] if killed else ["no CreateExport worker to kill"]


def kill_in_body(target: Target, kill: Kill, bytes_per_second: int | None) -> list[str]:
    """Wait until the body has started (an upload open under exports/), then until `fraction`
    of it has streamed, and SIGKILL the function's workers."""
    if not wait_for(lambda: bool(open_uploads(target, EXPORT_PREFIX)), RUN_TIMEOUT_SECONDS):
        return ["the body never started streaming"]
    body = target.simulator.config.export_bytes
    time.sleep(kill.fraction * body / (bytes_per_second or body))
    killed = kill_workers(target.deployed.environment["AWS_ENDPOINT_URL"], kill.function)
    return [] if killed else [f"no {kill.function} worker to kill"]


def outcome_of(target: Target, arn: str, name: str) -> RunOutcome:
    sfn = target.deployed.client("stepfunctions")
    ended = wait_for(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING",
        RUN_TIMEOUT_SECONDS,
    )
    described = sfn.describe_execution(executionArn=arn)
    output = json.loads(described.get("output") or "null") if ended else None
    return RunOutcome(
        arn,
        described["status"],
        described.get("error"),
        isinstance(output, dict) and byte_identical(target, output),
        sum(record.name == name for record in list(target.simulator.exports.values())),
        notices_for(target, arn),
    )


def byte_identical(target: Target, landed: dict[str, Any]) -> bool:
    stored = target.deployed.client("s3").get_object(Bucket=landed["bucket"], Key=landed["key"])
    data = stored["Body"].read()
    expected = target.simulator.expected_body(str(landed["export_id"]))
    return hashlib.sha256(data).hexdigest() == expected.sha256() and len(data) == expected.size


def notices_for(target: Target, arn: str) -> int:
    """The notices about run `arn` (given a moment to arrive: SNS delivers asynchronously; for
    a run that ended badly, once the AnnounceRun function has handled it)."""
    wait_for(lambda: _count(target.read_notices(), arn) > 0, 30)
    status = target.deployed.client("stepfunctions").describe_execution(executionArn=arn)["status"]
    if status in ENDED_BADLY and not wait_for(lambda: announcer_handled(target, arn), 60):
        raise AssertionError(f"AnnounceRun never handled {arn}")
    time.sleep(1)  # a second notice, if there is one, arrives in the same moment
    return _count(target.read_notices(), arn)


def announcer_handled(target: Target, arn: str) -> bool:
    """Whether the AnnounceRun function logged its decision about run `arn`."""
    return any(
        arn in line and '"announced_here"' in line
        for log in (target.state_dir / "logs").glob("*AnnounceRun*.log")
        for line in log.read_text(errors="replace").splitlines()
    )


def _count(received: list[dict[str, Any]], arn: str) -> int:
    return sum(notice["message"].get("execution_arn") == arn for notice in received)


def open_uploads(target: Target, prefix: str = "") -> list[dict[str, Any]]:
    s3 = target.deployed.client("s3")
    listed = s3.list_multipart_uploads(Bucket=target.deployed.outputs["BucketName"], Prefix=prefix)
    return list(listed.get("Uploads", []))


def partial_objects(target: Target, runs: list[RunOutcome]) -> list[str]:
    """Objects of these runs that should not be there: staging leftovers, or more than one
    export object for one run."""
    s3 = target.deployed.client("s3")
    bucket = target.deployed.outputs["BucketName"]
    staged = s3.list_objects_v2(Bucket=bucket, Prefix=STAGING_PREFIX).get("Contents", [])
    names = {run.execution_arn.rsplit(":", 1)[-1] for run in runs}
    leftovers = [o["Key"] for o in staged if any(name in o["Key"] for name in names)]
    landed = s3.list_objects_v2(Bucket=bucket, Prefix=EXPORT_PREFIX).get("Contents", [])
    per_run = [o["Key"] for o in landed if s3.head_object(Bucket=bucket, Key=o["Key"])
               ["Metadata"].get("execution-id") in names]  # fmt: skip
    succeeded = sum(run.status == "SUCCEEDED" for run in runs)
    return leftovers + per_run[succeeded:]


def check(result: DeployedResult) -> list[str]:
    problems = []
    for run in result.runs:
        if result.case.expect == "landed" and not (
            run.status == "SUCCEEDED" and run.byte_identical
        ):
            problems.append(f"{run.execution_arn.rsplit(':', 1)[-1]} {run.status} {run.error}")
        if result.case.expect == "failed" and (run.status, run.error) != (
            "FAILED", result.case.error or run.error,
        ):  # fmt: skip
            problems.append(f"{run.execution_arn.rsplit(':', 1)[-1]} {run.status} {run.error}")
        if run.exports_created > 1:
            problems.append(f"{run.exports_created} Ongage exports for one run")
        if run.notices != 1:
            problems.append(f"{run.notices} notices for one run")
    if result.open_uploads:
        problems.append(f"{result.open_uploads} uploads left open")
    if result.partial_objects:
        problems.append(f"{result.partial_objects} partial objects")
    return problems


def table(results: list[DeployedResult]) -> str:
    head = ["| case | runs | landed | failed as expected | exports created per run "
            "| open uploads | partial objects | notices per run | anything lost | seconds |",
            "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    return "\n".join(head + [result.row() for result in results])


@dataclass
class LocalTarget:
    """A fresh deployment for the command line: the stack, the simulator, a queue on its topic."""

    deployed: LocalDeployment
    simulator: OngageSimulator
    queue_url: str
    state_dir: Path
    received: list[dict[str, Any]] = field(default_factory=list)

    def read_notices(self) -> list[dict[str, Any]]:
        self.received.extend(notices.drain(self.deployed.client("sqs"), self.queue_url))
        return list(self.received)


@contextmanager
def local_target(export_bytes: int = 300_000) -> Iterator[LocalTarget]:
    """The synthesized stack (cdk.out) deployed into a local AWS of its own, until the end."""
    config = SimulatorConfig(credentials=CREDENTIALS, ready_after_retrieves=1,
                             export_bytes=export_bytes)  # fmt: skip
    with tempfile.TemporaryDirectory() as state, OngageSimulator(config) as simulator:
        endpoint = LocalAwsProcess(Path(state), log=(Path(state) / "server.log").open("w"))
        try:
            deployed = deploy(endpoint.start(), ongage_url=simulator.url)
            deployed.put_credentials(
                OngageSecret(CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code)
            )
            sqs = deployed.client("sqs")
            queue_url = sqs.create_queue(QueueName="chaos-notices")["QueueUrl"]
            notices.subscribe_queue(
                sqs, deployed.client("sns"), deployed.outputs["TopicArn"], queue_url
            )
            yield LocalTarget(deployed, simulator, queue_url, Path(state))
        finally:
            endpoint.stop()
