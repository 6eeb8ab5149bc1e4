"""One SNS topic for every outcome: the workflow's own notices, ended executions, alarms.

The workflow publishes SUCCEEDED / FAILED messages with `status` and `list_id` message attributes
(see the ASL), so subscribers filter with a subscription filter policy. An EventBridge rule sends
every execution that ends FAILED, TIMED_OUT or ABORTED to the AnnounceRun function, which
announces it only when the workflow did not (ongage_export.domain.unannounced_runs): a timeout
of the whole execution, a manual stop, or a FAILED a Catch cannot see (States.Runtime, the failure
notice itself failing to publish). So each run gets exactly one notice.
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
from infra.functions import HANDLERS, FunctionSpec, new_function
from ongage_export.domain.unannounced_runs import ENDED_BADLY, STATUS_CHANGE
from ongage_export.settings import AnnounceSettings

# Services that publish to the encrypted topic and so must use its key (CloudWatch alarms).
_PUBLISHING_SERVICES = ("cloudwatch.amazonaws.com",)
# EventBridge's retries of a failed invoke of the announcer, and how long it keeps trying.
DELIVERY_RETRY_ATTEMPTS = 8
DELIVERY_MAX_EVENT_AGE = cdk.Duration.hours(6)


class Notifications(Construct):
    """`topic` (KMS-encrypted, TLS only) and `key`; `watch_executions` adds the rule and its
    `announcer` function.

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
        # service principal that publishes alarms.
        return kms.Key(
            self,
            "TopicKey",
            description="Encrypts the Ongage export notification topic",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

    def watch_executions(
        self,
        state_machine: sfn.IStateMachine,
        *,
        code: lambda_.Code,
        log_retention_days: int,
        log_key: kms.IKey | None,
    ) -> events.Rule:
        """Executions ending FAILED / TIMED_OUT / ABORTED -> AnnounceRun -> a notice on the topic
        for those the workflow did not announce."""
        self.announcer = new_function(
            self,
            FunctionSpec(
                "AnnounceRun",
                f"{HANDLERS}.announce_run.handler",
                "Announces executions that ended badly without a notice from the workflow",
                # Reads a few history events and publishes one message.
                memory_mib=256,
                timeout=cdk.Duration.seconds(60),
            ),
            code=code,
            environment=AnnounceSettings.environment(topic_arn=self.topic.topic_arn),
            log_retention_days=log_retention_days,
            key=log_key,
        )
        state_machine.grant_execution(self.announcer, "states:GetExecutionHistory")
        allow_publishing(self.announcer, self.topic, self.key)
        return events.Rule(
            self,
            "ExecutionEndedBadly",
            description="Ongage export executions that failed, timed out or were stopped",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[STATUS_CHANGE],
                detail={
                    "status": list(ENDED_BADLY),
                    "stateMachineArn": [state_machine.state_machine_arn],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    self.announcer,
                    retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                    max_event_age=DELIVERY_MAX_EVENT_AGE,
                )
            ],
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
    """CloudWatch (alarms) of this account may use the key.

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
