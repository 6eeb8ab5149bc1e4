"""A batch on a deployed stack: `start BATCH.json` starts the batch workflow
(statemachine/batch.asl.json); `status` and `wait` of a batch run show the batch's outcome and
each export's, read from the batch notice the workflow published (its output when every export
landed, else the `DescribeBatch` step's output in its history). A running batch shows only that
it runs: each export run can be followed on its own (the batch notice names them once it ends).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ongage_cli.deployment import DeployedError, Deployment
from ongage_cli.starting import start_execution, start_via_api
from ongage_export.adapters.step_functions import StepFunctionsRuns
from ongage_export.contract import EXECUTION_NAME
from ongage_export.domain.batch import is_batch
from ongage_export.domain.run_status import execution_arn, parse_json, status_view

# The batch workflow's state whose output is the batch notice (statemachine/batch.asl.json).
NOTICE_STATE = "DescribeBatch"


def batch_machine(deployment: Deployment) -> str:
    if deployment.batch_machine_arn is None:
        raise DeployedError(
            "the stack has no BatchStateMachineArn output: deploy this version of the stack to "
            "run batches"
        )
    return deployment.batch_machine_arn


def start_batch(
    deployment: Deployment, key: str, batch: Mapping[str, Any], polling: dict[str, int], api: bool
) -> dict[str, Any]:
    """Start the batch workflow with `batch` (and polling overrides for every export), through
    Step Functions or the API (POST /exports with `batch`)."""
    overrides = {"polling": polling} if polling else {}
    if api:
        started = start_via_api(deployment, key, {"batch": dict(batch), **overrides})
    else:
        machine = batch_machine(deployment)
        started = start_execution(deployment, key, {**batch, **overrides}, machine=machine)
    return {**started, "batch": True}


def find_batch(deployment: Deployment, given: str) -> str | None:
    """The execution ARN of the batch run `given` names (its run id, or its ARN), or None when
    it names no batch run."""
    if given.startswith("arn:"):
        arn = given
    elif deployment.batch_machine_arn and EXECUTION_NAME.match(given):
        arn = execution_arn(given, deployment.batch_machine_arn)
    else:
        return None
    described = StepFunctionsRuns(deployment.stepfunctions()).describe(arn)
    if described is None or not is_batch(parse_json(described.get("input"))):
        return None
    return arn


def batch_report(deployment: Deployment, arn: str) -> dict[str, Any]:
    """The batch's status, times, and once it ended, its error and every export's outcome."""
    sfn = deployment.stepfunctions()
    described = sfn.describe_execution(executionArn=arn)
    view = status_view(described)
    view.pop("result", None)  # the notice, shown as `exports` below
    batch = parse_json(described.get("input"))
    report = {"kind": "batch", **view, "exports_total": len(batch.get("exports", []))}
    if described["status"] == "RUNNING":
        return report
    notice = (
        parse_json(described.get("output"))
        if described["status"] == "SUCCEEDED"
        else _notice_in_history(sfn, arn)
    )
    if isinstance(notice, Mapping):
        report["exports"] = notice.get("exports", [])
    return report


def _notice_in_history(sfn: Any, arn: str) -> Any:
    """The batch notice, as the step that built it passed it on; None when the batch ended
    before it (timed out, stopped). Read in order: moto ignores `reverseOrder`."""
    notice = None
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=arn, PaginationConfig={"PageSize": 1000}
    )
    for event in (event for page in pages for event in page["events"]):
        exited = event.get("stateExitedEventDetails") or {}
        if exited.get("name") == NOTICE_STATE:
            notice = parse_json(exited.get("output"))
    return notice


def format_batch_report(report: Mapping[str, Any]) -> str:
    lines = [
        f"batch run      {report['run_id']}",
        f"status         {report['status']}",
        f"exports        {report['exports_total']}",
    ]
    for key in ("started_at", "stopped_at", "error", "cause"):
        if report.get(key):
            lines.append(f"{key.replace('_', ' '):<14} {report[key]}")
    for export in report.get("exports", []):
        lines.append(f"  [{export['index']}] {_outcome(export)}")
    return "\n".join(lines)


def _outcome(export: Mapping[str, Any]) -> str:
    account = f"account {export['account']}"
    if export["status"] == "SUCCEEDED":
        where = f"s3://{export['bucket']}/{export['key']}"
        return f"SUCCEEDED  Ongage export {export['export_id']}  {where}  ({account})"
    run = f"; run {export['execution_arn']}" if export.get("execution_arn") else ""
    return f"FAILED  {export['error']}: {export['cause']}  ({account}{run})"
