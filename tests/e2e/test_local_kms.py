"""`kms_key: "create"` deployed into the local AWS beside the main stack: an export run by the
deployed workflow lands SSE-KMS under the stack's own key, both download links serve it, and a
retrieve role without its key permission fails the run with StorageAccessDenied and a notice.

The local AWS checks the key permissions S3 needs of its caller (`local_aws.sse_kms`); it does
not check them for DynamoDB, Secrets Manager, SNS, SQS or CloudWatch Logs, whose key actions are
asserted on the template (tests/infra/test_encryption.py).
"""

from __future__ import annotations

import hashlib
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_aws.cloud_assembly import stack_in
from local_aws.deployment import LocalDeployment, project_config, synthesize
from tests.e2e.conftest import LocalTarget
from tests.e2e.test_local_deployment import (
    REQUEST,
    deploy_variant,
    start_and_wait,
    without_action,
)

pytestmark = pytest.mark.e2e

VARIANT = "OngageExportKms"


def stack_resource(deployed: LocalDeployment, logical_prefix: str, kind: str) -> str:
    resources = deployed.client("cloudformation").list_stack_resources(StackName=deployed.stack)
    (found,) = [
        r["PhysicalResourceId"]
        for r in resources["StackResourceSummaries"]
        if r["ResourceType"] == kind and r["LogicalResourceId"].startswith(logical_prefix)
    ]
    return str(found)


@pytest.fixture(scope="module")
def kms_template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """cdk.json with `kms_key: "create"` (a context override, as `cdk synth -c` gives)."""
    out = synthesize(
        tmp_path_factory.mktemp("cdk.out-kms"), {**project_config(), "kms_key": "create"}
    )
    return dict(json.loads((out / f"{stack_in(out)}.template.json").read_text()))


@pytest.fixture(scope="module")
def kms_stack(local_target: LocalTarget, kms_template: dict[str, Any]) -> Iterator[LocalDeployment]:
    """That template deployed as a second stack next to the main one."""
    yield deploy_variant(local_target, VARIANT, kms_template)


def _key_arn(deployed: LocalDeployment) -> str:
    key_id = stack_resource(deployed, "DataKey", "AWS::KMS::Key")
    return str(deployed.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return bytes(answer.read())


def _status_link(deployed: LocalDeployment, run_id: str) -> str:
    """The download link GET /exports/{id} answers, from the variant's status function."""
    function = stack_resource(deployed, "ApiExportStatus", "AWS::Lambda::Function")
    event = {
        "httpMethod": "GET",
        "resource": "/exports/{id}",
        "path": f"/exports/{run_id}",
        "pathParameters": {"id": run_id},
        "requestContext": {"stage": "v1", "httpMethod": "GET", "resourcePath": "/exports/{id}"},
    }
    answer = deployed.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps(event).encode()
    )
    payload: dict[str, Any] = json.loads(answer["Payload"].read())
    assert "FunctionError" not in answer, payload
    assert payload["statusCode"] == 200, payload
    return str(json.loads(payload["body"])["download_url"])


def test_the_stack_key_is_created_rotating_and_encrypts_the_stores(
    local_env: LocalTarget, kms_stack: LocalDeployment
) -> None:
    key_arn = _key_arn(kms_stack)
    kms = kms_stack.client("kms")
    assert kms.describe_key(KeyId=key_arn)["KeyMetadata"]["KeyManager"] == "CUSTOMER"
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    encryption = kms_stack.client("s3").get_bucket_encryption(
        Bucket=kms_stack.outputs["BucketName"]
    )
    (rule,) = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key_arn
    assert rule["BucketKeyEnabled"] is True


def test_an_export_lands_under_the_stack_key_and_both_links_serve_it(
    local_env: LocalTarget, kms_stack: LocalDeployment, tmp_path: Path
) -> None:
    report = start_and_wait(tmp_path, REQUEST, "--stack", kms_stack.stack)

    assert report["status"] == "SUCCEEDED", report
    result = report["result"]
    head = kms_stack.client("s3").head_object(Bucket=result["bucket"], Key=result["key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == _key_arn(kms_stack)
    assert head["BucketKeyEnabled"] is True
    expected = local_env.simulator.expected_body(result["export_id"]).sha256()
    assert expected == result["sha256"]
    for url in (report["download_url"], _status_link(kms_stack, report["run_id"])):
        assert hashlib.sha256(fetch(url)).hexdigest() == expected
    notice = local_env.notice_for(report["execution_arn"])
    assert notice["subject"] == "Ongage export landed"


def test_without_its_key_permission_the_retrieve_fails_the_run_with_storage_access_denied(
    local_env: LocalTarget, kms_template: dict[str, Any], tmp_path: Path
) -> None:
    template = without_action(kms_template, "FunctionsRetrieveExportRole", "kms:GenerateDataKey")
    variant = deploy_variant(local_env, f"{VARIANT}NoKey", template)

    report = start_and_wait(tmp_path, REQUEST, "--stack", variant.stack)

    assert report["status"] == "FAILED", report
    assert "StorageAccessDenied" in json.dumps(report), report
    notice = local_env.notice_for(report["execution_arn"])
    assert notice["attributes"]["status"] == "FAILED"
    assert "StorageAccessDenied" in json.dumps(notice["message"])
