"""The handlers called directly, as Lambda would, inside a fresh embedded AWS account."""

from __future__ import annotations

import json
from typing import Any

import pytest

from embedded_runtime.runtime import EmbeddedRuntime
from local_aws.lambda_bootstrap import LambdaContext
from ongage_export.adapters import clients
from ongage_export.domain import create
from ongage_export.domain.errors import (
    CreateInterrupted,
    InvalidExportRequest,
    InvalidPollingPolicy,
)
from ongage_export.handlers import create_export, retrieve_export
from ongage_simulator import OngageSimulator
from tests.conftest import FAST_POLLING, REQUEST

EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:ongage-export:run-1"


def context(name: str = "fn") -> LambdaContext:
    return LambdaContext(name, 256, 900, "req-1", f"arn:aws:lambda:us-east-1:1:function:{name}")


def create_event(execution: str = EXECUTION, **overrides: Any) -> dict[str, Any]:
    run_input = {"request": REQUEST, "polling": FAST_POLLING, **overrides}
    return {"input": run_input, "execution_arn": execution, "started_at": "2026-11-26T10:00:00Z"}


def test_a_retried_create_never_makes_a_second_export(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    first = create_export.handler(create_event(), context())
    again = create_export.handler(create_event(), context())
    other = create_export.handler(create_event(execution=EXECUTION + "-other"), context())

    assert first["export_id"] == again["export_id"] != other["export_id"]
    assert simulator.stats.creates == 2
    assert first["polls"] == 0 and first["landed"] is None and first["give_up"] is None
    assert first["next_wait_seconds"] == 1
    assert first["request"]["name"] == REQUEST["name"]


class Killed(BaseException):
    """What a SIGKILL of the worker amounts to: no `except Exception` cleans up after it."""


def test_a_create_killed_during_the_ongage_call_is_not_repeated(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    calling_ongage = clients.calling_ongage

    def accepted_then_killed(*args: Any, **kwargs: Any) -> Any:
        calling_ongage(*args, **kwargs)  # Ongage creates the export...
        raise Killed  # ...and the worker dies before the answer is recorded

    monkeypatch.setattr(clients, "calling_ongage", accepted_then_killed)
    with pytest.raises(Killed):
        create_export.handler(create_event(), context())
    monkeypatch.setattr(clients, "calling_ongage", calling_ongage)

    with pytest.raises(CreateInterrupted, match="whether Ongage created it is unknown"):
        create_export.handler(create_event(), context())  # the workflow's retry
    assert simulator.stats.creates == 1


def test_a_create_killed_after_its_record_was_completed_reuses_the_export(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def killed(*args: Any, **kwargs: Any) -> Any:
        raise Killed

    start_job = create.start_job
    monkeypatch.setattr(create, "start_job", killed)
    with pytest.raises(Killed):
        create_export.handler(create_event(), context())
    monkeypatch.setattr(create, "start_job", start_job)

    job = create_export.handler(create_event(), context())  # the workflow's retry

    assert simulator.stats.creates == 1 and job["export_id"]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"request": {**REQUEST, "status": ["nope"]}}, InvalidExportRequest),
        ({"request": None}, InvalidExportRequest),
        ({"polling": {"initial_seconds": 0}}, InvalidPollingPolicy),
        ({"polling": [1]}, InvalidPollingPolicy),
    ],
)
def test_bad_input_is_refused_before_calling_ongage(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, overrides: dict[str, Any], error: type
) -> None:
    with pytest.raises(error):
        create_export.handler(create_event(**overrides), context())
    assert simulator.stats.total_calls == 0


