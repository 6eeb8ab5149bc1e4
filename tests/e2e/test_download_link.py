"""The download links of a landed export work on the local AWS: the one the CLI prints (signed
with the user's key) and the one the status function answers (signed with its role's session)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import LocalTarget
from tests.e2e.test_local_deployment import _status, start_and_wait

pytestmark = pytest.mark.e2e


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as answer:
        return bytes(answer.read())


def test_both_download_links_fetch_the_landed_zip_byte_identical(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    report = start_and_wait(tmp_path)
    assert report["status"] == "SUCCEEDED", report
    expected = local_env.simulator.expected_body(report["result"]["export_id"]).sha256()

    from_cli = fetch(report["download_url"])
    answer = _status(local_env, report["run_id"])
    from_function = fetch(json.loads(answer["body"])["download_url"])

    assert from_cli[:4] == b"PK\x03\x04"
    assert hashlib.sha256(from_cli).hexdigest() == expected
    assert hashlib.sha256(from_function).hexdigest() == expected


def test_an_aws_s3_presign_link_fetches_the_landed_zip(
    local_env: LocalTarget, tmp_path: Path
) -> None:
    aws = shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed")
    report = start_and_wait(tmp_path)
    result = report["result"]
    done = subprocess.run(
        [aws, "s3", "presign", f"s3://{result['bucket']}/{result['key']}"],
        capture_output=True, text=True, timeout=60, env=dict(os.environ), check=True,
    )  # fmt: skip

    data = fetch(done.stdout.strip())

    assert hashlib.sha256(data).hexdigest() == result["sha256"]
