"""The Lambdas: runtime, tracing, logging, concurrency split, environment, least privilege."""

from __future__ import annotations

import json

import pytest

from infra.functions import split_concurrency
from ongage_export.settings import Settings
from tests.infra.conftest import CONCURRENCY_LIMIT
from tests.infra.helpers import actions_on, logical_id, of_type, props, role_of, statements

SECRET_FIELDS = ("password", "username", "account_code")


def _functions(synth):
    return [
        *synth.main.functions.ongage_callers,
        synth.main.api.status_function,
        synth.main.notifications.announcer,
    ]


def test_four_functions_on_the_latest_python_arm64_traced(synth):
    functions = of_type(synth.json, "AWS::Lambda::Function")
    assert len(functions) == 4
    for function in functions.values():
        assert function["Properties"]["Runtime"] == "python3.14"
        assert function["Properties"]["Architectures"] == ["arm64"]
        assert function["Properties"]["TracingConfig"] == {"Mode": "Active"}


def test_each_function_has_its_own_role_and_log_group_with_retention(synth):
    roles = {role_of(synth.json, fn) for fn in _functions(synth)}
    assert len(roles) == 4
    for function in _functions(synth):
        log_group = props(synth.json, function)["LoggingConfig"]["LogGroup"]
        group = synth.json["Resources"][log_group["Ref"]]
        assert group["Properties"]["RetentionInDays"] == 30


def test_no_function_role_uses_managed_policies(synth):
    for function in _functions(synth):
        role = synth.json["Resources"][role_of(synth.json, function)]
        assert "ManagedPolicyArns" not in role["Properties"]


def test_reserved_concurrency_of_ongage_callers_fits_ongage_parallel_limit(synth):
    reserved = [
        props(synth.json, fn)["ReservedConcurrentExecutions"]
        for fn in synth.main.functions.ongage_callers
    ]
    assert all(slots >= 1 for slots in reserved)
    assert sum(reserved) <= CONCURRENCY_LIMIT
    assert "ReservedConcurrentExecutions" not in props(synth.json, synth.main.api.status_function)


@pytest.mark.parametrize("limit", range(2, 60))
def test_concurrency_split_never_exceeds_the_limit(limit):
    create, retrieve = split_concurrency(limit)
    assert create >= 1 and retrieve >= 1
    assert create + retrieve == limit
    assert retrieve >= create


def test_default_config_reserves_ten_in_total(synth):
    template = synth.default_template.to_json()
    reserved = [
        props(template, fn)["ReservedConcurrentExecutions"]
        for fn in synth.default.functions.ongage_callers
    ]
    assert sum(reserved) == 10


def test_timeouts_and_memory(synth):
    create = props(synth.json, synth.main.functions.create_export)
    retrieve = props(synth.json, synth.main.functions.retrieve_export)
    assert create["Timeout"] < 120  # below the CreateExport state's TimeoutSeconds
    assert retrieve["Timeout"] == 900  # Lambda's maximum; the Task waits longer (test_timeouts.py)
    assert retrieve["MemorySize"] >= 1024


def test_environment_is_what_the_handlers_read_and_holds_no_secret(synth):
    for function in synth.main.functions.ongage_callers:
        env = props(synth.json, function)["Environment"]["Variables"]
        concrete = {k: v if isinstance(v, str) else "token" for k, v in env.items()}
        settings = Settings.from_env(concrete)
        assert env["ONGAGE_BASE_URL"] == {"Ref": "OngageBaseUrl"}
        assert settings.ongage_trusted_origins == "https://connect.ongage.example"
        assert settings.default_polling.initial_seconds == 20
        assert settings.default_polling.deadline_seconds == 7200
        assert settings.stop_margin_seconds == 180  # stream_stop_margin_seconds
        assert env["POWERTOOLS_SERVICE_NAME"] == "ongage-export"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "OngageExport"
        assert env["ONGAGE_SECRET_ID"] == {"Ref": logical_id(synth.main.credentials.secret)}
        assert not any(field in json.dumps(env).lower() for field in SECRET_FIELDS)


def test_created_secret_holds_no_literal_value(synth):
    secret = props(synth.json, synth.main.credentials.secret)
    assert "SecretString" not in secret
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "password"


def _allowed(synth, function, template=None):
    template = template or synth.json
    return actions_on(statements(template, role_of(template, function)))


def test_create_export_reads_secret_and_writes_idempotency_records_only(synth):
    allowed = _allowed(synth, synth.main.functions.create_export)
    table = {"Fn::GetAtt": [logical_id(synth.main.storage.table), "Arn"]}
    for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem"):
        assert allowed[f"dynamodb:{action}"] == [table]
    assert allowed["secretsmanager:GetSecretValue"] == [
        {"Ref": logical_id(synth.main.credentials.secret)}
    ]
    assert not [action for action in allowed if action.startswith("s3:")]


def test_retrieve_export_stages_and_lands_objects_in_two_prefixes_only(synth):
    allowed = _allowed(synth, synth.main.functions.retrieve_export)
    bucket_arn = {"Fn::GetAtt": [logical_id(synth.main.storage.bucket), "Arn"]}
    prefixes = [{"Fn::Join": ["", [bucket_arn, f"/{p}/*"]]} for p in ("exports", "incoming")]
    for action in ("PutObject", "GetObject", "DeleteObject", "AbortMultipartUpload"):
        assert sorted(map(json.dumps, allowed[f"s3:{action}"])) == sorted(map(json.dumps, prefixes))
    assert allowed["s3:ListMultipartUploadParts"]
    assert allowed["s3:ListBucketMultipartUploads"] == [bucket_arn]
    assert allowed["s3:ListBucket"] == [bucket_arn]
    assert "secretsmanager:GetSecretValue" in allowed
    # The readiness history only: read and replace its items in the stack's table.
    table_arn = {"Fn::GetAtt": [logical_id(synth.main.storage.table), "Arn"]}
    dynamodb = {action: arns for action, arns in allowed.items() if action.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:GetItem": [table_arn], "dynamodb:PutItem": [table_arn]}


def test_no_policy_grants_service_wide_actions(synth):
    for policy in of_type(synth.json, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            ):
                assert action != "*" and not action.endswith(":*"), action


def test_imported_secret_is_read_by_name_with_its_suffix(synth):
    template = synth.imported_template.to_json()
    assert not of_type(template, "AWS::SecretsManager::Secret")
    function = synth.imported.functions.create_export
    env = props(template, function)["Environment"]["Variables"]
    assert env["ONGAGE_SECRET_ID"] == "prod/ongage/credentials"
    resources = _allowed(synth, function, template)["secretsmanager:GetSecretValue"]
    assert "secret:prod/ongage/credentials-??????" in json.dumps(resources)
