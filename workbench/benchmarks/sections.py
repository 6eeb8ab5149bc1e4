"""The benchmark's sections: each one's title and how its result renders as Markdown (the run
prints it, `publish` writes it into docs/benchmarks.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from benchmarks import cost, curated, local_run, memory, recurring, scale, throughput, zip_check

TITLES: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "memory": ("Memory: peak RSS of the retrieve handler's process", memory.markdown),
    "throughput": ("Throughput of the landing step", throughput.markdown),
    "zip-check": ("CPU of the ZIP check: streaming, stream-unzip, re-read", zip_check.markdown),
    "curated": ("The consumer: CSV -> Parquet speed, memory and size", curated.markdown),
    "local-run": (
        "Local run: `ongage-export run --out` beside `curl -o` of the same body",
        local_run.markdown,
    ),
    "cost": ("Cost per export", cost.markdown),
    "recurring": ("Recurring exports: learned polling over the runs of one schedule",
                  recurring.markdown),
    "scale": ("Scale: exports started together", scale.markdown),
}  # fmt: skip
