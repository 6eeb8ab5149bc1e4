"""The simulator object: its state (exports, faults, limits, statistics) and its lifecycle."""

from __future__ import annotations

import ipaddress
import itertools
import threading
import time
from collections import OrderedDict
from types import TracebackType
from typing import Any

from ongage_simulator.archives import PackedBody
from ongage_simulator.config import SimulatorConfig
from ongage_simulator.export_body import DEFAULT_DATE_FORMAT, DEFAULT_FIELDS, ExportBody
from ongage_simulator.faults import ActiveFault, Fault, FaultBook, FaultSpec
from ongage_simulator.limits import AccountLimits, SimulatorStats, StatsRecorder
from ongage_simulator.other_origin import OtherOrigin
from ongage_simulator.records import ExportRecord, ServedRecord
from ongage_simulator.server import SimulatorHTTPServer

_NOT_DOWNLOADS = (Fault.JSON_ERROR_ON_200, Fault.HTML_ON_200, Fault.EMPTY_200)
_CACHED_BODIES = 32  # bodies keep their CRC checkpoints, which make resumed ranges cheap


class OngageSimulator:
    """An Ongage API look-alike on loopback; a context manager that starts and stops it."""

    def __init__(
        self, config: SimulatorConfig | None = None, port: int = 0, host: str = "127.0.0.1"
    ):
        _require_loopback(host)
        self.config = config or SimulatorConfig()
        self.host = "127.0.0.1" if host == "localhost" else host
        self.exports: dict[str, ExportRecord] = {}
        self.served: list[ServedRecord] = []
        self.faults = FaultBook(self.config.faults)
        self.limits = AccountLimits()
        self._requested_port = port
        self.recorder = StatsRecorder()
        self._lock = threading.Lock()
        self._bodies: OrderedDict[str, ExportBody | PackedBody] = OrderedDict()
        self._ids = itertools.count(self.config.first_export_id)
        self.stopping = threading.Event()
        self._server: SimulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._other_origin: OtherOrigin | None = None
        self._second_host: OtherOrigin | None = None

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> OngageSimulator:
        if self._server is not None:
            return self
        self.stopping.clear()
        self._server = SimulatorHTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"ongage-simulator-{self.port}", daemon=True,
        )  # fmt: skip
        self._thread.start()
        self._other_origin = OtherOrigin(self, self.host)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self.stopping.set()  # trickling responses give up instead of holding the shutdown
        for origin in (self._other_origin, self._second_host):
            if origin is not None:
                origin.stop()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = self._other_origin = self._second_host = None

    def __enter__(self) -> OngageSimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return self._server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def other_origin(self) -> OtherOrigin:
        """The download server a REDIRECT fault sends retrieves to (same host, another port)."""
        if self._other_origin is None:
            raise RuntimeError("the simulator is not running")
        return self._other_origin

    @property
    def second_host(self) -> OtherOrigin:
        """Another Ongage host (config.second_host, 127.0.0.2: another loopback address), as
        connect.ongage.net is beside api.ongage.net: it serves a ready export's ZIP only with
        the account's credentials. Started when first used (the "second_host" redirect)."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        with self._lock:
            if self._second_host is None:
                self._second_host = OtherOrigin(
                    self, self.config.second_host, requires_credentials=True
                )
            return self._second_host

    @property
    def downloads(self) -> int:
        """Export bodies served (200/206 with the ZIP), by this origin and the other two."""
        others = [o for o in (self._other_origin, self._second_host) if o is not None]
        here = sum(
            r.status_code in (200, 206) and r.fault not in _NOT_DOWNLOADS for r in self.served
        )
        return here + sum(o.downloads for o in others)

    # --- what tests use -----------------------------------------------------------------

    @property
    def stats(self) -> SimulatorStats:
        return self.recorder.snapshot()

    def inject(self, fault: Fault | str, *, times: int | None = 1, **params: Any) -> ActiveFault:
        """Apply `fault` to the next `times` matching calls (None: forever); see FaultSpec."""
        return self.faults.add(FaultSpec(Fault(fault), times=times, **params))

    def clear_faults(self) -> None:
        self.faults.clear()

    def reset(self) -> None:
        """Forget served records, statistics, limit windows and faults (exports are kept)."""
        with self._lock:
            self.served.clear()
        self.recorder.reset()
        self.limits.reset()
        self.faults.clear()

    def expected_body(self, export_id: str) -> ExportBody | PackedBody:
        """The full body the export serves: `.size`, `.sha256()`, `.read()`, `.iter_range()`."""
        with self._lock:
            body = self._bodies.get(export_id)
            if body is None:
                body = _build_body(self.exports[export_id])
                self._bodies[export_id] = body
                if len(self._bodies) > _CACHED_BODIES:
                    self._bodies.popitem(last=False)
            self._bodies.move_to_end(export_id)
            return body

    # --- used by the request handler ----------------------------------------------------

    def create_export(
        self, request: dict[str, Any], list_id: int, account: str | None = None
    ) -> ExportRecord:
        """Create an export for `account` (an account code; default: the default account's)."""
        account = account or self.config.credentials.account_code
        with self._lock:
            record = ExportRecord(
                id=str(next(self._ids)),
                name=str(request["name"]),
                list_id=list_id,
                request=request,
                account_code=account,
                export_bytes=self.config.export_bytes,
                force_zip64=self.config.force_zip64,
                archive=self.config.archive,
            )
            self.exports[record.id] = record
        self.recorder.created(account)
        return record

    def forget(self, export_id: str) -> None:
        """Drop an export, as Ongage purging it would: retrieves answer as for an unknown id."""
        with self._lock:
            self.exports.pop(export_id, None)
            self._bodies.pop(export_id, None)

    def note_retrieve(self, record: ExportRecord) -> bool:
        """Count a retrieve of `record`; True when the export is ready to be served."""
        with self._lock:
            earlier = record.retrieves
            record.retrieves += 1
        old_enough = time.monotonic() - record.created_at >= self.config.ready_after_seconds
        return earlier >= self.config.ready_after_retrieves and old_enough

    def record_served(self, record: ServedRecord) -> None:
        with self._lock:
            self.served.append(record)


def _build_body(record: ExportRecord) -> ExportBody | PackedBody:
    body = ExportBody(
        record.id,
        record.name,
        fields=record.request.get("fields_selected") or DEFAULT_FIELDS,
        date_format=record.request.get("date_format", DEFAULT_DATE_FORMAT),
        target_bytes=record.export_bytes,
        force_zip64=record.force_zip64,
    )
    return body if record.archive == "stored" else PackedBody(body, record.archive)  # type: ignore[arg-type]


def _require_loopback(host: str) -> None:
    """Refuse to listen anywhere but IPv4 loopback: the simulator has fixed demo secrets."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"the simulator only listens on loopback, not {host!r}") from None
    if address.version != 4 or not address.is_loopback:
        raise ValueError(f"the simulator only listens on IPv4 loopback (127.x.x.x), not {host!r}")
