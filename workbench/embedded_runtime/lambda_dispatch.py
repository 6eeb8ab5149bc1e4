"""Runs the real Lambda handlers when moto's Docker-less Lambda backend is invoked.

The function's `Handler` string (the same one CDK deploys) names the code to run. Like the
Lambda service: an exception becomes an error payload with `FunctionError`, so the workflow's
Retry/Catch match on its `errorType`; invocations beyond the function's reserved concurrency
are throttled with `TooManyRequestsException` (seen by Step Functions as
`Lambda.TooManyRequestsException`).
"""

from __future__ import annotations

import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from unittest import mock

from moto.awslambda_simple.models import LambdaSimpleBackend

from local_aws.lambda_executor import TooManyRequestsException, backend_invoke


@dataclass
class LambdaContext:
    """What handlers read from the Lambda context object."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    invoked_function_arn: str
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/embedded"
    log_stream_name: str = "embedded"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaDispatcher:
    def __init__(self, log_stream: IO[str]):
        self.log_stream = log_stream
        self.invocations: dict[str, int] = defaultdict(int)
        self.throttled: dict[str, int] = defaultdict(int)
        self.peak_concurrency: dict[str, int] = defaultdict(int)
        # Wall and process CPU seconds of each invocation, by function name (what a landing
        # took: nothing else of note runs in the process meanwhile).
        self.durations: dict[str, list[tuple[float, float]]] = defaultdict(list)
        self._running: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._patch: Any = None

    def install(self) -> None:
        self._patch = mock.patch.object(LambdaSimpleBackend, "invoke", backend_invoke(self.invoke))
        self._patch.start()
        self._previous_log_stream = _route_powertools_output(self.log_stream)

    def uninstall(self) -> None:
        if self._patch is not None:
            self._patch.stop()
            self._patch = None
            _route_powertools_output(self._previous_log_stream)

    def invoke(self, function: Any, body: Any, response_headers: dict[str, str]) -> bytes:
        name = function.function_name
        limit = function.reserved_concurrency
        with self._lock:
            if limit is not None and self._running[name] >= int(limit):
                self.throttled[name] += 1
                raise TooManyRequestsException(name, int(limit))
            self._running[name] += 1
            self.invocations[name] += 1
            self.peak_concurrency[name] = max(self.peak_concurrency[name], self._running[name])
        started, cpu = time.monotonic(), time.process_time()
        try:
            return self._run_handler(function, body, response_headers)
        finally:
            with self._lock:
                self._running[name] -= 1
                spent = (time.monotonic() - started, time.process_time() - cpu)
                self.durations[name].append(spent)

    def _run_handler(self, function: Any, body: Any, response_headers: dict[str, str]) -> bytes:
        event = json.loads(body) if body else {}
        context = LambdaContext(
            function_name=function.function_name,
            memory_limit_in_mb=int(function.memory_size),
            timeout_seconds=int(function.timeout),
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=function.function_arn,
        )
        try:
            result = _load_handler(function.handler)(event, context)
        except Exception as error:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorMessage": str(error),
                    "errorType": type(error).__name__,
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ).encode()
        return json.dumps(result).encode()


def _load_handler(handler: str) -> Callable[[Any, Any], Any]:
    module_name, _, attribute = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]


def _route_powertools_output(stream: Any) -> Any:
    """Send the handlers' log lines where the runtime's user wants them; returns the old stream."""
    from ongage_export.observability import logger

    handler = logger.registered_handler
    # Swapped without setStream(): that flushes the old stream, which may be closed by now.
    previous = getattr(handler, "stream", None)
    if isinstance(handler, logging.StreamHandler):
        handler.stream = stream
    return previous
