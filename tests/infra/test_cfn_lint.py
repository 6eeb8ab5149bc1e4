"""cfn-lint on the synthesized templates: no errors."""

from __future__ import annotations

import json

import pytest
from cfnlint.api import ManualArgs, lint

REGIONS = ["us-east-1", "eu-west-1"]


@pytest.mark.parametrize(
    "which",
    [
        "template",
        "imported_template",
        "default_template",
        "encrypted_template",
        "key_imported_template",
    ],
)
def test_template_has_no_cfn_lint_errors(synth, which):
    template = getattr(synth, which).to_json()
    matches = lint(json.dumps(template), config=ManualArgs(regions=REGIONS))
    errors = [
        f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})"
        for m in matches
        if m.rule.id.startswith("E")
    ]
    assert errors == []
