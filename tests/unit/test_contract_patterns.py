"""The contracts' key patterns are the code's: generated from ongage_export.domain.object_keys, and
every key the code makes matches them."""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from ongage_export.contract import EXPORT_PREFIX
from ongage_export.domain.object_keys import export_key, export_key_pattern
from tools import contract_patterns


def test_the_committed_contracts_state_the_codes_patterns():
    assert contract_patterns.stale() == [], "run `python -m tools.contract_patterns`"
    assert contract_patterns.main(["--check"]) == 0


def test_a_stale_pattern_is_found_and_rewritten_in_place(tmp_path: Path):
    for name, _ in contract_patterns.PATTERNS:
        shutil.copy(contract_patterns.CONTRACTS / name, tmp_path / name)
    success = tmp_path / "sns-success.schema.json"
    old = success.read_text()
    success.write_text(old.replace('"pattern": "^exports/list=', '"pattern": "^exports/lst='))
    assert contract_patterns.main(["--check", "--contracts", str(tmp_path)]) == 1
    assert contract_patterns.main(["--contracts", str(tmp_path)]) == 0
    assert success.read_text() == old


@given(
    list_id=st.none() | st.integers(min_value=0, max_value=10**12),
    name=st.text(max_size=120),
    export_id=st.from_regex(r"[0-9A-Za-z_-]{1,20}", fullmatch=True),
    when=st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
)
def test_every_key_the_code_makes_matches_the_published_pattern(
    list_id: int | None, name: str, export_id: str, when: datetime
):
    key = export_key(EXPORT_PREFIX, list_id, when, name, export_id)
    assert re.fullmatch(export_key_pattern(EXPORT_PREFIX), key)
    event_key = key.replace("=", "%3D")  # as an S3 event spells it
    assert re.fullmatch(export_key_pattern(EXPORT_PREFIX, equals="(=|%3D)"), event_key)
