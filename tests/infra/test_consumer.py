"""The optional consumer (`curated`): off by default; when on, rule -> Lambda -> curated Parquet,
with a Glue table and an Athena workgroup over it."""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pyarrow.parquet as pq
import pytest
from aws_cdk.assertions import Annotations, Match
from cfnlint.api import ManualArgs, lint

from infra.bundling import CURATED_REQUIREMENTS, REQUIREMENTS, PipLocalBundling
from infra.config import ConfigError, CuratedConfig, load_config
from infra.consumer import (
    DELIVERY_MAX_EVENT_AGE,
    DELIVERY_RETRY_ATTEMPTS,
    INVOKE_MAX_EVENT_AGE,
    INVOKE_RETRY_ATTEMPTS,
)
from infra.stack import OUTPUT_CURATED_PREFIX
from ongage_export.consumer.curate import destination_for
from ongage_export.consumer.parquet import ARROW_TYPES, CsvToParquet
from ongage_export.settings import CurateSettings
from tests.infra.conftest import CURATED, ROOT, curated_settings
from tests.infra.helpers import actions_on, logical_id, of_type, props, role_of, statements

HANDLER = "ongage_export.handlers.curate_export.handler"
PREFIX = CURATED["prefix"]


@pytest.fixture(scope="module")
def template(synth) -> dict[str, Any]:
    return synth.curated_template.to_json()


@pytest.fixture(scope="module")
def consumer(synth):
    assert synth.curated.consumer is not None
    return synth.curated.consumer


def _ids(synth, consumer) -> dict[str, str]:
    return {
        "function": logical_id(consumer.function),
        "queue": logical_id(consumer.dead_letter_queue),
        "rule": logical_id(consumer.rule),
        "bucket": logical_id(synth.curated.storage.bucket),
        "topic": logical_id(synth.curated.notifications.topic),
    }


def _arn(logical: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [logical, "Arn"]}


LAMBDA_UNZIPPED_LIMIT = 250 * 1000 * 1000  # Lambda: function + layers, unzipped (250 MB)


# --- off by default ----------------------------------------------------------------------------


def test_committed_cdk_json_keeps_the_consumer_off_with_documented_defaults():
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    assert load_config(context["ongage_export"]).curated.enabled is False
    defaults = CuratedConfig(enabled=False, prefix="curated/", memory_mb=1769)
    assert load_config(None).curated == defaults


@pytest.mark.parametrize("which", ["main", "imported", "default"])
def test_stacks_without_the_switch_have_no_consumer(synth, which):
    stack = getattr(synth, which)
    template = getattr(synth, "template" if which == "main" else f"{which}_template").to_json()
    assert stack.consumer is None
    handlers = [
        f["Properties"]["Handler"] for f in of_type(template, "AWS::Lambda::Function").values()
    ]
    assert HANDLER not in handlers
    assert not of_type(template, "AWS::Lambda::EventInvokeConfig")
    sources = [
        r["Properties"]["EventPattern"]["source"]
        for r in of_type(template, "AWS::Events::Rule").values()
    ]
    assert ["aws.s3"] not in sources
    assert OUTPUT_CURATED_PREFIX not in template["Outputs"]


# --- the function ------------------------------------------------------------------------------


def test_function_runs_the_curate_handler_with_configured_memory_and_15_minutes(
    synth, template, consumer
):
    function = props(template, consumer.function)
    assert function["Handler"] == HANDLER
    assert function["MemorySize"] == CURATED["memory_mb"]
    assert function["Timeout"] == 900
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert "ReservedConcurrentExecutions" not in function
    # The runtime and architecture of the workflow's functions, but a bundle of its own: pyarrow
    # stays out of the Ongage-facing functions.
    retrieve = props(template, synth.curated.functions.retrieve_export)
    for key in ("Runtime", "Architectures"):
        assert function[key] == retrieve[key]
    assert function["Code"]["S3Key"] != retrieve["Code"]["S3Key"]


