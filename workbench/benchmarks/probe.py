"""What runs inside a measured child process: one mode per run, its numbers written as JSON.

`python -m benchmarks.probe MODE SPEC.json RESULT.json`. Each mode imports only what it needs,
inside its function, so the process's baseline memory is that of the code being measured (the
naive mode never loads Powertools, the handler mode never loads moto). The peak resident set
(VmHWM) is read from /proc at the end, so it covers imports and the whole run.
"""

from __future__ import annotations

import json
import re
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def memory_mib() -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident set of this process, in MiB."""
    status = Path("/proc/self/status").read_text()
    found = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.MULTILINE))
    return {"rss_mib": int(found["VmRSS"]) / 1024, "peak_rss_mib": int(found["VmHWM"]) / 1024}


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measured(run: Callable[[], Result]) -> Result:
    """Run `run` after the imports it made; add memory, wall and CPU time to its result."""
    baseline = memory_mib()["rss_mib"]
    cpu, started = cpu_seconds(), time.perf_counter()
    result = run()
    result["seconds"] = time.perf_counter() - started
    result["cpu_seconds"] = cpu_seconds() - cpu
    result["rss_after_imports_mib"] = baseline
    result["peak_rss_mib"] = memory_mib()["peak_rss_mib"]
    return result


@dataclass
class Context:
    """The parts of a Lambda context the handler reads (a 15-minute, 256 MB function)."""

    function_name: str = "retrieve-export"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "benchmark"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:retrieve-export"
    timeout_seconds: int = 900

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def handler_mode(spec: dict[str, Any]) -> Result:
    """The real retrieve handler, configured by environment variables as in Lambda."""
    import random
    from datetime import UTC, datetime

    from ongage_export.domain.create import start_job
    from ongage_export.domain.polling import PollingPolicy
    from ongage_export.domain.request import parse_request
    from ongage_export.handlers.retrieve_export import handler

    job = start_job(
        parse_request(spec["request"]),
        PollingPolicy(),
        spec["export_id"],
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:bench:memory",
        started_at=datetime.now(UTC).isoformat(),
        rng=random.Random(0),
    )

    def run() -> Result:
        out = handler({"job": job.state(), "execution_arn": job.execution_arn}, Context())
        landed = out.get("landed") or {}
        return {"bytes": landed.get("bytes"), "landed": bool(landed), "key": landed.get("key"),
                "landing": landed.get("landing")}  # fmt: skip

    return measured(run)


def naive_mode(spec: dict[str, Any]) -> Result:
    """What users write: the whole body in memory, then one PutObject."""
    import boto3
    import requests

    s3 = boto3.client("s3", endpoint_url=spec["endpoint"])

    def run() -> Result:
        body = requests.get(spec["url"], headers=spec["headers"], timeout=600).content
        s3.put_object(Bucket=spec["bucket"], Key=spec["key"], Body=body)
        return {"bytes": len(body), "landed": True, "key": spec["key"]}

    return measured(run)


def land_mode(spec: dict[str, Any]) -> Result:
    """The body into S3 one of three ways (`spec["landing"]`), each phase timed from outside:
    "stream" (into a multipart upload, unchecked: what the baselines do), "single-pass" (what
    `S3Landing.land` does with a fresh download) or "staged" (stream, then the ranged re-read
    and the copy: a download resumed across invocations)."""
    import boto3

    from ongage_export.adapters import landing
    from ongage_export.adapters.s3_storage import S3_CONFIG

    phases: dict[str, float] = {}
    landing.verify_zip = _timed(landing.verify_zip, "verify", phases)  # type: ignore[assignment]
    s3 = boto3.client("s3", endpoint_url=spec["endpoint"], config=S3_CONFIG)  # the handler's
    requests = _count_requests(s3)
    lander = landing.S3Landing(
        s3,
        spec["bucket"],
        part_size=spec["part_size_mib"] * 1024 * 1024,
        upload_concurrency=spec["concurrency"],
    )
    for name in ("upload_stream", "publish", "land_single_pass"):
        setattr(lander, name, _timed(getattr(lander, name), name, phases))
    client = _ongage_client(spec)
    staging_key = f"incoming/{spec['key']}"

    def land(chunks: Any) -> Any:
        if spec["landing"] == "stream":
            return lander.upload_stream(chunks, spec["key"])
        if spec["landing"] == "single-pass":
            return lander.land(chunks, staging_key=staging_key, final_key=spec["key"],
                               metadata={"benchmark": "throughput"})  # fmt: skip
        staged = lander.upload_stream(chunks, staging_key)
        resumed = landing.UploadProgress(
            staged.key, "", 0, staged.size, staged.size, staged=True, sha256=staged.sha256
        )
        return lander.land(iter(()), staging_key=staging_key, final_key=spec["key"],
                           metadata={"benchmark": "throughput"}, resume=resumed)  # fmt: skip

    def run() -> Result:
        with _download(client, spec) as answer:
            landed = land(answer.chunks())
        size = getattr(landed, "size", None)
        return {"bytes": size, "landed": size is not None, "phases": phases, "s3": requests}

    return measured(run)


def _count_requests(s3: Any) -> dict[str, Any]:
    """S3 requests by operation, and the bytes GetObject read back, as `s3` sends them."""
    counts: dict[str, Any] = {"operations": {}, "bytes_read": 0}

    def before(model: Any, **kwargs: Any) -> None:
        counts["operations"][model.name] = counts["operations"].get(model.name, 0) + 1

    def after(parsed: Any, **kwargs: Any) -> None:
        counts["bytes_read"] += parsed.get("ContentLength", 0)

    s3.meta.events.register("before-call.s3", before)
    s3.meta.events.register("after-call.s3.GetObject", after)
    return counts


def source_mode(spec: dict[str, Any]) -> Result:
    """Read the export's body from the simulator and discard it."""
    client = _ongage_client(spec)

    def run() -> Result:
        size = 0
        with _download(client, spec) as answer:
            for chunk in answer.chunks():
                size += len(chunk)
        return {"bytes": size, "landed": False}

    return measured(run)


