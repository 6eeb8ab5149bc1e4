"""Compiled wheels in a deployment package are built for Lambda's platform, not this host.

The bundle carries, for example, `pydantic_core` built for arm64 and the Lambda runtime's
Python: this machine cannot load it, and it has no pure-Python fallback. Where this host has the
*same version* of such a distribution installed (the project pins both alike), the package's
copy is removed from the unpacked folder so the host's build is imported instead: the same code,
built for here. A foreign distribution the host lacks in that version stays (some, like wrapt,
fall back to pure Python); if it cannot be imported, the invocation fails with
Runtime.ImportModuleError, as it would on Lambda.
"""

from __future__ import annotations

import csv
import importlib.metadata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag, parse_tag, sys_tags


@dataclass(frozen=True)
class Distribution:
    name: str
    version: str
    tags: frozenset[Tag]
    files: tuple[str, ...]  # relative to the folder the wheel was installed into

    @classmethod
    def of(cls, dist_info: Path) -> Distribution:
        name, _, version = dist_info.name.removesuffix(".dist-info").partition("-")
        return cls(name, version, wheel_tags(dist_info), recorded_files(dist_info))

    def loads_here(self) -> bool:
        return not self.tags or not self.tags.isdisjoint(sys_tags())


def wheel_tags(dist_info: Path) -> frozenset[Tag]:
    wheel = dist_info / "WHEEL"
    lines = wheel.read_text().splitlines() if wheel.exists() else []
    values = (line.partition(":")[2].strip() for line in lines if line.startswith("Tag:"))
    return frozenset(tag for value in values for tag in parse_tag(value))


def recorded_files(dist_info: Path) -> tuple[str, ...]:
    record = dist_info / "RECORD"
    if not record.exists():
        return ()
    with record.open(newline="") as rows:
        return tuple(row[0] for row in csv.reader(rows) if row)


def foreign_distributions(code_dir: Path) -> Iterator[Distribution]:
    for dist_info in sorted(code_dir.glob("*.dist-info")):
        distribution = Distribution.of(dist_info)
        if not distribution.loads_here():
            yield distribution


def host_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def use_host_builds(code_dir: Path) -> list[str]:
    """Drop the foreign builds this host has in the same version; returns their names."""
    root = code_dir.resolve()
    dropped = []
    for distribution in foreign_distributions(code_dir):
        if host_version(distribution.name) != distribution.version:
            continue
        for relative in distribution.files:
            path = (root / relative).resolve()
            if path.is_relative_to(root) and path.is_file():
                path.unlink()
        dropped.append(distribution.name)
    return dropped
