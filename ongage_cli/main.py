"""`ongage-export`: run, validate and try the pipeline from a terminal.

on your laptop (the stack in an embedded AWS, for the length of the command; demo, run and
simulator come with the workbench, which `make install` installs in a clone):
  ongage-export demo                          one export end to end, nothing to set up
  ongage-export run REQUEST.json [--ongage-url URL] [--out DIR] [--json]
  ongage-export validate REQUEST.json         the rules the API and the workflow apply
(REQUEST.json may be a batch, {"exports": [REQUEST, ...]}: one run per export, one batch notice)
  ongage-export simulator [...]               a local Ongage to point anything at
against a deployed stack (--stack, or $ONGAGE_EXPORT_STACK):
  ongage-export start REQUEST.json [--wait]   start a run; prints its run id
  ongage-export status|wait ID                a run's status, or wait for it to end
  ongage-export redrive ID [--deadline S]     carry on with a failed run's Ongage export

Two ids: a run id names one of our runs (an execution); an Ongage export id (7000003) names the
export a run created at Ongage. `status`, `wait` and `redrive` take either.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from ongage_cli.inputs import InputError, Parser, fail, load_request_file
from ongage_export.domain.batch import BATCH_KEY, is_batch, validate_batch
from ongage_export.domain.request import validate_request

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# Commands that other distributions add (the workbench: demo, run, simulator): modules with
# `register(commands)` and, for commands that parse their own arguments, `PASSTHROUGH`.
COMMANDS_GROUP = "ongage_export.commands"
LAPTOP_COMMANDS = ("demo", "run", "simulator")
NO_WORKBENCH = (
    "`ongage-export {command}` runs on your laptop with the workbench, which is not installed "
    "here: in a clone of the repository, `make install` (or `pip install -e ./workbench`)"
)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    plugins = _plugins()
    command = argv[0] if argv else ""
    passthrough = _passthrough(plugins)
    if command in passthrough:  # a command that parses its own arguments
        return passthrough[command](argv[1:])
    if command in LAPTOP_COMMANDS and not plugins:
        return fail(NO_WORKBENCH.format(command=command))
    args = build_parser(plugins).parse_args(argv)
    if not hasattr(args, "func"):
        build_parser(plugins).print_help()
        return EXIT_USAGE
    args.argv = argv
    try:
        return int(args.func(args))
    except InputError as error:
        return fail(str(error))
    except KeyboardInterrupt:  # before anything was started (`run` says more once it has)
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def build_parser(plugins: list[ModuleType] | None = None) -> argparse.ArgumentParser:
    parser = Parser(
        prog="ongage-export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(metavar="COMMAND", title="commands")
    for plugin in _plugins() if plugins is None else plugins:
        plugin.register(commands)

    validate = commands.add_parser(
        "validate", help="check a request (or batch) file against the rules"
    )
    validate.add_argument(
        "request",
        type=Path,
        help='the Ongage create-export body, or a batch {"exports": [REQUEST, ...]} (JSON file)',
    )
    validate.set_defaults(func=_validate)

    with contextlib.suppress(ImportError):  # needs the deployed-stack extras
        from ongage_cli.deployed import add_deployed_commands

        add_deployed_commands(commands)
    return parser


def _passthrough(plugins: list[ModuleType]) -> dict[str, Callable[[list[str]], int]]:
    return {
        name: run for plugin in plugins for name, run in getattr(plugin, "PASSTHROUGH", {}).items()
    }


def _plugins() -> list[ModuleType]:
    return [entry.load() for entry in entry_points(group=COMMANDS_GROUP)]


def _validate(args: argparse.Namespace) -> int:
    document = load_request_file(args.request)
    batch = is_batch(document)
    problems = (validate_batch if batch else validate_request)(document)
    if problems:
        print(f"{args.request}: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{args.request}: valid"
        + (f" batch of {len(document[BATCH_KEY])} exports" if batch else "")
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
