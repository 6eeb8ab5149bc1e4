"""The stack's configuration: the `ongage_export` object in cdk.json's context, as pydantic models.

Every problem names the exact context key (e.g. `ongage_export.schedules[0].time_zone`), so a bad
`cdk.json` or `-c ongage_export='{...}'` fails at `cdk synth` with a sentence a user can act on,
never half-way through a deployment. The context is JSON and is validated as JSON, strictly: a
number in quotes or `"yes"` for true is an error, not a guess.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from typing import Annotated, Any, get_args
from urllib.parse import urlparse

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

from infra.scheduled_requests import (
    requests_of,
    scheduled_request,
    start_problems,
)
from ongage_export.adapters.ongage_session import trusted_origin
from ongage_export.contract import (
    CURATED_PREFIX,
    DEFAULT_STACK_NAME,
    DOWNLOAD_LINK_SECONDS,
    EXPORT_PREFIX,
    STAGING_PREFIX,
)
from ongage_export.domain.polling import PollingPolicy
from ongage_export.domain.request import FIELD_NAME_PATTERN

CONTEXT_KEY = "ongage_export"
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip
# A folder of S3 keys: `/`-separated parts of S3's safe characters, ending with `/`; no leading
# `/`, no `.` or `..` part, and no `*` or `?`, which would widen the IAM resource `<prefix>*`.
_FOLDER = re.compile(r"^(?:(?!\.\.?/)[0-9A-Za-z!_.'()=-]+/)+$")
# The retrieve streams until this margin before its timeout, then hands over to the next
# invocation; a margin that leaves less than this to stream would hand over forever.
MIN_STREAMING_SECONDS = 5
_CRON = re.compile(r"^cron\(\S+( \S+){5}\)$")
_RATE = re.compile(r"^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$")
# `kms_key`: the stack creates the key, or an existing key given by its ARN (a single- or a
# multi-Region key; an alias ARN is refused, as a key policy cannot be checked through it).
CREATE_KEY = "create"
_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|mrk-[0-9a-f]{32})$"
)


class ConfigError(ValueError):
    """The configuration is wrong; the message names the context key at fault."""


def _https(url: str) -> str:
    parsed = urlparse(url)
    # Credentials travel in headers: only HTTPS is acceptable from AWS.
    if parsed.scheme != "https" or not parsed.hostname:
        raise ValueError(f"must be an https:// URL, not {url!r}")
    return url.rstrip("/")


def _kms_key(value: str) -> str:
    if value != CREATE_KEY and not _KEY_ARN.match(value):
        raise ValueError(
            f"is {value!r}; use null (AWS-managed keys), {CREATE_KEY!r} (the stack creates a "
            "customer-managed key) or the ARN of an existing key "
            "(arn:aws:kms:<region>:<account>:key/<key id>, not an alias)"
        )
    return value


def _log_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"is {days}; CloudWatch Logs accepts only {list(LOG_RETENTION_DAYS)}")
    return days


def _schedule_expression(expression: str) -> str:
    if not (_CRON.match(expression) or _RATE.match(expression)):
        raise ValueError(
            f"is {expression!r}; use cron(min hour day month weekday year) or "
            "rate(N minutes|hours|days), as EventBridge Scheduler does"
        )
    return expression


def _time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"is {name!r}, not an IANA time zone (e.g. Europe/London)") from None
    return name


def _polling_policy(value: Any) -> PollingPolicy:
    if isinstance(value, PollingPolicy):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object, not {value!r}")
    return PollingPolicy.from_mapping(value)


def _curated_folder(prefix: str) -> str:
    if not _FOLDER.match(prefix):
        raise ValueError(
            f"is {prefix!r}; it must be a folder of the export bucket ending with '/' (e.g. "
            "'curated/'), not starting with '/', made of letters, digits and !_.'()=-, with no "
            "'.' or '..' part"
        )
    # Under exports/ the curated files would be announced to consumers (and to the curation
    # itself) as exports; under incoming/ the staging lifecycle rule would expire them.
    for other, role in ((EXPORT_PREFIX, "exports"), (STAGING_PREFIX, "staging uploads")):
        if prefix.startswith(other) or other.startswith(prefix):
            raise ValueError(
                f"is {prefix!r}; it must not overlap {other!r}, where the workflow writes {role}"
            )
    return prefix


def _int(low: int, high: int) -> Any:
    return Field(ge=low, le=high)


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class ScheduleConfig(_Config):
    name: Annotated[str, Field(pattern=r"^[0-9A-Za-z_.\-]{1,64}$")]
    expression: Annotated[str, AfterValidator(_schedule_expression)]
    time_zone: Annotated[str, AfterValidator(_time_zone)] = "UTC"
    enabled: bool = True
    # One export, or a batch of them (one run each, domain/batch.py): exactly one of the two,
    # checked in load_config, where each of a batch's problems gets its key.
    request: Annotated[dict[str, Any], AfterValidator(scheduled_request)] | None = None
    batch: dict[str, Any] | None = None
    # Overrides of the stack's policy for this schedule's runs (checked against it below).
    polling: dict[str, Any] = Field(default_factory=dict)

    def requests(self) -> list[dict[str, Any]]:
        """The request, or each request of the batch."""
        return requests_of(self.request, self.batch)

    def problems(self, where: str) -> list[str]:
        """What is wrong with what the schedule starts, each named by its key under `where`."""
        return start_problems(self.request, self.batch, where)


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
    prefix: Annotated[str, AfterValidator(_curated_folder)] = CURATED_PREFIX
    # 1769 MB is one full vCPU: the CSV parsing is CPU-bound (docs/consumers.md).
    memory_mb: Annotated[int, _int(128, 10240)] = 1769
    # List fields the Glue table shows besides the system fields and the schedules' fields.
    fields: tuple[Annotated[str, Field(pattern=FIELD_NAME_PATTERN)], ...] = ()


class StackConfig(_Config):
    stack_name: Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")] = DEFAULT_STACK_NAME
    ongage_base_url: Annotated[str, AfterValidator(_https)] = "https://api.ongage.net"
    # Origins besides the base URL's that may receive the credentials when Ongage redirects
    # there (e.g. "https://connect.ongage.net"); every other origin gets none.
    ongage_trusted_origins: tuple[Annotated[str, AfterValidator(trusted_origin)], ...] = ()
    # None: the stack creates the secret; a name: an existing secret is used.
    ongage_secret_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9/_+=.@\-]{1,512}$")] | None = None
    ongage_concurrency_limit: Annotated[int, _int(2, 1000)] = 10
    polling: Annotated[PollingPolicy, PlainValidator(_polling_policy)] = Field(
        default_factory=PollingPolicy
    )
    export_retention_days: Annotated[int, _int(1, 36500)] | None = None
    staging_retention_days: Annotated[int, _int(1, 365)] = 2
    noncurrent_version_retention_days: Annotated[int, _int(1, 3650)] = 30
    log_retention_days: Annotated[int, AfterValidator(_log_retention)] = 90
    # None: AWS-managed keys; "create" or a key ARN: every store of contact data or credentials
    # is encrypted with that customer-managed key (infra/encryption.py).
    kms_key: Annotated[str, AfterValidator(_kms_key)] | None = None
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
        problems = schedule.problems(f"{CONTEXT_KEY}.schedules[{index}]")
        if problems:
            raise ConfigError("; ".join(problems))
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
        if model is None or isinstance(part, int):
            continue
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
