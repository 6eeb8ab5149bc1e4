"""The Lambdas: runtime, tracing, logging, accounts and their limits, environment, least
privilege."""

from __future__ import annotations

import json

import pytest

from infra.functions import LEASE_MARGIN_SECONDS
from ongage_export.settings import Settings
from tests.infra.conftest import CONCURRENCY_LIMIT, SECOND_ACCOUNT
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


def _text(value) -> str:
    """A variable's value as the function sees it, with `ref:<logical id>` for what
    CloudFormation fills in at deploy time."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_text(part) for part in parts)
    return "ref:" + value.get("Ref", "attribute")


def _settings(template, function) -> Settings:
    """What the function's handlers read (Settings.from_env of its variables)."""
    env = props(template, function)["Environment"]["Variables"]
    return Settings.from_env({key: _text(value) for key, value in env.items()})


def test_each_account_gets_its_own_secret_and_its_limits_and_no_function_reserves_concurrency(
    synth,
):
    secrets = of_type(synth.json, "AWS::SecretsManager::Secret")
    assert len(secrets) == 2  # the default account's and brand-eu's
    for function in synth.main.functions.ongage_callers:
        settings = _settings(synth.json, function)
        default, second = settings.account("default"), settings.account(SECOND_ACCOUNT)
        assert (default.limits.parallel_calls, default.limits.calls_per_minute) == (
            CONCURRENCY_LIMIT, 300,
        )  # fmt: skip
        assert (second.limits.parallel_calls, second.limits.calls_per_minute) == (2, 120)
        assert second.secret_id != default.secret_id
        # Per-function reserved concurrency cannot tell accounts apart (infra/functions.py).
        assert "ReservedConcurrentExecutions" not in props(synth.json, function)


def test_a_slot_outlives_a_function_that_died_holding_it_by_the_lease_margin_only(synth):
    for function in synth.main.functions.ongage_callers:
        timeout = props(synth.json, function)["Timeout"]
        lease = _settings(synth.json, function).call_lease_seconds
        assert lease == timeout + LEASE_MARGIN_SECONDS


def test_every_account_secret_is_readable_by_the_ongage_callers_only(synth):
    template = synth.imported_template.to_json()
    for function in synth.imported.functions.ongage_callers:
        readable = json.dumps(_allowed(synth, function, template)["secretsmanager:GetSecretValue"])
        assert "prod/ongage/credentials-??????" in readable
        assert "prod/ongage/agency-??????" in readable
    status = synth.imported.api.status_function
    assert "secretsmanager:GetSecretValue" not in _allowed(synth, status, template)


def test_an_account_the_stack_does_not_know_is_refused_with_the_known_ones(synth):
    settings = _settings(synth.json, synth.main.functions.create_export)
    with pytest.raises(Exception, match="'brand-us' is not configured here; configured: brand-eu"):
        settings.account("brand-us")


def test_timeouts_and_memory(synth):
    create = props(synth.json, synth.main.functions.create_export)
    retrieve = props(synth.json, synth.main.functions.retrieve_export)
    assert create["Timeout"] < 120  # below the CreateExport state's TimeoutSeconds
    assert retrieve["Timeout"] == 900  # Lambda's maximum; the Task waits longer (test_timeouts.py)
    assert retrieve["MemorySize"] >= 1024


def test_environment_is_what_the_handlers_read_and_holds_no_secret(synth):
    for function in synth.main.functions.ongage_callers:
        env = props(synth.json, function)["Environment"]["Variables"]
        settings = _settings(synth.json, function)
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
        {"Ref": logical_id(secret)} for secret in synth.main.credentials.secrets.values()
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
