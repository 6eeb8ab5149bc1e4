"""Crashes on the stack deployed to the local AWS (fault_injection/deployed.py, a small
version of `python -m fault_injection --deployed`), and the resume path of a body that takes
several invocations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fault_injection import deployed, deployed_cases, processes
from ongage_simulator import Fault
from tests.e2e.conftest import LocalTarget

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("case", deployed_cases.CASES[:3], ids=["early", "middle", "late"])
def test_a_retrieve_worker_killed_in_the_body_lands_the_export_once(
    local_env: LocalTarget, case: deployed_cases.DeployedCase
) -> None:
    run = _landed_once_and_clean(deployed.run_case(local_env, case))
    sfn = local_env.deployed.client("stepfunctions")
    assert _task_failures(sfn, run.execution_arn) == ["Runtime.ExitError"]  # retried: no redrive


def test_a_create_worker_killed_during_the_create_leaves_one_export_and_says_so(
    local_env: LocalTarget,
) -> None:
    (case,) = [c for c in deployed_cases.CASES if c.kill and c.kill.function == "CreateExport"]

    result = deployed.run_case(local_env, case)

    assert result.ok, result.row()
    (run,) = result.runs
    assert (run.status, run.error, run.exports_created, run.notices) == (
        "FAILED", "CreateInterrupted", 1, 1,
    )  # fmt: skip
    history = local_env.deployed.client("stepfunctions").get_execution_history(
        executionArn=run.execution_arn, maxResults=1000
    )["events"]
    failures = [
        e["taskFailedEventDetails"]["error"] for e in history if "taskFailedEventDetails" in e
    ]
    assert failures == ["Runtime.ExitError", "CreateInterrupted"]  # retried, not asked again


def test_a_retrieve_worker_killed_during_the_zip_check_lands_the_staged_export_once(
    local_env: LocalTarget,
) -> None:
    """The kill lands between the check's two log lines (the case checks it), in the
    invocation that completed the staged upload; its retry checks the staged object again."""
    (case,) = [c for c in deployed_cases.CASES if c.kill and c.kill.within]

    run = _landed_once_and_clean(deployed.run_case(local_env, case))
    sfn = local_env.deployed.client("stepfunctions")
    assert _task_failures(sfn, run.execution_arn) == ["Runtime.ExitError"]  # retried: no redrive
    output = json.loads(sfn.describe_execution(executionArn=run.execution_arn)["output"])
    assert output["landing"] == "staged"
    export_id = str(output["export_id"])
    bodies = [(r.range or (0, 0))[0] for r in local_env.simulator.served
              if r.export_id == export_id and r.status_code in (200, 206)]  # fmt: skip
    # A single pass cut short, the staged upload from byte 0, the rest with a Range: no more.
    assert len(bodies) == 3 and bodies[2] > 0, bodies


@pytest.fixture
def slow_multi_invocation_retrieve(local_env: LocalTarget) -> Iterator[LocalTarget]:
    """RetrieveExport with a 12 s timeout that stops streaming 6 s before it (5 MiB parts, the
    ZIP check estimated slow so the body is staged), and a 12 MiB export trickled at 1 MiB/s:
    each invocation streams a part or two and hands over. Restored afterwards."""
    slow = deployed_cases.FunctionSettings(
        "RetrieveExport", 12, (("STREAM_STOP_MARGIN_SECONDS", "6"), ("PART_SIZE_MIB", "5"),
                               ("VERIFY_BYTES_PER_SECOND", "1000000")),
    )  # fmt: skip
    local_env.simulator.inject(Fault.SLOW_TRICKLE, times=None, bytes_per_second=1024 * 1024)
    try:
        with deployed.configured(local_env, slow), deployed.exporting(local_env, 12 * 1024 * 1024):
            yield local_env
    finally:
        local_env.simulator.clear_faults()


def test_a_body_that_takes_several_invocations_lands_staged_and_byte_identical(
    slow_multi_invocation_retrieve: LocalTarget,
) -> None:
    target = slow_multi_invocation_retrieve
    name = "chaos resumed"
    arn = deployed.start_run(target, name)
    run = deployed.outcome_of(target, arn, name)

    assert (run.status, run.byte_identical, run.exports_created, run.notices) == (
        "SUCCEEDED", True, 1, 1,
    ), run  # fmt: skip
    output: dict[str, Any] = json.loads(
        target.deployed.client("stepfunctions").describe_execution(executionArn=arn)["output"]
    )
    assert output["landing"] == "staged"
    served = [r for r in target.simulator.served if r.export_id == str(output["export_id"])]
    resumed = [r for r in served if r.range and r.range[0] > 0]
    assert resumed, "no retrieve resumed with an HTTP Range: the body came in one invocation"
    assert deployed.open_uploads(target) == []
    stored = target.deployed.client("s3").head_object(Bucket=output["bucket"], Key=output["key"])
    expected = target.simulator.expected_body(str(output["export_id"])).sha256()
    assert stored["Metadata"]["sha256"] == output["sha256"] == expected


@pytest.mark.parametrize(
    "run_input", [{}, [], "text", None, 7, {"request": 5}, {"request": {}, "polling": 3}]
)
def test_a_run_the_workflow_cannot_read_is_a_failure_announced_once(
    local_env: LocalTarget, run_input: Any
) -> None:
    """Started straight through Step Functions, as the console's "Start execution" does."""
    sfn = local_env.deployed.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=local_env.deployed.outputs["StateMachineArn"], input=json.dumps(run_input)
    )["executionArn"]
    assert processes.wait_for(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 120
    )
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "FAILED"
    assert deployed.notices_for(local_env, arn) == 1
    (notice,) = [n for n in local_env.read_notices() if n["message"].get("execution_arn") == arn]
    assert notice["message"]["error"] == described["error"]


