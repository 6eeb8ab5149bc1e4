"""The workflows: `export.asl.json` (one export) and `batch.asl.json` (one child execution of it
per element of a batch) are their only definitions (infra/workflow.py and
infra/batch_workflow.py deploy them)."""

from pathlib import Path

ASL_FILE = Path(__file__).resolve().parent / "export.asl.json"
BATCH_ASL_FILE = Path(__file__).resolve().parent / "batch.asl.json"
