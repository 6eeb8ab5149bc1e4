"""The Ongage API credentials: one Secrets Manager secret, read by the Lambdas at run time.

The secret value is JSON `{"username": ..., "password": ..., "account_code": ...}`. It never
appears in the template, in environment variables or in workflow state: the Lambdas get only its
id. When the stack creates the secret it holds a generated placeholder; the real value is put with
`aws secretsmanager put-secret-value` (see README, Deploy).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StackConfig

_PLACEHOLDER = '{"username": "set-me", "account_code": "set-me"}'


class OngageCredentials(Construct):
    """`secret` and `secret_id`, the value the Lambdas receive as ONGAGE_SECRET_ID. A secret
    the stack creates is encrypted with `key` (None: the AWS-managed key); an existing secret
    keeps its own key."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, key: kms.IKey | None
    ):
        super().__init__(scope, construct_id)
        self.imported = config.ongage_secret_name is not None
        if config.ongage_secret_name is not None:
            self.secret = secretsmanager.Secret.from_secret_name_v2(
                self, "Secret", config.ongage_secret_name
            )
            self.secret_id = config.ongage_secret_name
        else:
            created = secretsmanager.Secret(
                self,
                "Secret",
                description="Ongage API credentials: JSON with username, password, account_code",
                # A random placeholder keeps any literal credential out of the template.
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template=_PLACEHOLDER,
                    generate_string_key="password",
                ),
                encryption_key=key,
                # The value is put by hand; keep it if the stack goes away.
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            self.secret = created
            self.secret_id = created.secret_arn
