"""End-to-end tests against a deployed stack: a real one, or the synthesized stack deployed
into the local AWS (once per test run) when no real one is named.

ONGAGE_EXPORT_STACK    a real deployed stack's name (e.g. OngageExport); with AWS credentials,
                       the tests run against it instead of the local deployment
ONGAGE_E2E_REQUEST     path to an export request for a real Ongage list: enables the tests
                       that run real exports on the real stack (they call Ongage, land a file)
ONGAGE_E2E_TIMEOUT     seconds to wait for a real export (default 3600)

Locally: `python -m local_aws` in its own process, `npx cdk bootstrap` and `npx cdk deploy
--app cdk.out` (so `make synth` must have run), the Ongage simulator as Ongage, and an SQS
queue subscribed to the stack's topic to read the notices back.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

from embedded_runtime import notices
from local_aws.deployment import LocalAwsProcess, LocalDeployment, OngageSecret, deploy
from ongage_cli.deployment import Deployment
from ongage_simulator import Credentials, OngageSimulator, SimulatorConfig

CREDENTIALS = Credentials.demo()


@dataclass
class LocalTarget:
    """The local deployment, the simulator behind it and a queue on its topic."""

    deployed: LocalDeployment
    simulator: OngageSimulator
    queue_url: str
    state_dir: Path  # the local AWS's: the functions' output is under logs/
    notices: list[dict[str, Any]] = field(default_factory=list)

    def read_notices(self) -> list[dict[str, Any]]:
        self.notices.extend(notices.drain(self.deployed.client("sqs"), self.queue_url))
        return list(self.notices)

    def notice_for(self, execution_arn: str, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for notice in self.read_notices():
                if notice["message"].get("execution_arn") == execution_arn:
                    return notice
            time.sleep(0.2)
        raise AssertionError(f"no notice for {execution_arn} on the stack's topic")


def _real_stack() -> str | None:
    stack = os.environ.get("ONGAGE_EXPORT_STACK")
    if stack and boto3.Session().get_credentials() is not None:
        return stack
    return None


@pytest.fixture(scope="session")
def local_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTarget]:
    """The synthesized stack deployed into a fresh local AWS, pointed at the simulator."""
    if _real_stack():
        pytest.skip("runs on the local deployment only (ONGAGE_EXPORT_STACK names a real one)")
    state = tmp_path_factory.mktemp("local-aws")
    config = SimulatorConfig(credentials=CREDENTIALS, ready_after_retrieves=2, export_bytes=300_000)
    with OngageSimulator(config) as simulator:
        endpoint = LocalAwsProcess(state, log=(state / "server.log").open("w"))
        try:
            deployed = deploy(endpoint.start(), ongage_url=simulator.url)
            deployed.put_credentials(
                OngageSecret(CREDENTIALS.username, CREDENTIALS.password, CREDENTIALS.account_code)
            )
            queue_url = deployed.client("sqs").create_queue(QueueName="e2e-notices")["QueueUrl"]
            subscribe_queue(deployed, queue_url)
            yield LocalTarget(deployed, simulator, queue_url, state)
        finally:
            endpoint.stop()


def subscribe_queue(deployed: LocalDeployment, queue_url: str) -> None:
    """The stack's notices, also delivered to the test's queue."""
    notices.subscribe_queue(
        deployed.client("sqs"), deployed.client("sns"), deployed.outputs["TopicArn"], queue_url
    )


@pytest.fixture
def local_env(local_target: LocalTarget, monkeypatch: pytest.MonkeyPatch) -> LocalTarget:
    """The endpoint's environment for this test only (boto3 and the CLI read it), so no other
    test of the session ever talks to the local endpoint."""
    for name, value in local_target.deployed.environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    local_target.simulator.clear_faults()
    return local_target


@pytest.fixture
def deployment(request: pytest.FixtureRequest) -> Deployment:
    """The stack under test as the CLI finds it: the real one if named, else the local one."""
    stack = _real_stack()
    if stack:
        return Deployment.find(stack)
    target: LocalTarget = request.getfixturevalue("local_env")
    return Deployment.find(target.deployed.stack)


@pytest.fixture
def is_local() -> bool:
    return _real_stack() is None


@pytest.fixture(scope="session")
def real_request() -> dict[str, Any]:
    if not _real_stack():
        pytest.skip("a real export needs a real stack (ONGAGE_EXPORT_STACK) and Ongage account")
    path = os.environ.get("ONGAGE_E2E_REQUEST")
    if not path:
        pytest.skip("set ONGAGE_E2E_REQUEST to a request file to run a real export")
    return dict(json.loads(Path(path).read_text()))


@pytest.fixture(scope="session")
def export_timeout() -> float:
    return float(os.environ.get("ONGAGE_E2E_TIMEOUT", "3600"))
