"""Help that teaches: every option says what it is for, and the help names what a user needs."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator

import pytest

from ongage_cli.main import build_parser
from ongage_export.domain.polling import PollingPolicy
from ongage_simulator import cli as simulator_cli
from ongage_simulator.faults import Fault


def subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def every_parser() -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """The top-level parser, each subcommand's, and the simulator's own (it parses its own)."""
    top = build_parser()
    yield "ongage-export", top
    for name, parser in subcommands(top).items():
        if name != "simulator":  # a placeholder: `simulator` hands its arguments on
            yield name, parser
    yield "simulator", simulator_cli.build_parser()


@pytest.mark.parametrize(("name", "parser"), list(every_parser()), ids=lambda v: str(v)[:30])
def test_every_option_and_argument_has_a_description(
    name: str, parser: argparse.ArgumentParser
) -> None:
    missing = [
        action.option_strings or action.dest
        for action in parser._actions
        if not isinstance(action, argparse._SubParsersAction | argparse._HelpAction)
        and not (action.help or "").strip()
    ]
    assert not missing, f"{name}: no help for {missing}"


def test_the_walk_sees_every_command() -> None:
    """The test above cannot pass by seeing nothing."""
    names = {name for name, _ in every_parser()}
    assert {"run", "start", "status", "wait", "redrive", "validate", "demo"} <= names


def test_top_level_help_lists_every_subcommand() -> None:
    text = build_parser().format_help()
    for command in ("demo", "run", "validate", "simulator", "start", "status", "wait", "redrive"):
        assert re.search(rf"^\s+{command}\s+\S", text, re.MULTILINE), f"{command} not listed"


def test_simulator_help_lists_every_fault_with_what_it_does() -> None:
    text = simulator_cli.build_parser().format_help()
    for fault in Fault:
        assert re.search(rf"^  {fault.value}\s+\w", text, re.MULTILINE), fault.value


def test_run_help_names_the_variables_and_the_production_waits() -> None:
    text = subcommands(build_parser())["run"].format_help()
    for name in ("USERNAME", "PASSWORD", "ACCOUNT_CODE", "BASE_URL"):
        assert f"ONGAGE_{name}" in text
    policy = PollingPolicy()
    for seconds in (policy.initial_seconds, policy.max_seconds, policy.deadline_seconds):
        assert f"{seconds} s" in text


def test_redrive_offers_the_polling_options_of_start() -> None:
    commands = subcommands(build_parser())
    options = {
        name: {o for a in commands[name]._actions for o in a.option_strings}
        for name in ("start", "redrive")
    }
    assert {"--deadline", "--poll-initial", "--poll-max"} <= options["start"] & options["redrive"]


def test_a_restarted_simulator_starts_after_every_id_the_earlier_one_gave() -> None:
    """Ids come from the clock in milliseconds: a simulator that ran for a while, creating
    fewer exports than milliseconds, never hands out an id its successor will."""
    first = simulator_cli.first_export_id(None, now=lambda: 1_800_000_000.000)
    earlier_last = first + 499  # 500 exports over the half second it ran
    assert simulator_cli.first_export_id(None, now=lambda: 1_800_000_000.500) > earlier_last
    assert simulator_cli.first_export_id(7_000_001) == 7_000_001  # chosen: as given


def test_the_simulator_command_seeds_its_ids_from_the_clock() -> None:
    config = simulator_cli.config_from(simulator_cli.build_parser().parse_args([]))
    assert config.first_export_id > 1_700_000_000_000  # milliseconds since 1970, not 7000001
    chosen = simulator_cli.build_parser().parse_args(["--first-export-id", "7000001"])
    assert simulator_cli.config_from(chosen).first_export_id == 7_000_001
