"""What the `ongage-export` commands accept from a user, checked before anything runs.

Each bad input becomes an `InputError` (or an argparse error, for option values) whose one
message names the problem and the fix; the commands print it and exit with status 2, never a
traceback. Messages quote file names and option names, never a value that could be a secret:
no file contents beyond a byte offset, no URL (it may carry user:password@ or a signed query).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit

from ongage_export.adapters.origins import trusted_origin
from ongage_export.domain.export_id import export_id_problem

EXIT_USAGE = 2
# How long `run` waits for Ongage's URL to answer before it deploys anything.
# A refused connection is tried again for a while: a simulator started a moment before
# (`ongage-export simulator &`) needs about a second to listen.
ANSWER_TIMEOUT_SECONDS = 5.0
REFUSED_FOR_SECONDS, ANSWER_RETRY_SECONDS = 2.0, 0.25
# Step Functions takes 256 KiB of execution input; a request is a small fraction of that.
MAX_REQUEST_BYTES = 256 * 1024
SEE_EXAMPLES = "see examples/segment-export.json"


class InputError(Exception):
    """A user's mistake on the command line: printed as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (what is wrong, where to look), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def load_request_file(path: Path) -> dict[str, Any]:
    """The JSON object in `path`, or InputError saying why it cannot be one."""
    data = _read_bounded(path)
    try:
        text = data.decode("utf-8-sig")  # a BOM, as some editors write, is fine
    except UnicodeDecodeError as error:
        raise InputError(
            f"{path} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}): save the request as UTF-8 JSON ({SEE_EXAMPLES})"
        ) from None
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{path} is not valid JSON ({error.msg} at line {error.lineno} column "
            f"{error.colno}): fix the syntax, e.g. check it with `python -m json.tool {path}`"
        ) from None
    except (ValueError, RecursionError) as error:
        raise InputError(f"{path} is not a JSON request ({error}): {SEE_EXAMPLES}") from None
    if not isinstance(document, dict):
        raise InputError(
            f"{path} holds {_kind(document)}, not a JSON object: a request is one object "
            f"of Ongage's create-export fields ({SEE_EXAMPLES})"
        )
    return document


def _read_bounded(path: Path) -> bytes:
    if path.is_dir():
        raise InputError(f"{path} is a directory: give the path of a JSON request file")
    try:
        with path.open("rb") as file:
            data = file.read(MAX_REQUEST_BYTES + 1)
    except FileNotFoundError:
        raise InputError(
            f"{path} does not exist: give the path of a JSON request file ({SEE_EXAMPLES})"
        ) from None
    except PermissionError:
        raise InputError(f"{path} cannot be read (permission denied): check its mode") from None
    except OSError as error:
        raise InputError(
            f"{path} cannot be read ({error.strerror or error}): give a regular JSON file"
        ) from None
    if len(data) > MAX_REQUEST_BYTES:
        raise InputError(
            f"{path} is larger than {MAX_REQUEST_BYTES // 1024} KiB: an export request is a "
            f"small JSON object ({SEE_EXAMPLES}); is it the right file?"
        )
    return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _kind(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def writable_dir(path: Path) -> Path:
    """`path` as a directory this user can write to (made if missing), or InputError."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise InputError(f"--out {path} is a file: give a directory to write into") from None
    except OSError as error:
        raise InputError(
            f"--out {path} cannot be made ({error.strerror}): choose another"
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise InputError(f"--out {path} is not writable: choose a directory you can write to")
    return path


# --- argparse types ------------------------------------------------------------------------------


def _number(text: str, parse: Callable[[str], Any], ok: Callable[[Any], bool], wanted: str) -> Any:
    """`text` parsed, if it is a number that passes `ok`; else argparse's one-line error."""
    try:
        value = parse(text)
    except ValueError:
        value = None
    if value is None or not ok(value):
        raise argparse.ArgumentTypeError(f"must be {wanted}, not {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number of seconds (or bytes...) above zero."""
    return int(_number(text, int, lambda v: v >= 1, "a whole number above 0"))


def non_negative_int(text: str) -> int:
    return int(_number(text, int, lambda v: v >= 0, "a whole number, 0 or more"))


def positive_seconds(text: str) -> float:
    return float(
        _number(text, float, lambda v: 0 < v < float("inf"), "a number of seconds above 0")
    )


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port, 0..65535 (0: any), not {text!r}")
    return value


def http_url(text: str) -> str:
    """An http(s) URL with a host and no credentials in it; the value is never echoed."""
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        bad_port = False
    except ValueError:
        parts, bad_port = urlsplit(""), True
    if parts.username is not None or parts.password is not None:
        raise argparse.ArgumentTypeError(
            "must not carry credentials (user:password@): set ONGAGE_USERNAME, "
            "ONGAGE_PASSWORD and ONGAGE_ACCOUNT_CODE instead"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname or bad_port:
        raise argparse.ArgumentTypeError(
            "must be an http:// or https:// URL with a host, e.g. https://api.ongage.net "
            "or the simulator's http://127.0.0.1:8765"
        )
    return text


def trusted_origin_arg(text: str) -> str:
    """An origin that may receive the credentials on a redirect (ongage_session's rule)."""
    try:
        return trusted_origin(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def export_id_arg(text: str) -> str:
    """An Ongage export id, as Ongage gave it: one URL path segment."""
    problem = export_id_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(f"{problem}: give the id Ongage gave the export")
    return text


def ongage_url_from_env(env: Mapping[str, str]) -> str | None:
    """ONGAGE_BASE_URL checked as --ongage-url is, or None when it is not set."""
    text = env.get("ONGAGE_BASE_URL")
    if not text:
        return None
    try:
        return http_url(text)
    except argparse.ArgumentTypeError as error:
        raise InputError(f"ONGAGE_BASE_URL {error}") from None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is an answer: it is not followed


def require_answer(url: str, option: str, timeout: float = ANSWER_TIMEOUT_SECONDS) -> None:
    """InputError naming `option` unless an HTTP server answers at `url` (any status counts)
    within `timeout` seconds; a refused connection is tried again for REFUSED_FOR_SECONDS.

    Without this a wrong URL is found by the workflow, after its retries: minutes later.
    """
    opener = urllib.request.build_opener(_NoRedirects)
    deadline = time.monotonic() + timeout
    refused_until = time.monotonic() + min(REFUSED_FOR_SECONDS, timeout)
    while True:
        left = max(deadline - time.monotonic(), 0.1)
        try:
            with opener.open(urllib.request.Request(url, method="GET"), timeout=left):
                return
        except urllib.error.HTTPError:
            return  # 401, 404, a redirect...: something that speaks HTTP is there
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            if isinstance(reason, ConnectionRefusedError) and time.monotonic() < refused_until:
                time.sleep(ANSWER_RETRY_SECONDS)
                continue
            why = getattr(reason, "strerror", None) or str(reason) or type(reason).__name__
            raise InputError(
                f"{option}: nothing answers at that URL ({why}): check it, or start the "
                "simulator (`ongage-export simulator` prints ONGAGE_BASE_URL)"
            ) from None


def fail(message: str) -> int:
    """Print one line for a user's mistake; the exit status to return."""
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE
