"""The local run: what a user waits for, `ongage-export run REQUEST --out DIR` from the
command's start to its exit with the ZIP in DIR, beside `curl -o` of the same body.

Both are child processes timed whole by the same clock (`benchmarks.timing`), against one
simulator process per size (ready at the first retrieve; each contender gets an export of its
own, of the same size), interleaved round by round (`benchmarks.paired`); each writes the body
to a file in the same folder, removed after the round. The ratio "whole run / curl -o" is
taken within each round. The run's phases (deployment, workflow, the landing invocation, the
copy to --out) come from its `--json`; start-up is what the whole run spent outside them.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.paired import interleave, paired, spread
from benchmarks.report import met, spread_text, table, verdict
from benchmarks.services import (
    MIB,
    REQUEST,
    SIMULATOR,
    Service,
    child_env,
    create_export,
    retrieve_url,
    start_simulator,
)
from benchmarks.timing import timed_process

FULL_SIZES_MIB = (8, 256, 1024)
SMALL_SIZES_MIB = (8,)
FULL_ROUNDS, SMALL_ROUNDS = 5, 1
FLAT_GOAL_MIB = 64  # each larger export may peak at most this much above the smallest
SPEED_GOAL_MB_S = 100
# What the user waits for, at the largest size: at least a quarter of `curl -o`'s speed (the
# whole run at most 4x its time), in at most this much memory.
WHOLE_RUN_SHARE_GOAL = 0.25
PEAK_RSS_GOAL_MIB = 450
RUN_TIMEOUT = 900  # seconds
GIB = 1024 * MIB
PHASES = ("start-up", "deploy", "workflow", "landing", "copy")


def run(sizes_mib: tuple[int, ...], work_dir: Path, rounds: int = FULL_ROUNDS) -> dict[str, Any]:
    # One warm-up round (discarded), before the first size: caches warm for both contenders.
    rows = [
        measure_size(size, work_dir / f"local-run-{size}mib", rounds, warmup=n == 0)
        for n, size in enumerate(sizes_mib)
    ]
    return {
        "rows": rows,
        "rounds": rounds,
        "goals": goals(rows),
        "goal_targets": {
            "flat_mib": FLAT_GOAL_MIB,
            "speed_mb_s": SPEED_GOAL_MB_S,
            "whole_run_share": WHOLE_RUN_SHARE_GOAL,
            "whole_run_times_curl": 1 / WHOLE_RUN_SHARE_GOAL,
            "peak_rss_mib": PEAK_RSS_GOAL_MIB,
        },
    }


def measure_size(size_mib: int, work_dir: Path, rounds: int, *, warmup: bool) -> dict[str, Any]:
    with ExitStack() as stack:
        simulator = start_simulator(stack, work_dir, export_bytes=size_mib * MIB)
        contenders: dict[str, Callable[[], dict[str, Any]]] = {
            "run": lambda: run_local(simulator, work_dir),
            "curl": lambda: plain_download(simulator.url, work_dir),
        }
        trials = interleave(contenders, rounds, warmup=warmup)
    return summarize(size_mib, trials)


def run_local(simulator: Service, work_dir: Path) -> dict[str, Any]:
    """`ongage-export run --out` as a user runs it, timed whole; the ZIP must be in --out."""
    request_file, out_dir = work_dir / "request.json", work_dir / "out"
    request_file.write_text(json.dumps(REQUEST))
    argv = [*ongage_export_command(), "run", str(request_file), "--ongage-url", simulator.url,
            "--out", str(out_dir), "--json", "--poll-initial", "1", "--poll-max", "1"]  # fmt: skip
    cpu_before = simulator.cpu_seconds()
    done, output = timed_process(
        argv, env=child_env(**SIMULATOR.env()), log=work_dir / "run.log", timeout=RUN_TIMEOUT,
        capture=True,
    )  # fmt: skip
    simulator_cpu = simulator.cpu_seconds() - cpu_before
    if done.returncode != 0:
        raise RuntimeError(f"ongage-export run failed ({done.returncode}): see {work_dir}/run.log")
    summary = json.loads(output)
    zips = list(out_dir.rglob("*.zip"))
    if not zips:
        raise RuntimeError(f"ongage-export run left no ZIP in {out_dir}")
    size = zips[0].stat().st_size
    shutil.rmtree(out_dir)  # the landed copy: up to a GiB of disk
    return {"bytes": size, "process": done.as_dict(), "seconds": summary["seconds"],
            "simulator_cpu_seconds": simulator_cpu}  # fmt: skip


def ongage_export_command() -> list[str]:
    """The installed `ongage-export` beside this interpreter, or the module it runs."""
    script = Path(sys.executable).with_name("ongage-export")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from ongage_cli.main import main; raise SystemExit(main())"]


def plain_download(simulator_url: str, work_dir: Path) -> dict[str, Any]:
    """The same body (an export of the same size) to a file by `curl -o`, timed whole."""
    url = retrieve_url(simulator_url, create_export(simulator_url))
    path = work_dir / "plain.zip"
    flags = [item for k, v in SIMULATOR.headers().items() for item in ("-H", f"{k}: {v}")]
    argv = ["curl", "-sS", "-f", *flags, "-o", str(path), url]
    done, _ = timed_process(argv, env=child_env(), log=work_dir / "curl.log", timeout=RUN_TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"curl -o failed ({done.returncode}): see {work_dir}/curl.log")
    size = path.stat().st_size
    path.unlink()
    return {"bytes": size, "process": done.as_dict()}


def summarize(size_mib: int, trials: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    runs, curls = trials["run"], trials["curl"]
    run_s, curl_s = _seconds(runs), _seconds(curls)
    return {
        "size_mib": size_mib,
        "bytes": runs[-1]["bytes"],
        "curl_bytes": curls[-1]["bytes"],
        "whole_run_s": spread(run_s).as_dict(),
        "whole_run_mb_s": _over(runs, lambda t: t["bytes"] / t["process"]["seconds"] / 1e6),
        "curl_s": spread(curl_s).as_dict(),
        "curl_mb_s": _over(curls, lambda t: t["bytes"] / t["process"]["seconds"] / 1e6),
        "run_over_curl": paired(run_s, curl_s).as_dict(),
        "phases_s": {phase: _over(runs, partial(_phase, phase=phase)) for phase in PHASES},
        "landing_mb_s": _over(runs, lambda t: t["bytes"] / t["seconds"]["landing"] / 1e6),
        "run_cpu_s_per_gib": _over(runs, lambda t: _per_gib(t["process"]["cpu_seconds"], t)),
        "landing_cpu_s_per_gib": _over(runs, lambda t: _per_gib(t["seconds"]["landing_cpu"], t)),
        "simulator_cpu_s_per_gib": _over(runs, lambda t: _per_gib(t["simulator_cpu_seconds"], t)),
        "peak_rss_mib": max(t["process"]["peak_rss_mib"] for t in runs),
        # The kernel's peak for a child is at least this process's own: above it, it is the run's.
        "peak_rss_floor_mib": max(t["process"]["peak_rss_floor_mib"] for t in runs),
        "load_average": _over(runs + curls, lambda t: t["process"]["load_before"]),
        "trials": trials,
    }


def _over(
    trials: list[dict[str, Any]], figure: Callable[[dict[str, Any]], float]
) -> dict[str, Any]:
    """A figure's median and range over the rounds."""
    return spread([figure(t) for t in trials]).as_dict()


