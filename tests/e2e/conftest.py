"""End-to-end tests against a deployed stack; skipped unless one is named and reachable.

ONGAGE_EXPORT_STACK    the deployed stack's name (e.g. OngageExport)  -- required
AWS credentials        as boto3 finds them (profile, env, SSO...)    -- required
ONGAGE_E2E_REQUEST     path to an export request for a real Ongage list: enables the tests
                       that run real exports (they call Ongage and land a file in S3)
ONGAGE_E2E_TIMEOUT     seconds to wait for a real export (default 3600)
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest

from ongage_cli.deployed import Deployment


@pytest.fixture(scope="session")
def deployment() -> Deployment:
    stack = os.environ.get("ONGAGE_EXPORT_STACK")
    if not stack:
        pytest.skip("no deployed stack: set ONGAGE_EXPORT_STACK to run e2e tests")
    if boto3.Session().get_credentials() is None:
        pytest.skip("no AWS credentials: e2e tests need a deployed stack and credentials")
    return Deployment.find(stack)


@pytest.fixture(scope="session")
def real_request() -> dict[str, Any]:
    path = os.environ.get("ONGAGE_E2E_REQUEST")
    if not path:
        pytest.skip("set ONGAGE_E2E_REQUEST to a request file to run a real export")
    return json.loads(Path(path).read_text())


@pytest.fixture(scope="session")
def export_timeout() -> float:
    return float(os.environ.get("ONGAGE_E2E_TIMEOUT", "3600"))
