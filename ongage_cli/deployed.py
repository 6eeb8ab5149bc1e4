"""`ongage-export start | status | wait | redrive`: run exports on a deployed stack (boto3).

The stack's CloudFormation outputs name what to call (StateMachineArn, ApiUrl, BucketName), so
only the stack name is needed (--stack, or ONGAGE_EXPORT_STACK, default OngageExport).
An export's id is its execution name: the idempotency key it was started with. Starting twice
with the same key and request starts one run; `start` prints the id that `status`/`wait` take.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ongage_cli.deployment import DEFAULT_STACK, STACK_ENV, DeployedError, Deployment
from ongage_cli.following import describe, format_report, wait_for
from ongage_cli.inputs import InputError, load_request_file, positive_int, positive_seconds
from ongage_export.contract import EXECUTION_NAME
from ongage_export.polling import PollingPolicy
from ongage_export.request import validate_request
from ongage_export.resume import resume_input

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STILL_RUNNING = 0, 1, 2, 3


# --- commands ----------------------------------------------------------------------------------


def add_deployed_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register start, status and wait (each with `func=`) on the `ongage-export` parser."""
    start = subparsers.add_parser("start", help="start an export on the deployed stack")
    start.add_argument("request", type=Path, help="the Ongage create-export body (JSON)")
    start.add_argument("--idempotency-key", help="names the run; the same key never starts two")
    start.add_argument("--poll-initial", type=positive_int, help="first wait, seconds")
    start.add_argument("--poll-max", type=positive_int, help="longest wait between retrieves")
    start.add_argument("--deadline", type=positive_int, help="give up after this many seconds")
    start.add_argument("--via-api", action="store_true", help="POST /exports (SigV4) instead")
    start.add_argument("--wait", action="store_true", help="then wait for it, showing progress")
    start.add_argument(
        "--timeout", type=positive_seconds, help="with --wait: stop waiting after seconds"
    )
    start.set_defaults(func=start_command)

    status = subparsers.add_parser("status", help="an export's status and download link")
    status.add_argument("id", help="the export id printed by start (or its execution ARN)")
    status.add_argument(
        "--link-seconds", type=positive_int, default=900, help="download link lifetime"
    )
    status.set_defaults(func=status_command)

    wait = subparsers.add_parser(
        "wait", help="wait for an export, showing progress (exit 0 landed, 1 failed, 3 timeout)"
    )
    wait.add_argument("id", help="the export id printed by start (or its execution ARN)")
    wait.add_argument("--timeout", type=positive_seconds, help="stop waiting after seconds")
    wait.set_defaults(func=wait_command)

    redrive = subparsers.add_parser(
        "redrive", help="resume a failed run with the same Ongage export (no new export)"
    )
    redrive.add_argument("id", help="the failed run's export id (or its execution ARN)")
    redrive.add_argument("--wait", action="store_true", help="then wait for it, showing progress")
    redrive.add_argument(
        "--timeout", type=positive_seconds, help="with --wait: stop waiting after seconds"
    )
    redrive.set_defaults(func=redrive_command)

    for waiting in (start, wait, redrive):
        waiting.add_argument(
            "--interval", type=positive_seconds, default=10.0, help="seconds between checks"
        )

    for command in (start, status, wait, redrive):
        command.add_argument(
            "--stack",
            default=os.environ.get(STACK_ENV, DEFAULT_STACK),
            help=f"the deployed stack's name (default: ${STACK_ENV} or {DEFAULT_STACK})",
        )
        command.add_argument("--region", help="AWS region (default: your AWS configuration)")
        command.add_argument("--json", action="store_true", help="print one JSON object")


def start_command(args: argparse.Namespace) -> int:
    return _guarded(args, _start)


def status_command(args: argparse.Namespace) -> int:
    return _guarded(args, _status)


def redrive_command(args: argparse.Namespace) -> int:
    return _guarded(args, _redrive)


def wait_command(args: argparse.Namespace) -> int:
    return _guarded(args, _wait)


