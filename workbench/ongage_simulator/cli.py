"""`ongage-export simulator`: run the Ongage simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn

from ongage_export.domain.accounts import DEFAULT_ACCOUNT
from ongage_simulator.accounts_file import AccountEntry, AccountsFileError, load_accounts
from ongage_simulator.config import Credentials, ServedAccount, SimulatorConfig
from ongage_simulator.faults import Fault, FaultSpec
from ongage_simulator.limits import AccountStats
from ongage_simulator.simulator import OngageSimulator

_DEMO = Credentials.demo()
# What each fault does, for --help (a test checks that every fault is here).
FAULTS = {
    Fault.RATE_LIMITED: "429 'Calls per minute exceeded' (create or retrieve)",
    Fault.SERVER_ERROR: "503 with Ongage's error envelope (create or retrieve)",
    Fault.FORBIDDEN: "403, as for an account without API access",
    Fault.CREATE_REJECTED: "create answers 412 'Invalid data'",
    Fault.NEVER_READY: "a ready export still answers 412 'not finished yet'",
    Fault.EXPORT_PURGED: "the export is forgotten: 412 'Export not found'",
    Fault.UNUSABLE_ID: "create makes the export but answers an unusable id",
    Fault.SLOW_CREATE: "create makes the export, then answers 300 s later",
    Fault.REDIRECT: "a ready retrieve redirects to another origin (a download server)",
    Fault.STALL: "half the body, then 300 s of silence with the connection open",
    Fault.JSON_ERROR_ON_200: "200 with a JSON error envelope instead of the ZIP",
    Fault.HTML_ON_200: "200 with an HTML page instead of the ZIP",
    Fault.EMPTY_200: "200 with an empty body",
    Fault.SLOW_TRICKLE: "the body at 64 KiB/s",
    Fault.DROP_CONNECTION: "half the body, then a TCP reset",
    Fault.TRUNCATE: "a clean close before the declared Content-Length",
    Fault.CORRUPT_ZIP: "one byte of a member flipped: the CRC check fails",
}


def _fault(text: str) -> FaultSpec:
    """Parse NAME[:times], where times is a number or 'forever'."""
    name, _, times = text.partition(":")
    try:
        fault = Fault(name)
        count = None if times == "forever" else int(times or 1)
        return FaultSpec(fault, times=count)
    except ValueError:
        names = ", ".join(f.value for f in Fault)
        raise argparse.ArgumentTypeError(
            f"{text!r}: expected NAME[:times|forever] with NAME one of {names}"
        ) from None


def _at_least(low: float, kind: Callable[[str], float] = int) -> Callable[[str], float]:
    """An argparse type: a number of `kind`, `low` or more."""

    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = low - 1
        if not low <= value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be a number, {low:g} or more, not {text!r}")
        return value

    return parse


def _port(text: str) -> int:
    value = int(_at_least(0)(text))
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a TCP port, 0..65535, not {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, as every CLI command does
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ongage-export simulator",
        description="Serve a local Ongage API simulator on 127.0.0.1 until Ctrl-C; it prints "
        "the ONGAGE_* variables that point `ongage-export run` (or a deployed stack) at it.",
        epilog="faults (--fault NAME[:times]; times is a number or 'forever', default 1):\n"
        + "\n".join(f"  {fault.value:<18} {what}" for fault, what in FAULTS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--port", type=_port, default=8765, help="TCP port on 127.0.0.1 (default 8765; 0: any)"
    )
    parser.add_argument(
        "--ready-after-retrieves",
        type=_at_least(0),
        default=2,
        help="an export answers 412 (not finished) to this many retrieves first (default 2)",
    )
    parser.add_argument(
        "--ready-after-seconds",
        type=_at_least(0, float),
        default=0.0,
        help="and is ready no sooner than this many seconds after its create (default 0)",
    )
    parser.add_argument(
        "--export-bytes",
        type=_at_least(0),
        default=64 * 1024,
        help="size of each export's CSV, bytes (default 65536)",
    )
    parser.add_argument(
        "--username", default=_DEMO.username, help=f"the account's username ({_DEMO.username})"
    )
    parser.add_argument("--password", default=_DEMO.password, help="its password (the demo's)")
    parser.add_argument(
        "--account-code",
        default=_DEMO.account_code,
        help=f"its account code ({_DEMO.account_code})",
    )
    parser.add_argument(
        "--max-parallel",
        type=_at_least(1),
        default=10,
        help="parallel calls allowed before 429, as Ongage limits them (default 10)",
    )
    parser.add_argument(
        "--rate-limit", type=_at_least(1), default=300, help="calls per minute (default 300)"
    )
    parser.add_argument(
        "--first-export-id",
        type=_at_least(1),
        metavar="ID",
        help="the first export id to hand out (default: from the clock, in milliseconds, so a "
        "restarted simulator never repeats an id an earlier one gave out)",
    )
    parser.add_argument(
        "--fault", type=_fault, action="append", default=[], metavar="NAME[:times]",
        help="inject a fault (repeatable; names below)",
    )  # fmt: skip
    parser.add_argument(
        "--accounts",
        type=_accounts,
        metavar="FILE",
        help="serve these accounts too (ACCOUNTS.json, as `run --accounts` takes it), each with "
        "its limits (default: --max-parallel, --rate-limit); its `default` replaces the "
        "--username/--password/--account-code account",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def _accounts(text: str) -> dict[str, AccountEntry]:
    try:
        return load_accounts(Path(text))
    except AccountsFileError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def first_export_id(chosen: int | None, now: Callable[[], float] = time.time) -> int:
    """`chosen`, or the clock in milliseconds: ids from one simulator stay below the next
    one's unless it created more than one export per millisecond it ran."""
    return chosen if chosen is not None else int(now() * 1000)


