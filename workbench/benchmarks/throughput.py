"""Throughput of the landing step (Ongage body -> S3) against its source alone, its sink alone
and the pipeline a user would write instead (`curl URL | aws s3 cp - s3://...`), in one run.

The landing is measured three ways: "stream" (the body into a multipart upload, unchecked: the
part of the landing the baselines also do), "single-pass" (what a fresh download does: stream
into the final key while the ZIP is checked on the way) and "staged" (what a download resumed
across invocations does: stream into staging, re-read it through ranged GETs to check the ZIP,
copy it server-side). Each counts its S3 requests and the bytes it read back.

Every measurement is a fresh child process (benchmarks.probe, or the shell pipeline) against one
simulator process and one moto process. CPU time is counted for every process involved (the
measured one, moto, the simulator): on a machine with few cores the three compete, and
`bytes / (all CPU seconds / cores)` is the rate no arrangement of them could beat here. The
measured process's CPU per GiB is also what bounds the landing on a Lambda, which gets a
fraction of a vCPU (about 0.58 at 1024 MB).
"""

from __future__ import annotations

import itertools
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import met, mib, table
from benchmarks.services import (
    MIB,
    REQUEST,
    SIMULATOR,
    Service,
    child_env,
    children_cpu_seconds,
    create_export,
    retrieve_url,
    run_probe,
    s3_client,
    start_moto,
    start_simulator,
)
from ongage_export.contract import PART_SIZE_MIB, UPLOAD_CONCURRENCY

BUCKET = "bench-throughput"
LAMBDA_MEMORY_MIB = 256
DEPLOYED = (PART_SIZE_MIB, UPLOAD_CONCURRENCY)  # as the stack deploys it
GIB = 1024 * MIB
LANDINGS = ("stream", "single-pass", "staged")
# The goals of issue 12, side by side in one run.
STREAM_RATIO_GOAL = 0.9  # the verified single-pass landing against the unchecked stream
PIPELINE_RATIO_GOAL = 1.3  # ... against `curl | aws s3 cp -`, which checks nothing
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


@dataclass(frozen=True)
class Plan:
    size_mib: int
    part_sizes_mib: tuple[int, ...]
    concurrencies: tuple[int, ...]
    # Rounds over every measurement; medians are reported (the cores are shared by the measured
    # process, moto and the simulator, and by whatever else runs on the machine).
    rounds: int = 1


FULL = Plan(size_mib=256, part_sizes_mib=(8,), concurrencies=(2,), rounds=3)
SMALL = Plan(size_mib=32, part_sizes_mib=(8,), concurrencies=(2,))


@dataclass(frozen=True)
class Rig:
    """The servers and the export every measurement of a run shares."""

    spec: dict[str, Any]
    s3: Any
    moto: Service
    simulator: Service
    body_file: Path

    def cpu(self) -> dict[str, float]:
        return {
            "measured": children_cpu_seconds(),
            "moto": self.moto.cpu_seconds(),
            "simulator": self.simulator.cpu_seconds(),
        }

    def counting_cpu(self, measure: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """`measure()`, with the CPU seconds each process spent meanwhile."""
        before = self.cpu()
        result = measure()
        after = self.cpu()
        cpu = {name: after[name] - before[name] for name in before}
        if "cpu_seconds" in result:  # a probe's own count leaves out its start-up and imports
            cpu["measured"] = result["cpu_seconds"]
        return result | {"cpu": cpu}


def run(plan: Plan, work_dir: Path) -> dict[str, Any]:
    out_dir = work_dir / "throughput"
    grid = list(itertools.product(plan.part_sizes_mib, plan.concurrencies, LANDINGS))
    with ExitStack() as stack:
        rig = start_rig(stack, plan, out_dir)
        # Round-robin, so that a slow spell on the machine hits every configuration alike.
        rounds = [
            (
                measure_baselines(rig, out_dir / f"round-{n}"),
                [measure_landing(rig, p, c, way, out_dir / f"round-{n}") for p, c, way in grid],
            )
            for n in range(plan.rounds)
        ]
    baselines = median_baselines([b for b, _ in rounds])
    configs = [median_config([trials[i] for _, trials in rounds]) for i in range(len(grid))]
    return {
        "size_mib": plan.size_mib,
        "rounds": plan.rounds,
        "cores": os.cpu_count(),
        "baselines": baselines,
        "configs": configs,
        "summary": summarize(baselines, configs),
    }


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
    }
    body_file = out_dir / "body.bin"
    stack.callback(body_file.unlink, missing_ok=True)
    return Rig(spec, s3, moto, simulator, body_file)


