"""The rules single values of the stack's configuration follow (config.py applies them): each
returns the value or raises ValueError with a sentence naming what is wrong and what to use."""

from __future__ import annotations

import re
import zoneinfo
from urllib.parse import urlparse

from ongage_export.contract import EXPORT_PREFIX, STAGING_PREFIX

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip
# A folder of S3 keys: `/`-separated parts of S3's safe characters, ending with `/`; no leading
# `/`, no `.` or `..` part, and no `*` or `?`, which would widen the IAM resource `<prefix>*`.
_FOLDER = re.compile(r"^(?:(?!\.\.?/)[0-9A-Za-z!_.'()=-]+/)+$")
_CRON = re.compile(r"^cron\(\S+( \S+){5}\)$")
_RATE = re.compile(r"^rate\(\d+ (minute|minutes|hour|hours|day|days)\)$")
# `kms_key`: the stack creates the key, or an existing key given by its ARN (a single- or a
# multi-Region key; an alias ARN is refused, as a key policy cannot be checked through it).
CREATE_KEY = "create"
_KEY_ARN = re.compile(
    r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(?:[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}"
    r"|mrk-[0-9a-f]{32})$"
)


def https(url: str) -> str:
    parsed = urlparse(url)
    # Credentials travel in headers: only HTTPS is acceptable from AWS.
    if parsed.scheme != "https" or not parsed.hostname:
        raise ValueError(f"must be an https:// URL, not {url!r}")
    return url.rstrip("/")


def kms_key(value: str) -> str:
    if value != CREATE_KEY and not _KEY_ARN.match(value):
        raise ValueError(
            f"is {value!r}; use null (AWS-managed keys), {CREATE_KEY!r} (the stack creates a "
            "customer-managed key) or the ARN of an existing key "
            "(arn:aws:kms:<region>:<account>:key/<key id>, not an alias)"
        )
    return value


def log_retention(days: int) -> int:
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(f"is {days}; CloudWatch Logs accepts only {list(LOG_RETENTION_DAYS)}")
    return days


def schedule_expression(expression: str) -> str:
    if not (_CRON.match(expression) or _RATE.match(expression)):
        raise ValueError(
            f"is {expression!r}; use cron(min hour day month weekday year) or "
            "rate(N minutes|hours|days), as EventBridge Scheduler does"
        )
    return expression


def time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"is {name!r}, not an IANA time zone (e.g. Europe/London)") from None
    return name


def curated_folder(prefix: str) -> str:
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
