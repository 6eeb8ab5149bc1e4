"""The polling options of `start` and `redrive` (--poll-initial, --poll-max, --deadline), and
the overrides they make."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from ongage_cli.deployment import DeployedError
from ongage_cli.inputs import positive_int
from ongage_cli.resume import with_polling
from ongage_export.domain.polling import PollingPolicy

_DEFAULTS = PollingPolicy()


def add_polling_options(parser: argparse.ArgumentParser, defaults: str) -> None:
    parser.add_argument(
        "--poll-initial",
        type=positive_int,
        metavar="SECONDS",
        help=f"first wait before retrieving, seconds (default: {defaults}; "
        f"production {_DEFAULTS.initial_seconds})",
    )
    parser.add_argument(
        "--poll-max",
        type=positive_int,
        metavar="SECONDS",
        help=f"longest wait between retrieves, seconds (default: {defaults}; "
        f"production {_DEFAULTS.max_seconds})",
    )
    parser.add_argument(
        "--deadline",
        type=positive_int,
        metavar="SECONDS",
        help=f"give up after this many seconds from the run's start (default: {defaults}; "
        f"production {_DEFAULTS.deadline_seconds})",
    )


def chosen_polling(args: argparse.Namespace) -> dict[str, int]:
    chosen = {
        "initial_seconds": args.poll_initial,
        "max_seconds": args.poll_max,
        "deadline_seconds": args.deadline,
    }
    return {key: value for key, value in chosen.items() if value is not None}


def polling_of(args: argparse.Namespace) -> dict[str, int]:
    """The polling overrides of a new run, checked (the cap follows a long first wait)."""
    return dict(with_polling_of({}, args).get("polling") or {})


def with_polling_of(run_input: Mapping[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    try:
        return with_polling(run_input, chosen_polling(args))
    except ValueError as error:
        raise DeployedError(f"--poll-initial/--poll-max/--deadline: {error}") from None
