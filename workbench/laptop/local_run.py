"""Running the workflow on the embedded runtime for `run` and `demo`, and saying what happened.

The embedded AWS lives as long as the command: what is kept is what is written to the output
folder. It is written into a hidden folder inside it and moved into place once the run is
over, so an interrupted run leaves no half-written ZIP or notices behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from embedded_runtime import consumer
from embedded_runtime.runtime import EmbeddedRuntime, OngageAccount
from local_aws.cloud_assembly import CDK_OUT, AssemblyError
from ongage_cli.run_lookup import export_id_of
from ongage_export.domain.polling import PollingPolicy
from ongage_simulator.accounts_file import AccountEntry

DEMO_REQUEST = {
    "name": "Demo — active contacts",
    "list_id": 1000,
    "segment_id": [77197, 77198],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "fields_selected": ["email", "first_name", "last_name", "ocx_contact_id"],
    "status": ["active", "inactive"],
}
# Short timings so the demo finishes in seconds; production waits minutes (see PollingPolicy).
DEMO_POLLING = {"initial_seconds": 1, "growth": 1.5, "max_seconds": 2, "deadline_seconds": 60}


def credentials_from_env(url: str, env: Mapping[str, str]) -> OngageAccount:
    missing = [
        name
        for name in ("ONGAGE_USERNAME", "ONGAGE_PASSWORD", "ONGAGE_ACCOUNT_CODE")
        if not env.get(name)
    ]
    if missing:
        raise ValueError(f"set {', '.join(missing)} to your Ongage API credentials")
    if not url.startswith(("http://", "https://")):  # the URL is not echoed: it may hold secrets
        raise ValueError("--ongage-url must be an http:// or https:// URL")
    return OngageAccount(
        url, env["ONGAGE_USERNAME"], env["ONGAGE_PASSWORD"], env["ONGAGE_ACCOUNT_CODE"]
    )


class RunInterrupted(Exception):
    """Ctrl-C during a run; `export_id` is the Ongage export it had created, if any."""

    def __init__(self, export_id: str | None):
        super().__init__(export_id)
        self.export_id = export_id


@dataclass
class _Execution:
    """The run as far as it got: which execution, and the export it landed (once known)."""

    arn: str | None = None
    export_id: str | None = None


class LocalRun:
    """One execution on a fresh embedded runtime; writes the ZIP and notices to `out_dir`."""

    cdk_out = CDK_OUT  # the synthesized stack it deploys

    def __init__(
        self,
        account: OngageAccount,
        *,
        out_dir: Path | None,
        quiet: bool = False,
        accounts: Mapping[str, AccountEntry] | None = None,
    ):
        self.account = account
        self.accounts = accounts  # named accounts besides `account`, the default (runtime.py)
        self.out_dir = out_dir
        self.quiet = quiet

    def run(self, run_input: dict[str, Any], timeout: float = 48 * 3600) -> dict[str, Any]:
        """The run's summary; RunInterrupted on Ctrl-C (nothing left in `out_dir` then)."""
        # Anything a library prints goes to stderr: `--json` promises one object on stdout.
        with contextlib.ExitStack() as stack:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
            staged = stack.enter_context(self._staged_output())
            clock = Stopwatch()
            runtime = self._deployed(stack, staged)
            clock.lap("deploy")
            execution = _Execution()
            with _interrupt_names_the_export(runtime, execution):
                execution.arn = runtime.start(run_input)
                result = runtime.wait(execution.arn, timeout)
                clock.lap("workflow")
                summary = result.summary()
                execution.export_id = summary["export_id"]
                summary.update(self._curated(runtime, summary["key"], staged))
                if "curated" in summary:
                    clock.lap("curation")  # the consumer's run, and its copy to --out
                if staged is not None:
                    summary.update(self._save(runtime, summary, result.notices, staged))
                    clock.lap("copy")
            summary["seconds"] = clock.laps | _landing_seconds(runtime)
        return summary

    def _deployed(self, stack: contextlib.ExitStack, staged: Path | None) -> EmbeddedRuntime:
        """The embedded runtime, with its logs going where the run keeps them, for `stack`'s
        lifetime."""
        log = stack.enter_context(self._log_stream(staged))
        try:
            return stack.enter_context(
                EmbeddedRuntime(
                    self.account, log_stream=log, cdk_out=self.cdk_out, accounts=self.accounts
                )
            )
        except KeyboardInterrupt:
            raise RunInterrupted(None) from None

    @contextlib.contextmanager
    def _staged_output(self) -> Iterator[Path | None]:
        """A hidden folder in `out_dir`, moved into it when the run ends, removed if it did not."""
        if self.out_dir is None:
            yield None
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(prefix=".partial-", dir=self.out_dir))
        try:
            yield staged
        except BaseException:
            shutil.rmtree(staged, ignore_errors=True)
            raise
        for item in staged.iterdir():  # a rename: the ZIP is not copied again
            os.replace(item, self.out_dir / item.name)
        staged.rmdir()

    def _curated(
        self, runtime: EmbeddedRuntime, key: str | None, staged: Path | None
    ) -> dict[str, Any]:
        """How the consumer curated the export; its files copied into `staged`, named where they
        end up, in `out_dir`."""
        found = consumer.curated_output(runtime, key, staged)
        curated = found.get("curated", {})
        if staged is not None and self.out_dir is not None and "local_paths" in curated:
            curated["local_paths"] = [
                str(self.out_dir / Path(path).relative_to(staged))
                for path in curated["local_paths"]
            ]
        return found

    def _log_stream(self, staged: Path | None) -> Any:
        if staged is not None:
            return (staged / "lambda-logs.jsonl").open("w")
        return open(os.devnull, "w") if self.quiet else contextlib.nullcontext(sys.stderr)

    def _save(
        self,
        runtime: EmbeddedRuntime,
        summary: dict[str, Any],
        notices: list[dict[str, Any]],
        staged: Path,
    ) -> dict[str, Any]:
        """Written into `staged`; the paths returned are where they end up, in `out_dir`."""
        assert self.out_dir is not None
        saved: dict[str, Any] = {}
        if summary["status"] == "SUCCEEDED" and summary["key"]:
            name = Path(summary["key"]).name
            runtime.download(summary["key"], staged / name)
            saved["local_path"] = str(self.out_dir / name)
        (staged / "notifications.json").write_text(
            json.dumps(notices, indent=2, ensure_ascii=False)
        )
        saved["notifications_path"] = str(self.out_dir / "notifications.json")
        return saved

    def describe(self, summary: dict[str, Any]) -> None:
        if summary["status"] == "SUCCEEDED":
            print(f"Export {summary['export_id']} landed and checked out:")
            if summary.get("local_path"):
                print(f"  kept in {summary['local_path']}")
            print(f"  {summary['bytes']} bytes, sha256 {summary['sha256']}")
            landing = summary.get("seconds", {}).get("landing")
            if landing:
                print(f"  landed in {landing:.1f} s ({summary['bytes'] / landing / 1e6:.0f} MB/s)")
            for line in consumer.describe(summary["curated"]) if "curated" in summary else []:
                print(line)
            print(
                f"  (through s3://{summary['bucket']}/{summary['key']} in the embedded S3, "
                "which ends with this command)"
            )
        else:
            print(f"Export failed: {summary['error']}", file=sys.stderr)
            print(f"  {summary['cause']}", file=sys.stderr)
        if summary.get("notifications_path"):
            print(f"  notifications: {summary['notifications_path']}")


