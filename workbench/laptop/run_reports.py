"""What a local run tells its user: the summary (JSON or lines), the problems of an invalid
request or batch, and, after a failure or Ctrl-C, the command that carries on with the Ongage
export already created.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ongage_cli.main import EXIT_INTERRUPTED, EXIT_USAGE
from ongage_export.domain.polling import MAX_DEADLINE_SECONDS, PollingPolicy

if TYPE_CHECKING:
    from laptop.local_run import LocalRun

# Failures after which carrying on with the same Ongage export cannot help.
CANNOT_CARRY_ON = (
    "ExportRejected", "DownloadNotResumable", "InvalidPollingPolicy", "UnsupportedExport",
)  # fmt: skip


def report_invalid_batch(args: argparse.Namespace, problems: list[str]) -> int:
    if args.json:
        cause = "; ".join(problems)
        print(json.dumps({"status": "FAILED", "error": "InvalidExportRequest", "cause": cause}))
    else:
        print(f"{args.request} is not a valid batch:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
    return EXIT_USAGE


def report(args: argparse.Namespace, runner: LocalRun, summary: dict[str, Any]) -> None:
    carry_on = after_failure(args, summary)
    if carry_on:
        summary["continue_command"] = carry_on
    if args.json:
        print(json.dumps(summary))
        return
    runner.describe(summary)
    if carry_on:
        export_id = summary["export_id"]
        print(f"  to carry on with Ongage export {export_id}: {carry_on}", file=sys.stderr)


def report_interrupted(
    args: argparse.Namespace, export_id: str | None, out: Path, *, remove_out: bool
) -> int:
    """One line: the Ongage export already created and the command that lands it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C may not cut this short
    if remove_out:
        with contextlib.suppress(OSError):  # only if empty: nothing of the user's is removed
            out.rmdir()
    if export_id is None:
        print(
            "interrupted before Ongage created an export (none was recorded): nothing to "
            "continue; run the same command again to start afresh",
            file=sys.stderr,
        )
    else:
        print(
            f"interrupted: Ongage export {export_id} was already created; to poll and land it "
            f"without creating another, run: {continue_command(args.argv, export_id)}",
            file=sys.stderr,
        )
    return EXIT_INTERRUPTED


def continue_command(argv: list[str], export_id: str, deadline: int | None = None) -> str:
    """The command line as given, with `--export-id ID` (and `--deadline S`, if given) in place
    of any earlier one."""
    replaced = {"--export-id": export_id} | ({"--deadline": str(deadline)} if deadline else {})
    kept: list[str] = []
    skip = False
    for argument in argv:
        name = argument.split("=", 1)[0]
        if skip:
            skip = False
        elif name in replaced:
            skip = "=" not in argument  # `--opt value`: its value goes too
        else:
            kept.append(argument)
    program = sys.argv[0] if Path(sys.argv[0]).name == "ongage-export" else "ongage-export"
    added = [part for option, value in replaced.items() for part in (option, value)]
    return shlex.join([program, *kept, *added])


def after_failure(args: argparse.Namespace, summary: dict[str, Any]) -> str | None:
    """The command that carries on with a failed run's Ongage export, when one can: the run's
    embedded AWS is gone, so the advice to redrive it cannot be followed here."""
    export_id = summary.get("export_id")
    if summary["status"] == "SUCCEEDED" or not export_id or summary["error"] in CANNOT_CARRY_ON:
        return None
    deadline = None
    if summary["error"] == "ExportNotReady":
        deadline = min(
            2 * (args.deadline or PollingPolicy().deadline_seconds), MAX_DEADLINE_SECONDS
        )
    return continue_command(args.argv, str(export_id), deadline)


def report_invalid(args: argparse.Namespace, problems: list[str]) -> int:
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
