"""The synthesized stack, deployed into a local AWS with the project's own CDK CLI.

What a user does by hand (README, "Deploy on your laptop first"), as one object: start the
endpoint (`python -m local_aws`, its own process), `npx cdk bootstrap`, `npx cdk deploy --app
cdk.out` with the Ongage URL as the stack's `OngageBaseUrl` parameter, then put the Ongage
credentials into the stack's secret. The template and its assets are the ones `cdk synth`
wrote to `cdk.out/`; nothing here knows the stack's resources but its outputs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import boto3

from local_aws.cloud_assembly import (
    ACCOUNT_ID,
    CDK_OUT,
    REGION,
    ROOT,
    AssemblyError,
    stack_in,
    template_path,
)

STARTUP_SECONDS = 60


class DeploymentError(RuntimeError):
    """A step of the deployment failed; the message carries the tool's own words."""


@dataclass(frozen=True)
class OngageSecret:
    username: str
    password: str = field(repr=False)
    account_code: str = field(repr=False)

    def json(self) -> str:
        return json.dumps(
            {
                "username": self.username,
                "password": self.password,
                "account_code": self.account_code,
            }
        )


class LocalAwsProcess:
    """`python -m local_aws` on a free port, in its own process, until `stop()`."""

    def __init__(self, state_dir: Path, log: IO[str] | None = None):
        self.state_dir = state_dir
        self._log = log
        self.environment: dict[str, str] = {}
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> dict[str, str]:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "local_aws", "--port", "0", "--state-dir", str(self.state_dir)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
        )
        assert self._process.stdout is not None
        timer = threading.Timer(STARTUP_SECONDS, self._process.kill)
        timer.start()
        try:
            for line in self._process.stdout:
                if line.startswith("export "):
                    name, _, value = line[len("export ") :].strip().partition("=")
                    self.environment[name] = value
                if "CDK_DEFAULT_REGION" in self.environment:
                    break
        finally:
            timer.cancel()
        if "AWS_ENDPOINT_URL" not in self.environment:
            raise DeploymentError("the local AWS endpoint did not start (python -m local_aws)")
        threading.Thread(target=self._forward_output, daemon=True).start()
        return self.environment

    def _forward_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            if self._log is not None:
                self._log.write(line)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()


def cdk(arguments: list[str], environment: dict[str, str]) -> str:
    """Run the project's CDK CLI (node_modules) against the endpoint; its output on success."""
    npx = shutil.which("npx")
    if npx is None:
        raise DeploymentError("npx not found: install Node.js 20 and run `npm ci` (make install)")
    env = {
        **os.environ,
        **environment,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    env.pop("AWS_PROFILE", None)  # the endpoint's own keys, never a real account's
    done = subprocess.run(
        [npx, "--no-install", "cdk", *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise DeploymentError(f"cdk {' '.join(arguments[:1])} failed:\n{tail}")
    return done.stdout + done.stderr


def ensure_synthesized() -> Path:
    try:
        template_path(CDK_OUT, stack_in(CDK_OUT))
    except AssemblyError as error:
        raise DeploymentError(str(error)) from None
    return CDK_OUT


@dataclass
class LocalDeployment:
    """The stack deployed into one local AWS; `outputs` as the CLI reads them."""

    environment: dict[str, str]
    stack: str
    outputs: dict[str, str]

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.environment["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.environment["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.environment["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        )

    def put_credentials(self, secret: OngageSecret) -> None:
        self.client("secretsmanager").put_secret_value(
            SecretId=self.outputs["SecretId"], SecretString=secret.json()
        )


def bootstrap(environment: dict[str, str]) -> None:
    cdk(["bootstrap", f"aws://{ACCOUNT_ID}/{REGION}", "--app", str(CDK_OUT)], environment)


def deploy(
    environment: dict[str, str],
    *,
    ongage_url: str | None,
    cdk_out: Path = CDK_OUT,
) -> LocalDeployment:
    """`cdk deploy` of the synthesized stack (bootstrapped first), pointed at `ongage_url`
    (None: a deployed stack keeps the URL it has, as `cdk deploy` without `--parameters`)."""
    stack = stack_in(cdk_out)
    bootstrap(environment)
    parameters = ["--parameters", f"OngageBaseUrl={ongage_url}"] if ongage_url else []
    with tempfile.TemporaryDirectory() as scratch:
        outputs_file = Path(scratch) / "outputs.json"
        cdk(
            [
                "deploy", stack, "--app", str(cdk_out), "--require-approval", "never",
                *parameters, "--outputs-file", str(outputs_file), "--progress", "events",
            ],
            environment,
        )  # fmt: skip
        outputs = json.loads(outputs_file.read_text())[stack]
    return LocalDeployment(environment, stack, outputs)


def destroy(environment: dict[str, str], *, cdk_out: Path = CDK_OUT) -> str:
    """`cdk destroy --force` (no question asked: no terminal needed)."""
    return cdk(["destroy", stack_in(cdk_out), "--app", str(cdk_out), "--force"], environment)


def project_config() -> dict[str, Any]:
    """The `ongage_export` settings of cdk.json, as `make synth` reads them."""
    return dict(json.loads((ROOT / "cdk.json").read_text())["context"]["ongage_export"])


def synthesize(out: Path, config: dict[str, Any]) -> Path:
    """`cdk synth` into `out` with `config` as the `ongage_export` settings: a changed cdk.json
    without editing it. The Lambda bundles of `cdk.out` are linked in, so CDK, which skips
    bundling when an asset's folder exists, does not build them again (~10 s instead of ~1 min)."""
    ensure_synthesized()
    out.mkdir(parents=True, exist_ok=True)
    for asset in CDK_OUT.glob("asset.*"):
        if not (out / asset.name).exists():
            (out / asset.name).symlink_to(asset)
    cdk(
        [
            "synth",
            "--quiet",
            "--output",
            str(out),
            "--context",
            f"ongage_export={json.dumps(config)}",
        ],
        {},
    )
    return out
