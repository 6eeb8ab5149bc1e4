"""`python -m fault_injection [CASE-SUBSTRING...]`: run the matrix, print the table for README.

`python -m fault_injection --deployed [CASE-SUBSTRING...]`: the chaos suite instead (deployed.py),
on the synthesized stack (`make synth`) deployed into a local AWS of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Protocol, TypeVar

from fault_injection import deployed, deployed_cases
from fault_injection.matrix import run_case, table
from fault_injection.matrix_cases import CASES


class _Named(Protocol):
    @property
    def name(self) -> str: ...


Case = TypeVar("Case", bound=_Named)


def named(cases: Sequence[Case], argv: list[str]) -> list[Case]:
    """The cases whose name holds one of `argv` (case-insensitive); all without any."""
    return [c for c in cases if not argv or any(a.lower() in c.name.lower() for a in argv)]


def main(argv: list[str]) -> int:
    if argv[:1] == ["--deployed"]:
        return chaos(argv[1:])
    chosen = named(CASES, argv)
    results = []
    for case in chosen:
        result = run_case(case)
        print(result.row(), file=sys.stderr, flush=True)
        results.append(result)
    print(table(results))
    runs = sum(len(r.statuses) for r in results)
    print(f"\n{len(results)} faults injected, {runs} runs, "
          f"{sum(not r.ok for r in results)} cases with something lost or leaked")  # fmt: skip
    return 0 if all(r.ok for r in results) else 1


def chaos(argv: list[str]) -> int:
    results = []
    with deployed.local_target() as target:
        for case in named(deployed_cases.CASES, argv):
            result = deployed.run_case(target, case)
            print(result.row(), file=sys.stderr, flush=True)
            results.append(result)
    print(deployed.table(results))
    print(f"\n{len(results)} crash cases on the deployed stack, "
          f"{sum(len(r.runs) for r in results)} runs, "
          f"{sum(not r.ok for r in results)} cases with something lost or left behind")  # fmt: skip
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