def _seconds(trials: list[dict[str, Any]]) -> list[float]:
    return [t["process"]["seconds"] for t in trials]


def _per_gib(seconds: float, trial: dict[str, Any]) -> float:
    return seconds * GIB / trial["bytes"]


def _phase(trial: dict[str, Any], phase: str) -> float:
    laps = trial["seconds"]
    if phase == "start-up":  # interpreter start, imports, exit: outside every lap
        inside = sum(v for k, v in laps.items() if k not in ("landing", "landing_cpu"))
        return float(trial["process"]["seconds"] - inside)
    return float(laps.get(phase, 0.0))


def goals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    smallest, largest = rows[0], rows[-1]
    found = [
        {
            "goal": f"peak RSS at {row['size_mib']} MiB within {FLAT_GOAL_MIB} MiB of "
            f"{smallest['size_mib']} MiB",
            "value": f"{row['peak_rss_mib'] - smallest['peak_rss_mib']:+.0f} MiB",
            "met": met(row["peak_rss_mib"] - smallest["peak_rss_mib"] <= FLAT_GOAL_MIB),
        }
        for row in rows[1:]
    ]
    speed, times_curl = largest["landing_mb_s"], largest["run_over_curl"]
    return [
        *found,
        {
            "goal": f"landing invocation >= {SPEED_GOAL_MB_S} MB/s at {largest['size_mib']} MiB",
            "value": f"{speed['median']:.0f} MB/s (median)",
            "met": verdict(speed, SPEED_GOAL_MB_S),
        },
        {
            "goal": f"whole run >= {WHOLE_RUN_SHARE_GOAL}x the speed of curl -o at "
            f"{largest['size_mib']} MiB (its time <= {1 / WHOLE_RUN_SHARE_GOAL:.0f}x curl -o's)",
            "value": f"{times_curl['median']:.1f}x curl -o's time (median)",
            "met": verdict(times_curl, 1 / WHOLE_RUN_SHARE_GOAL, at_most=True),
        },
        {
            "goal": f"peak RSS <= {PEAK_RSS_GOAL_MIB} MiB at every size",
            "value": f"{max(row['peak_rss_mib'] for row in rows):.0f} MiB (highest)",
            "met": met(all(row["peak_rss_mib"] <= PEAK_RSS_GOAL_MIB for row in rows)),
        },
    ]


