"""The request rules: examples a user would write, and properties over generated requests."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ongage_export.domain.request import (
    DATE_FORMATS,
    SEGMENT_ONLY_STATUSES,
    STATUSES,
    InvalidExportRequest,
    parse_request,
    validate_request,
)
from ongage_export.domain.request_schema import request_json_schema

VALID = {
    "name": "My export",
    "list_id": 1111,
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "segment_id": [77197, 77198],
    "status": ["active", "inactive"],
}


def test_documented_examples_are_valid() -> None:
    mailing = {**VALID, "mailing_id": [4452, 4458], "fields_selected": ["email", "first_name"]}
    del mailing["segment_id"]
    assert validate_request(VALID) == []
    assert validate_request(mailing) == []


def test_a_suppression_list_export_needs_only_the_list_id() -> None:
    """ "In case of Suppression list, Segment ID is not required"; "List ID is Required"."""
    suppression = {key: value for key, value in VALID.items() if key != "segment_id"}
    assert validate_request(suppression) == []
    assert parse_request(suppression).kind == "suppression"
    assert parse_request(VALID).kind == "segment"
    problems = validate_request({**suppression, "status": ["active", "complaint"]})
    assert problems == ["'status' ['complaint'] is only available for segment exports (segment_id)"]
    without_list = {key: value for key, value in suppression.items() if key != "list_id"}
    (problem,) = validate_request(without_list)
    assert "'segment_id' or 'mailing_id'" in problem and "'list_id' alone" in problem


def test_every_problem_is_listed_at_once() -> None:
    problems = validate_request({"mailing_id": [0], "status": ["bounced"], "file_format": "xls"})
    text = " | ".join(problems)
    assert len(problems) == 5
    for expected in (
        "'name' is required",
        "'mailing_id' must hold positive integers",
        "'date_format' is required",
        "'file_format' is 'xls'",
        "only available for segment exports",
    ):
        assert expected in text


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"segment_id": None, "list_id": None}, "exactly one of 'segment_id' or 'mailing_id'"),
        ({"segment_id": None, "list_id": None}, "or, for the list's suppression list, 'list_id'"),
        ({"segment_id": None, "status": ["bounced"]}, "only available for segment exports"),
        ({"mailing_id": [1]}, "not both"),
        ({"segment_id": []}, "non-empty array"),
        ({"segment_id": [True]}, "positive integers"),
        ({"list_id": -3}, "'list_id' must be a positive integer"),
        ({"list_id": "12"}, "'list_id' must be a positive integer"),
        ({"date_format": "yyyy-mm-dd"}, "'date_format' is 'yyyy-mm-dd'"),
        ({"status": []}, "'status' must be a non-empty array"),
        ({"status": ["active", "active"]}, "lists a value twice"),
        ({"status": ["gone"]}, "unknown values"),
        ({"fields_selected": ["../etc"]}, "field names"),
        ({"name": "   "}, "must not be empty"),
        ({"name": 7}, "'name' must be a string, not a number"),
        ({"name": "x" * 201}, "keep it to 200"),
        ({"name": "a\nb"}, "control characters"),
        ({"extra": 1}, "unknown field 'extra'"),
        # The Ongage URL comes from configuration only: a request cannot redirect the call.
        ({"ongage_url": "http://169.254.169.254/"}, "unknown field 'ongage_url'"),
        ({"segment_id": list(range(1, 1002))}, "at most 1000 are accepted"),
        ({"fields_selected": ["f"] * 501}, "at most 500 are accepted"),
    ],
)
def test_each_rule_explains_itself(change: dict[str, Any], expected: str) -> None:
    request = {**VALID, **change}
    request = {key: value for key, value in request.items() if value is not None}
    problems = validate_request(request)
    assert any(expected in problem for problem in problems), problems


def test_not_an_object() -> None:
    assert validate_request([1, 2]) == ["the request must be a JSON object, not an array"]


def test_parse_request_raises_with_all_problems() -> None:
    with pytest.raises(InvalidExportRequest) as raised:
        parse_request({})
    assert len(raised.value.problems) == 5  # name, source, date, file format, status
    assert parse_request(VALID).summary()["name"] == "My export"


# -- properties -------------------------------------------------------------------------------

ids = st.lists(st.integers(min_value=1, max_value=2**63 - 1), min_size=1, max_size=5)


@st.composite
def valid_requests(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["segment_id", "mailing_id", "suppression"]))
    by_segment = kind == "segment_id"
    allowed = (
        STATUSES if by_segment else tuple(s for s in STATUSES if s not in SEGMENT_ONLY_STATUSES)
    )
    request: dict[str, Any] = {
        "name": draw(
            st.text(min_size=1, max_size=200).filter(
                lambda s: s.strip() and all(ord(c) >= 32 for c in s)
            )
        ),
        "date_format": draw(st.sampled_from(DATE_FORMATS)),
        "file_format": "csv",
        "status": draw(st.lists(st.sampled_from(allowed), min_size=1, unique=True)),
    }
    if kind != "suppression":
        request[kind] = draw(ids)
    if kind == "suppression" or draw(st.booleans()):
        request["list_id"] = draw(st.integers(min_value=1, max_value=2**63 - 1))
    if draw(st.booleans()):
        field = st.from_regex(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,20}$", fullmatch=True)
        request["fields_selected"] = draw(st.lists(field, min_size=1, max_size=5, unique=True))
    return request


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**64) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def mutated_requests(draw: st.DrawFn) -> Any:
    request = copy.deepcopy(draw(valid_requests()))
    key = draw(st.sampled_from([*VALID.keys(), "mailing_id", "fields_selected", "other"]))
    if draw(st.booleans()):
        request.pop(key, None)
    else:
        request[key] = draw(json_values)
    return request


@given(valid_requests())
def test_generated_valid_requests_pass(request: dict[str, Any]) -> None:
    assert validate_request(request) == []


@settings(max_examples=300)
@given(st.one_of(valid_requests(), mutated_requests()))
def test_json_schema_agrees_with_the_validator(request: Any) -> None:
    """API Gateway's model (the schema) accepts exactly what the workflow accepts."""
    schema_ok = jsonschema.Draft4Validator(request_json_schema()).is_valid(request)
    assert schema_ok == (validate_request(request) == [])
