"""The README's layout table names every folder git tracks, and only folders that exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Folders listed with their parent's row rather than one of their own.
TWO_LEVELS = ("lambdas", "tests")


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
