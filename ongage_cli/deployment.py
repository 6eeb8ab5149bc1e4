"""A deployed stack as the CLI reaches it: its CloudFormation outputs and a boto3 session."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ongage_export.contract import DEFAULT_STACK_NAME
from ongage_export.domain.run_status import NotAnExecution, execution_arn

STACK_ENV = "ONGAGE_EXPORT_STACK"


class DeployedError(RuntimeError):
    """Something a user can fix (wrong stack, unknown id, bad request...): printed, exit 2."""


@dataclass(frozen=True)
class Deployment:
    """What the stack's outputs say (StateMachineArn, ApiUrl, BucketName,
    BatchStateMachineArn), and the session."""

    session: boto3.Session
    state_machine_arn: str
    api_url: str | None
    bucket: str | None
    batch_machine_arn: str | None = None  # None: found by an execution ARN, or an older stack

    @classmethod
    def for_id(cls, given: str, stack: str | None, region: str | None = None) -> Deployment:
        """The stack to look `given` up in. An execution ARN names its own state machine and
        region, so the command a notice prints works whatever the stack is called; `--stack`
        (given explicitly) still wins."""
        if stack is None and given.startswith("arn:"):
            return cls.from_execution_arn(given)
        return cls.find(stack or default_stack(), region)

    @classmethod
    def from_execution_arn(cls, arn: str) -> Deployment:
        parts = arn.split(":")
        if len(parts) != 8 or parts[2] != "states" or parts[5] != "execution":
            raise DeployedError(
                f"{arn[:200]} is not an execution ARN (arn:aws:states:REGION:ACCOUNT:execution:"
                "MACHINE:RUN): give the ARN a notice or `ongage-export start` printed"
            )
        machine = ":".join([*parts[:5], "stateMachine", parts[6]])
        return cls(boto3.Session(region_name=parts[3]), machine, None, None)

    @classmethod
    def find(cls, stack: str, region: str | None = None) -> Deployment:
        session = boto3.Session(region_name=region)
        try:
            described = session.client("cloudformation").describe_stacks(StackName=stack)
        except ClientError as error:
            raise DeployedError(
                f"stack {stack!r} not found ({aws_reason(error)}); deploy it or "
                f"pass --stack / set {STACK_ENV}"
            ) from None
        outputs = {
            o["OutputKey"]: o["OutputValue"] for o in described["Stacks"][0].get("Outputs", [])
        }
        if "StateMachineArn" not in outputs:
            raise DeployedError(f"stack {stack!r} has no StateMachineArn output")
        return cls(
            session,
            outputs["StateMachineArn"],
            outputs.get("ApiUrl"),
            outputs.get("BucketName"),
            outputs.get("BatchStateMachineArn"),
        )

    def stepfunctions(self) -> Any:
        return self.session.client("stepfunctions")

    def execution_arn(self, execution_id: str) -> str:
        """The ARN for an id (execution name) or a full execution ARN of this state machine."""
        try:
            return execution_arn(execution_id, self.state_machine_arn)
        except NotAnExecution as error:
            raise DeployedError(str(error)) from None


def default_stack() -> str:
    """$ONGAGE_EXPORT_STACK, else the stack_name of ./cdk.json (run from the clone that deployed
    it), else the name the project deploys by default."""
    return os.environ.get(STACK_ENV) or _configured_stack(Path("cdk.json")) or DEFAULT_STACK_NAME


def _configured_stack(cdk_json: Path) -> str | None:
    try:
        settings = json.loads(cdk_json.read_text())["context"]["ongage_export"]
    except (OSError, ValueError, KeyError, TypeError):  # no project here, or not ours
        return None
    name = settings.get("stack_name") if isinstance(settings, dict) else None
    return name if isinstance(name, str) and name else None


def aws_reason(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", error))
