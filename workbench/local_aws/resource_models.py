"""CloudFormation models for the resource types of this stack that moto's CloudFormation skips.

moto has the services behind them (Secrets Manager, Scheduler, CloudWatch alarms, the policy
setters, API Gateway stages, models, validators and gateway responses) but no CloudFormation
model, so it skips them with a warning and their `Ref` is empty. Each model here maps the
resource's properties onto the moto backend call the AWS API would make. moto finds models as
the direct subclasses of `CloudFormationModel`, so each class names it as a base.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from moto.cloudformation import parsing
from moto.core.common_models import CloudFormationModel

from local_aws.apigateway_models import (
    ApiGatewayAccount,
    ApiGatewayGatewayResponse,
    ApiGatewayModel,
    ApiGatewayRequestValidator,
    ApiGatewayStage,
)
from local_aws.resource_model_base import CreatedResource


def generated_secret_string(spec: dict[str, Any]) -> str:
    """GenerateSecretString: a random value, alone or under a key of the JSON template."""
    length = int(spec.get("PasswordLength", 32))
    value = secrets.token_urlsafe(length)[:length]
    key = spec.get("GenerateStringKey")
    if key is None:
        return value
    document = json.loads(spec.get("SecretStringTemplate") or "{}")
    document[key] = value
    return json.dumps(document)


class SecretsManagerSecret(CreatedResource, CloudFormationModel):
    TYPE = "AWS::SecretsManager::Secret"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(
        cls, name: str, props: Any, account_id: str, region_name: str
    ) -> SecretsManagerSecret:
        from moto.secretsmanager.models import secretsmanager_backends

        value = props.get("SecretString") or generated_secret_string(
            props.get("GenerateSecretString") or {}
        )
        created = secretsmanager_backends[account_id][region_name].create_secret(
            name=props.get("Name", name),
            secret_string=value,
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        arn = json.loads(created)["ARN"]
        return cls(arn, Id=arn)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any,
        account_id: str, region_name: str,
    ) -> Any:  # fmt: skip
        """The secret and its value stay (what a user put there is not the template's)."""
        return original_resource


class SchedulerSchedule(CreatedResource, CloudFormationModel):
    TYPE = "AWS::Scheduler::Schedule"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> SchedulerSchedule:
        from moto.scheduler.models import scheduler_backends

        schedule = scheduler_backends[account_id][region_name].create_schedule(
            description=props.get("Description", ""),
            end_date=props.get("EndDate"),
            flexible_time_window=props["FlexibleTimeWindow"],
            group_name=props.get("GroupName"),
            kms_key_arn=props.get("KmsKeyArn"),
            name=props.get("Name", name),
            schedule_expression=props["ScheduleExpression"],
            schedule_expression_timezone=props.get("ScheduleExpressionTimezone"),
            start_date=props.get("StartDate"),
            state=props.get("State", "ENABLED"),
            target=props["Target"],
            action_after_completion=props.get("ActionAfterCompletion"),
        )
        created = cls(schedule.name, Arn=schedule.arn)
        created.group_name = props.get("GroupName")
        return created

    group_name: str | None = None

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.scheduler.models import scheduler_backends

        scheduler_backends[account_id][region_name].delete_schedule(
            self.group_name, self.physical_resource_id
        )


class CloudWatchAlarm(CreatedResource, CloudFormationModel):
    """The alarm is registered (DescribeAlarms shows it); moto never evaluates it."""

    TYPE = "AWS::CloudWatch::Alarm"
    NAME_PROPERTY = "AlarmName"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> CloudWatchAlarm:
        from moto.cloudwatch.models import cloudwatch_backends

        alarm = cloudwatch_backends[account_id][region_name].put_metric_alarm(
            name=props.get("AlarmName", name),
            namespace=props.get("Namespace", ""),
            metric_name=props.get("MetricName", ""),
            comparison_operator=props["ComparisonOperator"],
            evaluation_periods=int(props["EvaluationPeriods"]),
            period=int(props.get("Period", 60)),
            threshold=float(props.get("Threshold", 0)),
            statistic=props.get("Statistic", "Sum"),
            description=props.get("AlarmDescription", ""),
            dimensions=props.get("Dimensions", []),
            alarm_actions=props.get("AlarmActions", []),
            metric_data_queries=_metric_queries(props.get("Metrics", [])) or None,
            datapoints_to_alarm=props.get("DatapointsToAlarm"),
            ok_actions=props.get("OKActions", []),
            treat_missing_data=props.get("TreatMissingData"),
        )
        return cls(alarm.name, Arn=alarm.alarm_arn)

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.cloudwatch.models import cloudwatch_backends

        cloudwatch_backends[account_id][region_name].delete_alarms([self.physical_resource_id])


def _metric_queries(metrics: list[dict[str, Any]]) -> list[Any]:
    """A metric-math alarm's `Metrics`, as moto's PutMetricAlarm builds them."""
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat

    def stat(query: dict[str, Any]) -> MetricStat | None:
        if "MetricStat" not in query:
            return None
        metric, details = query["MetricStat"]["Metric"], query["MetricStat"]
        dimensions = [Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])]
        return MetricStat(
            Metric(metric["MetricName"], metric.get("Namespace"), dimensions),
            details.get("Period"),
            details.get("Stat"),
            details.get("Unit"),
        )

    def fields(query: dict[str, Any]) -> dict[str, Any]:  # absent ones None, as moto's own
        return {
            "query_id": query["Id"],
            "label": query.get("Label"),
            "period": query.get("Period"),
            "return_data": query.get("ReturnData"),
            "expression": query.get("Expression"),
            "metric_stat": stat(query),
        }

    return [MetricDataQuery(**fields(query)) for query in metrics]


class S3BucketPolicy(CreatedResource, CloudFormationModel):
    TYPE = "AWS::S3::BucketPolicy"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> S3BucketPolicy:
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        backend = s3_backends[account_id][get_partition(region_name)]
        backend.put_bucket_policy(props["Bucket"], json.dumps(props["PolicyDocument"]).encode())
        return cls(props["Bucket"])


class SnsTopicPolicy(CreatedResource, CloudFormationModel):
    TYPE = "AWS::SNS::TopicPolicy"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> SnsTopicPolicy:
        from moto.sns.models import sns_backends

        policy = json.dumps(props["PolicyDocument"])
        for topic_arn in props["Topics"]:
            sns_backends[account_id][region_name].set_topic_attribute(topic_arn, "policy", policy)
        return cls(name)


class SqsQueuePolicy(CreatedResource, CloudFormationModel):
    TYPE = "AWS::SQS::QueuePolicy"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> SqsQueuePolicy:
        from moto.sqs.models import sqs_backends

        policy = json.dumps(props["PolicyDocument"])
        for queue_url in props["Queues"]:
            queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]
            sqs_backends[account_id][region_name].set_queue_attributes(
                queue_name, {"Policy": policy}
            )
        return cls(name)


class CdkMetadata(CreatedResource, CloudFormationModel):
    """CDK's version report: no resource behind it."""

    TYPE = "AWS::CDK::Metadata"


MODELS = (
    SecretsManagerSecret, SchedulerSchedule, CloudWatchAlarm, S3BucketPolicy, SnsTopicPolicy,
    SqsQueuePolicy, ApiGatewayStage, ApiGatewayGatewayResponse, ApiGatewayModel,
    ApiGatewayRequestValidator, ApiGatewayAccount, CdkMetadata,
)  # fmt: skip


def install() -> None:
    """The models exist once this module is imported; moto's caches must see them."""
    for cache in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cache.cache_clear()
