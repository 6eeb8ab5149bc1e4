"""Timeouts that cannot collide, read from the synthesized template (`make synth`'s cdk.out),
its workflow definition asset and the Lambda settings, never from copies of the numbers.

- A Lambda Task's TimeoutSeconds exceeds its function's timeout with margin: otherwise Step
  Functions retries `States.Timeout` while the first invocation still streams into the same
  upload.
- An Ongage call (connect + read timeout) ends well inside the function that makes it, so a
  silent Ongage becomes a retried OngageUnavailable, not a killed invocation.
- The machine outlives the longest polling deadline a run may ask for, plus one retrieve.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ongage_export.domain.polling import MAX_DEADLINE_SECONDS
from ongage_export.settings import ONGAGE_CONNECT_TIMEOUT_SECONDS, ONGAGE_READ_TIMEOUT_SECONDS

CDK_OUT = Path(__file__).resolve().parents[2] / "cdk.out"
TASK_MARGIN_SECONDS = 30
ONGAGE_CALLERS = ("create_export", "retrieve_export")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    path = CDK_OUT / "OngageExport.template.json"
    if not path.exists():
        pytest.fail("cdk.out/OngageExport.template.json is missing: run `make synth`")
    return dict(json.loads(path.read_text()))


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _machine(template: dict[str, Any], placeholder: str) -> dict[str, Any]:
    """The state machine whose definition has `placeholder` substituted."""
    (machine,) = [
        machine
        for machine in _resources(template, "AWS::StepFunctions::StateMachine").values()
        if placeholder in machine["Properties"]["DefinitionSubstitutions"]
    ]
    return machine


def _definition(machine: dict[str, Any]) -> dict[str, Any]:
    asset = CDK_OUT / f"asset.{machine['Properties']['DefinitionS3Location']['Key']}"
    return dict(json.loads(asset.read_text()))


@pytest.fixture(scope="module")
def definition(template: dict[str, Any]) -> dict[str, Any]:
    return _definition(_machine(template, "CreateExportFunctionArn"))


def _function_of(template: dict[str, Any], task: dict[str, Any]) -> dict[str, Any]:
    """The function resource a `${XFunctionArn}` placeholder of the Task resolves to."""
    machine = _machine(template, "CreateExportFunctionArn")
    placeholder = task["Parameters"]["FunctionName"].strip("${}")
    logical_id = machine["Properties"]["DefinitionSubstitutions"][placeholder]["Fn::GetAtt"][0]
    return dict(template["Resources"][logical_id]["Properties"])


def _lambda_tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: state
        for name, state in definition["States"].items()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }


def test_every_lambda_task_outlives_its_function(template, definition):
    tasks = _lambda_tasks(definition)
    assert set(tasks) == {"CreateExport", "RetrieveExport"}
    for name, task in tasks.items():
        function = _function_of(template, task)
        assert task["TimeoutSeconds"] >= function["Timeout"] + TASK_MARGIN_SECONDS, name


def test_an_ongage_call_ends_well_inside_the_function_that_makes_it(template, definition):
    call = ONGAGE_CONNECT_TIMEOUT_SECONDS + ONGAGE_READ_TIMEOUT_SECONDS
    for name, task in _lambda_tasks(definition).items():
        function = _function_of(template, task)
        assert call + TASK_MARGIN_SECONDS / 2 <= function["Timeout"], name


def test_the_machine_outlives_the_longest_deadline_and_a_last_retrieve(template, definition):
    retrieve = _function_of(template, _lambda_tasks(definition)["RetrieveExport"])
    assert definition["TimeoutSeconds"] > MAX_DEADLINE_SECONDS + retrieve["Timeout"]


def test_a_batch_outlives_its_exports(template, definition):
    batch = _definition(_machine(template, "ExportStateMachineArn"))
    assert batch["TimeoutSeconds"] > definition["TimeoutSeconds"]
