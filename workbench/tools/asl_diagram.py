"""The workflow picture, generated from the ASL file so it can never drift from it.

    python -m tools.asl_diagram            # print the Mermaid flowchart
    python -m tools.asl_diagram --write    # refresh README.md between the diagram markers
    python -m tools.asl_diagram --check    # exit 1 if README.md's picture is older than the ASL

Every state is a node (its type, resource, timeout and Retry policy in the label); Next and
Default are solid arrows, Choice rules are labelled arrows, Catch routes are dashed arrows
labelled with the errors they catch. GitHub renders the Mermaid block in the README.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from statemachine import ASL_FILE

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
START_MARKER = "<!-- workflow-diagram:start -->"
END_MARKER = "<!-- workflow-diagram:end -->"
START_NODE, END_NODE = "start_", "end_"
# Node shapes by state type (Mermaid: `id<open>"label"<close>`).
SHAPES = {
    "Choice": ("{", "}"),
    "Wait": ("[/", "/]"),
    "Pass": ("(", ")"),
    "Succeed": ("([", "])"),
    "Fail": ("[[", "]]"),
}
COMPARATORS = {  # longest suffix first: "GreaterThanEquals" also ends in "Equals"
    "LessThanEquals": "≤",
    "GreaterThanEquals": "≥",
    "LessThan": "<",
    "GreaterThan": ">",
    "Equals": "=",
}


def load_asl(path: Path = ASL_FILE) -> dict[str, Any]:
    definition: dict[str, Any] = json.loads(path.read_text())
    return definition


def to_mermaid(definition: dict[str, Any]) -> str:
    """A Mermaid `flowchart TD` of the state machine: nodes, then edges, then styles."""
    states: dict[str, Any] = definition["States"]
    ids = node_ids(states)
    lines = ["flowchart TD", f'    {START_NODE}(("start")) --> {ids[definition["StartAt"]]}']
    lines += [
        f"    {ids[name]}{_shape(state, _label(name, state))}" for name, state in states.items()
    ]
    lines += [f'    {END_NODE}(("end"))']
    for name, state in states.items():
        lines += [f"    {edge}" for edge in edges(ids, name, state)]
    lines += _styles(states, ids)
    return "\n".join(lines) + "\n"


def node_ids(states: dict[str, Any]) -> dict[str, str]:
    """Mermaid-safe, unique node ids (state names may hold spaces or punctuation)."""
    ids: dict[str, str] = {}
    for name in states:
        base = re.sub(r"\W", "_", name) or "state"
        node, n = base, 1
        while node in ids.values() or node in (START_NODE, END_NODE):
            n += 1
            node = f"{base}_{n}"
        ids[name] = node
    return ids


def edges(ids: dict[str, str], name: str, state: dict[str, Any]) -> Iterator[str]:
    source = ids[name]
    for rule in state.get("Choices", []):
        yield f'{source} -->|"{escape(describe_rule(rule))}"| {ids[rule["Next"]]}'
    if "Default" in state:
        yield f'{source} -->|"otherwise"| {ids[state["Default"]]}'
    if "Next" in state:
        yield f"{source} --> {ids[state['Next']]}"
    if state.get("End") or state["Type"] == "Succeed":
        yield f"{source} --> {END_NODE}"
    for catcher in state.get("Catch", []):
        errors = escape(", ".join(catcher["ErrorEquals"]))
        yield f'{source} -.->|"catch {errors}"| {ids[catcher["Next"]]}'


def describe_rule(rule: dict[str, Any]) -> str:
    """A Choice rule in a few words, e.g. `job.landed is set`."""
    for combinator, joiner in (("And", " and "), ("Or", " or ")):
        if combinator in rule:
            return joiner.join(describe_rule(inner) for inner in rule[combinator])
    if "Not" in rule:
        return f"not ({describe_rule(rule['Not'])})"
    if "Condition" in rule:  # JSONata rules
        return str(rule["Condition"]).strip("{}% ")
    variable = str(rule.get("Variable", "")).removeprefix("$.")
    for operator, value in rule.items():
        if operator in ("Variable", "Next", "Comment"):
            continue
        return f"{variable} {_comparison(operator, value)}"
    return variable


def _comparison(operator: str, value: Any) -> str:
    if operator == "IsNull":
        return "is null" if value else "is set"
    if operator == "IsPresent":
        return "is present" if value else "is absent"
    if operator.startswith("Is"):
        return f"{'is' if value else 'is not'} {operator[2:].lower()}"
    shown = value.removeprefix("$.") if operator.endswith("Path") else json.dumps(value)
    kind = operator.removesuffix("Path")
    for suffix, symbol in COMPARATORS.items():
        if kind.endswith(suffix):
            return f"{symbol} {shown}"
    return f"{kind} {shown}"  # StringMatches and the like


def _label(name: str, state: dict[str, Any]) -> str:
    parts = [f"<b>{name}</b>", _kind(state)]
    if "TimeoutSeconds" in state and state["Type"] in ("Task", "Map", "Parallel"):
        parts[-1] += f" · timeout {state['TimeoutSeconds']} s"
    parts += [f"retry {summarise_retrier(retrier)}" for retrier in state.get("Retry", [])]
    return "<br/>".join(parts)


def _kind(state: dict[str, Any]) -> str:
    kind = str(state["Type"])
    if kind == "Task":
        return f"Task: {str(state.get('Resource', '')).removeprefix('arn:aws:states:::')}"
    if kind == "Wait":
        for key in ("Seconds", "SecondsPath", "Timestamp", "TimestampPath"):
            if key in state:
                return f"Wait {key}: {str(state[key]).removeprefix('$.')}"
    return kind


def summarise_retrier(retrier: dict[str, Any]) -> str:
    """E.g. `OngageRateLimited: 5 retries, 60 s x2 ≤960 s, jitter`."""
    names = ", ".join(_fold_prefixes(retrier["ErrorEquals"]))
    backoff = f"{retrier.get('IntervalSeconds', 1)} s x{retrier.get('BackoffRate', 2.0)}"
    if "MaxDelaySeconds" in retrier:
        backoff += f" ≤{retrier['MaxDelaySeconds']} s"
    if retrier.get("JitterStrategy") == "FULL":
        backoff += ", jitter"
    return f"{names}: {retrier.get('MaxAttempts', 3)} retries, {backoff}"


def _fold_prefixes(names: Sequence[str]) -> list[str]:
    """`Lambda.A, Lambda.B, States.Timeout` -> `Lambda.{A, B}, States.Timeout`: shorter labels."""
    groups: dict[str, list[str]] = {}
    for name in names:
        prefix, dot, rest = name.partition(".")
        groups.setdefault(prefix + dot, []).append(rest)  # "Lambda." -> [A, B]; "Custom" -> [""]
    return [
        head + (rests[0] if len(rests) == 1 else "{" + ", ".join(rests) + "}")
        for head, rests in groups.items()
    ]


def _shape(state: dict[str, Any], label: str) -> str:
    opening, closing = SHAPES.get(state["Type"], ("[", "]"))
    return f'{opening}"{escape(label)}"{closing}'


def escape(text: str) -> str:
    return text.replace('"', "#quot;")


def _styles(states: dict[str, Any], ids: dict[str, str]) -> list[str]:
    fail = [ids[name] for name, state in states.items() if state["Type"] == "Fail"]
    lines = ["    classDef fail fill:#fdd,stroke:#c00"]
    return lines + ([f"    class {','.join(fail)} fail"] if fail else [])


# -- README -----------------------------------------------------------------------------------


def readme_block(definition: dict[str, Any], asl_name: str = "statemachine/export.asl.json") -> str:
    """What goes between the markers (markers included)."""
    return (
        f"{START_MARKER}\n"
        f"<!-- generated from {asl_name} by `python -m tools.asl_diagram --write`; "
        "do not edit by hand -->\n"
        f"```mermaid\n{to_mermaid(definition)}```\n"
        f"{END_MARKER}"
    )


def replace_block(text: str, block: str) -> str:
    """`text` with the part between (and including) the markers replaced by `block`."""
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    if start < 0 or end < start:
        raise ValueError(f"README has no {START_MARKER} ... {END_MARKER} section")
    return text[:start] + block + text[end + len(END_MARKER) :]


def current_block(text: str) -> str | None:
    start, end = text.find(START_MARKER), text.find(END_MARKER)
    return text[start : end + len(END_MARKER)] if 0 <= start < end else None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.asl_diagram", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="refresh the README's picture")
    mode.add_argument("--check", action="store_true", help="exit 1 if the picture is stale")
    parser.add_argument("--asl", type=Path, default=ASL_FILE)
    parser.add_argument("--readme", type=Path, default=README)
    args = parser.parse_args(argv)
    block = readme_block(load_asl(args.asl))
    if not (args.write or args.check):
        print(to_mermaid(load_asl(args.asl)), end="")
        return 0
    text = args.readme.read_text()
    if args.check:
        if current_block(text) == block:
            return 0
        print(f"{args.readme} is stale: run `python -m tools.asl_diagram --write`", file=sys.stderr)
        return 1
    args.readme.write_text(replace_block(text, block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
