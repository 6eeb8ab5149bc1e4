"""The Ongage client against the simulator on loopback: every answer becomes the right type."""

from __future__ import annotations

import io
import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from requests import PreparedRequest, Request, Response
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from ongage_export.adapters.ongage_answers import check_zip_start, is_rejection
from ongage_export.adapters.ongage_client import (
    ExportDownload,
    NotReady,
    OngageClient,
    OngageCredentials,
)
from ongage_export.adapters.ongage_session import MAX_REDIRECTS, OngageSession
from ongage_export.adapters.origins import origin_of, trusted_origin
from ongage_export.domain.errors import (
    ConfigurationError,
    DownloadInterrupted,
    ExportRejected,
    OngageAuthError,
    OngageError,
    OngageExportUnusable,
    OngageRateLimited,
    OngageRedirectRefused,
    OngageRequestRejected,
    OngageUnavailable,
    OngageUnexpectedResponse,
)
from ongage_export.domain.request import parse_request
from ongage_export.settings import Settings
from ongage_simulator import Fault, OngageSimulator, SimulatorConfig
from ongage_simulator.other_origin import ReceivedRequest
from tests.conftest import CREDENTIALS, REQUEST

CREDENTIAL_HEADERS = ("X_USERNAME", "X_PASSWORD", "X_ACCOUNT_CODE")
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
    sim: OngageSimulator, fault: Fault, params: dict[str, Any], error: type, words: str
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


# The faults a retrieve of a ready export fails on in the client itself; the others are
# create's (create_rejected, unusable_id), answers the client passes on (never_ready, a
# same-origin redirect) or bodies only the landing's ZIP check refuses (empty, corrupt, slow).
FAILS_THE_RETRIEVE = {
    Fault.RATE_LIMITED, Fault.SERVER_ERROR, Fault.FORBIDDEN, Fault.EXPORT_PURGED, Fault.STALL,
    Fault.JSON_ERROR_ON_200, Fault.HTML_ON_200, Fault.DROP_CONNECTION, Fault.TRUNCATE,
}  # fmt: skip


def test_no_error_ever_carries_the_password(sim: OngageSimulator) -> None:
    """Whatever goes wrong, the message a notice would show has no credential in it."""
    messages: dict[Fault, str] = {}
    for fault in Fault:
        export_id = ready_export(sim)
        sim.inject(fault, times=1, **({"stall_seconds": 5} if fault is Fault.STALL else {}))
        try:
            answer = client(sim).retrieve(export_id, 1111)
            if isinstance(answer, ExportDownload):
                with answer:
                    list(answer.chunks())
        except (OngageError, DownloadInterrupted) as error:
            messages[fault] = f"{error} {error!r} {error.__cause__}"
        sim.clear_faults()

    assert set(messages) == FAILS_THE_RETRIEVE
    assert not [fault for fault, text in messages.items() if CREDENTIALS.password in text]


# --- 1. credentials never leave Ongage's origin -------------------------------------------------

CREDENTIAL_VALUES = (CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code)


def _credential_seen(received: list[ReceivedRequest]) -> list[str]:
    """Every credential header name or value that reached the other origin."""
    seen = []
    for request in received:
        for name, value in request.headers:
            if name.upper() in CREDENTIAL_HEADERS or any(v in value for v in CREDENTIAL_VALUES):
                seen.append(name)
        seen += [v for v in CREDENTIAL_VALUES if v in request.path]
    return seen


def ready_export(sim: OngageSimulator) -> str:
    export_id = create(sim)
    assert isinstance(client(sim).retrieve(export_id, 1111), NotReady)
    return export_id


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_elsewhere_is_followed_without_credentials(
    sim: OngageSimulator, status: int
) -> None:
    export_id = ready_export(sim)
    sim.inject(Fault.REDIRECT, redirect_status=status)
    download = client(sim).retrieve(export_id, 1111)
    assert isinstance(download, ExportDownload)
    with download:
        body = b"".join(download.chunks())
    assert body == sim.expected_body(export_id).read()
    received = sim.other_origin.received
    assert [r.path.split("?")[0] for r in received] == [f"/files/{export_id}.zip"]
    assert _credential_seen(received) == []


def test_a_resumed_download_redirected_elsewhere_keeps_its_range(sim: OngageSimulator) -> None:
    export_id = ready_export(sim)
    sim.inject(Fault.REDIRECT)
    download = client(sim).retrieve(export_id, 1111, start=1000)
    assert isinstance(download, ExportDownload) and download.start == 1000
    with download:
        assert b"".join(download.chunks()) == sim.expected_body(export_id).read()[1000:]
    assert _credential_seen(sim.other_origin.received) == []


