"""What starts exports: EventBridge Scheduler schedules and a REST API.

Schedules come from config; each starts the state machine with its request, `{scheduled_time}` in
the export name replaced by the time Scheduler meant to run it. Failed starts are retried, then
parked in an encrypted SQS dead-letter queue (alarmed in monitoring).

The API (IAM-authorised, stage access logs + throttling):
- `POST /exports` body `{"idempotency_key": "...", "request": {...}, "polling": {...}?}`,
  validated against a model built from `request_json_schema()`. API Gateway calls
  `states:StartExecution` itself (no Lambda) with a role that can do nothing else. The execution
  name *is* the idempotency key, so a double submit cannot start two runs: Step Functions answers
  the repeat of a running execution with the same ARN, and a reuse after it ended (or with another
  request) with ExecutionAlreadyExists, mapped to 409. Answers 202 `{"run_id", ...}`: the run
  id is the execution name (Ongage's `export_id` is another id, known once the run created it).
- `GET /exports/{id}` (id = the run id) calls a small status Lambda: status, and for a landed
  export its S3 location and a short-lived presigned download link.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import SCHEDULED_TIME_TOKEN, ScheduleConfig, StackConfig
from infra.encryption import log_group
from infra.functions import FunctionSpec, dead_letter_queue, log_retention, new_function
from ongage_export.contract import EXECUTION_NAME_PATTERN, EXPORT_PREFIX
from ongage_export.domain.polling import PollingPolicy
from ongage_export.domain.request import request_json_schema
from ongage_export.settings import StatusSettings

IDEMPOTENCY_KEY_PATTERN = EXECUTION_NAME_PATTERN  # the key names the execution
_ARN_TOKEN = "@@STATE_MACHINE_ARN@@"

# Builds the StartExecution call. The execution input is exactly {"request", "polling"?}: the
# idempotency key names the execution and is not passed on. escapeJavaScript escapes ' as \',
# which is not JSON; the replaceAll undoes it.
START_EXECUTION_TEMPLATE = """#set($q = '"')
#set($doc = "{${q}request${q}:$input.json('$.request')")
#if("$!input.path('$.polling')" != "")
#set($doc = "${doc},${q}polling${q}:$input.json('$.polling')")
#end
#set($doc = "${doc}}")
{
  "stateMachineArn": "@@STATE_MACHINE_ARN@@",
  "name": "$input.path('$.idempotency_key')",
  "input": "$util.escapeJavaScript($doc).replaceAll("\\\\'", "'")"
}"""

STARTED_TEMPLATE = """#set($arn = $input.path('$.executionArn'))
#set($start = $arn.lastIndexOf(':') + 1)
#set($id = $arn.substring($start))
{
  "run_id": "$id",
  "execution_arn": "$arn",
  "started_at": $input.json('$.startDate'),
  "status_url": "https://$context.domainName/$context.stage/exports/$id"
}"""

# StartExecution answers 400 for every client error; the body's __type tells them apart.
START_FAILED_TEMPLATE = """#set($type = "$!input.path('$.__type')")
#if($type.endsWith('ExecutionAlreadyExists'))
#set($context.responseOverride.status = 409)
{
  "error": "ExecutionAlreadyExists",
  "message": "@@ALREADY_USED@@"
}
#else
{
  "error": "$type.replaceAll('^.*#', '')",
  "message": $input.json('$.message')
}
#end""".replace(
    "@@ALREADY_USED@@",
    "This idempotency_key already named a run (ended, or with another request): "
    "GET /exports/{idempotency_key} shows it; use a new key for a new run.",
)

UNAVAILABLE_TEMPLATE = """{
  "error": "StepFunctionsUnavailable",
  "message": "Step Functions did not answer; retry with the same idempotency_key."
}"""


def start_request_schema() -> dict[str, Any]:
    """The POST /exports body: the export request (its one schema) plus the key and polling."""
    request = {k: v for k, v in request_json_schema().items() if k != "$schema"}
    kinds = {"int": {"type": "integer", "minimum": 0}, "bool": {"type": "boolean"}}
    polling = {
        f.name: kinds.get(
            str(getattr(f.type, "__name__", f.type)), {"type": "number", "minimum": 0}
        )
        for f in dataclasses.fields(PollingPolicy)
    }
    return {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "title": "StartExport",
        "type": "object",
        "additionalProperties": False,
        "required": ["idempotency_key", "request"],
        "properties": {
            "idempotency_key": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
            "request": request,
            "polling": {"type": "object", "additionalProperties": False, "properties": polling},
        },
    }


