"""Carrying on after a failed run: a new execution picks up the failed run's export.

Step Functions' own redrive restarts the state that failed; here that is the `ExportFailed`
state reached after the failure notice, so it would only fail again. Instead `resume_input`
reads where the failed run stood (the job in its last state) and returns the input for a new run
that skips the create call and goes on polling and downloading the same Ongage export.
Used by `ongage-export redrive` (deployed stack, where `--deadline`, `--poll-initial` and
`--poll-max` change the new run's polling through `with_polling`), `EmbeddedRuntime.redrive`,
and `ongage-export run --export-id` (which gives the same `resume` input by hand).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ongage_export.adapters.step_functions import latest_progress
from ongage_export.domain.polling import PollingPolicy

ENDED_UNSUCCESSFULLY = ("FAILED", "TIMED_OUT", "ABORTED")


def resume_input(sfn: Any, execution_arn: str) -> dict[str, Any]:
    """The input that resumes a failed run: its own input, plus the export to carry on with."""
    described = sfn.describe_execution(executionArn=execution_arn)
    if described["status"] not in ENDED_UNSUCCESSFULLY:
        raise ValueError(
            f"execution {execution_arn} is {described['status']}: only a failed, timed-out or "
            "aborted run can be resumed"
        )
    run_input = json.loads(described["input"])
    run_input.pop("resume", None)
    _, job = latest_progress(sfn, execution_arn)
    if job and job.get("export_id"):  # no export yet: the new run simply starts afresh
        run_input["resume"] = {"execution_arn": execution_arn, "export_id": job["export_id"]}
    return run_input


def with_polling(run_input: Mapping[str, Any], overrides: Mapping[str, int]) -> dict[str, Any]:
    """`run_input` with `overrides` laid over its polling settings, the result checked.

    A first wait longer than the cap raises the cap with it, unless the cap was given too. The
    check uses the default policy as the base: the stack's own defaults are not known here, and
    the run checks its policy again when it starts (InvalidPollingPolicy).
    """
    polling = {**(run_input.get("polling") or {}), **overrides}
    if "initial_seconds" in overrides and "max_seconds" not in overrides:
        cap = polling.get("max_seconds", PollingPolicy().max_seconds)
        if polling["initial_seconds"] > cap:
            polling["max_seconds"] = polling["initial_seconds"]
    PollingPolicy.from_mapping(polling)  # ValueError: what is out of bounds
    changed = {key: value for key, value in run_input.items() if key != "polling"}
    return {**changed, "polling": polling} if polling else changed