def test_function_environment_is_what_curate_settings_reads(synth, template, consumer):
    env = props(template, consumer.function)["Environment"]["Variables"]
    assert env == {
        "EXPORT_BUCKET": {"Ref": logical_id(synth.curated.storage.bucket)},
        "EXPORT_PREFIX": "exports/",
        "CURATED_PREFIX": PREFIX,
        "PART_SIZE_MIB": "8",
        "TOPIC_ARN": {"Ref": logical_id(synth.curated.notifications.topic)},
        "STATE_MACHINE_ARN": {"Ref": logical_id(synth.curated.workflow.state_machine)},
        "POWERTOOLS_SERVICE_NAME": "ongage-export",
        "POWERTOOLS_METRICS_NAMESPACE": "OngageExport",
    }
    given = {"EXPORT_BUCKET": "bucket", "TOPIC_ARN": "arn:topic", "STATE_MACHINE_ARN": "arn:sm"}
    settings = CurateSettings.from_env({**env, **given})
    assert (settings.topic_arn, settings.state_machine_arn) == ("arn:topic", "arn:sm")
    assert settings.curated_prefix == PREFIX
    assert settings.export_prefix == "exports/"
    assert settings.part_size_bytes == 8 * 1024 * 1024


def test_function_has_its_own_role_and_log_group_with_retention(synth, template, consumer):
    role = role_of(template, consumer.function)
    others = [
        *synth.curated.functions.ongage_callers,
        synth.curated.api.status_function,
    ]
    assert role not in {role_of(template, f) for f in others}
    assert "ManagedPolicyArns" not in template["Resources"][role]["Properties"]
    log_group = props(template, consumer.function)["LoggingConfig"]["LogGroup"]["Ref"]
    assert template["Resources"][log_group]["Properties"]["RetentionInDays"] == 30


def test_role_reads_exports_writes_the_curated_prefix_and_nothing_else(synth, template, consumer):
    ids = _ids(synth, consumer)
    allowed = actions_on(statements(template, role_of(template, consumer.function)))

    def objects(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [_arn(ids["bucket"]), f"/{prefix}*"]]}

    queue = _arn(ids["queue"])
    log_group = props(template, consumer.function)["LoggingConfig"]["LogGroup"]["Ref"]
    (executions,) = allowed.pop("states:DescribeExecution")
    # Executions of this one state machine, named at run time.
    assert logical_id(synth.curated.workflow.state_machine) in json.dumps(executions)
    assert json.dumps(executions).endswith(':*"]]}') and ":execution:" in json.dumps(executions)
    key = _arn(logical_id(synth.curated.notifications.key))
    assert allowed == {
        "s3:GetObject": [objects("exports/"), objects(f"{PREFIX}_schemas/")],
        "s3:ListBucket": [_arn(ids["bucket"])],  # only the schema records (below)
        "sns:Publish": [{"Ref": ids["topic"]}],
        "kms:GenerateDataKey": [key],
        "kms:Decrypt": [key],
        "s3:PutObject": [objects(PREFIX)],
        "s3:AbortMultipartUpload": [objects(PREFIX)],
        "s3:ListMultipartUploadParts": [objects(PREFIX)],
        "s3:ListBucketMultipartUploads": [_arn(ids["bucket"])],
        # The on-failure destination (what CDK's SqsDestination grants).
        "sqs:SendMessage": [queue],
        "sqs:GetQueueAttributes": [queue],
        "sqs:GetQueueUrl": [queue],
        "logs:CreateLogStream": [_arn(log_group)],
        "logs:PutLogEvents": [_arn(log_group)],
        "xray:PutTraceSegments": ["*"],
        "xray:PutTelemetryRecords": ["*"],
    }


def test_role_lists_only_the_schema_records(synth, template, consumer):
    (listing,) = [
        s
        for s in statements(template, role_of(template, consumer.function))
        if s["Action"] == "s3:ListBucket"
    ]
    assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"{PREFIX}_schemas/*"]}}


# --- the rule, retries and dead letters --------------------------------------------------------


def test_rule_matches_objects_created_under_exports_in_the_export_bucket(synth, template, consumer):
    ids = _ids(synth, consumer)
    rule = props(template, consumer.rule)
    assert rule["State"] == "ENABLED"
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [{"Ref": ids["bucket"]}]},
            "object": {"key": [{"prefix": "exports/"}]},
        },
    }
    # The very pattern the stack publishes for downstream consumers.
    published, variables = template["Outputs"]["ExportCreatedEventPattern"]["Value"]["Fn::Sub"]
    assert variables == {"Bucket": {"Ref": ids["bucket"]}}
    expected = json.loads(
        json.dumps(rule["EventPattern"]).replace(json.dumps(variables["Bucket"]), '"${Bucket}"')
    )
    assert json.loads(published) == expected


