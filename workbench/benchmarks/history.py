"""What an execution's history says about its bill: state transitions and Task retries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HistoryCounts:
    states_entered: int  # one billed transition each
    retries: int  # Task attempts after the first; Step Functions bills each as a transition
    most_retries_in_one_step: int
    most_throttles_in_one_step: int  # Lambda.TooManyRequestsException failures of one step

    @property
    def billed_transitions(self) -> int:
        return self.states_entered + self.retries


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    return [event for page in pages for event in page["events"]]


THROTTLED = "Lambda.TooManyRequestsException"


def count_history(events: list[dict[str, Any]]) -> HistoryCounts:
    """A retry re-schedules the Task without entering the state again: count both."""
    entered = retries = most = most_throttles = attempts = throttles = 0
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            entered += 1
            attempts = throttles = 0
        elif kind == "TaskScheduled":
            attempts += 1
            if attempts > 1:
                retries += 1
                most = max(most, attempts - 1)
        elif kind == "TaskFailed" and event["taskFailedEventDetails"].get("error") == THROTTLED:
            throttles += 1
            most_throttles = max(most_throttles, throttles)
    return HistoryCounts(entered, retries, most, most_throttles)
