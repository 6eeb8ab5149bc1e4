"""The Lambdas' configuration: environment variables validated by pydantic models.

Each model reads the variables named by its fields' aliases, which CDK (infra/) and the
embedded runtime set. A missing or malformed variable is a ConfigurationError naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ongage_export.adapters.origins import trusted_origin
from ongage_export.contract import (
    CURATED_PREFIX,
    EXPORT_PREFIX,
    METRICS_NAMESPACE,
    PART_SIZE_MIB,
    SERVICE_NAME,
    STAGING_PREFIX,
    UPLOAD_CONCURRENCY,
)
from ongage_export.domain.accounts import DEFAULT_ACCOUNT, Account, unknown_account_message
from ongage_export.domain.call_limits import (
    DEFAULT_CALLS_PER_MINUTE,
    DEFAULT_PARALLEL_CALLS,
    CallLimits,
)
from ongage_export.domain.errors import ConfigurationError, UnknownAccount
from ongage_export.domain.polling import PollingPolicy

# Ongage calls: a connection within 10 s, and no silence longer than 60 s between bytes (a
# create's answer, or the next chunk of a download). Both together stay well inside the
# shortest function that calls Ongage (CreateExport, 90 s), so a stalled call is noticed and
# retried by the workflow instead of timing the function out (tests/infra/test_timeouts.py).
ONGAGE_CONNECT_TIMEOUT_SECONDS = 10.0
ONGAGE_READ_TIMEOUT_SECONDS = 60.0


def _folder(prefix: str) -> str:
    prefix = prefix.lstrip("/")
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _origins(text: str) -> str:
    return " ".join(trusted_origin(origin) for origin in text.split())


Required = Annotated[str, Field(min_length=1)]
Folder = Annotated[str, AfterValidator(_folder)]
PartSizeMib = Annotated[int, Field(ge=5, description="S3's minimum part is 5 MiB")]


# Every function's Powertools settings (variables Powertools itself reads).
POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
}


class EnvSettings(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, str_strip_whitespace=True
    )

    @classmethod
    def environment(cls, **values: object) -> dict[str, str]:
        """The variables that give a function these `values` (by field name): what the template
        sets, so each variable's name is spelled once, in its field's alias. A name that is not
        a field is a TypeError at synth."""
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise TypeError(f"{cls.__name__} has no setting named {', '.join(unknown)}")
        environment = dict(POWERTOOLS_ENVIRONMENT)
        for name, value in values.items():
            environment.update(cls._variables(name, value))
        return environment

    @classmethod
    def _variables(cls, name: str, value: object) -> dict[str, str]:
        return {cls.model_fields[name].alias or name: str(value)}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        try:
            return cls.model_validate(dict(os.environ if env is None else env))
        except ValidationError as error:
            problems = (
                f"environment variable {'.'.join(map(str, problem['loc']))}: {problem['msg']}"
                if problem["loc"]
                else problem["msg"]
                for problem in error.errors()
            )
            raise ConfigurationError("bad Lambda configuration: " + "; ".join(problems)) from None


class BucketSettings(EnvSettings):
    export_bucket: Required = Field(alias="EXPORT_BUCKET")
    export_prefix: Folder = Field(EXPORT_PREFIX, alias="EXPORT_PREFIX")


class AccountSetting(BaseModel):
    """One account in ONGAGE_ACCOUNTS; no `secret_id` for the default account, whose secret is
    ONGAGE_SECRET_ID."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret_id: str | None = None
    parallel_calls: int = Field(default=DEFAULT_PARALLEL_CALLS, ge=1)
    calls_per_minute: int = Field(default=DEFAULT_CALLS_PER_MINUTE, ge=1)


