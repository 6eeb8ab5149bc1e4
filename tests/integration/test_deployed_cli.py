"""`ongage-export start | status | wait` against a "deployed" stack in moto.

moto runs the state machine for real (Pass and Wait states standing in for the Lambdas) and
serves the CloudFormation outputs the commands look up.
"""

from __future__ import annotations

import argparse
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
import pytest
from moto import mock_aws

from ongage_cli import deployed, following, starting
from ongage_cli.deployment import Deployment
from ongage_export.contract import EXECUTION_NAME

REGION = "us-east-1"
STACK = "OngageExportCliTest"
API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/v1/"
REQUEST = {
    "list_id": 7,
    "name": "weekly actives",
    "segment_id": [1],
    "date_format": "dd/mm/yyyy",
    "file_format": "csv",
    "status": ["active"],
}
LANDED = {
    "status": "SUCCEEDED",
    "bucket": "exports-bucket",
    "key": "exports/list=7/date=2030-01-01/weekly-e1.zip",
    "bytes": 123,
    "sha256": "ab" * 32,
    "export_id": "e1",
}


def _definition(wait_seconds: int, final: dict[str, Any]) -> dict[str, Any]:
    job = {"export_id": "e1", "polls": 2, "next_wait_seconds": 30, "download": None}
    return {
        "StartAt": "CreateExport",
        "States": {
            "CreateExport": {
                "Type": "Pass",
                "Result": job,
                "ResultPath": "$.job",
                "Next": "WaitForExport",
            },
            "WaitForExport": {"Type": "Wait", "Seconds": wait_seconds, "Next": "End"},
            "End": final,
        },
    }


SUCCEED = {"Type": "Pass", "Result": LANDED, "End": True}
FAIL = {"Type": "Fail", "Error": "ExportNotReady", "Cause": "the deadline passed"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield


def _deploy(wait_seconds: int = 0, final: dict[str, Any] = SUCCEED) -> str:
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="export",
        definition=json.dumps(_definition(wait_seconds, final)),
        roleArn="arn:aws:iam::123456789012:role/sfn",
    )["stateMachineArn"]
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {
            "StateMachineArn": {"Value": arn},
            "ApiUrl": {"Value": API_URL},
            "BucketName": {"Value": "exports-bucket"},
            "TopicArn": {"Value": {"Ref": "Topic"}},
        },
    }
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    return arn


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ongage-export")
    deployed.add_deployed_commands(parser.add_subparsers())
    return parser


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    args = _parser().parse_args([*argv, "--stack", STACK])
    code = args.func(args)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _request_file(tmp_path: Path, body: Any = REQUEST) -> str:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(body))
    return str(path)


def _finish(execution_id: str) -> None:
    deployment = Deployment.find(STACK)
    sfn = deployment.stepfunctions()
    for _ in range(1200):  # 60 s: executions run in threads, slow on a busy machine
        status = sfn.describe_execution(executionArn=deployment.execution_arn(execution_id))
        if status["status"] != "RUNNING":
            return
        time.sleep(0.05)
    raise AssertionError("did not finish")


def test_commands_are_registered_with_func():
    parser = _parser()
    for argv in (["start", "r.json"], ["status", "x"], ["wait", "x"], ["redrive", "x"]):
        assert callable(parser.parse_args(argv).func)


