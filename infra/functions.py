"""The Lambdas: one asset, one role each, least privilege.

Ongage's limits (calls in flight, calls per minute) are per account; the Ongage-calling
functions hold them with the limiter in the stack's table (domain/call_limits.py), not with
reserved concurrency, which is per function: it could not tell accounts apart, and a busy
account's invocations would throttle a quiet one's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.bundling import ARCHITECTURE, RUNTIME, lambda_code
from infra.config import StackConfig
from infra.config_values import LOG_RETENTION_DAYS
from infra.credentials import OngageCredentials
from infra.encryption import log_group
from infra.storage import ExportStorage
from ongage_export.contract import EXPORT_PREFIX, PART_SIZE_MIB, STAGING_PREFIX
from ongage_export.domain.accounts import DEFAULT_ACCOUNT
from ongage_export.settings import AccountSetting, Settings

HANDLERS = "ongage_export.handlers"
# One small JSON POST, well inside the CreateExport state's 120 s timeout.
CREATE_TIMEOUT_SECONDS = 90


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


# A slot of an account's calls outlives a function that died holding it by this much.
LEASE_MARGIN_SECONDS = 30


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
        environment = ongage_environment(config, storage, credentials, ongage_base_url)
        self.create_export = self.add(
            FunctionSpec(
                "CreateExport",
                f"{HANDLERS}.create_export.handler",
                "Validates the request and starts the Ongage export (POST /api/export)",
                memory_mib=256,  # one small JSON POST
                timeout=cdk.Duration.seconds(CREATE_TIMEOUT_SECONDS),
            ),
            with_lease(environment, CREATE_TIMEOUT_SECONDS),
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
            ),
            with_lease(environment, config.retrieve_timeout_seconds),
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
            for secret in credentials.secrets.values():
                secret.grant_read(function)
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
        # Readiness history (adapters/readiness_history.py): the create step reads it, the
        # retrieve step adds each finished run; and the accounts' call slots
        # (adapters/call_slots.py), which both take and release. Their items live in the table.
        self.retrieve_export.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadinessHistoryAndCallSlots",
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
        ongage_accounts=accounts_setting(config, credentials),
        ongage_base_url=ongage_base_url,
        export_prefix=EXPORT_PREFIX,
        staging_prefix=STAGING_PREFIX,
        part_size_mib=PART_SIZE_MIB,
        stop_margin_seconds=config.stream_stop_margin_seconds,
        default_polling=config.polling,
        **(trusted if config.ongage_trusted_origins else {}),
    )


def accounts_setting(config: StackConfig, credentials: OngageCredentials) -> dict[str, Any]:
    """ONGAGE_ACCOUNTS: each account's secret and limits; only what differs from the defaults
    (the default account's secret is ONGAGE_SECRET_ID), as the variables share 4 KB."""
    defaults = AccountSetting()
    setting: dict[str, Any] = {}
    for name, account in config.all_accounts.items():
        entry: dict[str, Any] = {}
        if name != DEFAULT_ACCOUNT:
            entry["secret_id"] = credentials.secret_ids[name]
        for limit in ("parallel_calls", "calls_per_minute"):
            if getattr(account, limit) != getattr(defaults, limit):
                entry[limit] = getattr(account, limit)
        if entry:
            setting[name] = entry
    return setting


def with_lease(environment: Mapping[str, str], timeout_seconds: int) -> dict[str, str]:
    """`environment` and how long a slot stays held by an invocation that died holding it."""
    lease = Settings.environment(call_lease_seconds=timeout_seconds + LEASE_MARGIN_SECONDS)
    return {**environment, **lease}
