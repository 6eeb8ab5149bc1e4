"""The simulator serving several accounts over real HTTP: each told apart by its account code,
held to its own limits and counted apart; an export is found only by its own account."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ongage_simulator import (
    AccountStats,
    Credentials,
    Fault,
    OngageSimulator,
    ServedAccount,
    SimulatorConfig,
)
from ongage_simulator.cli import build_parser, config_from, describe_accounts
from ongage_simulator.limits import PARALLEL_MESSAGE, RATE_MESSAGE

DEMO = Credentials.demo()
BRAND = Credentials("brand", "brand-secret", "BRANDACCT")
REQUEST = {
    "name": "Daily actives",
    "segment_id": [77197],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "status": ["active"],
}


@pytest.fixture
def sim() -> Iterator[OngageSimulator]:
    """The default account: 1 call at a time, 100 a minute; BRAND: 5 at a time, 2 a minute."""
    config = SimulatorConfig(
        max_parallel=1,
        rate_limit_per_minute=100,
        ready_after_retrieves=0,
        export_bytes=4096,
        accounts=(ServedAccount(BRAND, calls_per_minute=2, parallel_calls=5),),
    )
    with OngageSimulator(config) as simulator:
        yield simulator


def _create(sim: OngageSimulator, credentials: Credentials) -> requests.Response:
    return requests.post(
        f"{sim.url}/api/export", json=REQUEST, headers=credentials.headers(), timeout=10
    )


def _retrieve(sim: OngageSimulator, export_id: str, credentials: Credentials) -> requests.Response:
    url = f"{sim.url}/api/export/{export_id}/retrieve"
    return requests.get(url, headers=credentials.headers(), timeout=10)


def _message(response: requests.Response) -> str:
    return str(response.json()["payload"]["message"])


def _wait_for(condition: Any) -> None:
    for _ in range(500):  # waiting, not timing: a loaded machine only makes it slower
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("the simulator never got there")


def test_each_account_is_held_to_its_own_limits_and_counted_apart(sim: OngageSimulator) -> None:
    # The default account's one parallel slot is held by a create that answers late.
    sim.inject(Fault.SLOW_CREATE, stall_seconds=30)
    body = json.dumps(REQUEST)
    headers = "".join(f"{name}: {value}\r\n" for name, value in DEMO.headers().items())
    held = (
        f"POST /api/export HTTP/1.1\r\nHost: x\r\n{headers}Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as slow:
        slow.sendall(held.encode())
        _wait_for(lambda: len(sim.exports) == 1)  # created: the slot is taken, the answer due

        refused = _create(sim, DEMO)
        assert refused.status_code == 429
        assert _message(refused) == PARALLEL_MESSAGE.format(limit=1)
        # The other account is not refused because of it, up to its own limit a minute.
        assert [_create(sim, BRAND).status_code for _ in range(2)] == [200, 200]
        over = _create(sim, BRAND)
        assert over.status_code == 429 and _message(over) == RATE_MESSAGE

        assert sim.stats.by_account == {
            "DEMOACCT": AccountStats(calls=2, peak_in_flight=2, rate_limited=1, creates=1),
            "BRANDACCT": AccountStats(calls=3, peak_in_flight=1, rate_limited=1, creates=2),
        }


def test_an_export_is_found_only_with_its_own_accounts_credentials(sim: OngageSimulator) -> None:
    export_id = str(_create(sim, BRAND).json()["payload"]["id"])
    elsewhere = _retrieve(sim, export_id, DEMO)
    assert elsewhere.status_code == 412 and _message(elsewhere) == "Export not found"
    assert _retrieve(sim, export_id, BRAND).status_code == 200
    # Another account's code with these username and password is no account.
    mixed = Credentials(BRAND.username, BRAND.password, DEMO.account_code)
    assert _create(sim, mixed).status_code == 401


def test_a_redirect_to_the_second_host_wants_the_exports_own_account(
    sim: OngageSimulator,
) -> None:
    export_id = str(_create(sim, BRAND).json()["payload"]["id"])
    file = f"{sim.second_host.url}/files/{export_id}.zip"
    assert requests.get(file, headers=DEMO.headers(), timeout=10).status_code == 401
    assert requests.get(file, headers=BRAND.headers(), timeout=10).status_code == 200


def test_the_simulator_command_serves_an_accounts_file(tmp_path: Path) -> None:
    path = tmp_path / "accounts.json"
    accounts = {
        "default": {"username": "u", "password": "p", "account_code": "DEF", "parallel_calls": 3},
        "brand-eu": {"username": "b", "password": "q", "account_code": "EU",
                     "calls_per_minute": 60},
    }  # fmt: skip
    path.write_text(json.dumps(accounts))
    config = config_from(
        build_parser().parse_args(["--max-parallel", "7", "--accounts", str(path)])
    )
    assert config.served_accounts() == (
        ServedAccount(Credentials("u", "p", "DEF"), calls_per_minute=300, parallel_calls=3),
        ServedAccount(Credentials("b", "q", "EU"), calls_per_minute=60, parallel_calls=7),
    )
    with OngageSimulator(config) as simulator:
        lines = describe_accounts(simulator)
    nothing_yet = "0 calls, peak 0 in flight, 0x429, 0 exports created"
    assert lines == [
        f"  DEF: 3 parallel calls, 300 a minute; {nothing_yet}",
        f"  EU: 7 parallel calls, 60 a minute; {nothing_yet}",
    ]


def test_the_simulator_command_refuses_a_bad_accounts_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps({"brand eu": {"username": "b", "password": "hidden"}}))
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--accounts", str(path)])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "account name must be an account name" in err
    assert "account 'brand eu': 'account_code' is missing" in err
    assert "hidden" not in err
