"""Ongage accounts: one deployment may export for several (brands, regions, an agency's
clients), each with its own credentials and its own limits (call_limits.py).

A request names its account with `"account": NAME` beside Ongage's own fields; the field is
ours and never sent to Ongage. Without it, the request is the `default` account's, which is
what a stack configured for a single account has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ongage_export.domain.call_limits import CallLimits

ACCOUNT_KEY = "account"
DEFAULT_ACCOUNT = "default"
# Names become parts of secret names and of DynamoDB keys: letters, digits, '-' and '_'.
ACCOUNT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$"


@dataclass(frozen=True)
class Account:
    """A configured account: where its credentials are, and its limits at Ongage."""

    name: str
    secret_id: str
    limits: CallLimits


def account_problem(name: Any) -> str | None:
    """What is wrong with `name` as an account name, or None."""
    if not isinstance(name, str) or re.match(ACCOUNT_NAME_PATTERN, name) is None:
        return (
            f"must be an account name: 1 to 40 letters, digits, '-' or '_', starting with a "
            f'letter or digit (e.g. "brand-eu"), not {name!r}'
        )
    return None


def unknown_account_message(name: str, known: list[str]) -> str:
    return (
        f"the account {name!r} is not configured here; configured: {', '.join(sorted(known))}. "
        "Name one of them in the request's 'account', or add it under 'accounts' in cdk.json "
        "and deploy again"
    )
