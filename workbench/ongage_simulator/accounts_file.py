"""ACCOUNTS.json: the Ongage accounts of a local run, by name, each with its credentials and,
optionally, its limits:

    {"brand-eu": {"username": "...", "password": "...", "account_code": "...",
                  "parallel_calls": 2, "calls_per_minute": 60}}

`ongage-export simulator --accounts` serves them; `ongage-export run --accounts` calls Ongage
with them (the account a request names). Here, the lowest package both reach, so one reader
serves both. Every problem is listed at once, by file, account and field, never with a value
(a value may be a password).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from ongage_export.domain.accounts import account_problem
from ongage_simulator.config import Credentials, ServedAccount

MAX_FILE_BYTES = 64 * 1024
Text = Annotated[str, Field(min_length=1)]


class AccountsFileError(ValueError):
    """What is wrong with an accounts file: `problems`, one sentence each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    username: Text
    password: Text
    account_code: Text
    parallel_calls: PositiveInt | None = None
    calls_per_minute: PositiveInt | None = None


@dataclass(frozen=True)
class AccountEntry:
    """One account of the file; a limit left out is the deployment's (or the simulator's)."""

    name: str
    credentials: Credentials
    parallel_calls: int | None = None
    calls_per_minute: int | None = None

    def limits(self) -> dict[str, int]:
        """The limits the file gives, by their names in the file (and in ONGAGE_ACCOUNTS)."""
        given = {"parallel_calls": self.parallel_calls, "calls_per_minute": self.calls_per_minute}
        return {name: value for name, value in given.items() if value is not None}

    def served(self, default: ServedAccount) -> ServedAccount:
        """The account as the simulator serves it: `default`'s limits where the file has none."""
        return ServedAccount(
            self.credentials,
            self.calls_per_minute or default.calls_per_minute,
            self.parallel_calls or default.parallel_calls,
        )


def load_accounts(path: Path) -> dict[str, AccountEntry]:
    """The accounts in `path`, by name, or AccountsFileError listing every problem."""
    return parse_accounts(_read_json(path), str(path))


def parse_accounts(document: Any, source: str) -> dict[str, AccountEntry]:
    if not isinstance(document, Mapping) or not document:
        raise AccountsFileError(
            [f"{source}: must be a JSON object mapping account names to their credentials"]
        )
    problems: list[str] = []
    accounts = {}
    for name, value in document.items():
        if problem := account_problem(name):
            problems.append(f"{source}: account name {problem}")
        try:
            entry = _Entry.model_validate(value)
        except ValidationError as error:
            problems += [f"{source}: account {name!r}: {_sentence(e)}" for e in error.errors()]
            continue
        credentials = Credentials(entry.username, entry.password, entry.account_code)
        accounts[name] = AccountEntry(
            name, credentials, entry.parallel_calls, entry.calls_per_minute
        )
    problems += _shared_codes(accounts, source)
    if problems:
        raise AccountsFileError(problems)
    return accounts


def _sentence(error: Any) -> str:
    """A pydantic error as a sentence naming the field, without the value given."""
    field = ".".join(map(str, error["loc"]))
    if error["type"] == "missing":
        return f"'{field}' is missing"
    if error["type"] == "extra_forbidden":
        return f"unknown field '{field}': allowed are {', '.join(_Entry.model_fields)}"
    if not field:
        return "must be an object of username, password, account_code and optional limits"
    return f"'{field}': {error['msg'].lower()}"


def _shared_codes(accounts: dict[str, AccountEntry], source: str) -> list[str]:
    """Ongage's limits are per account: one account under two names would get them twice."""
    names_by_code: dict[str, list[str]] = {}
    for name, entry in accounts.items():
        names_by_code.setdefault(entry.credentials.account_code, []).append(name)
    return [
        f"{source}: accounts {', '.join(map(repr, names))} have the same account_code: "
        "Ongage limits calls per account, so give each account one name"
        for names in names_by_code.values()
        if len(names) > 1
    ]


def _read_json(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise AccountsFileError([f"{path}: cannot be read ({error.strerror})"]) from None
    if len(data) > MAX_FILE_BYTES:
        raise AccountsFileError([f"{path}: larger than {MAX_FILE_BYTES} bytes"])
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise AccountsFileError([f"{path}: is not UTF-8 text"]) from None
    except json.JSONDecodeError as error:
        raise AccountsFileError(
            [f"{path}: is not valid JSON ({error.msg} at line {error.lineno})"]
        ) from None
