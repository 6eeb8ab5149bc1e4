"""Each CloudFormation model creates what the AWS API call would, and Ref/GetAtt resolve."""

from __future__ import annotations

import json

import boto3
import pytest

from local_aws import resource_models


@pytest.fixture(autouse=True)
def models_seen_by_moto():
    resource_models.install()


def create_stack(resources: dict) -> dict:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName="s",
        TemplateBody=json.dumps(
            {"Resources": resources, "Outputs": {"Out": {"Value": {"Ref": next(iter(resources))}}}}
        ),
    )
    stack = cloudformation.describe_stacks(StackName="s")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_generated_secret_string_fills_the_key_of_the_template():
    value = json.loads(
        resource_models.generated_secret_string(
            {"SecretStringTemplate": '{"username": "set-me"}', "GenerateStringKey": "password"}
        )
    )
    assert value["username"] == "set-me" and len(value["password"]) == 32


def test_a_secret_is_created_and_its_ref_is_its_arn(aws):
    outputs = create_stack(
        {
            "Secret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {
                    "GenerateSecretString": {
                        "SecretStringTemplate": '{"u": "x"}',
                        "GenerateStringKey": "password",
                    }
                },
            }
        }
    )
    arn = outputs["Out"]
    assert arn.startswith("arn:aws:secretsmanager:")
    value = json.loads(
        boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"]
    )
    assert value["u"] == "x" and value["password"]


def test_schedule_alarm_and_policies_reach_their_services(aws):
    queue = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "dlq"}}
    topic = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t"}}
    bucket = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "bucket-b"}}
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sns:Publish", "Resource": "*"}
    create_stack(
        {
            "Schedule": {
                "Type": "AWS::Scheduler::Schedule",
                "Properties": {
                    "Name": "nightly",
                    "ScheduleExpression": "cron(0 3 * * ? *)",
                    "FlexibleTimeWindow": {"Mode": "OFF"},
                    "State": "DISABLED",
                    "Target": {
                        "Arn": {"Fn::GetAtt": ["Queue", "Arn"]},
                        "RoleArn": "arn:aws:iam::123456789012:role/r",
                        "Input": "{}",
                    },
                },
            },
            "Queue": queue,
            "Topic": topic,
            "Bucket": bucket,
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "failed",
                    "Namespace": "AWS/States",
                    "MetricName": "ExecutionsFailed",
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "EvaluationPeriods": 1,
                    "Period": 300,
                    "Threshold": 1,
                    "Statistic": "Sum",
                    "Dimensions": [{"Name": "StateMachineArn", "Value": "x"}],
                    "AlarmActions": [{"Ref": "Topic"}],
                },
            },
            "TopicPolicy": {
                "Type": "AWS::SNS::TopicPolicy",
                "Properties": {
                    "Topics": [{"Ref": "Topic"}],
                    "PolicyDocument": {"Statement": [deny]},
                },
            },
            "QueuePolicy": {
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {
                    "Queues": [{"Ref": "Queue"}],
                    "PolicyDocument": {"Statement": [deny]},
                },
            },
            "BucketPolicy": {
                "Type": "AWS::S3::BucketPolicy",
                "Properties": {
                    "Bucket": {"Ref": "Bucket"},
                    "PolicyDocument": {"Statement": [deny]},
                },
            },
        }
    )
    schedule = boto3.client("scheduler").get_schedule(Name="nightly")
    assert schedule["Target"]["Arn"].endswith(":dlq") and schedule["State"] == "DISABLED"
    (alarm,) = boto3.client("cloudwatch").describe_alarms(AlarmNames=["failed"])["MetricAlarms"]
    assert alarm["AlarmActions"][0].endswith(":t")
    topic_arn = boto3.client("sns").list_topics()["Topics"][0]["TopicArn"]
    attributes = boto3.client("sns").get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    assert "Deny" in attributes["Policy"]
    queue_url = boto3.client("sqs").get_queue_url(QueueName="dlq")["QueueUrl"]
    policy = boto3.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["Policy"])
    assert "Deny" in policy["Attributes"]["Policy"]
    assert "Deny" in boto3.client("s3").get_bucket_policy(Bucket="bucket-b")["Policy"]


