"""`ongage-export`: run, validate and try the pipeline from a terminal.

ongage-export demo                         one export end to end, nothing to set up
ongage-export run REQUEST.json --ongage-url URL [--out DIR] [--json]
ongage-export validate REQUEST.json        the same rules the API and the workflow apply
ongage-export simulator [...]              a local Ongage to point anything at
ongage-export start|status|wait ...        against a deployed stack
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from ongage_cli.inputs import (
    InputError,
    Parser,
    fail,
    http_url,
    load_request_file,
    non_negative_int,
    positive_int,
    writable_dir,
)
from ongage_export.polling import PollingPolicy
from ongage_export.request import validate_request

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["simulator"]:  # the simulator owns its own options
        from ongage_simulator.cli import main as simulator_main

        return simulator_main(argv[1:])
    args = build_parser().parse_args(argv)
    if not hasattr(args, "func"):
        build_parser().print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except InputError as error:
        return fail(str(error))


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="ongage-export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(metavar="COMMAND")

    demo = commands.add_parser("demo", help="run one export end to end on the embedded runtime")
    demo.add_argument("--out", type=Path, default=Path("demo-output"), help="where to write")
    demo.add_argument("--export-bytes", type=non_negative_int, default=2 * 1024 * 1024)
    demo.set_defaults(func=_demo)

    run = commands.add_parser("run", help="run the real workflow on the embedded runtime")
    run.add_argument("request", type=Path, help="the Ongage create-export body (JSON)")
    run.add_argument(
        "--ongage-url", required=True, type=http_url, help="Ongage base URL (or the simulator's)"
    )
    run.add_argument("--out", type=Path, help="write the landed ZIP and the notices here")
    run.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    run.add_argument("--poll-initial", type=positive_int, help="first wait, seconds")
    run.add_argument("--poll-max", type=positive_int, help="longest wait between retrieves, s")
    run.add_argument("--deadline", type=positive_int, help="give up after this many seconds")
    run.set_defaults(func=_run)

    validate = commands.add_parser("validate", help="check a request file against the rules")
    validate.add_argument("request", type=Path)
    validate.set_defaults(func=_validate)

    commands.add_parser("simulator", help="serve a local Ongage simulator (see --help)")

    with contextlib.suppress(ImportError):  # needs the deployed-stack extras
        from ongage_cli.deployed import add_deployed_commands

        add_deployed_commands(commands)
    return parser


def _validate(args: argparse.Namespace) -> int:
    problems = validate_request(load_request_file(args.request))
    if problems:
        print(f"{args.request}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(f"{args.request}: valid")
    return EXIT_OK


def _run(args: argparse.Namespace) -> int:
    from local_aws.cloud_assembly import AssemblyError
    from ongage_cli.local_run import LocalRun, credentials_from_env

    request = load_request_file(args.request)
    problems = validate_request(request)
    if problems:
        return _report_invalid(args, problems)
    try:
        account = credentials_from_env(args.ongage_url, os.environ)
    except ValueError as error:
        return fail(str(error))
    out = writable_dir(args.out) if args.out is not None else None
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
        polling["max_seconds"] = max(polling["initial_seconds"], 600)
    try:
        PollingPolicy.from_mapping(polling)
    except ValueError as error:
        return fail(f"--poll-initial/--poll-max/--deadline: {error}")
    runner = LocalRun(account, out_dir=out, quiet=args.json)
    try:
        summary = runner.run({"request": request, "polling": polling})
    except AssemblyError as error:  # no cdk.out: the stack to run has not been synthesized
        return fail(str(error))
    if args.json:
        print(json.dumps(summary))
    else:
        runner.describe(summary)
    return EXIT_OK if summary["status"] == "SUCCEEDED" else EXIT_FAILED


def _report_invalid(args: argparse.Namespace, problems: list[str]) -> int:
    if args.json:
        print(
            json.dumps(
                {
                    "status": "FAILED",
                    "error": "InvalidExportRequest",
                    "cause": "; ".join(problems),
                    "export_id": None,
                    "bucket": None,
                    "key": None,
                    "bytes": None,
                    "sha256": None,
                }
            )
        )
    else:
        print(f"{args.request} is not a valid export request:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
    return EXIT_USAGE


def _demo(args: argparse.Namespace) -> int:
    from ongage_cli.local_run import run_demo

    return run_demo(writable_dir(args.out), args.export_bytes)


if __name__ == "__main__":
    sys.exit(main())
