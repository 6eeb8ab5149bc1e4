"""Lambda invocations, the one implementation for every local runtime.

moto without Docker answers every invoke with its input and runs no code. Here, as the Lambda
service does, `Executor` admits an invocation against the function's reserved concurrency (one
more at once is throttled with TooManyRequestsException, seen by Step Functions as
Lambda.TooManyRequestsException), has a sandbox run it, and answers the handler's result, or
its error payload with `FunctionError` so Retry/Catch match the `errorType`. It counts
invocations, throttles, peak concurrency and each invocation's wall and CPU seconds.

Two sandboxes run the handler (`lambda_bootstrap.answer` in both):
- `WorkerPool` (the local AWS): a warm worker process per function (started on first use,
  kept for the next invocation), which holds the function's deployment package, unpacked from
  the zip CloudFormation deployed; the function's environment, plus what Lambda sets
  (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION...), `AWS_ENDPOINT_URL` pointing back at this endpoint,
  and credentials of the function's role (an STS session), so its calls are checked against
  that role's policies; the function's timeout (the worker is killed, `Sandbox.Timedout`) and
  memory size (a worker whose resident memory exceeds it is killed, `Runtime.OutOfMemory`).
  Not emulated: the arm64 platform (compiled wheels built for it are replaced by this host's
  build of the same version, `foreign_builds`), X-Ray (no daemon: tracing is switched off) and
  CloudWatch Logs (each function's output goes to `<state dir>/logs/<function name>.log`).
- `embedded_runtime.lambda_dispatch.InProcess` (the embedded runtime): the installed package's
  handler in the calling thread. It cannot be stopped at the timeout; one that ran past it is
  answered `Sandbox.Timedout` all the same, as Lambda would have.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol
from unittest import mock

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

from local_aws.foreign_builds import use_host_builds

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
WATCH_INTERVAL_SECONDS = 0.05


class TooManyRequestsException(JsonRESTError):
    code = 429

    def __init__(self, function_name: str, limit: int):
        super().__init__(
            "TooManyRequestsException",
            f"Rate Exceeded: {function_name} is at its reserved concurrency of {limit}",
        )


@dataclass(frozen=True)
class FunctionSpec:
    """What an invocation needs of a deployed function (read from moto's model)."""

    name: str
    arn: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    role_arn: str
    environment: dict[str, str]
    code_sha256: str
    region: str
    account_id: str

    @classmethod
    def of(cls, function: Any) -> FunctionSpec:
        return cls(
            name=function.function_name,
            arn=function.function_arn,
            handler=function.handler,
            timeout_seconds=int(function.timeout),
            memory_mb=int(function.memory_size),
            role_arn=function.role,
            environment={k: str(v) for k, v in (function.environment_vars or {}).items()},
            code_sha256=hashlib.sha256(function.code_bytes).hexdigest(),
            region=function.region,
            account_id=function.account_id,
        )

    def request(self, event: Any) -> dict[str, Any]:
        """One invocation, as `lambda_bootstrap.answer` reads it."""
        return {
            "event": event,
            "request_id": str(uuid.uuid4()),
            "function_name": self.name,
            "function_arn": self.arn,
            "memory_mb": self.memory_mb,
            "timeout_seconds": self.timeout_seconds,
        }

    @property
    def warm_key(self) -> tuple[str, str]:
        """Which warm workers may serve it: a new package or environment needs new ones."""
        return (self.arn, f"{self.code_sha256}:{hash(frozenset(self.environment.items()))}")


def unpack(code: bytes, into: Path) -> Path:
    """The deployment package in its own folder, named by its hash, unpacked once. Cold starts
    at once each unpack into a folder of their own; the first to rename it wins, the others
    drop theirs (renaming onto the winner's full folder fails: Directory not empty)."""
    target = into / hashlib.sha256(code).hexdigest()
    if not target.exists():
        partial = target.with_name(target.name + f".{uuid.uuid4().hex}")
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(partial)
        use_host_builds(partial)
        try:
            partial.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(partial, ignore_errors=True)
    return target


def role_credentials(spec: FunctionSpec) -> dict[str, str]:
    """An STS session of the function's role, as Lambda gives each execution environment."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    role = sts_backends[spec.account_id][get_partition(spec.region)].assume_role(
        region_name=spec.region,
        role_session_name=spec.name[:64],
        role_arn=spec.role_arn,
        policy="",
        duration=43200,
        external_id="",
    )
    return {
        "AWS_ACCESS_KEY_ID": role.access_key_id,
        "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
        "AWS_SESSION_TOKEN": role.session_token,
    }


def lambda_environment(spec: FunctionSpec, endpoint: str, code_dir: Path) -> dict[str, str]:
    """The function's own variables over what the Lambda service sets in every environment."""
    service = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": uuid.uuid4().hex,
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": spec.handler,
        # No X-Ray daemon on a laptop: the SDK would warn on every call.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return {**service, **spec.environment}


def resident_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * PAGE_SIZE / (1024 * 1024)


class Worker:
    """One warm execution environment: a process that runs one invocation at a time."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], code_dir: Path, log: IO[str]):
        self.spec = spec
        answers_read, answers_write = os.pipe()
        command = [sys.executable, "-I", str(BOOTSTRAP), str(code_dir), spec.handler]
        self.process = subprocess.Popen(
            [*command, str(answers_write), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=code_dir,
            pass_fds=(answers_write,),
            text=True,
        )
        os.close(answers_write)
        self._answers = os.fdopen(answers_read, "r")

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        """The bootstrap's answer, or the failure of a worker killed or dead on the way."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + self.spec.timeout_seconds
        request_id = request["request_id"]
        while True:
            ready, _, _ = select.select([self._answers], [], [], WATCH_INTERVAL_SECONDS)
            if ready:
                line = self._answers.readline()
                if line:
                    return dict(json.loads(line))
                return self._died(request_id)
            if time.monotonic() > deadline:
                self.kill()
                return timed_out(self.spec, request_id)
            if resident_mb(self.process.pid) > self.spec.memory_mb:
                self.kill()
                return _failure(
                    "Runtime.OutOfMemory",
                    f"RequestId: {request_id} Error: Runtime exited with error: signal: killed "
                    f"(more than {self.spec.memory_mb} MB)",
                )

    def _died(self, request_id: str) -> dict[str, Any]:
        code = self.process.wait()
        return _failure(
            "Runtime.ExitError",
            f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}",
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def _failure(error_type: str, message: str) -> dict[str, Any]:
    return {"error": {"errorType": error_type, "errorMessage": message}}


def timed_out(spec: FunctionSpec, request_id: str) -> dict[str, Any]:
    return _failure(
        "Sandbox.Timedout",
        f"RequestId: {request_id} Error: Task timed out after {spec.timeout_seconds:.2f} seconds",
    )


class Sandbox(Protocol):
    """Where an invocation's handler runs: the answer of `lambda_bootstrap.answer`."""

    def run(self, spec: FunctionSpec, code: bytes, request: dict[str, Any]) -> dict[str, Any]: ...

    def shutdown(self) -> None: ...


class WorkerPool:
    """Every function's warm worker processes."""

    def __init__(self, endpoint: str, state_dir: Path):
        self.endpoint = endpoint
        self.code_root = state_dir / "lambda-code"
        self.log_root = state_dir / "logs"
        self.code_root.mkdir(parents=True, exist_ok=True)
        self.log_root.mkdir(parents=True, exist_ok=True)
        self._idle: dict[tuple[str, str], list[Worker]] = defaultdict(list)
        self._logs: dict[str, IO[str]] = {}
        self._workers: list[Worker] = []  # every worker started, busy or idle
        self._lock = threading.Lock()

    def run(self, spec: FunctionSpec, code: bytes, request: dict[str, Any]) -> dict[str, Any]:
        worker = self._worker(spec, code)
        answer = worker.invoke(request)
        if worker.alive:
            with self._lock:
                self._idle[spec.warm_key].append(worker)
        return answer

    def _worker(self, spec: FunctionSpec, code: bytes) -> Worker:
        with self._lock:
            while self._idle[spec.warm_key]:
                worker = self._idle[spec.warm_key].pop()
                if worker.alive:
                    return worker
        code_dir = unpack(code, self.code_root)
        env = {**lambda_environment(spec, self.endpoint, code_dir), **role_credentials(spec)}
        worker = Worker(spec, env, code_dir, self._log(spec.name))
        with self._lock:
            self._workers = [w for w in self._workers if w.alive] + [worker]
        return worker

    def _log(self, function_name: str) -> IO[str]:
        with self._lock:
            if function_name not in self._logs:
                path = self.log_root / f"{function_name}.log"
                self._logs[function_name] = path.open("a", buffering=1)
            return self._logs[function_name]

    def shutdown(self) -> None:
        """Every worker ends, those in the middle of an invocation too."""
        with self._lock:
            workers, self._workers = self._workers, []
            self._idle.clear()
        for worker in workers:
            worker.kill()


class Executor:
    """Invokes functions in `sandbox`; the counts tests, benchmarks and the fault matrix read."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.invocations: dict[str, int] = defaultdict(int)
        self.throttled: dict[str, int] = defaultdict(int)
        self.peak_concurrency: dict[str, int] = defaultdict(int)
        # Wall and CPU seconds of each invocation, by function name (what a landing took).
        self.durations: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self._running: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    def invoke(self, function: Any, body: Any, response_headers: dict[str, str]) -> bytes:
        spec = FunctionSpec.of(function)
        self._admit(spec, function.reserved_concurrency)
        started = time.monotonic()
        answer: dict[str, Any] = {}
        try:
            request = spec.request(json.loads(body) if body else {})
            answer = self.sandbox.run(spec, function.code_bytes, request)
        finally:
            with self._lock:
                self._running[spec.name] -= 1
                spent = (time.monotonic() - started, answer.get("cpu_seconds", 0.0))
                self.durations[spec.name].append(spent)
        if spent[0] > spec.timeout_seconds:  # a sandbox that cannot stop it answers late
            answer = timed_out(spec, request["request_id"])
        if "error" in answer:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(answer["error"]).encode()
        return json.dumps(answer["result"], default=str).encode()

    def _admit(self, spec: FunctionSpec, reserved: Any) -> None:
        with self._lock:
            if reserved is not None and self._running[spec.name] >= int(reserved):
                self.throttled[spec.name] += 1
                raise TooManyRequestsException(spec.name, int(reserved))
            self._running[spec.name] += 1
            self.invocations[spec.name] += 1
            self.peak_concurrency[spec.name] = max(
                self.peak_concurrency[spec.name], self._running[spec.name]
            )

    def shutdown(self) -> None:
        self.sandbox.shutdown()


def backend_invoke(run: Callable[[Any, Any, dict[str, str]], bytes]) -> Callable[..., bytes]:
    """A replacement for moto's Docker-less `invoke` that hands the function to `run`."""

    def invoke(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: str | None,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        return run(backend.get_function(function_name, qualifier), body, response_headers)

    return invoke


def installed(executor: Executor) -> Any:
    """moto's Lambda backend invoking through `executor`: a patch to start and stop."""
    return mock.patch.object(LambdaSimpleBackend, "invoke", backend_invoke(executor.invoke))
