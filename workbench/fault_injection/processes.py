"""The local Lambda workers as processes: reading what a function logged, killing its workers
(SIGKILL, as an out-of-memory kill does), waiting for a condition.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fault_injection.deployed_cases import (
    WATCH_SECONDS,
)


class FunctionLog:
    """The lines a function logs about some runs from now on (its local log file, tailed)."""

    def __init__(self, state_dir: Path, function: str, runs: list[str]):
        self.paths = lambda: (state_dir / "logs").glob(f"*{function}*.log")
        self.read = {path: path.stat().st_size for path in self.paths()}  # a new file: from 0
        self.runs = runs
        self.lines: list[str] = []

    def has(self, message: str) -> bool:
        for path in self.paths():
            with path.open("rb") as log:
                log.seek(self.read.get(path, 0))
                new = log.read()
            complete = new[: new.rfind(b"\n") + 1]  # a line still being written waits
            self.read[path] = self.read.get(path, 0) + len(complete)
            self.lines += complete.decode(errors="replace").splitlines()
        quoted = json.dumps(message)
        return any(quoted in line and any(run in line for run in self.runs) for line in self.lines)


def kill_workers(endpoint: str, function: str) -> int:
    """SIGKILL every local Lambda worker of `endpoint` whose function name holds `function`."""
    killed = 0
    for pid, environment in _processes():
        if environment.get("AWS_ENDPOINT_URL") == endpoint and function in environment.get(
            "AWS_LAMBDA_FUNCTION_NAME", ""
        ):
            os.kill(pid, signal.SIGKILL)
            killed += 1
    return killed


def _processes() -> Iterator[tuple[int, dict[str, str]]]:
    """Each process of this user with its environment (what /proc lets us read)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours
            continue
        pairs = (item.partition(b"=") for item in raw.split(b"\0") if item)
        yield int(entry.name), {k.decode(errors="replace"): v.decode(errors="replace")
                                for k, _, v in pairs}  # fmt: skip


def wait_for(condition: Callable[[], bool], timeout: float, every: float = WATCH_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True
