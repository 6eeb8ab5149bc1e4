from __future__ import annotations

import json

import boto3

from local_aws import execution_names
from local_aws.extensions import applied

MACHINE = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}


def start_unnamed_runs(count: int) -> list[str]:
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(
        name="m", definition=json.dumps(MACHINE), roleArn="arn:aws:iam::123456789012:role/r"
    )["stateMachineArn"]
    for _ in range(count):
        sfn.start_execution(stateMachineArn=machine, input="{}")
    return [run.get("name") for run in sfn.list_executions(stateMachineArn=machine)["executions"]]


def test_runs_started_without_a_name_are_named_apart(aws):
    with applied(execution_names):
        names = start_unnamed_runs(2)
    assert len(set(names)) == 2 and None not in names


def test_stock_moto_leaves_a_run_unnamed(aws):
    assert start_unnamed_runs(1) == [None]
