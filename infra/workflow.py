"""The Standard state machine, loaded from the one ASL file the embedded runtime also runs.

The definition's `${...}` placeholders are filled with `definition_substitutions`; the role gets
exactly what the definition uses: invoke on each function it names, publish on the topic.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.encryption import log_group
from infra.functions import log_retention
from infra.notifications import allow_publishing
from statemachine import ASL_FILE

PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def asl_placeholders(path: Path = ASL_FILE) -> set[str]:
    """Every `${Name}` the ASL file expects to be substituted."""
    return set(PLACEHOLDER.findall(path.read_text()))


class ExportWorkflow(Construct):
    """`state_machine` (Standard, logs ALL with execution data, X-Ray) and its `log_group`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        topic: sns.ITopic,
        topic_key: kms.IKey,
        log_retention_days: int,
        key: kms.IKey | None,
    ):
        super().__init__(scope, construct_id)
        substitutions = {f"{name}FunctionArn": fn.function_arn for name, fn in functions.items()}
        substitutions["NotificationTopicArn"] = topic.topic_arn
        self.state_machine, self.log_group = asl_state_machine(
            self,
            ASL_FILE,
            substitutions,
            name="export",
            comment="Ongage export into S3 (statemachine/export.asl.json)",
            log_retention_days=log_retention_days,
            key=key,
        )
        self._grant(functions, topic, topic_key)

    def _grant(
        self, functions: Mapping[str, lambda_.IFunction], topic: sns.ITopic, topic_key: kms.IKey
    ) -> None:
        # Explicit, unqualified ARNs only: the definition invokes $LATEST, never versions.
        self.state_machine.add_to_role_policy(
            iam.PolicyStatement(
                sid="InvokeExportFunctions",
                actions=["lambda:InvokeFunction"],
                resources=[fn.function_arn for fn in functions.values()],
            )
        )
        allow_publishing(self.state_machine, topic, topic_key)


def asl_state_machine(
    scope: Construct,
    asl_file: Path,
    substitutions: Mapping[str, str],
    *,
    name: str,
    comment: str,
    log_retention_days: int,
    key: kms.IKey | None,
) -> tuple[sfn.StateMachine, logs.ILogGroup]:
    """A Standard state machine defined by `asl_file` (its placeholders checked at synth), with
    every execution logged with its data (the log group `...-<name>`, encrypted with `key`)
    and traced with X-Ray."""
    check_substitutions(substitutions, asl_file)
    group = log_group(
        scope,
        "Logs",
        key=key,
        # The vendedlogs prefix keeps CloudWatch's resource policy from growing per group;
        # the name is the deployed stack's (a token), so one template deploys many times.
        log_group_name=f"/aws/vendedlogs/states/{cdk.Aws.STACK_NAME}-{name}",
        retention=log_retention(log_retention_days),
    )
    machine = sfn.StateMachine(
        scope,
        "StateMachine",
        state_machine_type=sfn.StateMachineType.STANDARD,
        comment=comment,
        definition_body=sfn.DefinitionBody.from_file(str(asl_file)),
        definition_substitutions=dict(substitutions),
        logs=sfn.LogOptions(destination=group, level=sfn.LogLevel.ALL, include_execution_data=True),
        tracing_enabled=True,
    )
    return machine, group


def check_substitutions(substitutions: Mapping[str, str], path: Path = ASL_FILE) -> None:
    """Fail the synth, not the deployment, when the ASL and the stack disagree."""
    expected = asl_placeholders(path)
    missing, unused = expected - set(substitutions), set(substitutions) - expected
    if missing or unused:
        raise ValueError(
            f"{path.name}: placeholders without a value {sorted(missing)}, "
            f"values without a placeholder {sorted(unused)}"
        )
