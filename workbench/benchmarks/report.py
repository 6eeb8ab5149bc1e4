"""Markdown tables and the description of the machine the numbers came from."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any


def table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|")  # a pipe would end the cell


def mib(size: int | float | None) -> str:
    """A byte count as MiB or GiB, the way the tables name export sizes."""
    if size is None:
        return "?"
    if size >= 1024**3:
        return f"{size / 1024**3:.3g} GiB"
    return f"{size / 1024**2:.3g} MiB"


def met(ok: bool) -> str:
    """A goal's verdict, as the tables print it."""
    return "met" if ok else "NOT met"


def spread_text(figure: dict[str, Any], digits: int) -> str:
    """A median with its range over rounds: `1.07 (0.98-1.21)`."""
    median, low, high = (f"{figure[k]:.{digits}f}" for k in ("median", "min", "max"))
    return f"{median} ({low}-{high})"


def verdict(figure: dict[str, Any], target: float, *, at_most: bool = False) -> str:
    """Against a `>=` goal (`<=` if `at_most`): met only if every round met it, not met if none
    did."""
    worst, best = (figure["max"], figure["min"]) if at_most else (figure["min"], figure["max"])
    meets = (lambda value: value <= target) if at_most else (lambda value: value >= target)
    if meets(worst):
        return "met in every round"
    if not meets(best):
        return "NOT met in any round"
    return "met in some rounds only"


def dollars(amount: float) -> str:
    return f"${amount:.6f}" if amount < 0.01 else f"${amount:.4f}"


def machine() -> dict[str, Any]:
    """What the numbers depend on: cores, CPU, memory, Python and the emulator versions."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": {name: _version(name) for name in ("boto3", "moto", "requests", "awscli")},
    }


def machine_markdown(info: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v)
    return (
        f"Machine: {info['nproc']} cores ({info['cpu_model']}), {info['memory_gib']} GiB RAM, "
        f"Python {info['python']}, {info['platform']}; {versions}."
    )


def _cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemTotal:\s+(\d+) kB", text, re.MULTILINE)
    return round(int(match.group(1)) / 1024**2, 1) if match else None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
