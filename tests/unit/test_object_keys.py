"""S3 keys: readable, partitioned, and impossible to steer with the export name."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ongage_export.object_keys import export_key, slug, staging_key

WHEN = datetime(2026, 11, 26, 23, 59, tzinfo=UTC)


def test_layout() -> None:
    key = export_key("exports/", 1111, WHEN, "Daily actives", "98765")
    assert key == "exports/list=1111/date=2026-11-26/Daily-actives-98765.zip"
    assert export_key("exports/", None, WHEN, "x", "1").startswith("exports/list=default/")


def test_traversal_and_odd_names_are_neutralised() -> None:
    assert slug("../../etc/passwd") == "etc-passwd"
    assert slug("Zoë's  export") == "Zoe-s-export"
    assert slug("...") == "export"
    assert staging_key("incoming/", "exports/a/b/c.zip", "arn:x:execution:m:run-1") == (
        "incoming/arn-x-execution-m-run-1/c.zip"
    )


@given(
    name=st.text(max_size=300), export_id=st.from_regex(r"^[A-Za-z0-9_-]{1,64}$", fullmatch=True)
)
def test_any_name_stays_inside_its_partition(name: str, export_id: str) -> None:
    key = export_key("exports/", 7, WHEN, name, export_id)
    assert key.startswith("exports/list=7/date=2026-11-26/")
    leaf = key.rsplit("/", 1)[1]
    assert key.count("/") == 3 and ".." not in key
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,80}-[A-Za-z0-9_-]+\.zip", leaf)
