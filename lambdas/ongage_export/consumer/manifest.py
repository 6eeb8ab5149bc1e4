"""What the consumer says about a curated export: its manifest, and whether its columns drifted.

The manifest (`<folder>/_manifest.json`, contracts/curated-manifest.schema.json) goes last, so
once it exists the folder is complete; its leading underscore makes Athena skip it as data.

Drift: the columns of every curated export are kept per request kind, that is per list and
field selection (`<curated>/_schemas/list=<id>/<selection>.json`, outside every partition the
table reads). When an export's columns differ from the previous export's of the same kind (a
field added to or removed from the list in Ongage), `schema_changed_notice` describes the change
(contracts/curated-schema-changed.schema.json) for the SNS topic.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from ongage_export.consumer.schema import COMPRESSION, glue_columns

MANIFEST_NAME = "_manifest.json"
MANIFEST_VERSION = 2
SCHEMAS_FOLDER = "_schemas/"
ALL_FIELDS = "all-fields"  # the selection of a request without `fields_selected`
SCHEMA_CHANGED = "SCHEMA_CHANGED"  # the `status` message attribute subscribers filter on


@dataclass(frozen=True)
class CuratedFile:
    """What the manifest says about one CSV member."""

    member: str
    key: str | None  # None for a member without even a header: no file is written
    columns: list[str]
    rows: int
    bytes_in: int
    bytes_out: int
    sha256: str
    unparseable: dict[str, int] = field(default_factory=dict)


def export_columns(files: Sequence[CuratedFile]) -> list[str]:
    """Every member's columns, in order of appearance (members normally share one header)."""
    seen: dict[str, None] = {}
    for file in files:
        seen.update(dict.fromkeys(file.columns))
    return list(seen)


def schema_id(columns: Sequence[Mapping[str, str]]) -> str:
    """A short digest of the ordered columns and types: equal ids, equal schemas."""
    text = json.dumps([[c["name"], c["type"]] for c in columns], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def selection_of(fields_selected: Sequence[str] | None) -> str:
    """Which request kind an export belongs to: all fields, or a digest of the chosen ones."""
    if not fields_selected:
        return ALL_FIELDS
    return hashlib.sha256(",".join(sorted(fields_selected)).encode()).hexdigest()[:16]


def build_manifest(
    source: Any,
    destination: Any,
    files: Sequence[CuratedFile],
    *,
    date_format: str | None,
    selection: str,
) -> dict[str, Any]:
    meta = source.metadata
    columns = glue_columns(export_columns(files))
    unparseable: dict[str, int] = {}
    for file in files:
        for name, count in file.unparseable.items():
            unparseable[name] = unparseable.get(name, 0) + count
    return {
        "manifest_version": MANIFEST_VERSION,
        "source": {
            "bucket": source.bucket,
            "key": source.key,
            "s3_uri": f"s3://{source.bucket}/{source.key}",
            "bytes": source.size,
            "sha256": meta.get("sha256"),
            "export_id": meta.get("export-id"),
            "list_id": meta.get("list-id"),
            # The workflow percent-encodes it: S3 user metadata is ASCII only.
            "request_name": unquote(meta["request-name"]) if "request-name" in meta else None,
            "execution_id": meta.get("execution-id"),
        },
        "partition": {"list": destination.list_id, "date": destination.date},
        "name": destination.name,
        "prefix": destination.prefix,
        "format": {"type": "parquet", "compression": COMPRESSION},
        "date_format": date_format,
        "selection": selection,
        "schema": {"id": schema_id(columns), "columns": columns},
        "files": [asdict(file) for file in files],
        "rows": sum(file.rows for file in files),
        "unparseable": unparseable,
        "curated_at": datetime.now(UTC).isoformat(),
    }


def schema_state_key(curated_prefix: str, manifest: Mapping[str, Any]) -> str:
    list_id = manifest["partition"]["list"]
    return f"{curated_prefix}{SCHEMAS_FOLDER}list={list_id}/{manifest['selection']}.json"


def previous_schema(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """The schema recorded for the previous export of this kind; None for the first.

    Listed first: without s3:ListBucket on the whole bucket, a missing key answers 403, not 404.
    """
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1).get("Contents", [])
    if not any(item["Key"] == key for item in listed):
        return None
    state: dict[str, Any] = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return state


def record_schema(s3: Any, bucket: str, key: str, manifest: Mapping[str, Any]) -> None:
    state = {
        "schema": manifest["schema"],
        "source_key": manifest["source"]["key"],
        "manifest_key": manifest["prefix"] + MANIFEST_NAME,
    }
    s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(state).encode(), ContentType="application/json"
    )


def schema_changed_notice(
    previous: Mapping[str, Any] | None, manifest: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The SNS message body when the columns changed since the previous export; else None.

    Types follow names, so a change is columns added, removed or reordered. The same export
    curated again (a retry, a duplicate event) is no change.
    """
    if previous is None or previous["source_key"] == manifest["source"]["key"]:
        return None
    before, after = previous["schema"], manifest["schema"]
    if before["id"] == after["id"]:
        return None
    old = {c["name"]: c["type"] for c in before["columns"]}
    new = {c["name"]: c["type"] for c in after["columns"]}
    return {
        "status": SCHEMA_CHANGED,
        "list_id": manifest["partition"]["list"],
        "selection": manifest["selection"],
        "added": [c for c in after["columns"] if c["name"] not in old],
        "removed": [c for c in before["columns"] if c["name"] not in new],
        "previous": {"schema_id": before["id"], "manifest_key": previous["manifest_key"]},
        "current": {
            "schema_id": after["id"],
            "manifest_key": manifest["prefix"] + MANIFEST_NAME,
            "columns": after["columns"],
        },
        "source_key": manifest["source"]["key"],
    }
