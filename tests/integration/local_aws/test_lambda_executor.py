"""The executor runs a deployment package's handler in warm worker processes, with the
function's environment, timeout, memory size and reserved concurrency; the embedded runtime's
in-process sandbox goes through the same executor (throttling, error payloads, counts)."""

from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from embedded_runtime.lambda_dispatch import InProcess
from local_aws import lambda_executor, lambda_workers

HANDLER = """
import os, time

def handler(event, context):
    if event.get("raise"):
        raise ValueError("bad " + event["raise"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("allocate_mb"):
        hog = bytearray(event["allocate_mb"] * 1024 * 1024)
        time.sleep(1)
    return {
        "pid": os.getpid(),
        "greeting": os.environ["GREETING"],
        "key": os.environ["AWS_ACCESS_KEY_ID"],
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "remaining": context.get_remaining_time_in_millis(),
        "name": context.function_name,
    }
"""


def package() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app/__init__.py", "")
        archive.writestr("app/main.py", HANDLER)
    return buffer.getvalue()


def function(timeout: int = 5, memory: int = 256, reserved: int | None = None) -> Any:
    return SimpleNamespace(
        function_name="f", function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        handler="app.main.handler", timeout=timeout, memory_size=memory,
        role="arn:aws:iam::123456789012:role/f-role", environment_vars={"GREETING": "hi"},
        code_bytes=package(), region="us-east-1", account_id="123456789012",
        reserved_concurrency=reserved,
    )  # fmt: skip


@pytest.fixture
def executor(tmp_path: Path, aws: None) -> Any:
    running = lambda_executor.Executor(lambda_workers.WorkerPool("http://127.0.0.1:1", tmp_path))
    yield running
    running.shutdown()


@pytest.fixture(params=["worker processes", "in process"])
def any_executor(request: Any, tmp_path: Path, aws: None, monkeypatch: Any) -> Any:
    """Either sandbox, behind the one executor."""
    if request.param == "in process":
        with zipfile.ZipFile(io.BytesIO(package())) as archive:
            archive.extractall(tmp_path / "code")
        monkeypatch.syspath_prepend(str(tmp_path / "code"))
        monkeypatch.setenv("GREETING", "hi")
        monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
        sandbox: Any = InProcess()
    else:
        sandbox = lambda_workers.WorkerPool("http://127.0.0.1:1", tmp_path)
    running = lambda_executor.Executor(sandbox)
    yield running
    running.shutdown()


def invoke(executor: Any, fn: Any, event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    headers: dict[str, str] = {}
    answer = executor.invoke(fn, json.dumps(event), headers)
    return json.loads(answer), headers


def test_the_handler_runs_with_its_environment_and_role_session_in_a_warm_worker(executor):
    fn = function()
    first, headers = invoke(executor, fn, {})
    second, _ = invoke(executor, fn, {})

    assert headers == {}
    assert first["greeting"] == "hi" and first["name"] == "f"
    assert first["endpoint"] == "http://127.0.0.1:1"
    assert first["key"] != "testing"  # an STS session of the function's role
    assert 0 < first["remaining"] <= 5000
    assert first["pid"] == second["pid"]  # warm: the same process served both


def test_an_exception_is_an_error_payload_with_its_type(any_executor):
    answer, headers = invoke(any_executor, function(), {"raise": "input"})
    assert headers == {"x-amz-function-error": "Unhandled"}
    assert answer["errorType"] == "ValueError" and answer["errorMessage"] == "bad input"
    assert answer["requestId"] and answer["stackTrace"]


def test_each_invocation_is_counted_with_its_wall_and_cpu_seconds(any_executor):
    answer, headers = invoke(any_executor, function(), {})
    assert headers == {} and answer["name"] == "f" and 0 < answer["remaining"] <= 5000
    [(wall, cpu)] = any_executor.durations["f"]
    assert any_executor.invocations["f"] == 1 and wall > 0 and cpu >= 0


def test_a_function_that_runs_past_its_timeout_is_timed_out(any_executor):
    """The worker is killed at the deadline; the in-process handler answers late, timed out."""
    answer, headers = invoke(any_executor, function(timeout=1), {"sleep": 2})
    assert headers == {"x-amz-function-error": "Unhandled"}
    assert answer["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in answer["errorMessage"]


def test_a_function_that_outgrows_its_memory_is_killed(executor):
    answer, _ = invoke(executor, function(memory=128), {"allocate_mb": 300})
    assert answer["errorType"] == "Runtime.OutOfMemory"


def test_invocations_beyond_reserved_concurrency_are_throttled(any_executor):
    fn = function(reserved=1)
    busy = threading.Thread(target=invoke, args=(any_executor, fn, {"sleep": 2}))
    busy.start()
    try:
        for _ in range(200):
            if any_executor.invocations["f"]:
                break
            threading.Event().wait(0.01)
        with pytest.raises(lambda_executor.TooManyRequestsException):
            invoke(any_executor, fn, {})
    finally:
        busy.join()
    assert any_executor.throttled["f"] == 1 and any_executor.peak_concurrency["f"] == 1


def test_the_environment_is_lambdas_with_the_functions_own_variables_on_top(tmp_path):
    spec = lambda_executor.FunctionSpec.of(function())
    env = lambda_workers.lambda_environment(spec, "http://127.0.0.1:1", tmp_path)
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "f"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["LAMBDA_TASK_ROOT"] == str(tmp_path)
    assert env["GREETING"] == "hi"


def test_cold_starts_at_once_unpack_the_same_code_without_failing(tmp_path, monkeypatch):
    """All of them reach the rename together (a barrier where the bundle is adjusted): one
    folder wins, the others' are dropped, every cold start gets the package."""
    starts = 4
    together = threading.Barrier(starts, timeout=60)
    monkeypatch.setattr(lambda_workers, "use_host_builds", lambda folder: together.wait())
    folders: list[Path] = []
    failures: list[BaseException] = []

    def cold_start() -> None:
        try:
            folders.append(lambda_workers.unpack(package(), tmp_path))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=cold_start) for _ in range(starts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert len(set(folders)) == 1 and (folders[0] / "app" / "main.py").exists()
    assert [p.name for p in tmp_path.iterdir()] == [folders[0].name]  # no half-made folders
