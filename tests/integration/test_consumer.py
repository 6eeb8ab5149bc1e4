"""The optional consumer on the embedded runtime, checked by a real query engine: a real run lands
an export from the simulator, the curate handler gets the EventBridge event S3 would send for it,
and DuckDB reads the curated Parquet back as a data engineer would (hive partitions, typed
columns), row for row against the CSV inside the ZIP."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from embedded_runtime.lambda_dispatch import LambdaContext
from embedded_runtime.runtime import EmbeddedRuntime
from ongage_export import clients
from ongage_export.handlers import curate_export
from ongage_simulator import OngageSimulator
from ongage_simulator.export_body import EVERY_KIND_OF_FIELD
from tests.conftest import FAST_POLLING, REQUEST
from tests.integration.test_contracts import object_created_event, validator

# first/last name and the custom field hold quoted newlines, commas and quotes, and non-ASCII.
FIELDS = list(EVERY_KIND_OF_FIELD)
DATE_FORMAT = "dd-mm-yy"
# The README's laptop query: every curated file, partitions from the folders, kept as text.
DUCKDB_VIEW = """
CREATE VIEW exports AS SELECT * FROM read_parquet(
    '{root}/**/*.parquet', hive_partitioning = true, union_by_name = true,
    hive_types = {{'list': VARCHAR, 'date': VARCHAR}})
"""


@pytest.fixture(autouse=True)
def quick_exports(simulator: OngageSimulator) -> None:
    simulator.config.ready_after_retrieves = 1


@pytest.fixture(autouse=True)
def consumer_environment(runtime: EmbeddedRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the stack gives the curate function: the bucket, the topic, the state machine."""
    monkeypatch.setenv("EXPORT_BUCKET", runtime.bucket)
    monkeypatch.setenv("TOPIC_ARN", runtime.topic_arn)
    monkeypatch.setenv("STATE_MACHINE_ARN", runtime.state_machine_arn)
    clients.sns_client.cache_clear()
    clients.stepfunctions_client.cache_clear()


def land_export(runtime: EmbeddedRuntime) -> dict[str, Any]:
    request = {**REQUEST, "fields_selected": FIELDS, "date_format": DATE_FORMAT}
    result = runtime.run({"request": request, "polling": FAST_POLLING}, timeout=120)
    assert result.status == "SUCCEEDED", result.cause
    return result.output or {}


def curate(runtime: EmbeddedRuntime, key: str) -> dict[str, Any]:
    context = LambdaContext(
        "curate-export", 1024, 900, "req-1", "arn:aws:lambda:us-east-1:123456789012:function:c"
    )
    return curate_export.handler(object_created_event(runtime, key), context)


def read(runtime: EmbeddedRuntime, key: str) -> bytes:
    return runtime.client("s3").get_object(Bucket=runtime.bucket, Key=key)["Body"].read()


def the_csv_member(runtime: EmbeddedRuntime, key: str) -> tuple[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(read(runtime, key))) as archive:
        (member,) = archive.namelist()
        return member, archive.read(member)


def download_curated(runtime: EmbeddedRuntime, into: Path) -> Path:
    """The curated prefix as files, keys as paths (what `aws s3 sync` would give a laptop)."""
    for key in runtime.object_keys():
        if key.startswith("curated/"):
            path = into / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(read(runtime, key))
    return into / "curated"


def query(root: Path, sql: str) -> list[tuple[Any, ...]]:
    """`sql` over the curated table as DuckDB reads it (`exports` = every Parquet file)."""
    connection = duckdb.connect()
    connection.execute(DUCKDB_VIEW.format(root=root))
    rows: list[tuple[Any, ...]] = connection.sql(sql).fetchall()
    return rows


def day(text: str) -> datetime | None:
    return datetime.strptime(text, "%d-%m-%y") if text else None


