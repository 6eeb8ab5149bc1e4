"""The local run: `ongage-export run --out` as a user runs it, beside a plain download.

For each size, a fresh simulator serves the export (ready at the first retrieve) and
`ongage-export run REQUEST --out DIR --json` runs as a child process: its peak RSS is the
child's own (`os.wait4`), and its landing is timed inside (`seconds.landing`: the retrieve
invocation that streamed, checked and stored the body, without deployment or polling waits).
The same body is then fetched by curl to a file (`requests` streaming if curl is missing).
Each row also says how busy the shared machine was (the 1-minute load average before the run)
and the simulator's CPU while it served the run (it shares the cores with the run).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests

from benchmarks.report import met, table
from benchmarks.services import (
    MIB,
    REQUEST,
    SIMULATOR,
    child_env,
    create_export,
    retrieve_url,
    start_simulator,
)

FULL_SIZES_MIB = (8, 256, 1024)
SMALL_SIZES_MIB = (8,)
FLAT_GOAL_MIB = 64  # each larger export may peak at most this much above the smallest
SPEED_GOAL_MB_S = 100
PLAIN_RATIO_GOAL = 0.05
RUN_TIMEOUT = 900  # seconds


def run(sizes_mib: tuple[int, ...], work_dir: Path) -> dict[str, Any]:
    rows = [measure_size(size, work_dir / f"local-run-{size}mib") for size in sizes_mib]
    return {"rows": rows, "goals": goals(rows)}


def measure_size(size_mib: int, work_dir: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        simulator = start_simulator(stack, work_dir, export_bytes=size_mib * MIB)
        # The machine is shared: how busy it was, and the simulator's CPU (on the same cores).
        load_before, simulator_cpu = os.getloadavg()[0], simulator.cpu_seconds()
        local = run_local(simulator.url, work_dir)
        simulator_cpu = simulator.cpu_seconds() - simulator_cpu
        plain = plain_download(simulator.url, work_dir / "plain.zip")
    seconds = local["summary"]["seconds"]
    size = local["summary"]["bytes"]
    return {
        "size_mib": size_mib,
        "bytes": size,
        "peak_rss_mib": local["peak_rss_mib"],
        "wall_seconds": local["wall_seconds"],
        "seconds": seconds,
        "landing_mb_s": size / seconds["landing"] / 1e6,
        "landing_cpu_s_per_gib": seconds["landing_cpu"] * 1024 * MIB / size,
        "simulator_cpu_s_per_gib": simulator_cpu * 1024 * MIB / size,
        "load_before": load_before,
        "copy_mb_s": size / seconds["copy"] / 1e6 if seconds["copy"] else None,
        "plain": plain,
        "plain_mb_s": plain["bytes"] / plain["seconds"] / 1e6,
    }


def run_local(simulator_url: str, work_dir: Path) -> dict[str, Any]:
    request_file, out_dir = work_dir / "request.json", work_dir / "out"
    request_file.write_text(json.dumps(REQUEST))
    argv = [*ongage_export_command(), "run", str(request_file), "--ongage-url", simulator_url,
            "--out", str(out_dir), "--json", "--poll-initial", "1", "--poll-max", "1"]  # fmt: skip
    env = child_env(**SIMULATOR.env())
    started = time.perf_counter()
    with (work_dir / "run.log").open("wb") as log:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=log, env=env)
        output, rusage = _wait_with_usage(process)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"ongage-export run failed ({process.returncode}): see {log.name}")
    summary = json.loads(output)
    shutil.rmtree(out_dir)  # the landed copy: up to a GiB of disk
    return {"summary": summary, "peak_rss_mib": rusage.ru_maxrss / 1024, "wall_seconds": wall}


def ongage_export_command() -> list[str]:
    """The installed `ongage-export` beside this interpreter, or the module it runs."""
    script = Path(sys.executable).with_name("ongage-export")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ongage_cli.main import main; raise SystemExit(main())"]


def _wait_with_usage(process: subprocess.Popen[bytes]) -> tuple[bytes, Any]:
    """The child's stdout and its own resource usage (peak RSS), once it has ended."""
    assert process.stdout is not None
    timer = threading.Timer(RUN_TIMEOUT, process.kill)  # a hung run fails the section
    timer.start()
    try:
        output = process.stdout.read()  # until the child closes it, at its end
        _, status, rusage = os.wait4(process.pid, 0)
    finally:
        timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    return output, rusage


