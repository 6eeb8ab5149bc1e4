"""The batch state machine (statemachine/batch.asl.json): one child execution of the export
workflow per element, then one batch notice.

Its role holds exactly what `startExecution.sync:2` needs (Step Functions' documented policy
for it): start the export machine, describe and stop its executions (a stopped batch stops its
children), and the managed EventBridge rule through which Step Functions learns that a child
ended; plus publishing the batch notice.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.notifications import allow_publishing
from infra.workflow import asl_state_machine
from statemachine import BATCH_ASL_FILE

# Step Functions' own rule for `.sync` child executions, in every account that uses them.
SYNC_EVENTS_RULE = "StepFunctionsGetEventsForStepFunctionsExecutionRule"


class BatchWorkflow(Construct):
    """`state_machine` (Standard, logs ALL with execution data, X-Ray) and its `log_group`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        export_machine: sfn.StateMachine,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        log_retention_days: int,
        key: kms.IKey | None,
    ):
        super().__init__(scope, construct_id)
        substitutions = {
            "ExportStateMachineArn": export_machine.state_machine_arn,
            "NotificationTopicArn": topic.topic_arn,
        }
        self.state_machine, self.log_group = asl_state_machine(
            self,
            BATCH_ASL_FILE,
            substitutions,
            name="batch",
            comment="A batch of Ongage exports, one export run each (statemachine/batch.asl.json)",
            log_retention_days=log_retention_days,
            key=key,
        )
        self._grant_children(export_machine)
        allow_publishing(self.state_machine, topic, topic_key)

    def _grant_children(self, export_machine: sfn.StateMachine) -> None:
        machine = self.state_machine
        machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="StartExports",
                actions=["states:StartExecution"],
                resources=[export_machine.state_machine_arn],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="FollowExports",
                actions=["states:DescribeExecution", "states:StopExecution"],
                resources=[
                    cdk.Stack.of(self).format_arn(
                        service="states",
                        resource="execution",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        resource_name=f"{export_machine.state_machine_name}:*",
                    )
                ],
            )
        )
        machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="LearnWhenExportsEnd",
                actions=["events:PutTargets", "events:PutRule", "events:DescribeRule"],
                resources=[
                    cdk.Stack.of(self).format_arn(
                        service="events", resource="rule", resource_name=SYNC_EVENTS_RULE
                    )
                ],
            )
        )