def test_duckdb_reads_the_curated_export_row_for_row(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, tmp_path: Path
) -> None:
    simulator.config.export_bytes = 3 * 1024 * 1024
    landed = land_export(runtime)
    member, data = the_csv_member(runtime, landed["key"])

    result = curate(runtime, landed["key"])

    assert result["status"] == "CURATED"
    (curated_key,) = result["files"]
    assert curated_key.startswith("curated/list=1111/date=") and curated_key.endswith(".parquet")
    manifest = json.loads(read(runtime, result["manifest_key"]))
    validator("curated-manifest").validate(manifest)
    records = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    header, rows = records[0], records[1:]
    assert header == FIELDS and data.count(b"\n") > len(records)  # quoted newlines were there
    root = download_curated(runtime, tmp_path)

    columns = ", ".join(FIELDS)
    got = query(root, f"SELECT {columns} FROM exports ORDER BY ocx_contact_id")
    want = sorted(
        ((r[0], r[1], r[2], int(r[3]), day(r[4]), day(r[5]), r[6]) for r in rows),
        key=lambda row: row[3],
    )
    assert got == want  # every value, typed dates included
    assert any("\n" in value for row in rows for value in row)
    assert not all(value.isascii() for row in rows for value in row)
    typed = query(root, "SELECT typeof(ocx_contact_id), typeof(ocx_created_date) FROM exports")
    assert set(typed) == {("BIGINT", "TIMESTAMP")}
    (partition,) = query(root, "SELECT DISTINCT list, date FROM exports")
    assert partition == ("1111", manifest["partition"]["date"])

    (file,) = manifest["files"]
    expected = simulator.expected_body(landed["export_id"])
    assert file["rows"] == len(rows) == expected.rows == result["rows"]
    assert (file["member"], file["bytes_in"], file["columns"]) == (member, len(data), FIELDS)
    assert file["bytes_out"] == len(read(runtime, curated_key)) < len(data)
    assert manifest["date_format"] == DATE_FORMAT  # from the run that landed it
    assert manifest["unparseable"] == file["unparseable"]
    assert manifest["unparseable"] == dict.fromkeys(
        ["ocx_contact_id", "ocx_created_date", "ocx_unsubscribe_date"], 0
    )
    assert manifest["source"]["key"] == landed["key"]
    assert manifest["source"]["request_name"] == REQUEST["name"]  # non-ASCII, decoded

    # Re-delivery of the same event (EventBridge is at-least-once): same keys, same bytes.
    objects, curated = runtime.object_keys(), read(runtime, curated_key)
    again = curate(runtime, landed["key"])
    assert again["files"] == [curated_key] and again["schema_changed"] is False
    assert runtime.object_keys() == objects and read(runtime, curated_key) == curated
    assert runtime.open_uploads() == []
    assert [n for n in runtime.notices() if n.get("status") == "SCHEMA_CHANGED"] == []


def test_an_empty_export_gives_a_header_only_table_and_zero_rows(
    runtime: EmbeddedRuntime, simulator: OngageSimulator, tmp_path: Path
) -> None:
    simulator.config.export_bytes = 0
    landed = land_export(runtime)
    _, data = the_csv_member(runtime, landed["key"])
    assert data == (",".join(FIELDS) + "\r\n").encode()

    result = curate(runtime, landed["key"])

    manifest = json.loads(read(runtime, result["manifest_key"]))
    validator("curated-manifest").validate(manifest)
    assert manifest["rows"] == manifest["files"][0]["rows"] == result["rows"] == 0
    assert manifest["files"][0]["columns"] == FIELDS
    root = download_curated(runtime, tmp_path)
    assert query(root, "SELECT count(*) FROM exports") == [(0,)]
    described = query(root, "SELECT column_name, column_type FROM (DESCRIBE exports)")
    assert described[:4] == [
        ("email", "VARCHAR"),
        ("first_name", "VARCHAR"),
        ("last_name", "VARCHAR"),
        ("ocx_contact_id", "BIGINT"),
    ]


def test_objects_that_are_not_exports_are_skipped(runtime: EmbeddedRuntime) -> None:
    runtime.client("s3").put_object(Bucket=runtime.bucket, Key="exports/notes.txt", Body=b"x")
    assert curate(runtime, "exports/notes.txt")["status"] == "SKIPPED"
    assert runtime.object_keys() == ["exports/notes.txt"]
