"""The optional consumer on the embedded runtime, checked by a real query engine: the stack as
`make synth` builds it with `curated.enabled`, a real run lands an export from the simulator,
S3's "Object Created" event reaches the curate function through the template's own rule, and
DuckDB reads the curated Parquet back as a data engineer would (hive partitions, typed
columns), row for row against the CSV inside the ZIP; every query of the README's "Query your
exports" section returns rows on it."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from embedded_runtime.runtime import EmbeddedRuntime
from local_aws import eventbridge_delivery
from ongage_simulator import OngageSimulator
from ongage_simulator.csv_rows import EVERY_KIND_OF_FIELD
from tests.conftest import CREDENTIALS, FAST_POLLING, REQUEST, runtime_account
from tests.integration.test_contracts import validator

ROOT = Path(__file__).resolve().parents[2]
# first/last name and the custom field hold quoted newlines, commas and quotes, and non-ASCII.
FIELDS = list(EVERY_KIND_OF_FIELD)
DATE_FORMAT = "dd-mm-yy"
# The README's laptop query: every curated file, partitions from the folders, kept as text.
DUCKDB_VIEW = """
CREATE VIEW exports AS SELECT * FROM read_parquet(
    '{root}/**/*.parquet', hive_partitioning = true, union_by_name = true,
    hive_types = {{'list': VARCHAR, 'date': VARCHAR}})
"""


@pytest.fixture(scope="module")
def curated_cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """cdk.json's stack with `curated.enabled`, synthesized as `make synth` does but without
    the Lambda bundles: the embedded runtime runs the handlers from the installed package."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from infra.config import CONTEXT_KEY, load_config
    from infra.stack import OngageExportStack

    context = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    context[CONTEXT_KEY]["curated"] = {"enabled": True}
    config = load_config(context[CONTEXT_KEY])
    out = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(context=context, outdir=str(out))
    OngageExportStack(app, config.stack_name, config=config, install_dependencies=False)
    app.synth()
    return out


@pytest.fixture
def runtime(
    simulator: OngageSimulator, lambda_logs: io.StringIO, curated_cdk_out: Path
) -> Iterator[EmbeddedRuntime]:
    with EmbeddedRuntime(
        runtime_account(simulator), retry_time_scale=0.02, log_stream=lambda_logs,
        part_size_mib=5, cdk_out=curated_cdk_out,
    ) as embedded:  # fmt: skip
        yield embedded


@pytest.fixture(autouse=True)
def quick_exports(simulator: OngageSimulator) -> None:
    simulator.config.ready_after_retrieves = 1


def land_export(runtime: EmbeddedRuntime) -> dict[str, Any]:
    request = {**REQUEST, "fields_selected": FIELDS, "date_format": DATE_FORMAT}
    result = runtime.run({"request": request, "polling": FAST_POLLING}, timeout=120)
    assert result.status == "SUCCEEDED", result.cause
    return result.output or {}


def curation(runtime: EmbeddedRuntime, key: str) -> eventbridge_delivery.Delivery:
    """The delivery of `key`'s "Object Created" event to the consumer, once it answered."""
    assert runtime.consumer is not None, "cdk.out has no consumer"
    delivery = runtime.consumer.curation_of(key, timeout=120)
    assert delivery is not None, f"no event for {key} reached the consumer"
    assert delivery.outcome == "DELIVERED", delivery.answer
    return delivery


