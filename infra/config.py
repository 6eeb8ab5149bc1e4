"""The stack's configuration: the `ongage_export` object in cdk.json's context, as pydantic models.

Every problem names the exact context key (e.g. `ongage_export.schedules[0].time_zone`), so a bad
`cdk.json` or `-c ongage_export='{...}'` fails at `cdk synth` with a sentence a user can act on,
never half-way through a deployment. The context is JSON and is validated as JSON, strictly: a
number in quotes or `"yes"` for true is an error, not a guess.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    field_validator,
    model_validator,
)

from infra import config_values as rules
from ongage_export.adapters.origins import trusted_origin
from ongage_export.contract import (
    CURATED_PREFIX,
    DEFAULT_STACK_NAME,
    DOWNLOAD_LINK_SECONDS,
)
from ongage_export.domain.accounts import (
    ACCOUNT_KEY,
    ACCOUNT_NAME_PATTERN,
    DEFAULT_ACCOUNT,
    unknown_account_message,
)
from ongage_export.domain.call_limits import DEFAULT_CALLS_PER_MINUTE, DEFAULT_PARALLEL_CALLS
from ongage_export.domain.polling import PollingPolicy
from ongage_export.domain.request import FIELD_NAME_PATTERN, validate_request

CONTEXT_KEY = "ongage_export"
SCHEDULED_TIME_TOKEN = "{scheduled_time}"
# A sample of what Scheduler puts in place of the token, to validate names at their real length.
_SAMPLE_SCHEDULED_TIME = "2030-12-31T23:59:59Z"
# The retrieve streams until this margin before its timeout, then hands over to the next
# invocation; a margin that leaves less than this to stream would hand over forever.
MIN_STREAMING_SECONDS = 5


class ConfigError(ValueError):
    """The configuration is wrong; the message names the context key at fault."""


def _scheduled_request(request: dict[str, Any]) -> dict[str, Any]:
    """The request as Scheduler will send it: checked with a sample time in its name."""
    sample = dict(request)
    if isinstance(sample.get("name"), str):
        sample["name"] = sample["name"].replace(SCHEDULED_TIME_TOKEN, _SAMPLE_SCHEDULED_TIME)
    problems = validate_request(sample)
    if problems:
        raise ValueError("; ".join(problems))
    return request


def _polling_policy(value: Any) -> PollingPolicy:
    if isinstance(value, PollingPolicy):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object, not {value!r}")
    return PollingPolicy.from_mapping(value)


def _int(low: int, high: int) -> Any:
    return Field(ge=low, le=high)


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ScheduleConfig(_Config):
    name: Annotated[str, Field(pattern=r"^[0-9A-Za-z_.\-]{1,64}$")]
    expression: Annotated[str, AfterValidator(rules.schedule_expression)]
    time_zone: Annotated[str, AfterValidator(rules.time_zone)] = "UTC"
    enabled: bool = True
    request: Annotated[dict[str, Any], AfterValidator(_scheduled_request)]
    # Overrides of the stack's policy for this schedule's runs (checked against it below).
    polling: dict[str, Any] = Field(default_factory=dict)


class ApiConfig(_Config):
    stage_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{1,64}$")] = "v1"
    throttle_rate_limit: Annotated[float, Field(ge=0.1, le=10000.0)] = 5.0
    throttle_burst_limit: Annotated[int, _int(1, 5000)] = 10
    # API Gateway execution logging needs an account-wide CloudWatch role; False if one is set.
    create_cloudwatch_role: bool = True
    download_link_seconds: Annotated[int, _int(60, 43200)] = DOWNLOAD_LINK_SECONDS


class CuratedConfig(_Config):
    """The optional consumer: each landed ZIP -> Parquet + manifest under `prefix`."""

    enabled: bool = False
    prefix: Annotated[str, AfterValidator(rules.curated_folder)] = CURATED_PREFIX
    # 1769 MB is one full vCPU: the CSV parsing is CPU-bound (docs/consumers.md).
    memory_mb: Annotated[int, _int(128, 10240)] = 1769
    # List fields the Glue table shows besides the system fields and the schedules' fields.
    fields: tuple[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)], ...] = ()


SecretName = Annotated[str, Field(pattern=r"^[A-Za-z0-9/_+=.@\-]{1,512}$")]
# The Lambdas get every account's secret and limits in one variable (ONGAGE_ACCOUNTS); with
# Lambda's 4 KB for all variables, 20 accounts of 40-character names fit with room to spare.
MAX_ACCOUNTS = 20


class AccountConfig(_Config):
    """One Ongage account: its credentials' secret (None: the stack creates one) and the limits
    Ongage holds it to (its defaults unless Ongage raised them for the account)."""

    secret_name: SecretName | None = None
    parallel_calls: Annotated[int, _int(1, 1000)] = DEFAULT_PARALLEL_CALLS
    calls_per_minute: Annotated[int, _int(1, 100000)] = DEFAULT_CALLS_PER_MINUTE


class StackConfig(_Config):
    stack_name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")] = DEFAULT_STACK_NAME
    ongage_base_url: Annotated[str, AfterValidator(rules.https)] = "https://api.ongage.net"
    # Origins besides the base URL's that may receive the credentials when Ongage redirects
    # there (e.g. "https://connect.ongage.net"); every other origin gets none.
    ongage_trusted_origins: tuple[Annotated[str, AfterValidator(trusted_origin)], ...] = ()
    # None: the stack creates the secret; a name: an existing secret is used.
    ongage_secret_name: SecretName | None = None
    # The default account's parallel calls (accounts.default.parallel_calls, its older name).
    ongage_concurrency_limit: Annotated[int, _int(1, 1000)] = DEFAULT_PARALLEL_CALLS
    # More accounts, by name (requests name theirs in "account"); `default` may be set here or
    # with the two keys above, which are the default account of a single-account stack.
    accounts: dict[Annotated[str, Field(pattern=ACCOUNT_NAME_PATTERN)], AccountConfig] = Field(
        default_factory=dict
    )
    polling: Annotated[PollingPolicy, PlainValidator(_polling_policy)] = Field(
        default_factory=PollingPolicy
    )
    export_retention_days: Annotated[int, _int(1, 36500)] | None = None
    staging_retention_days: Annotated[int, _int(1, 365)] = 2
    noncurrent_version_retention_days: Annotated[int, _int(1, 3650)] = 30
    log_retention_days: Annotated[int, AfterValidator(rules.log_retention)] = 90
    # None: AWS-managed keys; "create" or a key ARN: every store of contact data or credentials
    # is encrypted with that customer-managed key (infra/encryption.py).
    kms_key: Annotated[str, AfterValidator(rules.kms_key)] | None = None
    notification_emails: tuple[
        Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")], ...
    ] = ()
    schedules: tuple[ScheduleConfig, ...] = ()
    scheduler_retry_attempts: Annotated[int, _int(0, 185)] = 3
    scheduler_max_event_age_seconds: Annotated[int, _int(60, 86400)] = 3600
    api: ApiConfig = Field(default_factory=ApiConfig)
    curated: CuratedConfig = Field(default_factory=CuratedConfig)
    # The retrieve function's timeout (15 minutes, Lambda's maximum, unless testing the resume)
    # and how long before it the download stops at a part boundary and hands over.
    retrieve_timeout_seconds: Annotated[int, _int(10, 900)] = 900
    stream_stop_margin_seconds: Annotated[int, _int(1, 895)] = 180

    @model_validator(mode="after")
    def _time_to_stream(self) -> StackConfig:
        streaming = self.retrieve_timeout_seconds - self.stream_stop_margin_seconds
        if streaming < MIN_STREAMING_SECONDS:
            raise ValueError(
                f"{CONTEXT_KEY}.retrieve_timeout_seconds ({self.retrieve_timeout_seconds}) minus "
                f"{CONTEXT_KEY}.stream_stop_margin_seconds ({self.stream_stop_margin_seconds}) "
                f"leaves {streaming} s to stream per invocation, at least "
                f"{MIN_STREAMING_SECONDS} s are needed: raise the timeout or lower the margin"
            )
        return self

    @model_validator(mode="after")
    def _default_account_once(self) -> StackConfig:
        both = {"ongage_secret_name", "ongage_concurrency_limit"} & self.model_fields_set
        if DEFAULT_ACCOUNT in self.accounts and both:
            raise ValueError(
                f"{CONTEXT_KEY}.accounts.{DEFAULT_ACCOUNT} and {CONTEXT_KEY}."
                f"{sorted(both)[0]} both configure the default account: keep one of them"
            )
        if len(self.accounts) > MAX_ACCOUNTS:
            raise ValueError(
                f"{CONTEXT_KEY}.accounts has {len(self.accounts)} accounts; one stack serves at "
                f"most {MAX_ACCOUNTS} (their settings share the functions' 4 KB environment): "
                "deploy another stack for the rest"
            )
        return self

    @property
    def all_accounts(self) -> dict[str, AccountConfig]:
        """Every account the stack serves, the default one first."""
        default = self.accounts.get(DEFAULT_ACCOUNT) or AccountConfig(
            secret_name=self.ongage_secret_name, parallel_calls=self.ongage_concurrency_limit
        )
        return {DEFAULT_ACCOUNT: default, **self.accounts}

    @field_validator("schedules")
    @classmethod
    def _unique_names(cls, schedules: tuple[ScheduleConfig, ...]) -> tuple[ScheduleConfig, ...]:
        names = [schedule.name for schedule in schedules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"repeats the name {repeated[0]!r}")
        return schedules


def load_config(raw: Any) -> StackConfig:
    """The validated configuration from the raw context value (object, JSON string or None)."""
    # `cdk synth -c ongage_export='{...}'` passes a string; cdk.json an object.
    text = raw if isinstance(raw, str) else json.dumps({} if raw is None else raw)
    try:
        config = StackConfig.model_validate_json(text)
    except ValidationError as error:
        raise ConfigError(_explain(error)) from None
    for index, schedule in enumerate(config.schedules):
        account = schedule.request.get(ACCOUNT_KEY, DEFAULT_ACCOUNT)
        if account not in config.all_accounts:
            raise ConfigError(
                f"{CONTEXT_KEY}.schedules[{index}].request.{ACCOUNT_KEY}: "
                + unknown_account_message(account, list(config.all_accounts))
            )
        try:  # a schedule's overrides on top of the stack's policy
            PollingPolicy.from_mapping(schedule.polling, base=config.polling)
        except ValueError as error:
            raise ConfigError(f"{CONTEXT_KEY}.schedules[{index}].polling: {error}") from None
    return config


def _explain(error: ValidationError) -> str:
    """Each problem as `<context key>: <what is wrong>`."""
    lines = []
    for problem in error.errors(include_url=False):
        if problem["type"] == "json_invalid":
            return f"{CONTEXT_KEY} is not valid JSON: {problem['msg']}"
        where = CONTEXT_KEY + "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]
        )
        lines.append(f"{where}: {_what(problem)}")
    return "; ".join(lines)


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model that the object at `loc` is validated as (for its known keys)."""
    model: type[BaseModel] | None = StackConfig
    for part in loc:
        if model is None or isinstance(part, int) or part not in model.model_fields:
            continue  # a list index or a dict key (an account's name)
        annotation = model.model_fields[part].annotation
        kinds = [annotation, *get_args(annotation)]
        model = next((k for k in kinds if isinstance(k, type) and issubclass(k, BaseModel)), None)
    return model


def _what(problem: Any) -> str:
    kind, message = problem["type"], problem["msg"].removeprefix("Value error, ")
    if kind == "extra_forbidden":
        model = _model_at(problem["loc"][:-1])
        return "unknown key" + (f"; known keys: {', '.join(model.model_fields)}" if model else "")
    if kind == "missing":
        return "is required"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"must be a JSON object, not {problem['input']!r}"
    if kind == "value_error":
        return message
    return f"{message}, not {problem['input']!r}"
