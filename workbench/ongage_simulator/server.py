"""HTTP handling: routes, authentication, limits, faults and the streamed export download."""

from __future__ import annotations

import json
import logging
import socketserver
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

from ongage_simulator.answers import HTML_PAGE, AnswerWriter
from ongage_simulator.archives import PackedBody
from ongage_simulator.authentication import authenticate, resolve_list
from ongage_simulator.config import ServedAccount
from ongage_simulator.export_body import ExportBody
from ongage_simulator.faults import Fault, FaultSpec
from ongage_simulator.limits import RATE_MESSAGE
from ongage_simulator.protocol import (
    Route,
    envelope_error,
    envelope_ok,
    parse_range,
    parse_route,
)
from ongage_simulator.rules import documented_problems
from ongage_simulator.state import SimulatorState

log = logging.getLogger("ongage_simulator")

MAX_REQUEST_BYTES = 1024 * 1024
NOT_FOUND = "Export not found"
NOT_FINISHED = "Export is not finished yet"
INVALID_DATA = "Invalid data"
FILE_NOT_AVAILABLE = "Export file is not available"


class SimulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # bursts of parallel calls must not wait for SYN retries

    def __init__(self, address: tuple[str, int], simulator: SimulatorState):
        self.simulator = simulator
        super().__init__(address, SimulatorHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (socket.getfqdn): slow and unneeded.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)


