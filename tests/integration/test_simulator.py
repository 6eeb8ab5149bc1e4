"""The Ongage simulator, exercised over real HTTP on 127.0.0.1 with `requests`."""

from __future__ import annotations

import csv
import gc
import hashlib
import io
import logging
import re
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from ongage_simulator import (
    Credentials,
    ExportBody,
    Fault,
    FaultSpec,
    OngageSimulator,
    SimulatorConfig,
)
from ongage_simulator.archives import PASSWORD, Archive, PackedBody
from ongage_simulator.cli import build_parser
from ongage_simulator.csv_rows import DEFAULT_FIELDS, ROWS_PER_BLOCK
from ongage_simulator.rules import documented_problems

DEMO = Credentials.demo()
VALID: dict[str, Any] = {
    "name": "Daily actives",
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "segment_id": [77197, 77198],
    "status": ["active", "inactive"],
}
RATE_ENVELOPE = {
    "metadata": {"error": True},
    "payload": {"code": 429, "errors": [], "message": "Calls per minute exceeded"},
}

# What `requests` raises when a body stops short (reset or early close).
BROKEN = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)

MakeSim = Callable[..., OngageSimulator]


@pytest.fixture
def make_sim() -> Iterator[MakeSim]:
    """Start simulators with the given config knobs; all are stopped after the test."""
    started: list[OngageSimulator] = []

    def make(**knobs: Any) -> OngageSimulator:
        knobs.setdefault("export_bytes", 4096)
        sim = OngageSimulator(SimulatorConfig(**knobs)).start()
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers.update(DEMO.headers())
        yield session


def create(http: requests.Session, sim: OngageSimulator, path: str = "/api/export",
           **fields: Any) -> requests.Response:  # fmt: skip
    return http.post(sim.url + path, json={**VALID, **fields}, timeout=10)


def create_id(http: requests.Session, sim: OngageSimulator, **fields: Any) -> str:
    response = create(http, sim, **fields)
    assert response.status_code == 200, response.text
    return str(response.json()["payload"]["id"])


def retrieve(http: requests.Session, sim: OngageSimulator, export_id: str,
             **headers: str) -> requests.Response:  # fmt: skip
    return http.get(f"{sim.url}/api/export/{export_id}/retrieve", headers=headers, timeout=10)


def error_payload(response: requests.Response) -> dict[str, Any]:
    document = response.json()
    assert document["metadata"] == {"error": True}
    assert document["payload"]["code"] == response.status_code
    payload: dict[str, Any] = document["payload"]
    return payload


def csv_rows(zip_bytes: bytes) -> list[list[str]]:
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        assert archive.testzip() is None
        (member,) = archive.namelist()
        text = archive.read(member).decode("utf-8")
    return list(csv.reader(io.StringIO(text, newline="")))


# --- authentication and envelope ---------------------------------------------------------


def test_missing_or_wrong_credentials_get_401_envelope(make_sim: MakeSim) -> None:
    sim = make_sim()
    missing = requests.post(sim.url + "/api/export", json=VALID, timeout=5)
    wrong = requests.post(
        sim.url + "/api/export", json=VALID, timeout=5,
        headers={**DEMO.headers(), "X_PASSWORD": "nope"},
    )  # fmt: skip
    hyphenated = requests.post(
        sim.url + "/api/export", json=VALID, timeout=5,
        headers={"X-Username": "demo", "X-Password": "demo-secret", "X-Account-Code": "DEMOACCT"},
    )  # fmt: skip
    for response in (missing, wrong, hyphenated):
        assert response.status_code == 401
        assert response.headers["Content-Type"] == "application/json"
        payload = error_payload(response)
        assert payload["errors"] == []
        assert payload["message"]
    assert "X_PASSWORD" in error_payload(missing)["message"]
    assert sim.exports == {}


def test_account_without_api_access_gets_403(make_sim: MakeSim) -> None:
    no_access = Credentials("other", "pw", "NOAPI")
    sim = make_sim(no_api_access=(no_access,))
    response = requests.post(sim.url + "/api/export", json=VALID, headers=no_access.headers())
    assert response.status_code == 403
    assert error_payload(response)["message"]


