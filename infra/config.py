"""The stack's configuration: the `ongage_export` object in cdk.json's context, typed and checked.

Every problem names the exact context key (e.g. `ongage_export.schedules[0].time_zone`), so a bad
`cdk.json` or `-c ongage_export='{...}'` fails at `cdk synth` with a sentence a user can act on,
never half-way through a deployment.
"""

from __future__ import annotations

import json
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from ongage_export.polling import PollingPolicy
from ongage_export.request import FIELD_NAME_PATTERN, validate_request

CONTEXT_KEY = "ongage_export"
SCHEDULED_TIME_TOKEN = "{scheduled_time}"
# A sample of what Scheduler puts in place of the token, to validate names at their real length.
_SAMPLE_SCHEDULED_TIME = "2030-12-31T23:59:59Z"
# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip
_SCHEDULE_NAME = re.compile(r"^[0-9A-Za-z_.\-]{1,64}$")
_CRON = re.compile(r"^cron\(\S+( \S+){5}\)$")
_RATE = re.compile(r"^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
# A folder of S3 keys: `/`-separated parts of S3's safe characters, ending with `/`; no leading
# `/`, no `.` or `..` part, and no `*` or `?`, which would widen the IAM resource `<prefix>*`.
_FOLDER = re.compile(r"^(?:(?!\.\.?/)[0-9A-Za-z!_.'()=-]+/)+$")
# Lambda's memory range, in MB.
LAMBDA_MEMORY_MB = (128, 10240)


class ConfigError(ValueError):
    """The configuration is wrong; the message names the context key at fault."""


@dataclass(frozen=True)
class ScheduleConfig:
    name: str
    expression: str
    time_zone: str
    enabled: bool
    request: Mapping[str, Any]
    polling: Mapping[str, Any]


@dataclass(frozen=True)
class ApiConfig:
    stage_name: str = "v1"
    throttle_rate_limit: float = 5.0
    throttle_burst_limit: int = 10
    # API Gateway execution logging needs an account-wide CloudWatch role; False if one is set.
    create_cloudwatch_role: bool = True
    download_link_seconds: int = 900


@dataclass(frozen=True)
class CuratedConfig:
    """The optional consumer: each landed ZIP -> Parquet + manifest under `prefix`."""

    enabled: bool = False
    prefix: str = "curated/"
    # 1769 MB is one full vCPU: the CSV parsing is CPU-bound (docs/consumers.md).
    memory_mb: int = 1769
    # List fields the Glue table shows besides the system fields and the schedules' fields.
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class StackConfig:
    stack_name: str = "OngageExport"
    ongage_base_url: str = "https://api.ongage.net"
    # None: the stack creates the secret; a name: an existing secret is used.
    ongage_secret_name: str | None = None
    ongage_concurrency_limit: int = 10
    polling: PollingPolicy = field(default_factory=PollingPolicy)
    export_retention_days: int | None = None
    staging_retention_days: int = 2
    noncurrent_version_retention_days: int = 30
    log_retention_days: int = 90
    notification_emails: tuple[str, ...] = ()
    schedules: tuple[ScheduleConfig, ...] = ()
    scheduler_retry_attempts: int = 3
    scheduler_max_event_age_seconds: int = 3600
    api: ApiConfig = field(default_factory=ApiConfig)
    curated: CuratedConfig = field(default_factory=CuratedConfig)


class _Reader:
    """Typed access to one JSON object of the context, remembering where it sits."""

    def __init__(self, data: Any, path: str):
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path} must be a JSON object, not {type(data).__name__}")
        self.data = data
        self.path = path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}"

    def reject_unknown(self, known: set[str]) -> None:
        unknown = sorted(set(self.data) - known)
        if unknown:
            raise ConfigError(
                f"unknown key {self.where(unknown[0])}; known keys of {self.path}: "
                + ", ".join(sorted(known))
            )

    def integer(self, key: str, default: int | None, low: int, high: int) -> int | None:
        value = self.data.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ConfigError(
                f"{self.where(key)} must be an integer from {low} to {high}, not {value!r}"
            )
        return value

    def required_int(self, key: str, default: int, low: int, high: int) -> int:
        value = self.integer(key, default, low, high)
        if value is None:
            raise ConfigError(f"{self.where(key)} must be an integer from {low} to {high}")
        return value

    def number(self, key: str, default: float, low: float, high: float) -> float:
        value = self.data.get(key, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ConfigError(
                f"{self.where(key)} must be a number from {low} to {high}, not {value!r}"
            )
        return float(value)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise ConfigError(f"{self.where(key)} must be true or false, not {value!r}")
        return value

    def string(self, key: str, default: str | None, pattern: re.Pattern[str] | None = None) -> str:
        value = self.data.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{self.where(key)} must be a non-empty string, not {value!r}")
        if pattern is not None and not pattern.match(value):
            raise ConfigError(f"{self.where(key)} is {value!r}; it must match {pattern.pattern}")
        return value

    def array(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"{self.where(key)} must be a JSON array, not {value!r}")
        return value


def load_config(raw: Any) -> StackConfig:
    """The validated configuration from the raw context value (object, JSON string or None)."""
    if raw is None:
        raw = {}
    if isinstance(raw, str):  # `cdk synth -c ongage_export='{...}'` passes a string
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as error:
            raise ConfigError(f"{CONTEXT_KEY} is not valid JSON: {error}") from None
    reader = _Reader(raw, CONTEXT_KEY)
    reader.reject_unknown({f for f in StackConfig.__dataclass_fields__})
    defaults = StackConfig()
    polling = _polling(reader, "polling", reader.data.get("polling", {}), PollingPolicy())
    limit = reader.required_int(
        "ongage_concurrency_limit", defaults.ongage_concurrency_limit, 2, 1000
    )
    return StackConfig(
        stack_name=reader.string("stack_name", defaults.stack_name, _STACK_NAME),
        ongage_base_url=_base_url(reader),
        ongage_secret_name=_secret_name(reader),
        ongage_concurrency_limit=limit,
        polling=polling,
        export_retention_days=reader.integer("export_retention_days", None, 1, 36500),
        staging_retention_days=reader.required_int("staging_retention_days", 2, 1, 365),
        noncurrent_version_retention_days=reader.required_int(
            "noncurrent_version_retention_days", 30, 1, 3650
        ),
        log_retention_days=_log_retention(reader),
        notification_emails=_emails(reader),
        schedules=_schedules(reader, polling),
        scheduler_retry_attempts=reader.required_int("scheduler_retry_attempts", 3, 0, 185),
        scheduler_max_event_age_seconds=reader.required_int(
            "scheduler_max_event_age_seconds", 3600, 60, 86400
        ),
        api=_api(reader),
        curated=_curated(reader),
    )


def _base_url(reader: _Reader) -> str:
    url = reader.string("ongage_base_url", StackConfig.ongage_base_url)
    parsed = urlparse(url)
    # Credentials travel in headers: only HTTPS is acceptable from AWS.
    if parsed.scheme != "https" or not parsed.hostname:
        raise ConfigError(f"{reader.where('ongage_base_url')} must be an https:// URL, not {url!r}")
    return url.rstrip("/")


def _secret_name(reader: _Reader) -> str | None:
    if reader.data.get("ongage_secret_name") is None:
        return None
    return reader.string("ongage_secret_name", None, re.compile(r"^[A-Za-z0-9/_+=.@\-]{1,512}$"))


def _polling(reader: _Reader, key: str, value: Any, base: PollingPolicy) -> PollingPolicy:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{reader.where(key)} must be a JSON object, not {value!r}")
    try:
        return PollingPolicy.from_mapping(value, base=base)
    except ValueError as error:
        raise ConfigError(f"{reader.where(key)}: {error}") from None


def _log_retention(reader: _Reader) -> int:
    days = reader.required_int("log_retention_days", 90, 1, 3653)
    if days not in LOG_RETENTION_DAYS:
        raise ConfigError(
            f"{reader.where('log_retention_days')} is {days}; CloudWatch Logs accepts only "
            + ", ".join(map(str, LOG_RETENTION_DAYS))
        )
    return days


def _emails(reader: _Reader) -> tuple[str, ...]:
    emails = reader.array("notification_emails")
    for index, email in enumerate(emails):
        if not isinstance(email, str) or not _EMAIL.match(email):
            where = f"{reader.where('notification_emails')}[{index}]"
            raise ConfigError(f"{where} is not an e-mail address: {email!r}")
    return tuple(emails)


def _schedules(reader: _Reader, polling: PollingPolicy) -> tuple[ScheduleConfig, ...]:
    items = reader.array("schedules")
    schedules = tuple(
        _schedule(_Reader(item, f"{reader.where('schedules')}[{index}]"), polling)
        for index, item in enumerate(items)
    )
    names = [schedule.name for schedule in schedules]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ConfigError(f"{reader.where('schedules')} repeats the name {duplicates[0]!r}")
    return schedules


def _schedule(reader: _Reader, polling: PollingPolicy) -> ScheduleConfig:
    reader.reject_unknown({"name", "expression", "time_zone", "enabled", "request", "polling"})
    expression = reader.string("expression", None)
    if not (_CRON.match(expression) or _RATE.match(expression)):
        raise ConfigError(
            f"{reader.where('expression')} is {expression!r}; use cron(min hour day month weekday "
            "year) or rate(N minutes|hours|days), as EventBridge Scheduler does"
        )
    overrides = reader.data.get("polling", {})
    _polling(reader, "polling", overrides, polling)
    return ScheduleConfig(
        name=reader.string("name", None, _SCHEDULE_NAME),
        expression=expression,
        time_zone=_time_zone(reader),
        enabled=reader.boolean("enabled", True),
        request=_scheduled_request(reader),
        polling=dict(overrides),
    )


def _time_zone(reader: _Reader) -> str:
    name = reader.string("time_zone", "UTC")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{reader.where('time_zone')} is {name!r}, not an IANA time zone (e.g. Europe/London)"
        ) from None
    return name


