"""Step Functions as the run status reads it: one execution, and the latest job a run carried."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from ongage_export.domain.run_status import parse_json

NOT_FOUND_ERRORS = ("ExecutionDoesNotExist", "InvalidArn")


class StepFunctionsRuns:
    """The domain's `Executions` over a boto3 Step Functions client."""

    def __init__(self, sfn: Any):
        self.sfn = sfn

    def describe(self, execution_arn: str) -> Mapping[str, Any] | None:
        try:
            described: Mapping[str, Any] = self.sfn.describe_execution(executionArn=execution_arn)
        except ClientError as error:
            if error.response["Error"]["Code"] in NOT_FOUND_ERRORS:
                return None
            raise
        return described


def latest_progress(sfn: Any, execution_arn: str) -> tuple[str | None, dict[str, Any] | None]:
    """The state the run entered last, and the newest job a state carried in or out.

    The whole history is read in order, in pages of 1000 (a run of 500 polls is ~3 pages):
    simpler than trusting every implementation's `reverseOrder` (moto ignores it).
    """
    state, job = None, None
    pages = sfn.get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 1000}
    )
    for event in (event for page in pages for event in page["events"]):
        entered = event.get("stateEnteredEventDetails")
        if entered:
            state = entered.get("name")
        details = entered or event.get("stateExitedEventDetails") or {}
        carried = parse_json(details.get("input") or details.get("output"))
        if isinstance(carried, dict) and isinstance(carried.get("job"), dict):
            job = carried["job"]
    return state, job
