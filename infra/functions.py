"""The Lambdas: one asset, one role each, least privilege, Ongage's parallel-call limit enforced.

Ongage allows 10 API calls in flight per account. Each invocation of an Ongage-calling function
makes at most one call at a time, so reserved concurrency summed over those functions is a hard
ceiling on parallel calls: `split_concurrency` divides the configured limit between them. A
throttled invoke surfaces in the workflow as Lambda.TooManyRequestsException, which it retries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import ARCHITECTURE, RUNTIME, lambda_code
from infra.config import LOG_RETENTION_DAYS, StackConfig
from infra.credentials import OngageCredentials
from infra.encryption import log_group
from infra.storage import ExportStorage
from ongage_export.contract import EXPORT_PREFIX, PART_SIZE_MIB, STAGING_PREFIX
from ongage_export.settings import Settings

HANDLERS = "ongage_export.handlers"


@dataclass(frozen=True)
class FunctionSpec:
    construct_id: str
    handler: str
    description: str
    memory_mib: int
    timeout: cdk.Duration
    reserved_concurrency: int | None = None


_RETENTION_NAMES = (
    "ONE_DAY", "THREE_DAYS", "FIVE_DAYS", "ONE_WEEK", "TWO_WEEKS", "ONE_MONTH", "TWO_MONTHS",
    "THREE_MONTHS", "FOUR_MONTHS", "FIVE_MONTHS", "SIX_MONTHS", "ONE_YEAR", "THIRTEEN_MONTHS",
    "EIGHTEEN_MONTHS", "TWO_YEARS", "THREE_YEARS", "FIVE_YEARS", "SIX_YEARS", "SEVEN_YEARS",
    "EIGHT_YEARS", "NINE_YEARS", "TEN_YEARS",
)  # fmt: skip
_RETENTION = dict(zip(LOG_RETENTION_DAYS, _RETENTION_NAMES, strict=True))


def dead_letter_queue(scope: Construct, key: kms.IKey | None) -> sqs.Queue:
    """Where events that could not be delivered wait (14 days, S3's maximum), encrypted with
    `key` (None: SQS-managed keys)."""
    return sqs.Queue(
        scope,
        "DeadLetters",
        encryption=sqs.QueueEncryption.SQS_MANAGED if key is None else sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=cdk.Duration.days(14),
    )


def log_retention(days: int) -> logs.RetentionDays:
    """The RetentionDays member for a number of days config has already checked."""
    return logs.RetentionDays[_RETENTION[days]]


def split_concurrency(limit: int) -> tuple[int, int]:
    """(create_export, retrieve_export) reserved concurrency; the two add up to `limit`.

    A retrieve holds its slot for a whole download (minutes) and runs many times per export;
    a create is one short POST per export. So retrieve gets most, create keeps at least one.
    """
    if limit < 2:
        raise ValueError("the Ongage concurrency limit must leave each function one slot")
    create = max(1, limit // 5)
    return create, limit - create


def new_function(
    scope: Construct,
    spec: FunctionSpec,
    *,
    code: lambda_.Code,
    environment: Mapping[str, str],
    log_retention_days: int,
    key: kms.IKey | None,
) -> lambda_.Function:
    """A function with its own role, its own log group (with retention, encrypted with `key`
    when there is one) and X-Ray tracing."""
    role = iam.Role(
        scope,
        f"{spec.construct_id}Role",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{spec.construct_id}: only what this one function needs",
    )
    logs_ = log_group(
        scope, f"{spec.construct_id}Logs", key=key, retention=log_retention(log_retention_days)
    )
    logs_.grant_write(role)
    return lambda_.Function(
        scope,
        spec.construct_id,
        description=spec.description,
        runtime=RUNTIME,
        architecture=ARCHITECTURE,
        code=code,
        handler=spec.handler,
        memory_size=spec.memory_mib,
        timeout=spec.timeout,
        role=role,
        log_group=logs_,
        tracing=lambda_.Tracing.ACTIVE,
        reserved_concurrent_executions=spec.reserved_concurrency,
        environment=dict(environment),
    )


class ExportFunctions(Construct):
    """create_export and retrieve_export, the two Lambdas that call Ongage."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        storage: ExportStorage,
        credentials: OngageCredentials,
        ongage_base_url: str,
        install_dependencies: bool,
    ):
        super().__init__(scope, construct_id)
        self.code = lambda_code(install_dependencies)
        self.log_retention_days = config.log_retention_days
        self.key = storage.key
        create_slots, retrieve_slots = split_concurrency(config.ongage_concurrency_limit)
        environment = ongage_environment(config, storage, credentials, ongage_base_url)
        self.create_export = self.add(
            FunctionSpec(
                "CreateExport",
                f"{HANDLERS}.create_export.handler",
                "Validates the request and starts the Ongage export (POST /api/export)",
                # One small JSON POST: little memory; well inside the state's 120 s timeout.
                memory_mib=256,
                timeout=cdk.Duration.seconds(90),
                reserved_concurrency=create_slots,
            ),
            environment,
        )
        self.retrieve_export = self.add(
            FunctionSpec(
                "RetrieveExport",
                f"{HANDLERS}.retrieve_export.handler",
                "Polls the Ongage export; when ready streams the ZIP into S3 and lands it",
                # Streams GBs in 8 MiB parts with SHA-256: memory buys CPU and network
                # bandwidth; 15 minutes (the maximum, the default) is what one invocation may
                # stream, and a longer download resumes in the next one.
                memory_mib=1024,
                timeout=cdk.Duration.seconds(config.retrieve_timeout_seconds),
                reserved_concurrency=retrieve_slots,
            ),
            environment,
        )
        self.ongage_callers = (self.create_export, self.retrieve_export)
        self._grant(storage, credentials)

    def add(self, spec: FunctionSpec, environment: Mapping[str, str]) -> lambda_.Function:
        return new_function(
            self,
            spec,
            code=self.code,
            environment=environment,
            log_retention_days=self.log_retention_days,
            key=self.key,
        )

    def _grant(self, storage: ExportStorage, credentials: OngageCredentials) -> None:
        for function in self.ongage_callers:
            credentials.secret.grant_read(function)
        self.create_export.add_to_role_policy(
            iam.PolicyStatement(
                sid="IdempotencyRecords",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[storage.table.table_arn],
            )
        )
        # Readiness history (ongage_export/adapters/readiness_history.py): the create step
        # reads it, the retrieve step adds each finished run; its items live in the same table.
        self.retrieve_export.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadinessHistory",
                actions=["dynamodb:GetItem", "dynamodb:PutItem"],
                resources=[storage.table.table_arn],
            )
        )
        for statement in s3_landing_statements(storage):
            self.retrieve_export.add_to_role_policy(statement)
        if storage.key is not None:
            # The table's items (both) and the multipart uploads' data keys (retrieve); the
            # secret's Decrypt comes with `grant_read` above. Named actions, no wildcards.
            for function in self.ongage_callers:
                storage.key.grant(function, "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey")


