"""`ongage-export start | status | wait | redrive`: run exports on a deployed stack (boto3).

The stack's CloudFormation outputs name what to call (StateMachineArn, ApiUrl, BucketName), so
only the stack name is needed (--stack, or ONGAGE_EXPORT_STACK, default OngageExport).
Two ids, never confused: a run's *run id* is its execution name (the idempotency key it was
started with; `start` prints it); the *Ongage export id* (7000003) is the export the run created
at Ongage. `status`, `wait` and `redrive` take either, or the run's execution ARN.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ongage_cli.batches import batch_report, find_batch, format_batch_report, start_batch
from ongage_cli.deployment import (
    STACK_ENV,
    DeployedError,
    Deployment,
    default_stack,
)
from ongage_cli.following import describe, format_report, wait_for
from ongage_cli.inputs import InputError, load_request_file, positive_int, positive_seconds
from ongage_cli.polling_options import add_polling_options, polling_of, with_polling_of
from ongage_cli.resume import resume_input
from ongage_cli.run_lookup import FoundRun, find_run
from ongage_cli.starting import (
    default_key,
    follow_id,
    print_started,
    start_execution,
    start_via_api,
)
from ongage_export.contract import DEFAULT_STACK_NAME, DOWNLOAD_LINK_SECONDS, EXECUTION_NAME
from ongage_export.domain.batch import is_batch, validate_batch
from ongage_export.domain.export_id import export_id_problem
from ongage_export.domain.request import validate_request

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_STILL_RUNNING = 0, 1, 2, 3
RUN_ID_HELP = (
    "the run: its run id (as `start` printed it), its execution ARN, or the Ongage export id "
    "it created (e.g. 7000003; the newest run of that export is used)"
)


# --- commands ----------------------------------------------------------------------------------


def add_deployed_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register start, status, wait and redrive (each with `func=`) on the parser."""
    start = subparsers.add_parser(
        "start", help="start an export run on the deployed stack (prints its run id)"
    )
    start.add_argument(
        "request",
        type=Path,
        help='the Ongage create-export body, or a batch {"exports": [REQUEST, ...]} (JSON file)',
    )
    start.add_argument(
        "--idempotency-key",
        help="the run id to give the run (letters, digits, '-', '_'); the same key never "
        "starts two runs (default: the export name, the UTC time and a random suffix)",
    )
    add_polling_options(start, "the stack's")
    start.add_argument(
        "--via-api",
        action="store_true",
        help="start through the stack's API (POST /exports, SigV4-signed) instead of calling "
        "Step Functions (a deployed AWS stack only: the local AWS has no API Gateway endpoint)",
    )
    start.set_defaults(func=start_command)

    status = subparsers.add_parser(
        "status", help="a run's status, its Ongage export and, once landed, a download link"
    )
    status.add_argument("id", help=RUN_ID_HELP)
    status.add_argument(
        "--link-seconds",
        type=positive_int,
        metavar="SECONDS",
        default=DOWNLOAD_LINK_SECONDS,
        help=f"how long the download link stays valid, seconds (default {DOWNLOAD_LINK_SECONDS})",
    )
    status.set_defaults(func=status_command)

    wait = subparsers.add_parser(
        "wait", help="wait for a run to end, showing progress (exit 0 landed, 1 failed, 3 timeout)"
    )
    wait.add_argument("id", help=RUN_ID_HELP)
    wait.add_argument(
        "--timeout", type=positive_seconds, help="stop waiting after this many seconds (exit 3)"
    )
    wait.set_defaults(func=wait_command)

    redrive = subparsers.add_parser(
        "redrive",
        help="carry on with a failed run's Ongage export in a new run (no new export); "
        "--deadline etc. change its polling",
    )
    redrive.add_argument("id", help=RUN_ID_HELP.replace("the run:", "the failed run:"))
    add_polling_options(redrive, "the failed run's")
    redrive.set_defaults(func=redrive_command)

    for waiting in (start, redrive):
        waiting.add_argument(
            "--wait", action="store_true", help="then wait for the run to end, showing progress"
        )
        waiting.add_argument(
            "--timeout", type=positive_seconds, help="with --wait: stop waiting after seconds"
        )
    for waiting in (start, wait, redrive):
        waiting.add_argument(
            "--interval",
            type=positive_seconds,
            default=10.0,
            help="while waiting, seconds between checks (default 10)",
        )

    for command in (start, status, wait, redrive):
        command.add_argument(
            "--stack",
            help=f"the deployed stack's name (default: ${STACK_ENV}, else stack_name in "
            f"./cdk.json, else {DEFAULT_STACK_NAME}; an execution ARN names its own)",
        )
        command.add_argument("--region", help="AWS region (default: your AWS configuration)")
        command.add_argument("--json", action="store_true", help="print one JSON object on stdout")


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
    document, batch = _checked(args.request)
    key = args.idempotency_key or default_key("batch" if batch else document["name"])
    if not EXECUTION_NAME.match(key):
        raise DeployedError("--idempotency-key: letters, digits, '-' and '_' only, 80 at most")
    polling = polling_of(args)
    deployment = Deployment.find(args.stack or default_stack(), args.region)
    if batch:
        return _started(
            args, deployment, start_batch(deployment, key, document, polling, args.via_api)
        )
    run_input: dict[str, Any] = {"request": document, **({"polling": polling} if polling else {})}
    started = (start_via_api if args.via_api else start_execution)(deployment, key, run_input)
    return _started(args, deployment, started)


