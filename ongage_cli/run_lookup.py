"""Which run an id given to `status`, `wait` or `redrive` names.

Two ids, never confused: the *run id* (the execution name, which `start` prints; or the
execution's ARN) names our run; the *Ongage export id* (7000003) names the export a run created
at Ongage, which notices and reports show. A user may hold either, so both are accepted: a run
id first, then, when no run has that name, the Ongage export id of one of the most recent runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice
from typing import Any

from ongage_cli.deployment import DeployedError, Deployment
from ongage_export.adapters.step_functions import StepFunctionsRuns
from ongage_export.contract import EXECUTION_NAME
from ongage_export.domain.export_id import export_id_problem
from ongage_export.domain.run_status import parse_json

# How many of the newest runs are searched for an Ongage export id: a week of hourly
# schedules, at one or two calls each.
RECENT_RUNS = 200
# A run's export id is in the job its states carry from StartPolling on (CreateExport keeps its
# answer apart, as it may be a wait for a slot of the account's calls), among its first events;
# a create retried through every back-off, or waiting a while for a slot, stays inside these.
CREATE_EVENTS = 1000


@dataclass(frozen=True)
class FoundRun:
    """A run of the stack's state machine, and how the given id led to it."""

    arn: str
    run_id: str
    export_id: str | None = None  # the Ongage export id it was found by; None: by its run id
    other_runs: tuple[str, ...] = ()  # older runs of the same Ongage export (a redrive's origin)

    def describe(self) -> str:
        """One line saying which run was found, for an id that was an Ongage export id."""
        line = f"Ongage export {self.export_id} is run {self.run_id}"
        if self.other_runs:
            line += f" (the newest of its runs; the others: {', '.join(self.other_runs)})"
        return line


def find_run(deployment: Deployment, given: str, recent: int = RECENT_RUNS) -> FoundRun:
    """The run `given` names: a run id or execution ARN, else an Ongage export id."""
    sfn = deployment.stepfunctions()
    if given.startswith("arn:") or EXECUTION_NAME.match(given):
        arn = deployment.execution_arn(given)
        if _exists(sfn, arn):
            return FoundRun(arn, arn.rsplit(":", 1)[-1])
        if given.startswith("arn:"):
            raise DeployedError(f"no run {given} on this stack")
    if export_id_problem(given) is not None:
        raise DeployedError(
            f"{given[:100]!r} is neither a run id (letters, digits, '-' and '_', 80 at most, as "
            "`ongage-export start` printed it), an execution ARN, nor an Ongage export id"
        )
    runs = _recent_runs(sfn, deployment, recent)
    matches = [run for run in runs if _export_id(sfn, run) == given]
    if not matches:
        raise DeployedError(
            f"no run {given!r} on this stack, and none of its {recent} most recent runs created "
            f"Ongage export {given!r}: check the id (a run id as `ongage-export start` printed "
            "it, an execution ARN, or an Ongage export id), or pass --stack"
        )
    newest, *older = matches
    return FoundRun(
        newest["executionArn"], newest["name"], given, tuple(run["name"] for run in older)
    )


def export_id_of(sfn: Any, arn: str) -> str | None:
    """The Ongage export id the run created or carried on with; None before it had one."""
    return _export_id(sfn, {"executionArn": arn})


def _exists(sfn: Any, arn: str) -> bool:
    return StepFunctionsRuns(sfn).describe(arn) is not None


def _recent_runs(sfn: Any, deployment: Deployment, recent: int) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("list_executions").paginate(
        stateMachineArn=deployment.state_machine_arn, PaginationConfig={"MaxItems": recent}
    )
    runs = [run for page in pages for run in page["executions"]]
    return sorted(runs, key=lambda run: run["startDate"], reverse=True)  # newest first


def _export_id(sfn: Any, run: dict[str, Any]) -> str | None:
    """From the landed result, the resume input of a redriven run, or the CreateExport step."""
    described = sfn.describe_execution(executionArn=run["executionArn"])
    output = parse_json(described.get("output"))
    if isinstance(output, dict) and output.get("export_id") is not None:
        return str(output["export_id"])
    run_input = parse_json(described.get("input"))
    resume = run_input.get("resume") if isinstance(run_input, dict) else None
    if isinstance(resume, dict) and resume.get("export_id") is not None:
        return str(resume["export_id"])
    return _created_export_id(sfn, run["executionArn"])


def _created_export_id(sfn: Any, arn: str) -> str | None:
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=arn, PaginationConfig={"MaxItems": CREATE_EVENTS}
    )
    events = (event for page in pages for event in page["events"])
    for event in islice(events, CREATE_EVENTS):
        exited = event.get("stateExitedEventDetails") or {}
        state = parse_json(exited.get("output"))
        job = state.get("job") if isinstance(state, dict) else None
        found = job.get("export_id") if isinstance(job, dict) else None
        if found is not None:
            return str(found)
    return None
