"""The accounts a local run gives its Lambdas: each one's credentials in its secret, and
ONGAGE_ACCOUNTS, as the stack sets it from cdk.json's `accounts`, with the accounts of the
run's ACCOUNTS.json added or overriding. Apart from runtime.py: no AWS is loaded here."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from local_aws.deployment import OngageSecret
from ongage_export.domain.accounts import DEFAULT_ACCOUNT
from ongage_export.domain.call_limits import CallLimits
from ongage_export.settings import Settings
from ongage_simulator.accounts_file import AccountEntry
from ongage_simulator.config import Credentials

# Every account's secret and limits, as the Lambdas read them: {NAME: {"secret_id",
# "parallel_calls", "calls_per_minute"}}.
ACCOUNTS_VARIABLE = Settings.model_fields["ongage_accounts"].alias or ""


def accounts_environment(
    variables: Mapping[str, str], secrets: Mapping[str, str], local: Mapping[str, AccountEntry]
) -> dict[str, str]:
    """ONGAGE_ACCOUNTS for a local run: the template's accounts and every account in `secrets`,
    each with its secret and its limits: `local`'s where it gives them, else the template's,
    else Ongage's."""
    listed = variables.get(ACCOUNTS_VARIABLE)
    accounts = {name: dict(settings) for name, settings in json.loads(listed or "{}").items()}
    for name, secret_id in secrets.items():
        settings = accounts.setdefault(name, asdict(CallLimits()))
        settings["secret_id"] = secret_id
        settings.update(local[name].limits() if name in local else {})
    return {ACCOUNTS_VARIABLE: json.dumps(accounts, sort_keys=True)}


def put_secrets(
    manager: Any, outputs: Mapping[str, str], credentials: Mapping[str, Credentials], prefix: str
) -> dict[str, str]:
    """Each account's credentials in its secret, by account name: the stack's (`SecretId`,
    `AccountSecrets`), as a user puts them after `cdk deploy`, or one made under `prefix` for an
    account the stack does not have, so that an account can be tried before it is deployed."""
    known = {DEFAULT_ACCOUNT: outputs["SecretId"]} | json.loads(
        outputs.get("AccountSecrets") or "{}"
    )
    ids = {}
    for name, account in credentials.items():
        secret = OngageSecret(account.username, account.password, account.account_code).json()
        if name in known:
            manager.put_secret_value(SecretId=known[name], SecretString=secret)
            ids[name] = known[name]
        else:
            made = manager.create_secret(Name=f"{prefix}{name}", SecretString=secret)
            ids[name] = made["ARN"]
    return ids
