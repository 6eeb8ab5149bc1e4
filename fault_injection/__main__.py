"""`python -m fault_injection [CASE-SUBSTRING...]`: run the matrix, print the table for README."""

from __future__ import annotations

import sys

from fault_injection.matrix import CASES, run_case, table


def main(argv: list[str]) -> int:
    chosen = [c for c in CASES if not argv or any(a.lower() in c.name.lower() for a in argv)]
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