class SimulatorHandler(AnswerWriter):
    server: SimulatorHTTPServer

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def log_message(self, format: str, *args: Any) -> None:
        # Only the request line and status: headers (and so the password) are never logged.
        log.debug("%s %s", self.address_string(), format % args)

    # --- one request --------------------------------------------------------------------

    def _handle(self, method: str) -> None:
        self.sim = self.server.simulator
        self.route = parse_route(self.path)
        self.status = self.sent = self.expected = 0
        self.byte_range = None
        self.fault = None
        self.account = self.caller = None
        self.served = None
        self.finished = False
        self.sim.recorder.begin(self.route.endpoint if self.route else "other")
        try:
            self._dispatch(method, self.route)
        except ConnectionError:  # the client went away (or a fault aborted the stream)
            self.close_connection = True
            if self.served is not None:  # the final write, counted in advance, failed
                self.served.bytes_sent, self.served.complete = self.sent, False
        finally:
            self._finish_call()

    def _dispatch(self, method: str, route: Route | None) -> None:
        body = self._read_body()
        if body is None:
            return
        if route is None:
            return self._send_error(404, "Not found")
        if method != route.method:
            return self._send_error(405, f"Method {method} is not allowed here")
        account = self._authenticate()
        if account is None:
            return
        code = self.caller = account.credentials.account_code
        self.sim.recorder.authenticated(code)
        refusal = self.sim.limits.enter(
            code, account.calls_per_minute, self.sim.config.rate_window_seconds,
            account.parallel_calls,
        )  # fmt: skip
        if refusal:
            return self._send_error(429, refusal)
        self.account = code
        if self._injected_error(route):
            return
        if route.endpoint == "create":
            self._create(route, body)
        else:
            self._retrieve(route)

    def _read_body(self) -> bytes | None:
        """The request body, or None after refusing it (the connection is then closed)."""
        declared = self.headers.get("Content-Length") or "0"
        length = int(declared) if declared.isdigit() else -1
        if not 0 <= length <= MAX_REQUEST_BYTES:
            self.close_connection = True  # an unread body would poison the connection
            self._send_error(413 if length > 0 else 400, "Bad or too large request body")
            return None
        return self.rfile.read(length) if length else b""

    def _authenticate(self) -> ServedAccount | None:
        found = authenticate(self.headers, self.sim.config)
        if isinstance(found, ServedAccount):
            return found
        self._send_error(*found)
        return None

    def _injected_error(self, route: Route) -> bool:
        """Answer with an injected forbidden / rate-limited / server error fault, if due."""
        faults = self.sim.faults
        if faults.take(Fault.FORBIDDEN, route.endpoint, route.export_id):
            self.fault = Fault.FORBIDDEN
            self._send_error(403, "This account has no API access")
        elif faults.take(Fault.RATE_LIMITED, route.endpoint, route.export_id):
            self.fault = Fault.RATE_LIMITED
            self._send_error(429, RATE_MESSAGE)
        elif spec := faults.take(Fault.SERVER_ERROR, route.endpoint, route.export_id):
            self.fault = Fault.SERVER_ERROR
            self._send_server_error(spec)
        else:
            return False
        return True

    # --- create -------------------------------------------------------------------------

    def _create(self, route: Route, body: bytes) -> None:
        try:
            data = json.loads(body)
        except ValueError:
            return self._send_error(400, "Invalid JSON", ["the request body is not valid JSON"])
        if self._take(Fault.CREATE_REJECTED, route):
            return self._send_error(412, INVALID_DATA, ["the export was rejected (simulated)"])
        given = isinstance(data, dict) and "list_id" in data
        given = given or route.query_list_id is not None or route.list_prefix is not None
        problems = documented_problems(data, list_id_given=given)
        if problems:
            return self._send_error(412, INVALID_DATA, problems)
        list_id, problems = resolve_list(self.sim.config, route, data.get("list_id"))
        if list_id is None:
            return self._send_error(412, INVALID_DATA, problems)
        assert self.caller is not None
        record = self.sim.create_export(data, list_id, self.caller)
        # From here Ongage has acted: a fault may spoil the answer, not undo the export.
        if spec := self._take(Fault.SLOW_CREATE, route):
            time.sleep(spec.stall_seconds)
        if self._replaced_200(route):
            return
        payload = {**data, "id": record.id, "list_id": list_id, "created": int(record.created)}
        if spec := self._take(Fault.UNUSABLE_ID, route):
            payload["id"] = spec.id_value
        self._send_json(200, envelope_ok(payload))

    # --- retrieve -----------------------------------------------------------------------

    def _retrieve(self, route: Route) -> None:
        assert route.export_id is not None
        _, problems = resolve_list(self.sim.config, route, None)
        if problems:
            return self._send_error(412, INVALID_DATA, problems)
        if self._take(Fault.EXPORT_PURGED, route):
            self.sim.forget(route.export_id)
        record = self.sim.exports.get(route.export_id)
        if record is None or record.account_code != self.caller:  # another account's: unknown
            status = self.sim.config.unknown_export_status
            return self._send_error(status, NOT_FOUND, [f"no export with id {route.export_id}"])
        if route.file:  # the redirect's target: the export was ready when it redirected
            return self._send_export(route, self.sim.expected_body(record.id))
        if not self.sim.note_retrieve(record):
            return self._send_error(412, NOT_FINISHED)
        if spec := self._take(Fault.NEVER_READY, route):
            return self._send_error(412, spec.message or NOT_FINISHED)
        if spec := self._take(Fault.REDIRECT, route):
            return self._send_redirect(spec, record.id)
        if self._replaced_200(route):
            return
        self._send_export(route, self.sim.expected_body(record.id))

    def _send_redirect(self, spec: FaultSpec, export_id: str) -> None:
        """Send the retrieve on: elsewhere (another origin, as a signed link would), to a file
        on this origin, or back to the same retrieve (a loop)."""
        if spec.redirect_to == "loop":
            location = self.path
        elif spec.redirect_to == "same_origin":
            location = f"/files/{export_id}.zip"
        elif spec.redirect_to == "second_host":
            location = f"{self.sim.second_host.url}/files/{export_id}.zip"
        else:
            elsewhere = self.sim.other_origin.url
            location = f"{elsewhere}/files/{export_id}.zip?signature=sim-{export_id}"
        self._start_response(spec.redirect_status, 0, {"Location": location})

    def _send_export(self, route: Route, body: ExportBody | PackedBody) -> None:
        status, start, end = 200, 0, body.size
        if self.sim.config.honour_range:
            try:
                wanted = parse_range(self.headers.get("Range"), body.size)
            except ValueError:
                return self._send_error(416, "Range not satisfiable", [f"size is {body.size}"])
            if wanted:
                status, (start, end) = 206, wanted
                self.byte_range = wanted
        corrupt = self._take(Fault.CORRUPT_ZIP, route) is not None
        headers = {
            "Content-Type": "application/zip",
            "Content-Disposition": f'attachment; filename="{body.download_name}"',
        }
        if self.sim.config.honour_range:
            headers["Accept-Ranges"] = "bytes"
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{body.size}"
        self._start_response(status, end - start, headers)
        self._stream(body.iter_range(start, end, corrupt=corrupt), route)

    def _stream(self, chunks: Iterator[bytes], route: Route) -> None:
        """Send the body, slowed, dropped or truncated as the faults in force say."""
        trickle = self._take(Fault.SLOW_TRICKLE, route)
        stall = self._take(Fault.STALL, route)
        drop = self._take(Fault.DROP_CONNECTION, route)
        cut_spec = drop or self._take(Fault.TRUNCATE, route)
        cut = cut_spec.cut_point(self.expected) if cut_spec else None
        pause = stall.cut_point(self.expected) if stall else None
        rate = trickle.bytes_per_second if trickle else None
        for chunk in chunks:
            if pause is not None and stall and self.sent + len(chunk) >= pause:
                before, chunk = chunk[: pause - self.sent], chunk[pause - self.sent :]
                self._write(before, rate)
                self._stall(stall.stall_seconds)
                pause = None
            if cut is not None and self.sent + len(chunk) >= cut:
                self._write(chunk[: cut - self.sent], rate)
                break
            self._write(chunk, rate)
        if cut is None:
            return
        self.close_connection = True
        if drop:
            self._finish_call()  # before the reset, which the client sees at once
            self._abort_connection()

    # --- faults and responses -----------------------------------------------------------

    def _take(self, fault: Fault, route: Route) -> FaultSpec | None:
        spec = self.sim.faults.take(fault, route.endpoint, route.export_id)
        if spec is not None:
            self.fault = fault
        return spec

    def _replaced_200(self, route: Route) -> bool:
        """Answer 200 with something other than the expected body, if such a fault is due."""
        if self._take(Fault.JSON_ERROR_ON_200, route):
            self._send_json(200, envelope_error(500, FILE_NOT_AVAILABLE))
        elif self._take(Fault.HTML_ON_200, route):
            self._send_bytes(200, HTML_PAGE.format("Maintenance").encode(), "text/html")
        elif self._take(Fault.EMPTY_200, route):
            ctype = "application/zip" if route.endpoint == "retrieve" else "application/json"
            self._send_bytes(200, b"", ctype)
        else:
            return False
        return True
