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
import os
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from embedded_runtime import notices
from local_aws.deployment import LocalAwsProcess, LocalDeployment, OngageSecret, deploy
from ongage_export.adapters.landing import CHECK_PASSED, CHECK_STARTED
from ongage_export.contract import EXPORT_PREFIX, STAGING_PREFIX
from ongage_export.domain.unannounced_runs import ENDED_BADLY
from ongage_simulator import Credentials, Fault, OngageSimulator, SimulatorConfig

CREDENTIALS = Credentials.demo()
REQUEST = {
    "list_id": 3333,
    "segment_id": [1],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "status": ["active"],
}
FAST_POLLING = {"initial_seconds": 1, "growth": 1.0, "max_seconds": 1, "jitter": 0.0}
RUN_TIMEOUT_SECONDS = 300.0
WATCH_SECONDS = 0.05
KILL_WATCH_SECONDS = 0.005  # a kill inside a short window (the ZIP check) watches closely


class Target(Protocol):
    """A stack deployed to the local AWS, the simulator as its Ongage, its notices readable
    (tests/e2e/conftest.LocalTarget is one)."""

    deployed: LocalDeployment
    simulator: OngageSimulator
    state_dir: Path  # the local AWS's: the functions' output is under logs/

    def read_notices(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Kill:
    """SIGKILL the workers of the function whose name holds `function`, once `fraction` of
    the body has streamed (estimated from the body's trickle rate); or, with `within`, once
    the function has logged the first of these two messages for the run, and not the second
    (checked again once the worker is dead: a kill that missed is a problem of the case)."""

    function: str
    fraction: float = 0.0
    within: tuple[str, str] | None = None


@dataclass(frozen=True)
class FunctionSettings:
    """A function's timeout and extra environment for one case (restored afterwards)."""

    function: str
    timeout: int
    variables: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DeployedCase:
    name: str
    expect: Literal["landed", "failed"] = "landed"
    kill: Kill | None = None
    runs: int = 1
    bytes_per_second: int | None = None  # the body trickles, so a kill lands
    trickled_retrieves: int = 1  # how many retrieves of each run the trickle slows
    export_bytes: int | None = None  # the export's size, when not the target's
    settings: FunctionSettings | None = None
    create_stall_seconds: float | None = None  # the create answers late, so a kill lands
    error: str | None = None  # what a run expected to fail ends with


@dataclass
class RunOutcome:
    execution_arn: str
    status: str
    error: str | None
    byte_identical: bool
    exports_created: int
    notices: int


@dataclass
class DeployedResult:
    case: DeployedCase
    runs: list[RunOutcome]
    open_uploads: int
    partial_objects: int
    seconds: float
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def row(self) -> str:
        landed = sum(run.status == "SUCCEEDED" and run.byte_identical for run in self.runs)
        failed = sum(run.status == "FAILED" for run in self.runs)
        failed_ok = failed if self.case.expect == "failed" else 0
        count = max(len(self.runs), 1)
        per_run = sum(run.exports_created for run in self.runs) / count
        notices_per_run = sum(run.notices for run in self.runs) / count
        lost = "0" if self.ok else "; ".join(self.problems)
        return (f"| {self.case.name} | {len(self.runs)} | {landed} | {failed_ok} | {per_run:g} "
                f"| {self.open_uploads} | {self.partial_objects} | {notices_per_run:g} | {lost} "
                f"| {self.seconds:.1f} |")  # fmt: skip


def body_kill(fraction: float, name: str) -> DeployedCase:
    return DeployedCase(
        f"RetrieveExport worker killed {name} ({fraction:.0%})",
        kill=Kill("RetrieveExport", fraction),
        bytes_per_second=100_000,
    )


CASES = (
    body_kill(0.15, "early in the body"),
    body_kill(0.5, "in the middle of the body"),
    body_kill(0.92, "late in the body"),
    DeployedCase("50 runs started at once", runs=50),
    # A 40 MiB body staged over three invocations of 12 s that stop 6 s before their end: the
    # first a single pass the trickle cuts short, the second streams two parts from byte 0,
    # the third the rest with a Range, then checks the staged object (its estimated 2 s fit)
    # and is killed doing so. The retry checks it again: not downloaded a fourth time.
    DeployedCase(
        "RetrieveExport worker killed during the ZIP check",
        kill=Kill("RetrieveExport", within=(CHECK_STARTED, CHECK_PASSED)),
        bytes_per_second=1536 * 1024,
        trickled_retrieves=2,
        export_bytes=40 * 1024 * 1024,
        settings=FunctionSettings(
            "RetrieveExport", 12, (("STREAM_STOP_MARGIN_SECONDS", "6"), ("PART_SIZE_MIB", "5"))
        ),
    ),
    # Ongage has made the export and the worker dies before it hears the id: the retry does not
    # ask again (a second export), it ends the run with a notice that says so.
    DeployedCase(
        "CreateExport worker killed during the create",
        expect="failed",
        kill=Kill("CreateExport", 0.0),
        create_stall_seconds=30,
        error="CreateInterrupted",
    ),
)


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


class FunctionLog:
    """The lines a function logs about some runs from now on (its local log file, tailed)."""

    def __init__(self, state_dir: Path, function: str, runs: list[str]):
        self.paths = lambda: (state_dir / "logs").glob(f"*{function}*.log")
        self.read = {path: path.stat().st_size for path in self.paths()}  # a new file: from 0
        self.runs = runs
        self.lines: list[str] = []

    def has(self, message: str) -> bool:
        for path in self.paths():
            with path.open("rb") as log:
                log.seek(self.read.get(path, 0))
                new = log.read()
            complete = new[: new.rfind(b"\n") + 1]  # a line still being written waits
            self.read[path] = self.read.get(path, 0) + len(complete)
            self.lines += complete.decode(errors="replace").splitlines()
        quoted = json.dumps(message)
        return any(quoted in line and any(run in line for run in self.runs) for line in self.lines)


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


def kill_workers(endpoint: str, function: str) -> int:
    """SIGKILL every local Lambda worker of `endpoint` whose function name holds `function`."""
    killed = 0
    for pid, environment in _processes():
        if environment.get("AWS_ENDPOINT_URL") == endpoint and function in environment.get(
            "AWS_LAMBDA_FUNCTION_NAME", ""
        ):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def _processes() -> Iterator[tuple[int, dict[str, str]]]:
    """Each process of this user with its environment (what /proc lets us read)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours
            continue
        pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
        yield int(entry.name), {k.decode(errors="replace"): v.decode(errors="replace")
                                for k, _, v in pairs}  # fmt: skip


def wait_for(condition: Callable[[], bool], timeout: float, every: float = WATCH_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


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
