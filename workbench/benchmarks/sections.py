"""The benchmark's sections: each one's title and the module whose `markdown` renders its
result (the run prints it, `publish` writes it into docs/benchmarks.md). Renderers are
imported when used: rendering a results file must not start what measuring needs (moto)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

Renderer = Callable[[dict[str, Any]], str]

SECTIONS: dict[str, tuple[str, str]] = {
    "memory": ("Memory: peak RSS of the retrieve handler's process", "memory"),
    "throughput": ("Throughput of the landing step", "throughput_report"),
    "zip-check": ("CPU of the ZIP check: streaming, stream-unzip, re-read", "zip_check"),
    "curated": ("The consumer: CSV -> Parquet speed, memory and size", "curated"),
    "local-run": (
        "Local run: `ongage-export run --out` beside `curl -o` of the same body", "local_run",
    ),
    "cost": ("Cost per export", "cost"),
    "recurring": ("Recurring exports: learned polling over the runs of one schedule",
                  "recurring"),
    "scale": ("Scale: exports started together", "scale"),
    "fleet": ("Fleet: a day of many accounts' exports, on a simulated clock", "fleet_report"),
}  # fmt: skip


def title(name: str) -> str:
    return SECTIONS[name][0]


def renderer(name: str) -> Renderer:
    markdown: Renderer = importlib.import_module(f"benchmarks.{SECTIONS[name][1]}").markdown
    return markdown
