"""The run status use case: a run as the API (GET /exports/{id}) and the CLI (`ongage-export
status`, `wait`) show it, `run_status` for both.

One view of a Step Functions execution for both, so they cannot drift: its `run_id` (the
execution name, the idempotency key it was started with), status, times, and the outcome once
there is one. Two ids, never confused: `run_id` names our run; `export_id` is the id Ongage gave
the export that run created (known once it landed; the CLI also reads it from a running or
failed run's history). Only the download link is signed where it is shown (the API's role, or
your credentials).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ongage_export.contract import EXECUTION_NAME
from ongage_export.domain.ports import Executions, LinkSigner

WHAT_AN_ID_IS = (
    "a run id is the idempotency_key the run was started with (letters, digits, '-' and "
    "'_', 80 at most) or its execution ARN"
)
FINISHED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")


class NotAnExecution(ValueError):
    """An id that names no execution of this state machine (before asking Step Functions)."""


class UnknownRun(LookupError):
    """An execution ARN of this state machine that Step Functions does not know."""


def run_status(
    executions: Executions,
    arn: str,
    *,
    signer: LinkSigner,
    link_seconds: int,
    bucket: str | None = None,
    prefix: str = "",
) -> dict[str, Any]:
    """The run `arn` as shown: `status_view`, and for a landed export (of `bucket` under
    `prefix`, when given) its location and a download link valid `link_seconds`."""
    execution = executions.describe(arn)
    if execution is None:
        raise UnknownRun(f"no run {arn.rsplit(':', 1)[-1]!r} on this stack")
    view = status_view(execution)
    found, key = landed_location(view.get("result"), bucket, prefix)
    if found:
        view.update(download_link(signer, found, key, link_seconds))
    return view


def execution_arn(run_id: str, state_machine_arn: str) -> str:
    """The ARN for an id (execution name) or a full execution ARN of this state machine."""
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":"
    name = run_id.removeprefix(prefix) if run_id.startswith("arn:") else run_id
    if name == run_id and run_id.startswith("arn:"):
        raise NotAnExecution(f"{run_id} is not an execution of {state_machine_arn}")
    if not EXECUTION_NAME.match(name):
        raise NotAnExecution(f"{run_id[:100]!r} is not a run id: {WHAT_AN_ID_IS}")
    return prefix + name


def status_view(execution: Mapping[str, Any]) -> dict[str, Any]:
    """DescribeExecution's answer as shown: status, times, and the result or the error."""
    view: dict[str, Any] = {
        "run_id": execution["name"],
        "execution_arn": execution["executionArn"],
        "status": execution["status"],
        "started_at": _iso(execution.get("startDate")),
        "stopped_at": _iso(execution.get("stopDate")),
    }
    if execution["status"] == "SUCCEEDED":
        view["result"] = parse_json(execution.get("output"))
        if isinstance(view["result"], dict) and view["result"].get("export_id") is not None:
            view["export_id"] = str(view["result"]["export_id"])
    elif execution["status"] != "RUNNING":
        view["error"], view["cause"] = execution.get("error"), execution.get("cause")
    return view


def landed_location(result: Any, bucket: str | None = None, prefix: str = "") -> tuple[str, str]:
    """(bucket, key) of a landed export in a run's result; ("", "") when it has none.

    With `bucket`, only an object of that bucket under `prefix` counts: a link is never made
    for anything else, whatever the execution output says.
    """
    if not isinstance(result, dict):
        return "", ""
    found, key = result.get("bucket"), result.get("key")
    if not isinstance(found, str) or not isinstance(key, str) or not found or not key:
        return "", ""
    if bucket is not None and (found != bucket or not key.startswith(prefix)):
        return "", ""
    return found, key


def download_link(signer: LinkSigner, bucket: str, key: str, seconds: int) -> dict[str, Any]:
    """A presigned GET of the landed object, valid `seconds` (and never beyond the signer's)."""
    url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
    )
    return {"location": f"s3://{bucket}/{key}", "download_url": url, "expires_in": seconds}


def parse_json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
