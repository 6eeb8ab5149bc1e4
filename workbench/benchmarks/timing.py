"""The one clock every contender is timed with: the whole process, from outside.

A contender (a probe of the project's code, `curl | aws s3 cp -`, `ongage-export run`,
`curl -o`) is a child process; its time runs from just before it is started to just after it
is reaped, so interpreter start-up, imports and client set-up count for every side alike. Its
CPU and peak RSS are the kernel's accounting of it and the children it waited for (`wait4`).
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProcessRun:
    seconds: float  # wall, start to reaped
    cpu_seconds: float  # user + system of the process and the children it waited for
    peak_rss_mib: float  # the largest of them, but never below peak_rss_floor_mib:
    # Linux counts the forking process's peak (VmHWM) into a child's, so a peak at or below
    # the floor says only "at most the floor".
    peak_rss_floor_mib: float
    returncode: int
    load_before: float  # 1-minute load average just before the start

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def timed_process(
    argv: list[str], *, env: dict[str, str], log: Path, timeout: float, capture: bool = False
) -> tuple[ProcessRun, bytes]:
    """Run `argv` to its end. Its stderr goes to `log`, and its stdout too unless `capture`,
    which returns it instead."""
    log.parent.mkdir(parents=True, exist_ok=True)
    load, floor = os.getloadavg()[0], own_peak_rss_mib()
    with log.open("wb") as errors:
        stdout = subprocess.PIPE if capture else errors
        started = time.perf_counter()
        process = subprocess.Popen(
            argv, stdout=stdout, stderr=errors, stdin=subprocess.DEVNULL, env=env
        )
        output, status, usage = _reap(process, timeout)
        seconds = time.perf_counter() - started
    run = ProcessRun(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,
        peak_rss_floor_mib=floor,
        returncode=os.waitstatus_to_exitcode(status),
        load_before=load,
    )
    return run, output


def own_peak_rss_mib() -> float:
    """This process's peak resident set (VmHWM), in MiB."""
    status = Path("/proc/self/status").read_text()
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else 0.0


def _reap(process: subprocess.Popen[bytes], timeout: float) -> tuple[bytes, int, Any]:
    """Its stdout if piped (read to its end), then its exit status and resource usage."""
    timer = threading.Timer(timeout, process.kill)  # a hung contender fails its section
    timer.start()
    try:
        output = process.stdout.read() if process.stdout else b""
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
        if process.stdout:
            process.stdout.close()
    process.returncode = os.waitstatus_to_exitcode(status)
    return output, status, usage
