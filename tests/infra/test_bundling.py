"""Local bundling of the Lambda asset: no Docker, wheels for the Lambda platform."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

from infra import bundling


def test_try_bundle_copies_the_package_and_installs_lambda_platform_wheels(tmp_path: Path):
    commands: list[Sequence[str]] = []
    bundler = bundling.PipLocalBundling(install_dependencies=True, runner=commands.append)

    assert bundler.try_bundle(str(tmp_path)) is True

    assert (tmp_path / "ongage_export" / "__init__.py").is_file()
    assert (tmp_path / "ongage_export" / "handlers" / "export_status.py").is_file()
    assert not list(tmp_path.rglob("__pycache__"))
    (command,) = commands
    assert command[command.index("--platform") + 1] == bundling.PIP_PLATFORM
    assert command[command.index("--python-version") + 1] == bundling.PYTHON_VERSION
    assert command[command.index("--target") + 1] == str(tmp_path)
    assert command[command.index("--requirement") + 1] == str(bundling.REQUIREMENTS)
    assert "--only-binary=:all:" in command
    assert "--no-compile" in command
    assert str(bundling.PIP_CACHE) in command


def test_platform_runtime_and_architecture_agree():
    assert bundling.RUNTIME.name == f"python{bundling.PYTHON_VERSION}"
    arch = bundling.ARCHITECTURE.name
    assert {"arm64": "aarch64", "x86_64": "x86_64"}[arch] in bundling.PIP_PLATFORM


def test_copy_only_bundle_skips_pip(tmp_path: Path):
    commands: list[Sequence[str]] = []
    bundling.PipLocalBundling(install_dependencies=False, runner=commands.append).try_bundle(
        str(tmp_path)
    )
    assert commands == []
    assert (tmp_path / "ongage_export").is_dir()


def test_asset_hash_changes_with_the_install_flag():
    # A copy-only bundle must never be mistaken for (and reused as) a deployable one.
    assert bundling.asset_hash(True) != bundling.asset_hash(False)
    assert bundling.asset_hash(True) == bundling.asset_hash(True)


def test_the_bundle_pins_what_the_package_pins():
    """lambdas/requirements.txt (deployed) and pyproject.toml (tested here) name one version."""

    def pins(lines: list[str]) -> dict[str, str]:
        found = {}
        for line in lines:
            requirement = line.split("#", 1)[0].strip()
            if requirement:
                name, _, version = requirement.partition("==")
                found[name.split("[", 1)[0].lower()] = version
        return found

    deployed = pins(bundling.REQUIREMENTS.read_text().splitlines())
    pyproject = tomllib.loads((bundling.ROOT / "pyproject.toml").read_text())
    project = pins(pyproject["project"]["dependencies"])
    assert deployed == project
    assert all(deployed.values()), "every bundled dependency is pinned (==)"
