"""`kms_key`: null changes nothing; "create" or a key ARN puts every store of contact data or
credentials under that key, and each role gets only the key actions its calls need."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.infra.conftest import IMPORTED_KEY_ARN
from tests.infra.helpers import actions_on, of_type, role_of, statements

KEY_TYPES_WITHOUT_KEY = (
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::SecretsManager::Secret",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
)


def _json(template) -> dict[str, Any]:
    return dict(template.to_json())


def _key_id(template: dict[str, Any], construct_id: str) -> str:
    (found,) = [k for k in of_type(template, "AWS::KMS::Key") if k.startswith(construct_id)]
    return found


def _kms_actions(template: dict[str, Any], role_id: str) -> dict[str, list[Any]]:
    return {
        action: resources
        for action, resources in actions_on(statements(template, role_id)).items()
        if action.startswith("kms:")
    }


# ---- kms_key: null -------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["default_template", "curated_template"])
def test_without_a_key_the_only_kms_key_is_the_topics_own(synth, which):
    template = _json(getattr(synth, which))
    topic_key = _key_id(template, "NotificationsTopicKey")
    assert list(of_type(template, "AWS::KMS::Key")) == [topic_key]
    # No store names a key: S3, DynamoDB, Secrets Manager and SQS use their AWS-managed ones.
    for kind in KEY_TYPES_WITHOUT_KEY:
        for name, resource in of_type(template, kind).items():
            text = json.dumps(resource["Properties"])
            for prop in ("KMSMasterKeyID", "KMSMasterKeyId", "KmsKeyId", "KmsMasterKeyId"):
                assert prop not in text, (name, prop)
    # Every KMS permission is about the topic key (publishing notices).
    for role_id in of_type(template, "AWS::IAM::Role"):
        for resources in _kms_actions(template, role_id).values():
            assert resources == [{"Fn::GetAtt": [topic_key, "Arn"]}], role_id


def test_without_a_key_stores_keep_their_aws_managed_encryption(synth):
    template = _json(synth.curated_template)
    for bucket in of_type(template, "AWS::S3::Bucket").values():
        (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    (table,) = of_type(template, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    for queue in of_type(template, "AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] is True
    (workgroup,) = of_type(template, "AWS::Athena::WorkGroup").values()
    results = workgroup["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}


# ---- kms_key: "create" ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def encrypted(synth) -> dict[str, Any]:
    return _json(synth.encrypted_template)


@pytest.fixture(scope="module")
def key_arn(encrypted) -> dict[str, Any]:
    return {"Fn::GetAtt": [_key_id(encrypted, "DataKey"), "Arn"]}


def test_one_rotated_retained_key_and_no_topic_key(encrypted):
    (key_id,) = of_type(encrypted, "AWS::KMS::Key")
    assert key_id.startswith("DataKey")
    key = encrypted["Resources"][key_id]
    assert key["Properties"]["EnableKeyRotation"] is True
    # The exports bucket is retained with the stack: so is the key that can read it.
    assert key["DeletionPolicy"] == "Retain"


def _policy_statement(encrypted: dict[str, Any], sid: str) -> dict[str, Any]:
    (key,) = of_type(encrypted, "AWS::KMS::Key").values()
    (found,) = [s for s in key["Properties"]["KeyPolicy"]["Statement"] if s.get("Sid") == sid]
    return found


def test_key_policy_lets_logs_encrypt_only_this_accounts_log_groups(encrypted):
    statement = _policy_statement(encrypted, "EncryptLogGroups")
    service = statement["Principal"]["Service"]
    assert service == {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}
    context = statement["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert ":log-group:*" in json.dumps(context)
    assert {"Ref": "AWS::AccountId"} in context["Fn::Join"][1]


def test_key_policy_lets_alarms_publish_to_the_topic_and_no_other_service(encrypted):
    statement = _policy_statement(encrypted, "PublishCloudwatch")
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(statement["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    assert "aws:SourceAccount" in statement["Condition"]["StringEquals"]
    # Ended runs reach the topic through the AnnounceRun function's role, not EventBridge.
    (key,) = of_type(encrypted, "AWS::KMS::Key").values()
    publishers = [
        s for s in key["Properties"]["KeyPolicy"]["Statement"] if "Publish" in s.get("Sid", "")
    ]
    assert publishers == [statement]


def test_the_exports_bucket_is_sse_kms_with_a_bucket_key(encrypted, key_arn):
    buckets = of_type(encrypted, "AWS::S3::Bucket")
    (exports,) = [b for name, b in buckets.items() if name.startswith("StorageExports")]
    (rule,) = exports["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule == {
        "BucketKeyEnabled": True,
        "ServerSideEncryptionByDefault": {"KMSMasterKeyID": key_arn, "SSEAlgorithm": "aws:kms"},
    }
    # Server access logs are delivered only to SSE-S3 buckets; they hold no contact data.
    (logs,) = [b for name, b in buckets.items() if name.startswith("StorageAccessLogs")]
    (rule,) = logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_table_secret_topic_queues_logs_and_query_results_use_the_key(encrypted, key_arn):
    (table,) = of_type(encrypted, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"] == {
        "KMSMasterKeyId": key_arn,
        "SSEEnabled": True,
        "SSEType": "KMS",
    }
    secrets = of_type(encrypted, "AWS::SecretsManager::Secret").values()
    assert len(secrets) == 2  # every account's
    assert all(secret["Properties"]["KmsKeyId"] == key_arn for secret in secrets)
    (topic,) = of_type(encrypted, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == key_arn
    queues = of_type(encrypted, "AWS::SQS::Queue")
    assert len(queues) == 2  # the scheduler's and the consumer's dead letters
    for queue in queues.values():
        assert queue["Properties"]["KmsMasterKeyId"] == key_arn
    log_groups = of_type(encrypted, "AWS::Logs::LogGroup")
    assert len(log_groups) == 7  # 5 functions, the workflow, the API's access log
    for log_group in log_groups.values():
        assert log_group["Properties"]["KmsKeyId"] == key_arn
    (workgroup,) = of_type(encrypted, "AWS::Athena::WorkGroup").values()
    results = workgroup["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"]
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_KMS", "KmsKey": key_arn}


# Each role's key actions: what its calls on encrypted stores need, nothing wider.
WRITES_RECORDS = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
EXPECTED_KEY_ACTIONS = {
    # Idempotency records (DynamoDB) + the secret (Decrypt).
    ("synth.encrypted.functions.create_export", frozenset(WRITES_RECORDS)),
    # + multipart uploads under SSE-KMS: GenerateDataKey per upload, Decrypt for the parts.
    ("synth.encrypted.functions.retrieve_export", frozenset(WRITES_RECORDS)),
    # The download link's GetObject.
    ("synth.encrypted.api.status_function", frozenset({"kms:Decrypt"})),
}


def _function(synth, path: str) -> Any:
    target = synth
    for part in path.split(".")[1:]:
        target = getattr(target, part)
    return target


@pytest.mark.parametrize(("path", "actions"), sorted(EXPECTED_KEY_ACTIONS))
def test_each_function_gets_exactly_its_key_actions_on_the_key_only(
    synth, encrypted, key_arn, path, actions
):
    role_id = role_of(encrypted, _function(synth, path))
    granted = _kms_actions(encrypted, role_id)
    assert set(granted) == actions
    for resources in granted.values():
        assert all(resource == key_arn for resource in resources)


def test_the_consumer_reads_exports_and_writes_curated_files_with_the_key(
    synth, encrypted, key_arn
):
    role_id = role_of(encrypted, synth.encrypted.consumer.function)
    granted = _kms_actions(encrypted, role_id)
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= set(granted)
    # The rest is CDK's grant for its on-failure queue (infra/nag.py says why).
    assert set(granted) - {"kms:Decrypt", "kms:GenerateDataKey"} <= {
        "kms:Encrypt",
        "kms:GenerateDataKey*",
        "kms:ReEncrypt*",
    }
    assert all(r == key_arn for resources in granted.values() for r in resources)


def test_the_workflow_and_scheduler_use_the_key_for_notices_and_dead_letters(
    synth, encrypted, key_arn
):
    stack = synth.encrypted
    for role in (stack.workflow.state_machine.role, stack.schedules.role):
        role_id = stack.get_logical_id(role.node.default_child)
        assert _kms_actions(encrypted, role_id) == {
            "kms:GenerateDataKey": [key_arn],
            "kms:Decrypt": [key_arn],
        }


# ---- kms_key: an existing key's ARN ---------------------------------------------------------


def test_an_imported_key_is_used_by_arn_and_no_key_is_created(synth):
    template = _json(synth.key_imported_template)
    assert of_type(template, "AWS::KMS::Key") == {}
    (table,) = of_type(template, "AWS::DynamoDB::Table").values()
    assert table["Properties"]["SSESpecification"]["KMSMasterKeyId"] == IMPORTED_KEY_ARN
    (topic,) = of_type(template, "AWS::SNS::Topic").values()
    assert topic["Properties"]["KmsMasterKeyId"] == IMPORTED_KEY_ARN
    for log_group in of_type(template, "AWS::Logs::LogGroup").values():
        assert log_group["Properties"]["KmsKeyId"] == IMPORTED_KEY_ARN
    retrieve = role_of(template, synth.key_imported.functions.retrieve_export)
    assert _kms_actions(template, retrieve) == {
        action: [IMPORTED_KEY_ARN] for action in WRITES_RECORDS
    }
