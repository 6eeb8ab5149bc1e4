"""The Ongage client against the simulator on loopback: every answer becomes the right type."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from ongage_export.errors import (
    DownloadInterrupted,
    OngageAuthError,
    OngageError,
    OngageRateLimited,
    OngageRequestRejected,
    OngageUnavailable,
    OngageUnexpectedResponse,
)
from ongage_export.ongage_client import (
    ExportDownload,
    NotReady,
    OngageClient,
    OngageCredentials,
    check_zip_start,
)
from ongage_export.request import parse_request
from ongage_simulator import Fault, OngageSimulator, SimulatorConfig
from tests.conftest import CREDENTIALS, REQUEST

GOOD = OngageCredentials(CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code)


@pytest.fixture
def sim() -> Iterator[OngageSimulator]:
    config = SimulatorConfig(credentials=CREDENTIALS, ready_after_retrieves=1, export_bytes=50_000)
    with OngageSimulator(config) as simulator:
        yield simulator


def client(sim: OngageSimulator, credentials: OngageCredentials = GOOD) -> OngageClient:
    return OngageClient(sim.url, credentials, connect_timeout=2, read_timeout=2)


def create(sim: OngageSimulator) -> str:
    return client(sim).create_export(parse_request(REQUEST))


def test_create_then_412_then_the_zip(sim: OngageSimulator) -> None:
    export_id = create(sim)
    assert sim.exports[export_id].list_id == 1111  # routed by list id

    first = client(sim).retrieve(export_id, 1111)
    assert isinstance(first, NotReady) and "not finished" in first.message.lower()
    second = client(sim).retrieve(export_id, 1111)
    assert isinstance(second, ExportDownload)
    with second:
        body = b"".join(second.chunks(chunk_size=4096))
    expected = sim.expected_body(export_id)
    assert len(body) == expected.size == second.declared_size
    check_zip_start(body[:4])


def test_range_resumes_where_asked(sim: OngageSimulator) -> None:
    export_id = create(sim)
    client(sim).retrieve(export_id, 1111)
    download = client(sim).retrieve(export_id, 1111, start=1000)
    assert isinstance(download, ExportDownload)
    with download:
        tail = b"".join(download.chunks())
    assert tail == sim.expected_body(export_id).read()[1000:]


@pytest.mark.parametrize(
    ("fault", "params", "error", "words"),
    [
        (Fault.FORBIDDEN, {}, OngageAuthError, "API access"),
        (Fault.RATE_LIMITED, {}, OngageRateLimited, "Calls per minute exceeded"),
        (Fault.SERVER_ERROR, {"status": 503}, OngageUnavailable, "503"),
        (Fault.SERVER_ERROR, {"status": 500, "html": True}, OngageUnavailable, "500"),
        (Fault.CREATE_REJECTED, {}, OngageRequestRejected, "Invalid data"),
    ],
)
def test_create_errors_are_typed_with_ongages_words(
    sim: OngageSimulator, fault: Fault, params: dict[str, object], error: type, words: str
) -> None:
    sim.inject(fault, endpoint="create", **params)
    with pytest.raises(error, match=words):
        create(sim)


def test_wrong_credentials(sim: OngageSimulator) -> None:
    wrong = OngageCredentials("demo", "nope", CREDENTIALS.account_code)
    with pytest.raises(OngageAuthError) as raised:
        client(sim, wrong).create_export(parse_request(REQUEST))
    assert raised.value.status == 401
    assert "nope" not in str(raised.value) and "nope" not in repr(wrong)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault.JSON_ERROR_ON_200, "Export file is not available"),
        (Fault.HTML_ON_200, "text/html instead of a ZIP"),
    ],
)
def test_a_200_that_is_not_a_zip(sim: OngageSimulator, fault: Fault, words: str) -> None:
    export_id = create(sim)
    client(sim).retrieve(export_id, 1111)
    sim.inject(fault)
    with pytest.raises(OngageUnexpectedResponse, match=words):
        client(sim).retrieve(export_id, 1111)


def test_an_empty_200_is_refused_at_the_first_bytes(sim: OngageSimulator) -> None:
    export_id = create(sim)
    client(sim).retrieve(export_id, 1111)
    sim.inject(Fault.EMPTY_200)
    download = client(sim).retrieve(export_id, 1111)
    assert isinstance(download, ExportDownload)
    with download, pytest.raises(OngageUnexpectedResponse, match="empty body"):
        check_zip_start(b"".join(download.chunks()))


@pytest.mark.parametrize("fault", [Fault.DROP_CONNECTION, Fault.TRUNCATE])
def test_a_body_that_stops_early_is_interrupted(sim: OngageSimulator, fault: Fault) -> None:
    export_id = create(sim)
    client(sim).retrieve(export_id, 1111)
    sim.inject(fault, at=0.5)
    download = client(sim).retrieve(export_id, 1111)
    assert isinstance(download, ExportDownload)
    with download, pytest.raises(DownloadInterrupted):
        for _ in download.chunks(4096):
            pass


def test_unreachable_and_silent_servers_are_unavailable() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    with pytest.raises(OngageUnavailable, match="could not reach Ongage"):
        OngageClient(f"http://127.0.0.1:{port}", GOOD).create_export(parse_request(REQUEST))

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(OngageUnavailable, match=r"did not answer within 0\.5 s"):
            OngageClient(url, GOOD, read_timeout=0.5).create_export(parse_request(REQUEST))


def test_no_error_ever_carries_the_password(sim: OngageSimulator) -> None:
    """Whatever goes wrong, the message a notice would show has no credential in it."""
    export_id = create(sim)
    for fault in Fault:
        sim.inject(fault, times=1)
        try:
            answer = client(sim).retrieve(export_id, 1111)
            if isinstance(answer, ExportDownload):
                with answer:
                    list(answer.chunks())
        except (OngageError, DownloadInterrupted) as error:
            assert CREDENTIALS.password not in f"{error} {error!r} {error.__cause__}"
        sim.clear_faults()
