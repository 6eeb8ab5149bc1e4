"""cdk-nag AwsSolutions: no unsuppressed finding; every suppression names its rule and why."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Annotations, Match

NAG = Match.string_like_regexp("AwsSolutions-.*")


def _stacks(synth):
    return [synth.main, synth.imported, synth.default]


@pytest.mark.parametrize("which", ["main", "imported", "default", "encrypted", "key_imported"])
def test_no_unsuppressed_errors_or_warnings(synth, which):
    annotations = Annotations.from_stack(getattr(synth, which))
    errors = annotations.find_error("*", NAG)
    warnings = annotations.find_warning("*", NAG)
    assert [e.entry.data for e in errors] == []
    assert [w.entry.data for w in warnings] == []


def _suppressions(template: dict) -> list[dict]:
    found = []
    for resource in template["Resources"].values():
        found += resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    return found


def test_every_suppression_names_a_rule_and_gives_a_real_reason(synth):
    for template in (synth.template, synth.imported_template, synth.default_template):
        suppressions = _suppressions(template.to_json())
        assert suppressions
        for suppression in suppressions:
            assert suppression["id"].startswith("AwsSolutions-")
            assert len(suppression["reason"]) >= 80, suppression


def test_wildcard_suppressions_are_scoped_to_named_findings(synth):
    for suppression in _suppressions(synth.json):
        if suppression["id"] == "AwsSolutions-IAM5":
            assert suppression.get("applies_to"), suppression


def test_suppressed_rules_are_the_documented_few(synth):
    rules = {s["id"] for s in _suppressions(synth.json)}
    assert rules == {
        "AwsSolutions-IAM4",
        "AwsSolutions-IAM5",
        "AwsSolutions-COG4",
        "AwsSolutions-APIG3",
        "AwsSolutions-SMG4",
        "AwsSolutions-SQS3",
    }
