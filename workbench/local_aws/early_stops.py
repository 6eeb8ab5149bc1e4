"""StopExecution is accepted the moment StartExecution has answered, as Step Functions accepts it.

moto 5.2.5 starts an execution's worker thread, which builds the execution's environment a
moment later; a StopExecution that arrives before then fails with
"'NoneType' object has no attribute 'set_stop'" (an operator who stops a run they just started
by mistake, or a CLI interrupted right after its start). Here the stop waits for that
environment, which the already running thread is about to create, and then stops the run.
"""

from __future__ import annotations

import datetime
import time

from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

# The worker thread parses the definition and builds the environment first: milliseconds,
# seconds on a loaded machine. Past this, something else is wrong and moto's error shows it.
ENVIRONMENT_WAIT_SECONDS = 10.0
_original = ExecutionWorker.stop


def stop(
    self: ExecutionWorker, stop_date: datetime.datetime, error: str | None, cause: str | None
) -> None:
    deadline = time.monotonic() + ENVIRONMENT_WAIT_SECONDS
    while getattr(self, "env", None) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    _original(self, stop_date=stop_date, error=error, cause=cause)


# What install() replaces, by (owner, attribute): `extensions.applied` patches the same pairs
# for a while only.
PATCHES = ((ExecutionWorker, "stop", stop),)


def install() -> None:
    for owner, attribute, replacement in PATCHES:
        setattr(owner, attribute, replacement)
