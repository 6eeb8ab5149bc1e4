"""The product's layers, as README's Layout names them: the domain imports no adapter (save the
landing's value types), the handlers are where adapters meet the domain, no import circle, and no
module over MAX_LINES, in the product or the workbench."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {"ongage_export": ROOT / "lambdas/ongage_export", "ongage_cli": ROOT / "ongage_cli",
            "infra": ROOT / "infra"}  # fmt: skip
MAX_LINES = 300
# The landing's value types, used by the domain at run time: UploadProgress travels in the job,
# and the retrieve tells a finished landing from one to resume by type.
DOMAIN_USES_OF_ADAPTERS = {
    ("domain.job", "ongage_export.adapters.multipart"),
    ("domain.retrieve", "ongage_export.adapters.landing"),
}


# The workbench's packages: held to no import circle and to the line budget too.
WORKBENCH = {init.parent.name: init.parent for init in (ROOT / "workbench").glob("*/__init__.py")}


def _modules(packages: dict[str, Path]) -> dict[str, Path]:
    found = {}
    for package, folder in packages.items():
        for path in folder.rglob("*.py"):
            parts = [package, *path.relative_to(folder).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules(PACKAGES)
EVERY_MODULE = _modules(PACKAGES | WORKBENCH)


def _imports(path: Path, *, run_time_only: bool = False) -> set[str]:
    """The product modules `path` imports (with `run_time_only`, not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text())
    skipped = set()
    if run_time_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
                skipped |= {id(inner) for inner in ast.walk(node)}
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names & EVERY_MODULE.keys()


def test_the_domain_imports_no_adapter_handler_or_consumer() -> None:
    reached = {
        (name.removeprefix("ongage_export."), imported)
        for name, path in MODULES.items()
        if name.startswith("ongage_export.domain.")
        for imported in _imports(path, run_time_only=True)
        if imported.split(".")[1] in ("adapters", "handlers", "consumer")
    }
    assert reached == DOMAIN_USES_OF_ADAPTERS


def test_no_import_circle() -> None:
    graph = {name: _imports(path) - {name} for name, path in EVERY_MODULE.items()}
    assert {"ongage_simulator.server", "benchmarks.run", "local_aws.server"} <= graph.keys()
    circles = []
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            name = todo.pop()
            if name == start:
                circles.append(start)
                break
            if name not in seen:
                seen.add(name)
                todo.extend(graph[name])
    assert circles == []


def test_no_module_over_the_line_budget() -> None:
    outside = [ROOT / "app.py", ROOT / "statemachine/__init__.py"]
    long = {
        str(path.relative_to(ROOT))
        for path in [*EVERY_MODULE.values(), *outside]
        if len(path.read_text().splitlines()) > MAX_LINES
    }
    assert long == set()
