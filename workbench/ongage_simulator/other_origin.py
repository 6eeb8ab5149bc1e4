"""Another origin on loopback (same host, another port): where the REDIRECT fault sends a retrieve.

It stands for a download server, a CDN or a signed storage link: it serves a ready export's
ZIP at `/files/<export id>.zip` to anyone (no Ongage credentials needed, as a signed link needs
none) and records every request it receives, headers included, so tests can prove that no
credential ever reached it.
"""

from __future__ import annotations

import json
import re
import socketserver
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ongage_simulator.protocol import envelope_error, parse_range
from ongage_simulator.records import ExportRecord
from ongage_simulator.state import SimulatorState

_FILE = re.compile(r"^/files/(?P<export>[^/?]+)\.zip(?:\?.*)?$")


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]  # every header, as received


class OtherOrigin:
    """Started and stopped by the simulator; `url`, `received`."""

    def __init__(self, simulator: SimulatorState, host: str, requires_credentials: bool = False):
        self.simulator = simulator
        self.host = host
        self.requires_credentials = requires_credentials  # as another Ongage host does
        self.received: list[ReceivedRequest] = []
        self.downloads = 0  # ZIP bodies served
        self._lock = threading.Lock()
        self._server = _Server((host, 0), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name="ongage-simulator-other-origin", daemon=True,
        )  # fmt: skip
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{int(self._server.server_address[1])}"

    def record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.received.append(request)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], origin: OtherOrigin):
        self.origin = origin
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        socketserver.TCPServer.server_bind(self)  # no slow host-name look-up


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # headers (which must hold no credential) are in `received`, not in logs

    def do_GET(self) -> None:
        origin = self.server.origin
        origin.record(ReceivedRequest("GET", self.path, tuple(self.headers.items())))
        match = _FILE.match(self.path)
        record = origin.simulator.exports.get(match["export"]) if match else None
        if origin.requires_credentials and not self._authenticated(record):
            refusal = envelope_error(401, "Missing or invalid authentication headers")
            return self._send(401, json.dumps(refusal).encode(), "application/json")
        if match is None or record is None:
            return self._send(404, b"not found", "text/plain")
        body = origin.simulator.expected_body(match["export"])
        try:
            wanted = parse_range(self.headers.get("Range"), body.size)
        except ValueError:
            return self._send(416, b"range not satisfiable", "text/plain")
        start, end = wanted or (0, body.size)
        with origin._lock:
            origin.downloads += 1
        self.send_response(206 if wanted else 200)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(end - start))
        self.send_header("Accept-Ranges", "bytes")
        if wanted:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{body.size}")
        self.end_headers()
        for chunk in body.iter_range(start, end):
            self.wfile.write(chunk)

    def _authenticated(self, record: ExportRecord | None) -> bool:
        """The credentials of a served account, the export's own when it is known."""
        code = self.headers.get("X_ACCOUNT_CODE") or ""
        account = self.server.origin.simulator.config.served_account(code)
        if account is None or (record is not None and record.account_code != code):
            return False
        expected = account.credentials.headers()
        return all(self.headers.get(name) == value for name, value in expected.items())

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
