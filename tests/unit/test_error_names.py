"""The ASL matches errors by exception class name: the names must stay in step with the code.

- Every name in a Retry or Catch of the workflow is an error the workflow's code raises, or one
  that AWS itself reports (States.*, Lambda.*, Sandbox.*).
- Every error the export functions raise on purpose is either retried by the ASL or listed here
  as ending the run at once, so a new error class needs a decision, not an accident.
"""

from __future__ import annotations

import json

import pytest

from ongage_export.domain import errors
from statemachine import ASL_FILE

AWS_PREFIXES = ("States.", "Lambda.", "Sandbox.", "Runtime.")
# What a dead invocation is reported as: Step Functions documents Lambda.Unknown for unhandled
# errors (out of memory, timeouts; "Handle Lambda service exceptions" in its guide); Lambda's
# own errorType for them, which Step Functions passes on as the error name, is
# Runtime.ExitError (the runtime exited or was killed), Runtime.OutOfMemory, Sandbox.Timedout.
DIED = {"Lambda.Unknown", "Runtime.ExitError", "Runtime.OutOfMemory", "Sandbox.Timedout"}
# Raised on purpose and never retried: retrying cannot change the answer.
ENDS_THE_RUN_AT_ONCE = {
    "OngageAuthError",  # wrong credentials or no API access
    "OngageRequestRejected",  # Ongage refused the request as invalid
    "StorageAccessDenied",  # the function's role or the bucket policy forbids the write
    "DownloadNotResumable",  # too large for one invocation, and Ongage ignores Range
    "InvalidPollingPolicy",  # the run's polling overrides are out of bounds
    "InvalidExportRequest",  # the request breaks Ongage's documented rules
    "ConfigurationError",  # a deployment mistake in the Lambda environment
    "OngageExportUnusable",  # a 2xx create: Ongage has acted, a retry would make a 2nd export
    "ExportRejected",  # a 412 whose words say the export is invalid or unknown
    "OngageRedirectRefused",  # https -> http, a non-http scheme, or more than 5 redirects
    "UnsupportedExport",  # not a ZIP, an unverifiable method, an encrypted entry: same bytes again
    "UnknownAccount",  # the request names an account the stack is not configured for
    "CreateInterrupted",  # a create died mid-call: Ongage may hold the export, a retry could dup
}


def _domain_errors() -> set[str]:
    found: set[str] = set()
    pending: list[type] = [errors.ExportError]
    while pending:
        cls = pending.pop()
        found.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    found.discard("ExportError")
    found.discard("OngageError")  # bases: only their subclasses are raised
    return found


def _names(kind: str) -> set[str]:
    definition = json.loads(ASL_FILE.read_text())
    return {
        name
        for state in definition["States"].values()
        for rule in state.get(kind, [])
        for name in rule["ErrorEquals"]
    }


def test_every_asl_error_name_is_raised_by_the_code_or_by_aws() -> None:
    unknown = {
        name
        for name in _names("Retry") | _names("Catch")
        if not name.startswith(AWS_PREFIXES) and name not in _domain_errors()
    }
    assert not unknown, f"ErrorEquals names no exception class has: {sorted(unknown)}"


def test_every_domain_error_is_retried_or_ends_the_run_on_purpose() -> None:
    undecided = _domain_errors() - _names("Retry") - ENDS_THE_RUN_AT_ONCE
    assert not undecided, f"neither retried in the ASL nor listed as final: {sorted(undecided)}"
    assert not (_names("Retry") & ENDS_THE_RUN_AT_ONCE), "an error listed as final is retried"


def test_failures_are_caught_so_every_run_ends_with_a_notice() -> None:
    definition = json.loads(ASL_FILE.read_text())
    for name, state in definition["States"].items():
        if state["Type"] == "Task" and state["Resource"].endswith("lambda:invoke"):
            assert any("States.ALL" in c["ErrorEquals"] for c in state.get("Catch", [])), name


@pytest.mark.parametrize("state", ["CreateExport", "RetrieveExport"])
def test_an_invocation_that_died_is_retried(state: str) -> None:
    """Killed mid-stream, a retrieve left an upload open; the retry aborts it and lands the
    export. Killed in the create, the retry reuses the recorded export or ends the run."""
    task = json.loads(ASL_FILE.read_text())["States"][state]
    retried = {name for rule in task["Retry"] for name in rule["ErrorEquals"]}
    assert not DIED - retried, sorted(DIED - retried)


def test_a_dead_create_is_retried_inside_its_idempotency_record_s_lifetime() -> None:
    """A create that died mid-call leaves its record IN_PROGRESS until the function's timeout
    (90 s): every retry of a dead create must come before, or it would POST again."""
    create = json.loads(ASL_FILE.read_text())["States"]["CreateExport"]
    (rule,) = [r for r in create["Retry"] if "Runtime.ExitError" in r["ErrorEquals"]]
    waits = [rule["IntervalSeconds"] * rule["BackoffRate"] ** n for n in range(rule["MaxAttempts"])]
    assert sum(waits) < 90 / 2