def curated_by_rule(runtime: EmbeddedRuntime, key: str) -> dict[str, Any]:
    """What the curate function answered for `key`, reached through the template's rule."""
    delivery = curation(runtime, key)
    rules = runtime.client("events").list_rules()["Rules"]
    (rule,) = [r for r in rules if r["Arn"] == delivery.rule_arn]
    assert "CurationExportLanded" in rule["Name"]  # the template's own rule
    validator("s3-object-created").validate(delivery.event)
    answer: dict[str, Any] = delivery.answer
    return answer


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

    result = curated_by_rule(runtime, landed["key"])

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
    (redelivered,) = eventbridge_delivery.deliver(curation(runtime, landed["key"]).event)
    assert eventbridge_delivery.deliveries.wait(timeout=120)
    again = redelivered.answer
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

    result = curated_by_rule(runtime, landed["key"])

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
    runtime.client("s3").put_object(Bucket=runtime.bucket, Key="staging/x.zip", Body=b"x")
    assert curation(runtime, "exports/notes.txt").answer["status"] == "SKIPPED"
    assert runtime.consumer is not None
    assert runtime.consumer.curation_of("staging/x.zip") is None  # outside the rule's prefix
    assert sorted(runtime.object_keys()) == ["exports/notes.txt", "staging/x.zip"]


def readme_queries() -> dict[str, str]:
    """The SQL blocks of the README's "Query your exports" section, by engine."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Query your exports", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)
    by_engine = {("duckdb" if "read_parquet" in sql else "athena"): sql for sql in blocks}
    assert len(by_engine) == len(blocks) == 2, blocks
    return by_engine


def test_every_readme_query_returns_rows_on_the_simulators_data(
    runtime: EmbeddedRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landed = land_export(runtime)
    assert curated_by_rule(runtime, landed["key"])["rows"] > 0
    root = download_curated(runtime, tmp_path)
    queries = readme_queries()

    monkeypatch.chdir(root.parent)  # the README reads 'curated/**/*.parquet', from its copy
    assert duckdb.connect().sql(queries["duckdb"]).fetchall()

    # Athena cannot run here: its query runs in DuckDB over a view with the Glue table's name
    # (the export has every column the table declares).
    connection = duckdb.connect()
    connection.execute("CREATE SCHEMA ongageexport")
    connection.execute(
        DUCKDB_VIEW.replace("exports", "ongageexport.curated_exports", 1).format(root=root)
    )
    ((day, contacts, unsubscribed),) = connection.sql(queries["athena"]).fetchall()
    assert contacts > unsubscribed > 0 and day == landed["key"].split("date=")[1][:10]


def test_run_with_the_consumer_copies_the_curated_export_out_and_prints_no_warning(
    simulator: OngageSimulator, curated_cdk_out: Path, tmp_path: Path
) -> None:
    out = tmp_path / "landed"
    # `ongage-export run`, deploying the curated cdk.out instead of the checkout's.
    program = (
        "import sys; from pathlib import Path; from laptop import local_run; "
        f"local_run.LocalRun.cdk_out = Path({str(curated_cdk_out)!r}); "
        "from ongage_cli.main import main; sys.exit(main(sys.argv[1:]))"
    )
    command = [
        sys.executable, "-c", program, "run", str(ROOT / "examples/segment-export.json"),
        "--ongage-url", simulator.url, "--out", str(out), "--json",
        "--poll-initial", "1", "--poll-max", "1",
    ]  # fmt: skip
    env = {
        **os.environ,
        "ONGAGE_USERNAME": CREDENTIALS.username,
        "ONGAGE_PASSWORD": CREDENTIALS.password,
        "ONGAGE_ACCOUNT_CODE": CREDENTIALS.account_code,
    }
    done = subprocess.run(
        command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )

    assert done.returncode == 0, done.stderr[-3000:]
    assert "moto" not in done.stderr.lower() and "warning" not in done.stderr.lower(), done.stderr
    curated = json.loads(done.stdout)["curated"]
    assert curated["status"] == "CURATED" and curated["rows"] > 0
    manifest, parquet = (Path(p) for p in curated["local_paths"])
    assert manifest.name == "_manifest.json" and parquet.suffix == ".parquet"
    assert manifest.is_relative_to(out / "curated") and parquet.parent == manifest.parent
    assert json.loads(manifest.read_text())["rows"] == curated["rows"]
    # The README's DuckDB query, run from the --out folder as written.
    rows = (
        duckdb.connect()
        .sql(readme_queries()["duckdb"].replace("'curated/", f"'{out}/curated/"))
        .fetchall()
    )
    assert rows and {row[0] for row in rows} == {"1111"}
