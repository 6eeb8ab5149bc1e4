"""`ongage-export validate` and `run`, as a user calls them."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
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


# accounts.json is `run --accounts`'s file, not a request (tests/unit/test_accounts_file.py).
@pytest.mark.parametrize(
    "example", sorted(p.name for p in EXAMPLES.glob("*.json") if p.name != "accounts.json")
)
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
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)  # the default output folder is made here
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


def simulator_env(simulator: OngageSimulator) -> dict[str, str]:
    """What `ongage-export simulator` tells a user to export."""
    return {**os.environ, **CREDENTIALS.env(), "ONGAGE_BASE_URL": simulator.url}


def test_console_script_prints_one_json_object_and_keeps_the_zip_by_default(
    simulator: OngageSimulator, request_file: Path, tmp_path: Path
) -> None:
    """No --ongage-url (ONGAGE_BASE_URL, as the simulator prints it) and no --out."""
    command = [
        sys.executable, "-m", "ongage_cli.main", "run", str(request_file),
        "--json", "--poll-initial", "1", "--poll-max", "1",
    ]  # fmt: skip
    done = subprocess.run(
        command, env=simulator_env(simulator), cwd=tmp_path, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.strip().splitlines()) == 1
    summary = json.loads(done.stdout)
    assert summary["status"] == "SUCCEEDED"
    kept = tmp_path / summary["local_path"]
    assert kept.parent == tmp_path / "ongage-exports"
    assert kept.stat().st_size == summary["bytes"]
    assert sorted(p.name for p in kept.parent.iterdir()) == sorted(
        [kept.name, "notifications.json", "lambda-logs.jsonl"]
    )


def test_run_with_an_export_id_lands_it_without_creating_another(
    simulator: OngageSimulator,
    request_file: Path,
    ongage_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    created = simulator.create_export(REQUEST, 1111)  # an earlier run's export
    argv = ["run", str(request_file), "--ongage-url", simulator.url, "--out", str(tmp_path),
            "--json", "--poll-initial", "1", "--poll-max", "1",
            "--export-id", created.id]  # fmt: skip

    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["export_id"] == created.id
    assert summary["sha256"] == simulator.expected_body(created.id).sha256()
    assert simulator.stats.creates == 1  # only the earlier run's


def test_a_run_that_gives_up_says_how_to_carry_on_and_that_works(
    simulator: OngageSimulator,
    request_file: Path,
    ongage_env: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(simulator.config, "ready_after_retrieves", 10_000)
    argv = ["run", str(request_file), "--ongage-url", simulator.url, "--out", str(tmp_path),
            "--poll-initial", "1", "--poll-max", "1", "--deadline", "2"]  # fmt: skip
    assert main(argv) == 1
    (export_id,) = simulator.exports
    advice = capsys.readouterr().err.strip().splitlines()[-1]
    prefix = f"  to carry on with Ongage export {export_id}: "
    assert advice.startswith(prefix) and advice.endswith(f"--export-id {export_id} --deadline 4")

    simulator.config.ready_after_retrieves = 0
    carry_on = shlex.split(advice.removeprefix(prefix))
    assert main(carry_on[1:]) == 0  # the command as printed, after the program's name
    assert simulator.stats.creates == 1
    assert f"Export {export_id} landed" in capsys.readouterr().out


def test_ctrl_c_names_the_export_and_the_command_that_lands_it(
    simulator: OngageSimulator, request_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(simulator.config, "ready_after_retrieves", 10_000)
    out = tmp_path / "landed"
    program = str(Path(sys.executable).with_name("ongage-export"))
    command = [program, "run", str(request_file), "--out", str(out),
               "--poll-initial", "1", "--poll-max", "1"]  # fmt: skip
    running = subprocess.Popen(
        command, env=simulator_env(simulator), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        while not any(export.retrieves for export in list(simulator.exports.values())):
            assert running.poll() is None, running.communicate()
            time.sleep(0.1)  # until the run has created its export and polls it
        running.send_signal(signal.SIGINT)
        stdout, stderr = running.communicate(timeout=120)
    finally:
        running.kill()

    (export_id,) = simulator.exports
    assert running.returncode == 130
    assert "Traceback" not in stderr and stdout == ""
    assert stderr.strip().splitlines() == [
        f"interrupted: Ongage export {export_id} was already created; to poll and land it "
        f"without creating another, run: {shlex.join(command)} --export-id {export_id}"
    ]
    assert not out.exists()  # made by the run, removed with everything half-written

    simulator.config.ready_after_retrieves = 0
    again = subprocess.run(
        [*command, "--export-id", export_id, "--json"], env=simulator_env(simulator),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout)["export_id"] == export_id
    assert simulator.stats.creates == 1
