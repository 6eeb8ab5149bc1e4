"""EventBridge Scheduler schedules and the REST API."""

from __future__ import annotations

import json

import jsonschema
import pytest

from infra.api_mapping import start_request_schema
from ongage_export.domain.request_schema import request_json_schema
from tests.infra.helpers import actions_on, logical_id, of_type, props, statements

VALID_REQUEST = {
    "name": "adhoc",
    "segment_id": [1],
    "date_format": "dd/mm/yyyy",
    "file_format": "csv",
    "status": ["active"],
}


def _schedules(synth):
    schedules = of_type(synth.json, "AWS::Scheduler::Schedule").values()
    return {s["Properties"]["Description"].split()[-1]: s["Properties"] for s in schedules}


# --- Scheduler ---------------------------------------------------------------------------------


def test_one_schedule_per_config_entry_without_flexible_window(synth):
    schedules = _schedules(synth)
    assert set(schedules) == {"nightly", "hourly-mailing", "nightly-batch"}
    nightly = schedules["nightly"]
    assert nightly["ScheduleExpression"] == "cron(15 2 * * ? *)"
    assert nightly["ScheduleExpressionTimezone"] == "Europe/Berlin"
    assert nightly["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert nightly["State"] == "ENABLED"
    assert schedules["hourly-mailing"]["State"] == "DISABLED"
    assert schedules["hourly-mailing"]["ScheduleExpression"] == "rate(1 hour)"


def test_schedules_retry_then_dead_letter_to_an_encrypted_tls_only_queue(synth):
    queue_id = logical_id(synth.main.schedules.dead_letter_queue)
    for schedule in _schedules(synth).values():
        target = schedule["Target"]
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": 4,
            "MaximumEventAgeInSeconds": 1800,
        }
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": [queue_id, "Arn"]}}
        assert target["Arn"] in [
            {"Ref": logical_id(machine)}
            for machine in (
                synth.main.workflow.state_machine,
                synth.main.batch_workflow.state_machine,
            )
        ]
    queue = synth.json["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    (policy,) = of_type(synth.json, "AWS::SQS::QueuePolicy").values()
    denies = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_schedule_input_is_the_request_with_the_scheduled_time_in_its_name(synth):
    nightly = json.loads(_schedules(synth)["nightly"]["Target"]["Input"])
    assert nightly["request"]["name"] == "nightly-<aws.scheduler.scheduled-time>"
    assert nightly["request"]["list_id"] == 4242
    assert nightly["polling"] == {"initial_seconds": 60}
    hourly = json.loads(_schedules(synth)["hourly-mailing"]["Target"]["Input"])
    assert "polling" not in hourly


def test_a_batch_schedule_starts_the_batch_machine_with_every_name_dated(synth):
    schedule = _schedules(synth)["nightly-batch"]
    assert schedule["Target"]["Arn"] == {"Ref": logical_id(synth.main.batch_workflow.state_machine)}
    document = json.loads(schedule["Target"]["Input"])
    assert [r["name"] for r in document["exports"]] == [
        "batch-a-<aws.scheduler.scheduled-time>",
        "batch-b-<aws.scheduler.scheduled-time>",
    ]
    assert [r["list_id"] for r in document["exports"]] == [4242, 4343]
    assert document["polling"] == {"initial_seconds": 120}
    assert set(document) == {"exports", "polling"}
    nightly = _schedules(synth)["nightly"]
    assert nightly["Target"]["Arn"] == {"Ref": logical_id(synth.main.workflow.state_machine)}


def test_scheduler_role_may_only_start_the_workflow_and_dead_letter(synth):
    role_id = logical_id(synth.main.schedules.role)
    trust = synth.json["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in json.dumps(trust)
    allowed = actions_on(statements(synth.json, role_id))
    assert set(allowed) == {"states:StartExecution", "sqs:SendMessage"}


# --- API ---------------------------------------------------------------------------------------


def _methods(synth):
    return {
        m["Properties"]["HttpMethod"]: m["Properties"]
        for m in of_type(synth.json, "AWS::ApiGateway::Method").values()
    }


def test_two_methods_both_iam_authorised_and_validated(synth):
    methods = _methods(synth)
    assert set(methods) == {"POST", "GET"}
    (validator_id,) = of_type(synth.json, "AWS::ApiGateway::RequestValidator")
    validator = synth.json["Resources"][validator_id]["Properties"]
    assert validator["ValidateRequestBody"] is True
    assert validator["ValidateRequestParameters"] is True
    for method in methods.values():
        assert method["AuthorizationType"] == "AWS_IAM"
        assert method["RequestValidatorId"] == {"Ref": validator_id}
    assert methods["GET"]["RequestParameters"] == {"method.request.path.id": True}


def test_post_starts_the_execution_directly_with_a_narrow_role(synth):
    post = _methods(synth)["POST"]
    integration = post["Integration"]
    assert integration["Type"] == "AWS"
    assert ":states:action/StartExecution" in json.dumps(integration["Uri"])
    assert integration["PassthroughBehavior"] == "NEVER"
    role_id = integration["Credentials"]["Fn::GetAtt"][0]
    assert role_id == logical_id(synth.main.api.start_role)
    allowed = actions_on(statements(synth.json, role_id))
    assert set(allowed) == {"states:StartExecution"}
    assert sorted(json.dumps(arn) for arn in allowed["states:StartExecution"]) == sorted(
        json.dumps({"Ref": logical_id(machine)})
        for machine in (synth.main.workflow.state_machine, synth.main.batch_workflow.state_machine)
    )


def test_post_starts_a_batch_on_the_batch_machine_and_a_request_on_the_export_one(synth):
    template = _methods(synth)["POST"]["Integration"]["RequestTemplates"]["application/json"]
    text = json.dumps(template)
    batch, export = text.split("#else")
    assert "$.batch" in batch and "exports" in batch
    assert logical_id(synth.main.batch_workflow.state_machine) in batch
    assert logical_id(synth.main.workflow.state_machine) not in batch
    assert logical_id(synth.main.workflow.state_machine) in export.split("#end")[0]
    assert '\\"stateMachineArn\\": \\"$machine\\"' in text


def test_post_names_the_execution_after_the_idempotency_key_and_answers_202(synth):
    integration = _methods(synth)["POST"]["Integration"]
    template = json.dumps(integration["RequestTemplates"]["application/json"])
    assert '\\"name\\": \\"$input.path(\'$.idempotency_key\')\\"' in template
    responses = {r["StatusCode"]: r for r in integration["IntegrationResponses"]}
    assert "SelectionPattern" not in responses["202"]  # the success default
    started = responses["202"]["ResponseTemplates"]["application/json"]
    assert '"run_id": "$id"' in started and "execution_id" not in started
    assert (
        "responseOverride.status = 409" in responses["400"]["ResponseTemplates"]["application/json"]
    )
    method_codes = {r["StatusCode"] for r in _methods(synth)["POST"]["MethodResponses"]}
    assert method_codes == {"202", "400", "409", "502"}


def test_post_body_model_is_the_request_schema_wrapped(synth):
    post = _methods(synth)["POST"]
    model_id = post["RequestModels"]["application/json"]["Ref"]
    model = synth.json["Resources"][model_id]["Properties"]
    assert model["ContentType"] == "application/json"
    schema = json.loads(model["Schema"])
    assert schema == start_request_schema()
    request = {k: v for k, v in request_json_schema().items() if k != "$schema"}
    assert schema["properties"]["request"] == request
    assert schema["properties"]["batch"]["properties"]["exports"]["items"] == request
    assert schema["$schema"] == "http://json-schema.org/draft-04/schema#"


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ({"idempotency_key": "run-2024_01", "request": VALID_REQUEST}, True),
        ({"idempotency_key": "k", "request": VALID_REQUEST, "polling": {"max_polls": 5}}, True),
        ({"request": VALID_REQUEST}, False),
        ({"idempotency_key": "has space", "request": VALID_REQUEST}, False),
        ({"idempotency_key": "a:b", "request": VALID_REQUEST}, False),
        ({"idempotency_key": "x" * 81, "request": VALID_REQUEST}, False),
        ({"idempotency_key": "k", "request": {**VALID_REQUEST, "status": ["nope"]}}, False),
        ({"idempotency_key": "k", "request": VALID_REQUEST, "polling": {"speed": 1}}, False),
        ({"idempotency_key": "k", "request": VALID_REQUEST, "extra": 1}, False),
        ({"idempotency_key": "k", "batch": {"exports": [VALID_REQUEST] * 2}}, True),
        ({"idempotency_key": "k", "batch": {"exports": [VALID_REQUEST]}, "polling": {}}, True),
        ({"idempotency_key": "k", "batch": {"exports": []}}, False),
        ({"idempotency_key": "k", "batch": {"exports": [VALID_REQUEST] * 201}}, False),
        ({"idempotency_key": "k", "batch": {"exports": [{**VALID_REQUEST, "status": []}]}}, False),
        ({"idempotency_key": "k", "batch": {"exports": [VALID_REQUEST], "x": 1}}, False),
        (
            {
                "idempotency_key": "k",
                "batch": {"exports": [VALID_REQUEST]},
                "request": VALID_REQUEST,
            },
            False,
        ),
        ({"idempotency_key": "k"}, False),
    ],
)
def test_model_accepts_and_rejects_bodies(body, valid):
    validator = jsonschema.Draft4Validator(start_request_schema())
    assert validator.is_valid(body) is valid


