"""The job: a run's progress as it travels in the workflow state, between the Lambda steps.

CreateExport returns it, the ASL keeps it at `$.job` and hands it to every RetrieveExport, which
returns it updated. Each handler validates what it receives with `Job.model_validate`; the JSON
shape is published as `contracts/job.schema.json` (`python -m ongage_export.domain.job` writes it; a
test checks the file matches). It never holds data of a contact or a credential.

What the ASL reads: `next_wait_seconds` (WaitForExport's SecondsPath; also the wait for a free
slot of the account's calls, call_limits.py), `landed` and `give_up`
(IsExportLanded), and `export_id`, `list_id`, `request_name` (the failure notice).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ongage_export.adapters.multipart import UploadProgress
from ongage_export.domain.accounts import DEFAULT_ACCOUNT
from ongage_export.domain.polling import PollingPolicy, Window

SCHEMA_PATH = Path(__file__).resolve().parents[3] / "contracts" / "job.schema.json"


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", title="OngageExportJob")

    export_id: str = Field(description="the Ongage export id")
    list_id: int | None = Field(description="the Ongage list, null for the account default")
    request_name: str
    account: str = Field(
        default=DEFAULT_ACCOUNT, description="whose credentials and limits the calls use"
    )
    request: dict[str, Any] = Field(description="what notices say about the request")
    execution_arn: str = Field(description="the Step Functions execution running this job")
    started_at: str = Field(description="when the execution started (ISO 8601)")
    polling: PollingPolicy
    polls: int = Field(ge=0, description="retrieves made so far")
    slot_refusals: int = Field(
        default=0, ge=0, description="asks for a slot of the account's calls refused in a row"
    )
    next_wait_seconds: int = Field(ge=0, description="WaitForExport sleeps this long")
    last_message: str | None = Field(description="Ongage's last 'not ready' words")
    not_ready_seconds: float = Field(
        default=0.0, ge=0, description="seconds after the start of the last 412 (0: none yet)"
    )
    ready_seconds: float | None = Field(
        default=None, ge=0, description="seconds after the start of the first 200 (null: none yet)"
    )
    window: Window | None = Field(
        default=None, description="when earlier runs say this one should be ready (learned polling)"
    )
    history_key: str | None = Field(
        default=None, description="where this run's readiness is recorded; null when not learning"
    )
    download: UploadProgress | None = Field(description="a landing resumed in the next call")
    landed: dict[str, Any] | None = Field(description="the success notice, once landed")
    give_up: str | None = Field(description="why polling stopped, and what to do")

    def state(self) -> dict[str, Any]:
        """The JSON the workflow carries."""
        return self.model_dump(mode="json")


def job_json_schema() -> dict[str, Any]:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **Job.model_json_schema()}


def schema_text() -> str:
    return json.dumps(job_json_schema(), indent=2) + "\n"


if __name__ == "__main__":  # python -m ongage_export.domain.job: write contracts/job.schema.json
    SCHEMA_PATH.write_text(schema_text())
    sys.stdout.write(f"wrote {SCHEMA_PATH}\n")