def s3_landing_statements(storage: ExportStorage) -> list[iam.PolicyStatement]:
    """Stream into incoming/, land under exports/, verify, clean up: nothing else in the bucket."""
    bucket = storage.bucket
    return [
        iam.PolicyStatement(
            sid="StageAndLandObjects",
            actions=[
                "s3:PutObject",
                "s3:GetObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            resources=[
                bucket.arn_for_objects(f"{STAGING_PREFIX}*"),
                bucket.arn_for_objects(f"{EXPORT_PREFIX}*"),
            ],
        ),
        iam.PolicyStatement(
            sid="FindLeftoverUploads",
            actions=["s3:ListBucket", "s3:ListBucketMultipartUploads"],
            resources=[bucket.bucket_arn],
        ),
    ]


def ongage_environment(
    config: StackConfig,
    storage: ExportStorage,
    credentials: OngageCredentials,
    ongage_base_url: str,
) -> dict[str, str]:
    """What `ongage_export.settings.Settings.from_env` reads (ids only, never the secret)."""
    trusted = {"ongage_trusted_origins": " ".join(config.ongage_trusted_origins)}
    return Settings.environment(
        export_bucket=storage.bucket.bucket_name,
        idempotency_table=storage.table.table_name,
        ongage_secret_id=credentials.secret_id,
        ongage_base_url=ongage_base_url,
        export_prefix=EXPORT_PREFIX,
        staging_prefix=STAGING_PREFIX,
        part_size_mib=PART_SIZE_MIB,
        stop_margin_seconds=config.stream_stop_margin_seconds,
        default_polling=config.polling,
        **(trusted if config.ongage_trusted_origins else {}),
    )
