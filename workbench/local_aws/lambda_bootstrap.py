"""The Lambda runtime inside one worker process: import the handler once, then serve
invocations one at a time, as a warm Lambda execution environment does.

Run by `lambda_executor` as `python -I lambda_bootstrap.py CODE_DIR HANDLER FD PARENT_PID`, in
the unpacked deployment package, with the function's environment. It reads one JSON request per
line on stdin and writes one JSON answer per line on file descriptor FD, so that whatever the
handler prints (its log lines) stays on stdout/stderr. It ends when the endpoint process
PARENT_PID does, even in the middle of an invocation (a killed endpoint cannot stop it).
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
from typing import Any


class LambdaContext:
    """The attributes and method handlers read from the Lambda context object."""

    def __init__(self, request: dict[str, Any]):
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.invoked_function_arn = request["function_arn"]
        self.aws_request_id = request["request_id"]
        self._deadline = time.time() + request["timeout_seconds"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def error_payload(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def load_handler(code_dir: str, handler: str) -> Any:
    sys.path.insert(0, code_dir)
    module_name, _, attribute = handler.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)


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
    try:
        handler = load_handler(code_dir, handler_name)
    except Exception as error:
        handler, init_error = None, error_payload(error, "Runtime.ImportModuleError")
    for line in sys.stdin:
        request = json.loads(line)
        if handler is None:
            answer = {"error": init_error}
        else:
            try:
                result = handler(request["event"], LambdaContext(request))
                answer = {"result": result}
            except Exception as error:
                answer = {"error": error_payload(error)}
        sys.stdout.flush()
        sys.stderr.flush()
        answers.write(json.dumps(answer, default=str) + "\n")


if __name__ == "__main__":
    end_with(int(sys.argv[4]))
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
