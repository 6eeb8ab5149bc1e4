"""The project's request rules and the simulator's own reading of Ongage's page must not drift.

The two are written apart (the simulator never imports `ongage_export.domain.request`): whatever the
project accepts must be accepted by the reading of the documentation, and whatever the
documentation forbids must be refused by both.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from ongage_export.domain.request import validate_request
from ongage_simulator import OngageSimulator, SimulatorConfig
from ongage_simulator.rules import documented_problems
from tests.conftest import CREDENTIALS
from tests.unit.test_request import VALID, mutated_requests, valid_requests

SIMULATOR = Path(__file__).resolve().parents[2] / "ongage_simulator"
SEGMENT = VALID
MAILING = {**{k: v for k, v in VALID.items() if k != "segment_id"}, "mailing_id": [4452]}
SUPPRESSION = {k: v for k, v in VALID.items() if k != "segment_id"}


def _documented(request: Any) -> list[str]:
    # The client always sends the body's list_id in the route prefix too.
    given_list = isinstance(request, dict) and "list_id" in request
    return documented_problems(request, list_id_given=given_list)


def test_the_simulator_does_not_import_the_projects_validator() -> None:
    for module in SIMULATOR.glob("*.py"):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [alias.name for alias in node.names]
                assert not any(n.startswith("ongage_export") for n in names), module.name


@settings(max_examples=400)
@given(st.one_of(valid_requests(), mutated_requests()))
def test_what_the_project_accepts_the_documentation_accepts(request: Any) -> None:
    if validate_request(request) == []:
        assert _documented(request) == []


@pytest.mark.parametrize(
    ("request_body", "why"),
    [
        ([SEGMENT], "not an object"),
        ({k: v for k, v in SEGMENT.items() if k != "name"}, "name is required"),
        ({**SEGMENT, "date_format": "yyyy-mm-dd"}, "date format not listed"),
        ({**SEGMENT, "file_format": "xlsx"}, "only csv"),
        ({k: v for k, v in SEGMENT.items() if k != "status"}, "status is required"),
        ({**SEGMENT, "status": ["gone"]}, "status not listed"),
        ({**MAILING, "status": ["bounced"]}, "bounced: segment exports only"),
        ({**SUPPRESSION, "status": ["complaint"]}, "complaint: segment exports only"),
        ({k: v for k, v in SUPPRESSION.items() if k != "list_id"}, "suppression needs list_id"),
        ({**SEGMENT, "segment_id": ["77197"]}, "ids are integers"),
        ({**SEGMENT, "list_id": "1111"}, "list_id is a number"),
    ],
)
def test_what_the_documentation_forbids_both_refuse(request_body: Any, why: str) -> None:
    assert _documented(request_body), why
    assert validate_request(request_body), why


@pytest.mark.parametrize("body", [SEGMENT, MAILING, SUPPRESSION], ids=["segment", "mailing", "sup"])
def test_each_documented_kind_is_created_by_the_simulator(body: dict[str, Any]) -> None:
    with OngageSimulator(SimulatorConfig(credentials=CREDENTIALS)) as sim:
        response = requests.post(
            f"{sim.url}/1111/api/export", json=body, headers=CREDENTIALS.headers(), timeout=5
        )
    assert response.status_code == 200, response.text
    assert response.json()["payload"]["list_id"] == 1111


def test_a_suppression_export_without_any_list_id_is_refused_by_the_simulator() -> None:
    body = {k: v for k, v in SUPPRESSION.items() if k != "list_id"}
    with OngageSimulator(SimulatorConfig(credentials=CREDENTIALS)) as sim:
        response = requests.post(
            f"{sim.url}/api/export", json=body, headers=CREDENTIALS.headers(), timeout=5
        )
        prefixed = requests.post(
            f"{sim.url}/1111/api/export", json=body, headers=CREDENTIALS.headers(), timeout=5
        )
    assert response.status_code == 412
    assert "suppression list export needs list_id" in response.text
    assert prefixed.status_code == 200  # a route prefix names the list too
