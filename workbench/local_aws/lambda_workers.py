"""The local AWS's Lambda sandbox: a warm worker process per function (lambda_bootstrap.py runs
the handler in it), with the function's code, environment and role credentials; killed past its
timeout or its memory size, as Lambda does.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import select
import shutil
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

from local_aws.foreign_builds import use_host_builds
from local_aws.lambda_executor import FunctionSpec, failure, timed_out

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


WATCH_INTERVAL_SECONDS = 0.05


def unpack(code: bytes, into: Path) -> Path:
    """The deployment package in its own folder, named by its hash, unpacked once. Cold starts
    at once each unpack into a folder of their own; the first to rename it wins, the others
    drop theirs (renaming onto the winner's full folder fails: Directory not empty)."""
    target = into / hashlib.sha256(code).hexdigest()
    if not target.exists():
        partial = target.with_name(target.name + f".{uuid.uuid4().hex}")
        with zipfile.ZipFile(io.BytesIO(code)) as archive:
            archive.extractall(partial)
        use_host_builds(partial)
        try:
            partial.rename(target)
        except OSError:
            if not target.is_dir():
                raise
            shutil.rmtree(partial, ignore_errors=True)
    return target


def role_credentials(spec: FunctionSpec) -> dict[str, str]:
    """An STS session of the function's role, as Lambda gives each execution environment."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    role = sts_backends[spec.account_id][get_partition(spec.region)].assume_role(
        region_name=spec.region,
        role_session_name=spec.name[:64],
        role_arn=spec.role_arn,
        policy="",
        duration=43200,
        external_id="",
    )
    return {
        "AWS_ACCESS_KEY_ID": role.access_key_id,
        "AWS_SECRET_ACCESS_KEY": role.secret_access_key,
        "AWS_SESSION_TOKEN": role.session_token,
    }


def lambda_environment(spec: FunctionSpec, endpoint: str, code_dir: Path) -> dict[str, str]:
    """The function's own variables over what the Lambda service sets in every environment."""
    service = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": spec.region,
        "AWS_DEFAULT_REGION": spec.region,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python",
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": uuid.uuid4().hex,
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": spec.handler,
        # No X-Ray daemon on a laptop: the SDK would warn on every call.
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    return {**service, **spec.environment}


def resident_mb(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * PAGE_SIZE / (1024 * 1024)


class Worker:
    """One warm execution environment: a process that runs one invocation at a time."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], code_dir: Path, log: IO[str]):
        self.spec = spec
        answers_read, answers_write = os.pipe()
        command = [sys.executable, "-I", str(BOOTSTRAP), str(code_dir), spec.handler]
        self.process = subprocess.Popen(
            [*command, str(answers_write), str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=code_dir,
            pass_fds=(answers_write,),
            text=True,
        )
        os.close(answers_write)
        self._answers = os.fdopen(answers_read, "r")

    def invoke(self, request: dict[str, Any]) -> dict[str, Any]:
        """The bootstrap's answer, or the failure of a worker killed or dead on the way."""
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        deadline = time.monotonic() + self.spec.timeout_seconds
        request_id = request["request_id"]
        while True:
            ready, _, _ = select.select([self._answers], [], [], WATCH_INTERVAL_SECONDS)
            if ready:
                line = self._answers.readline()
                if line:
                    return dict(json.loads(line))
                return self._died(request_id)
            if time.monotonic() > deadline:
                self.kill()
                return timed_out(self.spec, request_id)
            if resident_mb(self.process.pid) > self.spec.memory_mb:
                self.kill()
                return failure(
                    "Runtime.OutOfMemory",
                    f"RequestId: {request_id} Error: Runtime exited with error: signal: killed "
                    f"(more than {self.spec.memory_mb} MB)",
                )

    def _died(self, request_id: str) -> dict[str, Any]:
        code = self.process.wait()
        return failure(
            "Runtime.ExitError",
            f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}",
        )

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class WorkerPool:
    """Every function's warm worker processes."""

    def __init__(self, endpoint: str, state_dir: Path):
        self.endpoint = endpoint
        self.code_root = state_dir / "lambda-code"
        self.log_root = state_dir / "logs"
        self.code_root.mkdir(parents=True, exist_ok=True)
        self.log_root.mkdir(parents=True, exist_ok=True)
        self._idle: dict[tuple[str, str], list[Worker]] = defaultdict(list)
        self._logs: dict[str, IO[str]] = {}
        self._workers: list[Worker] = []  # every worker started, busy or idle
        self._lock = threading.Lock()

    def run(self, spec: FunctionSpec, code: bytes, request: dict[str, Any]) -> dict[str, Any]:
        worker = self._worker(spec, code)
        answer = worker.invoke(request)
        if worker.alive:
            with self._lock:
                self._idle[spec.warm_key].append(worker)
        return answer

    def _worker(self, spec: FunctionSpec, code: bytes) -> Worker:
        with self._lock:
            while self._idle[spec.warm_key]:
                worker = self._idle[spec.warm_key].pop()
                if worker.alive:
                    return worker
        code_dir = unpack(code, self.code_root)
        env = {**lambda_environment(spec, self.endpoint, code_dir), **role_credentials(spec)}
        worker = Worker(spec, env, code_dir, self._log(spec.name))
        with self._lock:
            self._workers = [w for w in self._workers if w.alive] + [worker]
        return worker

    def _log(self, function_name: str) -> IO[str]:
        with self._lock:
            if function_name not in self._logs:
                path = self.log_root / f"{function_name}.log"
                self._logs[function_name] = path.open("a", buffering=1)
            return self._logs[function_name]

    def shutdown(self) -> None:
        """Every worker ends, those in the middle of an invocation too."""
        with self._lock:
            workers, self._workers = self._workers, []
            self._idle.clear()
        for worker in workers:
            worker.kill()
