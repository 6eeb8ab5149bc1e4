"""Faults the simulator injects, each for the next N matching calls ("fail twice, then succeed")."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

Endpoint = Literal["create", "retrieve"]
RedirectTo = Literal["elsewhere", "same_origin", "loop", "second_host"]


class Fault(StrEnum):
    RATE_LIMITED = "rate_limited"  # 429 "Calls per minute exceeded"
    SERVER_ERROR = "server_error"  # `status` (500/502/503...), envelope or `html` body
    FORBIDDEN = "forbidden"  # 403, as for an account without API access
    CREATE_REJECTED = "create_rejected"  # create answers 412 "Invalid data"
    NEVER_READY = "never_ready"  # a ready export still answers 412 `message` (default
    # "Export is not finished yet")
    EXPORT_PURGED = "export_purged"  # the export is forgotten: 412 as for an unknown id
    UNUSABLE_ID = "unusable_id"  # create makes the export but answers 200 with `id_value`
    SLOW_CREATE = "slow_create"  # create makes the export, then answers after `stall_seconds`
    REDIRECT = "redirect"  # a ready retrieve answers `redirect_status` to `redirect_to`:
    # "elsewhere" (the other-origin download server), "same_origin", "loop" (to itself), or
    # "second_host" (another Ongage host that requires the credentials: sim.second_host)
    STALL = "stall"  # `at` bytes of the body, then silence for `stall_seconds`, socket open
    JSON_ERROR_ON_200 = "json_error_on_200"  # 200, application/json, an error envelope
    HTML_ON_200 = "html_on_200"  # 200 with an HTML page instead of the ZIP
    EMPTY_200 = "empty_200"  # 200 with an empty body
    SLOW_TRICKLE = "slow_trickle"  # the body at `bytes_per_second`
    DROP_CONNECTION = "drop_connection"  # `at` bytes of the body, then a TCP reset
    TRUNCATE = "truncate"  # full Content-Length declared, clean close after `at` bytes
    CORRUPT_ZIP = "corrupt_zip"  # one member byte flipped: same size, CRC check fails

    @classmethod
    def _missing_(cls, value: object) -> Fault | None:
        # Accept the names used in the design notes ("drop_connection_at", "truncate_at").
        aliases = {"drop_connection_at": cls.DROP_CONNECTION, "truncate_at": cls.TRUNCATE}
        return aliases.get(str(value).lower().replace("-", "_"))

    @property
    def default_endpoint(self) -> Endpoint | None:
        """Where the fault applies unless told otherwise (None: any endpoint)."""
        if self in (Fault.RATE_LIMITED, Fault.SERVER_ERROR, Fault.FORBIDDEN):
            return None
        creates = (Fault.CREATE_REJECTED, Fault.UNUSABLE_ID, Fault.SLOW_CREATE)
        return "create" if self in creates else "retrieve"


@dataclass(frozen=True)
class FaultSpec:
    """One fault and its parameters; `times=None` means forever.

    `at` is a byte offset into the response body when an int, a fraction of it when a float.
    Body faults (and never_ready, redirect, *_on_200 on retrieve) are only used up by a
    retrieve of a ready export, so polls before readiness do not consume them.
    """

    fault: Fault
    times: int | None = 1
    endpoint: Endpoint | None = None  # None: the fault's default_endpoint
    export_id: str | None = None  # only retrieves of this export (retrieve faults)
    status: int = 503  # server_error
    html: bool = False  # server_error: an HTML page instead of the JSON envelope
    at: int | float = 0.5  # drop_connection, truncate
    bytes_per_second: int = 64 * 1024  # slow_trickle
    message: str | None = None  # never_ready: the 412's message
    id_value: Any = "../7000001"  # unusable_id: payload.id as answered (None: null)
    redirect_to: RedirectTo = "elsewhere"  # redirect
    redirect_status: int = 302  # redirect: 301, 302, 303, 307 or 308
    stall_seconds: float = 300.0  # stall: how long the body stops (the socket stays open);
    # slow_create: how long the answer to a create that made the export takes

    def __post_init__(self) -> None:
        object.__setattr__(self, "fault", Fault(self.fault))
        if self.times is not None and self.times < 1:
            raise ValueError("times must be a positive number, or None for forever")
        if self.endpoint not in (None, "create", "retrieve"):
            raise ValueError(f"endpoint must be 'create', 'retrieve' or None: {self.endpoint!r}")
        if not 500 <= self.status <= 599:
            raise ValueError(f"server_error status must be 5xx, not {self.status}")
        if isinstance(self.at, float) and not 0.0 <= self.at <= 1.0:
            raise ValueError(f"a fractional 'at' must be within 0..1, not {self.at}")
        if self.bytes_per_second < 1:
            raise ValueError("bytes_per_second must be positive")
        if self.redirect_to not in ("elsewhere", "same_origin", "loop", "second_host"):
            raise ValueError(
                f"redirect_to: elsewhere, same_origin, loop or second_host: {self.redirect_to!r}"
            )
        if self.redirect_status not in (301, 302, 303, 307, 308):
            raise ValueError(f"redirect_status must be 301-308, not {self.redirect_status}")
        if self.stall_seconds <= 0:
            raise ValueError("stall_seconds must be positive")

    def cut_point(self, length: int) -> int:
        """The byte count after which the body is cut, for a body of `length` bytes."""
        if isinstance(self.at, float):
            return int(length * self.at)
        return min(self.at, length)

    def matches(self, fault: Fault, endpoint: Endpoint, export_id: str | None) -> bool:
        wanted = self.endpoint or self.fault.default_endpoint
        return (
            self.fault is fault
            and wanted in (None, endpoint)
            and (self.export_id is None or self.export_id == export_id)
        )


class ActiveFault:
    """An injected fault and how many uses it has left; handed back by `inject`."""

    def __init__(self, spec: FaultSpec):
        self.spec = spec
        self.remaining = spec.times
        self.used = 0

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def __repr__(self) -> str:
        return f"ActiveFault({self.spec.fault.value}, used={self.used}, left={self.remaining})"


class FaultBook:
    """The injected faults; thread-safe, so tests can inject while requests are in flight."""

    def __init__(self, specs: tuple[FaultSpec, ...] = ()):
        self._lock = threading.Lock()
        self._faults = [ActiveFault(spec) for spec in specs]

    def add(self, spec: FaultSpec) -> ActiveFault:
        active = ActiveFault(spec)
        with self._lock:
            self._faults.append(active)
        return active

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[ActiveFault]:
        with self._lock:
            return [fault for fault in self._faults if not fault.exhausted]

    def take(
        self, fault: Fault, endpoint: Endpoint, export_id: str | None = None
    ) -> FaultSpec | None:
        """Use up one application of the oldest matching fault, if any."""
        with self._lock:
            for active in self._faults:
                if not active.exhausted and active.spec.matches(fault, endpoint, export_id):
                    active.used += 1
                    if active.remaining is not None:
                        active.remaining -= 1
                    return active.spec
        return None
