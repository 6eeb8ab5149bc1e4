"""The README's layout table names every folder git tracks, and only folders that exist."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Folders listed with their parent's row rather than one of their own.
TWO_LEVELS = ("lambdas", "tests", "workbench")


def layout_rows() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([^`]+)/` \|", section, flags=re.MULTILINE))


def tracked_folders() -> set[str]:
    files = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    folders = set()
    for path in (Path(f) for f in files if "/" in f):
        top = path.parts[0]
        if top in TWO_LEVELS and len(path.parts) == 2:  # files of its own: a row of its own
            folders.add(top)
        if top in TWO_LEVELS and len(path.parts) > 2:
            folders.add("/".join(path.parts[:2]))
            if top == "lambdas" and len(path.parts) > 3:
                folders.add("/".join(path.parts[:3]))
        elif top not in TWO_LEVELS:
            folders.add(top)
    return folders


def test_every_tracked_folder_has_a_row_and_every_row_a_folder():
    rows = layout_rows()
    assert rows, "README.md has no '## Layout' table"
    assert rows == tracked_folders()


# --- what the rows claim ------------------------------------------------------------------------

PRODUCT = ("lambdas", "ongage_cli", "infra", "statemachine", "app.py")
WORKBENCH_PACKAGES = {path.name for path in (ROOT / "workbench").iterdir() if path.is_dir()}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def _python_files(*places: str) -> list[Path]:
    return [p for place in places for p in (ROOT / place).rglob("*.py")] + [
        ROOT / place for place in places if place.endswith(".py")
    ]


def test_the_product_imports_nothing_of_the_workbench():
    reached = {
        str(path.relative_to(ROOT)): sorted(found)
        for path in _python_files(*PRODUCT)
        if (found := _imported_roots(path) & (WORKBENCH_PACKAGES | {"moto"}))
    }
    assert reached == {}


def test_the_product_distribution_ships_no_workbench_package():
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert not {name.split(".")[0] for name in packages["packages"]} & WORKBENCH_PACKAGES


def test_the_unit_layer_loads_no_aws():
    modules = sorted(f"tests.unit.{p.stem}" for p in (ROOT / "tests" / "unit").glob("test_*.py"))
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(sorted(m for m in ('moto', 'local_aws.server', 'embedded_runtime.runtime') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