def test_rule_targets_the_function_with_retries_and_a_dead_letter_queue(synth, template, consumer):
    ids = _ids(synth, consumer)
    (target,) = props(template, consumer.rule)["Targets"]
    assert target["Arn"] == _arn(ids["function"])
    assert target["RetryPolicy"] == {
        "MaximumRetryAttempts": DELIVERY_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": DELIVERY_MAX_EVENT_AGE.to_seconds(),
    }
    assert target["DeadLetterConfig"] == {"Arn": _arn(ids["queue"])}
    assert "Input" not in target and "InputPath" not in target  # the handler parses the event
    permissions = [
        p["Properties"]
        for p in of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == _arn(ids["function"])
    ]
    assert permissions == [
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": _arn(ids["function"]),
            "Principal": "events.amazonaws.com",
            "SourceArn": _arn(ids["rule"]),
        }
    ]


def test_failed_invocations_are_retried_then_sent_to_the_same_queue(synth, template, consumer):
    ids = _ids(synth, consumer)
    (config,) = of_type(template, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"] == {
        "FunctionName": {"Ref": ids["function"]},
        "Qualifier": "$LATEST",
        "MaximumRetryAttempts": INVOKE_RETRY_ATTEMPTS,
        "MaximumEventAgeInSeconds": INVOKE_MAX_EVENT_AGE.to_seconds(),
        "DestinationConfig": {"OnFailure": {"Destination": _arn(ids["queue"])}},
    }


def test_dead_letter_queue_is_encrypted_tls_only_and_open_to_the_rule_only(
    synth, template, consumer
):
    ids = _ids(synth, consumer)
    queue = props(template, consumer.dead_letter_queue)
    assert queue["SqsManagedSseEnabled"] is True
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    (policy,) = [
        p["Properties"]
        for p in of_type(template, "AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [{"Ref": ids["queue"]}]
    ]
    deny, allow = policy["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Effect"] == "Allow"
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Condition"] == {"ArnEquals": {"aws:SourceArn": _arn(ids["rule"])}}


# --- monitoring and outputs --------------------------------------------------------------------


def _alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: a["Properties"] for k, a in of_type(template, "AWS::CloudWatch::Alarm").items()}


def test_function_errors_and_dead_letters_are_alarmed_to_the_topic(synth, template, consumer):
    """Two alarms more than without the consumer, both to the topic (which of them pages for
    what: tests/infra/test_monitoring.py)."""
    ids = _ids(synth, consumer)
    alarms = _alarms(template)
    added = {k: a for k, a in alarms.items() if k not in _alarms(synth.json)}
    assert len(alarms) == len(_alarms(synth.json)) + 2
    assert sorted(k.removeprefix("Monitoring")[:-8] for k in added) == sorted(
        ["CurationDeadLetters", f"{consumer.function.node.id}ErrorRate"]
    )
    for alarm in added.values():
        assert alarm["AlarmActions"] == [{"Ref": ids["topic"]}]


def test_dashboard_shows_the_consumer(synth, template, consumer):
    ids = _ids(synth, consumer)
    (dashboard,) = of_type(template, "AWS::CloudWatch::Dashboard").values()
    body = json.dumps(dashboard["Properties"]["DashboardBody"])
    assert ids["function"] in body
    assert ids["queue"] in body
    assert "ExportsCurated" in body and "Curation dead letters" in body


def test_output_names_the_curated_location(synth, template):
    output = template["Outputs"][OUTPUT_CURATED_PREFIX]["Value"]
    bucket = {"Ref": logical_id(synth.curated.storage.bucket)}
    assert output == {"Fn::Join": ["", ["s3://", bucket, f"/{PREFIX}"]]}


# --- cdk-nag and cfn-lint ----------------------------------------------------------------------


def test_no_unsuppressed_nag_findings_with_the_consumer(synth):
    annotations = Annotations.from_stack(synth.curated)
    nag = Match.string_like_regexp("AwsSolutions-.*")
    assert [e.entry.data for e in annotations.find_error("*", nag)] == []
    assert [w.entry.data for w in annotations.find_warning("*", nag)] == []


