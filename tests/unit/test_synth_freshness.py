"""`make synth` never serves a stale cdk.out: the Makefile's rule, run in a scratch tree whose
"synth" copies cdk.json into the template, so cdk.out shows what it was made from."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FAKE_SYNTH = "mkdir -p cdk.out && cp cdk.json cdk.out/OngageExport.template.json"


def _scratch_tree(tmp_path: Path) -> Path:
    """The Makefile with its synth inputs and its prerequisites already made."""
    shutil.copy(ROOT / "Makefile", tmp_path)
    for name in ("pyproject.toml", "package.json", "package-lock.json", "app.py"):
        (tmp_path / name).write_text(name)
    (tmp_path / "workbench").mkdir()
    (tmp_path / "workbench" / "pyproject.toml").write_text("workbench")
    for folder in ("infra", "lambdas", "statemachine"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "module.py").write_text(folder)
    time.sleep(0.01)  # the prerequisites' stamps are newer than what they are made from
    digest = subprocess.run(
        "cat pyproject.toml workbench/pyproject.toml | md5sum | cut -c1-8",
        shell=True, cwd=tmp_path, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / f".installed-{digest}").touch()
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / ".installed").touch()
    return tmp_path


def _synth(tree: Path, settings: Any) -> str:
    """`make synth` after cdk.json was set to `settings`; what cdk.out's template then holds."""
    (tree / "cdk.json").write_text(json.dumps(settings))
    subprocess.run(
        ["make", "--no-print-directory", "synth", f"CDK_SYNTH={FAKE_SYNTH}"],
        cwd=tree, check=True, capture_output=True,
    )  # fmt: skip
    return (tree / "cdk.out" / "OngageExport.template.json").read_text()


def test_a_setting_turned_on_and_back_off_is_synthesized_both_times(tmp_path: Path) -> None:
    tree = _scratch_tree(tmp_path)
    off = {"context": {"ongage_export": {"curated": {"enabled": False}}}}
    on = {"context": {"ongage_export": {"curated": {"enabled": True}}}}

    assert json.loads(_synth(tree, off)) == off
    assert json.loads(_synth(tree, on)) == on
    assert json.loads(_synth(tree, off)) == off  # a stamp per input hash found the old one


def test_unchanged_inputs_are_not_synthesized_again(tmp_path: Path) -> None:
    tree = _scratch_tree(tmp_path)
    settings: dict[str, Any] = {"context": {}}
    _synth(tree, settings)
    (tree / "cdk.out" / "OngageExport.template.json").write_text("left alone")
    assert _synth(tree, settings) == "left alone"
