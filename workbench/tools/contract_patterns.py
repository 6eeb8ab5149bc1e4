"""The key patterns the published contracts state, written from the code that makes the keys.

    python -m tools.contract_patterns            # rewrite the patterns in contracts/
    python -m tools.contract_patterns --check    # exit 1 if a contract states another pattern

A contract is documentation a consumer validates against, hand-written for its descriptions;
only the patterns of the key layout are generated (ongage_export.domain.object_keys), so a change to
the layout reaches them here instead of being copied by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ongage_export.contract import EXPORT_PREFIX
from ongage_export.domain.object_keys import export_key_pattern

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"
# (file, the path to the "pattern" in it) -> the pattern that belongs there.
PATTERNS = {
    ("sns-success.schema.json", ("properties", "key")): export_key_pattern(EXPORT_PREFIX),
    (
        "s3-object-created.schema.json",
        ("properties", "detail", "properties", "object", "properties", "key"),
    ): export_key_pattern(EXPORT_PREFIX, equals="(=|%3D)"),
}


def stated(schema: dict[str, Any], path: tuple[str, ...]) -> str:
    node: Any = schema
    for part in path:
        node = node[part]
    return str(node["pattern"])


def stale(folder: Path = CONTRACTS) -> list[str]:
    """The contracts whose pattern is not the code's, each with what it should be."""
    return [
        f"{name}: {'/'.join(path)} states {old!r}, the code makes {new!r}"
        for (name, path), new in PATTERNS.items()
        if (old := stated(json.loads((folder / name).read_text()), path)) != new
    ]


def write(folder: Path = CONTRACTS) -> None:
    """Replace each stale pattern in place, keeping the file's hand-made layout."""
    for (name, path), new in PATTERNS.items():
        file = folder / name
        text = file.read_text()
        old = stated(json.loads(text), path)
        file.write_text(text.replace(json.dumps(old), json.dumps(new), 1))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.contract_patterns")
    parser.add_argument("--check", action="store_true", help="only say what is stale")
    parser.add_argument("--contracts", type=Path, default=CONTRACTS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.check:
        write(args.contracts)
    problems = stale(args.contracts)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems and args.check:
        print("run `python -m tools.contract_patterns`", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
