"""The product's CLI carries the deployed-stack commands; the laptop's (demo, run, simulator)
come from the workbench through an entry point, and without it the CLI says how to get them."""

from __future__ import annotations

from argparse import _SubParsersAction as SubParsers

import pytest

from ongage_cli import main as cli


@pytest.mark.parametrize("command", ["demo", "run", "simulator"])
def test_without_the_workbench_a_laptop_command_says_how_to_install_it(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_plugins", list)
    assert cli.main([command, "request.json"]) == cli.EXIT_USAGE
    error = capsys.readouterr().err
    assert f"`ongage-export {command}`" in error and "make install" in error


def test_without_the_workbench_the_product_commands_remain(monkeypatch):
    monkeypatch.setattr(cli, "_plugins", list)
    commands = _commands()
    assert {"validate", "start", "status", "wait", "redrive"} <= commands
    assert not {"demo", "run", "simulator"} & commands


def test_the_installed_workbench_adds_the_laptop_commands():
    (plugin,) = cli._plugins()
    assert plugin.__name__ == "laptop.commands"
    assert {"demo", "run", "simulator", "validate"} <= _commands()


def _commands() -> set[str]:
    (subparsers,) = [a for a in cli.build_parser()._actions if isinstance(a, SubParsers)]
    return set(subparsers.choices)
