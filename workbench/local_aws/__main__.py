"""`python -m local_aws [--port N] [--state-dir DIR]`: serve the local AWS endpoint until
interrupted; the first line printed is `local AWS listening on URL`, then the environment a
client needs (`export ...` lines)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from local_aws.server import Endpoint, LocalAws, PortInUse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_aws", description=__doc__)
    parser.add_argument("--port", type=int, default=4566, help="0 picks a free port")
    parser.add_argument("--state-dir", type=Path, default=Path(".local-aws"))
    parser.add_argument("--no-iam", action="store_true", help="do not enforce IAM policies")
    parser.add_argument(
        "--print-env", action="store_true", help="print the client environment and exit"
    )
    args = parser.parse_args(argv)
    if args.print_env:
        endpoint = Endpoint(f"http://127.0.0.1:{args.port}", args.state_dir)
        for name, value in endpoint.environment().items():
            print(f"export {name}={value}")
        return 0
    local = LocalAws(args.state_dir, port=args.port, enforce_iam=not args.no_iam)
    try:
        endpoint = local.start()
    except PortInUse as busy:
        print(f"python -m local_aws: {busy}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"local AWS listening on {endpoint.url}", flush=True)
    for name, value in endpoint.environment().items():
        print(f"export {name}={value}", flush=True)
    try:
        local.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        local.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
