"""The batch workflow's shape: what its contract with the export workflow, the notice's readers
and the on-call person rests on (its behaviour runs in
tests/integration/local_aws/test_child_executions.py and the batch tests of integration/e2e)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from statemachine import ASL_FILE, BATCH_ASL_FILE

SYNC_CHILD = "arn:aws:states:::states:startExecution.sync:2"


@pytest.fixture(scope="module")
def batch() -> dict[str, Any]:
    return dict(json.loads(BATCH_ASL_FILE.read_text()))


@pytest.fixture(scope="module")
def export() -> dict[str, Any]:
    return dict(json.loads(ASL_FILE.read_text()))


def _map(batch: dict[str, Any]) -> dict[str, Any]:
    (state,) = [s for s in batch["States"].values() if s["Type"] == "Map"]
    return dict(state)


def _iteration(batch: dict[str, Any]) -> dict[str, Any]:
    return dict(_map(batch)["ItemProcessor"]["States"])


def _run_export(batch: dict[str, Any]) -> dict[str, Any]:
    (task,) = [s for s in _iteration(batch).values() if s.get("Resource") == SYNC_CHILD]
    return dict(task)


def test_an_inline_map_over_the_exports_with_room_for_the_limiter_to_decide(batch):
    state = _map(batch)
    assert state["ItemsPath"] == "$.exports"
    assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "INLINE"
    assert state["MaxConcurrency"] == 40


def test_each_element_starts_one_export_run_with_a_single_runs_input(batch):
    task = _run_export(batch)
    assert task["Parameters"]["StateMachineArn"] == "${ExportStateMachineArn}"
    assert set(task["Parameters"]["Input"]) == {
        "request.$",
        "polling.$",
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$",
    }
    name = task["Parameters"]["Name.$"]
    # derived from the batch's name and the element's index only: a retry finds the same child
    assert "$$.Execution.Name" in name and "$.index" in name
    assert "UUID" not in name and "Random" not in name


def test_every_failure_of_an_iteration_is_caught_into_a_summary(batch):
    (catch,) = _run_export(batch)["Catch"]
    assert catch["ErrorEquals"] == ["States.ALL"]
    iteration = _iteration(batch)
    ends = {name: s for name, s in iteration.items() if s.get("End")}
    statuses = sorted(s["Parameters"]["status"] for s in ends.values())
    assert statuses == ["FAILED", "FAILED", "SUCCEEDED"]
    for summary in ends.values():
        fields = {key.removesuffix(".$") for key in summary["Parameters"]}
        assert {"index", "account", "status", "execution_arn"} <= fields
    assert not [s for s in iteration.values() if s["Type"] == "Fail"]


def test_a_landed_summary_carries_what_run_json_prints(batch):
    (landed,) = [
        s
        for s in _iteration(batch).values()
        if s.get("Parameters", {}).get("status") == "SUCCEEDED"
    ]
    assert {"export_id.$", "bucket.$", "key.$", "bytes.$", "sha256.$"} <= set(landed["Parameters"])


def test_one_batch_notice_filterable_as_a_batch_retried_as_the_exports_are(batch, export):
    publishes = [s for s in batch["States"].values() if s.get("Resource", "").endswith("publish")]
    (notify,) = publishes
    attributes = notify["Parameters"]["MessageAttributes"]
    assert attributes["kind"] == {"DataType": "String", "StringValue": "batch"}
    assert "StringValue.$" in attributes["status"]
    assert notify["Parameters"]["Subject.$"].startswith("States.Format('Ongage batch ")
    assert notify["Retry"] == export["States"]["NotifyFailure"]["Retry"]
    assert notify["TimeoutSeconds"] == export["States"]["NotifyFailure"]["TimeoutSeconds"]


def test_the_batch_fails_when_an_export_failed_and_its_cause_says_how_many(batch):
    (fail,) = [s for s in batch["States"].values() if s["Type"] == "Fail" and s.get("CausePath")]
    assert fail["Error"] == "BatchExportsFailed"
    (describe,) = [s for s in batch["States"].values() if s.get("Next") == _name(batch, fail)]
    assert "exports failed" in describe["Parameters"]["cause.$"]
    assert "batch notice" in describe["Parameters"]["cause.$"]


def _name(batch: dict[str, Any], state: dict[str, Any]) -> str:
    (name,) = [n for n, s in batch["States"].items() if s is state]
    return name
