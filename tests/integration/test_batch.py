"""`ongage-export run BATCH.json`: a batch of three on the embedded runtime, one of them failing
at Ongage (a list the account does not have), through the real batch and export workflows."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ongage_cli.main import main
from ongage_simulator import OngageSimulator, SimulatorConfig
from tests.conftest import CREDENTIALS, REQUEST
from tests.integration.test_contracts import validator

KNOWN_LISTS = frozenset({1111, 2222})
UNKNOWN_LIST = 9999
BATCH = {
    "exports": [
        {**REQUEST, "name": "first", "list_id": 1111},
        {**REQUEST, "name": "unknown list", "list_id": UNKNOWN_LIST},
        {**REQUEST, "name": "third", "list_id": 2222, "account": "default"},
    ]
}


@pytest.fixture
def lists_simulator() -> Iterator[OngageSimulator]:
    config = SimulatorConfig(
        credentials=CREDENTIALS,
        ready_after_retrieves=2,
        export_bytes=200_000,
        known_list_ids=KNOWN_LISTS,
    )
    with OngageSimulator(config) as simulator:
        yield simulator


@pytest.fixture
def ongage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONGAGE_USERNAME", CREDENTIALS.username)
    monkeypatch.setenv("ONGAGE_PASSWORD", CREDENTIALS.password)
    monkeypatch.setenv("ONGAGE_ACCOUNT_CODE", CREDENTIALS.account_code)


def run_json(batch_file: Path, url: str, out: Path, capsys: Any) -> tuple[int, dict[str, Any]]:
    status = main(
        [
            *("run", str(batch_file), "--ongage-url", url, "--out", str(out), "--json"),
            *("--poll-initial", "1", "--poll-max", "1"),
        ]
    )
    return status, json.loads(capsys.readouterr().out)  # exactly one JSON object


def test_a_batch_of_three_lands_the_good_ones_and_reports_the_failed_one(
    lists_simulator: OngageSimulator,
    ongage_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    batch_file = tmp_path / "batch.json"
    batch_file.write_text(json.dumps(BATCH))
    out = tmp_path / "out"
    status, summary = run_json(batch_file, lists_simulator.url, out, capsys)

    assert status == 1 and summary["status"] == "FAILED"
    exports = summary["exports"]
    assert [e["status"] for e in exports] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert [e["account"] for e in exports] == ["default"] * 3
    for landed in (exports[0], exports[2]):
        expected = lists_simulator.expected_body(landed["export_id"])
        assert (landed["bytes"], landed["sha256"]) == (expected.size, expected.sha256())
        local = Path(landed["local_path"])
        assert local.parent == out and local.read_bytes() == expected.read()
        assert zipfile.ZipFile(local).testzip() is None
    assert exports[0]["local_path"] != exports[2]["local_path"]
    failed = exports[1]
    assert failed["error"] == "OngageRequestRejected"
    assert f"list {UNKNOWN_LIST} does not exist" in failed["cause"]
    assert failed["export_id"] is None and failed["key"] is None
    # one Ongage export per element that could have one; the unknown list's create was refused
    assert lists_simulator.stats.creates == 2

    notices = json.loads((out / "notifications.json").read_text())
    own = [n for n in notices if n["attributes"].get("kind") != "batch"]
    assert sorted(n["message"]["status"] for n in own) == ["FAILED", "SUCCEEDED", "SUCCEEDED"]
    (batch_notice,) = [n for n in notices if n["attributes"].get("kind") == "batch"]
    validator("sns-batch").validate(batch_notice["message"])
    assert batch_notice["subject"].startswith("Ongage batch FAILED")
    assert batch_notice["attributes"]["status"] == "FAILED"
    listed = batch_notice["message"]["exports"]
    assert [e["index"] for e in listed] == [0, 1, 2]
    assert [e["status"] for e in listed] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    ids = [exports[0]["export_id"], None, exports[2]["export_id"]]
    assert [e.get("export_id") for e in listed] == ids
    assert listed[1]["cause"] == failed["cause"]
    assert (out / "lambda-logs.jsonl").stat().st_size > 0


def test_an_invalid_batch_lists_every_problem_with_its_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch_file = tmp_path / "batch.json"
    broken = {"exports": [REQUEST, {**REQUEST, "status": []}, {**REQUEST, "name": ""}]}
    batch_file.write_text(json.dumps(broken))
    assert main(["run", str(batch_file), "--ongage-url", "http://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "is not a valid batch" in err
    assert "exports[1]: 'status' must be a non-empty array" in err
    assert "exports[2]: 'name' must not be empty" in err
    assert "exports[0]" not in err


def test_validate_lists_every_problem_of_a_batch_with_its_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    batch_file = tmp_path / "batch.json"
    batch_file.write_text(json.dumps({"exports": [REQUEST, {**REQUEST, "status": []}, "x"]}))
    assert main(["validate", str(batch_file)]) == 2
    err = capsys.readouterr().err
    assert "exports[1]: 'status' must be a non-empty array" in err
    assert "exports[2]: the request must be a JSON object" in err
    batch_file.write_text(json.dumps(BATCH))
    assert main(["validate", str(batch_file)]) == 0
    assert "valid batch of 3 exports" in capsys.readouterr().out