class Settings(BucketSettings):
    """What CreateExport and RetrieveExport run with."""

    idempotency_table: Required = Field(alias="IDEMPOTENCY_TABLE")
    ongage_secret_id: Required = Field(alias="ONGAGE_SECRET_ID")
    # Every account but a lone default one: JSON {NAME: {secret_id?, parallel_calls, ...}}.
    ongage_accounts: dict[str, AccountSetting] = Field(
        default_factory=dict, alias="ONGAGE_ACCOUNTS"
    )
    # How long a slot of the account's calls stays held if this function dies holding it: its
    # timeout and a margin (infra sets it per function).
    call_lease_seconds: float = Field(930.0, gt=0, alias="CALL_LEASE_SECONDS")
    ongage_base_url: Annotated[Required, AfterValidator(lambda url: url.rstrip("/"))] = Field(
        alias="ONGAGE_BASE_URL"
    )
    # Origins besides the base URL's that get the credentials on a redirect (space-separated;
    # ongage_trusted_origins in cdk.json).
    ongage_trusted_origins: Annotated[str, AfterValidator(_origins)] = Field(
        "", alias="ONGAGE_TRUSTED_ORIGINS"
    )
    staging_prefix: Folder = Field(STAGING_PREFIX, alias="STAGING_PREFIX")
    part_size_mib: PartSizeMib = Field(PART_SIZE_MIB, alias="PART_SIZE_MIB")
    upload_concurrency: int = UPLOAD_CONCURRENCY
    # Stop streaming this long before the Lambda times out: enough to finish the parts in
    # flight, verify and publish (resumed in the next invocation if not).
    stop_margin_seconds: float = Field(180.0, gt=0, alias="STREAM_STOP_MARGIN_SECONDS")
    # How fast the ZIP check goes (inflating every member), set low. A body that fits in the
    # rest of the invocation at this rate lands in one pass (checked while it streams); else
    # it is staged, and when the rest of the invocation is too short for the staged object's
    # re-read, the check and publication get an invocation of their own.
    verify_bytes_per_second: float = Field(20e6, gt=0, alias="VERIFY_BYTES_PER_SECOND")
    # Tests and the fault matrix shorten the read timeout, to see a stalled body noticed
    # quickly; it can never exceed the budget the function timeouts allow.
    ongage_read_timeout_seconds: float = Field(
        ONGAGE_READ_TIMEOUT_SECONDS, gt=0, le=ONGAGE_READ_TIMEOUT_SECONDS,
        alias="ONGAGE_READ_TIMEOUT_SECONDS",
    )  # fmt: skip
    # POLL_INITIAL_SECONDS, POLL_GROWTH... (PollingPolicy.ENV_VARS), gathered by _gather_polling.
    default_polling: PollingPolicy = Field(default_factory=PollingPolicy, alias="POLL_*")

    @property
    def part_size_bytes(self) -> int:
        return self.part_size_mib * 1024 * 1024

    def account(self, name: str) -> Account:
        """The account a request names, or UnknownAccount saying which ones there are."""
        known = {DEFAULT_ACCOUNT: AccountSetting(), **self.ongage_accounts}
        if name not in known:
            raise UnknownAccount(unknown_account_message(name, list(known)))
        entry = known[name]
        return Account(
            name=name,
            secret_id=entry.secret_id or self.ongage_secret_id,
            limits=CallLimits(entry.parallel_calls, entry.calls_per_minute),
        )

    @field_validator("ongage_accounts", mode="before")
    @classmethod
    def _accounts_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("ongage_accounts")
    @classmethod
    def _own_secrets(cls, accounts: dict[str, AccountSetting]) -> dict[str, AccountSetting]:
        # Another account on the default's secret would call Ongage as the default account.
        lacking = [
            name
            for name, entry in accounts.items()
            if name != DEFAULT_ACCOUNT and not entry.secret_id
        ]
        if lacking:
            raise ValueError(f"accounts {', '.join(lacking)} have no secret_id")
        return accounts

    @classmethod
    def _variables(cls, name: str, value: object) -> dict[str, str]:
        if name == "ongage_accounts" and isinstance(value, Mapping):
            return {"ONGAGE_ACCOUNTS": json.dumps(value, separators=(",", ":"))}
        if isinstance(value, PollingPolicy):  # one variable per field of the policy
            policy = value.as_dict()
            return {var: str(policy[key]) for key, var in PollingPolicy.ENV_VARS.items()}
        return super()._variables(name, value)

    @model_validator(mode="before")
    @classmethod
    def _gather_polling(cls, env: Any) -> Any:
        """The POLL_* variables, by PollingPolicy field, become the default policy."""
        gathered = cls.model_fields["default_polling"].alias or ""
        if isinstance(env, dict) and gathered not in env:
            chosen = {key: env[var] for key, var in PollingPolicy.ENV_VARS.items() if var in env}
            env = {**env, gathered: chosen}
        return env

    @field_validator("default_polling", mode="before")
    @classmethod
    def _polling_policy(cls, value: Any) -> Any:
        return PollingPolicy.from_mapping(value) if isinstance(value, Mapping) else value


class CurateSettings(BucketSettings):
    """What the optional consumer runs with."""

    curated_prefix: Folder = Field(CURATED_PREFIX, alias="CURATED_PREFIX")
    part_size_mib: PartSizeMib = Field(PART_SIZE_MIB, alias="PART_SIZE_MIB")
    # Where schema_changed notices go, and whose executions hold the requests ("" for none).
    topic_arn: str = Field("", alias="TOPIC_ARN")
    state_machine_arn: str = Field("", alias="STATE_MACHINE_ARN")

    @property
    def part_size_bytes(self) -> int:
        return self.part_size_mib * 1024 * 1024

    @model_validator(mode="after")
    def _apart_from_exports(self) -> Self:
        # Curated output under the export prefix would be announced to consumers as exports.
        if self.curated_prefix.startswith(self.export_prefix):
            raise ValueError("CURATED_PREFIX must not be inside EXPORT_PREFIX")
        return self


class StatusSettings(BucketSettings):
    """What the status function (GET /exports/{id}) runs with."""

    state_machine_arn: Required = Field(alias="STATE_MACHINE_ARN")
    # Set by the template (api.download_link_seconds); SigV4 links live 7 days at most.
    download_link_seconds: int = Field(ge=1, le=604800, alias="DOWNLOAD_LINK_SECONDS")


class AnnounceSettings(EnvSettings):
    """What the announcer of runs the workflow did not announce runs with."""

    topic_arn: Required = Field(alias="TOPIC_ARN")
