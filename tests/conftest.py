"""Fixtures shared by every layer: the Ongage simulator and the embedded runtime."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest

from embedded_runtime.runtime import EmbeddedRuntime, OngageAccount
from ongage_simulator import Credentials, OngageSimulator, SimulatorConfig

CREDENTIALS = Credentials.demo()
# Fast, deterministic polling: one-second waits, a short deadline.
FAST_POLLING = {
    "initial_seconds": 1,
    "growth": 1.0,
    "max_seconds": 1,
    "jitter": 0.0,
    "deadline_seconds": 30,
}
REQUEST = {
    "name": "Daily actives / Zoë",
    "list_id": 1111,
    "segment_id": [77197],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "fields_selected": ["email", "first_name", "ocx_contact_id"],
    "status": ["active", "bounced"],
}


@pytest.fixture
def simulator() -> Iterator[OngageSimulator]:
    config = SimulatorConfig(credentials=CREDENTIALS, ready_after_retrieves=3, export_bytes=300_000)
    with OngageSimulator(config) as sim:
        yield sim


@pytest.fixture
def lambda_logs() -> io.StringIO:
    return io.StringIO()


def runtime_account(simulator: OngageSimulator) -> OngageAccount:
    return OngageAccount(
        simulator.url, CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code
    )


@pytest.fixture
def runtime(simulator: OngageSimulator, lambda_logs: io.StringIO) -> Iterator[EmbeddedRuntime]:
    account = runtime_account(simulator)
    # Retry intervals scaled down (Ongage's 429 guidance is minutes): the flow is unchanged.
    with EmbeddedRuntime(
        account, retry_time_scale=0.02, log_stream=lambda_logs, part_size_mib=5
    ) as embedded:
        yield embedded
