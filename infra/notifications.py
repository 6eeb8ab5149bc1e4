"""One SNS topic for every outcome: the workflow's own notices, ended executions, alarms.

The workflow publishes SUCCEEDED / FAILED messages with `status` and `list_id` message attributes
(see the ASL), so subscribers filter with a subscription filter policy. An EventBridge rule adds a
notice for executions that end TIMED_OUT or ABORTED: what a Catch in the workflow cannot see (a
timeout of the whole execution, a manual stop). FAILED is left to the workflow's own notice, so
each run gets exactly one; the rare FAILED a Catch cannot see (States.Runtime, or the failure
notice itself failing to publish) still raises the ExecutionsFailed alarm.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import StackConfig

ENDED_BADLY = ["TIMED_OUT", "ABORTED"]
# Services that publish to the encrypted topic and so must use its key.
_PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com", "events.amazonaws.com")


class Notifications(Construct):
    """`topic` (KMS-encrypted, TLS only) and `key`; `watch_executions` adds the rule.

    `key` is the stack's customer-managed key when `kms_key` is set (one key to audit and
    revoke for everything the pipeline holds), else a key of the topic's own.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        data_key: kms.IKey | None = None,
    ):
        super().__init__(scope, construct_id)
        self.key = self._key() if data_key is None else data_key
        _allow_publishing_services(self.key)
        self.topic = sns.Topic(
            self,
            "Topic",
            display_name="Ongage export notifications",
            master_key=self.key,
            enforce_ssl=True,
            signature_version="2",
        )
        for email in config.notification_emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def _key(self) -> kms.Key:
        # A customer managed key: the AWS managed SNS key cannot be granted to the CloudWatch
        # and EventBridge service principals that publish alarms and execution notices.
        return kms.Key(
            self,
            "TopicKey",
            description="Encrypts the Ongage export notification topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def watch_executions(self, state_machine: sfn.IStateMachine) -> events.Rule:
        """Executions ending TIMED_OUT / ABORTED -> a notice on the topic."""
        detail = "$.detail."
        message = events.RuleTargetInput.from_object(
            {
                "status": events.EventField.from_path(detail + "status"),
                "notice": "The Ongage export workflow execution ended without landing an export.",
                "execution_arn": events.EventField.from_path(detail + "executionArn"),
                "execution_name": events.EventField.from_path(detail + "name"),
                "state_machine_arn": events.EventField.from_path(detail + "stateMachineArn"),
                "started_at_ms": events.EventField.from_path(detail + "startDate"),
                "stopped_at_ms": events.EventField.from_path(detail + "stopDate"),
                "source": "eventbridge",
            }
        )
        return events.Rule(
            self,
            "ExecutionEndedBadly",
            description="Ongage export executions that timed out or were stopped",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=["Step Functions Execution Status Change"],
                detail={
                    "status": ENDED_BADLY,
                    "stateMachineArn": [state_machine.state_machine_arn],
                },
            ),
            targets=[targets.SnsTopic(self.topic, message=message)],
        )


def allow_publishing(
    publisher: lambda_.IFunction | sfn.StateMachine, topic: sns.ITopic, key: kms.IKey
) -> None:
    """Let a function or the state machine publish to the encrypted topic.

    Publishing to an encrypted topic needs its key too; named actions, not GenerateDataKey*.
    """
    publisher.add_to_role_policy(
        iam.PolicyStatement(
            sid="PublishNotices", actions=["sns:Publish"], resources=[topic.topic_arn]
        )
    )
    publisher.add_to_role_policy(
        iam.PolicyStatement(
            sid="EncryptNotices",
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[key.key_arn],
        )
    )


def _allow_publishing_services(key: kms.IKey) -> None:
    """CloudWatch (alarms) and EventBridge (notices, rule DLQs) of this account may use the key.

    An imported key's policy is its owner's: this adds nothing to it (README, Security).
    """
    account = cdk.Stack.of(key).account
    for service in _PUBLISHING_SERVICES:
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid=f"Publish{service.split('.')[0].capitalize()}",
                principals=[iam.ServicePrincipal(service)],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy, "*" is this key
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            )
        )
