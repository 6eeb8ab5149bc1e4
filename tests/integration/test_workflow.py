"""The real ASL on moto's interpreter, the real handlers, the simulator: one run per case."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from embedded_runtime.runtime import EmbeddedRuntime, RunResult
from local_aws import eventbridge_delivery
from ongage_simulator import Fault, OngageSimulator
from tests.conftest import CREDENTIALS, FAST_POLLING, REQUEST, runtime_account


def run(runtime: EmbeddedRuntime, request: Any = None, **polling: Any) -> RunResult:
    run_input = {
        "request": REQUEST if request is None else request,
        "polling": {**FAST_POLLING, **polling},
    }
    return runtime.run(run_input, timeout=120)


def only_export_id(simulator: OngageSimulator) -> str:
    (export_id,) = simulator.exports
    return export_id


def assert_nothing_left_behind(runtime: EmbeddedRuntime, landed_keys: list[str]) -> None:
    assert runtime.open_uploads() == []
    assert runtime.object_keys() == landed_keys  # no staging object, no partial, no duplicate


def assert_landed_whole(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, result: RunResult
) -> None:
    """The run landed the one export's body, byte for byte, and nothing else is left."""
    assert result.status == "SUCCEEDED", result.cause
    expected = simulator.expected_body(only_export_id(simulator))
    assert (result.output["bytes"], result.output["sha256"]) == (expected.size, expected.sha256())
    assert_nothing_left_behind(runtime, [result.output["key"]])


def assert_one_failure_notice(result: RunResult, error: str) -> dict[str, Any]:
    assert result.status == "FAILED"
    assert result.error == error
    assert len(result.notices) == 1
    notice = result.notices[0]
    assert notice["subject"] == "Ongage export FAILED"
    assert notice["attributes"]["status"] == "FAILED"
    assert notice["message"]["status"] == "FAILED"
    assert notice["message"]["error"] == error
    assert notice["message"]["execution_arn"] == result.execution_arn
    return dict(notice["message"])


