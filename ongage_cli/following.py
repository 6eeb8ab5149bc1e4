"""Following a run on a deployed stack: its status, where it is, and waiting for it to end."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from botocore.config import Config

from ongage_cli.deployment import DeployedError, Deployment
from ongage_cli.run_lookup import export_id_of
from ongage_export.adapters.step_functions import StepFunctionsRuns, latest_progress
from ongage_export.contract import DOWNLOAD_LINK_SECONDS
from ongage_export.domain.run_status import FINISHED, UnknownRun, run_status


def describe(
    deployment: Deployment, arn: str, link_seconds: int = DOWNLOAD_LINK_SECONDS
) -> dict[str, Any]:
    """The run status (`run_status`, as the API shows it), with where a running export is and
    Ongage's export id once the run has one."""
    sfn = deployment.stepfunctions()
    signer = deployment.session.client("s3", config=Config(signature_version="s3v4"))
    try:
        report = run_status(StepFunctionsRuns(sfn), arn, signer=signer, link_seconds=link_seconds)
    except UnknownRun as error:
        raise DeployedError(str(error)) from None
    if report["status"] == "RUNNING":
        report["progress"] = progress(sfn, arn)
        report["export_id"] = report["progress"].get("export_id")
    elif "export_id" not in report:
        report["export_id"] = export_id_of(sfn, arn)
    return report


def progress(sfn: Any, arn: str) -> dict[str, Any]:
    """Where a running export is: the current state and the latest job (polls, next wait...)."""
    state, job = latest_progress(sfn, arn)
    found: dict[str, Any] = {"state": state}
    if isinstance(job, dict):
        keys = ("export_id", "account", "polls", "next_wait_seconds", "last_message", "download",
                "slot_refusals")  # fmt: skip
        found.update({key: job.get(key) for key in keys})
    return found


def wait_for(
    deployment: Deployment,
    arn: str,
    *,
    timeout: float | None = None,
    interval: float = 10.0,
    out: TextIO | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Check until the export finishes (or `timeout`), showing progress on stderr."""
    out = out or sys.stderr
    started = clock()
    last_line = ""
    while True:
        report = describe(deployment, arn)
        line = progress_line(report, clock() - started)
        if line != last_line:
            show(out, line)
            last_line = line
        if report["status"] in FINISHED:
            end_line(out)
            return report
        if timeout is not None and clock() - started >= timeout:
            end_line(out)
            return report
        sleep(interval)


def progress_line(report: Mapping[str, Any], elapsed: float) -> str:
    minutes, seconds = divmod(int(elapsed), 60)
    parts = [f"[{minutes:02d}:{seconds:02d}]", f"run {report['run_id']}", report["status"]]
    found = report.get("progress") or {}
    if found.get("state"):
        parts.append(f"at {found['state']}")
    if found.get("export_id") is not None:
        parts.append(f"Ongage export {found['export_id']}")
    if found.get("polls") is not None:
        parts.append(f"{found['polls']} retrieve(s)")
    download = found.get("download")
    if isinstance(download, dict) and download.get("size") is not None:
        parts.append(
            f"downloaded {_mib(download['size'])}"
            + (f" of {_mib(download['total'])}" if download.get("total") else "")
        )
    elif found.get("slot_refusals"):
        parts.append(
            f"waiting {found.get('next_wait_seconds')} s for a free slot of the calls of "
            f"account {found.get('account')} at Ongage (in use by other runs)"
        )
    elif found.get("next_wait_seconds"):
        parts.append(f"next check in {found['next_wait_seconds']} s")
    return "  ".join(parts)


def format_report(report: Mapping[str, Any]) -> str:
    lines = [
        f"run            {report['run_id']}",
        f"Ongage export  {report.get('export_id') or '(not created yet)'}",
        f"status         {report['status']}",
    ]
    for key in ("started_at", "stopped_at", "location", "download_url", "error", "cause"):
        if report.get(key):
            lines.append(f"{key.replace('_', ' '):<14} {report[key]}")
    result = report.get("result")
    if isinstance(result, dict):
        for key in ("bytes", "sha256", "list_id"):
            if key in result:
                lines.append(f"{key.replace('_', ' '):<14} {result[key]}")
    if report.get("progress"):
        lines.append(f"progress       {json.dumps(report['progress'], default=str)}")
    return "\n".join(lines)


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def show(out: TextIO, line: str) -> None:
    # On a terminal the line is rewritten in place; in logs every change is its own line.
    if out.isatty():
        out.write("\r\033[K" + line)
    else:
        out.write(line + "\n")
    out.flush()


def end_line(out: TextIO) -> None:
    if out.isatty():
        out.write("\n")
        out.flush()
