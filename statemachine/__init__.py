"""The export workflow: `export.asl.json` is its only definition (infra/workflow.py deploys it)."""

from pathlib import Path

ASL_FILE = Path(__file__).resolve().parent / "export.asl.json"
