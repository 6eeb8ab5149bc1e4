"""Each extension of moto tested on its own, in-process, with only its own patch applied.

Where it is cheap, a test also shows that stock moto still has the gap: when a moto upgrade
closes it, that test fails and the extension can go.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
    }.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield
