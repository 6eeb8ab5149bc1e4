"""A batch of three on the stack deployed to the local AWS, one of them failing at Ongage (a list
the account does not have): the deployed batch machine starts the deployed export machine per
element (`startExecution.sync:2` under the batch role's IAM), and the CLI starts and shows it."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from tests.e2e.conftest import LocalTarget
from tests.e2e.test_local_deployment import (
    REQUEST,
    _status,
    _template,
    cli,
    deploy_variant,
    start_and_wait,
    without_action,
)

pytestmark = pytest.mark.e2e

KNOWN_LIST, UNKNOWN_LIST = 1111, 9999
BATCH = {
    "exports": [
        {**REQUEST, "name": "e2e batch first", "list_id": KNOWN_LIST},
        {**REQUEST, "name": "e2e batch unknown list", "list_id": UNKNOWN_LIST},
        {**REQUEST, "name": "e2e batch third", "list_id": KNOWN_LIST, "account": "default"},
    ]
}


@pytest.fixture
def known_lists(local_env: LocalTarget, monkeypatch: pytest.MonkeyPatch) -> LocalTarget:
    """For this test only, the simulator's account has the request's list (and its default
    one, which a retrieve names) and no other."""
    config = local_env.simulator.config
    known = frozenset({KNOWN_LIST, config.default_list_id})
    monkeypatch.setattr(
        local_env.simulator, "config", dataclasses.replace(config, known_list_ids=known)
    )
    return local_env


def _stored(target: LocalTarget, key: str) -> bytes:
    bucket = target.deployed.outputs["BucketName"]
    return bytes(target.deployed.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_batch_lands_every_good_export_and_reports_the_failed_one(
    known_lists: LocalTarget, tmp_path: Path
) -> None:
    target = known_lists
    creates_before = target.simulator.stats.creates

    report = start_and_wait(tmp_path, BATCH)

    assert report["kind"] == "batch" and report["status"] == "FAILED", report
    assert report["error"] == "BatchExportsFailed"
    assert report["cause"].startswith("1 of 3 exports failed")
    exports = report["exports"]
    assert [e["index"] for e in exports] == [0, 1, 2]
    assert [e["status"] for e in exports] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert [e["account"] for e in exports] == ["default"] * 3
    for landed in (exports[0], exports[2]):
        expected = target.simulator.expected_body(landed["export_id"])
        data = _stored(target, landed["key"])
        assert len(data) == expected.size == landed["bytes"]
        assert hashlib.sha256(data).hexdigest() == expected.sha256() == landed["sha256"]
    assert exports[1]["error"] == "OngageRequestRejected"
    assert f"list {UNKNOWN_LIST} does not exist" in exports[1]["cause"]
    assert target.simulator.stats.creates - creates_before == 2  # one export per good element

    batch_notice = target.notice_for(report["execution_arn"])
    assert batch_notice["subject"].startswith("Ongage batch FAILED")
    assert batch_notice["attributes"] == {"status": "FAILED", "kind": "batch"}
    assert batch_notice["message"]["exports"] == exports
    own = [target.notice_for(export["execution_arn"]) for export in exports]
    assert [n["message"]["status"] for n in own] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert own[1]["message"]["error"] == "OngageRequestRejected"

    status = cli("status", report["run_id"], tmp=tmp_path)
    assert (status["status"], status["exports"]) == ("FAILED", exports)


def test_the_status_function_answers_a_batch_run_with_the_batchs_status(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    report = start_and_wait(tmp_path, {"exports": [REQUEST]})
    assert report["status"] == "SUCCEEDED", report

    answer = _status(local_env, report["run_id"])  # under the deployed function's own role

    assert answer["statusCode"] == 200, answer
    body = json.loads(answer["body"])
    assert (body["kind"], body["status"]) == ("batch", "SUCCEEDED")
    assert body["exports"] == report["exports"]


@pytest.mark.parametrize("action", ["states:StartExecution", "states:DescribeExecution"])
def test_a_batch_role_without_what_sync_child_runs_need_fails_its_exports(
    local_env: LocalTarget, tmp_path: Path, action: str
) -> None:
    name = f"NoBatchPermission{abs(hash(action)) % 10_000}"
    template = without_action(_template(), "BatchWorkflowStateMachineRole", action)
    variant = deploy_variant(local_env, name, template)

    report = start_and_wait(tmp_path, {"exports": [REQUEST]}, "--stack", variant.stack)

    assert report["status"] == "FAILED", report
    (export,) = report["exports"]
    assert export["status"] == "FAILED"
    assert f"not authorized to perform: {action}" in export["cause"], export
