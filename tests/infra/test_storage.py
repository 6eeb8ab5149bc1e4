"""The exports bucket, its access-log bucket and the idempotency table."""

from __future__ import annotations

from tests.infra.helpers import logical_id, of_type, props

BLOCK_ALL = {
    "BlockPublicAcls": True,
    "BlockPublicPolicy": True,
    "IgnorePublicAcls": True,
    "RestrictPublicBuckets": True,
}


def _bucket_policy(template, bucket) -> list[dict]:
    bucket_id = logical_id(bucket)
    for policy in of_type(template, "AWS::S3::BucketPolicy").values():
        if policy["Properties"]["Bucket"] == {"Ref": bucket_id}:
            return policy["Properties"]["PolicyDocument"]["Statement"]
    raise AssertionError(f"no bucket policy for {bucket_id}")


def test_two_buckets_and_no_custom_resource_lambda(synth):
    assert len(of_type(synth.json, "AWS::S3::Bucket")) == 2
    assert not of_type(synth.json, "Custom::S3BucketNotifications")


def test_both_buckets_encrypted_private_and_tls_only(synth):
    storage = synth.main.storage
    for bucket in (storage.bucket, storage.access_logs):
        bucket_props = props(synth.json, bucket)
        encryption = bucket_props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert bucket_props["PublicAccessBlockConfiguration"] == BLOCK_ALL
        denies = [s for s in _bucket_policy(synth.json, bucket) if s["Effect"] == "Deny"]
        conditions = [s["Condition"] for s in denies]
        assert {"Bool": {"aws:SecureTransport": "false"}} in conditions
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in conditions


def test_export_bucket_versioned_logged_and_publishing_to_eventbridge(synth):
    storage = synth.main.storage
    bucket = props(synth.json, storage.bucket)
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {
        "Ref": logical_id(storage.access_logs)
    }
    assert bucket["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }


def test_access_logs_are_versioned_and_their_old_versions_expire(synth):
    bucket = props(synth.json, synth.main.storage.access_logs)
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 365
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}


def test_access_logs_bucket_accepts_s3_log_delivery(synth):
    statements = _bucket_policy(synth.json, synth.main.storage.access_logs)
    principals = [s.get("Principal") for s in statements if s["Effect"] == "Allow"]
    assert {"Service": "logging.s3.amazonaws.com"} in principals


def test_lifecycle_aborts_uploads_and_expires_staging_and_exports(synth):
    rules = props(synth.json, synth.main.storage.bucket)["LifecycleConfiguration"]["Rules"]
    by_id = {rule["Id"]: rule for rule in rules}
    assert by_id["abort-incomplete-multipart-uploads"]["AbortIncompleteMultipartUpload"] == {
        "DaysAfterInitiation": 1
    }
    assert by_id["expire-staging"]["Prefix"] == "incoming/"
    assert by_id["expire-staging"]["ExpirationInDays"] == 2
    assert by_id["expire-exports"]["Prefix"] == "exports/"
    assert by_id["expire-exports"]["ExpirationInDays"] == 400
    assert "NoncurrentVersionExpiration" in by_id["expire-noncurrent-versions"]
    assert all(rule["Status"] == "Enabled" for rule in rules)


def test_export_expiry_is_optional(synth):
    rules = props(synth.imported_template.to_json(), synth.imported.storage.bucket)[
        "LifecycleConfiguration"
    ]["Rules"]
    assert "expire-exports" not in {rule["Id"] for rule in rules}


def test_idempotency_table_matches_powertools_defaults_with_ttl_and_pitr(synth):
    tables = of_type(synth.json, "AWS::DynamoDB::Table")
    assert len(tables) == 1
    table = props(synth.json, synth.main.storage.table)
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": "id", "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["SSESpecification"]["SSEEnabled"] is True
    assert table["BillingMode"] == "PAY_PER_REQUEST"
