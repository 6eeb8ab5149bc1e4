"""What a chaos case came to: the problems of its runs (not landed or failed as expected, more
than one Ongage export or notice, uploads left open, partial objects) and the table of all
cases.
"""

from __future__ import annotations

from fault_injection.deployed_cases import (
    DeployedResult,
)


def check(result: DeployedResult) -> list[str]:
    problems = []
    for run in result.runs:
        if result.case.expect == "landed" and not (
            run.status == "SUCCEEDED" and run.byte_identical
        ):
            problems.append(f"{run.execution_arn.rsplit(':', 1)[-1]} {run.status} {run.error}")
        if result.case.expect == "failed" and (run.status, run.error) != (
            "FAILED", result.case.error or run.error,
        ):  # fmt: skip
            problems.append(f"{run.execution_arn.rsplit(':', 1)[-1]} {run.status} {run.error}")
        if run.exports_created > 1:
            problems.append(f"{run.exports_created} Ongage exports for one run")
        if run.notices != 1:
            problems.append(f"{run.notices} notices for one run")
    if result.open_uploads:
        problems.append(f"{result.open_uploads} uploads left open")
    if result.partial_objects:
        problems.append(f"{result.partial_objects} partial objects")
    return problems


def table(results: list[DeployedResult]) -> str:
    head = ["| case | runs | landed | failed as expected | exports created per run "
            "| open uploads | partial objects | notices per run | anything lost | seconds |",
            "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    return "\n".join(head + [result.row() for result in results])