@pytest.fixture
def notice_publish_denied(local_env: LocalTarget) -> Iterator[LocalTarget]:
    """The state machine's role without its sns:Publish (PublishNotices): the workflow's own
    failure notice fails, as with a broken topic policy or key grant. Restored afterwards."""
    deployed = local_env.deployed
    machine = deployed.client("stepfunctions").describe_state_machine(
        stateMachineArn=deployed.outputs["StateMachineArn"]
    )
    iam = deployed.client("iam")
    role = machine["roleArn"].rsplit("/", 1)[-1]
    documents = {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    }
    denied = {
        name: {**document, "Statement": [s for s in document["Statement"]
                                        if s.get("Sid") != "PublishNotices"]}
        for name, document in documents.items()
    }  # fmt: skip
    assert denied != documents, f"no PublishNotices statement in {role}'s policies"
    try:
        for name, document in denied.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))
        yield local_env
    finally:
        for name, document in documents.items():
            iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=json.dumps(document))


def test_a_run_whose_own_failure_notice_fails_is_announced_once_by_the_rule(
    notice_publish_denied: LocalTarget,
) -> None:
    """A FAILED no Catch sees: NotifyFailure is denied, so only the EventBridge rule's
    AnnounceRun function can announce the run, with the execution's error and cause."""
    target = notice_publish_denied
    sfn = target.deployed.client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=target.deployed.outputs["StateMachineArn"],
        input=json.dumps({"request": 5}),
    )["executionArn"]
    assert processes.wait_for(
        lambda: sfn.describe_execution(executionArn=arn)["status"] != "RUNNING", 120
    )
    described = sfn.describe_execution(executionArn=arn)
    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]

    assert described["status"] == "FAILED"
    assert "NotifyFailure" in {e.get("stateEnteredEventDetails", {}).get("name") for e in history}
    assert deployed.notices_for(target, arn) == 1
    (notice,) = [n for n in target.read_notices() if n["message"].get("execution_arn") == arn]
    message = notice["message"]
    assert message["source"] == "eventbridge"
    assert (message["status"], message["error"], message["cause"]) == (
        "FAILED", described["error"], described["cause"],
    )  # fmt: skip
    assert notice["attributes"]["status"] == "FAILED"


def test_a_stopped_run_is_announced_once_by_the_rule(local_env: LocalTarget) -> None:
    sfn = local_env.deployed.client("stepfunctions")
    slow = {"initial_seconds": 60, "growth": 1.0, "max_seconds": 60, "jitter": 0.0}
    run_input = {"request": {**deployed_cases.REQUEST, "name": "chaos stopped"}, "polling": slow}
    arn = sfn.start_execution(
        stateMachineArn=local_env.deployed.outputs["StateMachineArn"], input=json.dumps(run_input)
    )["executionArn"]

    def waiting() -> bool:
        events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
        return any(e["type"] == "WaitStateEntered" for e in events)

    assert processes.wait_for(waiting, 120)

    sfn.stop_execution(executionArn=arn, error="Operator.Stopped", cause="stopped by the test")

    assert deployed.notices_for(local_env, arn) == 1
    (notice,) = [n for n in local_env.read_notices() if n["message"].get("execution_arn") == arn]
    assert (notice["message"]["status"], notice["message"]["source"]) == ("ABORTED", "eventbridge")
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED"
    # The execution's error when the status change carries one; the status when it does not.
    assert notice["message"]["error"] == (described.get("error") or "ABORTED")


def _landed_once_and_clean(result: deployed_cases.DeployedResult) -> deployed_cases.RunOutcome:
    """The one run of a kill case: landed byte-identical from one Ongage export, announced
    once, no multipart upload left open and no partial object."""
    assert result.ok, result.row()
    (run,) = result.runs
    assert (run.status, run.byte_identical, run.exports_created, run.notices) == (
        "SUCCEEDED", True, 1, 1,
    )  # fmt: skip
    assert (result.open_uploads, result.partial_objects) == (0, 0)
    return run


def _task_failures(sfn: Any, execution_arn: str) -> list[str]:
    """The errors the run's tasks failed with, in order (each one the workflow retried)."""
    history = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["taskFailedEventDetails"]["error"] for e in history if "taskFailedEventDetails" in e]
