"""The synthesized stack as deployed into the local AWS: the deployed machine, the deployed
Lambdas under their own roles, the deployed topic, API, schedule and event pattern.

Each test here needs the Ongage simulator behind the stack, so they run on the local deployment
only; `test_deployed_stack.py` holds what runs against a real stack too.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local_aws.cloud_assembly import CDK_OUT, stack_in
from local_aws.deployment import LocalDeployment
from ongage_simulator import Fault
from tests.e2e.conftest import LocalTarget, subscribe_queue

pytestmark = pytest.mark.e2e

CLI = str(Path(sys.executable).with_name("ongage-export"))
REQUEST = {
    "name": "e2e actives",
    "list_id": 1111,
    "segment_id": [77197],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "status": ["active"],
}


def cli(*arguments: str, request: dict[str, Any] | None = None, tmp: Path) -> dict[str, Any]:
    """`ongage-export ARGS [REQUEST.json] --json` as a user runs it; its one JSON object."""
    command = [CLI, *arguments]
    if request is not None:
        path = tmp / "request.json"
        path.write_text(json.dumps(request))
        command.insert(2, str(path))
    done = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )
    assert done.stdout.strip(), done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def start_and_wait(tmp: Path, request: dict[str, Any] = REQUEST, *extra: str) -> dict[str, Any]:
    return cli(
        "start", "--wait", "--poll-initial", "1", "--poll-max", "1", "--interval", "0.5",
        *extra, request=request, tmp=tmp,
    )  # fmt: skip


def test_an_export_started_with_the_cli_lands_byte_identical_and_is_announced(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    report = start_and_wait(tmp_path)

    assert report["status"] == "SUCCEEDED", report
    result = report["result"]
    expected = local_env.simulator.expected_body(result["export_id"])
    stored = local_env.deployed.client("s3").get_object(
        Bucket=local_env.deployed.outputs["BucketName"], Key=result["key"]
    )
    data = stored["Body"].read()
    assert len(data) == expected.size
    assert hashlib.sha256(data).hexdigest() == expected.sha256() == result["sha256"]
    notice = local_env.notice_for(report["execution_arn"])
    assert notice["subject"] == "Ongage export landed"
    assert notice["message"]["key"] == result["key"]


def test_a_failure_is_announced_on_the_deployed_topic_with_its_reason(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    local_env.simulator.inject(Fault.FORBIDDEN, times=None)

    report = start_and_wait(tmp_path)

    assert report["status"] == "FAILED"
    notice = local_env.notice_for(report["execution_arn"])
    assert notice["attributes"]["status"] == "FAILED"
    assert notice["message"]["error"] == "OngageAuthError"


# --- IAM, as the template grants it ------------------------------------------------------------


def _template() -> dict[str, Any]:
    return dict(json.loads((CDK_OUT / f"{stack_in(CDK_OUT)}.template.json").read_text()))


def _policy_statements(template: dict[str, Any], role_prefix: str) -> list[dict[str, Any]]:
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        roles = resource["Properties"]["Roles"]
        if any(role["Ref"].startswith(role_prefix) for role in roles):
            statements: list[dict[str, Any]] = resource["Properties"]["PolicyDocument"]["Statement"]
            return statements
    raise AssertionError(f"no policy attached to a role {role_prefix}*")


def without_action(template: dict[str, Any], role_prefix: str, action: str) -> dict[str, Any]:
    """The template with one action taken out of one role's policy (nothing else changed)."""
    changed = copy.deepcopy(template)
    statements = _policy_statements(changed, role_prefix)
    found = False
    for statement in statements:
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        if action in actions:
            statement["Action"] = [a for a in actions if a != action]
            found = True
    assert found, f"{role_prefix} is not granted {action}: the test no longer removes anything"
    statements[:] = [s for s in statements if s["Action"]]
    return changed


def deploy_variant(target: LocalTarget, name: str, template: dict[str, Any]) -> LocalDeployment:
    """A second stack from a changed template (the assets are the ones `cdk deploy` published)."""
    cloudformation = target.deployed.client("cloudformation")
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "OngageBaseUrl", "ParameterValue": target.simulator.url}],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    variant = LocalDeployment(target.deployed.environment, name, outputs)
    subscribe_queue(variant, target.queue_url)
    variant.client("secretsmanager").put_secret_value(
        SecretId=outputs["SecretId"],
        SecretString=target.deployed.client("secretsmanager").get_secret_value(
            SecretId=target.deployed.outputs["SecretId"]
        )["SecretString"],
    )
    return variant


