"""`ongage-export run BATCH.json`: the batch workflow (statemachine/batch.asl.json) on the
embedded runtime, and what each of its exports did, each said as `run` says a single export.
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from embedded_runtime.runtime import EmbeddedRuntime, RunResult
from laptop.local_run import LocalRun, RunInterrupted, Stopwatch
from local_aws.cloud_assembly import AssemblyError


class LocalBatchRun(LocalRun):
    """One batch on a fresh embedded runtime; every landed ZIP and the notices go to `out_dir`."""

    def run(self, run_input: dict[str, Any], timeout: float = 7 * 24 * 3600) -> dict[str, Any]:
        """`status` (SUCCEEDED when every export landed), `exports` in the batch's order."""
        with contextlib.ExitStack() as stack:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
            staged = stack.enter_context(self._staged_output())
            clock = Stopwatch()
            runtime = self._deployed(stack, staged)
            clock.lap("deploy")
            if runtime.batch_machine_arn is None:
                raise AssemblyError("cdk.out has no batch workflow: run `make synth` again")
            arn = runtime.start(run_input, machine=runtime.batch_machine_arn)
            try:
                result = runtime.wait(arn, timeout)
            except KeyboardInterrupt:
                with contextlib.suppress(Exception):  # stopped, as an interrupted single run is
                    runtime.stop(arn)
                raise RunInterrupted(None) from None
            clock.lap("workflow")
            summary = batch_summary(runtime, result)
            if staged is not None:
                self._save_batch(runtime, summary, staged)
                clock.lap("copy")
            summary["seconds"] = clock.laps
        return summary

    def _save_batch(self, runtime: EmbeddedRuntime, summary: dict[str, Any], staged: Path) -> None:
        """Each landed ZIP under its own name (its key's: the Ongage export id makes it unique)
        and every notice, written into `staged`; the paths are where they end up, in `out_dir`."""
        assert self.out_dir is not None
        for export in summary["exports"]:
            if export["status"] == "SUCCEEDED" and export["key"]:
                name = Path(export["key"]).name
                runtime.download(export["key"], staged / name)
                export["local_path"] = str(self.out_dir / name)
        notices = runtime.notices()
        (staged / "notifications.json").write_text(
            json.dumps(notices, indent=2, ensure_ascii=False)
        )
        summary["notifications_path"] = str(self.out_dir / "notifications.json")

    def describe(self, summary: dict[str, Any]) -> None:
        exports = summary["exports"]
        landed = sum(export["status"] == "SUCCEEDED" for export in exports)
        print(f"Batch {summary['status']}: {landed} of {len(exports)} exports landed")
        for index, export in enumerate(exports):
            if export["status"] == "SUCCEEDED":
                where = export.get("local_path") or f"s3://{export['bucket']}/{export['key']}"
                print(f"  [{index}] Ongage export {export['export_id']} landed: {where}")
            else:
                print(f"  [{index}] FAILED {export['error']}: {export['cause']}")
        if summary.get("error") and not exports:
            print(f"  {summary['error']}: {summary['cause']}")
        if summary.get("notifications_path"):
            print(f"  notifications: {summary['notifications_path']}")


def batch_summary(runtime: EmbeddedRuntime, result: RunResult) -> dict[str, Any]:
    """The batch's outcome from its notice: each export as `RunResult.summary` says a single
    run (read from its child execution), with its `account`."""
    notices = [n["message"] for n in result.notices if n["message"].get("kind") == "batch"]
    notice: dict[str, Any] = notices[0] if notices else {}  # none when the batch timed out
    summary: dict[str, Any] = {
        "status": "SUCCEEDED" if result.status == "SUCCEEDED" else "FAILED",
        "execution_arn": result.execution_arn,
        "exports": [_export_summary(runtime, outcome) for outcome in notice.get("exports", [])],
    }
    if result.status != "SUCCEEDED":
        summary.update(error=result.error, cause=result.cause)
    return summary


def _export_summary(runtime: EmbeddedRuntime, outcome: dict[str, Any]) -> dict[str, Any]:
    child = outcome.get("execution_arn")
    if child:  # ended: the batch waited for it
        summary = runtime.wait(child).summary()
    else:  # never started: the batch's own error for it
        keys = ("export_id", "bucket", "key", "bytes", "sha256")
        summary = {"status": "FAILED", "execution_arn": None, **dict.fromkeys(keys)}
        summary.update(error=outcome.get("error"), cause=outcome.get("cause"))
    return summary | {"account": outcome["account"]}