def test_a_redirect_within_ongages_origin_keeps_the_credentials(sim: OngageSimulator) -> None:
    export_id = ready_export(sim)
    sim.inject(Fault.REDIRECT, redirect_to="same_origin")
    download = client(sim).retrieve(export_id, 1111)  # /files/ answers 401 without them
    assert isinstance(download, ExportDownload)
    with download:
        assert b"".join(download.chunks()) == sim.expected_body(export_id).read()
    assert sim.other_origin.received == []


def test_a_redirect_loop_stops_after_five_hops(sim: OngageSimulator) -> None:
    export_id = ready_export(sim)
    sim.inject(Fault.REDIRECT, redirect_to="loop", times=None)
    before = sim.stats.calls_by_endpoint["retrieve"]
    with pytest.raises(OngageRedirectRefused, match="more than 5 times"):
        client(sim).retrieve(export_id, 1111)
    assert sim.stats.calls_by_endpoint["retrieve"] - before == 1 + MAX_REDIRECTS


class ScriptedAdapter(BaseAdapter):
    """Answers from a script {url: (status, headers, body)} and records each request's headers."""

    def __init__(self, script: dict[str, tuple[int, dict[str, str], bytes]]):
        super().__init__()
        self.script = script
        self.sent: list[tuple[str, dict[str, str]]] = []

    def send(self, request: PreparedRequest, **kwargs: Any) -> Response:  # type: ignore[override]
        url = request.url or ""
        self.sent.append((url, dict(request.headers)))
        status, headers, body = self.script[url]
        response = Response()
        response.status_code, response.url, response.request = status, url, request
        response.headers = CaseInsensitiveDict({"Content-Length": str(len(body)), **headers})
        response.raw = io.BytesIO(body)
        return response

    def close(self) -> None:
        pass


ONGAGE = "https://api.ongage.test"
ZIP = b"PK\x05\x06" + b"\0" * 18  # an empty archive


def scripted_client(
    script: dict[str, tuple[int, dict[str, str], bytes]],
) -> tuple[OngageClient, ScriptedAdapter]:
    adapter = ScriptedAdapter(script)
    session = OngageSession(ONGAGE, GOOD.headers())
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return OngageClient(ONGAGE, GOOD, session=session), adapter


def test_an_https_to_http_downgrade_is_refused() -> None:
    retrieve = f"{ONGAGE}/api/export/7/retrieve"
    ongage, adapter = scripted_client(
        {retrieve: (302, {"Location": "http://api.ongage.test/files/7.zip"}, b"")}
    )
    with pytest.raises(OngageRedirectRefused, match="from https to plain http"):
        ongage.retrieve("7", None)
    assert [url for url, _ in adapter.sent] == [retrieve]  # the http URL was never asked


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://files.ongage.test/7.zip"])
def test_a_redirect_to_another_scheme_is_refused(target: str) -> None:
    redirect = (302, {"Location": target}, b"")
    ongage, _ = scripted_client({f"{ONGAGE}/api/export/7/retrieve": redirect})
    with pytest.raises(OngageRedirectRefused, match="only http and https"):
        ongage.retrieve("7", None)


def test_credentials_stay_off_once_a_chain_has_left_ongage() -> None:
    """Ongage -> CDN -> back to Ongage: neither the CDN nor the hop after it gets them."""
    cdn = "https://cdn.example.test/7.zip?sig=abc"
    back = f"{ONGAGE}/files/7.zip"
    ongage, adapter = scripted_client({
        f"{ONGAGE}/api/export/7/retrieve": (302, {"Location": cdn}, b""),
        cdn: (307, {"Location": back}, b""),
        back: (200, {"Content-Type": "application/zip"}, ZIP),
    })  # fmt: skip
    download = ongage.retrieve("7", None)
    assert isinstance(download, ExportDownload)
    (_, first), (_, at_cdn), (_, after) = adapter.sent
    assert set(GOOD.headers()) <= set(first)
    assert not set(GOOD.headers()) & set(at_cdn) and not set(GOOD.headers()) & set(after)


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("HTTPS://API.ONGAGE.TEST:443/api/export", True),
        ("https://api.ongage.test/other/path?x=1", True),
        ("http://api.ongage.test/api/export", False),  # another scheme
        ("https://api.ongage.test:8443/api/export", False),  # another port
        ("https://files.ongage.test/api/export", False),  # another host, even a sibling
        ("https://api.ongage.test.evil.test/", False),
    ],
)
def test_origin_is_scheme_host_and_port(url: str, same: bool) -> None:
    assert (origin_of(url) == origin_of(ONGAGE)) is same
    session = OngageSession(ONGAGE, GOOD.headers())
    prepared = session.prepare_request(Request("GET", url))
    assert ("X_PASSWORD" in prepared.headers) is same
    assert CREDENTIALS.password not in repr(session)