def test_create_answers_envelope_with_string_id(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim()
    response = create(http, sim)
    assert response.status_code == 200
    document = response.json()
    assert document["metadata"] == {"error": False}
    payload = document["payload"]
    assert isinstance(payload["id"], str) and payload["id"]
    assert payload["name"] == VALID["name"]
    assert payload["list_id"] == 1000
    assert payload["status"] == VALID["status"]
    assert sim.exports[payload["id"]].request == VALID
    assert sim.stats.creates == 1


@pytest.mark.parametrize(
    ("path", "body_list_id", "expected"),
    [
        ("/api/export", None, 1000),
        ("/55/api/export", None, 55),
        ("/55/api/export?list_id=66", None, 66),
        ("/api/export?list_id=66", None, 66),
        ("/55/api/export?list_id=66", 77, 77),
        ("/55/api/export", 77, 77),
    ],
)
def test_list_id_precedence(
    make_sim: MakeSim, http: requests.Session, path: str, body_list_id: int | None, expected: int
) -> None:
    sim = make_sim()
    fields = {} if body_list_id is None else {"list_id": body_list_id}
    response = create(http, sim, path, **fields)
    assert response.status_code == 200, response.text
    export_id = response.json()["payload"]["id"]
    assert response.json()["payload"]["list_id"] == expected
    assert sim.exports[export_id].list_id == expected


def test_unknown_or_malformed_list_gets_412(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(known_list_ids=frozenset({1000, 55}))
    assert create(http, sim, "/55/api/export").status_code == 200
    unknown = create(http, sim, "/api/export?list_id=99")
    assert unknown.status_code == 412
    assert error_payload(unknown)["message"] == "Invalid data"
    assert "99" in error_payload(unknown)["errors"][0]
    assert create(http, sim, "/api/export?list_id=abc").status_code == 412
    assert create(http, sim, list_id=99).status_code == 412


def test_validation_problems_are_listed(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim()
    bad = {"name": "", "date_format": "yyyy", "file_format": "xls", "status": ["gone"]}
    response = http.post(sim.url + "/api/export", json=bad, timeout=5)
    assert response.status_code == 412
    payload = error_payload(response)
    assert payload["message"] == "Invalid data"
    assert payload["errors"] == documented_problems(bad, list_id_given=False)
    assert len(payload["errors"]) == 4  # ids, date format, file format, status
    assert len(payload["errors"]) >= 4
    assert sim.exports == {}


def test_invalid_json_gets_400(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim()
    response = http.post(sim.url + "/api/export", data=b"{not json", timeout=5)
    assert response.status_code == 400
    assert error_payload(response)["errors"]


def test_unknown_route_and_method(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim()
    assert http.get(sim.url + "/api/contacts", timeout=5).status_code == 404
    assert http.get(sim.url + "/api/export", timeout=5).status_code == 405
    assert http.post(sim.url + "/api/export/1/retrieve", timeout=5).status_code == 405


# --- retrieve: readiness, the ZIP, ranges ------------------------------------------------


def test_unknown_export_gets_412(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim()
    response = retrieve(http, sim, "424242")
    assert response.status_code == 412
    assert error_payload(response)["message"] == "Export not found"


def test_412_until_ready_then_a_valid_zip(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=2, export_bytes=20_000)
    fields = ["email", "first_name", "last_name", "birth_date", "city", "ocx_contact_id"]
    export_id = create_id(http, sim, fields_selected=fields, date_format="dd-mm-yy")
    for _ in range(2):
        pending = retrieve(http, sim, export_id)
        assert pending.status_code == 412
        assert error_payload(pending)["message"] == "Export is not finished yet"
    ready = retrieve(http, sim, export_id)
    assert ready.status_code == 200
    assert ready.headers["Content-Type"] == "application/zip"
    assert ready.headers["Content-Disposition"] == 'attachment; filename="Daily_actives.zip"'
    assert int(ready.headers["Content-Length"]) == len(ready.content)
    expected = sim.expected_body(export_id)
    assert len(ready.content) == expected.size
    assert hashlib.sha256(ready.content).hexdigest() == expected.sha256()
    with zipfile.ZipFile(io.BytesIO(ready.content)) as archive:
        assert archive.namelist() == ["Daily_actives.csv"]
    rows = csv_rows(ready.content)
    assert rows[0] == fields
    assert all(len(row) == len(fields) for row in rows)
    values = [value for row in rows[1:] for value in row]
    assert any("\n" in value for value in values)  # a quoted newline
    assert any("," in value for value in values) and any('"' in value for value in values)
    assert {"Zoë", "Łukasz"} <= {row[1] for row in rows[1:]}
    assert all(re.fullmatch(r"\d\d-\d\d-\d\d", row[3]) for row in rows[1:])
    assert [row[5] for row in rows[1:4]] == ["100000000000", "100000000001", "100000000002"]
    served = [record.status_code for record in sim.served]
    assert served == [412, 412, 200]
    assert sim.served[-1].complete and sim.served[-1].bytes_sent == expected.size


def test_ready_after_seconds(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0, ready_after_seconds=0.3)
    export_id = create_id(http, sim)
    assert retrieve(http, sim, export_id).status_code == 412
    time.sleep(0.35)
    assert retrieve(http, sim, export_id).status_code == 200


def test_config_changes_apply_while_running(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=100)
    export_id = create_id(http, sim)
    assert retrieve(http, sim, export_id).status_code == 412
    sim.config.ready_after_retrieves = 0
    assert retrieve(http, sim, export_id).status_code == 200


def test_default_fields_and_header_only_export(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0, export_bytes=0)
    response = retrieve(http, sim, create_id(http, sim))
    assert csv_rows(response.content) == [list(DEFAULT_FIELDS)]


@pytest.mark.parametrize("target", [1, 300, 4096, 250_000])
def test_csv_reaches_the_target_size(target: int) -> None:
    body = ExportBody("42", "sized", target_bytes=target)
    assert body.csv_size >= target
    assert body.csv_size - target < 200  # no more than one row over
    with zipfile.ZipFile(io.BytesIO(body.read())) as archive:
        assert archive.testzip() is None
        assert archive.infolist()[0].file_size == body.csv_size


@pytest.mark.parametrize(
    ("date_format", "pattern"),
    [
        ("mm/dd/yyyy", r"\d\d/\d\d/\d{4}"), ("mm/dd/yy", r"\d\d/\d\d/\d\d"),
        ("mm-dd-yyyy", r"\d\d-\d\d-\d{4}"), ("mm-dd-yy", r"\d\d-\d\d-\d\d"),
        ("dd/mm/yyyy", r"\d\d/\d\d/\d{4}"), ("dd/mm/yy", r"\d\d/\d\d/\d\d"),
        ("dd-mm-yyyy", r"\d\d-\d\d-\d{4}"), ("dd-mm-yy", r"\d\d-\d\d-\d\d"),
    ],
)  # fmt: skip
def test_dates_follow_date_format(date_format: str, pattern: str) -> None:
    rows = csv_rows(ExportBody("7", "d", DEFAULT_FIELDS, date_format, 3000).read())
    assert all(re.fullmatch(pattern, row[4]) for row in rows[1:])
    day_first = date_format.startswith("dd")
    assert any(int(row[4][:2]) > 12 for row in rows[1:]) == day_first


def test_every_row_carries_its_own_contact_id_across_blocks() -> None:
    # Blocks are the template with their number put in: the last block here is partial.
    body = ExportBody("9", "ids", DEFAULT_FIELDS, target_bytes=250_000)
    rows = csv_rows(body.read())[1:]
    assert len(rows) > ROWS_PER_BLOCK and len(rows) % ROWS_PER_BLOCK
    assert [int(row[3]) for row in rows] == [100_000_000_000 + i for i in range(len(rows))]
    assert all(row[0].split("@")[0].endswith(row[3]) for row in rows)


def test_bodies_are_deterministic_per_export_id() -> None:
    def body(export_id: str) -> ExportBody:
        return ExportBody(export_id, "same", target_bytes=5000)

    assert body("1").sha256() == body("1").sha256()
    assert body("1").sha256() != body("2").sha256()


def test_zip64_structure_when_forced(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0, force_zip64=True, export_bytes=10_000)
    export_id = create_id(http, sim)
    content = retrieve(http, sim, export_id).content
    assert content[:4] == b"PK\x03\x04"
    assert struct.unpack("<H", content[4:6])[0] == 45  # version needed: Zip64
    assert struct.unpack("<H", content[6:8])[0] & 0x08  # data descriptor
    assert b"PK\x06\x06" in content[-200:] and b"PK\x06\x07" in content[-200:]
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        info = archive.infolist()[0]
        assert info.file_size == info.compress_size == sim.expected_body(export_id).csv_size
    assert len(csv_rows(content)) > 10


def test_zip64_chosen_only_beyond_4_gib() -> None:
    small = ExportBody("1", "n", target_bytes=4 * 2**30 - 10_000)
    big = ExportBody("1", "n", target_bytes=5 * 2**30)  # sizes are known without generating
    assert not small.zip64 and small.size < 2**32
    assert big.zip64 and big.size > 5 * 2**30
    header = big.read(0, 30)
    assert struct.unpack("<H", header[4:6])[0] == 45
    assert struct.unpack("<II", header[18:26]) == (0xFFFFFFFF, 0xFFFFFFFF)


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-0", 0, 0), ("bytes=100-", 100, None), ("bytes=100-199", 100, 199),
     ("bytes=-50", -50, None), ("bytes=10-999999999", 10, None)],
)  # fmt: skip
def test_range_gives_206_with_the_same_bytes(
    make_sim: MakeSim, http: requests.Session, header: str, first: int, last: int | None
) -> None:
    sim = make_sim(ready_after_retrieves=0, export_bytes=300_000)
    export_id = create_id(http, sim)
    full = sim.expected_body(export_id).read()
    start = first % len(full)
    end = len(full) if last is None else last + 1
    response = retrieve(http, sim, export_id, Range=header)
    assert response.status_code == 206
    assert response.content == full[start:end]
    assert response.headers["Content-Range"] == f"bytes {start}-{end - 1}/{len(full)}"
    assert int(response.headers["Content-Length"]) == end - start
    assert sim.served[-1].range == (start, end)


def test_range_beyond_the_end_gets_416(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0)
    export_id = create_id(http, sim)
    size = sim.expected_body(export_id).size
    assert retrieve(http, sim, export_id, Range=f"bytes={size}-").status_code == 416


def test_ranges_ignored_when_not_honoured(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0, honour_range=False)
    export_id = create_id(http, sim)
    response = retrieve(http, sim, export_id, Range="bytes=100-")
    assert response.status_code == 200
    assert "Accept-Ranges" not in response.headers
    assert response.content == sim.expected_body(export_id).read()


def test_resume_mid_body_before_any_full_download(
    make_sim: MakeSim, http: requests.Session
) -> None:
    # 20 MB spans many blocks and CRC checkpoints; the first call is already a late range.
    sim = make_sim(ready_after_retrieves=0, export_bytes=20_000_000)
    export_id = create_id(http, sim)
    size = sim.expected_body(export_id).size
    tail = retrieve(http, sim, export_id, Range=f"bytes={size - 7_777_777}-").content
    head = retrieve(http, sim, export_id, Range=f"bytes=0-{size - 7_777_778}").content
    digest = hashlib.sha256(head + tail).hexdigest()
    assert digest == ExportBody(export_id, VALID["name"], target_bytes=20_000_000).sha256()


_RANGE_BODY = ExportBody("99", "ranges", target_bytes=250_000)  # three template blocks


@settings(max_examples=40, deadline=None)
@given(start=st.integers(0, 260_000), length=st.integers(0, 120_000))
def test_any_slice_equals_the_full_body_slice(start: int, length: int) -> None:
    full = _RANGE_BODY.read()
    assert _RANGE_BODY.read(start, start + length) == full[start : start + length]


def test_generation_streams_in_constant_memory(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0, export_bytes=300 * 1024 * 1024)
    export_id = create_id(http, sim)
    gc.collect()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    received = 0
    url = f"{sim.url}/api/export/{export_id}/retrieve"
    with http.get(url, stream=True, timeout=30) as response:
        for chunk in response.iter_content(1 << 20):
            received += len(chunk)
    growth_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert received == sim.expected_body(export_id).size > 300 * 1024 * 1024
    assert growth_mib < 50
    assert sim.served[-1].complete


# --- faults ------------------------------------------------------------------------------


def test_rate_limited_fault_twice_then_success(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim()
    fault = sim.inject(Fault.RATE_LIMITED, times=2, endpoint="create")
    first, second, third = (create(http, sim) for _ in range(3))
    assert [first.status_code, second.status_code, third.status_code] == [429, 429, 200]
    assert first.json() == RATE_ENVELOPE
    assert (fault.used, fault.remaining, fault.exhausted) == (2, 0, True)
    assert sim.stats.rate_limited == 2


def test_server_error_fault_envelope_or_html(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0)
    export_id = create_id(http, sim)
    sim.inject("server_error", status=502, html=True)
    sim.inject("server_error", status=500)
    html = retrieve(http, sim, export_id)
    assert html.status_code == 502 and html.headers["Content-Type"] == "text/html"
    assert "502" in html.text
    envelope = retrieve(http, sim, export_id)
    assert envelope.status_code == 500 and error_payload(envelope)["message"]
    assert retrieve(http, sim, export_id).status_code == 200


def test_forbidden_and_create_rejected(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim()
    sim.inject(Fault.FORBIDDEN)
    sim.inject(Fault.CREATE_REJECTED)
    assert create(http, sim).status_code == 403
    rejected = create(http, sim)
    assert rejected.status_code == 412 and error_payload(rejected)["message"] == "Invalid data"
    assert create(http, sim).status_code == 200


def test_slow_create_makes_the_export_before_it_answers(
    make_sim: MakeSim, http: requests.Session
) -> None:
    sim = make_sim()
    sim.inject(Fault.SLOW_CREATE, stall_seconds=30)
    with pytest.raises(requests.Timeout):
        http.post(sim.url + "/api/export", json=VALID, timeout=1)
    assert len(sim.exports) == 1  # Ongage has acted, though the caller never heard
    assert create(http, sim).status_code == 200  # used up: the next create answers at once


def test_never_ready_forever_until_cleared(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0)
    export_id = create_id(http, sim)
    sim.inject(Fault.NEVER_READY, times=None)
    for _ in range(5):
        response = retrieve(http, sim, export_id)
        assert response.status_code == 412
        assert error_payload(response)["message"] == "Export is not finished yet"
    sim.clear_faults()
    assert retrieve(http, sim, export_id).status_code == 200


def test_200_with_the_wrong_body(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0)
    export_id = create_id(http, sim)
    for fault in (Fault.JSON_ERROR_ON_200, Fault.HTML_ON_200, Fault.EMPTY_200):
        sim.inject(fault)
    as_json, as_html, empty = (retrieve(http, sim, export_id) for _ in range(3))
    assert as_json.status_code == 200 and as_json.headers["Content-Type"] == "application/json"
    assert as_json.json() == {
        "metadata": {"error": True},
        "payload": {"code": 500, "errors": [], "message": "Export file is not available"},
    }
    assert as_html.status_code == 200 and as_html.headers["Content-Type"] == "text/html"
    assert empty.status_code == 200 and empty.content == b""
    assert empty.headers["Content-Length"] == "0"
    assert retrieve(http, sim, export_id).content[:2] == b"PK"


def test_body_faults_are_not_used_up_by_polls(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=2, faults=(FaultSpec(Fault.JSON_ERROR_ON_200),))
    export_id = create_id(http, sim)
    assert [retrieve(http, sim, export_id).status_code for _ in range(2)] == [412, 412]
    assert retrieve(http, sim, export_id).headers["Content-Type"] == "application/json"
    assert retrieve(http, sim, export_id).headers["Content-Type"] == "application/zip"


def test_slow_trickle(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0, export_bytes=20_000)
    export_id = create_id(http, sim)
    sim.inject(Fault.SLOW_TRICKLE, bytes_per_second=50_000)
    started = time.monotonic()
    slow = retrieve(http, sim, export_id)
    assert time.monotonic() - started >= 0.35
    assert slow.content == sim.expected_body(export_id).read()


@pytest.mark.parametrize("at", [0.5, 1000])
def test_drop_connection_resets_mid_body(
    make_sim: MakeSim, http: requests.Session, at: float
) -> None:
    sim = make_sim(ready_after_retrieves=0, export_bytes=50_000)
    export_id = create_id(http, sim)
    size = sim.expected_body(export_id).size
    sim.inject("drop_connection_at", times=2, at=at)
    for _ in range(2):
        with pytest.raises(BROKEN):
            retrieve(http, sim, export_id)
    assert retrieve(http, sim, export_id).status_code == 200
    dropped = sim.served[:2]
    assert all(not record.complete and record.fault is Fault.DROP_CONNECTION for record in dropped)
    assert dropped[0].bytes_sent == (int(size * at) if isinstance(at, float) else at)
    assert sim.served[2].complete


def _raw_retrieve(sim: OngageSimulator, export_id: str) -> bytes:
    """Read one retrieve response off a raw socket until the server closes it."""
    headers = "".join(f"{name}: {value}\r\n" for name, value in DEMO.headers().items())
    request = f"GET /api/export/{export_id}/retrieve HTTP/1.1\r\nHost: x\r\n{headers}\r\n"
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as conn:
        conn.sendall(request.encode())
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def test_drop_is_a_reset_and_truncate_a_clean_close(
    make_sim: MakeSim, http: requests.Session
) -> None:
    sim = make_sim(ready_after_retrieves=0, export_bytes=50_000)
    export_id = create_id(http, sim)
    size = sim.expected_body(export_id).size
    sim.inject(Fault.TRUNCATE, at=100)
    truncated = _raw_retrieve(sim, export_id)  # ends with a FIN: no exception
    head, body = truncated.split(b"\r\n\r\n", 1)
    assert f"Content-Length: {size}".encode() in head
    assert body == sim.expected_body(export_id).read(0, 100)
    sim.inject(Fault.DROP_CONNECTION, at=100)
    with pytest.raises(ConnectionResetError):
        _raw_retrieve(sim, export_id)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        sim.inject(Fault.TRUNCATE, at=0.25)
        retrieve(http, sim, export_id)
    assert sim.served[-1].bytes_sent == size // 4


def test_corrupt_zip_keeps_size_but_fails_crc(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0, export_bytes=20_000)
    export_id = create_id(http, sim)
    sim.inject(Fault.CORRUPT_ZIP)
    corrupt = retrieve(http, sim, export_id).content
    expected = sim.expected_body(export_id)
    assert len(corrupt) == expected.size and corrupt != expected.read()
    with zipfile.ZipFile(io.BytesIO(corrupt)) as archive:
        assert archive.testzip() == "Daily_actives.csv"
    assert retrieve(http, sim, export_id).content == expected.read()


def test_faults_can_target_one_export(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(ready_after_retrieves=0)
    first, second = create_id(http, sim), create_id(http, sim)
    sim.inject(Fault.EMPTY_200, times=None, export_id=second)
    assert retrieve(http, sim, first).content[:2] == b"PK"
    assert retrieve(http, sim, second).content == b""
    assert retrieve(http, sim, second).content == b""


def test_fault_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        FaultSpec(Fault.SERVER_ERROR, status=404)
    with pytest.raises(ValueError):
        FaultSpec(Fault.TRUNCATE, at=1.5)
    with pytest.raises(ValueError):
        FaultSpec(Fault.TRUNCATE, times=0)
    with pytest.raises(ValueError):
        Fault("no_such_fault")
    assert Fault("truncate_at") is Fault.TRUNCATE


# --- limits and statistics ---------------------------------------------------------------


def test_calls_per_minute_limit(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim(rate_limit_per_minute=5, rate_window_seconds=1.0)
    statuses = [create(http, sim).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    assert create(http, sim).json() == RATE_ENVELOPE
    time.sleep(1.05)  # the window slides: calls are admitted again
    assert create(http, sim).status_code == 200
    stats = sim.stats
    assert stats.rate_limited == 2 and stats.creates == 6
    assert stats.calls_by_endpoint == {"create": 8} and stats.total_calls == 8


def test_parallel_limit_and_peak_concurrency(make_sim: MakeSim) -> None:
    sim = make_sim(ready_after_retrieves=0, max_parallel=2, export_bytes=30_000)
    with requests.Session() as session:
        session.headers.update(DEMO.headers())
        export_id = create_id(session, sim)
    sim.inject(Fault.SLOW_TRICKLE, times=2, bytes_per_second=60_000)
    results: list[int] = []

    def download() -> None:
        response = requests.get(
            f"{sim.url}/api/export/{export_id}/retrieve", headers=DEMO.headers(), timeout=10
        )
        results.append(len(response.content))

    threads = [threading.Thread(target=download) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while sim.stats.in_flight < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    refused = requests.post(sim.url + "/api/export", json=VALID, headers=DEMO.headers())
    for thread in threads:
        thread.join()
    assert refused.status_code == 429
    assert "parallel calls exceeded" in error_payload(refused)["message"].lower()
    assert results == [sim.expected_body(export_id).size] * 2
    stats = sim.stats
    assert stats.peak_concurrent == 3 and stats.in_flight == 0
    assert stats.rate_limited == 1
    assert requests.post(sim.url + "/api/export", json=VALID, headers=DEMO.headers()).ok


def test_stop_does_not_wait_for_a_trickling_download(
    make_sim: MakeSim, http: requests.Session
) -> None:
    sim = make_sim(ready_after_retrieves=0, export_bytes=100_000)
    export_id = create_id(http, sim)
    sim.inject(Fault.SLOW_TRICKLE, bytes_per_second=1000)
    errors: list[Exception] = []

    def download() -> None:
        try:
            retrieve(requests.Session(), sim, export_id, **DEMO.headers())
        except requests.RequestException as error:
            errors.append(error)

    thread = threading.Thread(target=download)
    thread.start()
    deadline = time.monotonic() + 5
    while sim.stats.in_flight < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    sim.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert errors and not sim.served[-1].complete


def test_bad_content_length_is_refused(make_sim: MakeSim) -> None:
    sim = make_sim()
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as conn:
        conn.sendall(b"POST /api/export HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n")
        assert conn.recv(100).startswith(b"HTTP/1.1 413")


# --- safety, lifecycle and CLI -----------------------------------------------------------


def test_only_loopback_hosts() -> None:
    for host in ("0.0.0.0", "192.168.1.10", "example.com", "::1"):
        with pytest.raises(ValueError):
            OngageSimulator(host=host)
    with OngageSimulator(host="localhost") as sim:
        assert sim.url.startswith("http://127.0.0.1:")


def test_password_is_never_logged(
    make_sim: MakeSim, http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="ongage_simulator")
    sim = make_sim(ready_after_retrieves=0)
    retrieve(http, sim, create_id(http, sim))
    requests.get(sim.url + "/api/export/1/retrieve", headers={"X_PASSWORD": "wrong-secret"})
    assert "/api/export" in caplog.text
    assert "demo-secret" not in caplog.text and "wrong-secret" not in caplog.text
    assert "demo-secret" not in repr(DEMO) and "demo-secret" not in repr(sim.config)


def test_cli_parses_faults() -> None:
    args = build_parser().parse_args(
        ["--fault", "drop_connection_at:2", "--fault", "never_ready:forever"]
    )
    assert [(spec.fault, spec.times) for spec in args.fault] == [
        (Fault.DROP_CONNECTION, 2), (Fault.NEVER_READY, None),
    ]  # fmt: skip
    assert args.port == 8765 and args.username == "demo"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--fault", "bogus"])


def test_cli_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "ongage_simulator.cli", "--port", "0", "--ready-after-retrieves",
         "0", "--export-bytes", "100"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        printed = "".join(process.stdout.readline() for _ in range(5))
        assert "ONGAGE_PASSWORD=demo-secret" in printed and "ONGAGE_ACCOUNT_CODE" in printed
        response = requests.post(url + "/api/export", json=VALID, headers=DEMO.headers())
        assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0


def _one_export_from_a_fresh_simulator_command() -> int:
    process = subprocess.Popen(
        [sys.executable, "-m", "ongage_simulator.cli", "--port", "0"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        response = requests.post(url + "/api/export", json=VALID, headers=DEMO.headers())
        return int(response.json()["payload"]["id"])
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0


def test_a_restarted_simulator_command_never_repeats_an_export_id() -> None:
    """Its exports may have landed in a local AWS that outlives it: a repeated id would find
    the earlier export's object at the key and report it as this one."""
    first = _one_export_from_a_fresh_simulator_command()
    second = _one_export_from_a_fresh_simulator_command()
    assert second > first > 7_000_001


# --- knobs of issue 11 ----------------------------------------------------------------------------


def _ready(http: requests.Session, sim: OngageSimulator) -> str:
    export_id = create_id(http, sim)
    for _ in range(sim.config.ready_after_retrieves):
        assert retrieve(http, sim, export_id).status_code == 412
    return export_id


def test_redirect_elsewhere_points_at_another_port_that_needs_no_credentials(
    make_sim: MakeSim, http: requests.Session
) -> None:
    sim = make_sim()
    export_id = _ready(http, sim)
    sim.inject(Fault.REDIRECT, redirect_status=307)
    answer = http.get(
        f"{sim.url}/api/export/{export_id}/retrieve", allow_redirects=False, timeout=10
    )
    assert answer.status_code == 307
    location = answer.headers["Location"]
    assert location.startswith(sim.other_origin.url) and sim.other_origin.url != sim.url
    download = requests.get(location, headers={"Range": "bytes=10-"}, timeout=10)
    assert download.status_code == 206
    assert download.content == sim.expected_body(export_id).read()[10:]
    (seen,) = sim.other_origin.received
    assert dict(seen.headers)["Range"] == "bytes=10-"


def test_redirect_within_the_origin_still_asks_for_credentials(
    make_sim: MakeSim, http: requests.Session
) -> None:
    sim = make_sim()
    export_id = _ready(http, sim)
    sim.inject(Fault.REDIRECT, redirect_to="same_origin")
    answer = http.get(
        f"{sim.url}/api/export/{export_id}/retrieve", allow_redirects=False, timeout=10
    )
    assert answer.headers["Location"] == f"/files/{export_id}.zip"
    assert requests.get(f"{sim.url}/files/{export_id}.zip", timeout=10).status_code == 401
    assert http.get(f"{sim.url}/files/{export_id}.zip", timeout=10).status_code == 200


def test_a_purged_export_answers_like_an_unknown_one(
    make_sim: MakeSim, http: requests.Session
) -> None:
    sim = make_sim()
    export_id = create_id(http, sim)
    sim.inject(Fault.EXPORT_PURGED)
    answer = retrieve(http, sim, export_id)
    assert answer.status_code == 412 and error_payload(answer)["message"] == "Export not found"
    assert export_id not in sim.exports


def test_unusable_id_and_spoiled_200s_on_create_still_create_the_export(
    make_sim: MakeSim, http: requests.Session
) -> None:
    sim = make_sim()
    sim.inject(Fault.UNUSABLE_ID, id_value="a/b")
    assert create(http, sim).json()["payload"]["id"] == "a/b"
    sim.inject(Fault.HTML_ON_200, endpoint="create")
    assert create(http, sim).headers["Content-Type"] == "text/html"
    assert sim.stats.creates == 2  # Ongage acted both times


def test_never_ready_says_what_it_is_told(make_sim: MakeSim, http: requests.Session) -> None:
    sim = make_sim()
    export_id = _ready(http, sim)
    sim.inject(Fault.NEVER_READY, message="Hold on")
    assert error_payload(retrieve(http, sim, export_id))["message"] == "Hold on"


def test_a_stall_sends_headers_and_part_of_the_body_then_nothing(
    make_sim: MakeSim, http: requests.Session
) -> None:
    sim = make_sim(export_bytes=100_000)
    export_id = _ready(http, sim)
    sim.inject(Fault.STALL, at=1000, stall_seconds=600)
    headers = "".join(f"{name}: {value}\r\n" for name, value in DEMO.headers().items())
    request = f"GET /api/export/{export_id}/retrieve HTTP/1.1\r\nHost: x\r\n{headers}\r\n"
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as conn:
        conn.sendall(request.encode())
        received = b""
        conn.settimeout(1.0)
        with pytest.raises(TimeoutError):  # the socket stays open, and silent
            while chunk := conn.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and len(body) == 1000


def test_new_fault_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        FaultSpec(Fault.REDIRECT, redirect_status=200)
    with pytest.raises(ValueError):
        FaultSpec(Fault.REDIRECT, redirect_to="mars")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        FaultSpec(Fault.STALL, stall_seconds=0)


@pytest.mark.parametrize("archive", ["deflate", "bzip2", "lzma", "zipcrypto", "deflate64"])
def test_packed_exports_are_what_real_writers_make(archive: Archive) -> None:
    source = ExportBody("7", "packed", target_bytes=30_000)
    packed = PackedBody(source, archive)
    with zipfile.ZipFile(io.BytesIO(packed.read())) as opened:
        (info,) = opened.infolist()
        if archive == "deflate64":  # Deflate stored blocks are valid Deflate64: read as Deflate
            assert info.compress_type == 9
            raw = packed.read()[
                30 + len(info.filename) : 30 + len(info.filename) + info.compress_size
            ]
            assert zlib.decompress(raw, -15) == b"".join(source.iter_csv())
        else:
            assert opened.read(info, pwd=PASSWORD) == b"".join(source.iter_csv())
            assert bool(info.flag_bits & 0x1) == (archive == "zipcrypto")
    assert b"".join(packed.iter_range()) == packed.read()