def test_happy_path_after_several_412_polls(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    result = run(runtime)

    assert result.status == "SUCCEEDED", result.cause
    export_id = only_export_id(simulator)
    retrieves = [s.status_code for s in simulator.served]
    assert retrieves == [412, 412, 412, 200]
    expected = simulator.expected_body(export_id)
    stored = runtime.client("s3").get_object(Bucket=runtime.bucket, Key=result.output["key"])
    data = stored["Body"].read()
    assert len(data) == expected.size and hashlib.sha256(data).hexdigest() == expected.sha256()
    assert stored["Metadata"]["landing"] == "single-pass"  # its sha256 is in the notice
    assert stored["Metadata"]["export-id"] == export_id
    assert stored["Metadata"]["list-id"] == "1111"

    (notice,) = result.notices
    assert notice["subject"] == "Ongage export landed"
    assert notice["attributes"] == {"status": "SUCCEEDED", "list_id": "1111"}
    message = notice["message"]
    assert message["status"] == "SUCCEEDED"
    assert message["bucket"] == runtime.bucket
    assert message["key"] == result.output["key"]
    assert message["key"].startswith("exports/list=1111/date=")
    assert message["key"].endswith(f"/Daily-actives-Zoe-{export_id}.zip")
    assert message["bytes"] == expected.size
    assert message["sha256"] == expected.sha256()
    assert message["landing"] == "single-pass"
    assert message["export_id"] == export_id
    assert message["list_id"] == 1111
    assert message["request"]["name"] == REQUEST["name"]
    assert message["request"]["segment_id"] == [77197]
    assert message["polls"] == 4
    assert message["execution_arn"] == result.execution_arn
    assert 2 <= message["duration_seconds"] < 60
    assert_nothing_left_behind(runtime, [message["key"]])


def test_never_ready_fails_at_the_deadline(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.inject(Fault.NEVER_READY, times=None)
    simulator.config.ready_after_retrieves = 0
    result = run(runtime, deadline_seconds=3)

    message = assert_one_failure_notice(result, "ExportNotReady")
    assert "deadline of 3 s passed" in message["cause"]
    assert "What to do" in message["cause"]
    assert message["export_id"] == only_export_id(simulator)
    assert message["request_name"] == REQUEST["name"]
    # One-second waits: a few retrieves fit in the 3 s deadline (fewer on a loaded machine).
    assert 1 <= simulator.stats.calls_by_endpoint.get("retrieve", 0) <= 5
    assert_nothing_left_behind(runtime, [])


def test_poll_budget_ends_the_run(runtime: EmbeddedRuntime, simulator: OngageSimulator) -> None:
    simulator.config.ready_after_retrieves = 100
    result = run(runtime, max_polls=2)
    message = assert_one_failure_notice(result, "ExportNotReady")
    assert "poll budget of 2 retrieves is spent" in message["cause"]


def test_invalid_request_fails_before_any_call(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    result = run(runtime, request={**REQUEST, "file_format": "xlsx", "segment_id": []})

    message = assert_one_failure_notice(result, "InvalidExportRequest")
    assert "'file_format' is 'xlsx'" in message["cause"]
    assert "'segment_id' must be a non-empty array" in message["cause"]
    assert message["export_id"] is None
    assert simulator.stats.total_calls == 0
    assert_nothing_left_behind(runtime, [])


def test_bad_credentials_fail_fast_without_retries(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.credentials = type(CREDENTIALS)("demo", "another-password", "DEMOACCT")
    result = run(runtime)

    message = assert_one_failure_notice(result, "OngageAuthError")
    assert "Check the username, password and account code" in message["cause"]
    assert simulator.stats.total_calls == 1
    assert_nothing_left_behind(runtime, [])


def test_no_api_access_403_fails_fast(runtime: EmbeddedRuntime, simulator: OngageSimulator) -> None:
    simulator.inject(Fault.FORBIDDEN, times=None)
    result = run(runtime)
    assert_one_failure_notice(result, "OngageAuthError")
    assert simulator.stats.total_calls == 1


def test_create_rejected_by_ongage_is_not_retried(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.inject(Fault.CREATE_REJECTED, times=None)
    result = run(runtime)
    message = assert_one_failure_notice(result, "OngageRequestRejected")
    assert "Invalid data" in message["cause"]
    assert simulator.stats.total_calls == 1


@pytest.mark.parametrize("endpoint", ["create", "retrieve"])
def test_5xx_then_success(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, endpoint: str
) -> None:
    simulator.inject(Fault.SERVER_ERROR, times=2, status=502, endpoint=endpoint)
    result = run(runtime)
    assert result.status == "SUCCEEDED", result.cause
    assert simulator.stats.status_counts.get(502) == 2
    assert simulator.stats.creates == 1  # the retried create never made a second export
    assert len(result.notices) == 1
    assert_nothing_left_behind(runtime, [result.output["key"]])


@pytest.mark.parametrize("endpoint", ["create", "retrieve"])
def test_429_then_success(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, endpoint: str
) -> None:
    simulator.inject(Fault.RATE_LIMITED, times=2, endpoint=endpoint)
    result = run(runtime)
    assert result.status == "SUCCEEDED", result.cause
    assert simulator.stats.rate_limited == 2
    assert simulator.stats.creates == 1
    assert_nothing_left_behind(runtime, [result.output["key"]])


def test_connection_dropped_mid_body_is_retried_and_lands_intact(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.export_bytes = 12 * 1024 * 1024  # three 5 MiB parts: a real multipart
    simulator.inject(Fault.DROP_CONNECTION, times=1, at=0.6)
    result = run(runtime)

    assert result.status == "SUCCEEDED", result.cause
    dropped, full = [s for s in simulator.served if s.status_code == 200]
    assert not dropped.complete and full.complete
    assert_landed_whole(runtime, simulator, result)


def test_200_with_a_json_error_body_is_not_landed_and_reported(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.inject(Fault.JSON_ERROR_ON_200, times=None)
    result = run(runtime)

    message = assert_one_failure_notice(result, "OngageUnexpectedResponse")
    assert "application/json instead of a ZIP" in message["cause"]
    assert "Export file is not available" in message["cause"]  # Ongage's own words
    assert_nothing_left_behind(runtime, [])


def test_credentials_never_leave_the_secret(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, lambda_logs: io.StringIO
) -> None:
    simulator.inject(Fault.SERVER_ERROR, times=1)
    landed = run(runtime)
    simulator.config.credentials = type(CREDENTIALS)("demo", "rotated-password", "DEMOACCT")
    refused = run(runtime)
    assert (landed.status, refused.status) == ("SUCCEEDED", "FAILED")

    sfn = runtime.client("stepfunctions")
    seen = [lambda_logs.getvalue(), json.dumps(runtime.notices())]
    for result in (landed, refused):
        seen.append(
            json.dumps(sfn.describe_execution(executionArn=result.execution_arn), default=str)
        )
        history = sfn.get_execution_history(executionArn=result.execution_arn, maxResults=1000)
        seen.append(json.dumps(history["events"], default=str))
    everything = "\n".join(seen)
    assert "export created" in everything  # the logs were captured
    for secret in (CREDENTIALS.password, CREDENTIALS.account_code):
        assert secret not in everything


@pytest.fixture
def short_lived_runtime(
    simulator: OngageSimulator, lambda_logs: io.StringIO
) -> Iterator[EmbeddedRuntime]:
    """Lambdas that time out after 4 s and stop streaming 3 s before: about 1 s of download."""
    account = runtime_account(simulator)
    with EmbeddedRuntime(
        account,
        retry_time_scale=0.02,
        log_stream=lambda_logs,
        part_size_mib=5,
        function_timeout_seconds=4,
        stop_margin_seconds=3,
    ) as embedded:
        yield embedded


def test_a_download_longer_than_one_invocation_resumes_with_range(
    short_lived_runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.export_bytes = 24 * 1024 * 1024
    simulator.inject(Fault.SLOW_TRICKLE, times=None, bytes_per_second=8 * 1024 * 1024)
    result = run(short_lived_runtime)

    assert result.status == "SUCCEEDED", result.cause
    downloads = [s for s in simulator.served if s.status_code in (200, 206)]
    assert len(downloads) >= 2 and downloads[0].status_code == 200
    resumed = [s.range[0] for s in downloads[1:] if s.range]
    assert resumed and all(start % (5 * 1024 * 1024) == 0 for start in resumed)
    assert result.output["landing"] == "staged"  # a resumed download cannot be checked in one pass
    assert_landed_whole(short_lived_runtime, simulator, result)


def test_a_single_pass_that_runs_out_of_time_is_downloaded_again_staged(
    short_lived_runtime: EmbeddedRuntime,
    simulator: OngageSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A check rate so optimistic that the body seems to fit: the single pass starts, and the
    # slow download outlasts the invocation after all.
    monkeypatch.setenv("VERIFY_BYTES_PER_SECOND", "1e12")
    simulator.config.export_bytes = 24 * 1024 * 1024
    simulator.inject(Fault.SLOW_TRICKLE, times=None, bytes_per_second=8 * 1024 * 1024)
    result = run(short_lived_runtime)

    assert result.status == "SUCCEEDED", result.cause
    downloads = [s for s in simulator.served if s.status_code in (200, 206)]
    whole = [s for s in downloads if not s.range]
    assert len(whole) == 2 and not whole[0].complete  # the single pass, then staged from byte 0
    assert result.output["landing"] == "staged"
    assert_landed_whole(short_lived_runtime, simulator, result)


def test_a_resumed_download_that_breaks_is_retried_from_its_checkpoint(
    short_lived_runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.export_bytes = 24 * 1024 * 1024
    simulator.inject(Fault.SLOW_TRICKLE, times=None, bytes_per_second=8 * 1024 * 1024)

    def break_the_first_resumed_download() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(s.status_code == 200 for s in simulator.served):
                simulator.inject(Fault.DROP_CONNECTION, at=1024 * 1024)
                return
            time.sleep(0.005)

    breaker = threading.Thread(target=break_the_first_resumed_download, daemon=True)
    breaker.start()
    result = run(short_lived_runtime)
    breaker.join()

    assert result.status == "SUCCEEDED", result.cause
    downloads = [s for s in simulator.served if s.status_code in (200, 206)]
    broken = [s for s in downloads if s.status_code == 206 and not s.complete]
    assert broken, "the fault should have hit a resumed download"
    assert simulator.stats.creates == 1
    assert_landed_whole(short_lived_runtime, simulator, result)


def test_a_long_download_without_range_support_fails_clearly(
    short_lived_runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.export_bytes = 24 * 1024 * 1024
    simulator.config.honour_range = False
    simulator.inject(Fault.SLOW_TRICKLE, times=None, bytes_per_second=8 * 1024 * 1024)
    result = run(short_lived_runtime)

    message = assert_one_failure_notice(result, "DownloadNotResumable")
    assert "15 minutes" in message["cause"] and "ignored the HTTP Range" in message["cause"]
    assert_nothing_left_behind(short_lived_runtime, [])


def test_a_failed_run_resumes_with_the_same_export(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.ready_after_retrieves = 100
    failed = run(runtime, max_polls=2)
    notice = assert_one_failure_notice(failed, "ExportNotReady")
    assert f"ongage-export redrive {failed.execution_arn}" in notice["cause"]

    simulator.config.ready_after_retrieves = 0
    resumed = runtime.wait(runtime.redrive(failed.execution_arn), timeout=120)

    assert resumed.status == "SUCCEEDED", resumed.cause
    assert resumed.output["export_id"] == notice["export_id"]
    assert simulator.stats.creates == 1  # the same Ongage export, not a new one
    assert len(resumed.notices) == 1
    assert_nothing_left_behind(runtime, [resumed.output["key"]])


def test_a_run_that_failed_before_creating_starts_afresh_when_resumed(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    right = simulator.config.credentials
    simulator.config.credentials = type(CREDENTIALS)("demo", "rotated", "DEMOACCT")
    failed = run(runtime)
    assert_one_failure_notice(failed, "OngageAuthError")

    simulator.config.credentials = right  # e.g. the secret was fixed
    resumed = runtime.wait(runtime.redrive(failed.execution_arn), timeout=120)
    assert resumed.status == "SUCCEEDED", resumed.cause
    assert simulator.stats.creates == 1


def test_a_fixed_secret_is_used_by_the_very_next_redrive(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    """The README's advice for OngageAuthError, followed at once: the Lambdas cache the secret
    for minutes, but a refused one is read again."""
    secrets = runtime.client("secretsmanager")
    right = secrets.get_secret_value(SecretId=runtime.secret_id)["SecretString"]
    wrong = json.dumps({**json.loads(right), "password": "mistyped"})
    secrets.put_secret_value(SecretId=runtime.secret_id, SecretString=wrong)
    failed = run(runtime)
    assert_one_failure_notice(failed, "OngageAuthError")

    secrets.put_secret_value(SecretId=runtime.secret_id, SecretString=right)  # fixed
    resumed = runtime.wait(runtime.redrive(failed.execution_arn), timeout=120)
    assert resumed.status == "SUCCEEDED", resumed.cause
    assert simulator.stats.creates == 1


def test_only_an_unsuccessful_run_can_be_resumed(runtime: EmbeddedRuntime) -> None:
    landed = run(runtime)
    with pytest.raises(ValueError, match="only a failed, timed-out or aborted run"):
        runtime.redrive(landed.execution_arn)


def test_a_crafted_resume_is_refused_before_any_call(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    crafted = {"request": REQUEST, "polling": FAST_POLLING, "resume": {"export_id": "../../x"}}
    result = runtime.run(crafted, timeout=60)
    message = assert_one_failure_notice(result, "InvalidExportRequest")
    assert "'resume' must be" in message["cause"]
    assert simulator.stats.total_calls == 0


def test_a_stopped_run_is_announced_before_the_runtime_closes(
    simulator: OngageSimulator, lambda_logs: io.StringIO
) -> None:
    """As Ctrl-C stops a run: its ABORTED notice is published by the stack's announcer (in its
    own environment), and nothing is left in flight to fail once the functions are gone."""
    simulator.config.ready_after_retrieves = 10_000
    with EmbeddedRuntime(runtime_account(simulator), log_stream=lambda_logs) as embedded:
        arn = embedded.start({"request": REQUEST, "polling": FAST_POLLING})
        while not simulator.exports:
            time.sleep(0.05)  # until it waits on the export
        embedded.stop(arn)
        (notice,) = [n for n in embedded.notices() if n["message"]["execution_arn"] == arn]
        events = embedded.client("events")
        rule = f"{embedded.stack_name}-NotificationsExecutionEndedBadly"
        (ended_badly,) = events.list_rules(NamePrefix=rule)["Rules"]
        (target,) = events.list_targets_by_rule(Rule=ended_badly["Name"])["Targets"]
    assert notice["subject"] == "Ongage export ABORTED"
    (delivery,) = [
        d
        for d in eventbridge_delivery.deliveries.to(target["Arn"])
        if d.event["resources"] == [arn]
    ]
    assert delivery.outcome == "DELIVERED", delivery.answer
