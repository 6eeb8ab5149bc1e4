"""GET /exports/{id} (API Gateway proxy): a run's status, and for a landed export a download link.

`id` is the execution name (the idempotency key given to POST /exports) or the full execution
ARN. The link is a presigned S3 GET, valid DOWNLOAD_LINK_SECONDS at most (and never longer than
this function's own credentials). It is made only for objects under EXPORT_PREFIX of
EXPORT_BUCKET, whatever the execution output says.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from functools import cache
from typing import Any
from urllib.parse import unquote

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from botocore.exceptions import ClientError

from ongage_export.observability import logger, tracer

EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
MAX_ID_LENGTH = 2048  # an execution ARN is far shorter; anything longer is refused unread
NOT_FOUND = ("ExecutionDoesNotExist", "InvalidArn")


@cache
def _stepfunctions() -> Any:
    return boto3.client("stepfunctions")


@cache
def _s3() -> Any:
    return boto3.client("s3", config=Config(signature_version="s3v4"))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    raw_id = path_id(event)
    arn = execution_arn(raw_id, os.environ["STATE_MACHINE_ARN"]) if raw_id else None
    if arn is None:
        return _response(400, {"error": "InvalidId", "message": _INVALID_ID})
    try:
        execution = _stepfunctions().describe_execution(executionArn=arn)
    except ClientError as error:
        if error.response["Error"]["Code"] in NOT_FOUND:
            return _response(404, {"error": "NotFound", "message": f"no export run {raw_id!r}"})
        raise
    return _response(200, describe(execution, os.environ))


_INVALID_ID = (
    "id must be the idempotency_key the run was started with (letters, digits, '-', '_'; "
    "80 at most) or its execution ARN"
)


def path_id(event: Any) -> str | None:
    """The `{id}` path parameter, URL-decoded; None when the event has no usable one.

    API Gateway always sends a string, but the function can be invoked directly: a missing,
    non-string or oversized id is a 400, not an exception.
    """
    parameters = event.get("pathParameters") if isinstance(event, dict) else None
    raw = parameters.get("id") if isinstance(parameters, dict) else None
    if not isinstance(raw, str) or len(raw) > MAX_ID_LENGTH:
        return None
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:  # percent-encoded bytes that are not UTF-8
        return None


def execution_arn(execution_id: str, state_machine_arn: str) -> str | None:
    """The ARN of execution `execution_id` of this state machine, or None if it is not one."""
    prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":"
    if execution_id.startswith("arn:"):
        name = execution_id[len(prefix) :] if execution_id.startswith(prefix) else ""
    else:
        name = execution_id
    return prefix + name if EXECUTION_NAME.match(name) else None


def describe(execution: dict[str, Any], env: Any) -> dict[str, Any]:
    """What the API answers: status, times, and the outcome once there is one."""
    body: dict[str, Any] = {
        "id": execution["name"],
        "execution_arn": execution["executionArn"],
        "status": execution["status"],
        "started_at": _iso(execution.get("startDate")),
        "stopped_at": _iso(execution.get("stopDate")),
    }
    if execution["status"] == "SUCCEEDED":
        result = _json(execution.get("output"))
        body["result"] = result
        body.update(download_link(result, env))
    elif execution["status"] != "RUNNING":
        body["error"] = execution.get("error")
        body["cause"] = execution.get("cause")
    return body


def download_link(result: Any, env: Any) -> dict[str, Any]:
    """A presigned GET for the landed object, if it is where exports land."""
    if not isinstance(result, dict):
        return {}
    bucket, key = result.get("bucket"), result.get("key")
    prefix = env.get("EXPORT_PREFIX", "exports/")
    if bucket != env["EXPORT_BUCKET"] or not isinstance(key, str) or not key.startswith(prefix):
        logger.warning("no download link: unexpected location", extra={"result": result})
        return {}
    seconds = int(env.get("DOWNLOAD_LINK_SECONDS", "900"))
    url = _s3().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
    )
    return {"location": f"s3://{bucket}/{key}", "download_url": url, "expires_in": seconds}


def _json(text: str | None) -> Any:
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return text


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store"},
        "body": json.dumps(body, default=str),
    }
