"""Throughput of the landing step (Ongage body -> S3) against its source alone, its sink alone
and the pipeline a user would write instead (`curl URL | aws s3 cp - s3://...`).

The landing is measured three ways: "stream" (the body into a multipart upload, unchecked: the
part of the landing the baselines also do), "single-pass" (what a fresh download does: stream
into the final key while the ZIP is checked on the way) and "staged" (what a download resumed
across invocations does: stream into staging, re-read it through ranged GETs to check the ZIP,
copy it server-side). Each counts its S3 requests and the bytes it read back.

The method (`benchmarks.paired`, `benchmarks.timing`): every contender is a fresh process timed
whole, start-up included, by the same clock; the S3 clients are configured as against real S3
(payloads unsigned, the way boto3 and the AWS CLI send a checksummed upload over https; the
AWS CLI's own default over plain http, every part SHA-256-signed, is measured beside it); each
round runs every contender once, in rotated order, after a discarded warm-up round; ratios
are taken within each round and reported as median and min-max. One simulator and one moto
process serve every round; CPU is counted for each of them too.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.paired import interleave
from benchmarks.services import (
    MIB,
    REQUEST,
    SIMULATOR,
    Service,
    child_env,
    create_export,
    retrieve_url,
    run_probe,
    s3_client,
    simulator_credentials,
    start_moto,
    start_simulator,
)
from benchmarks.throughput_report import PIPELINE, PIPELINE_SIGNED, Plan, summarize
from benchmarks.timing import timed_process
from ongage_export.contract import PART_SIZE_MIB, UPLOAD_CONCURRENCY

BUCKET = "bench-throughput"
GIB = 1024 * MIB
LANDINGS = ("stream", "single-pass", "staged")
CONTENDERS = ("source", "sink", PIPELINE, PIPELINE_SIGNED, *LANDINGS)
PUT_CLASS = {
    "CreateMultipartUpload",
    "UploadPart",
    "UploadPartCopy",
    "CompleteMultipartUpload",
    "ListParts",
    "ListMultipartUploads",
    "PutObject",
    "CopyObject",
    "ListObjectsV2",
}
GET_CLASS = {"GetObject", "HeadObject"}
UNSIGNED_S3 = {"payload_signing_enabled": False}


FULL = Plan(size_mib=256, rounds=5, warmup=True)
SMALL = Plan(size_mib=32, rounds=2)


@dataclass(frozen=True)
class Rig:
    """The servers and the export every measurement of a run shares."""

    spec: dict[str, Any]
    s3: Any
    moto: Service
    simulator: Service
    out_dir: Path

    def servers_cpu(self) -> dict[str, float]:
        return {"moto": self.moto.cpu_seconds(), "simulator": self.simulator.cpu_seconds()}

    def trial(self, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """`measure()`, with the CPU seconds moto and the simulator spent meanwhile."""
        before = self.servers_cpu()
        result = measure()
        after = self.servers_cpu()
        return result | {"servers_cpu": {k: after[k] - before[k] for k in before}}


def run(plan: Plan, work_dir: Path) -> dict[str, Any]:
    out_dir = work_dir / "throughput"
    with ExitStack() as stack:
        rig = start_rig(stack, plan, out_dir)
        contenders = {name: _contender(rig, name) for name in CONTENDERS}
        trials = interleave(contenders, plan.rounds, warmup=plan.warmup)
    return summarize(plan, trials) | {"part_size_mib": PART_SIZE_MIB,
                                      "concurrency": UPLOAD_CONCURRENCY}  # fmt: skip


def start_rig(stack: ExitStack, plan: Plan, out_dir: Path) -> Rig:
    moto = start_moto(stack, out_dir)
    simulator = start_simulator(stack, out_dir, export_bytes=plan.size_mib * MIB)
    s3 = s3_client(moto.url)
    s3.create_bucket(Bucket=BUCKET)
    spec = {
        "simulator_url": simulator.url,
        "export_id": create_export(simulator.url),
        "list_id": REQUEST["list_id"],
        "endpoint": moto.url,
        "bucket": BUCKET,
        "credentials": simulator_credentials(),
    }
    body_file = out_dir / "body.bin"
    stack.callback(body_file.unlink, missing_ok=True)
    # The sink uploads the same bytes from a file: fetched once, before any round.
    source = run_probe("source", spec, out_dir / "body")
    write_random_file(body_file, source["bytes"])
    return Rig(spec | {"body_file": str(body_file)}, s3, moto, simulator, out_dir)


def _contender(rig: Rig, name: str) -> Callable[[], dict[str, Any]]:
    if name in LANDINGS:
        return lambda: rig.trial(lambda: measure_landing(rig, name))
    if name in (PIPELINE, PIPELINE_SIGNED):
        return lambda: rig.trial(lambda: measure_pipeline(rig, signed=name == PIPELINE_SIGNED))
    return lambda: rig.trial(lambda: measure_baseline(rig, name))


def measure_baseline(rig: Rig, name: str) -> dict[str, Any]:
    key = "sink/body.bin"
    spec = {**rig.spec, "path": rig.spec["body_file"], "key": key, "s3": UNSIGNED_S3}
    result = run_probe(name, spec, rig.out_dir / name)
    if name == "sink":
        rig.s3.delete_object(Bucket=BUCKET, Key=key)
    return _trial(result["bytes"], result["process"], inner=result)


def write_random_file(path: Path, size: int) -> None:
    """Incompressible bytes, written in 8 MiB blocks (never the whole file in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, 8 * MIB))
            out.write(block)
            left -= len(block)


