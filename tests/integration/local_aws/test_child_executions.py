"""`startExecution.sync:2` on moto, through the real batch workflow (statemachine/batch.asl.json)
over a stand-in export machine that lands or fails by the request's list id."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

import boto3
import pytest

from local_aws import child_executions, execution_names
from local_aws.extensions import applied
from local_aws.state_machines import substitute
from statemachine import BATCH_ASL_FILE

ROLE = "arn:aws:iam::123456789012:role/r"
UNKNOWN_LIST = 666
# Lands unless the list is unknown; its output is shaped as the export workflow's success notice.
EXPORT_MACHINE = {
    "StartAt": "Known",
    "States": {
        "Known": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.request.list_id", "NumericEquals": UNKNOWN_LIST, "Next": "No"}
            ],
            "Default": "Landed",
        },
        "Landed": {
            "Type": "Pass",
            "Parameters": {
                "export_id.$": "States.Format('{}', $.request.list_id)",
                "bucket": "exports",
                "key.$": "$.request.name",
                "bytes": 3,
                "sha256": "abc",
                "input.$": "$",
            },
            "End": True,
        },
        "No": {"Type": "Fail", "Error": "OngageRequestRejected", "Cause": "unknown list"},
    },
}


@pytest.fixture(autouse=True)
def quiet_interpreter() -> None:
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


def run_batch(batch: dict[str, Any], name: str = "nightly") -> dict[str, Any]:
    """The batch run's description, its children's and the notices it published."""
    sfn, sns, sqs = boto3.client("stepfunctions"), boto3.client("sns"), boto3.client("sqs")
    topic = sns.create_topic(Name="notices")["TopicArn"]
    queue = sqs.create_queue(QueueName="notices")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
    export = sfn.create_state_machine(
        name="export", definition=json.dumps(EXPORT_MACHINE), roleArn=ROLE
    )["stateMachineArn"]
    definition = substitute(
        BATCH_ASL_FILE.read_text(),
        {"ExportStateMachineArn": export, "NotificationTopicArn": topic},
    )
    machine = sfn.create_state_machine(name="batch", definition=definition, roleArn=ROLE)
    arn = sfn.start_execution(
        stateMachineArn=machine["stateMachineArn"], name=name, input=json.dumps(batch)
    )["executionArn"]
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        time.sleep(0.05)
    children = sfn.list_executions(stateMachineArn=export)["executions"]
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    return {
        "run": described,
        "children": {
            c["name"]: json.loads(sfn.describe_execution(executionArn=c["executionArn"])["input"])
            for c in children
        },
        "notices": [json.loads(m["Body"]) for m in messages],
    }


def request(name: str, list_id: int, **extra: Any) -> dict[str, Any]:
    return {"name": name, "list_id": list_id, **extra}


def test_one_child_per_element_with_a_single_runs_input_and_a_name_from_the_batchs(aws):
    batch: dict[str, Any] = {
        "exports": [request("a", 1), request("b", 2, account="brand-eu")],
        "polling": {"x": 1},
    }
    with applied(execution_names, child_executions):
        ran = run_batch(batch)
    assert ran["run"]["status"] == "SUCCEEDED"
    parent = ran["run"]["executionArn"]
    assert len(ran["children"]) == 2
    for name, child_input in ran["children"].items():
        index = int(name.rsplit("-", 1)[1])
        assert len(name) <= 80
        assert child_input == {
            "request": batch["exports"][index],
            "polling": {"x": 1},
            "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": parent,
        }
    output = json.loads(ran["run"]["output"])
    assert [e["account"] for e in output["exports"]] == ["default", "brand-eu"]
    assert [e["key"] for e in output["exports"]] == ["a", "b"]


def test_a_childs_name_is_derived_from_the_batchs_name_and_fits_any_batch_name(aws):
    long_name = "n" * 80
    with applied(execution_names, child_executions):
        ran = run_batch({"exports": [request("a", 1)]}, name=long_name)
    # The same batch name gives the same child name: a retried start finds the same child.
    assert set(ran["children"]) == {hashlib.sha1(long_name.encode()).hexdigest() + "-0"}


def test_a_failed_export_is_summarized_and_the_others_land_in_order(aws):
    batch = {"exports": [request("a", 1), request("b", UNKNOWN_LIST), request("c", 3)]}
    with applied(execution_names, child_executions):
        ran = run_batch(batch)
    run = ran["run"]
    assert run["status"] == "FAILED"
    assert run["error"] == "BatchExportsFailed"
    assert run["cause"].startswith("1 of 3 exports failed (indexes [1])")
    assert "batch notice" in run["cause"]
    (notice,) = ran["notices"]
    assert notice["Subject"].startswith("Ongage batch FAILED")
    assert notice["MessageAttributes"]["kind"]["Value"] == "batch"
    assert notice["MessageAttributes"]["status"]["Value"] == "FAILED"
    message = json.loads(notice["Message"])
    assert (message["status"], message["exports_total"], message["exports_failed"]) == (
        "FAILED",
        3,
        1,
    )
    exports = message["exports"]
    assert [e["index"] for e in exports] == [0, 1, 2]
    assert [e["status"] for e in exports] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert exports[1]["error"] == "OngageRequestRejected"
    assert exports[1]["cause"] == "unknown list"
    assert exports[1]["execution_arn"].endswith("-1")
    assert {k: exports[2][k] for k in ("export_id", "bucket", "key", "bytes", "sha256")} == {
        "export_id": "3",
        "bucket": "exports",
        "key": "c",
        "bytes": 3,
        "sha256": "abc",
    }


def test_a_batch_without_exports_fails_before_starting_any(aws):
    with applied(execution_names, child_executions):
        ran = run_batch({"exports": []})
    assert ran["run"]["status"] == "FAILED"
    assert ran["run"]["error"] == "InvalidBatch"
    assert ran["children"] == {}


def test_stock_moto_cannot_start_a_child_execution(aws):
    with applied(execution_names):
        ran = run_batch({"exports": [request("a", 1)]})
    assert ran["children"] == {}
    message = json.loads(ran["notices"][0]["Message"])
    assert message["exports"][0]["error"] == "States.Runtime"
