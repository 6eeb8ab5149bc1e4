"""A small stack for the S3 -> EventBridge -> Lambda path: what the consumer's part of the
real stack is (a bucket with EventBridge notifications on, a rule on its "Object Created"
events under exports/, a function as the rule's target with the permission that lets
EventBridge invoke it), without the real stack's 200 MB bundle."""

from __future__ import annotations

import json
from typing import Any

# The function writes what it got under seen/ (outside the rule's prefix: no loop).
HANDLER = """
import json, os
from urllib.parse import unquote_plus

import boto3

def handler(event, context):
    key = unquote_plus(event["detail"]["object"]["key"])
    if os.environ.get("WRITE_SEEN") == "yes":
        boto3.client("s3").put_object(
            Bucket=event["detail"]["bucket"]["name"], Key="seen/" + key, Body=json.dumps(event)
        )
    return {"seen": key, "reason": event["detail"]["reason"]}
"""

EXPORTS_PATTERN = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created"],
    "detail": {
        "bucket": {"name": [{"Ref": "Exports"}]},
        "object": {"key": [{"prefix": "exports/"}]},
    },
}


def template(*, permission: bool = True, write_seen: bool = False) -> str:
    resources: dict[str, Any] = {
        "Exports": {
            "Type": "AWS::S3::Bucket",
            "Properties": {
                "NotificationConfiguration": {
                    "EventBridgeConfiguration": {"EventBridgeEnabled": True}
                }
            },
        },
        "ConsumerRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"Service": "lambda.amazonaws.com"},
                        }
                    ],
                },
            },
        },
        # A policy of its own, as CDK writes it (moto's IAM does not read a role's inline
        # `Policies` when it checks a request).
        "ConsumerPolicy": {
            "Type": "AWS::IAM::Policy",
            "Properties": {
                "PolicyName": "write-seen",
                "Roles": [{"Ref": "ConsumerRole"}],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "s3:PutObject",
                            "Resource": {"Fn::Sub": "${Exports.Arn}/seen/*"},
                        }
                    ],
                },
            },
        },
        "Consumer": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "index.handler",
                "Runtime": "python3.12",
                "Timeout": 30,
                "Role": {"Fn::GetAtt": ["ConsumerRole", "Arn"]},
                "Code": {"ZipFile": HANDLER},
                "Environment": {"Variables": {"WRITE_SEEN": "yes" if write_seen else "no"}},
            },
        },
        "Landed": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "EventPattern": EXPORTS_PATTERN,
                "State": "ENABLED",
                "Targets": [{"Arn": {"Fn::GetAtt": ["Consumer", "Arn"]}, "Id": "Target0"}],
            },
        },
    }
    if permission:
        resources["AllowLanded"] = {
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": {"Fn::GetAtt": ["Consumer", "Arn"]},
                "Principal": "events.amazonaws.com",
                "SourceArn": {"Fn::GetAtt": ["Landed", "Arn"]},
            },
        }
    outputs = {
        "Bucket": {"Value": {"Ref": "Exports"}},
        "FunctionArn": {"Value": {"Fn::GetAtt": ["Consumer", "Arn"]}},
    }
    return json.dumps({"Resources": resources, "Outputs": outputs})


def create(cloudformation: Any, name: str, body: str) -> dict[str, str]:
    """The stack created from `body`; its outputs."""
    cloudformation.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_IAM"])
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE", described
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