def test_consumer_suppressions_are_scoped_and_explained(synth, template, consumer):
    ids = _ids(synth, consumer)
    role = role_of(template, consumer.function)
    suppressions = {
        logical: resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
        for logical, resource in template["Resources"].items()
        if logical.startswith("Curation")
    }
    found = {(logical, s["id"]) for logical, items in suppressions.items() for s in items}
    assert {(role, "AwsSolutions-IAM5"), (ids["queue"], "AwsSolutions-SQS3")} <= found
    assert {rule for _, rule in found} == {"AwsSolutions-IAM5", "AwsSolutions-SQS3"}
    applies_to = [
        a for s in suppressions[role] if s["id"] == "AwsSolutions-IAM5" for a in s["applies_to"]
    ]
    plain = sorted(a for a in applies_to if isinstance(a, str))
    assert plain == sorted(
        [
            "Resource::*",
            f"Resource::<{ids['bucket']}.Arn>/exports/*",
            f"Resource::<{ids['bucket']}.Arn>/{PREFIX}*",
            f"Resource::<{ids['bucket']}.Arn>/{PREFIX}_schemas/*",
        ]
    )
    (executions,) = [a["regex"] for a in applies_to if not isinstance(a, str)]
    state_machine = logical_id(synth.curated.workflow.state_machine)
    assert ":execution:" in executions and state_machine in executions
    for items in suppressions.values():
        for suppression in items:
            assert len(suppression["reason"]) >= 80, suppression


def test_template_with_the_consumer_has_no_cfn_lint_errors(template):
    matches = lint(json.dumps(template), config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    errors = [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})"
        for m in matches
        if m.rule.id.startswith("E")
    ]
    assert errors == []


# --- configuration -----------------------------------------------------------------------------


def _curated(**values: Any) -> dict[str, Any]:
    settings = copy.deepcopy(curated_settings())
    settings["curated"] = {**settings["curated"], **values}
    return settings


def test_curated_settings_load():
    config = load_config(curated_settings()).curated
    assert config == CuratedConfig(
        enabled=True,
        prefix=PREFIX,
        memory_mb=CURATED["memory_mb"],
        fields=("email", "first_name", "City"),
    )


def test_curated_defaults_fill_missing_keys():
    config = load_config(json.dumps({"curated": {"enabled": True}})).curated
    assert config == CuratedConfig(enabled=True, prefix="curated/", memory_mb=1769)


KEY = "ongage_export.curated"
BAD_CURATED = [
    ({"enabled": "yes"}, f"{KEY}.enabled"),
    ({"enabled": None}, f"{KEY}.enabled"),
    ({"prefix": "curated"}, f"{KEY}.prefix"),  # no trailing '/'
    ({"prefix": ""}, f"{KEY}.prefix"),
    ({"prefix": "/curated/"}, f"{KEY}.prefix"),
    ({"prefix": "curated//"}, f"{KEY}.prefix"),
    ({"prefix": "../curated/"}, f"{KEY}.prefix"),
    ({"prefix": "cur*ated/"}, f"{KEY}.prefix"),
    ({"prefix": "cu rated/"}, f"{KEY}.prefix"),
    ({"prefix": 7}, f"{KEY}.prefix"),
    ({"prefix": "exports/"}, f"{KEY}.prefix"),
    ({"prefix": "exports/curated/"}, f"{KEY}.prefix"),  # inside the exports prefix
    ({"prefix": "incoming/curated/"}, f"{KEY}.prefix"),  # expired by the staging lifecycle
    ({"memory_mb": 127}, f"{KEY}.memory_mb"),
    ({"memory_mb": 10241}, f"{KEY}.memory_mb"),
    ({"memory_mb": "1769"}, f"{KEY}.memory_mb"),
    ({"memory_mb": True}, f"{KEY}.memory_mb"),
    ({"colour": "red"}, f"{KEY}.colour"),
    ({"fields": "email"}, f"{KEY}.fields"),
    ({"fields": ["first name"]}, f"{KEY}.fields"),
    ({"fields": [7]}, f"{KEY}.fields"),
]


@pytest.mark.parametrize(
    ("values", "key"), BAD_CURATED, ids=[json.dumps(v) for v, _ in BAD_CURATED]
)
def test_bad_curated_value_is_reported_with_its_key(values, key):
    with pytest.raises(ConfigError) as caught:
        load_config(_curated(**values))
    assert key in str(caught.value)


@pytest.mark.parametrize("value", [[], "curated/", None])
def test_curated_must_be_an_object(value):
    with pytest.raises(ConfigError, match=r"ongage_export\.curated: must be a JSON object"):
        load_config({"curated": value})


def test_prefix_inside_exports_says_why():
    with pytest.raises(ConfigError, match=r"must not overlap 'exports/'"):
        load_config({"curated": {"prefix": "exports/curated/"}})


def test_bad_prefix_is_rejected_even_while_disabled():
    with pytest.raises(ConfigError, match=rf"{KEY}\.prefix"):
        load_config({"curated": {"enabled": False, "prefix": "curated"}})


# --- the Glue table and the Athena workgroup ---------------------------------------------------


