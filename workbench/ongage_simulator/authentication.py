"""Who a call is (its three credential headers against the accounts served) and which list it
works on, as Ongage's documentation describes them."""

from __future__ import annotations

import hmac
from typing import Protocol

from ongage_simulator.config import Credentials, ServedAccount, SimulatorConfig
from ongage_simulator.protocol import Route

AUTH_HEADERS = ("X_USERNAME", "X_PASSWORD", "X_ACCOUNT_CODE")


class Headers(Protocol):
    def get(self, name: str) -> str | None: ...


def authenticate(headers: Headers, config: SimulatorConfig) -> ServedAccount | tuple[int, str]:
    """The account the call's credentials name, or the status and message refusing it."""
    given = [headers.get(name) for name in AUTH_HEADERS]
    if not all(given):
        missing = [name for name, value in zip(AUTH_HEADERS, given, strict=True) if not value]
        return 401, "Missing authentication headers: " + ", ".join(missing)
    for account in config.served_accounts():
        if _matches(given, account.credentials):
            return account
    if any(_matches(given, denied) for denied in config.no_api_access):
        return 403, "This account has no API access"
    return 401, "Invalid credentials"


def resolve_list(
    config: SimulatorConfig, route: Route, body_list_id: int | None
) -> tuple[int | None, list[str]]:
    """The list a call works on: body, then query, then route prefix, then the default."""
    query = route.query_list_id
    if body_list_id is None and query is not None:
        if not query.isdigit() or int(query) < 1:
            return None, [f"the 'list_id' query parameter must be a positive integer: {query!r}"]
        body_list_id = int(query)
    list_id = next(
        value
        for value in (body_list_id, route.list_prefix, config.default_list_id)
        if value is not None
    )
    if config.known_list_ids is not None and list_id not in config.known_list_ids:
        return None, [f"list {list_id} does not exist in this account"]
    return list_id, []


def _same(given: str | None, expected: str) -> bool:
    return hmac.compare_digest((given or "").encode(), expected.encode())


def _matches(given: list[str | None], credentials: Credentials) -> bool:
    expected = (credentials.username, credentials.password, credentials.account_code)
    return all(map(_same, given, expected))