def test_api_gateway_stage_model_validator_and_gateway_response(aws):
    outputs = create_stack(
        {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "api"}},
            "Root": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ParentId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
                    "PathPart": "x",
                },
            },
            "Method": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ResourceId": {"Ref": "Root"},
                    "HttpMethod": "GET",
                    "AuthorizationType": "AWS_IAM",
                    "Integration": {
                        "Type": "MOCK",
                        "IntegrationHttpMethod": "GET",
                        "Uri": "arn:aws:apigateway:us-east-1:states:action/StartExecution",
                    },
                },
            },
            "Deployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "DependsOn": ["Method"],
                "Properties": {"RestApiId": {"Ref": "Api"}},
            },
            "Stage": {
                "Type": "AWS::ApiGateway::Stage",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "DeploymentId": {"Ref": "Deployment"},
                    "StageName": "v1",
                },
            },
            "Model": {
                "Type": "AWS::ApiGateway::Model",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "Name": "Body",
                    "ContentType": "application/json",
                    "Schema": {"type": "object"},
                },
            },
            "Validator": {
                "Type": "AWS::ApiGateway::RequestValidator",
                "Properties": {"RestApiId": {"Ref": "Api"}, "ValidateRequestBody": True},
            },
            "Response": {
                "Type": "AWS::ApiGateway::GatewayResponse",
                "Properties": {
                    "RestApiId": {"Ref": "Api"},
                    "ResponseType": "BAD_REQUEST_BODY",
                    "ResponseTemplates": {"application/json": "{}"},
                },
            },
            "Account": {
                "Type": "AWS::ApiGateway::Account",
                "Properties": {"CloudWatchRoleArn": "arn:aws:iam::123456789012:role/r"},
            },
            "Metadata": {"Type": "AWS::CDK::Metadata", "Properties": {"Analytics": "v2"}},
        }
    )
    apigateway = boto3.client("apigateway")
    api_id = outputs["Out"]
    assert apigateway.get_stage(restApiId=api_id, stageName="v1")["stageName"] == "v1"
    assert (
        apigateway.get_model(restApiId=api_id, modelName="Body")["contentType"]
        == "application/json"
    )
    assert apigateway.get_request_validators(restApiId=api_id)["items"][0]["validateRequestBody"]
    assert apigateway.get_gateway_response(restApiId=api_id, responseType="BAD_REQUEST_BODY")


def test_a_metric_math_alarm_keeps_its_expression_and_metrics(aws):
    def invocations_of(stat_name: str) -> dict[str, object]:
        metric = {
            "Namespace": "AWS/Lambda",
            "MetricName": stat_name,
            "Dimensions": [{"Name": "FunctionName", "Value": "f"}],
        }
        return {"MetricStat": {"Metric": metric, "Period": 300, "Stat": "Sum"}}

    create_stack(
        {
            "Alarm": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "AlarmName": "error-rate",
                    "ComparisonOperator": "GreaterThanOrEqualToThreshold",
                    "EvaluationPeriods": 6,
                    "DatapointsToAlarm": 6,
                    "Threshold": 50,
                    "Metrics": [
                        {"Id": "rate", "Expression": "IF(i > 0, 100 * e / i)", "ReturnData": True},
                        {"Id": "e", **invocations_of("Errors"), "ReturnData": False},
                        {"Id": "i", **invocations_of("Invocations"), "ReturnData": False},
                    ],
                },
            }
        }
    )
    (alarm,) = boto3.client("cloudwatch").describe_alarms(AlarmNames=["error-rate"])["MetricAlarms"]
    queries = {query["Id"]: query for query in alarm["Metrics"]}
    assert queries["rate"]["Expression"] == "IF(i > 0, 100 * e / i)"
    assert queries["e"]["MetricStat"]["Metric"]["MetricName"] == "Errors"
    assert queries["i"]["MetricStat"]["Metric"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "f"}
    ]
