"""`python -m local_aws` as a user starts it."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_aws import server

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
