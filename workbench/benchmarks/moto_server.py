"""A moto server for the benchmarks, in its own process, with S3 at constant memory
(`local_aws.s3_streaming`), so that they measure our code and not moto.

Run as `python -m benchmarks.moto_server`; it prints `listening on http://127.0.0.1:PORT`.
"""

from __future__ import annotations

import logging
import threading

from moto.moto_server.threaded_moto_server import ThreadedMotoServer

from local_aws import s3_streaming


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    s3_streaming.install()
    server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"moto server listening on http://{host}:{port}", flush=True)
    threading.Event().wait()  # until the benchmark terminates this process


if __name__ == "__main__":
    main()
