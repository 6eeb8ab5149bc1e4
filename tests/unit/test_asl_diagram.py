"""The README's workflow picture is generated from the ASL file and never older than it."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from tools import asl_diagram
from tools.asl_diagram import (
    END_MARKER,
    START_MARKER,
    describe_rule,
    escape,
    load_asl,
    node_ids,
    readme_block,
    to_mermaid,
)

DEFINITION = load_asl()
STATES: dict[str, Any] = DEFINITION["States"]
IDS = node_ids(STATES)
DIAGRAM = to_mermaid(DEFINITION)
LINES = DIAGRAM.splitlines()


def node_line(name: str) -> str:
    (line,) = [line for line in LINES if re.match(rf'^\s*{IDS[name]}[\[({{/]+"', line)]
    return line


def edge_lines(source: str, target: str, arrow: str = "-->") -> list[str]:
    pattern = re.compile(rf"^\s*{IDS[source]} {re.escape(arrow)}(\|[^|]*\|)? {IDS[target]}$")
    return [line for line in LINES if pattern.match(line)]


def test_the_readme_picture_is_the_one_the_asl_generates_now() -> None:
    readme = asl_diagram.README.read_text()
    assert readme.count(START_MARKER) == readme.count(END_MARKER) == 1
    assert asl_diagram.current_block(readme) == readme_block(DEFINITION), (
        "README.md's workflow picture is older than statemachine/export.asl.json: "
        "run `python -m tools.asl_diagram --write`"
    )
    assert asl_diagram.main(["--check"]) == 0


def test_it_is_a_top_down_mermaid_flowchart_starting_at_start_at() -> None:
    assert LINES[0] == "flowchart TD"
    assert any(line.strip().endswith(f"--> {IDS[DEFINITION['StartAt']]}") for line in LINES[:2])


@pytest.mark.parametrize("name", list(STATES))
def test_every_state_is_a_node_with_its_type(name: str) -> None:
    node = node_line(name)
    assert f"<b>{name}</b>" in node
    assert STATES[name]["Type"] in node


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if "Next" in s])
def test_every_next_is_an_arrow(name: str) -> None:
    assert edge_lines(name, STATES[name]["Next"])


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if s["Type"] == "Choice"])
def test_every_choice_rule_and_default_is_a_labelled_arrow(name: str) -> None:
    state = STATES[name]
    for rule in state["Choices"]:
        (line,) = edge_lines(name, rule["Next"])
        assert f'|"{escape(describe_rule(rule))}"|' in line
    assert any('|"otherwise"|' in line for line in edge_lines(name, state["Default"]))


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if "Catch" in s])
def test_every_catch_is_a_dashed_arrow_naming_its_errors(name: str) -> None:
    for catcher in STATES[name]["Catch"]:
        (line,) = edge_lines(name, catcher["Next"], "-.->")
        assert all(error in line for error in catcher["ErrorEquals"])


@pytest.mark.parametrize("name", [n for n, s in STATES.items() if "Retry" in s])
def test_every_retry_policy_is_noted_on_its_task(name: str) -> None:
    node = node_line(name)
    assert node.count("retry ") == len(STATES[name]["Retry"])
    for retrier in STATES[name]["Retry"]:
        assert f"{retrier['MaxAttempts']} retries" in node
        for error in retrier["ErrorEquals"]:  # `Lambda.{A, B}` stands for Lambda.A, Lambda.B
            prefix, _, rest = error.partition(".")
            assert error in node or re.search(rf"{re.escape(prefix)}\.\{{[^}}]*\b{rest}\b", node)


def test_the_counts_match_the_asl_exactly() -> None:
    arrows = [line for line in LINES if "-->" in line or "-.->" in line]
    expected = 1  # start
    for state in STATES.values():
        expected += len(state.get("Choices", [])) + len(state.get("Catch", []))
        expected += ("Next" in state) + ("Default" in state) + bool(state.get("End"))
    assert len(arrows) == expected


def test_the_picture_changes_when_the_asl_does() -> None:
    changed = copy.deepcopy(DEFINITION)
    changed["States"]["WaitForExport"]["Next"] = "NotifyFailure"
    assert readme_block(changed) != readme_block(DEFINITION)
    assert "WaitForExport --> NotifyFailure" in to_mermaid(changed)


def test_retry_error_names_fold_by_prefix() -> None:
    names = ["Lambda.A", "States.Timeout", "Lambda.B", "Custom", "Custom.X"]
    folded = ["Lambda.{A, B}", "States.Timeout", "Custom", "Custom.X"]
    assert asl_diagram._fold_prefixes(names) == folded


def test_rules_read_briefly() -> None:
    assert describe_rule({"Variable": "$.job.landed", "IsNull": False}) == "job.landed is set"
    assert describe_rule({"Variable": "$.n", "NumericGreaterThanEquals": 3}) == "n ≥ 3"
    assert describe_rule({"Variable": "$.s", "StringEqualsPath": "$.t"}) == "s = t"
    both = {
        "And": [
            {"Variable": "$.a", "BooleanEquals": True},
            {"Not": {"Variable": "$.b", "IsPresent": True}},
        ]
    }
    assert describe_rule(both) == "a = true and not (b is present)"


def test_write_and_check_on_a_readme(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{START_MARKER}\nold picture\n{END_MARKER}\n\nafter\n")
    assert asl_diagram.main(["--check", "--readme", str(readme)]) == 1
    assert asl_diagram.main(["--write", "--readme", str(readme)]) == 0
    assert asl_diagram.main(["--check", "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# x\n\n") and text.endswith("\n\nafter\n")
    assert "old picture" not in text and "flowchart TD" in text

    readme.write_text("# no markers\n")
    assert asl_diagram.main(["--check", "--readme", str(readme)]) == 1
    with pytest.raises(ValueError, match="no <!-- workflow-diagram:start -->"):
        asl_diagram.main(["--write", "--readme", str(readme)])