def _scheduled_request(reader: _Reader) -> dict[str, Any]:
    request = reader.data.get("request")
    if not isinstance(request, Mapping):
        raise ConfigError(f"{reader.where('request')} must be the Ongage export request object")
    sample = dict(request)
    if isinstance(sample.get("name"), str):
        sample["name"] = sample["name"].replace(SCHEDULED_TIME_TOKEN, _SAMPLE_SCHEDULED_TIME)
    problems = validate_request(sample)
    if problems:
        raise ConfigError(f"{reader.where('request')}: " + "; ".join(problems))
    return dict(request)


def _api(reader: _Reader) -> ApiConfig:
    api = _Reader(reader.data.get("api", {}), reader.where("api"))
    api.reject_unknown({f for f in ApiConfig.__dataclass_fields__})
    return ApiConfig(
        stage_name=api.string("stage_name", "v1", re.compile(r"^[A-Za-z0-9_]{1,64}$")),
        throttle_rate_limit=api.number("throttle_rate_limit", 5.0, 0.1, 10000.0),
        throttle_burst_limit=api.required_int("throttle_burst_limit", 10, 1, 5000),
        create_cloudwatch_role=api.boolean("create_cloudwatch_role", True),
        download_link_seconds=api.required_int("download_link_seconds", 900, 60, 43200),
    )


