"""Where an export lands in S3: readable by people, safe whatever the export is called.

`exports/list=<list id>/date=<YYYY-MM-DD>/<name>-<export id>.zip` — Hive-style partitions so
Athena/Glue can prune by list and date. The name is reduced to a safe slug (no '/', no '..',
no control or non-ASCII characters), so a request can never steer the key elsewhere.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

MAX_SLUG_LENGTH = 80


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", ascii_name).strip("-_")
    return cleaned[:MAX_SLUG_LENGTH].rstrip("-_") or "export"


def export_key(
    prefix: str, list_id: int | None, started_at: datetime, name: str, export_id: str
) -> str:
    list_part = str(list_id) if list_id is not None else "default"
    day = started_at.strftime("%Y-%m-%d")
    return f"{prefix}list={list_part}/date={day}/{slug(name)}-{export_id}.zip"


def staging_key(staging_prefix: str, final_key: str, execution_name: str) -> str:
    """A per-run place for the upload in progress, never under the consumers' prefix."""
    return f"{staging_prefix}{slug(execution_name)}/{final_key.rsplit('/', 1)[-1]}"
