"""Issue 11 end to end: the real workflow against answers that used to break its promises.

The redirect test is the one the issue asks for: the simulator sends the ready retrieve to a
second loopback server on another port that records every header it receives.
"""

from __future__ import annotations

import hashlib
from typing import Any

from embedded_runtime.runtime import EmbeddedRuntime, RunResult
from ongage_simulator import Fault, OngageSimulator
from tests.conftest import CREDENTIALS, FAST_POLLING, REQUEST

CREDENTIAL_HEADERS = {"X_USERNAME", "X_PASSWORD", "X_ACCOUNT_CODE"}


def run(runtime: EmbeddedRuntime, **run_input: Any) -> RunResult:
    return runtime.run({"request": REQUEST, "polling": FAST_POLLING, **run_input}, timeout=120)


def test_a_zip_behind_a_cross_origin_redirect_lands_and_no_credential_goes_there(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.inject(Fault.REDIRECT, times=None)
    result = run(runtime)

    assert result.status == "SUCCEEDED", result.cause
    (export_id,) = simulator.exports
    expected = simulator.expected_body(export_id)
    received = simulator.other_origin.received
    assert [r.path.split("?")[0] for r in received] == [f"/files/{export_id}.zip"]
    for request in received:
        names = {name.upper() for name, _ in request.headers}
        assert not names & CREDENTIAL_HEADERS, names
        text = " ".join([request.path, *(value for _, value in request.headers)])
        assert CREDENTIALS.password not in text and CREDENTIALS.account_code not in text
    # Landed and verified: the object in S3 is byte for byte the export Ongage built.
    landed = runtime.client("s3").get_object(Bucket=runtime.bucket, Key=result.output["key"])
    body = landed["Body"].read()
    assert hashlib.sha256(body).hexdigest() == expected.sha256() == result.output["sha256"]
    assert landed["Metadata"]["export-id"] == export_id


def test_a_create_answered_200_without_a_usable_id_is_posted_once(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    simulator.inject(Fault.UNUSABLE_ID, id_value="7000001/../7000002")
    result = run(runtime)

    assert (result.status, result.error) == ("FAILED", "OngageExportUnusable")
    assert simulator.stats.calls_by_endpoint == {"create": 1}
    assert len(simulator.exports) == 1
    assert "'7000001/../7000002'" in result.cause and "start a new run" in result.cause
    assert len(result.notices) == 1


def test_a_resumed_run_whose_export_ongage_does_not_know_ends_at_the_first_retrieve(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    result = run(runtime, resume={"export_id": "424242"})

    assert (result.status, result.error) == ("FAILED", "ExportRejected")
    assert simulator.stats.calls_by_endpoint == {"retrieve": 1}
    notice = result.notices[0]["message"]
    assert notice["export_id"] == "424242"
    assert "Export not found" in notice["cause"]  # Ongage's words
    assert "redrive" in notice["cause"]  # and what to do


def test_a_suppression_list_export_lands(
    runtime: EmbeddedRuntime, simulator: OngageSimulator
) -> None:
    request = {k: v for k, v in REQUEST.items() if k != "segment_id"}
    request["status"] = ["active"]
    result = run(runtime, request=request)

    assert result.status == "SUCCEEDED", result.cause
    (record,) = simulator.exports.values()
    assert "segment_id" not in record.request and record.list_id == 1111