def scheduled_input(schedule: ScheduleConfig) -> dict[str, Any]:
    """The execution input a schedule sends: its request, the scheduled time in the name."""
    request = dict(schedule.request)
    request["name"] = str(request["name"]).replace(
        SCHEDULED_TIME_TOKEN, scheduler.ContextAttribute.scheduled_time
    )
    document: dict[str, Any] = {"request": request}
    if schedule.polling:
        document["polling"] = dict(schedule.polling)
    return document


class ScheduledExports(Construct):
    """One Scheduler schedule per configured entry, a shared role and dead-letter queue."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        state_machine: sfn.IStateMachine,
        key: kms.IKey | None,
    ):
        super().__init__(scope, construct_id)
        self.dead_letter_queue = dead_letter_queue(self, key)
        account = cdk.Stack.of(self).account
        self.role = iam.Role(
            self,
            "Role",
            description="EventBridge Scheduler: start the Ongage export workflow",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            ),
        )
        if key is not None:
            # Sending to the dead-letter queue under the key (CDK grants only SendMessage).
            key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        self.schedules = [
            self._schedule(schedule, config, state_machine) for schedule in config.schedules
        ]

    def _schedule(
        self, schedule: ScheduleConfig, config: StackConfig, state_machine: sfn.IStateMachine
    ) -> scheduler.Schedule:
        target = scheduler_targets.StepFunctionsStartExecution(
            state_machine,
            input=scheduler.ScheduleTargetInput.from_object(scheduled_input(schedule)),
            role=self.role,
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=config.scheduler_retry_attempts,
            max_event_age=cdk.Duration.seconds(config.scheduler_max_event_age_seconds),
        )
        return scheduler.Schedule(
            self,
            f"Schedule-{schedule.name}",
            description=f"Ongage export {schedule.name}",
            schedule=scheduler.ScheduleExpression.expression(
                schedule.expression, cdk.TimeZone.of(schedule.time_zone)
            ),
            target=target,
            enabled=schedule.enabled,
            time_window=scheduler.TimeWindow.off(),
        )


class ExportApi(Construct):
    """The REST API: `api`, `status_function`, `start_role`, `access_logs`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        state_machine: sfn.StateMachine,
        bucket: s3.IBucket,
        code: lambda_.Code,
        key: kms.IKey | None,
    ):
        super().__init__(scope, construct_id)
        self.key = key
        self.access_logs = log_group(
            self, "AccessLogs", key=key, retention=log_retention(config.log_retention_days)
        )
        self.api = self._rest_api(config)
        self.validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )
        self._report_validation_errors()
        exports = self.api.root.add_resource("exports")
        self.start_role = self._start_role(state_machine)
        self._post_exports(exports, state_machine)
        self.status_function = self._status_function(config, state_machine, bucket, code)
        self._get_export(exports)

    def _rest_api(self, config: StackConfig) -> apigw.RestApi:
        return apigw.RestApi(
            self,
            "Api",
            description="Start Ongage exports and follow them (IAM-authorised)",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # Execution logging needs the account's API Gateway CloudWatch role; it is account
            # wide, so it outlives this stack.
            cloud_watch_role=config.api.create_cloudwatch_role,
            cloud_watch_role_removal_policy=(
                cdk.RemovalPolicy.RETAIN if config.api.create_cloudwatch_role else None
            ),
            default_method_options=apigw.MethodOptions(
                authorization_type=apigw.AuthorizationType.IAM
            ),
            deploy_options=apigw.StageOptions(
                stage_name=config.api.stage_name,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # bodies stay out of logs
                metrics_enabled=True,
                tracing_enabled=True,
                throttling_rate_limit=config.api.throttle_rate_limit,
                throttling_burst_limit=config.api.throttle_burst_limit,
            ),
        )

    def _report_validation_errors(self) -> None:
        # By default a rejected body gets "Invalid request body" only; say what is wrong.
        self.api.add_gateway_response(
            "BadRequestBody",
            type=apigw.ResponseType.BAD_REQUEST_BODY,
            templates={
                "application/json": (
                    '{"error": "InvalidRequest", "message": "$context.error.validationErrorString"}'
                )
            },
        )

    def _start_role(self, state_machine: sfn.IStateMachine) -> iam.Role:
        role = iam.Role(
            self,
            "StartExecutionRole",
            description="API Gateway: start the Ongage export workflow, nothing else",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[state_machine.state_machine_arn],
            )
        )
        return role

    def _post_exports(self, exports: apigw.Resource, state_machine: sfn.IStateMachine) -> None:
        model = apigw.CfnModel(
            self,
            "StartExportModel",
            rest_api_id=self.api.rest_api_id,
            content_type="application/json",
            name="StartExport",
            description="POST /exports body; request = domain.request.request_json_schema()",
        )
        # As a JSON string (CloudFormation takes either): through jsii an object's 2**63-1 would
        # become a float and be rounded.
        model.add_property_override("Schema", json.dumps(start_request_schema()))
        integration = apigw.AwsIntegration(
            service="states",
            action="StartExecution",
            integration_http_method="POST",
            options=apigw.IntegrationOptions(
                credentials_role=self.start_role,
                passthrough_behavior=apigw.PassthroughBehavior.NEVER,
                request_templates={
                    "application/json": START_EXECUTION_TEMPLATE.replace(
                        _ARN_TOKEN, state_machine.state_machine_arn
                    )
                },
                integration_responses=[
                    _response("202", None, STARTED_TEMPLATE),
                    _response("400", r"4\d{2}", START_FAILED_TEMPLATE),
                    _response("502", r"5\d{2}", UNAVAILABLE_TEMPLATE),
                ],
            ),
        )
        exports.add_method(
            "POST",
            integration,
            request_validator=self.validator,
            request_models={
                "application/json": apigw.Model.from_model_name(self, "StartModel", model.ref)
            },
            method_responses=[
                apigw.MethodResponse(status_code=code) for code in ("202", "400", "409", "502")
            ],
        )

    def _status_function(
        self,
        config: StackConfig,
        state_machine: sfn.StateMachine,
        bucket: s3.IBucket,
        code: lambda_.Code,
    ) -> lambda_.Function:
        function = new_function(
            self,
            FunctionSpec(
                "ExportStatus",
                "ongage_export.handlers.export_status.handler",
                "GET /exports/{id}: execution status and a short-lived download link",
                # One DescribeExecution and a local signature: small and quick, well inside
                # API Gateway's 29 s integration timeout.
                memory_mib=256,
                timeout=cdk.Duration.seconds(10),
            ),
            code=code,
            environment=StatusSettings.environment(
                state_machine_arn=state_machine.state_machine_arn,
                export_bucket=bucket.bucket_name,
                export_prefix=EXPORT_PREFIX,
                download_link_seconds=config.api.download_link_seconds,
            ),
            log_retention_days=config.log_retention_days,
            key=self.key,
        )
        if self.key is not None:
            self.key.grant_decrypt(function)  # what the download link's GetObject needs
        executions = cdk.Stack.of(self).format_arn(
            service="states",
            resource="execution",
            resource_name=f"{state_machine.state_machine_name}:*",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeExports",
                actions=["states:DescribeExecution"],
                resources=[executions],
            )
        )
        # The presigned link is signed with this role: it may read landed exports only.
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="SignDownloadLinks",
                actions=["s3:GetObject"],
                resources=[bucket.arn_for_objects(f"{EXPORT_PREFIX}*")],
            )
        )
        return function

    def _get_export(self, exports: apigw.Resource) -> None:
        exports.add_resource("{id}").add_method(
            "GET",
            apigw.LambdaIntegration(self.status_function, allow_test_invoke=False),
            request_validator=self.validator,
            request_parameters={"method.request.path.id": True},
        )


def _response(status: str, pattern: str | None, template: str) -> apigw.IntegrationResponse:
    return apigw.IntegrationResponse(
        status_code=status,
        selection_pattern=pattern,
        response_templates={"application/json": template},
    )