# --- 2. one export per run, whatever the create call answers -----------------------------------


_NOT_A_SEGMENT = ["12/34", "..", ".", "7000001?list_id=1", "7000001#x", "", " 7", "%2e%2e"]


@pytest.mark.parametrize(
    ("id_value", "words"),
    [*((value, f"the id {value!r} is not one URL path segment") for value in _NOT_A_SEGMENT),
     ("x" * 129, f"the id {'x' * 80!r} is not one URL path segment"),
     (None, "the id is missing"), (True, "the id is a boolean"),
     (1.5, "the id is a fractional number"), ([1], "the id is an array"),
     ({"id": 1}, "the id is an object")],
)  # fmt: skip
def test_a_create_whose_id_is_unusable_fails_once_and_says_what_came_back(
    sim: OngageSimulator, id_value: Any, words: str
) -> None:
    sim.inject(Fault.UNUSABLE_ID, id_value=id_value)
    with pytest.raises(OngageExportUnusable) as raised:
        create(sim)
    message = str(raised.value)
    assert "payload.id is unusable" in message and "start a new run" in message
    assert words in message
    assert sim.stats.creates == 1 and sim.stats.calls_by_endpoint == {"create": 1}


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        (Fault.JSON_ERROR_ON_200, "envelope reports an error (Export file is not available)"),
        (Fault.HTML_ON_200, "body is not JSON"),
        (Fault.EMPTY_200, "(an empty body)"),
    ],
)
def test_a_2xx_create_that_is_not_the_envelope_is_unusable(
    sim: OngageSimulator, fault: Fault, words: str
) -> None:
    sim.inject(fault, endpoint="create")
    with pytest.raises(OngageExportUnusable, match=re.escape(words)):
        create(sim)
    assert sim.stats.creates == 1  # Ongage acted: the run must not post again


@pytest.mark.parametrize(("status", "answer_id"), [(200, 83513), (201, "ab-12.C~d"), (202, "7")])
def test_any_2xx_with_a_usable_id_is_the_export(status: int, answer_id: object) -> None:
    body = json.dumps({"metadata": {"error": False}, "payload": {"id": answer_id}}).encode()
    ongage, _ = scripted_client({f"{ONGAGE}/1111/api/export": (status, {}, body)})
    assert ongage.create_export(parse_request(REQUEST)) == str(answer_id)


def test_an_unusable_answer_is_quoted_trimmed_and_without_credentials() -> None:
    echo = f"<html>{'x' * 500} user {CREDENTIALS.password} {CREDENTIALS.account_code}\n</html>"
    ongage, _ = scripted_client({f"{ONGAGE}/1111/api/export": (200, {}, echo.encode())})
    with pytest.raises(OngageExportUnusable) as raised:
        ongage.create_export(parse_request(REQUEST))
    message = str(raised.value)
    assert CREDENTIALS.password not in message and CREDENTIALS.account_code not in message
    assert "<html>xxx" in message and len(message) < 1000


@pytest.mark.parametrize("export_id", ["../7", "7/..", "7?x=1", "..", ""])
def test_retrieve_refuses_an_unusable_id_before_calling(
    sim: OngageSimulator, export_id: str
) -> None:
    with pytest.raises(ExportRejected, match="refused before calling Ongage"):
        client(sim).retrieve(export_id, 1111)
    assert sim.stats.total_calls == 0


# --- 3. a 412 that means "invalid" --------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "rejected"),
    [
        ("Export not found (no export with id 7000009)", True),
        ("Invalid data", True),
        ("Unknown export id", True),
        ("Export 7 does not exist", True),
        ("export doesn't exist", True),
        ("No such export", True),
        ("The export was deleted", True),
        ("Export has expired", True),
        ("Export is not finished yet", False),
        ("Invalid data or export is not finished yet", False),  # the documented sentence
        ("Export in progress", False),
        ("Processing, please wait", False),
        ("", False),
        ("Something Ongage never documented", False),  # unrecognised: keep polling
        ("invalidated cache", False),  # a word boundary, not a substring
    ],
)
def test_which_412_ends_the_run(message: str, rejected: bool) -> None:
    assert is_rejection(message) is rejected


def test_an_unknown_export_is_rejected_with_ongages_words(sim: OngageSimulator) -> None:
    with pytest.raises(ExportRejected) as raised:
        client(sim).retrieve("9999999", 1111)
    assert "Export not found" in str(raised.value) and "start a new run" in str(raised.value)
    assert raised.value.status == 412


