"""CloudFormation models of the API Gateway resources moto's CloudFormation skips (stages, gateway
responses, models, request validators, the account's logging role): each maps its properties
onto the call the AWS API would make.
"""

from __future__ import annotations

import json
from typing import Any

from moto.core.common_models import CloudFormationModel

from local_aws.resource_model_base import CreatedResource


class ApiGatewayStage(CreatedResource, CloudFormationModel):
    TYPE = "AWS::ApiGateway::Stage"
    NAME_PROPERTY = "StageName"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> ApiGatewayStage:
        from moto.apigateway.models import apigateway_backends

        deployment = props["DeploymentId"]  # moto's Deployment has no physical id: Ref is it
        stage = apigateway_backends[account_id][region_name].create_stage(
            function_id=props["RestApiId"],
            stage_name=props["StageName"],
            deploymentId=deployment if isinstance(deployment, str) else deployment.id,
            variables=props.get("Variables"),
            description=props.get("Description", ""),
            tracing_enabled=props.get("TracingEnabled"),
        )
        created = cls(str(stage.name))
        created.rest_api_id = props["RestApiId"]
        return created

    rest_api_id = ""

    def delete(self, account_id: str, region_name: str) -> None:
        from moto.apigateway.models import apigateway_backends

        apigateway_backends[account_id][region_name].delete_stage(
            self.rest_api_id, self.physical_resource_id
        )


class ApiGatewayGatewayResponse(CreatedResource, CloudFormationModel):
    TYPE = "AWS::ApiGateway::GatewayResponse"

    @classmethod
    def create(
        cls, name: str, props: Any, account_id: str, region_name: str
    ) -> ApiGatewayGatewayResponse:
        from moto.apigateway.models import apigateway_backends

        apigateway_backends[account_id][region_name].put_gateway_response(
            rest_api_id=props["RestApiId"],
            response_type=props["ResponseType"],
            status_code=props.get("StatusCode"),
            response_parameters=props.get("ResponseParameters"),
            response_templates=props.get("ResponseTemplates"),
        )
        return cls(name)


class ApiGatewayModel(CreatedResource, CloudFormationModel):
    TYPE = "AWS::ApiGateway::Model"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(cls, name: str, props: Any, account_id: str, region_name: str) -> ApiGatewayModel:
        from moto.apigateway.models import apigateway_backends

        schema = props.get("Schema", {})
        model = apigateway_backends[account_id][region_name].create_model(
            rest_api_id=props["RestApiId"],
            name=props.get("Name", name),
            content_type=props.get("ContentType", "application/json"),
            description=props.get("Description", ""),
            schema=schema if isinstance(schema, str) else json.dumps(schema),
        )
        return cls(model.name)


class ApiGatewayRequestValidator(CreatedResource, CloudFormationModel):
    TYPE = "AWS::ApiGateway::RequestValidator"
    NAME_PROPERTY = "Name"

    @classmethod
    def create(
        cls, name: str, props: Any, account_id: str, region_name: str
    ) -> ApiGatewayRequestValidator:
        from moto.apigateway.models import apigateway_backends

        validator = apigateway_backends[account_id][region_name].create_request_validator(
            restapi_id=props["RestApiId"],
            name=props.get("Name", name),
            body=props.get("ValidateRequestBody"),
            params=props.get("ValidateRequestParameters"),
        )
        return cls(validator.id)


class ApiGatewayAccount(CreatedResource, CloudFormationModel):
    """Account-wide API Gateway settings (the CloudWatch role): nothing for moto to hold."""

    TYPE = "AWS::ApiGateway::Account"
