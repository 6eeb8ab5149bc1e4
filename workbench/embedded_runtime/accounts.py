"""The accounts a local run gives its Lambdas: ONGAGE_ACCOUNTS, as the stack sets it from
cdk.json's `accounts`, with the accounts of the run's ACCOUNTS.json added or overriding.
Apart from runtime.py, so that it is checked without an AWS."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict

from ongage_export.domain.call_limits import CallLimits
from ongage_export.settings import Settings
from ongage_simulator.accounts_file import AccountEntry

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