@contextlib.contextmanager
def _interrupt_names_the_export(runtime: EmbeddedRuntime, execution: _Execution) -> Iterator[None]:
    """Ctrl-C becomes RunInterrupted naming the Ongage export the run had created, read from
    the execution's history before the embedded AWS goes away; the execution is stopped."""
    try:
        yield
    except KeyboardInterrupt:
        if execution.arn is None:
            raise RunInterrupted(None) from None
        sfn = runtime.client("stepfunctions")
        export_id = execution.export_id or export_id_of(sfn, execution.arn)
        with contextlib.suppress(Exception):  # already ended: nothing to stop
            runtime.stop(execution.arn)
        raise RunInterrupted(export_id) from None


class Stopwatch:
    """Seconds spent in each phase of a run, rounded to the millisecond."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.monotonic()

    def lap(self, phase: str) -> None:
        now = time.monotonic()
        self.laps[phase] = round(now - self._last, 3)
        self._last = now


def _landing_seconds(runtime: EmbeddedRuntime) -> dict[str, float]:
    """Wall and CPU seconds of the longest retrieve invocation: the one that landed the body
    (the others each answer one poll), without the workflow's waits between polls."""
    durations = runtime.executor.durations.get(runtime.functions["retrieve-export"], [])
    if not durations:
        return {}
    wall, cpu = max(durations)
    return {"landing": round(wall, 3), "landing_cpu": round(cpu, 3)}


def run_demo(out_dir: Path, export_bytes: int) -> int:
    """The simulator + the embedded runtime + the real workflow, with demo timings."""
    from ongage_simulator import Credentials, OngageSimulator, SimulatorConfig

    credentials = Credentials.demo()
    config = SimulatorConfig(
        credentials=credentials, ready_after_retrieves=3, export_bytes=export_bytes
    )
    with OngageSimulator(config) as simulator:
        print(f"Ongage simulator on {simulator.url} (export ready after 3 retrieves)")
        account = OngageAccount(
            simulator.url, credentials.username, credentials.password, credentials.account_code
        )
        runner = LocalRun(account, out_dir=out_dir)
        PollingPolicy.from_mapping(DEMO_POLLING)  # fail early if the demo timings drift
        print(
            "Deploying the synthesized stack (cdk.out) into the embedded AWS and running "
            "its workflow (statemachine/export.asl.json)..."
        )
        try:
            summary = runner.run({"request": DEMO_REQUEST, "polling": DEMO_POLLING}, timeout=120)
        except AssemblyError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        except RunInterrupted:  # the demo's export is the simulator's: nothing to carry on
            print("interrupted: nothing was kept", file=sys.stderr)
            return 130
        runner.describe(summary)
    return 0 if summary["status"] == "SUCCEEDED" else 1
