"""Every bad input to every `ongage-export` command: exit 2, one message, no traceback, no secret.

Nothing here reaches AWS or Ongage: each input is refused before either would be called.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from laptop.run_reports import continue_command
from ongage_cli.main import main
from tests.conftest import REQUEST

SECRET = "pw-Never-Printed-7781"
Make = Callable[[Path], list[str]]


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ONGAGE_USERNAME", "cli-user")
    monkeypatch.setenv("ONGAGE_PASSWORD", SECRET)
    monkeypatch.setenv("ONGAGE_ACCOUNT_CODE", "ACCTCODE99")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("ONGAGE_BASE_URL", raising=False)


def write(tmp: Path, content: bytes | str | object, name: str = "request.json") -> Path:
    path = tmp / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_text(json.dumps(content), encoding="utf-8")
    return path


def good(tmp: Path) -> str:
    return str(write(tmp, REQUEST, "good.json"))


# Each kind of bad request file, as the file's path.
FILES: dict[str, Callable[[Path], Path]] = {
    "missing file": lambda tmp: tmp / "nope.json",
    "a directory": lambda tmp: tmp,
    "unreadable file": lambda tmp: Path("/proc/self/mem"),  # open works, read fails (EIO)
    "not UTF-8": lambda tmp: write(tmp, b'{"name": "\xff\xfe\x00binary"}'),
    "binary bytes": lambda tmp: write(tmp, bytes(range(256)) * 4),
    "not JSON": lambda tmp: write(tmp, "{name: x"),
    "NaN in JSON": lambda tmp: write(tmp, '{"list_id": NaN}'),
    "JSON that is not an object": lambda tmp: write(tmp, [REQUEST]),
    "JSON null": lambda tmp: write(tmp, "null"),
    "nested too deeply": lambda tmp: write(tmp, "[" * 100_000 + "]" * 100_000),
    "huge file": lambda tmp: write(tmp, {**REQUEST, "name": "x" * 300_000}),
    "wrong types": lambda tmp: write(tmp, {**REQUEST, "list_id": "1111", "segment_id": "7"}),
    "contradictory fields": lambda tmp: write(tmp, {**REQUEST, "mailing_id": [4452]}),
    "bounced for a suppression list": lambda tmp: write(
        tmp, {**{k: v for k, v in REQUEST.items() if k != "segment_id"}, "status": ["bounced"]}
    ),
    "neither ids nor list": lambda tmp: write(
        tmp, {k: v for k, v in REQUEST.items() if k not in ("segment_id", "list_id")}
    ),
}
FILE_COMMANDS: dict[str, Callable[[str], list[str]]] = {
    "validate": lambda path: ["validate", path],
    "run": lambda path: ["run", path, "--ongage-url", "http://127.0.0.1:9"],
    "start": lambda path: ["start", path, "--stack", "NoSuchStack"],
}
OPTIONS: dict[str, Make] = {
    "run: negative deadline": lambda tmp: [*FILE_COMMANDS["run"](good(tmp)), "--deadline", "-5"],
    "run: deadline not a number": lambda tmp: [
        *FILE_COMMANDS["run"](good(tmp)), "--deadline", "soon"],
    "run: poll-max below poll-initial": lambda tmp: [
        *FILE_COMMANDS["run"](good(tmp)), "--poll-initial", "30", "--poll-max", "5"],
    "run: non-http URL": lambda tmp: ["run", good(tmp), "--ongage-url", "ftp://127.0.0.1/"],
    "run: URL without a host": lambda tmp: ["run", good(tmp), "--ongage-url", "http://"],
    "run: URL with a bad port": lambda tmp: ["run", good(tmp), "--ongage-url", "http://h:x1/"],
    "run: URL carrying a password": lambda tmp: [
        "run", good(tmp), "--ongage-url", f"https://cli-user:{SECRET}@api.ongage.net"],
    "run: --out is a file": lambda tmp: [
        *FILE_COMMANDS["run"](good(tmp)), "--out", str(write(tmp, "x", "file"))],
    "run: missing --ongage-url": lambda tmp: ["run", good(tmp)],
    "run: plain http trusted origin": lambda tmp: [
        *FILE_COMMANDS["run"](good(tmp)), "--ongage-trusted-origin", "http://connect.ongage.net"],
    "run: trusted origin with a path": lambda tmp: [
        *FILE_COMMANDS["run"](good(tmp)), "--ongage-trusted-origin", "https://h.example/api"],
    "run: --export-id with a slash": lambda tmp: [
        *FILE_COMMANDS["run"](good(tmp)), "--export-id", "70/01"],
    "redrive: zero deadline": lambda tmp: ["redrive", "some-id", "--deadline", "0"],
    "status: neither a run id nor an export id": lambda tmp: ["status", "a b"],
    "demo: negative size": lambda tmp: ["demo", "--export-bytes", "-1"],
    "start: negative deadline": lambda tmp: ["start", good(tmp), "--deadline", "-1"],
    "start: bad idempotency key": lambda tmp: [
        "start", good(tmp), "--idempotency-key", "a b/c", "--stack", "NoSuchStack"],
    "start: zero interval": lambda tmp: ["start", good(tmp), "--wait", "--interval", "0"],
    "wait: negative timeout": lambda tmp: ["wait", "some-id", "--timeout", "-3"],
    "status: zero link lifetime": lambda tmp: ["status", "some-id", "--link-seconds", "0"],
    "status: not an export id": lambda tmp: ["status", "../../etc/passwd"],
    "redrive: not an export id": lambda tmp: ["redrive", "id with spaces"],
    "simulator: port out of range": lambda tmp: ["simulator", "--port", "70000"],
    "simulator: unknown fault": lambda tmp: ["simulator", "--fault", "nonsense"],
    "simulator: negative size": lambda tmp: ["simulator", "--export-bytes", "-4"],
    "unknown command": lambda tmp: ["frobnicate"],
}  # fmt: skip


def invoke(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's way out
        status = exit_.code if isinstance(exit_.code, int) else 2
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_clear_message(status: int, out: str, err: str) -> None:
    assert status == 2, (out, err)
    assert "Traceback" not in out + err and 'File "' not in err
    assert SECRET not in out + err and "ACCTCODE99" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no message at all"
    assert len(lines) == 1 or lines[0].endswith("problem(s):") or "not a valid" in lines[0], err


@pytest.mark.parametrize("command", FILE_COMMANDS)
@pytest.mark.parametrize("kind", FILES)
def test_a_bad_request_file(
    kind: str, command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = FILES[kind](tmp_path)
    status, out, err = invoke(FILE_COMMANDS[command](str(path)), capsys)
    assert_one_clear_message(status, out, err)
    assert str(path) in err  # names the file


@pytest.mark.parametrize("kind", OPTIONS)
def test_a_bad_option_or_argument(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = invoke(OPTIONS[kind](tmp_path), capsys)
    assert_one_clear_message(status, out, err)


@pytest.mark.parametrize("missing", ["ONGAGE_USERNAME", "ONGAGE_PASSWORD", "ONGAGE_ACCOUNT_CODE"])
def test_a_missing_environment_variable(
    missing: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv(missing)
    status, out, err = invoke(FILE_COMMANDS["run"](good(tmp_path)), capsys)
    assert_one_clear_message(status, out, err)
    assert f"set {missing}" in err


def test_a_missing_aws_region_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    status, out, err = invoke(["status", "some-id"], capsys)
    assert_one_clear_message(status, out, err)
    assert "--region" in err


@pytest.mark.parametrize(
    ("kind", "words"),
    [
        ("not UTF-8", "is not UTF-8 text (byte 0xff at offset 10)"),
        ("not JSON", "is not valid JSON (Expecting property name enclosed in double quotes"),
        ("JSON that is not an object", "holds an array, not a JSON object"),
        ("huge file", "is larger than 256 KiB"),
        ("a directory", "is a directory"),
        ("missing file", "does not exist"),
        ("unreadable file", "cannot be read"),
    ],
)
def test_the_message_says_what_is_wrong(
    kind: str, words: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, err = invoke(["validate", str(FILES[kind](tmp_path))], capsys)
    assert words in err


def test_the_installed_command_on_binary_bytes(tmp_path: Path) -> None:
    """The case the issue names, through the real entry point: no traceback."""
    binary = write(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\xff")
    command = [sys.executable, "-m", "ongage_cli.main", "validate", str(binary)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, env=os.environ)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"error: {binary} is not UTF-8 text (byte 0x89 at offset 0): save the request as "
        "UTF-8 JSON (see examples/segment-export.json)"
    ]


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def no_deployment(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the run went on to deploy")

    monkeypatch.setattr("laptop.local_run.LocalRun.run", refuse)


def test_run_refuses_an_ongage_url_that_does_not_answer_before_deploying(
    tmp_path: Path, no_deployment: None, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    status, out, err = invoke(["run", good(tmp_path), "--ongage-url", url], capsys)
    assert_one_clear_message(status, out, err)
    assert err.startswith("error: --ongage-url: nothing answers at that URL (Connection refused)")
    assert url not in err  # a URL is never echoed


def test_run_reads_ongage_base_url_when_no_option_is_given(
    tmp_path: Path,
    no_deployment: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ONGAGE_BASE_URL", f"http://127.0.0.1:{closed_port()}")
    status, out, err = invoke(["run", good(tmp_path)], capsys)
    assert_one_clear_message(status, out, err)
    assert err.startswith("error: ONGAGE_BASE_URL: nothing answers")

    monkeypatch.setenv("ONGAGE_BASE_URL", "ftp://127.0.0.1/")
    status, out, err = invoke(["run", good(tmp_path)], capsys)
    assert_one_clear_message(status, out, err)
    assert err.startswith("error: ONGAGE_BASE_URL must be an http:// or https:// URL")


def test_without_any_url_run_names_both_ways_to_give_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = invoke(["run", good(tmp_path)], capsys)
    assert_one_clear_message(status, out, err)
    assert "pass --ongage-url URL or set ONGAGE_BASE_URL" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["run", "r.json", "--json"], "ongage-export run r.json --json --export-id 7000003"),
        (["run", "r.json", "--export-id", "1", "--out", "my dir"],
         "ongage-export run r.json --out 'my dir' --export-id 7000003"),
        (["run", "r.json", "--export-id=1", "--deadline=60"],
         "ongage-export run r.json --export-id 7000003 --deadline 120"),
        (["run", "r.json", "--deadline", "60", "--json"],
         "ongage-export run r.json --json --export-id 7000003 --deadline 120"),
    ],
)  # fmt: skip
def test_the_continue_command_is_the_command_given_with_the_export_id(
    argv: list[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["/somewhere/python", "-m", "ongage_cli.main"])
    deadline = 120 if any(a.startswith("--deadline") for a in argv) else None
    assert continue_command(argv, "7000003", deadline) == expected
