"""A Task `arn:aws:states:::states:startExecution.sync:2` starts a child execution and waits.

moto 5.2.5 took LocalStack's interpreter without its name mapping between the ASL and the API:
a Step Functions task's Parameters are PascalCase as AWS documents them (`StateMachineArn`,
`Name`, `Input`), while boto3's StartExecution takes `stateMachineArn`, `name`, `input`
(botocore refuses the call with KeyError 'StateMachineArn'); and AWS answers the task in
PascalCase (`ExecutionArn`, `Output`, `Status`, `Error`, `Cause`...), which the interpreter's
own waiting code also expects, while boto3 answers in camelCase. Here both directions are
mapped for the Step Functions integration only, at the top level (the child's input and output
are left as they are).
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_sfn,
)

_Service = state_task_service_sfn.StateTaskServiceSfn
_moto_normalise_parameters = _Service._normalise_parameters


def to_api_parameters(parameters: dict[str, Any]) -> None:
    """`StateMachineArn` -> `stateMachineArn`, in place."""
    for key in list(parameters):
        parameters[key[:1].lower() + key[1:]] = parameters.pop(key)


def to_task_result(response: Any) -> None:
    """`executionArn` -> `ExecutionArn`, in place."""
    if isinstance(response, dict):
        for key in list(response):
            response[key[:1].upper() + key[1:]] = response.pop(key)


def _normalise_parameters(
    self: Any,
    parameters: dict[str, Any],
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    _moto_normalise_parameters(self, parameters, boto_service_name, service_action_name)
    to_api_parameters(parameters)


def _normalise_response(
    self: Any,
    response: Any,
    boto_service_name: str | None = None,
    service_action_name: str | None = None,
) -> None:
    to_task_result(response)


PATCHES = (
    (_Service, "_normalise_parameters", _normalise_parameters),
    (_Service, "_normalise_response", _normalise_response),
)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