def _guarded(args: argparse.Namespace, command: Callable[[argparse.Namespace], int]) -> int:
    try:
        _check_id(getattr(args, "id", None))
        return command(args)
    except (DeployedError, InputError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except NoRegionError:
        print("error: no AWS region: pass --region or set AWS_REGION", file=sys.stderr)
        return EXIT_USAGE
    except NoCredentialsError:
        print("error: no AWS credentials found (aws configure, AWS_PROFILE...)", file=sys.stderr)
        return EXIT_USAGE
    except (ClientError, BotoCoreError) as error:
        print(f"error: AWS said: {error}", file=sys.stderr)
        return EXIT_FAILED


def _start(args: argparse.Namespace) -> int:
    request = _load_request(args.request)
    key = args.idempotency_key or default_key(request["name"])
    if not EXECUTION_NAME.match(key):
        raise DeployedError("--idempotency-key: letters, digits, '-' and '_' only, 80 at most")
    run_input: dict[str, Any] = {"request": request}
    polling = _polling(args)
    if polling:
        run_input["polling"] = polling
    deployment = Deployment.find(args.stack, args.region)
    started = (start_via_api if args.via_api else start_execution)(deployment, key, run_input)
    return _started(args, deployment, started)


def _redrive(args: argparse.Namespace) -> int:
    deployment = Deployment.find(args.stack, args.region)
    failed_arn = deployment.execution_arn(args.id)
    try:
        run_input = resume_input(deployment.stepfunctions(), failed_arn)
    except ValueError as error:
        raise DeployedError(str(error)) from None
    key = f"{failed_arn.rsplit(':', 1)[-1][:60]}-redrive-{secrets.token_hex(3)}"
    return _started(args, deployment, start_execution(deployment, key, run_input))


def _started(args: argparse.Namespace, deployment: Deployment, started: dict[str, Any]) -> int:
    """Say what started; with --wait, follow it (stdout is kept for the final report)."""
    _print_started(started, as_json=args.json, out=sys.stderr if args.wait else sys.stdout)
    if not args.wait:
        return EXIT_OK
    args.id = started["execution_id"]
    return _wait(args, deployment)


def _status(args: argparse.Namespace) -> int:
    deployment = Deployment.find(args.stack, args.region)
    report = describe(deployment, args.id, args.link_seconds)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print(format_report(report))
    return EXIT_OK if report["status"] in ("SUCCEEDED", "RUNNING") else EXIT_FAILED


def _wait(args: argparse.Namespace, deployment: Deployment | None = None) -> int:
    deployment = deployment or Deployment.find(args.stack, args.region)
    report = wait_for(deployment, args.id, timeout=args.timeout, interval=args.interval)
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print(format_report(report))
    if report["status"] == "SUCCEEDED":
        return EXIT_OK
    return EXIT_STILL_RUNNING if report["status"] == "RUNNING" else EXIT_FAILED


# --- starting ----------------------------------------------------------------------------------


def default_key(name: str) -> str:
    """A readable, unique id: the export name, the UTC time and a little randomness."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "export"
    return f"{slug}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def start_execution(
    deployment: Deployment, key: str, run_input: Mapping[str, Any]
) -> dict[str, Any]:
    """StartExecution with the key as name: a repeat of a running start returns the same run."""
    try:
        started = deployment.stepfunctions().start_execution(
            stateMachineArn=deployment.state_machine_arn, name=key, input=json.dumps(run_input)
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
            raise DeployedError(
                f"export id {key!r} was already used (finished, or with another request); "
                f"see `ongage-export status {key}` or choose another --idempotency-key"
            ) from None
        raise
    return {
        "execution_id": key,
        "execution_arn": started["executionArn"],
        "started_at": started["startDate"],
        "via": "stepfunctions",
    }


def start_via_api(deployment: Deployment, key: str, run_input: Mapping[str, Any]) -> dict[str, Any]:
    """POST /exports, signed with your AWS credentials (the API uses IAM authorization)."""
    if not deployment.api_url:
        raise DeployedError("the stack has no ApiUrl output")
    body = {"idempotency_key": key, **run_input}
    status, answer = signed_request(deployment.session, "POST", _api(deployment, "exports"), body)
    if status != 202:
        message = answer.get("message", answer) if isinstance(answer, dict) else answer
        raise DeployedError(f"POST /exports answered {status}: {message}")
    return {**answer, "via": "api"}


def signed_request(
    session: boto3.Session, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    """An HTTPS request to API Gateway signed with SigV4 (service execute-api)."""
    credentials = session.get_credentials()
    if credentials is None:
        raise DeployedError("no AWS credentials found (aws configure, or AWS_PROFILE)")
    data = json.dumps(body).encode() if body is not None else None
    request = AWSRequest(
        method=method, url=url, data=data, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", _region(session)).add_auth(
        request
    )
    prepared = urllib.request.Request(url, data=data, method=method, headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())


# --- helpers -----------------------------------------------------------------------------------


def _check_id(execution_id: str | None) -> None:
    """An export id's form, checked before the stack is looked up (no AWS call for a typo)."""
    if execution_id is None or execution_id.startswith("arn:"):
        return
    if not EXECUTION_NAME.match(execution_id):
        raise DeployedError(
            f"{execution_id[:100]!r} is not an export id: letters, digits, '-' and '_', 80 at "
            "most (the id `ongage-export start` printed), or its execution ARN"
        )


def _load_request(path: Path) -> dict[str, Any]:
    request = load_request_file(path)
    problems = validate_request(request)
    if problems:
        raise DeployedError(f"{path} is not a valid export request: " + "; ".join(problems))
    return dict(request)


def _polling(args: argparse.Namespace) -> dict[str, int]:
    chosen = {
        "initial_seconds": args.poll_initial,
        "max_seconds": args.poll_max,
        "deadline_seconds": args.deadline,
    }
    polling = {key: value for key, value in chosen.items() if value is not None}
    if polling.get("initial_seconds", 0) > PollingPolicy().max_seconds and args.poll_max is None:
        polling["max_seconds"] = polling["initial_seconds"]  # the cap may not be below the start
    try:
        PollingPolicy.from_mapping(polling)
    except ValueError as error:
        raise DeployedError(f"--poll-initial/--poll-max/--deadline: {error}") from None
    return polling


def _print_started(started: Mapping[str, Any], *, as_json: bool, out: TextIO) -> None:
    if as_json and out is sys.stdout:
        print(json.dumps(started, default=str), file=out)
        return
    key = started["execution_id"]
    print(f"started export {key} ({started['via']})", file=out)
    print(f"  execution  {started['execution_arn']}", file=out)
    print(f"  follow it  ongage-export wait {key}  |  ongage-export status {key}", file=out)


def _api(deployment: Deployment, path: str) -> str:
    base = deployment.api_url or ""
    if not base.startswith("https://"):
        raise DeployedError(f"the stack's ApiUrl is not an https URL: {base!r}")
    return base.rstrip("/") + "/" + path


def _region(session: boto3.Session) -> str:
    if not session.region_name:
        raise DeployedError("no AWS region configured (--region, or AWS_REGION)")
    return session.region_name


def _json(raw: Any) -> Any:
    if raw in (None, b"", ""):
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw
