"""Step Functions sends a "Step Functions Execution Status Change" event to EventBridge when a
Standard execution ends, and the account's rules get it.

moto 5.2.5 emits no Step Functions events at all, so a template's rule on them (the stack's
ExecutionEndedBadly) never fires. Here, when an execution of a Standard state machine ends
(SUCCEEDED, FAILED, TIMED_OUT, ABORTED), its status-change event, shaped as Step Functions
documents it (`detail` with executionArn, stateMachineArn, name, status, startDate and stopDate
in epoch milliseconds, input, output, error, cause), is delivered by `eventbridge_delivery` to
the default-bus rules whose pattern matches, after the execution's status and history are
final (as on AWS, a target that reads them sees the end). Not emitted: the RUNNING event of a
start, and events of Express state machines (which Step Functions does not send either).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from moto.stepfunctions.parser.api import StateMachineType
from moto.stepfunctions.parser.backend import execution

from local_aws import eventbridge_delivery

DETAIL_TYPE = "Step Functions Execution Status Change"
_MOTO_TERMINATED = execution.BaseExecutionWorkerCommunication.terminated


def _epoch_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def _text(value: Any) -> str | None:
    return None if value is None else value if isinstance(value, str) else json.dumps(value)


def status_change_event(run: execution.Execution) -> dict[str, Any]:
    """The event Step Functions puts on the default bus for `run`, which has ended."""
    output = _text(run.output)
    detail = {
        "executionArn": run.exec_arn,
        "stateMachineArn": run.state_machine_arn,
        "name": run.name,
        "status": run.exec_status.value if run.exec_status else None,
        "startDate": _epoch_ms(run.start_date),
        "stopDate": _epoch_ms(run.stop_date),
        "input": _text(run.input_data),
        "output": output,
        "inputDetails": {"included": True},
        "outputDetails": {"included": True} if output is not None else None,
        "error": run.error,
        "cause": run.cause,
    }
    return eventbridge_delivery.service_event(
        "aws.states",
        DETAIL_TYPE,
        detail,
        resources=[run.exec_arn],
        account_id=run.account_id,
        region=run.region_name,
    )


def terminated(self: execution.BaseExecutionWorkerCommunication) -> None:
    """moto's end of an execution, then its status-change event."""
    _MOTO_TERMINATED(self)
    run = self.execution
    if run.sm_type == StateMachineType.STANDARD:
        eventbridge_delivery.deliver(status_change_event(run))


# What install() replaces, by (owner, attribute): `extensions.applied` patches the same pairs
# for a while only.
PATCHES = ((execution.BaseExecutionWorkerCommunication, "terminated", terminated),)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
