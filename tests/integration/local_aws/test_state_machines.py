from __future__ import annotations

import json
import time
from unittest import mock

import boto3
from moto.stepfunctions import models

from local_aws import state_machines

DEFINITION = {
    "StartAt": "Done",
    "States": {"Done": {"Type": "Pass", "Result": "${Greeting}", "End": True}},
}


def test_substitutions_replace_every_placeholder():
    assert state_machines.substitute("${A}-${A}-${B}", {"A": "x", "B": 1}) == "x-x-1"


def create_machine_from_s3() -> str:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="assets")
    s3.put_object(Bucket="assets", Key="d.json", Body=json.dumps(DEFINITION).encode())
    properties = {
        "DefinitionS3Location": {"Bucket": "assets", "Key": "d.json"},
        "DefinitionSubstitutions": {"Greeting": "hello"},
        "RoleArn": "arn:aws:iam::123456789012:role/r",
    }
    template = {
        "Resources": {"M": {"Type": "AWS::StepFunctions::StateMachine", "Properties": properties}},
        "Outputs": {"Arn": {"Value": {"Ref": "M"}}},
    }
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName="s", TemplateBody=json.dumps(template))
    return str(
        cloudformation.describe_stacks(StackName="s")["Stacks"][0]["Outputs"][0]["OutputValue"]
    )


def test_the_definition_comes_from_s3_and_the_machine_runs(aws):
    with mock.patch.object(
        models.StateMachine,
        "create_from_cloudformation_json",
        classmethod(state_machines.create_from_cloudformation_json),
    ):
        arn = create_machine_from_s3()
    sfn = boto3.client("stepfunctions")
    assert (
        json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["States"]["Done"][
            "Result"
        ]
        == "hello"
    )
    execution = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    deadline = time.monotonic() + 60  # the execution runs in a thread: slow on a busy machine
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the execution did not finish within 60 s"
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED"


def test_stock_moto_still_ignores_the_s3_definition(aws):
    arn = create_machine_from_s3()
    sfn = boto3.client("stepfunctions")
    try:
        definition = sfn.describe_state_machine(stateMachineArn=arn)["definition"]
    except sfn.exceptions.StateMachineDoesNotExist:
        return
    assert "hello" not in definition


def test_retry_waits_can_be_compressed_without_changing_the_flow():
    definition = json.dumps(
        {"States": {"T": {"Type": "Task", "Retry": [
            {"ErrorEquals": ["X"], "IntervalSeconds": 60, "MaxDelaySeconds": 960, "MaxAttempts": 5}
        ]}}}
    )  # fmt: skip
    (retrier,) = json.loads(state_machines.scale_retry_waits(definition, 0.02))["States"]["T"][
        "Retry"
    ]
    assert retrier == {
        "ErrorEquals": ["X"],
        "IntervalSeconds": 1,
        "MaxDelaySeconds": 19,
        "MaxAttempts": 5,
    }
    assert state_machines.scale_retry_waits(definition, 1.0) == definition
