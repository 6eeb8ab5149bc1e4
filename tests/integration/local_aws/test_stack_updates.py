"""A deployed stack changed through an UPDATE change set (as `cdk deploy` does) or UpdateStack."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local_aws import change_sets, extensions, stack_updates

# The topic's name comes from a parameter; a parameter (SSM) holds the topic's ARN, so a new
# name replaces the topic and the new ARN must reach the parameter and the output.
TEMPLATE: dict[str, Any] = {
    "Parameters": {
        "Label": {"Type": "String"},
        "Version": {"Type": "AWS::SSM::Parameter::Value<String>", "Default": "/test/version"},
    },
    "Resources": {
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {"TopicName": {"Fn::Sub": "t-${Label}"}},
        },
        "Pointer": {
            "Type": "AWS::SSM::Parameter",
            "Properties": {"Name": "/test/pointer", "Type": "String", "Value": {"Ref": "Topic"}},
        },
        "Extra": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "extra"}},
    },
    "Outputs": {"TopicArn": {"Value": {"Ref": "Topic"}}, "Version": {"Value": {"Ref": "Version"}}},
}


@pytest.fixture
def cloudformation(aws: None) -> Iterator[Any]:
    boto3.client("ssm").put_parameter(Name="/test/version", Value="30", Type="String")
    with extensions.applied(change_sets, stack_updates):
        client = boto3.client("cloudformation")
        deploy(client, "CREATE", TEMPLATE, [{"ParameterKey": "Label", "ParameterValue": "one"}])
        yield client


def deploy(client: Any, kind: str, template: dict[str, Any], parameters: list[Any]) -> None:
    """What `cdk deploy` does: drop its old change set, create one, execute it."""
    client.delete_change_set(StackName="s", ChangeSetName="cdk-deploy-change-set")
    client.create_change_set(
        StackName="s", ChangeSetName="cdk-deploy-change-set", ChangeSetType=kind,
        TemplateBody=json.dumps(template), Parameters=parameters,
    )  # fmt: skip
    client.execute_change_set(StackName="s", ChangeSetName="cdk-deploy-change-set")


def outputs(client: Any) -> dict[str, str]:
    stack = client.describe_stacks(StackName="s")["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def topic_names() -> list[str]:
    return sorted(
        t["TopicArn"].rsplit(":", 1)[1] for t in boto3.client("sns").list_topics()["Topics"]
    )


def without_extra() -> dict[str, Any]:
    template = json.loads(json.dumps(TEMPLATE))
    del template["Resources"]["Extra"]
    return template


def test_an_update_replaces_what_changed_updates_what_uses_it_and_deletes_what_went(cloudformation):
    first = outputs(cloudformation)["TopicArn"]

    deploy(
        cloudformation, "UPDATE", without_extra(),
        [{"ParameterKey": "Label", "ParameterValue": "two"},
         {"ParameterKey": "Version", "UsePreviousValue": True}],
    )  # fmt: skip

    stack = cloudformation.describe_stacks(StackName="s")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    now = outputs(cloudformation)
    assert now["TopicArn"].endswith(":t-two") and now["TopicArn"] != first
    assert (
        boto3.client("ssm").get_parameter(Name="/test/pointer")["Parameter"]["Value"]
        == (now["TopicArn"])
    )
    assert topic_names() == ["t-two"]  # the replaced topic and the removed one are gone
    assert now["Version"] == "30"  # the SSM parameter's name, read again


def test_a_parameter_left_at_its_previous_value_keeps_its_resources(cloudformation):
    first = outputs(cloudformation)["TopicArn"]

    deploy(
        cloudformation, "UPDATE", without_extra(),
        [{"ParameterKey": "Label", "UsePreviousValue": True},
         {"ParameterKey": "Version", "UsePreviousValue": True}],
    )  # fmt: skip

    assert outputs(cloudformation)["TopicArn"] == first
    assert topic_names() == ["t-one"]


def test_update_stack_takes_previous_values_too(cloudformation):
    """`cdk deploy --method=direct`: moto's own UpdateStack failed on BootstrapVersion-like
    parameters left at their default (KeyError)."""
    cloudformation.update_stack(
        StackName="s", TemplateBody=json.dumps(without_extra()),
        Parameters=[{"ParameterKey": "Label", "UsePreviousValue": True},
                    {"ParameterKey": "Version", "UsePreviousValue": True}],
    )  # fmt: skip
    assert cloudformation.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == (
        "UPDATE_COMPLETE"
    )
    assert topic_names() == ["t-one"]


def test_a_failed_update_says_why(cloudformation):
    broken = without_extra()
    broken["Resources"]["Table"] = {"Type": "AWS::DynamoDB::Table", "Properties": {}}
    deploy(cloudformation, "UPDATE", broken, [{"ParameterKey": "Label", "UsePreviousValue": True}])
    events = cloudformation.describe_stack_events(StackName="s")["StackEvents"]
    assert cloudformation.describe_stacks(StackName="s")["Stacks"][0]["StackStatus"] == (
        "UPDATE_FAILED"
    )
    assert any(
        e["ResourceStatus"] == "UPDATE_FAILED" and e.get("ResourceStatusReason") for e in events
    )


def test_a_change_set_is_gone_once_executed_and_deleting_it_again_succeeds(cloudformation):
    assert cloudformation.list_change_sets(StackName="s")["Summaries"] == []
    cloudformation.delete_change_set(StackName="s", ChangeSetName="cdk-deploy-change-set")
    with pytest.raises(ClientError) as missing:
        cloudformation.describe_change_set(StackName="s", ChangeSetName="cdk-deploy-change-set")
    assert (
        missing.value.response["Error"]["Code"] == "ChangeSetNotFound"
    )  # the CDK CLI waits for it


def test_stock_moto_cannot_delete_a_change_set_that_is_gone(aws):
    client = boto3.client("cloudformation")
    deploy_body = json.dumps({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}})
    client.create_change_set(
        StackName="s", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=deploy_body
    )
    with pytest.raises(UnboundLocalError):  # the endpoint answers 500
        client.delete_change_set(StackName="s", ChangeSetName="other")


def test_resources_are_ordered_after_what_they_use():
    resources: dict[str, Any] = {
        "Late": {"Properties": {"A": {"Fn::Sub": "${Early.Arn}-${!Literal}"}}},
        "Middle": {"DependsOn": "Early", "Properties": {"B": {"Fn::GetAtt": ["Late", "Arn"]}}},
        "Early": {"Properties": {"C": {"Ref": "AWS::Region"}}},
    }
    assert stack_updates.references(resources["Late"]) == {"Early"}
    assert stack_updates.dependency_order(resources) == ["Early", "Late", "Middle"]