def plain_download(simulator_url: str, path: Path) -> dict[str, Any]:
    """The same body to a file, by curl (or `requests` streaming without curl)."""
    url = retrieve_url(simulator_url, create_export(simulator_url))
    headers = SIMULATOR.headers()
    started = time.perf_counter()
    if shutil.which("curl"):
        flags = [item for name, value in headers.items() for item in ("-H", f"{name}: {value}")]
        subprocess.run(["curl", "-sS", "-f", *flags, "-o", str(path), url], check=True)
        tool = "curl -o"
    else:
        with requests.get(url, headers=headers, stream=True, timeout=60) as answer:
            answer.raise_for_status()
            with path.open("wb") as out:
                for chunk in answer.iter_content(MIB):
                    out.write(chunk)
        tool = "requests streaming"
    seconds = time.perf_counter() - started
    size = path.stat().st_size
    path.unlink()
    return {"tool": tool, "bytes": size, "seconds": seconds}


def goals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    smallest, largest = rows[0], rows[-1]
    found = [
        {
            "goal": f"peak RSS at {row['size_mib']} MiB within {FLAT_GOAL_MIB} MiB of "
            f"{smallest['size_mib']} MiB",
            "value": f"{row['peak_rss_mib'] - smallest['peak_rss_mib']:+.0f} MiB",
            "met": row["peak_rss_mib"] - smallest["peak_rss_mib"] <= FLAT_GOAL_MIB,
        }
        for row in rows[1:]
    ]
    ratio = largest["landing_mb_s"] / largest["plain_mb_s"]
    return [
        *found,
        {
            "goal": f"landing >= {SPEED_GOAL_MB_S} MB/s at {largest['size_mib']} MiB",
            "value": f"{largest['landing_mb_s']:.0f} MB/s",
            "met": largest["landing_mb_s"] >= SPEED_GOAL_MB_S,
        },
        {
            "goal": f"landing >= {PLAIN_RATIO_GOAL}x a plain download of the same body",
            "value": f"{ratio:.3f}x",
            "met": ratio >= PLAIN_RATIO_GOAL,
        },
    ]


def markdown(result: dict[str, Any]) -> str:
    rows = [
        [
            f"{row['size_mib']} MiB",
            f"{row['peak_rss_mib']:.0f}",
            f"{row['seconds']['landing']:.2f} ({row['landing_mb_s']:.0f})",
            f"{row['landing_cpu_s_per_gib']:.1f}",
            f"{row['simulator_cpu_s_per_gib']:.1f}",
            f"{row['seconds']['copy']:.2f}",
            f"{row['seconds']['deploy']:.1f} / {row['seconds']['workflow']:.1f}",
            f"{row['wall_seconds']:.1f}",
            f"{row['plain']['seconds']:.2f} ({row['plain_mb_s']:.0f}, {row['plain']['tool']})",
            f"{row['load_before']:.1f}",
        ]
        for row in result["rows"]
    ]
    head = ["export", "peak RSS MiB", "landing s (MB/s)", "landing CPU s/GiB",
            "simulator CPU s/GiB", "--out copy s", "deploy / workflow s", "whole run s",
            "plain download s (MB/s)", "load avg before"]  # fmt: skip
    verdicts = [[g["goal"], g["value"], met(g["met"])] for g in result["goals"]]
    return table(head, rows) + "\n\n" + table(["goal", "this run", "met?"], verdicts)
