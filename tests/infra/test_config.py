"""cdk.json context validation: good values load, bad ones name their key."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from infra.config import ConfigError, load_config
from ongage_export.contract import DEFAULT_STACK_NAME
from tests.infra.conftest import ROOT, settings_under_test


def test_committed_cdk_json_is_valid():
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    config = load_config(context["ongage_export"])
    # An example a user switches on: nothing is scheduled until they do.
    assert [schedule.enabled for schedule in config.schedules] == [False]


def test_defaults_when_nothing_is_configured():
    config = load_config(None)
    assert config.stack_name == DEFAULT_STACK_NAME
    assert config.schedules == ()
    assert config.ongage_secret_name is None


def test_json_string_from_the_command_line_is_accepted():
    config = load_config(json.dumps({"ongage_concurrency_limit": 4}))
    assert config.ongage_concurrency_limit == 4


def test_full_test_settings_load():
    config = load_config(settings_under_test())
    assert [s.name for s in config.schedules] == ["nightly", "hourly-mailing"]
    assert config.polling.deadline_seconds == 7200
    assert config.api.throttle_burst_limit == 6


def _with(path: str, value: Any) -> Any:
    settings = copy.deepcopy(settings_under_test())
    *parents, last = path.split(".")
    target: Any = settings
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return settings


class _Delete:
    """The key is removed (a stable repr: every pytest-xdist worker must see the same test ids)."""

    def __repr__(self) -> str:
        return "<deleted>"


_DELETE = _Delete()

BAD = [
    ("ongage_base_url", "http://api.ongage.net", "ongage_export.ongage_base_url"),
    ("ongage_base_url", "", "ongage_export.ongage_base_url"),
    (
        "ongage_trusted_origins",
        ["http://connect.ongage.net"],
        "ongage_export.ongage_trusted_origins[0]",
    ),
    (
        "ongage_trusted_origins",
        ["https://connect.ongage.net/api"],
        "ongage_export.ongage_trusted_origins[0]",
    ),
    (
        "ongage_trusted_origins",
        "https://connect.ongage.net",
        "ongage_export.ongage_trusted_origins",
    ),
    ("ongage_concurrency_limit", 0, "ongage_export.ongage_concurrency_limit"),
    ("ongage_concurrency_limit", "10", "ongage_export.ongage_concurrency_limit"),
    ("ongage_secret_name", "bad name!", "ongage_export.ongage_secret_name"),
    ("polling", {"initial_seconds": 0}, "ongage_export.polling"),
    ("polling", {"speed": 3}, "ongage_export.polling"),
    ("log_retention_days", 42, "ongage_export.log_retention_days"),
    ("export_retention_days", 0, "ongage_export.export_retention_days"),
    ("notification_emails", ["not-an-email"], "ongage_export.notification_emails[0]"),
    ("notification_emails", "a@b.c", "ongage_export.notification_emails"),
    ("scheduler_retry_attempts", 186, "ongage_export.scheduler_retry_attempts"),
    ("schedules.0.expression", "every day", "ongage_export.schedules[0].expression"),
    ("schedules.0.time_zone", "Mars/Olympus", "ongage_export.schedules[0].time_zone"),
    ("schedules.0.name", "has space", "ongage_export.schedules[0].name"),
    ("schedules.1.name", "nightly", "ongage_export.schedules"),
    ("schedules.0.enabled", "yes", "ongage_export.schedules[0].enabled"),
    ("schedules.0.request", None, "ongage_export.schedules[0].request"),
    ("schedules.0.request.status", ["nope"], "ongage_export.schedules[0].request"),
    ("schedules.1.request.name", _DELETE, "ongage_export.schedules[1].request"),
    ("schedules.0.polling", {"max_polls": 0}, "ongage_export.schedules[0].polling"),
    ("schedules.0.colour", "red", "ongage_export.schedules[0].colour"),
    ("api.throttle_rate_limit", -1, "ongage_export.api.throttle_rate_limit"),
    ("api.stage_name", "v 1", "ongage_export.api.stage_name"),
    ("api.download_link_seconds", 10, "ongage_export.api.download_link_seconds"),
    ("api.colour", "red", "ongage_export.api.colour"),
    ("colour", "red", "ongage_export.colour"),
    ("kms_key", "yes", "ongage_export.kms_key"),
    ("kms_key", True, "ongage_export.kms_key"),
    ("kms_key", "alias/ongage", "ongage_export.kms_key"),
    ("kms_key", "arn:aws:kms:eu-west-1:123456789012:alias/ongage", "ongage_export.kms_key"),
]


@pytest.mark.parametrize(("path", "value", "key"), BAD, ids=[f"{p}={v!r}" for p, v, _ in BAD])
def test_bad_value_is_reported_with_its_key(path, value, key):
    with pytest.raises(ConfigError) as caught:
        load_config(_with(path, value))
    assert key in str(caught.value)


def test_scheduled_name_is_checked_at_its_real_length():
    settings = _with("schedules.0.request.name", "x" * 190 + "{scheduled_time}")
    with pytest.raises(ConfigError, match=r"schedules\[0\]\.request.*'name'"):
        load_config(settings)


def test_invalid_json_string_is_reported():
    with pytest.raises(ConfigError, match="ongage_export is not valid JSON"):
        load_config("{nope")


def test_a_retrieve_timeout_that_leaves_no_time_to_stream_is_refused_naming_both_settings():
    with pytest.raises(ConfigError) as caught:
        load_config({"retrieve_timeout_seconds": 60, "stream_stop_margin_seconds": 180})
    message = str(caught.value)
    assert "ongage_export.retrieve_timeout_seconds (60)" in message
    assert "ongage_export.stream_stop_margin_seconds (180)" in message
    config = load_config({"retrieve_timeout_seconds": 20, "stream_stop_margin_seconds": 15})
    assert (config.retrieve_timeout_seconds, config.stream_stop_margin_seconds) == (20, 15)


KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    "value", [None, "create", KEY_ARN, "arn:aws:kms:eu-west-1:123456789012:key/mrk-" + "a" * 32]
)
def test_kms_key_accepts_null_create_or_a_key_arn(value):
    assert load_config({"kms_key": value}).kms_key == value


def test_a_bad_kms_key_says_what_to_put_instead():
    with pytest.raises(ConfigError) as caught:
        load_config({"kms_key": "alias/ongage"})
    message = str(caught.value)
    assert message.startswith("ongage_export.kms_key: is 'alias/ongage'")
    assert "null" in message and "'create'" in message and "arn:aws:kms:" in message


SCHEDULED = {"name": "n", "list_id": 1, "date_format": "dd/mm/yyyy", "file_format": "csv",
             "status": ["active"]}  # fmt: skip


def test_a_single_account_stack_is_the_default_account():
    config = load_config({"ongage_secret_name": "prod/ongage", "ongage_concurrency_limit": 4})
    (default,) = config.all_accounts.values()
    assert list(config.all_accounts) == ["default"]
    assert (default.secret_name, default.parallel_calls, default.calls_per_minute) == (
        "prod/ongage", 4, 300,
    )  # fmt: skip


def test_accounts_are_served_beside_the_default_one():
    config = load_config({"accounts": {"brand-eu": {"parallel_calls": 2}}})
    assert list(config.all_accounts) == ["default", "brand-eu"]
    assert config.all_accounts["brand-eu"].parallel_calls == 2


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"accounts": {"bad name": {}}}, "ongage_export.accounts.bad name"),
        ({"accounts": {"eu": {"parallel_calls": 0}}}, "ongage_export.accounts.eu.parallel_calls"),
        ({"accounts": {"eu": {"limit": 3}}}, "unknown key; known keys: secret_name"),
        (
            {"accounts": {"default": {}}, "ongage_secret_name": "x"},
            "accounts.default and ongage_export.ongage_secret_name both configure",
        ),
        ({"accounts": {f"a{i}": {} for i in range(21)}}, "at most 20"),
        (
            {"schedules": [{"name": "n", "expression": "rate(1 day)",
                            "request": {**SCHEDULED, "account": "brand-us"}}]},
            "schedules[0].request.account: the account 'brand-us' is not configured here",
        ),
    ],
)  # fmt: skip
def test_bad_accounts_are_reported_with_their_key(settings: dict[str, Any], expected: str):
    with pytest.raises(ConfigError) as error:
        load_config(settings)
    assert expected in str(error.value)
