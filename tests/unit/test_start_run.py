"""The create use case: the export created once (or resumed, never created), history read under
the key the job records, and learning only when the run creates its export."""

from __future__ import annotations

import random
from typing import Any

import pytest

from ongage_export.domain.create import history_key, start_run
from ongage_export.domain.errors import InvalidExportRequest
from ongage_export.domain.polling import PollingPolicy, Readiness
from ongage_export.domain.request import ExportRequest

ARN = "arn:aws:states:us-east-1:123456789012:execution:ongage-export:run-1"
REQUEST = {
    "name": "Weekly", "list_id": 1000, "segment_id": [7], "date_format": "mm/dd/yyyy",
    "file_format": "csv", "status": ["active"],
}  # fmt: skip


class Calls:
    def __init__(self) -> None:
        self.created: list[ExportRequest] = []
        self.loaded: list[str] = []

    def create(self, request: ExportRequest) -> str:
        self.created.append(request)
        return "7000001"

    def load(self, key: str) -> list[Readiness]:
        self.loaded.append(key)
        return [Readiness(560, 640), Readiness(590, 620)]


def run(calls: Calls, **run_input: Any) -> Any:
    return start_run(
        {"request": REQUEST, **run_input},
        default_policy=PollingPolicy(),
        create=calls.create,
        load_history=calls.load,
        execution_arn=ARN,
        started_at="2026-11-26T10:00:00+00:00",
        rng=random.Random(1),
    )


def test_a_new_run_creates_once_and_learns_under_the_key_it_records() -> None:
    calls = Calls()
    job = run(calls)
    assert [request.name for request in calls.created] == ["Weekly"]
    assert job.export_id == "7000001"
    assert calls.loaded == [job.history_key]
    assert job.history_key == history_key(calls.created[0].work_shape())
    assert job.window is not None


def test_a_resumed_run_creates_nothing_and_does_not_learn() -> None:
    calls = Calls()
    job = run(calls, resume={"export_id": "6999999"})
    assert (calls.created, calls.loaded) == ([], [])
    assert job.export_id == "6999999" and job.history_key is None and job.window is None


def test_a_run_told_not_to_learn_reads_no_history() -> None:
    calls = Calls()
    job = run(calls, polling={"learn": False})
    assert len(calls.created) == 1 and calls.loaded == [] and job.history_key is None


def test_a_bad_resume_is_refused_before_anything_is_created() -> None:
    calls = Calls()
    with pytest.raises(InvalidExportRequest, match="'resume' must be"):
        run(calls, resume={"export_id": "../x"})
    assert calls.created == []
