from __future__ import annotations

import json
from unittest import mock

import boto3
from moto.cloudformation.models import CloudFormationBackend

from local_aws import change_sets

# B depends on A only through DependsOn, and comes first in the template.
TEMPLATE = {
    "Resources": {
        "B": {"Type": "AWS::SNS::Topic", "DependsOn": "A", "Properties": {"TopicName": "b"}},
        "A": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "a"}},
    },
    "Outputs": {"TopicB": {"Value": {"Ref": "B"}}},
}


def create_through_change_set(template: dict) -> dict:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_change_set(
        StackName="s", ChangeSetName="c", ChangeSetType="CREATE", TemplateBody=json.dumps(template)
    )
    cloudformation.execute_change_set(StackName="s", ChangeSetName="c")
    return dict(cloudformation.describe_stacks(StackName="s")["Stacks"][0])


def test_a_create_change_set_creates_in_dependency_order_with_outputs(aws):
    order: list[str] = []
    from moto.sns.models import SNSBackend

    original = SNSBackend.create_topic

    def recording(self, name, *args, **kwargs):
        order.append(name)
        return original(self, name, *args, **kwargs)

    with (
        mock.patch.object(
            CloudFormationBackend, "execute_change_set", change_sets.execute_change_set
        ),
        mock.patch.object(SNSBackend, "create_topic", recording),
    ):
        stack = create_through_change_set(TEMPLATE)

    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert order == ["a", "b"]
    assert stack["Outputs"][0]["OutputValue"].endswith(":b")


def test_a_failing_resource_leaves_the_stack_create_failed_with_the_reason(aws):
    template = {"Resources": {"T": {"Type": "AWS::DynamoDB::Table", "Properties": {}}}}
    with mock.patch.object(
        CloudFormationBackend, "execute_change_set", change_sets.execute_change_set
    ):
        stack = create_through_change_set(template)
    assert stack["StackStatus"] == "CREATE_FAILED"
    events = boto3.client("cloudformation").describe_stack_events(StackName="s")["StackEvents"]
    assert any(
        e["ResourceStatus"] == "CREATE_FAILED" and e.get("ResourceStatusReason") for e in events
    )


def test_stock_moto_still_loses_the_outputs_of_a_change_set_stack(aws):
    stack = create_through_change_set(TEMPLATE)
    assert "Outputs" not in stack
