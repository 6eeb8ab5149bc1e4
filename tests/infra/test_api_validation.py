"""POST /exports: API Gateway's model refuses each kind of bad body with a 400 saying why.

API Gateway validates against `start_request_schema()` and answers 400 with
`$context.error.validationErrorString`; here jsonschema (draft 4, as API Gateway) stands in.
Bodies beyond API Gateway's own 10 MB limit never reach the model (413 from API Gateway).
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from infra.api_mapping import start_request_schema
from tests.conftest import REQUEST

SUPPRESSION = {k: v for k, v in REQUEST.items() if k not in ("segment_id",)}
SUPPRESSION["status"] = ["active"]


def body(request: Any, **extra: Any) -> dict[str, Any]:
    return {"idempotency_key": "daily-2026-12-01", "request": request, **extra}


BAD = {
    "not an object": ["a", "list"],
    "request not an object": body([REQUEST]),
    "request a string": body("{}"),
    "oversized name": body({**REQUEST, "name": "x" * 300_000}),
    "oversized id list": body({**REQUEST, "segment_id": list(range(1, 5_000))}),
    "oversized unknown field": body({**REQUEST, "blob": "x" * 1_000_000}),
    "oversized key": body(REQUEST, idempotency_key="k" * 10_000),
    "list_id a string": body({**REQUEST, "list_id": "1111"}),
    "segment ids strings": body({**REQUEST, "segment_id": ["77197"]}),
    "status a string": body({**REQUEST, "status": "active"}),
    "polling a string": body(REQUEST, polling="fast"),
    "polling negative": body(REQUEST, polling={"deadline_seconds": -1}),
    "both id lists": body({**REQUEST, "mailing_id": [4452]}),
    "neither ids nor list": body({k: v for k, v in SUPPRESSION.items() if k != "list_id"}),
    "bounced in a suppression export": body({**SUPPRESSION, "status": ["bounced"]}),
}


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_body_is_refused_with_a_reason(kind: str) -> None:
    errors = list(jsonschema.Draft4Validator(start_request_schema()).iter_errors(BAD[kind]))
    assert errors, kind
    assert all(error.message for error in errors)  # what API Gateway puts in the 400


def test_a_suppression_list_export_is_accepted() -> None:
    jsonschema.Draft4Validator(start_request_schema()).validate(body(SUPPRESSION))


def test_the_400_says_what_is_wrong(synth: Any) -> None:
    responses = [
        r["Properties"]
        for r in synth.json["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::GatewayResponse"
    ]
    (bad_body,) = [r for r in responses if r["ResponseType"] == "BAD_REQUEST_BODY"]
    assert (
        "$context.error.validationErrorString" in bad_body["ResponseTemplates"]["application/json"]
    )
