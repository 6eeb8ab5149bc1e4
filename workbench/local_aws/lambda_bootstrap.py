"""The Lambda runtime's side of an invocation, the one both ways of running a handler share:
the context object, the error payload and `answer` (a request in, the handler's result or
error out). `lambda_executor` runs it in warm worker processes (`serve`, below) and the
embedded runtime in its own process (`embedded_runtime.lambda_dispatch`).

As a worker: `python -I lambda_bootstrap.py CODE_DIR HANDLER FD PARENT_PID`, in the unpacked
deployment package, with the function's environment: import the handler once, then serve
invocations one at a time, as a warm Lambda execution environment does. It reads one JSON
request per line on stdin and writes one JSON answer per line on file descriptor FD, so that
whatever the handler prints (its log lines) stays on stdout/stderr. It ends when the endpoint
process PARENT_PID does, even in the middle of an invocation (a killed endpoint cannot stop it).
Standard library only: nothing of the project is importable here but what the deployment
package holds.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The attributes and method handlers read from the Lambda context object."""

    def __init__(
        self,
        function_name: str,
        memory_limit_in_mb: int,
        timeout_seconds: float,
        aws_request_id: str,
        invoked_function_arn: str,
    ):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "local")
        self.invoked_function_arn = invoked_function_arn
        self.aws_request_id = aws_request_id
        self._deadline = time.monotonic() + timeout_seconds

    @classmethod
    def of(cls, request: dict[str, Any]) -> LambdaContext:
        return cls(
            request["function_name"],
            request["memory_mb"],
            request["timeout_seconds"],
            request["request_id"],
            request["function_arn"],
        )

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def error_payload(
    error: BaseException, request_id: str, error_type: str | None = None
) -> dict[str, Any]:
    """What the Python runtime answers for an exception; Step Functions' Retry/Catch match
    its `errorType`."""
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def answer(handler: Handler, request: dict[str, Any]) -> dict[str, Any]:
    """{"result": ...} or {"error": payload}, with the CPU seconds the invocation took (of
    the whole process: nothing else of note runs in it meanwhile)."""
    cpu = time.process_time()
    try:
        outcome = {"result": handler(request["event"], LambdaContext.of(request))}
    except Exception as error:
        outcome = {"error": error_payload(error, request["request_id"])}
    return {**outcome, "cpu_seconds": time.process_time() - cpu}


def load_handler(handler: str) -> Handler:
    module_name, _, attribute = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)  # type: ignore[no-any-return]


PARENT_CHECK_SECONDS = 0.2


def end_with(parent_pid: int) -> None:
    """Exit once the parent is gone (this process is then another's child)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def serve(code_dir: str, handler_name: str, answers_fd: int) -> None:
    answers = os.fdopen(answers_fd, "w", buffering=1)
    sys.path.insert(0, code_dir)
    try:
        handler = load_handler(handler_name)
    except Exception as error:
        handler, init_error = None, error
    for line in sys.stdin:
        request = json.loads(line)
        if handler is None:
            failed = error_payload(init_error, request["request_id"], "Runtime.ImportModuleError")
            reply = {"error": failed}
        else:
            reply = answer(handler, request)
        sys.stdout.flush()
        sys.stderr.flush()
        answers.write(json.dumps(reply, default=str) + "\n")


if __name__ == "__main__":
    end_with(int(sys.argv[4]))
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