def measure_baselines(rig: Rig, out_dir: Path) -> dict[str, Any]:
    source = rig.counting_cpu(lambda: run_probe("source", rig.spec, out_dir / "source"))
    if not rig.body_file.exists():
        write_random_file(rig.body_file, source["bytes"])
    sink_spec = {**rig.spec, "path": str(rig.body_file), "key": "sink/body.bin"}
    sink = rig.counting_cpu(lambda: run_probe("sink", sink_spec, out_dir / "sink"))
    rig.s3.delete_object(Bucket=BUCKET, Key="sink/body.bin")
    pipeline = rig.counting_cpu(lambda: measure_pipeline(rig.spec, source["bytes"], out_dir))
    rig.s3.delete_object(Bucket=BUCKET, Key="pipeline/body.zip")
    return {"source": with_rate(source), "sink": with_rate(sink), "pipeline": with_rate(pipeline)}


def write_random_file(path: Path, size: int) -> None:
    """Incompressible bytes, written in 8 MiB blocks (never the whole file in memory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        left = size
        while left:
            block = os.urandom(min(left, 8 * MIB))
            out.write(block)
            left -= len(block)


def upload_command(endpoint: str, bucket: str, key: str) -> tuple[list[str], str]:
    """`aws s3 cp - s3://...` if awscli is installed; else a boto3 stand-in (and says so)."""
    aws = shutil.which("aws", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if aws:
        command = [aws, "s3", "cp", "-", f"s3://{bucket}/{key}", "--endpoint-url", endpoint]
        return [*command, "--only-show-errors"], "curl | aws s3 cp -"
    script = (
        "import sys, boto3; boto3.client('s3', endpoint_url=sys.argv[1])"
        ".upload_fileobj(sys.stdin.buffer, sys.argv[2], sys.argv[3])"
    )
    stand_in = "curl | boto3 upload_fileobj from stdin (stand-in: awscli not installed)"
    return [sys.executable, "-c", script, endpoint, bucket, key], stand_in


def measure_pipeline(spec: dict[str, Any], size: int, out_dir: Path) -> dict[str, Any]:
    url = retrieve_url(spec["simulator_url"], spec["export_id"])
    headers = " ".join(f"-H {shlex.quote(f'{k}: {v}')}" for k, v in SIMULATOR.headers().items())
    upload, label = upload_command(spec["endpoint"], BUCKET, "pipeline/body.zip")
    script = f"set -o pipefail; curl -sS -f {headers} {shlex.quote(url)} | {shlex.join(upload)}"
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    done = subprocess.run(
        ["bash", "-c", script],
        env=child_env(),
        capture_output=True,
        timeout=900,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{label} failed: {done.stderr.decode(errors='replace')[-2000:]}")
    return {"label": label, "bytes": size, "seconds": seconds}


def measure_landing(
    rig: Rig, part_mib: int, concurrency: int, landing: str, out_dir: Path
) -> dict[str, Any]:
    key = f"exports/{landing}-p{part_mib}-c{concurrency}.zip"
    spec = {**rig.spec, "part_size_mib": part_mib, "concurrency": concurrency, "key": key,
            "landing": landing}  # fmt: skip
    probe_dir = out_dir / f"land-{landing}-p{part_mib}-c{concurrency}"
    result = rig.counting_cpu(lambda: run_probe("land", spec, probe_dir))
    rig.s3.delete_object(Bucket=BUCKET, Key=key)  # keeps the moto process's memory flat
    phases, size = result["phases"], result["bytes"]
    operations = result["s3"]["operations"]
    return {
        "landing": landing,
        "part_size_mib": part_mib,
        "concurrency": concurrency,
        "bytes": size,
        "peak_rss_mib": result["peak_rss_mib"],
        "rss_after_imports_mib": result["rss_after_imports_mib"],
        "seconds": result["seconds"],
        "cpu": result["cpu"],
        "phases": phases,
        "verify_seconds": phases.get("verify"),
        "publish_seconds": phases.get("publish"),
        "end_to_end_mb_s": rate(size, result["seconds"]),
        "cpu_ceiling_mb_s": cpu_ceiling(size, result["cpu"]),
        # The landing's own CPU per GiB (what a Lambda pays), and the re-read's alone.
        "cpu_s_per_gib": result["cpu_seconds"] * GIB / size,
        "verify_cpu_s_per_gib": phases.get("verify_cpu", 0.0) * GIB / size,
        "s3_operations": operations,
        "read_back_per_byte": result["s3"]["bytes_read"] / size,
        "put_class_per_gib": sum(operations.get(op, 0) for op in PUT_CLASS) * GIB / size,
        "get_class_per_gib": sum(operations.get(op, 0) for op in GET_CLASS) * GIB / size,
    }


def cpu_ceiling(size: int, cpu: dict[str, float]) -> float | None:
    """MB/s if all the CPU the processes spent were spread perfectly over every core."""
    return rate(size, sum(cpu.values()) / (os.cpu_count() or 1))


def rate(size: int | None, seconds: float | None) -> float | None:
    """MB/s (10^6 bytes per second)."""
    return size / seconds / 1e6 if size and seconds else None


def with_rate(result: dict[str, Any]) -> dict[str, Any]:
    return result | {
        "mb_s": rate(result["bytes"], result["seconds"]),
        "cpu_ceiling_mb_s": cpu_ceiling(result["bytes"], result["cpu"]),
    }


def median_baselines(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Per baseline: the round with the median rate, and every round's rate."""
    merged = {}
    for name in rounds[0]:
        trials = sorted((r[name] for r in rounds), key=lambda t: t["mb_s"])
        merged[name] = trials[len(trials) // 2] | {"mb_s_rounds": [t["mb_s"] for t in trials]}
    return merged


def median_config(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """The trial with the median rate; memory is the highest peak of all trials."""
    ranked = sorted(trials, key=lambda t: t["end_to_end_mb_s"])
    return ranked[len(ranked) // 2] | {
        "peak_rss_mib": max(t["peak_rss_mib"] for t in trials),
        "mb_s_rounds": [t["end_to_end_mb_s"] for t in ranked],
    }


def summarize(baselines: dict[str, Any], configs: list[dict[str, Any]]) -> dict[str, Any]:
    deployed = {c["landing"]: c for c in configs if _deployed(c)} or {
        c["landing"]: c for c in configs
    }
    single, stream = deployed["single-pass"], deployed["stream"]
    pipeline = baselines["pipeline"]["mb_s"]
    goals = [
        ("verified single-pass landing / stream alone", single["end_to_end_mb_s"]
         / stream["end_to_end_mb_s"], f">= {STREAM_RATIO_GOAL}", STREAM_RATIO_GOAL, ">="),
        (f"verified single-pass landing / {baselines['pipeline']['label']}",
         single["end_to_end_mb_s"] / pipeline, f">= {PIPELINE_RATIO_GOAL}", PIPELINE_RATIO_GOAL,
         ">="),
        ("S3 bytes read back per byte landed (single pass)", single["read_back_per_byte"], "0",
         0.0, "<="),
        ("PUT-class requests per GiB, single pass / stream", single["put_class_per_gib"]
         / stream["put_class_per_gib"], "<= 1", 1.0, "<="),
    ]  # fmt: skip
    verdicts = [
        {
            "goal": name,
            "value": value,
            "target": target,
            "met": value >= bound if sense == ">=" else value <= bound,
        }
        for name, value, target, bound, sense in goals
    ]
    return {"pipeline_mb_s": pipeline, "goals": verdicts}


def _deployed(config: dict[str, Any]) -> bool:
    return (config["part_size_mib"], config["concurrency"]) == DEPLOYED


def markdown(result: dict[str, Any]) -> str:
    return "\n\n".join(
        [_baseline_table(result), _config_table(result), goal_table(result), _note(result)]
    )


def _baseline_table(result: dict[str, Any]) -> str:
    base = result["baselines"]
    labels = {
        "source": "source alone (read the Ongage body, discard)",
        "sink": "sink alone (boto3 upload_file of a local file, its defaults)",
        "pipeline": base["pipeline"]["label"],
    }
    rows = [
        [
            label,
            f"{base[name]['mb_s']:.0f}",
            f"{base[name]['seconds']:.1f}",
            f"{base[name]['cpu_ceiling_mb_s']:.0f}",
        ]
        for name, label in labels.items()
    ]
    return table(["baseline", "MB/s", "seconds", "CPU ceiling MB/s"], rows)


def _config_table(result: dict[str, Any]) -> str:
    pipeline = result["summary"]["pipeline_mb_s"]
    stream = {c["part_size_mib"]: c for c in result["configs"] if c["landing"] == "stream"}
    rows = [
        [
            c["landing"],
            f"{c['part_size_mib']} MiB x {c['concurrency']}",
            f"{c['end_to_end_mb_s']:.0f}",
            f"{c['end_to_end_mb_s'] / stream[c['part_size_mib']]['end_to_end_mb_s']:.2f}",
            f"{c['end_to_end_mb_s'] / pipeline:.2f}",
            f"{c['read_back_per_byte']:.2f}",
            f"{c['put_class_per_gib']:.0f} / {c['get_class_per_gib']:.0f}",
            f"{c['cpu_s_per_gib']:.1f}",
            f"{c['peak_rss_mib']:.0f}",
        ]
        for c in result["configs"]
    ]
    head = [
        "landing",
        "parts",
        "MB/s",
        "/ stream",
        "/ pipeline",
        "S3 bytes read back per byte",
        "PUT / GET requests per GiB",
        "own CPU s per GiB",
        "peak RSS MiB",
    ]
    return table(head, rows)


def goal_table(result: dict[str, Any]) -> str:
    rows = [
        [goal["goal"], f"{goal['value']:.3f}", goal["target"], met(goal["met"])]
        for goal in result["summary"]["goals"]
    ]
    return table(["goal", "measured", "target", "verdict"], rows)


def _note(result: dict[str, Any]) -> str:
    staged = next(c for c in result["configs"] if c["landing"] == "staged")
    return (
        f"Body {mib(result['configs'][0]['bytes'])}, median of {result['rounds']} round(s); "
        "MB/s = 10^6 bytes/s, end to end (download to a complete object at its key). "
        "'stream': into a multipart upload, unchecked; 'single-pass': stream into the final key "
        "while the ZIP is checked, complete only then; 'staged': stream into staging, ranged "
        f"re-read to check the ZIP ({staged['verify_seconds'] or 0:.1f} s, "
        f"{staged['verify_cpu_s_per_gib']:.1f} CPU s per GiB), server-side copy "
        f"({staged['publish_seconds'] or 0:.1f} s). PUT-class: create, parts, copy parts, "
        "complete, list; GET-class: GET and HEAD. 'CPU ceiling' = bytes / (CPU seconds of "
        f"every process involved / {result['cores']} cores). The {result['cores']} cores are "
        "shared with moto, the simulator and other engineers' work: figures are noisy."
    )
