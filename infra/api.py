"""The REST API that starts and follows exports (IAM-authorised, stage access logs + throttling);
what it accepts and answers is in api_mapping.py.

- `POST /exports` body `{"idempotency_key": "...", "request": {...}, "polling": {...}?}`, or
  `"batch": {"exports": [...]}` instead of `"request"` (started on the batch workflow),
  validated against a model built from `request_json_schema()`. API Gateway calls
  `states:StartExecution` itself (no Lambda) with a role that can do nothing else. The execution
  name *is* the idempotency key, so a double submit cannot start two runs: Step Functions answers
  the repeat of a running execution with the same ARN, and a reuse after it ended (or with another
  request) with ExecutionAlreadyExists, mapped to 409. Answers 202 `{"run_id", ...}`: the run
  id is the execution name (Ongage's `export_id` is another id, known once the run created it).
- `GET /exports/{id}` (id = the run id) calls a small status Lambda: status, and for a landed
  export its S3 location and a short-lived presigned download link. A batch's run id answers
  the batch's status (`"kind": "batch"`; once every export landed, each one's outcome; each
  export is a run of its own, named in the batch notice).
"""

from __future__ import annotations

import json

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.api_mapping import (
    ARN_TOKEN,
    BATCH_ARN_TOKEN,
    START_EXECUTION_TEMPLATE,
    START_FAILED_TEMPLATE,
    STARTED_TEMPLATE,
    UNAVAILABLE_TEMPLATE,
    integration_response,
    start_request_schema,
)
from infra.config import StackConfig
from infra.encryption import log_group
from infra.functions import FunctionSpec, log_retention, new_function
from ongage_export.contract import EXPORT_PREFIX
from ongage_export.settings import StatusSettings


class ExportApi(Construct):
    """The REST API: `api`, `status_function`, `start_role`, `access_logs`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        state_machine: sfn.StateMachine,
        batch_machine: sfn.StateMachine,
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
        self.start_role = self._start_role(state_machine, batch_machine)
        self._post_exports(exports, state_machine, batch_machine)
        self.status_function = self._status_function(
            config, state_machine, batch_machine, bucket, code
        )
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

    def _start_role(
        self, state_machine: sfn.IStateMachine, batch_machine: sfn.IStateMachine
    ) -> iam.Role:
        role = iam.Role(
            self,
            "StartExecutionRole",
            description="API Gateway: start the Ongage export or batch workflow, nothing else",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["states:StartExecution"],
                resources=[state_machine.state_machine_arn, batch_machine.state_machine_arn],
            )
        )
        return role

    def _post_exports(
        self,
        exports: apigw.Resource,
        state_machine: sfn.IStateMachine,
        batch_machine: sfn.IStateMachine,
    ) -> None:
        model = apigw.CfnModel(
            self,
            "StartExportModel",
            rest_api_id=self.api.rest_api_id,
            content_type="application/json",
            name="StartExport",
            description=(
                "POST /exports body; request = ongage_export.domain.request.request_json_schema()"
            ),
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
                        ARN_TOKEN, state_machine.state_machine_arn
                    ).replace(BATCH_ARN_TOKEN, batch_machine.state_machine_arn)
                },
                integration_responses=[
                    integration_response("202", None, STARTED_TEMPLATE),
                    integration_response("400", r"4\d{2}", START_FAILED_TEMPLATE),
                    integration_response("502", r"5\d{2}", UNAVAILABLE_TEMPLATE),
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
        batch_machine: sfn.StateMachine,
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
                batch_state_machine_arn=batch_machine.state_machine_arn,
                export_bucket=bucket.bucket_name,
                export_prefix=EXPORT_PREFIX,
                download_link_seconds=config.api.download_link_seconds,
            ),
            log_retention_days=config.log_retention_days,
            key=self.key,
        )
        if self.key is not None:
            self.key.grant_decrypt(function)  # what the download link's GetObject needs
        executions = [
            cdk.Stack.of(self).format_arn(
                service="states",
                resource="execution",
                resource_name=f"{machine.state_machine_name}:*",
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
            for machine in (state_machine, batch_machine)
        ]
        function.add_to_role_policy(
            iam.PolicyStatement(
                sid="DescribeExports",
                actions=["states:DescribeExecution"],
                resources=executions,
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
