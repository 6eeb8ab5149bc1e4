"""`python -m local_aws` as a user starts it."""

from __future__ import annotations

import contextlib
import io
import signal
import socket
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from local_aws import server
from local_aws.deployment import LocalAwsProcess

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else listens on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield int(taken.getsockname()[1])


def test_a_busy_port_exits_2_with_one_line_naming_the_port_and_the_option(busy_port, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "local_aws", "--port", str(busy_port), "--state-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert f"port {busy_port}" in line and "--port" in line


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_port_taken_after_the_check_is_reported_not_waited_for(busy_port, capsys):
    """moto's own server start waits forever when its thread cannot bind (the thread's
    exception is what the test expects)."""
    with pytest.raises(server.PortInUse, match=str(busy_port)):
        server._Server("127.0.0.1", busy_port, verbose=False).start()


def test_a_restarted_local_aws_has_forgotten_everything(tmp_path):
    """What the README says: after a restart the stack must be deployed again (the state
    folder holds only Lambda code and logs)."""
    first = LocalAwsProcess(tmp_path)
    client = _s3(first.start())
    try:
        client.create_bucket(Bucket="kept-or-not")
    finally:
        first.stop()
    again = LocalAwsProcess(tmp_path)
    try:
        assert _s3(again.start()).list_buckets()["Buckets"] == []
    finally:
        again.stop()


def _s3(environment: dict[str, str]) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        "s3",
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_REGION"],
    )


SLEEPER = "import time\n\ndef handler(event, context):\n    time.sleep(300)\n"


def _endpoint(state_dir: Path) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "local_aws", "--port", "0", "--state-dir", str(state_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    environment: dict[str, str] = {}
    for line in process.stdout:
        if line.startswith("export "):
            name, _, value = line[len("export ") :].strip().partition("=")
            environment[name] = value
        if "CDK_DEFAULT_REGION" in environment:
            return process, environment
    raise AssertionError(f"the endpoint did not start: {process.wait()}")


def _client(environment: dict[str, str], service: str, **options: Any) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=environment["AWS_ENDPOINT_URL"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_REGION"],
        **options,
    )


def _workers(parent: int) -> list[int]:
    """The endpoint's Lambda worker processes."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            command = (proc / "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if b"lambda_bootstrap" in command and int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(proc.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent has not read its status


def _until(condition: Any, limit_seconds: float = 60) -> bool:
    """Whether `condition()` came true before a generous limit (a safety stop, not a timing)."""
    deadline = time.monotonic() + limit_seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def busy_endpoint(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """An endpoint whose one Lambda worker is in the middle of a 5-minute invocation."""
    process, environment = _endpoint(tmp_path)
    try:
        iam = _client(environment, "iam")
        role = iam.create_role(RoleName="sleeper", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("sleeper.py", SLEEPER)
        lambda_ = _client(
            environment, "lambda", config=Config(read_timeout=600, retries={"max_attempts": 0})
        )
        lambda_.create_function(
            FunctionName="sleeper", Runtime="python3.11", Role=role, Handler="sleeper.handler",
            Code={"ZipFile": code.getvalue()}, Timeout=600,
        )  # fmt: skip
        threading.Thread(target=_invoke_ignoring_errors, args=(lambda_,), daemon=True).start()
        assert _until(lambda: _workers(process.pid)), "no worker started"
        (worker,) = _workers(process.pid)
        yield process, worker
    finally:
        process.kill()
        process.wait()


def _invoke_ignoring_errors(client: Any) -> None:
    with contextlib.suppress(Exception):  # the endpoint is stopped under it: what the tests do
        client.invoke(FunctionName="sleeper", Payload=b"{}")


def test_sigterm_stops_the_endpoint_and_its_busy_worker(busy_endpoint):
    process, worker = busy_endpoint

    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=60) == 0
    assert _until(lambda: not _alive(worker)), "the worker outlived the endpoint"


def test_a_killed_endpoints_busy_worker_ends_too(busy_endpoint):
    process, worker = busy_endpoint

    process.kill()
    process.wait()

    assert _until(lambda: not _alive(worker)), "the worker outlived the endpoint"
