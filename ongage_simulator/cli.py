"""`ongage-export simulator`: run the Ongage simulator in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import threading
from collections.abc import Callable
from typing import NoReturn

from ongage_simulator.config import Credentials, SimulatorConfig
from ongage_simulator.faults import Fault, FaultSpec
from ongage_simulator.simulator import OngageSimulator

_DEMO = Credentials.demo()


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
        prog="ongage-export simulator", description="Serve a local Ongage API simulator."
    )
    parser.add_argument("--port", type=_port, default=8765, help="0: any free port")
    parser.add_argument("--ready-after-retrieves", type=_at_least(0), default=2)
    parser.add_argument("--ready-after-seconds", type=_at_least(0, float), default=0.0)
    parser.add_argument("--export-bytes", type=_at_least(0), default=64 * 1024)
    parser.add_argument("--username", default=_DEMO.username)
    parser.add_argument("--password", default=_DEMO.password)
    parser.add_argument("--account-code", default=_DEMO.account_code)
    parser.add_argument("--max-parallel", type=_at_least(1), default=10)
    parser.add_argument("--rate-limit", type=_at_least(1), default=300, help="calls per minute")
    parser.add_argument(
        "--fault", type=_fault, action="append", default=[], metavar="NAME[:times]",
        help="inject a fault (repeatable); times is a number or 'forever'",
    )  # fmt: skip
    parser.add_argument("--verbose", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    credentials = Credentials(args.username, args.password, args.account_code)
    config = SimulatorConfig(
        credentials=credentials,
        ready_after_retrieves=args.ready_after_retrieves,
        ready_after_seconds=args.ready_after_seconds,
        export_bytes=args.export_bytes,
        rate_limit_per_minute=args.rate_limit,
        max_parallel=args.max_parallel,
        faults=tuple(args.fault),
    )
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
        print("Press Ctrl-C to stop.", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            print("\nStopping.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
