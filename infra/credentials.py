"""The Ongage API credentials: one Secrets Manager secret per account, read by the Lambdas at
run time.

A secret's value is JSON `{"username": ..., "password": ..., "account_code": ...}`. It never
appears in the template, in environment variables or in workflow state: the Lambdas get only
its id. A secret the stack creates holds a generated placeholder; the real value is put with
`aws secretsmanager put-secret-value` (see README, Deploy). The default account's secret keeps
the construct id it always had, so a stack deployed before accounts existed keeps its secret.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import AccountConfig, StackConfig
from ongage_export.domain.accounts import DEFAULT_ACCOUNT

_PLACEHOLDER = '{"username": "set-me", "account_code": "set-me"}'


class OngageCredentials(Construct):
    """`secrets` and `secret_ids` by account name (`secret`, `secret_id`: the default
    account's). A secret the stack creates is encrypted with `key` (None: the AWS-managed key);
    an existing secret keeps its own key."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, key: kms.IKey | None
    ):
        super().__init__(scope, construct_id)
        self.key = key
        self.secrets: dict[str, secretsmanager.ISecret] = {}
        self.secret_ids: dict[str, str] = {}
        self.imported: set[str] = set()
        for name, account in config.all_accounts.items():
            self._add(name, account)
        self.secret = self.secrets[DEFAULT_ACCOUNT]
        self.secret_id = self.secret_ids[DEFAULT_ACCOUNT]

    def _add(self, name: str, account: AccountConfig) -> None:
        construct_id = "Secret" if name == DEFAULT_ACCOUNT else f"Secret-{name}"
        if account.secret_name is not None:
            self.secrets[name] = secretsmanager.Secret.from_secret_name_v2(
                self, construct_id, account.secret_name
            )
            self.secret_ids[name] = account.secret_name
            self.imported.add(name)
            return
        created = secretsmanager.Secret(
            self,
            construct_id,
            description=f"Ongage API credentials of the account {name!r}: JSON with "
            "username, password, account_code",
            # A random placeholder keeps any literal credential out of the template.
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=_PLACEHOLDER,
                generate_string_key="password",
            ),
            encryption_key=self.key,
            # The value is put by hand; keep it if the stack goes away.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.secrets[name] = created
        self.secret_ids[name] = created.secret_arn