def test_start_runs_the_workflow_with_the_request_and_key(aws, tmp_path, capsys):
    arn = _deploy()
    code, out, _ = _run(
        [
            "start",
            _request_file(tmp_path),
            "--idempotency-key",
            "run-1",
            "--poll-initial",
            "5",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    started = json.loads(out)
    assert started["run_id"] == "run-1"
    assert started["execution_arn"] == arn.replace(":stateMachine:", ":execution:") + ":run-1"
    sfn = boto3.client("stepfunctions")
    run_input = json.loads(sfn.describe_execution(executionArn=started["execution_arn"])["input"])
    assert run_input == {"request": REQUEST, "polling": {"initial_seconds": 5}}


def test_start_makes_a_readable_key_when_none_is_given(aws, tmp_path, capsys):
    _deploy()
    code, out, _ = _run(["start", _request_file(tmp_path), "--json"], capsys)
    assert code == 0
    key = json.loads(out)["run_id"]
    assert key.startswith("weekly-actives-")
    assert EXECUTION_NAME.match(key)


def test_start_refuses_an_invalid_request_before_calling_aws(aws, tmp_path, capsys):
    _deploy()
    code, _, err = _run(["start", _request_file(tmp_path, {"name": "x"})], capsys)
    assert code == deployed.EXIT_USAGE
    assert "'date_format' is required" in err


def test_a_used_key_is_reported_not_started_again(aws, tmp_path, capsys):
    _deploy()
    request = _request_file(tmp_path)
    assert _run(["start", request, "--idempotency-key", "once"], capsys)[0] == 0
    _finish("once")
    code, _, err = _run(["start", request, "--idempotency-key", "once"], capsys)
    assert code == deployed.EXIT_USAGE
    assert "already used" in err
    executions = boto3.client("stepfunctions").list_executions(
        stateMachineArn=Deployment.find(STACK).state_machine_arn
    )["executions"]
    assert len(executions) == 1


def test_status_of_a_landed_export_has_location_and_download_link(aws, tmp_path, capsys):
    _deploy()
    _run(["start", _request_file(tmp_path), "--idempotency-key", "landed"], capsys)
    _finish("landed")
    code, out, _ = _run(["status", "landed", "--json", "--link-seconds", "300"], capsys)
    assert code == 0
    report = json.loads(out)
    assert report["status"] == "SUCCEEDED"
    assert report["result"] == LANDED
    assert report["location"] == f"s3://{LANDED['bucket']}/{LANDED['key']}"
    query = parse_qs(urlparse(report["download_url"]).query)
    assert query["X-Amz-Expires"] == ["300"]


def test_status_of_a_failed_export_exits_1_with_the_error(aws, tmp_path, capsys):
    _deploy(final=FAIL)
    _run(["start", _request_file(tmp_path), "--idempotency-key", "failed"], capsys)
    _finish("failed")
    code, out, _ = _run(["status", "failed"], capsys)
    assert code == deployed.EXIT_FAILED
    assert "ExportNotReady" in out
    assert "the deadline passed" in out


def test_status_of_a_running_export_shows_progress(aws, tmp_path, capsys):
    _deploy(wait_seconds=30)
    _run(["start", _request_file(tmp_path), "--idempotency-key", "running"], capsys)
    for _ in range(1200):  # until moto's interpreter has reached the Wait state (60 s at most)
        code, out, _ = _run(["status", "running", "--json"], capsys)
        report = json.loads(out)
        if report["progress"]["state"] == "WaitForExport":
            break
        time.sleep(0.05)
    assert code == 0
    assert report["status"] == "RUNNING"
    assert report["progress"]["state"] == "WaitForExport"
    assert report["progress"]["export_id"] == "e1"
    assert report["progress"]["polls"] == 2


def test_unknown_id_and_unknown_stack_are_usage_errors(aws, capsys):
    _deploy()
    assert _run(["status", "nope"], capsys)[0] == deployed.EXIT_USAGE
    assert _run(["status", "bad id!"], capsys)[0] == deployed.EXIT_USAGE
    args = _parser().parse_args(["status", "x", "--stack", "NoSuchStack"])
    assert args.func(args) == deployed.EXIT_USAGE
    assert "NoSuchStack" in capsys.readouterr().err


def test_wait_shows_progress_until_the_export_lands(aws, tmp_path, capsys):
    _deploy(wait_seconds=6)  # time for `wait` to find it RUNNING on a busy machine
    _run(["start", _request_file(tmp_path), "--idempotency-key", "waited"], capsys)
    code, out, err = _run(["wait", "waited", "--interval", "0.2", "--json"], capsys)
    assert code == 0
    assert json.loads(out)["status"] == "SUCCEEDED"
    lines = err.strip().splitlines()
    assert any("RUNNING" in line and "export e1" in line for line in lines)
    assert "SUCCEEDED" in lines[-1]


def test_wait_gives_up_at_its_timeout_with_exit_3(aws, tmp_path, capsys):
    _deploy(wait_seconds=30)
    _run(["start", _request_file(tmp_path), "--idempotency-key", "slow"], capsys)
    code, _, err = _run(["wait", "slow", "--interval", "0.1", "--timeout", "0.3"], capsys)
    assert code == deployed.EXIT_STILL_RUNNING
    assert "RUNNING" in err


def test_start_wait_prints_the_final_report_only_on_stdout(aws, tmp_path, capsys):
    _deploy()
    code, out, err = _run(
        [
            "start",
            _request_file(tmp_path),
            "--idempotency-key",
            "sw",
            "--wait",
            "--interval",
            "0.1",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    assert json.loads(out)["status"] == "SUCCEEDED"
    assert "started run sw" in err


def test_progress_line_on_a_terminal_is_rewritten_in_place():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    following.show(out, "first")
    following.show(out, "second")
    assert out.getvalue() == "\r\033[Kfirst\r\033[Ksecond"


def test_progress_line_mentions_download_progress():
    download = {"size": 3 * 1024 * 1024, "total": 6 * 1024 * 1024}
    progress = {"state": "RetrieveExport", "export_id": "e1", "polls": 4, "download": download}
    report = {"run_id": "k", "status": "RUNNING", "progress": progress}
    line = following.progress_line(report, 75)
    assert line.startswith("[01:15]  run k  RUNNING  at RetrieveExport  Ongage export e1")
    assert "downloaded 3.0 MiB of 6.0 MiB" in line


def test_progress_line_says_when_a_run_waits_for_its_accounts_calls():
    progress = {"state": "WaitForExport", "export_id": "e1", "polls": 2, "account": "brand-eu",
                "slot_refusals": 3, "next_wait_seconds": 7}  # fmt: skip
    line = following.progress_line({"run_id": "k", "status": "RUNNING", "progress": progress}, 5)
    assert "waiting 7 s for a free slot of the calls of account brand-eu at Ongage" in line
    assert "next check" not in line


class _FakeResponse(io.BytesIO):
    status = 202

    def __enter__(self) -> _FakeResponse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_start_via_api_posts_a_sigv4_signed_body(aws, tmp_path, capsys, monkeypatch):
    _deploy()
    sent: list[Any] = []
    answer = {"run_id": "api-1", "execution_arn": "arn:x", "started_at": 1.0}

    def fake_urlopen(request: Any, timeout: float) -> _FakeResponse:
        sent.append(request)
        return _FakeResponse(json.dumps(answer).encode())

    monkeypatch.setattr(starting.urllib.request, "urlopen", fake_urlopen)
    code, out, _ = _run(
        ["start", _request_file(tmp_path), "--idempotency-key", "api-1", "--via-api", "--json"],
        capsys,
    )
    assert code == 0
    assert json.loads(out)["via"] == "api"
    (request,) = sent
    assert request.full_url == API_URL + "exports"
    assert request.get_method() == "POST"
    assert json.loads(request.data) == {"idempotency_key": "api-1", "request": REQUEST}
    authorization = request.get_header("Authorization")
    assert authorization.startswith("AWS4-HMAC-SHA256 ")
    assert f"/{REGION}/execute-api/aws4_request" in authorization


def test_start_via_api_reports_a_rejection(aws, tmp_path, capsys, monkeypatch):
    _deploy()

    def conflict(request: Any, timeout: float) -> Any:
        body = io.BytesIO(json.dumps({"message": "already named a run"}).encode())
        raise starting.urllib.error.HTTPError(request.full_url, 409, "Conflict", {}, body)  # type: ignore[arg-type]

    monkeypatch.setattr(starting.urllib.request, "urlopen", conflict)
    code, _, err = _run(["start", _request_file(tmp_path), "--via-api"], capsys)
    assert code == deployed.EXIT_USAGE
    assert "409" in err and "already named a run" in err


def test_polling_options_are_checked_before_starting(aws, tmp_path, capsys):
    _deploy()
    code, _, err = _run(["start", _request_file(tmp_path), "--poll-initial", "4000"], capsys)
    assert code == deployed.EXIT_USAGE
    assert "initial_seconds" in err


def test_a_long_first_wait_raises_the_cap_with_it(aws, tmp_path, capsys):
    _deploy()
    argv = ["start", _request_file(tmp_path), "--idempotency-key", "slow-start"]
    code, out, _ = _run([*argv, "--poll-initial", "900", "--json"], capsys)
    assert code == 0
    arn = json.loads(out)["execution_arn"]
    run_input = json.loads(
        boto3.client("stepfunctions").describe_execution(executionArn=arn)["input"]
    )
    assert run_input["polling"] == {"initial_seconds": 900, "max_seconds": 900}


def test_redrive_resumes_a_failed_run_with_its_export(aws, tmp_path, capsys):
    arn = _deploy(final=FAIL)
    _run(["start", _request_file(tmp_path), "--idempotency-key", "k-1"], capsys)
    _finish("k-1")

    code, out, _ = _run(["redrive", "k-1", "--json"], capsys)

    assert code == deployed.EXIT_OK
    started = json.loads(out)
    assert started["run_id"].startswith("k-1-redrive-")
    sfn = boto3.client("stepfunctions")
    run_input = json.loads(sfn.describe_execution(executionArn=started["execution_arn"])["input"])
    assert run_input["request"] == REQUEST
    assert run_input["resume"] == {
        "execution_arn": f"{arn.replace(':stateMachine:', ':execution:')}:k-1",
        "export_id": "e1",
    }


def test_redrive_refuses_a_run_that_did_not_fail(aws, tmp_path, capsys):
    _deploy()
    _run(["start", _request_file(tmp_path), "--idempotency-key", "k-2"], capsys)
    _finish("k-2")
    code, _, err = _run(["redrive", "k-2"], capsys)
    assert code == deployed.EXIT_USAGE
    assert "only a failed, timed-out or aborted run can be resumed" in err


# --- one name for one thing: run ids and Ongage export ids ---------------------------------------


def test_status_names_the_run_and_the_ongage_export_apart(aws, tmp_path, capsys):
    _deploy()
    _run(["start", _request_file(tmp_path), "--idempotency-key", "named"], capsys)
    _finish("named")

    code, out, _ = _run(["status", "named"], capsys)

    assert code == 0
    assert out.splitlines()[:2] == ["run            named", "Ongage export  e1"]
    report = json.loads(_run(["status", "named", "--json"], capsys)[1])
    assert (report["run_id"], report["export_id"]) == ("named", "e1")
    assert "id" not in report


def test_status_finds_a_run_by_its_ongage_export_id_and_says_which(aws, tmp_path, capsys):
    _deploy()
    _run(["start", _request_file(tmp_path), "--idempotency-key", "by-export"], capsys)
    _finish("by-export")

    code, out, err = _run(["status", "e1", "--json"], capsys)

    assert code == 0
    assert err.strip() == "Ongage export e1 is run by-export"
    assert json.loads(out)["run_id"] == "by-export"


def test_a_failed_run_shows_the_export_it_created(aws, tmp_path, capsys):
    _deploy(final=FAIL)
    _run(["start", _request_file(tmp_path), "--idempotency-key", "f-1"], capsys)
    _finish("f-1")
    code, out, _ = _run(["status", "f-1", "--json"], capsys)
    assert code == deployed.EXIT_FAILED
    assert json.loads(out)["export_id"] == "e1"  # from the run's history


def test_an_id_that_is_neither_a_run_nor_an_export_says_what_was_searched(aws, capsys):
    _deploy()
    code, _, err = _run(["wait", "7000099"], capsys)
    assert code == deployed.EXIT_USAGE
    assert "no run '7000099' on this stack" in err
    assert "created Ongage export '7000099'" in err


# --- redrive with other polling ----------------------------------------------------------------


def _started_input(out: str) -> dict[str, Any]:
    arn = json.loads(out)["execution_arn"]
    return dict(
        json.loads(boto3.client("stepfunctions").describe_execution(executionArn=arn)["input"])
    )


def test_redrive_keeps_the_failed_runs_polling_by_default(aws, tmp_path, capsys):
    _deploy(final=FAIL)
    argv = ["start", _request_file(tmp_path), "--idempotency-key", "p-1", "--deadline", "5"]
    _run([*argv, "--poll-initial", "2"], capsys)
    _finish("p-1")

    code, out, _ = _run(["redrive", "p-1", "--json"], capsys)

    assert code == 0
    assert _started_input(out)["polling"] == {"initial_seconds": 2, "deadline_seconds": 5}


def test_redrive_with_a_longer_deadline_keeps_the_rest_and_the_export(aws, tmp_path, capsys):
    _deploy(final=FAIL)
    argv = ["start", _request_file(tmp_path), "--idempotency-key", "p-2", "--deadline", "5"]
    _run([*argv, "--poll-initial", "2"], capsys)
    _finish("p-2")

    code, out, _ = _run(
        ["redrive", "p-2", "--deadline", "900", "--poll-max", "30", "--json"], capsys
    )

    assert code == 0
    started = json.loads(out)
    assert (started["redrives"], started["export_id"]) == ("p-2", "e1")
    run_input = _started_input(out)
    assert run_input["polling"] == {
        "initial_seconds": 2,
        "deadline_seconds": 900,
        "max_seconds": 30,
    }
    assert run_input["resume"]["export_id"] == "e1"


def test_redrive_checks_the_merged_polling_before_starting(aws, tmp_path, capsys):
    _deploy(final=FAIL)
    argv = ["start", _request_file(tmp_path), "--idempotency-key", "p-3", "--poll-initial", "60"]
    _run(argv, capsys)
    _finish("p-3")
    code, _, err = _run(["redrive", "p-3", "--poll-max", "10"], capsys)
    assert code == deployed.EXIT_USAGE
    assert err.startswith("error: --poll-initial/--poll-max/--deadline:")
    assert len(boto3.client("stepfunctions").list_executions(
        stateMachineArn=Deployment.find(STACK).state_machine_arn)["executions"]) == 1  # fmt: skip


def test_redrive_by_execution_arn_needs_no_stack_name(aws, tmp_path, capsys):
    """The command a failure notice prints names the execution ARN: it works whatever the
    stack is called and wherever ONGAGE_EXPORT_STACK points."""
    machine = _deploy(final=FAIL)
    _run(["start", _request_file(tmp_path), "--idempotency-key", "a-1"], capsys)
    _finish("a-1")
    failed = machine.replace(":stateMachine:", ":execution:") + ":a-1"

    args = _parser().parse_args(["redrive", failed, "--deadline", "600"])
    assert args.func(args) == deployed.EXIT_OK

    out = capsys.readouterr().out
    assert "started run a-1-redrive-" in out and "carries on  run a-1's Ongage export e1" in out
    assert "deadline 600 s" in out
    assert (
        f"ongage-export wait {machine.replace(':stateMachine:', ':execution:')}:a-1-redrive-" in out
    )


def test_redrive_by_ongage_export_id_takes_the_newest_run_of_it(aws, tmp_path, capsys):
    _deploy(final=FAIL)
    _run(["start", _request_file(tmp_path), "--idempotency-key", "n-1"], capsys)
    _finish("n-1")
    first = json.loads(_run(["redrive", "n-1", "--json"], capsys)[1])
    _finish(first["run_id"])

    code, out, err = _run(["redrive", "e1", "--json"], capsys)

    assert code == 0
    assert err.strip() == (
        f"Ongage export e1 is run {first['run_id']} (the newest of its runs; the others: n-1)"
    )
    assert json.loads(out)["redrives"] == first["run_id"]


def test_start_via_api_that_cannot_be_reached_is_one_line(aws, tmp_path, capsys, monkeypatch):
    _deploy()

    def unreachable(request: Any, timeout: float) -> Any:
        raise starting.urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(starting.urllib.request, "urlopen", unreachable)
    code, _, err = _run(["start", _request_file(tmp_path), "--via-api"], capsys)
    assert code == deployed.EXIT_USAGE
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert "--via-api: the stack's API did not answer" in err
