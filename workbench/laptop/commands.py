"""The `ongage-export` commands that run on a laptop: `demo`, `run` and `simulator`.

They deploy the synthesized stack into the embedded AWS for the length of the command, so they
come with the workbench (this distribution), not with the product: the product's CLI finds them
through the `ongage_export.commands` entry point and says how to install them when they are not.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from laptop.run_reports import report, report_interrupted, report_invalid, report_invalid_batch
from ongage_cli.inputs import (
    InputError,
    export_id_arg,
    fail,
    http_url,
    load_request_file,
    non_negative_int,
    ongage_url_from_env,
    positive_int,
    require_answer,
    trusted_origin_arg,
    writable_dir,
)
from ongage_cli.main import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK
from ongage_export.domain.batch import BATCH_KEY, is_batch, validate_batch
from ongage_export.domain.polling import PollingPolicy
from ongage_export.domain.request import validate_request

if TYPE_CHECKING:
    from embedded_runtime.runtime import OngageAccount
    from ongage_simulator.accounts_file import AccountEntry

DEFAULT_OUT = Path("ongage-exports")
_P = PollingPolicy()  # the production policy, the stack's defaults
RUN_EPILOG = f"""\
environment:
  ONGAGE_USERNAME, ONGAGE_PASSWORD, ONGAGE_ACCOUNT_CODE   your Ongage API credentials (required,
                    unless the --accounts file has a `default` account)
  ONGAGE_BASE_URL   Ongage's base URL when --ongage-url is not given (`ongage-export simulator`
                    prints all four for the simulator)

