"""ACCOUNTS.json (the accounts of a local run): read, every problem listed, no secret echoed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ongage_simulator import Credentials, ServedAccount
from ongage_simulator.accounts_file import (
    AccountEntry,
    AccountsFileError,
    load_accounts,
    parse_accounts,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "accounts.json"
SECRET = "s3cret-never-shown"
BRAND = {"username": "brand", "password": SECRET, "account_code": "BRANDACCT"}


def _problems(document: Any) -> list[str]:
    with pytest.raises(AccountsFileError) as raised:
        parse_accounts(document, "ACCOUNTS.json")
    assert SECRET not in str(raised.value)
    return raised.value.problems


def test_an_account_with_and_without_limits() -> None:
    accounts = parse_accounts(
        {"default": BRAND | {"account_code": "D"}, "brand-eu": BRAND | {"parallel_calls": 2}},
        "ACCOUNTS.json",
    )
    assert accounts["brand-eu"] == AccountEntry(
        "brand-eu", Credentials("brand", SECRET, "BRANDACCT"), parallel_calls=2
    )
    assert accounts["brand-eu"].limits() == {"parallel_calls": 2}
    assert accounts["default"].limits() == {}
    # The simulator serves a limit the file leaves out as its default account's.
    fallback = ServedAccount(Credentials.demo(), calls_per_minute=300, parallel_calls=10)
    served = accounts["brand-eu"].served(fallback)
    assert (served.parallel_calls, served.calls_per_minute) == (2, 300)


def test_every_problem_is_listed_by_file_account_and_field() -> None:
    problems = _problems(
        {
            "bad name!": BRAND,
            "no-password": {"username": "u", "account_code": "C1"},
            "typed": BRAND | {"account_code": "C2", "parallel_calls": 0, "calls_per_minute": "9"},
            "extra": BRAND | {"account_code": "C3", "secret": SECRET},
            "empty": {"username": "", "password": SECRET, "account_code": "C4"},
            "not-an-object": [SECRET],
            "twin": BRAND,
        }
    )
    expected = [
        "ACCOUNTS.json: account name must be an account name",
        "ACCOUNTS.json: account 'no-password': 'password' is missing",
        "ACCOUNTS.json: account 'typed': 'parallel_calls': input should be greater than 0",
        "ACCOUNTS.json: account 'typed': 'calls_per_minute': input should be a valid integer",
        "ACCOUNTS.json: account 'extra': unknown field 'secret'",
        "ACCOUNTS.json: account 'empty': 'username': string should have at least 1 character",
        "ACCOUNTS.json: account 'not-an-object': must be an object of username, password",
        "ACCOUNTS.json: accounts 'bad name!', 'twin' have the same account_code",
    ]
    assert len(problems) == len(expected), problems
    for start, problem in zip(expected, problems, strict=True):
        assert problem.startswith(start), problem


@pytest.mark.parametrize("document", [[], {}, "accounts", None])
def test_the_file_must_map_names_to_accounts(document: Any) -> None:
    assert _problems(document) == [
        "ACCOUNTS.json: must be a JSON object mapping account names to their credentials"
    ]


def test_a_file_that_cannot_be_read_or_is_not_json(tmp_path: Path) -> None:
    broken = tmp_path / "accounts.json"
    broken.write_text('{"a": ')
    for path, words in ((broken, "is not valid JSON"), (tmp_path / "gone.json", "cannot be read")):
        with pytest.raises(AccountsFileError, match=words) as raised:
            load_accounts(path)
        assert str(raised.value).startswith(str(path))


def test_the_example_file_is_valid() -> None:
    accounts = load_accounts(EXAMPLE)
    assert "default" in accounts and len(accounts) >= 2
