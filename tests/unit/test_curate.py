"""The consumer's pure parts: CSV -> typed Parquet, the manifest's schema and the drift notice,
keys and settings, the request read from an execution (fakes only; S3 tests are integration)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ongage_export.consumer import parquet
from ongage_export.consumer.curate import (
    ExportRequest,
    NotAnExport,
    destination_for,
    execution_arn,
    member_keys,
    request_of,
)
from ongage_export.consumer.manifest import (
    ALL_FIELDS,
    CuratedFile,
    export_columns,
    schema_changed_notice,
    schema_id,
    selection_of,
)
from ongage_export.consumer.parquet import CsvToParquet, header_of, strptime_format
from ongage_export.consumer.schema import glue_columns
from ongage_export.domain.errors import ConfigurationError
from ongage_export.domain.request import DATE_FORMATS, SYSTEM_FIELDS
from ongage_export.settings import CurateSettings

SETTINGS = CurateSettings(export_bucket="exports")


def curated(data: bytes, date_format: str | None = "mm/dd/yyyy") -> tuple[CsvToParquet, pa.Table]:
    member = CsvToParquet(io.BytesIO(data), date_format)
    written = b"".join(member.chunks())
    return member, pq.read_table(io.BytesIO(written))


# -- CSV -> Parquet ----------------------------------------------------------------------------


def test_quoted_newlines_quotes_non_ascii_and_a_bom_survive_as_strings() -> None:
    data = (
        "\ufeffemail,first_name,last_name\r\n"
        'zoe@example.com,Zoë,"Nowak\nKowalska"\r\n'
        'li@example.org,李,"Doe ""DJ"", Jr."\r\n'
        'sq@example.net,Søren,"line one\r\nline two\r\n"\r\n'
    ).encode()
    member, table = curated(data)
    assert member.columns == table.column_names == ["email", "first_name", "last_name"]
    assert table.to_pylist() == [
        {"email": "zoe@example.com", "first_name": "Zoë", "last_name": "Nowak\nKowalska"},
        {"email": "li@example.org", "first_name": "李", "last_name": 'Doe "DJ", Jr.'},
        {"email": "sq@example.net", "first_name": "Søren", "last_name": "line one\r\nline two\r\n"},
    ]
    assert (member.rows, member.bytes_in) == (3, len(data))


def test_system_fields_get_their_types_and_what_does_not_parse_is_counted() -> None:
    data = (
        b"ocx_contact_id,ocx_created_date,ocx_unsubscribe_date,zip\r\n"
        b"12,31/12/2025,,00501\r\n"  # an empty date is null, not a failure
        b" 7 ,01/02/2026 10:11:12,02/02/2026,x\r\n"  # a time of day is kept
        b"abc,2026-01-02,13/13/2026,y\r\n"
        b"99999999999999999999,,31/02/2026,z\r\n"  # beyond int64; 31 February
    )
    member, table = curated(data, "dd/mm/yyyy")
    assert table.schema.types == [pa.int64(), pa.timestamp("ms"), pa.timestamp("ms"), pa.string()]
    rows = table.to_pylist()
    assert [r["ocx_contact_id"] for r in rows] == [12, 7, None, None]
    assert [str(r["ocx_created_date"]) for r in rows] == [
        "2025-12-31 00:00:00",
        "2026-02-01 10:11:12",
        "None",
        "None",
    ]
    assert [r["zip"] for r in rows] == ["00501", "x", "y", "z"]  # leading zeros kept
    assert member.unparseable == {
        "ocx_contact_id": 2,
        "ocx_created_date": 1,
        "ocx_unsubscribe_date": 2,
    }


@pytest.mark.parametrize("date_format", DATE_FORMATS)
def test_every_ongage_date_format_parses(date_format: str) -> None:
    written = date_format.replace("yyyy", "2026").replace("yy", "26")
    written = written.replace("mm", "03").replace("dd", "04")
    _, table = curated(f"ocx_created_date\r\n{written}\r\n".encode(), date_format)
    assert str(table.column(0)[0]) == "2026-03-04 00:00:00"


def test_without_a_date_format_dates_are_null_and_counted() -> None:
    member, table = curated(b"ocx_created_date\r\n01/02/2026\r\n\r\n", None)
    assert table.column(0).to_pylist() == [None]
    assert member.unparseable == {"ocx_created_date": 1}


def test_a_header_only_member_is_an_empty_typed_table_and_an_empty_one_writes_nothing() -> None:
    _, table = curated(b"email,ocx_contact_id\r\n")
    assert (table.num_rows, table.schema.types) == (0, [pa.string(), pa.int64()])
    empty = CsvToParquet(io.BytesIO(b""), "mm/dd/yyyy")
    assert list(empty.chunks()) == [] and empty.columns == []


def test_large_members_are_written_in_several_row_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parquet, "ROW_GROUP_BYTES", 64 * 1024)
    monkeypatch.setattr(parquet, "READ_BLOCK", 16 * 1024)
    data = b"email,n\r\n" + b"".join(b"u%d@example.com,%d\r\n" % (i, i) for i in range(20_000))
    member = CsvToParquet(io.BytesIO(data), None)
    chunks = list(member.chunks())
    written = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert written.metadata.num_row_groups > 1 and len(chunks) > 2  # handed on as it goes
    assert written.metadata.num_rows == member.rows == 20_000
    assert written.read().column("n").to_pylist()[-1] == "19999"


def test_header_of_reads_the_first_record_only() -> None:
    assert header_of(b'\xef\xbb\xbf"a,b",c\r\n1,2') == ["a,b", "c"]
    assert header_of(b"") == []


def test_strptime_format_of_ongage_formats() -> None:
    assert strptime_format("dd-mm-yy") == "%d-%m-%y"
    assert strptime_format("mm/dd/yyyy") == "%m/%d/%Y"


def test_the_typed_fields_are_ongages_system_fields() -> None:
    assert set(parquet.SYSTEM_TYPES) == set(SYSTEM_FIELDS)


# -- schema and drift --------------------------------------------------------------------------


def manifest(key: str, names: list[str]) -> dict[str, Any]:
    columns = glue_columns(names)
    return {
        "source": {"key": key},
        "partition": {"list": "1111"},
        "selection": ALL_FIELDS,
        "prefix": key.replace("exports/", "curated/").removesuffix(".zip") + "/",
        "schema": {"id": schema_id(columns), "columns": columns},
    }


def state(of: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": of["schema"],
        "source_key": of["source"]["key"],
        "manifest_key": of["prefix"] + "_manifest.json",
    }


def test_a_field_added_and_one_removed_make_a_schema_changed_notice() -> None:
    before = manifest("exports/a.zip", ["email", "ocx_contact_id", "fax"])
    after = manifest("exports/b.zip", ["email", "ocx_contact_id", "city"])
    notice = schema_changed_notice(state(before), after)
    assert notice is not None
    assert notice["status"] == "SCHEMA_CHANGED" and notice["list_id"] == "1111"
    assert notice["added"] == [{"name": "city", "type": "string"}]
    assert notice["removed"] == [{"name": "fax", "type": "string"}]
    assert notice["previous"]["manifest_key"] == "curated/a/_manifest.json"
    assert notice["current"]["columns"] == after["schema"]["columns"]


def test_no_notice_for_the_first_export_the_same_columns_or_the_same_export_again() -> None:
    first = manifest("exports/a.zip", ["email"])
    assert schema_changed_notice(None, first) is None
    assert schema_changed_notice(state(first), manifest("exports/b.zip", ["email"])) is None
    again = manifest("exports/a.zip", ["email", "city"])  # a retry sees its own record
    assert schema_changed_notice(state(first), again) is None


def test_schema_ids_follow_names_types_and_order() -> None:
    assert schema_id(glue_columns(["a", "b"])) == schema_id(glue_columns(["a", "b"]))
    assert schema_id(glue_columns(["a", "b"])) != schema_id(glue_columns(["b", "a"]))
    assert glue_columns(["ocx_created_date", "x"]) == [
        {"name": "ocx_created_date", "type": "timestamp"},
        {"name": "x", "type": "string"},
    ]


def test_selections_tell_request_kinds_apart_whatever_the_order() -> None:
    assert selection_of(None) == selection_of(()) == ALL_FIELDS
    assert selection_of(("a", "b")) == selection_of(("b", "a")) != selection_of(("a",))


def test_export_columns_are_every_members_in_order() -> None:
    def file(columns: list[str]) -> CuratedFile:
        return CuratedFile("m.csv", "k", columns, 0, 0, 0, "")

    assert export_columns([file(["a", "b"]), file(["a", "c"]), file([])]) == ["a", "b", "c"]


# -- keys, settings, the request ---------------------------------------------------------------


def test_each_csv_member_gets_its_own_parquet_key() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("a/x.csv", "b/x.csv", "Daily actives.CSV", "readme.txt"):
            archive.writestr(name, b"h\r\n")
    with zipfile.ZipFile(buffer) as archive:
        keys = [key for _, key in member_keys(archive, "curated/f/")]
    assert keys == [
        "curated/f/x.parquet",
        "curated/f/x-2.parquet",
        "curated/f/Daily-actives.parquet",
    ]


def test_the_destination_mirrors_the_exports_partitions() -> None:
    destination = destination_for("exports/list=1111/date=2026-01-02/Daily-42.zip", SETTINGS)
    assert destination.prefix == "curated/list=1111/date=2026-01-02/Daily-42/"
    with pytest.raises(NotAnExport, match="is not laid out as"):
        destination_for("exports/list=1111/Daily-42.zip", SETTINGS)


def test_settings_from_the_environment() -> None:
    assert CurateSettings.from_env({"EXPORT_BUCKET": "b"}) == CurateSettings(
        export_bucket="b", export_prefix="exports/", curated_prefix="curated/", part_size_mib=8
    )
    custom = CurateSettings.from_env(
        {
            "EXPORT_BUCKET": "b",
            "CURATED_PREFIX": "lake/ongage",
            "PART_SIZE_MIB": "8",
            "TOPIC_ARN": "arn:aws:sns:us-east-1:1:t",
            "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:1:stateMachine:m",
        }
    )
    assert (custom.curated_prefix, custom.part_size_bytes) == ("lake/ongage/", 8 * 1024 * 1024)
    assert custom.topic_arn.endswith(":t") and custom.state_machine_arn.endswith(":m")
    for env in (
        {},
        {"EXPORT_BUCKET": "b", "CURATED_PREFIX": "exports/curated/"},
        {"EXPORT_BUCKET": "b", "PART_SIZE_MIB": "1"},
    ):
        with pytest.raises(ConfigurationError, match=r"EXPORT_BUCKET|CURATED_PREFIX|PART_SIZE_MIB"):
            CurateSettings.from_env(env)


class FakeStepFunctions:
    def __init__(self, document: dict[str, Any]):
        self.document = document
        self.asked: list[str] = []

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.asked.append(executionArn)
        return {"input": json.dumps(self.document)}


MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:export"


def test_the_request_comes_from_the_execution_that_landed_the_export() -> None:
    sfn = FakeStepFunctions({"request": {"date_format": "dd-mm-yy", "fields_selected": ["a"]}})
    request = request_of(sfn, MACHINE, {"execution-id": "run-1"})
    assert request == ExportRequest("dd-mm-yy", ("a",))
    assert sfn.asked == ["arn:aws:states:us-east-1:123456789012:execution:export:run-1"]
    assert execution_arn(MACHINE, "x") == sfn.asked[0].replace("run-1", "x")


def test_without_an_execution_the_request_is_unknown() -> None:
    sfn = FakeStepFunctions({})
    assert request_of(sfn, MACHINE, {}) == ExportRequest()
    assert request_of(sfn, "", {"execution-id": "run-1"}) == ExportRequest()
    assert request_of(sfn, MACHINE, {"execution-id": "run-1"}) == ExportRequest()
    assert sfn.asked == [execution_arn(MACHINE, "run-1")]