def test_get_calls_the_status_function_through_a_proxy_integration(synth):
    integration = _methods(synth)["GET"]["Integration"]
    assert integration["Type"] == "AWS_PROXY"
    assert logical_id(synth.main.api.status_function) in json.dumps(integration["Uri"])
    permissions = of_type(synth.json, "AWS::Lambda::Permission").values()
    status_function = {"Fn::GetAtt": [logical_id(synth.main.api.status_function), "Arn"]}
    principals = [p["Properties"]["Principal"] for p in permissions
                  if p["Properties"]["FunctionName"] == status_function]  # fmt: skip
    assert principals == ["apigateway.amazonaws.com"]


def test_status_function_may_describe_executions_and_sign_export_links_only(synth):
    function = synth.main.api.status_function
    role_id = props(synth.json, function)["Role"]["Fn::GetAtt"][0]
    allowed = actions_on(statements(synth.json, role_id))
    assert set(allowed) == {
        "states:DescribeExecution",
        "s3:GetObject",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
    }
    described = allowed["states:DescribeExecution"]
    assert len(described) == 2  # the export runs and the batch runs
    for machine in (synth.main.workflow.state_machine, synth.main.batch_workflow.state_machine):
        assert ":execution:" in json.dumps(described)
        assert f'"{logical_id(machine)}", "Name"' in json.dumps(described)
    assert "/exports/*" in json.dumps(allowed["s3:GetObject"])


def test_stage_logs_access_throttles_and_traces(synth):
    (stage,) = of_type(synth.json, "AWS::ApiGateway::Stage").values()
    stage = stage["Properties"]
    assert stage["StageName"] == "v1"
    assert logical_id(synth.main.api.access_logs) in json.dumps(stage["AccessLogSetting"])
    assert "$context.requestId" in stage["AccessLogSetting"]["Format"]
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] == 3
    assert settings["ThrottlingBurstLimit"] == 6
    assert settings["LoggingLevel"] == "ERROR"
    assert settings["DataTraceEnabled"] is False
    assert stage["TracingEnabled"] is True


def test_validation_errors_are_explained(synth):
    (response,) = of_type(synth.json, "AWS::ApiGateway::GatewayResponse").values()
    assert response["Properties"]["ResponseType"] == "BAD_REQUEST_BODY"
    assert "validationErrorString" in json.dumps(response["Properties"]["ResponseTemplates"])


def test_cloudwatch_role_only_when_configured(synth):
    assert of_type(synth.json, "AWS::ApiGateway::Account")
    assert not of_type(synth.imported_template.to_json(), "AWS::ApiGateway::Account")
