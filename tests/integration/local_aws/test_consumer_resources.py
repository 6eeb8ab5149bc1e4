"""The consumer's Glue database and table, Athena workgroup and the function's asynchronous-
invoke settings deploy from a template with no warning, exist through their APIs, and go with
the stack."""

from __future__ import annotations

import json
import warnings

import boto3
import pytest
from moto import mock_aws
from moto.athena.models import athena_backends

from local_aws import consumer_resources
from tests.integration.local_aws import event_stack
from tests.integration.local_aws.conftest import ACCOUNT, REGION

COLUMNS = [{"Name": "ocx_contact_id", "Type": "bigint"}]


def template() -> str:
    stack = json.loads(event_stack.template())
    stack["Resources"].update({
        "Database": {
            "Type": "AWS::Glue::Database",
            "Properties": {"CatalogId": ACCOUNT, "DatabaseInput": {"Name": "lake"}},
        },
        "Table": {
            "Type": "AWS::Glue::Table",
            "DependsOn": ["Database"],
            "Properties": {
                "CatalogId": ACCOUNT,
                "DatabaseName": "lake",
                "TableInput": {
                    "Name": "curated_exports",
                    "PartitionKeys": [{"Name": "list", "Type": "string"}],
                    "StorageDescriptor": {"Columns": COLUMNS},
                },
            },
        },
        "WorkGroup": {
            "Type": "AWS::Athena::WorkGroup",
            "Properties": {"Name": "lake_exports", "Description": "curated exports"},
        },
        "InvokeConfig": {
            "Type": "AWS::Lambda::EventInvokeConfig",
            "Properties": {
                "FunctionName": {"Ref": "Consumer"}, "Qualifier": "$LATEST",
                "MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 21600,
            },
        },
    })  # fmt: skip
    return json.dumps(stack)


@pytest.fixture
def lambda_aws(aws: None):
    consumer_resources.install()
    with mock_aws(config={"lambda": {"use_docker": False}}):
        yield


def test_the_consumers_resources_deploy_without_a_warning_and_are_deleted_with_it(lambda_aws):
    cloudformation = boto3.client("cloudformation")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # moto warns for every type it skips
        outputs = event_stack.create(cloudformation, "consumer", template())

    # moto's Athena API answers "Not yet implemented" in-process: its backend is read instead.
    glue, athena = boto3.client("glue"), athena_backends[ACCOUNT][REGION]
    table = glue.get_table(DatabaseName="lake", Name="curated_exports")["Table"]
    assert table["StorageDescriptor"]["Columns"] == COLUMNS
    assert athena.work_groups["lake_exports"].description == "curated exports"
    config = boto3.client("lambda").get_function_event_invoke_config(
        FunctionName=outputs["FunctionArn"]
    )
    assert config["MaximumRetryAttempts"] == 2

    cloudformation.delete_stack(StackName="consumer")
    assert glue.get_databases()["DatabaseList"] == []
    assert "lake_exports" not in athena.work_groups
