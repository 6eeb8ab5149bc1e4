"""docs/operations.md, followed literally: each of its command blocks runs in bash, as pasted by
the person on call, against the stack deployed to the local AWS, after the situation it is for
was brought about; then the situation is checked to be fixed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from local_aws.deployment import LocalDeployment, OngageSecret
from ongage_simulator import Fault
from tests.e2e.conftest import CREDENTIALS, LocalTarget

pytestmark = pytest.mark.e2e

RUNBOOK = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
BLOCK = re.compile(r"<!-- runbook: (?P<name>[\w-]+) -->\n```bash\n(?P<script>.*?)```", re.DOTALL)
REQUEST = {
    "name": "runbook actives",
    "list_id": 1111,
    "segment_id": [77197],
    "date_format": "mm/dd/yyyy",
    "file_format": "csv",
    "status": ["active"],
}
FAST = {"initial_seconds": 1, "growth": 1.0, "max_seconds": 1, "jitter": 0.0}
RIGHT_SECRET = OngageSecret(CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code)


def blocks() -> dict[str, str]:
    found = {match["name"]: match["script"] for match in BLOCK.finditer(RUNBOOK.read_text())}
    assert "setup" in found, "docs/operations.md lost its setup block"
    return found


def follow(target: LocalTarget | LocalDeployment, *names: str, cwd: Path) -> str:
    """The setup block and then `names`, in one bash as a user pastes them; their output."""
    deployed = target.deployed if isinstance(target, LocalTarget) else target
    script = "set -euo pipefail\n" + "\n".join(blocks()[name] for name in ("setup", *names))
    environment = {
        **os.environ,
        **deployed.environment,
        "ONGAGE_EXPORT_STACK": deployed.stack,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=environment, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, f"{names} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def start(target: LocalTarget, polling: dict[str, int | float]) -> str:
    sfn = target.deployed.client("stepfunctions")
    return str(
        sfn.start_execution(
            stateMachineArn=target.deployed.outputs["StateMachineArn"],
            name=f"runbook-{uuid.uuid4().hex[:12]}",
            input=json.dumps({"request": REQUEST, "polling": polling}),
        )["executionArn"]
    )


def ended(target: LocalTarget, arn: str, timeout: float = 120) -> str:
    sfn = target.deployed.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, f"{arn} still running"
        time.sleep(0.5)
    return str(status)


def newest_run(target: LocalTarget) -> str:
    sfn = target.deployed.client("stepfunctions")
    runs = sfn.list_executions(stateMachineArn=target.deployed.outputs["StateMachineArn"])
    return str(max(runs["executions"], key=lambda run: run["startDate"])["executionArn"])


# Every block of the runbook, and the test that runs it (the curation queue exists only with the
# optional consumer: test_local_consumer.py deploys it).
COVERED = {
    "drain-curation": "test_local_consumer.test_the_curation_dead_letter_queue_is_drained",
    "find-failed": "test_a_failed_run_is_found_and_read_with_its_history_and_logs",
    "history": "test_a_failed_run_is_found_and_read_with_its_history_and_logs",
    "logs": "test_a_failed_run_is_found_and_read_with_its_history_and_logs",
    "rotate": "test_a_rotated_secret_and_a_redrive_land_the_export",
    "redrive": "test_a_rotated_secret_and_a_redrive_land_the_export",
    "redrive-longer": "test_an_export_not_ready_in_time_lands_when_redriven_with_a_longer_deadline",
    "drain-scheduler": "test_the_scheduler_dead_letter_queue_is_drained_into_runs",
    "uploads": "test_a_stuck_upload_is_listed_and_aborted",
    "abort-upload": "test_a_stuck_upload_is_listed_and_aborted",
}


def test_every_block_of_the_runbook_is_run_by_a_test() -> None:
    assert set(blocks()) - {"setup"} == set(COVERED)
    here = {name for name in COVERED.values() if "." not in name}
    assert here <= set(globals())


def test_a_failed_run_is_found_and_read_with_its_history_and_logs(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    local_env.simulator.inject(Fault.FORBIDDEN, times=None)
    failed = start(local_env, FAST)
    assert ended(local_env, failed) == "FAILED"

    printed = follow(local_env, "find-failed", "history", "logs", cwd=tmp_path)
    assert failed.rsplit(":", 1)[-1] in printed
    assert "OngageAuthError" in printed
    assert "ExecutionFailed" in printed


def test_a_rotated_secret_and_a_redrive_land_the_export(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    """Ongage's password was changed, the stack's secret still holds the old one: the run fails;
    the runbook puts the new one in the secret and redrives."""
    creates = local_env.simulator.stats.creates
    rotated = type(CREDENTIALS)(CREDENTIALS.username, "rotated-password", CREDENTIALS.account_code)
    local_env.simulator.config.credentials = rotated
    failed = start(local_env, FAST)
    assert ended(local_env, failed) == "FAILED"
    (tmp_path / "ongage-credentials.json").write_text(
        OngageSecret(rotated.username, rotated.password, rotated.account_code).json()
    )

    follow(local_env, "find-failed", "rotate", "redrive", cwd=tmp_path)  # --wait: 0 = landed

    assert ended(local_env, newest_run(local_env)) == "SUCCEEDED"
    assert local_env.simulator.stats.creates == creates + 1  # the failed run created none


def test_an_export_not_ready_in_time_lands_when_redriven_with_a_longer_deadline(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    local_env.simulator.config.ready_after_retrieves = 1000
    failed = start(local_env, {**FAST, "deadline_seconds": 2})
    assert ended(local_env, failed) == "FAILED"
    local_env.simulator.config.ready_after_retrieves = 0
    creates = local_env.simulator.stats.creates

    follow(local_env, "find-failed", "redrive-longer", cwd=tmp_path)

    assert ended(local_env, newest_run(local_env)) == "SUCCEEDED"
    assert local_env.simulator.stats.creates == creates  # the same Ongage export


def test_the_scheduler_dead_letter_queue_is_drained_into_runs(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    sqs = local_env.deployed.client("sqs")
    queue = local_env.deployed.outputs["SchedulerDeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"request": REQUEST, "polling": FAST}))

    printed = follow(local_env, "drain-scheduler", cwd=tmp_path)

    *_, started, left = printed.strip().splitlines()
    assert started.startswith("arn:aws:states:") and left == "0"
    assert ended(local_env, started) == "SUCCEEDED"
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)


def test_a_stuck_upload_is_listed_and_aborted(local_env: LocalTarget, tmp_path: Path) -> None:
    s3 = local_env.deployed.client("s3")
    bucket = local_env.deployed.outputs["BucketName"]
    key = "exports/list=1111/date=2026-12-05/stuck-7000001.zip"
    s3.create_multipart_upload(Bucket=bucket, Key=key)

    assert key in follow(local_env, "uploads", cwd=tmp_path)
    follow(local_env, "abort-upload", cwd=tmp_path)

    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.fixture(autouse=True)
def _the_right_secret_afterwards(local_env: LocalTarget):
    yield
    local_env.simulator.config.credentials = CREDENTIALS
    local_env.deployed.put_credentials(RIGHT_SECRET)
    local_env.simulator.config.ready_after_retrieves = 2
