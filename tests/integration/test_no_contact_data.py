"""No contact data outside the exports: a run whose rows are known (the simulator's) lands and is
curated, and no e-mail address or name from those rows appears in anything else the run left:
the Lambdas' log lines and metrics (EMF), the notices, the workflow's history (every state's
input and output), the table's items (idempotency records, readiness history), the consumer's
answer and every object of the bucket but the export and its Parquet. With `kms_key: null` and
with `"create"` (the export then lands SSE-KMS under the stack's key and is curated from it)."""

from __future__ import annotations

import copy
import csv
import io
import json
import os
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from embedded_runtime.runtime import EmbeddedRuntime
from ongage_simulator import OngageSimulator
from ongage_simulator.csv_rows import EVERY_KIND_OF_FIELD
from tests.conftest import FAST_POLLING, REQUEST, runtime_account
from tests.integration.test_consumer import curated_by_rule, read

CONTACT_FIELDS = ("email", "first_name", "last_name")
# A request whose own name holds no name a row may hold (REQUEST's "Zoë" is one).
PRIVATE_REQUEST = {**REQUEST, "name": "privacy scan", "fields_selected": list(EVERY_KIND_OF_FIELD)}


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", params=[None, "create"], ids=["no-key", "kms-key"])
def curated_cdk_out(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """cdk.json's stack with the consumer on, and `kms_key` as the parameter says (no bundles:
    the embedded runtime runs the handlers from the installed package)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from infra.config import CONTEXT_KEY, load_config
    from infra.stack import OngageExportStack

    context = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    context[CONTEXT_KEY]["curated"] = {"enabled": True}
    context[CONTEXT_KEY]["kms_key"] = request.param
    config = load_config(context[CONTEXT_KEY])
    out = tmp_path_factory.mktemp("cdk.out")
    app = cdk.App(context=context, outdir=str(out))
    OngageExportStack(app, config.stack_name, config=config, install_dependencies=False)
    app.synth()
    return out


def expected_encryption(cdk_out: Path) -> str:
    """The exports bucket's default encryption, as the template sets it."""
    template = json.loads((cdk_out / "OngageExport.template.json").read_text())
    (bucket,) = [
        resource
        for name, resource in template["Resources"].items()
        if name.startswith("StorageExports") and resource["Type"] == "AWS::S3::Bucket"
    ]
    (rule,) = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    return str(rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"])


@pytest.fixture
def runtime(
    simulator: OngageSimulator,
    lambda_logs: io.StringIO,
    curated_cdk_out: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[EmbeddedRuntime]:
    simulator.config.ready_after_retrieves = 1
    with EmbeddedRuntime(
        runtime_account(simulator), retry_time_scale=0.02, log_stream=lambda_logs,
        part_size_mib=5, cdk_out=curated_cdk_out,
    ) as embedded:  # fmt: skip
        # The runtime turns EMF off (one metric set per process); this run's metrics are
        # printed, so they are scanned too. One run at a time: the set is not shared.
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
        yield embedded


def contact_values(zip_bytes: bytes) -> set[str]:
    """Every e-mail address and name in the export's CSV."""
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        (member,) = archive.namelist()
        text = archive.read(member).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows, "the export has no rows to look for"
    return {row[field] for row in rows for field in CONTACT_FIELDS if row[field]}


def as_text(value: Any) -> str:
    """A value as text a search sees: JSON with non-ASCII kept (\\u escapes would hide a name)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, default=str)


def found_in(artefacts: dict[str, Iterable[Any]], values: set[str]) -> list[tuple[str, str]]:
    """(artefact, value) for every value seen in an artefact, raw or JSON-escaped."""
    needles = {v: {v, json.dumps(v, ensure_ascii=False)[1:-1]} for v in values}
    hits = []
    for name, items in artefacts.items():
        texts = [as_text(item) for item in items]
        for value, forms in needles.items():
            if any(form in text for text in texts for form in forms):
                hits.append((name, value))
    return hits


def log_lines(stream: io.StringIO, printed: str) -> list[str]:
    return [line for line in (stream.getvalue() + printed).splitlines() if line.strip()]


def table_items(runtime: EmbeddedRuntime) -> list[dict[str, Any]]:
    table = runtime.lambda_environment()["IDEMPOTENCY_TABLE"]
    return list(runtime.client("dynamodb").scan(TableName=table)["Items"])


def history(runtime: EmbeddedRuntime, execution_arn: str) -> list[dict[str, Any]]:
    sfn = runtime.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [sfn.describe_execution(executionArn=execution_arn), *events]


def other_objects(runtime: EmbeddedRuntime, export_key: str) -> dict[str, bytes]:
    """Every object but the export and the Parquet curated from it (contact data by design)."""
    return {
        key: read(runtime, key)
        for key in runtime.object_keys()
        if key != export_key and not key.endswith(".parquet")
    }


def test_no_email_or_name_of_the_export_leaves_the_export(
    runtime: EmbeddedRuntime,
    simulator: OngageSimulator,
    lambda_logs: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    simulator.config.export_bytes = 200_000
    result = runtime.run({"request": PRIVATE_REQUEST, "polling": FAST_POLLING}, timeout=120)
    assert result.status == "SUCCEEDED", result.cause
    export_key = result.output["key"]
    head = runtime.client("s3").head_object(Bucket=runtime.bucket, Key=export_key)
    assert head["ServerSideEncryption"] == expected_encryption(runtime.cdk_out)
    curated = curated_by_rule(runtime, export_key)
    assert curated["status"] == "CURATED"
    values = contact_values(read(runtime, export_key))
    logs = log_lines(lambda_logs, capsys.readouterr().out)
    objects = other_objects(runtime, export_key)
    # Each artefact is really there, so an empty one cannot pass the scan.
    assert any(export_key in line for line in logs)
    assert any('"_aws"' in line for line in logs), "no EMF metrics were printed"
    assert any(key.endswith("_manifest.json") for key in objects)

    hits = found_in(
        {
            "lambda logs and metrics": logs,
            "notices": runtime.notices(),
            "workflow history": history(runtime, result.execution_arn),
            "table items": table_items(runtime),
            "consumer answer": [curated],
            "other objects": objects.values(),
        },
        values,
    )

    assert hits == []


def test_the_scan_finds_a_value_where_it_is() -> None:
    """The scan itself: a value logged raw, JSON-escaped or inside a nested object is found."""
    values = {"Nowak\nKowalska", "zoe.100000000001@example.org", "李"}
    artefacts: dict[str, Iterable[Any]] = {
        "escaped": ['{"message": "Nowak\\nKowalska"}'],
        "nested": [{"a": [{"b": "zoe.100000000001@example.org"}]}],
        "bytes": [b'{"n": "\\u674e"}'],
    }
    assert sorted(found_in(artefacts, values)) == [
        ("bytes", "李"),
        ("escaped", "Nowak\nKowalska"),
        ("nested", "zoe.100000000001@example.org"),
    ]
