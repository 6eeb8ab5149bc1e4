"""`ongage-export validate` and `run`, as a user calls them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ongage_cli.main import main
from ongage_simulator import OngageSimulator
from tests.conftest import CREDENTIALS, REQUEST

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def request_file(tmp_path: Path) -> Path:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(REQUEST))
    return path


@pytest.fixture
def ongage_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONGAGE_USERNAME", CREDENTIALS.username)
    monkeypatch.setenv("ONGAGE_PASSWORD", CREDENTIALS.password)
    monkeypatch.setenv("ONGAGE_ACCOUNT_CODE", CREDENTIALS.account_code)


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_examples_validate_as_their_names_say(
    example: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["validate", str(EXAMPLES / example)])
    expected = 2 if example.startswith("invalid") else 0
    assert status == expected, capsys.readouterr().err


def test_validate_lists_every_problem(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXAMPLES / "invalid-request.json")]) == 2
    err = capsys.readouterr().err
    assert "4 problem(s)" in err
    for words in (
        "'name' must not be empty",
        "'date_format' is 'yyyy-mm-dd'",
        "'file_format' is 'xlsx'",
        "only available for segment exports",
    ):
        assert words in err


def test_validate_a_file_that_is_not_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("{name: x")
    assert main(["validate", str(broken)]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_run_json_lands_and_writes_out(
    simulator: OngageSimulator,
    request_file: Path,
    tmp_path: Path,
    ongage_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    status = main(
        [
            "run",
            str(request_file),
            "--ongage-url",
            simulator.url,
            "--out",
            str(out),
            "--json",
            "--poll-initial",
            "1",
            "--poll-max",
            "1",
        ]
    )
    stdout = capsys.readouterr().out
    summary = json.loads(stdout)  # exactly one JSON object, nothing else
    assert status == 0 and summary["status"] == "SUCCEEDED"
    export_id = summary["export_id"]
    assert summary["sha256"] == simulator.expected_body(export_id).sha256()
    assert summary["bytes"] == simulator.expected_body(export_id).size
    assert summary["bucket"] and summary["key"].endswith(f"-{export_id}.zip")
    landed = Path(summary["local_path"])
    assert landed.parent == out and zipfile.ZipFile(landed).testzip() is None
    notices = json.loads((out / "notifications.json").read_text())
    assert [n["message"]["status"] for n in notices] == ["SUCCEEDED"]


def test_run_reports_failure_with_error_and_cause(
    simulator: OngageSimulator,
    request_file: Path,
    ongage_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ONGAGE_PASSWORD", "wrong")
    status = main(["run", str(request_file), "--ongage-url", simulator.url, "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert status == 1
    assert summary["status"] == "FAILED" and summary["error"] == "OngageAuthError"
    assert "credentials" in summary["cause"] and "wrong" not in summary["cause"]


def test_run_refuses_an_invalid_request_and_missing_credentials(
    request_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**REQUEST, "status": []}))
    assert main(["run", str(bad), "--ongage-url", "http://127.0.0.1:1", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["error"] == "InvalidExportRequest"

    for name in ("ONGAGE_USERNAME", "ONGAGE_PASSWORD", "ONGAGE_ACCOUNT_CODE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["run", str(request_file), "--ongage-url", "http://127.0.0.1:1"]) == 2
    assert "set ONGAGE_USERNAME, ONGAGE_PASSWORD, ONGAGE_ACCOUNT_CODE" in capsys.readouterr().err


def test_console_script_prints_one_json_object(
    simulator: OngageSimulator, request_file: Path
) -> None:
    env = {
        **os.environ,
        "ONGAGE_USERNAME": CREDENTIALS.username,
        "ONGAGE_PASSWORD": CREDENTIALS.password,
        "ONGAGE_ACCOUNT_CODE": CREDENTIALS.account_code,
    }
    command = [
        sys.executable,
        "-m",
        "ongage_cli.main",
        "run",
        str(request_file),
        "--ongage-url",
        simulator.url,
        "--json",
        "--poll-initial",
        "1",
        "--poll-max",
        "1",
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout)["status"] == "SUCCEEDED"
    assert len(done.stdout.strip().splitlines()) == 1
