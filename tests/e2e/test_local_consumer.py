"""The stack with the optional consumer (`curated.enabled`), bundled and deployed with the CDK CLI
into its own local AWS: an export landed by the deployed workflow reaches the deployed curate
function (its real 200 MB bundle, run under its role) through the template's EventBridge rule,
and the README's DuckDB query reads rows from what it wrote.

Opt-in (ONGAGE_E2E_CURATED=1): its own synth with the curate bundle and its own local AWS add
~80 s to the suite (measured 2026-12-05 on the shared 2-core machine, load 3-5: 62 s to
synthesize and deploy, 14 s to land, curate and query; ~52 s in all when quieter). Without it,
`tests/integration/local_aws/test_event_delivery_on_local_aws.py` shows the same delivery on the
local AWS with a small template, and `tests/integration/test_consumer.py` the real consumer
reached through the real rule on the embedded runtime."""

from __future__ import annotations

import copy
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import duckdb
import pytest

from local_aws.deployment import LocalAwsProcess, LocalDeployment, OngageSecret, deploy
from ongage_simulator import Credentials, OngageSimulator, SimulatorConfig
from tests.conftest import FAST_POLLING
from tests.e2e.conftest import _real_stack
from tests.e2e.test_runbook import follow
from tests.integration.test_consumer import readme_queries
from tests.integration.test_contracts import object_created_event

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = Credentials.demo()
WAIT_SECONDS = 180  # for the run and its curation, before the test fails


def synth_curated(out: Path) -> Path:
    """cdk.json's stack with `curated.enabled`, synthesized with its bundles (as `make synth`)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from infra.config import CONTEXT_KEY, load_config
    from infra.stack import OngageExportStack

    context = copy.deepcopy(json.loads((ROOT / "cdk.json").read_text())["context"])
    context[CONTEXT_KEY]["curated"] = {"enabled": True}
    config = load_config(context[CONTEXT_KEY])
    app = cdk.App(context=context, outdir=str(out))
    OngageExportStack(app, config.stack_name, config=config, install_dependencies=True)
    app.synth()
    return out


@pytest.fixture(scope="module")
def curated_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    if _real_stack():
        pytest.skip("runs on a local deployment only (ONGAGE_EXPORT_STACK names a real one)")
    if os.environ.get("ONGAGE_E2E_CURATED") != "1":
        pytest.skip("set ONGAGE_E2E_CURATED=1 to deploy the consumer's bundle too (~80 s)")
    cdk_out = synth_curated(tmp_path_factory.mktemp("cdk.out-curated"))
    state = tmp_path_factory.mktemp("local-aws-curated")
    config = SimulatorConfig(credentials=CREDENTIALS, ready_after_retrieves=1, export_bytes=300_000)
    with OngageSimulator(config) as simulator:
        endpoint = LocalAwsProcess(state, log=(state / "server.log").open("w"))
        try:
            deployed = deploy(endpoint.start(), ongage_url=simulator.url, cdk_out=cdk_out)
            deployed.put_credentials(
                OngageSecret(CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code)
            )
            yield deployed
        finally:
            endpoint.stop()


def wait_for_manifest(s3: Any, bucket: str, deadline: float) -> str:
    while True:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="curated/list=").get("Contents", [])
        manifests = [o["Key"] for o in listed if o["Key"].endswith("/_manifest.json")]
        if manifests:
            return str(manifests[0])
        assert time.monotonic() < deadline, "no curated manifest in time"
        time.sleep(0.5)


def test_a_landed_export_is_curated_by_the_deployed_consumer(
    curated_stack: LocalDeployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = json.loads((ROOT / "examples/segment-export.json").read_text())
    sfn, s3 = curated_stack.client("stepfunctions"), curated_stack.client("s3")
    bucket = curated_stack.outputs["BucketName"]
    execution = sfn.start_execution(
        stateMachineArn=curated_stack.outputs["StateMachineArn"],
        input=json.dumps({"request": request, "polling": FAST_POLLING}),
    )["executionArn"]
    deadline = time.monotonic() + WAIT_SECONDS
    while (status := sfn.describe_execution(executionArn=execution)["status"]) == "RUNNING":
        assert time.monotonic() < deadline, "the run did not end in time"
        time.sleep(0.5)
    assert status == "SUCCEEDED"

    manifest_key = wait_for_manifest(s3, bucket, deadline)

    manifest = json.loads(s3.get_object(Bucket=bucket, Key=manifest_key)["Body"].read())
    assert manifest["rows"] > 0 and manifest["source"]["key"].startswith("exports/list=1111/")
    for file in manifest["files"]:
        local = tmp_path / file["key"]
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(s3.get_object(Bucket=bucket, Key=file["key"])["Body"].read())
    monkeypatch.chdir(tmp_path)
    assert duckdb.connect().sql(readme_queries()["duckdb"]).fetchall()
    database, table = curated_stack.outputs["CuratedTable"].split(".")
    glue = curated_stack.client("glue")
    assert glue.get_table(DatabaseName=database, Name=table)["Table"]["Name"] == table


def test_the_curation_dead_letter_queue_is_drained(
    curated_stack: LocalDeployment, tmp_path: Path
) -> None:
    """docs/operations.md's drain: a landed export whose curation failed (Lambda's failure record
    in the queue) is curated again, and the queue is left empty."""
    s3, sqs = curated_stack.client("s3"), curated_stack.client("sqs")
    bucket = curated_stack.outputs["BucketName"]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="exports/").get("Contents", [])
    if not listed:
        pytest.skip("needs the export the test above landed")
    for curated in s3.list_objects_v2(Bucket=bucket, Prefix="curated/").get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=curated["Key"])
    landed = SimpleNamespace(client=curated_stack.client, bucket=bucket)
    event = object_created_event(cast(Any, landed), listed[0]["Key"])
    failure_record = {"version": "1.0", "requestPayload": event, "responsePayload": {}}
    queue = curated_stack.outputs["CurationDeadLetterQueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(failure_record))

    printed = follow(curated_stack, "drain-curation", cwd=tmp_path)

    assert printed.strip().splitlines()[-1] == "0"  # messages left
    wait_for_manifest(s3, bucket, time.monotonic() + WAIT_SECONDS)