def sink_mode(spec: dict[str, Any]) -> Result:
    """Upload a local file of the same size with boto3's managed transfer (its defaults)."""
    from benchmarks.services import s3_client

    s3 = s3_client(spec["endpoint"], s3=spec.get("s3"))

    def run() -> Result:
        s3.upload_file(spec["path"], spec["bucket"], spec["key"])
        return {"bytes": Path(spec["path"]).stat().st_size, "landed": True}

    return measured(run)


def _ongage_client(spec: dict[str, Any]) -> Any:
    """A client of the simulator, with the credentials the spec carries: the landing's process
    loads what the landing needs, not the simulator (benchmarks.services imports it)."""
    from ongage_export.adapters.ongage_client import OngageClient, OngageCredentials

    return OngageClient(spec["simulator_url"], OngageCredentials(**spec["credentials"]))


def _download(client: Any, spec: dict[str, Any]) -> Any:
    """The open retrieve response (the simulator serves benchmark exports at once)."""
    answer = client.retrieve(spec["export_id"], spec["list_id"])
    if not hasattr(answer, "chunks"):
        raise RuntimeError(f"export {spec['export_id']} is not ready: {answer}")
    return answer


def _timed(function: Callable[..., Any], name: str, into: dict[str, float]) -> Any:
    """Add the wall time (`name`) and this process's CPU time (`name_cpu`) of every call."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started, cpu = time.perf_counter(), cpu_seconds()
        try:
            return function(*args, **kwargs)
        finally:
            into[name] = into.get(name, 0.0) + time.perf_counter() - started
            into[f"{name}_cpu"] = into.get(f"{name}_cpu", 0.0) + cpu_seconds() - cpu

    return wrapper


MODES: dict[str, Callable[[dict[str, Any]], Result]] = {
    "handler": handler_mode,
    "naive": naive_mode,
    "land": land_mode,
    "source": source_mode,
    "sink": sink_mode,
}


def main(argv: list[str]) -> int:
    mode, spec_path, result_path = argv
    result = MODES[mode](json.loads(Path(spec_path).read_text()))
    Path(result_path).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
