"""The simulator's accounts: each held to its own limits, each counted apart; and the
accounts a local run gives its Lambdas (ONGAGE_ACCOUNTS)."""

from __future__ import annotations

import json

from embedded_runtime.accounts import ACCOUNTS_VARIABLE, accounts_environment
from ongage_simulator import AccountStats, Credentials, ServedAccount, SimulatorConfig
from ongage_simulator.accounts_file import parse_accounts
from ongage_simulator.limits import PARALLEL_MESSAGE, RATE_MESSAGE, AccountLimits, StatsRecorder

BRAND = Credentials("brand", "brand-secret", "BRANDACCT")


def test_each_account_is_held_to_its_own_limits() -> None:
    now = [0.0]
    limits = AccountLimits(clock=lambda: now[0])
    assert limits.enter("A", per_window=5, window=60, max_parallel=1) is None
    # A's only slot is taken; B, with two, is not refused because of A.
    assert limits.enter("A", 5, 60, 1) == PARALLEL_MESSAGE.format(limit=1)
    assert limits.enter("B", 2, 60, 2) is None
    assert limits.enter("B", 2, 60, 2) is None
    assert limits.enter("B", 2, 60, 2) == PARALLEL_MESSAGE.format(limit=2)
    limits.leave("B")
    # B has made its two calls of the minute; A still has calls left in its own window.
    assert limits.enter("B", 2, 60, 2) == RATE_MESSAGE
    limits.leave("A")
    assert limits.enter("A", 5, 60, 1) is None
    now[0] = 61.0
    limits.leave("B")
    assert limits.enter("B", 2, 60, 2) is None


def test_stats_count_each_account_apart() -> None:
    recorder = StatsRecorder()
    for endpoint in ("create", "retrieve", "retrieve"):
        recorder.begin(endpoint)
    recorder.authenticated("A")
    recorder.authenticated("A")
    recorder.authenticated("B")
    recorder.created("A")
    recorder.end(200, "A")
    recorder.end(429, "A")
    recorder.end(429, "B")
    recorder.begin("create")
    recorder.end(401)  # refused before it was anyone's
    stats = recorder.snapshot()
    assert stats.by_account == {
        "A": AccountStats(calls=2, peak_in_flight=2, rate_limited=1, creates=1),
        "B": AccountStats(calls=1, peak_in_flight=1, rate_limited=1, creates=0),
    }
    assert (stats.rate_limited, stats.creates, stats.total_calls) == (2, 1, 4)
    recorder.begin("retrieve")
    recorder.authenticated("A")  # in flight across the reset: it is the new peak
    recorder.reset()
    assert recorder.snapshot().by_account["A"] == AccountStats(peak_in_flight=1)


def test_the_default_account_is_served_first_with_the_configs_limits() -> None:
    config = SimulatorConfig(
        rate_limit_per_minute=30, max_parallel=3, accounts=(ServedAccount(BRAND, 60, 2),)
    )
    assert config.served_accounts() == (
        ServedAccount(Credentials.demo(), 30, 3),
        ServedAccount(BRAND, 60, 2),
    )
    assert config.served_account("BRANDACCT") == ServedAccount(BRAND, 60, 2)
    assert config.served_account("NOBODY") is None


def test_a_local_runs_accounts_each_with_its_secret_and_limits() -> None:
    local = parse_accounts(
        {
            "default": {"username": "d", "password": "p", "account_code": "D", "parallel_calls": 4},
            "brand-eu": {"username": "b", "password": "p", "account_code": "B"},
            "brand-us": {"username": "u", "password": "p", "account_code": "U",
                         "parallel_calls": 2, "calls_per_minute": 60},
        },
        "ACCOUNTS.json",
    )  # fmt: skip
    secrets = {"default": "arn:default", "brand-eu": "arn:eu", "brand-us": "arn:us"}
    # A template from before accounts sets no ONGAGE_ACCOUNTS: every account is the file's.
    before = accounts_environment({"ONGAGE_SECRET_ID": "arn:default"}, secrets, local)
    assert json.loads(before[ACCOUNTS_VARIABLE]) == {
        "default": {"secret_id": "arn:default", "parallel_calls": 4, "calls_per_minute": 300},
        "brand-eu": {"secret_id": "arn:eu", "parallel_calls": 10, "calls_per_minute": 300},
        "brand-us": {"secret_id": "arn:us", "parallel_calls": 2, "calls_per_minute": 60},
    }
    # A template with accounts: its limits hold where the file gives none; its other accounts stay.
    deployed = {
        "brand-eu": {"secret_id": "arn:eu", "parallel_calls": 3, "calls_per_minute": 100},
        "brand-asia": {"secret_id": "arn:asia", "parallel_calls": 5, "calls_per_minute": 50},
    }
    after = accounts_environment({ACCOUNTS_VARIABLE: json.dumps(deployed)}, secrets, local)
    listed = json.loads(after[ACCOUNTS_VARIABLE])
    assert listed["brand-eu"] == {
        "secret_id": "arn:eu",
        "parallel_calls": 3,
        "calls_per_minute": 100,
    }
    assert listed["brand-asia"] == deployed["brand-asia"]
    assert listed["brand-us"]["parallel_calls"] == 2
