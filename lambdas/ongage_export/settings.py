"""The Lambdas' configuration, read from the environment once per call site, validated.

CDK (infra/) and the embedded runtime set the same variables; nothing else reads os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from ongage_export.polling import PollingPolicy

# 8 MiB parts, two in flight: as fast as larger parts, and memory stays flat
# (docs/benchmarks.md); landing.py grows the part size for bodies over ~70 GiB.
DEFAULT_PART_SIZE_MIB = 8
DEFAULT_UPLOAD_CONCURRENCY = 2
# Ongage calls: a connection within 10 s, and no silence longer than 60 s between bytes (a
# create's answer, or the next chunk of a download). Both together stay well inside the
# shortest function that calls Ongage (CreateExport, 90 s), so a stalled call is noticed and
# retried by the workflow instead of timing the function out (tests/infra/test_timeouts.py).
ONGAGE_CONNECT_TIMEOUT_SECONDS = 10.0
ONGAGE_READ_TIMEOUT_SECONDS = 60.0


class ConfigurationError(RuntimeError):
    """A required environment variable is missing or malformed (a deployment mistake)."""


@dataclass(frozen=True)
class Settings:
    export_bucket: str
    idempotency_table: str
    ongage_secret_id: str
    ongage_base_url: str
    export_prefix: str
    staging_prefix: str
    part_size_bytes: int
    stop_margin_seconds: float
    verify_bytes_per_second: float
    default_polling: PollingPolicy
    ongage_read_timeout_seconds: float = ONGAGE_READ_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        try:
            return cls(
                export_bucket=_required(env, "EXPORT_BUCKET"),
                idempotency_table=_required(env, "IDEMPOTENCY_TABLE"),
                ongage_secret_id=_required(env, "ONGAGE_SECRET_ID"),
                ongage_base_url=_required(env, "ONGAGE_BASE_URL").rstrip("/"),
                export_prefix=env.get("EXPORT_PREFIX", "exports/"),
                staging_prefix=env.get("STAGING_PREFIX", "incoming/"),
                part_size_bytes=int(env.get("PART_SIZE_MIB", DEFAULT_PART_SIZE_MIB)) * 1024 * 1024,
                # Stop streaming this long before the Lambda times out: enough to finish the
                # parts in flight, verify and publish (resumed in the next invocation if not).
                stop_margin_seconds=float(env.get("STREAM_STOP_MARGIN_SECONDS", "180")),
                # How fast the ZIP check goes (inflating every member), set low. A body that
                # fits in the rest of the invocation at this rate lands in one pass (checked
                # while it streams); else it is staged, and when the rest of the invocation
                # is too short for the staged object's re-read, the check and publication get
                # an invocation of their own.
                verify_bytes_per_second=float(env.get("VERIFY_BYTES_PER_SECOND", "20e6")),
                default_polling=PollingPolicy.from_mapping(
                    {key: env[var] for key, var in PollingPolicy.ENV_VARS.items() if var in env}
                ),
                # Tests and the fault matrix shorten the read timeout, to see a stalled body
                # noticed quickly; it can never exceed ONGAGE_READ_TIMEOUT_SECONDS.
                ongage_read_timeout_seconds=_read_timeout(env),
            )
        except ValueError as error:
            raise ConfigurationError(f"bad Lambda configuration: {error}") from error


def _read_timeout(env: Mapping[str, str]) -> float:
    value = float(env.get("ONGAGE_READ_TIMEOUT_SECONDS", ONGAGE_READ_TIMEOUT_SECONDS))
    if not 0 < value <= ONGAGE_READ_TIMEOUT_SECONDS:
        raise ValueError(
            f"ONGAGE_READ_TIMEOUT_SECONDS must be above 0 and at most "
            f"{ONGAGE_READ_TIMEOUT_SECONDS:g} (the budget the function timeouts allow)"
        )
    return value


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value