def test_retrieve_waits_then_lands_then_reports_the_landed_object(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    job = create_export.handler(create_event(), context())
    for poll in range(1, 4):
        job = retrieve_export.handler({"job": job, "execution_arn": EXECUTION}, context())
        assert (job["polls"], job["landed"], job["next_wait_seconds"]) == (poll, None, 1)
        assert "not finished" in job["last_message"].lower()
    job = retrieve_export.handler({"job": job, "execution_arn": EXECUTION}, context())
    landed = job["landed"]
    assert landed["status"] == "SUCCEEDED" and not landed["already_landed"]
    assert landed["key"] == (
        f"exports/list=1111/date=2026-11-26/Daily-actives-Zoe-{job['export_id']}.zip"
    )

    # A retried invocation after landing reports the same object and calls Ongage no more.
    calls = simulator.stats.total_calls
    again = retrieve_export.handler(
        {"job": {**job, "landed": None}, "execution_arn": EXECUTION}, context()
    )
    assert again["landed"]["already_landed"] and again["landed"]["sha256"] == landed["sha256"]
    assert simulator.stats.total_calls == calls
    assert json.loads(json.dumps(again)) == again  # the job stays plain JSON for the state


def test_a_resume_whose_upload_is_gone_downloads_again_from_the_start(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    s3 = runtime.client("s3")
    dead = s3.create_multipart_upload(Bucket=runtime.bucket, Key="incoming/gone.zip")
    s3.abort_multipart_upload(
        Bucket=runtime.bucket, Key="incoming/gone.zip", UploadId=dead["UploadId"]
    )
    job = create_export.handler(create_event(), context())
    job["download"] = {  # as an earlier invocation left it, before the lifecycle rule struck
        "key": "incoming/gone.zip",
        "upload_id": dead["UploadId"],
        "parts": 1,
        "size": 5 * 1024 * 1024,
        "total": None,
        "part_size": 5 * 1024 * 1024,
    }
    simulator.config.ready_after_retrieves = 0
    job = retrieve_export.handler({"job": job, "execution_arn": EXECUTION}, context())

    assert job["landed"]["status"] == "SUCCEEDED"
    (download,) = [s for s in simulator.served if s.status_code in (200, 206)]
    assert download.status_code == 200 and download.range is None  # from byte 0
    expected = simulator.expected_body(job["export_id"])
    assert (job["landed"]["bytes"], job["landed"]["sha256"]) == (expected.size, expected.sha256())
    assert runtime.open_uploads() == []


def test_a_check_that_would_not_fit_gets_an_invocation_of_its_own(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    simulator.config.ready_after_retrieves = 0
    job = create_export.handler(create_event(), context())
    monkeypatch.setenv("VERIFY_BYTES_PER_SECOND", "1")  # no invocation is long enough now
    job = retrieve_export.handler({"job": job, "execution_arn": EXECUTION}, context())
    assert job["landed"] is None and job["next_wait_seconds"] == 0
    assert job["download"]["staged"] and job["download"]["sha256"]
    assert runtime.object_keys() == [job["download"]["key"]]  # staged, not published

    monkeypatch.delenv("VERIFY_BYTES_PER_SECOND")
    calls = simulator.stats.total_calls
    job = retrieve_export.handler({"job": job, "execution_arn": EXECUTION}, context())
    assert simulator.stats.total_calls == calls  # checked and published without Ongage
    expected = simulator.expected_body(job["export_id"])
    assert (job["landed"]["bytes"], job["landed"]["sha256"]) == (expected.size, expected.sha256())
    assert runtime.object_keys() == [job["landed"]["key"]] and runtime.open_uploads() == []


def test_a_staged_object_that_is_gone_is_downloaded_again(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.config.ready_after_retrieves = 0
    job = create_export.handler(create_event(), context())
    job["download"] = {  # left by an invocation whose check then failed and deleted it
        "key": "incoming/checked-and-deleted.zip",
        "upload_id": "",
        "parts": 0,
        "size": 1234,
        "total": 1234,
        "staged": True,
        "sha256": "0" * 64,
    }
    job = retrieve_export.handler({"job": job, "execution_arn": EXECUTION}, context())
    expected = simulator.expected_body(job["export_id"])
    assert (job["landed"]["bytes"], job["landed"]["sha256"]) == (expected.size, expected.sha256())


def test_metrics_are_emitted_in_lambda(
    runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    create_export.handler(create_event(), context())
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    names = {
        m["Name"] for e in emitted for d in e["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]
    }
    assert {"RunsStarted", "ExportsCreated"} <= names