def aws_config(out_dir: Path, *, signed: bool) -> Path:
    """An AWS CLI config file: payloads unsigned as over https, or the CLI's http default."""
    path = out_dir / ("aws-config-signed" if signed else "aws-config-unsigned")
    path.parent.mkdir(parents=True, exist_ok=True)
    unsigned = "" if signed else "s3 =\n    payload_signing_enabled = false\n"
    path.write_text(f"[default]\nregion = us-east-1\n{unsigned}")
    return path


def upload_command(endpoint: str, bucket: str, key: str) -> list[str]:
    """`aws s3 cp - s3://...` (awscli is a dev dependency of the project)."""
    aws = shutil.which("aws", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if not aws:
        raise RuntimeError("the AWS CLI (awscli) is not installed")
    return [aws, "s3", "cp", "-", f"s3://{bucket}/{key}", "--endpoint-url", endpoint,
            "--only-show-errors"]  # fmt: skip


def measure_pipeline(rig: Rig, *, signed: bool) -> dict[str, Any]:
    """`curl URL | aws s3 cp -` as one shell process, timed whole like every contender."""
    spec, key = rig.spec, "pipeline/body.zip"
    url = retrieve_url(spec["simulator_url"], spec["export_id"])
    headers = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in SIMULATOR.headers().items())
    upload = shlex.join(upload_command(spec["endpoint"], BUCKET, key))
    script = f"set -o pipefail; curl -sS -f {headers} {shlex.quote(url)} | {upload}"
    env = child_env(AWS_CONFIG_FILE=str(aws_config(rig.out_dir, signed=signed)))
    log = rig.out_dir / ("pipeline-signed.log" if signed else "pipeline.log")
    done, _ = timed_process(["bash", "-c", script], env=env, log=log, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"curl | aws s3 cp - failed ({done.returncode}): see {log}")
    size = rig.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"]
    rig.s3.delete_object(Bucket=BUCKET, Key=key)
    return _trial(size, done.as_dict())


def measure_landing(rig: Rig, landing: str) -> dict[str, Any]:
    key = f"exports/{landing}.zip"
    spec = {**rig.spec, "part_size_mib": PART_SIZE_MIB, "concurrency": UPLOAD_CONCURRENCY,
            "key": key, "landing": landing}  # fmt: skip
    result = run_probe("land", spec, rig.out_dir / f"land-{landing}")
    rig.s3.delete_object(Bucket=BUCKET, Key=key)  # keeps the moto process's memory flat
    size, operations = result["bytes"], result["s3"]["operations"]
    return _trial(size, result["process"], inner=result) | {
        "phases": result["phases"],
        "s3_operations": operations,
        "read_back_per_byte": result["s3"]["bytes_read"] / size,
        "put_class_per_gib": sum(operations.get(op, 0) for op in PUT_CLASS) * GIB / size,
        "get_class_per_gib": sum(operations.get(op, 0) for op in GET_CLASS) * GIB / size,
    }


def _trial(
    size: int, process: dict[str, Any], inner: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One contender's round: its rate by the whole-process clock, and its CPU per GiB. A probe
    reads its own peak RSS (the kernel's count for a child includes its parent's)."""
    return {
        "bytes": size,
        "process": process,
        "mb_s": size / process["seconds"] / 1e6,
        "cpu_s_per_gib": process["cpu_seconds"] * GIB / size,
        # The span inside the process (after start-up and imports): recorded, never compared.
        "inner_seconds": inner["seconds"] if inner else None,
        "peak_rss_mib": inner["peak_rss_mib"] if inner else None,
    }
