"""Lambda invocations, the one implementation for every local runtime.

moto without Docker answers every invoke with its input and runs no code. Here, as the Lambda
service does, `Executor` admits an invocation against the function's reserved concurrency (one
more at once is throttled with TooManyRequestsException, seen by Step Functions as
Lambda.TooManyRequestsException), has a sandbox run it, and answers the handler's result, or
its error payload with `FunctionError` so Retry/Catch match the `errorType`. It counts
invocations, throttles, peak concurrency and each invocation's wall and CPU seconds.

Two sandboxes run the handler (`lambda_bootstrap.answer` in both):
- `lambda_workers.WorkerPool` (the local AWS): a warm worker process per function (started on
  first use, kept for the next invocation), which holds the function's deployment package,
  unpacked from the zip CloudFormation deployed; the function's environment, plus what Lambda
  sets (AWS_LAMBDA_FUNCTION_NAME, AWS_REGION...), `AWS_ENDPOINT_URL` pointing back at this
  endpoint, and credentials of the function's role (an STS session), so its calls are checked
  against that role's policies; the function's timeout (the worker is killed,
  `Sandbox.Timedout`) and memory size (a worker whose resident memory exceeds it is killed,
  `Runtime.OutOfMemory`). Not emulated: the arm64 platform (compiled wheels built for it are
  replaced by this host's build of the same version, `foreign_builds`), X-Ray (no daemon:
  tracing is switched off) and CloudWatch Logs (each function's output goes to `<state
  dir>/logs/<function name>.log`).
- `embedded_runtime.lambda_dispatch.InProcess` (the embedded runtime): the installed package's
  handler in the calling thread. It cannot be stopped at the timeout; one that ran past it is
  answered `Sandbox.Timedout` all the same, as Lambda would have.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from unittest import mock

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError


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


def failure(error_type: str, message: str) -> dict[str, Any]:
    return {"error": {"errorType": error_type, "errorMessage": message}}


def timed_out(spec: FunctionSpec, request_id: str) -> dict[str, Any]:
    return failure(
        "Sandbox.Timedout",
        f"RequestId: {request_id} Error: Task timed out after {spec.timeout_seconds:.2f} seconds",
    )


class Sandbox(Protocol):
    """Where an invocation's handler runs: the answer of `lambda_bootstrap.answer`."""

    def run(self, spec: FunctionSpec, code: bytes, request: dict[str, Any]) -> dict[str, Any]: ...

    def shutdown(self) -> None: ...


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
