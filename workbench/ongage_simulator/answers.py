"""How the simulator's answers go out (server.py decides what they are): Ongage's JSON envelope
and HTML error pages, a body at a given rate, silence with the connection open, and a reset
connection; and when a call counts as finished (before its last byte: see `_finish_call`)."""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from typing import Any

from ongage_simulator.faults import Fault, FaultSpec
from ongage_simulator.protocol import Route, envelope_error
from ongage_simulator.records import ServedRecord
from ongage_simulator.state import SimulatorState

HTML_PAGE = "<html><head><title>{0}</title></head><body><h1>{0}</h1></body></html>"
_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


class AnswerWriter(BaseHTTPRequestHandler):
    """Writes answers and counts what was sent (`sent` of `expected` bytes, `status`)."""

    protocol_version = "HTTP/1.1"
    server_version = "OngageSimulator/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    sim: SimulatorState
    route: Route | None
    status: int
    sent: int
    expected: int
    byte_range: tuple[int, int] | None
    fault: Fault | None
    account: str | None  # set while the call holds a parallel-call slot
    caller: str | None  # the account code, once authenticated
    served: ServedRecord | None
    finished: bool

    def _finish_call(self, pending: int = 0) -> None:
        """Release the call's slot and record it, once; `pending` bytes are about to be sent.

        Runs before the last byte goes out: a client that starts its next call the moment
        this one completes must find the slot free and the records up to date.
        """
        if self.finished:
            return
        self.finished = True
        if self.account is not None:
            self.sim.limits.leave(self.account)
        self.sim.recorder.end(self.status, self.caller)
        if self.route and self.route.export_id is not None:
            sent = self.sent + pending
            self.served = ServedRecord(
                self.route.export_id, self.status, sent, sent == self.expected,
                self.byte_range, self.fault,
            )  # fmt: skip
            self.sim.record_served(self.served)

    def _write(self, data: bytes, rate: int | None) -> None:
        """Send `data`, at `rate` bytes/s if given; the call finishes before its last byte."""
        view = memoryview(data)
        step = max(1, len(view) if rate is None else rate // 20)
        for offset in range(0, len(view), step):
            piece = view[offset : offset + step]
            if self.sent + len(piece) >= self.expected:
                self._finish_call(pending=len(piece))
            self.wfile.write(piece)
            self.sent += len(piece)
            if rate is not None and self.sim.stopping.wait(len(piece) / rate):
                raise ConnectionAbortedError("the simulator is stopping")

    def _stall(self, seconds: float) -> None:
        """Silence with the connection open: headers (and some body) sent, then nothing."""
        self.wfile.flush()
        if self.sim.stopping.wait(seconds):
            raise ConnectionAbortedError("the simulator is stopping")

    def _abort_connection(self) -> None:
        """Reset the TCP connection (RST, not FIN): what a crashed peer or proxy looks like."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.rfile.close()  # the socket really closes (and resets) with its last file object

    def _send_server_error(self, spec: FaultSpec) -> None:
        reason = _REASONS.get(spec.status, "Server Error")
        if spec.html:
            page = HTML_PAGE.format(f"{spec.status} {reason}").encode()
            self._send_bytes(spec.status, page, "text/html")
        else:
            self._send_error(spec.status, reason)

    def _send_error(self, code: int, message: str, errors: Iterable[str] = ()) -> None:
        self._send_json(code, envelope_error(code, message, errors))

    def _send_json(self, status: int, document: dict[str, Any]) -> None:
        self._send_bytes(status, json.dumps(document).encode(), "application/json")

    def _send_bytes(self, status: int, data: bytes, content_type: str) -> None:
        self._start_response(status, len(data), {"Content-Type": content_type})
        self._write(data, None)

    def _start_response(self, status: int, length: int, headers: dict[str, str]) -> None:
        self.status, self.expected = status, length
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        if length == 0:
            self._finish_call()  # the headers complete the response
        self.end_headers()
