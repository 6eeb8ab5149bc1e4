"""The stack's templates in the configurations a scanner must see besides `cdk.out`'s (cdk.json
as committed): with the optional consumer, and with the consumer and `kms_key: "create"`.

`python -m tools.template_variants OUT` writes `OUT/<Variant>.template.json`. Synthesized in-process
with bundling skipped: the templates do not depend on the bundles (their hashes are computed from
the sources, infra/bundling.py), and a synth takes seconds instead of a minute.
"""

from __future__ import annotations

import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VARIANTS: dict[str, dict[str, Any]] = {
    "Curated": {"curated": {"enabled": True}},
    "Encrypted": {"curated": {"enabled": True}, "kms_key": "create"},
}


def variant_config(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` applied, one level deep for nested objects (e.g. `curated`)."""
    config = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return config


def synthesize(out: Path) -> list[Path]:
    """Every variant's template under `out`; their paths."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    import aws_cdk as cdk

    from infra.config import CONTEXT_KEY, load_config
    from infra.stack import OngageExportStack

    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    context["aws:cdk:bundling-stacks"] = []
    app = cdk.App(context=context, outdir=str(out))
    for name, changes in VARIANTS.items():
        config = load_config(variant_config(context[CONTEXT_KEY], changes))
        OngageExportStack(app, name, config=config, install_dependencies=False)
    app.synth()
    return [out / f"{name}.template.json" for name in VARIANTS]


if __name__ == "__main__":
    for path in synthesize(Path(sys.argv[1])):
        print(path)
