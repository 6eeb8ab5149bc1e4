"""`python -m benchmarks.run [--small] [--out DIR] [--only SECTION,...]`

Runs the benchmarks one section after another, prints their Markdown tables on stdout (progress
goes to stderr) and writes every number to `DIR/bench-<time>[-small].json` (and the tables to
the `.md` beside it). `--small` is the quick variant CI runs to keep the benchmarks working.
A section that fails is recorded as such and the others still run; the exit status says so.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import (
    cost,
    curated,
    fleet,
    local_run,
    memory,
    publish,
    recurring,
    scale,
    throughput,
    zip_check,
)
from benchmarks.report import machine, machine_markdown
from benchmarks.sections import renderer, title


@dataclass(frozen=True)
class Section:
    title: str
    measure: Callable[[Path], dict[str, Any]]
    markdown: Callable[[dict[str, Any]], str]


def sections(small: bool) -> dict[str, Section]:
    sizes = memory.SMALL_SIZES_MIB if small else memory.FULL_SIZES_MIB
    plan = throughput.SMALL if small else throughput.FULL
    measures: dict[str, Callable[[Path], dict[str, Any]]] = {
        "memory": lambda work: memory.run(sizes, work),
        "throughput": lambda work: throughput.run(plan, work),
        "zip-check": lambda work: zip_check.run(
            zip_check.SMALL_SIZE_MIB if small else zip_check.FULL_SIZE_MIB, work
        ),
        "curated": lambda work: curated.run(
            curated.SMALL_SIZE_MIB if small else curated.FULL_SIZE_MIB, work
        ),
        "local-run": lambda work: local_run.run(
            local_run.SMALL_SIZES_MIB if small else local_run.FULL_SIZES_MIB,
            work,
            local_run.SMALL_ROUNDS if small else local_run.FULL_ROUNDS,
        ),
        "cost": lambda work: cost.run(cost.SMALL_SAMPLES if small else cost.FULL_SAMPLES),
        "recurring": lambda work: recurring.run(
            recurring.SMALL_SCHEDULES if small else recurring.FULL_SCHEDULES
        ),
        "scale": lambda work: scale.run(scale.SMALL_EXECUTIONS if small else scale.FULL_EXECUTIONS),
        "fleet": lambda work: fleet.run(fleet.SMALL_SIZE if small else fleet.FULL_SIZE),
    }
    return {
        name: Section(title(name), measure, renderer(name)) for name, measure in measures.items()
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--small", action="store_true", help="small sizes only (CI)")
    parser.add_argument("--out", type=Path, default=Path(".bench"), help="where the JSON goes")
    parser.add_argument("--only", default="", help="comma-separated sections (default: all)")
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="a full run of every section writes workbench/benchmarks/results.json and the "
        "docs' figures (benchmarks.publish); this skips that",
    )
    return parser.parse_args(argv)


def quiet_emulator_logs() -> None:
    # moto logs every failed Task attempt at ERROR with the whole state's repr; throttled
    # invokes are expected here (the workflow retries them) and would bury the tables.
    logging.getLogger("moto").setLevel(logging.CRITICAL)


def run_section(name: str, section: Section, work_dir: Path) -> dict[str, Any]:
    print(f"[bench] {name} ...", file=sys.stderr, flush=True)
    started = time.monotonic()
    try:
        # stdout carries only the tables: whatever the measured code prints goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            result = section.measure(work_dir)
        text = section.markdown(result)
        outcome = {"ok": True, "result": result, "markdown": text}
    except Exception as error:  # one broken section must not hide the others' numbers
        traceback.print_exc()
        outcome = {"ok": False, "error": f"{type(error).__name__}: {error}", "markdown": ""}
    outcome["seconds"] = time.monotonic() - started
    print(f"[bench] {name} done in {outcome['seconds']:.0f} s", file=sys.stderr, flush=True)
    return outcome


def render(report: dict[str, Any], chosen: dict[str, Section]) -> str:
    parts = [machine_markdown(report["machine"])]
    for name, section in chosen.items():
        outcome = report["sections"][name]
        body = outcome["markdown"] if outcome["ok"] else f"FAILED: {outcome['error']}"
        parts.append(f"### {section.title}\n\n{body}")
    return "\n\n".join(parts) + "\n"


def published(report: dict[str, Any]) -> None:
    """The run's results beside the docs, and the docs' figures rendered from them."""
    results = {
        "date": report["started_at"][:16].replace("T", " "),
        "minutes": report["seconds"] / 60,
        "machine": report["machine"],
        "load_average": report["load_average"],
        "sections": {
            name: {k: v for k, v in outcome.items() if k != "markdown"}
            for name, outcome in report["sections"].items()
        },
    }
    publish.RESULTS.write_text(json.dumps(results, indent=1, default=str) + "\n")
    publish.write(publish.load())  # from the file, as --check reads it


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_emulator_logs()
    if not args.out.exists():
        args.out.mkdir(parents=True)
        (args.out / ".gitignore").write_text("*\n")  # results of this machine, not sources
    available = sections(args.small)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()] or list(available)
    unknown = set(wanted) - set(available)
    if unknown:
        raise SystemExit(f"unknown sections {sorted(unknown)}; known: {list(available)}")
    chosen = {name: available[name] for name in wanted}
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S") + ("-small" if args.small else "")
    work_dir = args.out / f"work-{stamp}"
    started, load_start = time.monotonic(), os.getloadavg()[0]
    report: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "small": args.small,
        "machine": machine(),
        "sections": {name: run_section(name, s, work_dir) for name, s in chosen.items()},
    }
    report["seconds"] = time.monotonic() - started
    report["load_average"] = {"start": load_start, "end": os.getloadavg()[0]}
    if not (args.small or args.only or args.no_publish):
        published(report)
    text = render(report, chosen)
    (args.out / f"bench-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    (args.out / f"bench-{stamp}.md").write_text(text)
    print(text)
    print(f"[bench] wrote {args.out / f'bench-{stamp}.json'}", file=sys.stderr)
    return 0 if all(o["ok"] for o in report["sections"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
