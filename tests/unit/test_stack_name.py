"""The stack's name has one source: cdk.json (its default in the contract). The CLI reads it from
the clone it runs in; the local runtimes from the cloud assembly they deploy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_aws.cloud_assembly import AssemblyError, stack_in
from ongage_cli.deployment import STACK_ENV, default_stack
from ongage_export.contract import DEFAULT_STACK_NAME


@pytest.fixture
def clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(STACK_ENV, raising=False)
    return tmp_path


def _cdk_json(folder: Path, settings: object) -> None:
    (folder / "cdk.json").write_text(json.dumps({"context": {"ongage_export": settings}}))


def test_the_cli_uses_the_stack_name_of_the_clone_it_runs_in(clone):
    _cdk_json(clone, {"stack_name": "ExportsEu"})
    assert default_stack() == "ExportsEu"


def test_the_environment_wins_over_cdk_json(clone, monkeypatch):
    _cdk_json(clone, {"stack_name": "ExportsEu"})
    monkeypatch.setenv(STACK_ENV, "Other")
    assert default_stack() == "Other"


@pytest.mark.parametrize("settings", [{}, {"stack_name": ""}, ["not", "an", "object"], None])
def test_without_a_usable_stack_name_the_default_is_used(clone, settings):
    _cdk_json(clone, settings)
    assert default_stack() == DEFAULT_STACK_NAME


def test_outside_a_clone_the_default_is_used(clone):
    assert default_stack() == DEFAULT_STACK_NAME
    (clone / "cdk.json").write_text("{not json")
    assert default_stack() == DEFAULT_STACK_NAME


def _manifest(folder: Path, *stacks: str) -> Path:
    artifacts = {name: {"type": "aws:cloudformation:stack"} for name in stacks}
    artifacts["Tree"] = {"type": "cdk:tree"}
    (folder / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return folder


def test_the_local_runtimes_deploy_the_stack_the_assembly_holds(tmp_path):
    assert stack_in(_manifest(tmp_path, "ExportsEu")) == "ExportsEu"


@pytest.mark.parametrize("stacks", [(), ("A", "B")])
def test_an_assembly_without_exactly_one_stack_is_refused(tmp_path, stacks):
    with pytest.raises(AssemblyError, match="make synth"):
        stack_in(_manifest(tmp_path, *stacks))


def test_a_missing_assembly_says_to_synthesize(tmp_path):
    with pytest.raises(AssemblyError, match="make synth"):
        stack_in(tmp_path)
