"""contracts/job.schema.json is the Job model's schema, and the ASL reads what the job has."""

from __future__ import annotations

import json
import re

from ongage_export.domain.job import SCHEMA_PATH, Job, schema_text
from statemachine import ASL_FILE

ASL = ASL_FILE


def test_the_published_schema_matches_the_model() -> None:
    assert SCHEMA_PATH.read_text() == schema_text(), (
        "contracts/job.schema.json is stale: run `python -m ongage_export.domain.job`"
    )


def test_every_job_field_the_workflow_reads_exists() -> None:
    read = set(re.findall(r"\$\.job\.([a-z_]+)", ASL.read_text()))
    assert read == {"next_wait_seconds", "landed", "give_up", "export_id", "list_id",
                    "request_name"}  # fmt: skip
    assert read <= set(Job.model_fields)
    assert json.loads(schema_text())["additionalProperties"] is False