waits: without --poll-* options a run polls as in production: the first retrieve after
{_P.initial_seconds} s, then waits growing x{_P.growth:g} up to {_P.max_seconds} s each, giving up \
after {_P.deadline_seconds} s ({_P.deadline_seconds // 3600} hours).
Right for a real Ongage account; against the simulator use --poll-initial 1 --poll-max 2.

Ctrl-C stops the run and prints the command that lands the Ongage export it had created
(--export-id), so nothing is created twice.
"""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `demo`, `run` and `simulator` to the CLI's commands."""
    demo = commands.add_parser("demo", help="run one export end to end on the embedded runtime")
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("demo-output"),
        metavar="DIR",
        help="where to write the ZIP, the notices and the logs (default: demo-output)",
    )
    demo.add_argument(
        "--export-bytes",
        type=non_negative_int,
        default=2 * 1024 * 1024,
        help="size of the simulated export's CSV, bytes (default 2 MiB)",
    )
    demo.set_defaults(func=_demo)

    _add_run(commands)

    commands.add_parser(
        "simulator",
        help="serve a local Ongage simulator with fault knobs (see `simulator --help`)",
        add_help=False,  # its own parser answers --help: main() hands it the arguments
    )


def simulator(argv: list[str]) -> int:
    from ongage_simulator.cli import main as simulator_main

    return simulator_main(argv)


# Commands that take their arguments unparsed (main() hands them over before argparse).
PASSTHROUGH = {"simulator": simulator}


def _add_run(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run the real workflow on the embedded runtime against Ongage (or the simulator)",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "request",
        type=Path,
        help='the Ongage create-export body, or a batch {"exports": [REQUEST, ...]} (JSON file)',
    )
    run.add_argument(
        "--ongage-url",
        type=http_url,
        metavar="URL",
        help="Ongage's base URL, or the simulator's (default: $ONGAGE_BASE_URL); checked to "
        "answer before anything is deployed",
    )
    run.add_argument(
        "--ongage-trusted-origin",
        type=trusted_origin_arg,
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another origin that may receive the credentials when Ongage redirects there "
        "(e.g. https://connect.ongage.net; repeatable; https only, http on 127.x/localhost). "
        "Every other origin gets none",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help="keep the landed ZIP, notifications.json and lambda-logs.jsonl here (default: "
        f"./{DEFAULT_OUT}; the embedded S3 ends with the command)",
    )
    run.add_argument(
        "--accounts",
        type=Path,
        metavar="FILE",
        help='the Ongage accounts a request may name with "account" (ACCOUNTS.json: NAME -> '
        "username, password, account_code, optional parallel_calls and calls_per_minute; see "
        "examples/accounts.json); its `default` wins over the ONGAGE_* variables",
    )
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument(
        "--poll-initial",
        type=positive_int,
        metavar="SECONDS",
        help=f"first wait before retrieving, seconds (default {_P.initial_seconds})",
    )
    run.add_argument(
        "--poll-max",
        type=positive_int,
        metavar="SECONDS",
        help=f"longest wait between retrieves, seconds (default {_P.max_seconds})",
    )
    run.add_argument(
        "--deadline",
        type=positive_int,
        metavar="SECONDS",
        help=f"give up after this many seconds (default {_P.deadline_seconds})",
    )
    run.add_argument(
        "--export-id",
        type=export_id_arg,
        metavar="ID",
        help="land this Ongage export, already created (by an interrupted run), instead of "
        "creating one: it is polled and downloaded, never created again",
    )
    run.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from laptop.local_run import LocalRun, RunInterrupted
    from local_aws.cloud_assembly import AssemblyError

    request = load_request_file(args.request)
    if is_batch(request):
        return _run_batch(args, request)
    problems = validate_request(request)
    if problems:
        return report_invalid(args, problems)
    accounts = _run_accounts(args, [request])
    account, url, option = _ongage_account(args, accounts)
    run_input = _run_input(args, request)
    out_existed = args.out.exists()
    out = writable_dir(args.out)
    require_answer(url, option)  # seconds, not the minutes of the workflow's retries
    runner = LocalRun(account, out_dir=out, quiet=args.json, accounts=accounts)
    try:
        summary = runner.run(run_input)
    except AssemblyError as error:  # no cdk.out: the stack to run has not been synthesized
        return fail(str(error))
    except RunInterrupted as interrupted:
        return report_interrupted(args, interrupted.export_id, out, remove_out=not out_existed)
    report(args, runner, summary)
    return EXIT_OK if summary["status"] == "SUCCEEDED" else EXIT_FAILED


def _run_batch(args: argparse.Namespace, batch: dict[str, Any]) -> int:
    """A batch: the batch workflow, one export run per element, on the embedded runtime."""
    from laptop.local_batch import LocalBatchRun
    from laptop.local_run import RunInterrupted
    from local_aws.cloud_assembly import AssemblyError

    problems = validate_batch(batch)
    if problems:
        return report_invalid_batch(args, problems)
    if args.export_id is not None:
        raise InputError("--export-id lands one export: it cannot be given with a batch")
    accounts = _run_accounts(args, batch[BATCH_KEY])
    account, url, option = _ongage_account(args, accounts)
    run_input = {**batch, "polling": _run_polling(args)}
    out_existed = args.out.exists()
    out = writable_dir(args.out)
    require_answer(url, option)
    runner = LocalBatchRun(account, out_dir=out, quiet=args.json, accounts=accounts)
    try:
        summary = runner.run(run_input)
    except AssemblyError as error:
        return fail(str(error))
    except RunInterrupted:
        if not out_existed:
            with contextlib.suppress(OSError):
                out.rmdir()
        print("interrupted: the batch and its running exports were stopped", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(summary))
    else:
        runner.describe(summary)
    return EXIT_OK if summary["status"] == "SUCCEEDED" else EXIT_FAILED


def _run_accounts(
    args: argparse.Namespace, requests: list[dict[str, Any]]
) -> dict[str, AccountEntry]:
    """The --accounts file's accounts, checked to have every account the requests name."""
    from laptop.accounts import run_accounts

    try:
        return run_accounts(args.accounts, requests)
    except ValueError as error:
        raise InputError(str(error)) from None


def _ongage_account(
    args: argparse.Namespace, accounts: dict[str, AccountEntry]
) -> tuple[OngageAccount, str, str]:
    """The default account, its URL, and the option or variable that gave the URL."""
    from laptop.accounts import default_account

    url, option = (args.ongage_url, "--ongage-url") if args.ongage_url else _url_from_env()
    try:
        account = default_account(url, os.environ, accounts)
        trusted = tuple(args.ongage_trusted_origin)
        return dataclasses.replace(account, trusted_origins=trusted), url, option
    except ValueError as error:
        raise InputError(str(error)) from None


def _run_input(args: argparse.Namespace, request: dict[str, Any]) -> dict[str, Any]:
    run_input: dict[str, Any] = {"request": request, "polling": _run_polling(args)}
    if args.export_id is not None:  # the workflow's resume input: no create call
        run_input["resume"] = {"export_id": args.export_id}
    return run_input


def _url_from_env() -> tuple[str, str]:
    url = ongage_url_from_env(os.environ)
    if url is None:
        raise InputError(
            "no Ongage URL: pass --ongage-url URL or set ONGAGE_BASE_URL (`ongage-export "
            "simulator` prints it for the simulator)"
        )
    return url, "ONGAGE_BASE_URL"


def _run_polling(args: argparse.Namespace) -> dict[str, int]:
    polling = {
        key: value
        for key, value in (
            ("initial_seconds", args.poll_initial),
            ("max_seconds", args.poll_max),
            ("deadline_seconds", args.deadline),
        )
        if value is not None
    }
    if "initial_seconds" in polling and "max_seconds" not in polling:
        polling["max_seconds"] = max(polling["initial_seconds"], PollingPolicy().max_seconds)
    try:
        PollingPolicy.from_mapping(polling)
    except ValueError as error:
        raise InputError(f"--poll-initial/--poll-max/--deadline: {error}") from None
    return polling


def _demo(args: argparse.Namespace) -> int:
    from laptop.local_run import run_demo

    return run_demo(writable_dir(args.out), args.export_bytes)
