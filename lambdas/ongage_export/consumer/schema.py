"""The curated table's columns, one place for the consumer, its manifest and the Glue table.

Every field of an export is a string, as Ongage wrote it, except the system fields ONGAGE.md
documents: `ocx_contact_id` is an integer, the two dates are timestamps. Types are Glue/Athena's
names; parquet.py maps them to Arrow's. (No pyarrow here: infra imports this module.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

COMPRESSION = "zstd"
SYSTEM_FIELD_TYPES: Mapping[str, str] = {
    "ocx_contact_id": "bigint",
    "ocx_created_date": "timestamp",
    "ocx_unsubscribe_date": "timestamp",
}
PARTITIONS = ("list", "date")  # the Hive-style folders above every curated file


def glue_type(name: str) -> str:
    return SYSTEM_FIELD_TYPES.get(name, "string")


def glue_columns(names: Sequence[str]) -> list[dict[str, str]]:
    """Each column with its Glue/Athena type, as the Parquet files hold it."""
    return [{"name": name, "type": glue_type(name)} for name in names]