def test_a_purged_export_is_rejected(sim: OngageSimulator) -> None:
    export_id = ready_export(sim)
    sim.inject(Fault.EXPORT_PURGED)
    with pytest.raises(ExportRejected, match="Export not found"):
        client(sim).retrieve(export_id, 1111)


@pytest.mark.parametrize("message", ["Invalid data or export is not finished yet", "Hold on"])
def test_a_412_that_may_mean_not_finished_keeps_polling(sim: OngageSimulator, message: str) -> None:
    export_id = ready_export(sim)
    sim.inject(Fault.NEVER_READY, message=message)
    answer = client(sim).retrieve(export_id, 1111)
    assert isinstance(answer, NotReady) and answer.message == message


# --- 6. a body that stops flowing ---------------------------------------------------------------


def test_a_stalled_body_is_noticed_by_the_read_timeout(sim: OngageSimulator) -> None:
    """Headers and half the body, then silence with the socket open, far beyond the timeout."""
    export_id = ready_export(sim)
    sim.inject(Fault.STALL, at=0.5, stall_seconds=600)
    download = client(sim).retrieve(export_id, 1111)  # read timeout: 2 s
    assert isinstance(download, ExportDownload)
    with (
        download,
        pytest.raises(
            DownloadInterrupted, match=r"stalled after \d+ bytes: nothing arrived for 2 s"
        ),
    ):
        for _ in download.chunks(4096):
            pass


@pytest.mark.parametrize(("value", "ok"), [("2", True), ("60", True), ("61", False), ("0", False)])
def test_the_read_timeout_may_only_be_shortened(value: str, ok: bool) -> None:
    env = {"EXPORT_BUCKET": "b", "IDEMPOTENCY_TABLE": "t", "ONGAGE_SECRET_ID": "s",
           "ONGAGE_BASE_URL": "https://api.ongage.net",
           "ONGAGE_READ_TIMEOUT_SECONDS": value}  # fmt: skip
    if ok:
        assert Settings.from_env(env).ongage_read_timeout_seconds == float(value)
    else:
        with pytest.raises(ConfigurationError, match="ONGAGE_READ_TIMEOUT_SECONDS"):
            Settings.from_env(env)


def test_a_404_on_retrieve_ends_as_an_unknown_export_after_one_call(sim: OngageSimulator) -> None:
    sim.config.unknown_export_status = 404
    before = sim.stats.calls_by_endpoint.get("retrieve", 0)
    with pytest.raises(ExportRejected, match=r"404 .*does not know the export.*start a new run"):
        client(sim).retrieve("9999999", 1111)
    assert sim.stats.calls_by_endpoint["retrieve"] - before == 1


def test_a_404_without_ongages_envelope_is_an_unknown_export_too() -> None:
    session = OngageSession(ONGAGE, {"X_PASSWORD": "p"})
    page = (404, {"Content-Type": "text/html"}, b"<h1>No</h1>")
    session.mount("https://", ScriptedAdapter({f"{ONGAGE}/api/export/7/retrieve": page}))
    ongage = OngageClient(ONGAGE, GOOD, session=session)
    with pytest.raises(ExportRejected, match="Ongage answered 404 for export 7:") as raised:
        ongage.retrieve("7", None)
    assert raised.value.status == 404


def test_a_trusted_second_host_gets_the_credentials_an_untrusted_one_none(
    sim: OngageSimulator,
) -> None:
    export_id = ready_export(sim)
    second = sim.second_host
    sim.inject(Fault.REDIRECT, redirect_to="second_host", times=2)
    with pytest.raises(OngageAuthError, match=r"not a trusted origin.*ongage_trusted_origins"):
        client(sim).retrieve(export_id, 1111)
    assert len(second.received) == 1 and _credential_seen(second.received) == []
    trusting = OngageClient(sim.url, GOOD, read_timeout=2, trusted_origins=[second.url])
    download = trusting.retrieve(export_id, 1111)
    assert isinstance(download, ExportDownload)
    with download:
        assert b"".join(download.chunks()) == sim.expected_body(export_id).read()
    assert second.downloads == 1 and _credential_seen(second.received[1:])


@pytest.mark.parametrize(
    ("text", "problem"),
    [("http://connect.ongage.net", "plain http"), ("https://connect.ongage.net/api", "more than"),
     ("ftp://x", "not an origin"), ("https://h:port", "not a number")],
)  # fmt: skip
def test_a_trusted_origin_is_https_scheme_host_port_only(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        trusted_origin(text)
    assert trusted_origin("https://Connect.Ongage.net/") == "https://connect.ongage.net"
    assert trusted_origin("http://127.0.0.2:8080") == "http://127.0.0.2:8080"
