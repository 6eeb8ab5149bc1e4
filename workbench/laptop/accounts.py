"""`run --accounts ACCOUNTS.json`: which credentials a local run calls Ongage with.

The `default` account is the file's when it has one, else the ONGAGE_* variables' (as
without a file); every account a request names must be in the file, checked before anything
is deployed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from embedded_runtime.runtime import OngageAccount
from laptop.local_run import credentials_from_env
from ongage_export.domain.accounts import ACCOUNT_KEY, DEFAULT_ACCOUNT
from ongage_simulator.accounts_file import AccountEntry, load_accounts


def run_accounts(
    path: Path | None, requests: Iterable[Mapping[str, Any]]
) -> dict[str, AccountEntry]:
    """The accounts in `path` (none without a file); ValueError when a request names an
    account the file does not have."""
    accounts = load_accounts(path) if path is not None else {}
    named = {request.get(ACCOUNT_KEY, DEFAULT_ACCOUNT) for request in requests}
    missing = sorted(named - accounts.keys() - {DEFAULT_ACCOUNT})
    if missing:
        where = f"{path} does not have" if path else "no --accounts file gives"
        raise ValueError(
            f"the request names the account(s) {', '.join(map(repr, missing))}, which {where}: "
            "list each with its credentials in the file given with --accounts (see "
            "examples/accounts.json)"
        )
    return accounts


def default_account(
    url: str, env: Mapping[str, str], accounts: Mapping[str, AccountEntry]
) -> OngageAccount:
    """The `default` account: the file's, else the ONGAGE_* variables'."""
    entry = accounts.get(DEFAULT_ACCOUNT)
    return credentials_from_env(url, entry.credentials.env() if entry else env)