@pytest.mark.parametrize(
    ("role", "action", "error"),
    [
        # RetrieveExport may not stream into incoming/ (nor land in exports/): S3 says no.
        ("FunctionsRetrieveExportRole", "s3:PutObject", "StorageAccessDenied"),
        # The state machine may not invoke its functions: Step Functions' call is refused.
        (
            "WorkflowStateMachineRole",
            "lambda:InvokeFunction",
            "is not authorized to perform: lambda:InvokeFunction",
        ),
    ],
)
def test_a_permission_taken_from_the_template_fails_the_run_with_access_denied(
    local_env: LocalTarget, tmp_path: Path, role: str, action: str, error: str
) -> None:
    name = f"NoPermission{abs(hash((role, action))) % 10_000}"
    variant = deploy_variant(local_env, name, without_action(_template(), role, action))

    report = start_and_wait(tmp_path, REQUEST, "--stack", variant.stack)

    assert report["status"] == "FAILED", report
    assert error in json.dumps(report), report
    notice = local_env.notice_for(report["execution_arn"])
    assert notice["attributes"]["status"] == "FAILED"
    assert error in json.dumps(notice["message"])


# --- the API, the schedule and the event pattern, where the local AWS cannot serve them -------


def _resource(deployed: LocalDeployment, logical_prefix: str, kind: str) -> str:
    resources = deployed.client("cloudformation").list_stack_resources(StackName=deployed.stack)
    for resource in resources["StackResourceSummaries"]:
        if resource["ResourceType"] == kind and resource["LogicalResourceId"].startswith(
            logical_prefix
        ):
            return str(resource["PhysicalResourceId"])
    raise AssertionError(f"no {kind} {logical_prefix}* in the deployed stack")


def test_every_deployed_api_method_requires_iam_signatures(local_env: LocalTarget) -> None:
    """Instead of an unsigned request (no API Gateway data plane here): the deployed methods."""
    apigateway = local_env.deployed.client("apigateway")
    api_id = _resource(local_env.deployed, "Api", "AWS::ApiGateway::RestApi")
    methods = [
        apigateway.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=verb)
        for resource in apigateway.get_resources(restApiId=api_id)["items"]
        for verb in resource.get("resourceMethods", {})
    ]
    assert {m["httpMethod"] for m in methods} == {"GET", "POST"}
    assert all(m["authorizationType"] == "AWS_IAM" for m in methods)


def _status(local_env: LocalTarget, export_id: str) -> dict[str, Any]:
    """GET /exports/{id} as API Gateway's proxy integration invokes the deployed function."""
    function = _resource(local_env.deployed, "ApiExportStatus", "AWS::Lambda::Function")
    event = {
        "httpMethod": "GET",
        "resource": "/exports/{id}",
        "path": f"/exports/{export_id}",
        "pathParameters": {"id": export_id},
        "requestContext": {"stage": "v1", "httpMethod": "GET", "resourcePath": "/exports/{id}"},
    }
    answer = local_env.deployed.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps(event).encode()
    )
    assert "FunctionError" not in answer, answer["Payload"].read()
    return dict(json.loads(answer["Payload"].read()))


def test_the_status_function_answers_404_and_links_a_landed_export(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    assert _status(local_env, "no-such-export")["statusCode"] == 404

    report = start_and_wait(tmp_path)
    answer = _status(local_env, report["run_id"])

    assert answer["statusCode"] == 200
    body = json.loads(answer["body"])
    assert body["status"] == "SUCCEEDED"
    assert (body["run_id"], body["export_id"]) == (report["run_id"], report["export_id"])
    assert body["download_url"].startswith(local_env.deployed.environment["AWS_ENDPOINT_URL"])


def test_a_schedule_target_input_starts_a_run_that_lands(local_env: LocalTarget) -> None:
    """What Scheduler would send (it does not fire here): the deployed target's own input."""
    scheduler = local_env.deployed.client("scheduler")
    machine = local_env.deployed.outputs["StateMachineArn"]
    (target,) = [
        schedule["Target"]
        for listed in scheduler.list_schedules()["Schedules"]
        if (schedule := scheduler.get_schedule(Name=listed["Name"]))["Target"]["Arn"] == machine
    ]
    run_input = target["Input"].replace("<aws.scheduler.scheduled-time>", "2030-01-02T03:04:05Z")
    run_input = json.dumps({**json.loads(run_input), "polling": {"initial_seconds": 1}})

    sfn = local_env.deployed.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=target["Arn"], input=run_input)["executionArn"]

    notice = local_env.notice_for(arn, timeout=120)
    assert notice["attributes"]["status"] == "SUCCEEDED", notice
    assert "2030-01-02T03-04-05Z" in notice["message"]["key"]


