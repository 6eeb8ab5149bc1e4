"""`ongage-export run --accounts ACCOUNTS.json`: each account's credentials in its own secret,
ONGAGE_ACCOUNTS set on the functions, and a request naming an account run with that account's
credentials (the simulator counts per account code who called)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from embedded_runtime.accounts import ACCOUNTS_VARIABLE
from embedded_runtime.runtime import EmbeddedRuntime
from laptop.accounts import default_account, run_accounts
from ongage_cli.main import main
from ongage_simulator import Credentials, Fault, OngageSimulator, ServedAccount, SimulatorConfig
from ongage_simulator.accounts_file import parse_accounts
from tests.conftest import CREDENTIALS, REQUEST, runtime_account

BRAND = Credentials("brand-eu-api", "brand-eu-secret", "BRANDEU")
ACCOUNTS = {
    "brand-eu": {
        "username": BRAND.username,
        "password": BRAND.password,
        "account_code": BRAND.account_code,
        "parallel_calls": 2,
    }
}


@pytest.fixture
def two_accounts() -> Iterator[OngageSimulator]:
    config = SimulatorConfig(
        credentials=CREDENTIALS,
        ready_after_retrieves=1,
        export_bytes=100_000,
        accounts=(ServedAccount(BRAND, parallel_calls=2),),
    )
    with OngageSimulator(config) as sim:
        yield sim


@pytest.fixture
def accounts_file(tmp_path: Path) -> Path:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(ACCOUNTS))
    return path


@pytest.fixture
def ongage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in CREDENTIALS.env().items():
        monkeypatch.setenv(name, value)


def test_each_account_gets_its_secret_and_its_limits_on_the_functions(
    two_accounts: OngageSimulator,
) -> None:
    accounts = parse_accounts(ACCOUNTS, "accounts.json")
    with EmbeddedRuntime(runtime_account(two_accounts), accounts=accounts) as runtime:
        lam = runtime.client("lambda")
        for function in runtime.functions.values():  # set through the Lambda API, on both
            variables = lam.get_function_configuration(FunctionName=function)["Environment"]
            listed = json.loads(variables["Variables"][ACCOUNTS_VARIABLE])
            assert listed["brand-eu"]["parallel_calls"] == 2
            assert listed["brand-eu"]["calls_per_minute"] == 300  # Ongage's, the file has none
            assert listed["default"]["secret_id"] == runtime.secret_id
        manager = runtime.client("secretsmanager")
        for name, credentials in (("default", CREDENTIALS), ("brand-eu", BRAND)):
            secret = manager.get_secret_value(SecretId=listed[name]["secret_id"])
            assert json.loads(secret["SecretString"]) == {
                "username": credentials.username,
                "password": credentials.password,
                "account_code": credentials.account_code,
            }


def test_run_refuses_an_account_the_file_does_not_have(
    accounts_file: Path, tmp_path: Path, ongage_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    request = tmp_path / "request.json"
    request.write_text(json.dumps(REQUEST | {"account": "brand-us"}))
    arguments = ["run", str(request), "--ongage-url", "http://127.0.0.1:1", "--json"]
    assert main([*arguments, "--accounts", str(accounts_file)]) == 2
    assert f"'brand-us', which {accounts_file} does not have" in capsys.readouterr().err


def test_run_calls_ongage_with_the_account_the_request_names(
    two_accounts: OngageSimulator, accounts_file: Path, tmp_path: Path, ongage_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    request = tmp_path / "request.json"
    request.write_text(json.dumps(REQUEST | {"account": "brand-eu"}))
    status = main(
        [
            "run", str(request), "--accounts", str(accounts_file), "--ongage-url",
            two_accounts.url, "--out", str(tmp_path / "out"), "--json", "--poll-initial", "1",
            "--poll-max", "1",
        ]
    )  # fmt: skip
    summary = json.loads(capsys.readouterr().out)
    assert status == 0 and summary["status"] == "SUCCEEDED", summary
    by_account = two_accounts.stats.by_account
    assert by_account["BRANDEU"].creates == 1
    assert CREDENTIALS.account_code not in by_account  # the default account never called
    body = two_accounts.expected_body(summary["export_id"])
    assert summary["sha256"] == body.sha256()


def test_run_needs_every_account_a_request_names(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps(ACCOUNTS))
    requests = [{"name": "a"}, {"name": "b", "account": "brand-eu"}]
    assert list(run_accounts(path, requests)) == ["brand-eu"]
    assert run_accounts(None, [{"name": "a", "account": "default"}]) == {}
    with pytest.raises(ValueError, match=rf"'brand-us', which {path} does not have"):
        run_accounts(path, [*requests, {"name": "c", "account": "brand-us"}])
    with pytest.raises(ValueError, match="'brand-eu', which no --accounts file gives"):
        run_accounts(None, requests)


def test_the_default_account_is_the_files_else_the_environments() -> None:
    env = {"ONGAGE_USERNAME": "env", "ONGAGE_PASSWORD": "p", "ONGAGE_ACCOUNT_CODE": "E"}
    url = "http://127.0.0.1:1"
    assert default_account(url, env, {}).username == "env"
    file_default = parse_accounts({"default": ACCOUNTS["brand-eu"]}, "f")
    account = default_account(url, {}, file_default)
    assert (account.username, account.password, account.account_code) == (
        BRAND.username,
        BRAND.password,
        BRAND.account_code,
    )
    with pytest.raises(ValueError, match="set ONGAGE_USERNAME"):
        default_account(url, {}, {})


def test_a_batch_over_two_accounts_lands_every_export_within_each_accounts_limits(
    tmp_path: Path, ongage_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # The simulator refuses (429) any call beyond the limits the run is given: the limiter in
    # the functions must hold each account to them, apart from the other account.
    accounts = {
        "default": {
            "username": CREDENTIALS.username, "password": CREDENTIALS.password,
            "account_code": CREDENTIALS.account_code, "parallel_calls": 2,
        },
        "brand-eu": {**ACCOUNTS["brand-eu"], "parallel_calls": 1},
    }  # fmt: skip
    (tmp_path / "accounts.json").write_text(json.dumps(accounts))
    names = ["default", "brand-eu"] * 3
    batch = {
        "exports": [
            {**REQUEST, "name": f"export {index}", "account": name}
            for index, name in enumerate(names)
        ]
    }
    (tmp_path / "batch.json").write_text(json.dumps(batch))
    config = SimulatorConfig(
        credentials=CREDENTIALS,
        max_parallel=2,
        ready_after_retrieves=1,
        export_bytes=100_000,
        accounts=(ServedAccount(BRAND, parallel_calls=1),),
    )
    with OngageSimulator(config) as sim:
        # Downloads at 64 KiB/s: each holds its account's slot for about a second, so the
        # exports of an account contend for its slots.
        sim.inject(Fault.SLOW_TRICKLE, times=None)
        status = main(
            [
                "run", str(tmp_path / "batch.json"), "--accounts", str(tmp_path / "accounts.json"),
                "--ongage-url", sim.url, "--out", str(tmp_path / "out"), "--json",
                "--poll-initial", "1", "--poll-max", "1",
            ]
        )  # fmt: skip
        summary = json.loads(capsys.readouterr().out)
        stats = sim.stats.by_account
        assert status == 0 and summary["status"] == "SUCCEEDED", summary
        assert [export["account"] for export in summary["exports"]] == names
        for export in summary["exports"]:
            body = sim.expected_body(export["export_id"])
            assert Path(export["local_path"]).read_bytes() == body.read()
    assert stats[CREDENTIALS.account_code].creates == 3
    assert stats[BRAND.account_code].creates == 3
    assert stats[CREDENTIALS.account_code].peak_in_flight <= 2
    assert stats[BRAND.account_code].peak_in_flight <= 1
    assert sum(account.rate_limited for account in stats.values()) == 0
    print(stats, file=sys.stderr)
