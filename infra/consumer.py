"""The optional consumer (`curated.enabled`): each landed export ZIP -> Parquet + manifest,
queryable through a Glue table and an Athena workgroup (catalog.py).

An EventBridge rule matches S3 "Object Created" events of the export bucket under `exports/` (the
pattern the stack publishes for every downstream consumer) and invokes `curate_export`
asynchronously. Nothing is lost on the way, and every loss is alarmed (monitoring.py):

- EventBridge retries a failed delivery (the asynchronous Invoke call itself), then parks the
  event in the dead-letter queue (SQS message = the S3 event);
- Lambda retries a failed invocation (an unreadable export, an S3 error, a timeout) twice, then
  sends it to the same queue as its on-failure destination (SQS message = an invocation record:
  `requestPayload` is the S3 event, `responsePayload` the error).

Re-curating an export rewrites the same keys, so redriving either kind is safe.

The function runs its own bundle (the shared one plus pyarrow, 194 MB unzipped of Lambda's
250 MB), so the Ongage-facing functions stay small. It reads each export's request (its
`date_format`) from the execution that landed it, and publishes `schema_changed` notices on the
stack's topic.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.bundling import CURATED_REQUIREMENTS, lambda_code
from infra.catalog import QueryCatalog
from infra.config import StackConfig
from infra.functions import HANDLERS, FunctionSpec, dead_letter_queue, new_function
from infra.notifications import allow_publishing
from infra.storage import ExportStorage
from ongage_export.consumer.manifest import SCHEMAS_FOLDER
from ongage_export.contract import EXPORT_PREFIX, PART_SIZE_MIB
from ongage_export.settings import CurateSettings

# EventBridge -> Lambda is an asynchronous Invoke: it fails only when Lambda does not accept the
# event (throttled API, missing permission), so a few retries over hours are plenty.
DELIVERY_RETRY_ATTEMPTS = 10
DELIVERY_MAX_EVENT_AGE = cdk.Duration.hours(6)
# Lambda's own retries of a failed curation (its maximum is 2), within its maximum event age.
INVOKE_RETRY_ATTEMPTS = 2
INVOKE_MAX_EVENT_AGE = cdk.Duration.hours(6)


def export_created_pattern(storage: ExportStorage) -> events.EventPattern:
    """S3 "Object Created" in the export bucket under exports/ (landed exports only)."""
    return events.EventPattern(
        source=["aws.s3"],
        detail_type=["Object Created"],
        detail={
            "bucket": {"name": [storage.bucket.bucket_name]},
            "object": {"key": [{"prefix": EXPORT_PREFIX}]},
        },
    )


class CuratedExports(Construct):
    """`function` (curate_export), `rule` (landed exports -> function), `dead_letter_queue`,
    `catalog` (the Glue table and Athena workgroup over the curated prefix)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: ExportStorage,
        install_dependencies: bool,
        topic: sns.ITopic,
        topic_key: kms.IKey,
        state_machine: sfn.IStateMachine,
    ):
        super().__init__(scope, construct_id)
        self.prefix = config.curated.prefix
        self.code = lambda_code(install_dependencies, CURATED_REQUIREMENTS)
        self.dead_letter_queue = dead_letter_queue(self, storage.key)
        self.function = new_function(
            self,
            FunctionSpec(
                "CurateExport",
                f"{HANDLERS}.curate_export.handler",
                f"Curates each landed export: ZIP -> Parquet + manifest under {self.prefix}",
                # CSV parsing, SHA-256 and gzip of every byte are CPU-bound: 1769 MB is a full
                # vCPU. One export per invocation, within the 15 minutes a Lambda may run.
                memory_mib=config.curated.memory_mb,
                timeout=cdk.Duration.minutes(15),
            ),
            code=self.code,
            environment=CurateSettings.environment(
                export_bucket=storage.bucket.bucket_name,
                export_prefix=EXPORT_PREFIX,
                curated_prefix=self.prefix,
                part_size_mib=PART_SIZE_MIB,
                topic_arn=topic.topic_arn,
                state_machine_arn=state_machine.state_machine_arn,
            ),
            log_retention_days=config.log_retention_days,
            key=storage.key,
        )
        self.function.configure_async_invoke(
            retry_attempts=INVOKE_RETRY_ATTEMPTS,
            max_event_age=INVOKE_MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        for statement in s3_curation_statements(storage, self.prefix):
            self.function.add_to_role_policy(statement)
        if storage.key is not None:
            # Read the landed export, write the curated files in multipart uploads.
            storage.key.grant(self.function, "kms:Decrypt", "kms:GenerateDataKey")
        # The request's date_format, from the execution that landed the export.
        state_machine.grant_execution(self.function, "states:DescribeExecution")
        allow_publishing(self.function, topic, topic_key)  # schema_changed notices
        self.catalog = QueryCatalog(
            self,
            "Catalog",
            bucket=storage.bucket,
            key=storage.key,
            prefix=self.prefix,
            fields=table_fields(config),
        )
        self.rule = events.Rule(
            self,
            "ExportLanded",
            description=f"Landed Ongage exports ({EXPORT_PREFIX}) -> curated Parquet",
            event_pattern=export_created_pattern(storage),
            targets=[
                targets.LambdaFunction(
                    self.function,
                    dead_letter_queue=self.dead_letter_queue,
                    retry_attempts=DELIVERY_RETRY_ATTEMPTS,
                    max_event_age=DELIVERY_MAX_EVENT_AGE,
                )
            ],
        )


def table_fields(config: StackConfig) -> list[str]:
    """The list fields the table shows: `curated.fields`, then each schedule's selection."""
    fields = list(config.curated.fields)
    for request in (r for schedule in config.schedules for r in schedule.requests()):
        fields += request.get("fields_selected") or []
    return fields


def s3_curation_statements(storage: ExportStorage, prefix: str) -> list[iam.PolicyStatement]:
    """Read landed exports, write (and abort uploads of) curated files: nothing else.

    curate.py calls HeadObject + ranged GetObject on the export (both s3:GetObject) and streams
    the curated keys through multipart.MultipartUploader: a multipart upload (s3:PutObject), its
    parts listed to complete it, aborted on failure, and leftover uploads of the same key found
    and aborted first (ListBucketMultipartUploads). It lists only the schema records
    (`<curated>_schemas/`, consumer/manifest.py), to tell a first export from a changed one.
    """
    bucket = storage.bucket
    schemas = f"{prefix}{SCHEMAS_FOLDER}"
    return [
        iam.PolicyStatement(
            sid="ReadLandedExports",
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{EXPORT_PREFIX}*")],
        ),
        iam.PolicyStatement(
            sid="WriteCuratedFiles",
            actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            resources=[bucket.arn_for_objects(f"{prefix}*")],
        ),
        iam.PolicyStatement(
            sid="ReadSchemaRecords",
            actions=["s3:GetObject"],
            resources=[bucket.arn_for_objects(f"{schemas}*")],
        ),
        iam.PolicyStatement(
            sid="FindSchemaRecords",
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{schemas}*"]}},
        ),
        iam.PolicyStatement(
            sid="FindLeftoverUploads",
            actions=["s3:ListBucketMultipartUploads"],
            resources=[bucket.bucket_arn],
        ),
    ]
