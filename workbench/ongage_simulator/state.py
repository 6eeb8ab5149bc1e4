"""The simulator as its HTTP front ends (`server`, `other_origin`) see it: what they read and
change. A Protocol, so the front ends need not import the simulator that starts them."""

from __future__ import annotations

import threading
from typing import Any, Protocol

from ongage_simulator.archives import PackedBody
from ongage_simulator.config import SimulatorConfig
from ongage_simulator.export_body import ExportBody
from ongage_simulator.faults import FaultBook
from ongage_simulator.limits import AccountLimits, StatsRecorder
from ongage_simulator.records import ExportRecord, ServedRecord


class Origin(Protocol):
    """Another server the simulator runs (a redirect's target, the second Ongage host)."""

    @property
    def url(self) -> str: ...


class SimulatorState(Protocol):
    config: SimulatorConfig
    exports: dict[str, ExportRecord]
    faults: FaultBook
    limits: AccountLimits
    recorder: StatsRecorder
    stopping: threading.Event  # set on stop: trickling responses give up

    @property
    def other_origin(self) -> Origin: ...

    @property
    def second_host(self) -> Origin: ...

    def expected_body(self, export_id: str) -> ExportBody | PackedBody: ...

    def create_export(
        self, request: dict[str, Any], list_id: int, account: str | None = None
    ) -> ExportRecord: ...

    def forget(self, export_id: str) -> None: ...

    def note_retrieve(self, record: ExportRecord) -> bool: ...

    def record_served(self, record: ServedRecord) -> None: ...
