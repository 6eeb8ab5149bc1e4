"""Starting a run on a deployed stack: through Step Functions, or through the API (POST /exports,
signed with SigV4)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import secrets
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlsplit

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.exceptions import ClientError

from ongage_cli.deployment import DeployedError, Deployment


def default_key(name: str) -> str:
    """A readable, unique run id: the export name, the UTC time and a little randomness."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "export"
    return f"{slug}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"


def start_execution(
    deployment: Deployment, key: str, run_input: Mapping[str, Any], machine: str | None = None
) -> dict[str, Any]:
    """StartExecution (of the export workflow, or of `machine`) with the key as name: a repeat
    of a running start returns the same run."""
    try:
        started = deployment.stepfunctions().start_execution(
            stateMachineArn=machine or deployment.state_machine_arn,
            name=key,
            input=json.dumps(run_input),
        )
    except ClientError as error:
        if error.response["Error"]["Code"] == "ExecutionAlreadyExists":
            raise DeployedError(
                f"run id {key!r} was already used (finished, or with another request); "
                f"see `ongage-export status {key}` or choose another --idempotency-key"
            ) from None
        raise
    return {
        "run_id": key,
        "execution_arn": started["executionArn"],
        "started_at": started["startDate"],
        "via": "stepfunctions",
    }


def start_via_api(deployment: Deployment, key: str, run_input: Mapping[str, Any]) -> dict[str, Any]:
    """POST /exports, signed with your AWS credentials (the API uses IAM authorization)."""
    _refuse_local_api(deployment)
    if not deployment.api_url:
        raise DeployedError("--via-api: the stack has no ApiUrl output; start without --via-api")
    body = {"idempotency_key": key, **run_input}
    status, answer = signed_request(deployment.session, "POST", _api(deployment, "exports"), body)
    if status != 202:
        message = answer.get("message", answer) if isinstance(answer, dict) else answer
        raise DeployedError(f"POST /exports answered {status}: {message}")
    answer = dict(answer) if isinstance(answer, dict) else {}
    # Stacks deployed before the API said `run_id` answer `execution_id`: the same id.
    answer.setdefault("run_id", answer.pop("execution_id", key))
    return {**answer, "via": "api"}


def signed_request(
    session: boto3.Session, method: str, url: str, body: Any = None
) -> tuple[int, Any]:
    """An HTTPS request to API Gateway signed with SigV4 (service execute-api)."""
    credentials = session.get_credentials()
    if credentials is None:
        raise DeployedError("no AWS credentials found (aws configure, or AWS_PROFILE)")
    data = json.dumps(body).encode() if body is not None else None
    request = AWSRequest(
        method=method, url=url, data=data, headers={"Content-Type": "application/json"}
    )
    SigV4Auth(credentials.get_frozen_credentials(), "execute-api", _region(session)).add_auth(
        request
    )
    prepared = urllib.request.Request(url, data=data, method=method, headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, _json(response.read())
    except urllib.error.HTTPError as error:
        return error.code, _json(error.read())
    except (urllib.error.URLError, OSError) as error:  # DNS, refused, TLS, timeout
        reason = getattr(error, "reason", None) or error
        raise DeployedError(
            f"--via-api: the stack's API did not answer ({reason}); check the network, or "
            "start without --via-api (the same run, started through Step Functions)"
        ) from None


def _refuse_local_api(deployment: Deployment) -> None:
    """The local AWS (`python -m local_aws`) deploys the API's resources but serves no
    execute-api requests: say so at once instead of calling a host that does not exist."""
    endpoint = deployment.stepfunctions().meta.endpoint_url or ""
    host = urlsplit(endpoint).hostname or ""
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if local:
        raise DeployedError(
            f"--via-api: the stack is on a local AWS ({endpoint}), which does not serve API "
            "Gateway requests; start without --via-api (the same run, through Step Functions)"
        )


def _api(deployment: Deployment, path: str) -> str:
    base = deployment.api_url or ""
    if not base.startswith("https://"):
        raise DeployedError(
            "--via-api: the stack's ApiUrl is not an https URL (API Gateway's endpoint); "
            "start without --via-api"
        )
    return base.rstrip("/") + "/" + path


def _region(session: boto3.Session) -> str:
    if not session.region_name:
        raise DeployedError("no AWS region configured (--region, or AWS_REGION)")
    return session.region_name


def _json(raw: Any) -> Any:
    if raw in (None, b"", ""):
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw.decode(errors="replace") if isinstance(raw, bytes) else raw


def follow_id(args: argparse.Namespace, started: Mapping[str, Any]) -> str:
    """What to give `wait`/`status` to follow the run from this shell."""
    if args.stack is None and getattr(args, "id", "").startswith("arn:"):
        return str(started["execution_arn"])  # found by ARN: the stack may have another name
    stack = f" --stack {args.stack}" if args.stack else ""
    return f"{started['run_id']}{stack}"


def print_started(started: Mapping[str, Any], follow: str, *, as_json: bool, out: TextIO) -> None:
    if as_json and out is sys.stdout:
        print(json.dumps(started, default=str), file=out)
        return
    print(f"started run {started['run_id']} ({started['via']})", file=out)
    if started.get("redrives"):
        export = started.get("export_id")
        carried = (
            f"Ongage export {export} (no new export is created)"
            if export
            else "nothing: it failed before Ongage created an export, so this run creates one"
        )
        print(f"  carries on  run {started['redrives']}'s {carried}", file=out)
        print(f"  polling     {describe_polling(started.get('polling') or {})}", file=out)
    print(f"  execution   {started['execution_arn']}", file=out)
    print(f"  follow it   ongage-export wait {follow}  |  ongage-export status {follow}", file=out)


def describe_polling(polling: Mapping[str, Any]) -> str:
    names = {"initial_seconds": "first wait", "max_seconds": "longest wait",
             "deadline_seconds": "deadline"}  # fmt: skip
    parts = [f"{names[key]} {value} s" for key, value in polling.items() if key in names]
    parts += [f"{key} {value}" for key, value in polling.items() if key not in names]
    return ", ".join(parts) or "the stack's defaults"
