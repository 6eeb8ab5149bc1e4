"""GET /exports/{id} (API Gateway proxy): a run's status, and for a landed export a download link.

`id` is the run id: the execution name (the idempotency key given to POST /exports) or the full
execution ARN. The answer names it `run_id`; `export_id` is Ongage's id of the landed export.
The link is a presigned S3 GET, valid DOWNLOAD_LINK_SECONDS at most (and never longer than this
function's own credentials). It is made only for objects under EXPORT_PREFIX of
EXPORT_BUCKET, whatever the execution output says.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from ongage_export.adapters import aws_clients
from ongage_export.domain.run_status import (
    WHAT_AN_ID_IS,
    NotAnExecution,
    UnknownRun,
    execution_arn,
    run_status,
)
from ongage_export.observability import logger, tracer
from ongage_export.settings import StatusSettings

HEADERS = {"Content-Type": content_types.APPLICATION_JSON, "Cache-Control": "no-store"}
MAX_ID_LENGTH = 2048  # an execution ARN is far shorter; anything longer is refused unread

app = APIGatewayRestResolver()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if not isinstance(event, dict) or not isinstance(event.get("httpMethod"), str):
        # Invoked directly with something else: answered, as API Gateway would be, not raised.
        body = {"error": "NotAProxyEvent", "message": "expected an API Gateway proxy event"}
        return {"statusCode": 400, "headers": HEADERS, "body": json.dumps(body)}
    return app.resolve(event, context)


@app.get("/exports/<run_id>")
def get_export(run_id: str) -> Response[str]:
    settings = StatusSettings.from_env()
    arn = execution_arn(path_id(app.current_event.path_parameters), settings.state_machine_arn)
    view = run_status(
        aws_clients.runs(),
        arn,
        signer=aws_clients.link_signer(),
        link_seconds=settings.download_link_seconds,
        bucket=settings.export_bucket,
        prefix=settings.export_prefix,
    )
    if "result" in view and "download_url" not in view:
        logger.warning("no download link: unexpected location", extra={"result": view["result"]})
    return _json(200, view)


def path_id(parameters: Any) -> str:
    """The `{id}` path parameter as API Gateway gives it, URL-decoded.

    The function can also be invoked directly: a missing, non-string, oversized or
    badly encoded id is a 400, not an exception.
    """
    raw = parameters.get("id") if isinstance(parameters, dict) else None
    if not isinstance(raw, str) or len(raw) > MAX_ID_LENGTH:
        raise NotAnExecution(f"the path has no usable run id: {WHAT_AN_ID_IS}")
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:  # percent-encoded bytes that are not UTF-8
        raise NotAnExecution(f"the run id is not UTF-8 once URL-decoded: {WHAT_AN_ID_IS}") from None


@app.exception_handler(NotAnExecution)
def _invalid_id(error: NotAnExecution) -> Response[str]:
    return _answer(400, "InvalidId", str(error))


@app.exception_handler(UnknownRun)
def _unknown(error: UnknownRun) -> Response[str]:
    return _answer(404, "NotFound", str(error))


@app.not_found
def _no_route(_: Exception) -> Response[str]:
    return _answer(404, "NotFound", "the API has GET /exports/{id} and POST /exports")


def _answer(status: int, error: str, message: str) -> Response[str]:
    return _json(status, {"error": error, "message": message})


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, default=str),
        headers={"Cache-Control": HEADERS["Cache-Control"]},
    )
