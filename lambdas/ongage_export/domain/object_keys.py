"""Where an export lands in S3: readable by people, safe whatever the export is called.

`exports/list=<list id>/date=<YYYY-MM-DD>/<name>-<export id>.zip` — Hive-style partitions so
Athena/Glue can prune by list and date. The name is reduced to a safe slug (no '/', no '..',
no control or non-ASCII characters), so a request can never steer the key elsewhere.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime

MAX_SLUG_LENGTH = 80
SLUG_CHARACTERS = "A-Za-z0-9_-"  # a regex character class's inside


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(f"[^{SLUG_CHARACTERS}]+", "-", ascii_name).strip("-_")
    return cleaned[:MAX_SLUG_LENGTH].rstrip("-_") or "export"


def export_key(
    prefix: str, list_id: int | None, started_at: datetime, name: str, export_id: str
) -> str:
    list_part = str(list_id) if list_id is not None else "default"
    day = started_at.strftime("%Y-%m-%d")
    return f"{prefix}list={list_part}/date={day}/{slug(name)}-{export_id}.zip"


def export_key_pattern(prefix: str, equals: str = "=") -> str:
    """A regex that every key `export_key` makes under `prefix` matches, `=` spelt as `equals`
    (S3 events URL-encode it: "(=|%3D)"). The contracts publish it (tools/contract_patterns)."""
    day = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
    return (
        f"^{re.escape(prefix)}list{equals}([0-9]+|default)/date{equals}{day}"
        f"/[{SLUG_CHARACTERS}]+\\.zip$"
    )


RUN_FOLDER_NAME_LENGTH = 60


def staging_key(staging_prefix: str, final_key: str, execution_arn: str) -> str:
    """A per-run place for the upload in progress, never under the consumers' prefix.

    The folder is the execution's name (the ARN's last part, readable) and a digest of the
    whole ARN: every execution of every machine gets its own, however long the ARN (a real
    one is ~130 characters, which a plain slug would cut to a prefix all runs share).
    """
    name = slug(execution_arn.rsplit(":", 1)[-1])[:RUN_FOLDER_NAME_LENGTH]
    digest = hashlib.sha256(execution_arn.encode()).hexdigest()[:16]
    return f"{staging_prefix}{name}-{digest}/{final_key.rsplit('/', 1)[-1]}"
