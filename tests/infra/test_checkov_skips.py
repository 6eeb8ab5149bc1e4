"""The checkov skip list (tools/checkov_skips.yaml): each skip has a reason, and a template built
with `kms_key` gets no customer-managed-key skip, so on it those checks must pass."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.checkov_scan import has_kms_key, load_skips, skipped_ids

CMK_CHECKS = {"CKV_AWS_27", "CKV_AWS_119", "CKV_AWS_149", "CKV_AWS_158"}


def test_every_skip_names_a_check_and_says_why():
    skips = load_skips()
    assert len({s.id for s in skips}) == len(skips)
    for skip in skips:
        assert skip.id.startswith("CKV_AWS_") and len(skip.reason) >= 60, skip


def test_the_key_checks_are_skipped_only_without_a_key():
    skips = load_skips()
    assert set(skipped_ids(skips, keyed=False)) >= CMK_CHECKS
    assert not CMK_CHECKS & set(skipped_ids(skips, keyed=True))


def test_a_skip_without_a_reason_is_refused(tmp_path: Path):
    path = tmp_path / "skips.yaml"
    path.write_text("- id: CKV_AWS_18\n  when: always\n  reason: because\n")
    with pytest.raises(ValueError, match="CKV_AWS_18"):
        load_skips(path)


def test_templates_are_told_apart_by_their_log_group_keys(synth):
    assert has_kms_key(dict(synth.encrypted_template.to_json()))
    assert has_kms_key(dict(synth.key_imported_template.to_json()))
    assert not has_kms_key(dict(synth.default_template.to_json()))
    assert not has_kms_key(dict(synth.curated_template.to_json()))
