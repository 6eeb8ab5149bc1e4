"""What the REST API accepts and answers: the POST /exports body's JSON Schema (the export
request's own schema, or a batch of them, plus the key and polling) and the mapping templates
of the StartExecution integration (API Gateway calls Step Functions itself, no Lambda).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aws_cdk import aws_apigateway as apigw

from ongage_export.contract import EXECUTION_NAME_PATTERN
from ongage_export.domain.batch import BATCH_KEY, MAX_BATCH_EXPORTS
from ongage_export.domain.polling import PollingPolicy
from ongage_export.domain.request_schema import request_json_schema

IDEMPOTENCY_KEY_PATTERN = EXECUTION_NAME_PATTERN  # the key names the execution
ARN_TOKEN = "@@STATE_MACHINE_ARN@@"
BATCH_ARN_TOKEN = "@@BATCH_STATE_MACHINE_ARN@@"

# Builds the StartExecution call. A request starts the export workflow with exactly
# {"request", "polling"?}; a batch starts the batch workflow with {"exports", "polling"?}. The
# idempotency key names the execution and is not passed on. escapeJavaScript escapes ' as \',
# which is not JSON; the replaceAll undoes it.
START_EXECUTION_TEMPLATE = """#set($q = '"')
#if("$!input.path('$.batch')" != "")
#set($machine = "@@BATCH_STATE_MACHINE_ARN@@")
#set($doc = "{${q}exports${q}:$input.json('$.batch.exports')")
#else
#set($machine = "@@STATE_MACHINE_ARN@@")
#set($doc = "{${q}request${q}:$input.json('$.request')")
#end
#if("$!input.path('$.polling')" != "")
#set($doc = "${doc},${q}polling${q}:$input.json('$.polling')")
#end
#set($doc = "${doc}}")
{
  "stateMachineArn": "$machine",
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


def batch_json_schema(request: dict[str, Any]) -> dict[str, Any]:
    """A batch (domain/batch.py) of `request`s, the export request's one schema."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": [BATCH_KEY],
        "properties": {
            BATCH_KEY: {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_BATCH_EXPORTS,
                "items": request,
            }
        },
    }


def start_request_schema() -> dict[str, Any]:
    """The POST /exports body: the export request (its one schema) or a batch of them, plus the
    key and polling."""
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
        "required": ["idempotency_key"],
        "properties": {
            "idempotency_key": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
            "request": request,
            "batch": batch_json_schema(request),
            "polling": {"type": "object", "additionalProperties": False, "properties": polling},
        },
        "oneOf": [{"required": ["request"]}, {"required": ["batch"]}],
    }


def integration_response(
    status: str, pattern: str | None, template: str
) -> apigw.IntegrationResponse:
    return apigw.IntegrationResponse(
        status_code=status,
        selection_pattern=pattern,
        response_templates={"application/json": template},
    )
