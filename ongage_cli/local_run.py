"""Running the workflow on the embedded runtime for `run` and `demo`, and saying what happened."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from embedded_runtime import consumer
from embedded_runtime.runtime import CDK_OUT, EmbeddedRuntime, OngageAccount
from local_aws.cloud_assembly import AssemblyError
from ongage_export.polling import PollingPolicy

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


class LocalRun:
    """One execution on a fresh embedded runtime; writes the ZIP and notices to `out_dir`."""

    cdk_out = CDK_OUT  # the synthesized stack it deploys

    def __init__(self, account: OngageAccount, *, out_dir: Path | None, quiet: bool = False):
        self.account = account
        self.out_dir = out_dir
        self.quiet = quiet

    def run(self, run_input: dict[str, Any], timeout: float = 48 * 3600) -> dict[str, Any]:
        # Anything a library prints goes to stderr: `--json` promises one object on stdout.
        with contextlib.ExitStack() as stack:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))
            log = stack.enter_context(self._log_stream())
            clock = Stopwatch()
            runtime = stack.enter_context(
                EmbeddedRuntime(self.account, log_stream=log, cdk_out=self.cdk_out)
            )
            clock.lap("deploy")
            result = runtime.wait(runtime.start(run_input), timeout)
            clock.lap("workflow")
            summary = result.summary()
            summary.update(consumer.curated_output(runtime, summary["key"], self.out_dir))
            if "curated" in summary:
                clock.lap("curation")  # the consumer's run, and its copy to --out
            if self.out_dir is not None:
                summary.update(self._save(runtime, summary, result.notices))
                clock.lap("copy")
            summary["seconds"] = clock.laps | _landing_seconds(runtime)
        return summary

    def _log_stream(self) -> Any:
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            return (self.out_dir / "lambda-logs.jsonl").open("w")
        return open("/dev/null", "w") if self.quiet else contextlib.nullcontext(sys.stderr)

    def _save(
        self, runtime: EmbeddedRuntime, summary: dict[str, Any], notices: list[dict[str, Any]]
    ) -> dict[str, Any]:
        assert self.out_dir is not None
        saved: dict[str, Any] = {}
        if summary["status"] == "SUCCEEDED" and summary["key"]:
            local = runtime.download(summary["key"], self.out_dir / Path(summary["key"]).name)
            saved["local_path"] = str(local)
        notices_file = self.out_dir / "notifications.json"
        notices_file.write_text(json.dumps(notices, indent=2, ensure_ascii=False))
        saved["notifications_path"] = str(notices_file)
        return saved

    def describe(self, summary: dict[str, Any]) -> None:
        if summary["status"] == "SUCCEEDED":
            print(f"Export {summary['export_id']} landed in the embedded S3:")
            print(f"  s3://{summary['bucket']}/{summary['key']}")
            print(f"  {summary['bytes']} bytes, sha256 {summary['sha256']}")
            landing = summary.get("seconds", {}).get("landing")
            if landing:
                print(f"  landed in {landing:.1f} s ({summary['bytes'] / landing / 1e6:.0f} MB/s)")
            if summary.get("local_path"):
                print(f"  copied to {summary['local_path']}")
            for line in consumer.describe(summary["curated"]) if "curated" in summary else []:
                print(line)
        else:
            print(f"Export failed: {summary['error']}", file=sys.stderr)
            print(f"  {summary['cause']}", file=sys.stderr)
        if summary.get("notifications_path"):
            print(f"  notifications: {summary['notifications_path']}")


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
    durations = runtime.dispatcher.durations.get(runtime.functions["retrieve-export"], [])
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
        runner.describe(summary)
    return 0 if summary["status"] == "SUCCEEDED" else 1
