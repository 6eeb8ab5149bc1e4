"""Where exports land (S3) and where the Lambdas remember their work (DynamoDB)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.config import StackConfig
from ongage_export.contract import EXPORT_PREFIX, STAGING_PREFIX

ACCESS_LOG_RETENTION_DAYS = 365


def private_bucket(
    scope: Construct, construct_id: str, key: kms.IKey | None = None, **props: Any
) -> s3.Bucket:
    """A bucket encrypted at rest, reached over TLS 1.2 or later only, never public, and owning
    every object (no ACLs); `props` add the rest.

    With `key`, SSE-KMS under it with an S3 Bucket Key (KMS is called per bucket key, not per
    object or part); without, SSE-S3 (the only encryption server access logs are delivered to).
    """
    return s3.Bucket(
        scope,
        construct_id,
        encryption=s3.BucketEncryption.S3_MANAGED if key is None else s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=None if key is None else True,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        **props,
    )


class ExportStorage(Construct):
    """The exports bucket (+ its access-log bucket) and the idempotency table; `key` (None:
    AWS-managed keys) encrypts the exports and the table."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, key: kms.IKey | None
    ):
        super().__init__(scope, construct_id)
        self.key = key
        self.access_logs = self._access_log_bucket(config)
        self.bucket = self._export_bucket(config)
        self.table = self._idempotency_table()

    def _access_log_bucket(self, config: StackConfig) -> s3.Bucket:
        # Versioned: a deleted or overwritten log stays recoverable for the noncurrent period.
        return private_bucket(
            self,
            "AccessLogs",
            versioned=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(ACCESS_LOG_RETENTION_DAYS),
                    noncurrent_version_expiration=cdk.Duration.days(
                        config.noncurrent_version_retention_days
                    ),
                )
            ],
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

    def _export_bucket(self, config: StackConfig) -> s3.Bucket:
        bucket = private_bucket(
            self,
            "Exports",
            self.key,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="exports-bucket/",
            lifecycle_rules=_lifecycle_rules(config),
            # Exports are the product: deleting the stack must not delete them.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # Downstream consumers subscribe to "Object Created" events for exports/. Set natively
        # in CloudFormation: `event_bridge_enabled=True` would deploy a custom-resource Lambda.
        cfn_bucket = bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        return bucket

    def _idempotency_table(self) -> dynamodb.Table:
        # Powertools idempotency defaults: partition key `id`, TTL attribute `expiration`.
        return dynamodb.Table(
            self,
            "Idempotency",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute="expiration",
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED
            if self.key is None
            else dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            # Records expire after 15 days (create_export.py: beyond the 14 days a failed run
            # stays redrivable); nothing of value is lost with the stack.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )


def _lifecycle_rules(config: StackConfig) -> list[s3.LifecycleRule]:
    rules = [
        # A crashed streaming Lambda leaves parts behind; they cost money until aborted.
        s3.LifecycleRule(
            id="abort-incomplete-multipart-uploads",
            abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
        ),
        s3.LifecycleRule(
            id="expire-staging",
            prefix=STAGING_PREFIX,
            expiration=cdk.Duration.days(config.staging_retention_days),
            noncurrent_version_expiration=cdk.Duration.days(1),
        ),
        # Versioning protects against overwrites; old versions need not live forever.
        s3.LifecycleRule(
            id="expire-noncurrent-versions",
            noncurrent_version_expiration=cdk.Duration.days(
                config.noncurrent_version_retention_days
            ),
        ),
    ]
    if config.export_retention_days is not None:
        rules.append(
            s3.LifecycleRule(
                id="expire-exports",
                prefix=EXPORT_PREFIX,
                expiration=cdk.Duration.days(config.export_retention_days),
            )
        )
    return rules
