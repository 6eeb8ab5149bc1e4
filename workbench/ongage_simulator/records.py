"""What the simulator remembers: the exports created and every answer to a retrieve."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ongage_simulator.faults import Fault


@dataclass
class ExportRecord:
    """An export created through the API."""

    id: str
    name: str
    list_id: int
    request: dict[str, Any]  # the create body, as sent
    account_code: str  # whose export: only that account's calls find it
    export_bytes: int  # the config in force at creation, so the body never changes
    force_zip64: bool
    archive: str = "stored"
    created_at: float = field(default_factory=time.monotonic)
    created: float = field(default_factory=time.time)  # wall clock, for the API payload
    retrieves: int = 0


@dataclass
class ServedRecord:
    """One answer to a retrieve call; `range` is half-open (start, end) when a 206 was sent."""

    export_id: str
    status_code: int
    bytes_sent: int  # body bytes written to the socket
    complete: bool  # the whole declared Content-Length was written
    range: tuple[int, int] | None = None
    fault: Fault | None = None
