"""The embedded runtime's sandbox: a function's handler runs in the invoking thread, from the
installed package (the same code as the deployment package), through the same
`lambda_executor.Executor` as the local AWS's worker processes, so invoking, throttling and
error payloads have one implementation. The function's `Handler` string (the one CDK
deploys) names the code, looked up on every invocation (a benchmark may wrap it in place).
A thread cannot be killed: a handler that runs past its timeout runs on (the handlers stop in
time by reading the context's remaining time), then the executor answers `Sandbox.Timedout`
as Lambda would have. Memory size is not enforced.
"""

from __future__ import annotations

import logging
from typing import IO, Any

from local_aws.lambda_bootstrap import answer, load_handler
from local_aws.lambda_executor import Executor, FunctionSpec, installed


class InProcess:
    def run(self, spec: FunctionSpec, code: bytes, request: dict[str, Any]) -> dict[str, Any]:
        return answer(load_handler(spec.handler), request)

    def shutdown(self) -> None:
        """Nothing outlives an invocation."""


class LambdaDispatcher:
    """Installs an in-process `Executor` into moto's Lambda backend while in use."""

    def __init__(self, log_stream: IO[str]):
        self.log_stream = log_stream
        self.executor = Executor(InProcess())
        self._patch: Any = None

    def install(self) -> None:
        self._patch = installed(self.executor)
        self._patch.start()
        self._previous_log_stream = _route_powertools_output(self.log_stream)

    def uninstall(self) -> None:
        if self._patch is not None:
            self._patch.stop()
            self._patch = None
            _route_powertools_output(self._previous_log_stream)


def _route_powertools_output(stream: Any) -> Any:
    """Send the handlers' log lines where the runtime's user wants them; returns the old stream."""
    from ongage_export.observability import logger

    handler = logger.registered_handler
    # Swapped without setStream(): that flushes the old stream, which may be closed by now.
    previous = getattr(handler, "stream", None)
    if isinstance(handler, logging.StreamHandler):
        handler.stream = stream
    return previous