def _checked(path: Path) -> tuple[dict[str, Any], bool]:
    """The request or batch in the file, and whether it is a batch; refused with every problem."""
    document = load_request_file(path)
    batch = is_batch(document)
    problems = (validate_batch if batch else validate_request)(document)
    if problems:
        what = "batch" if batch else "export request"
        raise DeployedError(f"{path} is not a valid {what}: " + "; ".join(problems))
    return dict(document), batch


def _redrive(args: argparse.Namespace) -> int:
    deployment, failed = _find(args)
    try:
        run_input = resume_input(deployment.stepfunctions(), failed.arn)
    except ValueError as error:
        raise DeployedError(str(error)) from None
    run_input = with_polling_of(run_input, args)
    key = f"{failed.run_id[:60]}-redrive-{secrets.token_hex(3)}"
    started = start_execution(deployment, key, run_input)
    started["redrives"] = failed.run_id
    started["export_id"] = (run_input.get("resume") or {}).get("export_id")
    started["polling"] = run_input.get("polling") or {}
    return _started(args, deployment, started)


def _started(args: argparse.Namespace, deployment: Deployment, started: dict[str, Any]) -> int:
    """Say what started; with --wait, follow it (stdout is kept for the final report)."""
    out = sys.stderr if args.wait else sys.stdout
    print_started(started, follow_id(args, started), as_json=args.json, out=out)
    if not args.wait:
        return EXIT_OK
    report_of = batch_report if started.get("batch") else describe
    return _report_wait(args, deployment, started["execution_arn"], report_of)


def _find(args: argparse.Namespace) -> tuple[Deployment, FoundRun]:
    """The stack and the run `args.id` names; says which run an Ongage export id led to."""
    deployment = Deployment.for_id(args.id, args.stack, args.region)
    run = find_run(deployment, args.id)
    if run.export_id is not None:
        print(run.describe(), file=sys.stderr)
    return deployment, run


def _status(args: argparse.Namespace) -> int:
    deployment, arn, report_of = _find_any(args)
    report = (
        report_of(deployment, arn) if report_of else describe(deployment, arn, args.link_seconds)
    )
    _print_report(args, report)
    return EXIT_OK if report["status"] in ("SUCCEEDED", "RUNNING") else EXIT_FAILED


def _wait(args: argparse.Namespace) -> int:
    deployment, arn, report_of = _find_any(args)
    return _report_wait(args, deployment, arn, report_of or describe)


def _find_any(args: argparse.Namespace) -> tuple[Deployment, str, Callable[..., Any] | None]:
    """The run `args.id` names, and for a batch run the report that shows it."""
    deployment = Deployment.for_id(args.id, args.stack, args.region)
    batch = find_batch(deployment, args.id)
    if batch is not None:
        return deployment, batch, batch_report
    deployment, run = _find(args)
    return deployment, run.arn, None


def _report_wait(
    args: argparse.Namespace, deployment: Deployment, arn: str, report_of: Callable[..., Any]
) -> int:
    report = wait_for(
        deployment, arn, timeout=args.timeout, interval=args.interval, report_of=report_of
    )
    _print_report(args, report)
    if report["status"] == "SUCCEEDED":
        return EXIT_OK
    return EXIT_STILL_RUNNING if report["status"] == "RUNNING" else EXIT_FAILED


def _print_report(args: argparse.Namespace, report: Mapping[str, Any]) -> None:
    text = format_batch_report if report.get("kind") == "batch" else format_report
    print(json.dumps(report, default=str) if args.json else text(report))


# --- helpers -----------------------------------------------------------------------------------


def _check_id(given: str | None) -> None:
    """An id's form, checked before the stack is looked up (no AWS call for a typo)."""
    if given is None or given.startswith("arn:") or EXECUTION_NAME.match(given):
        return
    if export_id_problem(given) is not None:
        raise DeployedError(
            f"{given[:100]!r} is neither a run id (letters, digits, '-' and '_', 80 at most, as "
            "`ongage-export start` printed it), an execution ARN, nor an Ongage export id"
        )
