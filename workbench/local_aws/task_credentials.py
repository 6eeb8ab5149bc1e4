"""Step Functions tasks call the services on this endpoint, as the state machine's role.

In server mode moto's interpreter sends each Task's service call (lambda:invoke, sns:publish)
over HTTP to `localhost:$MOTO_PORT` (5000 unless set) signed with a fixed dummy key. Here the
call goes to this endpoint, signed with an STS session of the role the task runs as (the
execution role, or the state's `Credentials`), so the state machine role's policies decide
whether the workflow may invoke its functions and publish its notices, as on AWS.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.utils import boto_client

_sessions: dict[str, dict[str, str]] = {}
_lock = threading.Lock()


def role_session(role_arn: str, region: str) -> dict[str, str]:
    """boto3 credential arguments of one STS session per role, made once."""
    from moto.sts.models import sts_backends
    from moto.utilities.utils import get_partition

    with _lock:
        if role_arn not in _sessions:
            account_id = role_arn.split(":")[4]
            role = sts_backends[account_id][get_partition(region)].assume_role(
                region_name=region,
                role_session_name="states",
                role_arn=role_arn,
                policy="",
                duration=43200,
                external_id="",
            )
            _sessions[role_arn] = {
                "aws_access_key_id": role.access_key_id,
                "aws_secret_access_key": role.secret_access_key,
                "aws_session_token": role.session_token,
            }
        return _sessions[role_arn]


def client_factory(endpoint: str) -> Any:
    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
        role_arn = getattr(state_credentials, "role_arn", None)
        credentials = role_session(role_arn, region) if role_arn else {}
        return boto3.client(  # type: ignore[call-overload,no-any-return]
            service_name=service,
            region_name=region,
            endpoint_url=endpoint,
            config=Config(
                parameter_validation=False,
                retries={"max_attempts": 0, "total_max_attempts": 1},
                connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            ),
            **credentials,
        )

    return boto_client_for


def install(endpoint: str) -> None:
    """Every interpreter module that imported moto's `boto_client_for` gets this one (they
    are imported here first, so none imports the original later)."""
    import importlib
    import pkgutil

    import moto.stepfunctions.parser.asl as interpreter

    factory = client_factory(endpoint)
    boto_client.boto_client_for = factory  # type: ignore[assignment]
    for info in pkgutil.walk_packages(interpreter.__path__, interpreter.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # optional parts of LocalStack's interpreter that moto left out
            continue
        if hasattr(module, "boto_client_for"):
            module.boto_client_for = factory  # type: ignore[attr-defined]
