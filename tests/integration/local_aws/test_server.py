"""`python -m local_aws` as a user starts it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

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
