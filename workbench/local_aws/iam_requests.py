"""IAM checks see the action and the resource a call is about, as AWS does.

Actions: moto checks the API operation's name, which is the IAM action's name but for a few
operations; the one this stack uses is Lambda's Invoke, whose IAM action is
`lambda:InvokeFunction`.

Signatures: moto recomputes a request's signature over its parsed parameters when the body is
empty (right for a form POST, whose body it has parsed), so every signed GET of a REST API
(API Gateway's GetResources, Scheduler's ListSchedules) fails with SignatureDoesNotMatch; the
payload that was signed is the empty body.

Resources:
moto's access-control mode checks S3 and SQS calls against the bucket, key or queue they name,
but every other service against the resource "*", which no least-privilege statement matches
(`Resource: <the table's ARN>` does not match "*"), so every such call would be denied. Here
the calls the stack's roles make name their resource: the secret (Secrets Manager), the table
(DynamoDB), the topic (SNS), the function (Lambda) and the state machine or execution (Step
Functions).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from moto.awslambda.responses import LambdaResponse
from moto.dynamodb.responses import DynamoHandler
from moto.iam.access_control import IAMRequestBase
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.sns.responses import SNSResponse
from moto.stepfunctions.responses import StepFunctionResponse


def _arn(service: str, response: Any, resource: str) -> str:
    return f"arn:aws:{service}:{response.region}:{response.current_account}:{resource}"


def secret_arn(response: Any) -> str:
    secret_id = response._get_param("SecretId")
    if not secret_id:
        return "*"
    try:
        return str(response.backend.describe_secret(secret_id).arn)
    except Exception:  # an unknown secret: the call itself answers ResourceNotFound
        return secret_id if secret_id.startswith("arn:") else "*"


def table_arn(response: Any) -> str:
    table = response._get_param("TableName")
    return _arn("dynamodb", response, f"table/{table}") if table else "*"


def topic_arn(response: Any) -> str:
    return str(response._get_param("TopicArn") or response._get_param("TargetArn") or "*")


def state_machine_arn(response: Any) -> str:
    for name in ("executionArn", "stateMachineArn"):
        value = response._get_param(name)
        if value:
            return str(value)
    return "*"


def function_arn(response: Any) -> str:
    parts = unquote(response.path).split("/functions/", 1)
    if len(parts) < 2 or not parts[1]:
        return "*"
    name = parts[1].split("/", 1)[0]
    return name if name.startswith("arn:") else _arn("lambda", response, f"function:{name}")


RESOLVERS: dict[type, Callable[[Any], str]] = {
    SecretsManagerResponse: secret_arn,
    DynamoHandler: table_arn,
    SNSResponse: topic_arn,
    LambdaResponse: function_arn,
    StepFunctionResponse: state_machine_arn,
}


# API operation -> IAM action, where the two differ.
IAM_ACTIONS = {"lambda:Invoke": "lambda:InvokeFunction"}
_original_check = IAMRequestBase.check_action_permitted


def check_action_permitted(self: IAMRequestBase, resource: str) -> None:
    self._action = IAM_ACTIONS.get(self._action, self._action)
    _original_check(self, resource)


_original_create_request = IAMRequestBase._create_aws_request


def create_aws_request(self: IAMRequestBase) -> Any:
    if not self._body and self._method in ("GET", "HEAD", "DELETE"):
        self._data = {}  # the signed payload of a body-less request is empty
    return _original_create_request(self)


def install() -> None:
    IAMRequestBase._create_aws_request = create_aws_request  # type: ignore[method-assign]
    IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]
    for response_class, resolve in RESOLVERS.items():
        response_class._determine_resource = resolve  # type: ignore[attr-defined]
