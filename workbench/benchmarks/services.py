"""The servers the benchmarks talk to, each in its own process on 127.0.0.1.

S3 (moto) and Ongage (the simulator) run as separate processes so that their memory and CPU
are not counted as the measured process's own. Every process started here is registered on the
caller's ExitStack, which terminates it (then kills it) when it closes.
"""

from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.timing import timed_process
from ongage_export.adapters.ongage_client import OngageClient, OngageCredentials
from ongage_export.domain.request import parse_request
from ongage_simulator import Credentials

REGION = "us-east-1"
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}
SIMULATOR = Credentials.demo()
REQUEST: dict[str, Any] = {
    "name": "Benchmark export",
    "list_id": 1111,
    "segment_id": [77197],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "fields_selected": ["email", "first_name", "ocx_contact_id"],
    "status": ["active", "bounced"],
}
_READY = re.compile(rb"listening on (http://127\.0\.0\.1:\d+)")
MIB = 1024 * 1024
WORKBENCH = Path(__file__).resolve().parents[1]  # children import `benchmarks` from here
PROBE_TIMEOUT = 900  # seconds: a 4 GiB landing on moto takes a few minutes


@dataclass
class Service:
    name: str
    url: str
    process: subprocess.Popen[bytes]

    def peak_rss_mib(self) -> float | None:
        return peak_rss_of(self.process.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds_of(self.process.pid)


def peak_rss_of(pid: int) -> float | None:
    """The process's high-water resident set (VmHWM), in MiB; None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else None


def cpu_seconds_of(pid: int) -> float:
    """User + system CPU time a process has used so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU time of every finished child of this process (probes, pipelines and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: no real AWS credentials or endpoints, unbuffered output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(FAKE_AWS_ENV)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(WORKBENCH), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_service(stack: ExitStack, name: str, argv: list[str], log_dir: Path) -> Service:
    """Start `argv` and wait for its `listening on URL` line (its output goes to a log file)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env()
        )
    stack.callback(stop, process)
    return Service(name, _wait_for_url(process, log_path, name), process)


def _wait_for_url(process: subprocess.Popen[bytes], log_path: Path, name: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = _READY.search(log_path.read_bytes())
        if match:
            return match.group(1).decode()
        if process.poll() is not None:
            break
        time.sleep(0.05)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{name} did not start (see {log_path}):\n{tail}")


def start_moto(stack: ExitStack, log_dir: Path, name: str = "moto") -> Service:
    return start_service(stack, name, [sys.executable, "-m", "benchmarks.moto_server"], log_dir)


def start_simulator(
    stack: ExitStack,
    log_dir: Path,
    *,
    export_bytes: int,
    max_parallel: int = 10,
    rate_limit: int = 300,
    name: str = "simulator",
) -> Service:
    argv = [
        sys.executable, "-m", "ongage_simulator.cli", "--port", "0",
        "--ready-after-retrieves", "0", "--export-bytes", str(export_bytes),
        "--max-parallel", str(max_parallel), "--rate-limit", str(rate_limit),
    ]  # fmt: skip
    return start_service(stack, name, argv, log_dir)


def aws_client(service: str, endpoint: str, **config: Any) -> Any:
    """A boto3 client for the moto server, with fake credentials passed explicitly."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_AWS_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        config=Config(max_pool_connections=16, **config),
    )


def s3_client(endpoint: str, **config: Any) -> Any:
    return aws_client("s3", endpoint, **config)


def simulator_credentials() -> dict[str, str]:
    """The simulator's credentials as a probe's spec carries them (`OngageCredentials`' fields)."""
    return {"username": SIMULATOR.username, "password": SIMULATOR.password,
            "account_code": SIMULATOR.account_code}  # fmt: skip


def ongage_client(url: str) -> OngageClient:
    return OngageClient(url, OngageCredentials(**simulator_credentials()))


def create_export(simulator_url: str) -> str:
    """A new export on the simulator (served at once: it runs with --ready-after-retrieves 0)."""
    return ongage_client(simulator_url).create_export(parse_request(REQUEST))


def retrieve_url(simulator_url: str, export_id: str) -> str:
    return f"{simulator_url}/{REQUEST['list_id']}/api/export/{export_id}/retrieve"


def run_probe(
    mode: str, spec: dict[str, Any], work_dir: Path, *, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run `benchmarks.probe MODE` in a fresh process and return what it measured."""
    work_dir.mkdir(parents=True, exist_ok=True)
    spec_path, result_path = work_dir / f"{mode}-spec.json", work_dir / f"{mode}-result.json"
    spec_path.write_text(json.dumps(spec))
    result_path.unlink(missing_ok=True)
    log_path = work_dir / f"{mode}.log"
    # The handler's log lines (Powertools writes JSON to stdout) go to the log file.
    argv = [sys.executable, "-m", "benchmarks.probe", mode, str(spec_path), str(result_path)]
    done, _ = timed_process(argv, env=env or child_env(), log=log_path, timeout=PROBE_TIMEOUT)
    if done.returncode != 0 or not result_path.exists():
        tail = log_path.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"probe {mode} failed ({done.returncode}), see {log_path}:\n{tail}")
    return dict(json.loads(result_path.read_text())) | {"process": done.as_dict()}
