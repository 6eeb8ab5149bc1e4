"""The throughput benchmark's summary and tables (throughput.py measures): rates and CPU per GiB
by contender, and the ratios paired per round with their goals.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from benchmarks.paired import paired, spread
from benchmarks.report import mib, spread_text, table, verdict

PIPELINE, PIPELINE_SIGNED = "pipeline", "pipeline-signed"


@dataclass(frozen=True)
class Plan:
    size_mib: int
    rounds: int = 1
    warmup: bool = False


LABELS = {
    "source": "source alone (read the Ongage body, discard)",
    "sink": "sink alone (boto3 upload_file of a local file)",
    PIPELINE: "curl | aws s3 cp - (payload unsigned, as over https)",
    PIPELINE_SIGNED: "curl | aws s3 cp - (payload signed: its default over plain http)",
    "stream": "stream (unchecked)",
    "single-pass": "single-pass (checked while streaming)",
    "staged": "staged (stream, re-read, copy)",
}


# (name, numerator, denominator, target or None): rates compared within each round.
RATIOS = (
    ("single-pass / stream", "single-pass", "stream", 0.9),
    ("single-pass / curl | aws s3 cp -", "single-pass", PIPELINE, 1.0),
    ("stream / curl | aws s3 cp -", "stream", PIPELINE, None),
    ("curl | aws s3 cp -: unsigned / signed", PIPELINE, PIPELINE_SIGNED, None),
)


# The same for CPU s per GiB, whose goal is a ceiling: the check may cost the single pass at
# most 15 % more CPU than streaming alone.
CPU_RATIOS = (("single-pass / stream, CPU s per GiB", "single-pass", "stream", 1.15),)


def summarize(plan: Plan, trials: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    contenders = {name: _contender_summary(rounds) for name, rounds in trials.items()}
    ratios = [
        {"name": name, "target": target, **paired(_rates(trials[a]), _rates(trials[b])).as_dict()}
        for name, a, b, target in RATIOS
    ]
    cpu_ratios = [
        {"name": name, "target": target, **paired(_cpus(trials[a]), _cpus(trials[b])).as_dict()}
        for name, a, b, target in CPU_RATIOS
    ]
    load = [t["process"]["load_before"] for rounds in trials.values() for t in rounds]
    return {
        "size_mib": plan.size_mib,
        "rounds": plan.rounds,
        "warmup": plan.warmup,
        "cores": os.cpu_count(),
        "contenders": contenders,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "load_average": spread(load).as_dict(),
        "trials": trials,
    }


def _rates(rounds: list[dict[str, Any]]) -> list[float]:
    return [t["mb_s"] for t in rounds]


def _cpus(rounds: list[dict[str, Any]]) -> list[float]:
    return [t["cpu_s_per_gib"] for t in rounds]


def _contender_summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    last = rounds[-1]
    summary = {
        "bytes": last["bytes"],
        "mb_s": spread(_rates(rounds)).as_dict(),
        "cpu_s_per_gib": spread([t["cpu_s_per_gib"] for t in rounds]).as_dict(),
        "peak_rss_mib": max((t["peak_rss_mib"] or 0.0) for t in rounds) or None,
    }
    for field in ("read_back_per_byte", "put_class_per_gib", "get_class_per_gib"):
        if field in last:
            summary[field] = last[field]
    return summary


def markdown(result: dict[str, Any]) -> str:
    return "\n\n".join([_rate_table(result), ratio_table(result), _note(result)])


def _rate_table(result: dict[str, Any]) -> str:
    rows = []
    for name, label in LABELS.items():
        c = result["contenders"][name]
        requests = (
            f"{c['put_class_per_gib']:.0f} / {c['get_class_per_gib']:.0f}"
            if "put_class_per_gib" in c
            else "-"
        )
        read_back = f"{c['read_back_per_byte']:.2f}" if "read_back_per_byte" in c else "-"
        rows.append([label, spread_text(c["mb_s"], 0), spread_text(c["cpu_s_per_gib"], 1),
                     _mib(c["peak_rss_mib"]), read_back, requests])  # fmt: skip
    head = ["contender (whole process)", "MB/s median (min-max)", "CPU s per GiB",
            "peak RSS MiB", "S3 bytes read back per byte",
            "PUT / GET requests per GiB"]  # fmt: skip
    return table(head, rows)


def _mib(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def ratio_table(result: dict[str, Any]) -> str:
    """The paired ratios of rates (goals are floors), then those of CPU (goals are ceilings)."""
    rows = [_ratio_row(r, at_most=False) for r in result["ratios"]]
    rows += [_ratio_row(r, at_most=True) for r in result.get("cpu_ratios", [])]
    return table(["paired ratio", "median (min-max)", "goal", "verdict"], rows)


def _ratio_row(ratio: dict[str, Any], *, at_most: bool) -> list[str]:
    target = ratio["target"]
    if target is None:
        return [ratio["name"], spread_text(ratio, 2), "-", "-"]
    goal = f"{'<=' if at_most else '>='} {target}"
    return [ratio["name"], spread_text(ratio, 2), goal, verdict(ratio, target, at_most=at_most)]


def _note(result: dict[str, Any]) -> str:
    load = result["load_average"]
    return (
        f"Body {mib(result['contenders']['stream']['bytes'])}; {result['rounds']} interleaved "
        f"rounds; parts {result['part_size_mib']} MiB x {result['concurrency']}; load average "
        f"{spread_text(load, 1)} before the contenders."
    )
