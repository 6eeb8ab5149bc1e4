"""A synthesized cloud assembly (`cdk.out`) deployed through CloudFormation's own API.

What `cdk deploy` does, minus the CLI: the assets the manifest lists (the Lambda package, zipped;
the workflow definition) are put where the template expects them, the bootstrap version the
template checks is there, then CreateStack with the template as synthesized. The embedded
runtime deploys a fresh stack this way for every run, in-process, where starting the CDK CLI
each time would cost seconds; `deployment.py` deploys with the CLI itself.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
CDK_OUT = ROOT / "cdk.out"  # what `make synth` writes
# The one account and region of every local deployment, the endpoint's and the embedded one's.
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
BOOTSTRAP_VERSION = "30"


class AssemblyError(RuntimeError):
    """The cloud assembly is missing or the stack did not deploy; says what to do."""


def stack_in(cdk_out: Path) -> str:
    """The name of the one stack `cdk.out` holds (cdk.json's stack_name when it was made)."""
    try:
        artifacts = json.loads((cdk_out / "manifest.json").read_text())["artifacts"]
    except FileNotFoundError:
        raise AssemblyError(f"{cdk_out} holds no cloud assembly: run `make synth`") from None
    stacks = [k for k, v in artifacts.items() if v["type"] == "aws:cloudformation:stack"]
    if len(stacks) != 1:
        raise AssemblyError(f"{cdk_out} holds {len(stacks)} stacks, not one: run `make synth`")
    return stacks[0]


def template_path(cdk_out: Path, stack: str) -> Path:
    path = cdk_out / f"{stack}.template.json"
    if not path.exists():
        raise AssemblyError(f"{path} is missing: synthesize the stack first (`make synth`)")
    return path


@cache
def zipped(directory: Path) -> bytes:
    """A folder asset as CDK packages it (`packaging: zip`), built once per process."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for root, dirs, files in os.walk(directory):
            dirs.sort()
            for name in sorted(files):
                path = Path(root) / name
                archive.write(path, path.relative_to(directory))
    return buffer.getvalue()


def _substitute(text: str, account: str, region: str) -> str:
    return (
        text.replace("${AWS::AccountId}", account)
        .replace("${AWS::Region}", region)
        .replace("${AWS::Partition}", "aws")
    )


def publish_assets(s3: Any, cdk_out: Path, stack: str, account: str, region: str) -> None:
    """Every file asset of the stack, at the bucket and key the manifest names."""
    manifest = json.loads((cdk_out / f"{stack}.assets.json").read_text())
    for asset in manifest.get("files", {}).values():
        source = cdk_out / asset["source"]["path"]
        body = zipped(source) if asset["source"]["packaging"] == "zip" else source.read_bytes()
        for destination in asset["destinations"].values():
            bucket = _substitute(destination["bucketName"], account, region)
            _ensure_bucket(s3, bucket)
            s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


def _ensure_bucket(s3: Any, bucket: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket)


def deploy(
    clients: Any,
    cdk_out: Path,
    *,
    stack: str,
    stack_name: str,
    parameters: dict[str, str],
    account: str,
    region: str,
) -> dict[str, str]:
    """Deploy the synthesized `stack` as `stack_name`; its outputs."""
    template = template_path(cdk_out, stack).read_text()
    publish_assets(clients("s3"), cdk_out, stack, account, region)
    clients("ssm").put_parameter(
        Name=BOOTSTRAP_VERSION_PARAMETER, Value=BOOTSTRAP_VERSION, Type="String", Overwrite=True
    )
    cloudformation = clients("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=template,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
    )
    described = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise AssemblyError(f"stack {stack_name} did not deploy: {described['StackStatus']}")
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
