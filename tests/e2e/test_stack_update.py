"""Day two on the laptop: deploy, change cdk.json, synthesize, deploy again, run, destroy.

Its own local AWS process and simulator, so the session's shared deployment (`local_target`)
never sees the change. The changed app is synthesized with the changed settings as context
into a scratch folder (what `make synth` does after an edit of cdk.json), reusing the bundle.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_aws.deployment import (
    LocalAwsProcess,
    LocalDeployment,
    OngageSecret,
    deploy,
    destroy,
    project_config,
    synthesize,
)
from ongage_simulator import OngageSimulator, SimulatorConfig
from tests.e2e.conftest import CREDENTIALS, _real_stack
from tests.e2e.test_local_deployment import start_and_wait

pytestmark = pytest.mark.e2e


@pytest.fixture
def first_deployment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[LocalDeployment, OngageSimulator]]:
    """A fresh local AWS (its own process) with the stack of `cdk.out` deployed into it."""
    if _real_stack():
        pytest.skip("changes a local deployment only")
    config = SimulatorConfig(credentials=CREDENTIALS, ready_after_retrieves=2, export_bytes=50_000)
    with OngageSimulator(config) as simulator:
        endpoint = LocalAwsProcess(tmp_path / "local-aws", log=(tmp_path / "server.log").open("w"))
        try:
            deployed = deploy(endpoint.start(), ongage_url=simulator.url)
            deployed.put_credentials(
                OngageSecret(CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code)
            )
            for name, value in deployed.environment.items():
                monkeypatch.setenv(name, value)
            monkeypatch.delenv("AWS_PROFILE", raising=False)
            monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
            yield deployed, simulator
        finally:
            endpoint.stop()


def accounts(deployed: LocalDeployment) -> dict[str, dict[str, Any]]:
    """Each Ongage-calling function's accounts and limits (ONGAGE_ACCOUNTS), by its logical
    id's start."""
    client = deployed.client("lambda")
    found: dict[str, dict[str, Any]] = {}
    for function in client.list_functions()["Functions"]:
        for kind in ("FunctionsCreateExport", "FunctionsRetrieveExport"):
            if kind in function["FunctionName"]:
                variables = function["Environment"]["Variables"]
                found[kind] = json.loads(variables["ONGAGE_ACCOUNTS"])
    return found


def schedule_names(deployed: LocalDeployment) -> list[str]:
    schedules = deployed.client("scheduler").list_schedules()["Schedules"]
    return sorted(s["Name"] for s in schedules)


def changed_config() -> dict[str, Any]:
    """cdk.json with three edits: a lower Ongage concurrency limit (the functions are updated
    in place), a second account (its secret is added) and a renamed schedule (a new schedule
    replaces the old one)."""
    config = project_config()
    config["ongage_concurrency_limit"] = 6
    config["accounts"] = {"brand-eu": {"calls_per_minute": 100}}
    config["schedules"][0]["name"] = "daily-actives-renamed"
    return config


def test_a_changed_stack_deploys_again_runs_an_export_and_is_destroyed(
    first_deployment: tuple[LocalDeployment, OngageSimulator], tmp_path: Path
) -> None:
    deployed, simulator = first_deployment
    assert accounts(deployed) == {"FunctionsCreateExport": {}, "FunctionsRetrieveExport": {}}
    (old_schedule,) = schedule_names(deployed)

    changed = synthesize(tmp_path / "cdk.out", changed_config())
    # No --parameters: the stack keeps its Ongage URL (UsePreviousValue), as in the README.
    updated = deploy(deployed.environment, ongage_url=None, cdk_out=changed)

    stack = updated.client("cloudformation").describe_stacks(StackName=updated.stack)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    secrets = json.loads(updated.outputs.pop("AccountSecrets"))
    assert secrets["default"] == json.loads(deployed.outputs.pop("AccountSecrets"))["default"]
    assert updated.outputs == deployed.outputs  # nothing the outputs name was replaced
    expected = {
        "default": {"parallel_calls": 6},
        "brand-eu": {"secret_id": secrets["brand-eu"], "calls_per_minute": 100},
    }
    assert accounts(updated) == {
        "FunctionsCreateExport": expected, "FunctionsRetrieveExport": expected,
    }  # fmt: skip
    updated.client("secretsmanager").describe_secret(SecretId=secrets["brand-eu"])
    (new_schedule,) = schedule_names(updated)
    assert "dailyactivesrenamed" in new_schedule and new_schedule != old_schedule

    report = start_and_wait(tmp_path)  # the secret put before the update is still there

    assert report["status"] == "SUCCEEDED", report
    result = report["result"]
    stored = updated.client("s3").get_object(Bucket=result["bucket"], Key=result["key"])
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == (
        simulator.expected_body(result["export_id"]).sha256()
    )

    destroy(updated.environment, cdk_out=changed)

    cloudformation = updated.client("cloudformation")
    (summary,) = [
        s for s in cloudformation.list_stacks()["StackSummaries"] if s["StackName"] == updated.stack
    ]
    assert summary["StackStatus"] == "DELETE_COMPLETE"
    assert accounts(updated) == {}  # the functions are gone
    assert schedule_names(updated) == []
    # The exports bucket is kept (DeletionPolicy Retain), as CloudFormation keeps it.
    updated.client("s3").head_object(Bucket=result["bucket"], Key=result["key"])
