"""An execution started without a name gets one, as Step Functions gives it.

StartExecution's `name` is optional (the console, `aws stepfunctions start-execution` and
EventBridge targets leave it out); Step Functions then names the run with a UUID. moto 5.2.5's
executing backend keeps None, so the second such run "already exists" and every listing shows
`name: None`.
"""

from __future__ import annotations

import uuid
from typing import Any

from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_original = StepFunctionsParserBackend.start_execution


def start_execution(
    self: StepFunctionsParserBackend,
    state_machine_arn: str,
    name: Any = None,
    *args: Any,
    **kw: Any,
) -> Any:
    return _original(self, state_machine_arn, name or str(uuid.uuid4()), *args, **kw)


PATCHES = ((StepFunctionsParserBackend, "start_execution", start_execution),)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