def config_from(args: argparse.Namespace) -> SimulatorConfig:
    flags = ServedAccount(
        Credentials(args.username, args.password, args.account_code),
        args.rate_limit,
        args.max_parallel,
    )
    named = dict(args.accounts or {})
    default = named.pop(DEFAULT_ACCOUNT).served(flags) if DEFAULT_ACCOUNT in named else flags
    return SimulatorConfig(
        credentials=default.credentials,
        ready_after_retrieves=args.ready_after_retrieves,
        ready_after_seconds=args.ready_after_seconds,
        export_bytes=args.export_bytes,
        rate_limit_per_minute=default.calls_per_minute,
        max_parallel=default.parallel_calls,
        faults=tuple(args.fault),
        first_export_id=first_export_id(args.first_export_id),
        accounts=tuple(entry.served(flags) for entry in named.values()),
    )


def describe_accounts(simulator: OngageSimulator) -> list[str]:
    """One line per account served: its limits and what it asked so far."""
    stats = simulator.stats.by_account
    lines = []
    for account in simulator.config.served_accounts():
        code = account.credentials.account_code
        seen = stats.get(code, AccountStats())
        lines.append(
            f"  {code}: {account.parallel_calls} parallel calls, {account.calls_per_minute} a "
            f"minute; {seen.calls} calls, peak {seen.peak_in_flight} in flight, "
            f"{seen.rate_limited}x429, {seen.creates} exports created"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    config = config_from(args)
    credentials = config.credentials
    try:
        simulator = OngageSimulator(config, port=args.port).start()
    except OSError as error:
        print(
            f"ongage-export simulator: error: cannot listen on port {args.port} "
            f"({error.strerror}): choose another with --port (0 picks a free one)",
            file=sys.stderr,
        )
        return 2
    with simulator as sim:
        print(f"Ongage simulator listening on {sim.url}")
        print("Point the client at it with:")
        print(f"  export ONGAGE_BASE_URL={sim.url}")
        for name, value in credentials.env().items():
            print(f"  export {name}={shlex.quote(value)}")
        print("Accounts served:", *describe_accounts(sim), sep="\n")
        print("Press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nStopping. What each account asked:", *describe_accounts(sim), sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