def _only(template: dict[str, Any], kind: str) -> dict[str, Any]:
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == kind]
    return resource["Properties"]


def _rendered(value: Any, bucket: str) -> str:
    """A Fn::Join of the bucket's Ref and literals, as the deployed string."""
    parts = value["Fn::Join"][1]
    return "".join(bucket if isinstance(p, dict) else p for p in parts)


def test_the_table_reads_the_curated_parquet_with_projection_on_list_and_date(
    synth, template, consumer
):
    bucket = logical_id(synth.curated.storage.bucket)
    table = _only(template, "AWS::Glue::Table")
    database = _only(template, "AWS::Glue::Database")["DatabaseInput"]["Name"]
    assert table["DatabaseName"] == database == "curated"  # the stack's name, lower case
    given = table["TableInput"]
    location = f"s3://BUCKET/{PREFIX}"
    descriptor = given["StorageDescriptor"]
    assert _rendered(descriptor["Location"], "BUCKET") == location
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")
    assert given["PartitionKeys"] == [
        {"Name": "list", "Type": "string"},
        {"Name": "date", "Type": "string"},
    ]
    parameters = {
        k: v if isinstance(v, str) else _rendered(v, "BUCKET")
        for k, v in given["Parameters"].items()
    }
    assert parameters == {
        "classification": "parquet",
        "projection.enabled": "true",
        "projection.list.type": "injected",
        "projection.date.type": "date",
        "projection.date.format": "yyyy-MM-dd",
        "projection.date.range": "2020-01-01,NOW",
        "projection.date.interval": "1",
        "projection.date.interval.unit": "DAYS",
        "storage.location.template": location + "list=${list}/date=${date}/",
    }
    assert bucket in json.dumps(descriptor["Location"])
    # No crawler, no partitions to repair.
    assert not [r for r in template["Resources"].values() if r["Type"] == "AWS::Glue::Crawler"]


def test_the_table_matches_what_the_consumer_writes(template):
    """Columns and types from a Parquet file the consumer really writes; the projected
    partition folders from the folder it writes to."""
    fields = ["email", "first_name", "City"]  # CURATED["fields"]
    header = ",".join([*fields, "ocx_contact_id", "ocx_created_date", "ocx_unsubscribe_date"])
    member = CsvToParquet(io.BytesIO(f"{header}\r\n".encode()), "mm/dd/yyyy")
    written = pq.read_schema(io.BytesIO(b"".join(member.chunks())))
    arrow_to_glue = {ARROW_TYPES[glue]: glue for glue in ARROW_TYPES}
    wrote = {field.name.lower(): arrow_to_glue[field.type] for field in written}
    columns = _only(template, "AWS::Glue::Table")["TableInput"]["StorageDescriptor"]["Columns"]
    assert {c["Name"]: c["Type"] for c in columns} == wrote

    settings = CurateSettings(export_bucket="bucket", curated_prefix=PREFIX)
    folder = destination_for("exports/list=1111/date=2026-01-02/Daily-42.zip", settings).prefix
    template_path = f"{PREFIX}list=1111/date=2026-01-02/"
    assert folder.startswith(template_path)  # the export's folder lies in its partition


def test_the_workgroup_encrypts_and_enforces_its_results_location(synth, template):
    workgroup = _only(template, "AWS::Athena::WorkGroup")
    configuration = workgroup["WorkGroupConfiguration"]
    assert configuration["EnforceWorkGroupConfiguration"] is True
    results = configuration["ResultConfiguration"]
    assert results["EncryptionConfiguration"] == {"EncryptionOption": "SSE_S3"}
    assert _rendered(results["OutputLocation"], "BUCKET") == "s3://BUCKET/athena-results/"


def test_outputs_name_the_table_and_the_workgroup(template):
    outputs = template["Outputs"]
    assert outputs["CuratedTable"]["Value"] == "curated.curated_exports"
    assert outputs["AthenaWorkGroup"]["Value"] == "curated_exports"


def test_the_curate_bundle_fits_lambda_and_the_shared_one_has_no_pyarrow(tmp_path):
    """The curate function's asset, built as the synth builds it (pip's cache in .cache/pip)."""
    PipLocalBundling(True, requirements=CURATED_REQUIREMENTS).try_bundle(str(tmp_path))
    size = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file())
    assert (tmp_path / "pyarrow").is_dir() and (tmp_path / "ongage_export").is_dir()
    assert size < LAMBDA_UNZIPPED_LIMIT, f"{size / 1e6:.0f} MB"
    assert "pyarrow" not in REQUIREMENTS.read_text()