def markdown(result: dict[str, Any]) -> str:
    head = ["export", "whole run s", "curl -o s", "whole run / curl -o",
            "peak RSS MiB", "CPU s/GiB: run / simulator", "load average"]  # fmt: skip
    rows = [
        [f"{row['size_mib']} MiB",
         f"{spread_text(row['whole_run_s'], 1)}; {row['whole_run_mb_s']['median']:.0f} MB/s",
         f"{spread_text(row['curl_s'], 2)}; {row['curl_mb_s']['median']:.0f} MB/s",
         spread_text(row["run_over_curl"], 1),
         f"{row['peak_rss_mib']:.0f}",
         f"{row['run_cpu_s_per_gib']['median']:.1f} / "
         f"{row['simulator_cpu_s_per_gib']['median']:.1f}",
         spread_text(row["load_average"], 1)]
        for row in result["rows"]
    ]  # fmt: skip
    return "\n\n".join([table(head, rows), phase_table(result), _goal_table(result)])


def phase_table(result: dict[str, Any]) -> str:
    head = ["export", *(f"{phase} s" for phase in PHASES), "landing MB/s", "landing CPU s/GiB"]
    rows = [
        [f"{row['size_mib']} MiB",
         *(spread_text(row["phases_s"][phase], 2) for phase in PHASES),
         spread_text(row["landing_mb_s"], 0),
         spread_text(row["landing_cpu_s_per_gib"], 1)]
        for row in result["rows"]
    ]  # fmt: skip
    return table(head, rows)


def _goal_table(result: dict[str, Any]) -> str:
    # From the rows, not the goals the run stored: a goal added since is judged on its figures.
    rows = [[goal["goal"], goal["value"], goal["met"]] for goal in goals(result["rows"])]
    return table(["goal", "this run", "verdict"], rows)
