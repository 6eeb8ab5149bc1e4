"""A notice for each run that ended FAILED, TIMED_OUT or ABORTED without one from the workflow.

The workflow announces its own failures (a Catch -> DescribeFailure -> NotifyFailure) and its
successes (NotifySuccess). Some ends are out of any Catch's sight: a States.Runtime error, the
failure notice itself failing to publish, the whole execution timing out, a manual stop.
EventBridge sends every FAILED / TIMED_OUT / ABORTED end here, and the run is announced here
only when its history shows that no notice state of the workflow completed (NOTICE_STATES left
with a StateExited event): so each run gets exactly one notice, from one side or the other.

Why the history and not a marker of our own: Step Functions writes it, it is complete when the
status-change event is sent, and it needs no table or extra state in the workflow. Read newest
first, the notice state, when it ran, is among the last few events. One window remains: a run
stopped (or timed out) after the notice was published but before its state exited is announced
twice; it is a few milliseconds of an SNS call's reply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

# The workflow's SNS publish states (statemachine/export.asl.json; tied by a contract test).
NOTICE_STATES = frozenset({"NotifyFailure", "NotifySuccess"})
ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")
STATUS_CHANGE = "Step Functions Execution Status Change"
NOTICE_SUBJECT = "Ongage export {status}"
NOTICE_TEXT = (
    "The Ongage export workflow execution ended {status} without a notice of its own; "
    "see its history in the Step Functions console."
)


class NotAnEndedRun(ValueError):
    """The event is not a Step Functions status change to FAILED, TIMED_OUT or ABORTED."""


@dataclass(frozen=True)
class EndedRun:
    """What a status-change event says about the execution that ended."""

    execution_arn: str
    execution_name: str
    state_machine_arn: str
    status: str
    error: str | None
    cause: str | None
    started_at_ms: int | None
    stopped_at_ms: int | None

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> EndedRun:
        kind, detail = (
            (event.get("detail-type"), event.get("detail"))
            if isinstance(event, Mapping)
            else (None, None)
        )
        if kind != STATUS_CHANGE or not isinstance(detail, Mapping):
            raise NotAnEndedRun(f"expected a {STATUS_CHANGE!r} event with a detail object")
        if detail.get("status") not in ENDED_BADLY or not detail.get("executionArn"):
            raise NotAnEndedRun(
                f"expected an execution ended {'/'.join(ENDED_BADLY)} with its executionArn, "
                f"got status {detail.get('status')!r}"
            )
        return cls(
            execution_arn=str(detail["executionArn"]),
            execution_name=str(detail.get("name") or ""),
            state_machine_arn=str(detail.get("stateMachineArn") or ""),
            status=str(detail["status"]),
            error=detail.get("error"),
            cause=detail.get("cause"),
            started_at_ms=detail.get("startDate"),
            stopped_at_ms=detail.get("stopDate"),
        )


def announced_by_workflow(history: Iterable[Mapping[str, Any]]) -> bool:
    """Whether a notice state of the workflow completed (stops at the first one found)."""
    return any(
        (event.get("stateExitedEventDetails") or {}).get("name") in NOTICE_STATES
        for event in history
    )


def notice(run: EndedRun) -> dict[str, Any]:
    """The message: the workflow's failure notice fields (contracts/sns-failure.schema.json for
    a FAILED run), plus what the event adds. A run ended without an error name (a timeout, a
    stop without one) reports its status as the error."""
    text = NOTICE_TEXT.format(status=run.status)
    return {
        **asdict(run),
        "error": run.error or run.status,
        "cause": run.cause if run.cause is not None else text,
        "notice": text,
        "export_id": None,
        "list_id": None,
        "request_name": None,
        "source": "eventbridge",
    }


def announce_unless_announced(
    run: EndedRun,
    history: Iterable[Mapping[str, Any]],
    publish: Callable[[dict[str, Any]], None],
) -> bool:
    """Publish the run's notice unless the workflow did; True when published here."""
    if announced_by_workflow(history):
        return False
    publish(notice(run))
    return True
