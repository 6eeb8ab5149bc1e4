"""checkov over the synthesized templates, with the skips of tools/checkov_skips.yaml only.

`python -m tools.checkov_scan --checkov BIN TEMPLATE...` scans the given templates (`make synth`'s
cdk.out) and the variants of tools/template_variants.py (the consumer on; the consumer and
`kms_key: "create"`). A template whose log groups all name a KMS key was synthesized with
`kms_key`: it gets only the `always` skips, so the customer-managed-key checks must pass on it.
Exit status: checkov's (non-zero when a check that is not skipped fails).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from tools import template_variants

SKIPS_FILE = Path(__file__).with_name("checkov_skips.yaml")
WHEN = ("always", "without_kms_key")


@dataclass(frozen=True)
class Skip:
    id: str
    when: str
    reason: str


def load_skips(path: Path = SKIPS_FILE) -> list[Skip]:
    """The skip list; a skip without a check id, a known `when` or a reason is refused."""
    skips = [Skip(**entry) for entry in yaml.safe_load(path.read_text())]
    for skip in skips:
        if not skip.id.startswith("CKV") or skip.when not in WHEN or len(skip.reason) < 60:
            raise ValueError(f"{path.name}: {skip.id}: needs a CKV id, when in {WHEN}, a reason")
    return skips


def has_kms_key(template: dict[str, object]) -> bool:
    """Synthesized with `kms_key`: every log group is encrypted with a key."""
    resources = template.get("Resources", {})
    assert isinstance(resources, dict)
    groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    return bool(groups) and all("KmsKeyId" in g.get("Properties", {}) for g in groups)


def skipped_ids(skips: list[Skip], keyed: bool) -> list[str]:
    return sorted(s.id for s in skips if s.when == "always" or not keyed)


def scan(checkov: str, templates: list[Path], skips: list[Skip]) -> int:
    """One checkov run per kind of template (with / without the key); the worst exit status."""
    groups: dict[bool, list[Path]] = {True: [], False: []}
    for path in templates:
        groups[has_kms_key(json.loads(path.read_text()))].append(path)
    status = 0
    for keyed, paths in groups.items():
        if not paths:
            continue
        skipped = skipped_ids(skips, keyed)
        print(f"checkov, kms_key {'set' if keyed else 'null'}: {', '.join(p.name for p in paths)}")
        print(f"skipped ({SKIPS_FILE.name} says why): {', '.join(skipped)}")
        command = [checkov, "--framework", "cloudformation", "--compact", "--quiet"]
        command += ["--skip-download"]  # no Prisma Cloud guidelines: offline, the same each run
        command += ["--skip-check", ",".join(skipped)]
        for path in paths:
            command += ["-f", str(path)]
        status = max(status, subprocess.run(command, check=False).returncode)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkov", required=True, help="the checkov executable")
    parser.add_argument("templates", nargs="*", type=Path)
    arguments = parser.parse_args(argv)
    skips = load_skips()
    with tempfile.TemporaryDirectory() as scratch:
        variants = template_variants.synthesize(Path(scratch))
        return scan(arguments.checkov, [*arguments.templates, *variants], skips)


if __name__ == "__main__":
    sys.exit(main())