def test_the_export_created_pattern_matches_what_s3_sends_for_a_landed_export(
    local_env: LocalTarget,
) -> None:
    """EventBridge deliveries from S3 are not emulated; the pattern consumers subscribe with
    (a stack output) is checked against the event S3 sends for a landed key."""
    bucket = local_env.deployed.outputs["BucketName"]
    pattern = local_env.deployed.outputs["ExportCreatedEventPattern"]
    events = local_env.deployed.client("events")

    def matches(key: str) -> bool:
        event = {
            "id": "1", "account": "123456789012", "region": "us-east-1",
            "time": "2030-01-02T03:04:05Z", "resources": [f"arn:aws:s3:::{bucket}"],
            "source": "aws.s3", "detail-type": "Object Created",
            "detail": {"bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
        }  # fmt: skip
        return bool(
            events.test_event_pattern(EventPattern=pattern, Event=json.dumps(event))["Result"]
        )

    assert matches("exports/list=1111/date=2030-01-02/e2e-7000001.zip")
    assert not matches("incoming/run/e2e-7000001.zip")


# --- recovering: redrive with a longer deadline, ids, the API ---------------------------------


def _run_cli(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *arguments], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )


def test_a_run_that_gave_up_lands_its_export_when_the_notice_is_followed_literally(
    local_env: LocalTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ExportNotReady with a short deadline; the notice's command (a redrive with a longer
    deadline) lands the same Ongage export, and Ongage is asked for no new one."""
    monkeypatch.setattr(local_env.simulator.config, "ready_after_retrieves", 10_000)
    failed = start_and_wait(tmp_path, REQUEST, "--deadline", "3")
    assert (failed["status"], failed["error"]) == ("FAILED", "ExportNotReady"), failed
    export_id = failed["export_id"]
    cause = local_env.notice_for(failed["execution_arn"])["message"]["cause"]
    (advice,) = re.findall(r"run `(ongage-export redrive [^`]+)`", cause)
    assert advice == f"ongage-export redrive {failed['execution_arn']} --deadline 6"

    local_env.simulator.config.ready_after_retrieves = 0
    creates = local_env.simulator.stats.creates
    followed = _run_cli(*shlex.split(advice)[1:])  # as printed; no --stack needed

    assert followed.returncode == 0, followed.stderr
    assert f"carries on  run {failed['run_id']}'s Ongage export {export_id}" in followed.stdout
    (redrive_id,) = re.findall(r"^started run (\S+) ", followed.stdout, re.MULTILINE)
    landed = cli("wait", export_id, "--interval", "0.5", tmp=tmp_path)  # by Ongage's id
    assert (landed["status"], landed["run_id"], landed["export_id"]) == (
        "SUCCEEDED", redrive_id, export_id,
    )  # fmt: skip
    assert local_env.simulator.stats.creates == creates  # the same export, no new create
    stored = (
        local_env.deployed.client("s3")
        .get_object(Bucket=local_env.deployed.outputs["BucketName"], Key=landed["result"]["key"])[
            "Body"
        ]
        .read()
    )
    assert (
        hashlib.sha256(stored).hexdigest() == local_env.simulator.expected_body(export_id).sha256()
    )


def test_status_names_the_run_and_the_ongage_export_and_finds_either(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    report = start_and_wait(tmp_path)
    run_id, export_id = report["run_id"], report["export_id"]
    assert report["status"] == "SUCCEEDED" and export_id == report["result"]["export_id"]

    by_export = _run_cli("status", export_id)

    assert by_export.returncode == 0, by_export.stderr
    assert by_export.stderr.strip() == f"Ongage export {export_id} is run {run_id}"
    assert by_export.stdout.splitlines()[:2] == [
        f"run            {run_id}",
        f"Ongage export  {export_id}",
    ]


def test_start_via_api_on_the_local_aws_is_one_clear_line(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST))
    done = _run_cli("start", str(path), "--via-api")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: --via-api: the stack is on a local AWS "
        f"({local_env.deployed.environment['AWS_ENDPOINT_URL']}), which does not serve API "
        "Gateway requests; start without --via-api (the same run, through Step Functions)"
    ]
