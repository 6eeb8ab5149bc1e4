"""The Lambda asset, built on this machine without Docker.

`lambdas/` is the asset root: the `ongage_export` package is copied as is and the pinned runtime
dependencies (`lambdas/requirements.txt`) are installed next to it as binary wheels for the Lambda
platform, whatever the build machine is. pip's download cache lives in `.cache/pip` so repeated
synths do not download again; CDK itself skips bundling when the source hash is unchanged.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

ROOT = Path(__file__).resolve().parent.parent
ASSET_ROOT = ROOT / "lambdas"
PACKAGE = "ongage_export"
REQUIREMENTS = ASSET_ROOT / "requirements.txt"
# The curate function's own bundle: the shared requirements plus pyarrow (infra/consumer.py).
CURATED_REQUIREMENTS = ASSET_ROOT / "requirements-curated.txt"
PIP_CACHE = ROOT / ".cache" / "pip"

# One place decides the platform: the runtime, the architecture and the wheels must agree.
RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"
ARCHITECTURE = lambda_.Architecture.ARM_64
PIP_PLATFORM = "manylinux2014_aarch64"
# pyarrow ships manylinux_2_28 wheels only; the Python 3.14 runtime (Amazon Linux 2023, glibc
# 2.34) runs them. pip takes the newest tag that fits either.
PIP_PLATFORMS = (PIP_PLATFORM, "manylinux_2_28_aarch64")

# Set to false (`-c ongage_export:install_dependencies=false`) for a fast synth that only copies
# the package, e.g. to look at the template; `make synth` and deployments keep the default.
INSTALL_CONTEXT_KEY = "ongage_export:install_dependencies"

Runner = Callable[[Sequence[str]], Any]


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True)


def pip_command(target: Path, requirements: Path = REQUIREMENTS) -> list[str]:
    """Install binary wheels for the Lambda platform into `target` (never for this machine)."""
    return [
        sys.executable, "-m", "pip", "install",
        "--requirement", str(requirements),
        "--target", str(target),
        *(option for platform in PIP_PLATFORMS for option in ("--platform", platform)),
        "--implementation", "cp",
        "--python-version", PYTHON_VERSION,
        "--only-binary=:all:",
        "--no-compile",  # .pyc files made by this interpreter would not match the runtime's
        "--cache-dir", str(PIP_CACHE),
        "--disable-pip-version-check",
        "--no-input",
        "--quiet",
        "--quiet",  # warnings too: a bundle either builds or fails loudly
    ]  # fmt: skip


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    """CDK's local bundling hook: CDK calls `try_bundle` instead of starting a container."""

    def __init__(
        self,
        install_dependencies: bool = True,
        runner: Runner = _run,
        requirements: Path = REQUIREMENTS,
    ):
        self.install_dependencies = install_dependencies
        self.runner = runner
        self.requirements = requirements

    def try_bundle(self, output_dir: str, options: Any = None) -> bool:
        target = Path(output_dir)
        shutil.copytree(
            ASSET_ROOT / PACKAGE,
            target / PACKAGE,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )
        if self.install_dependencies:
            self.runner(pip_command(target, self.requirements))
            # Console scripts carry this machine's interpreter path; the runtime never uses them.
            shutil.rmtree(target / "bin", ignore_errors=True)
        return True  # True: CDK must not fall back to Docker


def asset_hash(install_dependencies: bool, requirements: Path = REQUIREMENTS) -> str:
    """Sources, requirements and target platform: what the bundle depends on.

    CDK skips bundling when `cdk.out/asset.<hash>` exists, so the hash must change whenever the
    bundle would (a copy-only bundle must never be reused for a deployment).
    """
    digest = hashlib.sha256()
    platforms = " ".join(PIP_PLATFORMS)
    digest.update(
        f"{PYTHON_VERSION} {platforms} {install_dependencies} {requirements.name}".encode()
    )
    for path in sorted(ASSET_ROOT.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(str(path.relative_to(ASSET_ROOT)).encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def lambda_code(install_dependencies: bool, requirements: Path = REQUIREMENTS) -> lambda_.Code:
    """The asset the stack's functions run: the package with `requirements` installed."""
    return lambda_.Code.from_asset(
        str(ASSET_ROOT),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=asset_hash(install_dependencies, requirements),
        exclude=["**/__pycache__", "**/*.pyc"],
        bundling=cdk.BundlingOptions(
            image=RUNTIME.bundling_image,  # required by the API; never pulled (local succeeds)
            # jsii calls back with the options positionally; the generated protocol spells
            # them out as keywords, which mypy cannot match.
            local=cast(
                cdk.ILocalBundling,
                PipLocalBundling(install_dependencies, requirements=requirements),
            ),
        ),
    )
