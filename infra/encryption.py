"""The customer-managed key (`kms_key` in cdk.json) that encrypts contact data and credentials.

`kms_key: null` keeps AWS-managed encryption (no key here: `data_key` returns None). `"create"`
makes one key in the stack, rotated yearly, whose policy lets the CloudWatch Logs service encrypt
this account's log groups in this Region. A key ARN imports an existing key: its policy is its
owner's, and must grant the same to `logs.<region>.amazonaws.com` (README, Security).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StackConfig
from infra.config_values import CREATE_KEY

KEY_ID = "DataKey"
# What CloudWatch Logs needs to encrypt and read back a log group's events with the key.
_LOGS_ACTIONS = [
    "kms:Encrypt*",
    "kms:Decrypt*",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:Describe*",
]


def data_key(scope: Construct, config: StackConfig) -> kms.IKey | None:
    """The key `config.kms_key` names (created or imported), or None for AWS-managed keys."""
    if config.kms_key is None:
        return None
    if config.kms_key != CREATE_KEY:
        return kms.Key.from_key_arn(scope, KEY_ID, config.kms_key)
    key = kms.Key(
        scope,
        KEY_ID,
        description="Encrypts the Ongage exports, their records, credentials, logs and notices",
        enable_key_rotation=True,
        # The exports bucket outlives the stack (RETAIN): so must the key that can read it.
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    _allow_log_encryption(key)
    return key


def _allow_log_encryption(key: kms.Key) -> None:
    """The logs service may use the key for this account's log groups in this Region only."""
    stack = cdk.Stack.of(key)
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="EncryptLogGroups",
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=_LOGS_ACTIONS,
            resources=["*"],  # in a key policy, "*" is this key
            conditions={
                "ArnLike": {
                    "kms:EncryptionContext:aws:logs:arn": stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="*",
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                }
            },
        )
    )


def log_group(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey | None,
    retention: logs.RetentionDays,
    log_group_name: str | None = None,
) -> logs.LogGroup:
    """A log group removed with the stack, encrypted with `key` when there is one."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=log_group_name,
        retention=retention,
        encryption_key=key,
        removal_policy=cdk.RemovalPolicy.DESTROY,
    )