def _curated(reader: _Reader) -> CuratedConfig:
    # Imported here: infra.storage imports this module.
    from infra.storage import EXPORT_PREFIX, STAGING_PREFIX

    curated = _Reader(reader.data.get("curated", {}), reader.where("curated"))
    curated.reject_unknown({f for f in CuratedConfig.__dataclass_fields__})
    defaults = CuratedConfig()
    prefix = curated.string("prefix", defaults.prefix)
    if not _FOLDER.match(prefix):
        raise ConfigError(
            f"{curated.where('prefix')} is {prefix!r}; it must be a folder of the export bucket "
            "ending with '/' (e.g. 'curated/'), not starting with '/', made of letters, digits "
            "and !_.'()=-, with no '.' or '..' part"
        )
    # Under exports/ the curated files would be announced to consumers (and to the curation
    # itself) as exports; under incoming/ the staging lifecycle rule would expire them.
    for other, role in ((EXPORT_PREFIX, "exports"), (STAGING_PREFIX, "staging uploads")):
        if prefix.startswith(other) or other.startswith(prefix):
            raise ConfigError(
                f"{curated.where('prefix')} is {prefix!r}; it must not overlap {other!r}, "
                f"where the workflow writes {role}"
            )
    low, high = LAMBDA_MEMORY_MB
    return CuratedConfig(
        enabled=curated.boolean("enabled", defaults.enabled),
        prefix=prefix,
        memory_mb=curated.required_int("memory_mb", defaults.memory_mb, low, high),
        fields=_field_names(curated, "fields"),
    )


def _field_names(reader: _Reader, key: str) -> tuple[str, ...]:
    names = reader.array(key)
    bad = [name for name in names if not isinstance(name, str) or not _FIELD.match(name)]
    if bad:
        raise ConfigError(
            f"{reader.where(key)} holds {bad[0]!r}; list Ongage field names (letters, digits, "
            "'_' or '-', e.g. \"first_name\")"
        )
    return tuple(dict.fromkeys(names))


_FIELD = re.compile(FIELD_NAME_PATTERN)
